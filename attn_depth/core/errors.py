"""The one base of every mistake a user can make (a file, a flag, a binding, a model path).

Tools report a `UserError` as one `tool: error: message` line with exit status 1 (attn_depth.cli);
anything else is a bug and keeps its traceback. Each error also derives from the built-in type
callers already catch (ValueError, RuntimeError), so `except ValueError` keeps working.
"""


class UserError(Exception):
  """A mistake in the user's input, reported in one line that names the file or setting."""
