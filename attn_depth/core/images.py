"""Reading the user's photos (HEIC too, with pillow-heif) and writing depth images (16-bit
millimetres, colour or grayscale pictures, their legends)."""

import contextlib
import functools
import glob
import os
import warnings

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont
from PIL import ImageOps
from PIL import PngImagePlugin

from attn_depth.core import visualization
from attn_depth.core.errors import UserError

HEIF_EXTENSIONS = (".heic", ".heif")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp") + HEIF_EXTENSIONS
FORMATS = "JPEG, PNG, BMP, TIFF, WebP or HEIC"


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


@functools.cache
def heif_support():
  """Registers pillow-heif's HEIC/HEIF reader with PIL (once); False where it is not installed."""
  try:
    import pillow_heif  # pylint: disable=import-outside-toplevel
  except ImportError:
    return False
  # libheif applies the file's own rotation and mirroring (its irot/imir boxes: a phone's
  # orientation) while decoding and pillow-heif resets the EXIF tag to 1, so exif_transpose
  # below does not rotate twice; an EXIF tag without those boxes is informative only (the HEIF
  # standard, as libheif and macOS read it).
  pillow_heif.register_heif_opener(thumbnails=False)
  return True


@contextlib.contextmanager
def _reading(path):
  """The body opens `path` with PIL; whatever goes wrong is one ImageReadError naming it."""
  if not heif_support() and str(path).lower().endswith(HEIF_EXTENSIONS):
    raise ImageReadError(f"{path}: reading HEIC/HEIF needs pillow-heif (pip install -c "
                         f"constraints.txt pillow-heif)")
  try:
    with warnings.catch_warnings():
      # PIL warns above ~89 MP and refuses above twice that (Image.MAX_IMAGE_PIXELS): photos up
      # to the refusal are read quietly; a larger one (or a header claiming it) is one line.
      # Its warnings about damaged files ("Tag data larger than file") are not the user's
      # business either: the photo reads, or it is one line.
      warnings.simplefilter("ignore")
      yield
  except Image.DecompressionBombError as error:
    raise ImageReadError(f"{path}: too large to read ({error}); photos up to "
                         f"{2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels are read") from None
  except Exception as error:  # pylint: disable=broad-except
    # A decoder of untrusted bytes: PIL answers malformed files with OSError, ValueError,
    # SyntaxError, EOFError, struct.error, ... (found by fuzzing, tools/fuzz.py): each is the
    # same one line for the user.
    reason = str(error) if str(path) not in str(error) else error.__class__.__name__
    raise ImageReadError(f"{path}: not a readable image ({reason}); expected {FORMATS}") from None


def _check_size(path, width, height):
  if width < 8 or height < 8:
    raise ImageReadError(f"{path}: {width}x{height} pixels; expected at least 8x8")


def check_image(path):
  """Raises what read_rgb would for a file that is not an image, too small or too large, from
  its header alone (milliseconds, nothing decoded): the tools' check before a model loads. A
  file damaged after its header still fails later, in read_rgb."""
  with _reading(path):
    with Image.open(path) as image:
      size = image.size
  _check_size(path, *size)


def read_rgb(path):
  """Any image file -> uint8 RGB [H, W, 3], upright by its orientation (EXIF, or HEIC's own).

  Grayscale is repeated to 3 channels, alpha dropped (composited on white), palettes expanded,
  16-bit and float images scaled to 8 bits by their full range. HEIC/HEIF needs pillow-heif
  (installed with attn_depth).
  """
  with _reading(path):
    with Image.open(path) as image:
      image = ImageOps.exif_transpose(image)
      image.load()
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
  _check_size(path, rgb.shape[1], rgb.shape[0])
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


def depth_legend(low, high, width, colormap=visualization.COLORMAP, bar_height=None):
  """The colour bar of a depth picture from `low` to `high` metres, labelled in metres: uint8
  [h, width, 3], to be shown beside (not inside) the picture, which stays pixel-aligned with its
  photo."""
  font = ImageFont.load_default(size=max(10, width // 40))
  text_height = font.getbbox("0.00 m")[3] + 4
  bar_height = bar_height or max(8, width // 40)
  ramp = np.linspace(low, high, width, dtype=np.float32)[None].repeat(bar_height, axis=0)
  bar = visualization.colorize(np.maximum(ramp, 1e-6), low, high, colormap)
  legend = Image.new("RGB", (width, bar_height + text_height + 4), (255, 255, 255))
  legend.paste(Image.fromarray(bar), (0, 2))
  draw = ImageDraw.Draw(legend)
  for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
    label = f"{low + fraction * (high - low):.2f} m"
    text_width = draw.textlength(label, font=font)
    x = min(max(fraction * width - text_width / 2, 0), width - text_width)
    draw.text((x, bar_height + 4), label, fill=(0, 0, 0), font=font)
  return np.asarray(legend)


def depth_picture(depth, colormap=visualization.COLORMAP, grayscale=False, depth_range=None):
  """A depth map as the picture people look at, band by band (large photos): (uint8 image of
  the depth's own [H, W], pixel-aligned with the photo, (low, high) metres of its scale, by
  default the valid depth's range). Colour: matplotlib's `colormap`, [H, W, 3]; `grayscale`:
  8 bits [H, W], near = bright (visualization.grayscale)."""
  depth = np.asarray(depth, np.float32)
  low, high = depth_range or valid_range(depth) or (0.0, 1.0)
  height, width = depth.shape[:2]
  out = np.empty((height, width) if grayscale else (height, width, 3), np.uint8)
  for band in row_chunks(height, width):
    out[band] = (visualization.grayscale(depth[band], low, high) if grayscale else
                 visualization.colorize(depth[band], low, high, colormap))
  return out, (low, high)


def save_depth_picture(path, picture, depth_range, colormap=None):
  """Writes a depth_picture as PNG with its scale as text chunks (depth_min_m, depth_max_m and
  the colour map, or "grayscale, near = bright"): the picture carries its own legend's numbers."""
  info = PngImagePlugin.PngInfo()
  info.add_text("depth_min_m", f"{depth_range[0]:.4f}")
  info.add_text("depth_max_m", f"{depth_range[1]:.4f}")
  info.add_text("depth_colours", colormap or "grayscale, near = bright, 0 = no depth")
  Image.fromarray(picture).save(path, format="PNG", pnginfo=info)
