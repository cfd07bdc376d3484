r"""Evaluates a trained model -- or anyone's saved predictions -- on a test set under a named
protocol (Table 1 + detail metrics).

  attn-depth evaluate --model=runs/full_r101 \
      --nyu_mat=/data/nyu_depth_v2_labeled.mat --nyu_splits=/data/splits.mat
  attn-depth evaluate --model=runs/quickstart --source=synthetic_rooms --protocol=eigen
  attn-depth evaluate --model=runs/full_r101 --source=sunrgbd --sunrgbd=/data/SUNRGBD
  attn-depth evaluate --model=runs/quickstart --source=synthetic_flythroughs
  attn-depth evaluate --predictions=my_method/ --nyu_mat=... --nyu_splits=... --protocol=eigen

--model takes a training run's folder (latest checkpoint + model_spec.json), one checkpoint
(runs/x/ckpt-1000), a SavedModel written by attn-depth export or a preset. --predictions takes a
folder with one file per test frame named by its 0-based index (00000.npy float32 metres, or
00000.png 16-bit millimetres) at the frame's size. Prints a Table-1 row and writes it as JSON
(metrics, protocol, step, config) and markdown.
"""

import os

from absl import flags

from attn_depth.cli import data_flags

from attn_depth import cli
from attn_depth.core import run_dir
from attn_depth.core.run_dir import RunDir
from attn_depth import config
from attn_depth import data
from attn_depth.core import files
from attn_depth.serving import inference
from attn_depth.core import precision
from attn_depth.core.console import Progress
from attn_depth.evaluation import protocols
from attn_depth.evaluation import reports
from attn_depth.apps import sequences
from attn_depth.evaluation.evaluator import Evaluator
from attn_depth.evaluation.predictions import FramePredictions

_SOURCE = data_flags.define_source_flag()
_MODEL = flags.DEFINE_string("model", None, "(required, or --predictions) Training run folder, "
                             "checkpoint prefix, SavedModel folder or preset (folder, hf://..., "
                             "kaggle://...).")
_PREDICTIONS = flags.DEFINE_string("predictions", None, "A folder of someone's predictions to "
                                   "score instead of a model: one file per test frame of "
                                   "--source, named by its 0-based index (00000.npy float32 "
                                   "metres, or 00000.png 16-bit millimetres), at the frame's "
                                   "size (480x640 for NYU).")
_DEPTH_KEY = flags.DEFINE_enum("depth_key", None, ["depths", "rawDepths"],
                               "Ground truth of the labeled .mat: in-painted or raw Kinect; "
                               "default the protocol's (paper, densedepth: depths; eigen: "
                               "rawDepths, as BTS).")
_PROTOCOL = flags.DEFINE_enum("protocol", "paper", list(protocols.PROTOCOLS),
                              "paper: 312x416 -> 240x320 centre crop, 2x bilinear upsampling; "
                              "eigen: whole frame, Eigen crop of the 480x640 raw ground truth "
                              "(BTS); densedepth: whole frame, flip, DenseDepth's crop, pixels "
                              "pooled, DenseDepth's rel; photo: the whole frame through the "
                              "photo path of attn-depth predict, scored on the whole frame.")
_MODE = flags.DEFINE_enum("mode", None, ["image", "pixel"],
                          "Mean of per-image metrics, or all pixels pooled; default the "
                          "protocol's (pixel for densedepth, image otherwise).")
