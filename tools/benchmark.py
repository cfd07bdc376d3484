"""Speed, cost and memory benchmarks, printed as a table and written as JSON. Goals (README,
"Performance"):

  rooms     procedural scenes rendered per second on one core               >= 20
  pipeline  training pipeline examples/s (records -> batch), 2 cores        >= 200
  train     peak memory of a training step: full ResNet-101, batch 3,
            240x320 (GB; also seconds per step)                             <= 8
  deterministic  seconds per training step (full, ResNet-101, batch 3, 240x320)
            with train.deterministic / without (report only)
  train_run peak memory of a short real run of gin/nyu/full_r101.gin with
            its periodic and final evaluation (GB)                          <= 8
  flops     parameters and GFLOPs of every Table-1 variant (report only)
  latency   images/s of the full model and of keras.applications ResNet-101
            at the same input, batch 1 and 8; FLOP/s of the model relative
            to ResNet-101's in the same run                                 >= 1.0
  dmg       the Depth Map Generator's share of the forward time divided by
            its share of the FLOPs                                          <= 1.1
  fit       with --model: rel of whole test frames through the photo path,
            squeezed to the training crop vs whole at the training scale (report only)

  python tools/benchmark.py                       # everything (~10 min on 2 CPU cores)
  python tools/benchmark.py --sections=flops,latency,dmg --json=bench.json
"""

import functools
import json
import os
import platform

import _startup  # noqa: E402,F401  (first: quiet TensorFlow start-up)

from absl import flags  # noqa: E402

from attn_depth import benchmarks  # noqa: E402
from attn_depth import cli  # noqa: E402

_SECTIONS = flags.DEFINE_list("sections", ["rooms", "pipeline", "train", "train_run", "flops",
                                           "latency", "dmg"], "Which benchmarks to run.")
_JSON = flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
_DATA_DIR = flags.DEFINE_string("data_dir", None,
                                "Where the pipeline benchmark keeps its prepared records "
                                "(default: a temporary folder).")
_SIZE = flags.DEFINE_list("size", ["240", "320"], "Input height,width of flops/latency/dmg.")
_BATCHES = flags.DEFINE_list("batches", ["1", "8"], "Batch sizes of the latency benchmark.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed calls per latency measurement (median).")
_MODEL = flags.DEFINE_string("model", None, "Section fit: a trained run, checkpoint or "
                             "SavedModel, e.g. runs/quickstart (its test source is used).")


def _size():
  return tuple(int(v) for v in _SIZE.value)


def _rooms():
  return {"value": benchmarks.rooms_per_second()}


def _pipeline():
  return {"value": benchmarks.pipeline_examples_per_second(_DATA_DIR.value)}


def _train():
  result = benchmarks.training_step()
  return {"value": result["peak_rss_gb"], "seconds_per_step": result["seconds_per_step"]}


def _deterministic():
  seconds = {mode: benchmarks.training_step(deterministic=mode)["seconds_per_step"]
             for mode in (False, True)}
  return {"value": seconds[True] / seconds[False], "seconds_per_step": seconds}


def _train_run():
  result = benchmarks.training_run()
  return {"value": result["peak_rss_gb"], "seconds": result["seconds"]}


def _flops():
  variants = {}
  for variant in ("baseline", "dfe", "dfe_afb", "full"):
    costs = benchmarks.variant_costs(variant, size=_size())
    variants[variant] = costs
    print(f"           {costs['name']:<24} {costs['params'] / 1e6:7.2f} M params "
          f"{costs['gflops']:8.1f} GFLOPs (DFE {costs['dfe_gflops']:.1f}, "
          f"DMG/decoder {costs['dmg_gflops']:.1f})", flush=True)
  return {"value": variants["full"]["gflops"], "variants": variants}


@functools.lru_cache(maxsize=None)
def _latency_run():
  return benchmarks.latency_comparison(size=_size(),
                                       batches=tuple(int(b) for b in _BATCHES.value),
                                       repeats=_REPEATS.value)


def _latency():
  result = _latency_run()
  for batch, row in result["batches"].items():
    for name in ("model", "resnet101"):
      print(f"           batch {batch:>2} {name:<10} {row[name]['seconds']:8.3f} s "
            f"{row[name]['images_per_second']:8.2f} images/s "
            f"{row[name]['gflops_per_second']:8.1f} GFLOP/s", flush=True)
  worst = min(row["flops_per_second_ratio"] for row in result["batches"].values())
  return {"value": worst, **result}


