"""Dynamic loss scaling for float16 training, kept by the trainer rather than by Keras.

Keras 3's `LossScaleOptimizer` is not used, for two reasons found on several replicas and with
two optimizers (docs/paper_to_code.md, "float16 loss scaling"):
- under a MirroredStrategy it checks for inf/NaN in the *first replica's local* gradients
  before they are all-reduced, so an overflow on another replica reaches Adam's all-reduce and
  the weights, and the scale is not lowered;
- one `LossScaleOptimizer` per variable group gives each group a scale of its own, but the
  backward pass can run at only one of them: an overflow in the other group's gradients is not
  cured by lowering that group's scale, and the group skips every later step.

Here there is one scale for the one backward pass, the decision to apply or skip is made on a
count of non-finite gradient values summed over every replica (and worker), and every group
skips together. The rule is Keras' default dynamic one: start at 2^15, halve on an overflow,
double after 2,000 finite steps in a row.
"""

import tensorflow as tf

INITIAL_SCALE = 2.0 ** 15
GROWTH_STEPS = 2000


class DynamicLossScale(tf.Module):
  """The scale, the finite steps since it last changed, and the steps skipped so far.

  Created under the strategy's scope; `update` is called in cross-replica context with the
  all-replica decision, so every copy of the variables changes the same way."""

  def __init__(self, initial_scale=INITIAL_SCALE, growth_steps=GROWTH_STEPS):
    super().__init__(name="loss_scale")
    self.growth_steps = int(growth_steps)
    self.scale = tf.Variable(float(initial_scale), dtype=tf.float32, trainable=False,
                             name="scale")
    self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")
    self.skipped_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_steps")

  def update(self, finite):
    """After a step: grow the scale after `growth_steps` finite steps, halve it on an
    overflow (and count the skipped step)."""

    def grow():
      grown = self.good_steps + 1 >= self.growth_steps
      self.scale.assign(tf.where(grown, self.scale * 2.0, self.scale))
      self.good_steps.assign(tf.where(grown, tf.constant(0, tf.int64), self.good_steps + 1))

    def shrink():
      self.scale.assign(tf.maximum(self.scale * 0.5, 1.0))
      self.good_steps.assign(0)
      self.skipped_steps.assign_add(1)

    tf.cond(finite, grow, shrink)


def non_finite_count(gradients):
  """The number of inf/NaN values in `gradients`, as a float32 (what every all-reduce
  implementation sums): summed over replicas, zero means every replica may apply."""
  return tf.add_n([tf.reduce_sum(tf.cast(~tf.math.is_finite(g), tf.float32))
                   for g in gradients])
