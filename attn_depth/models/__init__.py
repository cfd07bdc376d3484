"""Model family of Hao et al. 2018: dilated-ResNet DFE, CRB/AFB Depth Map Generator, variants."""

from attn_depth.models.backbone import DFE_DILATION_RATES
from attn_depth.models.backbone import ImageNetWeightsUnavailable
from attn_depth.models.backbone import build_backbone
from attn_depth.models.backbone import build_dfe
from attn_depth.models.backbone import imagenet_weights_file_name
from attn_depth.models.backbone import keras_cache_dir
from attn_depth.models.backbone import load_imagenet_weights
from attn_depth.models.depth_net import VARIANTS
from attn_depth.models.depth_net import build_model
from attn_depth.models.depth_net import freeze_backbone
from attn_depth.models.depth_net import get_backbone
from attn_depth.models.depth_net import variable_groups
from attn_depth.models.layers import BilinearUpsample2x
from attn_depth.models.layers import CropToMatch
from attn_depth.models.layers import ResNetPreprocess
from attn_depth.models.spec import ModelSpec
from attn_depth.models.spec import SPEC_FILE
