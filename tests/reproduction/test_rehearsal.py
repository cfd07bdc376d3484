"""The full-size rehearsal: the README's own commands, as a researcher runs them, on files in
each of NYU Depth V2's real distribution formats at 480x640 -- procedural rooms as content, not
NYU -- and ImageNet-format weights files holding random values, not ImageNet's:

- FastDepth's nyudepthv2.tar.gz prepared by tfds' own nyu_depth_v2 builder through
  tools/prepare_nyu.py (only the download replaced by the local copy), and its extracted folder;
- the labeled .mat (MATLAB v7.3) + splits.mat; DenseDepth's nyu_data.zip;
- keras.applications-format notop ResNet-50/101 .h5 files with random values, passed by path
  (keras checks the hash of files in its cache, so random ones can only be passed by path).

The README's one command, tools/reproduce.py, runs one row end to end (baseline_r50, its shipped
config unmodified at 240x320; bound: data paths, subset size, step counts): trained, killed with
kill -9 mid-training and completed by a second call, evaluated under every protocol, exported in
every format (SavedModel, LiteRT, ONNX, preset); a third call changes nothing and other settings
are refused. The other kind of network (full_r101, the dilated ResNet-101) runs by the README's
tools/train.py with its shipped config: weights by path, one step, its final evaluation and
export. What the pipeline ran is the README's row-by-row commands. Evaluation reads the other
sources, predict writes every output (bokeh and PLY included), the GPU notebook runs in a real
kernel. Each command runs from a folder other than the repository, must exit 0, print no
TensorFlow start-up noise and write what the README promises.
"""

import json
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
import tensorflow as tf
import tensorflow_datasets as tfds

from attn_depth.benchmarks import suite as benchmarks
from attn_depth.serving import export
from attn_depth.evaluation import reports
from attn_depth.reproduction import pipeline
from tests.conftest import REPO_ROOT
from tests.models import weights_files
from tests.rehearsal import nyu_formats

# End-to-end; the module's fixtures (minutes) count towards the first test that uses them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

TRAIN_SCENES = {"bedroom_0001": 6, "kitchen_0002": 6}  # 12 training frames
VAL_FRAMES = 2
SUBSET = 12
STEPS = 2  # per row: killed after its first checkpoint, resumed, finished
NOISE = re.compile(r"^([IWE]\d{4} \d\d:\d\d|WARNING: All log messages before absl|Traceback)"
                   r"|Downloading and preparing|cuInit|To enable the following instructions|it/s\]"
                   r"|examples/s\]", re.M)
# Peak memory per command, printed at the end of the module (pytest -s shows it).
MEASURED = {}


def readme_commands():
  """`attn-depth ...` lines of docs/reproducing.md's "Reproduce Table 1" and "Table 1 in
  miniature" sections (the README's, before it became a front door), split like a shell."""
  with open(os.path.join(REPO_ROOT, "docs", "reproducing.md"), encoding="utf-8") as f:
    text = f.read()
  section = text.split("## Reproduce Table 1", 1)[1].split("\n## The first GPU day", 1)[0]
  commands = []
  for block in re.findall(r"```bash\n(.*?)```", section, re.S):
    for line in block.replace("\\\n", " ").splitlines():
      if line.startswith("attn-depth "):
        commands.append(shlex.split(line))
  return commands


def _command(tool, *args):
  for command in readme_commands():
    if command[1] == tool.replace("_", "-") and all(a in command for a in args):
      return command
  raise AssertionError(f"README's Reproduce Table 1 has no `attn-depth {tool}` with {args}")


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
        os.path.join(self.data, "splits.mat"), train_frames=1, test_frames=2)
    self.densedepth = nyu_formats.write_densedepth_zip(
        os.path.join(self.data, "nyu_data.zip"), train_frames=2, test_frames=2)
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
      arg = re.sub(r"(=|^)/data(/|$)", lambda m: m.group(1) + self.data + m.group(2), arg)
      arg = arg.replace("'/data/", "'" + self.data + "/")  # inside gin bindings
      arg = re.sub(r"(=|^|,)runs(/|$)", lambda m: m.group(1) + self.work + "/runs" + m.group(2),
                   arg)
      out.append(arg)
    return out

  def run(self, tool_args, label, extra=(), timeout=900, expect=0):
    """Runs `attn-depth ...` (as `python -m attn_depth_cli`) or `python tools/...` from the
    user's folder; checks the exit code and the console."""
    command = ([sys.executable, "-m", "attn_depth_cli"] if tool_args[0] == "attn-depth" else
               [sys.executable, os.path.join(REPO_ROOT, tool_args[0])])
    command += [*tool_args[1:], *extra]
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


