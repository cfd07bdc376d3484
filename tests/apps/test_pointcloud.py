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


def test_nyu_intrinsics_scale_with_the_image():
  full = pointcloud.Intrinsics.nyu_scaled(480, 640)
  half = pointcloud.Intrinsics.nyu_scaled(240, 320)
  assert abs(full.fx - 518.857901) < 1e-9 and abs(full.cy - 253.736166) < 1e-9
  assert abs(half.fx - full.fx / 2) < 1e-9 and abs(half.cx - full.cx / 2) < 1e-9
