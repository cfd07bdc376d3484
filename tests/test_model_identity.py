"""A trained model describes itself: model_spec.json beside checkpoints and in SavedModels,
presets, and loading that neither needs nor changes gin's configuration."""

import json
import os
import shutil

import gin
import numpy as np
import pytest

import attn_depth
from attn_depth import config
from attn_depth.serving import inference
from attn_depth import models
from attn_depth.serving import presets

IMAGES = np.random.default_rng(3).integers(0, 256, (2, 45, 70, 3), dtype=np.uint8)


def test_loading_a_run_leaves_the_callers_gin_configuration_in_place(run_dir):
  config.parse_gin([], ["build_model.variant = 'dfe'", "train.batch_size = 7",
                        "INPUT_SIZE = (32, 32)", "preprocess_example.crop_shape = %INPUT_SIZE"])
  before = gin.config_str()
  estimator = attn_depth.DepthEstimator.from_path(run_dir)
  assert gin.config_str() == before and gin.query_parameter("train.batch_size") == 7
  # ... and the caller's bindings did not leak into the network either.
  assert estimator.spec == models.ModelSpec.load(run_dir)
  assert estimator.spec.variant == "full" and estimator.input_size == (240, 320)  # the run's


def test_a_run_loads_with_no_gin_parse_at_all(run_dir):
  gin.clear_config()
  depths = attn_depth.DepthEstimator.from_path(run_dir).predict(IMAGES)["depths"]
  assert depths.shape == (2, 45, 70, 1) and np.isfinite(depths).all()
  assert gin.config_str() == ""


def test_older_runs_without_the_record_load_through_their_operative_config(run_dir, tmp_path):
  old = str(tmp_path / "old_run")
  shutil.copytree(run_dir, old)
  os.remove(os.path.join(old, models.SPEC_FILE))
  expected = inference.load_network(run_dir)
  loaded = inference.load_network(old)
  assert loaded.spec == expected.spec and gin.config_str() == ""
  np.testing.assert_array_equal(loaded.depth_at_image_size(IMAGES),
                                expected.depth_at_image_size(IMAGES))
  os.remove(os.path.join(old, inference.OPERATIVE_CONFIG))
  with pytest.raises(inference.ModelLoadError, match="neither model_spec.json nor"):
    inference.load_network(old)


def test_a_spec_that_does_not_fit_the_checkpoint_is_one_line(run_dir, tmp_path):
  wrong = str(tmp_path / "wrong")
  shutil.copytree(run_dir, wrong)
  spec = models.ModelSpec.load(wrong)
  models.ModelSpec(**{**spec.__dict__, "dmg_widths": (8, 8, 16, 32)}).save(wrong)
  with pytest.raises(inference.ModelLoadError, match="do not fit the network"):
    inference.load_network(wrong)


def test_spec_round_trips_and_refuses_what_it_cannot_read(tmp_path):
  spec = models.ModelSpec("dfe_afb", backbone_blocks=(1, 2, 1, 1), backbone_width=0.5,
                          dmg_widths=[8, 8, 16, 16], input_size=[64, 96], resize_size=(80, 120))
  assert spec.depth == 2 + 3 * 5 and spec.name == "dfe_afb_r17"
  assert models.ModelSpec.load(spec.save(str(tmp_path))) == spec
  assert models.ModelSpec("baseline").depth == 50 and models.ModelSpec().depth == 101
  with open(tmp_path / models.SPEC_FILE, "w", encoding="utf-8") as f:
    json.dump({**spec.to_dict(), "format_version": 99}, f)
  with pytest.raises(ValueError, match="format 99 is newer"):
    models.ModelSpec.load(str(tmp_path))
  with pytest.raises(ValueError, match="unknown variant"):
    models.ModelSpec("huge")


def test_the_card_licence_follows_what_the_weights_were_trained_on():
  spec = models.ModelSpec("full")
  metadata = {"step": 9, "fit": "whole", "trained_from": "runs/full_r101"}
  nyu = presets.model_card(spec, metadata, [], terms=[
      "the training data, `nyu_tfds` (...)", "the backbone's initial weights (ImageNet's: ...)"])
  assert "license: other" in nyu and "license: apache-2.0" not in nyu
  assert ("These weights also carry the terms of the training data, `nyu_tfds` (...); and of "
          "the backbone's initial weights (ImageNet's: ...).") in nyu
  unknown = presets.model_card(spec, metadata, [], terms=None)
  assert "license: other" in unknown and "not recorded here" in unknown
  # An export's card names only the files beside it that were kept, with their agreement.
  beside = presets._beside({  # pylint: disable=protected-access
      "float32": {"file": "/x/model_float32.tflite", "max_rel": 1.2e-6},
      "float16": {"file": "/x/model_float16.tflite", "max_rel": 0.3, "kept": False},
      "onnx": {"file": None, "kept": False, "reason": "needs onnx"},
      "savedmodel": {"file": "/x", "max_rel": 0.01}})
  assert beside == ["- `model_float32.tflite` (LiteRT float32): largest relative difference to "
                    "the float32 network 1.2e-06"]
  card = presets.model_card(spec, metadata, [], loading="saved_model", beside=beside, terms=[])
  assert "model_float32.tflite" in card and "model_float16.tflite" not in card
  assert "tflite" not in presets.model_card(spec, metadata, [], loading="saved_model")


