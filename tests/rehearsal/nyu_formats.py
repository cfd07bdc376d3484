"""NYU Depth V2 in each real distribution format, at full size (480x640), with content a network
can fit: procedural rooms (exact depth, NYU's camera) instead of Kinect frames.

- FastDepth's `nyudepthv2.tar.gz`, the archive tfds' nyu_depth_v2 builder downloads:
  nyudepthv2/{train,val}/<scene>/<frame>.h5 with rgb uint8 [3, 480, 640], depth float32 [480, 640];
- the labeled set: `nyu_depth_v2_labeled.mat` (MATLAB v7.3 / HDF5) + `splits.mat` (MATLAB 5);
- DenseDepth's `nyu_data.zip`: CSV lists, JPEG + 8-bit PNG (255 = 10 m) for training, PNG +
  16-bit millimetre PNG for testing.
"""

import io
import os
import tarfile
import zipfile

import h5py
import numpy as np
from PIL import Image

from attn_depth.data import synthetic_rooms
from tests.data import nyu_files

# Scene sets kept apart from the ones the package's sources render (seeds 0, 1, ...).
_TRAIN_SEED, _TEST_SEED = 9100, 9200


def room(seed, index):
  """(image uint8 [480, 640, 3], depth float32 [480, 640] metres)."""
  return synthetic_rooms.render([seed, index])


def train_room(index):
  return room(_TRAIN_SEED, index)


def test_room(index):
  return room(_TEST_SEED, index)


def write_fastdepth_archive(path, train_scenes, val_frames):
  """`nyudepthv2.tar.gz` at `path` (or the extracted folder, if `path` has no .tar.gz suffix).
  train_scenes: {scene name: number of frames}. Returns {"train": n, "validation": n}."""
  members, index = {}, 0
  for scene, count in train_scenes.items():
    for frame in range(count):
      members[f"nyudepthv2/train/{scene}/{frame + 1:05d}.h5"] = train_room(index)
      index += 1
  for frame in range(val_frames):
    members[f"nyudepthv2/val/official/{frame + 1:05d}.h5"] = test_room(frame)
  as_folder = not path.endswith(".tar.gz")
  archive = None if as_folder else tarfile.open(path, "w:gz", compresslevel=1)
  for name, (image, depth) in members.items():
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
      f.create_dataset("rgb", data=image.transpose(2, 0, 1))
      f.create_dataset("depth", data=depth)
    content = buffer.getvalue()
    if as_folder:
      os.makedirs(os.path.join(path, os.path.dirname(name)), exist_ok=True)
      with open(os.path.join(path, name), "wb") as f:
        f.write(content)
    else:
      info = tarfile.TarInfo(name)
      info.size = len(content)
      archive.addfile(info, io.BytesIO(content))
  if archive is not None:
    archive.close()
  return {"train": index, "validation": val_frames}


def write_labeled(mat_path, splits_path, train_frames, test_frames):
  """The labeled .mat (train frames first, then test frames) and its splits.mat."""
  frames = ([train_room(100 + i) for i in range(train_frames)]
            + [test_room(100 + i) for i in range(test_frames)])
  nyu_files.write_labeled_mat(mat_path, frames=frames)
  count = train_frames + test_frames
  nyu_files.write_splits_mat(splits_path, train=range(1, train_frames + 1),
                             test=range(train_frames + 1, count + 1))
  return mat_path, splits_path


def _encoded(array, fmt):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
  return buffer.getvalue()


def write_densedepth_zip(path, train_frames, test_frames):
  """DenseDepth's nyu_data.zip with the same encodings as the real one."""
  train_rows, test_rows, members = [], [], {}
  for i in range(train_frames):
    image, depth = train_room(200 + i)
    stem = f"data/nyu2_train/room_{i // 4:04d}_out/{i % 4 + 1}"
    members[stem + ".jpg"] = _encoded(image, "JPEG")
    members[stem + ".png"] = _encoded(
        np.clip(np.round(depth / 10.0 * 255.0), 0, 255).astype(np.uint8), "PNG")
    train_rows.append(f"{stem}.jpg,{stem}.png")
  for i in range(test_frames):
    image, depth = test_room(200 + i)
    stem = f"data/nyu2_test/{i:05d}"
    members[stem + "_colors.png"] = _encoded(image, "PNG")
    members[stem + "_depth.png"] = _encoded(
        np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16), "PNG")
    test_rows.append(f"{stem}_colors.png,{stem}_depth.png")
  members["data/nyu2_train.csv"] = ("\n".join(train_rows) + "\n").encode()
  members["data/nyu2_test.csv"] = ("\n".join(test_rows) + "\n").encode()
  with zipfile.ZipFile(path, "w") as archive:
    for name, content in members.items():
      archive.writestr(name, content)
  return path


def write_photo(path, index, size=None):
  """A JPEG 'photo' of a room, optionally resized to `size` (width, height)."""
  image, _ = test_room(300 + index)
  picture = Image.fromarray(image)
  if size:
    picture = picture.resize(size, Image.BILINEAR)
  picture.save(path, quality=92)
  return path
