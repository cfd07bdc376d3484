"""Choosing the tf.distribute strategy: one device, local GPUs, or several workers."""

import json
import os

import tensorflow as tf


def workers_in_tf_config():
  """Number of workers (chief included) that $TF_CONFIG names; 0 without TF_CONFIG."""
  config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
  cluster = config.get("cluster", {})
  return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def build_strategy(kind="auto"):
  """kind: "auto" (several workers in TF_CONFIG -> MultiWorkerMirroredStrategy; else several
  GPUs -> MirroredStrategy; else the default one-device strategy), "default", "mirrored",
  "multi_worker"."""
  if kind == "auto":
    if workers_in_tf_config() > 1:
      kind = "multi_worker"
    elif len(tf.config.list_logical_devices("GPU")) > 1:
      kind = "mirrored"
    else:
      kind = "default"
  if kind == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if kind == "mirrored":
    return tf.distribute.MirroredStrategy()
  if kind == "default":
    return tf.distribute.get_strategy()
  raise ValueError(f"unknown strategy {kind!r}; choose auto, default, mirrored or multi_worker")


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
  resolver = getattr(strategy, "cluster_resolver", None)
  jobs = resolver.cluster_spec().as_dict() if resolver is not None else {}
  if len(jobs.get("worker", [])) + len(jobs.get("chief", [])) > 1:
    return _AgreedStop(stop, strategy)
  return stop
