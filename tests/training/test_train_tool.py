"""tools/train.py as users run it: every shipped gin file, errors, SIGTERM and kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from attn_depth import config
from attn_depth import models
from attn_depth import training
from attn_depth.data import nyu_tfds
from attn_depth.data import rgbd_files
from tests.conftest import REPO_ROOT
from tests.conftest import fill_disk
from tests.conftest import run_tool
from tests.conftest import small_disk
from tests.data import nyu_files
from tests.training import tiny

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)

SHIPPED = sorted(os.path.relpath(os.path.join(root, name), REPO_ROOT)
                 for root, _, names in os.walk(os.path.join(REPO_ROOT, "gin"))
                 for name in names if name.endswith(".gin"))  # gin/, gin/nyu/, gin/miniature/
WITH_EXPORT = ("gin/quickstart.gin", "gin/own_rgbd.gin")  # end with a SavedModel


@pytest.fixture(scope="module")
def tiny_nyu(tmp_path_factory):
  """A real tfds nyu_depth_v2, prepared by tfds' builder from a tiny extracted archive."""
  root = tmp_path_factory.mktemp("tiny_nyu")
  nyu_files.write_fastdepth_archive(str(root / "extracted"), {
      "train": {"bedroom_0001": [0, 1, 2], "office_0003": [3, 4, 5]}, "val": {"official": [7, 8]}})
  data_dir = str(root / "tfds")
  nyu_tfds.prepare_from_archive(str(root / "extracted"), data_dir, print_fn=lambda line: None)
  return data_dir


@pytest.mark.parametrize("gin_file", SHIPPED)
def test_every_shipped_config_trains_two_steps_shrunk(gin_file, tmp_path, tiny_nyu):
  """The file's own settings (variant, source, schedule...) with a tiny network and input.
  NYU configs read a tiny nyu_depth_v2 prepared by tfds' own builder (tests/reproduction/
  test_rehearsal.py runs the baseline and full rows unshrunk at full size)."""
  shrink = tiny.TINY_MODEL + [
      "train.total_steps = 2", "train.batch_size = 2", "train.checkpoint_every = 1",
      "train.log_every = 1", "train.image_summary_every = 2", "train.eval_every = 1",
      "train.eval_batches = 1", "train.final_eval_batches = 1", "train.steps_per_epoch = 4",
      f"synthetic_rooms_source.data_dir = '{tmp_path / 'data'}'",
      "synthetic_rooms_source.num_train_examples = 6",
      "synthetic_rooms_source.num_test_examples = 2",
      f"nyu_tfds_source.data_dir = '{tiny_nyu}'"]
  if gin_file == "gin/own_rgbd.gin":
    rgbd_files.export_rooms(str(tmp_path / "own"), num_train=4, num_test=2)
    shrink += [f"rgbd_files_source.train = '{tmp_path / 'own' / 'train'}'",
               f"rgbd_files_source.test = '{tmp_path / 'own' / 'test'}'"]
  config.parse_gin([gin_file], shrink, finalize=False)
  result = training.train(str(tmp_path / "run"))
  assert result["step"] == 2
  assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("ckpt-2")
  assert os.path.isfile(tmp_path / "run" / "operative_config.gin")
  # The run describes its network (model_spec.json) and reports as tools/evaluate.py does.
  assert models.ModelSpec.load(str(tmp_path / "run")) == models.ModelSpec.from_gin()
  source = config.query("train.source")
  with open(tmp_path / "run" / "eval" / f"{source}_paper_first2.json", encoding="utf-8") as f:
    report = json.load(f)
  assert report["images"] == 2 and report["protocol"] == "paper" and "boundary" in report
  assert report["baseline"]["name"].startswith("constant")
  # Periodic evaluation (every step here) logs the detail metrics to TensorBoard too.
  tags = {value.tag for path in tf.io.gfile.glob(str(tmp_path / "run" / "eval" / "events.*"))
          for event in tf.compat.v1.train.summary_iterator(path) for value in event.summary.value}
  assert {"metrics/rel", "metrics/delta1", "detail/edge_f1@0.25"} <= tags, tags  # ε: no edges yet
  # The quickstart (and its fine-tuning) ends with a SavedModel for tools/predict.py.
  assert os.path.isfile(tmp_path / "run" / "export" / "saved_model.pb") == (
      gin_file in WITH_EXPORT)
  if gin_file in WITH_EXPORT:  # with its model card: data, recipe, the final evaluation
    with open(tmp_path / "run" / "export" / "MODEL_CARD.md", encoding="utf-8") as f:
      card = f.read()
    assert f"- data: `{source}`" in card and "| rel | rms | log10 |" in card


