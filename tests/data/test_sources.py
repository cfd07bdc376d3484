"""The source registry: every source declared once, everything else derived from it."""

import inspect

import gin
import numpy as np
import pytest

from attn_depth import data
from attn_depth.data import sources
from attn_depth.data import synthetic_rooms
from attn_depth.evaluation import reports


def test_every_entry_is_consistent_with_its_configurable():
  for name, descriptor in data.SOURCES.items():
    function = getattr(descriptor.configure, "__wrapped__", descriptor.configure)
    parameters = inspect.signature(function).parameters
    assert ("split" in parameters) == (descriptor.kind == "frames"), name
    for flag in descriptor.flags:  # each flag sets a real parameter of its own configurable
      configurable, parameter = flag.binding.split(".")
      assert configurable == descriptor.configure.__name__ and parameter in parameters, flag
    assert set(descriptor.splits) <= set(sources.SPLITS) and descriptor.ground_truth


@gin.configurable
def my_set_source(split, path=None):
  """The README's example configurable, with rendered rooms as the new set's module."""
  count = 3 if split == "test" else 5
  return sources.Split(lambda: count, lambda: synthetic_rooms.synthetic_rooms_table(
      count, 7, path))


def test_a_new_source_is_one_configurable_and_one_entry(tmp_path, monkeypatch):
  """The README's "Adding a dataset" recipe: the configurable above and one entry."""
  monkeypatch.setitem(sources.SOURCES, "my_set", sources.DatasetDescriptor(
      "my_set", my_set_source, "my RGB-D scans", "my set's depth (raw, holes excluded)",
      flags=(sources.DataFlag("my_set", "my_set_source.path", "My set's folder."),)))
  gin.bind_parameter("my_set_source.path", str(tmp_path))
  assert data.count_frames("my_set", "test") == 3
  frame = next(data.load_source("my_set", "test").as_numpy_iterator())
  assert frame["image"].shape == (480, 640, 3) and np.isfinite(frame["depth"]).all()
  assert data.descriptor("my_set").settings() == {"path": str(tmp_path)}
  assert reports.describe_ground_truth("my_set", "depths", 0.25).startswith(
      "my set's depth (raw, holes excluded); measured: 25.0%")


def test_sources_refuse_what_they_lack_in_one_line():
  with pytest.raises(data.DataError, match="unknown data source 'nyu_v3'; choose one of"):
    data.count_frames("nyu_v3", "test")
  with pytest.raises(data.DataError, match="sunrgbd: no 'train' split; a test-only source"):
    data.load_table("sunrgbd", "train")
  with pytest.raises(data.DataError, match="a sequences source"):
    data.load_table("synthetic_flythroughs", "test")
  assert [name for name, d in data.SOURCES.items() if d.nyu_test_set] == [
      "nyu_labeled", "nyu_tfds", "densedepth"]
