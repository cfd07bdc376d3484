"""A trained model describes itself: model_spec.json beside checkpoints and in SavedModels,
presets, and loading that neither needs nor changes gin's configuration."""

import ast
import hashlib
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
from attn_depth.serving import card
from attn_depth.serving import presets
from attn_depth.serving import provenance

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


QUICKSTART_CONFIG = ("train.batch_size = 2\ntrain.source = 'synthetic_rooms'\n"
                     "train.total_steps = 600\nbuild_model.backbone_weights = None\n")
NYU_CONFIG = ("train.batch_size = 8\ntrain.source = 'nyu_tfds'\ntrain.total_steps = 86680\n"
              "build_model.backbone_weights = 'imagenet'\n")
RESULT = ("synthetic_rooms_paper", {"source": "synthetic_rooms", "protocol": "paper",
                                    "mode": "per-image mean", "images": 100, "step": 600,
                                    "metrics": {"rel": 0.25, "rms": 0.5, "log10": float("nan"),
                                                "delta1": 0.625, "delta2": 1e-05}})


def _card(tmp_path, config_text, reports=(), **kwargs):
  """A card for a run whose operative config is `config_text` (None: no config)."""
  config = None
  if config_text is not None:
    config = tmp_path / "operative_config.gin"
    config.write_text(config_text)
  record = provenance.record(600, "whole", "float32", "runs/x", reports)
  return card.model_card(models.ModelSpec("full"), record, [], config and str(config), **kwargs)


def test_the_cards_front_matter_is_the_hubs_metadata(tmp_path):
  """huggingface_hub's own parser (ModelCard, ModelCardData, which also parses the model-index
  into EvalResults) reads the front matter back as written: depth-estimation, the licence of
  the weights, datasets only for what they learned from, metric depth and its range, the
  evaluated results."""
  from huggingface_hub import ModelCard  # pylint: disable=import-outside-toplevel
  from huggingface_hub import ModelCardData  # pylint: disable=import-outside-toplevel
  quickstart = ModelCard(_card(tmp_path, QUICKSTART_CONFIG, [RESULT])).data
  assert quickstart.pipeline_tag == "depth-estimation" and quickstart.library_name == "keras"
  assert quickstart.license == "apache-2.0" and quickstart.license_name is None
  assert quickstart.datasets is None  # procedural rooms: no dataset of the Hub's
  assert {"depth-estimation", "metric-depth", "attn_depth"} <= set(quickstart.tags)
  assert quickstart.depth_estimation == {"depth": "metric", "unit": "m", "range_m": [0.5, 10.0]}
  assert quickstart.model_name == "attn_depth full_r101"
  # NaN (log10 here) is left out: JSON and the Hub's metadata have none.
  assert [(r.task_type, r.dataset_type, r.dataset_split, r.metric_type, r.metric_value)
          for r in quickstart.eval_results] == [
              ("depth-estimation", "synthetic_rooms", "test", "rel", 0.25),
              ("depth-estimation", "synthetic_rooms", "test", "rms", 0.5),
              ("depth-estimation", "synthetic_rooms", "test", "delta1", 0.625),
              # exact, and a number to YAML 1.1 readers too (PyYAML reads "1e-05" as a string)
              ("depth-estimation", "synthetic_rooms", "test", "delta2", 1e-05)]
  ModelCardData(**quickstart.to_dict())  # the Hub library's own checks of the eval results

  nyu = ModelCard(_card(tmp_path, NYU_CONFIG)).data
  assert nyu.license == "other" and nyu.license_link == "LICENSE.md"
  assert nyu.license_name == "attn-depth-weights-nyu-depth-v2-imagenet-terms"
  assert nyu.datasets == ["nyu_depth_v2"] and nyu.depth_estimation["range_m"] == [0.0, 10.0]
  assert nyu.eval_results is None and "model-index" not in nyu.to_dict()  # no result: none
  unknown = ModelCard(_card(tmp_path, None)).data
  assert unknown.license == "other" and unknown.datasets is None
  assert unknown.depth_estimation == {"depth": "metric", "unit": "m", "range": (
      "that of the training data (not known here)")}


