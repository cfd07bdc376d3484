"""Paper Eq. 4: the "poly" learning-rate policy."""

import tensorflow as tf


def poly_learning_rate(step, initial, end, decay_steps, power=1.0):
  """l = (l_init - l_end) * (1 - min(step, decay_steps) / decay_steps)^power + l_end."""
  step = tf.minimum(tf.cast(step, tf.float64), tf.cast(decay_steps, tf.float64))
  fraction = 1.0 - step / tf.cast(decay_steps, tf.float64)
  return tf.cast((initial - end) * fraction ** power + end, tf.float32)
