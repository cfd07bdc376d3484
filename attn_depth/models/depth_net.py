"""The depth networks of Table 1's "Ours" rows: a backbone plus a Depth Map Generator (DMG).

Paper section 3.2-3.3 and Fig. 2. Wiring of the DMG (stage s = Res-Block s, rate r_s):

    top = CRB(Res-Block 4, rate 8)
    for s in 3, 2, 1:
        top = CRB(AFB(dotted=CRB(Res-Block s, r_s), solid=top), r_s)
    depth = upsample_2x(head(top))        # 1/4 -> 1/2 of the input resolution

Choices the paper leaves open (widths, activations, the head) are listed with their reasons in
docs/paper_to_code.md.
"""

import gin
import keras
from keras import layers

from attn_depth.models import backbone as backbone_lib
from attn_depth.models.layers import BilinearUpsample2x
from attn_depth.models.layers import CropToMatch
from attn_depth.models.layers import ResNetPreprocess
from attn_depth.models.layers import stable_softplus

# Table 1, the four "Ours" rows: (dilated DFE, AFB, dilated CRB, default ResNet depth).
VARIANTS = {
    "baseline": dict(dfe=False, afb=False, dilated_crb=False, depth=50),
    "dfe": dict(dfe=True, afb=False, dilated_crb=False, depth=101),
    "dfe_afb": dict(dfe=True, afb=True, dilated_crb=False, depth=101),
    "full": dict(dfe=True, afb=True, dilated_crb=True, depth=101),
}

BACKBONE_NAME = "backbone"
_INIT = "glorot_uniform"  # Paper 3.4: DMG weights "randomly initialized with Xavier initializer".


def channel_reduce_block(x, width, rate, name):
  """CRB, Fig. 2(b): 1x1 conv reducing channels, then a basic residual block of two 3x3 convs.

  The 3x3 convolutions are dilated with the rate of the corresponding Res-Block ("dilated
  CRB"); the ablation rows without it use rate 1.
  """
  reduced = layers.Conv2D(width, 1, kernel_initializer=_INIT, name=f"{name}_reduce")(x)
  y = layers.Conv2D(width, 3, padding="same", dilation_rate=rate, kernel_initializer=_INIT,
                    activation="relu", name=f"{name}_conv1")(reduced)
  y = layers.Conv2D(width, 3, padding="same", dilation_rate=rate, kernel_initializer=_INIT,
                    name=f"{name}_conv2")(y)
  y = layers.Add(name=f"{name}_add")([reduced, y])
  return layers.Activation("relu", name=f"{name}_out")(y)


def attention_fuse_block(dotted, solid, name, reduction=1):
  """AFB, Fig. 2(c): SE-style channel weights from both inputs reweight the current stage.

  concat(dotted, solid) -> global average pool -> 1x1 conv (ReLU) -> 1x1 conv (sigmoid) gives a
  1x1xC weight; the output is dotted * weight + solid.
  """
  channels = dotted.shape[-1]
  context = layers.Concatenate(name=f"{name}_concat")([dotted, solid])
  context = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(context)
  context = layers.Conv2D(max(channels // reduction, 1), 1, activation="relu",
                          kernel_initializer=_INIT, name=f"{name}_fc1")(context)
  weight = layers.Conv2D(channels, 1, activation="sigmoid", kernel_initializer=_INIT,
                         name=f"{name}_fc2")(context)
  weighted = layers.Multiply(name=f"{name}_reweight")([dotted, weight])
  return layers.Add(name=f"{name}_add")([weighted, solid])


def depth_head(x, name="depth_head"):
  """3x3 conv to one channel; softplus keeps depth in metres non-negative with a live gradient.

  float32 so that mixed-precision models still emit float32 metres.
  """
  x = layers.Conv2D(1, 3, padding="same", kernel_initializer=_INIT, name=f"{name}_conv")(x)
  return layers.Activation(stable_softplus, dtype="float32", name=f"{name}_softplus")(x)


def depth_map_generator(features, widths, use_afb, dilated_crb, afb_reduction=1):
  """DMG on the four DFE maps (Res-Block 1..4, all at 1/4 resolution).

  Args:
    features: Res-Block 1..4 outputs.
    widths: output channels of the last CRB of stage 1..4. The dotted CRB of stage s reduces
      to widths[s] (= the width of what comes from above), so the AFB adds equal shapes.
    use_afb: False replaces each AFB by a plain sum (Table 1's "DFE" row).
    dilated_crb: dilate the CRBs' 3x3 convolutions with the Res-Block's rate.
    afb_reduction: channel reduction of the AFB's first 1x1 conv.

  Returns:
    depth at 1/2 input resolution, [B, H/2, W/2, 1] metres.
  """
  rates = backbone_lib.DFE_DILATION_RATES if dilated_crb else (1, 1, 1, 1)
  top = channel_reduce_block(features[3], widths[3], rates[3], name="crb4")
  for stage in (2, 1, 0):
    number = stage + 1
    dotted = channel_reduce_block(features[stage], widths[stage + 1], rates[stage],
                                  name=f"crb{number}_in")
    if use_afb:
      fused = attention_fuse_block(dotted, top, name=f"afb{number}", reduction=afb_reduction)
    else:
      fused = layers.Add(name=f"sum{number}")([dotted, top])
    top = channel_reduce_block(fused, widths[stage], rates[stage], name=f"crb{number}_out")
  depth = depth_head(top)
  # Paper 3.3: the only upsampling, one 2x bilinear step from 1/4 to 1/2 resolution.
  return BilinearUpsample2x(dtype="float32", name="upsample")(depth)


def deconvolution_decoder(features, widths):
  """The ablation baseline's decoder: stacked 2x transposed convolutions with U-Net skips.

  features: conv1 (1/2), Res-Block 1..4 (1/4 .. 1/32) of a strided ResNet. Each step
  upsamples by 2, crops to the skip's size, concatenates the skip and refines with a 3x3 conv;
  the last step lands on conv1's 1/2 resolution, the same output size as the DMG.
  """
  skips = features[:4][::-1]  # Res-Block 3, 2, 1, conv1
  x = features[4]
  for step, (skip, width) in enumerate(zip(skips, widths[::-1])):
    x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", activation="relu",
                               kernel_initializer=_INIT, name=f"deconv{step + 1}")(x)
    x = CropToMatch(name=f"deconv{step + 1}_crop")([x, skip])
    x = layers.Concatenate(name=f"skip{step + 1}")([x, skip])
    x = layers.Conv2D(width, 3, padding="same", activation="relu", kernel_initializer=_INIT,
                      name=f"deconv{step + 1}_refine")(x)
  return depth_head(x)


