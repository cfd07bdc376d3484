"""When things happen in a training run, apart from what one step does (that is the Trainer).

Shaped after Orbit's Controller: it runs the trainer's steps up to the last one and calls each
periodic side task (console and scalar summaries, image strips, evaluation) when its interval
divides the step, and writes checkpoints on their interval, at the last step and when a stop
signal (SIGTERM, a first Ctrl-C; under multi-worker training, on any worker) arrives. Each
piece is small and testable on its own.
"""

import dataclasses
import logging
import math
import os
import signal
import threading
from typing import Callable

import tensorflow as tf

from attn_depth.core import files
from attn_depth.core.errors import UserError

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'


class NonFiniteLossError(UserError, RuntimeError):
  """The loss became NaN or infinite; training stopped without saving."""


class TrainingSetupError(UserError, ValueError):
  """A configuration that cannot train (batch not divisible, no readable checkpoint, ...)."""


@dataclasses.dataclass
class PeriodicAction:
  """`fn(step, loss)` after every step divisible by `every` (0: never); also after the first
  step of the run and after the last one where asked."""
  every: int
  fn: Callable[[int, float], None]
  at_first_step: bool = False
  at_last_step: bool = False
  before_last_step_only: bool = False  # evaluation: the final evaluation covers the last step

  def due(self, step, first_step, last_step):
    if self.before_last_step_only and step >= last_step:
      return False
    return bool((self.every and step % self.every == 0) or
                (self.at_first_step and step == first_step) or
                (self.at_last_step and step == last_step))


