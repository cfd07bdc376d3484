"""Colour-mapped depth and RGB | ground truth | prediction strips (TensorBoard, previews)."""

import matplotlib
import numpy as np

# One colour map for every depth picture: colour PNGs, videos, TensorBoard strips, previews and
# the paper's figures (attn-depth figures); near is blue, far is red. matplotlib's exact map, not
# an approximation (matplotlib.colormaps needs no pyplot and no display).
COLORMAP = "turbo"


def colorize(depth, min_depth=None, max_depth=None):
  """depth [H, W] (or [H, W, 1]) metres -> uint8 RGB [H, W, 3]; invalid (<= 0) pixels black."""
  depth = np.asarray(depth, np.float32)
  if depth.ndim == 3:
    depth = depth[..., 0]
  valid = np.isfinite(depth) & (depth > 0)
  if min_depth is None:
    min_depth = float(depth[valid].min()) if valid.any() else 0.0
  if max_depth is None:
    max_depth = float(depth[valid].max()) if valid.any() else 1.0
  scaled = np.clip((depth - min_depth) / max(max_depth - min_depth, 1e-6), 0, 1)
  scaled = np.where(valid, scaled, 0)
  rgb = matplotlib.colormaps[COLORMAP](scaled, bytes=True)[..., :3]
  rgb[~valid] = 0
  return rgb


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
