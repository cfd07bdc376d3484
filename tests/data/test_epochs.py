"""Which frame trains at which step: permutations per epoch, shards, resume mid-epoch, and the
record index that makes tfds records addressable."""

import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from attn_depth import data
from attn_depth.data import epochs
from attn_depth.data import frame_tables
from attn_depth.data import synthetic_rooms


def _frames(positions, n, seed):
  return [int(i) for i in epochs.frame_at(tf.constant(positions, tf.int64), n, seed).numpy()]


def test_every_epoch_is_a_fresh_permutation_keyed_by_seed_and_epoch():
  n = 13
  order = _frames(range(5 * n), n, seed=3)
  per_epoch = [order[e * n:(e + 1) * n] for e in range(5)]
  for visit in per_epoch:
    assert sorted(visit) == list(range(n))  # every frame exactly once
  assert len({tuple(v) for v in per_epoch}) == 5  # a new order every epoch
  assert _frames(range(5 * n), n, seed=3) == order  # the same under the same seed
  assert _frames(range(n), n, seed=4) != per_epoch[0]
  # Scalar positions (one at a time, as the pipeline asks) agree with the vector form.
  assert [_frames([p], n, 3)[0] for p in range(2 * n)] == order[:2 * n]


def test_one_frame_is_its_own_permutation():
  assert _frames(range(4), 1, seed=0) == [0, 0, 0, 0]


def test_pipeline_shards_are_disjoint_and_cover_every_step():
  global_batch, pipelines, steps = 6, 3, 4
  shards = [list(epochs.pipeline_positions(0, global_batch, pipelines, i)
                 .take(steps * global_batch // pipelines).as_numpy_iterator())
            for i in range(pipelines)]
  union = sorted(p for shard in shards for p in shard)
  assert union == list(range(steps * global_batch))
  # Step s of pipeline i is slots [2i, 2i + 2) of the global batch of step s.
  assert shards[1][:4] == [2, 3, 8, 9]
  resumed = list(epochs.pipeline_positions(2, global_batch, pipelines, 1).take(2)
                 .as_numpy_iterator())
  assert resumed == [14, 15]
  with pytest.raises(ValueError, match="does not split over 4"):
    epochs.pipeline_positions(0, 6, 4, 0)


@pytest.fixture
def rooms(tmp_path):
  gin.parse_config([
      f"synthetic_rooms_source.data_dir = '{tmp_path}'",
      "synthetic_rooms_source.num_train_examples = 5",
      "synthetic_rooms_source.num_test_examples = 2",
      "preprocess_example.resize_shape = (39, 52)",
      "preprocess_example.crop_shape = (32, 48)",
  ])
  return tmp_path


def _depth_fingerprints(table):
  """Each frame's depth mean, to recognise frames after augmentation (flips keep the mean)."""
  return [float(np.mean(f["depth"])) for f in table.frames().as_numpy_iterator()]


def test_training_batches_visit_every_frame_once_per_epoch_and_resume_mid_epoch(rooms):
  del rooms
  table = data.pipeline.load_table("synthetic_rooms", "train")
  frames = data.pipeline.training_batches(table, batch_size=1, seed=2)
  means = [float(np.mean(d)) for _, d in frames.take(15).as_numpy_iterator()]
  # Depth means after the crop identify the scene well enough here: five different rooms.
  by_epoch = [sorted(np.round(means[e * 5:(e + 1) * 5], 4)) for e in range(3)]
  assert by_epoch[0] == by_epoch[1] == by_epoch[2] and len(set(by_epoch[0])) == 5
  assert means[:5] != means[5:10]  # a different order in the second epoch
  # Resuming at step 7 (mid-epoch 2) reads exactly what the uninterrupted run read.
  uninterrupted = list(data.pipeline.training_batches(table, 1, seed=2).take(12)
                       .as_numpy_iterator())
  resumed = list(data.pipeline.training_batches(table, 1, seed=2, start_step=7).take(5)
                 .as_numpy_iterator())
  for (x1, y1), (x2, y2) in zip(uninterrupted[7:], resumed):
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_records_read_by_index_equal_tfds_own_reader(tmp_path):
  table = synthetic_rooms.synthetic_rooms_table(5, seed=3, data_dir=str(tmp_path))
  builder = synthetic_rooms.SyntheticRooms(num_examples=5, seed=3, data_dir=str(tmp_path))
  expected = list(builder.as_dataset(split="train", shuffle_files=False).as_numpy_iterator())
  indices = tf.data.Dataset.from_tensor_slices(tf.constant([4, 0, 2], tf.int64))
  read = list(table.frames(indices).as_numpy_iterator())
  for frame, index in zip(read, [4, 0, 2]):
    np.testing.assert_array_equal(frame["image"], expected[index]["image"])
    np.testing.assert_array_equal(frame["depth"], expected[index]["depth"].astype(np.float32))


def test_truncated_record_file_is_one_clear_error(tmp_path):
  synthetic_rooms.synthetic_rooms_table(2, seed=1, data_dir=str(tmp_path))
  builder = synthetic_rooms.SyntheticRooms(num_examples=2, seed=1, data_dir=str(tmp_path))
  path = os.fspath(builder.info.splits["train"].filepaths[0])
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) - 100)
  with pytest.raises(data.DataError, match="truncated record at byte .*prepare the dataset again"):
    frame_tables.RecordFrames("rooms", builder, "train", 2)