class StopSignals:
  """Remembers a SIGTERM (preemption) or a first Ctrl-C (SIGINT) so the loop can save a
  checkpoint after the running step and stop cleanly; a second Ctrl-C interrupts at once."""

  SIGNALS = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C (SIGINT)"}
  # The shell's convention for a process ended by a signal (128 + its number): what a training
  # that saved and stopped on one exits with, so that a scheduler can tell it from a finished run.
  EXIT_CODES = {"SIGTERM": 128 + signal.SIGTERM, "Ctrl-C (SIGINT)": 128 + signal.SIGINT}

  def __init__(self, signals=(signal.SIGTERM, signal.SIGINT)):
    self.received = None
    self._signals, self._previous = signals, {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for number in self._signals:
        self._previous[number] = signal.signal(number, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    if self.received and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.received = self.SIGNALS[signum]

  def __exit__(self, *exc):
    for number, previous in self._previous.items():
      signal.signal(number, previous)


class Checkpoints:
  """The run's checkpoints: saves on an interval, restores the newest readable one.

  `restore_from`: the folder to resume from when it is not `directory` (a non-chief worker
  writes its own copies but resumes from the chief's, so that all workers resume one step).
  `restore`: reads one checkpoint path and raises if it does not match (the trainer's, which
  also reads older layouts); by default the checkpoint's own restore, asserted."""

  def __init__(self, checkpoint, directory, every, keep, restore_from=None, restore=None):
    self.manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=keep)
    self.checkpoint, self.every = checkpoint, every
    self.restore_from = restore_from or directory
    self.restore = restore or (
        lambda path: checkpoint.restore(path).assert_existing_objects_matched())

  @property
  def latest(self):
    return self.manager.latest_checkpoint

  def on_record(self):
    """The manager's checkpoints and any complete-looking `ckpt-N` beside them that its state
    file does not list yet (a kill between writing a checkpoint and recording it), oldest
    first."""
    if self.restore_from == self.manager.directory:
      prefixes = set(self.manager.checkpoints)
    else:
      state = tf.train.get_checkpoint_state(self.restore_from)
      prefixes = set(state.all_model_checkpoint_paths) if state else set()
    for index_file in tf.io.gfile.glob(os.path.join(self.restore_from, "ckpt-*.index")):
      prefixes.add(index_file[:-len(".index")])

    def number(prefix):
      suffix = prefix.rsplit("-", 1)[-1]
      return int(suffix) if suffix.isdigit() else -1

    return sorted(prefixes, key=number)

  def restore_latest_readable(self):
    """Restores the newest checkpoint that reads completely and returns its path; a truncated
    or half-written one (a kill during the save, a full disk) is skipped with one warning line.
    None if there is none; raises if none reads: never a silent fresh start."""
    candidates = self.on_record()
    failures = []
    for path in reversed(candidates):
      try:
        self.restore(path)
        return path
      except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError,
              OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        _LOG.warning("%s: unreadable (%s); trying the previous checkpoint", path, reason[:200])
        failures.append(path)
    if failures:
      raise TrainingSetupError(f"no readable checkpoint in {self.restore_from} "
                               f"({', '.join(failures)} all failed); move them away to start "
                               f"afresh")
    return None

  def save(self, step):
    """Saves `step`. On a full disk the half-written checkpoint is removed and one DiskFull
    error says which checkpoint is intact (training resumes from it once there is space)."""
    previous = self.latest
    try:
      return self.manager.save(checkpoint_number=step)
    except (tf.errors.OpError, OSError) as error:
      if not files.is_disk_full(error):
        raise
      self._remove_partial(step)
      directory = self.manager.directory
      raise files.DiskFull(
          f"{directory}: no space left on the device while saving the checkpoint of step "
          f"{step} ({files.format_bytes(files.free_space(directory))} free there); "
          + (f"{os.path.basename(previous)} is intact: free some space and run the same "
             f"command to resume from it" if previous else "no checkpoint was saved yet")
      ) from None

  def _remove_partial(self, step):
    """What a failed save of `step` left: TensorFlow's temporary folder, a half-merged
    checkpoint, a half-written state file."""
    directory = self.manager.directory
    for pattern in (f"ckpt-{step}_temp*", f"ckpt-{step}.*", "checkpoint.tmp*"):
      for path in tf.io.gfile.glob(os.path.join(directory, pattern)):
        files.remove_quietly(path)

  def due(self, step):
    return bool(self.every and step % self.every == 0)


class Controller:
  """Runs `trainer.train_step(iterator)` until `last_step`, with the periodic `actions`, the
  checkpoints and the stop signals. Returns from `run` with the losses of the steps it ran.

  Args:
    trainer: has `step` (int) and `train_step(iterator) -> (loss, gradient norms)`.
    iterator: the training batches, positioned at the trainer's step.
    last_step: the global step to stop at.
    checkpoints: a `Checkpoints`.
    actions: `PeriodicAction`s, called in order after each step.
    stop: has `received` (None or the name of a stop request), read once after every step:
      a `StopSignals`, or under multi-worker training one agreed on by all workers
      (`distribution.coordinated`), so that every worker saves the same step.
    on_stop: `fn(reason, step)` once a stop request has been saved.
  """

  def __init__(self, trainer, iterator, last_step, checkpoints, actions=(), stop=None,
               on_stop=None):
    self.trainer, self.iterator, self.last_step = trainer, iterator, int(last_step)
    self.checkpoints, self.actions = checkpoints, list(actions)
    self.stop, self.on_stop = stop, on_stop
    self.completed_step = None  # the last step whose update is done (set by `run`)

  def run(self):
    first_step = self.trainer.step + 1
    losses = []
    step = self.completed_step = self.trainer.step
    while step < self.last_step:
      loss, _ = self.trainer.train_step(self.iterator)
      step, loss = self.trainer.step, float(loss)
      self.completed_step = step
      losses.append(loss)
      if not math.isfinite(loss):
        raise NonFiniteLossError(f"non-finite loss ({loss}) at step {step}; stopped without "
                                 f"saving; the last good checkpoint is "
                                 f"{self.checkpoints.latest or 'none'}")
      for action in self.actions:
        if action.due(step, first_step, self.last_step):
          action.fn(step, loss)
      stop_reason = self.stop.received if self.stop else None
      if self.checkpoints.due(step) or step == self.last_step or stop_reason:
        self.checkpoints.save(step)
      if stop_reason:
        if self.on_stop:
          self.on_stop(stop_reason, step)
        break
    return losses
