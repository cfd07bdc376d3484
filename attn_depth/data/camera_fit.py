"""Frames from other cameras brought to NYU Depth V2's: the network learned NYU's focal length
(518.86 px at 480x640), and a monocular network reads distance partly from apparent size.

A frame is rescaled so that its focal length in pixels equals NYU's (when its intrinsics are
known), then centre-padded (image black, depth 0 = no measurement) or centre-cropped to 480x640.
The paper's processing (312x416, centre crop 240x320) then never sees the padding of a Kinect v1
frame of SUN RGB-D (427x561): the crop removes 55 rows and 74 columns of the 480x640 frame on
each side, more than the 27 and 40 of padding.
"""

import numpy as np
from PIL import Image

from attn_depth.data.frames import FRAME_HEIGHT
from attn_depth.data.frames import FRAME_WIDTH
from attn_depth.data.frames import NYU_FX


def _resize(image, depth, scale):
  height, width = depth.shape
  size = (max(int(round(width * scale)), 1), max(int(round(height * scale)), 1))
  image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
  # Nearest for depth: a valid depth is never averaged with a hole.
  depth = np.asarray(Image.fromarray(depth.astype(np.float32)).resize(size, Image.NEAREST))
  return image, depth


def _pad_or_crop(array, height, width, fill=0):
  """Centre-pads or centre-crops the first two axes to (height, width)."""
  out = np.full((height, width) + array.shape[2:], fill, array.dtype)
  h, w = array.shape[:2]
  src_y, dst_y = max((h - height) // 2, 0), max((height - h) // 2, 0)
  src_x, dst_x = max((w - width) // 2, 0), max((width - w) // 2, 0)
  rows, cols = min(h, height), min(w, width)
  out[dst_y:dst_y + rows, dst_x:dst_x + cols] = array[src_y:src_y + rows, src_x:src_x + cols]
  return out


def scale_to_nyu(height, width, focal=None):
  """The resampling factor: NYU's focal length / `focal`; without intrinsics, the smallest
  factor that makes the frame cover 480x640 (aspect kept)."""
  if focal:
    return NYU_FX / float(focal)
  return max(FRAME_HEIGHT / height, FRAME_WIDTH / width)


def fit_to_nyu_camera(image, depth, focal=None):
  """(uint8 [h, w, 3], float32 [h, w] metres) of any size -> NYU-like 480x640 frame; `focal` is
  the frame's horizontal focal length in pixels (fx) when known."""
  image, depth = np.asarray(image, np.uint8), np.asarray(depth, np.float32)
  scale = scale_to_nyu(*depth.shape, focal)
  if abs(scale - 1.0) > 1e-3:
    image, depth = _resize(image, depth, scale)
  return (_pad_or_crop(image, FRAME_HEIGHT, FRAME_WIDTH),
          _pad_or_crop(depth, FRAME_HEIGHT, FRAME_WIDTH))
