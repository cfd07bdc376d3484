"""Table-1 metrics against hand-computed cases, masks and clipping."""

import math

import numpy as np
import pytest

from attn_depth.metrics import DepthMetricsAccumulator
from attn_depth.metrics import depth_metrics


def test_hand_computed_two_pixels():
  gt = np.array([2.0, 4.0])
  pred = np.array([1.0, 5.0])
  m = depth_metrics(gt, pred)
  assert m["rel"] == pytest.approx((0.5 + 0.25) / 2)
  assert m["sq_rel"] == pytest.approx((1 / 2 + 1 / 4) / 2)
  assert m["rms"] == pytest.approx(1.0)
  assert m["rms_log"] == pytest.approx(math.sqrt((math.log(2) ** 2 + math.log(1.25) ** 2) / 2))
  assert m["log10"] == pytest.approx((math.log10(2) + math.log10(1.25)) / 2)
  # ratios 2 and 1.25: delta1 (< 1.25) takes neither, delta2 (< 1.5625) and delta3 (< 1.953) 1.25
  assert m["delta1"] == 0.0 and m["delta2"] == pytest.approx(0.5) and m["delta3"] == 0.5


def test_invalid_ground_truth_is_ignored_and_predictions_clipped():
  gt = np.array([[0.0, np.nan, 12.0, 2.0]])  # only 2.0 is inside (1e-3, 10)
  pred = np.array([[5.0, 5.0, 5.0, 20.0]])  # 20 is clipped to 10
  m = depth_metrics(gt, pred)
  assert m["rel"] == pytest.approx(4.0) and m["rms"] == pytest.approx(8.0)
  m = depth_metrics(np.array([2.0]), np.array([-1.0]))  # clipped up to 1e-3
  assert m["rel"] == pytest.approx((2 - 1e-3) / 2)


def test_no_valid_pixel_gives_nan():
  assert all(math.isnan(v) for v in depth_metrics(np.zeros(3), np.ones(3)).values())


def test_per_image_mean_differs_from_pixel_pooling():
  gts = [np.full((1, 2), 1.0), np.full((1, 6), 1.0)]
  preds = [np.full((1, 2), 2.0), np.full((1, 6), 1.0)]  # rel 1.0 and 0.0
  per_image, pooled = DepthMetricsAccumulator("image"), DepthMetricsAccumulator("pixel")
  for g, p in zip(gts, preds):
    per_image.add(g, p)
    pooled.add(g, p)
  assert per_image.result()["rel"] == pytest.approx(0.5)
  assert pooled.result()["rel"] == pytest.approx(2 / 8)
  assert per_image.count == 2 and pooled.count == 8


def test_batches_with_channel_axis_count_as_images():
  acc = DepthMetricsAccumulator()
  acc.add(np.ones((3, 4, 5, 1)) * 2, np.ones((3, 4, 5, 1)) * 2)
  assert acc.count == 3 and acc.result()["rel"] == 0.0 and acc.result()["delta1"] == 1.0


def test_shape_mismatch_is_an_error():
  with pytest.raises(ValueError, match="differ in shape"):
    depth_metrics(np.ones((2, 2)), np.ones((2, 3)))
