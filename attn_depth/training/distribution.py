"""Choosing the tf.distribute strategy: one device, local GPUs, or several workers; what the
workers agree on (the step they resume from, a stop request) and what a lost worker ends as."""

import contextlib
import json
import logging
import os
import re

import gin
import tensorflow as tf

from attn_depth.core.errors import UserError
from attn_depth.training.controller import TrainingSetupError

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'


def workers_in_tf_config():
  """Number of workers (chief included) that $TF_CONFIG names; 0 without TF_CONFIG."""
  config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
  cluster = config.get("cluster", {})
  return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


@gin.configurable(denylist=["kind", "global_batch_size"])
def build_strategy(kind="auto", collective_timeout_s=1800, global_batch_size=None):
  """kind: "auto" (several workers in TF_CONFIG -> MultiWorkerMirroredStrategy; else several
  GPUs -> MirroredStrategy over as many of them as split `global_batch_size` evenly; else the
  default one-device strategy), "default", "mirrored", "multi_worker".

  global_batch_size: under "auto", a batch that does not split over every visible GPU (the
  paper's 3 on 2, 4 or 8 GPUs) trains on the most GPUs it splits over, said in one warning
  line, instead of stopping; "mirrored" takes every GPU as asked.

  collective_timeout_s: under several workers, a collective operation (a step's all-reduce) that
  has not completed after this many seconds fails, so a worker that is alive but stuck (a hung
  device, a stalled file system) stops the run instead of holding every other worker forever.
  A worker that dies or whose machine goes silent is found sooner, by TensorFlow's coordination
  service heartbeats (~10-20 s). Longer than any pause the chief takes alone between two steps
  (a periodic evaluation, a checkpoint). 0: no timeout."""
  if kind == "auto":
    if workers_in_tf_config() > 1:
      kind = "multi_worker"
    else:
      gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
      used = gpus_for_batch(len(gpus), global_batch_size)
      if used < len(gpus):
        _LOG.warning("batch size %d does not split over the %d visible GPUs: training on %d "
                     "of them (a batch size divisible by %d uses them all)", global_batch_size,
                     len(gpus), used, len(gpus))
      if used > 1:
        return tf.distribute.MirroredStrategy(devices=gpus[:used])
      kind = "default"
  if kind == "multi_worker":
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=float(collective_timeout_s) if collective_timeout_s else None)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
  if kind == "mirrored":
    return tf.distribute.MirroredStrategy()
  if kind == "default":
    return tf.distribute.get_strategy()
  raise ValueError(f"unknown strategy {kind!r}; choose auto, default, mirrored or multi_worker")


def gpus_for_batch(gpus, global_batch_size):
  """The most of `gpus` GPUs that `global_batch_size` splits over evenly (all when unknown)."""
  if not global_batch_size:
    return gpus
  return max((n for n in range(1, gpus + 1) if global_batch_size % n == 0), default=gpus)