@pytest.fixture(scope="module")
def prepared(world):
  """The README's tools/prepare_nyu.py on the archive, once, before anything reads the records
  (whatever order the tests run in)."""
  return world.run(world.localise(_command("prepare_nyu")), "prepare_nyu archive")


def test_prepare_nyu_from_the_archive_and_from_the_extracted_folder(world, prepared):
  result = prepared
  assert "preparing nyu_depth_v2 from" in result["stdout"]
  assert f"train 12 frames, validation {VAL_FRAMES} frames" in result["stdout"]
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


# One row end to end: the strided ResNet-50 baseline (the fastest to train, evaluate and convert)
# with every export at full size (SavedModel, LiteRT, ONNX, preset: the README's tools/export.py
# exactly); no figures (tests/tools draws them, the miniature's end-to-end test runs the figures
# stage). The other kind of network, the dilated ResNet-101 full model, runs by its own
# unmodified config through tools/train.py below (`full_row`): weights by path, its final
# evaluation and export. dfe_r101 and dfe_afb_r101 are the same commands with their own shipped
# config (tests/training trains every shipped config; the miniature runs all four rows through
# this pipeline).
EXTRA_FLAGS = ["--nofigures", "--rows=baseline_r50"]
REPRODUCE_BINDINGS = [f"nyu_tfds_source.num_train_examples = {SUBSET}",
                      f"train.total_steps = {STEPS}", "train.checkpoint_every = 1"]
ROWS = ("baseline_r50",)
ALL_ROWS = ("baseline_r50", "dfe_r101", "dfe_afb_r101", "full_r101")
# Per row: training, four evaluations (paper, paper + flip, eigen, densedepth), export.
STAGES_PER_ROW = 6
TEST_FRAMES = 2  # of the labeled .mat


