"""NYU Depth V2 readers on small files in the real layouts."""

import io
import logging
import os
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from attn_depth import config
from attn_depth import data
from attn_depth.data import densedepth
from attn_depth.data import nyu_tfds
from tests.data import nyu_files


# ---- labeled .mat + splits.mat -----------------------------------------------------------------

@pytest.fixture
def labeled(tmp_path):
  return (nyu_files.write_labeled_mat(str(tmp_path / "nyu_depth_v2_labeled.mat")),
          nyu_files.write_splits_mat(str(tmp_path / "splits.mat")))


def test_labeled_test_split_in_order_and_upright(labeled):
  frames = list(data.nyu_labeled_dataset(*labeled, split="test").as_numpy_iterator())
  assert len(frames) == 2
  for frame, index in zip(frames, (1, 3)):  # testNdxs 2, 4 (1-based)
    image, depth, _ = nyu_files.frame(index)
    assert frame["image"].shape == (480, 640, 3) and frame["image"].dtype == np.uint8
    np.testing.assert_array_equal(frame["image"], image)
    np.testing.assert_array_equal(frame["depth"], depth)


def test_labeled_raw_depth_keeps_holes(labeled):
  frame = next(data.nyu_labeled_dataset(*labeled, split="train", depth_key="rawDepths")
               .as_numpy_iterator())
  assert (frame["depth"][:10, :20] == 0).all() and (frame["depth"][10:, 20:] > 0).all()
  np.testing.assert_array_equal(frame["image"], nyu_files.frame(0)[0])


def test_labeled_missing_file_names_it(tmp_path, labeled):
  with pytest.raises(data.DataError, match="nowhere.mat: no such file"):
    data.nyu_labeled_dataset(str(tmp_path / "nowhere.mat"), labeled[1], "test")


def test_labeled_mat_without_images_names_it(tmp_path, labeled):
  path = nyu_files.write_labeled_mat(str(tmp_path / "broken.mat"), keys=("depths",))
  with pytest.raises(data.DataError, match=r"broken.mat: no dataset 'images'"):
    data.nyu_labeled_dataset(path, labeled[1], "test")


def test_splits_without_test_indices_names_it(tmp_path, labeled):
  path = nyu_files.write_splits_mat(str(tmp_path / "splits_train_only.mat"), keys=("trainNdxs",))
  with pytest.raises(data.DataError, match=r"splits_train_only.mat: no variable 'testNdxs'"):
    data.nyu_labeled_dataset(labeled[0], path, "test")


def test_labeled_wrong_frame_shape_names_file_and_expectation(tmp_path, labeled):
  import h5py  # pylint: disable=import-outside-toplevel
  path = str(tmp_path / "small.mat")
  with h5py.File(path, "w") as f:
    f.create_dataset("images", data=np.zeros((2, 3, 320, 240), np.uint8))
    f.create_dataset("depths", data=np.zeros((2, 320, 240), np.float32))
  with pytest.raises(data.DataError, match=r"small.mat: 'images' has shape \(2, 3, 320, 240\), "
                                           r"expected \[N, 3, 640, 480\]"):
    data.nyu_labeled_dataset(path, labeled[1], "test")


def test_split_indices_beyond_the_file(tmp_path, labeled):
  splits = nyu_files.write_splits_mat(str(tmp_path / "big_splits.mat"), test=(2, 9))
  with pytest.raises(data.DataError, match="indices run to 9"):
    data.nyu_labeled_dataset(labeled[0], splits, "test")


# ---- DenseDepth's nyu_data.zip -----------------------------------------------------------------

def _png(array):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="PNG")
  return buffer.getvalue()


def _jpg(array):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="JPEG", quality=95)
  return buffer.getvalue()


