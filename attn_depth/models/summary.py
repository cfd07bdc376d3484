"""Parameter counts per module, for attn-depth summary and the README's table."""

import numpy as np

from attn_depth.models.depth_net import get_backbone


def _count(variables):
  return int(sum(np.prod(v.shape) for v in variables))


def parameter_counts(model):
  """{"total", "trainable", "frozen", "dfe", "dmg"}: dfe/dmg count all (also frozen) weights
  of the backbone and of the rest; frozen counts non-trainable weights incl. BN statistics."""
  backbone = get_backbone(model)
  total = _count(model.weights)
  dfe = _count(backbone.weights)
  trainable = _count(model.trainable_weights)
  return {"total": total, "trainable": trainable, "frozen": total - trainable,
          "dfe": dfe, "dmg": total - dfe}
