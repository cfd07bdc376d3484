"""Depth out of any trained model: a training directory, a checkpoint or an exported SavedModel.

Everything downstream (evaluation protocols, attn-depth predict, the SavedModel's serving
signature) goes through two functions of a `DepthNetwork`:

* `network(images)`: float32 [B, h, w, 3] in [0, 1] -> depth [B, h/2, w/2] in metres, the raw
  fully convolutional network at whatever (multiple of 8) size it is given;
* `depth_at_image_size(images)`: any [B, H, W, 3] -> [B, H, W]: the image resized bilinearly to
  the scale the network was trained at, predicted, the depth resized back.

How a photo is fitted to the network (`fit`):
* "whole" (default): the whole photo, resized so that its area equals the training frames'
  (312x416 for the paper's networks: NYU's 480x640 at 0.65) with its aspect ratio kept, each side
  rounded to a multiple of 8; objects reach the fully convolutional network at the size it
  learned them, as in the `eigen` evaluation protocol.
* "squeeze": the photo squeezed to the training crop (240x320), i.e. half a 480x640 frame:
  objects arrive at 0.77 of the size the network learned (the behaviour before 2026-11).
"""

import os

import tensorflow as tf

from attn_depth import models
from attn_depth.models.network import FITS  # noqa: F401  (re-exported)
from attn_depth.models.network import SIZE_MULTIPLE  # noqa: F401
from attn_depth.models.network import DepthNetwork
from attn_depth.models.network import KerasNetwork  # noqa: F401  (re-exported)
from attn_depth.models.network import ModelInfo  # noqa: F401
from attn_depth.models.network import in_precision  # noqa: F401
from attn_depth.models.network import keras_network
from attn_depth.models.network import resize_predict_resize  # noqa: F401
from attn_depth.models.network import whole_frame_size  # noqa: F401
from attn_depth.core import run_dir as run_dir_lib
from attn_depth.core import precision as precision_lib
from attn_depth.core.errors import UserError
from attn_depth.serving import presets
from attn_depth.serving import provenance

NETWORK_SIGNATURE = "network"
SERVING_SIGNATURE = "serving_default"
# The SavedModel's provenance record (attn_depth.serving.provenance), and what exports carried
# before it (read when the record is absent).
PROVENANCE_FILE = run_dir_lib.saved_model_asset("", run_dir_lib.PROVENANCE_FILE)
METADATA_FILE = run_dir_lib.saved_model_asset("", run_dir_lib.LEGACY_EXPORT_METADATA)
OPERATIVE_CONFIG = run_dir_lib.OPERATIVE_CONFIG
SPEC_FILE = run_dir_lib.saved_model_asset("", run_dir_lib.SPEC_FILE)  # inside a SavedModel


class ModelLoadError(UserError, ValueError):
  """The path given as a model is none of the kinds attn_depth can read."""


_is_saved_model = run_dir_lib.is_saved_model


def run_folder(path):
  """The training run's folder behind a model path (attn_depth.core.run_dir.of_model)."""
  return run_dir_lib.of_model(path).path


def _checkpoint_and_folder(path):
  """(checkpoint prefix, the folder that holds it) of a model dir or a prefix."""
  if os.path.isdir(path):
    checkpoint = tf.train.latest_checkpoint(path)
    if not checkpoint:
      raise ModelLoadError(f"{path}: no checkpoint in this folder; expected a model directory "
                           f"written by attn-depth train, a checkpoint prefix or a SavedModel "
                           f"from attn-depth export")
    return checkpoint, path
  if os.path.isfile(path + ".index"):
    return path, os.path.dirname(path) or "."
  raise ModelLoadError(f"{path}: not found; expected a model directory written by "
                       f"attn-depth train, a checkpoint prefix (ckpt-N) or a SavedModel folder")


def model_gin_files(path):
  """The training run's operative config beside the model at `path`, which tools parse before
  the user's own files so that a run's data settings (its test set, say) carry over; empty for
  SavedModels and for checkpoints without one. The network itself never comes from gin
  (`run_spec`)."""
  if _is_saved_model(path):
    return []
  _, folder = _checkpoint_and_folder(path)
  config_path = run_dir_lib.RunDir(folder).operative_config
  return [config_path] if os.path.isfile(config_path) else []


def run_spec(folder):
  """The ModelSpec of the run whose checkpoints are in `folder`: its model_spec.json, or for
  runs written before that record existed, read from its operative_config.gin."""
  run = run_dir_lib.RunDir(folder)
  spec_path = run.spec
  try:
    if os.path.isfile(spec_path):
      return models.ModelSpec.load(spec_path)
    config_path = run.operative_config
    if os.path.isfile(config_path):
      return models.ModelSpec.from_operative_config(config_path)
  except (ValueError, SyntaxError, OSError) as error:
    raise ModelLoadError(f"{folder}: cannot read the model's description "
                         f"({str(error).splitlines()[0]})") from None
  raise ModelLoadError(f"{folder}: neither {models.SPEC_FILE} nor {OPERATIVE_CONFIG} beside the "
                       f"checkpoint; one of them says which network to build")


