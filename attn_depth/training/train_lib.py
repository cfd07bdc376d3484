"""`train()`: the one configurable function behind attn-depth train.

Paper 3.4's recipe is the default (gin/base.gin): Adam, per-module poly learning rates
(DFE 1e-5 -> 1e-7, DMG 1e-4 -> 1e-6, power 1, decay over 16 epochs), 20 epochs, batch 3.
"""

import contextlib
import dataclasses
import datetime
import functools
import json
import logging
import math
import os
import resource
import time

import gin
import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from attn_depth import data
from attn_depth.serving import export
from attn_depth.core import files
from attn_depth.core import machine
from attn_depth.serving import inference
from attn_depth import models
from attn_depth.core import precision as precision_lib
from attn_depth.core import visualization
from attn_depth.core.console import Progress
from attn_depth.core.console import format_duration
from attn_depth.core.run_dir import RunDir
from attn_depth.evaluation import reports
from attn_depth.evaluation.evaluator import Evaluator
from attn_depth.evaluation.evaluator import constant_depth_network
from attn_depth.evaluation.evaluator import median_depth
from attn_depth.training import distribution
from attn_depth.training.determinism import check_deterministic_xla
from attn_depth.training.determinism import configure_determinism
from attn_depth.training.controller import Checkpoints
from attn_depth.training.controller import Controller
from attn_depth.training.controller import PeriodicAction
from attn_depth.training.controller import StopSignals
from attn_depth.training.controller import TrainingSetupError
from attn_depth.training.run_lock import RunLock
from attn_depth.training.trainer import Trainer

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'


def _log(message):
  print(message, flush=True)


@dataclasses.dataclass(frozen=True)
class Schedule:
  """How long the run is and over how many steps Eq. 4 decays the learning rates."""
  steps_per_epoch: int
  total_steps: int
  decay_steps: int

  def describe(self):
    def epochs(steps):
      count = steps / self.steps_per_epoch
      return f"{count:.3g} epoch{'' if count == 1 else 's'}"

    return (f"{self.total_steps} steps ({epochs(self.total_steps)} of {self.steps_per_epoch} "
            f"steps); learning rates decay (Eq. 4) over {self.decay_steps} steps "
            f"({epochs(self.decay_steps)})"
            + (", then stay at their end values" if self.decay_steps < self.total_steps else ""))


def resolve_schedule(source, batch_size, epochs, decay_epochs, steps_per_epoch=None,
                     total_steps=None, decay_steps=None):
  """The run's length in steps from epochs (paper: 20 and a decay over 16), unless set in
  steps directly."""
  if steps_per_epoch is None:
    frames = data.count_frames(source, "train")
    if frames is None:
      raise TrainingSetupError(f"{source}: the number of training frames is not known in "
                               f"advance; set train.steps_per_epoch")
    steps_per_epoch = max(math.ceil(frames / batch_size), 1)
  total_steps = int(total_steps or epochs * steps_per_epoch)
  decay_steps = int(decay_steps or max(int(decay_epochs * steps_per_epoch), 1))
  return Schedule(int(steps_per_epoch), total_steps, decay_steps)


