"""Depth for the user's own photos: the batch job behind attn-depth predict.

For every input image `<name>` it writes to the output folder:
  <name>_depth.npy        float32 [H, W], metres, at the photo's own size
  <name>_depth_mm.png     16-bit PNG, millimetres
  <name>_depth_color.png  colour-mapped depth, pixel-aligned with the photo (any matplotlib map)
  <name>_depth_legend.png its colour bar, labelled in metres
  <name>_depth_gray.png   on request: 8-bit grayscale depth, near = bright, 0 = no depth
  <name>.ply              binary coloured point cloud, metres, camera frame
  <name>_bokeh.png        on request: synthetic depth of field
"""

import os
import time

import numpy as np
from PIL import Image

from attn_depth.core import files
from attn_depth.apps import bokeh as bokeh_lib
from attn_depth.core import images as images_lib
from attn_depth.apps import pointcloud
from attn_depth.core.console import Progress
from attn_depth.core import visualization
from attn_depth.core.console import format_duration
from attn_depth.serving import provenance

OUTPUTS = ("npy", "png16", "color", "legend", "gray", "ply", "bokeh")
DEFAULT_OUTPUTS = ("npy", "png16", "color", "legend", "ply")
COLORMAP = visualization.COLORMAP


OUTPUT_SUFFIXES = {"npy": "_depth.npy", "png16": "_depth_mm.png", "color": "_depth_color.png",
                   "legend": "_depth_legend.png", "gray": "_depth_gray.png", "ply": ".ply",
                   "bokeh": "_bokeh.png"}


def _unique_stem(path, used, output_dir, outputs, overwrite=False):
  """The image's name, or name_2, name_3, ... if another input of this run already has it or
  (unless `overwrite`) an earlier run's outputs for it are in the folder: nothing is replaced
  silently."""
  stem = os.path.splitext(os.path.basename(path))[0]
  candidate, number = stem, 2

  def taken(name):
    return name in used or (not overwrite and any(
        os.path.exists(os.path.join(output_dir, name + OUTPUT_SUFFIXES[o])) for o in outputs))

  while taken(candidate):
    candidate, number = f"{stem}_{number}", number + 1
  used.add(candidate)
  return candidate


# Bokeh on photos above this many pixels takes long enough (tens of seconds) to show progress.
_BOKEH_PROGRESS_PIXELS = 4_000_000


def write_outputs(rgb, depth, stem, output_dir, outputs=DEFAULT_OUTPUTS, intrinsics=None,
                  focus_depth=None, aperture=None, print_fn=None, colormap=COLORMAP):
  """Writes the requested files for one image, all of them or none (each is written beside its
  name and they are renamed into place together: an image reported as failed leaves nothing);
  returns their paths. `print_fn` receives progress lines for the bokeh of large photos;
  `colormap` (a matplotlib name) colours the color output and its legend."""
  chosen = [output for output in OUTPUTS if output in outputs]
  finals = [os.path.join(output_dir, stem + OUTPUT_SUFFIXES[output]) for output in chosen]
  with files.replacing_all(finals) as partials:
    _write_outputs(rgb, depth, stem, dict(zip(chosen, partials)), intrinsics, focus_depth,
                   aperture, print_fn, colormap)
  return finals


def _write_outputs(rgb, depth, stem, path_of, intrinsics, focus_depth, aperture, print_fn,
                   colormap):
  """Writes each output to its path in `path_of` ({output: path}), in OUTPUTS order."""
  outputs = path_of
  if "npy" in outputs:
    np.save(path_of["npy"], np.asarray(depth, np.float32))
  if "png16" in outputs:
    images_lib.save_depth_png16(path_of["png16"], depth)
  # One scale for the pictures and the legend: the image's valid depth range.
  depth_range = images_lib.valid_range(depth) or (0.0, 1.0)
  if "color" in outputs:
    picture, _ = images_lib.depth_picture(depth, colormap, depth_range=depth_range)
    images_lib.save_depth_picture(path_of["color"], picture, depth_range, colormap)
  if "legend" in outputs:
    Image.fromarray(images_lib.depth_legend(*depth_range, depth.shape[1], colormap)).save(
        path_of["legend"])
  if "gray" in outputs:
    picture, _ = images_lib.depth_picture(depth, grayscale=True, depth_range=depth_range)
    images_lib.save_depth_picture(path_of["gray"], picture, depth_range)
  if "ply" in outputs:
    camera = intrinsics or pointcloud.Intrinsics.nyu_scaled(*depth.shape)
    pointcloud.write_depth_ply(path_of["ply"], depth, camera, rgb)
  if "bokeh" in outputs:
    focus = focus_depth or bokeh_lib.focus_depth_at_centre(depth)
    radius = aperture if aperture is not None else bokeh_lib.default_aperture(depth.shape)
    progress = None
    if print_fn and depth.size > _BOKEH_PROGRESS_PIXELS:
      report = Progress(None, f"  bokeh {stem}", unit="layers", print_fn=print_fn)
      def progress(done, total):
        report.total = total
        report(done)
    Image.fromarray(bokeh_lib.render_bokeh(rgb, depth, focus, radius, progress=progress)).save(
        path_of["bokeh"])


