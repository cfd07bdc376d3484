"""SUN RGB-D (Song et al. 2015) in its own layout, for the paper's generalization test (4.4).

Layout: `SUNRGBD/<sensor>/<subset>/.../<frame>/` holds `image/<name>.jpg`, `depth/<name>.png`,
`depth_bfx/<name>.png` (depth with holes filled by SUN RGB-D's toolbox) and `intrinsics.txt`
(the 3x3 camera matrix, row by row). The paper's B3DO is `kv1/b3dodata` (Kinect v1, like NYU).

Depth PNGs are 16-bit with SUN RGB-D's bit rotation of the millimetre value: the toolbox reads
them as `bitor(bitshift(d, -3), bitshift(d, 16 - 3))`, i.e. a rotation right by 3 bits of the
16-bit word, then / 1000 for metres; 0 = no measurement.

Frames are brought to NYU's camera (`camera_fit`): rescaled by NYU's focal length / the frame's
(from intrinsics.txt), then centre-padded or cropped to 480x640.
"""

import os

import numpy as np
from PIL import Image

from attn_depth.data.camera_fit import fit_to_nyu_camera
from attn_depth.data.frame_tables import PythonFrames
from attn_depth.data.frames import DataError
from attn_depth.data.frames import FrameError

SENSOR_SUBSETS = ("kv1/b3dodata", "kv1/NYUdata", "kv2/kinect2data", "kv2/align_kv2",
                  "realsense/lg", "realsense/sa", "realsense/sh", "realsense/shr",
                  "xtion/sun3ddata", "xtion/xtion_align_data")
DEPTH_FOLDERS = ("depth", "depth_bfx")


def depth_from_png(array):
  """Metres from a SUN RGB-D depth PNG (uint16 with the bit rotation; 0 = no measurement)."""
  word = np.asarray(array).astype(np.uint32) & 0xFFFF
  millimetres = ((word >> 3) | (word << 13)) & 0xFFFF
  return millimetres.astype(np.float32) / np.float32(1000.0)


def png_from_depth(depth):
  """The inverse, as SUN RGB-D stores depth: metres -> uint16 with the bits rotated left by 3."""
  millimetres = np.round(np.asarray(depth, np.float64) * 1000.0).astype(np.uint32) & 0xFFFF
  return (((millimetres << 3) | (millimetres >> 13)) & 0xFFFF).astype(np.uint16)


def read_intrinsics(path):
  """The 3x3 camera matrix of intrinsics.txt (nine numbers, row by row)."""
  try:
    with open(path, encoding="utf-8") as f:
      values = [float(v) for v in f.read().split()]
  except (OSError, ValueError) as error:
    raise FrameError(f"{path}: unreadable ({error}); expected nine numbers (3x3 matrix)") from None
  if len(values) != 9:
    raise FrameError(f"{path}: {len(values)} numbers, expected nine (3x3 camera matrix)")
  return np.array(values).reshape(3, 3)


def _root(path):
  if not os.path.isdir(path):
    raise DataError(f"{path}: no such folder; expected SUN RGB-D's SUNRGBD folder "
                    f"(kv1/b3dodata/<frame>/image, depth, intrinsics.txt)")
  nested = os.path.join(path, "SUNRGBD")
  return nested if os.path.isdir(nested) else path


def resolve_sensors(sensors):
  """Names of subsets ("kv1/b3dodata", "b3dodata", "kv1": all of kv1) -> SENSOR_SUBSETS."""
  if isinstance(sensors, str):
    sensors = (sensors,)
  chosen = []
  for name in sensors:
    name = name.strip("/")
    matches = [s for s in SENSOR_SUBSETS
               if name == s or name == s.split("/")[1] or name == s.split("/")[0]]
    if not matches:
      raise DataError(f"unknown SUN RGB-D subset {name!r}; choose from {', '.join(SENSOR_SUBSETS)} "
                      f"(or a sensor: kv1, kv2, realsense, xtion)")
    chosen += [m for m in matches if m not in chosen]
  return chosen


def find_frames(path, sensors=("kv1/b3dodata",), depth_folder="depth"):
  """Frame folders (holding image/ and `depth_folder`/) under the chosen subsets, sorted."""
  if depth_folder not in DEPTH_FOLDERS:
    raise DataError(f"sunrgbd: depth_folder must be one of {DEPTH_FOLDERS}, got {depth_folder!r}")
  root = _root(path)
  frames = []
  for subset in resolve_sensors(sensors):
    folder = os.path.join(root, subset)
    if not os.path.isdir(folder):
      raise DataError(f"{folder}: no such folder; {path} does not hold SUN RGB-D's {subset}")
    for current, dirs, _ in os.walk(folder):
      if "image" in dirs and depth_folder in dirs:
        frames.append(current)
        dirs[:] = []  # a frame folder holds no further frames
      else:
        dirs.sort()
  if not frames:
    raise DataError(f"{path}: no frame folders (image/ and {depth_folder}/) under "
                    f"{', '.join(resolve_sensors(sensors))}")
  return sorted(frames)


def _single_file(folder, extensions):
  names = sorted(n for n in os.listdir(folder) if n.lower().endswith(extensions))
  if len(names) != 1:
    raise FrameError(f"{folder}: {len(names)} files ending {'/'.join(extensions)}, expected one")
  return os.path.join(folder, names[0])


def load_frame(folder, depth_folder="depth"):
  """(uint8 [480, 640, 3], float32 [480, 640] metres) of one frame folder, at NYU's camera."""
  image_path = _single_file(os.path.join(folder, "image"), (".jpg", ".jpeg", ".png"))
  depth_path = _single_file(os.path.join(folder, depth_folder), (".png",))
  camera = read_intrinsics(os.path.join(folder, "intrinsics.txt"))
  try:
    image = np.asarray(Image.open(image_path).convert("RGB"))
    raw = np.asarray(Image.open(depth_path))
  except OSError as error:
    raise FrameError(f"{folder}: unreadable image or depth ({error})") from None
  if raw.ndim != 2 or raw.dtype not in (np.uint16, np.int32):
    raise FrameError(f"{depth_path}: depth PNG of type {raw.dtype} with shape {raw.shape}, "
                     f"expected 16-bit single channel")
  if raw.shape != image.shape[:2]:
    raise FrameError(f"{folder}: image {image.shape[:2]} and depth {raw.shape} differ in size")
  return fit_to_nyu_camera(image, depth_from_png(raw), focal=camera[0, 0])


def sunrgbd_table(path, sensors=("kv1/b3dodata",), depth_folder="depth"):
  """SUN RGB-D frames of the chosen subsets at NYU's camera, addressable by index."""
  frames = find_frames(path, sensors, depth_folder)
  return PythonFrames(f"sunrgbd[{'+'.join(resolve_sensors(sensors))}]", len(frames),
                      lambda index: load_frame(frames[index], depth_folder),
                      lambda index: frames[index])
