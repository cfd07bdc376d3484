"""SUN RGB-D in its own layout and your own RGB-D files: decoding against hand-computed values,
frames brought to NYU's camera, clear errors, training through gin alone."""

import csv
import logging
import os

import gin
import numpy as np
import pytest
from PIL import Image

from attn_depth import config
from attn_depth import data
from attn_depth import training
from attn_depth.data import camera_fit
from attn_depth.data import preprocessing
from attn_depth.data import rgbd_files
from attn_depth.data import sunrgbd
from attn_depth.data import synthetic_rooms
from attn_depth.data.frames import NYU_FX
from tests.training import tiny

# A Kinect v1 frame of SUN RGB-D is NYU's 480x640 frame cropped to 427x561.
KV1_CROP = (slice(44, 471), slice(40, 601))


def test_sun_bit_rotation_against_the_toolbox_formula():
  # 1.234 m = 1234 mm = 0b0000010011010010; rotated left by 3 bits: 9872.
  assert sunrgbd.png_from_depth(np.array([1.234]))[0] == 9872
  # 10 m = 10000 mm: its top bits wrap around: (10000 << 3) & 0xFFFF | 10000 >> 13 = 14465.
  assert sunrgbd.png_from_depth(np.array([10.0]))[0] == 14465
  stored = np.array([[9872, 14465, 0]], np.uint16)
  np.testing.assert_allclose(sunrgbd.depth_from_png(stored), [[1.234, 10.0, 0.0]], rtol=1e-6)
  # The toolbox: bitor(bitshift(d, -3), bitshift(d, 16 - 3)) on uint16 (bits shifted out drop).
  d = stored.astype(np.uint32)
  toolbox = ((d >> 3) | ((d << 13) & 0xFFFF)) / 1000.0
  np.testing.assert_allclose(sunrgbd.depth_from_png(stored), toolbox, rtol=1e-6)


def _write_sun_frame(folder, image, depth, fx, cx, cy, name="frame"):
  for sub in ("image", "depth", "depth_bfx"):
    os.makedirs(os.path.join(folder, sub), exist_ok=True)
  Image.fromarray(image).save(os.path.join(folder, "image", f"{name}.jpg"), quality=95)
  Image.fromarray(sunrgbd.png_from_depth(depth)).save(os.path.join(folder, "depth", f"{name}.png"))
  filled = np.where(depth > 0, depth, 2.0)
  Image.fromarray(sunrgbd.png_from_depth(filled)).save(
      os.path.join(folder, "depth_bfx", f"{name}.png"))
  with open(os.path.join(folder, "intrinsics.txt"), "w", encoding="utf-8") as f:
    f.write(f"{fx} 0 {cx}\n0 {fx} {cy}\n0 0 1\n")


@pytest.fixture
def sun_root(tmp_path):
  """SUNRGBD/kv1/b3dodata (two Kinect v1 frames, one with holes), kv1/NYUdata (one), and
  kv2/kinect2data (one 530x730 frame with fx 529.5)."""
  root = tmp_path / "SUNRGBD"
  for index in range(2):
    image, depth = synthetic_rooms.render(synthetic_rooms.scene_seed(40, index))
    depth = depth.copy()
    if index == 1:
      depth[100:140, 200:260] = 0  # a hole
    _write_sun_frame(str(root / "kv1" / "b3dodata" / f"img_{index:04d}"), image[KV1_CROP],
                     depth[KV1_CROP], NYU_FX, 284.6, 209.7)
  image, depth = synthetic_rooms.render(synthetic_rooms.scene_seed(41, 0))
  _write_sun_frame(str(root / "kv1" / "NYUdata" / "NYU0001"), image[KV1_CROP], depth[KV1_CROP],
                   NYU_FX, 284.6, 209.7)
  big_image = np.full((530, 730, 3), 90, np.uint8)
  big_depth = np.full((530, 730), 3.0, np.float32)
  _write_sun_frame(str(root / "kv2" / "kinect2data" / "000001_2014"), big_image, big_depth,
                   529.5, 365.0, 265.0)
  return str(tmp_path)


