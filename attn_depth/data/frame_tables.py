"""Sources as tables of frames addressable by index: what makes exact resume and a fresh
permutation every epoch possible (see `attn_depth.data.epochs`).

A table reads frame `i` directly: tfds records through an index of record offsets built from
the files themselves (tfds' TFRecords have no index of their own), the labeled .mat through h5py,
DenseDepth's zip by member name, procedural rooms by rendering scene `i`. A frame that cannot be
read is reported with its location and skipped, never fatal.
"""

import logging
import os
import struct
import threading

import numpy as np
import tensorflow as tf

from attn_depth.data.frames import EXAMPLE_SIGNATURE
from attn_depth.data.frames import DataError
from attn_depth.data.frames import FrameError
from attn_depth.data.frames import check_frame

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'

_EMPTY_IMAGE = np.zeros(EXAMPLE_SIGNATURE["image"].shape, np.uint8)
_EMPTY_DEPTH = np.zeros(EXAMPLE_SIGNATURE["depth"].shape, np.float32)


class FrameTable:
  """`len(table)` frames; `frames(indices)` reads them in the order of a dataset of indices."""

  def __init__(self, name, size):
    self.name, self.size = name, int(size)
    self._skipped, self._skipped_lock = {}, threading.Lock()

  def __len__(self):
    return self.size

  def _skip(self, index, where, reason):
    """Reports frame `index` (named `where`) as skipped: one warning line, and kept for
    `skipped()`, so that a result can say which frames it lacks."""
    _LOG.warning("%s: skipped a frame: %s", self.name, reason)
    with self._skipped_lock:
      self._skipped[int(index)] = str(where)

  def skipped(self):
    """The frames skipped so far, in index order: [(index, where)]."""
    with self._skipped_lock:
      return sorted(self._skipped.items())

  def frames(self, indices=None, parallel=tf.data.AUTOTUNE):
    """{"image": uint8 [480, 640, 3], "depth": float32 [480, 640] metres} for each index of
    `indices` (a dataset of int64; default: every frame in order), order kept."""
    if indices is None:
      indices = tf.data.Dataset.range(self.size)
    return self.frames_with(indices, lambda index, example: example, parallel)

  def frames_with(self, elements, fn, parallel=tf.data.AUTOTUNE):
    """`fn(element, frame)` for each element of `elements`, a dataset of int64 frame indices or
    of (frame index, extra) tuples; frames that cannot be read are skipped."""
    raise NotImplementedError


def _index_of(element):
  return element[0] if isinstance(element, tuple) else element


def _read_ok(*element_and_flag):
  return element_and_flag[-1]


def _without_flag(*element_and_flag):
  return element_and_flag[:-1] if len(element_and_flag) > 2 else element_and_flag[0]


class PythonFrames(FrameTable):
  """Frames loaded by a Python function `load(i) -> (image, depth)`; `where(i)` names frame i
  in messages. Loads run in tf.data's thread pool (file reads and numpy release the GIL)."""

  def __init__(self, name, size, load, where):
    super().__init__(name, size)
    self._load, self._where = load, where

  def _read(self, index):
    index = int(index)
    try:
      image, depth = check_frame(*self._load(index), self._where(index))
      return image, depth, True
    except (FrameError, OSError, ValueError, KeyError) as error:
      self._skip(index, self._where(index), error)
      return _EMPTY_IMAGE, _EMPTY_DEPTH, False

  def frames_with(self, elements, fn, parallel=tf.data.AUTOTUNE):
    def read(*element):
      element = element if len(element) > 1 else element[0]
      image, depth, ok = tf.numpy_function(self._read, [_index_of(element)],
                                           (tf.uint8, tf.float32, tf.bool), stateful=False)
      image.set_shape(EXAMPLE_SIGNATURE["image"].shape)
      depth.set_shape(EXAMPLE_SIGNATURE["depth"].shape)
      return fn(element, {"image": image, "depth": depth}), ok

    dataset = elements.map(read, num_parallel_calls=parallel, deterministic=True)
    return dataset.filter(_read_ok).map(_without_flag)


_RECORD_HEADER = struct.Struct("<QI")  # TFRecord: uint64 length, uint32 masked CRC of it


def record_offsets(path):
  """(offset, length) of each record's payload in a TFRecord file, from the length headers
  (no payload is read)."""
  offsets, size = [], os.path.getsize(path)
  with open(path, "rb") as f:
    position = 0
    while position < size:
      header = os.pread(f.fileno(), _RECORD_HEADER.size, position)
      if len(header) < _RECORD_HEADER.size:
        raise DataError(f"{path}: truncated TFRecord header at byte {position}")
      length = _RECORD_HEADER.unpack(header)[0]
      payload = position + _RECORD_HEADER.size
      position = payload + length + 4  # payload, then its masked CRC
      if position > size:
        raise DataError(f"{path}: truncated record at byte {payload} ({length} bytes "
                        f"announced, {size - payload} left); prepare the dataset again")
      offsets.append((payload, length))
  return offsets


class RecordFrames(FrameTable):
  """The first `size` records of a tfds split (tfds' own order: shard files in order), decoded
  by the builder's features, read by offset."""

  def __init__(self, name, builder, split, size):
    info = builder.info.splits[split]
    super().__init__(name, size)
    self._files = [os.fspath(path) for path in info.filepaths]
    self._features = builder.info.features
    locations = []
    for file_number, (path, expected) in enumerate(zip(self._files, info.shard_lengths)):
      offsets = record_offsets(path)
      if len(offsets) != expected:
        raise DataError(f"{path}: {len(offsets)} records, tfds' metadata says {expected}; "
                        f"prepare the dataset again")
      locations.extend((file_number, offset, length) for offset, length in offsets)
      if len(locations) >= self.size:
        break
    if len(locations) < self.size:
      raise DataError(f"{builder.data_dir}: {len(locations)} records in split {split!r}, "
                      f"{self.size} requested")
    self._locations = np.array(locations[:self.size], np.int64)
    self._descriptors, self._lock = {}, threading.Lock()

  def _descriptor(self, file_number):
    with self._lock:
      if file_number not in self._descriptors:
        self._descriptors[file_number] = os.open(self._files[file_number], os.O_RDONLY)
      return self._descriptors[file_number]

  def _read(self, index):
    file_number, offset, length = self._locations[int(index)]
    try:
      return os.pread(self._descriptor(int(file_number)), int(length), int(offset)), True
    except OSError as error:
      where = f"record {int(index)} of {self._files[int(file_number)]}"
      self._skip(index, where, f"{where}: {error}")
      return b"", False

  def frames_with(self, elements, fn, parallel=tf.data.AUTOTUNE):
    def read(*element):
      element = element if len(element) > 1 else element[0]
      serialized, ok = tf.numpy_function(self._read, [_index_of(element)], (tf.string, tf.bool),
                                         stateful=False)
      return element, tf.reshape(serialized, []), ok

    def decode(element, serialized):
      example = self._features.deserialize_example(serialized)
      frame = {"image": example["image"], "depth": tf.cast(example["depth"], tf.float32)}
      return fn(element, frame)

    dataset = elements.map(read, num_parallel_calls=parallel, deterministic=True)
    dataset = dataset.filter(_read_ok).map(_without_flag)
    dataset = dataset.map(decode, num_parallel_calls=parallel, deterministic=True)
    # A record that fails to decode is logged by tf.data and skipped, not fatal.
    return dataset.ignore_errors(log_warning=True)

  def __del__(self):
    for descriptor in getattr(self, "_descriptors", {}).values():
      try:
        os.close(descriptor)
      except OSError:
        pass
