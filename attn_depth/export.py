"""SavedModel and TFLite export: depth for any image size, servable by plain TensorFlow.

Signatures of the SavedModel:
  serving_default: images uint8 [B, H, W, 3], any H and W -> depth float32 [B, H, W] metres
    (resized bilinearly to the training scale -- the whole image at the training frames' area,
    fit "whole", or squeezed to the training crop, fit "squeeze"; see attn_depth.inference --
    predicted, resized back).
  network: images float32 [B, h, w, 3] in [0, 1], h and w multiples of 8 -> depth float32
    [B, h/2, w/2] metres: the fully convolutional network itself, which evaluation protocols
    need to place the prediction in the frame themselves.
`assets.extra/attn_depth.json` records the input and frame sizes, the fit, the training step and
the variant.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from attn_depth import inference
from attn_depth import presets
from attn_depth.errors import UserError


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
  metadata = {"input_size": list(input_size), "resize_size": list(resize_size), "fit": fit,
              "step": step, "config": spec.to_dict(), "model": model.name}
  spec.save(os.path.join(export_dir, "assets.extra"))
  with open(os.path.join(export_dir, inference.METADATA_FILE), "w", encoding="utf-8") as f:
    json.dump(metadata, f, indent=2)
  presets.write_export_card(export_dir, spec, step, fit, run_dir)
  return export_dir


TFLITE_PRECISIONS = ("float32", "float16")


def convert_to_tflite(saved_model_dir, precision="float32"):
  """The SavedModel's serving_default as a TFLite flatbuffer (bytes).

  float16 stores the weights in half precision (half the file); kernels still compute in
  float32 on CPUs.
  """
  if precision not in TFLITE_PRECISIONS:
    raise ValueError(f"precision must be one of {TFLITE_PRECISIONS}, got {precision!r}")
  converter = tf.lite.TFLiteConverter.from_saved_model(
      saved_model_dir, signature_keys=[inference.SERVING_SIGNATURE])
  if precision == "float16":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
  return converter.convert()


def _tflite_interpreter(tflite_model):
  # LiteRT is TFLite's runtime now; tf.lite.Interpreter is deprecated and due to leave TF.
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=import-outside-toplevel
  except ImportError:
    Interpreter = tf.lite.Interpreter  # pylint: disable=invalid-name
  return Interpreter(model_content=tflite_model)


def run_tflite(tflite_model, images):
  """Runs a converted model's serving signature on uint8 [B, H, W, 3]; returns [B, H, W]."""
  interpreter = _tflite_interpreter(tflite_model)
  runner = interpreter.get_signature_runner(inference.SERVING_SIGNATURE)
  return runner(images=np.asarray(images, np.uint8))["depth"]


def run_saved_model(saved_model_dir, images):
  loaded = tf.saved_model.load(saved_model_dir)
  serve = loaded.signatures[inference.SERVING_SIGNATURE]
  return serve(images=tf.constant(images, tf.uint8))["depth"].numpy()


def compare_depths(reference, other, floor_m=0.1):
  """How far `other` is from `reference`: max_abs_m, and max_rel / mean_rel of
  |difference| / max(|reference|, floor_m) (the floor keeps near-zero depths from dominating)."""
  reference = np.asarray(reference, np.float64)
  other = np.asarray(other, np.float64)
  diff = np.abs(reference - other)
  relative = diff / np.maximum(np.abs(reference), floor_m)
  return {"max_abs_m": float(diff.max()), "max_rel": float(relative.max()),
          "mean_rel": float(relative.mean())}


# How far a TFLite model may be from the SavedModel on the check image.
TFLITE_TOLERANCE = {"float32": {"max_rel": 1e-3}, "float16": {"mean_rel": 0.02}}


class ExportCheckError(UserError, RuntimeError):
  """A TFLite model disagrees with the SavedModel beyond TFLITE_TOLERANCE."""


def _sample_image(path):
  if path:
    from attn_depth.apps import images  # pylint: disable=import-outside-toplevel
    return images.read_rgb(path)
  from attn_depth.data import synthetic_rooms  # pylint: disable=import-outside-toplevel
  return synthetic_rooms.render(0)[0]


def export_network(network, export_dir, tflite_precisions=TFLITE_PRECISIONS, sample_image=None,
                   print_fn=print, run_dir=None):
  """SavedModel of a checkpoint-loaded `network`, plus checked TFLite files. Returns the
  TFLite check: {precision: {"file", "max_abs_m", "mean_rel"}}."""
  export_saved_model(network.model, export_dir, network.spec, network.step, network.fit, run_dir)
  print_fn(f"wrote SavedModel {export_dir} (step {network.step}, input "
           f"{network.input_size[0]}x{network.input_size[1]})")
  sample = _sample_image(sample_image)[None]
  reference = run_saved_model(export_dir, sample)
  checks = {}
  for precision in tflite_precisions:
    path = os.path.join(export_dir, f"model_{precision}.tflite")
    tflite_model = convert_to_tflite(export_dir, precision)
    with open(path, "wb") as f:
      f.write(tflite_model)
    difference = compare_depths(reference, run_tflite(tflite_model, sample))
    checks[precision] = {"file": path, **difference}
    print_fn(f"wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB): vs SavedModel on a "
             f"{sample.shape[2]}x{sample.shape[1]} image, max |diff| "
             f"{difference['max_abs_m'] * 1000:.3f} mm, mean relative "
             f"{difference['mean_rel']:.2e}")
    for name, limit in TFLITE_TOLERANCE[precision].items():
      if difference[name] <= limit:
        continue
      message = f"{name} {difference[name]:.3g} exceeds {limit} against the SavedModel"
      if precision == "float32":  # must be exact: a conversion error, not a property of weights
        raise ExportCheckError(f"{path}: {message}")
      # Reduced precision holds trained weights (2.75e-4 for the quickstart) but not every set
      # of weights (a barely trained network's large activations): the file is not kept.
      os.remove(path)
      checks[precision].update(kept=False, reason=message)
      print_fn(f"removed {path}: {message}; {precision} weights do not hold this network, "
               f"use model_float32.tflite")
      break
  with open(os.path.join(export_dir, "assets.extra", "tflite_check.json"), "w",
            encoding="utf-8") as f:
    json.dump(checks, f, indent=2)
  return checks
