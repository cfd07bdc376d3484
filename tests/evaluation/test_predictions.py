"""Anyone's saved predictions scored by the same Evaluator as our network."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from attn_depth.evaluation import protocols
from attn_depth.evaluation.evaluator import Evaluator
from attn_depth.evaluation.predictions import FramePredictions
from attn_depth.evaluation.predictions import PredictionsError
from tests.evaluation.test_protocols import ramp_frames
from tests.evaluation.test_protocols import red_channel_network


def _frames(images, depths):
  return tf.data.Dataset.from_tensor_slices({"image": images, "depth": depths})


def _save(folder, predictions, png=False):
  os.makedirs(folder, exist_ok=True)
  for index, depth in enumerate(predictions):
    if png:
      Image.fromarray(np.round(depth * 1000).astype(np.uint16)).save(
          os.path.join(folder, f"{index:05d}.png"))
    else:
      np.save(os.path.join(folder, f"{index:05d}.npy"), depth.astype(np.float32))
  return str(folder)


@pytest.mark.parametrize("protocol", protocols.PROTOCOLS)
def test_constant_predictions_score_as_computed_by_hand(tmp_path, protocol):
  """Ground truth 2 m everywhere, prediction 1.5 m: rel = 0.25, rms = 0.5, log10 =
  log10(4/3), δ1 = 0 (2 / 1.5 = 1.33 > 1.25), δ2 = 1, under every protocol's geometry."""
  depths = np.full((3, 480, 640), 2.0, np.float32)
  images = np.zeros((3, 480, 640, 3), np.uint8)
  folder = _save(tmp_path / "constant", np.full((3, 480, 640), 1.5, np.float32))
  evaluator = Evaluator(protocol, boundary=False, batch_size=2)
  metrics = evaluator.run_predictions(FramePredictions(folder, 3), _frames(images, depths))["metrics"]
  rel = 0.5 / 1.5 if protocol == "densedepth" else 0.25  # DenseDepth divides by the prediction
  assert metrics["rel"] == pytest.approx(rel, abs=1e-6)
  assert metrics["rms"] == pytest.approx(0.5, abs=1e-6)
  assert metrics["log10"] == pytest.approx(np.log10(2 / 1.5), abs=1e-6)
  assert metrics["delta1"] == 0.0 and metrics["delta2"] == 1.0


