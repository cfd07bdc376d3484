"""The first GPU day in one call (`attn-depth benchmark --sections=gpu`): whether the machine is
ready, and what the paper's recipe costs on the GPU at hand.

The machine (`environment`): the GPUs TensorFlow sees and their compute capability, which
precisions they run natively, whether TF32 was on, memory growth, `pip check`, the size of
/dev/shm (NCCL's transport between GPUs in Docker).
For every Table-1 row: the paper-recipe training step (batch 3, 240x320, frozen conv1 /
Res-Block 1 / BN, two Adams) in float32 (TF32 off: real float32), mixed float16 (with loss
scaling) and mixed bfloat16 where the GPU supports them (else labelled unsupported, not run),
each without and with XLA: steps/s, peak device memory, the float16 steps skipped for overflow,
and the loss after `steps` steps against float32's (same weights, same batch: mixed precision
must not change what is learned); the projected wall time of the whole recipe (86,680 steps);
whether two processes running the same deterministic steps end bit-identical; inference
images/s of the full network at batch 1 and 8 per precision; and the input pipeline's
examples/s beside what the fastest step consumes. Random weights and data: speed and memory do
not depend on them. Written as one JSON and the markdown rows the README's GPU table takes.

The same code runs on a CPU with tiny networks (tests): only the device differs.
"""

import contextlib
import gc
import os
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from attn_depth.benchmarks import suite as benchmarks
from attn_depth.core import machine
from attn_depth.core import precision as precision_lib
from attn_depth.reproduction import rows as rows_lib

RECIPE_STEPS = 86_680  # the paper's 20 epochs of 13,002 frames at batch 3 (docs/paper_to_code.md)
PRECISIONS = ("float32", "float16", "bfloat16")
LOSS_TOLERANCE = 0.05  # relative difference of the loss after `steps` steps to float32's


def table1_networks():
  """{row: (variant, depth)} of Table 1's rows ("baseline_r50": ("baseline", 50), ...)."""
  return {row.name: (row.variant, int(row.name.rsplit("_r", 1)[1]))
          for row in rows_lib.table1_rows()}


def environment():
  """What decides whether the first GPU run works, before any of it runs (module docstring)."""
  described = machine.describe()
  build = tf.sysconfig.get_build_info()
  check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                         text=True, check=False)
  try:
    shm = os.statvfs("/dev/shm")
    shm_gb = shm.f_blocks * shm.f_frsize / 1e9
  except OSError:
    shm_gb = None
  return {
      "tensorflow": tf.__version__, "cuda": build.get("cuda_version"),
      "cudnn": build.get("cudnn_version"), "gpus": described["gpus"],
      "cpu": described["cpu"], "cores": described["cores"],
      "precisions": {p: precision_lib.unsupported_reason(p) or "supported" for p in PRECISIONS},
      "tf32_was_on": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
      "memory_growth_env": os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH"),
      "pip_check": {"ok": check.returncode == 0,
                    "output": (check.stdout + check.stderr).strip()[-2000:]},
      "shm_gb": shm_gb,
  }


def environment_lines(env):
  """The environment as the console shows it, one fact a line."""
  gpus = ", ".join(f"{g['name']} (compute capability {g['compute_capability']}, memory growth "
                   f"{'on' if g['memory_growth'] else 'off'})" for g in env["gpus"]) or "none"
  lines = [f"TensorFlow {env['tensorflow']}, CUDA {env['cuda'] or '-'}, cuDNN "
           f"{env['cudnn'] or '-'}; GPUs: {gpus}"]
  lines += [f"precision {p}: {reason}" for p, reason in env["precisions"].items()]
  lines.append(f"TF32 was {'on' if env['tf32_was_on'] else 'off'} (the float32 rows run with "
               "it off)")
  lines.append("pip check: " + ("ok" if env["pip_check"]["ok"] else
                                "PROBLEMS: " + env["pip_check"]["output"].replace("\n", "; ")))
  if env["shm_gb"] is not None:
    small = len(env["gpus"]) > 1 and env["shm_gb"] < 0.5
    lines.append(f"/dev/shm: {env['shm_gb']:.2f} GB" + (
        " -- too small for NCCL between GPUs: docker run --shm-size=1g (or --ipc=host)"
        if small else ""))
  return lines


@contextlib.contextmanager
def tf32_off():
  """Real float32 matmuls and convolutions inside (Ampere and later default to TF32)."""
  was_on = tf.config.experimental.tensor_float_32_execution_enabled()
  tf.config.experimental.enable_tensor_float_32_execution(False)
  try:
    yield
  finally:
    tf.config.experimental.enable_tensor_float_32_execution(was_on)


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
            "loss": loss, "peak_device_gb": _device_memory_gb(), "ran": trainer.what_ran(),
            "skipped_steps": trainer.skipped_steps,
            "tf32": bool(tf.config.experimental.tensor_float_32_execution_enabled())}
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


def determinism(variant, depth, batch=3, size=(240, 320), steps=3, model_kwargs=None):
  """Whether two fresh processes running the same `steps` steps with `train.deterministic`'s
  settings end with every weight and optimizer slot bit-identical (on the first device)."""
  runs = [benchmarks.training_step(variant, depth, batch, size, steps, deterministic=True,
                                   model_kwargs=model_kwargs) for _ in range(2)]
  return {"bit_identical": runs[0]["digest"] == runs[1]["digest"], "steps": steps,
          "row_variant": variant}


