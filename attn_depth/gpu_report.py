"""The GPU day in one call (`tools/benchmark.py --sections=gpu`): what the paper's recipe costs
on the GPU at hand.

For every Table-1 row: the paper-recipe training step (batch 3, 240x320, frozen conv1 /
Res-Block 1 / BN, two Adams) in float32, mixed float16 (with loss scaling) and mixed
bfloat16, each without and with XLA: steps/s, peak device memory, and the loss after `steps`
steps against float32's (same weights, same batch: mixed precision must not change what is
learned); the projected wall time of the whole recipe (86,680 steps); inference images/s of
the full network at batch 1 and 8 per precision; and the input pipeline's examples/s beside
what the fastest step consumes. Random weights and data: speed and memory do not depend on
them. Written as one JSON and the markdown rows the README's GPU table takes.

The same code runs on a CPU with tiny networks (tests): only the device differs.
"""

import gc
import time

import keras
import numpy as np
import tensorflow as tf

from attn_depth import benchmarks
from attn_depth import precision as precision_lib
from attn_depth.reproduction import rows as rows_lib

RECIPE_STEPS = 86_680  # the paper's 20 epochs of 13,002 frames at batch 3 (docs/paper_to_code.md)
PRECISIONS = ("float32", "float16", "bfloat16")
LOSS_TOLERANCE = 0.05  # relative difference of the loss after `steps` steps to float32's


def table1_networks():
  """{row: (variant, depth)} of Table 1's rows ("baseline_r50": ("baseline", 50), ...)."""
  return {row.name: (row.variant, int(row.name.rsplit("_r", 1)[1]))
          for row in rows_lib.table1_rows()}


def _device_memory_gb(reset=False):
  """Peak memory of the first GPU since the last reset (GB), or None on a CPU."""
  if not tf.config.list_physical_devices("GPU"):
    return None
  if reset:
    tf.config.experimental.reset_memory_stats("GPU:0")
    return None
  return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 1e9


def _release():
  keras.backend.clear_session()
  gc.collect()


def training_step(variant, depth, precision, xla, batch=3, size=(240, 320), steps=20,
                  **model_kwargs):
  """Steps/s (steps 2..`steps`; the first traces or compiles), peak device memory and the loss
  of step `steps` of the paper's recipe on one fixed random batch, the network built from a
  fixed seed (the same weights in every precision)."""
  from attn_depth.training.trainer import Trainer  # pylint: disable=import-outside-toplevel
  _release()
  _device_memory_gb(reset=True)
  keras.utils.set_random_seed(0)
  with precision_lib.policy(precision):
    model = benchmarks.build_variant(variant, depth, **model_kwargs)
  trainer = Trainer(model, tf.distribute.get_strategy(), batch, decay_steps=RECIPE_STEPS,
                    learning_rates={"dfe": (1e-5, 1e-7), "dmg": (1e-4, 1e-6)},
                    loss_scaling=precision == "float16", jit_compile=xla)
  rng = np.random.default_rng(0)
  images = tf.constant(rng.random((batch, *size, 3), dtype=np.float32))
  depths = tf.constant(rng.uniform(0.5, 10.0, (batch, *size, 1)).astype(np.float32))
  iterator = iter(tf.data.Dataset.from_tensors((images, depths)).repeat())
  start = time.perf_counter()
  loss = float(trainer.train_step(iterator)[0])
  first = time.perf_counter() - start
  start = time.perf_counter()
  for _ in range(steps - 1):
    loss = trainer.train_step(iterator)[0]
  loss = float(loss)  # waits for the device
  seconds = time.perf_counter() - start
  result = {"steps_per_second": (steps - 1) / seconds, "first_step_seconds": first,
            "loss": loss, "peak_device_gb": _device_memory_gb(), "ran": trainer.what_ran()}
  del trainer, model
  _release()
  return result


def inference_speed(variant, depth, precision, batches=(1, 8), size=(240, 320), repeats=5,
                    **model_kwargs):
  """Images/s of the network in `precision` at each batch size."""
  _release()
  with precision_lib.policy(precision):
    model = benchmarks.build_variant(variant, depth, **model_kwargs)
  out = {}
  for batch in batches:
    seconds = benchmarks.seconds_per_call(lambda images: model(images, training=False),
                                          (batch, *size, 3), repeats)
    out[str(batch)] = batch / seconds
  _release()
  return out


