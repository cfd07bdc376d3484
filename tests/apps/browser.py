"""A video checked where users watch it: in a <video> element of a real headless Chromium
(Debian's chromium package; .ci/run installs it), served from localhost."""

import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading

_PAGE = """<!doctype html><html><body>
<video id="v" src="{name}" muted preload="auto"></video>
<script>
const v = document.getElementById("v");
const done = (result) => document.body.setAttribute("data-result", JSON.stringify(result));
v.addEventListener("loadeddata", () => done({{width: v.videoWidth, height: v.videoHeight,
                                               duration: v.duration}}));
v.addEventListener("error", () => done({{error: v.error ? v.error.message || v.error.code : "?"}}));
</script></body></html>"""


def chromium():
  path = shutil.which("chromium") or shutil.which("chromium-browser")
  assert path, "headless Chromium is needed: apt-get install chromium (.ci/run installs it)"
  return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
  def log_message(self, *args):  # pylint: disable=arguments-differ
    pass


def video_in_browser(path, budget_ms=15000):
  """What Chromium's <video> makes of the file at `path`: {"width", "height", "duration"} once
  its first frame is decoded, or {"error": ...}."""
  folder, name = os.path.split(os.path.abspath(str(path)))
  page = f"_page_{os.getpid()}.html"
  with open(os.path.join(folder, page), "w", encoding="utf-8") as f:
    f.write(_PAGE.format(name=name))
  server = http.server.ThreadingHTTPServer(
      ("127.0.0.1", 0), functools.partial(_Quiet, directory=folder))
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    with tempfile.TemporaryDirectory() as profile:
      result = subprocess.run(
          [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
           "--dump-dom", f"http://127.0.0.1:{server.server_address[1]}/{page}"],
          capture_output=True, text=True, timeout=120, check=False)
  finally:
    server.shutdown()
    os.remove(os.path.join(folder, page))
  found = re.search(r'data-result="([^"]*)"', result.stdout)
  assert found, f"Chromium reported nothing (exit {result.returncode}): {result.stderr[-1500:]}"
  return json.loads(html.unescape(found.group(1)))


def assert_plays_in_a_browser(path, width, frames, fps):
  """The video decodes in Chromium at `width` pixels and lasts `frames` / `fps` seconds."""
  seen = video_in_browser(path)
  assert "error" not in seen, f"{path}: Chromium cannot play it: {seen}"
  assert seen["width"] == width, seen
  assert abs(seen["duration"] - frames / fps) < 1.5 / fps, seen
