"""The photo batch job: one line per failure, the rest go on."""

import os

import numpy as np
from PIL import Image

from attn_depth.apps import predict


class _ConstantNetwork:
  """Depth 2 m everywhere, at any image size."""

  def depth_at_image_size(self, images):
    return np.full(images.shape[:3], 2.0, np.float32)


def test_a_photo_failing_in_an_output_step_is_skipped_and_the_rest_go_on(tmp_path):
  photos = tmp_path / "photos"
  photos.mkdir()
  for name in ("a.png", "b.png", "c.png"):
    Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(photos / name)
  out = tmp_path / "out"
  out.mkdir()
  os.mkdir(out / "b.ply")  # b's point cloud cannot be written: a folder is in the way
  lines = []
  result = predict.predict_files(_ConstantNetwork(), [str(photos)], str(out),
                                 outputs=("npy", "ply"), print_fn=lines.append, overwrite=True)
  assert sorted(os.path.basename(p) for p in result["written"]) == ["a.png", "c.png"]
  failed = [line for line in lines if line.startswith("skipped")]
  assert len(failed) == 1 and "b.png" in failed[0] and "\n" not in failed[0]
  assert os.path.isfile(out / "c.ply") and os.path.isfile(out / "c_depth.npy")


def test_outputs_of_an_earlier_run_are_kept_unless_overwrite(tmp_path):
  photos = tmp_path / "photos"
  photos.mkdir()
  Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(photos / "a.png")
  out, lines = tmp_path / "out", []
  for _ in range(2):
    predict.predict_files(_ConstantNetwork(), [str(photos)], str(out), outputs=("npy",),
                          print_fn=lines.append)
  assert sorted(os.listdir(out)) == ["a_2_depth.npy", "a_depth.npy"]
  assert "written as a_2.*" in lines[-1]
  predict.predict_files(_ConstantNetwork(), [str(photos)], str(out), outputs=("npy",),
                        print_fn=lines.append, overwrite=True)
  assert sorted(os.listdir(out)) == ["a_2_depth.npy", "a_depth.npy"]


def test_a_run_that_writes_nothing_leaves_no_output_folder(tmp_path):
  broken = tmp_path / "broken.jpg"
  broken.write_bytes(b"not a jpeg")
  lines = []
  result = predict.predict_files(_ConstantNetwork(), [str(broken)], str(tmp_path / "out"),
                                 print_fn=lines.append)
  assert not result["written"] and len(result["failed"]) == 1
  assert lines and lines[0].startswith(f"skipped {broken}")
  assert not os.path.exists(tmp_path / "out")