def test_the_card_licence_follows_what_the_weights_were_trained_on(tmp_path):
  nyu = _card(tmp_path, NYU_CONFIG)
  assert ("These weights also carry the terms of the training data, `nyu_tfds` (NYU Depth V2 "
          "and SUN RGB-D are distributed for research; your own data carries your terms); and "
          "of the backbone's initial weights (ImageNet's: non-commercial research and "
          "education).") in nyu
  assert "license_name=" not in nyu and "set the model's licence to the terms" in nyu
  assert "not recorded here" in _card(tmp_path, None)
  quickstart = _card(tmp_path, QUICKSTART_CONFIG)
  assert "carry no data terms" in quickstart and "license_name='Apache 2.0'" in quickstart
  # LICENSE.md, which `license_link` names, is written beside a card whose licence is other.
  spec, record = models.ModelSpec("full"), provenance.record(1, "whole", "float32", "x")
  (tmp_path / "nyu").mkdir()
  (tmp_path / "nyu" / "operative_config.gin").write_text(NYU_CONFIG)
  card.write(str(tmp_path / "nyu"), "README.md", spec, record, [],
             str(tmp_path / "nyu" / "operative_config.gin"))
  assert "ImageNet's: non-commercial" in (tmp_path / "nyu" / "LICENSE.md").read_text()
  (tmp_path / "quickstart").mkdir()
  (tmp_path / "quickstart" / "operative_config.gin").write_text(QUICKSTART_CONFIG)
  card.write(str(tmp_path / "quickstart"), "README.md", spec, record, [],
             str(tmp_path / "quickstart" / "operative_config.gin"))
  assert not (tmp_path / "quickstart" / "LICENSE.md").exists()  # apache-2.0: no other terms
  (tmp_path / "unknown").mkdir()
  card.write(str(tmp_path / "unknown"), "README.md", spec, record)
  assert (tmp_path / "unknown" / "LICENSE.md").is_file()  # terms unknown: other, too
  # An export's card names only the files beside it that were kept, with their agreement.
  beside = card.beside({
      "float32": {"file": "/x/model_float32.tflite", "max_rel": 1.2e-6},
      "float16": {"file": "/x/model_float16.tflite", "max_rel": 0.3, "kept": False},
      "onnx": {"file": None, "kept": False, "reason": "needs onnx"},
      "savedmodel": {"file": "/x", "max_rel": 0.01}})
  assert beside == ["- `model_float32.tflite` (LiteRT float32): largest relative difference to "
                    "the float32 network 1.2e-06"]
  export_card = _card(tmp_path, QUICKSTART_CONFIG, loading="saved_model", beside=beside)
  assert "model_float32.tflite" in export_card and "model_float16.tflite" not in export_card
  assert "tflite" not in _card(tmp_path, QUICKSTART_CONFIG, loading="saved_model")


def test_the_cards_share_commands_exist_in_the_pinned_hub_libraries(tmp_path):
  """The card's upload commands are the pinned libraries' own: `hf upload` (huggingface_hub's
  CLI; its --help runs) and kagglehub.model_upload (its signature takes the call, the handle
  parses as a model without a version); `huggingface-cli`, removed, is written nowhere."""
  import inspect  # pylint: disable=import-outside-toplevel
  import shlex  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import kagglehub  # pylint: disable=import-outside-toplevel
  from kagglehub import handle as kaggle_handle  # pylint: disable=import-outside-toplevel
  from tests.conftest import REPO_ROOT  # pylint: disable=import-outside-toplevel
  text = _card(tmp_path, QUICKSTART_CONFIG)
  hf_command, kaggle_command = card.share_commands(models.ModelSpec("full"), "apache-2.0")
  assert f"\n{hf_command}\n{kaggle_command}\n" in text
  assert kaggle_command.endswith(", license_name='Apache 2.0')\"")
  with open(os.path.join(REPO_ROOT, "docs", "deployment.md"), encoding="utf-8") as f:
    docs = f.read()
  usage = subprocess.run(["hf", "upload", "--help"], capture_output=True, text=True, timeout=60,
                         check=False)
  assert usage.returncode == 0 and "Usage: hf upload [OPTIONS] REPO_ID [LOCAL_PATH]" in (
      usage.stdout), usage.stdout + usage.stderr
  commands = [line for line in (text + docs).splitlines()
              if line.startswith(("hf ", "python -c \"import kagglehub"))]
  assert len(commands) == 4, commands  # the card's two, the docs' two
  for command in commands:
    words = shlex.split(command)
    if words[0] == "hf":  # upload REPO_ID LOCAL_PATH, no option
      assert words[1] == "upload" and len(words) == 4 and words[2].count("/") == 1, command
      continue
    code = words[2]
    call = ast.parse(code).body[1].value
    assert ast.unparse(call.func) == "kagglehub.model_upload", command
    args = [ast.literal_eval(arg) for arg in call.args]
    kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    inspect.signature(kagglehub.model_upload).bind(*args, **kwargs)
    parsed = kaggle_handle.parse_model_handle(args[0])
    assert not parsed.is_versioned() and parsed.framework == "keras", command
  for name in ("README.md", "docs/deployment.md"):
    with open(os.path.join(REPO_ROOT, name), encoding="utf-8") as f:
      assert "huggingface-cli" not in f.read(), name
  assert "huggingface-cli" not in text


