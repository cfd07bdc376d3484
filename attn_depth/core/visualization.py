"""Colour-mapped and grayscale depth, and RGB | ground truth | prediction strips (TensorBoard,
previews). The pictures a person looks at; what a program reads is the depth itself (.npy metres,
16-bit PNG millimetres)."""

import difflib

import matplotlib
import numpy as np

from attn_depth.core.errors import UserError

# One colour map for every depth picture: colour PNGs, videos, TensorBoard strips, previews and
# the paper's figures (attn-depth figures); near is blue, far is red. matplotlib's exact map, not
# an approximation (matplotlib.colormaps needs no pyplot and no display).
COLORMAP = "turbo"


class ColormapError(UserError, ValueError):
  """A colour map name that matplotlib does not know."""


def check_colormap(name):
  """`name` if matplotlib knows it (any of matplotlib.colormaps, e.g. viridis, magma, gray,
  turbo_r); else ColormapError in one line with the closest names."""
  if name in matplotlib.colormaps:
    return name
  known = sorted(matplotlib.colormaps)
  close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
  hint = f"did you mean {', '.join(close)}?" if close else "for example turbo, viridis, magma"
  raise ColormapError(f"{name!r} is not a matplotlib colour map; {hint} (matplotlib.colormaps "
                      f"lists all {len(known)}; a name ending in _r is the map reversed)")


def _scaled(depth, min_depth, max_depth):
  """(depth in [0, 1] between min_depth and max_depth (default: the valid range), valid mask)."""
  depth = np.asarray(depth, np.float32)
  if depth.ndim == 3:
    depth = depth[..., 0]
  valid = np.isfinite(depth) & (depth > 0)
  if min_depth is None:
    min_depth = float(depth[valid].min()) if valid.any() else 0.0
  if max_depth is None:
    max_depth = float(depth[valid].max()) if valid.any() else 1.0
  scaled = np.clip((depth - min_depth) / max(max_depth - min_depth, 1e-6), 0, 1)
  return np.where(valid, scaled, 0), valid


def colorize(depth, min_depth=None, max_depth=None, colormap=COLORMAP):
  """depth [H, W] (or [H, W, 1]) metres -> uint8 RGB [H, W, 3], pixel for pixel: min_depth
  (default the nearest valid depth) at the start of matplotlib's `colormap`, max_depth at its
  end; invalid (<= 0, not finite) pixels black."""
  scaled, valid = _scaled(depth, min_depth, max_depth)
  rgb = matplotlib.colormaps[check_colormap(colormap)](scaled, bytes=True)[..., :3]
  rgb[~valid] = 0
  return rgb


def grayscale(depth, min_depth=None, max_depth=None):
  """depth [H, W] (or [H, W, 1]) metres -> uint8 [H, W], near = bright: 255 at min_depth
  (default the nearest valid depth), 1 at max_depth (default the farthest), linear in depth
  between; 0 where there is no depth (<= 0, not finite)."""
  scaled, valid = _scaled(depth, min_depth, max_depth)
  gray = np.round(255.0 - 254.0 * scaled).astype(np.uint8)
  gray[~valid] = 0
  return gray


def comparison_strip(image, gt, pred):
  """One row: RGB | ground truth | prediction, both depths on the ground truth's colour scale.

  image float [H, W, 3] in [0, 1]; gt [H, W, 1] metres; pred any size (resized by nearest).
  """
  image = (np.clip(np.asarray(image), 0, 1) * 255 + 0.5).astype(np.uint8)
  gt = np.asarray(gt)[..., 0] if np.asarray(gt).ndim == 3 else np.asarray(gt)
  pred = np.asarray(pred)[..., 0] if np.asarray(pred).ndim == 3 else np.asarray(pred)
  rows = (np.arange(gt.shape[0]) * pred.shape[0] // gt.shape[0])
  cols = (np.arange(gt.shape[1]) * pred.shape[1] // gt.shape[1])
  pred = pred[rows][:, cols]
  valid = gt[np.isfinite(gt) & (gt > 0)]
  low, high = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 10.0)
  return np.concatenate([image, colorize(gt, low, high), colorize(pred, low, high)], axis=1)
