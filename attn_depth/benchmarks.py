"""Throughput measurements behind tools/benchmark.py (goals live there and in the README)."""

import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import convert_to_constants  # pylint: disable=no-name-in-module

from attn_depth import models
from attn_depth.data import pipeline
from attn_depth.data import synthetic_rooms


def rooms_per_second(num_scenes=40, seed=0):
  """Procedural scenes rendered per second on one core (numpy, 480x640)."""
  synthetic_rooms.render(synthetic_rooms.scene_seed(seed, 0))  # warm the ray cache
  start = time.perf_counter()
  for index in range(num_scenes):
    synthetic_rooms.render(synthetic_rooms.scene_seed(seed, index))
  return num_scenes / (time.perf_counter() - start)


def pipeline_examples_per_second(data_dir=None, num_records=256, batch_size=3,
                                 num_batches=300, warmup_batches=50):
  """Training pipeline throughput (records read by index in an epoch permutation -> decode ->
  preprocess -> augment -> batch).

  Reads `num_records` procedural scenes prepared as tfds records in `data_dir` (prepared first
  if needed; a temporary folder if None), the same record reader and decoders as nyu_depth_v2.
  Every record is read and decoded each time, as with NYU's 30 GB (tfds' own reader would keep a
  set this small in memory and measure ~3x more than any real run sees).
  """
  with tempfile.TemporaryDirectory() as scratch:
    data_dir = data_dir or os.path.join(scratch, "tfds")
    table = synthetic_rooms.synthetic_rooms_table(num_records, seed=0, data_dir=data_dir)
    dataset = pipeline.training_batches(table, batch_size)
    iterator = iter(dataset)
    for _ in range(warmup_batches):
      next(iterator)
    start = time.perf_counter()
    for _ in range(num_batches):
      next(iterator)
    return num_batches * batch_size / (time.perf_counter() - start)


def training_step(variant="full", depth=101, batch_size=3, size=(240, 320), steps=2,
                  deterministic=False):
  """Seconds per training step and peak resident memory (GB) of a fresh process running
  `steps` steps of the paper's recipe (frozen conv1/Res-Block 1/BN, two Adams) on random data,
  with `train.deterministic`'s settings if asked.

  A separate process, so that the peak belongs to the step and not to earlier benchmarks.
  """
  import json  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  script = f"""
import json, resource, time
import numpy as np, tensorflow as tf
from attn_depth import models
from attn_depth.training import configure_determinism
from attn_depth.training.trainer import Trainer
configure_determinism({bool(deterministic)})
import keras
keras.utils.set_random_seed(0)  # determinism refuses unseeded random ops
model = models.build_model({variant!r}, depth={depth}, input_shape=(None, None, 3))
trainer = Trainer(model, tf.distribute.get_strategy(), {batch_size}, decay_steps=100,
                  learning_rates={{"dfe": (1e-5, 1e-7), "dmg": (1e-4, 1e-6)}})
images = tf.random.uniform(({batch_size}, {size[0]}, {size[1]}, 3))
depths = tf.random.uniform(({batch_size}, {size[0]}, {size[1]}, 1), 0.5, 10.0)
iterator = iter(tf.data.Dataset.from_tensors((images, depths)).repeat())
trainer.train_step(iterator)  # traces
start = time.perf_counter()
for _ in range({steps}):
  float(trainer.train_step(iterator)[0])
seconds = (time.perf_counter() - start) / {steps}
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
print("RESULT " + json.dumps({{"seconds_per_step": seconds, "peak_rss_gb": peak_gb}}))
"""
  output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True).stdout
  return json.loads(output.split("RESULT ", 1)[1])