def test_provenance_round_trips_reads_older_records_and_refuses_bad_ones_in_one_line(tmp_path):
  record = provenance.record(600, "whole", "bfloat16", "runs/x", [RESULT])
  assert record["results"] == [{"name": "synthetic_rooms_paper", "source": "synthetic_rooms",
                                "protocol": "paper", "mode": "per-image mean", "images": 100,
                                "step": 600, "metrics": {"rel": 0.25, "rms": 0.5,
                                                         "delta1": 0.625, "delta2": 1e-05}}]
  assert set(record) == set(provenance.FIELDS)
  assert set(record["versions"]) == {"attn_depth", "keras", "tensorflow"}
  assert provenance.read(str(tmp_path), "metadata.json") is None  # neither file
  provenance.write(str(tmp_path), record)
  assert provenance.read(str(tmp_path), "metadata.json") == record
  # A preset written before provenance.json: its metadata.json, as attn_depth 0.1.0 wrote it.
  old = tmp_path / "old"
  old.mkdir()
  (old / "metadata.json").write_text(json.dumps({
      "attn_depth_version": "0.1.0", "keras_version": "3.15.1", "step": 7, "fit": "squeeze",
      "trained_from": "runs/q", "saved_at": "2026-11-30T10:00:00+00:00"}))
  legacy = provenance.read(str(old), "metadata.json")
  assert {key: legacy[key] for key in provenance.FIELDS} == {
      "format_version": 0, "step": 7, "fit": "squeeze", "precision": None,
      "trained_from": "runs/q", "trained_on": None,
      "versions": {"attn_depth": "0.1.0", "keras": "3.15.1"},
      "saved_at": "2026-11-30T10:00:00+00:00", "results": []}
  for text, message in (("{not json", "provenance.json: unreadable"),
                        ("[1, 2]", "provenance.json: expected a JSON object, got list"),
                        (json.dumps({**record, "format_version": 9}),
                         "provenance.json: format 9 is newer than this attn_depth reads")):
    (tmp_path / "provenance.json").write_text(text)
    with pytest.raises(provenance.ProvenanceError, match=message) as error:
      provenance.read(str(tmp_path), "metadata.json")
    assert "\n" not in str(error.value)


def test_preset_round_trip_carries_spec_provenance_card_logs_and_results(run_dir, tmp_path):
  estimator = attn_depth.DepthEstimator.from_path(run_dir)
  folder = estimator.save_to_preset(str(tmp_path / "preset"))
  for name in ("model.keras", "model_spec.json", "provenance.json", "README.md",
               "operative_config.gin", "eval/synthetic_rooms_paper.json"):
    assert os.path.isfile(os.path.join(folder, name)), name
  assert not os.path.exists(os.path.join(folder, "metadata.json"))  # one identity record
  assert not os.path.exists(os.path.join(folder, "LICENSE.md"))  # apache-2.0: no other terms
  for kind in ("train", "eval"):  # the run's TensorBoard events, as they were
    events = sorted(os.listdir(os.path.join(folder, "logs", kind)))
    assert events and all(name.startswith("events.out.tfevents.") for name in events), kind
    for name in events:
      with open(os.path.join(run_dir, kind, name), "rb") as original, \
          open(os.path.join(folder, "logs", kind, name), "rb") as copied:
        assert original.read() == copied.read()
  with open(os.path.join(run_dir, "operative_config.gin"), encoding="utf-8") as f:
    assert (tmp_path / "preset" / "operative_config.gin").read_text() == f.read()
  record = presets.read_provenance(folder)
  with open(os.path.join(run_dir, "eval", "synthetic_rooms_paper.json"), encoding="utf-8") as f:
    report = json.load(f)
  assert (record["step"], record["fit"], record["precision"], record["trained_from"]) == (
      1, "whole", "float32", estimator.network.source)
  assert record["results"] == [provenance.summary("synthetic_rooms_paper", report)]
  # What it learned from, recorded (the run's train.source) and read back with the model.
  assert record["trained_on"] == estimator.trained_on == "synthetic_rooms"
  assert record["results"][0]["metrics"]["rel"] == report["metrics"]["rel"]
  gin.clear_config()
  loaded = attn_depth.DepthEstimator.from_preset(folder)
  assert loaded.spec == estimator.spec and loaded.network.step == estimator.network.step
  assert loaded.trained_on == "synthetic_rooms"
  np.testing.assert_allclose(loaded.predict(IMAGES)["depths"], estimator.predict(IMAGES)["depths"],
                             rtol=1e-5, atol=1e-6)
  assert gin.config_str() == ""
  with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
    text = f.read()
  assert "attn_depth full_r14 (step 1)" in text and "| rel | rms | log10 |" in text
  assert "DepthEstimator.from_preset" in text
  for words in ("- data: `synthetic_rooms`", "batch 2", "random weights", "## Intended use",
                "up to 10 m", "## Licence", "Apache-2.0", card.STATUS,
                # procedural rooms from random weights: the code's licence, no data terms
                'license: "apache-2.0"', "carry no data terms",
                "it learned depths from 0.5 to 10 m", "pip install -c constraints.txt",
                "hf upload <you>/attn-depth-full_r14 .", "kagglehub.model_upload(",
                "keras.saving.load_model(\"hf://...\")`, does not load this repository"):
    assert words in text, words
  from huggingface_hub import ModelCard  # pylint: disable=import-outside-toplevel
  assert [(r.metric_type, r.metric_value) for r in ModelCard(text).data.eval_results][:2] == [
      ("rel", report["metrics"]["rel"]), ("rms", report["metrics"]["rms"])]
  # A preset is also a model for every tool that takes one.
  assert inference.load_network(folder).spec == estimator.spec
  with pytest.raises(presets.PresetError, match="exists and is not a preset"):
    estimator.save_to_preset(run_dir)
  with pytest.raises(presets.PresetError, match="missing model.keras"):
    attn_depth.DepthEstimator.from_preset(str(tmp_path))
  # A preset whose record is damaged is refused in one line, and writing over it is refused
  # for a folder that is not a preset.
  (tmp_path / "preset" / "provenance.json").write_text("{not json")
  with pytest.raises(presets.PresetError, match="unreadable preset .*provenance.json") as error:
    attn_depth.DepthEstimator.from_preset(folder)
  assert "\n" not in str(error.value)


