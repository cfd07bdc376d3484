"""The photo batch job: one line per failure, the rest go on."""

import os

import matplotlib
import numpy as np
import pytest
from PIL import Image

from attn_depth.apps import pointcloud
from attn_depth.apps import predict
from attn_depth.core import images as images_lib
from attn_depth.core import visualization
from attn_depth.models import network as network_lib
from tests.conftest import REPO_ROOT


class _ConstantNetwork:
  """Depth 2 m everywhere, at any image size."""

  def depth_at_image_size(self, images):
    return np.full(images.shape[:3], 2.0, np.float32)


def test_a_model_trained_only_on_procedural_rooms_is_said_so_once_from_its_provenance():
  network = network_lib.DepthNetwork(lambda images: images, (8, 8), "a run")
  warning = predict.training_data_warning(network.replace(trained_on="synthetic_rooms"))
  assert "trained only on procedural rooms (train.source = 'synthetic_rooms'" in warning
  assert "real photos are outside what it learned" in warning and "\n" not in warning
  for trained_on in ("nyu_tfds", "rgbd_files", None):  # real frames, or not recorded: silent
    assert predict.training_data_warning(network.replace(trained_on=trained_on)) is None


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


class _RampNetwork:
  """Depth from 1 m (left column) to 3 m (right column), at any image size."""

  def depth_at_image_size(self, images):
    height, width = images.shape[1:3]
    return np.broadcast_to(np.linspace(1.0, 3.0, width, dtype=np.float32),
                           (images.shape[0], height, width)).copy()


def test_pictures_match_the_photos_pixels_in_any_colour_map_or_grayscale(tmp_path):
  """The colour and gray pictures have the photo's size (they overlay it); the legend is its own
  file; near is bright in gray; the 16-bit PNG stays in millimetres."""
  Image.fromarray(np.full((30, 41, 3), 90, np.uint8)).save(tmp_path / "room.png")
  out = tmp_path / "out"
  result = predict.predict_files(_RampNetwork(), [str(tmp_path / "room.png")], str(out),
                                 outputs=("png16", "color", "legend", "gray"),
                                 print_fn=lambda line: None, colormap="magma")
  assert sorted(os.path.basename(p) for p in result["written"][str(tmp_path / "room.png")]) == [
      "room_depth_color.png", "room_depth_gray.png", "room_depth_legend.png", "room_depth_mm.png"]
  with Image.open(out / "room_depth_color.png") as color, \
       Image.open(out / "room_depth_gray.png") as gray, \
       Image.open(out / "room_depth_legend.png") as legend, \
       Image.open(out / "room_depth_mm.png") as millimetres:
    assert color.size == gray.size == (41, 30) and legend.size[0] == 41
    assert gray.mode == "L" and color.text["depth_colours"] == "magma"
    np.testing.assert_array_equal(np.asarray(gray)[7, [0, 20, 40]], [255, 128, 1])
    np.testing.assert_array_equal(np.asarray(color)[0, 0],
                                  matplotlib.colormaps["magma"](0.0, bytes=True)[:3])
    np.testing.assert_array_equal(np.asarray(millimetres)[0, [0, 20, 40]], [1000, 2000, 3000])


def test_an_unknown_colour_map_writes_nothing(tmp_path):
  Image.fromarray(np.full((30, 41, 3), 90, np.uint8)).save(tmp_path / "room.png")
  with pytest.raises(visualization.ColormapError, match="did you mean viridis"):
    predict.predict_files(_RampNetwork(), [str(tmp_path / "room.png")], str(tmp_path / "out"),
                          colormap="virdis")
  assert not os.path.exists(tmp_path / "out")


@pytest.mark.slow  # a Jupyter kernel
def test_the_photo_notebook_writes_the_depth_point_cloud_and_bokeh_it_shows(run_dir, tmp_path):
  """docs/your_photo.ipynb, executed cell by cell in a real kernel on a real photo (scikit-image's
  coffee cup) with the tiny run in place of the quickstart: the 16-bit PNG holds the predicted
  depth in millimetres, the point cloud is that depth back-projected with the photo's colours,
  the bokeh picture is the photo's size, and the figure is shown."""
  import nbclient  # pylint: disable=import-outside-toplevel
  import nbformat  # pylint: disable=import-outside-toplevel
  import skimage.data  # pylint: disable=import-outside-toplevel
  import attn_depth  # pylint: disable=import-outside-toplevel
  photo = tmp_path / "coffee.png"
  rgb = skimage.data.coffee()
  Image.fromarray(rgb).save(photo)
  notebook = nbformat.read(os.path.join(REPO_ROOT, "docs", "your_photo.ipynb"), 4)
  settings = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
  assert len(settings) == 1
  out = tmp_path / "out"
  settings[0].source = f"PHOTO = {str(photo)!r}\nMODEL = {run_dir!r}\nOUTPUT = {str(out)!r}"
  nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={
      "metadata": {"path": os.path.join(REPO_ROOT, "docs")}}).execute()
  outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
  assert not [output for output in outputs if output.output_type == "error"]
  shown = "".join(output.get("text", "") for output in outputs)
  assert "trained on: synthetic_rooms" in shown and "coffee.png: 600x400, depth " in shown
  assert any("image/png" in output.get("data", {}) for output in outputs)  # the figure

  depth = attn_depth.DepthEstimator.from_path(run_dir).predict(rgb)["depths"][0, ..., 0]
  with Image.open(out / "coffee_depth_mm.png") as png:
    assert png.mode == "I;16" and png.size == (600, 400)
  in_range = depth < 65.535  # a one-step network predicts anything; the PNG saturates there
  np.testing.assert_allclose(images_lib.load_depth_png16(out / "coffee_depth_mm.png")[in_range],
                             depth[in_range], atol=0.0005 + 1e-5)
  points, colours = pointcloud.read_ply(out / "coffee.ply")
  np.testing.assert_allclose(points[:, 2], depth.reshape(-1), rtol=1e-5)
  np.testing.assert_array_equal(colours, rgb.reshape(-1, 3))
  with Image.open(out / "coffee_bokeh.png") as bokeh:
    assert bokeh.size == (600, 400) and bokeh.mode == "RGB"
