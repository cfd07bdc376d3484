"""The custom layers of the model family; everything else is stock Keras.

All are registered under the package name "attn_depth", so `keras.saving.load_model` reads
a saved `.keras` file once `attn_depth` has been imported -- the one registration users need.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

# keras.applications.resnet.preprocess_input ("caffe" mode): BGR order, ImageNet channel means
# subtracted from 0..255 values, no scaling. The ImageNet weights expect exactly this.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="attn_depth")
class ResNetPreprocess(keras.layers.Layer):
  """RGB in [0, 1] -> the input keras.applications' ResNet v1 weights were trained on.

  One 1x1 convolution (channel swap x 255, minus the means) rather than flip, multiply and
  subtract: the same numbers in float32, and one op LiteRT's full-integer quantization handles
  (its int8 flip-multiply-subtract chain was off by 18 % in depth)."""

  def call(self, rgb):
    kernel = np.zeros((1, 1, 3, 3), np.float32)
    kernel[0, 0, [2, 1, 0], [0, 1, 2]] = 255.0  # RGB -> BGR, 0..255
    bgr = ops.conv(rgb, ops.convert_to_tensor(kernel, dtype=rgb.dtype), padding="valid")
    return bgr - ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=bgr.dtype)


@keras.saving.register_keras_serializable(package="attn_depth")
class CropToMatch(keras.layers.Layer):
  """Crops the first input's height and width to those of the second (top-left anchored).

  A strided encoder rounds odd sizes up (240 -> ... -> 15 -> 8), so the decoder's 2x upsampled
  map can be one row or column larger than the skip connection it meets.
  """

  def call(self, inputs):
    x, reference = inputs
    shape = ops.shape(reference)
    return x[:, :shape[1], :shape[2], :]

  def compute_output_shape(self, input_shapes):
    x_shape, reference_shape = input_shapes
    return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])


@keras.saving.register_keras_serializable(package="attn_depth")
class BilinearUpsample2x(keras.layers.Layer):
  """2x bilinear upsampling (half-pixel centres, as tf.image.resize).

  keras.layers.UpSampling2D("bilinear") checks its target size with a Python comparison that
  fails when height and width are unknown while tracing, which a SavedModel serving any image
  size needs; this layer computes the size as a tensor instead.
  """

  def call(self, x):
    shape = ops.shape(x)
    return tf.image.resize(x, tf.stack([shape[1] * 2, shape[2] * 2]), method="bilinear")

  def compute_output_shape(self, input_shape):
    batch, height, width, channels = input_shape
    return (batch, None if height is None else 2 * height,
            None if width is None else 2 * width, channels)


@keras.saving.register_keras_serializable(package="attn_depth")
def stable_softplus(x):
  """softplus(x) = max(x, 0) + log(1 + exp(-|x|)): equal to keras' softplus, but without an
  exp of large inputs. TFLite's own SOFTPLUS kernel saturates near 88.7, so this spelled-out
  form keeps exported models exact for any output. log(1 + e) rather than log1p(e): ONNX (and
  tf2onnx) have no Log1p; the two differ only where e < 6e-8, by less than 6e-8 m."""
  return ops.relu(x) + ops.log(1.0 + ops.exp(-ops.abs(x)))
