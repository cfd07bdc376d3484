"""The run folder's one owner (attn_depth.core.run_dir): the step from TensorFlow's own
checkpoint state, the run behind any model path, and no other module spelling a run file."""

import ast
import os

import tensorflow as tf

from attn_depth.core import run_dir
from attn_depth.core.run_dir import RunDir
from tests.conftest import REPO_ROOT


def test_the_latest_step_is_tensorflows_checkpoint_state(tmp_path):
  run = RunDir(tmp_path)
  assert run.latest_step() is None  # no checkpoint yet
  variable = tf.Variable(1.0)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=variable), str(tmp_path), 3)
  manager.save(checkpoint_number=600)
  manager.save(checkpoint_number=1200)
  assert run.latest_step() == 1200 and os.path.isfile(run.checkpoint(1200) + ".index")
  # A run moved to another folder: the state file still names the old absolute paths.
  (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/elsewhere/run/ckpt-86680"\n'
                                       'all_model_checkpoint_paths: "/elsewhere/run/ckpt-86000"\n')
  assert run.latest_step() == 86680
  (tmp_path / "checkpoint").write_text("not a checkpoint state {")
  assert run.latest_step() is None


def test_the_run_behind_a_model_path(tmp_path):
  run = RunDir(tmp_path / "runs" / "x")
  os.makedirs(run.export_dir)
  (tmp_path / "runs" / "x" / "export" / "saved_model.pb").write_bytes(b"")
  assert run_dir.of_model(run.path).path == run.path
  assert run_dir.of_model(run.checkpoint(600)).path == run.path  # a checkpoint prefix
  assert run_dir.of_model(run.export_dir).path == run.path  # runs/x/export -> runs/x
  assert run.report("nyu_labeled_paper") == os.path.join(run.path, "eval",
                                                         "nyu_labeled_paper.json")


def test_no_module_but_the_owner_spells_a_run_file_name():
  """Renaming a run file is a one-line change: no string in the package (docstrings aside,
  which describe) equals one of the run folder's file names, except in core/run_dir.py."""
  names = {run_dir.SPEC_FILE, run_dir.OPERATIVE_CONFIG, run_dir.SESSIONS_FILE,
           run_dir.STAGES_FILE, run_dir.SAVED_MODEL_FILE, "preview.png",
           # a preset's and an export's records (run_dir.PresetDir, saved_model_asset)
           run_dir.SAVED_MODEL_ASSETS, run_dir.PROVENANCE_FILE, run_dir.LEGACY_PRESET_METADATA,
           run_dir.LEGACY_EXPORT_METADATA, run_dir.PRESET_MODEL_FILE, run_dir.PRESET_CARD,
           run_dir.EXPORT_CARD, run_dir.WEIGHTS_TERMS_FILE}
  found = []
  package = os.path.join(REPO_ROOT, "attn_depth")
  for folder, _, file_names in os.walk(package):
    for name in file_names:
      path = os.path.join(folder, name)
      if not name.endswith(".py") or path.endswith(os.path.join("core", "run_dir.py")):
        continue
      with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
      for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in names:
          found.append(f"{os.path.relpath(path, REPO_ROOT)}:{node.lineno} {node.value!r}")
  assert not found, found
