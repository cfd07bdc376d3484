"""Presets: a trained model as one shareable folder, the Keras way (keras-hub's presets).

    <preset>/model.keras           the network, architecture and weights (keras.saving.load_model)
    <preset>/model_spec.json       what the network is and the scale it was trained at
    <preset>/provenance.json       step, precision, versions, trained-from, results
                                   (attn_depth.serving.provenance; older presets: metadata.json)
    <preset>/README.md             the model card (Hugging Face and Kaggle show it as the page);
                                   LICENSE.md beside it where the weights carry other terms
    <preset>/operative_config.gin  every gin setting the run used
    <preset>/eval/*.json, *.md     the run's evaluation results, as attn-depth evaluate wrote them
    <preset>/logs/train/, eval/    the run's TensorBoard event files

(the layout: attn_depth.core.run_dir.PresetDir). A preset loads from a local folder or from the
hubs Keras and keras-hub load from: `hf://<owner>/<repo>` (Hugging Face, through huggingface_hub's
snapshot_download, as keras.saving.load_model does) and
`kaggle://<owner>/<model>/<framework>/<variation>[/<version>]` (Kaggle Models, through
kagglehub.model_download, as keras-hub does). Upload the folder as it is: `hf upload
<owner>/<repo> <preset>` or kagglehub.model_upload (the card gives both commands).
"""

import glob
import json
import os
import shutil

import keras

from attn_depth.core import files
from attn_depth.core import precision as precision_lib
from attn_depth.core import run_dir as run_dir_lib
from attn_depth.core.run_dir import PresetDir
from attn_depth.core.run_dir import RunDir
from attn_depth import models
from attn_depth.core.errors import UserError
from attn_depth.models import network as network_lib
from attn_depth.serving import card as card_lib
from attn_depth.serving import provenance as provenance_lib

MODEL_FILE = run_dir_lib.PRESET_MODEL_FILE
METADATA_FILE = run_dir_lib.LEGACY_PRESET_METADATA  # what presets carried before provenance.json
MODEL_CARD = run_dir_lib.PRESET_CARD
EXPORT_CARD = run_dir_lib.EXPORT_CARD  # beside an exported SavedModel
HUBS = {"hf": "huggingface_hub", "kaggle": "kagglehub"}


class PresetError(UserError, ValueError):
  """A preset handle or folder that cannot be loaded; the message says why and what to do."""


def is_preset(path):
  """True for a hub handle or a folder holding a preset's model.keras."""
  return "://" in str(path) or os.path.isfile(os.path.join(str(path), MODEL_FILE))


def parse_handle(handle):
  """'hf://owner/repo' -> ("hf", "owner/repo"); 'kaggle://o/m/f/v[/n]' -> ("kaggle", "o/m/f/v");
  anything else -> ("local", path)."""
  handle = str(handle)
  if "://" not in handle:
    return "local", os.path.expanduser(handle)
  scheme, rest = handle.split("://", 1)
  rest = rest.strip("/")
  if scheme not in HUBS:
    raise PresetError(f"{handle}: unknown preset scheme {scheme!r}; expected a folder, "
                      f"hf://<owner>/<repo> or kaggle://<owner>/<model>/<framework>/<variation>")
  parts = rest.split("/")
  expected = (2,) if scheme == "hf" else (4, 5)
  if len(parts) not in expected or not all(parts):
    form = ("hf://<owner>/<repo>" if scheme == "hf" else
            "kaggle://<owner>/<model>/<framework>/<variation>[/<version>]")
    raise PresetError(f"{handle}: expected {form}")
  return scheme, rest


def download(handle):
  """A local folder holding the preset `handle` names (downloaded and cached by the hub's own
  library where it is a hub handle)."""
  scheme, name = parse_handle(handle)
  if scheme == "local":
    return name
  library = HUBS[scheme]
  try:
    module = __import__(library)
  except ImportError:
    raise PresetError(f"{handle}: loading from {scheme} needs the {library} package "
                      f"(pip install {library}, or pip install -e '.[hub]')") from None
  try:
    if scheme == "hf":
      return module.snapshot_download(repo_id=name, library_name="attn_depth")
    return module.model_download(name)
  except Exception as error:  # pylint: disable=broad-except  (network, auth, missing repo)
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise PresetError(f"{handle}: could not download the preset ({type(error).__name__}: "
                      f"{first[:300]}); check the name and your network, or download the "
                      f"folder yourself and pass its path") from None


