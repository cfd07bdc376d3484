"""Every kind of output a user reads, its real writer killed (SIGKILL) mid-write again and again:
each file under its final name is always a whole earlier or later version, never a torn one
(attn_depth.core.files: written under a name of its own, flushed, renamed into place).

The writers run in a forked child that rewrites the output forever, alternating two versions;
the parent kills it after a random delay and compares every file it finds with the two versions
written beforehand. The children use numpy, PIL, matplotlib and OpenCV only, never TensorFlow."""

import multiprocessing
import os
import signal
import time

import matplotlib
import numpy as np
import pytest

from attn_depth import models
from attn_depth.apps import figures
from attn_depth.apps import predict
from attn_depth.apps import video
from attn_depth.core import files
from attn_depth.evaluation import reports
from attn_depth.serving import card

KILLS = 8
SPEC = models.ModelSpec("full", backbone_blocks=(1, 1, 1, 1), backbone_width=0.125,
                        dmg_widths=(8, 8, 16, 16), input_size=(32, 48), resize_size=(40, 60))


class _ThirdsNetwork:
  """1 m, 2 m and `far` metres in the left, middle and right third (three depths, so that the
  clip's colour scale does not map both versions to the same picture)."""

  def __init__(self, far):
    self.far = far

  def depth_at_image_size(self, images):
    width = images.shape[2]
    row = np.where(np.arange(width) < width // 3, 1.0,
                   np.where(np.arange(width) < 2 * width // 3, 2.0, self.far))
    return np.broadcast_to(row.astype(np.float32), images.shape[:3]).copy()


def _photo_outputs(folder, version):
  rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
  depth = np.linspace(1.0, 4.0 + version, 48 * 64, dtype=np.float32).reshape(48, 64)
  predict.write_outputs(rgb, depth, "photo", folder, outputs=predict.OUTPUTS)


def _video_and_frames(folder, version):
  clip = os.path.join(os.path.dirname(folder), "clip")
  if not os.path.isdir(clip):  # the input, made once by the parent
    from PIL import Image  # pylint: disable=import-outside-toplevel
    os.makedirs(clip)
    for index in range(3):
      Image.fromarray(np.full((32, 48, 3), 60 * index, np.uint8)).save(
          os.path.join(clip, f"f{index}.png"))
  video.predict_video(_ThirdsNetwork(3.0 + version), clip, folder, overwrite=True,
                      print_fn=lambda _: None)


def _report(folder, version):
  metrics = {name: 0.1 * (index + 1) + version for index, name in
             enumerate(reports.TABLE1_COLUMNS)}
  reports.write_report({"protocol_description": "paper", "mode": "single", "images": 3,
                        "source": "synthetic_rooms", "ground_truth": "exact", "step": 7,
                        "metrics": metrics}, os.path.join(folder, "result.json"))


def _model_spec(folder, version):
  models.ModelSpec(**{**SPEC.__dict__, "afb_reduction": 1 + version}).save(folder)


def _model_card(folder, version):
  card.write(folder, "README.md", SPEC, {"step": version, "fit": "crop",
                                         "trained_from": "runs/x", "versions": {}})


def _figure(folder, version):
  matplotlib.use("Agg")
  figures.figure4([{"label": "full", "rel": 0.2 + 0.1 * version, "seconds": 0.5}], "CPU",
                  os.path.join(folder, "fig4.png"))


def _whole_folder(folder, version):
  """The way an export and a preset replace their folder (attn_depth.serving.export and
  .presets): every file of a new folder, then one rename."""
  with files.replacing(os.path.join(folder, "export")) as partial:
    os.makedirs(partial)
    for index in range(20):
      with open(os.path.join(partial, f"part_{index}.bin"), "wb") as f:
        f.write(bytes([version]) * 100_000)


WRITERS = {"photo outputs": _photo_outputs, "depth video and its frames": _video_and_frames,
           "evaluation report (.json + .md)": _report, "model_spec.json": _model_spec,
           "model card": _model_card, "figure": _figure,
           "export or preset folder": _whole_folder}


def _decoded(path):
  """A video's frames (its container carries a random segment ID, so its bytes differ from
  one writing to the next): a torn file decodes to fewer frames or none."""
  import cv2  # pylint: disable=import-outside-toplevel
  capture, frames = cv2.VideoCapture(path), []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame)
  capture.release()
  return b"frames:%d:" % len(frames) + b"".join(f.tobytes() for f in frames)


def _contents(folder):
  """{relative path: bytes} of the files under their final names (not the partial ones)."""
  found = {}
  for parent, folders, names in os.walk(folder):
    folders[:] = [name for name in folders if ".partial-" not in name]
    for name in names:
      if ".partial-" not in name:
        path = os.path.join(parent, name)
        if name.endswith(".webm"):
          found[os.path.relpath(path, folder)] = _decoded(path)
          continue
        with open(path, "rb") as f:
          found[os.path.relpath(path, folder)] = f.read()
  return found


def _rewrite_forever(write, folder):
  version = 0
  while True:
    write(folder, version)
    version = 1 - version


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(WRITERS))
def test_a_writer_killed_mid_write_leaves_whole_files(kind, tmp_path):
  write = WRITERS[kind]
  versions = []
  for version in (0, 1):
    folder = tmp_path / f"version_{version}" / "out"
    folder.mkdir(parents=True)
    write(str(folder), version)
    versions.append(_contents(str(folder)))
  assert versions[0] and versions[0].keys() == versions[1].keys()
  assert all(versions[0][name] != versions[1][name] for name in versions[0]
             if not name.endswith(("_legend.png", "LICENSE.md")))
  target = tmp_path / "version_0"  # rewritten in place of version 0's outputs
  context = multiprocessing.get_context("fork")
  rng = np.random.default_rng(0)
  for _ in range(KILLS):
    writer = context.Process(target=_rewrite_forever, args=(write, str(target / "out")))
    writer.start()
    time.sleep(float(rng.uniform(0.02, 0.3)))
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    found = _contents(str(target / "out"))
    assert found.keys() == versions[0].keys(), kind
    for name, content in found.items():
      assert content in (versions[0][name], versions[1][name]), f"{kind}: {name} is torn"
