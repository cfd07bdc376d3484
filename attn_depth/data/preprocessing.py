"""The paper's input processing (section 4.1), one function for training, evaluation, prediction.

480x640 -> resize 312x416 -> centre crop 240x320 ("to remove blank boundaries"). Training adds
the paper's online augmentation: brightness, contrast, joint horizontal flip.
"""

import gin
import tensorflow as tf

PAPER_RESIZE = (312, 416)
PAPER_CROP = (240, 320)


def valid_mask(depth):
  """True where depth is a measurement: finite and > 0."""
  return tf.logical_and(tf.math.is_finite(depth), depth > 0)


def clean_depth(depth):
  """Depth with every invalid pixel (0, NaN, inf, negative) set to 0, the one invalid marker."""
  return tf.where(valid_mask(depth), depth, tf.zeros_like(depth))


def resize_and_crop_image(image, resize_shape, crop_shape):
  """uint8 or float image [..., H, W, 3] -> float32 in [0, 1], resized and centre-cropped."""
  image = tf.image.convert_image_dtype(image, tf.float32)
  # Plain bilinear, as TF 1's resize_images did for the paper; antialiasing triples the cost of
  # the resize for a 0.65x step that aliases little.
  image = tf.image.resize(image, resize_shape, method="bilinear")
  return _centre_crop(image, crop_shape)


def resize_and_crop_depth(depth, resize_shape, crop_shape):
  """Depth [..., H, W] -> [..., h, w, 1]; nearest neighbour never mixes valid and invalid."""
  depth = clean_depth(tf.cast(depth, tf.float32))[..., None]
  depth = tf.image.resize(depth, resize_shape, method="nearest")
  return _centre_crop(depth, crop_shape)


def _centre_crop(image, crop_shape):
  height, width = image.shape[-3], image.shape[-2]
  top, left = (height - crop_shape[0]) // 2, (width - crop_shape[1]) // 2
  return image[..., top:top + crop_shape[0], left:left + crop_shape[1], :]


@gin.configurable
def augment(image, depth, seed, brightness=0.2, contrast=(0.8, 1.2), flip_probability=0.5):
  """Paper 4.1's online augmentation, stateless: the same seed gives the same result.

  1. brightness: image + delta, delta ~ U[-0.2, 0.2] (RGB in [0, 1]);
  2. contrast: (image - mean) * factor + mean per channel, factor ~ U[0.8, 1.2];
  3. image and depth flipped left-right together with probability 0.5.
  The image is clipped back to [0, 1] (the range the network's preprocessing expects).
  """
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3)
  delta = tf.random.stateless_uniform([], seeds[0], -brightness, brightness)
  factor = tf.random.stateless_uniform([], seeds[1], contrast[0], contrast[1])
  flip = tf.random.stateless_uniform([], seeds[2]) < flip_probability
  image = tf.image.adjust_contrast(image + delta, factor)
  image = tf.clip_by_value(image, 0.0, 1.0)
  image = tf.cond(flip, lambda: tf.reverse(image, axis=[-2]), lambda: image)
  depth = tf.cond(flip, lambda: tf.reverse(depth, axis=[-2]), lambda: depth)
  return image, depth


@gin.configurable
def preprocess_example(example, training, seed=None, resize_shape=PAPER_RESIZE,
                       crop_shape=PAPER_CROP):
  """{"image": uint8 [480, 640, 3], "depth": [480, 640]} -> (image, depth).

  Returns image float32 [240, 320, 3] in [0, 1] and depth float32 [240, 320, 1] in metres with
  0 where invalid (see `valid_mask`). With `training`, `seed` (int64 [2]) drives the
  augmentation; the same seed gives the same example.
  """
  image = resize_and_crop_image(example["image"], resize_shape, crop_shape)
  depth = resize_and_crop_depth(example["depth"], resize_shape, crop_shape)
  if training:
    if seed is None:
      raise ValueError("preprocess_example(training=True) needs a seed")
    image, depth = augment(image, depth, seed)
  return image, depth
