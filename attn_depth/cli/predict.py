r"""Depth, point clouds and bokeh for your own photos.

  attn-depth predict --model=runs/quickstart/export photos/*.jpg my_folder/ \
      --output_dir=predictions
  attn-depth predict --model=runs/full_r101 room.png --outputs=npy,ply,bokeh \
      --focus_depth=1.5 --aperture=12

--model takes a SavedModel from attn-depth export, a training run's folder or a checkpoint.
Images of any size are resized to the scale the network was trained at (--fit=whole: the whole
photo at the area of a 312x416 training frame, aspect kept) and the depth is resized back, so
outputs match each photo's pixels. Depth is
in metres as learned from the training data (NYU: a Kinect indoors, up to 10 m).

Videos (.mp4, .mov, .avi, .mkv, ...) and, with --sequence, folders of frames give per-frame depth
(npy, 16-bit PNG) and an RGB | depth video with one colour scale for the clip:

  attn-depth predict --model=runs/quickstart/export clip.mp4 --consistent
"""


import logging
import os

from absl import flags

from attn_depth import cli
from attn_depth import config
from attn_depth.serving import inference
from attn_depth.core import images
from attn_depth.core import precision
from attn_depth.core import visualization
from attn_depth.apps import pointcloud
from attn_depth.apps import predict
from attn_depth.apps import video

_MODEL = flags.DEFINE_string("model", None, "(required) SavedModel folder, training run folder or "
                             "checkpoint prefix.", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "predictions", "Where the outputs go.")
_OUTPUTS = flags.DEFINE_list("outputs", list(predict.DEFAULT_OUTPUTS),
                             f"Any of {list(predict.OUTPUTS)}.")
_BOKEH = flags.DEFINE_bool("bokeh", False, "Also render bokeh (same as adding it to --outputs).")
_COLORMAP = flags.DEFINE_string("colormap", visualization.COLORMAP, "Colour map of the color "
                                "output, its legend and the depth videos: any matplotlib name "
                                "(viridis, magma, gray, ...; a name ending in _r reverses it).")
_GRAYSCALE = flags.DEFINE_bool("grayscale", False, "Also write <name>_depth_gray.png: 8-bit "
                               "grayscale depth, near = bright (255 at the image's nearest "
                               "depth, 1 at its farthest, linear in metres; 0 = no depth); "
                               "videos: the depth half in gray. Same as adding gray to "
                               "--outputs.")
_FOCUS_DEPTH = flags.DEFINE_float("focus_depth", None, "Bokeh: metres in focus; default the "
                                  "median depth at the image centre.")
_APERTURE = flags.DEFINE_float("aperture", None, "Bokeh: blur radius in pixels of the far "
                               "background; default 1.5% of the longer image side.")
_FX = flags.DEFINE_float("fx", None, "Point cloud: focal length in pixels (x) of the photo.")
_FY = flags.DEFINE_float("fy", None, "Point cloud: focal length in pixels (y); default fx.")
_CX = flags.DEFINE_float("cx", None, "Point cloud: principal point x; default image centre.")
_CY = flags.DEFINE_float("cy", None, "Point cloud: principal point y; default image centre.")
_FIT = flags.DEFINE_enum("fit", "whole", ["whole", "squeeze"],
                         "whole: the whole photo at the training frames' scale (its area "
                         "resized to 312x416's for the paper's networks, aspect kept); squeeze: "
                         "resized to the training crop (240x320), objects 0.77x smaller.")
_CONSISTENT = flags.DEFINE_bool("consistent", False, "Videos: fuse depth over time (optical "
                                 "flow, both directions; less flicker). Default: each frame on "
                                 "its own, as the paper's network.")
_SEQUENCE = flags.DEFINE_bool("sequence", False, "Treat folders as the ordered frames of one "
                              "video (natural name order) instead of separate photos.")
_FPS = flags.DEFINE_float("fps", None, "Frame rate of the depth video (default the input "
                          "video's; 10 for folders of frames).")
_CHUNK = flags.DEFINE_integer("chunk", 100, "--consistent: frames held in memory at once.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace outputs of an earlier run in "
                               "--output_dir (default: keep them, name new ones <name>_2, ...).")
_PRECISION = flags.DEFINE_enum("precision", None, list(precision.PRECISIONS),
                                precision.FLAG_HELP)
_GIN_FILES = flags.DEFINE_multi_string("gin_file", [], "Extra gin files.")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings.")
_LOG = logging.getLogger(__name__)  # shown as 'predict: warning: ...'


