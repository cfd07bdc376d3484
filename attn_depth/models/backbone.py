"""ResNet v1 backbones: the paper's Dense Feature Extractor and the strided baseline encoder.

Layer names and weight shapes are those of `keras.applications.ResNet50/101`, so ImageNet
weights transfer layer by layer, by name. The dilated variant (the DFE, paper section 3.1)
removes the stride of Res-Blocks 2-4 and dilates their 3x3 convolutions instead, DeepLab's
"atrous" trick: with the same weights it computes exactly what the strided network computes,
sampled densely (tests/models/test_backbone.py checks this identity).
"""

import os

import keras
from keras import layers

from attn_depth.core.errors import UserError

# Blocks per Res-Block for each depth, as in keras.applications.resnet.
_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
_FILTERS = (64, 128, 256, 512)
# Res-Block 1..4 are named conv2..conv5 in keras.applications.
STAGE_NAMES = ("conv2", "conv3", "conv4", "conv5")
# Paper section 3.3: dilation rates r in {1, 2, 4, 8} for Res-Block 1..4. These are exactly the
# rates that keep the a-trous identity once the strides of Res-Blocks 2, 3, 4 are removed.
DFE_DILATION_RATES = (1, 2, 4, 8)
STAGE_CHANNELS = (256, 512, 1024, 2048)

_BN_EPSILON = 1.001e-5  # keras.applications' value; the ImageNet statistics were fitted with it.

IMAGENET_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"


class ImageNetWeightsUnavailable(UserError, RuntimeError):
  """The ImageNet weights file is neither on disk nor downloadable."""


def _bottleneck(x, filters, stride, dilation, conv_shortcut, name):
  if conv_shortcut:
    shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
    shortcut = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_0_bn")(shortcut)
  else:
    shortcut = x
  x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
  x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_1_bn")(x)
  x = layers.Activation("relu", name=f"{name}_1_relu")(x)
  x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, name=f"{name}_2_conv")(x)
  x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_2_bn")(x)
  x = layers.Activation("relu", name=f"{name}_2_relu")(x)
  x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
  x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_3_bn")(x)
  x = layers.Add(name=f"{name}_add")([shortcut, x])
  return layers.Activation("relu", name=f"{name}_out")(x)


def custom_depth(blocks):
  """The layer count of a ResNet with `blocks` bottlenecks per Res-Block (conv1 + 3 convs per
  block + classifier, the way "ResNet-50" is counted)."""
  return 2 + 3 * sum(blocks)


def build_backbone(depth=101, dilated=True, input_shape=(None, None, 3), name=None, blocks=None,
                   width=1.0):
  """ResNet v1 without global pool and classifier.

  Args:
    depth: 50, 101 or 152.
    dilated: True for the paper's DFE (all Res-Blocks at 1/4 resolution, 3x3 convolutions of
      Res-Block 1..4 dilated by 1, 2, 4, 8); False for the original strided network (the
      ablation baseline's encoder).
    input_shape: shape of one image, preprocessed as `keras.applications.resnet.preprocess_input`
      does it (BGR, ImageNet mean subtracted, no scaling). The backbone does no preprocessing.
    name: model name; defaults to "dfe_resnet<depth>" or "resnet<depth>".
    blocks: bottleneck blocks per Res-Block, overriding `depth` (small networks for tests and
      the offline quickstart; no ImageNet weights exist for them).
    width: multiplier of every layer's channels (1.0: the standard network).

  Returns:
    A `keras.Model`. Dilated: outputs of Res-Block 1..4 (256/512/1024/2048 channels, all at 1/4
    of the input). Strided: conv1 (1/2) followed by Res-Block 1..4 (1/4, 1/8, 1/16, 1/32).
  """
  if blocks is None:
    if depth not in _BLOCKS:
      raise ValueError(f"ResNet depth must be one of {sorted(_BLOCKS)}, got {depth}")
    blocks = _BLOCKS[depth]
  else:
    blocks = tuple(int(b) for b in blocks)
    depth = custom_depth(blocks)
  def channels(n):
    return max(int(round(n * width)), 1)
  inputs = keras.Input(shape=input_shape, name="image")
  x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(inputs)
  x = layers.Conv2D(channels(64), 7, strides=2, name="conv1_conv")(x)
  x = layers.BatchNormalization(epsilon=_BN_EPSILON, name="conv1_bn")(x)
  conv1 = layers.Activation("relu", name="conv1_relu")(x)
  x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(conv1)
  x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

  stage_outputs = []
  for stage, (stage_name, filters, count) in enumerate(zip(STAGE_NAMES, _FILTERS, blocks)):
    # Res-Block 1 never strides; in the DFE no Res-Block does.
    stride = 1 if (dilated or stage == 0) else 2
    dilation = DFE_DILATION_RATES[stage] if dilated else 1
    for block in range(1, count + 1):
      x = _bottleneck(
          x, channels(filters), stride=stride if block == 1 else 1, dilation=dilation,
          conv_shortcut=block == 1, name=f"{stage_name}_block{block}")
    stage_outputs.append(x)

  outputs = stage_outputs if dilated else [conv1] + stage_outputs
  if name is None:
    name = f"dfe_resnet{depth}" if dilated else f"resnet{depth}"
  return keras.Model(inputs, outputs, name=name)


