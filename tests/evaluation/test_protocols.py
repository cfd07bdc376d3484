"""The geometry of the evaluation protocols, checked with networks whose output is known."""

import numpy as np
import pytest
import tensorflow as tf

from attn_depth.serving import inference
from attn_depth.evaluation import protocols
from attn_depth.evaluation import reports
from attn_depth.evaluation.evaluator import Evaluator


def red_channel_network(scale=10.0):
  """A stand-in network: depth = `scale` * red channel, at half resolution (2x2 mean)."""
  def network_fn(images):
    red = images[..., :1] * scale
    return tf.nn.avg_pool2d(red, 2, 2, "VALID")
  return inference.DepthNetwork(network_fn, (240, 320), "stand-in", resize_size=(312, 416))


def ramp_frames(count=2):
  """480x640 frames whose depth (metres) is 10x their red channel: a diagonal ramp, so any
  misplacement of the prediction in the frame shows as error."""
  rows, cols = np.mgrid[0:480, 0:640].astype(np.float64)
  red = (rows + cols) / (480 + 640)
  image = np.zeros((480, 640, 3), np.uint8)
  image[..., 0] = np.round(red * 255)
  depth = (image[..., 0] / 255.0 * 10.0).astype(np.float32)
  return np.stack([image] * count), np.stack([depth] * count)


@pytest.mark.parametrize("protocol", ["paper", "eigen"])
def test_prediction_lands_where_the_ground_truth_is(protocol):
  images, depths = ramp_frames()
  gt, pred = protocols.apply(protocol, red_channel_network(), images, depths)
  valid = gt > 0.1
  # Bilinear resizing of a linear ramp is exact away from borders; shifting the prediction by
  # even one crop offset (tens of pixels) would give errors of tenths of a metre.
  assert np.median(np.abs(pred[valid] - gt[valid])) < 0.03


def test_paper_protocol_geometry():
  images, depths = ramp_frames(1)
  gt, pred = protocols.apply("paper", red_channel_network(), images, depths)
  assert gt.shape == pred.shape == (1, 240, 320)
  # The centre crop of the 312x416 resize: its centre pixel is the frame's centre.
  assert abs(gt[0, 120, 160] - depths[0, 240, 320]) < 0.05


def test_eigen_protocol_geometry():
  images, depths = ramp_frames(1)
  gt, pred = protocols.apply("eigen", red_channel_network(), images, depths)
  assert gt.shape == pred.shape == (1, 471 - 45, 601 - 41)
  np.testing.assert_array_equal(gt[0], depths[0, 45:471, 41:601])  # raw ground truth, no resize


