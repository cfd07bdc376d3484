"""`attn-depth`: the one command (train, evaluate, predict, export, reproduce, ...), and the
quiet start-up every command and tools/*.py shim gets before TensorFlow loads.

TensorFlow's native start-up lines (`absl::InitializeLog`, oneDNN notes, "Could not find cuda
drivers", "failed call to cuInit") bypass TF_CPP_MIN_LOG_LEVEL, so they are filtered out of
the process's stderr here; everything else written to stderr (the commands' own lines, Python
warnings and tracebacks, fatal native errors) passes. `ATTN_DEPTH_TF_LOGS=1` shows them all.

Why a module of its own beside the package: importing `attn_depth` loads TensorFlow (it
registers the custom layers `keras.saving.load_model` needs), so the filter must be installed
by code that does not import the package; the commands themselves live in attn_depth/cli/.
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


_FILTERING = []


def quiet_start():
  """Filters the native noise out of this process's stderr from now on (once; before the
  package, and so TensorFlow, is imported). Not done on import: a test or a notebook that
  imports this module keeps its stderr as it is."""
  if _FILTERING or os.environ.get("ATTN_DEPTH_TF_LOGS") or not sys.platform.startswith(
      ("linux", "darwin")):
    return
  _FILTERING.append(True)
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


# name -> (module under attn_depth.cli, one line for `attn-depth --help`). The lines are here,
# not read from the modules, so that `attn-depth --help` answers without loading TensorFlow.
COMMANDS = {
    "train": ("train", "train a Table-1 network or the offline quickstart (gin configs)"),
    "evaluate": ("evaluate", "score a model or a folder of predictions under a protocol"),
    "predict": ("predict", "depth, point clouds and bokeh for your photos and videos"),
    "demo": ("demo", "the same in a page in your browser: drop a photo, see its depth"),
    "export": ("export", "SavedModel, LiteRT, ONNX and a preset from a training run"),
    "reproduce": ("reproduce", "Table 1 in one command (or in miniature on a CPU)"),
    "figures": ("figures", "the paper's Figures 3, 4, 5 and 7 from your runs"),
    "benchmark": ("benchmark", "speed, memory and the first-GPU-day report"),
    "prepare-nyu": ("prepare_nyu", "prepare tfds' nyu_depth_v2 from a local archive"),
    "summary": ("summary", "parameter counts of Table 1's variants"),
    "export-rooms": ("export_rooms", "procedural rooms in the own-RGB-D file layout"),
}

PROGRAM = "attn-depth"


def _overview():
  width = max(map(len, COMMANDS))
  lines = [f"usage: {PROGRAM} COMMAND [--flags]   ({PROGRAM} COMMAND --help for its flags)",
           "", "Hao et al., 3DV 2018: depth from one image with attention guided networks.", "",
           "commands:"]
  lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
  lines += ["", "Shipped gin configs are found by name from any folder, e.g. "
            "--gin_file=nyu/full_r101.gin (`attn-depth train --help`)."]
  return "\n".join(lines)


def _command_help(module):
  """The command's docstring and its own flags (absl's --help would list the flags of the
  script that started Python, here the console entry point, which defines none)."""
  from absl import flags  # pylint: disable=import-outside-toplevel
  text = (module.__doc__ or "").strip()
  own = flags.FLAGS.module_help(module.__name__)
  return f"{text}\n\nflags:\n{own}" if own else text


def main(argv=None, program=None):
  """`attn-depth COMMAND [flags]` (argv without the program name; default sys.argv[1:]).
  `program` names the caller in usage and errors (the tools/*.py shims pass their path)."""
  import importlib  # pylint: disable=import-outside-toplevel
  quiet_start()
  argv = list(sys.argv[1:] if argv is None else argv)
  if not argv or argv[0] in _HELP_FLAGS:
    print(_overview())
    return 0 if argv else 2
  name = argv[0].replace("_", "-")
  if name not in COMMANDS:
    print(f"{PROGRAM}: error: no command {argv[0]!r}; one of: {', '.join(COMMANDS)}",
          file=sys.stderr)
    return 2
  module = importlib.import_module(f"attn_depth.cli.{COMMANDS[name][0]}")
  args = argv[1:]
  if any(arg in ("-h", "--help", "-?", "--helpshort") for arg in args):
    print(_command_help(module))
    return 0
  sys.argv = [program or f"{PROGRAM} {name}", *args]
  run(module.main)
  return 0



if __name__ == "__main__":  # python -m attn_depth_cli COMMAND ... (what a reproduction runs)
  sys.exit(main())