def _densedepth_members():
  image0, _, _ = nyu_files.frame(0)
  image1, _, _ = nyu_files.frame(1)
  train_depth = np.tile(np.arange(640, dtype=np.uint16) % 256, (480, 1)).astype(np.uint8)
  test_depth = np.full((480, 640), 2345, np.uint16)  # millimetres
  return {
      "data/nyu2_train.csv": ("data/nyu2_train/living_room_0038_out/37.jpg,"
                              "data/nyu2_train/living_room_0038_out/37.png\n"
                              "data/nyu2_train/living_room_0038_out/38.jpg,"
                              "data/nyu2_train/living_room_0038_out/38.png\n"
                              "data/nyu2_train/kitchen_0001_out/1.jpg,"
                              "data/nyu2_train/kitchen_0001_out/1.png\n").encode(),
      "data/nyu2_train/living_room_0038_out/37.jpg": _jpg(image0),
      "data/nyu2_train/living_room_0038_out/37.png": _png(train_depth),
      "data/nyu2_train/living_room_0038_out/38.jpg": b"\xff\xd8\xff truncated",
      "data/nyu2_train/living_room_0038_out/38.png": _png(train_depth),
      "data/nyu2_train/kitchen_0001_out/1.jpg": _jpg(image1[:240]),  # wrong size
      "data/nyu2_train/kitchen_0001_out/1.png": _png(train_depth[:240]),
      "data/nyu2_test.csv": b"data/nyu2_test/00000_colors.png,data/nyu2_test/00000_depth.png\n",
      "data/nyu2_test/00000_colors.png": _png(image1),
      "data/nyu2_test/00000_depth.png": _png(test_depth),
  }


@pytest.fixture(params=["zip", "folder"])
def densedepth_path(request, tmp_path):
  members = _densedepth_members()
  if request.param == "zip":
    path = tmp_path / "nyu_data.zip"
    with zipfile.ZipFile(path, "w") as archive:
      for name, content in members.items():
        archive.writestr(name, content)
    return str(path)
  for name, content in members.items():
    os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
    (tmp_path / name).write_bytes(content)
  return str(tmp_path)


def test_densedepth_train_scale_and_bad_frames_skipped(densedepth_path, caplog):
  with caplog.at_level(logging.WARNING):
    frames = list(data.densedepth_dataset(densedepth_path, "train").as_numpy_iterator())
  assert len(frames) == 1  # the truncated and the wrong-size frame are skipped
  expected_depth = np.tile(np.arange(640) % 256, (480, 1)) * 10.0 / 255.0
  np.testing.assert_allclose(frames[0]["depth"], expected_depth, rtol=1e-6)
  assert np.abs(frames[0]["image"].astype(int) - nyu_files.frame(0)[0]).mean() < 3  # JPEG
  log = caplog.text
  assert "38.jpg" in log and "1.jpg" in log and "expected (480, 640, 3)" in log
  assert log.count("skipped a frame") == 2


def test_densedepth_scenes_in_capture_order(densedepth_path):
  from attn_depth.data import densedepth  # pylint: disable=import-outside-toplevel
  # CSV rows: living_room 37, living_room 38, kitchen 1 (rows 0, 1, 2).
  assert densedepth.scene_sequences(densedepth_path, "train") == {
      "kitchen_0001_out": [2], "living_room_0038_out": [0, 1]}


def test_densedepth_test_split_is_millimetres(densedepth_path):
  frame = next(data.densedepth_dataset(densedepth_path, "test").as_numpy_iterator())
  np.testing.assert_allclose(frame["depth"], 2.345, rtol=1e-6)
  np.testing.assert_array_equal(frame["image"], nyu_files.frame(1)[0])


def test_densedepth_bad_paths(tmp_path):
  with pytest.raises(data.DataError, match="missing.zip: no such file"):
    data.densedepth_dataset(str(tmp_path / "missing.zip"))
  with pytest.raises(data.DataError, match="no data/nyu2_train.csv"):
    data.densedepth_dataset(str(tmp_path))


def test_depth_png_scales():
  assert densedepth.depth_from_png(np.array([[255]], np.uint8))[0, 0] == pytest.approx(10.0)
  assert densedepth.depth_from_png(np.array([[1500]], np.uint16))[0, 0] == pytest.approx(1.5)


# ---- tensorflow-datasets nyu_depth_v2 ----------------------------------------------------------

