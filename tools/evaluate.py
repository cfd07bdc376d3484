"""Evaluates a trained model on a test set under a named protocol (Table 1 + detail metrics).

  python tools/evaluate.py --model=runs/full_r101 \
      --nyu_mat=/data/nyu_depth_v2_labeled.mat --nyu_splits=/data/splits.mat
  python tools/evaluate.py --model=runs/quickstart --source=synthetic_rooms --protocol=eigen
  python tools/evaluate.py --model=runs/full_r101 --source=sunrgbd --sunrgbd=/data/SUNRGBD
  python tools/evaluate.py --model=runs/quickstart --source=synthetic_flythroughs

--model takes a training run's folder (latest checkpoint + operative_config.gin), one checkpoint
(runs/x/ckpt-1000) or a SavedModel written by tools/export.py. Prints a Table-1 row and writes
it as JSON (metrics, protocol, step, config) and markdown.
"""

import json
import os

import _startup  # noqa: E402,F401  (first: quiet TensorFlow start-up)

from absl import flags  # noqa: E402

import _data_flags  # noqa: E402

from attn_depth import cli  # noqa: E402
from attn_depth import config  # noqa: E402
from attn_depth import data  # noqa: E402
from attn_depth import inference  # noqa: E402
from attn_depth.evaluation import evaluate as progress_lib  # noqa: E402
from attn_depth.data import flythroughs  # noqa: E402
from attn_depth.evaluation import protocols  # noqa: E402
from attn_depth.evaluation import sequences  # noqa: E402
from attn_depth.evaluation import test_set  # noqa: E402

_MODEL = flags.DEFINE_string("model", None, "(required) Training run folder, checkpoint "
                             "prefix or SavedModel folder.", required=True)
_DEPTH_KEY = flags.DEFINE_enum("depth_key", None, ["depths", "rawDepths"],
                               "Ground truth of the labeled .mat: in-painted or raw Kinect; "
                               "default the protocol's (paper, densedepth: depths; eigen: "
                               "rawDepths, as BTS).")
_PROTOCOL = flags.DEFINE_enum("protocol", "paper", list(protocols.PROTOCOLS),
                              "paper: 312x416 -> 240x320 centre crop, 2x bilinear upsampling; "
                              "eigen: whole frame, Eigen crop of the 480x640 raw ground truth "
                              "(BTS); densedepth: whole frame, flip, DenseDepth's crop, pixels "
                              "pooled, DenseDepth's rel.")
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
_GIN_FILES = flags.DEFINE_multi_string("gin_file", [], "Extra gin files (data paths, ...).")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings.")


def _depth_key():
  return _DEPTH_KEY.value or protocols.PROTOCOL_DEFAULTS[_PROTOCOL.value]["depth_key"]


def _default_output(model_path):
  folder = model_path if os.path.isdir(model_path) else os.path.dirname(model_path)
  saved_model = os.path.isfile(os.path.join(folder, "saved_model.pb"))
  if saved_model:  # runs/x/export -> runs/x/eval
    folder = os.path.dirname(os.path.normpath(folder))
  name = test_set.result_name(_data_flags.SOURCE.value, _PROTOCOL.value, _FLIP.value,
                              _MODE.value, _depth_key(), _MAX_IMAGES.value, saved_model)
  return os.path.join(folder or ".", "eval", name + ".json")


def _evaluate_sequences(network):
  """Temporal consistency on fly-throughs with known poses: per-frame vs. consistent mode."""
  settings = {name: config.query(f"synthetic_flythroughs_source.{name}", default)
              for name, default in (("num_sequences", 8), ("num_frames", 24), ("num_static", 2),
                                    ("static_frames", 12), ("seed", 2))}
  fly, static = flythroughs.synthetic_flythroughs_source()
  print(f"model {network.source} (step {network.step}); {settings['num_sequences']} camera "
        f"fly-throughs of {settings['num_frames']} frames and {settings['num_static']} static "
        f"views (unseen rooms, set {settings['seed']}); per-frame and consistent mode", flush=True)
  total = settings["num_sequences"] + settings["num_static"]
  result = sequences.evaluate_sequences(
      network, fly, static,
      progress=progress_lib.Progress(total, "evaluating", unit="sequences",
                                     print_fn=cli.print_flush))
  report = sequences.temporal_report(network, result, settings)
  output = _OUTPUT.value or os.path.join(os.path.dirname(_default_output(_MODEL.value)),
                                         "synthetic_flythroughs_temporal.json")
  os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
  output = test_set.free_path(output, report)
  with open(output, "w", encoding="utf-8") as f:
    json.dump(report, f, indent=2)
  plot = sequences.plot_curves(report, os.path.splitext(output)[0] + ".png",
                               f"{network.source} (step {network.step}): fly-throughs")
  print(f"\n{sequences.markdown_rows(report)}\n")
  print(f"wrote {output} and {plot}")


def main(argv):
  del argv
  with cli.tool("evaluate"):
    config.parse_gin_for_model(_MODEL.value, _GIN_FILES.value,
                               _data_flags.bindings(_depth_key()) + _GIN_BINDINGS.value)
    network = inference.load_network(_MODEL.value)
    if _data_flags.SOURCE.value in _data_flags.SEQUENCE_SOURCES:
      _evaluate_sequences(network)
      return
    frames = data.load_source(_data_flags.SOURCE.value, "test")
    total = data.count_frames(_data_flags.SOURCE.value, "test")
    if _MAX_IMAGES.value:
      total = min(total or _MAX_IMAGES.value, _MAX_IMAGES.value)
    print(f"model {network.source} (step {network.step}); {_data_flags.SOURCE.value} test set; "
          f"{protocols.describe(_PROTOCOL.value, network, _FLIP.value)}", flush=True)
    result = test_set.evaluate_network(
        network, frames, _PROTOCOL.value, _MODE.value, _FLIP.value, _BOUNDARY.value,
        _BATCH_SIZE.value, _MAX_IMAGES.value,
        progress=progress_lib.Progress(total, "evaluating", print_fn=cli.print_flush))
    report = test_set.build_report(network, result, _data_flags.SOURCE.value, _PROTOCOL.value,
                                   _MODE.value, _FLIP.value, _depth_key(), _MAX_IMAGES.value)
    output = _OUTPUT.value or _default_output(_MODEL.value)
    output, markdown = test_set.write_report(report, output)
    print(f"\n{result['images']} images, {report['mode']}; ground truth: "
          f"{report['ground_truth']}\n\n{test_set.markdown_rows(report)}\n")
    print(f"wrote {output} and {markdown}")


if __name__ == "__main__":
  _startup.run(main)