def _dmg():
  result = _latency_run()["dmg"]
  print(f"           DMG: {result['time_share']:.1%} of the forward time, "
        f"{result['flop_share']:.1%} of the FLOPs (batch {result['batch']})", flush=True)
  return {"value": result["time_to_flop_share"], **result}


def _fit():
  if not _MODEL.value:
    raise cli.UserError("section fit needs --model (e.g. runs/quickstart)")
  from attn_depth import config  # pylint: disable=import-outside-toplevel
  from attn_depth import data  # pylint: disable=import-outside-toplevel
  from attn_depth import inference  # pylint: disable=import-outside-toplevel
  config.parse_gin_for_model(_MODEL.value)
  network = inference.load_network(_MODEL.value)
  source = gin_query("train.source", "synthetic_rooms")
  result = benchmarks.photo_fit_comparison(network, data.load_source(source, "test"))
  for fit in inference.FITS:
    print(f"           fit {fit:<8} rel {result[fit]['rel']:.4f}  rms {result[fit]['rms']:.4f}  "
          f"delta1 {result[fit]['delta1']:.4f}  ({result['images']} whole {source} frames)",
          flush=True)
  return {"value": result["squeeze"]["rel"] / result["whole"]["rel"], **result}


def gin_query(name, default):
  import gin  # pylint: disable=import-outside-toplevel
  try:
    return gin.query_parameter(name)
  except ValueError:
    return default


# name: (what, unit, goal or None, higher is better, measure)
SECTIONS = {
    "rooms": ("procedural rooms rendered (480x640, one core)", "scenes/s", 20.0, True, _rooms),
    "pipeline": ("training pipeline: records by index (epoch permutation) -> decode -> "
                 "preprocess -> augment -> batch",
                 "examples/s", 200.0, True, _pipeline),
    "train": ("peak memory of a training step (full, ResNet-101, batch 3, 240x320)", "GB",
              8.0, False, _train),
    "deterministic": ("seconds per step with train.deterministic / without (full, ResNet-101, "
                      "batch 3, 240x320)", "ratio", None, False, _deterministic),
    "train_run": ("peak memory of a short real run of gin/nyu/full_r101.gin: 4 steps, "
                  "periodic + final evaluation, image summaries, checkpoints", "GB", 8.0, False,
                  _train_run),
    "flops": ("forward cost of the full model, batch 1 (all variants above)", "GFLOPs", None,
              False, _flops),
    "latency": ("FLOP/s of the full model / FLOP/s of keras ResNet-101 (worst batch)", "ratio",
                1.0, True, _latency),
    "dmg": ("DMG share of forward time / DMG share of FLOPs", "ratio", 1.1, False, _dmg),
    "fit": ("photos through depth_at_image_size: rel of fit squeeze / rel of fit whole "
            "(needs --model)", "ratio", None, True, _fit),
}


def main(argv):
  del argv
  with cli.tool("benchmark"):
    unknown = set(_SECTIONS.value) - set(SECTIONS)
    if unknown:
      raise cli.UserError(f"unknown sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    results = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or
                           platform.machine(), "python": platform.python_version(),
                           "devices": benchmarks.device_names()}}
    print(f"{'section':<10} {'value':>10} {'unit':<11} {'goal':>6}  what", flush=True)
    for name in _SECTIONS.value:
      what, unit, goal, higher_is_better, measure = SECTIONS[name]
      result = measure()
      value = result["value"]
      met = None if goal is None else (value >= goal if higher_is_better else value <= goal)
      results[name] = {**result, "unit": unit, "goal": goal, "met": met, "what": what}
      extras = "".join(f", {k} {v:.2f}" for k, v in result.items()
                       if k != "value" and isinstance(v, float))
      goal_text = "-" if goal is None else f"{goal:g}"
      print(f"{name:<10} {value:>10.2f} {unit:<11} {goal_text:>6}  {what}{extras}"
            f"{'  (goal missed)' if met is False else ''}", flush=True)
    if _JSON.value:
      with open(_JSON.value, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
  _startup.run(main)
