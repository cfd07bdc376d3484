"""Stages of a reproduction: each one a command of the repository's own tools (the very command
the README gives for it), run as a child process with its log kept, skipped once done.

A stage's record (`<folder>/stages.json`) holds its command, what it was run on (`inputs`:
the trained step it evaluated, say), its status, exit code, wall time and peak memory. A stage
is done when its record says so for the same command and inputs and its products exist; an
interrupted or failed stage runs again (training resumes from its own latest checkpoint).
"""

import ctypes
import dataclasses
import datetime
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

from attn_depth.core import run_dir as run_dir_lib
from attn_depth.core import files
from attn_depth.core.console import format_duration

STATE_FILE = run_dir_lib.STAGES_FILE
# Lines of a child worth showing on the console (everything goes to its log).
_RELAY = re.compile(r"^(step \d+/\d+|resumed from|warm start|eval at step|final evaluation:|"
                    r"evaluating: \d+/|\S+: error:|SIGTERM|Ctrl-C)")


@dataclasses.dataclass
class Stage:
  """One command of a reproduction.

  name: what the console and the record call it ("train", "evaluate nyu_labeled paper flip").
  folder: the run folder (or the output folder) whose stages.json records it.
  command: the command and its arguments as a user types them, e.g. ["attn-depth", "train",
    "--model_dir=..."]; run by this Python as `python -m attn_depth_cli train ...`.
  inputs: anything else its output depends on (the step of the checkpoint it reads).
  products: files that must exist for the stage to count as done.
  """
  name: str
  folder: str
  command: list
  inputs: dict = dataclasses.field(default_factory=dict)
  products: tuple = ()

  @property
  def key(self):
    return self.name

  @property
  def log_path(self):
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)
    return run_dir_lib.RunDir(self.folder).stage_log(slug)

  def shell_command(self):
    """The command as a user types it."""
    return " ".join(shlex.quote(arg) for arg in self.command)


def read_state(folder):
  path = os.path.join(folder, STATE_FILE)
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except FileNotFoundError:
    return {}
  except ValueError:  # torn by a kill mid-write (written by rename, so only by hand)
    return {}


def _write_state(folder, state):
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, STATE_FILE)
  files.write_json(path, state)


def recorded_done(folder, name):
  """Whether `folder`'s record says its stage `name` is done."""
  return read_state(folder).get(name, {}).get("status") == "done"


def _same_command(recorded, command):
  """A record written before the `attn-depth` command (["tools/train.py", ...]) counts as the
  same command, so a reproduction started with an older version is not run again."""
  old = re.fullmatch(r"tools/(\w+)\.py", (recorded or [""])[0])
  if old:
    recorded = ["attn-depth", old.group(1).replace("_", "-"), *recorded[1:]]
  return recorded == command


def is_done(stage):
  record = read_state(stage.folder).get(stage.key)
  return bool(record and record.get("status") == "done"
              and _same_command(record.get("command"), stage.command)
              and record.get("inputs") == stage.inputs
              and all(os.path.exists(path) for path in stage.products))


def _set_parent_death_signal():
  """In the child, before exec: SIGTERM when the reproduction dies, even by kill -9, so that a
  training never runs on unattended (it saves and stops on SIGTERM). Linux only."""
  try:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    pass


def _alive(pid, command):
  """Whether `pid` still runs `command` (a previous call's child: wait for it to stop)."""
  try:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
      running = f.read().split(b"\0")
  except OSError:
    return False
  running = {arg.decode(errors="replace") for arg in running}
  return all(arg in running for arg in command[1:])


def _argv(python, command):
  """`attn-depth ...` runs as `python -m attn_depth_cli ...`: the installed package's own
  command with this Python, no checkout and no PATH needed. Anything else is a script."""
  if command[0] == "attn-depth":
    return [python, "-u", "-m", "attn_depth_cli", *command[1:]]
  return [python, "-u", *command]