@pytest.fixture(scope="module")
def reproduction(world, prepared):
  """The README's one command for Table 1, killed with kill -9 mid-training (its training
  then gets SIGTERM, saves and stops) and completed by a second call."""
  del prepared  # the records it reads
  args = world.localise(_command("reproduce")) + _bind(*REPRODUCE_BINDINGS) + EXTRA_FLAGS
  output_dir = os.path.join(world.work, "runs")
  command = [sys.executable, "-m", "attn_depth_cli", *args[1:]]  # attn-depth reproduce ...
  env = {**os.environ, "KERAS_HOME": world.keras_home}
  process = subprocess.Popen(command, cwd=world.work, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
  first = os.path.join(output_dir, "baseline_r50", "ckpt-1.index")
  deadline = time.time() + 600
  while not os.path.exists(first):
    assert process.poll() is None, "the reproduction ended before its first checkpoint"
    assert time.time() < deadline, "no checkpoint after 10 minutes"
    time.sleep(0.5)
  process.send_signal(signal.SIGKILL)
  process.wait()
  result = world.run(args, "reproduce (resumed)", timeout=3000)
  return {"args": args, "output_dir": output_dir, "resumed": result}


def _results(output_dir):
  with open(os.path.join(output_dir, "results.json"), encoding="utf-8") as f:
    return json.load(f)


def test_reproduce_table1_in_one_command_resumed_after_kill_9(world, reproduction):
  output_dir, out = reproduction["output_dir"], reproduction["resumed"]["stdout"]
  with open(os.path.join(output_dir, "baseline_r50", "logs", "train.log"),
            encoding="utf-8") as f:
    log = f.read()
  assert log.count("# ") >= 2 and re.search(r"resumed from \S+ckpt-[12] at step [12]", log), log
  assert "training on nyu_tfds" in log and "of 4 steps);" in log  # 12 frames / batch 3
  results = _results(output_dir)
  assert list(results["rows"]) == list(ROWS)
  assert "labeled set" in results["test_data"]
  for row in ROWS:
    entry = results["rows"][row]
    assert entry["step"] == STEPS and entry["images"] == TEST_FRAMES
    assert entry["paper"] == reports.PAPER_TABLE1[row.rsplit("_r", 1)[0]]
    assert set(entry["ours"]) == {"paper", "paper_flip", "eigen", "densedepth"}
    assert all(np.isfinite(entry["ours"]["paper"][m]) for m in ("rel", "rms", "log10"))
    assert all(entry["stages"][stage] == "done" for stage in entry["stages"])
    assert len(entry["stages"]) == STAGES_PER_ROW
    for link in ("log", "weights", "operative_config", "model_spec", "savedmodel", "model_card"):
      path = os.path.join(output_dir, entry["links"][link])
      assert os.path.exists(path + (".index" if link == "weights" else "")), (row, link)
    training = entry["training"]  # (killed after its first step: no step speed to time)
    assert training["seconds"] > 0 and training["peak_host_memory_gb"] > 0.5
  environment = results["environment"]
  assert environment["tensorflow"] and environment["device"].startswith("CPU")
  assert environment["gin_bindings"] == REPRODUCE_BINDINGS
  with open(os.path.join(output_dir, "results.md"), encoding="utf-8") as f:
    markdown = f.read()
  for row in ROWS:
    assert f"| {row} | paper | " in markdown
  assert markdown.count("| | ours | ") == len(ROWS)
  assert markdown.count("| | ours, flip | ") == len(ROWS)
  assert "wrote " in out and "results.md" in out


def test_reproduce_runs_the_readme_commands(world, reproduction):
  """What the pipeline ran is what the README tells a researcher to run by hand."""
  output_dir = reproduction["output_dir"]
  extra = [f"--gin_bindings={b}" for b in REPRODUCE_BINDINGS]
  for row in ROWS:
    with open(os.path.join(output_dir, row, "stages.json"), encoding="utf-8") as f:
      stages = json.load(f)
    assert stages["train"]["command"] == world.localise(
        _command("train", f"--gin_file=gin/nyu/{row}.gin")) + extra
  # The README writes the commands for full_r101; the row run here is baseline_r50.
  readme = lambda *args: [a.replace("full_r101", "baseline_r50")  # noqa: E731
                          for a in world.localise(_command(*args))]
  with open(os.path.join(output_dir, "baseline_r50", "stages.json"), encoding="utf-8") as f:
    stages = json.load(f)
  for protocol in ("paper", "eigen", "densedepth"):
    assert stages[f"evaluate nyu_labeled {protocol}"]["command"] == readme(
        "evaluate", "--model=runs/full_r101", f"--protocol={protocol}")
  assert stages["export"]["command"] == readme("export")  # every export: the README's command
  # The figures stage (not run here: --nofigures) over the four rows and this test set.
  figures = pipeline._figures_stage(  # pylint: disable=protected-access
      output_dir, {row: STEPS for row in ALL_ROWS},
      pipeline.TestData("nyu_labeled", [f"--nyu_mat={world.mat}", f"--nyu_splits={world.splits}"],
                        ""))
  assert figures.command == world.localise(_command("figures"))
  with open(os.path.join(output_dir, "baseline_r50", "logs",
                         "evaluate_nyu_labeled_paper.log"), encoding="utf-8") as f:
    assert "| paper, Table 1 (baseline) | 0.153 | 0.663 |" in f.read()


def test_reproduce_again_changes_nothing(world, reproduction):
  output_dir = reproduction["output_dir"]

  def snapshot():
    found = {}
    for root, _, files in os.walk(output_dir):
      for name in files:
        path = os.path.join(root, name)
        found[path] = (os.path.getsize(path), os.stat(path).st_mtime_ns)
    return found

  before = snapshot()
  result = world.run(reproduction["args"], "reproduce (finished)")
  assert snapshot() == before
  assert result["stdout"].count("done earlier") == STAGES_PER_ROW * len(ROWS)
  # Other training settings on the same folder: refused in one line, nothing touched.
  refused = world.run(reproduction["args"] + _bind("train.total_steps = 3"),
                      "reproduce (other settings)", expect=1)
  assert "reproduce: error:" in refused["stderr"] and "other settings" in refused["stderr"]
  assert snapshot() == before


EVALUATIONS = [  # (source, flags): the other sources in their formats, one process each
    ("nyu_tfds", ["--protocol=eigen", "--flip"]), ("densedepth", ["--protocol=densedepth"]),
]


@pytest.mark.parametrize("source,flags", EVALUATIONS)
def test_evaluate_every_source_and_protocol(world, reproduction, source, flags):
  """Every protocol ran on the labeled .mat in the reproduction; here the tfds records and
  DenseDepth's zip."""
  run_dir = os.path.join(reproduction["output_dir"], "baseline_r50")
  paths = {"nyu_tfds": [f"--tfds_data_dir={world.tfds_dir}"],
           "densedepth": [f"--densedepth={world.densedepth}"]}[source]
  world.run(["tools/evaluate.py", f"--model={run_dir}", f"--source={source}", *flags, *paths],
            f"evaluate {source} {' '.join(flags)}")
  protocol = flags[0].split("=")[1]
  name = reports.result_name(source, protocol, "--flip" in flags) + ".json"
  with open(os.path.join(run_dir, "eval", name), encoding="utf-8") as f:
    report = json.load(f)
  expected = {"nyu_tfds": VAL_FRAMES, "densedepth": 2}
  assert report["images"] == expected[source]
  assert all(np.isfinite(v) for v in report["metrics"].values())


def test_export_savedmodel_litert_onnx_and_preset(world, reproduction):
  """The reproduction's export stage is the README's tools/export.py with every format, on a
  full-size row: SavedModel, LiteRT, ONNX and the preset, each checked against the network."""
  run_dir = os.path.join(reproduction["output_dir"], "baseline_r50")
  export_dir, preset_dir = os.path.join(run_dir, "export"), os.path.join(run_dir, "preset")
  for name in ("saved_model.pb", "model_float32.tflite", "assets.extra/tflite_check.json",
               "model.onnx", "MODEL_CARD.md"):
    assert os.path.exists(os.path.join(export_dir, name)), name
  for name in ("model.keras", "README.md"):
    assert os.path.exists(os.path.join(preset_dir, name)), name
  with open(os.path.join(export_dir, "assets.extra", "tflite_check.json"), encoding="utf-8") as f:
    check = json.load(f)
  assert check["float32"]["max_rel"] <= 1e-3 and check["onnx"]["max_rel"] <= 1e-3
  # float16 weights hold trained networks; this one has 2 steps on random weights, so its
  # float16 file may have been removed. Either way the file and the check agree with the
  # tolerance: kept within it, removed with the reason beyond it.
  float16, tolerance = check["float16"], export.TOLERANCE["float16"]["mean_rel"]
  kept = os.path.exists(os.path.join(export_dir, "model_float16.tflite"))
  assert float16.get("kept", True) is kept
  if kept:
    assert float16["mean_rel"] <= tolerance
  else:
    assert float16["mean_rel"] > tolerance and float16["reason"]


@pytest.fixture(scope="module")
def full_row(world, prepared):
  """The other kind of network: the README's tools/train.py for full_r101 (dilated ResNet-101,
  its shipped config unmodified), ImageNet-format weights by path, one step, then its own final
  evaluation on the validation records and training's SavedModel export."""
  del prepared  # the records it reads
  run_dir = os.path.join(world.work, "trained", "full_r101")
  args = [a.replace(f"--model_dir={world.work}/runs/full_r101", f"--model_dir={run_dir}")
          for a in world.localise(_command("train", "--gin_file=gin/nyu/full_r101.gin"))]
  assert f"--model_dir={run_dir}" in args
  result = world.run(args + _bind(f"nyu_tfds_source.num_train_examples = {SUBSET}",
                                  "train.total_steps = 1", "train.export_saved_model = True"),
                     "train full_r101 (1 step)")
  return {"run_dir": run_dir, "result": result}


def test_the_full_model_trains_from_weights_by_path_evaluates_and_exports(world, full_row):
  run_dir, out = full_row["run_dir"], full_row["result"]["stdout"]
  assert "training on nyu_tfds" in out and "step 1/1" in out
  spec = json.loads(open(os.path.join(run_dir, "model_spec.json"), encoding="utf-8").read())
  assert spec["variant"] == "full" and spec["depth"] == 101
  # The weights came from the file passed by path (KERAS_HOME is empty): conv1, frozen by the
  # paper's recipe, still holds the file's values after the step.
  expected = weights_files.read_layer_weights(world.r101)["conv1_conv"][0]
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(run_dir))
  kernels = [name for name, shape in reader.get_variable_to_shape_map().items()
             if shape == list(expected.shape)]
  assert len(kernels) == 1
  np.testing.assert_array_equal(reader.get_tensor(kernels[0]), expected)
  with open(os.path.join(run_dir, "eval", "nyu_tfds_paper.json"), encoding="utf-8") as f:
    report = json.load(f)
  assert report["images"] == VAL_FRAMES and report["step"] == 1
  assert all(np.isfinite(v) for v in report["metrics"].values())
  assert os.path.isfile(os.path.join(run_dir, "export", "saved_model.pb"))