def run(networks=None, precisions=PRECISIONS, xla=(False, True), batch=3, size=(240, 320),
        steps=20, inference_batches=(1, 8), pipeline=True, print_fn=print, model_kwargs=None,
        xla_rows=None):
  """The whole report (module docstring). `networks`: {row: (variant, depth)}, default
  Table 1's; `xla_rows`: the rows also run with XLA (None: all; compiling every row in every
  precision is most of the report's time); `model_kwargs`: passed to build_model (tests build
  tiny networks)."""
  networks = networks or table1_networks()
  model_kwargs = model_kwargs or {}
  report = {"device": benchmarks.device_names(), "batch": batch, "size": list(size),
            "steps": steps, "recipe_steps": RECIPE_STEPS, "loss_tolerance": LOSS_TOLERANCE,
            "training": {}, "inference": {}}
  for row, (variant, depth) in networks.items():
    results = {}
    for precision in precisions:
      for compiled in xla:
        if compiled and xla_rows is not None and row not in xla_rows:
          continue
        name = f"{precision}{'+xla' if compiled else ''}"
        try:
          result = training_step(variant, depth, precision, compiled, batch, size, steps,
                                 **model_kwargs)
        except (tf.errors.OpError, ValueError, RuntimeError) as error:
          result = {"error": str(error).splitlines()[0][:300]}
        results[name] = result
        print_fn(_training_line(row, name, result))
    reference = results.get("float32", {}).get("loss")
    for result in results.values():
      if "loss" in result and reference:
        result["loss_relative_difference"] = abs(result["loss"] - reference) / abs(reference)
        result["loss_matches_float32"] = result["loss_relative_difference"] <= LOSS_TOLERANCE
      if "steps_per_second" in result:
        result["recipe_hours"] = RECIPE_STEPS / result["steps_per_second"] / 3600
    report["training"][row] = results
  inference_row = "full_r101" if "full_r101" in networks else next(iter(networks))
  variant, depth = networks[inference_row]
  for precision in precisions:
    try:
      report["inference"][precision] = inference_speed(variant, depth, precision,
                                                       inference_batches, size,
                                                       **model_kwargs)
    except (tf.errors.OpError, ValueError, RuntimeError) as error:
      report["inference"][precision] = {"error": str(error).splitlines()[0][:300]}
    print_fn(f"inference {inference_row} {precision}: " + ", ".join(
        f"batch {b} {v:.1f} images/s" if isinstance(v, float) else f"{b} {v}"
        for b, v in report["inference"][precision].items()))
  report["inference_row"] = inference_row
  fastest = max((r["steps_per_second"] for rs in report["training"].values()
                 for r in rs.values() if "steps_per_second" in r), default=0.0)
  report["pipeline"] = {"demand_examples_per_second": fastest * batch}
  if pipeline:
    supply = benchmarks.pipeline_examples_per_second()
    report["pipeline"]["examples_per_second"] = supply
    report["pipeline"]["keeps_up"] = supply >= fastest * batch
    print_fn(f"input pipeline: {supply:.0f} examples/s; the fastest step consumes "
             f"{fastest * batch:.0f}")
  report["markdown"] = markdown_rows(report)
  return report


def _training_line(row, name, result):
  if "error" in result:
    return f"train {row} {name}: failed ({result['error']})"
  memory = result["peak_device_gb"]
  return (f"train {row} {name}: {result['steps_per_second']:.2f} steps/s"
          + (f", peak {memory:.2f} GB" if memory is not None else "")
          + f", loss {result['loss']:.4f}")


def markdown_rows(report):
  """The README's GPU table: one row per Table-1 row and training configuration."""
  lines = ["| row | precision | XLA | steps/s | peak device memory | loss vs float32 | "
           "recipe (86,680 steps) |", "|---|---|---|---:|---:|---:|---:|"]
  for row, results in report["training"].items():
    for name, result in results.items():
      precision, _, xla = name.partition("+")
      if "error" in result:
        lines.append(f"| {row} | {precision} | {'yes' if xla else 'no'} | failed | | | |")
        continue
      memory = result["peak_device_gb"]
      difference = result.get("loss_relative_difference")
      lines.append(
          f"| {row} | {precision} | {'yes' if xla else 'no'} | "
          f"{result['steps_per_second']:.2f} | "
          f"{'-' if memory is None else f'{memory:.1f} GB'} | "
          f"{'-' if difference is None else f'{difference:.1%}'} | "
          f"{result['recipe_hours']:.1f} h |")
  speeds = [v for v in report["inference"].values() if "error" not in v]
  if speeds:
    batches = list(speeds[0])
    lines += ["", f"| inference, {report['inference_row']} | "
              + " | ".join(f"batch {b}" for b in batches) + " |",
              "|---|" + "---:|" * len(batches)]
    for precision, row in report["inference"].items():
      if "error" not in row:
        lines.append(f"| {precision} | "
                     + " | ".join(f"{row[b]:.1f} images/s" for b in batches) + " |")
  return "\n".join(lines)