def build_dfe(depth=101, input_shape=(None, None, 3)):
  """The paper's Dense Feature Extractor: four outputs, Res-Block 1..4, all at 1/4 resolution."""
  return build_backbone(depth=depth, dilated=True, input_shape=input_shape)


def backbone_depth(backbone):
  """Depth of a standard (ImageNet-shaped) backbone built here, or None for a custom one."""
  counts = tuple(
      sum(1 for layer in backbone.layers if layer.name.startswith(f"{stage}_block") and
          layer.name.endswith("_out")) for stage in STAGE_NAMES)
  full_width = backbone.get_layer("conv1_conv").filters == 64
  for depth, standard in _BLOCKS.items():
    if counts == standard and full_width:
      return depth
  return None


def imagenet_weights_file_name(depth):
  """The file name keras.applications gives the notop ImageNet weights of ResNet-<depth>."""
  return f"resnet{depth}_weights_tf_dim_ordering_tf_kernels_notop.h5"


def keras_cache_dir():
  """Where keras.utils.get_file keeps downloaded weights (honours $KERAS_HOME)."""
  return os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "models")


def _reference_resnet(depth, weights):
  constructor = {50: keras.applications.ResNet50, 101: keras.applications.ResNet101,
                 152: keras.applications.ResNet152}[depth]
  return constructor(include_top=False, weights=weights, input_shape=(None, None, 3))


def load_imagenet_weights(backbone, weights="imagenet"):
  """Copies keras.applications' ImageNet weights into `backbone`, layer by layer, by name.

  Args:
    backbone: a model from `build_backbone`/`build_dfe`.
    weights: "imagenet" (use the Keras cache, downloading if needed) or the path of
      keras.applications' notop `.h5` file, for machines without internet.

  Raises:
    ImageNetWeightsUnavailable: the file is missing and cannot be downloaded; the message names
      the file and where to put it.
  """
  depth = backbone_depth(backbone)
  if depth is None:
    raise ImageNetWeightsUnavailable(
        f"{backbone.name}: ImageNet weights exist only for the standard ResNet-50/101/152; "
        f"this backbone has custom blocks or width (train it from scratch: weights None)")
  file_name = imagenet_weights_file_name(depth)
  if weights != "imagenet":
    if not os.path.isfile(weights):
      raise ImageNetWeightsUnavailable(
          f"{weights}: no such file; expected keras.applications' notop ResNet-{depth} weights "
          f"({file_name}).")
  try:
    reference = _reference_resnet(depth, weights)
  except Exception as error:  # Keras raises a bare Exception for failed downloads.
    where = keras_cache_dir()
    if weights == "imagenet":
      message = (f"ImageNet weights for ResNet-{depth} are not cached and could not be downloaded "
                 f"({error}). Put {file_name} (from {IMAGENET_WEIGHTS_URL}{file_name}) into "
                 f"{where} or pass its path as the weights.")
    else:
      message = (f"{weights}: not a readable keras.applications notop ResNet-{depth} weights file "
                 f"({file_name}): {error}")
    raise ImageNetWeightsUnavailable(message) from None
  copied = 0
  for layer in reference.layers:
    if not layer.weights:
      continue
    backbone.get_layer(layer.name).set_weights(layer.get_weights())
    copied += 1
  return copied