def test_predict_every_output_bokeh_and_ply(world, reproduction, full_row):
  export_dir = os.path.join(world.work, "runs", "baseline_r50", "export")
  out = os.path.join(world.work, "predictions")
  result = world.run(["tools/predict.py", f"--model={export_dir}", world.photos,
                      f"--output_dir={out}", "--bokeh"], "predict (SavedModel)", expect=1)
  assert "skipped" in result["stdout"] and "broken.jpg" in result["stdout"]
  assert "predict: error: 1 of 3 input(s) failed" in result["stderr"]
  for stem, size in (("room", (480, 640)), ("large", (1800, 2400))):
    depth = np.load(os.path.join(out, f"{stem}_depth.npy"))
    assert depth.shape == size and np.isfinite(depth).all() and (depth > 0).all()
    for suffix in ("_depth_mm.png", "_depth_color.png", ".ply", "_bokeh.png"):
      assert os.path.getsize(os.path.join(out, stem + suffix)) > 0
  # A training run folder (the full model's) works as --model too.
  world.run(["tools/predict.py", f"--model={full_row['run_dir']}",
             os.path.join(world.photos, "room.jpg"), f"--output_dir={out}_full",
             "--outputs=npy,ply"], "predict (full_r101 run)")
  assert os.path.exists(os.path.join(f"{out}_full", "room.ply"))


