"""Coverage-guided fuzzing of the readers of user files (atheris, libFuzzer for Python).

Each target reads fuzzed bytes the way a tool reads a user's file and holds one contract: it
returns what the reader promises, or raises the project's one-line error for that reader (a
`UserError`, or for a frame of a large source the `FrameError` that skips it); anything else --
another exception, a hang past `timeout` seconds, memory past `rss_limit_mb` -- is a finding,
saved by libFuzzer as crash-<hash> in the working folder. Seeds are valid files written by the
project's own writers (the files the tests write), so the fuzzer starts inside each format.

  python tools/fuzz.py --target=photo --seconds=600      # by hand, longer
  python tools/fuzz.py --target=all --runs=300           # what the test suite runs
"""

import dataclasses
import importlib
import inspect
import io
import json
import os
import sys
import tempfile
from typing import Callable

import numpy as np
from PIL import Image

from attn_depth.errors import UserError


@dataclasses.dataclass(frozen=True)
class Target:
  """One reader: `read(path)` on a file of `suffix`; `check(result)` asserts what it promises;
  `expected` the errors that are its one-line answer to a bad file; `seeds()` valid files;
  `modules` the Python modules whose coverage guides the fuzzer (the reader's and the format's
  own parser where it is Python)."""
  suffix: str
  read: Callable
  check: Callable
  expected: tuple
  seeds: Callable
  modules: tuple = ()


_PIL_MODULES = ("PIL.Image", "PIL.ImageFile", "PIL.ImageOps", "PIL.PngImagePlugin",
                "PIL.JpegImagePlugin", "PIL.TiffImagePlugin", "PIL.BmpImagePlugin",
                "PIL.WebPImagePlugin", "PIL.TiffTags", "PIL.ImageFile")


def _png(array):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="PNG")
  return buffer.getvalue()


def _photo_seeds():
  rng = np.random.default_rng(0)
  rgb = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
  seeds = [_png(rgb), _png(rgb[..., 0]), _png((rgb[..., 0].astype(np.uint16) * 257))]
  for fmt, options in (("JPEG", {"quality": 80}), ("WEBP", {}), ("BMP", {}), ("TIFF", {})):
    buffer = io.BytesIO()
    image = Image.fromarray(rgb)
    if fmt == "JPEG":
      exif = image.getexif()
      exif[0x0112] = 6  # orientation: rotated
      options = {**options, "exif": exif.tobytes()}
    image.save(buffer, format=fmt, **options)
    seeds.append(buffer.getvalue())
  rgba = np.concatenate([rgb, rng.integers(0, 256, (12, 16, 1), dtype=np.uint8)], axis=-1)
  seeds.append(_png(rgba))
  return seeds


def _read_photo(path):
  from attn_depth.apps import images  # pylint: disable=import-outside-toplevel
  return images.read_rgb(path)


def _check_photo(rgb):
  assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, rgb.shape
  assert rgb.shape[0] >= 8 and rgb.shape[1] >= 8


