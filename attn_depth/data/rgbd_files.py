"""Your own RGB-D captures (Kinect, RealSense, a phone's depth, a renderer) as a data source.

Each split (train, test) is one of:
- a CSV file with a header row `rgb,depth` and optionally `fx` (the colour camera's focal length
  in pixels, per frame); paths relative to the CSV's folder or absolute;
- a folder holding `rgb/` and `depth/`, frames paired by file name without extension
  (`rgb/0001.jpg` with `depth/0001.png`).

Depth encodings (`depth_encoding`), all times `depth_scale`:
- "png": 16-bit (or 8-bit) PNG; default scale 0.001, i.e. millimetres (Kinect, RealSense, Azure
  Kinect; TUM RGB-D uses 1/5000);
- "npy": a float array in metres (scale 1);
- "exr": a float OpenEXR image in metres (channel Z, Y, R or the only one; scale 1).
0, NaN and inf mean "no measurement". Frames of any size are brought to NYU's camera
(`camera_fit`): with a focal length (the CSV's `fx` or `focal` for all frames), rescaled to
NYU's 518.86 px; without, scaled to cover 480x640; then centre-cropped or padded to 480x640.
"""

import csv
import os
import warnings

import numpy as np
from PIL import Image

from attn_depth.core import images as images_lib
from attn_depth.data.camera_fit import fit_to_nyu_camera
from attn_depth.data.frame_tables import PythonFrames
from attn_depth.data.frames import DataError
from attn_depth.data.frames import FrameError

ENCODINGS = {"png": 0.001, "npy": 1.0, "exr": 1.0}  # default depth_scale of each
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
DEPTH_EXTENSIONS = {"png": (".png",), "npy": (".npy",), "exr": (".exr",)}
EXR_CHANNELS = ("Z", "Y", "R", "depth", "D")
MAX_DEPTH_PIXELS = 179_000_000  # as PIL's limit for images: larger is refused, not read


def read_depth(path, encoding="png", scale=None):
  """Metres (float32 [h, w]) from one depth file; 0 where there is no measurement."""
  if encoding not in ENCODINGS:
    raise DataError(f"depth_encoding must be one of {sorted(ENCODINGS)}, got {encoding!r}")
  scale = ENCODINGS[encoding] if scale is None else float(scale)
  try:
    if encoding == "png":
      with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # size checked below; damage is one FrameError
        with Image.open(path) as image:
          array = np.asarray(image)
      if array.ndim != 2 or array.dtype not in (np.uint8, np.uint16, np.int32):
        raise FrameError(f"{path}: depth PNG of type {array.dtype}, shape {array.shape}; "
                         f"expected a single-channel 8- or 16-bit PNG")
    elif encoding == "npy":
      # Memory-mapped first: a header claiming more than the file holds is refused by size,
      # before anything is allocated.
      array = np.load(path, allow_pickle=False, mmap_mode="r")
      if array.dtype.kind not in "fiub" or array.size > MAX_DEPTH_PIXELS:
        raise FrameError(f"{path}: depth array of {array.dtype} {array.shape}; expected "
                         f"numbers, at most {MAX_DEPTH_PIXELS:,} of them")
      array = np.array(array)
    else:
      array = _read_exr(path)
  except (FrameError, DataError):
    raise
  except Image.DecompressionBombError as error:
    raise FrameError(f"{path}: too large ({error})") from None
  except Exception as error:  # pylint: disable=broad-except
    # Decoders of untrusted bytes (PIL, numpy's header parser, OpenEXR) raise many types for a
    # malformed file (numpy: tokenize.TokenError; found by fuzzing): each skips the frame.
    raise FrameError(f"{path}: unreadable depth ({type(error).__name__}: {error})") from None
  array = np.squeeze(np.asarray(array))
  if array.ndim != 2:
    raise FrameError(f"{path}: depth of shape {array.shape}, expected one channel [h, w]")
  depth = array.astype(np.float32) * np.float32(scale)
  depth[~np.isfinite(depth) | (depth < 0)] = 0.0
  return depth


def _read_exr(path):
  try:
    import OpenEXR  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise DataError("reading .exr depth needs the OpenEXR package: pip install openexr") from None
  with OpenEXR.File(path) as exr:
    channels = exr.channels()
    for name in EXR_CHANNELS:
      if name in channels:
        return np.array(channels[name].pixels)
    if len(channels) == 1:
      return np.array(next(iter(channels.values())).pixels)
  raise FrameError(f"{path}: channels {sorted(channels)}; expected one of {EXR_CHANNELS}")


def _pairs_from_csv(path):
  folder = os.path.dirname(os.path.abspath(path))
  try:
    with open(path, newline="", encoding="utf-8") as f:
      rows = list(csv.DictReader(f))
  except (OSError, UnicodeDecodeError, csv.Error) as error:
    raise DataError(f"{path}: unreadable ({error}); expected a CSV with a header row "
                    f"'rgb,depth[,fx]'") from None
  if not rows or not {"rgb", "depth"} <= set(rows[0]):
    raise DataError(f"{path}: expected a header row 'rgb,depth' (optionally ',fx') and one row "
                    f"per frame")
  pairs = []
  for line, row in enumerate(rows, 2):
    if not row["rgb"] or not row["depth"]:
      raise DataError(f"{path}: line {line}: empty rgb or depth path")
    try:
      focal = float(row["fx"]) if row.get("fx") else None
    except ValueError:
      raise DataError(f"{path}: line {line}: fx {row['fx']!r} is not a number") from None
    pairs.append((os.path.join(folder, row["rgb"].strip()),
                  os.path.join(folder, row["depth"].strip()), focal))
  return pairs


