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
