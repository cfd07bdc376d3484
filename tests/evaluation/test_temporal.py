"""Temporal consistency with known geometry: reprojection on hand-made cases, the ground truth's
floor on a rendered fly-through, flicker, and the stabiliser."""

import numpy as np
import pytest

from attn_depth.apps import video
from attn_depth.data import flythroughs
from attn_depth.evaluation import temporal

INTRINSICS = (50.0, 50.0, 31.5, 23.5)  # a 64x48 camera
SIZE = (48, 64)


def _pose(x=0.0, y=0.0, z=0.0):
  pose = np.eye(4)
  pose[:3, 3] = (x, y, z)
  return pose


def _plane(depth):
  return np.full(SIZE, depth, np.float64)


def test_a_static_camera_matches_every_pixel_and_costs_nothing():
  gt = _plane(2.0)
  match = temporal.correspondence(gt, gt, _pose(), _pose(), INTRINSICS)
  assert len(match.rows) == gt.size
  pred = np.random.default_rng(0).uniform(1, 3, SIZE)
  assert temporal.reprojection_error(pred, pred, match, INTRINSICS) == pytest.approx(0, abs=1e-12)


def test_a_sideways_translation_by_hand():
  # Camera moves 0.1 m to the right in front of a plane at 2 m: pixels shift by 50 * 0.1 / 2 =
  # 2.5 px to the left and keep their depth; the right edge's pixels leave the view.
  gt = _plane(2.0)
  match = temporal.correspondence(gt, gt, _pose(), _pose(x=0.1), INTRINSICS)
  np.testing.assert_allclose(match.u, match.cols - 2.5)
  assert len(match.rows) == SIZE[0] * 61  # columns 0..60 land inside (u >= 0 from col 3 on)
  scaled = 1.1 * gt  # a constant scale error costs nothing
  assert temporal.reprojection_error(scaled, scaled, match, INTRINSICS) == pytest.approx(0)
  # Frame t predicted 10 % too far, frame t+1 right: |2.2 - 2| / 2 = 0.1.
  assert temporal.reprojection_error(scaled, gt, match, INTRINSICS) == pytest.approx(0.1)


def test_a_forward_translation_by_hand():
  # 0.2 m towards a plane at 2 m: it is at 1.8 m in frame t+1.
  match = temporal.correspondence(_plane(2.0), _plane(1.8), _pose(), _pose(z=0.2), INTRINSICS)
  assert temporal.reprojection_error(_plane(2.0), _plane(1.8), match, INTRINSICS) == \
      pytest.approx(0, abs=1e-9)
  # A network that ignores the motion (2 m in both frames) is off by |1.8 - 2| / 2 = 0.1.
  assert temporal.reprojection_error(_plane(2.0), _plane(2.0), match, INTRINSICS) == \
      pytest.approx(0.1)


def test_an_occluder_entering_the_view_is_excluded():
  before, after = _plane(2.0), _plane(2.0)
  after[10:20, 10:30] = 1.0  # a box in front of the wall in frame t+1 only
  match = temporal.correspondence(before, after, _pose(), _pose(), INTRINSICS)
  # The box's pixels and their bilinear neighbours (one more row and column) are left out.
  assert len(match.rows) == before.size - 11 * 21
  assert temporal.reprojection_error(before, after, match, INTRINSICS) == pytest.approx(0)


def test_the_ground_truth_floor_on_a_rendered_fly_through():
  sequence = flythroughs.render_sequence([9, 0], 3, height=120, width=160)
  errors, floor, matched = temporal.sequence_errors(sequence["depths"], sequence["depths"],
                                                    sequence["poses"], sequence["intrinsics"])
  assert np.all(floor < 1e-3) and np.all(errors == floor)
  assert np.all(matched > 0.6)  # a smooth, slow trajectory: most pixels stay in view
  moved = np.linalg.norm(sequence["poses"][1][:3, 3] - sequence["poses"][0][:3, 3])
  assert 0 < moved < 0.1


def test_flicker_by_hand():
  assert temporal.flicker(np.full((4, 3, 3), 2.0)) == 0
  alternating = np.stack([_plane(1.0), _plane(3.0)] * 2)
  assert temporal.flicker(alternating) == pytest.approx(0.5)  # std 1 / mean 2


def test_consistent_mode_halves_flicker_of_a_static_view():
  rng = np.random.default_rng(1)
  image = (rng.uniform(0, 255, SIZE + (3,))).astype(np.uint8)
  images = np.repeat(image[None], 12, axis=0)
  depths = (2.0 * np.exp(rng.normal(0, 0.05, (12,) + SIZE))).astype(np.float32)
  fused = video.stabilize_clip(images, depths)
  assert temporal.flicker(fused) < 0.5 * temporal.flicker(depths)
  assert np.median(fused) == pytest.approx(2.0, rel=0.02)  # no bias


def test_the_stabiliser_keeps_the_new_frame_where_the_image_changed():
  rng = np.random.default_rng(2)
  first = (rng.uniform(0, 255, SIZE + (3,))).astype(np.uint8)
  second = first.copy()
  second[:, 32:] = 255 - second[:, 32:]  # half the view replaced by something else
  stabilizer = video.TemporalStabilizer()
  stabilizer(first, np.full(SIZE, 2.0, np.float32))
  fused = stabilizer(second, np.full(SIZE, 4.0, np.float32))
  assert np.median(fused[:, 40:]) == pytest.approx(4.0, rel=0.05)  # new content: new depth
  assert np.median(fused[:, :24]) < 2.5  # unchanged content: mostly the past
