"""Detail metrics on synthetic edges, where the right answer is known by construction, held
against the official definitions (iBims-1's evaluation script, Hu et al.'s edge code)."""

import math

import numpy as np
import pytest
from skimage import feature

from attn_depth import metrics
from attn_depth.evaluation import boundary


def step(shape=(60, 80), column=40, near=2.0, far=4.0):
  depth = np.full(shape, near)
  depth[:, column:] = far
  return depth


def test_perfect_prediction_scores_perfectly():
  gt = step()
  result = metrics.boundary_metrics(gt, gt)
  assert result["dbe_acc"] == 0.0 and result["dbe_comp"] == 0.0
  for threshold in ("0.25", "0.5", "1"):
    assert result[f"edge_precision@{threshold}"] == 1.0
    assert result[f"edge_recall@{threshold}"] == 1.0
    assert result[f"edge_f1@{threshold}"] == 1.0


def test_an_exact_step_makes_a_one_pixel_edge():
  """Canny in float32, as the official script runs it: one column beside an exact step."""
  edges = metrics.canny_depth_edges(step())
  assert edges[5:-5].any(axis=0).sum() == 1


@pytest.mark.parametrize("shift", [2, 4, 7])
def test_a_shifted_edge_is_off_by_its_shift(shift):
  acc, comp = metrics.depth_boundary_errors(metrics.canny_depth_edges(step()),
                                            step(column=40 + shift))
  assert shift - 1 <= acc <= shift
  assert shift - 1 <= comp <= shift
  # A 1-pixel-wide Sobel edge a few pixels away matches none of the true edge pixels.
  result = metrics.boundary_metrics(step(), step(column=40 + shift), padding="reflect")
  assert result["edge_f1@0.25"] == 0.0


def test_chamfer_errors_by_hand():
  """True edge: column 10; predicted: column 12 and a stray column 40 (28 px away), 10 rows.
  eps_acc counts the near column only: 2. eps_comp truncates at 10 px over both sets:
  (10 x 2 + 10 x 10 + 10 x 2) / (20 + 10) = 140 / 30."""
  gt, pred = np.zeros((10, 50), bool), np.zeros((10, 50), bool)
  gt[:, 10] = True
  pred[:, 12] = pred[:, 40] = True
  acc, comp = boundary.chamfer_errors(gt, pred)
  assert acc == pytest.approx(2.0)
  assert comp == pytest.approx(140.0 / 30.0)


def test_completeness_of_a_box_with_half_its_outline_missing():
  """Box outline 40x40; the prediction finds only its left half. Missed true edges count at
  most 10 px each, and the found half counts 0: far below the untruncated mean distance."""
  gt = np.zeros((60, 60), bool)
  gt[10, 10:50] = gt[49, 10:50] = gt[10:50, 10] = gt[10:50, 49] = True
  pred = gt.copy()
  pred[:, 30:] = False
  distance_to_pred = boundary.ndimage.distance_transform_edt(~pred)
  missed = np.minimum(distance_to_pred[gt], 10.0).sum()
  acc, comp = boundary.chamfer_errors(gt, pred)
  assert acc == 0.0
  assert comp == pytest.approx(missed / (pred.sum() + gt.sum()))
  assert comp < distance_to_pred[gt].mean() / 2


def test_weak_edges_follow_the_official_hysteresis():
  """A 1 m step on a 1-9 m ramp: an edge for Canny at 0.1 / 0.2 (the thresholds used before),
  none at iBims' 0.15 / 0.3."""
  ramp = np.tile(np.linspace(1.0, 8.0, 160), (60, 1))
  ramp[:, 80:] += 1.0
  normalised = ((ramp - ramp.min()) / (ramp.max() - ramp.min())).astype(np.float32)
  weak = feature.canny(normalised, sigma=np.sqrt(2), low_threshold=0.1, high_threshold=0.2)
  assert weak[5:-5, 75:85].any()
  assert not metrics.canny_depth_edges(ramp)[5:-5, 75:85].any()


