"""Source name + gin bindings -> the batched, prefetched tf.data pipeline of training and eval
(sources are declared in attn_depth.data.sources)."""

import gin
import tensorflow as tf

from attn_depth.data import epochs
from attn_depth.data import sources
from attn_depth.data.frames import DataError
from attn_depth.data.preprocessing import preprocess_example


def count_frames(source, split="train"):
  """Frames in a split of `source`, as configured by gin (before any bad frame is skipped);
  None where the source cannot tell without reading it all."""
  count = sources.frame_split(source, split).count()
  return count if count >= 0 else None


def load_table(source, split):
  """The frames of `source` (one of sources.FRAME_SOURCES), split "train" or "test", as a
  `FrameTable`; paths and sizes come from gin."""
  return sources.frame_split(source, split).table()


def load_source(source, split):
  """The unprocessed frames of `source` and `split` in the source's order, as a dataset."""
  return load_table(source, split).frames()


@gin.configurable
def build_pipeline(source="synthetic_rooms", split="train", training=None, batch_size=3,
                   seed=0, repeat=None, cache=False, start_step=0, global_batch_size=None,
                   pipelines=(1, 0)):
  """Batched (image, depth) pairs: [B, 240, 320, 3] in [0, 1] and [B, 240, 320, 1] metres.

  Args:
    source, split: see `load_table`.
    training: endless, augmented batches in a fresh permutation every epoch (see
      `attn_depth.data.epochs`); default: split == "train".
    batch_size: per pipeline replica (the per-replica batch under tf.distribute; paper 3.4: 3).
    seed: permutations and augmentation; the same seed replays the same batches.
    repeat: evaluation pipelines only: loop forever.
    cache: keep decoded, preprocessed eval examples in memory.
    start_step: training: the batches of this step and after (a resumed run reads exactly what
      the uninterrupted run read from there on).
    global_batch_size: training: the batch of all replicas together (default `batch_size`).
    pipelines: training: (number of input pipelines, this pipeline's index) under multi-worker
      training; each step's global batch is split between them.
  """
  training = split == "train" if training is None else training
  table = load_table(source, split)
  if training:
    return training_batches(table, batch_size, seed, start_step, global_batch_size, pipelines)
  return batches_from_frames(table.frames(), batch_size, repeat, cache)


def training_batches(table, batch_size, seed=0, start_step=0, global_batch_size=None,
                     pipelines=(1, 0)):
  """Augmented batches of `table`'s frames from `start_step` on; see `build_pipeline`."""
  if not len(table):
    raise DataError(f"{table.name}: no frames to train on")
  global_batch_size = global_batch_size or batch_size
  # A pipeline feeding several replicas yields their per-replica batches one after the other:
  # B / pipelines positions per step, batched by `batch_size`.
  positions = epochs.pipeline_positions(start_step, global_batch_size, *pipelines)
  indexed = positions.map(lambda p: (epochs.frame_at(p, len(table), seed), p))

  def preprocess(element, example):
    position = element[1]
    return preprocess_example(example, True, seed=tf.stack([tf.cast(seed, tf.int64), position]))

  dataset = table.frames_with(indexed, preprocess)
  return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def batches_from_frames(frames, batch_size, repeat=False, cache=False):
  """Evaluation batches of `frames` in order: preprocessed (no augmentation), the last partial
  batch kept."""
  dataset = frames.map(lambda example: preprocess_example(example, False),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if cache:
    dataset = dataset.cache()
  if repeat:
    dataset = dataset.repeat()
  dataset = dataset.batch(batch_size)
  return dataset.prefetch(tf.data.AUTOTUNE)
