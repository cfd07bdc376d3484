"""A network as depth: `DepthNetwork` (what evaluation scores and serving loads), how a photo
is fitted to it (`FITS`, `resize_predict_resize`), and a Keras model as one
(`keras_network`, `in_precision`). Loading from files is `attn_depth.serving.inference`."""

import numpy as np
import tensorflow as tf

from attn_depth.core import precision as precision_lib


FITS = ("whole", "squeeze")
SIZE_MULTIPLE = 8  # the network's input sides must divide by 8


def whole_frame_size(image_size, frame_size):
  """TF ops: the [height, width] (int32) at which a photo of `image_size` has the area of the
  training frames `frame_size`, aspect ratio kept, sides rounded to multiples of 8."""
  size = tf.cast(image_size, tf.float32)
  scale = tf.sqrt(float(frame_size[0] * frame_size[1]) / (size[0] * size[1]))
  return tf.cast(tf.maximum(tf.round(size * scale / SIZE_MULTIPLE), 1.0) * SIZE_MULTIPLE,
                 tf.int32)


def resize_predict_resize(network_fn, images, input_size, frame_size=None, fit="whole"):
  """TF ops: uint8 or float [B, H, W, 3] -> resized as `fit` says (module docstring) ->
  network -> depth resized back to [B, H, W]."""
  if fit not in FITS:
    raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
  size = tf.shape(images)[1:3]
  target = (input_size if fit == "squeeze" else
            whole_frame_size(size, frame_size or input_size))
  if images.dtype == tf.uint8:
    # Resized first, scaled after (the same values: bilinear is linear), so that a large photo
    # is never held as float32 at full size (1.2 GB for 100 megapixels).
    resized = tf.image.resize(images, target, method="bilinear") / 255.0
  else:
    resized = tf.image.resize(tf.image.convert_image_dtype(images, tf.float32), target,
                              method="bilinear")
  depth = tf.cast(network_fn(resized), tf.float32)
  if depth.shape.rank == 3:
    depth = tf.expand_dims(depth, -1)  # not [..., None]: TFLite lacks that slice at dynamic sizes
  return tf.squeeze(tf.image.resize(depth, size, method="bilinear"), -1)


class DepthNetwork:
  """A loaded model: `network`, `depth_at_image_size`, its input size and where it came from."""

  def __init__(self, network_fn, input_size, source, step=None, config=None, resize_size=None,
               fit="whole", precision="float32"):
    self._network_fn = network_fn
    self.precision = precision  # what the network computes in (attn_depth.core.precision)
    self.input_size = tuple(int(v) for v in input_size)
    # The frame size training cropped `input_size` from (paper: 312x416 around 240x320).
    self.resize_size = tuple(int(v) for v in resize_size or input_size)
    self.source, self.step, self.config = source, step, config or {}
    self.spec = None  # the models.ModelSpec, where the model carries one
    if fit not in FITS:
      raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    self.fit = fit
    self._at_image_size = {
        name: tf.function(lambda images, name=name: resize_predict_resize(
            self._network_fn, images, self.input_size, self.resize_size, name),
                          reduce_retracing=True) for name in FITS}

  def network(self, images):
    """float32 [B, h, w, 3] in [0, 1] -> numpy depth [B, h/2, w/2] metres."""
    depth = self._network_fn(tf.convert_to_tensor(images, tf.float32))
    depth = np.asarray(depth, np.float32)
    return depth[..., 0] if depth.ndim == 4 else depth

  def depth_at_image_size(self, images, fit=None):
    """uint8 / float [B, H, W, 3] -> numpy depth [B, H, W] metres, fitted as `fit` (default
    `self.fit`) says."""
    return np.asarray(self._at_image_size[fit or self.fit](tf.convert_to_tensor(images)))


def keras_network(model, spec, source="in-memory model", step=None):
  """A DepthNetwork of a Keras model of attn_depth (inference mode) described by `spec`
  (a `models.ModelSpec`: its sizes say how to feed it)."""
  call = tf.function(lambda images: model(images, training=False), reduce_retracing=True)
  network = DepthNetwork(call, spec.input_size, source, step, spec.to_dict(), spec.resize_size,
                         precision=precision_lib.of_model(model))
  network.model, network.spec = model, spec
  return network


def in_precision(model, spec, precision):
  """`model` itself when it computes in `precision`, else a twin built in `precision` that
  holds the same weights."""
  if precision_lib.of_model(model) == precision:
    return model
  twin = spec.build(precision=precision)
  twin.set_weights(model.get_weights())
  return twin