_FLIP = flags.DEFINE_bool("flip", False, "Average with the flipped image's prediction.")
_BOUNDARY = flags.DEFINE_bool("boundary", True, "Also compute the detail (boundary) metrics.")
_MAX_IMAGES = flags.DEFINE_integer("max_images", None, "Evaluate only the first N test frames.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 4, "Frames per forward pass.")
_OUTPUT = flags.DEFINE_string("output", None, "JSON path (a .md goes beside it); default "
                              "<run folder>/eval/<source>_<protocol>[_flip][_<other settings>]"
                              ".json (for a SavedModel: the folder that holds it). A file "
                              "holding a result of other settings is never replaced: -2, -3, "
                              "... are appended.")
_PRECISION = flags.DEFINE_enum("precision", None, list(precision.PRECISIONS),
                                precision.FLAG_HELP)
_GIN_FILES = flags.DEFINE_multi_string("gin_file", [], "Extra gin files (data paths, ...).")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings.")


def _depth_key():
  return _DEPTH_KEY.value or protocols.PROTOCOL_DEFAULTS[_PROTOCOL.value]["depth_key"]


def _evaluator():
  return Evaluator(_PROTOCOL.value, _MODE.value, _FLIP.value, _BOUNDARY.value, _BATCH_SIZE.value,
                   _MAX_IMAGES.value, _depth_key())


def _default_output(evaluator, precision_used="float32"):
  """<run>/eval/<name>.json: for a SavedModel the run that holds it, for predictions the
  predictions' folder."""
  if _PREDICTIONS.value:
    return RunDir(_PREDICTIONS.value).report(
        evaluator.result_name(_SOURCE.value, predictions=True))
  model_path = _MODEL.value
  folder = model_path if os.path.isdir(model_path) else os.path.dirname(model_path) or "."
  saved_model = run_dir.is_saved_model(folder)
  return run_dir.of_model(model_path).report(  # runs/x/export -> runs/x/eval
      evaluator.result_name(_SOURCE.value, saved_model, precision=precision_used))


def _computing_in(network):
  return "" if network.precision == "float32" else f", computing in {network.precision}"


def _evaluate_sequences(network):
  """Temporal consistency on fly-throughs with known poses: per-frame vs. consistent mode."""
  source = data.descriptor(_SOURCE.value)
  settings = source.settings()
  fly, static = source.configure()
  fast = settings.get("motion") == "fast"
  print(f"model {network.source} (step {network.step}{_computing_in(network)}); "
        f"{settings['num_sequences']} camera "
        f"{'fast-motion sequences' if fast else 'fly-throughs'} "
        f"of {settings['num_frames']} frames and {settings['num_static']} static "
        f"views (unseen rooms, set {settings['seed']}); per-frame and consistent mode", flush=True)
  total = settings["num_sequences"] + settings["num_static"]
  result = sequences.evaluate_sequences(
      network, fly, static,
      progress=Progress(total, "evaluating", unit="sequences", print_fn=cli.print_flush))
  report = sequences.temporal_report(network, result, settings)
  suffix = ("_fast" if fast else "") + ("" if network.precision == "float32"
                                        else f"_{network.precision}")
  output = _OUTPUT.value or os.path.join(os.path.dirname(_default_output(_evaluator())),
                                         f"{_SOURCE.value}_temporal{suffix}.json")
  os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
  output = reports.free_path(output, report)
  files.write_json(output, report)
  plot = sequences.plot_curves(report, os.path.splitext(output)[0] + ".png",
                               f"{network.source} (step {network.step}): "
                               f"{'fast motion' if fast else 'fly-throughs'}")
  print(f"\n{sequences.markdown_rows(report)}\n")
  print(f"wrote {output} and {plot}")


def _model_or_predictions(total):
  """What is scored: the trained model (--model), or the saved predictions (--predictions) of
  the first `total` test frames (--max_images)."""
  if not _PREDICTIONS.value:
    return inference.load_network(_MODEL.value, _PRECISION.value)
  if _FLIP.value:
    raise cli.UserError("--flip: saved predictions cannot be flipped here; average your "
                        "own mirrored predictions before saving them")
  return FramePredictions(_PREDICTIONS.value, min(total, _MAX_IMAGES.value or total)
                          if total else None, limited=bool(_MAX_IMAGES.value))


def main(argv):
  del argv
  with cli.tool("evaluate"):
    if bool(_MODEL.value) == bool(_PREDICTIONS.value):
      raise cli.UserError("give one of --model (a trained model) and --predictions (a folder "
                          "of saved predictions)")
    # The run's own data settings (its test set) first, then the user's.
    config.parse_gin_for_model(_MODEL.value, _GIN_FILES.value,
                               data_flags.bindings(_depth_key()) + _GIN_BINDINGS.value)
    descriptor = data.descriptor(_SOURCE.value)
    if descriptor.kind == "sequences":
      if _PREDICTIONS.value:
        raise cli.UserError(f"--predictions: {_SOURCE.value} is evaluated on a model's own "
                            f"predictions of each sequence; give --model")
      _evaluate_sequences(inference.load_network(_MODEL.value, _PRECISION.value))
      return
    evaluator = _evaluator()
    total = data.count_frames(_SOURCE.value, "test")
    network = _model_or_predictions(total)
    frames = data.load_table(_SOURCE.value, "test")
    if _MAX_IMAGES.value:
      total = min(total or _MAX_IMAGES.value, _MAX_IMAGES.value)
    print(f"{'predictions' if _PREDICTIONS.value else 'model'} {network.source} (step "
          f"{network.step}{_computing_in(network)}); {_SOURCE.value} test set; "
          f"{evaluator.describe(network)}"
          + ("; the predictions' own flipping, if any" if _PREDICTIONS.value else ""), flush=True)
    score = evaluator.run_predictions if _PREDICTIONS.value else evaluator.run
    result = score(network, frames,
                   progress=Progress(total, "evaluating", print_fn=cli.print_flush))
    report = evaluator.report(network, result, _SOURCE.value)
    output, markdown = reports.write_report(
        report, _OUTPUT.value or _default_output(evaluator, network.precision))
    print(f"\n{result['images']} images{reports.skipped_note(report)}, {report['mode']}; "
          f"ground truth: "
          f"{report['ground_truth']}\n\n{reports.markdown_rows(report)}\n")
    print(f"wrote {output} and {markdown}")

