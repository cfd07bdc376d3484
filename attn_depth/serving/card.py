"""The model card: one writer for presets (README.md, the page Hugging Face and Kaggle show) and
SavedModel exports (MODEL_CARD.md), from (spec, provenance, results, operative config).

The front matter is Hugging Face's model-card metadata: `pipeline_tag: depth-estimation`,
`library_name`, `tags`, a `license` that matches the weights (`apache-2.0` for weights trained
on procedural rooms from random initial weights; `other`, with `license_name`, `license_link` and
the terms in LICENSE.md beside the card, for weights that learned from NYU Depth V2 or started
from ImageNet's), `datasets` only for what the weights were trained on, `depth_estimation` (the
depth is metric, in metres, and the range it learned) and a `model-index` with the evaluated
results where one exists. What the card says of training comes from the run's
operative_config.gin alone; no default is restated.
"""

import json
import math
import os

from attn_depth.core import files
from attn_depth.core import run_dir as run_dir_lib
from attn_depth.data import synthetic_rooms
from attn_depth.evaluation import reports
from attn_depth.models import spec as spec_lib

NYU_SOURCES = ("nyu_tfds", "nyu_labeled", "densedepth")  # NYU Depth V2, however it is read
NYU_DATASET = "nyu_depth_v2"  # its name in the card's `datasets`
NYU_RANGE_M = (0.0, 10.0)  # NYU Depth V2's depth maps (Kinect) end at 10 m
KAGGLE_LICENCE = "Apache 2.0"  # Kaggle's name for the code's licence
METRIC_NAMES = {"rel": "rel", "rms": "rms (m)", "log10": "log10", "delta1": "δ<1.25",
                "delta2": "δ<1.25²", "delta3": "δ<1.25³"}

STATUS = ("attn_depth implements the paper's recipe; no result of the paper's Table 1 has been "
          "reproduced yet (NYU Depth V2, ImageNet weights and a GPU were not available to the "
          "project). This card describes this model only: what it was trained on is under "
          "Training, its own scores under Evaluation.")

_VARIANT_WORDS = {"baseline": "strided ResNet + deconvolution decoder",
                  "dfe": "dilated DFE, AFBs replaced by sums", "dfe_afb": "dilated DFE + AFB",
                  "full": "dilated DFE + AFB + dilated CRB"}


def read_config(path):
  """The run's operative_config.gin (a GinFile) at `path`, or None where there is none."""
  if not path or not os.path.isfile(path):
    return None
  return spec_lib.GinFile(path)


def training_summary(config):
  """What the run trained on and how, read from its operative config (a GinFile; gin records
  every parameter of train() it called, defaults included): no default is restated here. Empty
  when the config is unknown."""
  if config is None:
    return []

  def value(name, default="not recorded"):
    return config.value(*name.split("."), default)

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


def data_terms(config):
  """What the weights were trained on that carries terms of its own: [] for a run on procedural
  rooms from random weights, None when the run's config is unknown (terms unknown)."""
  if config is None:
    return None
  terms = []
  source = config.value("train", "source", None)
  if source is None or not str(source).startswith("synthetic_"):
    terms.append(f"the training data, `{source}` (NYU Depth V2 and SUN RGB-D are distributed "
                 "for research; your own data carries your terms)" if source else
                 "the training data (not recorded)")
  weights = config.value("build_model", "backbone_weights", "not recorded")
  if weights is not None:
    terms.append("the backbone's initial weights (ImageNet's: non-commercial research and "
                 "education)" if weights == "imagenet" else
                 f"the backbone's initial weights, `{weights}`")
  return terms


def _licence_name(config):
  """license_name of a card whose licence is `other`: lowercase words joined by dashes."""
  if config is None:
    return "attn-depth-weights-unrecorded-terms"
  source = config.value("train", "source", None)
  parts = ["nyu-depth-v2" if source in NYU_SOURCES else
           None if source and str(source).startswith("synthetic_") else "training-data"]
  weights = config.value("build_model", "backbone_weights", "not recorded")
  parts.append(None if weights is None else "imagenet" if weights == "imagenet" else
               "backbone-weights")
  return "-".join(["attn-depth-weights"] + [part for part in parts if part]) + "-terms"


