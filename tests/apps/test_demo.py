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


def _demo_command(folder, *args, **kwargs):
  """`attn-depth demo ARGS` as a user runs it (python -m attn_depth_cli: the console script's
  code) in `folder`, with this checkout's package."""
  return subprocess.Popen([sys.executable, "-m", "attn_depth_cli", "demo", *args], cwd=folder,
                          env=dict(os.environ, PYTHONPATH=REPO_ROOT), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kwargs)


def test_demo_answers_help(tmp_path):
  with _demo_command(tmp_path, "--help") as helped:
    text = helped.communicate(timeout=300)[0]
  assert helped.returncode == 0, text
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
  process = _demo_command(folder, f"--port={port}")
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
      process.wait(timeout=60)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


def _upload(page, path, expect):
  """Uploads `path` into the photo box; waits until the status line contains `expect`."""
  page.locator("#photo input[type=file]").set_input_files(str(path))
  page.wait_for_function(
      "text => document.querySelector('#status').innerText.includes(text)", arg=expect,
      timeout=120_000)


def _focus_by_a_click(page, depth):
  """A click on the bokeh picture's centre sets the focus slider to the depth there (the
  picture is shown scaled: a pixel or two either way), away from the default focus."""
  row, column = depth.shape[0] // 2, depth.shape[1] // 2
  near = sorted({round(float(value), 2)
                 for value in depth[row - 2:row + 3, column - 2:column + 3].ravel()})
  before = float(page.input_value("#focus input[type=number]"))
  assert before not in near, (before, near)  # else the click would change nothing to see
  page.click("#bokeh img")  # Playwright clicks an element's centre
  page.wait_for_function(
      "near => near.includes(Number(document.querySelector('#focus input[type=number]').value))",
      arg=near, timeout=60_000)


def _bad_uploads(page, folder, shown):
  """A text file and a 0-byte image: one message each in the page (no error pop-up besides),
  the depth and the downloads of the photo before stay, and the page goes on serving."""
  downloads = page.inner_text("#downloads")
  for bad in ("notes.txt", "empty.png"):
    _upload(page, folder / bad, f"{bad}: not a readable image")
    assert page.inner_text("#status").count("not a readable image") == 1
    assert page.locator(".toast-body").count() == 0
    assert _depth_image(page) == shown
    assert page.inner_text("#downloads") == downloads
  page.fill("#colormap input", "gray")  # a combobox: typed, then chosen
  page.keyboard.press("Enter")
  page.wait_for_function("src => document.querySelector('#depth img').src != src",
                         arg=shown[0], timeout=60_000)


def _depth_image(page):
  """(src, natural width, height) of the depth picture on the page, once it has loaded."""
  page.wait_for_function("() => { const img = document.querySelector('#depth img');"
                         " return img && img.complete && img.naturalWidth > 0; }",
                         timeout=60_000)
  return page.eval_on_selector(
      "#depth img", "img => [img.src, img.naturalWidth, img.naturalHeight]")


@pytest.mark.slow  # end-to-end: the full tier (--full)
def test_the_demo_page_in_headless_chromium(tiny_run, tmp_path):
  """Opens on runs/quickstart (here the tiny run); a photo's depth is shown at the photo's
  size and downloads as what DepthEstimator.predict gives; a text file and a 0-byte image are
  one message each, the page keeps its depth and goes on serving; nothing leaves localhost."""
  from playwright.sync_api import sync_playwright  # pylint: disable=import-outside-toplevel
  from skimage import data  # pylint: disable=import-outside-toplevel
  (tmp_path / "runs").mkdir()
  os.symlink(tiny_run.path, tmp_path / "runs" / "quickstart")
  photo = tmp_path / "coffee.png"
  Image.fromarray(data.coffee()).save(photo)  # a real photo, 600x400
  (tmp_path / "notes.txt").write_text("not a photo\n")
  (tmp_path / "empty.png").write_bytes(b"")
  with _served(tmp_path) as (url, process), sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=chromium(),
                                         args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page()
    hosts = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    page.goto(url)
    page.wait_for_selector("#photo input[type=file]", state="attached")  # the page has loaded
    header = page.inner_text("body")
    assert "runs/quickstart" in header
    # The tiny run learned from procedural rooms only: the page says so, from its provenance.
    assert "trained only on procedural rooms" in header
    _upload(page, photo, "coffee.png: 600x400 pixels")
    shown = _depth_image(page)
    assert shown[1:] == [600, 400]
    with page.expect_download() as download:
      page.click("#downloads a[download='coffee_depth.npy']")
    download.value.save_as(tmp_path / "downloaded.npy")
    depth = np.load(tmp_path / "downloaded.npy")
    _focus_by_a_click(page, depth)
    _bad_uploads(page, tmp_path, shown)
    browser.close()
  assert hosts == {url.split("/")[2]}, hosts  # offline: no fonts, analytics or CDN
  said = process.stdout.read().splitlines()
  assert said == [f"demo of runs/quickstart at {url} ({demo.CHOOSE_ANOTHER}; Ctrl-C stops)",
                  "demo stopped"], said  # and nothing else: no TensorFlow or Gradio chatter
  expected = DepthEstimator.from_path(tiny_run.path).predict(images.read_rgb(photo))["depths"]
  np.testing.assert_array_equal(np.load(tmp_path / "downloaded.npy"), expected[0, ..., 0])
  (tmp_path / "runs" / "quickstart").unlink()
  with _demo_command(tmp_path) as unready:  # no --model and no quickstart: one line, at once
    said = unready.communicate(timeout=300)[0].splitlines()
  assert unready.returncode == 1 and len(said) == 1 and "--model=" in said[0], said
