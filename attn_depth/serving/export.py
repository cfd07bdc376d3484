"""SavedModel, LiteRT and ONNX export: depth for any image size.

Signatures of the SavedModel:
  serving_default: images uint8 [B, H, W, 3], any H and W -> depth float32 [B, H, W] metres
    (resized bilinearly to the training scale -- the whole image at the training frames' area,
    fit "whole", or squeezed to the training crop, fit "squeeze"; see attn_depth.serving.inference --
    predicted, resized back).
  network: images float32 [B, h, w, 3] in [0, 1], h and w multiples of 8 -> depth float32
    [B, h/2, w/2] metres: the fully convolutional network itself, which evaluation protocols
    need to place the prediction in the frame themselves.
`assets.extra/model_spec.json` holds the model's spec, `assets.extra/provenance.json` its
provenance (step, fit, precision, versions, trained-from, results: attn_depth.serving.provenance;
exports before it wrote `assets.extra/attn_depth.json`); MODEL_CARD.md sits beside them.

LiteRT (`model_<precision>.tflite` for float32, float16, int8_dynamic and int8; see
TFLITE_PRECISIONS; through Keras' `export(format="litert")`)
and ONNX (`model.onnx`, Keras' `export(format="onnx")`) hold the `network` endpoint: float32
[B, H, W, 3] in [0, 1], H and W multiples of 8 -> depth [B, H/2, W/2, 1] metres, any size; fitting
a photo to the training scale is the caller's (as `inference.resize_predict_resize` does). Each is
checked against the SavedModel's `network` on a sample at several sizes.
"""

import contextlib
import importlib.util
import json
import os
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from attn_depth.core import run_dir as run_dir_lib
from attn_depth.core import files
from attn_depth.serving import inference
from attn_depth.core import precision as precision_lib
from attn_depth.serving import presets
from attn_depth.serving import provenance
from attn_depth.core.errors import UserError


def _ensure_float32_output(model):
  def network_fn(images):
    return tf.cast(model(images, training=False), tf.float32)[..., 0]
  return network_fn


def export_saved_model(model, export_dir, spec, step=None, fit="whole", run_dir=None):
  """Writes `model` as a SavedModel to `export_dir` (see the module docstring). Returns it.

  spec: the `models.ModelSpec` of `model`, stored inside (assets.extra/model_spec.json); its
    input_size (the training crop, paper 240x320) is what fit="squeeze" resizes images to, its
    resize_size (the frame size that crop came from, paper 312x416) the area fit="whole"
    resizes images to and the scale evaluation protocols run whole frames at.
  fit: how serving_default fits an image to the network (inference.FITS).
  run_dir: the training run, whose data, recipe and evaluation results go into MODEL_CARD.md.
  """
  network_fn = _ensure_float32_output(model)
  input_size, resize_size = spec.input_size, spec.resize_size
  archive = keras.export.ExportArchive()
  archive.track(model)

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
  def serve(images):
    return {"depth": inference.resize_predict_resize(network_fn, images, input_size,
                                                     resize_size, fit)}

  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                              name="images")])
  def network(images):
    return {"depth": network_fn(images)}

  archive.add_endpoint(name=inference.SERVING_SIGNATURE, fn=serve)
  archive.add_endpoint(name=inference.NETWORK_SIGNATURE, fn=network)
  archive.write_out(export_dir, verbose=False)
  assets = os.path.join(export_dir, run_dir_lib.SAVED_MODEL_ASSETS)
  spec.save(assets)
  found = presets.read_results(run_dir)
  provenance.write(assets, provenance.record(
      step, fit, precision_lib.of_model(model), run_dir or "an in-memory model",
      [(os.path.splitext(os.path.basename(path))[0], report) for path, report in found],
      provenance.training_source(run_dir and run_dir_lib.RunDir(run_dir).operative_config)))
  presets.write_export_card(export_dir, spec, run_dir)
  return export_dir


# LiteRT variants (file model_<name>.tflite):
#   float32       the network as trained;
#   float16       weights stored in half precision (half the file); kernels compute in float32
#                 on CPUs;
#   int8_dynamic  dynamic-range quantization: int8 weights (a quarter of the file), activations
#                 quantized on the fly per inference, float where a kernel has no int8 version;
#   int8          full-integer: weights and activations int8 (float input and output), the
#                 activation ranges calibrated on procedural rooms (`representative_rooms`).
TFLITE_PRECISIONS = ("float32", "float16", "int8_dynamic", "int8")
ONNX_FILE = "model.onnx"


def tflite_name(precision):
  """The LiteRT file of `precision` in an export folder (model_float32.tflite, ...)."""
  return f"model_{precision}.tflite"


