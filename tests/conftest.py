"""Shared test set-up: quiet TensorFlow, a clean gin config and fixed seeds for every test."""

import contextlib
import errno
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Everything the suite writes to the system's temp folder -- pytest's tmp_path folders, the
# tools' processes, TensorFlow's autograph files -- goes into one folder, removed when the
# session ends (set ATTN_DEPTH_KEEP_TEST_FILES=1 to keep it for a look).
SESSION_TMP = tempfile.mkdtemp(prefix="attn_depth_tests_")
os.environ["TMPDIR"] = tempfile.tempdir = SESSION_TMP

import gin  # noqa: E402
import keras  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_sessionfinish(session, exitstatus):
  del session, exitstatus
  if not os.environ.get("ATTN_DEPTH_KEEP_TEST_FILES"):
    shutil.rmtree(SESSION_TMP, ignore_errors=True)


@pytest.fixture(autouse=True)
def clean_state():
  gin.clear_config()
  keras.utils.set_random_seed(1234)
  yield
  gin.clear_config()
  keras.backend.clear_session()


def run_tool(name, *args, timeout=600):
  """Runs tools/<name>.py in a fresh interpreter, as a user would, from the repository root."""
  import subprocess  # pylint: disable=import-outside-toplevel
  return subprocess.run([sys.executable, os.path.join("tools", f"{name}.py"), *args],
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                        check=False)


@contextlib.contextmanager
def small_disk(path, megabytes):
  """A real file system of `megabytes` (a tmpfs) mounted at `path` for the block: what a full
  disk does cannot be faked by a mock. Needs root (CI runs as root); skipped elsewhere."""
  os.makedirs(path, exist_ok=True)
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                            str(path)], capture_output=True, text=True, check=False)
  if mounted.returncode:
    pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): a full disk needs root")
  try:
    yield path
  finally:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill_disk(folder):
  """Fills the file system holding `folder` with one file, to the last byte; returns its path."""
  path = os.path.join(folder, "filler")
  with open(path, "wb", buffering=0) as f:
    for size in (1 << 20, 1 << 12, 1):
      chunk = b"\0" * size
      try:
        while True:
          f.write(chunk)
      except OSError as error:
        assert error.errno == errno.ENOSPC, error
  return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
  """One training step of a tiny network on procedural rooms, with its final evaluation: a real
  training-run folder, shared by the tests of the tools that read runs."""
  from attn_depth import config  # pylint: disable=import-outside-toplevel
  from attn_depth import training  # pylint: disable=import-outside-toplevel
  from tests.training import tiny  # pylint: disable=import-outside-toplevel
  root = tmp_path_factory.mktemp("tiny_run")
  gin.clear_config()
  config.parse_gin([], tiny.TINY_MODEL + tiny.tiny_rooms(root / "data")
                   + tiny.tiny_training(total_steps=1) + ["train.final_eval = True"])
  training.train(str(root / "run"))
  gin.clear_config()
  return str(root / "run")
