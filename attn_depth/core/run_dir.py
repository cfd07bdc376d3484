"""A training run's folder: the one place that knows its layout. Every other module asks a
`RunDir` for a path, so renaming a run file is a one-line change here.

    <run>/ckpt-N.*, checkpoint      checkpoints (TensorFlow's own `checkpoint` state file)
    <run>/model_spec.json           what the network is (attn_depth.models.ModelSpec)
    <run>/operative_config.gin      every gin setting the run used
    <run>/train/                    TensorBoard logs; sessions.json (one entry per session)
    <run>/eval/                     TensorBoard logs; <result>.json/.md reports; preview.png
    <run>/export/                   the SavedModel (and LiteRT/ONNX files, the model card)
    <run>/preset/                   the Keras preset (its own layout: `PresetDir`)
    <run>/logs/<stage>.log          a reproduction's stage logs; <run>/stages.json their record
    <output>/figures/               the paper's figures across runs
"""

import os

SPEC_FILE = "model_spec.json"
OPERATIVE_CONFIG = "operative_config.gin"
SESSIONS_FILE = "sessions.json"
STAGES_FILE = "stages.json"
SAVED_MODEL_FILE = "saved_model.pb"
SAVED_MODEL_ASSETS = "assets.extra"  # a SavedModel's folder for attn_depth's own records
# A preset's and a SavedModel's identity record (step, precision, versions, trained-from,
# results), beside model_spec.json; what older exports and presets carried instead:
PROVENANCE_FILE = "provenance.json"
LEGACY_PRESET_METADATA = "metadata.json"  # presets written before provenance.json
LEGACY_EXPORT_METADATA = "attn_depth.json"  # SavedModels' assets.extra/ before provenance.json
PRESET_MODEL_FILE = "model.keras"
PRESET_CARD = "README.md"  # the page Hugging Face and Kaggle show
EXPORT_CARD = "MODEL_CARD.md"  # beside a SavedModel
WEIGHTS_TERMS_FILE = "LICENSE.md"  # the terms the card's `license: other` links to
TFEVENTS_PATTERN = "events.out.tfevents.*"  # TensorBoard's event files


class RunDir:
  """Paths inside one run folder (nothing is created or read unless a method says so)."""

  def __init__(self, path):
    self.path = os.fspath(path)

  def __fspath__(self):
    return self.path

  def __repr__(self):
    return f"RunDir({self.path!r})"

  def _join(self, *parts):
    return os.path.join(self.path, *parts)

  @property
  def spec(self):
    return self._join(SPEC_FILE)

  @property
  def operative_config(self):
    return self._join(OPERATIVE_CONFIG)

  @property
  def train_logs(self):
    return self._join("train")

  @property
  def sessions(self):
    return self._join("train", SESSIONS_FILE)

  @property
  def eval_dir(self):
    return self._join("eval")

  def report(self, name):
    """The JSON report `name` (without suffix) of evaluation.reports in eval/."""
    return self._join("eval", name + ".json")

  @property
  def preview(self):
    return self._join("eval", "preview.png")

  @property
  def export_dir(self):
    return self._join("export")

  @property
  def preset_dir(self):
    return self._join("preset")

  @property
  def stages(self):
    return self._join(STAGES_FILE)

  @property
  def logs_dir(self):
    return self._join("logs")

  @property
  def figures_dir(self):
    return self._join("figures")

  def checkpoint(self, step):
    """The prefix of step's checkpoint (ckpt-N.index, ckpt-N.data-*)."""
    return self._join(f"ckpt-{step}")

  def export_file(self, name):
    """A file of the export (model_float32.tflite, model.onnx, MODEL_CARD.md, ...)."""
    return self._join("export", name)

  def preset_file(self, name):
    return self._join("preset", name)

  def stage_log(self, name):
    """The log of a reproduction's stage `name` (a file-name-safe slug)."""
    return self._join("logs", f"{name}.log")

  @property
  def checkpoint_state(self):
    """TensorFlow's `checkpoint` state file (what a finished training stage leaves)."""
    return self._join("checkpoint")

  def latest_step(self):
    """The step of the latest checkpoint TensorFlow's state file names, or None."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    try:
      state = tf.train.get_checkpoint_state(self.path)
    except (OSError, ValueError, tf.errors.OpError):
      return None
    if not state or not state.model_checkpoint_path:
      return None
    step = os.path.basename(state.model_checkpoint_path).rsplit("-", 1)[-1]
    return int(step) if step.isdigit() else None

  def has_results(self):
    """Whether evaluation reports can be here (eval/ exists)."""
    return os.path.isdir(self.eval_dir)


class PresetDir:
  """Paths inside a preset folder (keras-hub's presets; written by attn_depth.serving.presets):

      <preset>/model.keras           the network, architecture and weights
      <preset>/model_spec.json       what the network is and the scale it was trained at
      <preset>/provenance.json       step, precision, versions, trained-from, results
      <preset>/README.md             the model card; LICENSE.md the weights' terms where other
      <preset>/operative_config.gin  every gin setting the run used
      <preset>/eval/                 the run's evaluation reports (.json, .md)
      <preset>/logs/train/, logs/eval/  the run's TensorBoard event files
  """

  def __init__(self, path):
    self.path = os.fspath(path)

  def __fspath__(self):
    return self.path

  def _join(self, *parts):
    return os.path.join(self.path, *parts)

  model = property(lambda self: self._join(PRESET_MODEL_FILE))
  spec = property(lambda self: self._join(SPEC_FILE))
  provenance = property(lambda self: self._join(PROVENANCE_FILE))
  legacy_metadata = property(lambda self: self._join(LEGACY_PRESET_METADATA))
  card = property(lambda self: self._join(PRESET_CARD))
  weights_terms = property(lambda self: self._join(WEIGHTS_TERMS_FILE))
  operative_config = property(lambda self: self._join(OPERATIVE_CONFIG))
  eval_dir = property(lambda self: self._join("eval"))

  def logs(self, kind):
    """The TensorBoard events of the run's `kind` ("train" or "eval") logs."""
    return self._join("logs", kind)

  def has_identity(self):
    """Whether this is a preset's folder: its provenance record, or an older preset's."""
    return os.path.isfile(self.provenance) or os.path.isfile(self.legacy_metadata)


def saved_model_asset(export_dir, name):
  """A record inside a SavedModel (assets.extra/model_spec.json, provenance.json, ...)."""
  return os.path.join(export_dir, SAVED_MODEL_ASSETS, name)


def is_saved_model(path):
  return os.path.isdir(path) and os.path.isfile(os.path.join(path, SAVED_MODEL_FILE))


def of_model(path):
  """The RunDir behind a model path: the run itself, a checkpoint's folder, or for a SavedModel
  the folder that holds it (runs/x/export -> runs/x)."""
  folder = os.path.normpath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
  return RunDir(os.path.dirname(folder) or "." if is_saved_model(folder) else folder)