def _depth_range(config):
  """The range of depths (metres) the weights learned, from their training data; None when
  that data's range is not known here (own RGB-D files, an unknown run)."""
  source = config.value("train", "source", None) if config is not None else None
  if source and str(source).startswith("synthetic_"):
    return [float(synthetic_rooms.MIN_DEPTH), float(synthetic_rooms.MAX_DEPTH)]
  if source in NYU_SOURCES:
    return [float(value) for value in NYU_RANGE_M]
  return None


def front_matter(spec, provenance, config):
  """The card's metadata (a dict in the order it is written), see the module docstring."""
  terms = data_terms(config)
  metadata = {"pipeline_tag": "depth-estimation", "library_name": "keras",
              "license": "apache-2.0" if terms == [] else "other"}
  if terms != []:
    metadata.update(license_name=_licence_name(config),
                    license_link=run_dir_lib.WEIGHTS_TERMS_FILE)
  metadata["tags"] = ["depth-estimation", "monocular-depth-estimation", "metric-depth",
                      "keras", "tensorflow", "attn_depth"]
  source = config.value("train", "source", None) if config is not None else None
  if source in NYU_SOURCES:
    metadata["datasets"] = [NYU_DATASET]
  depth_range = _depth_range(config)
  metadata["depth_estimation"] = {
      "depth": "metric", "unit": "m",
      **({"range_m": depth_range} if depth_range else
         {"range": "that of the training data (not known here)"})}
  results = []
  for result in provenance.get("results") or []:
    if not result.get("metrics"):
      continue
    source = result.get("source")
    results.append({
        "task": {"type": "depth-estimation", "name": "Depth Estimation"},
        "dataset": {"type": NYU_DATASET if source in NYU_SOURCES else str(source),
                    "name": f"{source} ({result.get('images')} test images)", "split": "test",
                    "config": str(result.get("protocol"))},
        "metrics": [{"type": key, "value": value, "name": f"{METRIC_NAMES.get(key, key)}, "
                     f"{result.get('protocol')} protocol, {result.get('mode')}"}
                    for key, value in result["metrics"].items()]})
  if results:
    metadata["model-index"] = [{"name": f"attn_depth {spec.name}", "results": results}]
  return metadata


def _yaml(value):
  """`value` in YAML's flow style (JSON's strings; every float exact, with a dot and a signed
  exponent, which YAML 1.1 readers such as PyYAML need to read it as a number)."""
  if isinstance(value, dict):
    return "{" + ", ".join(f"{_yaml(str(k))}: {_yaml(v)}" for k, v in value.items()) + "}"
  if isinstance(value, (list, tuple)):
    return "[" + ", ".join(_yaml(v) for v in value) + "]"
  if isinstance(value, bool) or value is None:
    return json.dumps(value)
  if isinstance(value, int):
    return str(value)
  if isinstance(value, float):
    if not math.isfinite(value):
      raise ValueError(f"a card's metadata holds finite numbers only, got {value}")
    mantissa, _, exponent = repr(value).partition("e")
    mantissa += "" if "." in mantissa else ".0"
    return mantissa + (f"e{'' if exponent[0] in '+-' else '+'}{exponent}" if exponent else "")
  return json.dumps(str(value))


def render_front_matter(metadata):
  """The `---` block of a card: lists of words one per line, everything else in flow style."""
  lines = ["---"]
  for key, value in metadata.items():
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
      lines += [f"{key}:"] + [f"- {_yaml(item)}" for item in value]
    else:
      lines.append(f"{key}: {_yaml(value)}")
  return "\n".join(lines + ["---"])


