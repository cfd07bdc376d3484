"""Reading the user's photos and writing depth images (16-bit millimetres, colour with legend)."""

import glob
import os
import warnings

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont
from PIL import ImageOps

from attn_depth.core import visualization
from attn_depth.core.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(UserError, ValueError):
  """One input that is not a readable image; the batch goes on without it."""


def expand_inputs(patterns):
  """Files, globs and folders (their images, sorted; not recursive) -> (paths, problems).

  A pattern that matches nothing is a problem, reported by the caller; it stops nothing.
  """
  paths, problems, seen = [], [], set()
  for pattern in patterns:
    if os.path.isdir(pattern):
      matches = sorted(os.path.join(pattern, name) for name in os.listdir(pattern)
                       if name.lower().endswith(IMAGE_EXTENSIONS))
      if not matches:
        problems.append(f"{pattern}: a folder with no image ({', '.join(IMAGE_EXTENSIONS)})")
    elif glob.has_magic(pattern):
      matches = sorted(path for path in glob.glob(pattern) if os.path.isfile(path))
      if not matches:
        problems.append(f"{pattern}: matches no file")
    elif os.path.isfile(pattern):
      matches = [pattern]
    else:
      matches = []
      problems.append(f"{pattern}: no such file or folder")
    for path in matches:
      if os.path.abspath(path) not in seen:
        seen.add(os.path.abspath(path))
        paths.append(path)
  return paths, problems


def read_rgb(path):
  """Any image file -> uint8 RGB [H, W, 3], upright by its EXIF orientation.

  Grayscale is repeated to 3 channels, alpha dropped (composited on white), palettes expanded,
  16-bit and float images scaled to 8 bits by their full range.
  """
  try:
    with warnings.catch_warnings():
      # PIL warns above ~89 MP and refuses above twice that (Image.MAX_IMAGE_PIXELS): photos up
      # to the refusal are read quietly; a larger one (or a header claiming it) is one line.
      # Its warnings about damaged files ("Tag data larger than file") are not the user's
      # business either: the photo reads, or it is one line.
      warnings.simplefilter("ignore")
      with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        image.load()
  except Image.DecompressionBombError as error:
    raise ImageReadError(f"{path}: too large to read ({error}); photos up to "
                         f"{2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels are read") from None
  except Exception as error:  # pylint: disable=broad-except
    # A decoder of untrusted bytes: PIL answers malformed files with OSError, ValueError,
    # SyntaxError, EOFError, struct.error, ... (found by fuzzing, tools/fuzz.py): each is the
    # same one line for the user.
    reason = str(error) if str(path) not in str(error) else error.__class__.__name__
    raise ImageReadError(f"{path}: not a readable image ({reason}); expected JPEG, PNG, BMP, "
                         f"TIFF or WebP") from None
  if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
    values = np.asarray(image, np.float64)
    maximum = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
    gray = np.clip(values / maximum * 255.0 + 0.5, 0, 255).astype(np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
  else:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and
                                             "transparency" in image.info):
      image = image.convert("RGBA")
      background = Image.new("RGBA", image.size, (255, 255, 255, 255))
      image = Image.alpha_composite(background, image)
    rgb = np.asarray(image.convert("RGB"), np.uint8)
  if rgb.shape[0] < 8 or rgb.shape[1] < 8:
    raise ImageReadError(f"{path}: {rgb.shape[1]}x{rgb.shape[0]} pixels; expected at least 8x8")
  return rgb


# Large photos are converted a band of rows at a time (about this many pixels), so that memory
# stays a small multiple of the photo's own size whatever its size.
CHUNK_PIXELS = 4_000_000


def row_chunks(height, width):
  """Slices of rows that cover `height` rows of `width` pixels, CHUNK_PIXELS at a time."""
  rows = max(1, CHUNK_PIXELS // max(width, 1))
  return [slice(start, min(start + rows, height)) for start in range(0, height, rows)]


def valid_range(depth):
  """(min, max) of the finite depth > 0, or None where there is none; band by band."""
  low, high = np.inf, -np.inf
  for band in row_chunks(*depth.shape[:2]):
    values = depth[band]
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
      low, high = min(low, float(values.min())), max(high, float(values.max()))
  return (low, high) if low <= high else None


def save_depth_png16(path, depth):
  """Depth in millimetres as a 16-bit grayscale PNG (0 = no depth; saturates at 65.535 m)."""
  depth = np.asarray(depth)
  millimetres = np.empty(depth.shape, np.uint16)
  for band in row_chunks(*depth.shape):
    millimetres[band] = np.clip(np.round(np.nan_to_num(depth[band].astype(np.float64)) * 1000.0),
                                0, 65535)
  Image.fromarray(millimetres).save(path)


def load_depth_png16(path):
  """The inverse of save_depth_png16: metres as float32."""
  with Image.open(path) as image:
    return np.asarray(image, np.float32) / 1000.0


def colour_depth_with_legend(depth, min_depth=None, max_depth=None, bar_height=None):
  """The colour-mapped depth above a colour bar labelled in metres. uint8 [H + bar, W, 3]."""
  depth = np.asarray(depth, np.float32)
  found = valid_range(depth) or (0.0, 1.0)
  low = float(min_depth if min_depth is not None else found[0])
  high = float(max_depth if max_depth is not None else found[1])
  height, width = depth.shape
  font = ImageFont.load_default(size=max(10, width // 40))
  text_height = font.getbbox("0.00 m")[3] + 4
  bar_height = bar_height or max(8, height // 30)
  ramp = np.linspace(low, high, width, dtype=np.float32)[None].repeat(bar_height, axis=0)
  bar = visualization.colorize(np.maximum(ramp, 1e-6), low, high)
  legend = Image.new("RGB", (width, bar_height + text_height + 4), (255, 255, 255))
  legend.paste(Image.fromarray(bar), (0, 2))
  draw = ImageDraw.Draw(legend)
  for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
    label = f"{low + fraction * (high - low):.2f} m"
    text_width = draw.textlength(label, font=font)
    x = min(max(fraction * width - text_width / 2, 0), width - text_width)
    draw.text((x, bar_height + 4), label, fill=(0, 0, 0), font=font)
  out = np.empty((height + legend.height, width, 3), np.uint8)
  for band in row_chunks(height, width):
    out[band] = visualization.colorize(depth[band], low, high)
  out[height:] = np.asarray(legend)
  return out
