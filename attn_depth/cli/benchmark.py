"""Speed, cost and memory benchmarks, printed as a table and written as JSON. Goals (docs/
performance.md):

  rooms     procedural scenes rendered per second on one core               >= 20
  pipeline  training pipeline examples/s (records -> batch), 2 cores        >= 200
  train     peak memory of a training step: full ResNet-101, batch 3,
            240x320 (GB: the GPU's device peak where there is one, else the
            host's resident memory; both in the JSON; also seconds per step)  <= 8
  deterministic  seconds per training step (full, ResNet-101, batch 3, 240x320)
            with train.deterministic / without (report only), and whether two
            deterministic processes end bit-identical
  train_run peak host memory (resident) of a short run of gin/nyu/full_r101.gin
            on procedural rooms with random backbone weights (stand-ins for NYU
            and ImageNet), with its periodic and final evaluation (GB)      <= 8
  flops     parameters and GFLOPs of every Table-1 variant (report only)
  latency   images/s of the full model and of keras.applications ResNet-101
            at the same input, batch 1 and 8; FLOP/s of the model relative
            to ResNet-101's in the same run                                 >= 1.0
  dmg       the Depth Map Generator's share of the forward time divided by
            its share of the FLOPs                                          <= 1.1
  fit       with --model: rel of whole test frames through the photo path,
            squeezed to the training crop vs whole at the training scale (report only)
  peak      this CPU's peak FLOP/s from what it is (cores, vector width, FMA units,
            bfloat16 units, the clock it ran at) and the FLOP/s of the full network
            and of keras.applications ResNet-101 as fractions of it, float32 and
            bfloat16, batch 1 and 8 (report only)
  precision seconds per image of the quickstart and the full ResNet-101 network in
            float32 / bfloat16 (/ float16 on GPUs): bfloat16's speed-up on the full
            network; with --model, every metric's change on the run's test set    >= 1.6
  litert    with --model: LiteRT float32 / float16 / int8_dynamic / int8 files: size,
            seconds per image in the LiteRT interpreter, every metric's change
            (report only)
  bokeh     with --model: bokeh of 12-megapixel photos (scikit-image's samples upscaled)
            with the model's depth: seconds (worst photo), the renderer's own memory and
            its difference to the exact renderer                                   <= 10
  gpu       the first GPU day: the machine (GPUs, compute capability, supported
            precisions, TF32, memory growth, pip check, /dev/shm), then training steps
            of every Table-1 row in float32 (TF32 off) / mixed float16 / mixed bfloat16
            where supported, with and without XLA (device memory peaks, skipped float16
            steps), two deterministic processes compared bit for bit, inference
            images/s, the recipe's projected hours, the input pipeline; JSON + the
            table's markdown for docs/reproducing.md (--gpu_markdown). Without a GPU: the machine part,
            then one line, exit 0

  attn-depth benchmark                       # everything (~10 min on 2 CPU cores)
  attn-depth benchmark --sections=flops,latency,dmg --json=bench.json
  attn-depth benchmark --sections=precision,litert --model=runs/quickstart
  attn-depth benchmark --sections=gpu --json=gpu.json --gpu_markdown=gpu.md
"""

import functools
import os

# GPU memory on demand, in this process and the ones it starts (inherited): by default
# TensorFlow takes nearly all of a GPU's memory, and a section's child process (train,
# deterministic) would run out of it after a section that used the GPU here.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

from absl import flags

from attn_depth.benchmarks import suite as benchmarks
from attn_depth import cli
from attn_depth.core import files
from attn_depth.core import machine

_SECTIONS = flags.DEFINE_list("sections", ["rooms", "pipeline", "train", "train_run", "flops",
                                           "latency", "dmg"], "Which benchmarks to run.")
_JSON = flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
_DATA_DIR = flags.DEFINE_string("data_dir", None,
                                "Where the pipeline benchmark keeps its prepared records "
                                "(default: a temporary folder).")
_SIZE = flags.DEFINE_list("size", ["240", "320"], "Input height,width of flops/latency/dmg.")
_BATCHES = flags.DEFINE_list("batches", ["1", "8"], "Batch sizes of the latency benchmark.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed calls per latency measurement (median).")
_MODEL = flags.DEFINE_string("model", None, "Sections fit, precision, litert: a trained run "
                             "or checkpoint, e.g. runs/quickstart (its test source is used).")
_MAX_IMAGES = flags.DEFINE_integer("max_images", 100, "Sections precision, litert: test frames "
                                   "scored.")
