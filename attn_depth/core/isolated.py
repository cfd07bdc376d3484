"""Running a third-party parser of untrusted bytes where its crash cannot take the tool down.

Some readers of user files are C extensions that crash the whole process on a damaged file
(fuzzing found scipy.io.loadmat 1.17 dying with SIGSEGV on a 257-byte splits.mat). `call` runs
such a reader in a forked child: its result or exception comes back through a pipe, and a
child that dies (a signal, or no answer) becomes one `ReaderCrashed` error naming the file.
Forking copies the already-imported parser, so a call costs milliseconds, not an interpreter.
"""

import faulthandler
import os
import pickle
import signal
import sys

from attn_depth.core.errors import UserError


class ReaderCrashed(UserError, RuntimeError):
  """A file's reader died on it (a damaged or hostile file)."""


def _run_child(write_fd, fn, args):
  # The child: default crash signals (no Python fault dump, no fuzzer crash handler: a crash
  # here is the parent's answer, not a finding), then the result or the exception, pickled.
  for number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT):
    signal.signal(number, signal.SIG_DFL)
  if faulthandler.is_enabled():
    faulthandler.disable()
  try:
    try:
      payload = pickle.dumps((True, fn(*args)))
    except Exception as error:  # pylint: disable=broad-except  (handed to the parent as is)
      try:
        payload = pickle.dumps((False, error))
      except Exception:  # pylint: disable=broad-except  (an exception that does not pickle)
        payload = pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}")))
    with os.fdopen(write_fd, "wb") as pipe:
      pipe.write(payload)
  finally:
    os._exit(0)  # pylint: disable=protected-access  (no atexit, no buffers of the parent's)


def call(fn, *args, where="a file"):
  """`fn(*args)` in a forked child (where fork exists; else here): returns its result or raises
  its exception; raises `ReaderCrashed` naming `where` when the child dies."""
  if not hasattr(os, "fork"):
    return fn(*args)
  read_fd, write_fd = os.pipe()
  sys.stdout.flush()
  sys.stderr.flush()
  pid = os.fork()
  if pid == 0:
    os.close(read_fd)
    _run_child(write_fd, fn, args)
  os.close(write_fd)
  with os.fdopen(read_fd, "rb") as pipe:
    payload = pipe.read()
  _, status = os.waitpid(pid, 0)
  if not payload:
    how = (f"signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
           else f"exit status {os.WEXITSTATUS(status)}")
    raise ReaderCrashed(f"{where}: its reader crashed on it ({how}); the file is damaged or "
                        f"not what it claims to be")
  ok, value = pickle.loads(payload)
  if ok:
    return value
  raise value
