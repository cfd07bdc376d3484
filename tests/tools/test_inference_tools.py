"""tools/evaluate.py, tools/export.py and tools/predict.py as users run them, on a tiny run."""

import json
import os
import subprocess
import sys

import gin
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from attn_depth import config
from attn_depth import data
from attn_depth.serving import inference
from attn_depth.core import images as images_lib
from attn_depth.apps import pointcloud
from attn_depth.evaluation import protocols
from tests.conftest import REPO_ROOT
from tests.conftest import run_tool
from tests.conftest import small_disk
from tests.data import nyu_files

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)


def test_evaluate_tool_on_the_labeled_mat(run_dir, tmp_path):
  mat = nyu_files.write_labeled_mat(tmp_path / "nyu_depth_v2_labeled.mat", count=4)
  splits = nyu_files.write_splits_mat(tmp_path / "splits.mat", train=(1, 3), test=(2, 4))
  out = tmp_path / "result.json"
  result = run_tool("evaluate", f"--model={run_dir}", f"--nyu_mat={mat}",
                    f"--nyu_splits={splits}", "--protocol=eigen", "--flip", f"--output={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(out.read_text())
  assert report["images"] == 2 and report["step"] == 1 and report["source"] == "nyu_labeled"
  assert report["protocol"] == "eigen" and report["flip"] is True
  assert "Eigen crop rows 45:471" in report["protocol_description"]
  assert set(report["metrics"]) >= {"rel", "rms", "log10", "delta1", "delta2", "delta3"}
  assert {"dbe_acc", "dbe_comp", "edge_f1@0.25"} <= set(report["boundary"])
  assert "| rel | rms | log10 |" in result.stdout and "eigen:" in result.stdout
  assert "| rel | rms | log10 |" in (tmp_path / "result.md").read_text()


def test_evaluate_tool_reports_user_mistakes_in_one_line(run_dir, tmp_path):
  result = run_tool("evaluate", f"--model={run_dir}", f"--nyu_mat={tmp_path / 'none.mat'}",
                    f"--nyu_splits={tmp_path / 'none.mat'}")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      f"evaluate: error: {tmp_path / 'none.mat'}: no such file")
  result = run_tool("evaluate", f"--model={tmp_path / 'nothing'}", "--source=synthetic_rooms")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith(
      f"evaluate: error: {tmp_path / 'nothing'}: not found")