def training_run(gin_file="gin/nyu/full_r101.gin", steps=4, eval_every=2, frames=(12, 4)):
  """Peak resident memory (GB) and wall time of a short real run of a shipped config in a fresh
  process: train() with its periodic evaluation, TensorBoard image strips, checkpoints and the
  final evaluation (model vs. constant, preview), on procedural rooms at 480x640 in place of
  NYU (the same frames, processing and batch; random backbone weights: the same memory)."""
  import os  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  import tempfile  # pylint: disable=import-outside-toplevel
  with tempfile.TemporaryDirectory() as scratch:
    bindings = [
        "build_model.backbone_weights = None", "train.source = 'synthetic_rooms'",
        f"synthetic_rooms_source.data_dir = '{scratch}/data'",
        f"synthetic_rooms_source.num_train_examples = {frames[0]}",
        f"synthetic_rooms_source.num_test_examples = {frames[1]}",
        f"train.total_steps = {steps}", f"train.eval_every = {eval_every}",
        "train.eval_batches = 1", f"train.image_summary_every = {eval_every}",
        f"train.checkpoint_every = {eval_every}"]
    script = (f"from attn_depth import config, training\n"
              f"config.parse_gin([{gin_file!r}], {bindings!r})\n"
              f"training.train({os.path.join(scratch, 'run')!r})\n")
    result = run_measured([sys.executable, "-c", script])
  if result["returncode"]:
    raise RuntimeError(f"training run failed: {result['stderr'][-2000:]}")
  return {"peak_rss_gb": result["peak_rss_gb"], "seconds": result["seconds"]}


def run_measured(command, timeout=None, **popen_kwargs):
  """Runs `command` to its end; returns its return code, stdout, stderr, wall seconds and the
  peak resident memory of that process alone (GB, from the kernel's rusage of the child)."""
  import os  # pylint: disable=import-outside-toplevel
  import signal  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import tempfile  # pylint: disable=import-outside-toplevel
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=out, stderr=err, **popen_kwargs)
    timer = None
    if timeout:
      import threading  # pylint: disable=import-outside-toplevel
      timer = threading.Timer(timeout, os.kill, (process.pid, signal.SIGKILL))
      timer.start()
    _, status, usage = os.wait4(process.pid, 0)
    if timer:
      timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    out.seek(0)
    err.seek(0)
    return {"returncode": process.returncode, "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"), "seconds": seconds,
            "peak_rss_gb": usage.ru_maxrss / 1024 ** 2}


def count_flops(fn, input_shape):
  """Floating-point operations (a multiply-add counts 2) of one call of `fn` on float32
  `input_shape`, as TensorFlow's profiler counts them in the frozen graph."""
  concrete = tf.function(fn).get_concrete_function(tf.TensorSpec(input_shape, tf.float32))
  frozen = convert_to_constants.convert_variables_to_constants_v2(concrete)
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  profile = tf.compat.v1.profiler.profile(graph=frozen.graph,
                                          run_meta=tf.compat.v1.RunMetadata(), cmd="op",
                                          options=options)
  return int(profile.total_float_ops)


def _inference_fn(model):
  return lambda images: model(images, training=False)


def _backbone_fn(model):
  """The DFE alone (with the input preprocessing): the part of the forward pass before the
  Depth Map Generator."""
  preprocess, backbone = model.get_layer("preprocess"), models.get_backbone(model)
  return lambda images: backbone(preprocess(images), training=False)


def build_variant(variant, depth=None, **model_kwargs):
  return models.build_model(variant, depth=depth, input_shape=(None, None, 3),
                            backbone_weights=None, **model_kwargs)


def _model_and_dfe_flops(model, size):
  """FLOPs of one image through the whole network and through its DFE alone."""
  shape = (1, *size, 3)
  return count_flops(_inference_fn(model), shape), count_flops(_backbone_fn(model), shape)


def variant_costs(variant, depth=None, size=(240, 320), **model_kwargs):
  """Parameters and forward GFLOPs (batch 1) of a Table-1 network, split DFE / DMG."""
  model = build_variant(variant, depth, **model_kwargs)
  total, dfe = _model_and_dfe_flops(model, size)
  return {"name": model.name, "params": int(model.count_params()), "gflops": total / 1e9,
          "dfe_gflops": dfe / 1e9, "dmg_gflops": (total - dfe) / 1e9}


