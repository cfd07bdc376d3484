"""What every tool in tools/ shares: quiet TensorFlow start-up and one-line user errors."""

import contextlib
import sys



class UserError(Exception):
  """A mistake in the user's input (a file, a flag): reported in one line, never a traceback."""


def _user_error_types():
  from attn_depth.models import ImageNetWeightsUnavailable  # pylint: disable=import-outside-toplevel
  return (UserError, ImageNetWeightsUnavailable, FileNotFoundError)


@contextlib.contextmanager
def user_errors(program):
  """Turns the package's user-facing errors into `program: error: message` and exit status 1."""
  try:
    yield
  except _user_error_types() as error:
    print(f"{program}: error: {error}", file=sys.stderr)
    sys.exit(1)
