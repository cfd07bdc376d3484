"""Anyone's predictions, scored like ours (BTS's utils/eval_with_pngs.py is the model).

A folder holds one file per test frame of the chosen source, named by the frame's 0-based index in
that source's test split: `00000.npy` (float32 metres, [H, W] or [H, W, 1]) or `00000.png`
(16-bit, millimetres; 0 = no prediction), at the frame's own size (480x640 for NYU). The
Evaluator places them in the frame the way each protocol places our network's prediction
(`protocols.apply_to_frame_predictions`); crops, ground truth and averaging are the protocol's.
"""

import os
import re

import numpy as np
from PIL import Image

from attn_depth.data.preprocessing import PAPER_CROP
from attn_depth.data.preprocessing import PAPER_RESIZE
from attn_depth.core.errors import UserError

EXTENSIONS = (".npy", ".png")
_NAME = re.compile(r"^(\d{5,})\.(npy|png)$")
_LISTED = 5  # file names listed in one error line


class PredictionsError(UserError, ValueError):
  """A predictions folder that does not match the test set: the line names the files."""


def _listing(names):
  shown = ", ".join(names[:_LISTED])
  return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


class FramePredictions:
  """The predictions in `folder` for a test set of `count` frames (None: as many as there are
  frames; checked while evaluating). `limited`: only the first `count` frames are evaluated
  (--max_images), so later files are not extra.

  Has the attributes reports read from a network (source, step, config, precision, sizes: the
  paper's); `Evaluator.run_predictions` scores it.
  """

  def __init__(self, folder, count=None, limited=False):
    if not os.path.isdir(folder):
      raise PredictionsError(f"{folder}: not a folder; expected one file per test frame, "
                             f"00000.npy (float32 metres) or 00000.png (16-bit millimetres)")
    self.folder, self.source = folder, folder
    self.step, self.config, self.spec = None, {"predictions": folder}, None
    self.precision = "float32"  # what the files are read as (16-bit PNGs: millimetres)
    self.input_size, self.resize_size = PAPER_CROP, PAPER_RESIZE
    self.files, unexpected, doubled = {}, [], []
    for name in sorted(os.listdir(folder)):
      path = os.path.join(folder, name)
      if not os.path.isfile(path) or not name.lower().endswith(EXTENSIONS):
        continue  # reports, logs, sub-folders
      match = _NAME.match(name)
      if not match:
        unexpected.append(name)
        continue
      index = int(match.group(1))
      if index in self.files:
        doubled.append(name)
      else:
        self.files[index] = path
    if unexpected:
      raise PredictionsError(f"{folder}: files not named by a frame index: "
                             f"{_listing(unexpected)}; expected 00000.npy, 00001.npy, ... (or "
                             f".png)")
    if doubled:
      raise PredictionsError(f"{folder}: two predictions for one frame: {_listing(doubled)}; "
                             f"keep the .npy or the .png")
    self.count, self.limited = count, limited
    if count is not None:
      self._check_names(count)

  def _check_names(self, count):
    missing = [f"{index:05d}.npy" for index in range(count) if index not in self.files]
    if missing:
      raise PredictionsError(f"{self.folder}: no prediction for {len(missing)} of the {count} "
                             f"test frames: {_listing(missing)} (or .png)")
    extra = sorted(os.path.basename(path) for index, path in self.files.items()
                   if index >= count)
    if extra and not self.limited:
      raise PredictionsError(f"{self.folder}: {len(extra)} file(s) beyond the {count} test "
                             f"frames: {_listing(extra)}; wrong source or split?")

  def frame_depths(self, start, count, frame_size):
    """float32 [count, H, W] metres of frames start .. start + count - 1, each checked to be
    the frame's size."""
    depths = []
    for index in range(start, start + count):
      path = self.files.get(index)
      if path is None:
        raise PredictionsError(f"{self.folder}: no prediction for test frame {index} "
                               f"({index:05d}.npy or .png)")
      depth = read_depth(path)
      if depth.shape != tuple(frame_size):
        raise PredictionsError(f"{path}: {depth.shape[0]}x{depth.shape[1]}, expected "
                               f"{frame_size[0]}x{frame_size[1]} (the test frame's size)")
      depths.append(depth)
    return np.stack(depths)

  def check_all_used(self, frames_seen):
    """After a run over the whole test set: files beyond its last frame are extra."""
    if not self.limited:
      self._check_names(frames_seen)


def read_depth(path):
  """A prediction file as float32 [H, W] metres."""
  try:
    if path.lower().endswith(".npy"):
      depth = np.load(path, allow_pickle=False)
    else:
      with Image.open(path) as image:
        if image.mode not in ("I;16", "I;16B", "I"):
          raise ValueError(f"mode {image.mode}")
        depth = np.asarray(image, np.float64) / 1000.0
  except (OSError, ValueError) as error:
    kind = ("float32 metres" if path.lower().endswith(".npy") else "a 16-bit PNG of millimetres")
    raise PredictionsError(f"{path}: unreadable ({str(error).splitlines()[0][:200]}); expected "
                           f"{kind}") from None
  depth = np.asarray(depth)
  if depth.ndim == 3 and depth.shape[-1] == 1:
    depth = depth[..., 0]
  if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.number):
    raise PredictionsError(f"{path}: shape {depth.shape}, expected [H, W] depth")
  return depth.astype(np.float32)
