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
  """Signed blur radius in pixels: positive behind the focus plane, negative in front."""
  depth = np.maximum(np.asarray(depth, np.float64), 1e-6)
  return aperture * (1.0 - focus_depth / depth)


def disc_kernel(radius):
  """A normalised, anti-aliased disc of `radius` pixels (1x1 for radius < 0.5)."""
  if radius < 0.5:
    return np.ones((1, 1))
  size = int(np.ceil(radius))
  ys, xs = np.mgrid[-size:size + 1, -size:size + 1]
  # Coverage of each pixel by the disc, approximated by the distance of its centre to the rim.
  kernel = np.clip(radius + 0.5 - np.hypot(xs, ys), 0.0, 1.0)
  return kernel / kernel.sum()


def _blur(array, kernel):
  if kernel.size == 1:
    return array.copy()
  if array.ndim == 3:
    return np.stack([_blur(array[..., c], kernel) for c in range(array.shape[-1])], axis=-1)
  return signal.fftconvolve(array, kernel, mode="same")


def focus_depth_at_centre(depth, fraction=0.1):
  """The median valid depth of the central `fraction` of the image: a default focus."""
  depth = np.asarray(depth)
  height, width = depth.shape
  dy, dx = max(int(height * fraction / 2), 1), max(int(width * fraction / 2), 1)
  centre = depth[height // 2 - dy:height // 2 + dy, width // 2 - dx:width // 2 + dx]
  valid = centre[np.isfinite(centre) & (centre > 0)]
  return float(np.median(valid)) if valid.size else float(np.median(depth[depth > 0]))


def render_bokeh(image, depth, focus_depth, aperture, max_layers=MAX_LAYERS):
  """uint8 image [H, W, 3] + depth [H, W] metres -> uint8 [H, W, 3] with depth of field.

  Args:
    focus_depth: metres in perfect focus.
    aperture: blur radius in pixels of a point at infinity (0: the image unchanged).
    max_layers: at most this many blur radii per side of the focus plane.
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
  for value in levels:
    mask = (level == value).astype(np.float64)
    kernel = disc_kernel(abs(value) * step)
    premultiplied = _blur(colour * mask[..., None], kernel)
    coverage = np.clip(_blur(mask, kernel), 0.0, 1.0)
    if out is None:
      filled = coverage > 1e-3
      out = np.where(filled[..., None], premultiplied / np.maximum(coverage, 1e-3)[..., None],
                     colour)
    else:
      out = premultiplied + (1.0 - coverage)[..., None] * out
  return np.clip(np.round(out), 0, 255).astype(np.uint8)
