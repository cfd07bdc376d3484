"""Files written beside their names and renamed into place (attn_depth.core.files), and export
folders replaced whole."""

import errno
import itertools
import json
import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

from attn_depth.serving import export
from attn_depth.core import files


def test_files_appear_together_only_when_all_are_written(tmp_path):
  a, b = tmp_path / "a.npy", tmp_path / "b.png"
  a.write_text("old a")
  with pytest.raises(RuntimeError):
    with files.replacing_all([str(a), str(b)]) as (partial_a, partial_b):
      with open(partial_a, "w", encoding="utf-8") as f:
        f.write("new a")
      assert partial_a.endswith(".npy") and os.path.dirname(partial_a) == str(tmp_path)
      raise RuntimeError("the second output failed")
  assert a.read_text() == "old a" and not b.exists()  # nothing replaced, nothing new
  assert sorted(os.listdir(tmp_path)) == ["a.npy"]  # no partial file left
  with files.replacing_all([str(a), str(b)]) as (partial_a, partial_b):
    for path, text in ((partial_a, "new a"), (partial_b, "new b")):
      with open(path, "w", encoding="utf-8") as f:
        f.write(text)
  assert a.read_text() == "new a" and b.read_text() == "new b"
  assert sorted(os.listdir(tmp_path)) == ["a.npy", "b.png"]


def test_a_full_disk_is_one_error_naming_the_file_it_hit(tmp_path):
  a, b = str(tmp_path / "a.npy"), str(tmp_path / "b.ply")
  with pytest.raises(files.DiskFull) as raised:
    with files.replacing_all([a, b]) as (partial_a, partial_b):
      for path in (partial_a, partial_b):
        with open(path, "w", encoding="utf-8") as f:
          f.write("x")
      raise OSError(errno.ENOSPC, "No space left on device")  # while writing b (no filename)
  message = str(raised.value)
  assert message.startswith(f"{b}: no space left on the device (") and " free there)" in message
  assert os.listdir(tmp_path) == []
  assert files.is_disk_full(RuntimeError("... SaveV2 ... ckpt-4_temp/part; No space left on "
                                         "device [Op:SaveV2]"))
  assert not files.is_disk_full(OSError(errno.EACCES, "Permission denied"))


def test_an_export_folder_is_replaced_whole_or_not_at_all(tmp_path):
  folder = tmp_path / "export"
  folder.mkdir()
  (folder / "saved_model.pb").write_text("step 400")
  (folder / "model_float32.tflite").write_text("step 400")
  with pytest.raises(RuntimeError):
    with export.replacing_export(str(folder)) as partial:
      os.makedirs(partial)
      (tmp_path / os.path.basename(partial) / "saved_model.pb").write_text("step 600")
      raise RuntimeError("interrupted")
  assert sorted(os.listdir(folder)) == ["model_float32.tflite", "saved_model.pb"]
  assert os.listdir(tmp_path) == ["export"]
  with export.replacing_export(str(folder)) as partial:  # what training's end does
    os.makedirs(partial)
    with open(os.path.join(partial, "saved_model.pb"), "w", encoding="utf-8") as f:
      f.write("step 600")
  assert os.listdir(folder) == ["saved_model.pb"]  # no LiteRT file of step 400 beside it
  assert (folder / "saved_model.pb").read_text() == "step 600"
  assert os.listdir(tmp_path) == ["export"]
  other = tmp_path / "photos"
  other.mkdir()
  (other / "holiday.jpg").write_text("x")
  with pytest.raises(export.ExportCheckError, match="photos: exists and is not an export"):
    with export.replacing_export(str(other)):
      pass


def test_a_small_file_is_flushed_before_its_name_points_at_it(tmp_path, monkeypatch):
  """Data to the disk, then the rename, then the folder: after a power loss the name holds the
  old file or the new one."""
  calls = []
  real_fsync, real_replace = os.fsync, os.replace
  monkeypatch.setattr(files.os, "fsync", lambda fd: calls.append(
      ("fsync", os.readlink(f"/proc/self/fd/{fd}"))) or real_fsync(fd))
  monkeypatch.setattr(files.os, "replace", lambda a, b: calls.append(
      ("replace", os.path.basename(b))) or real_replace(a, b))
  files.write_json(str(tmp_path / "state.json"), {"step": 3})
  assert json.loads((tmp_path / "state.json").read_text()) == {"step": 3}
  assert [c[0] for c in calls] == ["fsync", "replace", "fsync"]
  assert os.path.basename(calls[0][1]).startswith(".state.partial-")
  assert calls[1] == ("replace", "state.json") and calls[2] == ("fsync", str(tmp_path))
  assert os.listdir(tmp_path) == ["state.json"]


def test_writers_in_one_process_never_share_a_partial_name(tmp_path):
  names = {files.partial_path(str(tmp_path / "results.md")) for _ in range(100)}
  assert len(names) == 100


def _rewrite_forever(path):
  for turn in itertools.count():
    files.write_bytes(path, (b"a" if turn % 2 else b"b") * 2_000_000)


def test_a_writer_killed_mid_write_leaves_the_old_file_or_the_new_never_a_torn_one(tmp_path):
  path = str(tmp_path / "big.bin")
  files.write_bytes(path, b"a" * 2_000_000)
  context = multiprocessing.get_context("fork")  # files only: no TensorFlow in the child
  rng = np.random.default_rng(0)
  for _ in range(15):
    writer = context.Process(target=_rewrite_forever, args=(path,))
    writer.start()
    time.sleep(float(rng.uniform(0.01, 0.15)))
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    with open(path, "rb") as f:
      content = f.read()
    assert len(content) == 2_000_000 and content in (b"a" * 2_000_000, b"b" * 2_000_000)


class _FailingNetwork:
  """Depth 2 m everywhere, until frame `fail_at`, where it fails (a crash mid-clip)."""

  def __init__(self, fail_at=None):
    self.fail_at, self.calls = fail_at, 0

  def depth_at_image_size(self, images):
    if self.calls == self.fail_at:
      raise RuntimeError("the network failed mid-clip")
    self.calls += 1
    return np.full(images.shape[:3], 2.0, np.float32)


def test_a_depth_video_and_its_frames_are_complete_or_absent(tmp_path):
  from attn_depth.apps import video  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  clip = tmp_path / "clip"
  clip.mkdir()
  for index in range(4):
    Image.fromarray(np.full((32, 48, 3), 40 * index, np.uint8)).save(clip / f"f{index}.png")
  out = tmp_path / "out"
  first = video.predict_video(_FailingNetwork(), str(clip), str(out), print_fn=lambda _: None)
  assert first["frames"] == 4 and sorted(os.listdir(out)) == ["clip", "clip_depth.webm"]
  before = {name: (out / "clip" / name).read_bytes() for name in os.listdir(out / "clip")}
  video_before = (out / "clip_depth.webm").read_bytes()
  with pytest.raises(RuntimeError, match="mid-clip"):
    video.predict_video(_FailingNetwork(fail_at=2), str(clip), str(out), overwrite=True,
                        print_fn=lambda _: None)
  # The earlier clip's outputs are untouched, and nothing partial is left beside them.
  assert sorted(os.listdir(out)) == ["clip", "clip_depth.webm"]
  assert {name: (out / "clip" / name).read_bytes() for name in os.listdir(out / "clip")} == before
  assert (out / "clip_depth.webm").read_bytes() == video_before
