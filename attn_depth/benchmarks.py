"""Throughput measurements behind tools/benchmark.py (goals live there and in the README)."""

import os
import tempfile
import time

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
  """Training pipeline throughput (tfds records -> decode -> preprocess -> augment -> batch).

  Reads `num_records` procedural scenes prepared as tfds records in `data_dir` (prepared first
  if needed; a temporary folder if None), the same record reader and decoders as nyu_depth_v2.
  """
  with tempfile.TemporaryDirectory() as scratch:
    data_dir = data_dir or os.path.join(scratch, "tfds")
    frames = synthetic_rooms.synthetic_rooms_dataset(num_records, seed=0, data_dir=data_dir)
    dataset = pipeline.batches_from_frames(frames, training=True, batch_size=batch_size,
                                           shuffle_buffer=num_records)
    iterator = iter(dataset)
    for _ in range(warmup_batches):
      next(iterator)
    start = time.perf_counter()
    for _ in range(num_batches):
      next(iterator)
    return num_batches * batch_size / (time.perf_counter() - start)


def training_step(variant="full", depth=101, batch_size=3, size=(240, 320), steps=2):
  """Seconds per training step and peak resident memory (GB) of a fresh process running
  `steps` steps of the paper's recipe (frozen conv1/Res-Block 1/BN, two Adams) on random data.

  A separate process, so that the peak belongs to the step and not to earlier benchmarks.
  """
  import json  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  script = f"""
import json, resource, time
import numpy as np, tensorflow as tf
from attn_depth import models
from attn_depth.training.trainer import Trainer
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
