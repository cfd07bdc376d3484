"""A network as depth: `DepthNetwork` (what evaluation scores and serving loads: a backend that
computes depth beside `ModelInfo`, an immutable record of what the model is), how a photo is
fitted to it (`FITS`, `resize_predict_resize`), and a Keras model as one (`KerasNetwork`,
`in_precision`). Loading from files is `attn_depth.serving.inference`."""

import copy
import dataclasses

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


def check_fit(fit):
  """Raises ValueError, in one line, unless `fit` is one of FITS."""
  if fit not in FITS:
    raise ValueError(f"fit must be one of {FITS}, got {fit!r}")


def resize_predict_resize(network_fn, images, input_size, frame_size=None, fit="whole"):
  """TF ops: uint8 or float [B, H, W, 3] -> resized as `fit` says (module docstring) ->
  network -> depth resized back to [B, H, W]."""
  check_fit(fit)
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


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What a loaded model is, fixed when it is loaded (a value: `DepthNetwork.replace` gives a
  network with another one, never a changed one).

  source: where it came from (a checkpoint, a SavedModel, a preset handle); step: its training
  step; spec: the `models.ModelSpec` where the model carries one; config: the description
  reports store; input_size: the training crop (height, width); resize_size: the frame size
  that crop was taken from (paper: 312x416 around 240x320); precision: what it computes in
  (attn_depth.core.precision); fit: how a photo is fitted to it unless a call says otherwise
  (FITS); backend: what computes it ("keras", "saved_model", "litert", "constant");
  trained_on: the data source it was trained on (its run's train.source, from its provenance;
  None where unknown)."""
  source: str
  input_size: tuple
  resize_size: tuple
  step: object = None
  spec: object = None
  config: dict = dataclasses.field(default_factory=dict)
  precision: str = "float32"
  fit: str = "whole"
  backend: str = "keras"
  trained_on: object = None

  def __post_init__(self):
    check_fit(self.fit)


class DepthNetwork:
  """A loaded model: `network`, `depth_at_image_size`, and `info` (a `ModelInfo`), whose fields
  it also answers as attributes (`network.step`, `network.fit`, ...)."""

  def __init__(self, network_fn, input_size, source, step=None, config=None, resize_size=None,
               fit="whole", precision="float32", spec=None, backend="keras"):
    input_size = tuple(int(v) for v in input_size)
    resize_size = tuple(int(v) for v in resize_size or input_size)
    self.info = ModelInfo(source, input_size, resize_size, step, spec, dict(config or {}),
                          precision, fit, backend)
    self._network_fn = network_fn
    self._at_image_size = {
        name: tf.function(lambda images, name=name: resize_predict_resize(
            network_fn, images, input_size, resize_size, name), reduce_retracing=True)
        for name in FITS}

  source = property(lambda self: self.info.source)
  step = property(lambda self: self.info.step)
  spec = property(lambda self: self.info.spec)
  config = property(lambda self: self.info.config)
  input_size = property(lambda self: self.info.input_size)
  resize_size = property(lambda self: self.info.resize_size)
  precision = property(lambda self: self.info.precision)
  fit = property(lambda self: self.info.fit)
  backend = property(lambda self: self.info.backend)
  trained_on = property(lambda self: self.info.trained_on)

  def replace(self, **changes):
    """The same network (same weights, same traced functions) with other `ModelInfo` fields,
    e.g. `replace(fit="squeeze")` or `replace(step=600)`; the sizes and the backend stay."""
    fixed = {"input_size", "resize_size", "backend"} & set(changes)
    if fixed:
      raise ValueError(f"{sorted(fixed)} are what the network is; load another model instead")
    twin = copy.copy(self)
    twin.info = dataclasses.replace(self.info, **changes)
    return twin

  def network(self, images):
    """float32 [B, h, w, 3] in [0, 1] -> numpy depth [B, h/2, w/2] metres."""
    depth = self._network_fn(tf.convert_to_tensor(images, tf.float32))
    depth = np.asarray(depth, np.float32)
    return depth[..., 0] if depth.ndim == 4 else depth

  def depth_at_image_size(self, images, fit=None):
    """uint8 / float [B, H, W, 3] -> numpy depth [B, H, W] metres, fitted as `fit` (default
    the model's own, `info.fit`) says."""
    fit = fit or self.info.fit
    check_fit(fit)
    return np.asarray(self._at_image_size[fit](tf.convert_to_tensor(images)))


class KerasNetwork(DepthNetwork):
  """A DepthNetwork computed by a Keras model of attn_depth (`model`): the one backend that
  exports and presets take, since they save the model itself."""

  def __init__(self, model, spec, source="in-memory model", step=None, fit="whole"):
    call = tf.function(lambda images: model(images, training=False), reduce_retracing=True)
    super().__init__(call, spec.input_size, source, step, spec.to_dict(), spec.resize_size,
                     fit, precision_lib.of_model(model), spec, "keras")
    self.model = model


def keras_network(model, spec, source="in-memory model", step=None, fit="whole"):
  """A DepthNetwork of a Keras model of attn_depth (inference mode) described by `spec`
  (a `models.ModelSpec`: its sizes say how to feed it)."""
  return KerasNetwork(model, spec, source, step, fit)


def in_precision(model, spec, precision):
  """`model` itself when it computes in `precision`, else a twin built in `precision` that
  holds the same weights."""
  if precision_lib.of_model(model) == precision:
    return model
  twin = spec.build(precision=precision)
  twin.set_weights(model.get_weights())
  return twin
