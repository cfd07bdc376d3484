"""Presets: a trained model as one shareable folder, the Keras way (keras-hub's presets).

    <preset>/model.keras        the network, architecture and weights (keras.saving.load_model)
    <preset>/model_spec.json    what the network is and the scale it was trained at
    <preset>/metadata.json      step, fit, versions, where it came from
    <preset>/README.md          the model card (Hugging Face and Kaggle show it as the page)
    <preset>/eval/*.json, *.md  the run's evaluation results, as attn-depth evaluate wrote them

A preset loads from a local folder or from the hubs Keras and keras-hub load from:
`hf://<owner>/<repo>` (Hugging Face, through huggingface_hub's snapshot_download, as
keras.saving.load_model does) and `kaggle://<owner>/<model>/<framework>/<variation>[/<version>]`
(Kaggle Models, through kagglehub.model_download, as keras-hub does). Upload the folder as it is:
`huggingface-cli upload <owner>/<repo> <preset>` or Kaggle's model upload.
"""

import datetime
import glob
import json
import os
import shutil

import keras

from attn_depth.core.run_dir import RunDir
from attn_depth.core import files
from attn_depth.core import version
from attn_depth import models
from attn_depth.core.errors import UserError
from attn_depth.evaluation import reports
from attn_depth.models import network as network_lib
from attn_depth.models import spec as spec_lib

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
MODEL_CARD = "README.md"
EXPORT_CARD = "MODEL_CARD.md"  # beside an exported SavedModel
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
  model and its spec) as a preset in `folder`, with the evaluation results found in
  `run_dir`/eval. Refuses to write into a folder that holds something else. Returns `folder`."""
  if not isinstance(network, network_lib.KerasNetwork):
    raise PresetError(f"{network.source}: a preset needs the Keras model and its spec; load "
                      f"the training run or one of its checkpoints, not a SavedModel")
  if os.path.isdir(folder) and os.listdir(folder) and not os.path.isfile(
      os.path.join(folder, METADATA_FILE)):
    raise PresetError(f"{folder}: exists and is not a preset; choose an empty or new folder")
  metadata = {**_metadata(network.step, network.fit, network.source),
              "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds")}
  with files.replacing(folder) as partial:  # whole, never half of two checkpoints
    os.makedirs(partial)
    network.model.save(os.path.join(partial, MODEL_FILE))
    network.spec.save(partial)
    with open(os.path.join(partial, METADATA_FILE), "w", encoding="utf-8") as f:
      json.dump(metadata, f, indent=2)
    results = _copy_results(run_dir, os.path.join(partial, "eval"))
    with open(os.path.join(partial, MODEL_CARD), "w", encoding="utf-8") as f:
      f.write(model_card(network.spec, metadata, results, training_summary(run_dir),
                         terms=data_terms(run_dir)))
  if print_fn:
    print_fn(f"wrote preset {folder} ({network.spec.name}, step {network.step}, "
             f"{len(results)} evaluation result(s))")
  return folder


def write_export_card(export_dir, spec, step, fit, run_dir=None, checks=None):
  """MODEL_CARD.md beside an exported SavedModel, with the run's evaluation results; `checks`
  (export.export_network's): the LiteRT/ONNX files kept beside it and their measured agreement,
  so the card names only files that exist (written again once they do)."""
  metadata = _metadata(step, fit, run_dir or "an in-memory model")
  results = [report for _, report in _read_results(run_dir)]
  path = os.path.join(export_dir, EXPORT_CARD)
  files.write_text(path, model_card(spec, metadata, results, training_summary(run_dir),
                                    "saved_model", _beside(checks), data_terms(run_dir)))
  return path


def _beside(checks):
  """Card lines for the LiteRT/ONNX files an export kept, with their measured agreement."""
  lines = []
  for name, check in sorted((checks or {}).items()):
    if name == "savedmodel" or not check.get("file") or check.get("kept") is False:
      continue
    lines.append(f"- `{os.path.basename(check['file'])}` "
                 f"({'ONNX, onnxruntime' if name == 'onnx' else f'LiteRT {name}'}): largest "
                 f"relative difference to the float32 network {check['max_rel']:.2g}")
  return lines


def data_terms(run_dir):
  """What the weights were trained on that carries terms of its own: [] for a run on procedural
  rooms from random weights, None when the run is unknown (terms unknown)."""
  path = RunDir(run_dir or "").operative_config
  if not run_dir or not os.path.isfile(path):
    return None
  config = spec_lib.GinFile(path)
  terms = []
  source = config.value("train", "source", "nyu_tfds")
  if not str(source).startswith("synthetic_"):
    terms.append(f"the training data, `{source}` (NYU Depth V2 and SUN RGB-D are distributed "
                 "for research; your own data carries your terms)")
  weights = config.value("build_model", "backbone_weights", "imagenet")
  if weights is not None:
    terms.append("the backbone's initial weights (ImageNet's: non-commercial research and "
                 "education)" if weights == "imagenet" else
                 f"the backbone's initial weights, `{weights}`")
  return terms


def load(handle, precision="float32"):
  """The DepthNetwork of a preset folder or hub handle, built from its files alone, computing
  in `precision` (attn_depth.core.precision)."""
  folder = download(handle)
  missing = [name for name in (MODEL_FILE, models.SPEC_FILE, METADATA_FILE)
             if not os.path.isfile(os.path.join(folder, name))]
  if missing:
    raise PresetError(f"{handle}: not an attn_depth preset (missing {', '.join(missing)}); "
                      f"write one with DepthEstimator.save_to_preset or attn-depth export")
  try:
    spec = models.ModelSpec.load(folder)
    with open(os.path.join(folder, METADATA_FILE), encoding="utf-8") as f:
      metadata = json.load(f)
    model = keras.saving.load_model(os.path.join(folder, MODEL_FILE), compile=False)
  except (ValueError, OSError, KeyError, TypeError) as error:
    raise PresetError(f"{handle}: unreadable preset ({str(error).splitlines()[0][:300]})") \
        from None
  model = network_lib.in_precision(model, spec, precision)
  return network_lib.keras_network(model, spec, source=str(handle), step=metadata.get("step"),
                                   fit=metadata.get("fit", "whole"))


def _metadata(step, fit, trained_from):
  """What a preset's metadata.json and every model card record of a model's provenance."""
  return {"attn_depth_version": _package_version(), "keras_version": keras.__version__,
          "step": step, "fit": fit, "trained_from": str(trained_from)}


def _read_results(run_dir):
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


def _copy_results(run_dir, destination):
  """The run's eval/*.json reports (and their .md) copied into the preset; their contents."""
  results = []
  for path, report in _read_results(run_dir):
    os.makedirs(destination, exist_ok=True)
    shutil.copy2(path, destination)
    markdown = os.path.splitext(path)[0] + ".md"
    if os.path.isfile(markdown):
      shutil.copy2(markdown, destination)
    results.append(report)
  return results


_VARIANT_WORDS = {"baseline": "strided ResNet + deconvolution decoder",
                  "dfe": "dilated DFE, AFBs replaced by sums", "dfe_afb": "dilated DFE + AFB",
                  "full": "dilated DFE + AFB + dilated CRB"}


def training_summary(run_dir):
  """What the run trained on and how, read from its operative_config.gin (nothing is bound);
  empty when the run folder or its config is unknown."""
  path = RunDir(run_dir or "").operative_config
  if not run_dir or not os.path.isfile(path):
    return []
  config = spec_lib.GinFile(path)

  def value(name, default="not recorded"):
    return config.value(*name.split("."), default)

  # Only what the run's operative config says (gin records every parameter of train() it
  # called, defaults included): no default is restated here.
  length = (f"{value('train.total_steps')} steps" if value("train.total_steps", None) else
            f"{value('train.epochs')} epochs")
  weights = value("build_model.backbone_weights")
  return [
      f"- data: `{value('train.source')}` (attn_depth.data.sources)",
      f"- recipe: {length}, batch {value('train.batch_size')}, Adam with poly learning "
      f"rates DFE {value('train.dfe_learning_rate')}, DMG "
      f"{value('train.dmg_learning_rate')}, seed {value('train.seed')}",
      "- backbone initialised from "
      + ("ImageNet (keras.applications)" if weights == "imagenet" else
         "random weights" if weights is None else f"`{weights}`"),
      "- every setting: `operative_config.gin` of the run"]


STATUS = ("attn_depth implements the paper's recipe; no result of the paper's Table 1 has been "
          "reproduced yet (NYU Depth V2, ImageNet weights and a GPU were not available to the "
          "project). This card describes this model only: what it was trained on is under "
          "Training, its own scores under Evaluation.")


def model_card(spec, metadata, results, training=(), loading="preset", beside=(),
               terms=None):
  """A model card (Markdown with Hugging Face's front matter): what the model is, what it was
  trained on and how, how to load it, how it scored, its licence, intended use and limits.
  `loading`: "preset" (the preset's README.md) or "saved_model" (MODEL_CARD.md of an export);
  `beside`: lines naming the other files of an export that exist; `terms`: data_terms()."""
  load = ([
      "```python", "import attn_depth",
      "estimator = attn_depth.DepthEstimator.from_preset(\"<this folder or hf://owner/repo>\")",
      "depths = estimator.predict(images)[\"depths\"]  # [B, H, W, 1] metres", "```"]
          if loading == "preset" else [
      "```python", "import tensorflow as tf",
      "serve = tf.saved_model.load(\"<this folder>\").signatures[\"serving_default\"]",
      "depth = serve(images=tf.constant(uint8_images))[\"depth\"]  # [B, H, W] metres", "```"]
      + (["", "Beside it (`assets.extra/tflite_check.json` has every check):", *beside]
         if beside else []))
  # The code's licence only where the weights carry no other terms (procedural rooms, random
  # initialisation); otherwise "other", explained under Licence.
  licence = "apache-2.0" if terms == [] else "other"
  lines = [
      "---", "library_name: keras", f"license: {licence}", "tags:", "- depth-estimation",
      "- attn_depth", "---", "",
      f"# attn_depth {spec.name} (step {metadata.get('step')})", "", f"**Status:** {STATUS}",
      "",
      "Monocular depth in metres from one RGB image: an implementation of the recipe of Hao, "
      "Li, You, Lu, "
      "*Detail Preserving Depth Estimation from a Single Image Using Attention Guided "
      "Networks* (3DV 2018) in TensorFlow 2 / Keras 3 "
      f"(attn_depth {metadata.get('attn_depth_version')}, Keras {metadata.get('keras_version')}).",
      "", "## Model", "",
      f"- variant `{spec.variant}` (Table 1: {_VARIANT_WORDS[spec.variant]}), "
      f"ResNet-{spec.depth}"
      + (f" with custom blocks {list(spec.backbone_blocks)} at width {spec.backbone_width}"
         if spec.backbone_blocks else ""),
      f"- DMG widths {list(spec.dmg_widths)}, AFB reduction {spec.afb_reduction}",
      f"- input: {spec.input_size[0]}x{spec.input_size[1]} crops of frames resized to "
      f"{spec.resize_size[0]}x{spec.resize_size[1]}; photos are fitted as `{metadata.get('fit')}`",
      "", "## Training", "", f"- from `{metadata.get('trained_from')}`, step "
      f"{metadata.get('step')}", *training, "", "## Use", "", *load, "", "## Evaluation", ""]
  if not results:
    lines.append("No evaluation results were found beside the run.")
  for report in results:
    lines += [f"{report.get('protocol_description')}; {report.get('mode')}; "
              f"{report.get('images')} images of {report.get('source')}; ground truth: "
              f"{report.get('ground_truth')}", "", reports.markdown_rows(report), ""]
  lines += [
      "## Intended use and limits", "",
      "Depth of indoor scenes seen by a camera like NYU Depth V2's Kinect (focal length about "
      "519 px at 640x480), in metres up to 10 m. Other cameras, outdoor scenes and distances "
      "beyond 10 m are outside what it learned: expect guesses. Not for safety-critical use.",
      "", "## Licence", "",
      "The attn_depth code is Apache-2.0. "
      + ("These weights were trained on procedural rooms from random initial weights: they "
         "carry no data terms (Apache-2.0)." if terms == [] else
         "These weights also carry the terms of " + "; and of ".join(terms) + "." if terms else
         "The weights also carry the terms of what they were trained on (not recorded here): "
         "NYU Depth V2 is distributed for research, ImageNet's weights for non-commercial "
         "research and education."), ""]
  return "\n".join(lines) + "\n"


def _package_version():
  return version.__version__
