"""Point clouds: PLY files re-read, and every point back on its pixel through the pinhole."""

import numpy as np

from attn_depth.apps import pointcloud


def test_ply_round_trip_satisfies_the_pinhole_equations(tmp_path):
  rng = np.random.default_rng(0)
  depth = rng.uniform(0.5, 8.0, (30, 40)).astype(np.float32)
  depth[3, 5] = 0.0  # no measurement: no point
  depth[7, 9] = np.nan
  image = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
  camera = pointcloud.Intrinsics(fx=35.0, fy=33.0, cx=19.5, cy=14.0)
  points, colours = pointcloud.depth_to_points(depth, camera, image)
  pointcloud.write_ply(tmp_path / "cloud.ply", points, colours)
  read_points, read_colours = pointcloud.read_ply(tmp_path / "cloud.ply")

  assert read_points.shape == (30 * 40 - 2, 3)
  rows, cols = np.nonzero(np.isfinite(depth) & (depth > 0))
  x, y, z = read_points.T
  np.testing.assert_allclose(z, depth[rows, cols])
  np.testing.assert_allclose(camera.fx * x / z + camera.cx, cols, atol=1e-3)
  np.testing.assert_allclose(camera.fy * y / z + camera.cy, rows, atol=1e-3)
  np.testing.assert_array_equal(read_colours, image[rows, cols])
  with open(tmp_path / "cloud.ply", "rb") as f:
    assert f.read(60).startswith(b"ply\nformat binary_little_endian 1.0\n")


def test_nyu_intrinsics_match_the_toolbox_and_scale_about_pixel_centres():
  """The toolbox back-projects 1-based pixels with cx_rgb = 325.582449: the 0-based pixel u is
  its u + 1, so the point of 0-based column 324.582449 lies on the optical axis."""
  full = pointcloud.Intrinsics.nyu_scaled(480, 640)
  assert abs(full.fx - 518.857901) < 1e-9 and abs(full.cy - 252.736166) < 1e-9
  assert abs(full.cx - 324.582449) < 1e-9
  depth = np.full((480, 640), 2.0, np.float32)
  points, _ = pointcloud.depth_to_points(depth, full)
  toolbox_x = (np.arange(1, 641) - 325.582449) * 2.0 / 518.857901  # meshgrid(1:640) in MATLAB
  np.testing.assert_allclose(points[:640, 0], toolbox_x, rtol=1e-5, atol=1e-6)
  half = pointcloud.Intrinsics.nyu_scaled(240, 320)
  assert abs(half.fx - full.fx / 2) < 1e-9
  # Pixel centres scale: 0-based 324.58 at 640 px is (324.58 + 0.5) / 2 - 0.5 = 162.04 at 320.
  assert abs(half.cx - ((324.582449 + 0.5) / 2 - 0.5)) < 1e-9
  # The centre of the image stays the centre.
  assert pointcloud.scale_principal_point(319.5, 0.5) == 159.5


def test_the_ply_written_in_bands_is_the_same_file(tmp_path):
  """Large photos' point clouds are written a band of rows at a time: byte for byte the file
  of the whole-array writer (holes, a band boundary through them, colours, any band height)."""
  rng = np.random.default_rng(3)
  depth = rng.uniform(0.5, 8.0, (37, 23)).astype(np.float32)
  depth[rng.random(depth.shape) < 0.2] = 0.0
  depth[5, 7] = np.nan
  image = rng.integers(0, 256, (37, 23, 3), dtype=np.uint8)
  camera = pointcloud.Intrinsics(30.0, 31.0, 11.2, 17.9)
  whole = tmp_path / "whole.ply"
  pointcloud.write_ply(str(whole), *pointcloud.depth_to_points(depth, camera, image))
  for rows in (1, 4, 37, 100):
    banded = tmp_path / f"banded{rows}.ply"
    pointcloud.write_depth_ply(str(banded), depth, camera, image, rows_per_chunk=rows)
    assert banded.read_bytes() == whole.read_bytes()