def test_tfds_builder_reads_the_archive_layout(tmp_path, monkeypatch):
  """The real tfds builder prepares a tiny archive folder (only the download is patched), and
  the train subset is a deterministic prefix of tfds' hash-shuffled order."""
  archive = tmp_path / "extracted"
  written = nyu_files.write_fastdepth_archive(
      str(archive), {"train": {"bedroom_0001": [0, 1], "office_0003": [2]},
                     "val": {"official": [5]}})
  monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract",
                      lambda self, url: str(archive))
  data_dir = str(tmp_path / "tfds")
  with pytest.raises(data.DataError, match="not prepared"):
    nyu_tfds.nyu_tfds_dataset("train", data_dir=data_dir)

  train = list(nyu_tfds.nyu_tfds_dataset("train", num_examples=None, data_dir=data_dir,
                                         download=True).as_numpy_iterator())
  by_blue = {int(f["image"][0, 0, 2]) // 10: f for f in train}
  assert sorted(by_blue) == sorted(written["train"])
  for index, frame in by_blue.items():
    image, depth, _ = nyu_files.frame(index)
    np.testing.assert_array_equal(frame["image"], image)
    np.testing.assert_allclose(frame["depth"], depth, rtol=1e-3)  # float16 in tfds

  subset = [int(f["image"][0, 0, 2]) for f in
            nyu_tfds.nyu_tfds_dataset("train", num_examples=2, data_dir=data_dir)
            .as_numpy_iterator()]
  assert subset == [int(f["image"][0, 0, 2]) for f in train[:2]]
  test = list(nyu_tfds.nyu_tfds_dataset("test", data_dir=data_dir).as_numpy_iterator())
  assert len(test) == 1 and int(test[0]["image"][0, 0, 2]) == 50


def test_tfds_prepared_from_a_local_archive_counts_without_reading(tmp_path, caplog):
  """No download server: tfds' own builder prepares a local .tar.gz; counts come from tfds'
  metadata (the pipeline's .ignore_errors() hides the cardinality); asking for more training
  frames than are prepared uses all of them, with a warning."""
  import tarfile  # pylint: disable=import-outside-toplevel
  folder = tmp_path / "extracted"
  nyu_files.write_fastdepth_archive(str(folder), {"train": {"bedroom_0001": [0, 1, 2]},
                                                  "val": {"official": [5]}})
  archive = str(tmp_path / "nyudepthv2.tar.gz")
  with tarfile.open(archive, "w:gz") as tar:
    tar.add(str(folder / "nyudepthv2"), arcname="nyudepthv2")
  data_dir = str(tmp_path / "tfds")
  bindings = [f"nyu_tfds_source.data_dir = '{data_dir}'", f"nyu_tfds_source.archive = '{archive}'",
              "nyu_tfds_source.num_train_examples = 13000"]
  config.parse_gin([], bindings)
  with caplog.at_level(logging.WARNING):
    assert data.count_frames("nyu_tfds", "train") == 3
  assert "13000 training frames requested, only 3 prepared" in caplog.text
  assert data.count_frames("nyu_tfds", "test") == 1
  frames = list(data.load_source("nyu_tfds", "train").as_numpy_iterator())
  assert sorted(int(f["image"][0, 0, 2]) for f in frames) == [0, 10, 20]


def test_tfds_local_archive_errors_name_the_path(tmp_path):
  with pytest.raises(data.DataError, match="nowhere.tar.gz: no such file or folder"):
    nyu_tfds.prepare_from_archive(str(tmp_path / "nowhere.tar.gz"), str(tmp_path))
  (tmp_path / "empty").mkdir()
  with pytest.raises(data.DataError, match="empty: no train or val folder"):
    nyu_tfds.prepare_from_archive(str(tmp_path / "empty"), str(tmp_path))


def test_sources_without_paths_are_one_line(tmp_path):
  with pytest.raises(data.DataError, match="densedepth: no path given"):
    data.count_frames("densedepth", "test")
  splits = nyu_files.write_splits_mat(str(tmp_path / "splits.mat"))
  config.parse_gin([], [f"nyu_labeled_source.splits_path = '{splits}'"])
  with pytest.raises(data.DataError, match="no file given; expected nyu_depth_v2_labeled.mat"):
    data.count_frames("nyu_labeled", "test")