_GPU_ROWS = flags.DEFINE_list("gpu_rows", None, "Section gpu: Table-1 rows (default all).")
_GPU_PRECISIONS = flags.DEFINE_list("gpu_precisions", ["float32", "float16", "bfloat16"],
                                    "Section gpu: training precisions.")
_GPU_XLA_ROWS = flags.DEFINE_list("gpu_xla_rows", ["full_r101"], "Section gpu: the rows also "
                                   "run with XLA ('all': every row; compiling is the slow part).")
_GPU_STEPS = flags.DEFINE_integer("gpu_steps", 20, "Section gpu: training steps per "
                                  "configuration (the first traces or compiles).")
_GPU_MARKDOWN = flags.DEFINE_string("gpu_markdown", None, "Section gpu: also write the README "
                                    "table's markdown rows here.")


def _size():
  return tuple(int(v) for v in _SIZE.value)


def _rooms():
  return {"value": benchmarks.rooms_per_second()}


def _pipeline():
  return {"value": benchmarks.pipeline_examples_per_second(_DATA_DIR.value)}


def _train():
  result = benchmarks.training_step()
  device = result["peak_device_gb"]
  return {"value": result["peak_rss_gb"] if device is None else device,
          "measured": "host resident memory" if device is None else "GPU device memory",
          "peak_host_rss_gb": result["peak_rss_gb"], "peak_device_gb": device,
          "seconds_per_step": result["seconds_per_step"]}


def _deterministic():
  """The cost of train.deterministic, and whether two deterministic processes end their
  paper-config steps bit-identical (every weight and optimizer slot)."""
  default = benchmarks.training_step(deterministic=False)
  runs = [benchmarks.training_step(deterministic=True) for _ in range(2)]
  seconds = {False: default["seconds_per_step"], True: runs[0]["seconds_per_step"]}
  return {"value": seconds[True] / seconds[False], "seconds_per_step": seconds,
          "bit_identical_over_two_processes": runs[0]["digest"] == runs[1]["digest"]}


def _train_run():
  result = benchmarks.training_run()
  return {"value": result["peak_rss_gb"], "measured": "host resident memory",
          "seconds": result["seconds"]}


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
  from attn_depth import data  # pylint: disable=import-outside-toplevel
  from attn_depth.serving import inference  # pylint: disable=import-outside-toplevel
  source = _model_test_source()
  network = inference.load_network(_MODEL.value)
  result = benchmarks.photo_fit_comparison(network, data.load_source(source, "test"))
  for fit in inference.FITS:
    print(f"           fit {fit:<8} rel {result[fit]['rel']:.4f}  rms {result[fit]['rms']:.4f}  "
          f"delta1 {result[fit]['delta1']:.4f}  ({result['images']} whole {source} frames)",
          flush=True)
  return {"value": result["squeeze"]["rel"] / result["whole"]["rel"], **result}


def _peak():
  result = benchmarks.peak_comparison(size=_size(),
                                      batches=tuple(int(b) for b in _BATCHES.value),
                                      repeats=_REPEATS.value)
  cpu = result["cpu"]
  print(f"           {cpu['model']}: {cpu['cores']} cores, {cpu['vector']}, "
        f"{cpu['fp32_flops_per_cycle']} float32 / {cpu['bf16_flops_per_cycle']} bfloat16 "
        f"FLOPs per cycle ({cpu['bf16_unit']}), {cpu['ghz'] or float('nan'):.2f} GHz: peak "
        f"{cpu.get('peak_fp32_gflops', float('nan')):.0f} / "
        f"{cpu.get('peak_bf16_gflops', float('nan')):.0f} GFLOP/s", flush=True)
  worst = None
  for precision, rows in result["precisions"].items():
    print(f"           {precision}: 4096x4096 matmul {rows['matmul_gflops_per_second']:.0f} "
          f"GFLOP/s ({rows.get('matmul_fraction_of_peak', float('nan')):.0%} of peak)",
          flush=True)
    for batch in _BATCHES.value:
      for name, entry in rows[batch].items():
        fraction = entry.get("fraction_of_peak", float("nan"))
        print(f"           {precision} batch {batch:>2} {name:<10} "
              f"{entry['gflops_per_second']:7.1f} GFLOP/s = {fraction:.0%} of peak "
              f"({entry['seconds']:.3f} s)", flush=True)
        if name == "model" and precision == "float32":
          worst = fraction if worst is None else min(worst, fraction)
  return {"value": worst if worst is not None else float("nan"), **result}


@functools.lru_cache(maxsize=None)
def _model_test_source():
  """The --model run's test source (its operative config parsed once: gin locks after)."""
  from attn_depth import config  # pylint: disable=import-outside-toplevel
  config.parse_gin_for_model(_MODEL.value)
  return gin_query("train.source", "synthetic_rooms")


