"""NYU Depth V2's labeled set: `nyu_depth_v2_labeled.mat` and `splits.mat`.

The .mat is MATLAB v7.3, i.e. HDF5, and h5py sees MATLAB's arrays with their axes reversed:
`images` [N, 3, 640, 480] uint8, `depths` / `rawDepths` [N, 640, 480] float32 (metres; raw
depth has holes = 0). `splits.mat` is MATLAB 5 (scipy.io.loadmat): `trainNdxs` (795) and
`testNdxs` (654), 1-based column vectors. Frames are read lazily: the real file is 2.8 GB.
"""

import os
import threading

import h5py
import numpy as np
import scipy.io

from attn_depth.core import isolated
from attn_depth.data.frames import FRAME_HEIGHT
from attn_depth.data.frames import FRAME_WIDTH
from attn_depth.data.frames import DataError
from attn_depth.data.frames import FrameError
from attn_depth.data.frame_tables import PythonFrames

SPLIT_KEYS = {"train": "trainNdxs", "test": "testNdxs"}
DEPTH_KEYS = ("depths", "rawDepths")


def _require_file(path, what):
  if not path:
    raise DataError(f"no file given; expected {what} (gin: nyu_labeled_source.mat_path and "
                    f".splits_path; tools take --nyu_mat and --nyu_splits)")
  if not os.path.isfile(path):
    raise DataError(f"{path}: no such file; expected {what}")


def check_files(mat_path, splits_path):
  """Both files exist, the .mat named first (it is the one users most often lack)."""
  _require_file(mat_path, "nyu_depth_v2_labeled.mat (MATLAB v7.3 / HDF5)")
  _require_file(splits_path, "NYU Depth V2's splits.mat (MATLAB 5, trainNdxs and testNdxs)")


def _load_mat(path):
  return {key: np.asarray(value) for key, value in scipy.io.loadmat(path).items()
          if not key.startswith("__")}


def read_split_indices(splits_path, split):
  """0-based frame indices of `split` ("train" or "test") from NYU's splits.mat."""
  if split not in SPLIT_KEYS:
    raise DataError(f"{splits_path}: unknown split {split!r}, expected one of {sorted(SPLIT_KEYS)}")
  _require_file(splits_path, "NYU Depth V2's splits.mat (MATLAB 5, trainNdxs and testNdxs)")
  try:
    # In a child process: scipy's reader crashes the process on some damaged files (fuzzing).
    splits = isolated.call(_load_mat, splits_path, where=splits_path)
  except isolated.ReaderCrashed as error:
    raise DataError(f"{error}; expected NYU Depth V2's splits.mat (MATLAB 5)") from None
  except Exception as error:  # scipy raises several types for non-MAT files
    raise DataError(f"{splits_path}: not a MATLAB 5 .mat file ({error})") from None
  key = SPLIT_KEYS[split]
  if key not in splits:
    raise DataError(f"{splits_path}: no variable {key!r}; expected NYU's splits.mat with "
                    f"trainNdxs and testNdxs")
  return np.asarray(splits[key]).reshape(-1).astype(np.int64) - 1


def _check_layout(handle, mat_path, depth_key):
  for key in ("images", depth_key):
    if key not in handle:
      raise DataError(f"{mat_path}: no dataset {key!r}; expected nyu_depth_v2_labeled.mat "
                      f"(MATLAB v7.3) with 'images' and {', '.join(map(repr, DEPTH_KEYS))}")
  images, depths = handle["images"], handle[depth_key]
  if images.ndim != 4 or images.shape[1:] != (3, FRAME_WIDTH, FRAME_HEIGHT):
    raise DataError(f"{mat_path}: 'images' has shape {images.shape}, expected "
                    f"[N, 3, {FRAME_WIDTH}, {FRAME_HEIGHT}] (MATLAB's 480x640x3xN as h5py sees it)")
  if depths.shape != (images.shape[0], FRAME_WIDTH, FRAME_HEIGHT):
    raise DataError(f"{mat_path}: {depth_key!r} has shape {depths.shape}, expected "
                    f"[{images.shape[0]}, {FRAME_WIDTH}, {FRAME_HEIGHT}]")
  return images.shape[0]


class _LazyFile:
  """One h5py handle per table, opened on the first read (h5py serialises reads itself)."""

  def __init__(self, path):
    self.path, self._handle, self._lock = path, None, threading.Lock()

  def __getitem__(self, key):
    with self._lock:
      if self._handle is None:
        self._handle = h5py.File(self.path, "r")
      return self._handle[key]


def nyu_labeled_table(mat_path, splits_path, split="test", depth_key="depths"):
  """The 795 train or 654 test frames of the labeled set, in splits.mat's order, addressable by
  index.

  Args:
    mat_path: nyu_depth_v2_labeled.mat.
    splits_path: splits.mat.
    split: "train" or "test".
    depth_key: "depths" (filled by colorization, the default for training and the paper's
      evaluation) or "rawDepths" (Kinect measurements, holes = 0).
  """
  if depth_key not in DEPTH_KEYS:
    raise DataError(f"{mat_path}: depth_key must be one of {DEPTH_KEYS}, got {depth_key!r}")
  check_files(mat_path, splits_path)
  indices = read_split_indices(splits_path, split)
  try:
    with h5py.File(mat_path, "r") as handle:
      count = _check_layout(handle, mat_path, depth_key)
  except OSError as error:
    raise DataError(f"{mat_path}: not a MATLAB v7.3 (HDF5) file ({error})") from None
  except (KeyError, ValueError, RuntimeError, TypeError) as error:
    # h5py's answers to a damaged HDF5 file ("bad object header version number"; fuzzing).
    raise DataError(f"{mat_path}: a damaged MATLAB v7.3 (HDF5) file ({error})") from None
  if indices.size and (indices.min() < 0 or indices.max() >= count):
    raise DataError(f"{splits_path}: indices run to {indices.max() + 1}, but {mat_path} has "
                    f"{count} frames")
  mat = _LazyFile(mat_path)

  def load(position):
    index = indices[position]
    try:
      return mat["images"][index].transpose(2, 1, 0), mat[depth_key][index].T
    except (OSError, KeyError, ValueError, RuntimeError, TypeError) as error:
      # A damaged chunk (h5py: a failed filter, a bad header): this frame is skipped, named.
      raise FrameError(f"{mat_path} frame {index + 1}: unreadable ({type(error).__name__}: "
                       f"{error})") from None

  return PythonFrames(f"nyu_labeled[{split}]", len(indices), load,
                      lambda position: f"{mat_path} frame {indices[position] + 1}")


def nyu_labeled_dataset(mat_path, splits_path, split="test", depth_key="depths"):
  """`nyu_labeled_table`'s frames in splits.mat's order, as a dataset."""
  return nyu_labeled_table(mat_path, splits_path, split, depth_key).frames()