def test_flip_averaging_mirrors_the_flipped_prediction_back():
  """A network that ignores its input and predicts a left-to-right ramp: averaged with its
  mirrored twin, the ramp becomes flat at the mean."""
  def ramp_fn(images):
    width = tf.shape(images)[2] // 2
    ramp = tf.cast(tf.range(width), tf.float32)[None, None, :, None]
    return tf.tile(ramp, [tf.shape(images)[0], tf.shape(images)[1] // 2, 1, 1]) + 1.0
  network = inference.DepthNetwork(ramp_fn, (240, 320), "ramp", resize_size=(312, 416))
  images = np.zeros((1, 240, 320, 3), np.float32)
  plain = protocols.predict(network, images)
  flipped = protocols.predict(network, images, flip=True)
  assert plain[0, 0, 0] == 1.0 and plain[0, 0, -1] == 160.0
  np.testing.assert_allclose(flipped, np.full_like(flipped, (1.0 + 160.0) / 2))


def test_evaluator_reports_perfect_scores_for_a_perfect_network():
  images, depths = ramp_frames(3)
  frames = tf.data.Dataset.from_tensor_slices({"image": images, "depth": depths})
  evaluator = Evaluator("paper", "image", boundary=False, batch_size=2)
  result = evaluator.run(red_channel_network(), frames)
  assert result["images"] == 3
  assert result["metrics"]["delta1"] > 0.99 and result["metrics"]["rel"] < 0.02
  report = evaluator.report(red_channel_network(), result, "ramp")
  assert "312x416" in report["protocol_description"] and report["mode"] == "per-image mean"
  assert "| rel | rms | log10 |" in reports.markdown_rows(report)


def test_densedepth_protocol_geometry_flip_and_pooling():
  """DenseDepth's evaluate(): crop rows 20-459, cols 24-615 inclusive, the mirrored image's
  prediction always averaged in, every pixel pooled."""
  images, depths = ramp_frames(1)
  gt, pred = protocols.apply("densedepth", red_channel_network(), images, depths)
  assert gt.shape == pred.shape == (1, 440, 592)
  np.testing.assert_array_equal(gt[0], depths[0, 20:460, 24:616])
  assert np.median(np.abs(pred - gt)) < 0.03  # a flip-equivariant network: flip changes nothing
  # A network that ignores its input and predicts a left-to-right ramp comes out flat.
  def ramp_fn(inputs):
    width = tf.shape(inputs)[2] // 2
    ramp = tf.cast(tf.range(width), tf.float32)[None, None, :, None]
    return tf.tile(ramp, [tf.shape(inputs)[0], tf.shape(inputs)[1] // 2, 1, 1]) + 1.0
  ramp_network = inference.DepthNetwork(ramp_fn, (240, 320), "ramp", resize_size=(312, 416))
  _, flat = protocols.apply("densedepth", ramp_network, images, depths)
  assert flat.std() < 1e-3
  frames = tf.data.Dataset.from_tensor_slices({"image": images, "depth": depths})
  evaluator = Evaluator("densedepth", boundary=False)
  result = evaluator.run(red_channel_network(), frames)
  assert result["mode"] == "pixel" and result["ground_truth_holes"] < 1e-4  # the corner pixel
  report = evaluator.report(red_channel_network(), result, "densedepth")
  assert report["mode"] == "pixel-pooled" and "DenseDepth" in report["rel"]
  assert "filled depth" in report["ground_truth"] and "0.0% of the pixels" in report["ground_truth"]


def test_rel_as_densedepth_computes_it_by_hand():
  """DenseDepth's compute_errors(predictions, ground truth) divides by the prediction."""
  from attn_depth.evaluation.metrics import DepthMetricsAccumulator  # pylint: disable=import-outside-toplevel
  for denominator, expected in (("ground_truth", (0.5 + 0.5) / 2), ("prediction", (1.0 + 1 / 3) / 2)):
    accumulator = DepthMetricsAccumulator(mode="pixel", rel_denominator=denominator)
    accumulator.add(np.array([[2.0, 2.0]]), np.array([[1.0, 3.0]]))
    assert accumulator.result()["rel"] == pytest.approx(expected)
    assert accumulator.result()["delta1"] == 0.0  # symmetric metrics do not change


def test_raw_ground_truth_holes_are_measured_and_stated():
  images, depths = ramp_frames(2)
  depths[:, :48] = 0.0  # a tenth of every frame without depth
  frames = tf.data.Dataset.from_tensor_slices({"image": images, "depth": depths})
  evaluator = Evaluator("eigen", boundary=False)
  result = evaluator.run(red_channel_network(), frames)
  assert result["ground_truth_holes"] == pytest.approx(0.1)
  report = evaluator.report(red_channel_network(), result, "nyu_labeled")
  assert "rawDepths" in report["ground_truth"] and "10.0%" in report["ground_truth"]
  assert report["mode"] == "per-image mean"


def test_result_names_tell_settings_apart_and_never_replace_other_settings(tmp_path):
  name = reports.result_name
  assert name("nyu_labeled", "paper") == "nyu_labeled_paper"
  assert name("nyu_labeled", "eigen", True, "image", "rawDepths") == "nyu_labeled_eigen_flip"
  assert name("nyu_labeled", "eigen", mode="pixel", depth_key="depths", max_images=5,
              saved_model=True) == "nyu_labeled_eigen_pixel_depths_first5_savedmodel"
  assert name("nyu_tfds", "paper", predictions=True) == "nyu_tfds_paper_predictions"
  images, depths = ramp_frames(1)
  frames = tf.data.Dataset.from_tensor_slices({"image": images, "depth": depths})
  result = Evaluator("paper", boundary=False).run(red_channel_network(), frames)
  full = Evaluator("paper").report(red_channel_network(), result, "nyu_tfds")
  subset = Evaluator("paper", max_images=1).report(red_channel_network(), result, "nyu_tfds")
  path = str(tmp_path / "eval" / "result.json")
  assert reports.write_report(full, path)[0] == path
  assert reports.write_report(full, path)[0] == path  # the same settings again: replaced
  assert reports.write_report(subset, path)[0] == str(tmp_path / "eval" / "result-2.json")
  assert "paper, Table 1" not in reports.markdown_rows(full)  # the stand-in has no variant
  full["config"] = {"variant": "full"}
  assert "paper, Table 1 (full)" in reports.markdown_rows(full)
  full["source"] = "synthetic_rooms"  # not NYU: the paper's row would compare nothing
  assert "paper, Table 1" not in reports.markdown_rows(full)
