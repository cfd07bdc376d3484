"""Depth for video: frames in, per-frame depth out, optionally temporally stabilised.

`TemporalStabilizer` is this project's temporally consistent mode (beyond the paper, whose
network sees one frame at a time and stays the default): each frame's predicted depth is fused,
in log depth, with the previous fused depth carried to the current frame by dense optical flow
between the two RGB frames (OpenCV's DIS) and moved into the current camera (its motion found
from the flow and the carried depth by PnP with RANSAC). The past's weight per pixel falls with
the photometric error of that flow (occlusions, disocclusions and flow failures keep the
current prediction), so static parts are averaged over time while moving edges follow the new
frame; at a shot change (a cut, a dissolve) the whole past is dropped. It needs no camera poses,
works on any video, and costs two optical flows (there and back) and one pose fit per frame.
`stabilize_clip` runs it forwards and backwards over a whole clip and averages the two in log
depth (offline: every frame is fused with its past and its future, without lag); that is the
consistent mode of attn-depth predict and attn-depth evaluate.
"""

import os
import re

import cv2
import numpy as np

from attn_depth.core import files
from attn_depth.core import visualization
from attn_depth.core import images as images_lib
from attn_depth.core.console import Progress
from attn_depth.core.errors import UserError
from attn_depth.apps.stabilizer import TemporalStabilizer
from attn_depth.apps.stabilizer import stabilize_clip

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


class VideoError(UserError, ValueError):
  """A video that cannot be read; the message names the file."""


def is_video(path):
  return os.path.isfile(path) and path.lower().endswith(VIDEO_EXTENSIONS)


def video_info(path):
  """(frame count (an estimate for some containers), frames per second, (height, width))."""
  capture = cv2.VideoCapture(path)
  try:
    if not capture.isOpened():
      raise VideoError(f"{path}: not a readable video (OpenCV could not open it)")
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
  finally:
    capture.release()
  return count, fps, size


def read_frames(path):
  """Yields the RGB frames (uint8 [H, W, 3]) of a video file, in order."""
  capture = cv2.VideoCapture(path)
  if not capture.isOpened():
    raise VideoError(f"{path}: not a readable video (OpenCV could not open it)")
  count = 0
  try:
    while True:
      ok, frame = capture.read()
      if not ok:
        break
      count += 1
      yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
  finally:
    capture.release()
  if not count:
    raise VideoError(f"{path}: no frame could be decoded; expected a video OpenCV reads "
                     f"({', '.join(VIDEO_EXTENSIONS)})")


# What the tools write: WebM (VP8) is what browsers' <video> plays (Chromium, Firefox, Safari
# 14.1+) and ordinary players open. OpenCV's own FFmpeg encodes it; its mp4v (MPEG-4 part 2)
# does not play in browsers, and the pip wheel has no H.264 encoder.
VIDEO_SUFFIX = ".webm"
_CODECS = {".webm": "VP80", ".mp4": "mp4v", ".avi": "MJPG"}


class VideoWriter:
  """Writes RGB frames as a video, the codec chosen by the file's suffix (.webm: VP8, the
  tools' choice; .mp4: MPEG-4 part 2; .avi: Motion JPEG)."""

  def __init__(self, path, fps, size):
    height, width = size
    self.path = path
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in _CODECS:
      raise VideoError(f"{path}: cannot write {suffix or 'this'} videos; use one of "
                       f"{', '.join(_CODECS)}")
    # For WebM OpenCV notes on stderr that the container stores no FourCC; tools filter it.
    self._writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*_CODECS[suffix]), float(fps),
                                   (width, height))
    if not self._writer.isOpened():
      raise VideoError(f"{path}: OpenCV cannot write a {_CODECS[suffix]} video here")

  def write(self, frame):
    self._writer.write(cv2.cvtColor(np.asarray(frame, np.uint8), cv2.COLOR_RGB2BGR))

  def close(self):
    self._writer.release()


def _natural_key(name):
  return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def frame_files(folder):
  """The image files of a folder of video frames, in natural order (frame2 before frame10)."""
  names = [n for n in os.listdir(folder) if n.lower().endswith(images_lib.IMAGE_EXTENSIONS)]
  if not names:
    raise VideoError(f"{folder}: no image files; expected the frames of a video "
                     f"({', '.join(images_lib.IMAGE_EXTENSIONS)})")
  return [os.path.join(folder, n) for n in sorted(names, key=_natural_key)]


def _frames_of(source):
  """(frames iterator factory, frame count or None, fps or None) of a video file or folder."""
  if os.path.isdir(source):
    files = frame_files(source)
    return (lambda: (images_lib.read_rgb(path) for path in files)), len(files), None
  count, fps, _ = video_info(source)
  return (lambda: read_frames(source)), count or None, fps


def check_source(source):
  """Raises VideoError unless `source` (a video file or a folder of frames) opens: the tools'
  check before a model loads (a folder's frames are read later, each one line if it fails)."""
  if os.path.isdir(source):
    frame_files(source)
  else:
    video_info(source)