def test_sun_kinect_v1_frames_are_padded_to_nyu_size_unscaled(sun_root):
  table = sunrgbd.sunrgbd_table(sun_root, ("b3dodata",))
  frames = list(table.frames().as_numpy_iterator())
  assert len(table) == 2 and len(frames) == 2
  _, original = synthetic_rooms.render(synthetic_rooms.scene_seed(40, 0))
  depth = frames[0]["depth"]
  assert depth.shape == (480, 640) and frames[0]["image"].shape == (480, 640, 3)
  # Same focal length as NYU: no resampling, the 427x561 frame centred (rows 26.., cols 39..).
  np.testing.assert_allclose(depth[26:453, 39:600], original[KV1_CROP], atol=1e-3)  # mm steps
  assert not depth[:26].any() and not depth[:, :39].any() and not depth[453:].any()
  # The hole (rows 100-139, cols 200-259 of the 480x640 render) stays 0 where it lands.
  assert not frames[1]["depth"][26 + 100 - 44:26 + 140 - 44, 39 + 200 - 40:39 + 260 - 40].any()
  # The paper's crop (55 rows, 74 cols of 480x640 on each side) removes all of the padding.
  assert 55 > 26 and 74 > 39
  filled = list(sunrgbd.sunrgbd_table(sun_root, ("b3dodata",), "depth_bfx").frames()
                .as_numpy_iterator())
  assert filled[1]["depth"][26 + 120 - 44, 39 + 230 - 40] == pytest.approx(2.0)


def test_sun_other_cameras_are_rescaled_to_nyus_focal_length(sun_root):
  frames = list(sunrgbd.sunrgbd_table(sun_root, ("kv2/kinect2data",)).frames()
                .as_numpy_iterator())
  scale = NYU_FX / 529.5  # 530x730 -> 519x715, then centre-cropped to 480x640
  assert camera_fit.scale_to_nyu(530, 730, 529.5) == pytest.approx(scale)
  assert frames[0]["depth"].shape == (480, 640) and np.all(frames[0]["depth"] == 3.0)


def test_sun_subsets_by_name_and_clear_errors(sun_root, tmp_path):
  assert sunrgbd.resolve_sensors(["kv1"]) == ["kv1/b3dodata", "kv1/NYUdata"]
  assert len(sunrgbd.find_frames(sun_root, ["kv1"])) == 3
  with pytest.raises(data.DataError, match="unknown SUN RGB-D subset 'kv3'"):
    sunrgbd.find_frames(sun_root, ["kv3"])
  with pytest.raises(data.DataError, match="does not hold SUN RGB-D's realsense/lg"):
    sunrgbd.find_frames(sun_root, ["realsense/lg"])
  with pytest.raises(data.DataError, match="no such folder"):
    sunrgbd.find_frames(str(tmp_path / "elsewhere"))


def test_sun_frame_without_intrinsics_is_skipped_with_its_folder_named(sun_root, caplog):
  os.remove(os.path.join(sun_root, "SUNRGBD", "kv1", "b3dodata", "img_0000", "intrinsics.txt"))
  with caplog.at_level(logging.WARNING):
    frames = list(sunrgbd.sunrgbd_table(sun_root, ("b3dodata",)).frames().as_numpy_iterator())
  assert len(frames) == 1 and "img_0000/intrinsics.txt: unreadable" in caplog.text


def test_sun_is_a_test_source_of_the_pipeline(sun_root):
  gin.parse_config([f"sunrgbd_source.path = '{sun_root}'"])
  assert data.count_frames("sunrgbd", "test") == 2
  with pytest.raises(data.DataError, match="test-only source"):
    data.count_frames("sunrgbd", "train")


def _write_own(folder, count, size=(240, 320), encoding="png"):
  rows = []
  for index in range(count):
    image = np.full(size + (3,), 40 * index, np.uint8)
    depth = np.full(size, 1.5 + index, np.float32)
    depth[0, 0] = 0  # one pixel without measurement
    name = f"{index:03d}"
    os.makedirs(os.path.join(folder, "rgb"), exist_ok=True)
    os.makedirs(os.path.join(folder, "depth"), exist_ok=True)
    Image.fromarray(image).save(os.path.join(folder, "rgb", f"{name}.png"))
    depth_path = os.path.join(folder, "depth", f"{name}.{encoding}")
    if encoding == "png":
      Image.fromarray(np.round(depth * 1000).astype(np.uint16)).save(depth_path)
    elif encoding == "npy":
      np.save(depth_path, depth)
    else:
      import OpenEXR  # pylint: disable=import-outside-toplevel
      OpenEXR.File({"type": OpenEXR.scanlineimage}, {"Z": depth}).write(depth_path)
    rows.append((f"rgb/{name}.png", f"depth/{name}.{encoding}"))
  return rows


@pytest.mark.parametrize("encoding", ["png", "npy", "exr"])
def test_own_frames_in_each_encoding_come_out_in_metres_at_nyu_size(tmp_path, encoding):
  _write_own(str(tmp_path), 2, encoding=encoding)
  frames = list(rgbd_files.rgbd_files_table(str(tmp_path), encoding).frames()
                .as_numpy_iterator())
  # 240x320 without a focal length: scaled x2 to cover 480x640 (nearest for depth).
  assert frames[1]["depth"].shape == (480, 640)
  assert frames[1]["depth"][100, 100] == pytest.approx(2.5)
  assert frames[0]["depth"][0:2, 0:2].max() == 0  # the missing measurement, now 2x2 pixels
  assert frames[1]["image"][100, 100, 0] == 40


