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

from attn_depth.core.errors import UserError


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
  from attn_depth.core import images  # pylint: disable=import-outside-toplevel
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


def _read_frames_of(table, most=3):
  """What a tool gets from the first frames of a frame table: each frame or its skip (the
  table's own one-line warning); any other exception escapes."""
  return [table._read(index) for index in range(min(len(table), most))]  # pylint: disable=protected-access


def _check_frames(frames):
  for image, depth, ok in frames:
    if ok:
      assert image.shape == (480, 640, 3) and image.dtype == np.uint8, image.shape
      assert depth.shape == (480, 640) and depth.dtype == np.float32, depth.shape


def _nyu_frame_arrays(count=2):
  """Small-to-store NYU-size frames: smooth patterns (they compress to a few kB)."""
  rows, cols = np.mgrid[0:480, 0:640]
  frames = []
  for index in range(count):
    image = np.stack([(rows // 4 + index) % 256, (cols // 4) % 256, np.full_like(rows, 90)],
                     -1).astype(np.uint8)
    depth = (1.0 + rows / 160.0 + index).astype(np.float32)
    frames.append((image, depth))
  return frames


def _labeled_mat_seeds():
  import h5py  # pylint: disable=import-outside-toplevel
  frames = _nyu_frame_arrays()
  buffer = io.BytesIO()
  with h5py.File(buffer, "w", userblock_size=512) as f:
    # MATLAB v7.3: HDF5 with MATLAB's axes reversed (480x640x3xN -> [N, 3, 640, 480]).
    f.create_dataset("images", data=np.stack([i for i, _ in frames], -1).T, compression="gzip",
                     compression_opts=1)
    depths = np.stack([d for _, d in frames], -1).T
    f.create_dataset("depths", data=depths, compression="gzip", compression_opts=1)
    f.create_dataset("rawDepths", data=depths, compression="gzip", compression_opts=1)
  data = bytearray(buffer.getvalue())
  header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 ."
  data[:len(header)] = header
  return [bytes(data)]


def _splits_mat_bytes(train=(1,), test=(2,)):
  import scipy.io  # pylint: disable=import-outside-toplevel
  buffer = io.BytesIO()
  scipy.io.savemat(buffer, {"trainNdxs": np.array(train, np.float64)[:, None],
                            "testNdxs": np.array(test, np.float64)[:, None]})
  return buffer.getvalue()


def _read_labeled_mat(path):
  from attn_depth.data import nyu_labeled  # pylint: disable=import-outside-toplevel
  splits = os.path.join(os.path.dirname(path), "splits_fixed.mat")
  if not os.path.isfile(splits):
    with open(splits, "wb") as f:
      f.write(_splits_mat_bytes())
  return _read_frames_of(nyu_labeled.nyu_labeled_table(path, splits, "test"))


def _read_splits(path):
  from attn_depth.data import nyu_labeled  # pylint: disable=import-outside-toplevel
  return nyu_labeled.read_split_indices(path, "test")


def _check_indices(indices):
  assert indices.dtype == np.int64 and indices.ndim == 1


def _densedepth_seeds():
  import zipfile  # pylint: disable=import-outside-toplevel
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
    rows = []
    for index, (image, depth) in enumerate(_nyu_frame_arrays()):
      rgb_name, depth_name = f"data/nyu2_test/{index}_colors.png", f"data/nyu2_test/{index}_depth.png"
      archive.writestr(rgb_name, _png(image))
      archive.writestr(depth_name, _png((depth * 1000).astype(np.uint16)))
      rows.append(f"{rgb_name},{depth_name}")
    archive.writestr("data/nyu2_test.csv", "\n".join(rows) + "\n")
  return [buffer.getvalue()]


def _read_densedepth(path):
  from attn_depth.data import densedepth  # pylint: disable=import-outside-toplevel
  return _read_frames_of(densedepth.densedepth_table(path, "test"))


def _exr_seeds():
  import OpenEXR  # pylint: disable=import-outside-toplevel
  seeds = []
  depth = np.linspace(0.5, 9.0, 120, dtype=np.float32).reshape(10, 12)
  for channels in ({"Z": depth}, {"R": depth.astype(np.float16), "G": depth.astype(np.float16)}):
    with tempfile.TemporaryDirectory() as folder:
      path = os.path.join(folder, "seed.exr")
      OpenEXR.File({"type": OpenEXR.scanlineimage}, channels).write(path)
      with open(path, "rb") as f:
        seeds.append(f.read())
  return seeds


def _video_seeds():
  import cv2  # pylint: disable=import-outside-toplevel
  seeds = []
  rng = np.random.default_rng(2)
  for suffix, codec in ((".webm", "VP80"), (".avi", "MJPG")):
    with tempfile.TemporaryDirectory() as folder:
      path = os.path.join(folder, "seed" + suffix)
      writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), 8, (32, 24))
      for _ in range(3):
        writer.write(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
      writer.release()
      with open(path, "rb") as f:
        seeds.append(f.read())
  return seeds


def _read_video(path, most=50):
  """The first frames of a video as tools/predict.py reads them (with its size and rate)."""
  from attn_depth.apps import video  # pylint: disable=import-outside-toplevel
  count, fps, size = video.video_info(path)
  frames = []
  for frame in video.read_frames(path):
    frames.append(frame)
    if len(frames) >= most:
      break
  return count, fps, size, frames


def _check_video(result):
  _, fps, _, frames = result
  assert fps > 0 and frames
  for frame in frames:
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3, frame.shape


def _frame_error():
  from attn_depth.data.frames import FrameError  # pylint: disable=import-outside-toplevel
  return FrameError


def targets():
  """{name: Target} of every fuzzed reader."""
  frame_error = _frame_error()
  images, rgbd = "attn_depth.core.images", "attn_depth.data.rgbd_files"
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
      "nyu_labeled_mat": Target(".mat", _read_labeled_mat, _check_frames,
                                (UserError, frame_error), _labeled_mat_seeds,
                                ("attn_depth.data.nyu_labeled", "h5py._hl.files",
                                 "h5py._hl.dataset", "h5py._hl.group")),
      "nyu_splits_mat": Target(".mat", _read_splits, _check_indices, (UserError,),
                               lambda: [_splits_mat_bytes((1, 3), (2, 4))],
                               ("attn_depth.data.nyu_labeled", "scipy.io.matlab._mio",
                                "scipy.io.matlab._mio5", "scipy.io.matlab._miobase")),
      "densedepth_zip": Target(".zip", _read_densedepth, _check_frames, (UserError, frame_error),
                               _densedepth_seeds, ("attn_depth.data.densedepth", "zipfile",
                                                   "csv") + _PIL_MODULES),
      "depth_exr": Target(".exr", _read_depth("exr"), _check_depth, (UserError, frame_error),
                          _exr_seeds, (rgbd,)),
      "video": Target(".webm", _read_video, _check_video, (UserError,), _video_seeds,
                      ("attn_depth.apps.video",)),
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
