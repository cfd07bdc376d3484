"""The run lock: one holder, whatever the timing. Two processes that start together on a stale
lock (left by kill -9) must never both hold it; a held lock refuses in one line naming the holder;
a dead holder's lock is taken over with one warning."""

import json
import logging
import multiprocessing
import os
import socket
import time

import pytest

from attn_depth.training import run_lock


def _contend(model_dir, barrier, holding, results, index):
  """A child: waits for its rival, takes the lock, counts the holders while it holds it."""
  barrier.wait()
  try:
    with run_lock.RunLock(model_dir):
      with holding.get_lock():
        holding.value += 1
        at_once = holding.value
      time.sleep(0.005)  # hold a moment, long enough for the rival to get in if it could
      with holding.get_lock():
        holding.value -= 1
      results[index] = at_once
  except run_lock.RunFolderBusyError:
    results[index] = -1
  os._exit(0)  # pylint: disable=protected-access


def _stale_lock(model_dir):
  with open(os.path.join(model_dir, run_lock.LOCK_FILE), "w", encoding="utf-8") as f:
    json.dump({"host": socket.gethostname(), "pid": 2 ** 22 + 1,  # no such pid
               "started": "yesterday"}, f)


ROUNDS = 50  # the former lock let both in about 1 round in 6 (53 of 300)


def test_two_processes_racing_on_a_stale_lock_never_both_hold_it(tmp_path):
  context = multiprocessing.get_context("fork")  # the lock module only: no TensorFlow in them
  both, won = 0, 0
  for round_ in range(ROUNDS):
    model_dir = tmp_path / str(round_)
    model_dir.mkdir()
    _stale_lock(model_dir)
    barrier, holding = context.Barrier(2), context.Value("i", 0)
    results = context.Array("i", [0, 0])
    children = [context.Process(target=_contend, args=(str(model_dir), barrier, holding,
                                                       results, i)) for i in range(2)]
    for child in children:
      child.start()
    for child in children:
      child.join(30)
      assert child.exitcode == 0
    both += max(results[:]) > 1
    won += sum(r > 0 for r in results[:])
    assert not os.path.exists(model_dir / run_lock.LOCK_FILE)  # the holder removed it
  assert both == 0
  assert won >= ROUNDS  # every round had a holder (both may win one after the other)


def test_a_held_lock_refuses_naming_the_holder_and_a_dead_one_is_taken_over(tmp_path, caplog):
  with run_lock.RunLock(str(tmp_path)):
    record = json.loads((tmp_path / run_lock.LOCK_FILE).read_text())
    assert record["pid"] == os.getpid()
    with pytest.raises(run_lock.RunFolderBusyError,
                       match=rf"^{tmp_path} is being trained by pid {os.getpid()} on "):
      run_lock.RunLock(str(tmp_path)).__enter__()  # pylint: disable=unnecessary-dunder-call
  assert not (tmp_path / run_lock.LOCK_FILE).exists()
  _stale_lock(tmp_path)
  with caplog.at_level(logging.WARNING):
    with run_lock.RunLock(str(tmp_path)):
      pass
  assert [r.getMessage() for r in caplog.records] == [
      f"{tmp_path / run_lock.LOCK_FILE}: taking over the lock of pid {2 ** 22 + 1} on "
      f"{socket.gethostname()}, started yesterday (no longer running)"]
