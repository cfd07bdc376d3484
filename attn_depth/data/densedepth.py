"""NYU Depth V2 as DenseDepth (Alhashim & Wonka 2018) distributes it: `nyu_data.zip`.

Layout: `data/nyu2_train.csv` and `data/nyu2_test.csv`, each line "rgb path,depth path" relative
to the zip's root, e.g. `data/nyu2_train/living_room_0038_out/37.jpg,...37.png`. Read from the
zip itself or from the folder it was extracted to.

Depth scale, as DenseDepth's own loader uses it: training PNGs are 8-bit with 255 = 10 m
(depth = value / 255 * 10); test PNGs are 16-bit millimetres (depth = value / 1000). The scale is
chosen from each PNG's bit depth.
"""

import csv
import io
import os
import zipfile
import zlib

import numpy as np
from PIL import Image

from attn_depth.data.frames import DataError
from attn_depth.data.frames import FrameError
from attn_depth.data.frame_tables import PythonFrames

CSV_NAMES = {"train": "data/nyu2_train.csv", "test": "data/nyu2_test.csv"}
MAX_DEPTH_8BIT = 10.0


def depth_from_png(array, where="depth png"):
  """Metres from a DenseDepth depth PNG (8-bit: 255 = 10 m; 16-bit: millimetres)."""
  if array.ndim == 3:
    array = array[..., 0]
  if array.dtype == np.uint8:
    return array.astype(np.float32) * np.float32(MAX_DEPTH_8BIT / 255.0)
  if array.dtype in (np.uint16, np.int32):  # PIL opens 16-bit PNGs as 'I;16' or 'I'
    return array.astype(np.float32) / np.float32(1000.0)
  raise FrameError(f"{where}: depth PNG of type {array.dtype}, expected 8- or 16-bit")


# What zipfile raises for a damaged archive or member (a bad CRC, a truncated or hostile
# central directory -- even a seek to a negative offset, OSError --, a compression method it
# lacks, an encrypted member); found by fuzzing.
_DAMAGED_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError,
                OverflowError, RuntimeError, OSError)


class _Archive:
  """Reads members of nyu_data.zip or of the folder it was extracted to."""

  def __init__(self, path):
    self.path = path
    if os.path.isdir(path):
      self.zip = None
      return
    try:
      self.zip = zipfile.ZipFile(path) if zipfile.is_zipfile(path) else None
    except _DAMAGED_ZIP as error:
      raise DataError(f"{path}: a damaged zip file ({error}); expected DenseDepth's "
                      f"nyu_data.zip") from None
    if self.zip is None:
      raise DataError(f"{path}: neither a folder nor a zip file; expected DenseDepth's "
                      f"nyu_data.zip or the folder it was extracted to")

  def has(self, member):
    if self.zip is None:
      return os.path.isfile(os.path.join(self.path, member))
    return member in self.zip.NameToInfo

  def read(self, member):
    """The member's bytes; a member that cannot be read is a FrameError naming it."""
    if self.zip is None:
      with open(os.path.join(self.path, member), "rb") as f:
        return f.read()
    try:
      return self.zip.read(member)
    except _DAMAGED_ZIP as error:
      raise FrameError(f"{self.path}:{member}: unreadable in the zip ({error})") from None


def _read_pairs(archive, csv_name):
  try:
    text = archive.read(csv_name).decode("utf-8")
  except (FrameError, UnicodeDecodeError) as error:
    raise DataError(f"{archive.path}: {csv_name} unreadable ({error})") from None
  pairs = []
  try:
    rows = list(csv.reader(io.StringIO(text)))
  except csv.Error as error:
    raise DataError(f"{archive.path}: {csv_name} is not a CSV ({error})") from None
  for line_number, row in enumerate(rows, 1):
    if not row:
      continue
    if len(row) != 2:
      raise DataError(f"{archive.path}: {csv_name} line {line_number}: expected "
                      f"'rgb path,depth path', got {row!r}")
    pairs.append((row[0].strip(), row[1].strip()))
  return pairs


def _open_pairs(path, split):
  if split not in CSV_NAMES:
    raise DataError(f"{path}: unknown split {split!r}, expected one of {sorted(CSV_NAMES)}")
  if not os.path.exists(path):
    raise DataError(f"{path}: no such file or folder; expected DenseDepth's nyu_data.zip")
  archive = _Archive(path)
  csv_name = CSV_NAMES[split]
  if not archive.has(csv_name):
    raise DataError(f"{path}: no {csv_name}; expected DenseDepth's nyu_data.zip layout")
  return archive, _read_pairs(archive, csv_name)


def count_frames(path, split="train"):
  """Rows of the split's CSV."""
  return len(_open_pairs(path, split)[1])


def densedepth_table(path, split="train"):
  """Frames of DenseDepth's nyu_data.zip (train: ~50K frames; test: the 654 test frames),
  addressable by index in the CSV's order."""
  archive, pairs = _open_pairs(path, split)

  def load(index):
    rgb_name, depth_name = pairs[index]
    try:
      image = Image.open(io.BytesIO(archive.read(rgb_name))).convert("RGB")
      depth = np.asarray(Image.open(io.BytesIO(archive.read(depth_name))))
    except FrameError:
      raise
    except Exception as error:  # pylint: disable=broad-except
      # PIL raises many types for damaged images (OSError, ValueError, SyntaxError,
      # DecompressionBombError, ...): each skips the frame, named.
      raise FrameError(f"{path}:{rgb_name}: unreadable ({type(error).__name__}: {error})"
                       ) from None
    return np.asarray(image), depth_from_png(depth, f"{path}:{depth_name}")

  return PythonFrames(f"densedepth[{split}]", len(pairs), load,
                      lambda index: f"{path}:{pairs[index][0]}")


def densedepth_dataset(path, split="train"):
  """`densedepth_table`'s frames in the CSV's order, as a dataset."""
  return densedepth_table(path, split).frames()


def scene_sequences(path, split="train"):
  """NYU's raw scenes as sequences: {scene folder: row indices of the split's CSV in capture
  order} (DenseDepth names frames <scene>_out/<frame number>.jpg, numbered in capture order).
  Index `densedepth_table(path, split)` with them to read a scene's frames in order."""
  _, pairs = _open_pairs(path, split)
  scenes = {}
  for index, (rgb_name, _) in enumerate(pairs):
    folder, name = os.path.split(rgb_name)
    stem = os.path.splitext(name)[0]
    number = int(stem) if stem.isdigit() else None
    scenes.setdefault(os.path.basename(folder), []).append((number, stem, index))
  return {scene: [index for _, _, index in sorted(frames, key=lambda f: (f[0] is None, f[0] or 0,
                                                                          f[1]))]
          for scene, frames in sorted(scenes.items())}
