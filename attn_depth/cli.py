"""What every tool in tools/ shares: quiet TensorFlow start-up and one-line user errors."""

import contextlib
import os
import sys

from attn_depth import errors


def quiet_logs():
  """Library chatter (tfds' notes on its own configs and deprecations) off. The package's own
  warnings, such as skipped frames, go through Python's root logger and stay."""
  from absl import logging  # pylint: disable=import-outside-toplevel
  if logging.get_verbosity() > logging.ERROR:
    logging.set_verbosity(logging.ERROR)


# Every user-facing error of the package derives from it (attn_depth.errors); tools raise it too.
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


@contextlib.contextmanager
def tool(program):
  """The body of a tool's main(): quiet library logs, user errors as one line."""
  quiet_logs()
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