def beside(checks):
  """Card lines for the LiteRT/ONNX files an export kept, with their measured agreement."""
  lines = []
  for name, check in sorted((checks or {}).items()):
    if name == "savedmodel" or not check.get("file") or check.get("kept") is False:
      continue
    lines.append(f"- `{os.path.basename(check['file'])}` "
                 f"({'ONNX, onnxruntime' if name == 'onnx' else f'LiteRT {name}'}): largest "
                 f"relative difference to the float32 network {check['max_rel']:.2g}")
  return lines


def share_commands(spec, licence):
  """The commands that upload a preset folder (the current one) to the Hugging Face Hub (the
  `hf` command of huggingface_hub) and to Kaggle Models (kagglehub.model_upload)."""
  kaggle_licence = f", license_name={KAGGLE_LICENCE!r}" if licence == "apache-2.0" else ""
  return [f"hf upload <you>/attn-depth-{spec.name} .",
          f"python -c \"import kagglehub; kagglehub.model_upload("
          f"'<you>/attn-depth/keras/{spec.name}', '.'{kaggle_licence})\""]


def _use(spec, loading, beside, licence, version):
  if loading != "preset":
    return [
        "Plain TensorFlow, no attn_depth needed:", "",
        "```python", "import tensorflow as tf",
        "serve = tf.saved_model.load(\"<this folder>\").signatures[\"serving_default\"]",
        "depth = serve(images=tf.constant(uint8_images))[\"depth\"]  # [B, H, W] metres", "```"
    ] + (["", "Beside it (`assets.extra/tflite_check.json` has every check):", *beside]
         if beside else [])
  hf_command, kaggle_command = share_commands(spec, licence)
  return [
      f"Install attn_depth (this preset was written by version {version}) from a clone of its "
      "repository: `pip install -c constraints.txt \".[hub]\"` in the clone (the `hub` extra "
      "brings huggingface_hub and kagglehub for `hf://` and `kaggle://` handles). Then",
      "", "```python", "import attn_depth",
      "estimator = attn_depth.DepthEstimator.from_preset(\"hf://<you>/attn-depth-"
      f"{spec.name}\")",
      f"# or \"kaggle://<you>/attn-depth/keras/{spec.name}\", or this folder's path",
      "depths = estimator.predict(images)[\"depths\"]  # [B, H, W, 1] metres", "```", "",
      "Every `attn-depth` command's `--model` takes the same handle. The Hub's generic Keras "
      "snippet, `keras.saving.load_model(\"hf://...\")`, does not load this repository: it "
      "expects Keras' unzipped layout (`config.json`, `model.weights.h5`), while the network "
      "here is one `model.keras` file that needs attn_depth's layers and `model_spec.json` to "
      "be fed at its training scale.", "",
      "Share this folder as it is, from inside it, on the Hugging Face Hub (huggingface_hub's "
      "`hf` command) or Kaggle Models (kagglehub):", "", "```bash", hf_command, kaggle_command,
      "```"] + ([] if licence == "apache-2.0" else [
          "", "On Kaggle, set the model's licence to the terms under Licence."])


