"""What every command (attn_depth/cli/*.py, run as `attn-depth COMMAND` or tools/*.py) shares: one-line user errors and quiet library logs; the start-up before TensorFlow is attn_depth_cli."""

import contextlib
import logging
import os
import sys

from attn_depth.core import errors
from attn_depth.core import files


def quiet_logs(program="attn_depth"):
  """Library chatter (tfds' notes on its own configs and deprecations, absl) off; the package's
  own warnings (a skipped frame, a checkpoint that could not be read) on, each as one
  `program: warning: ...` line on stderr.

  absl's verbosity also sets Python's root logger under `absl.app.run`, so the package's
  logger gets a handler of its own and does not propagate to the root (whose lines, in absl's
  native-looking format, the tools' stderr filter would drop anyway)."""
  from absl import logging as absl_logging  # pylint: disable=import-outside-toplevel
  if absl_logging.get_verbosity() > absl_logging.ERROR:
    absl_logging.set_verbosity(absl_logging.ERROR)
  package = logging.getLogger("attn_depth")
  package.setLevel(logging.WARNING)
  handler = logging.StreamHandler(sys.stderr)
  handler.setFormatter(logging.Formatter(f"{program}: %(levelname_lower)s: %(message)s"))
  handler.addFilter(_lower_level_name)
  package.handlers = [handler]
  package.propagate = False


def _lower_level_name(record):
  record.levelname_lower = record.levelname.lower()
  return True


# Every user-facing error of the package derives from it (attn_depth.core.errors); tools raise it too.
UserError = errors.UserError


@contextlib.contextmanager
def user_errors(program):
  """Turns the package's user-facing errors into `program: error: message` and exit status 1."""
  try:
    yield
  except KeyboardInterrupt:
    # A Ctrl-C outside the training loop (which saves and stops by itself): one line, not a
    # traceback through TensorFlow's internals.
    print(f"{program}: interrupted", file=sys.stderr)
    sys.exit(130)
  except (UserError, FileNotFoundError) as error:
    # gin appends "In call to configurable ..." lines; the message itself is one line.
    message = str(error).split("\n  In call to configurable", 1)[0].strip()
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(1)
  except OSError as error:
    if not files.is_disk_full(error):
      raise
    print(f"{program}: error: {files.disk_full(error.filename or os.getcwd())}", file=sys.stderr)
    sys.exit(1)


@contextlib.contextmanager
def tool(program):
  """The body of a tool's main(): quiet library logs, the package's warnings as one line each,
  user errors as one line."""
  quiet_logs(program)
  with user_errors(program):
    yield


@contextlib.contextmanager
def output_folder(path):
  """Creates `path` for a tool's results; if the tool then fails, the folders it created and
  left empty are removed again (a failed start leaves no empty run folder behind)."""
  created = []
  folder = os.path.abspath(path)
  while not os.path.isdir(folder):
    created.append(folder)
    folder = os.path.dirname(folder)
  os.makedirs(path, exist_ok=True)
  try:
    yield path
  except BaseException:
    for folder in created:  # deepest first
      for root, dirs, _ in os.walk(folder, topdown=False):
        for name in dirs:
          _remove_if_empty(os.path.join(root, name))
      _remove_if_empty(folder)
    raise


def _remove_if_empty(folder):
  try:
    os.rmdir(folder)
  except OSError:  # not empty (or already gone): keep it
    pass


def print_flush(message):
  print(message, flush=True)
