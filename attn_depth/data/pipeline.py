"""Source name + gin bindings -> the batched, prefetched tf.data pipeline of training and eval."""

import gin
import tensorflow as tf

from attn_depth.data import densedepth
from attn_depth.data import epochs
from attn_depth.data import nyu_labeled
from attn_depth.data import nyu_tfds
from attn_depth.data import rgbd_files
from attn_depth.data import sunrgbd
from attn_depth.data import synthetic_rooms
from attn_depth.data.frames import DataError
from attn_depth.data.frames import expand_path
from attn_depth.data.preprocessing import preprocess_example

SPLITS = ("train", "test")


# Each source takes the split and returns its frames as a table addressable by index (see
# frame_tables) or, with `count_only`, the number of frames (steps per epoch are derived from it,
# without preparing anything that is not prepared yet where the source can tell); paths and sizes
# are gin bindings.

@gin.configurable
def nyu_tfds_source(split, num_train_examples=nyu_tfds.PAPER_TRAIN_EXAMPLES, data_dir=None,
                    download=False, archive=None, count_only=False):
  data_dir = expand_path(data_dir)
  archive = expand_path(archive)
  if count_only:
    return nyu_tfds.count_frames(split, num_train_examples, data_dir, download, archive)
  return nyu_tfds.nyu_tfds_table(split, num_train_examples, data_dir, download, archive)


@gin.configurable
def nyu_labeled_source(split, mat_path=None, splits_path=None, depth_key="depths",
                       count_only=False):
  mat_path, splits_path = expand_path(mat_path), expand_path(splits_path)
  if count_only:
    nyu_labeled.check_files(mat_path, splits_path)  # the dataset checks them itself
    return len(nyu_labeled.read_split_indices(splits_path, split))
  return nyu_labeled.nyu_labeled_table(mat_path, splits_path, split, depth_key)


@gin.configurable
def densedepth_source(split, path=None, count_only=False):
  path = expand_path(path)
  if not path:
    raise DataError("densedepth: no path given; expected DenseDepth's nyu_data.zip or the "
                    "folder it was extracted to (gin: densedepth_source.path; tools/evaluate.py "
                    "takes --densedepth)")
  if count_only:
    return densedepth.count_frames(path, split)
  return densedepth.densedepth_table(path, split)


@gin.configurable
def synthetic_rooms_source(split, num_train_examples=1000, num_test_examples=100, seed=0,
                           data_dir=None, count_only=False):
  """Train and test scenes come from different seeds, so test scenes are unseen."""
  count, scene_set = ((num_train_examples, seed) if split == "train" else
                      (num_test_examples, seed + 1))
  if count_only:
    return count
  return synthetic_rooms.synthetic_rooms_table(count, scene_set, expand_path(data_dir))


@gin.configurable
def sunrgbd_source(split, path=None, subsets=("kv1/b3dodata",), depth_folder="depth",
                   count_only=False):
  """SUN RGB-D for the paper's generalization test: every frame of `subsets` is a test frame
  (the network never trains on it)."""
  path = expand_path(path)
  if split != "test":
    raise DataError("sunrgbd: a test-only source (the paper's generalization test); to train on "
                    "SUN RGB-D frames, list them for the rgbd_files source")
  if not path:
    raise DataError("sunrgbd: no path given; expected SUN RGB-D's SUNRGBD folder (gin: "
                    "sunrgbd_source.path; tools/evaluate.py takes --sunrgbd)")
  if count_only:
    return len(sunrgbd.find_frames(path, subsets, depth_folder))
  return sunrgbd.sunrgbd_table(path, subsets, depth_folder)


@gin.configurable
def rgbd_files_source(split, train=None, test=None, depth_encoding="png", depth_scale=None,
                      focal=None, count_only=False):
  """Your own RGB-D frames: each split a CSV 'rgb,depth[,fx]' or a folder with rgb/ and depth/
  (see attn_depth/data/rgbd_files.py for encodings and camera handling)."""
  path = expand_path(train if split == "train" else test)
  if count_only:
    return len(rgbd_files.list_pairs(path, depth_encoding))
  return rgbd_files.rgbd_files_table(path, depth_encoding, depth_scale, focal)


SOURCES = {
    "nyu_tfds": nyu_tfds_source,
    "nyu_labeled": nyu_labeled_source,
    "densedepth": densedepth_source,
    "sunrgbd": sunrgbd_source,
    "rgbd_files": rgbd_files_source,
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


def load_table(source, split):
  """The frames of `source` (one of SOURCES), split "train" or "test", as a `FrameTable`;
  paths and sizes come from gin."""
  _check(source, split)
  return SOURCES[source](split)


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