def load_checkpoint_network(path, spec=None, precision="float32"):
  """Builds the network `spec` describes (default: the run's own, `run_spec`) to compute in
  `precision` and restores its weights from the checkpoint at `path` (a run folder or a ckpt-N
  prefix). Reads no gin."""
  checkpoint, folder = _checkpoint_and_folder(path)
  spec = spec or run_spec(folder)
  model = spec.build(precision=precision)
  step = tf.Variable(0, dtype=tf.int64, name="global_step")
  try:
    status = tf.train.Checkpoint(model=model, global_step=step).read(checkpoint)
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError) as error:  # a missing variable, a shape that differs
    raise ModelLoadError(f"{checkpoint}: its variables do not fit the network its model spec "
                         f"describes ({spec.name}: {str(error).splitlines()[0]})") from None
  status.expect_partial()  # optimizer slots are not needed for inference
  return keras_network(model, spec, source=checkpoint, step=int(step.numpy())).replace(
      trained_on=provenance.training_source(run_dir_lib.RunDir(folder).operative_config))


def load_saved_model_network(path, precision=None):
  """The SavedModel's network; it computes in the precision it was exported in, so asking for
  another (`precision`) is refused in one line."""
  loaded = tf.saved_model.load(path)
  metadata = read_provenance(path) or {}
  spec_path = os.path.join(path, SPEC_FILE)
  spec = models.ModelSpec.load(spec_path) if os.path.isfile(spec_path) else None
  if spec:  # older exports carry the sizes in attn_depth.json alone
    metadata.update(input_size=list(spec.input_size), resize_size=list(spec.resize_size),
                    config=spec.to_dict())
  if NETWORK_SIGNATURE not in loaded.signatures or "input_size" not in metadata:
    raise ModelLoadError(f"{path}: a SavedModel without attn_depth's '{NETWORK_SIGNATURE}' "
                         f"signature and {SPEC_FILE}; export it with attn-depth export")
  exported = metadata.get("precision") or "float32"
  if precision not in (None, exported):
    raise ModelLoadError(f"{path}: this SavedModel computes in {exported}, as it was exported; "
                         f"for {precision} export it with attn-depth export --precision="
                         f"{precision}, or load its training run")
  # An export written before the record had the entry: its run's config, where it sits in one.
  trained_on = metadata.get("trained_on") or provenance.training_source(
      run_dir_lib.of_model(path).operative_config)
  return SavedModelNetwork(loaded, metadata, path, spec, exported).replace(trained_on=trained_on)


class SavedModelNetwork(DepthNetwork):
  """A DepthNetwork computed by an exported SavedModel's `network` signature; `loaded` keeps
  its variables alive. Exports and presets refuse it (they need the Keras model)."""

  def __init__(self, loaded, metadata, path, spec, precision):
    signature = loaded.signatures[NETWORK_SIGNATURE]
    super().__init__(lambda images: signature(images=images)["depth"], metadata["input_size"],
                     path, metadata.get("step"), metadata.get("config"),
                     metadata.get("resize_size"), metadata.get("fit") or "whole", precision, spec,
                     "saved_model")
    self.loaded = loaded


def read_provenance(path):
  """The provenance record of the SavedModel at `path` (assets.extra/provenance.json, or the
  attn_depth.json of an export written before it, whose entries it keeps); None if neither."""
  return provenance.read(os.path.join(path, run_dir_lib.SAVED_MODEL_ASSETS),
                         run_dir_lib.LEGACY_EXPORT_METADATA)


def load_network(path, precision=None):
  """A DepthNetwork from a model directory, a checkpoint prefix or a SavedModel: the network is
  rebuilt from the model's own description (model_spec.json), never from gin, and gin's
  configuration is left as it was. Presets (a folder with model.keras, or an hf:// or
  kaggle:// handle) load too (attn_depth.serving.presets).

  precision: what the network computes in (attn_depth.core.precision.PRECISIONS; one this device
  lacks falls back with a warning line); None: float32, or a SavedModel's export precision."""
  if precision is not None:
    precision = precision_lib.resolve(precision)
  if presets.is_preset(path):
    return presets.load(path, precision=precision or "float32")
  if _is_saved_model(path):
    return load_saved_model_network(path, precision)
  return load_checkpoint_network(path, precision=precision or "float32")
