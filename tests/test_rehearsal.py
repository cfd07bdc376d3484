"""The full-size rehearsal: the README's own commands, as a researcher runs them, on NYU Depth V2
written in each real distribution format at 480x640 (procedural rooms as content).

- FastDepth's nyudepthv2.tar.gz prepared by tfds' own nyu_depth_v2 builder through
  tools/prepare_nyu.py (only the download replaced by the local copy), and its extracted folder;
- the labeled .mat (MATLAB v7.3) + splits.mat; DenseDepth's nyu_data.zip;
- keras.applications-format notop ResNet-50/101 .h5 files with random values, passed by path
  (keras checks the hash of files in its cache, so random ones can only be passed by path).

Every shipped gin/nyu config trains, unmodified, at 240x320 (bound: data paths, subset size,
step counts); one run is killed with kill -9 mid-run and resumed; evaluation runs with every
source, every protocol and --flip; export writes a SavedModel and TFLite; predict writes every
output, bokeh and PLY included. Each command runs from a folder other than the repository, must
exit 0, print no TensorFlow start-up noise and write what the README promises.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from attn_depth import benchmarks
from attn_depth.evaluation import reports
from tests.conftest import REPO_ROOT
from tests.models import weights_files
from tests.rehearsal import nyu_formats

pytestmark = pytest.mark.slow  # end-to-end: deselect with -m 'not slow'

TRAIN_SCENES = {"bedroom_0001": 6, "kitchen_0002": 6}  # 12 training frames
VAL_FRAMES = 4
SUBSET = 12
STEPS = {"baseline_r50": 4, "dfe_r101": 1, "dfe_afb_r101": 1, "full_r101": 2}
NOISE = re.compile(r"^([IWE]\d{4} \d\d:\d\d|WARNING: All log messages before absl|Traceback)"
                   r"|Downloading and preparing|cuInit|To enable the following instructions|it/s\]"
                   r"|examples/s\]", re.M)
# Peak memory per command, printed at the end of the module (pytest -s shows it).
MEASURED = {}


def readme_commands():
  """`python tools/...` lines of the README's "Reproduce Table 1" section, split like a shell."""
  with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
    text = f.read()
  section = text.split("## Reproduce Table 1", 1)[1].split("\n## ", 1)[0]
  commands = []
  for block in re.findall(r"```bash\n(.*?)```", section, re.S):
    for line in block.replace("\\\n", " ").splitlines():
      if line.startswith("python tools/"):
        commands.append(shlex.split(line)[1:])
  return commands


def _command(tool, *args):
  for command in readme_commands():
    if command[0] == f"tools/{tool}.py" and all(a in command for a in args):
      return command
  raise AssertionError(f"README's Reproduce Table 1 has no tools/{tool}.py command with {args}")