@pytest.mark.slow  # an export / a fresh process
def test_exports_and_presets_written_before_the_provenance_record_still_load(run_dir, tmp_path):
  """A preset as attn_depth 0.1.0 wrote it (model.keras, model_spec.json, metadata.json) and a
  SavedModel as it exported it (assets.extra/attn_depth.json beside model_spec.json, and an
  older one with attn_depth.json alone) load with their step and fit, and give the run's depths."""
  from attn_depth.serving import export  # pylint: disable=import-outside-toplevel
  estimator = attn_depth.DepthEstimator.from_path(run_dir)
  expected = estimator.predict(IMAGES)["depths"]
  network = estimator.network
  old_preset = tmp_path / "old_preset"
  old_preset.mkdir()
  network.model.save(str(old_preset / "model.keras"))
  network.spec.save(str(old_preset))
  (old_preset / "metadata.json").write_text(json.dumps({  # presets._metadata of 0.1.0, + saved_at
      "attn_depth_version": "0.1.0", "keras_version": "3.15.1", "step": network.step,
      "fit": "squeeze", "trained_from": run_dir, "saved_at": "2026-11-30T10:00:00+00:00"}))
  loaded = attn_depth.DepthEstimator.from_preset(str(old_preset))
  assert loaded.network.step == 1 and loaded.network.fit == "squeeze"
  np.testing.assert_allclose(loaded.predict(IMAGES)["depths"],
                             attn_depth.DepthEstimator.from_path(run_dir, fit="squeeze")
                             .predict(IMAGES)["depths"], rtol=1e-5, atol=1e-6)
  # An older preset is replaced whole by a new one, never refused as "not a preset".
  estimator.save_to_preset(str(old_preset))
  assert not (old_preset / "metadata.json").exists() and (old_preset / "provenance.json").is_file()

  old_export = tmp_path / "old_export"
  export.export_saved_model(network.model, str(old_export), network.spec, network.step, "whole")
  assets = old_export / "assets.extra"
  os.remove(assets / "provenance.json")
  (assets / "attn_depth.json").write_text(json.dumps({  # export_saved_model's record of 0.1.0
      "input_size": list(network.spec.input_size), "resize_size": list(network.spec.resize_size),
      "fit": "whole", "step": network.step, "config": network.spec.to_dict(),
      "model": network.model.name, "precision": "float32"}))
  served = attn_depth.DepthEstimator.from_path(str(old_export))
  assert served.network.step == 1 and served.spec == network.spec
  np.testing.assert_allclose(served.predict(IMAGES)["depths"], expected, rtol=1e-5, atol=1e-5)
  os.remove(assets / "model_spec.json")  # older still: the sizes in attn_depth.json alone
  served = attn_depth.DepthEstimator.from_path(str(old_export))
  assert served.network.step == 1 and served.input_size == network.spec.input_size
  np.testing.assert_allclose(served.predict(IMAGES)["depths"], expected, rtol=1e-5, atol=1e-5)


