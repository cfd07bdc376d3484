"""The package's face for inference, shaped after keras-hub's `DepthEstimator`:

    import attn_depth
    estimator = attn_depth.DepthEstimator.from_path("runs/quickstart")   # or a SavedModel
    depths = estimator.predict(images)["depths"]                         # [B, H, W, 1], metres

`images`: uint8 (or float in [0, 1]) RGB of any size, one image [H, W, 3], a batch [B, H, W, 3],
or a list of images of different sizes (then "depths" is a list of [H, W, 1] arrays). Each
image reaches the network whole at the scale it was trained at (`fit="whole"`, see
`attn_depth.inference`), and its depth comes back at the image's own size.
"""

import gin
import numpy as np

from attn_depth import config
from attn_depth import inference


class DepthEstimator:
  """A trained attn_depth network for depth in metres from RGB images."""

  def __init__(self, network):
    """`network`: an `attn_depth.inference.DepthNetwork` (see `from_path`)."""
    self.network = network

  @classmethod
  def from_path(cls, path, fit="whole"):
    """Loads a training run's folder, one of its checkpoints (`runs/x/ckpt-600`) or a
    SavedModel written by tools/export.py. For runs and checkpoints, gin's configuration is
    replaced by the run's own operative config (it says which network to build)."""
    if fit not in inference.FITS:
      raise ValueError(f"fit must be one of {inference.FITS}, got {fit!r}")
    if inference.model_gin_files(path):  # a run or checkpoint: its network comes from gin
      with gin.unlock_config():
        gin.clear_config()
        config.parse_gin_for_model(path)
    network = inference.load_network(path)
    network.fit = fit
    return cls(network)

  @property
  def input_size(self):
    """The training crop (height, width) the network learned on."""
    return self.network.input_size

  def predict(self, images, batch_size=4):
    """{"depths": float32 [B, H, W, 1] metres} for a batch or one image ([1, H, W, 1]); a
    list of differently sized images gives a list of [H, W, 1] arrays."""
    if isinstance(images, (list, tuple)):
      return {"depths": [self._predict_batch(_as_batch(image))[0] for image in images]}
    batch = _as_batch(images)
    depths = [self._predict_batch(batch[start:start + batch_size])
              for start in range(0, batch.shape[0], max(int(batch_size), 1))]
    return {"depths": np.concatenate(depths, axis=0)}

  def _predict_batch(self, batch):
    return self.network.depth_at_image_size(batch)[..., None].astype(np.float32)


def _as_batch(images):
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[None]
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"expected RGB images [H, W, 3] or [B, H, W, 3], got shape {images.shape}")
  return images
