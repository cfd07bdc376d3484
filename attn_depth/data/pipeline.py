"""Source name + gin bindings -> the batched, prefetched tf.data pipeline of training and eval."""

import gin
import tensorflow as tf

from attn_depth.data import densedepth
from attn_depth.data import nyu_labeled
from attn_depth.data import nyu_tfds
from attn_depth.data import synthetic_rooms
from attn_depth.data.frames import DataError
from attn_depth.data.frames import expand_path
from attn_depth.data.preprocessing import preprocess_example

SPLITS = ("train", "test")


# Each source takes the split and, with `count_only`, returns the number of frames instead of
# the frames (steps per epoch are derived from it); paths and sizes are gin bindings.

@gin.configurable
def nyu_tfds_source(split, num_train_examples=nyu_tfds.PAPER_TRAIN_EXAMPLES, data_dir=None,
                    download=False, archive=None, count_only=False):
  data_dir = expand_path(data_dir)
  archive = expand_path(archive)
  if count_only:
    return nyu_tfds.count_frames(split, num_train_examples, data_dir, download, archive)
  return nyu_tfds.nyu_tfds_dataset(split, num_train_examples, data_dir, download, archive)


@gin.configurable
def nyu_labeled_source(split, mat_path=None, splits_path=None, depth_key="depths",
                       count_only=False):
  mat_path, splits_path = expand_path(mat_path), expand_path(splits_path)
  if count_only:
    nyu_labeled.check_files(mat_path, splits_path)  # the dataset checks them itself
    return len(nyu_labeled.read_split_indices(splits_path, split))
  return nyu_labeled.nyu_labeled_dataset(mat_path, splits_path, split, depth_key)


@gin.configurable
def densedepth_source(split, path=None, count_only=False):
  path = expand_path(path)
  if not path:
    raise DataError("densedepth: no path given; expected DenseDepth's nyu_data.zip or the "
                    "folder it was extracted to (gin: densedepth_source.path; tools/evaluate.py "
                    "takes --densedepth)")
  if count_only:
    return densedepth.count_frames(path, split)
  return densedepth.densedepth_dataset(path, split)


@gin.configurable
def synthetic_rooms_source(split, num_train_examples=1000, num_test_examples=100, seed=0,
                           data_dir=None, count_only=False):
  """Train and test scenes come from different seeds, so test scenes are unseen."""
  count, scene_set = ((num_train_examples, seed) if split == "train" else
                      (num_test_examples, seed + 1))
  if count_only:
    return count
  return synthetic_rooms.synthetic_rooms_dataset(count, scene_set, expand_path(data_dir))


SOURCES = {
    "nyu_tfds": nyu_tfds_source,
    "nyu_labeled": nyu_labeled_source,
    "densedepth": densedepth_source,
    "synthetic_rooms": synthetic_rooms_source,
}


def _check(source, split):
  if source not in SOURCES:
    raise DataError(f"unknown data source {source!r}; choose one of {sorted(SOURCES)}")
  if split not in SPLITS:
    raise DataError(f"unknown split {split!r}; choose one of {SPLITS}")


def count_frames(source, split="train"):
  """Frames in a split of `source`, as configured by gin (before any bad frame is skipped);
  None where the source cannot tell without reading it all."""
  _check(source, split)
  count = SOURCES[source](split, count_only=True)
  return count if count >= 0 else None


def load_source(source, split):
  """The unprocessed frames of `source` ("nyu_tfds", "nyu_labeled", "densedepth",
  "synthetic_rooms"), split "train" or "test"; paths and sizes come from gin."""
  _check(source, split)
  return SOURCES[source](split)


@gin.configurable
def build_pipeline(source="synthetic_rooms", split="train", training=None, batch_size=3,
                   seed=0, shuffle_buffer=512, repeat=None, cache=False, shard=None):
  """Batched (image, depth) pairs: [B, 240, 320, 3] in [0, 1] and [B, 240, 320, 1] metres.

  Args:
    source, split: see `load_source`.
    training: shuffle, augment, repeat and drop the last partial batch; default: split == "train".
    batch_size: per pipeline (the global batch under tf.distribute; paper 3.4: 3).
    seed: shuffling and augmentation; the same seed replays the same batches.
    shuffle_buffer: examples in the shuffle buffer.
    repeat: loop forever; default: `training`.
    cache: keep decoded, preprocessed eval examples in memory (never for training, whose
      augmentation differs per epoch).
    shard: (number of input pipelines, this pipeline's index) under multi-worker training.
  """
  training = split == "train" if training is None else training
  return batches_from_frames(load_source(source, split), training, batch_size, seed,
                             shuffle_buffer, repeat, cache, shard)


def batches_from_frames(frames, training, batch_size, seed=0, shuffle_buffer=512, repeat=None,
                        cache=False, shard=None):
  """The pipeline after the source: shard, repeat, preprocess (+ augment), shuffle, batch."""
  repeat = training if repeat is None else repeat
  dataset = frames
  if shard is not None and shard[0] > 1:
    dataset = dataset.shard(*shard)
  if repeat:
    dataset = dataset.repeat()
  # A per-example counter makes each augmentation a pure function of (seed, position).
  dataset = dataset.enumerate()

  def preprocess(index, example):
    return preprocess_example(example, training,
                              seed=tf.stack([tf.cast(seed, tf.int64), index]) if training else None)

  dataset = dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if training:
    # Shuffled after cropping: the buffer holds 240x320 examples, not 480x640 frames.
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  if cache and not training:
    dataset = dataset.cache()
  dataset = dataset.batch(batch_size, drop_remainder=training)
  return dataset.prefetch(tf.data.AUTOTUNE)
