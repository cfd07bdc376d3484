"""Synthetic shallow depth of field from one photo and its depth map.

Thin-lens circle of confusion, in pixels: r(z) = aperture * |1 - focus / z|, so `aperture` is
the blur radius of a background at infinity and anything at the focus depth stays sharp.
The image is split into depth layers by r; each layer is blurred with a disc of its radius and
composited far to near ("over"), with premultiplied alpha:

* the farthest layer is normalised by its own blurred coverage, so background colour fills the
  space behind foreground objects instead of their colour bleeding outward (no halo);
* layers at the focus depth have r = 0: composited last among equals with a hard mask, their
  pixels come out exactly as they went in;
* nearer, out-of-focus layers spread over what is behind them, as a real lens does.
"""

import numpy as np
from scipy import signal

MAX_LAYERS = 24


def circle_of_confusion(depth, focus_depth, aperture):
  """Signed blur radius in pixels: positive behind the focus plane, negative in front.

  Bounded by `aperture` on both sides: a real lens blurs what is nearer than half the focus
  distance even more, without limit as depth -> 0, which a predicted depth of a few
  centimetres would turn into a disc larger than the photo."""
  depth = np.maximum(np.asarray(depth, np.float64), 1e-6)
  return np.clip(aperture * (1.0 - focus_depth / depth), -aperture, aperture)


def disc_kernel(radius):
  """A normalised, anti-aliased disc of `radius` pixels (1x1 for radius < 0.5)."""
  if radius < 0.5:
    return np.ones((1, 1))
  size = int(np.ceil(radius))
  ys, xs = np.mgrid[-size:size + 1, -size:size + 1]
  # Coverage of each pixel by the disc, approximated by the distance of its centre to the rim.
  kernel = np.clip(radius + 0.5 - np.hypot(xs, ys), 0.0, 1.0)
  return kernel / kernel.sum()


def _blur_layer(colour, mask, kernel):
  """(blurred colour * mask, blurred mask), computed only around the layer's pixels."""
  height, width = mask.shape
  premultiplied = np.zeros(colour.shape, np.float64)
  coverage = np.zeros(mask.shape, np.float64)
  rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
  if rows.size == 0:
    return premultiplied, coverage
  margin = kernel.shape[0] // 2
  top, bottom = max(rows[0] - margin, 0), min(rows[-1] + margin + 1, height)
  left, right = max(cols[0] - margin, 0), min(cols[-1] + margin + 1, width)
  window = (slice(top, bottom), slice(left, right))
  # Colour and mask in one stack: one FFT of the kernel for all four planes.
  stack = np.concatenate([colour[window] * mask[window][..., None], mask[window][..., None]], -1)
  if kernel.size > 1:
    stack = signal.fftconvolve(stack, kernel[..., None], mode="same", axes=(0, 1))
  premultiplied[window], coverage[window] = stack[..., :-1], stack[..., -1]
  return premultiplied, coverage


def focus_depth_at_centre(depth, fraction=0.1):
  """The median valid depth of the central `fraction` of the image: a default focus."""
  depth = np.asarray(depth)
  height, width = depth.shape
  dy, dx = max(int(height * fraction / 2), 1), max(int(width * fraction / 2), 1)
  centre = depth[height // 2 - dy:height // 2 + dy, width // 2 - dx:width // 2 + dx]
  valid = centre[np.isfinite(centre) & (centre > 0)]
  return float(np.median(valid)) if valid.size else float(np.median(depth[depth > 0]))


def render_bokeh(image, depth, focus_depth, aperture, max_layers=MAX_LAYERS, progress=None):
  """uint8 image [H, W, 3] + depth [H, W] metres -> uint8 [H, W, 3] with depth of field.

  Args:
    focus_depth: metres in perfect focus.
    aperture: blur radius in pixels of a point at infinity, and the largest blur anywhere
      (0: the image unchanged).
    max_layers: at most this many blur radii per side of the focus plane.
    progress: called as progress(layers done, layers in all) after each layer.
  """
  image = np.asarray(image)
  depth = np.asarray(depth, np.float64)
  if image.shape[:2] != depth.shape:
    raise ValueError(f"image {image.shape[:2]} and depth {depth.shape} differ in size")
  if focus_depth <= 0 or aperture < 0:
    raise ValueError(f"focus depth must be > 0 m and aperture >= 0 px, got {focus_depth}, "
                     f"{aperture}")
  colour = image.astype(np.float64)
  valid = np.isfinite(depth) & (depth > 0)
  coc = np.where(valid, circle_of_confusion(np.where(valid, depth, focus_depth), focus_depth,
                                            aperture), 0.0)
  # Layers: integer radii (coarser when the range is wide), signed; pixels with |r| < 0.5 are
  # in focus.
  step = max(1.0, np.abs(coc).max() / max_layers)
  level = np.round(coc / step).astype(int)
  levels = sorted(np.unique(level), key=lambda l: (-l, l))  # far (large +r) first, near last
  # Among equal depth order, in-focus (0) goes after every positive (behind) layer and before
  # every negative (in front) one, as the sort above gives.
  out = None
  for done, value in enumerate(levels, 1):
    mask = (level == value).astype(np.float64)
    premultiplied, coverage = _blur_layer(colour, mask, disc_kernel(abs(value) * step))
    coverage = np.clip(coverage, 0.0, 1.0)
    if out is None:
      filled = coverage > 1e-3
      out = np.where(filled[..., None], premultiplied / np.maximum(coverage, 1e-3)[..., None],
                     colour)
    else:
      out = premultiplied + (1.0 - coverage)[..., None] * out
    if progress:
      progress(done, len(levels))
  return np.clip(np.round(out), 0, 255).astype(np.uint8)
