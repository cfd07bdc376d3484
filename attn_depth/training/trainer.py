"""The training step and its state: two optimizers, an own int64 step, checkpoints.

Shaped after Orbit's single-task trainer: a traced step that calls `strategy.run`, the loss
scaled for the global batch, one optimizer per variable group (paper 3.4: the DFE and the DMG
have their own learning-rate schedules), and for float16 one dynamic loss scale for both
(loss_scale.py says why not Keras' LossScaleOptimizer).
"""

import keras
import tensorflow as tf

from attn_depth.models import variable_groups
from attn_depth.training import loss_scale as loss_scale_lib
from attn_depth.training.losses import log_l1_per_example
from attn_depth.training.losses import match_ground_truth_resolution
from attn_depth.training.schedules import poly_learning_rate

GROUPS = ("dfe", "dmg")


class Trainer:
  """Owns the model's training state; `train_step` runs one distributed step.

  Args:
    model: built under `strategy.scope()`.
    strategy: the tf.distribute strategy.
    global_batch_size: examples per step over all replicas.
    decay_steps: Eq. 4's decay_steps.
    learning_rates: {"dfe": (initial, end), "dmg": (initial, end)}.
    power: Eq. 4's power.
    loss_scaling: dynamic loss scaling (float16 mixed precision): one scale for the backward
      pass; a step whose gradients hold inf/NaN on any replica is skipped by every group on
      every replica (the global step still advances: the input pipeline has moved on).
    jit_compile: compile the replica step with XLA.
  """

  def __init__(self, model, strategy, global_batch_size, decay_steps, learning_rates, power=1.0,
               loss_scaling=False, jit_compile=False):
    self.model, self.strategy = model, strategy
    self.global_batch_size = int(global_batch_size)
    self.decay_steps, self.learning_rates, self.power = decay_steps, learning_rates, power
    self.groups = variable_groups(model)
    self.active = [g for g in GROUPS if self.groups[g]]  # a fully frozen group has no optimizer
    with strategy.scope():
      self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
      self.optimizers = {}
      for group in self.active:
        optimizer = keras.optimizers.Adam(learning_rates[group][0], name=f"adam_{group}")
        # Every slot exists before a checkpoint is restored into it.
        optimizer.build(self.groups[group])
        self.optimizers[group] = optimizer
      self.loss_scale = loss_scale_lib.DynamicLossScale() if loss_scaling else None
    self.loss_scaling = loss_scaling
    state = {f"{group}_optimizer": opt for group, opt in self.optimizers.items()}
    if self.loss_scale is not None:
      state["loss_scale"] = self.loss_scale
    self.checkpoint = tf.train.Checkpoint(model=model, global_step=self.global_step, **state)
    self._gradients = tf.function(self._gradients_fn, jit_compile=jit_compile)
    self._step = tf.function(self._step_fn)
    self.last_norms = {}

  def restore(self, path):
    """Restores checkpoint `path`, asserting that every object of this trainer is in it.

    Also reads a float16 checkpoint written before the trainer kept its own loss scale (one
    Keras LossScaleOptimizer per group: the group's Adam under `<group>_optimizer/
    inner_optimizer`, its scale and finite-step counter beside it); the smaller of the groups'
    scales and counters carries on as the one scale."""
    names = [name for name, _ in tf.train.list_variables(path)]
    if self.loss_scale is None or not any("_optimizer/inner_optimizer/" in n for n in names):
      self.checkpoint.restore(path).assert_existing_objects_matched()
      return
    scales = {g: tf.Variable(0.0) for g in self.optimizers}
    counters = {g: tf.Variable(0, dtype=tf.int64) for g in self.optimizers}
    wrappers = {f"{g}_optimizer": tf.train.Checkpoint(inner_optimizer=opt,
                                                      dynamic_scale=scales[g],
                                                      step_counter=counters[g])
                for g, opt in self.optimizers.items()}
    view = tf.train.Checkpoint(model=self.model, global_step=self.global_step, **wrappers)
    view.restore(path).assert_existing_objects_matched()
    self.loss_scale.scale.assign(min(float(v.numpy()) for v in scales.values()))
    self.loss_scale.good_steps.assign(min(int(v.numpy()) for v in counters.values()))

  @property
  def skipped_steps(self):
    """Steps skipped for inf/NaN gradients (float16's loss scaling; 0 otherwise)."""
    return 0 if self.loss_scale is None else int(self.loss_scale.skipped_steps.numpy())

  @property
  def step(self):
    """The global step as a Python int (also for mirrored variables)."""
    return int(self.global_step.numpy())

  def learning_rate(self, group, step=None):
    """Eq. 4 at `step` (default: the current global step)."""
    initial, end = self.learning_rates[group]
    return poly_learning_rate(self.global_step if step is None else step, initial, end,
                              self.decay_steps, self.power)

  def what_ran(self):
    """What the steps so far ran in, read off the objects rather than the switches: the
    convolutions' compute dtype, loss scaling in every group, and whether the forward and
    backward pass was traced (run) as an XLA cluster. Reports put it beside their numbers."""
    convolutions = [layer for layer in self.model._flatten_layers()  # pylint: disable=protected-access
                    if isinstance(layer, keras.layers.Conv2D)]
    traces = self._gradients._list_all_concrete_functions()  # pylint: disable=protected-access
    return {
        "compute_dtype": sorted({layer.compute_dtype for layer in convolutions}),
        "loss_scaling": isinstance(self.loss_scale, loss_scale_lib.DynamicLossScale),
        "xla": bool(traces) and all(t.function_def.attr["_XlaMustCompile"].b for t in traces),
    }

  def _gradients_fn(self, images, depths):
    """Forward and backward pass: the part XLA compiles (the updates stay outside)."""
    variables = [v for group in self.active for v in self.groups[group]]
    with tf.GradientTape() as tape:
      pred = self.model(images, training=True)
      per_example = log_l1_per_example(depths, match_ground_truth_resolution(pred, depths))
      # Each replica holds global_batch / replicas examples and the optimizers sum gradients
      # over replicas; dividing by the global batch (not the local one) makes that sum the
      # gradient of the mean loss over the global batch, whatever the number of replicas.
      loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)
      # float16: the one backward pass runs at the one loss scale (loss_scale.py).
      scaled_loss = (loss * tf.cast(self.loss_scale.scale, loss.dtype) if self.loss_scaling
                     else loss)
    return loss, tape.gradient(scaled_loss, variables)

  def _split(self, gradients):
    """The flat gradient list as {group: its gradients}, in `self.active`'s order."""
    out, start = {}, 0
    for group in self.active:
      out[group] = gradients[start:start + len(self.groups[group])]
      start += len(self.groups[group])
    return out

  def _replica_gradients_fn(self, images, depths):
    """This replica's loss, unscaled gradients, their norms by group and (float16) how many
    of its gradient values are inf/NaN."""
    loss, gradients = self._gradients(images, depths)
    if self.loss_scaling:
      gradients = [g / self.loss_scale.scale for g in gradients]
      bad = loss_scale_lib.non_finite_count(gradients)
    else:
      bad = tf.constant(0.0)
    norms = {group: tf.linalg.global_norm(grads)
             for group, grads in self._split(gradients).items()}
    return loss, gradients, norms, bad

  def _replica_apply_fn(self, gradients):
    for group, grads in self._split(gradients).items():
      self.optimizers[group].apply_gradients(zip(grads, self.groups[group]))

  def _step_fn(self, iterator):
    for group in self.active:
      self.optimizers[group].learning_rate = self.learning_rate(group)
    images, depths = next(iterator)
    loss, gradients, norms, bad = self.strategy.run(self._replica_gradients_fn,
                                                    args=(images, depths))
    if self.loss_scaling:
      # The decision is taken once, in cross-replica context, on the count summed over every
      # replica, so every replica applies or every replica skips (Keras' LossScaleOptimizer
      # takes the first replica's local answer).
      finite = tf.equal(self.strategy.reduce(tf.distribute.ReduceOp.SUM, bad, axis=None), 0)

      def apply():
        self.strategy.run(self._replica_apply_fn, args=(gradients,))

      tf.cond(finite, apply, lambda: None)
      self.loss_scale.update(finite)
    else:
      self.strategy.run(self._replica_apply_fn, args=(gradients,))
    self.global_step.assign_add(1)
    loss = self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
    norms = {g: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, n, axis=None)
             for g, n in norms.items()}
    return loss, norms

  def train_step(self, iterator):
    """One step on the next global batch; returns (loss over the global batch, grad norms)
    and keeps the norms in `last_norms` for summaries."""
    loss, self.last_norms = self._step(iterator)
    return loss, self.last_norms