DEFAULT_TFLITE = ("float32", "float16")  # what attn-depth export writes unless told


def representative_rooms(spec, count=32, seed=90_000):
  """The int8 calibration set: `count` procedural rooms (a seed range no training or test set
  uses) at the network's input size, as float32 [1, H, W, 3] in [0, 1] batches."""
  from attn_depth.data import synthetic_rooms  # pylint: disable=import-outside-toplevel

  def batches():
    for index in range(count):
      image = synthetic_rooms.render(seed + index)[0]
      image = tf.image.convert_image_dtype(image[None], tf.float32)
      yield [tf.image.resize(image, spec.input_size, method="bilinear").numpy()]
  return batches


def _tflite_options(precision, spec):
  if precision == "float32":
    return {}
  if precision == "float16":
    return {"optimizations": [tf.lite.Optimize.DEFAULT],
            "target_spec": {"supported_types": [tf.float16]}}
  if precision == "int8_dynamic":
    return {"optimizations": [tf.lite.Optimize.DEFAULT]}
  return {"optimizations": [tf.lite.Optimize.DEFAULT],
          "representative_dataset": representative_rooms(spec),
          "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]}}


def convert_to_tflite(model, precision="float32", spec=None):
  """The network (the SavedModel's `network` endpoint: float32 [B, H, W, 3] in [0, 1], H and W
  multiples of 8 -> depth [B, H/2, W/2, 1] metres, any size) as a LiteRT flatbuffer (bytes),
  through Keras' own exporter, `model.export(format="litert")`. `precision`: one of
  TFLITE_PRECISIONS (above); int8 needs the model's `spec` (its input size, for calibration).
  """
  if precision not in TFLITE_PRECISIONS:
    raise ValueError(f"precision must be one of {TFLITE_PRECISIONS}, got {precision!r}")
  if precision == "int8" and spec is None:
    raise ValueError("int8 calibration needs the model's spec")
  with tempfile.TemporaryDirectory() as scratch:
    path = os.path.join(scratch, "model.tflite")
    model.export(path, format="litert", verbose=False, **_tflite_options(precision, spec))
    with open(path, "rb") as f:
      return f.read()


def _tflite_interpreter(tflite_model, num_threads=None):
  # LiteRT is TFLite's runtime now; tf.lite.Interpreter is deprecated and due to leave TF.
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=import-outside-toplevel
  except ImportError:
    Interpreter = tf.lite.Interpreter  # pylint: disable=invalid-name
  return Interpreter(model_content=tflite_model, num_threads=num_threads)


def tflite_runner(tflite_model, num_threads=None):
  """A function float32 [B, H, W, 3] in [0, 1] -> depth [B, H/2, W/2] of a LiteRT network (one
  interpreter for every call; `num_threads` as LiteRT's Interpreter takes it)."""
  runner = _tflite_interpreter(tflite_model, num_threads).get_signature_runner(
      inference.SERVING_SIGNATURE)
  (name,) = runner.get_input_details()

  def run(images):
    outputs = runner(**{name: np.asarray(images, np.float32)})
    return np.asarray(next(iter(outputs.values())))[..., 0]

  return run


def run_tflite(tflite_model, images):
  """Runs a LiteRT network on float32 [B, H, W, 3] in [0, 1]; returns depth [B, H/2, W/2]."""
  return tflite_runner(tflite_model)(images)


def export_onnx(model, path):
  """The network as ONNX (Keras' exporter, through tf2onnx); same interface as LiteRT's.
  Needs the onnx extra (pip install -e ".[onnx]")."""
  with warnings.catch_warnings():
    # Keras' tf2onnx shim probes `np.object`, which NumPy answers with a FutureWarning: not
    # the user's concern, and it reached the console of every export.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"keras\.src\.export")
    model.export(path, format="onnx", verbose=False)
  return path


def onnx_runner(path):
  """A function float32 [B, H, W, 3] -> depth [B, H/2, W/2] of an ONNX network in onnxruntime
  (one session for every call)."""
  import onnxruntime  # pylint: disable=import-outside-toplevel
  session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
  (name,) = [entry.name for entry in session.get_inputs()]
  return lambda images: session.run(None, {name: np.asarray(images, np.float32)})[0][..., 0]


def run_onnx(path, images):
  """Runs an ONNX network in onnxruntime on float32 [B, H, W, 3]; returns [B, H/2, W/2]."""
  return onnx_runner(path)(images)


def onnx_available():
  """None if ONNX export works here, else the one line that says what is missing."""
  missing = [name for name in ("onnx", "tf2onnx", "onnxruntime")
             if importlib.util.find_spec(name) is None]
  return (f"needs {', '.join(missing)} (pip install -c constraints.txt -e \".[onnx]\")"
          if missing else None)


def run_saved_model(saved_model_dir, images, signature=inference.SERVING_SIGNATURE):
  """serving_default: uint8 [B, H, W, 3] -> [B, H, W]; network: float32 in [0, 1] ->
  [B, H/2, W/2]."""
  loaded = tf.saved_model.load(saved_model_dir)
  dtype = tf.uint8 if signature == inference.SERVING_SIGNATURE else tf.float32
  return loaded.signatures[signature](images=tf.constant(images, dtype))["depth"].numpy()


def compare_depths(reference, other, floor_m=0.1):
  """How far `other` is from `reference`: max_abs_m, and max_rel / mean_rel of
  |difference| / max(|reference|, floor_m) (the floor keeps near-zero depths from dominating)."""
  reference = np.asarray(reference, np.float64)
  other = np.asarray(other, np.float64)
  diff = np.abs(reference - other)
  relative = diff / np.maximum(np.abs(reference), floor_m)
  return {"max_abs_m": float(diff.max()), "max_rel": float(relative.max()),
          "mean_rel": float(relative.mean())}


# How far a LiteRT or ONNX network may be from the SavedModel's on the check inputs.
# Reduced precisions are judged by the mean (a few pixels may move more); a SavedModel exported
# in bfloat16 or float16 against the float32 network it came from.
TOLERANCE = {"float32": {"max_rel": 1e-3}, "float16": {"mean_rel": 0.02},
             "int8_dynamic": {"mean_rel": 0.02}, "int8": {"mean_rel": 0.05},
             "onnx": {"max_rel": 1e-3}, "savedmodel_bfloat16": {"mean_rel": 0.02},
             "savedmodel_float16": {"mean_rel": 0.01}}


class ExportCheckError(UserError, RuntimeError):
  """A LiteRT or ONNX model disagrees with the SavedModel beyond TOLERANCE."""


def _sample_image(path):
  if path:
    from attn_depth.core import images  # pylint: disable=import-outside-toplevel
    return images.read_rgb(path)
  from attn_depth.data import synthetic_rooms  # pylint: disable=import-outside-toplevel
  return synthetic_rooms.render(0)[0]


def check_inputs(sample, spec):
  """The network inputs every export is checked on: the sample image resized to the training
  crop, to the training frame, and whole at the training area (float32 [1, H, W, 3]): several
  sizes, since the exports take any size."""
  image = tf.image.convert_image_dtype(tf.constant(sample[None]), tf.float32)
  sizes = [spec.input_size, spec.resize_size,
           tuple(inference.whole_frame_size(sample.shape[:2], spec.resize_size).numpy())]
  unique = list(dict.fromkeys(tuple(int(v) for v in size) for size in sizes))
  return [tf.image.resize(image, size, method="bilinear").numpy() for size in unique]


def _check(kind, run, references, inputs, print_fn, path, against="the SavedModel's network"):
  """Compares an export with the reference depths on every check input; returns the worst
  numbers."""
  worst = {"max_abs_m": 0.0, "max_rel": 0.0, "mean_rel": 0.0}
  for reference, images in zip(references, inputs):
    difference = compare_depths(reference, run(images))
    worst = {key: max(worst[key], difference[key]) for key in worst}
  sizes = ", ".join(f"{x.shape[1]}x{x.shape[2]}" for x in inputs)
  print_fn(f"wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB): vs {against} "
           f"at {sizes}, max |diff| {worst['max_abs_m'] * 1000:.3f} mm, mean relative "
           f"{worst['mean_rel']:.2e}")
  for metric, limit in TOLERANCE[kind].items():
    if worst[metric] > limit:
      return worst, f"{metric} {worst[metric]:.3g} exceeds {limit} against {against}"
  return worst, None


def export_network(network, export_dir, tflite_precisions=DEFAULT_TFLITE, sample_image=None,
                   print_fn=print, run_dir=None, onnx=True, precision="float32"):
  """SavedModel of a checkpoint-loaded `network`, plus checked LiteRT files (and ONNX where
  its packages are installed). Returns the checks: {"float32": {"file", "max_abs_m",
  "max_rel", "mean_rel"}, "float16": ..., "onnx": ...}.

  The whole folder is written beside `export_dir` and replaces it only once every file is
  written and checked (`replacing_export`): a failed or interrupted export leaves the previous
  one as it was, and an export folder never mixes the files of two checkpoints.

  precision: what the SavedModel computes in (attn_depth.core.precision; checked against the float32
  network, "savedmodel" in the checks). LiteRT and ONNX always hold the float32 network: their
  own reduced forms are the LiteRT precisions."""
  with replacing_export(export_dir) as partial:
    def final_names(value):
      if isinstance(value, dict):
        return {key: final_names(item) for key, item in value.items()}
      return value.replace(partial, export_dir) if isinstance(value, str) else value

    checks = _export_network(network, partial, tflite_precisions, sample_image,
                             lambda line: print_fn(final_names(line)), run_dir, onnx, precision)
    checks = final_names(checks)
    with open(run_dir_lib.saved_model_asset(partial, "tflite_check.json"), "w",
              encoding="utf-8") as f:
      json.dump(checks, f, indent=2)
    # The card again, now naming the LiteRT/ONNX files that were kept and how well they agree.
    presets.write_export_card(partial, network.spec, run_dir, checks)
  return checks


@contextlib.contextmanager
def replacing_export(export_dir):
  """Yields the folder to write a whole export into (beside `export_dir`); it replaces
  `export_dir` whole when the block ends normally and is removed otherwise. Refuses a folder
  that holds something other than an export (it would be replaced)."""
  if (os.path.isdir(export_dir) and os.listdir(export_dir)
      and not run_dir_lib.is_saved_model(export_dir)):
    raise ExportCheckError(f"{export_dir}: exists and is not an export (an export replaces its "
                           f"folder whole); choose an empty or new --export_dir")
  with files.replacing(export_dir) as partial:
    yield partial


def _export_network(network, export_dir, tflite_precisions, sample_image, print_fn, run_dir,
                    onnx, precision):
  saved = inference.in_precision(network.model, network.spec, precision)
  export_saved_model(saved, export_dir, network.spec, network.step, network.fit, run_dir)
  print_fn(f"wrote SavedModel {export_dir} (step {network.step}, input "
           f"{network.input_size[0]}x{network.input_size[1]}"
           f"{'' if precision == 'float32' else ', computing in ' + precision})")
  inputs = check_inputs(_sample_image(sample_image), network.spec)
  served = inference.load_saved_model_network(export_dir)  # loaded once for every check
  checks = {}
  against = "the SavedModel's network" if precision == "float32" else "the float32 network"
  if precision == "float32":
    references = [served.network(images) for images in inputs]
  else:  # the reduced SavedModel is checked against float32; LiteRT/ONNX against float32 too
    float32 = inference.keras_network(inference.in_precision(network.model, network.spec,
                                                             "float32"), network.spec)
    references = [float32.network(images) for images in inputs]
    worst, failure = _check(f"savedmodel_{precision}", served.network, references, inputs,
                            print_fn, os.path.join(export_dir, run_dir_lib.SAVED_MODEL_FILE), against)
    checks["savedmodel"] = {"file": export_dir, "precision": precision, **worst}
    if failure:
      raise ExportCheckError(f"{export_dir}: {failure}; {precision} does not hold this "
                             f"network, export it in float32")
  for name in tflite_precisions:
    checks[name] = _export_checked_tflite(network, export_dir, name, references, inputs,
                                          print_fn, against)
  if onnx:
    checks["onnx"] = _export_checked_onnx(network, export_dir, references, inputs, print_fn,
                                          against)
  return checks


def _export_checked_tflite(network, export_dir, name, references, inputs, print_fn, against):
  """model_<name>.tflite, checked in LiteRT against the references; a reduced precision that
  misses its tolerance is removed (recorded with why), float32 missing it is an error."""
  path = os.path.join(export_dir, tflite_name(name))
  tflite_model = convert_to_tflite(network.model, name, network.spec)
  with open(path, "wb") as f:  # inside the export's partial folder (files.replacing)
    f.write(tflite_model)
  worst, failure = _check(name, tflite_runner(tflite_model), references, inputs, print_fn, path,
                          against)
  check = {"file": path, **worst}
  if not failure:
    return check
  if name == "float32":  # must be exact: a conversion error, not a property of weights
    raise ExportCheckError(f"{path}: {failure}")
  # Reduced precision holds trained weights (2.75e-4 for the quickstart) but not every set
  # of weights (a barely trained network's large activations): the file is not kept.
  os.remove(path)
  check.update(kept=False, reason=failure)
  print_fn(f"removed {path}: {failure}; {name} does not hold this network, "
           f"use model_float32.tflite")
  return check


def _export_checked_onnx(network, export_dir, references, inputs, print_fn, against):
  path = os.path.join(export_dir, ONNX_FILE)
  missing = onnx_available()
  if missing:
    print_fn(f"no {path}: ONNX export {missing}")
    return {"file": None, "kept": False, "reason": missing}
  export_onnx(network.model, path)
  worst, failure = _check("onnx", onnx_runner(path), references, inputs, print_fn, path, against)
  if failure:
    raise ExportCheckError(f"{path}: {failure}")
  return {"file": path, **worst}