def model_card(spec, provenance, results=(), operative_config=None, loading="preset",
               beside=()):
  """A model card (Markdown with Hugging Face's front matter): what the model is, what it was
  trained on and how, how to install and load it, how it scored, its licence, intended use and
  limits. `provenance`: the model's record (attn_depth.serving.provenance); `results`: the run's
  evaluation reports; `operative_config`: the path of the run's operative_config.gin (None:
  unknown); `loading`: "preset" (a preset's README.md) or "saved_model" (an export's
  MODEL_CARD.md); `beside`: lines naming the other files of an export that exist."""
  config = read_config(operative_config)
  terms = data_terms(config)
  metadata = front_matter(spec, provenance, config)
  versions = provenance.get("versions") or {}
  step = provenance.get("step")
  depth_range = metadata["depth_estimation"].get("range_m")
  lines = [
      render_front_matter(metadata), "",
      f"# attn_depth {spec.name} (step {step})", "", f"**Status:** {STATUS}", "",
      "Monocular metric depth, in metres, from one RGB image: an implementation of the recipe "
      "of Hao, Li, You, Lu, *Detail Preserving Depth Estimation from a Single Image Using "
      "Attention Guided Networks* (3DV 2018) in TensorFlow 2 / Keras 3 "
      f"(attn_depth {versions.get('attn_depth')}, Keras {versions.get('keras')}).",
      "", "## Model", "", *_model_lines(spec, provenance, depth_range),
      "", "## Training", "", f"- from `{provenance.get('trained_from')}`, step {step}"
      + (f", computing in {provenance['precision']}" if provenance.get("precision") else ""),
      *training_summary(config), "", "## Use", "",
      *_use(spec, loading, beside, metadata["license"], versions.get("attn_depth")), "",
      "## Evaluation", "", *_evaluation_lines(results)]
  lines += [
      "## Intended use and limits", "",
      "Depth of indoor scenes seen by a camera like NYU Depth V2's Kinect (focal length about "
      "519 px at 640x480), in metres up to 10 m. Other cameras, outdoor scenes and distances "
      "beyond 10 m are outside what it learned: expect guesses. Not for safety-critical use.",
      "", "## Licence", "", "The attn_depth code is Apache-2.0. " + _terms_text(terms), ""]
  return "\n".join(lines) + "\n"


def _model_lines(spec, provenance, depth_range):
  return [
      f"- variant `{spec.variant}` (Table 1: {_VARIANT_WORDS[spec.variant]}), "
      f"ResNet-{spec.depth}"
      + (f" with custom blocks {list(spec.backbone_blocks)} at width {spec.backbone_width}"
         if spec.backbone_blocks else ""),
      f"- DMG widths {list(spec.dmg_widths)}, AFB reduction {spec.afb_reduction}",
      f"- input: {spec.input_size[0]}x{spec.input_size[1]} crops of frames resized to "
      f"{spec.resize_size[0]}x{spec.resize_size[1]}; photos are fitted as "
      f"`{provenance.get('fit')}`",
      "- output: depth in metres (non-negative, not clipped); "
      + (f"it learned depths from {depth_range[0]:g} to {depth_range[1]:g} m" if depth_range
         else "the range it learned is that of its training data")]


def _evaluation_lines(results):
  if not results:
    return ["No evaluation results were found beside the run.", ""]
  lines = []
  for report in results:
    lines += [f"{report.get('protocol_description')}; {report.get('mode')}; "
              f"{report.get('images')} images of {report.get('source')}; ground truth: "
              f"{report.get('ground_truth')}", "", reports.markdown_rows(report), ""]
  return lines


def _terms_text(terms):
  if terms == []:
    return ("These weights were trained on procedural rooms from random initial weights: they "
            "carry no data terms (Apache-2.0).")
  if terms:
    return "These weights also carry the terms of " + "; and of ".join(terms) + "."
  return ("The weights also carry the terms of what they were trained on (not recorded here): "
          "NYU Depth V2 is distributed for research, ImageNet's weights for non-commercial "
          "research and education.")


def write(folder, name, spec, provenance, results=(), operative_config=None, loading="preset",
          beside=()):
  """Writes the card `name` into `folder` and, where its licence is `other`, LICENSE.md with the
  terms it links to (each whole or not at all). Returns the card's path."""
  text = model_card(spec, provenance, results, operative_config, loading, beside)
  terms = data_terms(read_config(operative_config))
  terms_path = os.path.join(folder, run_dir_lib.WEIGHTS_TERMS_FILE)
  if terms != []:
    files.write_text(terms_path, "# Terms of these weights\n\nThe attn_depth code is "
                     "Apache-2.0 (its repository's LICENSE). " + _terms_text(terms) + "\n")
  path = os.path.join(folder, name)
  files.write_text(path, text)
  return path