class StageRunner:
  """Runs stages one after another; a stage that fails is reported in one line and the caller
  goes on with what does not depend on it. Ctrl-C or SIGTERM reach the running child (training
  saves a checkpoint and stops), then `Interrupted` is raised."""

  def __init__(self, print_fn=print, python=sys.executable):
    self.print_fn, self.python = print_fn, python
    self._child = None

  def run(self, stage, label=""):
    """Returns the stage's record; record["status"] is "done", "skipped" (done earlier) or
    "failed"."""
    prefix = f"[{label}] " if label else ""
    state = read_state(stage.folder)
    if is_done(stage):
      record = state[stage.key]
      self.print_fn(f"{prefix}{stage.name}: done earlier ({record['finished']})")
      return {**record, "status": "skipped"}
    previous = state.get(stage.key, {})
    if previous.get("status") == "running" and _alive(previous.get("pid"), stage.command):
      self.print_fn(f"{prefix}{stage.name}: waiting for the previous call's process "
                    f"(pid {previous['pid']}) to stop")
      while _alive(previous["pid"], stage.command):
        time.sleep(1)
    self.print_fn(f"{prefix}{stage.name} (log: {stage.log_path})")
    started = time.time()
    process, offset = self._start(stage)
    self._child = process
    record = {"command": stage.command, "inputs": stage.inputs, "status": "running",
              "pid": process.pid, "started": _now(),
              "log": os.path.relpath(stage.log_path, stage.folder)}
    self._record(stage, record)
    last_line, usage = self._follow(process, stage.log_path, offset, prefix)
    self._child = None
    seconds = time.time() - started
    record.update(returncode=process.returncode, seconds=round(seconds, 1), finished=_now(),
                  peak_rss_gb=round(usage.ru_maxrss / 1024 ** 2, 2))
    record.pop("pid")
    return self._finish(stage, record, last_line, prefix)

  def _start(self, stage):
    """Starts the stage's command with its output appended to its log; returns (the process,
    the log's offset where this call's output begins)."""
    os.makedirs(os.path.dirname(stage.log_path), exist_ok=True)
    with open(stage.log_path, "ab") as log:
      log.write(f"# {_now()} {stage.shell_command()}\n".encode())
      log.flush()
      offset = log.tell()
      # The child writes to its log itself, not through a pipe to this process: killed, this
      # process leaves a child that can still print, save and stop (its SIGTERM below).
      process = subprocess.Popen(
          _argv(self.python, stage.command),
          stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
          preexec_fn=_set_parent_death_signal if sys.platform.startswith("linux") else None)
    return process, offset

  def _finish(self, stage, record, last_line, prefix):
    """Records how the stage ended (done: exit 0 and every product there; interrupted: raised;
    else failed, in one line) and returns the record."""
    missing = [path for path in stage.products if not os.path.exists(path)]
    if record["returncode"] == 0 and not missing:
      record["status"] = "done"
      self._record(stage, record)
      self.print_fn(f"{prefix}{stage.name}: done in {format_duration(record['seconds'])} "
                    f"(peak memory {record['peak_rss_gb']:.1f} GB)")
      return record
    returncode = record["returncode"]
    interrupted = returncode in (130, 143, -signal.SIGINT, -signal.SIGTERM)
    record["status"] = "interrupted" if interrupted else "failed"
    self._record(stage, record)
    if interrupted:
      raise Interrupted(f"{prefix}{stage.name}: stopped (exit {returncode}); the same "
                        f"command goes on from there")
    why = f"exit {returncode}" if returncode else f"no {os.path.relpath(missing[0], stage.folder)}"
    self.print_fn(f"{prefix}{stage.name}: failed ({why}): {last_line or 'no output'} "
                  f"(log: {stage.log_path})")
    return record

  def _follow(self, process, log_path, offset, prefix):
    """Relays the progress lines the child appends to its log until it exits; returns (its
    last line, its resource usage)."""
    last, pending = "", b""
    with open(log_path, "rb") as log:
      log.seek(offset)
      while True:
        waited = os.wait4(process.pid, os.WNOHANG)
        pending += log.read()
        *lines, pending = pending.replace(b"\r", b"\n").split(b"\n")
        for raw in lines:
          line = raw.decode(errors="replace").rstrip()
          if line:
            last = line
            if _RELAY.match(line):
              self.print_fn(f"{prefix}  {line}")
        if waited[0]:
          process.returncode = os.waitstatus_to_exitcode(waited[1])
          tail = pending.decode(errors="replace").strip()
          return (tail or last)[:300], waited[2]
        time.sleep(0.2)

  def _record(self, stage, record):
    state = read_state(stage.folder)
    state[stage.key] = record
    _write_state(stage.folder, state)

  def forward(self, signum):
    """Passes a stop request on to the running child (training saves, then stops)."""
    child = self._child
    if child is not None and child.poll() is None:
      child.send_signal(signum)


class Interrupted(Exception):
  """A stage stopped on Ctrl-C or SIGTERM; the reproduction stops and exits 130."""


class forwarded_signals:  # pylint: disable=invalid-name
  """Within it, Ctrl-C and SIGTERM are passed to the runner's child instead of raising here:
  the child saves and stops, and the runner reports the stage as interrupted."""

  def __init__(self, runner):
    self.runner, self.previous = runner, {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGINT, signal.SIGTERM):
        self.previous[signum] = signal.signal(signum, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    if self.runner._child is None:  # pylint: disable=protected-access
      raise Interrupted("interrupted between stages")
    self.runner.forward(signum)

  def __exit__(self, *exc):
    for signum, handler in self.previous.items():
      signal.signal(signum, handler)


def _now():
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def trained_step(run_dir):
  """The step of a run folder's latest checkpoint (TensorFlow's checkpoint state), or None."""
  return run_dir_lib.RunDir(run_dir).latest_step()
