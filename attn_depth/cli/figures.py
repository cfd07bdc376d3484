r"""Regenerates the paper's Figures 3, 4, 5 and 7 from your training runs.

  attn-depth figures --runs=runs/quickstart --source=synthetic_rooms
  attn-depth figures --runs=runs/full_r101,runs/baseline_r50 \
      --nyu_mat=/data/nyu_depth_v2_labeled.mat --nyu_splits=/data/splits.mat

Fig. 3 (qualitative grid), Fig. 4 (rel against inference time per image, measured on this
machine, beside the paper's quoted numbers), Fig. 5 (point clouds from a turned viewpoint),
Fig. 7 (bokeh from predicted and from ground-truth depth), as PNGs in --output_dir, and
fig4.json with the measured numbers.
"""

import os

from absl import flags
import numpy as np

from attn_depth.cli import data_flags
from attn_depth.benchmarks import suite as benchmarks
from attn_depth import cli
from attn_depth.core.run_dir import RunDir
from attn_depth import config
from attn_depth import data
from attn_depth.core import files
from attn_depth.serving import inference
from attn_depth.apps import figures
from attn_depth.evaluation.evaluator import Evaluator

_SOURCE = data_flags.define_source_flag(kinds=("frames",))
_RUNS = flags.DEFINE_list("runs", None, "(required) Training run folders, checkpoints or "
                          "SavedModels, comma-separated.", required=True)
_LABELS = flags.DEFINE_list("labels", None, "A name per run for the legends (default: the "
                            "folder's name and step).")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 4, "Test frames shown in Figs. 3, 5 and 7.")
_FIRST_IMAGE = flags.DEFINE_integer("first_image", 0, "Index of the first test frame shown.")
_EVAL_IMAGES = flags.DEFINE_integer("eval_images", 100, "Test frames behind Fig. 4's rel "
                                    "(paper protocol); 0: all.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the PNGs go; default "
                                  "<first run>/figures.")
_GIN_FILES = flags.DEFINE_multi_string("gin_file", [], "Extra gin files (data paths, ...).")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings.")


def _label(path, network, index):
  if _LABELS.value and index < len(_LABELS.value):
    return _LABELS.value[index]
  name = os.path.basename(os.path.normpath(path if os.path.isdir(path) else os.path.dirname(path)))
  return f"{name} (step {network.step})" if network.step is not None else name


def _shown_frames():
  frames = data.load_source(_SOURCE.value, "test")
  chosen = list(frames.skip(_FIRST_IMAGE.value).take(_NUM_IMAGES.value).as_numpy_iterator())
  if not chosen:
    raise cli.UserError(f"{_SOURCE.value}: no test frames from index "
                        f"{_FIRST_IMAGE.value} on")
  return (np.stack([f["image"] for f in chosen]), np.stack([f["depth"] for f in chosen]))


def main(argv):
  del argv
  with cli.tool("figures"):
    runs, points, shown, crops, intrinsics = [], [], None, None, None
    # The first run's data settings (its test set), then the user's; each network is rebuilt
    # from its own spec, so runs of different configurations sit side by side.
    config.parse_gin_for_model(_RUNS.value[0], _GIN_FILES.value,
                               data_flags.bindings() + _GIN_BINDINGS.value)
    evaluator = Evaluator("paper", boundary=False, max_images=_EVAL_IMAGES.value or None)
    for index, path in enumerate(_RUNS.value):
      network = inference.load_network(path)
      label = _label(path, network, index)
      if shown is None:
        shown = _shown_frames()
        intrinsics = figures.crop_intrinsics(network.resize_size, network.input_size)
      (rgb, truth), prediction = figures.crop_frames(network, *shown)
      if crops is None:
        crops = figures.FigureFrames(rgb, truth)
      elif truth.shape != crops.depths.shape:
        raise cli.UserError(f"{path}: input size {network.input_size} differs from the first "
                            f"run's; figures compare runs of one input size")
      runs.append(figures.RunPredictions(label, network, prediction))
      print(f"{label}: measuring rel on {_EVAL_IMAGES.value or 'all'} test frames and the time "
            f"per image", flush=True)
      result = evaluator.run(network, data.load_table(_SOURCE.value, "test"))
      points.append({"label": label, "rel": result["metrics"]["rel"],
                     "images": result["images"],
                     "seconds": figures.seconds_per_image(network)})
    device = ", ".join(benchmarks.device_names())
    output_dir = _OUTPUT_DIR.value or RunDir(
        _RUNS.value[0] if os.path.isdir(_RUNS.value[0]) else os.path.dirname(_RUNS.value[0])
    ).figures_dir
    with cli.output_folder(output_dir):
      paths = figures.write_all(crops, runs, points, device, output_dir, intrinsics)
      files.write_json(os.path.join(output_dir, "fig4.json"), {
          "device": device, "source": _SOURCE.value, "protocol": "paper", "runs": points,
          "paper_quoted": {"ours": figures.PAPER_OURS, "others_rel": figures.PAPER_OTHERS_REL}})
    for point in points:
      print(f"{point['label']}: rel {point['rel']:.4f} on {point['images']} frames, "
            f"{point['seconds'] * 1000:.0f} ms per image on {device}")
    print("wrote " + ", ".join(paths.values()))

