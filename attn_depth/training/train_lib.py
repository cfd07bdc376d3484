"""`train()`: the one configurable function behind tools/train.py.

Paper 3.4's recipe is the default (gin/base.gin): Adam, per-module poly learning rates
(DFE 1e-5 -> 1e-7, DMG 1e-4 -> 1e-6, power 1, decay over 16 epochs), 20 epochs, batch 3.
"""

import json
import logging
import math
import os
import signal
import threading
import time

import gin
import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from attn_depth import data
from attn_depth import export
from attn_depth import inference
from attn_depth import models
from attn_depth import visualization
from attn_depth.evaluation import evaluate
from attn_depth.training import distribution
from attn_depth.training.trainer import Trainer


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or infinite; training stopped without saving."""


class TrainingSetupError(ValueError):
  """A configuration that cannot train (batch not divisible, ...)."""


def _log(message):
  print(message, flush=True)


class _StopSignals:
  """Remembers a SIGTERM (preemption) or a first Ctrl-C (SIGINT) so the loop can save a
  checkpoint after the running step and stop cleanly; a second Ctrl-C interrupts at once."""

  SIGNALS = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C (SIGINT)"}

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for number in self.SIGNALS:
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


def _write_strip(writer, step, images, depths, pred, count=3):
  strips = [visualization.comparison_strip(images[i], depths[i], pred[i])
            for i in range(min(count, images.shape[0]))]
  with writer.as_default(step=step):
    tf.summary.image("rgb_gt_prediction", np.stack(strips), max_outputs=count)


@gin.configurable(denylist=["model_dir", "strategy"])
def train(model_dir, strategy=None, source="synthetic_rooms", batch_size=3, epochs=20,
          decay_epochs=16, steps_per_epoch=None, total_steps=None,
          dfe_learning_rate=(1e-5, 1e-7), dmg_learning_rate=(1e-4, 1e-6), power=1.0,
          seed=0, checkpoint_every=1000, keep_checkpoints=3, log_every=100,
          image_summary_every=1000, eval_every=5000, eval_batches=20, warm_start_from=None,
          mixed_precision=None, jit_compile=False, final_eval=True, final_eval_batches=None,
          export_saved_model=False):
  """Trains the gin-configured model on `source`, resuming from `model_dir` if it holds a
  checkpoint. Returns a dict of what happened (steps, last loss, final metrics).

  Args:
    model_dir: checkpoints, TensorBoard logs (train/, eval/), operative_config.gin, eval/.
    strategy: a tf.distribute strategy (default: the current one).
    source: data source (see attn_depth.data.SOURCES).
    batch_size: global batch, all replicas together (paper: 3).
    epochs, decay_epochs: training length and Eq. 4's decay_steps, in epochs (paper: 20, 16).
    steps_per_epoch: default ceil(training frames / batch_size).
    total_steps: overrides epochs * steps_per_epoch.
    dfe_learning_rate, dmg_learning_rate: (initial, end) of Eq. 4 for each module.
    power: Eq. 4's power (paper: 1.0).
    seed: initialisation, shuffling and augmentation; same seed, same first losses on CPU.
    checkpoint_every: steps between checkpoints (one is also written at the end, on SIGTERM and
      on the first Ctrl-C).
    keep_checkpoints: checkpoints kept.
    log_every: steps between console lines and scalar summaries.
    image_summary_every: steps between RGB | ground truth | prediction strips in TensorBoard.
    eval_every: steps between evaluations on `eval_batches` test batches (0: never).
    warm_start_from: a checkpoint (file prefix or folder) to take the model's weights from when
      `model_dir` has none; optimizers and step start fresh.
    mixed_precision: None, "float16" (with dynamic loss scaling) or "bfloat16".
    jit_compile: compile forward and backward pass with XLA.
    final_eval: evaluate on the whole test split after training; writes eval/metrics.json with
      a constant-depth predictor beside the model, and eval/preview.png.
    final_eval_batches: limit the final evaluation to this many batches.
    export_saved_model: after the last step, write a SavedModel to `model_dir`/export (what
      tools/export.py writes, without TFLite) for tools/predict.py and serving.
  """
  strategy = strategy or tf.distribute.get_strategy()
  learning_rates = {"dfe": tuple(dfe_learning_rate), "dmg": tuple(dmg_learning_rate)}
  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise TrainingSetupError(f"batch size {batch_size} does not split over {replicas} replicas")
  keras.utils.set_random_seed(seed)
  previous_policy = keras.mixed_precision.global_policy()
  if mixed_precision:
    policies = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}
    if mixed_precision not in policies:
      raise TrainingSetupError(f"mixed_precision must be None, 'float16' or 'bfloat16', "
                               f"got {mixed_precision!r}")
    keras.mixed_precision.set_global_policy(policies[mixed_precision])
  try:
    return _train(model_dir, strategy, source, batch_size, epochs, decay_epochs,
                  steps_per_epoch, total_steps, learning_rates, power, seed, checkpoint_every,
                  keep_checkpoints, log_every, image_summary_every, eval_every, eval_batches,
                  warm_start_from, mixed_precision, jit_compile, final_eval,
                  final_eval_batches, export_saved_model)
  finally:
    keras.mixed_precision.set_global_policy(previous_policy)


def _train(model_dir, strategy, source, batch_size, epochs, decay_epochs, steps_per_epoch,
           total_steps, learning_rates, power, seed, checkpoint_every, keep_checkpoints,
           log_every, image_summary_every, eval_every, eval_batches, warm_start_from,
           mixed_precision, jit_compile, final_eval, final_eval_batches, export_saved_model):
  chief = distribution.is_chief(strategy)
  if steps_per_epoch is None:
    frames = data.count_frames(source, "train")
    if frames is None:
      raise TrainingSetupError(f"{source}: the number of training frames is not known in "
                               f"advance; set train.steps_per_epoch")
    steps_per_epoch = max(math.ceil(frames / batch_size), 1)
  total_steps = int(total_steps or epochs * steps_per_epoch)
  decay_steps = max(int(decay_epochs * steps_per_epoch), 1)
  if chief:
    _log(f"training on {source}: {total_steps} steps (steps per epoch {steps_per_epoch}, "
         f"poly decay over {decay_steps}), global batch {batch_size} on "
         f"{strategy.num_replicas_in_sync} replica(s)")

  with strategy.scope():
    model = models.build_model(input_shape=(None, None, 3))
  predict = evaluate.traced_inference(model)  # never eager: see traced_inference
  trainer = Trainer(model, strategy, batch_size, decay_steps, learning_rates, power,
                    loss_scaling=mixed_precision == "float16", jit_compile=jit_compile)

  checkpoint_dir = distribution.worker_model_dir(model_dir, strategy)
  manager = tf.train.CheckpointManager(trainer.checkpoint, checkpoint_dir,
                                       max_to_keep=keep_checkpoints)
  if _checkpoints_on_record(manager):
    restored = _restore_latest_readable(trainer.checkpoint, manager)
    if chief:
      _log(f"resumed from {restored} at step {trainer.step}")
  elif warm_start_from:
    path = (tf.train.latest_checkpoint(warm_start_from) if os.path.isdir(warm_start_from)
            else warm_start_from)
    if not path:
      raise TrainingSetupError(f"{warm_start_from}: no checkpoint to warm-start from")
    tf.train.Checkpoint(model=model).read(path).expect_partial()
    if chief:
      _log(f"warm start: model weights from {path}")

  def dataset_fn(context):
    return data.build_pipeline(
        source, "train", batch_size=context.get_per_replica_batch_size(batch_size), seed=seed,
        shard=(context.num_input_pipelines, context.input_pipeline_id))

  iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
  writer = (tf.summary.create_file_writer(os.path.join(model_dir, "train")) if chief
            else tf.summary.create_noop_writer())
  eval_writer = (tf.summary.create_file_writer(os.path.join(model_dir, "eval")) if chief
                 else tf.summary.create_noop_writer())
  step = trainer.step
  start_step, loss, loss_history = step, float("nan"), []
  interval_start, interval_step = time.perf_counter(), step
  saved_config, summary_batch = False, None
  with _StopSignals() as stop:
    while step < total_steps:
      loss_t, norms = trainer.train_step(iterator)
      step = trainer.step
      loss = float(loss_t)
      loss_history.append(loss)
      if not math.isfinite(loss):
        last = manager.latest_checkpoint or "none"
        raise NonFiniteLossError(f"non-finite loss ({loss}) at step {step}; stopped without "
                                 f"saving; the last good checkpoint is {last}")
      if chief and not saved_config:
        # The operative config lists every parameter the run actually used (Trax's _save_gin).
        with open(os.path.join(model_dir, "operative_config.gin"), "w", encoding="utf-8") as f:
          f.write(gin.operative_config_str())
        saved_config = True
      if step % log_every == 0 or step == total_steps or step == start_step + 1:
        now = time.perf_counter()
        rate = (step - interval_step) / max(now - interval_start, 1e-9)
        interval_start, interval_step = now, step
        eta = evaluate.format_duration((total_steps - step) / max(rate, 1e-9))
        lrs = {g: float(trainer.learning_rate(g)) for g in trainer.active}
        speed = ("(first step: tracing)" if step == start_step + 1 else
                 f"{rate:.2f} steps/s  ETA {eta}")
        if chief:
          _log(f"step {step}/{total_steps}  loss {loss:.4f}  "
               + "  ".join(f"lr_{g} {lr:.2e}" for g, lr in lrs.items()) + f"  {speed}")
        with writer.as_default(step=step):
          tf.summary.scalar("loss", loss)
          tf.summary.scalar("steps_per_second", rate)
          for group, lr in lrs.items():
            tf.summary.scalar(f"learning_rate/{group}", lr)
          for group, norm in norms.items():
            tf.summary.scalar(f"gradient_norm/{group}", float(norm))
      if chief and image_summary_every and step % image_summary_every == 0:
        if summary_batch is None:  # the same test images every time, read once
          summary_batch = next(iter(data.build_pipeline(source, "test", batch_size=3)))
        images, depths = summary_batch
        _write_strip(writer, step, images.numpy(), depths.numpy(),
                     predict(images).numpy())
      if chief and eval_every and step % eval_every == 0 and step < total_steps:
        metrics, _ = evaluate.evaluate_model(
            model, data.build_pipeline(source, "test", batch_size=batch_size),
            max_batches=eval_batches, predict=predict)
        with eval_writer.as_default(step=step):
          for name, value in metrics.items():
            tf.summary.scalar(f"metrics/{name}", value)
        _log(f"eval at step {step}: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
      if step % checkpoint_every == 0 or step == total_steps or stop.received:
        manager.save(checkpoint_number=step)
      if stop.received:
        _log(f"{stop.received}: saved a checkpoint at step {step} and stopped; the same command "
             f"resumes")
        break
  writer.flush()
  result = {"step": step, "total_steps": total_steps, "loss": loss,
            "loss_history": loss_history, "checkpoint": manager.latest_checkpoint,
            "learning_rates": {g: float(trainer.learning_rate(g, step - 1)) for g in trainer.active}}
  if chief and final_eval and step >= total_steps:
    result["eval"] = _final_evaluation(predict, source, batch_size, model_dir,
                                       final_eval_batches)
  if chief and export_saved_model and step >= total_steps:
    result["export"] = _export(model, model_dir, step)
  return result


def _checkpoints_on_record(manager):
  """The manager's checkpoints and any complete-looking `ckpt-N` beside them that its state file
  does not list yet (a kill between writing a checkpoint and recording it), oldest first."""
  prefixes = set(manager.checkpoints)
  for index_file in tf.io.gfile.glob(os.path.join(manager.directory, "ckpt-*.index")):
    prefixes.add(index_file[:-len(".index")])

  def number(prefix):
    suffix = prefix.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1

  return sorted(prefixes, key=number)


def _restore_latest_readable(checkpoint, manager):
  """Restores the newest checkpoint that reads completely; a truncated or half-written one (a
  kill during the save, a full disk) is skipped with one warning line. Raises if none reads:
  never a silent fresh start."""
  failures = []
  for path in reversed(_checkpoints_on_record(manager)):
    try:
      checkpoint.restore(path).assert_existing_objects_matched()
      return path
    except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError, OSError) as error:
      reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
      logging.warning("%s: unreadable (%s); trying the previous checkpoint", path, reason[:200])
      failures.append(path)
  raise TrainingSetupError(f"no readable checkpoint in {manager.directory} "
                           f"({', '.join(failures)} all failed); move them away to start afresh")


def _export(model, model_dir, step):
  export_dir = os.path.join(model_dir, "export")
  export.export_saved_model(model, export_dir, inference.configured_size("crop_shape"), step,
                            inference.configured_model_description(),
                            inference.configured_size("resize_shape"))
  _log(f"wrote SavedModel {export_dir} (tools/predict.py --model={export_dir} photo.jpg)")
  return export_dir


def _final_evaluation(predict, source, batch_size, model_dir, max_batches):
  """Model vs. the best constant-depth predictor on the test split, side by side."""
  out_dir = os.path.join(model_dir, "eval")
  os.makedirs(out_dir, exist_ok=True)
  test = data.build_pipeline(source, "test", batch_size=batch_size, cache=True)
  total = data.count_frames(source, "test")
  if max_batches:
    total = min(total or max_batches * batch_size, max_batches * batch_size)
  metrics, count = evaluate.evaluate_model(
      None, test, max_batches=max_batches, predict=predict,
      progress=evaluate.Progress(total, "final evaluation", print_fn=_log))
  constant_value = evaluate.median_depth(
      data.build_pipeline(source, "train", training=False, repeat=False, batch_size=batch_size))
  constant = evaluate.constant_depth_metrics(test, constant_value, max_batches=max_batches)
  report = {"source": source, "images": count, "protocol": "paper (prediction upsampled 2x "
            "bilinearly to the 240x320 crop; per-image mean)", "model": metrics,
            "constant_depth": {"value_m": constant_value, **constant}}
  with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
    json.dump(report, f, indent=2)
  _log(f"{'metric':<8} {'model':>9} {'constant ' + format(constant_value, '.2f') + ' m':>16}")
  for name in metrics:
    _log(f"{name:<8} {metrics[name]:>9.4f} {constant[name]:>16.4f}")
  images, depths = next(iter(test))
  pred = predict(images).numpy()
  strips = [visualization.comparison_strip(images[i].numpy(), depths[i].numpy(), pred[i])
            for i in range(min(4, images.shape[0]))]
  Image.fromarray(np.concatenate(strips, axis=0)).save(os.path.join(out_dir, "preview.png"))
  logging.info("wrote %s", out_dir)
  return report
