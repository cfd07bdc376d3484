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

Photo size (`render_bokeh`, the default): a layer whose blur radius is r >= 2 * LOW_RES_RADIUS
is blurred at 1/f of the resolution (f the largest power of two with r / f >= LOW_RES_RADIUS:
a blur of r pixels has no detail finer than r / 2 left to lose), the consecutive layers of one
f are composited there, and the group is upsampled once and composited at full resolution.
float32 throughout. A 12-megapixel photo with predicted depth then takes seconds, not minutes
(the exact renderer, `exact=True`: every layer at full resolution in float64; the two differ by
0.1-0.3 grey levels on average on real photos, see attn-depth benchmark --sections=bokeh).
"""

import itertools

import cv2
import numpy as np
from scipy import signal

MAX_LAYERS = 24
LOW_RES_RADIUS = 2.0  # px: the smallest blur radius a reduced-resolution layer is blurred with


def circle_of_confusion(depth, focus_depth, aperture):
  """Signed blur radius in pixels: positive behind the focus plane, negative in front.

  Bounded by `aperture` on both sides: a real lens blurs what is nearer than half the focus
  distance even more, without limit as depth -> 0, which a predicted depth of a few
  centimetres would turn into a disc larger than the photo."""
  depth = np.asarray(depth)
  depth = np.maximum(depth if depth.dtype == np.float32 else depth.astype(np.float64), 1e-6)
  return np.clip(aperture * (1.0 - focus_depth / depth), -aperture, aperture).astype(depth.dtype)


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


def default_aperture(shape):
  """The default blur radius in pixels for an image of `shape` (height, width, ...): 1.5% of
  its longer side (predict, the demo and the benchmark use it)."""
  return 0.015 * max(shape[:2])


def focus_depth_at_centre(depth, fraction=0.1):
  """The median valid depth of the central `fraction` of the image: a default focus."""
  depth = np.asarray(depth)
  height, width = depth.shape
  dy, dx = max(int(height * fraction / 2), 1), max(int(width * fraction / 2), 1)
  centre = depth[height // 2 - dy:height // 2 + dy, width // 2 - dx:width // 2 + dx]
  valid = centre[np.isfinite(centre) & (centre > 0)]
  return float(np.median(valid)) if valid.size else float(np.median(depth[depth > 0]))


def render_bokeh(image, depth, focus_depth, aperture, max_layers=MAX_LAYERS, progress=None,
                 exact=False):
  """uint8 image [H, W, 3] + depth [H, W] metres -> uint8 [H, W, 3] with depth of field.

  Args:
    focus_depth: metres in perfect focus.
    aperture: blur radius in pixels of a point at infinity, and the largest blur anywhere
      (0: the image unchanged).
    max_layers: at most this many blur radii per side of the focus plane.
    progress: called as progress(layers done, layers in all) after each layer.
    exact: every layer blurred at full resolution (slow for photos; the reference).
  """
  image = np.asarray(image)
  depth = np.asarray(depth, np.float64 if exact else np.float32)
  if image.shape[:2] != depth.shape:
    raise ValueError(f"image {image.shape[:2]} and depth {depth.shape} differ in size")
  if focus_depth <= 0 or aperture < 0:
    raise ValueError(f"focus depth must be > 0 m and aperture >= 0 px, got {focus_depth}, "
                     f"{aperture}")
  valid = np.isfinite(depth) & (depth > 0)
  coc = np.where(valid, circle_of_confusion(np.where(valid, depth, focus_depth), focus_depth,
                                            aperture), 0.0)
  # Layers: integer radii (coarser when the range is wide), signed; pixels with |r| < 0.5 are
  # in focus.
  step = max(1.0, np.abs(coc).max() / max_layers)
  level = np.round(coc / step).astype(np.int16)  # |level| <= max_layers
  levels = sorted(np.unique(level), key=lambda l: (-l, l))  # far (large +r) first, near last
  # Among equal depth order, in-focus (0) goes after every positive (behind) layer and before
  # every negative (in front) one, as the sort above gives.
  if not exact:
    del coc, valid
    return _render_by_resolution(image, level, levels, step, progress)
  colour = image.astype(np.float64)
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


def _factor(radius):
  """The resolution divisor of a layer blurred by `radius` px (module docstring)."""
  factor = 1
  while radius >= 2 * factor * LOW_RES_RADIUS:
    factor *= 2
  return factor


def _disc_filter(plane, radius):
  """`plane` convolved with disc_kernel(radius), zero outside (as fftconvolve's "same")."""
  kernel = disc_kernel(radius).astype(np.float32)
  if kernel.size == 1:
    return plane
  return cv2.filter2D(plane, -1, kernel, borderType=cv2.BORDER_CONSTANT)


class _Blocks:
  """The photo's f x f blocks: the block of a pixel and each block's pixel count (edge blocks
  are partial), so that every layer of a group is reduced to 1/f in one pass."""

  def __init__(self, height, width, factor):
    self.factor, self.width = factor, width
    self.shape = (-(-height // factor), -(-width // factor))
    rows = np.bincount(np.arange(height) // factor).astype(np.float32)
    cols = np.bincount(np.arange(width) // factor).astype(np.float32)
    self.count = np.outer(rows, cols).ravel()

  @property
  def size(self):
    return self.shape[0] * self.shape[1]

  def of(self, pixels):
    """Block index of each flat pixel index."""
    rows, cols = np.divmod(pixels, self.width)
    return (rows // self.factor) * self.shape[1] + cols // self.factor


def _reduce_group(image, level, values, blocks):
  """For the consecutive levels `values` (one group): each layer's premultiplied colour and
  coverage averaged over f x f blocks, as [len(values)] lists of ([h, w, 3], [h, w]) float32
  arrays. One np.bincount per channel over the group's own pixels: every pixel of the photo is
  visited by one group only, instead of once per layer."""
  low, high = int(min(values)), int(max(values))
  flat_level = level.ravel()
  pixels = np.flatnonzero((flat_level >= low) & (flat_level <= high))
  layers = high - low + 1
  bins = blocks.of(pixels) * layers + (flat_level[pixels].astype(np.int64) - low)
  total = blocks.size * layers
  count = blocks.count[:, None]
  rgb = image.reshape(-1, 3)
  sums = [(np.bincount(bins, weights=rgb[pixels, channel], minlength=total)
           .astype(np.float32).reshape(blocks.size, layers) / count) for channel in range(3)]
  coverage = (np.bincount(bins, minlength=total).astype(np.float32)
              .reshape(blocks.size, layers) / count)
  del bins, pixels
  out = []
  for value in values:
    k = int(value) - low
    out.append((np.stack([s[:, k] for s in sums], -1).reshape(*blocks.shape, 3),
                np.ascontiguousarray(coverage[:, k]).reshape(blocks.shape)))
  return out


def _render_by_resolution(image, level, levels, step, progress):
  """render_bokeh's layers, each blurred at the resolution its radius allows (module
  docstring), composited far to near with premultiplied alpha, in place where possible: a
  12-megapixel photo holds a few float32 copies of itself, not float64 stacks."""
  height, width = level.shape
  colour = image.astype(np.float32)
  out = colour.copy()  # shows wherever no layer reaches (as the exact renderer's first fill)
  done = itertools.count(1)

  def layer_done():
    count = next(done)
    if progress:
      progress(count, len(levels))

  first, blocks = True, {}
  for factor, values in _resolution_groups(levels, step):
    if factor > 1 and factor not in blocks:
      blocks[factor] = _Blocks(height, width, factor)
    premultiplied, alpha, first = _group_over(image, colour, level, values, step, factor,
                                              blocks.get(factor), first, layer_done)
    np.subtract(1.0, alpha, out=alpha)
    out *= alpha[..., None]
    out += premultiplied
    del premultiplied, alpha
  np.round(out, out=out)
  np.clip(out, 0, 255, out=out)
  return out.astype(np.uint8)


def _resolution_groups(levels, step):
  """[(factor, [levels])]: runs of consecutive layers (far to near) blurred at one resolution."""
  groups = []
  for value in levels:
    factor = _factor(abs(value) * step)
    if groups and groups[-1][0] == factor:
      groups[-1][1].append(value)
    else:
      groups.append((factor, [value]))
  return groups


def _group_over(image, colour, level, values, step, factor, blocks, first, layer_done):
  """One resolution group's layers blurred and composited far to near (premultiplied alpha),
  back at full resolution; `first`: the group holds the farthest layer of the picture.
  Returns (premultiplied colour, alpha, whether the farthest layer is still to come)."""
  reduced = iter(_reduce_group(image, level, values, blocks)) if factor > 1 else None
  premultiplied = alpha = None
  for value in values:
    if reduced is not None:
      layer, mask = next(reduced)
    else:
      mask = (level == value).astype(np.float32)
      layer = np.multiply(colour, mask[..., None])
    radius = abs(value) * step / factor
    layer, coverage = _disc_filter(layer, radius), _disc_filter(mask, radius)
    np.clip(coverage, 0.0, 1.0, out=coverage)
    del mask
    if first:  # the farthest layer, normalised by its own coverage: opaque where it reaches
      filled = coverage > 1e-3
      layer /= np.maximum(coverage, 1e-3)[..., None]
      layer[~filled] = 0.0
      coverage, first = filled.astype(np.float32), False
    if premultiplied is None:
      premultiplied, alpha = layer, coverage
    else:  # premultiplied "over": layer + (1 - coverage) * what is behind it
      transmitted = 1.0 - coverage
      premultiplied *= transmitted[..., None]
      premultiplied += layer
      alpha *= transmitted
      alpha += coverage
    del layer, coverage
    layer_done()
  if reduced is not None:  # block centres land on pixel centres when upsampled to f x blocks
    height, width = level.shape
    size = (blocks.shape[1] * factor, blocks.shape[0] * factor)
    premultiplied = cv2.resize(premultiplied, size, interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
    premultiplied, alpha = premultiplied[:height, :width], alpha[:height, :width]
  return premultiplied, alpha, first
