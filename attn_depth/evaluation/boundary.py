"""Detail metrics: how well predicted depth discontinuities match the true ones.

The paper's thesis is "detail preserving" depth, which Table 1's global metrics barely see. Two
published measures quantify it:

* iBims-1 depth boundary errors (Koch et al., ECCV-W 2018), as the official evaluation script
  computes them: Canny edges (sigma sqrt(2), hysteresis 0.15 / 0.3) of the prediction
  normalised to [0, 1] in float32; D_gt, D_pred = distance transforms of the two edge maps;
  eps_acc = mean D_gt over the predicted edges with D_gt < 10 px; eps_comp = the symmetric
  chamfer distance truncated at 10 px, (sum over predicted edges of min(D_gt, 10) + sum over
  true edges of min(D_pred, 10)) / (number of predicted + number of true edge pixels).
  Lower is better; both are 10 px when no predicted edge lies within 10 px of a true one.
  iBims annotates its true edges by hand; NYU has no such annotation, so true edges are the same
  Canny detector run on the ground truth (docs/paper_to_code.md).
* Edge precision / recall / F1 (Hu et al., WACV 2019): a pixel is an edge where the Sobel
  gradient magnitude of depth in metres exceeds a threshold (0.25, 0.5 and 1.0); precision and
  recall of the predicted edge pixels against the ground truth's, pixel for pixel. Hu et al.'s
  code zero-pads its Sobel convolution, so the image border is an edge in both maps; that is the
  default (`padding="zeros"`), comparable with their tables; `padding="reflect"` leaves the
  border out of it.

Canny, Sobel and the distance transform come from scikit-image and scipy.
"""

import numpy as np
from scipy import ndimage
from skimage import feature

IBIMS_MAX_DISTANCE = 10.0
IBIMS_CANNY = dict(sigma=np.sqrt(2.0), low_threshold=0.15, high_threshold=0.3)
HU_THRESHOLDS = (0.25, 0.5, 1.0)
HU_PADDING = "zeros"  # Hu et al.'s nn.Conv2d(padding=1); "reflect" is the alternative


def _edge_names(thresholds):
  names = []
  for threshold in thresholds:
    names += [f"edge_{kind}@{threshold:g}" for kind in ("precision", "recall", "f1")]
  return names


BOUNDARY_METRIC_NAMES = ("dbe_acc", "dbe_comp") + tuple(_edge_names(HU_THRESHOLDS))


def canny_depth_edges(depth, valid=None):
  """iBims' edge detector: Canny on depth normalised to [0, 1] over `valid` (default: depth > 0).

  Invalid pixels are filled with the nearest valid depth before filtering, so holes do not
  invent edges; edges are then reported on valid pixels only.
  """
  depth = np.asarray(depth, np.float64)
  if valid is None:
    valid = np.isfinite(depth) & (depth > 0)
  if not valid.any():
    return np.zeros(depth.shape, bool)
  if not valid.all():
    nearest = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    depth = depth[tuple(nearest)]
  # float32 as in the official script: a float64 Canny also keeps the second pixel flanking an
  # exact step (2 px wide edges).
  normalised = depth.astype(np.float32) - np.float32(depth[valid].min())
  top = normalised[valid].max()
  normalised = normalised / top if top > 0 else np.zeros_like(normalised)
  return feature.canny(normalised, **IBIMS_CANNY) & valid


def depth_boundary_errors(gt_edges, pred, max_distance=IBIMS_MAX_DISTANCE):
  """(eps_acc, eps_comp) in pixels of a prediction against boolean true edges.

  NaN for both when the image has no true edge (iBims skips such images).
  """
  gt_edges = np.asarray(gt_edges, bool)
  if not gt_edges.any():
    return float("nan"), float("nan")
  return chamfer_errors(gt_edges, canny_depth_edges(pred, valid=np.isfinite(pred)), max_distance)


def chamfer_errors(gt_edges, pred_edges, max_distance=IBIMS_MAX_DISTANCE):
  """(eps_acc, eps_comp) of two boolean edge maps, by iBims-1's formulas (module docstring)."""
  gt_edges, pred_edges = np.asarray(gt_edges, bool), np.asarray(pred_edges, bool)
  if not gt_edges.any():
    return float("nan"), float("nan")
  distance_to_gt = ndimage.distance_transform_edt(~gt_edges)
  near = pred_edges & (distance_to_gt < max_distance)
  if not near.any():
    return float(max_distance), float(max_distance)
  accuracy = distance_to_gt[near].mean()
  distance_to_pred = ndimage.distance_transform_edt(~pred_edges)
  completeness = ((np.minimum(distance_to_gt[pred_edges], max_distance).sum()
                   + np.minimum(distance_to_pred[gt_edges], max_distance).sum())
                  / (pred_edges.sum() + gt_edges.sum()))
  return float(accuracy), float(completeness)


