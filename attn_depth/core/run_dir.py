"""A training run's folder: the one place that knows its layout. Every other module asks a
`RunDir` for a path, so renaming a run file is a one-line change here.

    <run>/ckpt-N.*, checkpoint      checkpoints (TensorFlow's own `checkpoint` state file)
    <run>/model_spec.json           what the network is (attn_depth.models.ModelSpec)
    <run>/operative_config.gin      every gin setting the run used
    <run>/train/                    TensorBoard logs; sessions.json (one entry per session)
    <run>/eval/                     TensorBoard logs; <result>.json/.md reports; preview.png
    <run>/export/                   the SavedModel (and LiteRT/ONNX files, the model card)
    <run>/preset/                   the Keras preset
    <run>/logs/<stage>.log          a reproduction's stage logs; <run>/stages.json their record
    <output>/figures/               the paper's figures across runs
"""

import os

SPEC_FILE = "model_spec.json"
OPERATIVE_CONFIG = "operative_config.gin"
SESSIONS_FILE = "sessions.json"
STAGES_FILE = "stages.json"
SAVED_MODEL_FILE = "saved_model.pb"


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


def is_saved_model(path):
  return os.path.isdir(path) and os.path.isfile(os.path.join(path, SAVED_MODEL_FILE))


def of_model(path):
  """The RunDir behind a model path: the run itself, a checkpoint's folder, or for a SavedModel
  the folder that holds it (runs/x/export -> runs/x)."""
  folder = os.path.normpath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
  return RunDir(os.path.dirname(folder) or "." if is_saved_model(folder) else folder)