def test_offline_imagenet_weights_is_one_line(tmp_path):
  env_home = {"KERAS_HOME": str(tmp_path / "keras")}
  data = [f"--gin_bindings={b}" for b in tiny.tiny_rooms(tmp_path / "data")]
  result = _run_train(tmp_path, ["--gin_file=gin/nyu/full_r101.gin", *data], env_home)
  assert result.returncode == 1
  assert "Traceback" not in result.stderr and "In call to configurable" not in result.stderr
  assert "train: error: ImageNet weights for ResNet-101 are not cached" in result.stderr
  assert "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5" in result.stderr


def test_unknown_source_is_one_line(tmp_path):
  result = _run_train(tmp_path, ["--gin_file=gin/quickstart.gin",
                                 "--gin_bindings=train.source = 'nyu_v3'"])
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "train: error: unknown data source 'nyu_v3'" in result.stderr


def test_nyu_not_prepared_is_one_line(tmp_path):
  result = _run_train(tmp_path, ["--gin_file=gin/nyu/dfe_r101.gin",
                                 f"--gin_bindings=nyu_tfds_source.data_dir = '{tmp_path}'"])
  assert result.returncode == 1 and "Traceback" not in result.stderr
  lines = [l for l in result.stderr.splitlines() if l.startswith("train: error:")]
  assert len(lines) == 1 and "nyu_depth_v2 is not prepared there" in lines[0]
  assert "attn-depth prepare-nyu" in lines[0]
  assert not os.path.exists(tmp_path / "run")  # a failed start leaves no empty run folder


def test_help_exits_0_from_any_folder(tmp_path):
  for tool in ("train", "evaluate", "predict", "export", "prepare_nyu", "reproduce"):
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", f"{tool}.py"),
                             "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, (tool, result.stderr[-1000:])
    assert "(required" in result.stdout
    assert result.stderr.strip() == "", (tool, result.stderr[-1000:])  # no TensorFlow noise


def _run_train(tmp_path, args, extra_env=None):
  return subprocess.run(
      [sys.executable, "tools/train.py", f"--model_dir={tmp_path / 'run'}", *args],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(extra_env or {})})