def _pairs_from_folders(path, encoding):
  rgb_dir, depth_dir = os.path.join(path, "rgb"), os.path.join(path, "depth")
  if not (os.path.isdir(rgb_dir) and os.path.isdir(depth_dir)):
    raise DataError(f"{path}: expected a CSV file or a folder holding rgb/ and depth/")

  def by_stem(folder, extensions):
    return {os.path.splitext(n)[0]: os.path.join(folder, n) for n in os.listdir(folder)
            if n.lower().endswith(extensions)}

  images, depths = by_stem(rgb_dir, IMAGE_EXTENSIONS), by_stem(depth_dir, DEPTH_EXTENSIONS[encoding])
  unmatched = sorted(set(images) ^ set(depths))
  if unmatched:
    raise DataError(f"{path}: {len(unmatched)} file(s) without a partner in rgb/ and depth/ "
                    f"(first: {unmatched[0]!r}); depth files must be {encoding} "
                    f"({'/'.join(DEPTH_EXTENSIONS[encoding])}) with the image's name")
  return [(images[name], depths[name], None) for name in sorted(images)]


def list_pairs(path, encoding="png"):
  """(rgb path, depth path, fx or None) of a split given as a CSV file or a folder."""
  if not path:
    raise DataError("rgbd_files: no path for this split (gin: rgbd_files_source.train / .test: a "
                    "CSV 'rgb,depth[,fx]' or a folder with rgb/ and depth/)")
  if os.path.isfile(path):
    pairs = _pairs_from_csv(path)
  elif os.path.isdir(path):
    pairs = _pairs_from_folders(path, encoding)
  else:
    raise DataError(f"{path}: no such file or folder; expected a CSV 'rgb,depth[,fx]' or a "
                    f"folder with rgb/ and depth/")
  if not pairs:
    raise DataError(f"{path}: no frames listed")
  return pairs


def rgbd_files_table(path, encoding="png", scale=None, focal=None):
  """The frames of one split, at NYU's camera, addressable by index."""
  if encoding not in ENCODINGS:
    raise DataError(f"rgbd_files: depth_encoding must be one of {sorted(ENCODINGS)}, got "
                    f"{encoding!r}")
  pairs = list_pairs(path, encoding)

  def load(index):
    rgb_path, depth_path, frame_focal = pairs[index]
    try:
      image = np.asarray(Image.open(rgb_path).convert("RGB"))
    except OSError as error:
      raise FrameError(f"{rgb_path}: unreadable image ({error})") from None
    depth = read_depth(depth_path, encoding, scale)
    if depth.shape != image.shape[:2]:
      raise FrameError(f"{depth_path}: depth {depth.shape} and image {image.shape[:2]} differ "
                       f"in size")
    return fit_to_nyu_camera(image, depth, frame_focal or focal)

  return PythonFrames(f"rgbd_files[{path}]", len(pairs), load, lambda index: pairs[index][0])


def write_pair(folder, name, image, depth_m):
  """Writes one frame in the folder layout: rgb/<name>.png and depth/<name>.png (16-bit mm)."""
  for sub in ("rgb", "depth"):
    os.makedirs(os.path.join(folder, sub), exist_ok=True)
  Image.fromarray(np.asarray(image, np.uint8)).save(os.path.join(folder, "rgb", f"{name}.png"))
  images_lib.save_depth_png16(os.path.join(folder, "depth", f"{name}.png"), depth_m)


def export_rooms(folder, num_train, num_test, seed=100, progress=None):
  """Procedural rooms written in the folder layout: `folder`/train and `folder`/test (rooms of
  sets `seed` and `seed` + 1), plus `folder`/train.csv with NYU's fx: a worked example of this
  source. Refuses to write over frames already there. `progress(done)` after each frame."""
  from attn_depth.data import synthetic_rooms  # pylint: disable=import-outside-toplevel
  from attn_depth.data.frames import NYU_FX  # pylint: disable=import-outside-toplevel
  for split in ("train", "test"):
    existing = os.path.join(folder, split, "rgb")
    if os.path.isdir(existing) and os.listdir(existing):
      raise DataError(f"{existing}: holds frames already; choose another --output_dir")
  done = 0
  rows = []
  for split, count, scene_set in (("train", num_train, seed), ("test", num_test, seed + 1)):
    for index in range(int(count)):
      image, depth = synthetic_rooms.render(synthetic_rooms.scene_seed(scene_set, index))
      name = f"{index:05d}"
      write_pair(os.path.join(folder, split), name, image, depth)
      if split == "train":
        rows.append((f"train/rgb/{name}.png", f"train/depth/{name}.png", NYU_FX))
      done += 1
      if progress:
        progress(done)
  with open(os.path.join(folder, "train.csv"), "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["rgb", "depth", "fx"])
    writer.writerows(rows)