def test_the_gpu_notebook_runs_from_install_to_results(world, reproduction, tmp_path):
  """docs/reproduce_on_a_gpu.ipynb, executed cell by cell in a real kernel with tiny settings
  in place of its settings cell: install (a checkout: nothing to do), device, quickstart, one
  Table-1 row from the NYU files, results.md shown. The row is the rehearsal's own baseline_r50
  with its settings, so tools/reproduce.py runs for real and finds every stage done (the
  stages themselves are rehearsed above)."""
  import nbclient  # pylint: disable=import-outside-toplevel
  import nbformat  # pylint: disable=import-outside-toplevel
  notebook = nbformat.read(os.path.join(REPO_ROOT, "docs", "reproduce_on_a_gpu.ipynb"), 4)
  settings = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
  assert len(settings) == 1
  output = reproduction["output_dir"]
  rooms = str(tmp_path / "rooms")
  settings[0].source = "\n".join([
      "REPO_URL = ''", f"NYU = {world.data!r}", f"NYU_TFDS = {world.tfds_dir!r}",
      "ROW = 'baseline_r50'", f"OUTPUT = {output!r}",
      f"QUICKSTART_DIR = {str(tmp_path / 'quickstart')!r}",
      f"QUICKSTART_BINDINGS = [\"synthetic_rooms_source.data_dir = '{rooms}'\", "
      "'synthetic_rooms_source.num_train_examples = 16', "
      "'synthetic_rooms_source.num_test_examples = 4', 'train.total_steps = 4', "
      "'train.export_saved_model = False']",
      f"ROW_BINDINGS = {REPRODUCE_BINDINGS!r}",
      # The notebook names its one row itself (--rows=ROW).
      f"EXTRA_FLAGS = {[f for f in EXTRA_FLAGS if not f.startswith('--rows=')]!r}"])
  client = nbclient.NotebookClient(notebook, timeout=1500, kernel_name="python3",
                                   resources={"metadata": {"path": os.path.join(REPO_ROOT,
                                                                                "docs")}})
  client.execute(env={**os.environ, "KERAS_HOME": world.keras_home})
  texts = []
  for cell in notebook.cells:
    for out in cell.get("outputs", []):
      assert out.output_type != "error", out
      texts.append(out.get("text", "") + json.dumps(out.get("data", {})))
  shown = "".join(texts)
  assert "repository: " + REPO_ROOT in shown and "GPUs:" in shown
  assert "step 4/4" in shown and os.path.exists(tmp_path / "quickstart" / "ckpt-4.index")
  assert "[1/1 baseline_r50] train: done earlier" in shown  # the row's command ran
  assert "| baseline_r50 | paper |" in shown  # results.md displayed
