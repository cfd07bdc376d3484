"""Writing files so that nothing good is replaced by something broken or half-written.

Every file a tool writes is written beside its final name (`.<stem>.partial-<pid>-<n><ext>`:
a name no other writer uses, with the same extension, so writers that choose a format by it
keep working), flushed to the disk, and renamed into place when it is complete, and the folder
is flushed after the rename: after a crash or a power loss a reader finds the old file or the
new one, never a torn one. Files that belong together (one photo's outputs, an export folder, a
video and its frames) are renamed together, after all of them were written. A failure removes
the partial files. A full disk becomes one `DiskFull` error naming the file and the free space
left (the tools print it as their one `tool: error:` line and exit 1).

`write_text` / `write_json` / `write_bytes` are the one way the package writes a small file.
"""

import contextlib
import errno
import itertools
import json
import os
import shutil

from attn_depth.core.errors import UserError

_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# TensorFlow's file system layer reports ENOSPC as a status message, not an errno.
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded")


class DiskFull(UserError, OSError):
  """A write failed because the file system is full; the message names the file and the space
  left there."""


def is_disk_full(error):
  """Whether `error` (an OSError, a TensorFlow OpError, ...) means the disk is full."""
  return (getattr(error, "errno", None) in _DISK_FULL_ERRNOS
          or any(text in str(error) for text in _DISK_FULL_TEXT))


def free_space(path):
  """Bytes free on the file system holding `path` (or its nearest existing parent)."""
  folder = os.path.abspath(path)
  while not os.path.exists(folder):
    folder = os.path.dirname(folder)
  return shutil.disk_usage(folder).free


def format_bytes(count):
  for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
    if count >= size:
      return f"{count / size:.1f} {unit}"
  return f"{count} bytes"


def disk_full(path):
  """The DiskFull error for `path`."""
  return DiskFull(f"{path}: no space left on the device ({format_bytes(free_space(path))} free "
                  f"there); nothing partial was kept: free some space and run the same command "
                  f"again")


_WRITER = itertools.count()  # with the pid: a partial name no other writer (or thread) uses


def partial_path(path):
  """Where `path` is written before it is complete."""
  folder, name = os.path.split(path)
  stem, extension = os.path.splitext(name)
  return os.path.join(folder, f".{stem}.partial-{os.getpid()}-{next(_WRITER)}{extension}")


def _sync(path):
  """Flushes a file, or every file and folder under a folder, to the disk."""
  if os.path.isdir(path) and not os.path.islink(path):
    for folder, _, names in os.walk(path):
      for name in names:
        _sync(os.path.join(folder, name))
      _sync_folder(folder)
    return
  with open(path, "rb") as f:
    os.fsync(f.fileno())


def _sync_folder(folder):
  """Flushes a folder's entries (a rename into it) to the disk."""
  fd = os.open(folder or ".", os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def remove_quietly(path):
  """Removes a file or folder if it is there."""
  try:
    if os.path.isdir(path) and not os.path.islink(path):
      shutil.rmtree(path, ignore_errors=True)
    else:
      os.remove(path)
  except OSError:
    pass


@contextlib.contextmanager
def replacing_all(paths):
  """Yields the partial paths of `paths` to write; when the block ends normally they are renamed
  onto `paths` (files or folders; an existing folder is replaced whole), otherwise removed. A
  full disk is raised as one DiskFull naming the file it hit."""
  paths = list(paths)
  partials = [partial_path(path) for path in paths]
  try:
    yield partials
    for partial in partials:
      if os.path.exists(partial):
        _sync(partial)  # the data on the disk before the name points at it
  except BaseException as error:
    full = is_disk_full(error) and _final_of(getattr(error, "filename", None), paths, partials)
    for partial in partials:
      remove_quietly(partial)
    if full:
      raise disk_full(full) from None
    raise
  for partial, path in zip(partials, paths):
    if os.path.isdir(partial) and os.path.isdir(path):
      old = f"{partial}.old"
      os.replace(path, old)
      os.replace(partial, path)
      shutil.rmtree(old, ignore_errors=True)
    elif os.path.exists(partial):
      os.replace(partial, path)
  for folder in {os.path.dirname(os.path.abspath(path)) for path in paths}:
    _sync_folder(folder)


def write_bytes(path, data):
  """Writes `data` to `path` whole or not at all (see the module docstring)."""
  with replacing(path) as partial:
    with open(partial, "wb") as f:
      f.write(data)


def write_text(path, text):
  with replacing(path) as partial:
    with open(partial, "w", encoding="utf-8") as f:
      f.write(text)


def write_json(path, value, **dump_kwargs):
  """`value` as indented JSON, whole or not at all."""
  write_text(path, json.dumps(value, indent=2, **dump_kwargs))


@contextlib.contextmanager
def replacing(path):
  """`replacing_all` of one path: yields the partial path."""
  with replacing_all([path]) as (partial,):
    yield partial


def _final_of(hit, paths, partials):
  """The final name of the partial file a write failed on: the error's file name, else the
  last partial file that exists (they are written in order), else the first path."""
  if hit:
    hit = os.path.abspath(os.fsdecode(hit))
    for partial, path in zip(partials, paths):
      partial = os.path.abspath(partial)
      if hit == partial or hit.startswith(partial + os.sep):
        return path
  return next((path for partial, path in zip(partials[::-1], paths[::-1])
               if os.path.exists(partial)), paths[0])