def _trained_model(section):
  if not _MODEL.value:
    return None
  from attn_depth import data  # pylint: disable=import-outside-toplevel
  source = _model_test_source()
  print(f"           {section}: {_MODEL.value} on the first {_MAX_IMAGES.value} test frames of "
        f"{source}", flush=True)
  return data.load_source(source, "test")


def _print_changes(name, entry):
  changes = entry["relative_change"]
  shown = ", ".join(f"{metric} {changes[metric]:+.2%}" for metric in
                    ("rel", "rms", "log10", "delta1", "dbe_acc", "dbe_comp", "edge_f1@1")
                    if metric in changes)
  worst = max((abs(v) for v in changes.values()), default=0.0)
  print(f"           {name:<12} {shown}; largest change of any metric {worst:.2%}", flush=True)


def _precision():
  from attn_depth import models  # pylint: disable=import-outside-toplevel
  from attn_depth.core import precision  # pylint: disable=import-outside-toplevel
  choices = [p for p in precision.PRECISIONS if precision.unsupported_reason(p) is None]
  for name in precision.PRECISIONS:
    if name not in choices:
      print(f"           {name}: not measured ({precision.unsupported_reason(name)})",
            flush=True)
  quickstart = models.ModelSpec("full", backbone_blocks=(1, 1, 1, 1), backbone_width=0.25,
                                dmg_widths=(16, 16, 32, 64), input_size=(120, 160),
                                resize_size=(156, 208))
  result = {"speed": {}}
  for label, spec, size in (("quickstart", quickstart, quickstart.resize_size),
                            ("full_r101", models.ModelSpec("full"), _size())):
    result["speed"][label] = benchmarks.precision_speed(spec, size, choices,
                                                        repeats=_REPEATS.value)
    for name, row in result["speed"][label].items():
      print(f"           {label:<10} {name:<9} {row['seconds_per_image']:.3f} s per image at "
            f"{size[0]}x{size[1]}, {row.get('speed_up', 1.0):.2f}x float32's speed", flush=True)
  frames = _trained_model("precision")
  if frames is not None and len(choices) > 1:
    result["metrics"] = benchmarks.precision_metrics(_MODEL.value, frames, choices,
                                                     _MAX_IMAGES.value)
    for name in choices[1:]:
      _print_changes(name, {"relative_change": result["metrics"]["relative_change"][name]})
  full = result["speed"]["full_r101"]
  reduced = [row["speed_up"] for name, row in full.items() if name != "float32"]
  return {"value": max(reduced) if reduced else 1.0, **result}


def _litert():
  frames = _trained_model("litert")
  if frames is None:
    raise cli.UserError("section litert needs --model (e.g. runs/quickstart)")
  from attn_depth.serving import export  # pylint: disable=import-outside-toplevel
  result = benchmarks.litert_comparison(_MODEL.value, frames, export.TFLITE_PRECISIONS,
                                        max_images=_MAX_IMAGES.value)
  for name, entry in result.items():
    print(f"           LiteRT {name:<12} {entry['megabytes']:6.2f} MB, "
          f"{entry['seconds_per_image'] * 1000:7.1f} ms per image at "
          f"{entry['size'][0]}x{entry['size'][1]}", flush=True)
    _print_changes(name, entry)
  int8 = result["int8"]
  return {"value": result["float32"]["seconds_per_image"] / int8["seconds_per_image"],
          "variants": result}


def _bokeh():
  if not _MODEL.value:
    raise cli.UserError("section bokeh needs --model (e.g. runs/quickstart)")
  from attn_depth.serving import inference  # pylint: disable=import-outside-toplevel
  result = benchmarks.bokeh_at_photo_size(inference.load_network(_MODEL.value))
  for name, entry in result.items():
    memory = entry["render_peak_gb"]
    print(f"           {name:<10} {entry['megapixels']:.0f} MP: {entry['seconds']:.1f} s, "
          f"{'?' if memory is None else f'{memory:.2f}'} GB above the process; vs exact at "
          f"1.3 MP: mean {entry['mean_grey_difference']:.2f}, p99 "
          f"{entry['p99_grey_difference']:.0f}, max {entry['max_grey_difference']} grey levels",
          flush=True)
  return {"value": max(entry["seconds"] for entry in result.values()), "photos": result}


