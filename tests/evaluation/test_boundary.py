"""Detail metrics on synthetic step edges, where the right answer is known by construction."""

import math

import numpy as np
import pytest

from attn_depth import metrics


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


@pytest.mark.parametrize("shift", [2, 4, 7])
def test_a_shifted_edge_is_off_by_its_shift(shift):
  """Canny marks one or both pixels beside a step, so the distance is the shift within 1 px."""
  acc, comp = metrics.depth_boundary_errors(metrics.canny_depth_edges(step()),
                                            step(column=40 + shift))
  assert shift - 1 <= acc <= shift
  assert shift - 1 <= comp <= shift
  # A 1-pixel-wide Sobel edge a few pixels away matches none of the true edge pixels.
  assert metrics.boundary_metrics(step(), step(column=40 + shift))["edge_f1@0.25"] == 0.0


def test_no_predicted_edge_gives_the_truncation_and_zero_recall():
  result = metrics.boundary_metrics(step(), np.full((60, 80), 3.0))
  assert result["dbe_acc"] == 10.0 and result["dbe_comp"] == 10.0
  assert result["edge_recall@0.5"] == 0.0 and result["edge_f1@0.5"] == 0.0
  assert math.isnan(result["edge_precision@0.5"])


def test_an_edge_far_from_any_true_edge_is_ignored_by_accuracy_but_not_completeness():
  gt = step()
  pred = step()
  pred[:, 75:] = 9.0  # an extra step 35 px from the true one, beyond the 10 px window
  acc, comp = metrics.depth_boundary_errors(metrics.canny_depth_edges(gt), pred)
  assert acc == 0.0 and comp == 0.0
  assert metrics.boundary_metrics(gt, pred)["edge_precision@0.25"] < 1.0


def test_sobel_thresholds_by_hand():
  """A 0.1 m step: the unnormalised Sobel response is (1 + 2 + 1) * 0.1 = 0.4 on both sides,
  an edge at 0.25 but not at 0.5."""
  gt = step(near=2.0, far=2.1)
  assert metrics.edge_precision_recall(gt, gt, 0.25) == (1.0, 1.0, 1.0)
  precision, recall, f1 = metrics.edge_precision_recall(gt, gt, 0.5)
  assert math.isnan(precision) and math.isnan(recall) and math.isnan(f1)
  gt_edges = metrics.boundary_metrics(gt, gt)  # the same through the combined function
  assert gt_edges["edge_f1@0.25"] == 1.0


def test_holes_in_the_ground_truth_make_no_edges():
  gt = np.full((60, 80), 3.0)
  gt[20:30, 20:30] = 0.0  # a Kinect hole
  assert not metrics.canny_depth_edges(gt).any()
  precision, recall, _ = metrics.edge_precision_recall(gt, np.full_like(gt, 3.0), 0.25)
  assert math.isnan(recall) and math.isnan(precision)


def test_accumulator_averages_defined_images_only():
  accumulator = metrics.BoundaryMetricsAccumulator()
  accumulator.add(np.stack([step(), np.full((60, 80), 3.0)]),
                  np.stack([step(column=42), np.full((60, 80), 3.0)]))
  result, counts = accumulator.result(), accumulator.counts
  assert counts["dbe_acc"] == 1  # the flat image has no true edge: skipped
  assert result["dbe_acc"] == metrics.boundary_metrics(step(), step(column=42))["dbe_acc"]
