"""The training loop's *when*, tested in milliseconds with a fake trainer (Orbit's
controller_test.py is the model): periodic actions, checkpoints, stops, non-finite losses."""

import os
import signal

import pytest
import tensorflow as tf

from attn_depth.training import distribution
from attn_depth.training.controller import Checkpoints
from attn_depth.training.controller import Controller
from attn_depth.training.controller import NonFiniteLossError
from attn_depth.training.controller import PeriodicAction
from attn_depth.training.controller import StopSignals


class FakeTrainer:
  """What Controller needs of a trainer: `step` and `train_step(iterator)`."""

  def __init__(self, step=0, losses=None):
    self.step, self.losses = step, losses or {}

  def train_step(self, iterator):
    next(iterator)
    self.step += 1
    return self.losses.get(self.step, 1.0 / self.step), {}

class FakeCheckpoints:
  def __init__(self, every):
    self.every, self.saved, self.latest = every, [], None

  def due(self, step):
    return bool(self.every and step % self.every == 0)

  def save(self, step):
    self.saved.append(step)
    self.latest = f"ckpt-{step}"

class StopAfter:
  """A stop request that arrives after step `step` (as a SIGTERM would)."""

  def __init__(self, trainer, step):
    self.trainer, self.step = trainer, step

  @property
  def received(self):
    return "SIGTERM" if self.trainer.step >= self.step else None

def _run(trainer, last_step, every=3, actions=(), stop=None, on_stop=None):
  checkpoints = FakeCheckpoints(every)
  controller = Controller(trainer, iter(range(10**6)), last_step, checkpoints, actions, stop,
                          on_stop)
  return controller.run(), checkpoints

def test_runs_to_the_last_step_and_checkpoints_on_interval_and_at_the_end():
  trainer = FakeTrainer()
  losses, checkpoints = _run(trainer, 7, every=3)
  assert trainer.step == 7 and losses == [1.0 / s for s in range(1, 8)]
  assert checkpoints.saved == [3, 6, 7]

def test_a_resumed_run_runs_only_the_remaining_steps():
  trainer = FakeTrainer(step=5)
  losses, checkpoints = _run(trainer, 7, every=0)
  assert len(losses) == 2 and checkpoints.saved == [7]
  assert _run(FakeTrainer(step=7), 7)[0] == []  # already finished: nothing runs, nothing saved

def test_periodic_actions_fire_on_their_steps_in_order():
  calls = []

  def record(name):
    return lambda step, loss: calls.append((name, step))

  actions = [PeriodicAction(0, record("config"), at_first_step=True),
             PeriodicAction(2, record("log"), at_first_step=True, at_last_step=True),
             PeriodicAction(3, record("eval"), before_last_step_only=True)]
  _run(FakeTrainer(step=1), 6, actions=actions)
  assert calls == [("config", 2), ("log", 2), ("eval", 3), ("log", 4), ("log", 6)]

def test_a_stop_request_saves_the_running_step_and_stops():
  trainer, stopped = FakeTrainer(), []
  losses, checkpoints = _run(trainer, 100, every=50, stop=StopAfter(trainer, 4),
                             on_stop=lambda reason, step: stopped.append((reason, step)))
  assert len(losses) == 4 and checkpoints.saved == [4] and stopped == [("SIGTERM", 4)]

def test_a_non_finite_loss_stops_without_saving_and_names_the_last_good_checkpoint():
  trainer = FakeTrainer(losses={5: float("nan")})
  checkpoints = FakeCheckpoints(2)
  controller = Controller(trainer, iter(range(100)), 10, checkpoints)
  with pytest.raises(NonFiniteLossError, match="at step 5; .* last good checkpoint is ckpt-4"):
    controller.run()
  assert checkpoints.saved == [2, 4]

def test_stop_signals_remember_sigterm_and_a_second_ctrl_c_interrupts():
  with StopSignals() as stop:
    assert stop.received is None
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.received == "SIGTERM"
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
  assert signal.getsignal(signal.SIGTERM) is not stop._handle  # pylint: disable=protected-access

