"""The rules the suite itself keeps (tests/conftest.py): two tiers, a skip fails the full tier,
a full disk cannot be skipped by root, no process outlives its test."""
# pylint: disable=protected-access  (the suite's own helpers in tests/conftest.py)

import os
import subprocess
import sys
import time
import types

import pytest
import tensorflow as tf

from tests import conftest
from tests.conftest import REPO_ROOT


class _Item:
  def __init__(self, nodeid, slow=False):
    self.nodeid, self.slow, self.markers = nodeid, slow, []

  def get_closest_marker(self, name):
    return True if name == "slow" and self.slow else None

  def add_marker(self, marker):
    self.markers.append(marker.name)


class _Config:
  def __init__(self, full=False, markexpr="", named=False):
    self.options = {"--full": full, "-m": markexpr}
    self.args_source = (pytest.Config.ArgsSource.ARGS if named
                        else pytest.Config.ArgsSource.TESTPATHS)
    self.deselected = []
    self.hook = types.SimpleNamespace(pytest_deselected=self._deselect)

  def getoption(self, name):
    return self.options[name]

  def _deselect(self, items):
    self.deselected.extend(items)


def _items():
  return [_Item("tests/test_a.py::test_fast"), _Item("tests/test_a.py::test_slow", slow=True),
          _Item("tests/reproduction/test_rehearsal.py::test_x", slow=True)]


def test_a_bare_run_is_the_fast_tier_and_full_or_a_named_selection_runs_everything():
  items, config = _items(), _Config()
  conftest.pytest_collection_modifyitems(config, items)
  assert [i.nodeid for i in items] == ["tests/test_a.py::test_fast"]
  assert len(config.deselected) == 2
  for config in (_Config(full=True), _Config(markexpr="slow"), _Config(named=True)):
    items = _items()
    conftest.pytest_collection_modifyitems(config, items)
    assert len(items) == 3 and not config.deselected
    # The longest unit goes first and stays on one worker.
    assert items[0].nodeid == "tests/reproduction/test_rehearsal.py::test_x"
    assert items[0].markers == ["xdist_group"] and items[1].markers == []


def _run_pytest(tmp_path, *args):
  """pytest in a fresh process on a test file outside tests/, with this suite's rules loaded
  as a plugin."""
  (tmp_path / "test_sample.py").write_text(
      "import pytest\n"
      "def test_runs():\n  pass\n"
      "def test_skips():\n  pytest.skip('no such thing here')\n")
  return subprocess.run(
      [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-n", "0", "-q",
       "-p", "no:cacheprovider", f"--rootdir={REPO_ROOT}", str(tmp_path / "test_sample.py"),
       *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow  # two fresh pytest processes
def test_a_skip_fails_the_full_tier_and_not_a_named_run(tmp_path):
  named = _run_pytest(tmp_path)
  assert named.returncode == 0, named.stdout[-2000:]
  full = _run_pytest(tmp_path, "--full")
  assert full.returncode == pytest.ExitCode.TESTS_FAILED, full.stdout[-2000:]
  assert "1 test(s) skipped in the full tier" in full.stdout


def test_a_tmpfs_that_cannot_be_mounted_fails_for_root_and_skips_for_others(tmp_path,
                                                                              monkeypatch):
  monkeypatch.setattr(conftest.subprocess, "run", lambda *a, **k: types.SimpleNamespace(
      returncode=32, stderr="mount: permission denied"))
  for uid, outcome in ((0, pytest.fail.Exception), (1000, pytest.skip.Exception)):
    monkeypatch.setattr(conftest.os, "geteuid", lambda uid=uid: uid)
    with pytest.raises(outcome, match="a full disk needs root"):
      with conftest.small_disk(tmp_path / "disk", 5):
        pass


def test_what_a_test_started_is_found_and_killed_with_its_children():
  # A shell that starts a grandchild: both are found from this process and both are killed.
  shell = subprocess.Popen(["sh", "-c", "sleep 60 & wait"])
  deadline = time.time() + 10
  while len(conftest._descendants(os.getpid())) < 2 and time.time() < deadline:
    time.sleep(0.02)
  found = conftest._descendants(os.getpid())
  assert shell.pid in found and len(found) >= 2
  conftest._kill(found)  # (reaps its own children too)
  time.sleep(0.2)
  running = {pid: state for pid, (_, state) in conftest._processes().items()
             if pid in found and state != "Z"}
  assert not running


def test_float32_is_float32_on_any_gpu_here_and_in_the_processes_tests_start():
  assert not tf.config.experimental.tensor_float_32_execution_enabled()
  child = subprocess.run(
      [sys.executable, "-c", "import os; print(os.environ['NVIDIA_TF32_OVERRIDE'])"],
      capture_output=True, text=True, check=True, timeout=60)
  assert child.stdout.strip() == "0"  # cuBLAS and cuDNN: no TF32 in the tools either
