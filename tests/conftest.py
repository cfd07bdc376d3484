"""Shared test set-up: the two tiers, one temp folder, no stray processes, quiet TensorFlow, a
clean gin config and fixed seeds for every test.

Tiers (README, "Set up"; docs/contributing.md):
  python -m pytest -q                                  the fast tier: unit and contract tests
  python -m pytest -q --full --durations=30 -ra   everything (CI): the slow tests too
A run that names files or node ids, or selects with -m, runs what it names.
"""

import contextlib
import ctypes
import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# float32 means float32 on any GPU: Ampere and later run float32 matmuls and convolutions as
# TF32 (10-bit mantissas) by default, which the 1e-4/1e-5 comparisons cannot hold. Off in
# cuBLAS/cuDNN for every process a test starts, and in TensorFlow here (below).
os.environ.setdefault("NVIDIA_TF32_OVERRIDE", "0")

# Everything the suite writes to the system's temp folder -- pytest's tmp_path folders, the
# tools' processes, TensorFlow's autograph files -- goes into one folder, removed when the
# session ends (set ATTN_DEPTH_KEEP_TEST_FILES=1 to keep it for a look). The process that makes
# it owns it; pytest-xdist's workers (started after this module is imported) and every other
# child inherit its name and use the same folder.
_TMP_VARIABLE = "ATTN_DEPTH_TEST_SESSION_TMP"
if os.path.isdir(os.environ.get(_TMP_VARIABLE, "")):
  SESSION_TMP, _OWNS_SESSION_TMP = os.environ[_TMP_VARIABLE], False
else:
  SESSION_TMP, _OWNS_SESSION_TMP = tempfile.mkdtemp(prefix="attn_depth_tests_"), True
  os.environ[_TMP_VARIABLE] = SESSION_TMP
os.environ["TMPDIR"] = tempfile.tempdir = SESSION_TMP