def seconds_per_call(fn, input_shape, repeats=3, warmup=1):
  """Median wall time of `fn` on random float32 input, traced once (not XLA-compiled)."""
  traced = tf.function(fn)
  images = tf.random.uniform(input_shape)
  def run():  # results copied to the host, so the time includes finishing the work on a GPU
    return [np.asarray(t) for t in tf.nest.flatten(traced(images))]

  for _ in range(warmup):
    run()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def keras_resnet101(size):
  return keras.applications.ResNet101(weights=None, include_top=False, input_shape=(*size, 3))


def latency_comparison(variant="full", depth=None, size=(240, 320), batches=(1, 8), repeats=3,
                       **model_kwargs):
  """Inference latency and images/s of the model and of keras.applications ResNet-101 at the
  same input, in the same process; FLOP/s of each and their ratio; and the Depth Map
  Generator's share of the forward time next to its share of the FLOPs (batch `batches[0]`).
  """
  model = build_variant(variant, depth, **model_kwargs)
  reference = keras_resnet101(size)
  model_flops, dfe_flops = _model_and_dfe_flops(model, size)
  flops = {"model": model_flops, "dfe": dfe_flops,
           "resnet101": count_flops(_inference_fn(reference), (1, *size, 3))}
  result = {"model": model.name, "size": list(size), "gflops_per_image": {
      name: value / 1e9 for name, value in flops.items()}, "batches": {}}
  for batch in batches:
    shape = (batch, *size, 3)
    row = {}
    for name, fn in (("model", _inference_fn(model)), ("resnet101", _inference_fn(reference))):
      seconds = seconds_per_call(fn, shape, repeats)
      row[name] = {"seconds": seconds, "images_per_second": batch / seconds,
                   "gflops_per_second": flops[name] * batch / seconds / 1e9}
    row["flops_per_second_ratio"] = (row["model"]["gflops_per_second"]
                                     / row["resnet101"]["gflops_per_second"])
    result["batches"][str(batch)] = row
  batch = batches[0]
  dfe_seconds = seconds_per_call(_backbone_fn(model), (batch, *size, 3), repeats)
  model_seconds = result["batches"][str(batch)]["model"]["seconds"]
  time_share = max(model_seconds - dfe_seconds, 0.0) / model_seconds
  flop_share = (flops["model"] - flops["dfe"]) / flops["model"]
  result["dmg"] = {"batch": batch, "time_share": time_share, "flop_share": flop_share,
                   "time_to_flop_share": time_share / flop_share}
  return result


def device_names():
  """What the numbers were measured on: GPU names, else "CPU"."""
  gpus = tf.config.list_physical_devices("GPU")
  names = []
  for gpu in gpus:
    details = tf.config.experimental.get_device_details(gpu)
    names.append(details.get("device_name", gpu.name))
  return names or ["CPU"]


def photo_fit_comparison(network, frames, max_images=100):
  """How photos are best fitted to the network: depth of whole 480x640 frames through
  `network.depth_at_image_size` (what tools/predict.py, PLY, bokeh and the SavedModel do) under
  each fit, scored against the frame's whole ground truth (the Evaluator's `photo` protocol:
  per-image means, paper's clipping). Returns {fit: {"rel": ..., "delta1": ..., "rms": ...},
  "images": n}."""
  # pylint: disable=import-outside-toplevel
  from attn_depth.evaluation.evaluator import Evaluator
  from attn_depth.inference import FITS
  evaluator = Evaluator("photo", boundary=False, batch_size=1, max_images=max_images)
  out, chosen = {}, network.fit
  try:
    for fit in FITS:
      network.fit = fit
      result = evaluator.run(network, frames)
      out[fit] = {k: v for k, v in result["metrics"].items() if k in ("rel", "rms", "delta1")}
      out["images"] = result["images"]
  finally:
    network.fit = chosen
  return out
