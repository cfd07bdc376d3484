"""The pipeline builder: batches, determinism under a seed, source selection by gin."""

import gin
import numpy as np
import pytest

from attn_depth import data


@pytest.fixture(autouse=True)
def small_rooms(tmp_path):
  gin.parse_config([
      f"synthetic_rooms_source.data_dir = '{tmp_path}'",
      "synthetic_rooms_source.num_train_examples = 6",
      "synthetic_rooms_source.num_test_examples = 3",
      "preprocess_example.resize_shape = (78, 104)",
      "preprocess_example.crop_shape = (64, 96)",
  ])


def _batches(seed, count=3):
  pipeline = data.build_pipeline("synthetic_rooms", "train", batch_size=2, seed=seed)
  return [(x.numpy(), y.numpy()) for x, y in pipeline.take(count)]


def test_training_batches_repeat_and_replay_under_a_seed():
  first, again, other = _batches(1, count=4), _batches(1, count=4), _batches(2, count=4)
  assert first[0][0].shape == (2, 64, 96, 3) and first[0][1].shape == (2, 64, 96, 1)
  for (x1, y1), (x2, y2) in zip(first, again):
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
  assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other))


def test_eval_pipeline_is_finite_ordered_and_unaugmented():
  pipeline = data.build_pipeline("synthetic_rooms", "test", batch_size=2)
  batches = list(pipeline.as_numpy_iterator())
  assert [b[0].shape[0] for b in batches] == [2, 1]  # 3 test scenes, last batch kept
  again = list(data.build_pipeline("synthetic_rooms", "test", batch_size=2).as_numpy_iterator())
  np.testing.assert_array_equal(batches[0][1], again[0][1])


def test_test_scenes_are_not_training_scenes():
  train = next(data.load_source("synthetic_rooms", "train").as_numpy_iterator())
  test = next(data.load_source("synthetic_rooms", "test").as_numpy_iterator())
  assert not np.array_equal(train["depth"], test["depth"])


def test_unknown_source_is_a_clear_error():
  with pytest.raises(data.DataError, match="unknown data source 'nyu_v3'"):
    data.build_pipeline("nyu_v3", "train")