def test_export_then_predict_with_the_saved_model(run_dir, tmp_path):
  export_dir = tmp_path / "export"
  result = run_tool("export", f"--model={run_dir}", f"--export_dir={export_dir}",
                    "--tflite=float32", f"--preset_dir={tmp_path / 'preset'}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert (export_dir / "saved_model.pb").is_file()
  # float32 is exact; float16's tolerance is a property of trained weights (tests/serving/test_export.py,
  # the full-size rehearsal), not of this one-step network's random ones.
  check = json.loads((export_dir / "assets.extra" / "tflite_check.json").read_text())
  assert check["float32"]["max_rel"] <= 1e-3 and check["onnx"]["max_rel"] <= 1e-3
  assert (export_dir / "model.onnx").is_file() and (export_dir / "MODEL_CARD.md").is_file()
  # The card names the files beside it that exist, and no others.
  card = (export_dir / "MODEL_CARD.md").read_text()
  assert "`model_float32.tflite` (LiteRT float32)" in card and "`model.onnx` (ONNX" in card
  assert "model_float16.tflite" not in card
  # ... and the preset, which loads as a model with the run's step.
  assert inference.load_network(str(tmp_path / "preset")).step == 1

  photos = tmp_path / "photos"
  photos.mkdir()
  photo = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)
  Image.fromarray(photo).save(photos / "room.png")
  (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
  out = tmp_path / "out"
  result = run_tool("predict", f"--model={export_dir}", str(photos), f"--output_dir={out}",
                    "--bokeh")
  # The readable photo is written; the broken one is named, and the exit code says not all were.
  assert result.returncode == 1, result.stderr[-3000:]
  assert f"skipped {photos / 'broken.jpg'}: not a readable image" in result.stdout
  assert "1 image(s)" in result.stdout and "1 skipped" in result.stdout
  assert result.stderr.strip().splitlines()[-1] == (
      "predict: error: 1 of 2 input(s) failed (each named above); the others were written")
  # The export's provenance says it learned from procedural rooms alone: said once, up front.
  assert result.stderr.strip().splitlines()[0].startswith(
      "predict: warning: this model was trained only on procedural rooms")
  assert len(result.stderr.strip().splitlines()) == 2
  assert not [name for name in os.listdir(out) if ".partial" in name]

  depth = np.load(out / "room_depth.npy")
  assert depth.shape == (45, 70) and depth.dtype == np.float32 and (depth > 0).all()
  in_range = depth < 65.535  # a one-step network predicts anything; the PNG saturates there
  np.testing.assert_allclose(images_lib.load_depth_png16(out / "room_depth_mm.png")[in_range],
                             depth[in_range], atol=0.0005 + 1e-6)
  points, colours = pointcloud.read_ply(out / "room.ply")
  assert points.shape == (45 * 70, 3)
  np.testing.assert_allclose(points[:, 2], depth.reshape(-1), rtol=1e-6)
  np.testing.assert_array_equal(colours, photo.reshape(-1, 3))
  for name in ("room_depth_color.png", "room_bokeh.png"):
    assert (out / name).is_file()


def test_predict_checks_inputs_and_flags_before_any_model_loads(tmp_path):
  """A wrong path, an unreadable photo, an empty folder or an unknown colour map is one line
  before the model is looked at (here there is none: loading it first would say so)."""
  (tmp_path / "empty").mkdir()
  (tmp_path / "notes.jpg").write_text("not a photo")
  no_model = f"--model={tmp_path / 'no_model'}"
  result = run_tool("predict", no_model, str(tmp_path / "missing.jpg"), str(tmp_path / "empty"),
                    str(tmp_path / "notes.jpg"), f"--output_dir={tmp_path / 'out'}")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines() == [
      f"predict: error: no input could be read: {tmp_path / 'missing.jpg'}: no such file or "
      f"folder; {tmp_path / 'empty'}: a folder with no image (.jpg, .jpeg, .png, .bmp, .tif, "
      f".tiff, .webp, .heic, .heif); {tmp_path / 'notes.jpg'}: not a readable image "
      f"(UnidentifiedImageError); expected JPEG, PNG, BMP, TIFF, WebP or HEIC"]
  result = run_tool("predict", no_model, "--colormap=virdis", str(tmp_path / "notes.jpg"))
  assert result.returncode == 1 and result.stderr.strip().splitlines()[-1].startswith(
      "predict: error: --colormap: 'virdis' is not a matplotlib colour map; did you mean viridis")
  assert not os.path.exists(tmp_path / "out")


def test_exported_and_checkpoint_networks_give_the_same_evaluation(run_dir, tmp_path):
  config.parse_gin_for_model(run_dir)  # the run's test set
  from_checkpoint = inference.load_network(run_dir)
  export_dir = str(tmp_path / "export")
  from attn_depth.serving import export  # pylint: disable=import-outside-toplevel
  export.export_saved_model(from_checkpoint.model, export_dir, from_checkpoint.spec,
                            from_checkpoint.step)
  from_saved_model = inference.load_network(export_dir)
  frames = next(iter(data.load_source("synthetic_rooms", "test").batch(2)))
  for protocol in protocols.PROTOCOLS:
    gt_a, pred_a = protocols.apply(protocol, from_checkpoint, frames["image"], frames["depth"])
    gt_b, pred_b = protocols.apply(protocol, from_saved_model, frames["image"], frames["depth"])
    np.testing.assert_array_equal(gt_a, gt_b)
    np.testing.assert_allclose(pred_a, pred_b, rtol=1e-5, atol=1e-6)
  assert tf.io.gfile.exists(os.path.join(export_dir, inference.PROVENANCE_FILE))


def test_depth_estimator_api_from_a_run_and_a_saved_model(run_dir, tmp_path):
  """Three lines for a practitioner: load, predict, metres as keras-hub's DepthEstimator."""
  import attn_depth  # pylint: disable=import-outside-toplevel
  estimator = attn_depth.DepthEstimator.from_path(run_dir)
  images = np.random.default_rng(0).integers(0, 256, (3, 45, 70, 3), dtype=np.uint8)
  depths = estimator.predict(images, batch_size=2)["depths"]
  assert depths.shape == (3, 45, 70, 1) and depths.dtype == np.float32 and (depths > 0).all()
  np.testing.assert_allclose(depths[..., 0], estimator.network.depth_at_image_size(images),
                             rtol=1e-6)
  one = estimator.predict(images[0])["depths"]
  assert one.shape == (1, 45, 70, 1)
  mixed = estimator.predict([images[0], images[1, :30, :40]])["depths"]
  assert [d.shape for d in mixed] == [(45, 70, 1), (30, 40, 1)]
  with pytest.raises(ValueError, match="expected RGB images"):
    estimator.predict(np.zeros((45, 70), np.uint8))

  export_dir = str(tmp_path / "export")
  from attn_depth.serving import export  # pylint: disable=import-outside-toplevel
  export.export_saved_model(estimator.network.model, export_dir, estimator.spec)
  again = attn_depth.DepthEstimator.from_path(run_dir)  # loading twice in a process works
  served = attn_depth.DepthEstimator.from_path(export_dir).predict(images)["depths"]
  np.testing.assert_allclose(served, again.predict(images)["depths"], rtol=1e-4, atol=1e-5)
  gin.clear_config()


def test_the_readme_python_example_runs(run_dir):
  import re  # pylint: disable=import-outside-toplevel
  from tests.conftest import REPO_ROOT  # pylint: disable=import-outside-toplevel
  with open(os.path.join(REPO_ROOT, "docs", "applications.md"), encoding="utf-8") as f:
    blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
  example = next(b for b in blocks if "DepthEstimator.from_path" in b)
  namespace = {}
  exec(example.replace('"runs/quickstart"', repr(run_dir)), namespace)  # pylint: disable=exec-used
  assert namespace["depths"].shape == (2, 480, 640, 1)
  gin.clear_config()


def test_training_and_the_evaluate_tool_report_the_same_numbers(run_dir, tmp_path):
  """One Evaluator behind both: the run's final evaluation (written by training) and
  tools/evaluate.py --protocol=paper on the same run and test set agree, detail metrics too."""
  with open(os.path.join(run_dir, "eval", "synthetic_rooms_paper.json"), encoding="utf-8") as f:
    trained = json.load(f)
  output = str(tmp_path / "evaluated.json")
  result = run_tool("evaluate", f"--model={run_dir}", "--source=synthetic_rooms",
                    "--protocol=paper", f"--output={output}")
  assert result.returncode == 0, result.stderr[-2000:]
  with open(output, encoding="utf-8") as f:
    evaluated = json.load(f)
  assert set(trained) - {"baseline"} == set(evaluated)  # one schema
  assert trained["images"] == evaluated["images"] == 4 and trained["step"] == evaluated["step"]
  for group in ("metrics", "boundary"):
    for name, value in trained[group].items():
      assert evaluated[group][name] == pytest.approx(value, rel=1e-5, abs=1e-6, nan_ok=True), name


def test_evaluate_tool_scores_a_folder_of_predictions_under_every_protocol(tiny_run, tmp_path):
  """Someone's predictions (here: the exact depth, as .npy and as 16-bit PNG) scored by the
  tool under the three published protocols; a folder that misses a frame is one line."""
  from tests.training import tiny  # pylint: disable=import-outside-toplevel
  bindings = [f"--gin_bindings={b}" for b in tiny.tiny_rooms(tiny_run.data_dir)]
  config.parse_gin([], [b.split("=", 1)[1] for b in bindings])
  frames = list(data.load_source("synthetic_rooms", "test").as_numpy_iterator())
  folder = tmp_path / "exact"
  folder.mkdir()
  for index, frame in enumerate(frames):
    if index % 2:
      np.save(folder / f"{index:05d}.npy", frame["depth"].astype(np.float32))
    else:
      Image.fromarray(np.round(frame["depth"] * 1000).astype(np.uint16)).save(
          folder / f"{index:05d}.png")
  for protocol in ("paper", "eigen", "densedepth"):
    result = run_tool("evaluate", f"--predictions={folder}", "--source=synthetic_rooms",
                      f"--protocol={protocol}", *bindings)
    assert result.returncode == 0, result.stderr[-2000:]
    with open(folder / "eval" / f"synthetic_rooms_{protocol}_predictions.json",
              encoding="utf-8") as f:
      report = json.load(f)
    assert report["images"] == 4 and report["model"] == str(folder)
    assert report["metrics"]["delta1"] > 0.97 and report["metrics"]["rel"] < 0.02, protocol
    assert "boundary" in report
  os.remove(folder / "00003.npy")
  result = run_tool("evaluate", f"--predictions={folder}", "--source=synthetic_rooms", *bindings)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert f"evaluate: error: {folder}: no prediction for 1 of the 4 test frames: 00003.npy" in (
      result.stderr)
  result = run_tool("evaluate", "--source=synthetic_rooms", *bindings)
  assert "evaluate: error: give one of --model" in result.stderr


def _without_training_data_warning(stderr):
  """The lines of predict's `stderr` but its warning that the tiny run learned from procedural
  rooms alone (tested above)."""
  return [line for line in stderr.strip().splitlines()
          if not line.startswith("predict: warning: this model was trained only on procedural")]


def test_predict_on_a_full_disk_leaves_whole_outputs_only_and_says_so(run_dir, tmp_path):
  """Nine photos onto a 5 MB file system (room for two photos' outputs): the run stops in one
  line naming the file it could not write, the free space and how many photos were done, exit
  1; every photo it kept has all four files, complete; nothing partial is left. With space
  back, the same command writes the rest (the finished ones are kept, new ones named _2)."""
  photos = tmp_path / "photos"
  photos.mkdir()
  rng = np.random.default_rng(0)
  for index in range(9):
    Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(
        photos / f"p{index}.png")
  with small_disk(tmp_path / "disk", 5) as disk:
    out = disk / "out"
    result = run_tool("predict", f"--model={run_dir}", str(photos), f"--output_dir={out}")
    assert result.returncode == 1, result.stderr[-3000:]
    lines = _without_training_data_warning(result.stderr)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(f"predict: error: {out}/p") and ": no space left on the device (" in line
    assert "free there)" in line and "image(s) were written before it" in line
    names = sorted(os.listdir(out))
    assert not [name for name in names if ".partial" in name or name.startswith(".")], names
    kept = sorted({name.split("_")[0].split(".")[0] for name in names})
    assert 1 <= len(kept) < 9 and f"({len(kept)} of 9 image(s)" in line
    for stem in kept:
      assert np.load(out / f"{stem}_depth.npy").shape == (240, 320)
      assert pointcloud.read_ply(out / f"{stem}.ply")[0].shape == (240 * 320, 3)
      for suffix in ("_depth_mm.png", "_depth_color.png"):
        with Image.open(out / f"{stem}{suffix}") as image:
          image.load()
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)  # space is back
    subprocess_ok = run_tool("predict", f"--model={run_dir}", str(photos), f"--output_dir={out}",
                             "--outputs=npy")
    assert subprocess_ok.returncode == 0, subprocess_ok.stderr[-3000:]
    assert all((out / f"p{index}_depth.npy").is_file() or (out / f"p{index}_2_depth.npy").is_file()
               for index in range(9))