def _depth_png_seeds():
  depth = np.random.default_rng(1).integers(0, 10000, (10, 12)).astype(np.uint16)
  return [_png(depth), _png((depth // 64).astype(np.uint8))]


def _depth_npy_seeds():
  seeds = []
  for array in (np.linspace(0.5, 9.0, 120, dtype=np.float32).reshape(10, 12),
                np.full((4, 5, 1), 2.0), np.arange(20, dtype=np.uint16).reshape(4, 5)):
    buffer = io.BytesIO()
    np.save(buffer, array)
    seeds.append(buffer.getvalue())
  return seeds


def _read_depth(encoding):
  def read(path):
    from attn_depth.data import rgbd_files  # pylint: disable=import-outside-toplevel
    return rgbd_files.read_depth(path, encoding)
  return read


def _check_depth(depth):
  assert depth.dtype == np.float32 and depth.ndim == 2, (depth.dtype, depth.shape)
  assert np.all(np.isfinite(depth)) and np.all(depth >= 0)


def _read_csv(path):
  from attn_depth.data import rgbd_files  # pylint: disable=import-outside-toplevel
  return rgbd_files.list_pairs(path)


def _check_pairs(pairs):
  assert pairs and all(isinstance(rgb, str) and isinstance(depth, str)
                       and (focal is None or isinstance(focal, float))
                       for rgb, depth, focal in pairs)


def _read_intrinsics(path):
  from attn_depth.data import sunrgbd  # pylint: disable=import-outside-toplevel
  return sunrgbd.read_intrinsics(path)


def _check_matrix(matrix):
  assert matrix.shape == (3, 3)


def _read_spec(path):
  from attn_depth.models import spec  # pylint: disable=import-outside-toplevel
  return spec.ModelSpec.load(path)


def _check_spec(spec):
  spec.check()
  assert spec.variant and spec.depth > 0


def _spec_seeds():
  from attn_depth.models import spec  # pylint: disable=import-outside-toplevel
  return [json.dumps(spec.ModelSpec().to_dict()).encode(),
          json.dumps(spec.ModelSpec("baseline", backbone_blocks=(1, 1, 1, 1),
                                    backbone_width=0.25, input_size=(120, 160),
                                    resize_size=(156, 208)).to_dict()).encode()]


def _frame_error():
  from attn_depth.data.frames import FrameError  # pylint: disable=import-outside-toplevel
  return FrameError


def targets():
  """{name: Target} of every fuzzed reader."""
  frame_error = _frame_error()
  images, rgbd = "attn_depth.apps.images", "attn_depth.data.rgbd_files"
  return {
      "photo": Target(".jpg", _read_photo, _check_photo, (UserError,), _photo_seeds,
                      (images,) + _PIL_MODULES),
      "depth_png": Target(".png", _read_depth("png"), _check_depth, (UserError, frame_error),
                          _depth_png_seeds, (rgbd,) + _PIL_MODULES),
      "depth_npy": Target(".npy", _read_depth("npy"), _check_depth, (UserError, frame_error),
                          _depth_npy_seeds, (rgbd, "numpy.lib.format", "numpy.lib._format_impl",
                                             "numpy.lib._npyio_impl")),
      "rgbd_csv": Target(".csv", _read_csv, _check_pairs, (UserError,),
                         lambda: [b"rgb,depth,fx\na.png,a_d.png,518.8\nb.jpg,b.png,\n",
                                  b"rgb,depth\nrgb/1.png,depth/1.png\n"], (rgbd, "csv")),
      "sun_intrinsics": Target(".txt", _read_intrinsics, _check_matrix, (frame_error,),
                               lambda: [b"518.857901 0 284.582449\n0 519.469611 208.736166\n"
                                        b"0 0 1\n"], ("attn_depth.data.sunrgbd",)),
      "model_spec": Target(".json", _read_spec, _check_spec, (UserError,), _spec_seeds,
                           ("attn_depth.models.spec", "json.decoder", "json")),
  }


def _instrument(module_names):
  """Coverage instrumentation of the functions of these modules only (instrumenting everything
  loaded, TensorFlow included, takes minutes)."""
  import atheris  # pylint: disable=import-outside-toplevel
  for module_name in module_names:
    try:
      module = importlib.import_module(module_name)
    except ImportError:
      continue
    for value in list(vars(module).values()):
      if inspect.isfunction(value) and value.__module__ == module.__name__:
        atheris.instrument_func(value)
      elif inspect.isclass(value) and value.__module__ == module.__name__:
        for member in list(vars(value).values()):
          function = getattr(member, "__func__", member)
          if inspect.isfunction(function):
            atheris.instrument_func(function)


def one_input(target, path, data):
  """Writes `data` to `path` and reads it; returns normally when the contract holds."""
  with open(path, "wb") as f:
    f.write(data)
  try:
    result = target.read(path)
  except target.expected:
    return
  target.check(result)


def fuzz(name, runs=None, seconds=None, seed=0, timeout=10, rss_limit_mb=3072, work_dir=None):
  """Runs libFuzzer on target `name` (never returns: libFuzzer exits 0 when done, non-zero
  with the finding's input saved on a broken contract). `runs` inputs or `seconds`."""
  import atheris  # pylint: disable=import-outside-toplevel
  target = targets()[name]
  work_dir = work_dir or tempfile.mkdtemp(prefix=f"attn_depth_fuzz_{name}_")
  corpus = os.path.join(work_dir, "corpus")
  os.makedirs(corpus, exist_ok=True)
  for index, data in enumerate(target.seeds()):
    with open(os.path.join(corpus, f"seed{index}"), "wb") as f:
      f.write(data)
  path = os.path.join(work_dir, "input" + target.suffix)
  arguments = [sys.argv[0], corpus, f"-seed={int(seed) + 1}", f"-timeout={int(timeout)}",
               f"-rss_limit_mb={int(rss_limit_mb)}", "-print_final_stats=1",
               f"-artifact_prefix={os.path.join(work_dir, '')}"]
  if runs:
    arguments.append(f"-runs={int(runs)}")
  if seconds:
    arguments.append(f"-max_total_time={int(seconds)}")
  _instrument(target.modules)
  atheris.Setup(arguments, lambda data: one_input(target, path, data))
  atheris.Fuzz()
