"""Imported first by every tool, before TensorFlow loads: a quiet console and absl's `run`.

TensorFlow's native start-up lines (`absl::InitializeLog`, oneDNN notes, "Could not find cuda
drivers", "failed call to cuInit") bypass TF_CPP_MIN_LOG_LEVEL, so they are filtered out of
the process's stderr here; everything else written to stderr (the tools' own lines, Python
warnings and tracebacks, fatal native errors) passes. `ATTN_DEPTH_TF_LOGS=1` shows them all.
This module lives beside the tools because importing the package already loads TensorFlow.
"""

import atexit
import os
import re
import sys
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Native log lines look like "I0000 00:00:1795491127.608833    2772 port.cc:153] ...".
_NATIVE_INFO_OR_WARNING = re.compile(rb"^[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_NATIVE_GPU_ERROR = re.compile(rb"^E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] .*"
                               rb"(cuInit|CUDA|cuda|cuDNN|cuFFT|cuBLAS|TensorRT|oneDNN)")
_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called"
_CPU_FEATURES = b"To enable the following instructions:"  # 2nd line of cpu_feature_guard's note
# OpenCV's FFmpeg, writing WebM: the container stores no FourCC, the video is written anyway.
_OPENCV_WEBM_TAG = re.compile(rb"^OpenCV: FFMPEG: tag 0x[0-9a-f]+/'VP80' is not supported with "
                              rb"codec id \d+ and format 'webm")

# FFmpeg's own log lines (through OpenCV) while probing a video, "[mov,mp4,m4a,3gp,3g2,mj2 @
# 0x55b7...] moov atom not found": the tool reports an unreadable video in its own line.
_FFMPEG_LOG = re.compile(rb"^\[[\w,.:-]+ @ 0x[0-9a-f]+\] ")

# LiteRT's interpreter and quantizer: "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
# and "fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, ...".
_LITERT_NOTES = re.compile(rb"^(INFO: Created TensorFlow Lite \S+ delegate|fully_quantize: \d+, "
                           rb"inference_type: )")


def is_noise(line):
  """A native TensorFlow (or OpenCV, LiteRT) log line that a user did not ask for."""
  return (line.startswith((_ABSL_PREAMBLE, _CPU_FEATURES))
          or bool(_NATIVE_INFO_OR_WARNING.match(line)) or bool(_NATIVE_GPU_ERROR.match(line))
          or bool(_OPENCV_WEBM_TAG.match(line)) or bool(_LITERT_NOTES.match(line))
          or bool(_FFMPEG_LOG.match(line)))


def _filter_native_stderr():
  if os.environ.get("ATTN_DEPTH_TF_LOGS") or not sys.platform.startswith(("linux", "darwin")):
    return
  sys.stderr.flush()
  real_stderr = os.dup(2)
  read_end, write_end = os.pipe()
  os.dup2(write_end, 2)
  os.close(write_end)

  def pump():
    with os.fdopen(read_end, "rb") as source:
      for line in iter(source.readline, b""):
        if not is_noise(line):
          os.write(real_stderr, line)

  thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
  thread.start()

  def restore():
    try:
      sys.stderr.flush()
    except (OSError, ValueError):
      pass
    os.dup2(real_stderr, 2)  # the pipe's last write end closes: the pump drains and ends
    thread.join(timeout=5)

  atexit.register(restore)


_HELP_FLAGS = ("-h", "--help", "-?", "--helpshort", "--helpfull", "--helpxml")


def _parse_flags(argv):
  """absl's flag parsing, a mistake reported as the tool's one `tool: error:` line (absl prints
  "FATAL Flags parsing error" and a hint on two lines)."""
  from absl import flags  # pylint: disable=import-outside-toplevel
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    program = os.path.splitext(os.path.basename(argv[0]))[0]
    print(f"{program}: error: {error} (--help lists the flags)", file=sys.stderr)
    sys.exit(1)


def run(main):
  """absl's app.run, except that asking for help exits 0 (absl exits 1) and a flag mistake is
  one line."""
  from absl import app  # pylint: disable=import-outside-toplevel
  try:
    app.run(main, flags_parser=_parse_flags)
  except SystemExit as exit_:
    if exit_.code == 1 and any(arg in _HELP_FLAGS for arg in sys.argv[1:]):
      sys.exit(0)
    raise


_filter_native_stderr()