@gin.configurable(denylist=["model_dir", "strategy"])
def train(model_dir, strategy=None, source="synthetic_rooms", batch_size=3, epochs=20,
          decay_epochs=16, steps_per_epoch=None, total_steps=None, decay_steps=None,
          dfe_learning_rate=(1e-5, 1e-7), dmg_learning_rate=(1e-4, 1e-6), power=1.0,
          seed=0, deterministic=False, checkpoint_every=1000, keep_checkpoints=3, log_every=100,
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
    decay_steps: overrides decay_epochs * steps_per_epoch (with a shortened run, set it to
      decay over the run's own length; the console states it either way).
    dfe_learning_rate, dmg_learning_rate: (initial, end) of Eq. 4 for each module.
    power: Eq. 4's power.
    seed: initialisation, the per-epoch permutations and augmentation.
    deterministic: every op deterministic and single-threaded: two runs with the same seed, or
      a run resumed any number of times, end bit-identical (on one device; cost: docs/training.md, "Repeatable runs").
    checkpoint_every: steps between checkpoints (one is also written at the end, and on SIGTERM
      or a first Ctrl-C on any worker).
    keep_checkpoints: checkpoints kept.
    log_every: steps between console lines and scalar summaries.
    image_summary_every: steps between RGB | ground truth | prediction strips in TensorBoard.
    eval_every: steps between evaluations on `eval_batches` test batches (0: never).
    warm_start_from: a checkpoint (file prefix or folder) to take the model's weights from when
      `model_dir` has none; optimizers and step start fresh.
    mixed_precision: None, "float16" (with dynamic loss scaling) or "bfloat16".
    jit_compile: compile forward and backward pass with XLA.
    final_eval: evaluate on the whole test split after training (paper protocol with the
      detail metrics, beside a constant-depth predictor); writes eval/<source>_paper.json --
      the report attn-depth evaluate writes -- and eval/preview.png.
    final_eval_batches: limit the final evaluation to this many batches.
    export_saved_model: after the last step, write a SavedModel to `model_dir`/export (what
      attn-depth export writes, without TFLite) for attn-depth predict and serving.
  """
  strategy = strategy or tf.distribute.get_strategy()
  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise TrainingSetupError(f"batch size {batch_size} does not split over {replicas} replicas")
  configure_determinism(deterministic)
  keras.utils.set_random_seed(seed)
  schedule = resolve_schedule(source, batch_size, epochs, decay_epochs, steps_per_epoch,
                              total_steps, decay_steps)
  chief = distribution.is_chief(strategy)
  with _run_lock(model_dir, chief), _precision_policy(mixed_precision):
    if chief:
      _log(f"training on {source}: {schedule.describe()}; global batch {batch_size} on "
           f"{replicas} replica(s)")
    model, trainer = _model_and_trainer(
        strategy, batch_size, schedule, {"dfe": tuple(dfe_learning_rate),
                                         "dmg": tuple(dmg_learning_rate)}, power,
        mixed_precision, jit_compile, deterministic)
    spec = models.ModelSpec.from_gin()  # written beside the checkpoints: the run's identity
    checkpoints = _restored_checkpoints(trainer, model, strategy, model_dir, checkpoint_every,
                                        keep_checkpoints, warm_start_from, chief)
    iterator = _training_batches(strategy, source, batch_size, seed, trainer.step)
    if chief and _reads_test_split(trainer.step, schedule.total_steps, final_eval,
                                   image_summary_every, eval_every):
      _open_test_split(source)
    # Traced inference, never eager: called eagerly, a Keras functional model keeps every
    # intermediate map alive until its output (7 GB for the full ResNet-101 model on 3 images at
    # 240x320); the graph frees each one as soon as it is used.
    network = inference.keras_network(model, spec, source=model_dir)
    side_tasks = _SideTasks(model_dir, source, batch_size, trainer, network, schedule, chief)
    actions = _actions(side_tasks, log_every, image_summary_every if chief else 0,
                       eval_every if chief else 0, eval_batches)
    losses = _run_controller(trainer, iterator, schedule, checkpoints, actions, side_tasks,
                             strategy)
    step = trainer.step
    if chief:
      side_tasks.write_session_record(step, mixed_precision, jit_compile)
    result = _summary(step, schedule, losses, side_tasks, checkpoints, trainer)
    if chief and final_eval and step >= schedule.total_steps:
      result["eval"] = _final_evaluation(network.replace(step=step), source, batch_size, model_dir,
                                         final_eval_batches)
    if chief and export_saved_model and step >= schedule.total_steps:
      result["export"] = _export(model, spec, model_dir, step)
  return result


def _model_and_trainer(strategy, batch_size, schedule, learning_rates, power, mixed_precision,
                       jit_compile, deterministic):
  """The gin-configured model, built under the strategy, and its Trainer (two Adams with
  Eq. 4's schedules; loss scaling for float16)."""
  with strategy.scope():
    model = models.build_model(input_shape=(None, None, 3))
  check_deterministic_xla(model, deterministic, jit_compile)
  trainer = Trainer(model, strategy, batch_size, schedule.decay_steps, learning_rates, power,
                    loss_scaling=mixed_precision == "float16", jit_compile=jit_compile)
  return model, trainer


def _restored_checkpoints(trainer, model, strategy, model_dir, checkpoint_every,
                          keep_checkpoints, warm_start_from, chief):
  """The run's checkpoints, with the latest restored (or the weights warm-started from another
  run when there is none); every worker must then be at the same step."""
  checkpoints = Checkpoints(trainer.checkpoint, distribution.worker_model_dir(model_dir, strategy),
                            checkpoint_every, keep_checkpoints, restore_from=model_dir,
                            restore=trainer.restore)
  _restore_or_warm_start(checkpoints, model, warm_start_from, chief)
  distribution.check_same_step(strategy, trainer.step)
  return checkpoints


def _summary(step, schedule, losses, side_tasks, checkpoints, trainer):
  """What train() returns of the steps run (the final evaluation and export are added)."""
  return {"step": step, "total_steps": schedule.total_steps,
          "decay_steps": schedule.decay_steps, "loss": losses[-1] if losses else float("nan"),
          "stopped": side_tasks.stop_reason, "loss_history": losses,
          "checkpoint": checkpoints.latest,
          "learning_rates": {g: float(trainer.learning_rate(g, step - 1))
                             for g in trainer.active}}


def _training_batches(strategy, source, batch_size, seed, start_step):
  """The distributed iterator of training batches, from `start_step` on (a resumed run goes on
  where the interrupted one stopped in the epoch's permutation)."""
  def dataset_fn(context):
    return data.build_pipeline(
        source, "train", batch_size=context.get_per_replica_batch_size(batch_size), seed=seed,
        start_step=start_step, global_batch_size=batch_size,
        pipelines=(context.num_input_pipelines, context.input_pipeline_id))

  return iter(strategy.distribute_datasets_from_function(dataset_fn))


def _actions(side_tasks, log_every, image_summary_every, eval_every, eval_batches):
  """What the controller does besides training steps, and when (every N steps; 0: never)."""
  return [
      PeriodicAction(0, side_tasks.write_run_description, at_first_step=True),
      PeriodicAction(log_every, side_tasks.log, at_first_step=True, at_last_step=True),
      PeriodicAction(image_summary_every, side_tasks.image_strip),
      PeriodicAction(eval_every, functools.partial(side_tasks.evaluate, batches=eval_batches),
                     before_last_step_only=True),
  ]


def _run_controller(trainer, iterator, schedule, checkpoints, actions, side_tasks, strategy):
  """Trains to the schedule's end or a stop (a signal on any worker, a lost worker); returns
  the losses of the steps run."""
  with StopSignals() as stop:
    controller = Controller(trainer, iterator, schedule.total_steps, checkpoints, actions,
                            stop=distribution.coordinated(stop, strategy),
                            on_stop=side_tasks.stopped)
    with distribution.stop_on_lost_worker(strategy, lambda: controller.completed_step,
                                          lambda: checkpoints.latest):
      losses = controller.run()
  side_tasks.close()
  return losses


def _reads_test_split(step, total_steps, final_eval, image_summary_every, eval_every):
  """Whether this session reads the test split: the final evaluation, or an image summary or
  evaluation due at a step it will run (a 2-step run with summaries every 1,000 reads none)."""
  def due(every, last):
    return bool(every) and (step // every + 1) * every <= last
  return bool(final_eval or due(image_summary_every, total_steps)
              or due(eval_every, total_steps - 1))


def _open_test_split(source):
  """Opens now the test split that image summaries and evaluations read later: its one-time
  preparation (rendering procedural rooms) comes right after the training set's, with its
  progress, not as an unannounced pause at the first summary hundreds of steps in; and a test
  split that cannot be read stops the run before its first step, not at that summary."""
  data.load_table(source, "test")


def _run_lock(model_dir, chief):
  """One writer per run folder; under several workers the chief holds it (the others write
  into their own subfolders)."""
  if not chief:
    return contextlib.nullcontext()
  os.makedirs(model_dir, exist_ok=True)
  return RunLock(model_dir)


def _precision_policy(mixed_precision):
  """Keras' mixed policy for the run. What the configuration asks for is what trains (tests
  exercise float16's loss scaling on CPUs); a device without fast support is said in one line."""
  if mixed_precision not in (None, "float16", "bfloat16"):
    raise TrainingSetupError(f"mixed_precision must be None, 'float16' or 'bfloat16', "
                             f"got {mixed_precision!r}")
  reason = mixed_precision and precision_lib.unsupported_reason(mixed_precision)
  if reason:
    _LOG.warning("train.mixed_precision = %r: %s; training in it as configured (slower than "
                 "float32 here)", mixed_precision, reason)
  return precision_lib.policy(mixed_precision or "float32")


def _restore_or_warm_start(checkpoints, model, warm_start_from, chief):
  restored = checkpoints.restore_latest_readable()
  if restored:
    if chief:
      _log(f"resumed from {restored} at step {int(checkpoints.checkpoint.global_step.numpy())}")
    return
  if warm_start_from:
    path = (tf.train.latest_checkpoint(warm_start_from) if os.path.isdir(warm_start_from)
            else warm_start_from)
    if not path:
      raise TrainingSetupError(f"{warm_start_from}: no checkpoint to warm-start from")
    tf.train.Checkpoint(model=model).read(path).expect_partial()
    if chief:
      _log(f"warm start: model weights from {path}")


class _SideTasks:
  """What happens between steps besides checkpoints: console lines, scalar and image
  summaries, periodic evaluation, the operative config. Writes only on the chief."""

  def __init__(self, model_dir, source, batch_size, trainer, network, schedule, chief):
    self.model_dir, self.source, self.batch_size = model_dir, source, batch_size
    self.trainer, self.network, self.schedule, self.chief = trainer, network, schedule, chief
    summaries = (tf.summary.create_file_writer if chief
                 else lambda path: tf.summary.create_noop_writer())
    self.writer = summaries(RunDir(model_dir).train_logs)
    self.eval_writer = summaries(RunDir(model_dir).eval_dir)
    self._interval = (time.perf_counter(), trainer.step)
    self._first_step = trainer.step + 1
    self._session_start = time.time()
    self._after_first_step = None  # (time, step): the speed excludes the first step's tracing
    self._summary_batch = None
    self.stop_reason = None

  def write_run_description(self, step, loss):
    """model_spec.json (what the network is: all a reader needs to rebuild it) and
    operative_config.gin (every parameter the run actually used, Trax's _save_gin), before the
    first checkpoint is written."""
    del loss
    self._after_first_step = (time.perf_counter(), step)
    if self.chief:
      self.network.spec.save(self.model_dir)
      files.write_text(RunDir(self.model_dir).operative_config,
                       gin.operative_config_str())

  def log(self, step, loss):
    now = time.perf_counter()
    rate = (step - self._interval[1]) / max(now - self._interval[0], 1e-9)
    self._interval = (now, step)
    eta = format_duration((self.schedule.total_steps - step) / max(rate, 1e-9))
    lrs = {g: float(self.trainer.learning_rate(g)) for g in self.trainer.active}
    speed = ("(first step: tracing)" if step == self._first_step else
             f"{rate:.2f} steps/s  ETA {eta}")
    if self.chief:
      _log(f"step {step}/{self.schedule.total_steps}  loss {loss:.4f}  "
           + "  ".join(f"lr_{g} {lr:.2e}" for g, lr in lrs.items()) + f"  {speed}")
    with self.writer.as_default(step=step):
      tf.summary.scalar("loss", loss)
      tf.summary.scalar("steps_per_second", rate)
      for group, lr in lrs.items():
        tf.summary.scalar(f"learning_rate/{group}", lr)
      for group, norm in self.trainer.last_norms.items():
        tf.summary.scalar(f"gradient_norm/{group}", float(norm))

  def image_strip(self, step, loss, count=3):
    del loss
    if self._summary_batch is None:  # the same test images every time, read once
      self._summary_batch = next(iter(data.build_pipeline(self.source, "test", batch_size=3)))
    images, depths = (t.numpy() for t in self._summary_batch)
    pred = self.network.network(self._summary_batch[0])
    strips = [visualization.comparison_strip(images[i], depths[i], pred[i])
              for i in range(min(count, images.shape[0]))]
    with self.writer.as_default(step=step):
      tf.summary.image("rgb_gt_prediction", np.stack(strips), max_outputs=count)

  def evaluate(self, step, loss, batches):
    """The paper protocol with the detail metrics on the first `batches` test batches (the
    Evaluator of attn-depth evaluate), to TensorBoard (metrics/, detail/) and the console."""
    del loss
    evaluator = Evaluator("paper", batch_size=self.batch_size,
                          max_images=_images_of(batches, self.batch_size))
    result = evaluator.run(self.network.replace(step=step), data.load_table(self.source, "test"))
    with self.eval_writer.as_default(step=step):
      for name, value in result["metrics"].items():
        tf.summary.scalar(f"metrics/{name}", value)
      for name, value in result["boundary"].items():
        if np.isfinite(value):  # undefined where no image has edges
          tf.summary.scalar(f"detail/{name}", value)
    shown = {**result["metrics"], **{name: result["boundary"][name]
                                     for name in reports.DETAIL_COLUMNS[:2]}}
    _log(f"eval at step {step} ({result['images']} test frames): "
         + "  ".join(f"{k} {v:.4f}" for k, v in shown.items()))

  def stopped(self, reason, step):
    self.stop_reason = reason
    if self.chief:
      _log(f"{reason}: saved a checkpoint at step {step} and stopped; the same command resumes")

  def close(self):
    self.writer.flush()
    self.eval_writer.flush()

  def write_session_record(self, step, mixed_precision, jit_compile):
    """Appends this process's share of the run to train/sessions.json: steps, speed, peak
    memory and what it ran on (a resumed run has one entry per session), for the reproduction's
    results table and anyone comparing machines."""
    seconds = time.time() - self._session_start
    speed = None
    if self._after_first_step and step > self._after_first_step[1]:
      speed = ((step - self._after_first_step[1])
               / max(time.perf_counter() - self._after_first_step[0], 1e-9))
    entry = {
        "started": _utc(self._session_start), "ended": _utc(time.time()),
        "first_step": self._first_step, "last_step": step, "seconds": round(seconds, 1),
        "steps_per_second": speed, "stopped": self.stop_reason,
        "peak_host_memory_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2,
        "peak_device_memory_gb": _peak_device_memory_gb(),
        "mixed_precision": mixed_precision, "jit_compile": bool(jit_compile),
        **machine.describe(),
    }
    path = RunDir(self.model_dir).sessions
    sessions = []
    if os.path.exists(path):
      try:
        with open(path, encoding="utf-8") as f:
          sessions = json.load(f)["sessions"]
      except (OSError, ValueError, KeyError):
        sessions = []  # a torn record from a killed session: start it again
    sessions.append(entry)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    files.write_json(path, {"sessions": sessions})


def _utc(seconds):
  return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(
      timespec="seconds")


def _peak_device_memory_gb():
  """Peak memory of the first GPU in this process (None on a CPU)."""
  if not tf.config.list_physical_devices("GPU"):
    return None
  try:
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 1024 ** 3
  except (ValueError, RuntimeError):
    return None


def _images_of(batches, batch_size):
  """The frame limit of an evaluation over `batches` batches (None: all frames)."""
  return batches * batch_size if batches else None


def _export(model, spec, model_dir, step):
  export_dir = RunDir(model_dir).export_dir
  with export.replacing_export(export_dir) as partial:  # never beside another step's files
    export.export_saved_model(model, partial, spec, step, run_dir=model_dir)
  _log(f"wrote SavedModel {export_dir} (attn-depth predict --model={export_dir} photo.jpg)")
  return export_dir


def _final_evaluation(network, source, batch_size, model_dir, max_batches):
  """The paper protocol on the test split, with the detail metrics, beside the best
  constant-depth predictor scored by the same Evaluator: eval/<source>_paper.json, the report
  attn-depth evaluate writes, and eval/preview.png."""
  evaluator = Evaluator("paper", batch_size=batch_size,
                        max_images=_images_of(max_batches, batch_size))
  total = data.count_frames(source, "test")
  if evaluator.max_images:
    total = min(total or evaluator.max_images, evaluator.max_images)
  result = evaluator.run(network, data.load_table(source, "test"),
                         progress=Progress(total, "final evaluation", print_fn=_log))
  constant_value = median_depth(
      data.build_pipeline(source, "train", training=False, repeat=False, batch_size=batch_size))
  constant = Evaluator("paper", boundary=False, batch_size=batch_size,
                       max_images=evaluator.max_images).run(
                           constant_depth_network(constant_value, network),
                           data.load_table(source, "test"))
  report = evaluator.report(network, result, source, baseline={
      "name": f"constant {constant_value:.2f} m (median training depth)",
      "value_m": constant_value, "metrics": constant["metrics"]})
  path, markdown_path = reports.write_report(report,
                                             RunDir(model_dir).report(evaluator.result_name(source)))
  metrics = result["metrics"]
  _log(f"{'metric':<8} {'model':>9} {'constant ' + format(constant_value, '.2f') + ' m':>16}")
  for name in metrics:
    _log(f"{name:<8} {metrics[name]:>9.4f} {constant['metrics'][name]:>16.4f}")
  for name in reports.DETAIL_COLUMNS:
    _log(f"{name:<12} {result['boundary'][name]:>5.4f}")
  _log(f"({reports.DETAIL_MEANING})")
  _write_preview(network, source, batch_size, RunDir(model_dir).preview)
  _log(f"report: {path} and {markdown_path} (the same as attn-depth evaluate writes), preview "
       f"{RunDir(model_dir).preview}")
  return report


def _write_preview(network, source, batch_size, path, count=4):
  """RGB | ground truth | prediction of the first test frames, as the network sees them (one
  evaluation batch: the shape the network is already traced for)."""
  images, depths = next(iter(data.build_pipeline(source, "test", batch_size=batch_size)))
  pred = network.network(images)
  strips = [visualization.comparison_strip(images[i].numpy(), depths[i].numpy(), pred[i])
            for i in range(min(count, images.shape[0]))]
  with files.replacing(path) as partial:
    Image.fromarray(np.concatenate(strips, axis=0)).save(partial)