def _gpu():
  from attn_depth.benchmarks import gpu_report  # pylint: disable=import-outside-toplevel
  if benchmarks.device_names() == ["CPU"]:
    env = gpu_report.environment()
    for line in gpu_report.environment_lines(env):
      print(f"           {line}", flush=True)
    print("           no GPU visible to TensorFlow here: no training rows to measure (run this "
          "section on a machine with one)", flush=True)
    return {"value": float("nan"), "skipped": "no GPU", "environment": env}
  networks = gpu_report.table1_networks()
  if _GPU_ROWS.value:
    unknown = sorted(set(_GPU_ROWS.value) - set(networks))
    if unknown:
      raise cli.UserError(f"--gpu_rows: unknown {unknown}; choose from {list(networks)}")
    networks = {row: networks[row] for row in _GPU_ROWS.value}
  xla_rows = None if _GPU_XLA_ROWS.value == ["all"] else _GPU_XLA_ROWS.value
  report = gpu_report.run(networks, tuple(_GPU_PRECISIONS.value), steps=_GPU_STEPS.value,
                          size=_size(), xla_rows=xla_rows, print_fn=lambda line: print(f"           {line}",
                                                                    flush=True))
  if _GPU_MARKDOWN.value:
    files.write_text(_GPU_MARKDOWN.value, report["markdown"] + "\n")
  print(report["markdown"], flush=True)
  best = max((r["steps_per_second"] for rs in report["training"].values() for r in rs.values()
              if "steps_per_second" in r), default=float("nan"))
  return {"value": best, **report}


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
    "train": ("peak memory of a training step (full, ResNet-101, batch 3, 240x320; the GPU's "
              "on a GPU, host resident memory on a CPU)", "GB", 8.0, False, _train),
    "deterministic": ("seconds per step with train.deterministic / without (full, ResNet-101, "
                      "batch 3, 240x320)", "ratio", None, False, _deterministic),
    "train_run": ("peak host memory (resident) of a short run of gin/nyu/full_r101.gin: 4 "
                  "steps, periodic + final evaluation, image summaries, checkpoints", "GB", 8.0,
                  False, _train_run),
    "flops": ("forward cost of the full model, batch 1 (all variants above)", "GFLOPs", None,
              False, _flops),
    "latency": ("FLOP/s of the full model / FLOP/s of keras ResNet-101 (worst batch)", "ratio",
                1.0, True, _latency),
    "dmg": ("DMG share of forward time / DMG share of FLOPs", "ratio", 1.1, False, _dmg),
    "fit": ("photos through depth_at_image_size: rel of fit squeeze / rel of fit whole "
            "(needs --model)", "ratio", None, True, _fit),
    "peak": ("FLOP/s of the full model / this CPU's float32 peak (worst batch)", "fraction",
             None, True, _peak),
    "precision": ("bfloat16's speed-up of the full ResNet-101 network's forward pass "
                  "(metric changes with --model)", "x", 1.6, True, _precision),
    "litert": ("LiteRT int8 (full integer) speed-up over float32 in the interpreter "
               "(needs --model)", "x", None, True, _litert),
    "bokeh": ("seconds to render bokeh on a 12-megapixel photo with predicted depth (worst "
              "of 3; needs --model)", "s", 10.0, False, _bokeh),
    "gpu": ("fastest paper-recipe training step on the GPU (all rows, precisions, XLA)",
            "steps/s", None, True, _gpu),
}


def main(argv):
  del argv
  with cli.tool("benchmark"):
    unknown = set(_SECTIONS.value) - set(SECTIONS)
    if unknown:
      raise cli.UserError(f"unknown sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    results = {"machine": {**machine.describe(), "devices": benchmarks.device_names()}}
    print(f"{'section':<10} {'value':>10} {'unit':<11} {'goal':>6}  what", flush=True)
    for name in _SECTIONS.value:
      what, unit, goal, higher_is_better, measure = SECTIONS[name]
      result = measure()
      value = result["value"]
      met = None if goal is None else (value >= goal if higher_is_better else value <= goal)
      results[name] = {**result, "unit": unit, "goal": goal, "met": met, "what": what}
      if result.get("skipped"):
        print(f"{name:<10} {'-':>10} {unit:<11}         skipped: {result['skipped']}",
              flush=True)
        continue
      extras = "".join(f", {k} {v:.2f}" for k, v in result.items()
                       if k != "value" and isinstance(v, float))
      goal_text = "-" if goal is None else f"{goal:g}"
      print(f"{name:<10} {value:>10.2f} {unit:<11} {goal_text:>6}  {what}{extras}"
            f"{'  (goal missed)' if met is False else ''}", flush=True)
    if _JSON.value:
      files.write_json(_JSON.value, results)

