"""The package's face for inference, shaped after keras-hub's `DepthEstimator`:

    import attn_depth
    estimator = attn_depth.DepthEstimator.from_path("runs/quickstart")   # or a SavedModel
    depths = estimator.predict(images)["depths"]                         # [B, H, W, 1], metres

`images`: uint8 (or float in [0, 1]) RGB of any size, one image [H, W, 3], a batch [B, H, W, 3],
or a list of images of different sizes (then "depths" is a list of [H, W, 1] arrays). Each
image reaches the network whole at the scale it was trained at (`fit="whole"`, see
`attn_depth.serving.inference`), and its depth comes back at the image's own size.

Share a trained model as a preset and load someone else's (keras-hub's `from_preset` /
`save_to_preset`; see `attn_depth.serving.presets`):

    estimator.save_to_preset("presets/full_r101")
    estimator = attn_depth.DepthEstimator.from_preset("hf://owner/attn-depth-full-r101")
"""


import numpy as np

from attn_depth.serving import inference
from attn_depth.models import network as network_lib
from attn_depth.core import run_dir as run_dir_lib
from attn_depth.core import precision as precision_lib
from attn_depth.serving import presets


class DepthEstimator:
  """A trained attn_depth network for depth in metres from RGB images."""

  def __init__(self, network, run_dir=None):
    """`network`: an `attn_depth.serving.inference.DepthNetwork` (see `from_path`, `from_preset`);
    `run_dir`: the training run it came from (its evaluation results go into presets)."""
    self.network, self.run_dir = network, run_dir

  @classmethod
  def from_path(cls, path, fit="whole", precision=None):
    """Loads a training run's folder, one of its checkpoints (`runs/x/ckpt-600`) or a
    SavedModel written by attn-depth export. The network is rebuilt from the model's own
    description (model_spec.json); gin's configuration is neither read nor changed.

    precision: "float32", "bfloat16" or "float16" -- what the rebuilt network computes in
    (`attn_depth.core.precision`: one the device lacks falls back, with a warning); None: float32,
    or the precision a SavedModel was exported in."""
    network_lib.check_fit(fit)  # before the model loads (seconds)
    network = inference.load_network(path, precision).replace(fit=fit)
    return cls(network, _run_dir_of(path))

  @classmethod
  def from_preset(cls, handle, fit=None, precision="float32"):
    """Loads a preset: a local folder written by `save_to_preset` (or attn-depth export),
    `hf://<owner>/<repo>` or `kaggle://<owner>/<model>/<framework>/<variation>[/<version>]`
    (downloaded and cached by huggingface_hub / kagglehub, which must be installed).
    `fit`: default the preset's own; `precision` as in `from_path`."""
    network = presets.load(handle, precision_lib.resolve(precision))
    if fit is not None:
      network_lib.check_fit(fit)
      network = network.replace(fit=fit)
    return cls(network)

  def save_to_preset(self, preset_dir):
    """Writes this model as a preset folder: model.keras, model_spec.json, provenance.json, the
    model card (README.md) and the training run's evaluation results, operative config and
    TensorBoard logs. Returns the folder."""
    return presets.save(self.network, preset_dir, self.run_dir)

  @property
  def spec(self):
    """The `attn_depth.models.ModelSpec`: what the network is and its training scale."""
    return self.network.spec

  @property
  def precision(self):
    """What the network computes in: "float32", "bfloat16" or "float16"."""
    return self.network.precision

  @property
  def trained_on(self):
    """The data source it was trained on (its run's train.source, from its provenance:
    "synthetic_rooms" for procedural rooms, which photos are outside of); None where unknown."""
    return self.network.trained_on

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


def _run_dir_of(path):
  """The training run folder behind a run, checkpoint or the run's own export/ SavedModel,
  where it holds evaluation results."""
  run = run_dir_lib.of_model(path)
  return run.path if run.has_results() else None
