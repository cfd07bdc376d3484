"""Reading users' photos in every common form; depth PNGs in millimetres."""

import matplotlib
import numpy as np
import pytest
from PIL import Image

from attn_depth.core import images
from attn_depth.core import visualization
from attn_depth.core.errors import UserError


def test_grayscale_rgba_16bit_and_exif_orientation_become_upright_rgb(tmp_path):
  rgb = np.zeros((20, 30, 3), np.uint8)
  rgb[:, :15] = (200, 100, 50)
  Image.fromarray(rgb[..., 0]).save(tmp_path / "gray.png")
  rgba = np.dstack([rgb, np.full((20, 30), 255, np.uint8)])
  rgba[:, 15:, 3] = 0  # transparent: composited on white
  Image.fromarray(rgba).save(tmp_path / "rgba.png")
  Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(tmp_path / "deep.png")
  rotated = Image.fromarray(rgb)
  exif = rotated.getexif()
  exif[0x0112] = 6  # "rotate 90 CW to display"
  rotated.save(tmp_path / "phone.jpg", exif=exif, quality=100)

  np.testing.assert_array_equal(images.read_rgb(tmp_path / "gray.png")[0, 0], [200] * 3)
  read = images.read_rgb(tmp_path / "rgba.png")
  np.testing.assert_array_equal(read[0, 0], [200, 100, 50])
  np.testing.assert_array_equal(read[0, -1], [255, 255, 255])
  np.testing.assert_array_equal(images.read_rgb(tmp_path / "deep.png")[0, 0], [200] * 3)
  assert images.read_rgb(tmp_path / "phone.jpg").shape == (30, 20, 3)


def test_bad_files_raise_one_clear_error(tmp_path):
  (tmp_path / "notes.jpg").write_text("not an image")
  for path, expected in [(tmp_path / "notes.jpg", "not a readable image"),
                         (tmp_path / "missing.png", "not a readable image")]:
    try:
      images.read_rgb(path)
    except images.ImageReadError as error:
      assert str(error).startswith(str(path)) and expected in str(error)
      assert "\n" not in str(error)
    else:
      raise AssertionError(f"{path} was read")


def test_a_decompression_bomb_is_refused_in_one_line_before_it_is_decoded(tmp_path):
  """A 4 kB PNG whose header claims 30000x30000 pixels (2.7 GB decoded) is refused from its
  header; a large real photo below PIL's limit is read without PIL's warning."""
  import struct  # pylint: disable=import-outside-toplevel
  import warnings  # pylint: disable=import-outside-toplevel
  import zlib  # pylint: disable=import-outside-toplevel

  def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

  bomb = tmp_path / "bomb.png"
  bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8,
                                                                        2, 0, 0, 0))
                   + chunk(b"IDAT", zlib.compress(b"\0" * 4000)) + chunk(b"IEND", b""))
  with pytest.raises(images.ImageReadError, match=r"bomb.png: too large to read .* megapixels"):
    images.read_rgb(str(bomb))
  large = tmp_path / "large.png"
  Image.new("RGB", (10_000, 9_000), (10, 20, 30)).save(large)  # 90 MP: PIL warns above 89.5
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert images.read_rgb(str(large)).shape == (9_000, 10_000, 3)


def test_inputs_expand_files_globs_and_folders(tmp_path):
  for name in ("b.png", "a.jpg", "c.txt"):
    (tmp_path / name).write_bytes(b"")
  paths, problems = images.expand_inputs([str(tmp_path), str(tmp_path / "*.png"),
                                          str(tmp_path / "none*.png"), "missing.jpg"])
  assert [p.rsplit("/", 1)[-1] for p in paths] == ["a.jpg", "b.png"]  # no duplicates
  assert len(problems) == 2 and "matches no file" in problems[0]


def test_depth_png16_holds_millimetres(tmp_path):
  depth = np.array([[0.0, 1.2344], [9.9996, 70.0]], np.float32)
  images.save_depth_png16(tmp_path / "d.png", depth)
  with Image.open(tmp_path / "d.png") as png:
    assert png.mode.startswith("I")
    raw = np.asarray(png)
  np.testing.assert_array_equal(raw, [[0, 1234], [10000, 65535]])  # 70 m saturates
  np.testing.assert_allclose(images.load_depth_png16(tmp_path / "d.png")[0, 1], 1.234)


def test_colour_depth_is_pixel_aligned_and_its_legend_is_separate(tmp_path):
  """The colour picture has the photo's pixels exactly (no strip below it); its scale is a
  separate legend image of the same width, and travels in the PNG's text chunks."""
  depth = np.linspace(1.0, 5.0, 48 * 64, dtype=np.float32).reshape(48, 64)
  depth[0, 0] = 0.0  # no depth: black
  picture, depth_range = images.depth_picture(depth, "viridis")
  assert picture.shape == (48, 64, 3) and picture.dtype == np.uint8
  assert depth_range == (float(depth[0, 1]), 5.0)
  np.testing.assert_array_equal(picture[0, 0], [0, 0, 0])
  np.testing.assert_array_equal(picture[-1, -1], matplotlib.colormaps["viridis"](1.0, bytes=True)[:3])
  images.save_depth_picture(tmp_path / "c.png", picture, depth_range, "viridis")
  with Image.open(tmp_path / "c.png") as png:
    assert png.size == (64, 48) and png.text["depth_colours"] == "viridis"
    assert float(png.text["depth_max_m"]) == 5.0
    np.testing.assert_array_equal(np.asarray(png), picture)
  legend = images.depth_legend(1.0, 5.0, 64, "viridis")
  assert legend.shape[1] == 64 and legend.shape[0] < 48 and legend.dtype == np.uint8
  np.testing.assert_array_equal(legend[2, -1], matplotlib.colormaps["viridis"](1.0, bytes=True)[:3])


