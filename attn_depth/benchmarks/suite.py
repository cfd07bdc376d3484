"""Throughput measurements behind attn-depth benchmark (goals live there and in the README)."""

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
                  deterministic=False, model_kwargs=None):
  """Seconds per training step, peak memory (GB: the host's resident memory, and on a GPU the
  device's peak beside it) and a digest of every weight and optimizer slot afterwards, of a
  fresh process running `steps` steps of the paper's recipe (frozen conv1/Res-Block 1/BN, two
  Adams) on seeded random data, with `train.deterministic`'s settings if asked.
  `model_kwargs`: passed to build_model (tests build tiny networks).

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
model = models.build_model({variant!r}, depth={depth}, input_shape=(None, None, 3),
                           **{dict(model_kwargs or {})!r})
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
device_gb = (tf.config.experimental.get_memory_info("GPU:0")["peak"] / 1e9
             if tf.config.list_physical_devices("GPU") else None)
import hashlib  # every weight and optimizer slot after the steps: two runs agree bit for bit?
digest = hashlib.sha256()
for variable in model.weights + [v for o in trainer.optimizers.values() for v in o.variables]:
  digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
print("RESULT " + json.dumps({{"seconds_per_step": seconds, "peak_rss_gb": peak_gb,
                               "peak_device_gb": device_gb,
                               "digest": digest.hexdigest()}}))
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


# Spawns the command from a bare interpreter and reports its exit code and rusage. Linux keeps
# the peak RSS of the memory a process leaves at exec (the parent's, under vfork or fork): a
# child spawned straight from a large process (a test session after the rehearsal) reports at
# least that process's peak. Spawned from this small one, the figure is the command's own.
_MEASURING_WRAPPER = """
import json, os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
  json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss], f)
"""


def run_measured(command, timeout=None, **popen_kwargs):
  """Runs `command` to its end; returns its return code, stdout, stderr, wall seconds and the
  peak resident memory of that process alone (GB, from the kernel's rusage of the child,
  spawned from a bare interpreter: see _MEASURING_WRAPPER)."""
  import json  # pylint: disable=import-outside-toplevel
  import os  # pylint: disable=import-outside-toplevel
  import signal  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  import tempfile  # pylint: disable=import-outside-toplevel
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
      tempfile.TemporaryDirectory() as scratch:
    report = os.path.join(scratch, "usage.json")
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-S", "-c", _MEASURING_WRAPPER, report,
                                *command], stdout=out, stderr=err, start_new_session=True,
                               **popen_kwargs)
    timer = None
    if timeout:
      import threading  # pylint: disable=import-outside-toplevel
      timer = threading.Timer(timeout, os.killpg, (process.pid, signal.SIGKILL))
      timer.start()
    process.wait()
    if timer:
      timer.cancel()
    seconds = time.perf_counter() - start
    returncode, peak_kb = process.returncode, 0
    if os.path.exists(report):
      with open(report, encoding="utf-8") as f:
        returncode, peak_kb = json.load(f)
    out.seek(0)
    err.seek(0)
    return {"returncode": returncode, "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"), "seconds": seconds,
            "peak_rss_gb": peak_kb / 1024 ** 2}


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
  `network.depth_at_image_size` (what attn-depth predict, PLY, bokeh and the SavedModel do) under
  each fit, scored against the frame's whole ground truth (the Evaluator's `photo` protocol:
  per-image means, paper's clipping). Returns {fit: {"rel": ..., "delta1": ..., "rms": ...},
  "images": n}."""
  # pylint: disable=import-outside-toplevel
  from attn_depth.evaluation.evaluator import Evaluator
  from attn_depth.serving.inference import FITS
  evaluator = Evaluator("photo", boundary=False, batch_size=1, max_images=max_images)
  out = {}
  for fit in FITS:
    result = evaluator.run(network.replace(fit=fit), frames)
    out[fit] = {k: v for k, v in result["metrics"].items() if k in ("rel", "rms", "delta1")}
    out["images"] = result["images"]
  return out


def matmul_gflops(dtype="float32", size=4096, repeats=3):
  """GFLOP/s of a size x size matrix product in `dtype` (the best this TensorFlow build does
  on this machine: the practical ceiling next to the nominal peak)."""
  # The cast is O(n^2) against the product's O(n^3): it does not show.
  seconds = seconds_per_call(lambda x: tf.linalg.matmul(tf.cast(x, dtype), tf.cast(x, dtype)),
                             (size, size), repeats)
  return 2 * size ** 3 / seconds / 1e9


