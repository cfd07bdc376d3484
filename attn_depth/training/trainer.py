"""The training step and its state: two optimizers, an own int64 step, checkpoints.

Shaped after Orbit's single-task trainer: a traced step that calls `strategy.run`, the loss
scaled for the global batch, one optimizer per variable group (paper 3.4: the DFE and the DMG
have their own learning-rate schedules).
"""

import keras
import tensorflow as tf

from attn_depth.models import variable_groups
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
    loss_scaling: dynamic loss scaling (float16 mixed precision).
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
        if loss_scaling:
          optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"loss_scale_{group}")
        # Every slot exists before a checkpoint is restored into it.
        optimizer.build(self.groups[group])
        self.optimizers[group] = optimizer
    self.loss_scaling = loss_scaling
    self.checkpoint = tf.train.Checkpoint(
        model=model, global_step=self.global_step,
        **{f"{group}_optimizer": opt for group, opt in self.optimizers.items()})
    self._gradients = tf.function(self._gradients_fn, jit_compile=jit_compile)
    self._step = tf.function(self._step_fn)
    self.last_norms = {}

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
        "loss_scaling": all(isinstance(opt, keras.optimizers.LossScaleOptimizer)
                            for opt in self.optimizers.values()),
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
      # float16: one backward pass at the first optimizer's loss scale (see _replica_step_fn).
      scaled_loss = (self.optimizers[self.active[0]].scale_loss(loss) if self.loss_scaling
                     else loss)
    return loss, tape.gradient(scaled_loss, variables)

  def _replica_step_fn(self, images, depths):
    loss, gradients = self._gradients(images, depths)
    norms, start = {}, 0
    for group in self.active:
      count = len(self.groups[group])
      grads = gradients[start:start + count]
      start += count
      if self.loss_scaling:
        # Rescaled to this group's own scale, so each LossScaleOptimizer unscales, checks for
        # overflow and adapts its scale on its own.
        scale = self.optimizers[group].dynamic_scale
        grads = [g * (scale / self.optimizers[self.active[0]].dynamic_scale) for g in grads]
        norms[group] = tf.linalg.global_norm(grads) / scale
      else:
        norms[group] = tf.linalg.global_norm(grads)
      self.optimizers[group].apply_gradients(zip(grads, self.groups[group]))
    return loss, norms

  def _step_fn(self, iterator):
    for group in self.active:
      self.optimizers[group].learning_rate = self.learning_rate(group)
    images, depths = next(iterator)
    loss, norms = self.strategy.run(self._replica_step_fn, args=(images, depths))
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