def sobel_magnitude(depth, padding=HU_PADDING):
  """|grad depth| with the unnormalised 3x3 Sobel kernels, as Hu et al. compute it; `padding`
  "zeros" (theirs) or "reflect"."""
  if padding not in ("zeros", "reflect"):
    raise ValueError(f"padding must be 'zeros' or 'reflect', got {padding!r}")
  depth = np.asarray(depth, np.float64)
  mode = {"zeros": "constant", "reflect": "reflect"}[padding]
  return np.hypot(ndimage.sobel(depth, axis=0, mode=mode, cval=0.0),
                  ndimage.sobel(depth, axis=1, mode=mode, cval=0.0))


def _sobel_edges_input(gt, pred, valid=None, padding=HU_PADDING):
  """(|grad gt|, |grad pred|, valid): what every threshold of Hu et al.'s metric compares."""
  gt = np.asarray(gt, np.float64)
  pred = np.asarray(pred, np.float64)
  if valid is None:
    holes = ~(np.isfinite(gt) & (gt > 0))
    valid = ~ndimage.binary_dilation(holes, structure=np.ones((3, 3), bool))
  return (sobel_magnitude(np.where(np.isfinite(gt), gt, 0.0), padding),
          sobel_magnitude(pred, padding), valid)


def _precision_recall_f1(gt_magnitude, pred_magnitude, valid, threshold):
  gt_edges = (gt_magnitude > threshold) & valid
  pred_edges = (pred_magnitude > threshold) & valid
  hits = np.sum(gt_edges & pred_edges)
  precision = hits / pred_edges.sum() if pred_edges.any() else float("nan")
  recall = hits / gt_edges.sum() if gt_edges.any() else float("nan")
  if precision == 0 or recall == 0:
    f1 = 0.0  # also when the other is undefined: edges missed entirely, or all false
  elif np.isnan(precision) or np.isnan(recall):
    f1 = float("nan")
  else:
    f1 = 2 * precision * recall / (precision + recall)
  return float(precision), float(recall), float(f1)


def edge_precision_recall(gt, pred, threshold, valid=None, padding=HU_PADDING):
  """Hu et al.'s (precision, recall, F1) of predicted depth edges at one gradient threshold.

  Pixels outside `valid` (default: gt > 0, and where gt's Sobel window touches no hole) count
  for neither. Precision is NaN when nothing is predicted as edge, recall when the truth has
  no edge; F1 is 0 when either is 0 (true edges all missed, or every predicted edge false).
  """
  return _precision_recall_f1(*_sobel_edges_input(gt, pred, valid, padding), threshold)


def boundary_metrics(gt, pred, thresholds=HU_THRESHOLDS, padding=HU_PADDING):
  """Every detail metric of one image: {"dbe_acc", "dbe_comp", "edge_precision@0.25", ...}."""
  gt = np.asarray(gt, np.float64)
  pred = np.asarray(pred, np.float64)
  if gt.shape != pred.shape:
    raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
  out = {}
  out["dbe_acc"], out["dbe_comp"] = depth_boundary_errors(canny_depth_edges(gt), pred)
  sobel = _sobel_edges_input(gt, pred, padding=padding)  # once for all thresholds
  for threshold in thresholds:
    values = _precision_recall_f1(*sobel, threshold)
    for kind, value in zip(("precision", "recall", "f1"), values):
      out[f"edge_{kind}@{threshold:g}"] = value
  return out


class BoundaryMetricsAccumulator:
  """Per-image detail metrics averaged over a test set, skipping images where one is undefined
  (no true edge, nothing predicted); `counts` says how many images each mean covers."""

  def __init__(self, thresholds=HU_THRESHOLDS):
    self.thresholds = thresholds
    self._values = {}

  def add(self, gt, pred):
    """One image [H, W] or a batch [B, H, W] (a trailing channel of 1 is dropped)."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.ndim == 4:
      gt, pred = gt[..., 0], pred[..., 0]
    if gt.ndim == 2:
      gt, pred = gt[None], pred[None]
    for g, d in zip(gt, pred):
      for name, value in boundary_metrics(g, d, self.thresholds).items():
        self._values.setdefault(name, []).append(value)

  @property
  def counts(self):
    return {name: int(np.sum(~np.isnan(values))) for name, values in self._values.items()}

  def result(self):
    out = {}
    for name, values in self._values.items():
      values = np.asarray(values, np.float64)
      values = values[~np.isnan(values)]
      out[name] = float(values.mean()) if values.size else float("nan")
    return out