def peak_comparison(variant="full", depth=None, size=(240, 320), batches=(1, 8), repeats=3,
                    precisions=("float32", "bfloat16"), **model_kwargs):
  """The network's and keras.applications ResNet-101's FLOP/s as fractions of this CPU's
  peak (attn_depth.benchmarks.machine), per precision and batch, with the matmul ceiling beside them."""
  # pylint: disable=import-outside-toplevel
  from attn_depth.benchmarks import machine
  from attn_depth.core import precision as precision_lib
  model = build_variant(variant, depth, **model_kwargs)
  flops = {"model": _model_and_dfe_flops(model, size)[0],
           "resnet101": count_flops(_inference_fn(keras_resnet101(size)), (1, *size, 3))}
  del model
  result = {"model": None, "size": list(size), "gflops_per_image": {
      name: value / 1e9 for name, value in flops.items()}, "precisions": {}}
  clocks = []
  for precision in precisions:
    with precision_lib.policy(precision):
      networks = {"model": build_variant(variant, depth, **model_kwargs),
                  "resnet101": keras_resnet101(size)}
    result["model"] = networks["model"].name
    matmul, ghz = machine.sample_clock_while(lambda p=precision: matmul_gflops(p))
    clocks.append(ghz)
    rows = {"matmul_gflops_per_second": matmul}
    for batch in batches:
      row = {}
      for name, network in networks.items():
        seconds, ghz = machine.sample_clock_while(
            lambda n=network, b=batch: seconds_per_call(_inference_fn(n), (b, *size, 3),
                                                        repeats))
        clocks.append(ghz)
        row[name] = {"seconds": seconds, "images_per_second": batch / seconds,
                     "gflops_per_second": flops[name] * batch / seconds / 1e9}
      rows[str(batch)] = row
    result["precisions"][precision] = rows
  clocks = [c for c in clocks if c]
  result["cpu"] = machine.describe_cpu(ghz=sum(clocks) / len(clocks) if clocks else None)
  _add_fractions_of_peak(result)
  return result


def _add_fractions_of_peak(result):
  """Each measured GFLOP/s (and the matmul's) as a fraction of the CPU's peak in its
  precision, where the peak is known."""
  for precision, rows in result["precisions"].items():
    peak = result["cpu"].get(f"peak_{'bf16' if precision == 'bfloat16' else 'fp32'}_gflops")
    if not peak:
      continue
    for key, row in rows.items():
      if key != "matmul_gflops_per_second":
        for entry in row.values():
          entry["fraction_of_peak"] = entry["gflops_per_second"] / peak
    rows["matmul_fraction_of_peak"] = rows["matmul_gflops_per_second"] / peak


def precision_speed(spec, size, precisions, batch=1, repeats=3):
  """Seconds per image of the network `spec` describes, built in each precision (random
  weights: speed does not depend on them), at `size`, batch `batch`."""
  out = {}
  for precision in precisions:
    model = spec.build(precision=precision)
    seconds = seconds_per_call(_inference_fn(model), (batch, *size, 3), repeats)
    out[precision] = {"seconds_per_image": seconds / batch}
    del model
  reference = out.get("float32", {}).get("seconds_per_image")
  for precision, row in out.items():
    if reference:
      row["speed_up"] = reference / row["seconds_per_image"]
  return out


def _scores(evaluator, network, frames):
  result = evaluator.run(network, frames)
  return {**result["metrics"], **result.get("boundary", {})}, result["images"]


def metric_changes(scores, reference="float32"):
  """{name: {metric: relative change against `reference`}} of {name: {metric: value}}."""
  base = scores[reference]
  changes = {}
  for name, values in scores.items():
    changes[name] = {metric: (value - base[metric]) / abs(base[metric])
                     for metric, value in values.items()
                     if metric in base and base[metric] and np.isfinite(base[metric])
                     and np.isfinite(value)}
  return changes


def precision_metrics(model_path, frames, precisions, max_images=100):
  """Every Table-1 metric and detail metric of the trained model at `model_path` on `frames`
  (paper protocol), computed in each precision, and their relative change against float32."""
  # pylint: disable=import-outside-toplevel
  from attn_depth.serving import inference
  from attn_depth.evaluation.evaluator import Evaluator
  evaluator = Evaluator("paper", boundary=True, batch_size=4, max_images=max_images)
  scores, images = {}, 0
  for precision in precisions:
    network = inference.load_checkpoint_network(model_path, precision=precision)
    scores[precision], images = _scores(evaluator, network, frames)
  return {"images": images, "metrics": scores, "relative_change": metric_changes(scores)}


