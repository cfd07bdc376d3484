"""Table 1's depth metrics (Eigen et al.'s definitions), per image and streamed over a test set."""

import numpy as np

METRIC_NAMES = ("rel", "sq_rel", "rms", "rms_log", "log10", "delta1", "delta2", "delta3")
LOWER_IS_BETTER = ("rel", "sq_rel", "rms", "rms_log", "log10")


def depth_metrics(gt, pred, min_depth=1e-3, max_depth=10.0):
  """Metrics over the valid pixels of one image (or any arrays of equal shape).

  Valid: min_depth < gt < max_depth (and finite). Predictions are clipped to
  [min_depth, max_depth] first.

  Returns:
    {name: float} with rel = mean |d - g| / g, sq_rel = mean (d - g)^2 / g,
    rms = sqrt(mean (d - g)^2), rms_log = sqrt(mean (ln d - ln g)^2),
    log10 = mean |log10 d - log10 g|, delta_k = fraction with max(d/g, g/d) < 1.25^k.
    NaN for every metric when no pixel is valid.
  """
  gt = np.asarray(gt, np.float64)
  pred = np.asarray(pred, np.float64)
  if gt.shape != pred.shape:
    raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
  with np.errstate(invalid="ignore"):
    valid = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
  return _metrics_of_valid(gt[valid], np.clip(pred[valid], min_depth, max_depth))


def _sums(g, d, rel_denominator="ground_truth"):
  ratio = np.maximum(d / g, g / d)
  return {
      "rel": np.sum(np.abs(d - g) / (g if rel_denominator == "ground_truth" else d)),
      "sq_rel": np.sum((d - g) ** 2 / g),
      "rms": np.sum((d - g) ** 2), "rms_log": np.sum((np.log(d) - np.log(g)) ** 2),
      "log10": np.sum(np.abs(np.log10(d) - np.log10(g))),
      "delta1": np.sum(ratio < 1.25), "delta2": np.sum(ratio < 1.25 ** 2),
      "delta3": np.sum(ratio < 1.25 ** 3),
  }


def _finish(sums, count):
  if count == 0:
    return {name: float("nan") for name in METRIC_NAMES}
  out = {name: float(value / count) for name, value in sums.items()}
  out["rms"] = float(np.sqrt(out["rms"]))
  out["rms_log"] = float(np.sqrt(out["rms_log"]))
  return out


def _metrics_of_valid(g, d, rel_denominator="ground_truth"):
  return _finish(_sums(g, d, rel_denominator), g.size)


def _as_batch(depth):
  depth = np.asarray(depth)
  if depth.ndim == 4 and depth.shape[-1] == 1:
    depth = depth[..., 0]
  return depth[None] if depth.ndim == 2 else depth


class DepthMetricsAccumulator:
  """Streams images into Table-1 metrics.

  mode "image" (default): each metric per image, then the mean over images (rms is the mean of
  per-image rms, as most NYU evaluations compute it). mode "pixel": every valid pixel of the test
  set pooled, then each metric once.
  rel_denominator "ground_truth" (Eigen et al.) or "prediction" (DenseDepth's evaluation code,
  whose rel is |d - g| / d).
  Pixels count where min_depth < ground truth < max_depth; predictions are clipped to
  `prediction_range` (default [min_depth, max_depth]).
  """

  def __init__(self, mode="image", min_depth=1e-3, max_depth=10.0,
               rel_denominator="ground_truth", prediction_range=None):
    if mode not in ("image", "pixel"):
      raise ValueError(f"mode must be 'image' or 'pixel', got {mode!r}")
    if rel_denominator not in ("ground_truth", "prediction"):
      raise ValueError(f"rel_denominator must be 'ground_truth' or 'prediction', got "
                       f"{rel_denominator!r}")
    self.rel_denominator = rel_denominator
    self.mode, self.min_depth, self.max_depth = mode, min_depth, max_depth
    self.prediction_range = tuple(prediction_range or (min_depth, max_depth))
    self._per_image = []
    self._sums = {name: 0.0 for name in METRIC_NAMES}
    self._pixels = 0

  def add(self, gt, pred):
    """Adds one image [H, W] or a batch [B, H, W] / [B, H, W, 1], each counted as an image."""
    gt, pred = _as_batch(gt), _as_batch(pred)
    if gt.shape != pred.shape:
      raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    for g, d in zip(gt, pred):
      g64, d64 = g.astype(np.float64), d.astype(np.float64)
      with np.errstate(invalid="ignore"):
        valid = np.isfinite(g64) & (g64 > self.min_depth) & (g64 < self.max_depth)
      if not valid.any():
        continue
      gv, dv = g64[valid], np.clip(d64[valid], *self.prediction_range)
      if self.mode == "image":
        self._per_image.append(_metrics_of_valid(gv, dv, self.rel_denominator))
      else:
        for name, value in _sums(gv, dv, self.rel_denominator).items():
          self._sums[name] += value
        self._pixels += gv.size

  @property
  def count(self):
    return len(self._per_image) if self.mode == "image" else self._pixels

  def result(self):
    if self.mode == "pixel":
      return _finish(self._sums, self._pixels)
    if not self._per_image:
      return {name: float("nan") for name in METRIC_NAMES}
    return {name: float(np.mean([m[name] for m in self._per_image])) for name in METRIC_NAMES}