def _hf_cache_repo(hf_home, repo_id, folder):
  """`folder` laid out as huggingface_hub stores a downloaded model repository in its cache
  (HF_HOME/hub/models--<owner>--<name>/: blobs/<sha256>, snapshots/<commit>/<path> linking to
  them, refs/main naming the commit)."""
  repo = os.path.join(hf_home, "hub", "models--" + repo_id.replace("/", "--"))
  commit = hashlib.sha1(repo_id.encode()).hexdigest()  # any 40-hex commit id
  snapshot = os.path.join(repo, "snapshots", commit)
  os.makedirs(os.path.join(repo, "blobs"))
  for root, _, names in os.walk(folder):
    for name in names:
      relative = os.path.relpath(os.path.join(root, name), folder)
      with open(os.path.join(root, name), "rb") as f:
        content = f.read()
      blob = os.path.join(repo, "blobs", hashlib.sha256(content).hexdigest())
      with open(blob, "wb") as f:
        f.write(content)
      link = os.path.join(snapshot, relative)
      os.makedirs(os.path.dirname(link), exist_ok=True)
      os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
  os.makedirs(os.path.join(repo, "refs"))
  with open(os.path.join(repo, "refs", "main"), "w", encoding="utf-8") as f:
    f.write(commit)


@pytest.mark.slow  # an export / a fresh process
def test_a_preset_loads_from_hf_offline_from_huggingface_hubs_own_cache(run_dir, tmp_path):
  """from_preset("hf://...") through huggingface_hub itself, offline (HF_HUB_OFFLINE=1): the
  repository in its cache as the library stores it (its scan_cache_dir reads it back whole), in a
  fresh process as a user runs it; the depths are the run's."""
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  import huggingface_hub  # pylint: disable=import-outside-toplevel
  from tests.conftest import REPO_ROOT  # pylint: disable=import-outside-toplevel
  estimator = attn_depth.DepthEstimator.from_path(run_dir)
  folder = estimator.save_to_preset(str(tmp_path / "preset"))
  hf_home = str(tmp_path / "hf_home")
  _hf_cache_repo(hf_home, "me/attn-depth-full_r14", folder)
  cache = huggingface_hub.scan_cache_dir(os.path.join(hf_home, "hub"))
  assert not cache.warnings and [r.repo_id for r in cache.repos] == ["me/attn-depth-full_r14"]
  (revision,) = next(iter(cache.repos)).revisions
  assert {str(f.file_path.relative_to(revision.snapshot_path)) for f in revision.files} >= {
      "model.keras", "model_spec.json", "provenance.json", "README.md", "operative_config.gin"}
  np.save(tmp_path / "images.npy", IMAGES)
  script = ("import sys, numpy as np, attn_depth\n"
            "estimator = attn_depth.DepthEstimator.from_preset('hf://me/attn-depth-full_r14')\n"
            "print('STEP', estimator.network.step)\n"
            "np.save(sys.argv[2], estimator.predict(np.load(sys.argv[1]))['depths'])\n")
  env = {**os.environ, "HF_HOME": hf_home, "HF_HUB_OFFLINE": "1", "PYTHONPATH": REPO_ROOT}
  env.pop("HF_HUB_CACHE", None)
  result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "images.npy"),
                           str(tmp_path / "depths.npy")], capture_output=True, text=True,
                          env=env, timeout=300, check=False, cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr[-2000:]
  assert "STEP 1" in result.stdout
  np.testing.assert_allclose(np.load(tmp_path / "depths.npy"), estimator.predict(IMAGES)["depths"],
                             rtol=1e-5, atol=1e-6)


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
  lines = card.training_summary(card.read_config(str(tmp_path / "operative_config.gin")))
  assert lines[0] == "- data: `rgbd_files` (attn_depth.data.sources)"
  assert lines[1] == ("- recipe: 600 steps, batch 8, Adam with poly learning rates DFE "
                      "(0.001, 1e-05), DMG (0.01, 0.0001), seed 3")
  assert lines[2] == "- backbone initialised from random weights"
  (tmp_path / "operative_config.gin").write_text("train.total_steps = 600\n")
  recipe = card.training_summary(card.read_config(str(tmp_path / "operative_config.gin")))[1]
  assert "batch not recorded" in recipe and "1e-05" not in recipe and "1e-5" not in recipe