def litert_comparison(model_path, frames, variants, size=None, repeats=5, max_images=100):
  """LiteRT variants (attn_depth.serving.export.TFLITE_PRECISIONS) of the trained model at
  `model_path`: file size, seconds per image in the LiteRT interpreter on every usable core at
  `size` (default the training frame size, what photos are predicted at), and every metric on
  `frames` (paper protocol) with its relative change against the float32 file."""
  # pylint: disable=import-outside-toplevel
  from attn_depth.serving import export
  from attn_depth.serving import inference
  from attn_depth.benchmarks import machine
  from attn_depth.evaluation.evaluator import Evaluator
  network = inference.load_checkpoint_network(model_path)
  size = tuple(size or network.spec.resize_size)
  evaluator = Evaluator("paper", boundary=True, batch_size=1, max_images=max_images)
  images = np.random.default_rng(0).random((1, *size, 3), dtype=np.float32)
  out, scores = {}, {}
  for variant in variants:
    tflite_model = export.convert_to_tflite(network.model, variant, network.spec)
    run = export.tflite_runner(tflite_model, num_threads=machine.usable_cores())
    run(images)
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      run(images)
      times.append(time.perf_counter() - start)

    def network_fn(batch, run=run):
      depth = tf.numpy_function(lambda x: run(x).astype(np.float32), [batch], tf.float32)
      return tf.reshape(depth, [tf.shape(batch)[0], tf.shape(batch)[1] // 2,
                                tf.shape(batch)[2] // 2])
    lite = inference.DepthNetwork(network_fn, network.input_size, f"LiteRT {variant}",
                                  network.step, network.config, network.resize_size,
                                  backend="litert")
    scores[variant], count = _scores(evaluator, lite, frames)
    out[variant] = {"megabytes": len(tflite_model) / 1e6, "size": list(size),
                    "seconds_per_image": float(np.median(times)), "images": count}
  changes = metric_changes(scores, variants[0])
  for variant in variants:
    out[variant].update(metrics=scores[variant], relative_change=changes[variant])
  return out


def bokeh_at_photo_size(network, photos=("coffee", "chelsea", "astronaut"), size=(3000, 4000),
                        check_size=(1000, 1333)):
  """attn-depth predict's bokeh on real photos at 12 megapixels (scikit-image's sample photos
  upscaled to `size`) with the depth `network` predicts: seconds and the renderer's own peak
  memory (GB above what the process held before), and at `check_size` the difference to the
  exact renderer (grey levels: mean, 99th percentile, max)."""
  # pylint: disable=import-outside-toplevel
  import resource
  import cv2
  import skimage.data
  from attn_depth.apps import bokeh
  out = {}
  for name in photos:
    image = cv2.resize(getattr(skimage.data, name)(), size[::-1], interpolation=cv2.INTER_CUBIC)
    depth = network.depth_at_image_size(image[None])[0]
    focus, aperture = bokeh.focus_depth_at_centre(depth), bokeh.default_aperture(size)
    before = _resident_gb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    start = time.perf_counter()
    bokeh.render_bokeh(image, depth, focus, aperture)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    small = cv2.resize(image, check_size[::-1], interpolation=cv2.INTER_AREA)
    small_depth = cv2.resize(depth, check_size[::-1], interpolation=cv2.INTER_LINEAR)
    small_aperture = bokeh.default_aperture(check_size)
    exact = bokeh.render_bokeh(small, small_depth, focus, small_aperture, exact=True)
    fast = bokeh.render_bokeh(small, small_depth, focus, small_aperture)
    difference = np.abs(exact.astype(np.int16) - fast.astype(np.int16))
    out[name] = {"megapixels": size[0] * size[1] / 1e6, "seconds": seconds,
                 # ru_maxrss only rises: a peak below an earlier one shows as 0 (an upper
                 # bound is the larger of the two)
                 "render_peak_gb": max(peak - before, 0.0) if peak > peak_before else None,
                 "mean_grey_difference": float(difference.mean()),
                 "p99_grey_difference": float(np.percentile(difference, 99)),
                 "max_grey_difference": int(difference.max())}
  return out


def _resident_gb():
  try:
    with open("/proc/self/statm", encoding="utf-8") as f:
      return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 30
  except (OSError, ValueError):
    return 0.0