import gin  # noqa: E402
import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.experimental.enable_tensor_float_32_execution(False)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Longest-first for pytest-xdist: the test files whose work is one long unit (a module-scoped
# fixture shared by every test in the file) are kept on one worker and started first, so that the
# longest is not the tail of the run.
_LONG_UNITS = ("tests/reproduction/test_rehearsal.py", "tests/training/test_train_tool.py",
               "tests/training/test_loss_scaling.py", "tests/serving/test_export.py",
               "tests/models/test_backbone.py")


def pytest_addoption(parser):
  parser.addoption("--full", action="store_true",
                   help="the full tier: the slow end-to-end tests as well (CI runs it; needs "
                        "Chromium and root); a skipped test fails it")


def full_tier(config):
  return bool(config.getoption("--full"))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
  chosen = (full_tier(config) or config.getoption("-m")
            or config.args_source != pytest.Config.ArgsSource.TESTPATHS)
  if not chosen:  # a bare `python -m pytest`: the fast tier
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
      config.hook.pytest_deselected(items=slow)
      items[:] = [item for item in items if not item.get_closest_marker("slow")]

  def unit(item):
    path = item.nodeid.split("::", 1)[0]
    return _LONG_UNITS.index(path) if path in _LONG_UNITS else len(_LONG_UNITS)

  items.sort(key=unit)  # stable: the order within a file is kept
  for item in items:
    path = item.nodeid.split("::", 1)[0]
    if path in _LONG_UNITS:
      item.add_marker(pytest.mark.xdist_group(path))


def _is_worker(config):
  return hasattr(config, "workerinput")


def pytest_sessionfinish(session, exitstatus):
  del exitstatus
  if _is_worker(session.config):
    return
  reporter = session.config.pluginmanager.get_plugin("terminalreporter")
  skipped = reporter.stats.get("skipped", []) if reporter else []
  if full_tier(session.config) and skipped and session.exitstatus == 0:
    # The full tier is what CI checks: a test that did not run is a property not checked.
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if reporter:
      reporter.write_line(f"{len(skipped)} test(s) skipped in the full tier, which checks "
                          "everything (it needs root and Chromium): see the skip reasons above",
                          red=True)


def pytest_unconfigure(config):
  """Last of all (pytest-xdist's workers have stopped): nothing started by the suite is left
  running, and the owner of the temp folder removes it."""
  del config
  _kill(_descendants(os.getpid()))
  if _OWNS_SESSION_TMP and not os.environ.get("ATTN_DEPTH_KEEP_TEST_FILES"):
    shutil.rmtree(SESSION_TMP, ignore_errors=True)


# No process a test starts outlives it: every process of the suite is a "subreaper" (Linux), so
# that what a killed child started is re-parented to it rather than to init, and after each test
# whatever the test left running (a training, a reproduction, a server) is killed.
with contextlib.suppress(OSError, AttributeError):
  ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _processes():
  """{pid: (parent pid, state)} of every process, from /proc."""
  found = {}
  for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
    if name.isdigit():
      try:
        with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
          fields = f.read().rsplit(")", 1)[1].split()
      except OSError:
        continue
      found[int(name)] = (int(fields[1]), fields[0])
  return found


def _descendants(pid):
  processes = _processes()
  found, frontier = [], [pid]
  while frontier:
    parent = frontier.pop()
    children = [p for p, (ppid, _) in processes.items() if ppid == parent]
    found.extend(children)
    frontier.extend(children)
  return found


def _kill(pids):
  for pid in pids:
    with contextlib.suppress(OSError):
      os.kill(pid, signal.SIGKILL)
  deadline = time.time() + 10
  for pid in pids:  # reap the ones that are ours (re-parented orphans included)
    while time.time() < deadline:
      try:
        if os.waitpid(pid, os.WNOHANG)[0]:
          break
      except ChildProcessError:  # not our child, or already reaped (by subprocess)
        break
      time.sleep(0.01)


@pytest.fixture(autouse=True)
def no_stray_processes():
  before = set(_descendants(os.getpid()))
  yield
  strays = [pid for pid in _descendants(os.getpid()) if pid not in before]
  _kill(strays)


@pytest.fixture(autouse=True)
def clean_state():
  gin.clear_config()
  keras.utils.set_random_seed(1234)
  yield
  gin.clear_config()
  keras.backend.clear_session()


def run_tool(name, *args, timeout=600, env=None):
  """Runs tools/<name>.py in a fresh interpreter, as a user would, from the repository root."""
  return subprocess.run([sys.executable, os.path.join("tools", f"{name}.py"), *args],
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                        check=False, env=env)


@contextlib.contextmanager
def small_disk(path, megabytes):
  """A real file system of `megabytes` (a tmpfs) mounted at `path` for the block: what a full
  disk does cannot be faked by a mock. Needs root (CI runs as root): skipped for other users,
  a failure for root (the full tier, which CI runs as root, fails on any skip)."""
  os.makedirs(path, exist_ok=True)
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                            str(path)], capture_output=True, text=True, check=False)
  if mounted.returncode:
    message = f"cannot mount a tmpfs here ({mounted.stderr.strip()}): a full disk needs root"
    if os.geteuid() == 0:
      pytest.fail(message + " (running as root)")
    pytest.skip(message)
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
def tiny_run(tmp_path_factory):
  """One training step of a tiny network on procedural rooms, with its final evaluation: a real
  training-run folder (`path`) and the rooms it trained on (`data_dir`), shared by the tests of
  the tools that read runs. Read-only: a test that writes into a run copies it first."""
  from attn_depth import config  # pylint: disable=import-outside-toplevel
  from attn_depth import training  # pylint: disable=import-outside-toplevel
  from tests.training import tiny  # pylint: disable=import-outside-toplevel
  root = tmp_path_factory.mktemp("tiny_run")
  gin.clear_config()
  config.parse_gin([], tiny.TINY_MODEL + tiny.tiny_rooms(root / "data")
                   + tiny.tiny_training(total_steps=1) + ["train.final_eval = True"])
  training.train(str(root / "run"))
  gin.clear_config()
  return types.SimpleNamespace(path=str(root / "run"), data_dir=str(root / "data"))


@pytest.fixture(scope="session")
def run_dir(tiny_run):
  return tiny_run.path
