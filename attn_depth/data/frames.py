"""What every source yields, and how sources report bad input.

Every source is a `tf.data.Dataset` of {"image": uint8 [480, 640, 3], "depth": float32 [480, 640]}
in metres (tfds' own keys for nyu_depth_v2); 0, NaN or inf depth means "no measurement".
"""

import contextlib
import io
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from attn_depth.core.camera import FRAME_HEIGHT  # noqa: F401  (re-exported)
from attn_depth.core.camera import FRAME_WIDTH  # noqa: F401
from attn_depth.core.camera import NYU_CX  # noqa: F401
from attn_depth.core.camera import NYU_CY  # noqa: F401
from attn_depth.core.camera import NYU_FX  # noqa: F401
from attn_depth.core.camera import NYU_FY  # noqa: F401
from attn_depth.core.errors import UserError


EXAMPLE_SIGNATURE = {
    "image": tf.TensorSpec((FRAME_HEIGHT, FRAME_WIDTH, 3), tf.uint8),
    "depth": tf.TensorSpec((FRAME_HEIGHT, FRAME_WIDTH), tf.float32),
}


def expand_path(path):
  """`~` and environment variables expanded; None stays None. Relative paths stay relative to
  the working folder, as the user typed them."""
  return os.path.expandvars(os.path.expanduser(path)) if path else path


class DataError(UserError, ValueError):
  """A data file that cannot be used; the message names the file and what was expected."""


class FrameError(ValueError):
  """One frame of a large source that cannot be used; it is reported and skipped."""


def check_frame(image, depth, where):
  """Validates one frame; returns it as (uint8 [480, 640, 3], float32 [480, 640])."""
  image, depth = np.asarray(image), np.asarray(depth)
  if image.shape != (FRAME_HEIGHT, FRAME_WIDTH, 3):
    raise FrameError(f"{where}: image has shape {image.shape}, expected "
                     f"({FRAME_HEIGHT}, {FRAME_WIDTH}, 3)")
  if depth.shape != (FRAME_HEIGHT, FRAME_WIDTH):
    raise FrameError(f"{where}: depth has shape {depth.shape}, expected "
                     f"({FRAME_HEIGHT}, {FRAME_WIDTH})")
  return image.astype(np.uint8), depth.astype(np.float32)


def prepare_quietly(builder, message, print_fn=None, **kwargs):
  """Prepares a tfds builder with one line of our own: tfds prints a banner and progress bars
  to stdout, in the middle of the tools' progress lines."""
  (print_fn or (lambda line: print(line, flush=True)))(message)
  tfds.disable_progress_bar()
  with contextlib.redirect_stdout(io.StringIO()):
    builder.download_and_prepare(**kwargs)
