"""Bokeh: the in-focus subject untouched, the background blurred without a halo."""

import numpy as np

from attn_depth.apps import bokeh


def subject_and_background(seed=0):
  """Left half: a red subject at 1 m. Right half: a noisy green/blue background at 4 m."""
  rng = np.random.default_rng(seed)
  image = rng.integers(0, 256, (60, 80, 3)).astype(np.uint8)
  image[:, :40, 1:] = 0
  image[:, 40:, 0] = 0
  depth = np.full((60, 80), 4.0)
  depth[:, :40] = 1.0
  return image, depth


def test_in_focus_region_is_unchanged_and_background_is_blurred_without_halo():
  image, depth = subject_and_background()
  out = bokeh.render_bokeh(image, depth, focus_depth=1.0, aperture=6.0)
  np.testing.assert_array_equal(out[:, :40], image[:, :40])
  # r = 6 * (1 - 1/4) = 4.5 px: pixel noise averaged away...
  assert out[:, 50:, 1:].std() < 0.3 * image[:, 50:, 1:].std()
  # ...and no red of the subject bleeds into the background beside it.
  assert out[:, 40:, 0].max() == 0


def test_zero_aperture_is_the_identity():
  image, depth = subject_and_background()
  np.testing.assert_array_equal(bokeh.render_bokeh(image, depth, 2.0, 0.0), image)


def test_out_of_focus_foreground_spreads_over_the_background():
  image, depth = subject_and_background()
  out = bokeh.render_bokeh(image, depth, focus_depth=4.0, aperture=6.0)
  # The subject at 1 m is 6 px out of focus (18 px by the thin lens, bounded by the aperture):
  # far from it, the background is untouched...
  np.testing.assert_array_equal(out[:, 50:], image[:, 50:])
  # ...next to it, the subject's red spreads over the sharp background, as through a lens.
  assert out[:, 40:44, 0].mean() > 20


def test_circle_of_confusion_by_hand():
  np.testing.assert_allclose(bokeh.circle_of_confusion([1.0, 2.0, 4.0], 2.0, 8.0),
                             [-8.0, 0.0, 4.0])


def test_blur_is_bounded_by_the_aperture_in_front_of_the_focus_plane():
  # A barely trained network predicted 0.016 m: by the thin lens r = 8 (1 - 3 / 0.016) = -1492
  # px, a kernel of 172 GiB for a large photo. Nothing blurs more than the background at infinity.
  np.testing.assert_allclose(bokeh.circle_of_confusion([0.016, 1.0, 1e9], 3.0, 8.0),
                             [-8.0, -8.0, 8.0 * (1 - 3e-9)])
  image, depth = subject_and_background()
  depth[:, :40] = 0.016
  calls = []
  out = bokeh.render_bokeh(image, depth, focus_depth=4.0, aperture=3.0,
                           progress=lambda done, total: calls.append((done, total)))
  assert out.shape == image.shape
  assert calls and calls[-1][0] == calls[-1][1]  # progress reached the last layer
  np.testing.assert_array_equal(out[:, 44:], image[:, 44:])  # the blur reaches 3 px, no more


def test_photo_renderer_agrees_with_the_exact_one_on_a_room():
  """Layers blurred at reduced resolution (render_bokeh's default) against every layer at full
  resolution: within the tolerance docs/applications.md states (mean < 1 grey level, 99 % of pixels
  within 6)."""
  from attn_depth.data import synthetic_rooms  # pylint: disable=import-outside-toplevel
  image, depth = synthetic_rooms.render(3)[:2]
  focus = bokeh.focus_depth_at_centre(depth)
  exact = bokeh.render_bokeh(image, depth, focus, 24.0, exact=True)
  fast = bokeh.render_bokeh(image, depth, focus, 24.0)
  difference = np.abs(exact.astype(int) - fast.astype(int))
  assert difference.mean() < 1.0 and np.percentile(difference, 99) <= 6, (
      difference.mean(), np.percentile(difference, 99))
  # Reduced resolution did happen: radii up to 24 px use 1/2, 1/4 and 1/8.
  assert [bokeh._factor(r) for r in (3.9, 4.0, 8.0, 16.0, 24.0)] == [1, 2, 4, 8, 8]
