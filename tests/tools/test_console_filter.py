"""Which lines the commands keep off the console (attn_depth_cli.py): native TensorFlow, OpenCV and
LiteRT notes nobody asked for; never a line of the project's or a real error."""

import importlib.util
import os

from tests.conftest import REPO_ROOT


def _startup(monkeypatch):
  monkeypatch.setenv("ATTN_DEPTH_TF_LOGS", "1")  # loading must not filter this test's stderr
  spec = importlib.util.spec_from_file_location(
      "startup_under_test", os.path.join(REPO_ROOT, "attn_depth_cli.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_noise_is_filtered_and_nothing_else(monkeypatch):
  startup = _startup(monkeypatch)
  noise = [b"I0000 00:00:1796252201.565043   24313 port.cc:153] oneDNN custom operations are on.",
           b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
           b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, "
           b"output_inference_type: FLOAT32",
           b"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55b76d32e840] moov atom not found"]
  kept = [b"export: warning: precision bfloat16: this CPU has no bfloat16 instructions",
          b"INFO: something the user asked for",
          b"E0000 00:00:1796252201.565043   24313 op.cc:1] Out of memory",
          b"Traceback (most recent call last):",
          b"[1/3] clip.mp4: 640x480"]
  assert all(startup.is_noise(line) for line in noise)
  assert not any(startup.is_noise(line) for line in kept)