def test_a_100_megapixel_photo_is_predicted_within_3_gb(run_dir, tmp_path):
  """The README's bound, on the tool as users run it: a 10000x10000 JPEG with every default
  output (npy, 16-bit PNG, colour PNG, a 100-million-point PLY) in at most 3 GB of memory
  (measured 2.4 GB; it was 12.5 GB for 108 megapixels before the outputs were written in bands)."""
  from attn_depth.benchmarks import suite as benchmarks  # pylint: disable=import-outside-toplevel
  photo = tmp_path / "big.jpg"
  gradient = np.linspace(0, 255, 10_000, dtype=np.float32).astype(np.uint8)
  Image.fromarray(np.stack(np.broadcast_arrays(gradient[:, None], gradient[None, :],
                                               np.uint8(128)), axis=-1)).save(photo, quality=80)
  out = tmp_path / "out"
  result = benchmarks.run_measured([sys.executable, "tools/predict.py", f"--model={run_dir}",
                                    str(photo), f"--output_dir={out}"], timeout=900, cwd=REPO_ROOT)
  assert result["returncode"] == 0, result["stderr"][-3000:]
  assert _without_training_data_warning(result["stderr"]) == []  # no DecompressionBombWarning
  assert result["peak_rss_gb"] <= 3.0, result["peak_rss_gb"]
  depth = np.load(out / "big_depth.npy", mmap_mode="r")
  assert depth.shape == (10_000, 10_000)
  with open(out / "big.ply", "rb") as f:
    header = f.read(400).split(b"end_header\n")[0].decode()
  assert "element vertex 100000000" in header
  assert os.path.getsize(out / "big.ply") == len(header) + len("end_header\n") + 15 * 10**8