class World:
  """The rehearsal's /data: every file the README names, in its real format."""

  def __init__(self, root):
    self.root = root
    self.data = os.path.join(root, "data")
    self.work = os.path.join(root, "elsewhere")  # the user's folder, not the repository
    os.makedirs(self.data)
    os.makedirs(self.work)
    self.archive = os.path.join(self.data, "nyudepthv2.tar.gz")
    nyu_formats.write_fastdepth_archive(self.archive, TRAIN_SCENES, VAL_FRAMES)
    self.extracted = os.path.join(self.data, "extracted")
    nyu_formats.write_fastdepth_archive(self.extracted, {"office_0003": 2}, 1)
    self.tfds_dir = os.path.join(self.data, "tensorflow_datasets")
    self.mat, self.splits = nyu_formats.write_labeled(
        os.path.join(self.data, "nyu_depth_v2_labeled.mat"),
        os.path.join(self.data, "splits.mat"), train_frames=3, test_frames=3)
    self.densedepth = nyu_formats.write_densedepth_zip(
        os.path.join(self.data, "nyu_data.zip"), train_frames=4, test_frames=3)
    self.r101 = weights_files.write_notop_weights(
        os.path.join(self.data, "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5"), 101)
    self.r50 = weights_files.write_notop_weights(
        os.path.join(self.data, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"), 50)
    self.keras_home = os.path.join(root, "keras")  # empty: nothing can come from a cache
    self.photos = os.path.join(root, "photos")
    os.makedirs(self.photos)
    nyu_formats.write_photo(os.path.join(self.photos, "room.jpg"), 0)
    nyu_formats.write_photo(os.path.join(self.photos, "large.jpg"), 1, size=(2400, 1800))
    with open(os.path.join(self.photos, "broken.jpg"), "wb") as f:
      f.write(b"\xff\xd8\xff not a photo")

  def localise(self, args):
    """README paths -> this world's: /data/... -> data folder, runs/... -> the user's folder."""
    out = []
    for arg in args:
      arg = arg.replace("/data/", self.data + "/")
      arg = re.sub(r"(=|^)runs/", lambda m: m.group(1) + self.work + "/runs/", arg)
      out.append(arg)
    return out

  def run(self, tool_args, label, extra=(), timeout=900, expect=0):
    """Runs `python tools/...` from the user's folder; checks the exit code and the console."""
    command = [sys.executable, os.path.join(REPO_ROOT, tool_args[0]), *tool_args[1:], *extra]
    env = {**os.environ, "KERAS_HOME": self.keras_home}
    result = benchmarks.run_measured(command, timeout=timeout, cwd=self.work, env=env)
    MEASURED[label] = (result["peak_rss_gb"], result["seconds"])
    output = result["stdout"] + result["stderr"]
    assert result["returncode"] == expect, f"{label}: exit {result['returncode']}\n{output[-4000:]}"
    noise = NOISE.search(output)
    assert noise is None, f"{label}: noise on the console: {noise.group(0)!r}\n{output[-3000:]}"
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  yield World(str(tmp_path_factory.mktemp("rehearsal")))
  if MEASURED:
    print("\nrehearsal: peak memory / wall time per command")
    for label, (peak, seconds) in MEASURED.items():
      print(f"  {label:<40} {peak:6.2f} GB {seconds:7.1f} s")


def _bind(*bindings):
  return [f"--gin_bindings={b}" for b in bindings]


def test_prepare_nyu_from_the_archive_and_from_the_extracted_folder(world):
  result = world.run(world.localise(_command("prepare_nyu")), "prepare_nyu archive")
  assert "preparing nyu_depth_v2 from" in result["stdout"]
  assert "train 12 frames, validation 4 frames" in result["stdout"]
  builder = tfds.builder("nyu_depth_v2", data_dir=world.tfds_dir)
  assert builder.is_prepared() and builder.info.splits["train"].num_examples == 12
  # The extracted folder, named differently from the archive's top folder, read in place.
  folder_dir = os.path.join(world.root, "tfds_from_folder")
  result = world.run(["tools/prepare_nyu.py", f"--archive={world.extracted}/nyudepthv2",
                      f"--data_dir={folder_dir}"], "prepare_nyu folder")
  assert "train 2 frames, validation 1 frames" in result["stdout"]
  again = world.run(["tools/prepare_nyu.py", f"--archive={world.extracted}",
                     f"--data_dir={folder_dir}"], "prepare_nyu again")
  assert "preparing" not in again["stdout"]  # prepared once


@pytest.mark.parametrize("row", list(STEPS))
def test_every_table1_config_trains_at_full_size(world, row):
  args = world.localise(_command("train", f"--gin_file=gin/nyu/{row}.gin"))
  bindings = [f"nyu_tfds_source.num_train_examples = {SUBSET}", f"train.total_steps = {STEPS[row]}"]
  weights = world.r50 if row == "baseline_r50" else world.r101
  bindings.append(f"build_model.backbone_weights = '{weights}'")
  if row == "baseline_r50":  # killed mid-run below: a checkpoint to resume from
    bindings.append("train.checkpoint_every = 1")
  run_dir = os.path.join(world.work, "runs", row)
  if row == "baseline_r50":
    _kill_mid_run(world, args + _bind(*bindings), run_dir)
  result = world.run(args, f"train {row}", _bind(*bindings))
  out = result["stdout"]
  assert f"step {STEPS[row]}/{STEPS[row]}" in out
  assert "training on nyu_tfds" in out and "of 4 steps);" in out  # 12 frames / batch 3
  if row == "baseline_r50":
    assert re.search(r"resumed from \S+ckpt-[23] at step [23]", out), out
  for name in ("operative_config.gin", "checkpoint", f"ckpt-{STEPS[row]}.index",
               "model_spec.json", "eval/nyu_tfds_paper.json", "eval/preview.png"):
    assert os.path.exists(os.path.join(run_dir, name)), f"{row}: no {name}"
  with open(os.path.join(run_dir, "eval", "nyu_tfds_paper.json"), encoding="utf-8") as f:
    report = json.load(f)
  assert report["images"] == VAL_FRAMES and np.isfinite(report["metrics"]["rel"])
  assert report["config"]["variant"] == row.split("_r")[0]


def _kill_mid_run(world, args, run_dir):
  """Starts the run, kill -9 as soon as its step-3 checkpoint files appear (possibly before
  the checkpoint is recorded, or while it is written): resume must go on from step 2 or 3."""
  command = [sys.executable, os.path.join(REPO_ROOT, args[0]), *args[1:]]
  process = subprocess.Popen(command, cwd=world.work, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             env={**os.environ, "KERAS_HOME": world.keras_home})
  deadline = time.time() + 600
  while not os.path.exists(os.path.join(run_dir, "ckpt-3.index")):
    assert process.poll() is None, "the run ended before its first checkpoint"
    assert time.time() < deadline, "no checkpoint after 10 minutes"
    time.sleep(0.5)
  process.send_signal(signal.SIGKILL)
  process.wait()


EVALUATIONS = [  # (source, flags) for every source, every protocol and flip
    ("nyu_labeled", ["--protocol=paper"]), ("nyu_labeled", ["--protocol=eigen", "--flip"]),
    ("nyu_tfds", ["--protocol=paper", "--flip"]), ("nyu_tfds", ["--protocol=eigen"]),
    ("densedepth", ["--protocol=paper"]), ("densedepth", ["--protocol=densedepth"]),
    ("nyu_labeled", ["--protocol=densedepth"]),
    ("synthetic_rooms", ["--protocol=paper", "--max_images=2"]),
    ("synthetic_rooms", ["--protocol=eigen", "--max_images=2"]),
]


def test_readme_evaluation_of_the_full_model(world):
  args = world.localise(_command("evaluate", "--model=runs/full_r101"))
  result = world.run(args, "evaluate full_r101 nyu_labeled")
  assert "| paper, Table 1 (full) | 0.127 | 0.555 |" in result["stdout"]
  report_path = os.path.join(world.work, "runs", "full_r101", "eval", "nyu_labeled_paper.json")
  with open(report_path, encoding="utf-8") as f:
    report = json.load(f)
  assert report["images"] == 3 and report["config"]["variant"] == "full"
  assert os.path.exists(report_path[:-5] + ".md")


@pytest.mark.parametrize("source,flags", EVALUATIONS)
def test_evaluate_every_source_and_protocol(world, source, flags):
  run_dir = os.path.join(world.work, "runs", "baseline_r50")
  paths = {"nyu_labeled": [f"--nyu_mat={world.mat}", f"--nyu_splits={world.splits}"],
           "nyu_tfds": [f"--tfds_data_dir={world.tfds_dir}"],
           "densedepth": [f"--densedepth={world.densedepth}"],
           "synthetic_rooms": _bind(f"synthetic_rooms_source.data_dir = "
                                    f"'{os.path.join(world.root, 'rooms')}'")}[source]
  world.run(["tools/evaluate.py", f"--model={run_dir}", f"--source={source}", *flags, *paths],
            f"evaluate {source} {' '.join(flags)}")
  protocol = flags[0].split("=")[1]
  max_images = 2 if "--max_images=2" in flags else None
  name = reports.result_name(source, protocol, "--flip" in flags, max_images=max_images) + ".json"
  with open(os.path.join(run_dir, "eval", name), encoding="utf-8") as f:
    report = json.load(f)
  expected = {"nyu_labeled": 3, "nyu_tfds": VAL_FRAMES, "densedepth": 3, "synthetic_rooms": 2}
  assert report["images"] == expected[source]
  assert all(np.isfinite(v) for v in report["metrics"].values())


def test_export_savedmodel_and_tflite(world):
  args = world.localise(_command("export"))
  args = [a.replace("runs/full_r101", "runs/baseline_r50") for a in args]  # R50: faster TFLite
  world.run(args, "export baseline_r50")
  export_dir = os.path.join(world.work, "runs", "baseline_r50", "export")
  for name in ("saved_model.pb", "model_float32.tflite", "assets.extra/tflite_check.json"):
    assert os.path.exists(os.path.join(export_dir, name)), name
  with open(os.path.join(export_dir, "assets.extra", "tflite_check.json"), encoding="utf-8") as f:
    check = json.load(f)
  assert check["float32"]["max_rel"] <= 1e-3 and check["onnx"]["max_rel"] <= 1e-3
  for name in ("model.onnx", "MODEL_CARD.md", "../preset/model.keras", "../preset/README.md"):
    assert os.path.exists(os.path.join(export_dir, name)), name
  # float16 weights hold trained networks; this one has 4 steps on random weights, so its
  # float16 file may have been removed, which the check then says.
  assert os.path.exists(os.path.join(export_dir, "model_float16.tflite")) or (
      check["float16"]["kept"] is False)


def test_predict_every_output_bokeh_and_ply(world):
  export_dir = os.path.join(world.work, "runs", "baseline_r50", "export")
  out = os.path.join(world.work, "predictions")
  result = world.run(["tools/predict.py", f"--model={export_dir}", world.photos,
                      f"--output_dir={out}", "--bokeh"], "predict (SavedModel)")
  assert "skipped" in result["stdout"] and "broken.jpg" in result["stdout"]
  for stem, size in (("room", (480, 640)), ("large", (1800, 2400))):
    depth = np.load(os.path.join(out, f"{stem}_depth.npy"))
    assert depth.shape == size and np.isfinite(depth).all() and (depth > 0).all()
    for suffix in ("_depth_mm.png", "_depth_color.png", ".ply", "_bokeh.png"):
      assert os.path.getsize(os.path.join(out, stem + suffix)) > 0
  # A training run folder works as --model too.
  world.run(["tools/predict.py", f"--model={os.path.join(world.work, 'runs', 'full_r101')}",
             os.path.join(world.photos, "room.jpg"), f"--output_dir={out}_full",
             "--outputs=npy,ply"], "predict (full_r101 run)")
  assert os.path.exists(os.path.join(f"{out}_full", "room.ply"))