def _median_depth(depth, samples=1_000_000):
  """The median valid depth (of an even grid of about `samples` pixels: for the progress line,
  without copying a large photo's depth)."""
  step = max(1, int(np.sqrt(depth.size / samples)))
  grid = depth[::step, ::step]
  valid = grid[np.isfinite(grid) & (grid > 0)]
  return float(np.median(valid)) if valid.size else float("nan")


def training_data_warning(network):
  """One line for the console when `network` (a DepthNetwork) learned from procedural scenes
  alone, as its provenance says: its depth of real photos is noise however plausible the
  printed ranges look. None for any other model, or one whose training data is unknown."""
  if not provenance.trained_only_on_procedural_scenes(network.trained_on):
    return None
  return (f"this model was trained only on procedural rooms (train.source = "
          f"'{network.trained_on}', from its provenance): real photos are outside what it "
          f"learned, so their depth is noise, however plausible the ranges below look; photos "
          f"need a model trained on real frames such as NYU Depth V2 (docs/reproducing.md)")


def predict_files(network, patterns, output_dir, outputs=DEFAULT_OUTPUTS, intrinsics=None,
                  focus_depth=None, aperture=None, print_fn=print, overwrite=False,
                  colormap=COLORMAP):
  """Runs `network` (an inference.DepthNetwork) over files, globs and folders.

  Outputs of an earlier run in `output_dir` are kept (new ones are named <name>_2, ...) unless
  `overwrite`.

  A bad input, or one whose prediction or any output fails, is reported in one line and
  skipped, leaving no file; the rest are processed. A full disk stops the batch (files.DiskFull,
  saying how many images were done). Returns {"written": {input: [files]}, "failed": {input or
  pattern: message}}.
  """
  unknown = set(outputs) - set(OUTPUTS)
  if unknown:
    raise ValueError(f"unknown outputs {sorted(unknown)}; choose from {OUTPUTS}")
  visualization.check_colormap(colormap)
  paths, problems = images_lib.expand_inputs(patterns)
  failed = {}
  for problem in problems:
    print_fn(f"skipped {problem}")
    failed[problem.split(": ", 1)[0]] = problem
  written, used_stems = {}, set()
  start = time.perf_counter()
  for index, path in enumerate(paths, 1):
    try:
      rgb = images_lib.read_rgb(path)
    except images_lib.ImageReadError as error:
      print_fn(f"skipped {error}")
      failed[path] = str(error)
      continue
    try:
      depth = network.depth_at_image_size(rgb[None])[0]
      os.makedirs(output_dir, exist_ok=True)  # not before: a run that writes nothing leaves none
      stem = _unique_stem(path, used_stems, output_dir, outputs, overwrite)
      written[path] = write_outputs(rgb, depth, stem, output_dir, outputs, intrinsics,
                                    focus_depth, aperture, print_fn, colormap)
    except files.DiskFull as error:
      raise files.DiskFull(f"{error} ({len(written)} of {len(paths)} image(s) were written "
                           f"before it)") from None
    except Exception as error:  # pylint: disable=broad-except  (a batch job goes on)
      reason = str(error).splitlines()[0] if str(error) else ""
      message = f"{path}: {type(error).__name__}: {reason}"
      print_fn(f"skipped {message}")
      failed[path] = message
      continue
    print_fn(_progress_line(index, len(paths), path, rgb, depth, stem, start))
  return {"written": written, "failed": failed}


def _progress_line(index, count, path, rgb, depth, stem, start):
  """`[i/n] photo: its size, depth range and median, ETA`, and the name written where the
  photo's own was taken."""
  eta = format_duration((time.perf_counter() - start) / index * (count - index))
  low, high = images_lib.valid_range(depth) or (np.nan, np.nan)
  return (f"[{index}/{count}] {path}: {rgb.shape[1]}x{rgb.shape[0]}, depth "
          f"{low:.2f}-{high:.2f} m, median {_median_depth(depth):.2f} m  ETA {eta}"
          + (f"  (written as {stem}.*: that name is taken)"
             if stem != os.path.splitext(os.path.basename(path))[0] else ""))
