"""One writer per run folder: training holds `<model_dir>/train.lock` (host, pid, start time)
while it runs. A second training on the same folder stops before touching it, naming the
holder; a lock left by a process that no longer exists (kill -9, a crash) is taken over with one
warning line, so that resuming is never blocked."""

import datetime
import json
import logging
import os
import socket

from attn_depth import errors

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'
LOCK_FILE = "train.lock"


class RunFolderBusyError(errors.UserError, RuntimeError):
  """Another process is training in this folder."""


def _process_start(pid):
  """The kernel's start time of `pid` (clock ticks since boot), or None: with the pid it tells
  a live holder from a new process that happens to reuse the number."""
  try:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
      return int(f.read().rsplit(")", 1)[1].split()[19])
  except (OSError, ValueError, IndexError):
    return None


def _alive(holder):
  try:
    os.kill(int(holder["pid"]), 0)
  except ProcessLookupError:
    return False
  except (PermissionError, ValueError, KeyError, TypeError):
    return True  # someone else's process, or unreadable: assume it holds the folder
  started = holder.get("process_start")
  return started is None or _process_start(int(holder["pid"])) in (None, started)


class RunLock:
  """Context manager: holds `<model_dir>/train.lock` for this process."""

  def __init__(self, model_dir):
    self.path = os.path.join(model_dir, LOCK_FILE)
    self.held = False

  def __enter__(self):
    me = {"host": socket.gethostname(), "pid": os.getpid(),
          "process_start": _process_start(os.getpid()),
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    for _ in range(2):  # a stale lock is removed once, then taken like a free one
      try:
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
      except FileExistsError:
        holder = self._read()
        if holder is None or (holder.get("host") == me["host"] and not _alive(holder)):
          who = (f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
                 if holder else "an unreadable lock")
          _LOG.warning("%s: taking over the lock of %s (no longer running)", self.path, who)
          try:
            os.remove(self.path)
          except FileNotFoundError:
            pass
          continue
        raise RunFolderBusyError(
            f"{os.path.dirname(self.path)} is being trained by pid {holder.get('pid')} on "
            f"{holder.get('host')} since {holder.get('started')} ({self.path}); one training "
            f"per folder: wait for it, stop it, or delete the lock if that process is gone")
      with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(me, f)
      self.held = True
      return self
    raise RunFolderBusyError(f"{self.path}: another process took the lock at the same moment")

  def _read(self):
    try:
      with open(self.path, encoding="utf-8") as f:
        return json.load(f)
    except (OSError, ValueError):
      return None

  def __exit__(self, *exc):
    if self.held:
      holder = self._read()
      if holder and holder.get("pid") == os.getpid():
        os.remove(self.path)
      self.held = False