def run(networks=None, precisions=PRECISIONS, xla=(False, True), batch=3, size=(240, 320),
        steps=20, inference_batches=(1, 8), pipeline=True, print_fn=print, model_kwargs=None,
        xla_rows=None, determinism_steps=3):
  """The whole report (module docstring). `networks`: {row: (variant, depth)}, default
  Table 1's; `xla_rows`: the rows also run with XLA (None: all; compiling every row in every
  precision is most of the report's time); `model_kwargs`: passed to build_model (tests build
  tiny networks); `determinism_steps`: steps of the two deterministic processes (0: none)."""
  networks = networks or table1_networks()
  model_kwargs = model_kwargs or {}
  env = environment()
  for line in environment_lines(env):
    print_fn(line)
  report = {"device": benchmarks.device_names(), "environment": env, "batch": batch,
            "size": list(size), "steps": steps, "recipe_steps": RECIPE_STEPS,
            "loss_tolerance": LOSS_TOLERANCE, "training": {}, "inference": {}}
  for row, (variant, depth) in networks.items():
    row_xla = [c for c in xla if not c or xla_rows is None or row in xla_rows]
    report["training"][row] = _training_row(row, variant, depth, precisions, row_xla, batch,
                                            size, steps, model_kwargs, print_fn)
  inference_row = "full_r101" if "full_r101" in networks else next(iter(networks))
  variant, depth = networks[inference_row]
  for precision in precisions:
    if precision_lib.unsupported_reason(precision) is None:
      report["inference"][precision] = _inference(variant, depth, precision, inference_batches,
                                                  size, model_kwargs)
      print_fn(f"inference {inference_row} {precision}: " + ", ".join(
          f"batch {b} {v:.1f} images/s" if isinstance(v, float) else f"{b} {v}"
          for b, v in report["inference"][precision].items()))
  report["inference_row"] = inference_row
  if determinism_steps:
    report["determinism"] = determinism(variant, depth, batch, size, determinism_steps,
                                        model_kwargs)
    print_fn(f"determinism: two processes, {determinism_steps} deterministic steps of "
             f"{inference_row}: " + ("bit-identical" if report["determinism"]["bit_identical"]
                                     else "DIFFERENT"))
  report["pipeline"] = _pipeline(report, batch, pipeline, print_fn)
  report["markdown"] = markdown_rows(report)
  return report


def _training_row(row, variant, depth, precisions, xla, batch, size, steps, model_kwargs,
                  print_fn):
  """One Table-1 row in every precision (and with XLA where asked), each loss compared with
  float32's; a precision the device lacks is "unsupported", a failure its first line."""
  results = {}
  for precision in precisions:
    for compiled in xla:
      name = f"{precision}{'+xla' if compiled else ''}"
      reason = precision_lib.unsupported_reason(precision)
      if reason is not None:
        result = {"unsupported": reason}
      else:
        try:
          with tf32_off() if precision == "float32" else contextlib.nullcontext():
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
  return results


def _inference(variant, depth, precision, batches, size, model_kwargs):
  try:
    return inference_speed(variant, depth, precision, batches, size, **model_kwargs)
  except (tf.errors.OpError, ValueError, RuntimeError) as error:
    return {"error": str(error).splitlines()[0][:300]}


def _pipeline(report, batch, measure, print_fn):
  """What the fastest training step consumes, and (when measured) whether the input pipeline
  supplies it."""
  fastest = max((r["steps_per_second"] for rs in report["training"].values()
                 for r in rs.values() if "steps_per_second" in r), default=0.0)
  result = {"demand_examples_per_second": fastest * batch}
  if measure:
    supply = benchmarks.pipeline_examples_per_second()
    result["examples_per_second"] = supply
    result["keeps_up"] = supply >= fastest * batch
    print_fn(f"input pipeline: {supply:.0f} examples/s; the fastest step consumes "
             f"{fastest * batch:.0f}")
  return result


def _training_line(row, name, result):
  if "unsupported" in result:
    return f"train {row} {name}: not run, unsupported ({result['unsupported']})"
  if "error" in result:
    return f"train {row} {name}: failed ({result['error']})"
  memory = result["peak_device_gb"]
  return (f"train {row} {name}: {result['steps_per_second']:.2f} steps/s"
          + (f", peak device memory {memory:.2f} GB" if memory is not None else "")
          + f", loss {result['loss']:.4f}"
          + (f", {result['skipped_steps']} step(s) skipped (float16 overflow)"
             if result["skipped_steps"] else ""))


def markdown_rows(report):
  """The README's GPU table: one row per Table-1 row and training configuration."""
  lines = ["| row | precision | XLA | steps/s | peak device memory | skipped steps | "
           "loss vs float32 | recipe (86,680 steps) |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
  for row, results in report["training"].items():
    for name, result in results.items():
      precision, _, xla = name.partition("+")
      if "unsupported" in result or "error" in result:
        what = "unsupported" if "unsupported" in result else "failed"
        lines.append(f"| {row} | {precision} | {'yes' if xla else 'no'} | {what} | | | | |")
        continue
      memory = result["peak_device_gb"]
      difference = result.get("loss_relative_difference")
      lines.append(
          f"| {row} | {precision}{' (TF32 off)' if precision == 'float32' else ''} | "
          f"{'yes' if xla else 'no'} | {result['steps_per_second']:.2f} | "
          f"{'-' if memory is None else f'{memory:.1f} GB'} | "
          f"{result['skipped_steps']} of {report['steps']} | "
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