def test_checkpoints_skip_an_unreadable_latest_and_find_unrecorded_ones(tmp_path):
  value = tf.Variable(0.0)
  step = tf.Variable(0, dtype=tf.int64)
  checkpoint = tf.train.Checkpoint(value=value, global_step=step)
  checkpoints = Checkpoints(checkpoint, str(tmp_path), every=1, keep=5)
  for number in (1, 2, 3):
    value.assign(float(number))
    checkpoints.save(number)
  # ckpt-3's data truncated (a kill during the save): ckpt-2 is restored instead.
  data_file = next(p for p in os.listdir(tmp_path) if p.startswith("ckpt-3.data"))
  with open(tmp_path / data_file, "r+b") as f:
    f.truncate(4)
  value.assign(0.0)
  assert checkpoints.restore_latest_readable().endswith("ckpt-2") and float(value) == 2.0
  # A checkpoint written but not yet recorded in the state file is found.
  os.remove(tmp_path / "checkpoint")
  fresh = Checkpoints(checkpoint, str(tmp_path), every=1, keep=5)
  assert [os.path.basename(p) for p in fresh.on_record()] == ["ckpt-1", "ckpt-2", "ckpt-3"]
  assert fresh.due(4) and not Checkpoints(checkpoint, str(tmp_path), 0, 1).due(4)


def test_a_worker_saves_into_its_own_folder_but_resumes_from_the_chiefs(tmp_path):
  """So that every worker resumes the same step, whatever its own folder holds."""
  value = tf.Variable(0.0)
  checkpoint = tf.train.Checkpoint(value=value)
  chief = Checkpoints(checkpoint, str(tmp_path / "run"), every=1, keep=5)
  for number in (1, 2, 3):
    value.assign(float(number))
    chief.save(number)
  worker = Checkpoints(checkpoint, str(tmp_path / "run" / "workers" / "worker_1"), every=1,
                       keep=5, restore_from=str(tmp_path / "run"))
  value.assign(9.0)
  worker.save(1)  # a worker killed earlier: its own newest is older
  assert worker.restore_latest_readable() == str(tmp_path / "run" / "ckpt-3")
  assert float(value) == 3.0 and worker.latest.endswith(os.path.join("worker_1", "ckpt-1"))


def test_a_lost_peer_names_the_worker_and_the_intact_checkpoint():
  """What a surviving worker says, from the errors TensorFlow raises for a lost peer."""
  heartbeat = tf.errors.UnavailableError(None, None, (
      "Collective ops is aborted by: Error reported from /job:worker/task:1: The following "
      "tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe "
      "tasks have crashed."))
  assert distribution.describe_lost_worker(heartbeat, ("worker", 0), 5, "/run/ckpt-4") == (
      "lost worker 1 after step 5 (killed, crashed, or its machine unreachable); ckpt-4 is "
      "intact: start every worker again with the same command to resume from it")
  reset = tf.errors.UnavailableError(None, None, (
      "Collective ops is aborted by: recvmsg:Connection reset by peer\nAdditional GRPC error "
      "information from remote target /job:chief/replica:0/task:0 while calling "
      "/tensorflow.WorkerService/CompleteInstance"))
  assert distribution.lost_workers(reset, ("worker", 0)) == ["chief 0"]
  timeout = tf.errors.DeadlineExceededError(None, None, "Collective has timed out")
  assert distribution.describe_lost_worker(timeout, ("worker", 1), 7, None, 30.0) == (
      "no answer from the other workers within the collective timeout (30 s) after step 7: one "
      "is hung or lost; no checkpoint was saved yet: start every worker again with the same "
      "command")


def test_one_device_lets_collective_errors_through_unchanged():
  """Without several workers an Unavailable error is not a lost worker: it keeps its type."""
  with pytest.raises(tf.errors.UnavailableError):
    with distribution.stop_on_lost_worker(tf.distribute.get_strategy(), lambda: 1, lambda: None):
      raise tf.errors.UnavailableError(None, None, "a file system went away")
