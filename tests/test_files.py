"""Files written beside their names and renamed into place (attn_depth.files), and export
folders replaced whole."""

import errno
import os

import pytest

from attn_depth import export
from attn_depth import files


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