def test_preset_round_trip_carries_spec_card_and_results(run_dir, tmp_path):
  estimator = attn_depth.DepthEstimator.from_path(run_dir)
  folder = estimator.save_to_preset(str(tmp_path / "preset"))
  for name in ("model.keras", "model_spec.json", "metadata.json", "README.md",
               "eval/synthetic_rooms_paper.json"):
    assert os.path.isfile(os.path.join(folder, name)), name
  gin.clear_config()
  loaded = attn_depth.DepthEstimator.from_preset(folder)
  assert loaded.spec == estimator.spec and loaded.network.step == estimator.network.step
  np.testing.assert_allclose(loaded.predict(IMAGES)["depths"], estimator.predict(IMAGES)["depths"],
                             rtol=1e-5, atol=1e-6)
  assert gin.config_str() == ""
  with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
    card = f.read()
  assert "attn_depth full_r14 (step 1)" in card and "| rel | rms | log10 |" in card
  assert "DepthEstimator.from_preset" in card
  for words in ("- data: `synthetic_rooms`", "batch 2", "random weights", "## Intended use",
                "up to 10 m", "## Licence", "Apache-2.0", presets.STATUS,
                # procedural rooms from random weights: the code's licence, no data terms
                "license: apache-2.0", "carry no data terms"):
    assert words in card, words
  # A preset is also a model for every tool that takes one.
  assert inference.load_network(folder).spec == estimator.spec
  with pytest.raises(presets.PresetError, match="exists and is not a preset"):
    estimator.save_to_preset(run_dir)
  with pytest.raises(presets.PresetError, match="missing model.keras"):
    attn_depth.DepthEstimator.from_preset(str(tmp_path))


def test_hub_handles_parse_and_fail_in_one_line_without_network(monkeypatch):
  assert presets.parse_handle("hf://me/attn-depth") == ("hf", "me/attn-depth")
  assert presets.parse_handle("kaggle://me/attn-depth/keras/full_r101/2") == (
      "kaggle", "me/attn-depth/keras/full_r101/2")
  assert presets.parse_handle("~/presets/x") == ("local", os.path.expanduser("~/presets/x"))
  for bad in ("hf://me", "kaggle://me/model", "s3://bucket/preset"):
    with pytest.raises(presets.PresetError, match=bad.split("/")[0]):
      presets.parse_handle(bad)
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # what a user without network meets, at once
  with pytest.raises(presets.PresetError) as error:
    attn_depth.DepthEstimator.from_preset("hf://me/attn-depth")
  assert "could not download the preset" in str(error.value) and "\n" not in str(error.value)
  import kagglehub  # pylint: disable=import-outside-toplevel

  def offline(handle):
    raise ConnectionError(f"Failed to resolve 'api.kaggle.com' for {handle}")

  monkeypatch.setattr(kagglehub, "model_download", offline)
  with pytest.raises(presets.PresetError, match="could not download the preset.*api.kaggle.com"):
    attn_depth.DepthEstimator.from_preset("kaggle://me/attn-depth/keras/full_r101")


def test_the_cards_recipe_is_the_runs_operative_config_not_restated_defaults(tmp_path):
  """What the card says of training comes from operative_config.gin alone: a run that trained
  with other learning rates shows them, and a value the file does not hold is "not recorded",
  never the paper's default put in its place."""
  (tmp_path / "operative_config.gin").write_text(
      "train.batch_size = 8\ntrain.dfe_learning_rate = (0.001, 1e-05)\n"
      "train.dmg_learning_rate = (0.01, 0.0001)\ntrain.seed = 3\ntrain.source = 'rgbd_files'\n"
      "train.total_steps = 600\nbuild_model.backbone_weights = None\n")
  lines = presets.training_summary(str(tmp_path))
  assert lines[0] == "- data: `rgbd_files` (attn_depth.data.sources)"
  assert lines[1] == ("- recipe: 600 steps, batch 8, Adam with poly learning rates DFE "
                      "(0.001, 1e-05), DMG (0.01, 0.0001), seed 3")
  assert lines[2] == "- backbone initialised from random weights"
  (tmp_path / "operative_config.gin").write_text("train.total_steps = 600\n")
  recipe = presets.training_summary(str(tmp_path))[1]
  assert "batch not recorded" in recipe and "1e-05" not in recipe and "1e-5" not in recipe
