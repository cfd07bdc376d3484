"""Paper Eq. 3: L1 in log space, over valid ground-truth pixels only."""

import tensorflow as tf

from attn_depth.data.preprocessing import valid_mask


def match_ground_truth_resolution(pred, gt):
  """The 1/2-resolution prediction upsampled 2x bilinearly to the ground truth's size: the loss
  and the paper's evaluation protocol compare at the ground truth's resolution."""
  if pred.shape[1:3] == gt.shape[1:3] and pred.shape[1] is not None:
    return pred
  return tf.image.resize(pred, tf.shape(gt)[1:3], method="bilinear")


def log_l1_per_example(gt, pred):
  """Mean over each image's valid pixels of |ln(D + 1) - ln(D_hat + 1)|: shape [B].

  Invalid pixels (0, NaN, inf) contribute nothing, not even through NaN gradients; an image
  without any valid pixel has loss 0.
  """
  gt = tf.cast(gt, tf.float32)
  pred = tf.cast(pred, tf.float32)
  mask = valid_mask(gt)
  safe_gt = tf.where(mask, gt, tf.ones_like(gt))
  error = tf.abs(tf.math.log1p(safe_gt) - tf.math.log1p(tf.maximum(pred, 0.0)))
  error = tf.where(mask, error, tf.zeros_like(error))
  mask = tf.cast(mask, tf.float32)
  axes = tf.range(1, tf.rank(gt))
  return tf.reduce_sum(error, axes) / tf.maximum(tf.reduce_sum(mask, axes), 1.0)