def save(network, folder, run_dir=None, print_fn=None):
  """Writes `network` (a DepthNetwork loaded from a run or checkpoint: it holds the Keras
  model and its spec) as a preset in `folder`, with the evaluation results, operative config and
  TensorBoard logs found in `run_dir`. Refuses to write into a folder that holds something else
  (an earlier preset is replaced whole). Returns `folder`."""
  if not isinstance(network, network_lib.KerasNetwork):
    raise PresetError(f"{network.source}: a preset needs the Keras model and its spec; load "
                      f"the training run or one of its checkpoints, not a SavedModel")
  if os.path.isdir(folder) and os.listdir(folder) and not PresetDir(folder).has_identity():
    raise PresetError(f"{folder}: exists and is not a preset; choose an empty or new folder")
  found = read_results(run_dir)
  record = provenance_lib.record(
      network.step, network.fit, precision_lib.of_model(network.model), network.source,
      [(os.path.splitext(os.path.basename(path))[0], report) for path, report in found],
      network.trained_on or provenance_lib.training_source(
          run_dir and RunDir(run_dir).operative_config))
  with files.replacing(folder) as partial:  # whole, never half of two checkpoints
    os.makedirs(partial)
    preset = PresetDir(partial)
    network.model.save(preset.model)
    network.spec.save(partial)
    provenance_lib.write(partial, record)
    results = _copy_results(found, preset.eval_dir)
    config = _copy_run_files(run_dir, preset)
    card_lib.write(partial, MODEL_CARD, network.spec, record, results, config)
  if print_fn:
    print_fn(f"wrote preset {folder} ({network.spec.name}, step {network.step}, "
             f"{len(results)} evaluation result(s))")
  return folder


def _copy_run_files(run_dir, preset):
  """The run's operative_config.gin and TensorBoard event files (train/, eval/) copied into the
  preset; the copied config's path, or None where the run has none."""
  if not run_dir:
    return None
  run = RunDir(run_dir)
  for kind, logs in (("train", run.train_logs), ("eval", run.eval_dir)):
    events = sorted(glob.glob(os.path.join(logs, run_dir_lib.TFEVENTS_PATTERN)))
    if events:
      os.makedirs(preset.logs(kind), exist_ok=True)
    for path in events:
      shutil.copy2(path, preset.logs(kind))
  if not os.path.isfile(run.operative_config):
    return None
  shutil.copy2(run.operative_config, preset.operative_config)
  return preset.operative_config


def write_export_card(export_dir, spec, run_dir=None, checks=None):
  """MODEL_CARD.md beside an exported SavedModel, from its provenance record
  (assets.extra/provenance.json) and the run's evaluation results and operative config;
  `checks` (export.export_network's): the LiteRT/ONNX files kept beside it and their measured
  agreement, so the card names only files that exist (written again once they do)."""
  record = provenance_lib.read(os.path.join(export_dir, run_dir_lib.SAVED_MODEL_ASSETS),
                               run_dir_lib.LEGACY_EXPORT_METADATA)
  results = [report for _, report in read_results(run_dir)]
  config = RunDir(run_dir).operative_config if run_dir else None
  return card_lib.write(export_dir, EXPORT_CARD, spec, record, results, config, "saved_model",
                        card_lib.beside(checks))


def load(handle, precision="float32"):
  """The DepthNetwork of a preset folder or hub handle, built from its files alone, computing
  in `precision` (attn_depth.core.precision)."""
  folder = download(handle)
  missing = [name for name in (MODEL_FILE, models.SPEC_FILE)
             if not os.path.isfile(os.path.join(folder, name))]
  if not PresetDir(folder).has_identity():
    missing.append(run_dir_lib.PROVENANCE_FILE)
  if missing:
    raise PresetError(f"{handle}: not an attn_depth preset (missing {', '.join(missing)}); "
                      f"write one with DepthEstimator.save_to_preset or attn-depth export")
  try:
    spec = models.ModelSpec.load(folder)
    metadata = read_provenance(folder)
    model = keras.saving.load_model(os.path.join(folder, MODEL_FILE), compile=False)
  except (ValueError, OSError, KeyError, TypeError) as error:
    raise PresetError(f"{handle}: unreadable preset ({str(error).splitlines()[0][:300]})") \
        from None
  model = network_lib.in_precision(model, spec, precision)
  trained_on = metadata.get("trained_on") or provenance_lib.training_source(
      PresetDir(folder).operative_config)  # a preset written before the record had the entry
  return network_lib.keras_network(model, spec, source=str(handle), step=metadata.get("step"),
                                   fit=metadata.get("fit") or "whole").replace(
                                       trained_on=trained_on)


def read_provenance(folder):
  """A preset's provenance record (attn_depth.serving.provenance): its provenance.json, or the
  metadata.json of a preset written before it; None when it has neither."""
  return provenance_lib.read(folder, METADATA_FILE)


def read_results(run_dir):
  """(path, report) of every evaluation report in `run_dir`/eval, in name order."""
  found = []
  if not run_dir:
    return found
  for path in sorted(glob.glob(os.path.join(RunDir(run_dir).eval_dir, "*.json"))):
    try:
      with open(path, encoding="utf-8") as f:
        report = json.load(f)
    except (OSError, ValueError):
      continue
    if "metrics" in report and "protocol" in report:  # an evaluation report
      found.append((path, report))
  return found


def _copy_results(found, destination):
  """The run's eval/*.json reports `found` (and their .md) copied into the preset; their
  contents."""
  results = []
  for path, report in found:
    os.makedirs(destination, exist_ok=True)
    shutil.copy2(path, destination)
    markdown = os.path.splitext(path)[0] + ".md"
    if os.path.isfile(markdown):
      shutil.copy2(markdown, destination)
    results.append(report)
  return results
