"""Procedural rooms: NYU's frame format, determinism, and depth that is exact at every pixel."""

import numpy as np
import pytest

from attn_depth.data import synthetic_rooms as rooms


def test_frame_format_and_depth_range():
  image, depth = rooms.render(7)
  assert image.shape == (480, 640, 3) and image.dtype == np.uint8
  assert depth.shape == (480, 640) and depth.dtype == np.float32
  assert rooms.MIN_DEPTH <= depth.min() and depth.max() <= rooms.MAX_DEPTH
  # Textured and shaded, not flat colour: many distinct colours, strong local contrast.
  assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200
  assert image.std() > 10


def test_deterministic_by_seed():
  first, again, other = rooms.render([3, 0]), rooms.render([3, 0]), rooms.render([3, 1])
  np.testing.assert_array_equal(first[0], again[0])
  np.testing.assert_array_equal(first[1], again[1])
  assert not np.array_equal(first[1], other[1])


def _on_some_surface(points, scene, tolerance=2e-3):
  """True where a 3-D point lies on a face of the room or of a box (within tolerance)."""
  boxes = [(np.zeros(3), scene.size)] + [(lo, hi) for lo, hi, _ in scene.boxes]
  on_surface = np.zeros(len(points), bool)
  for lo, hi in boxes:
    inside = np.all((points >= lo - tolerance) & (points <= hi + tolerance), axis=1)
    on_face = np.any((np.abs(points - lo) < tolerance) | (np.abs(points - hi) < tolerance), axis=1)
    on_surface |= inside & on_face
  return on_surface


@pytest.mark.parametrize("seed", [0, 11, 42])
def test_every_depth_pixel_back_projects_onto_a_surface(seed):
  """Exact occluding edges: no pixel holds a depth between a foreground and background
  surface (as blurred or anti-aliased depth would); each one lands on the scene's geometry."""
  _, depth = rooms.render(seed)
  scene = rooms.Scene(np.random.default_rng(seed))
  v, u = np.mgrid[0:480, 0:640].astype(np.float64)
  rays = np.stack([(u - rooms.NYU_CX) / rooms.NYU_FX, (v - rooms.NYU_CY) / rooms.NYU_FY,
                   np.ones_like(u)], -1)
  points = scene.camera + (rays * depth[..., None]) @ scene.rotation().T.astype(np.float64)
  unclipped = (depth > rooms.MIN_DEPTH) & (depth < rooms.MAX_DEPTH)
  on_surface = _on_some_surface(points.reshape(-1, 3), scene).reshape(480, 640)
  assert unclipped.mean() > 0.99
  assert on_surface[unclipped].all(), f"{(~on_surface & unclipped).sum()} pixels off any surface"
  assert len(scene.boxes) >= 1


def test_occlusion_edges_are_sharp_steps():
  """Across a furniture edge the depth jumps in one pixel; no in-between values."""
  _, depth = rooms.render(11)
  jumps = np.abs(np.diff(depth, axis=1))
  rows, cols = np.nonzero(jumps > 0.3)
  assert rows.size > 0
  for r, c in zip(rows[:200], cols[:200]):
    near, far = sorted((depth[r, c], depth[r, c + 1]))
    # Neighbours on either side continue their own surfaces smoothly.
    assert abs(depth[r, max(c - 1, 0)] - depth[r, c]) < 0.3 or abs(
        depth[r, min(c + 2, 639)] - depth[r, c + 1]) < 0.3


def test_tfds_records_round_trip(tmp_path):
  dataset = rooms.synthetic_rooms_dataset(3, seed=5, data_dir=str(tmp_path))
  frames = list(dataset.as_numpy_iterator())
  assert len(frames) == 3
  rendered = [rooms.render(rooms.scene_seed(5, i)) for i in range(3)]
  for frame, (image, depth) in zip(frames, rendered):
    np.testing.assert_array_equal(frame["image"], image)  # PNG is lossless
    np.testing.assert_allclose(frame["depth"], depth, rtol=1e-3)  # stored as float16, like NYU
  # Prepared once: a second call reads the records without re-rendering.
  assert (tmp_path / "synthetic_rooms" / "n3_seed5").is_dir()
  again = list(rooms.synthetic_rooms_dataset(3, seed=5, data_dir=str(tmp_path)).as_numpy_iterator())
  np.testing.assert_array_equal(again[1]["image"], frames[1]["image"])


def test_on_the_fly_equals_prepared(tmp_path):
  live = next(iter(rooms.synthetic_rooms_dataset(1, seed=9)))
  stored = next(iter(rooms.synthetic_rooms_dataset(1, seed=9, data_dir=str(tmp_path))))
  np.testing.assert_array_equal(live["image"], stored["image"])


def test_ray_exactly_parallel_to_a_face():
  """Scene (0, 256) has a pixel whose ray has an exactly zero y component."""
  image, depth = rooms.render(rooms.scene_seed(0, 256))
  assert np.isfinite(depth).all() and depth.min() >= rooms.MIN_DEPTH