def _intrinsics():
  """None (NYU's camera scaled to each image) unless the user gave --fx."""
  if _FX.value is None:
    if any(flag.value is not None for flag in (_FY, _CX, _CY)):
      raise cli.UserError("--fy, --cx and --cy need --fx (otherwise NYU's camera is scaled "
                          "to each image)")
    return None
  if _CX.value is None or _CY.value is None:
    raise cli.UserError("--fx needs --cx and --cy (the principal point, in pixels)")
  return pointcloud.Intrinsics(_FX.value, _FY.value or _FX.value, _CX.value, _CY.value)


def _checked_inputs(inputs):
  """(clips, photos, problems): the inputs that open, checked from their headers before any
  model loads, and a `file: why` line for each one that does not."""
  clips, photos, problems = [], [], []
  for source in inputs:
    if video.is_video(source) or (_SEQUENCE.value and os.path.isdir(source)):
      try:
        video.check_source(source)
        clips.append(source)
      except video.VideoError as error:
        problems.append(str(error))
  paths, found_problems = images.expand_inputs(
      [p for p in inputs if not (video.is_video(p) or (_SEQUENCE.value and os.path.isdir(p)))])
  problems += found_problems
  for path in paths:
    try:
      images.check_image(path)
      photos.append(path)
    except images.ImageReadError as error:
      problems.append(str(error))
  return clips, photos, problems


def _checked_flags():
  """(outputs, intrinsics) from the flags, each checked: one line for a wrong one."""
  outputs = (list(_OUTPUTS.value) + (["bokeh"] if _BOKEH.value else [])
             + (["gray"] if _GRAYSCALE.value else []))
  unknown = sorted(set(outputs) - set(predict.OUTPUTS))
  if unknown:
    raise cli.UserError(f"--outputs: unknown {unknown}; choose from {list(predict.OUTPUTS)}")
  try:
    visualization.check_colormap(_COLORMAP.value)
  except visualization.ColormapError as error:
    raise cli.UserError(f"--colormap: {error}") from None
  intrinsics = _intrinsics()
  if _APERTURE.value is not None and _APERTURE.value < 0:
    raise cli.UserError(f"--aperture={_APERTURE.value:g}: expected a blur radius >= 0 pixels")
  if _FOCUS_DEPTH.value is not None and _FOCUS_DEPTH.value <= 0:
    raise cli.UserError(f"--focus_depth={_FOCUS_DEPTH.value:g}: expected metres > 0")
  return outputs, intrinsics


def _predict_clips(network, clips):
  """(written, failed) counts of the videos and frame folders; a failed one is named and the
  rest go on."""
  done, failed = 0, 0
  for clip in clips:
    os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
    try:
      video.predict_video(network, clip, _OUTPUT_DIR.value, _CONSISTENT.value, _FPS.value,
                          _CHUNK.value, _OVERWRITE.value, print_fn=cli.print_flush,
                          colormap=_COLORMAP.value, grayscale=_GRAYSCALE.value)
      done += 1
    except video.VideoError as error:  # a batch job goes on with the rest
      print(f"skipped {error}", flush=True)
      failed += 1
  return done, failed


def main(argv):
  inputs = argv[1:]
  with cli.tool("predict"):
    if not inputs:
      raise cli.UserError("no input images; pass files, globs or folders after the flags")
    outputs, intrinsics = _checked_flags()
    # Every input is checked before the model loads (seconds): an input that cannot work is
    # one line at once, not after the network is built.
    clips, photos, problems = _checked_inputs(inputs)
    if not clips and not photos:
      raise cli.UserError(problems[0] if len(problems) == 1 else
                          f"no input could be read: {'; '.join(problems)}")
    for problem in problems:  # a batch job goes on with the rest
      print(f"skipped {problem}", flush=True)
    config.parse_gin_for_model(_MODEL.value, _GIN_FILES.value, _GIN_BINDINGS.value)
    network = inference.load_network(_MODEL.value, _PRECISION.value).replace(fit=_FIT.value)
    warning = predict.training_data_warning(network)
    if warning:  # once per run, before any per-photo depth range
      _LOG.warning(warning)
    done, failed = _predict_clips(network, clips)
    failed += len(problems)
    if photos:
      result = predict.predict_files(network, photos, _OUTPUT_DIR.value, outputs, intrinsics,
                                     _FOCUS_DEPTH.value, _APERTURE.value,
                                     print_fn=cli.print_flush, overwrite=_OVERWRITE.value,
                                     colormap=_COLORMAP.value)
      done += len(result["written"])
      failed += len(result["failed"])
      print(f"{len(result['written'])} image(s) -> {_OUTPUT_DIR.value}"
            + (f"; {len(result['failed']) + len(problems)} skipped"
               if result["failed"] or problems else ""))
    if not done:
      raise cli.UserError("no image or video could be processed")
    if failed:  # exit 1, so that a scheduler or a script sees that some inputs have no depth
      raise cli.UserError(f"{failed} of {done + failed} input(s) failed (each named above); the "
                          f"others were written")
