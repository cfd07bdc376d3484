"""`attn-depth demo`: the page in a real headless Chromium (Debian's, driven by Playwright),
served by the command a user runs: a photo's depth shown at its size, the downloaded depth equal
to DepthEstimator.predict's, bad uploads one message while the page keeps serving, offline."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

import attn_depth_cli
from attn_depth.apps import demo
from attn_depth.core import errors
from attn_depth.core import images
from attn_depth.serving.estimator import DepthEstimator
from tests.apps.browser import chromium
from tests.conftest import REPO_ROOT


def test_without_a_model_or_the_quickstart_run_the_demo_names_the_flag(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(errors.UserError, match=r"runs/quickstart does not exist.*--model="):
    demo.choose_model(None)
  (tmp_path / "runs" / "quickstart").mkdir(parents=True)
  assert demo.choose_model(None) == os.path.join("runs", "quickstart")
  assert demo.choose_model("runs/other") == "runs/other"


def test_demo_answers_help_without_starting(capsys):
  assert attn_depth_cli.main(["demo", "--help"]) == 0
  text = capsys.readouterr().out
  for flag in ("--model", "--port", "--share"):
    assert flag in text, text


def _free_port():
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


@contextlib.contextmanager
def _served(folder, timeout=240):
  """`attn-depth demo` started in `folder` as a user starts it (no --model: the folder's
  runs/quickstart), until it answers; yields (url, process)."""
  port = _free_port()
  env = dict(os.environ, PYTHONPATH=REPO_ROOT)
  process = subprocess.Popen([sys.executable, "-m", "attn_depth_cli", "demo", f"--port={port}"],
                             cwd=folder, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
  url = f"http://127.0.0.1:{port}/"
  try:
    deadline = time.monotonic() + timeout
    while True:
      assert process.poll() is None, process.communicate()[0][-3000:]
      assert time.monotonic() < deadline, "the demo did not answer"
      try:
        urllib.request.urlopen(url, timeout=5).close()
        break
      except OSError:
        time.sleep(0.5)
    yield url, process
  finally:
    process.send_signal(signal.SIGINT)
    try:
      process.wait(timeout=30)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


def _upload(page, path, expect):
  """Uploads `path` into the photo box; waits until the status line contains `expect`."""
  page.locator("#photo input[type=file]").set_input_files(str(path))
  page.wait_for_function(
      "text => document.querySelector('#status').innerText.includes(text)", arg=expect,
      timeout=120_000)


def _depth_image(page):
  """(src, natural width, height) of the depth picture on the page."""
  return page.eval_on_selector(
      "#depth img", "img => [img.src, img.naturalWidth, img.naturalHeight]")