def test_no_predicted_edge_gives_the_truncation_and_zero_recall():
  result = metrics.boundary_metrics(step(), np.full((60, 80), 3.0), padding="reflect")
  assert result["dbe_acc"] == 10.0 and result["dbe_comp"] == 10.0
  assert result["edge_recall@0.5"] == 0.0 and result["edge_f1@0.5"] == 0.0
  assert math.isnan(result["edge_precision@0.5"])


def test_an_edge_far_from_any_true_edge_is_ignored_by_accuracy_not_by_completeness():
  gt = step()
  pred = step()
  pred[:, 75:] = 2.0  # an extra step 35 px from the true one, beyond the 10 px window
  gt_edges = metrics.canny_depth_edges(gt)
  pred_edges = metrics.canny_depth_edges(pred)
  acc, comp = metrics.depth_boundary_errors(gt_edges, pred)
  stray = pred_edges & ~gt_edges
  assert acc == 0.0 and stray.any()
  assert comp == pytest.approx(10.0 * stray.sum() / (pred_edges.sum() + gt_edges.sum()))
  assert metrics.boundary_metrics(gt, pred)["edge_precision@0.25"] < 1.0


def test_sobel_zero_padding_by_hand():
  """Hu et al. zero-pad: on a flat 3 m image the border is an edge, (1 + 2 + 1) x 3 = 12 on the
  sides and 9 sqrt(2) in the corners; reflecting leaves it flat."""
  flat = np.full((5, 6), 3.0)
  zeros = metrics.sobel_magnitude(flat)
  assert zeros[0, 2] == pytest.approx(12.0) and zeros[2, 0] == pytest.approx(12.0)
  assert zeros[0, 0] == pytest.approx(9.0 * np.sqrt(2.0))
  assert np.all(zeros[1:-1, 1:-1] == 0.0)
  assert np.all(metrics.sobel_magnitude(flat, padding="reflect") == 0.0)
  with pytest.raises(ValueError, match="padding"):
    metrics.sobel_magnitude(flat, padding="wrap")


def test_sobel_thresholds_by_hand():
  """A 0.1 m step: the unnormalised Sobel response is (1 + 2 + 1) * 0.1 = 0.4 on both sides,
  an edge at 0.25 but not at 0.5."""
  gt = step(near=2.0, far=2.1)
  assert metrics.edge_precision_recall(gt, gt, 0.25, padding="reflect") == (1.0, 1.0, 1.0)
  precision, recall, f1 = metrics.edge_precision_recall(gt, gt, 0.5, padding="reflect")
  assert math.isnan(precision) and math.isnan(recall) and math.isnan(f1)
  # Zero-padded, the border is an edge in both maps at every threshold (Hu et al.'s numbers).
  assert metrics.edge_precision_recall(gt, gt, 0.5) == (1.0, 1.0, 1.0)
  flat = np.full_like(gt, 2.0)
  precision, recall, _ = metrics.edge_precision_recall(gt, flat, 0.25)
  border = 2 * 60 + 2 * 80 - 4
  assert precision == 1.0 and recall == pytest.approx(border / (border + 2 * 58))


def test_holes_in_the_ground_truth_make_no_edges():
  gt = np.full((60, 80), 3.0)
  gt[20:30, 20:30] = 0.0  # a Kinect hole
  assert not metrics.canny_depth_edges(gt).any()
  precision, recall, _ = metrics.edge_precision_recall(gt, np.full_like(gt, 3.0), 0.25,
                                                       padding="reflect")
  assert math.isnan(recall) and math.isnan(precision)


def test_accumulator_averages_defined_images_only():
  accumulator = metrics.BoundaryMetricsAccumulator()
  accumulator.add(np.stack([step(), np.full((60, 80), 3.0)]),
                  np.stack([step(column=42), np.full((60, 80), 3.0)]))
  result, counts = accumulator.result(), accumulator.counts
  assert counts["dbe_acc"] == 1  # the flat image has no true edge: skipped
  assert result["dbe_acc"] == metrics.boundary_metrics(step(), step(column=42))["dbe_acc"]