def test_our_networks_full_frame_predictions_score_as_the_network(tmp_path):
  """Saved as files, a network's own whole-frame predictions give the network's numbers under
  eigen, detail metrics included (the same geometry once the prediction is at the frame's
  size)."""
  images, depths = ramp_frames(3)
  depths[:, :30] = 0  # some holes
  network = red_channel_network()
  inputs = tf.image.resize(tf.image.convert_image_dtype(images, tf.float32), (312, 416))
  full = tf.image.resize(network.network(inputs.numpy())[..., None], (480, 640)).numpy()[..., 0]
  folder = _save(tmp_path / "ours", full)
  ours = Evaluator("eigen").run(network, _frames(images, depths))
  saved = Evaluator("eigen").run_predictions(FramePredictions(folder, 3), _frames(images, depths))
  for name, value in ours["metrics"].items():
    assert saved["metrics"][name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
  for name, value in ours["boundary"].items():
    assert saved["boundary"][name] == pytest.approx(value, rel=1e-5, abs=1e-6, nan_ok=True)


def test_png_predictions_are_millimetres(tmp_path):
  depths = np.full((1, 480, 640), 1.234, np.float32)
  folder = _save(tmp_path / "png", depths, png=True)
  np.testing.assert_allclose(FramePredictions(folder, 1).frame_depths(0, 1, (480, 640)), depths,
                             atol=1e-6)


def test_wrong_folders_are_one_line_naming_the_files(tmp_path):
  good = np.ones((2, 480, 640), np.float32)
  missing = _save(tmp_path / "missing", good)
  with pytest.raises(PredictionsError, match=r"no prediction for 1 of the 3 test frames: 00002"):
    FramePredictions(missing, 3)
  extra = _save(tmp_path / "extra", np.ones((4, 480, 640), np.float32))
  with pytest.raises(PredictionsError, match=r"beyond the 3 test frames: 00003.npy"):
    FramePredictions(extra, 3)
  FramePredictions(extra, 3, limited=True)  # --max_images 3: later files are not extra
  named = _save(tmp_path / "named", good)
  np.save(os.path.join(named, "frame_7.npy"), good[0])
  with pytest.raises(PredictionsError, match="not named by a frame index: frame_7.npy"):
    FramePredictions(named, 2)
  doubled = _save(tmp_path / "doubled", good)
  _save(tmp_path / "doubled", good[:1], png=True)
  with pytest.raises(PredictionsError, match="two predictions for one frame: 00000"):
    FramePredictions(doubled, 2)
  small = _save(tmp_path / "small", np.ones((2, 240, 320), np.float32))
  with pytest.raises(PredictionsError, match=r"00000.npy: 240x320, expected 480x640"):
    Evaluator("eigen", boundary=False).run_predictions(FramePredictions(small, 2),
                                           _frames(*ramp_frames(2)))
  broken = _save(tmp_path / "broken", good)
  with open(os.path.join(broken, "00001.npy"), "wb") as f:
    f.write(b"not numpy")
  with pytest.raises(PredictionsError, match="00001.npy: unreadable"):
    FramePredictions(broken, 2).frame_depths(0, 2, (480, 640))


def test_densedepth_keeps_far_pixels_and_clips_predictions_to_its_range(tmp_path):
  """DenseDepth's evaluate() clips predictions to [0.1, 10] m and scores every pixel; the other
  protocols drop ground truth at 10 m and beyond and clip to [1 mm, 10 m]. Ground truth 12 m
  on the left half, 2 m on the right; prediction 0.05 m on the left (clipped), 2 m on the
  right, by hand (pixel-pooled, rel over the prediction): rel = (|0.1 - 12| / 0.1) / 2."""
  depths = np.full((1, 480, 640), 2.0, np.float32)
  depths[:, :, :320] = 12.0
  predicted = np.full((1, 480, 640), 2.0, np.float32)
  predicted[:, :, :320] = 0.05
  folder = _save(tmp_path / "far", predicted)
  images = np.zeros((1, 480, 640, 3), np.uint8)
  dense = Evaluator("densedepth", boundary=False).run_predictions(FramePredictions(folder, 1),
                                                      _frames(images, depths))["metrics"]
  _, _, left, right = protocols.DENSEDEPTH_CROP  # exclusive ends: left half 320 - left
  far, near = 320 - left, right - 320
  assert dense["rel"] == pytest.approx((11.9 / 0.1) * far / (far + near), rel=1e-5)
  assert dense["delta1"] == pytest.approx(near / (far + near), rel=1e-6)
  eigen = Evaluator("eigen", boundary=False).run_predictions(FramePredictions(folder, 1),
                                                 _frames(images, depths))["metrics"]
  assert eigen["rel"] == pytest.approx(0.0, abs=1e-6)  # only the 2 m half counts there


def test_saved_predictions_and_networks_take_their_own_entry_points(tmp_path):
  """Saved depth goes through `run_predictions` (never flipped), a network through `run`: the
  evaluator does not guess which it was given."""
  depths = np.full((1, 480, 640), 2.0, np.float32)
  folder = _save(tmp_path / "saved", depths)
  frames = _frames(np.zeros((1, 480, 640, 3), np.uint8), depths)
  assert Evaluator("eigen").run_predictions(FramePredictions(folder, 1), frames)[
      "metrics"]["rel"] == pytest.approx(0.0, abs=1e-6)
  with pytest.raises(ValueError, match="cannot be flipped"):
    Evaluator("eigen", flip=True).run_predictions(FramePredictions(folder, 1), frames)
  with pytest.raises(AttributeError):  # a folder of files is not a network
    Evaluator("eigen").run(FramePredictions(folder, 1), frames)