def is_chief(strategy):
  """True on the worker that writes checkpoints, summaries and reports."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_model_dir(model_dir, strategy):
  """Non-chief workers must write their (identical) checkpoints somewhere else."""
  if is_chief(strategy):
    return model_dir
  resolver = strategy.cluster_resolver
  return os.path.join(model_dir, "workers", f"{resolver.task_type}_{resolver.task_id}")


class _AgreedStop:
  """A stop request seen by any worker, agreed on by all after every step (an all-reduce of one
  number), so that all workers save the same step and stop together."""

  def __init__(self, local, strategy):
    self._local, self._strategy = local, strategy
    self._reduce = tf.function(self._reduce_fn)

  def _reduce_fn(self, requested):
    per_replica = self._strategy.run(lambda: tf.identity(requested))
    return self._strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

  @property
  def received(self):
    requests = int(self._reduce(tf.constant(1 if self._local.received else 0, tf.int32)))
    if not requests:
      return None
    return self._local.received or "SIGTERM (or Ctrl-C) on another worker"


def coordinated(stop, strategy):
  """`stop` (has `received`) as every worker of a multi-worker strategy agrees on it; `stop`
  itself on one worker."""
  if _workers(strategy) > 1:
    return _AgreedStop(stop, strategy)
  return stop


def _workers(strategy):
  """Workers (chief included) of a multi-worker strategy; 0 otherwise."""
  resolver = getattr(strategy, "cluster_resolver", None)
  jobs = resolver.cluster_spec().as_dict() if resolver is not None else {}
  return len(jobs.get("worker", [])) + len(jobs.get("chief", []))


class WorkerLost(UserError, RuntimeError):
  """Another worker of a multi-worker run died, went silent or hung; this one stopped."""


# What a collective operation raises when a peer is gone: its connection reset (Unavailable),
# the coordination service's missed heartbeats (Unavailable), the collective timeout
# (DeadlineExceeded), collectives aborted after either (Cancelled, Aborted).
LOST_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                    tf.errors.CancelledError, tf.errors.AbortedError)
_TASK = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


def lost_workers(error, own_task):
  """The tasks an error names as lost ("worker 1"), not counting this one: the heartbeat's
  "tasks are unhealthy" list or the remote end of a failed RPC."""
  names = []
  for job, index in _TASK.findall(str(error)):
    name = f"{job} {index}"
    if (job, int(index)) != own_task and name not in names:
      names.append(name)
  return names


def describe_lost_worker(error, own_task, step, checkpoint, timeout_s=None):
  """The one line a surviving worker stops with."""
  lost = lost_workers(error, own_task)
  if isinstance(error, tf.errors.DeadlineExceededError) and not lost:
    what = (f"no answer from the other workers within the collective timeout"
            f"{f' ({timeout_s:g} s)' if timeout_s else ''} after step {step}: one is hung or lost")
  else:
    who = " and ".join(lost) if lost else "another worker"
    what = f"lost {who} after step {step} (killed, crashed, or its machine unreachable)"
  resume = (f"{os.path.basename(checkpoint)} is intact: start every worker again with the same "
            f"command to resume from it" if checkpoint else
            "no checkpoint was saved yet: start every worker again with the same command")
  return f"{what}; {resume}"


@contextlib.contextmanager
def stop_on_lost_worker(strategy, step_fn, checkpoint_fn):
  """Under several workers, a collective that fails because a peer is gone ends this worker
  with one `WorkerLost` line naming the lost worker, the last step and the intact checkpoint
  (nothing is saved after the failure: the chief's checkpoints are written between steps, so the
  newest one is complete). Restarting every worker resumes from it. Elsewhere: nothing."""
  if _workers(strategy) < 2:
    yield
    return
  try:
    yield
  except LOST_PEER_ERRORS as error:
    resolver = strategy.cluster_resolver
    options = getattr(strategy.extended, "_communication_options", None)
    raise WorkerLost(describe_lost_worker(
        error, (resolver.task_type, int(resolver.task_id or 0)), step_fn(), checkpoint_fn(),
        getattr(options, "timeout_seconds", None))) from None


def check_same_step(strategy, step):
  """Under several workers, raises unless every worker restored the same step (they resume
  from the chief's checkpoints, so each must see the chief's --model_dir)."""
  if _workers(strategy) < 2:
    return

  @tf.function
  def sums(value):
    value = tf.cast(value, tf.int64)
    per_replica = strategy.run(lambda: tf.stack([tf.ones_like(value), value, value * value]))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

  count, total, squares = (int(v) for v in sums(tf.constant(step, tf.int64)).numpy())
  if count * squares != total * total:  # equal only when every value is the same
    raise TrainingSetupError(
        f"the workers restored different steps (this one {step}, their mean {total / count:g}): "
        f"every worker resumes from the chief's checkpoints, so --model_dir must be one folder "
        f"that all workers see (a shared file system)")