def _free_name(output_dir, name, overwrite):
  candidate, number = name, 2
  while not overwrite and (os.path.exists(os.path.join(output_dir, candidate)) or
                           os.path.exists(os.path.join(output_dir, candidate + "_depth" + VIDEO_SUFFIX))):
    candidate, number = f"{name}_{number}", number + 1
  return candidate


def predict_video(network, source, output_dir, consistent=False, fps=None, chunk=100,
                  overwrite=False, print_fn=print, colormap=visualization.COLORMAP,
                  grayscale=False):
  """Depth for every frame of a video file or an ordered folder of frames.

  Writes <output_dir>/<name>/depth_NNNNN.npy (float32 metres, the frame's size) and
  depth_mm_NNNNN.png (16-bit millimetres), and <output_dir>/<name>_depth.webm: RGB | depth side
  by side, one colour scale for the whole clip (its 2nd to 98th percentile of depth). With
  `consistent`, depth is fused over time (`stabilize_clip`) in chunks of `chunk` frames kept in
  memory (the forward pass runs through the whole clip; the backward pass restarts at each
  chunk's end). Earlier outputs are kept (<name>_2, ...) unless `overwrite`. The depth half of
  the video is in matplotlib's `colormap`, or with `grayscale` 8-bit gray, near = bright. Returns
  {"frames": n, "folder": ..., "video": ...}.
  """
  frames, total, source_fps = _frames_of(source)
  name = _free_name(output_dir, os.path.splitext(os.path.basename(os.path.normpath(source)))[0],
                    overwrite)
  folder = os.path.join(output_dir, name)
  video_path = os.path.join(output_dir, f"{name}_depth{VIDEO_SUFFIX}")
  os.makedirs(output_dir, exist_ok=True)
  # The frames' folder and the video are written beside their names and replace them together
  # once both are complete: an interrupted run leaves the earlier outputs or none, never a
  # torn video or the frames of two clips.
  with files.replacing_all([folder, video_path]) as (partial_folder, partial_video):
    os.makedirs(partial_folder)
    count, low, high = _write_clip(network, source, frames, total, source_fps, name,
                                   partial_folder, partial_video, consistent, fps, chunk,
                                   print_fn, colormap, grayscale)
  print_fn(f"{source}: {count} frames -> {folder}/ and {video_path} (colour scale "
           f"{low:.2f}-{high:.2f} m{'; consistent mode' if consistent else ''})")
  return {"frames": count, "folder": folder, "video": video_path}


def _write_clip(network, source, frames, total, source_fps, name, folder, video_path,
                consistent, fps, chunk, print_fn, colormap, grayscale):
  """predict_video's work into `folder` and `video_path`; returns (frames, colour scale low,
  high)."""
  count, ranges, size = _write_depths(network, source, frames, total, name, folder, consistent,
                                      chunk, print_fn)
  # One colour scale for the whole clip (medians of the frames' 2nd/98th percentiles), so
  # that a colour means one depth from the first frame to the last.
  low = float(np.median([r[0] for r in ranges])) if ranges else 0.0
  high = float(np.median([r[1] for r in ranges])) if ranges else 10.0
  writer = VideoWriter(video_path, fps or source_fps or 10.0, (size[0], 2 * size[1]))
  try:
    for index, image in enumerate(frames()):
      depth = np.load(os.path.join(folder, f"depth_{index:05d}.npy"))
      if grayscale:
        picture = np.repeat(visualization.grayscale(depth, low, high)[..., None], 3, axis=-1)
      else:
        picture = visualization.colorize(depth, low, high, colormap)
      writer.write(np.concatenate([image, picture], axis=1))
  finally:
    writer.close()
  return count, low, high


def _write_depths(network, source, frames, total, name, folder, consistent, chunk, print_fn):
  """Every frame's depth into `folder` (.npy in metres, 16-bit PNG in mm), `chunk` frames at a
  time (the consistent mode stabilises a chunk together); returns (frames, each frame's 2nd/
  98th depth percentiles, the frame size)."""
  progress = Progress(total, f"{name}: depth", unit="frames", print_fn=print_fn)
  forward = TemporalStabilizer() if consistent else None
  count, ranges, size = 0, [], None

  def flush(images, depths):
    nonlocal count
    if consistent:
      depths = stabilize_clip(images, depths, forward)
    for depth in depths:
      np.save(os.path.join(folder, f"depth_{count:05d}.npy"), depth.astype(np.float32))
      images_lib.save_depth_png16(os.path.join(folder, f"depth_mm_{count:05d}.png"), depth)
      valid = depth[np.isfinite(depth) & (depth > 0)]
      if valid.size:
        ranges.append(np.percentile(valid, [2, 98]))
      count += 1
      progress(count)

  images, depths = [], []
  for image in frames():
    if size is None:
      size = image.shape[:2]
    elif image.shape[:2] != size:
      raise VideoError(f"{source}: frame {count + len(images)} is {image.shape[1]}x"
                       f"{image.shape[0]}, the first was {size[1]}x{size[0]}")
    images.append(image)
    depths.append(network.depth_at_image_size(image[None])[0])
    if len(images) == chunk:
      flush(images, depths)
      images, depths = [], []
  if images:
    flush(images, depths)
  return count, ranges, size