def freeze_backbone(backbone, frozen_stages=2, freeze_batch_norm=True):
  """Paper 3.4: "we fixed all parameters in the first two stages ... batch normalization
  parameters are fixed". Stage 1 is conv1 (+ max pool), stage 2 is Res-Block 1 (conv2_x).

  Keras runs a BatchNormalization with trainable=False in inference mode, so frozen BN layers
  neither learn nor move their statistics, whatever `training` says.
  """
  frozen_prefixes = ("conv1_", "conv2_")[:frozen_stages]
  for layer in backbone.layers:
    if frozen_prefixes and layer.name.startswith(frozen_prefixes):
      layer.trainable = False
    if freeze_batch_norm and isinstance(layer, layers.BatchNormalization):
      layer.trainable = False


@gin.configurable
def build_model(variant="full", depth=None, input_shape=(240, 320, 3), backbone_weights=None,
                dmg_widths=(64, 128, 256, 512), afb_reduction=1, frozen_stages=2,
                freeze_batch_norm=True, backbone_blocks=None, backbone_width=1.0):
  """Builds one of Table 1's networks.

  Args:
    variant: "baseline", "dfe", "dfe_afb" or "full" (see VARIANTS).
    depth: ResNet depth; None takes the variant's Table-1 depth (50 for the baseline, else 101).
    input_shape: (H, W, 3); H and W divisible by 8, or None for any such size.
    backbone_weights: None (random), "imagenet" or the path of keras.applications' notop .h5.
    dmg_widths: channels of the last CRB of stage 1..4 (baseline: decoder widths, 1/2 .. 1/16).
    afb_reduction: channel reduction inside the AFB.
    frozen_stages: how many of (conv1, Res-Block 1) get no updates; the paper freezes both.
    freeze_batch_norm: run every backbone BN in inference mode, statistics fixed.
    backbone_blocks, backbone_width: a smaller custom ResNet (blocks per Res-Block, channel
      multiplier) for tests and the offline quickstart; no ImageNet weights exist for it.

  Returns:
    `keras.Model`: RGB float32 in [0, 1], [B, H, W, 3] -> depth in metres, [B, H/2, W/2, 1].
  """
  if variant not in VARIANTS:
    raise ValueError(f"Unknown variant {variant!r}; choose one of {sorted(VARIANTS)}")
  spec = VARIANTS[variant]
  depth = depth or spec["depth"]
  backbone = backbone_lib.build_backbone(depth=depth, dilated=spec["dfe"], name=BACKBONE_NAME,
                                         blocks=backbone_blocks, width=backbone_width)
  if backbone_blocks is not None:
    depth = backbone_lib.custom_depth(backbone_blocks)
  if backbone_weights is not None:
    backbone_lib.load_imagenet_weights(backbone, backbone_weights)
  freeze_backbone(backbone, frozen_stages, freeze_batch_norm)

  rgb = keras.Input(shape=input_shape, name="rgb")
  features = backbone(ResNetPreprocess(name="preprocess")(rgb))
  if spec["dfe"]:
    depth_map = depth_map_generator(features, dmg_widths, use_afb=spec["afb"],
                                    dilated_crb=spec["dilated_crb"], afb_reduction=afb_reduction)
  else:
    depth_map = deconvolution_decoder(features, dmg_widths)
  return keras.Model(rgb, depth_map, name=f"attn_depth_{variant}_r{depth}")


def get_backbone(model):
  return model.get_layer(BACKBONE_NAME)


def variable_groups(model):
  """Trainable variables split by module: {"dfe": backbone, "dmg": everything else}.

  Each group gets its own optimizer and learning-rate schedule (paper 3.4). Frozen variables
  are in neither group.
  """
  backbone_ids = {id(v) for v in get_backbone(model).trainable_variables}
  return {
      "dfe": [v for v in model.trainable_variables if id(v) in backbone_ids],
      "dmg": [v for v in model.trainable_variables if id(v) not in backbone_ids],
  }