def test_grayscale_depth_is_8_bit_near_bright():
  """255 at the nearest depth, 1 at the farthest, linear in metres; 0 where there is none."""
  depth = np.array([[1.0, 2.0, 3.0], [0.0, np.nan, 1.5]], np.float32)
  picture, depth_range = images.depth_picture(depth, grayscale=True)
  assert depth_range == (1.0, 3.0) and picture.dtype == np.uint8 and picture.shape == (2, 3)
  np.testing.assert_array_equal(picture, [[255, 128, 1], [0, 0, 192]])  # 255 - 254 * 0.25 = 191.5


def test_a_colour_map_matplotlib_lacks_is_one_line_with_suggestions():
  with pytest.raises(visualization.ColormapError) as error:
    visualization.check_colormap("virdis")
  assert "\n" not in str(error.value) and "'virdis'" in str(error.value)
  assert "did you mean viridis" in str(error.value)
  assert isinstance(error.value, UserError)  # the tools' one-line errors
  assert visualization.check_colormap("magma_r") == "magma_r"
  with pytest.raises(visualization.ColormapError, match="for example turbo"):
    visualization.colorize(np.ones((2, 2)), colormap="xyzzy")


def _oriented_photo(tmp_path, extension, **save_args):
  """A photo stored sideways with EXIF orientation 6 ("rotate 90 degrees clockwise to show"):
  left half orange, right half black, 20x30 as stored."""
  stored = np.zeros((20, 30, 3), np.uint8)
  stored[:, :15] = (200, 100, 50)
  image = Image.fromarray(stored)
  exif = image.getexif()
  exif[0x0112] = 6
  path = tmp_path / f"phone{extension}"
  image.save(path, exif=exif.tobytes(), **save_args)
  return path, np.rot90(stored, -1)  # upright: 30 rows, 20 columns, the orange half on top


@pytest.mark.parametrize("extension,save_args,tolerance", [
    (".jpg", {"quality": 100}, 8), (".png", {}, 0), (".webp", {"lossless": True}, 0),
    (".tif", {}, 0), (".heic", {"quality": -1, "chroma": 444}, 8)])
def test_exif_orientation_is_applied_once_in_every_format(tmp_path, extension, save_args,
                                                          tolerance):
  """As a phone writes them; a HEIC from pillow-heif carries the rotation in the HEIF header
  (irot, which libheif applies) and in EXIF, as an iPhone's does: rotated once, not twice."""
  assert images.heif_support()
  path, upright = _oriented_photo(tmp_path, extension, **save_args)
  read = images.read_rgb(path)
  assert read.shape == (30, 20, 3)
  away_from_the_edge = np.r_[0:12, 18:30]  # lossy codecs ring at the orange/black edge
  np.testing.assert_allclose(read[away_from_the_edge].astype(int),
                             upright[away_from_the_edge].astype(int), atol=tolerance)
  assert str(path).lower().endswith(images.IMAGE_EXTENSIONS)


def test_header_check_refuses_what_read_rgb_would_before_decoding(tmp_path):
  (tmp_path / "notes.heic").write_text("not an image")
  Image.new("RGB", (4, 30)).save(tmp_path / "thin.png")
  Image.new("RGB", (40, 30)).save(tmp_path / "fine.png")
  for name, expected in [("notes.heic", "not a readable image"), ("thin.png", "4x30 pixels")]:
    with pytest.raises(images.ImageReadError, match=expected) as error:
      images.check_image(tmp_path / name)
    assert str(error.value).startswith(str(tmp_path / name)) and "\n" not in str(error.value)
  images.check_image(tmp_path / "fine.png")


def test_depth_colours_are_matplotlibs_exact_map():
  """Every depth picture uses matplotlib's turbo (the figures' map): near blue, far red,
  invalid black, the ends of the range at the ends of the map."""
  depth = np.array([[1.0, 2.0, 3.0, 0.0], [1.5, 2.5, np.nan, 3.0]], np.float32)
  rgb = visualization.colorize(depth, 1.0, 3.0)
  turbo = matplotlib.colormaps["turbo"]
  for (row, col), value in np.ndenumerate(depth):
    if np.isfinite(value) and value > 0:
      expected = np.asarray(turbo((value - 1.0) / 2.0, bytes=True)[:3])
      np.testing.assert_array_equal(rgb[row, col], expected)
  np.testing.assert_array_equal(rgb[0, 3], [0, 0, 0])
  np.testing.assert_array_equal(rgb[1, 2], [0, 0, 0])
  assert rgb[0, 0, 2] > rgb[0, 0, 0] and rgb[0, 2, 0] > rgb[0, 2, 2]  # near blue, far red
