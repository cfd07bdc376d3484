"""Exports a trained model as a SavedModel (any image size in, metres out) and TFLite.

  attn-depth export --model=runs/full_r101 --export_dir=runs/full_r101/export

Writes <export_dir>/ (SavedModel: serving_default takes uint8 images [B, H, W, 3] of any size
and returns depth float32 [B, H, W] in metres; loads with plain TensorFlow), and
<export_dir>/model_float32.tflite and model_float16.tflite (--tflite adds int8_dynamic and
full-integer int8), each checked against the SavedModel on a sample image (the check's numbers
are printed and saved in <export_dir>/assets.extra/tflite_check.json), and beside it a preset, <model folder>/preset/
(model.keras, model_spec.json, the model card README.md and the run's evaluation results: the
folder to share; attn_depth.DepthEstimator.from_preset loads it).

  attn-depth export --model=runs/quickstart --tflite=float32,int8 --precision=bfloat16

--precision makes the SavedModel compute in bfloat16 (or float16 on GPUs); LiteRT and ONNX hold
the float32 network.
"""

import os

from absl import flags

from attn_depth import cli
from attn_depth.core.run_dir import RunDir
from attn_depth import config
from attn_depth.serving import export
from attn_depth.serving import inference
from attn_depth.core import precision
from attn_depth.serving import presets

_MODEL = flags.DEFINE_string("model", None, "(required) Training run folder or checkpoint prefix.",
                             required=True)
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "SavedModel folder; default "
                                  "<model folder>/export.")
_TFLITE = flags.DEFINE_list("tflite", list(export.DEFAULT_TFLITE),
                            f"LiteRT variants to write, of {list(export.TFLITE_PRECISIONS)} "
                            f"(int8_dynamic: int8 weights; int8: full integer, calibrated on "
                            f"procedural rooms); empty: none.")
_ONNX = flags.DEFINE_bool("onnx", True, "Also write model.onnx (needs the onnx extra).")
_PRESET_DIR = flags.DEFINE_string("preset_dir", None, "Preset folder; default <model "
                                  "folder>/preset; 'none' writes no preset.")
_SAMPLE = flags.DEFINE_string("sample_image", None, "Image for the TFLite check; default a "
                              "synthetic room.")
_PRECISION = flags.DEFINE_enum("precision", None, list(precision.PRECISIONS),
                                precision.FLAG_HELP)
_GIN_FILES = flags.DEFINE_multi_string("gin_file", [], "Extra gin files.")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings.")


def main(argv):
  del argv
  with cli.tool("export"):
    unknown = sorted(set(_TFLITE.value) - set(export.TFLITE_PRECISIONS))
    if unknown:
      raise cli.UserError(f"--tflite: unknown {unknown}; choose from "
                          f"{list(export.TFLITE_PRECISIONS)}")
    config.parse_gin_for_model(_MODEL.value, _GIN_FILES.value, _GIN_BINDINGS.value)
    network = inference.load_network(_MODEL.value)
    if not isinstance(network, inference.KerasNetwork):
      raise cli.UserError(f"{_MODEL.value}: already a SavedModel; export takes a training run "
                          f"or checkpoint")
    folder = _MODEL.value if os.path.isdir(_MODEL.value) else os.path.dirname(_MODEL.value)
    export_dir = _EXPORT_DIR.value or RunDir(folder).export_dir
    export.export_network(network, export_dir, _TFLITE.value, _SAMPLE.value,
                          print_fn=cli.print_flush, run_dir=folder, onnx=_ONNX.value,
                          precision=precision.resolve(_PRECISION.value or "float32"))
    if (_PRESET_DIR.value or "").lower() != "none":
      presets.save(network, _PRESET_DIR.value or RunDir(folder).preset_dir, folder,
                   print_fn=cli.print_flush)

