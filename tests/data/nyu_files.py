"""Tiny files in the exact layouts of NYU Depth V2's distributions, written by the tests."""

import os

import h5py
import numpy as np
import scipy.io

_MATLAB_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."


def frame(index):
  """Frame `index` (0-based): content that shows orientation and order.

  image: red = row // 2, green = column // 3, blue = 10 * index; depth = 1 + row / 100 +
  column / 10000 + index, raw depth the same with a hole in the top-left corner.
  """
  rows, cols = np.mgrid[0:480, 0:640]
  image = np.stack([rows // 2, cols // 3, np.full_like(rows, 10 * index)], -1).astype(np.uint8)
  depth = (1 + rows / 100 + cols / 10000 + index).astype(np.float32)
  raw = depth.copy()
  raw[:10, :20] = 0
  return image, depth, raw


def write_labeled_mat(path, count=4, keys=("images", "depths", "rawDepths"), frames=None):
  """nyu_depth_v2_labeled.mat as MATLAB v7.3 writes it: HDF5 behind a 512-byte header, every
  array stored with its axes reversed (images 480x640x3xN -> [N, 3, 640, 480]).
  `frames`: (image, depth) pairs to store (raw depth = depth); default `count` test patterns."""
  frames = ([frame(i) for i in range(count)] if frames is None else
            [(image, depth, depth) for image, depth in frames])
  matlab = {
      "images": np.stack([f[0] for f in frames], -1),  # 480x640x3xN as MATLAB sees it
      "depths": np.stack([f[1] for f in frames], -1),
      "rawDepths": np.stack([f[2] for f in frames], -1),
  }
  with h5py.File(path, "w", userblock_size=512) as f:
    for key in keys:
      f.create_dataset(key, data=matlab[key].T, compression="gzip", compression_opts=1)
  with open(path, "r+b") as f:
    f.write(_MATLAB_HEADER.ljust(128, b" "))
  return path


def write_splits_mat(path, train=(1, 3), test=(2, 4), keys=("trainNdxs", "testNdxs")):
  """splits.mat (MATLAB 5): 1-based column vectors."""
  content = {"trainNdxs": np.array(train, np.float64)[:, None],
             "testNdxs": np.array(test, np.float64)[:, None]}
  scipy.io.savemat(path, {k: content[k] for k in keys})
  return path


def write_fastdepth_archive(root, scenes):
  """The extracted nyudepthv2.tar.gz that tfds' nyu_depth_v2 builder reads:
  nyudepthv2/{train,val}/<scene>/<frame>.h5 with rgb [3, 480, 640] and depth [480, 640]."""
  written = {}
  for split, split_scenes in scenes.items():
    for scene, frame_indices in split_scenes.items():
      folder = os.path.join(root, "nyudepthv2", split, scene)
      os.makedirs(folder, exist_ok=True)
      for index in frame_indices:
        image, depth, _ = frame(index)
        with h5py.File(os.path.join(folder, f"{index:05d}.h5"), "w") as f:
          f.create_dataset("rgb", data=image.transpose(2, 0, 1))
          f.create_dataset("depth", data=depth)
        written.setdefault(split, []).append(index)
  return written