def _start(tmp_path, steps, model_dir=None):
  bindings = (tiny.TINY_MODEL + tiny.tiny_rooms(tmp_path / "data")
              + tiny.tiny_training(total_steps=steps))
  return subprocess.Popen(
      [sys.executable, "-u", "tools/train.py", f"--model_dir={model_dir or tmp_path / 'run'}"]
      + [f"--gin_bindings={b}" for b in bindings],
      cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _wait_for(process, text, timeout=300):
  deadline, seen = time.time() + timeout, []
  while time.time() < deadline:
    line = process.stdout.readline()
    if not line:
      break
    seen.append(line)
    if text in line:
      return "".join(seen)
  process.kill()
  raise AssertionError(f"never saw {text!r}:\n{''.join(seen)[-3000:]}")


def _stop_mid_run(tmp_path, signum, after):
  """Starts a long run, sends `signum` once step `after` is logged; returns (output, the step
  of the latest checkpoint). The run saves, stops and exits 128 + the signal's number (130 for
  Ctrl-C, 143 for SIGTERM), so that a scheduler never takes it for a finished run."""
  process = _start(tmp_path, steps=10_000)
  _wait_for(process, f"step {after}/")
  process.send_signal(signum)
  output = process.communicate(timeout=120)[0]
  assert process.returncode == 128 + signum, output[-2000:]
  assert "Traceback" not in output
  stopped_at = int(tf.train.latest_checkpoint(str(tmp_path / "run")).rsplit("-", 1)[1])
  assert stopped_at >= after
  return output, stopped_at


def test_sigterm_saves_and_kill_9_loses_only_unsaved_steps(tmp_path):
  output, stopped_at = _stop_mid_run(tmp_path, signal.SIGTERM, after=3)
  assert "SIGTERM: saved a checkpoint at step" in output

  process = _start(tmp_path, steps=10_000)
  log = _wait_for(process, f"step {stopped_at + 2}/")
  assert f"resumed from" in log and f"at step {stopped_at}" in log
  process.send_signal(signal.SIGKILL)  # no handler runs
  process.communicate(timeout=60)
  latest = tf.train.latest_checkpoint(str(tmp_path / "run"))
  killed_at = int(latest.rsplit("-", 1)[1])
  assert killed_at >= stopped_at + 1  # checkpoint_every = 1: at most the running step is lost
  tf.train.load_checkpoint(latest)  # readable


def test_ctrl_c_saves_and_stops_with_one_line(tmp_path):
  output, _ = _stop_mid_run(tmp_path, signal.SIGINT, after=2)
  assert "Ctrl-C (SIGINT): saved a checkpoint at step" in output


def test_the_package_warnings_reach_the_console_as_one_line(tmp_path):
  """A truncated latest checkpoint is skipped with one `train: warning:` line naming it (the
  tools once set absl's verbosity, which silenced every warning of the package)."""
  bindings = (tiny.TINY_MODEL + tiny.tiny_rooms(tmp_path / "data")
              + tiny.tiny_training(total_steps=3))
  first = _run_train(tmp_path, [f"--gin_bindings={b}" for b in bindings])
  assert first.returncode == 0, first.stderr[-2000:]
  data_file = str(tmp_path / "run" / "ckpt-3.data-00000-of-00001")
  with open(data_file, "r+b") as f:
    f.truncate(os.path.getsize(data_file) // 2)
  again = _run_train(tmp_path, [f"--gin_bindings={b}" for b in bindings]
                     + ["--gin_bindings=train.total_steps = 4"])
  assert again.returncode == 0, again.stderr[-2000:]
  warnings = [line for line in again.stderr.splitlines() if line.startswith("train: warning: ")]
  assert len(warnings) == 1 and "ckpt-3: unreadable" in warnings[0], again.stderr[-2000:]
  assert "trying the previous checkpoint" in warnings[0]
  assert "resumed from" in again.stdout and "ckpt-2 at step 2" in again.stdout


@pytest.mark.parametrize("args,message", [
    (["--bogus"], "train: error: Unknown command line flag 'bogus' (--help lists the flags)"),
    ([], "train: error: flag --model_dir=None: Flag --model_dir must have a value"),
    (["--model_dir=x", "--gin_file=nope.gin"], "train: error: nope.gin: no such gin file"),
    (["--model_dir=x", "--gin_bindings=train.totl_steps=5"], "train: error: Configurable "
     "'train' doesn't have a parameter named 'totl_steps'.; In bindings string line 1; "
     "train.totl_steps=5; did you mean train.total_steps?"),
])
def test_a_mistyped_flag_or_gin_file_is_the_tools_one_error_line(tmp_path, args, message):
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "train.py"), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
  assert result.stderr.startswith(message), result.stderr
  assert os.listdir(tmp_path) == []  # nothing created


def test_one_training_per_run_folder_and_a_dead_holder_does_not_block_resume(tmp_path):
  """A second training on a folder being trained stops at once, in one line naming the holder;
  after kill -9 of the holder, the next training takes the lock over with one warning line and
  resumes."""
  first = _start(tmp_path, steps=10_000)
  _wait_for(first, "step 2/")
  second = _run_train(tmp_path, [f"--gin_bindings={b}" for b in (
      tiny.TINY_MODEL + tiny.tiny_rooms(tmp_path / "data") + tiny.tiny_training(3))])
  assert second.returncode == 1, second.stderr[-2000:]
  assert second.stderr.strip().startswith(f"train: error: {tmp_path / 'run'} is being trained by "
                                          f"pid {first.pid} on ")
  assert len(second.stderr.strip().splitlines()) == 1
  first.send_signal(signal.SIGKILL)
  first.communicate(timeout=60)
  with open(tmp_path / "run" / "train.lock", encoding="utf-8") as f:
    assert json.load(f)["pid"] == first.pid  # left behind by kill -9
  resumed = _run_train(tmp_path, [f"--gin_bindings={b}" for b in (
      tiny.TINY_MODEL + tiny.tiny_rooms(tmp_path / "data") + tiny.tiny_training(40))])
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  warnings = [l for l in resumed.stderr.splitlines() if l.startswith("train: warning:")]
  assert len(warnings) == 1 and f"taking over the lock of pid {first.pid}" in warnings[0]
  assert "resumed from" in resumed.stdout
  assert not os.path.exists(tmp_path / "run" / "train.lock")  # released at the end


def test_a_full_disk_stops_training_in_one_line_and_it_resumes_when_space_is_back(tmp_path):
  """The disk fills up mid-run: training stops at its next checkpoint with one line naming the
  folder, the free space and the intact checkpoint, exit 1, no half-written checkpoint left;
  once space is freed, the same command resumes from that checkpoint."""
  with small_disk(tmp_path / "disk", 64) as disk:
    run = disk / "run"
    first = _start(tmp_path, steps=10_000, model_dir=run)
    _wait_for(first, "step 3/")
    filler = fill_disk(disk)
    output, _ = first.communicate(timeout=300)
    assert first.returncode == 1, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"train: error: {run}: no space left on the device while saving the "
                           f"checkpoint of step "), output[-3000:]
    assert "free there); ckpt-" in last and "is intact" in last
    assert "Traceback" not in output and "ResourceExhausted" not in output
    intact = int(last.split("; ckpt-")[1].split()[0])
    assert not [name for name in os.listdir(run) if "_temp" in name or ".partial" in name]
    os.remove(filler)
    again = subprocess.run(
        [sys.executable, "tools/train.py", f"--model_dir={run}"]
        + [f"--gin_bindings={b}" for b in tiny.TINY_MODEL + tiny.tiny_rooms(tmp_path / "data")
           + tiny.tiny_training(total_steps=intact + 2)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"ckpt-{intact} at step {intact}" in again.stdout, again.stdout[-2000:]