def test_own_frames_from_a_csv_with_fx_and_a_scale_factor(tmp_path):
  rows = _write_own(str(tmp_path), 2)
  with open(tmp_path / "list.csv", "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["rgb", "depth", "fx"])
    writer.writerow(list(rows[0]) + [NYU_FX / 2])  # half NYU's focal length: scaled x2
    writer.writerow(list(rows[1]) + [NYU_FX])  # NYU's: kept, padded around
  # TUM RGB-D's 16-bit PNGs hold depth x 5000: read ours (x 1000) with scale 1/5000.
  frames = list(rgbd_files.rgbd_files_table(str(tmp_path / "list.csv"), "png", 1 / 5000)
                .frames().as_numpy_iterator())
  assert frames[0]["depth"][240, 320] == pytest.approx(1.5 / 5, rel=1e-4)
  assert np.count_nonzero(frames[1]["depth"]) == 240 * 320 - 1  # padded, not scaled
  assert frames[1]["depth"][200, 300] == pytest.approx(2.5 / 5, rel=1e-4)
  assert frames[1]["depth"][120, 160] == 0 and frames[1]["depth"][119, 200] == 0  # its hole, padding


def test_own_frames_errors_name_the_file(tmp_path):
  _write_own(str(tmp_path), 1)
  os.remove(tmp_path / "depth" / "000.png")
  with pytest.raises(data.DataError, match="without a partner in rgb/ and depth/"):
    rgbd_files.list_pairs(str(tmp_path))
  (tmp_path / "bad.csv").write_text("image,depthmap\na.png,b.png\n")
  with pytest.raises(data.DataError, match="bad.csv: expected a header row 'rgb,depth'"):
    rgbd_files.list_pairs(str(tmp_path / "bad.csv"))
  with pytest.raises(data.DataError, match="depth_encoding must be one of"):
    rgbd_files.rgbd_files_table(str(tmp_path), "tiff")


@pytest.mark.slow
def test_training_on_own_frames_through_gin_alone(tmp_path):
  rgbd_files.export_rooms(str(tmp_path / "mine"), num_train=3, num_test=2, seed=5)
  assert os.path.isfile(tmp_path / "mine" / "train.csv")
  config.parse_gin(["gin/base.gin"], tiny.TINY_MODEL + tiny.tiny_training(total_steps=2) + [
      "train.source = 'rgbd_files'",
      f"rgbd_files_source.train = '{tmp_path / 'mine' / 'train.csv'}'",
      f"rgbd_files_source.test = '{tmp_path / 'mine' / 'test'}'",
      "train.final_eval = True",
  ], finalize=False)
  result = training.train(str(tmp_path / "run"))
  assert result["step"] == 2 and result["eval"]["images"] == 2
  gin.clear_config()


def test_b3do_frames_with_their_own_focal_length_are_resampled_to_nyus(tmp_path):
  """Real B3DO frames say fx ~ 520.5 px in intrinsics.txt, not NYU's 518.86: the 427x561 frame is
  resampled by 518.86 / 520.5 (to 426x559, nearest for depth: only measured values) and centred;
  its padding still lies outside the paper's crop."""
  image, depth = synthetic_rooms.render(synthetic_rooms.scene_seed(40, 3))
  _write_sun_frame(str(tmp_path / "SUNRGBD" / "kv1" / "b3dodata" / "img_0007"), image[KV1_CROP],
                   depth[KV1_CROP], 520.5, 284.6, 209.7)
  frame = next(sunrgbd.sunrgbd_table(str(tmp_path), ("b3dodata",)).frames().as_numpy_iterator())
  scale = NYU_FX / 520.5
  assert camera_fit.scale_to_nyu(427, 561, 520.5) == pytest.approx(scale) and scale < 0.999
  rows, cols = np.nonzero(frame["depth"])
  assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (27, 27 + 426, 40, 40 + 559)
  stored = sunrgbd.depth_from_png(sunrgbd.png_from_depth(depth[KV1_CROP]))
  assert set(np.unique(frame["depth"][27:453, 40:599])) <= set(np.unique(stored))
  # The paper protocol's crop (frame -> 312x416 -> centre 240x320) holds no padding: every
  # ground-truth pixel it scores is a measured one.
  scored = preprocessing.resize_and_crop_depth(frame["depth"], preprocessing.PAPER_RESIZE,
                                               preprocessing.PAPER_CROP).numpy()
  assert scored.shape == (240, 320, 1) and (scored > 0).all()
