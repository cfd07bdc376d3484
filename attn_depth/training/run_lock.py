"""One writer per run folder: training holds `<model_dir>/train.lock` while it runs. A second
training on the same folder stops before touching it, naming the holder; a lock left by a process
that no longer exists (kill -9, a crash) is taken over with one warning line, so that resuming is
never blocked.

The lock is the kernel's (`fcntl.flock` on the file), released by the kernel when its holder
dies, so two processes that start together can never both hold it; the file's content (host,
pid, start time) is only the record that the messages quote. The holder removes the file on
exit; a process that locked a file just removed from under it sees a different file at the path
and tries again.
"""

import datetime
import errno
import fcntl
import json
import logging
import os
import socket

from attn_depth.core import errors

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'
LOCK_FILE = "train.lock"


class RunFolderBusyError(errors.UserError, RuntimeError):
  """Another process is training in this folder."""


class RunLock:
  """Context manager: holds `<model_dir>/train.lock` for this process."""

  def __init__(self, model_dir):
    self.path = os.path.join(model_dir, LOCK_FILE)
    self.fd = None

  def __enter__(self):
    while True:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as error:
        holder = _read(fd)
        os.close(fd)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
          who = (f"pid {holder.get('pid')} on {holder.get('host')} since "
                 f"{holder.get('started')}" if holder else "another process, starting now,")
          raise RunFolderBusyError(
              f"{os.path.dirname(self.path)} is being trained by {who} ({self.path}); one "
              f"training per folder: wait for it or stop it") from None
        # A file system without locks (some network mounts): train, but say what is lost.
        _LOG.warning("%s: cannot lock (%s); a second training on this folder would not be "
                     "stopped", self.path, os.strerror(error.errno))
        return self
      if _same_file(fd, self.path):
        break
      os.close(fd)  # locked a file its holder had just removed: lock the one now at the path
    previous = _read(fd)
    if previous:
      _LOG.warning("%s: taking over the lock of pid %s on %s, started %s (no longer running)",
                   self.path, previous.get("pid"), previous.get("host"), previous.get("started"))
    record = json.dumps({
        "host": socket.gethostname(), "pid": os.getpid(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode("utf-8"), 0)
    self.fd = fd
    return self

  def __exit__(self, *exc):
    if self.fd is not None:
      try:
        os.remove(self.path)  # still holding the lock: no one else can be using this file
      except FileNotFoundError:
        pass
      os.close(self.fd)  # releases the lock
      self.fd = None


def _read(fd):
  """The holder record in the lock file, {} when empty or unreadable."""
  try:
    content = os.pread(fd, 4096, 0)
    record = json.loads(content) if content.strip() else {}
  except (OSError, ValueError):
    return {}
  return record if isinstance(record, dict) else {}


def _same_file(fd, path):
  try:
    return os.path.samestat(os.fstat(fd), os.stat(path))
  except FileNotFoundError:
    return False
