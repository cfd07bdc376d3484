"""Paper 4.1's processing: resize+crop geometry, validity mask, augmentation ranges, joint flip."""

import numpy as np
import pytest
import tensorflow as tf

from attn_depth.data import preprocessing
from attn_depth.data import augment
from attn_depth.data import preprocess_example


def _example(image=None, depth=None):
  rows, cols = np.mgrid[0:480, 0:640]
  if image is None:
    image = np.zeros((480, 640, 3), np.uint8)
  if depth is None:
    depth = (1000 * rows + cols).astype(np.float32)  # encodes the source pixel
  return {"image": tf.constant(image), "depth": tf.constant(depth)}


def test_resize_then_centre_crop_geometry():
  """Depth pixel (r, c) of the output comes from source pixel (floor((r + 36 + .5) * 480/312),
  floor((c + 48 + .5) * 640/416)): resize to 312x416 (nearest, half-pixel centres), then the
  centre 240x320 (36 rows and 48 columns off each side)."""
  image, depth = preprocess_example(_example(), training=False)
  assert image.shape == (240, 320, 3) and image.dtype == tf.float32
  assert depth.shape == (240, 320, 1) and depth.dtype == tf.float32
  rows = np.floor((np.arange(240) + 36 + 0.5) * 480 / 312).astype(int)
  cols = np.floor((np.arange(320) + 48 + 0.5) * 640 / 416).astype(int)
  expected = 1000 * rows[:, None] + cols[None, :]
  np.testing.assert_array_equal(depth[..., 0].numpy(), expected)


def test_image_is_scaled_to_unit_range_and_cropped_at_the_centre():
  image = np.zeros((480, 640, 3), np.uint8)
  image[:, :320] = 255  # left half white
  out, _ = preprocess_example(_example(image=image), training=False)
  out = out.numpy()
  assert out.min() >= 0 and out.max() <= 1
  # The crop keeps columns 48..367 of 416, so the edge moves to 208 - 48 = 160.
  assert np.allclose(out[:, :150], 1.0) and np.allclose(out[:, 170:], 0.0)


def test_invalid_depth_stays_invalid_and_never_nan():
  depth = np.full((480, 640), 2.5, np.float32)
  depth[100:200, 100:300] = np.nan
  depth[300:320, :] = np.inf
  depth[0:50, 600:] = 0
  depth[400:, 0:20] = -1
  _, out = preprocess_example(_example(depth=depth), training=True, seed=[1, 2])
  out = out.numpy()
  assert np.isfinite(out).all()
  assert set(np.unique(out)) == {0.0, 2.5}  # nearest resize never mixes valid and invalid
  mask = preprocessing.valid_mask(tf.constant(out)).numpy()
  assert 0.05 < 1 - mask.mean() < 0.3


def test_augmentation_ranges():
  gray = tf.fill((8, 8, 3), 0.5)
  depth = tf.ones((8, 8, 1))
  deltas = [float(augment(gray, depth, [0, s], contrast=(1.0, 1.0))[0][0, 0, 0]) - 0.5
            for s in range(200)]
  assert -0.2 <= min(deltas) < -0.15 and 0.15 < max(deltas) <= 0.2
  stripes = tf.constant(np.tile([[0.4], [0.6]], (4, 8))[..., None].repeat(3, -1), tf.float32)
  factors = [float(tf.reduce_max(out) - tf.reduce_min(out)) / 0.2 for out in
             (augment(stripes, depth, [1, s], brightness=0.0)[0] for s in range(200))]
  assert 0.8 - 1e-5 <= min(factors) < 0.85 and 1.15 < max(factors) <= 1.2 + 1e-5


def test_flip_is_joint_and_about_half_the_time():
  image = tf.constant(np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3) / 30)
  depth = tf.constant(np.arange(2 * 5, dtype=np.float32).reshape(2, 5, 1) + 1)
  flips = 0
  for s in range(100):
    out_image, out_depth = augment(image, depth, [7, s], brightness=0.0, contrast=(1.0, 1.0))
    flipped_image = np.allclose(out_image, image[:, ::-1])
    flipped_depth = np.array_equal(out_depth, depth[:, ::-1])
    assert flipped_image == flipped_depth
    assert flipped_image or np.allclose(out_image, image)
    flips += flipped_depth
  assert 35 <= flips <= 65


def test_same_seed_same_augmentation():
  example = _example(image=np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8))
  a = preprocess_example(example, training=True, seed=[3, 4])
  b = preprocess_example(example, training=True, seed=[3, 4])
  c = preprocess_example(example, training=True, seed=[3, 5])
  np.testing.assert_array_equal(a[0], b[0])
  assert not np.array_equal(a[0], c[0])


def test_training_needs_a_seed():
  with pytest.raises(ValueError, match="seed"):
    preprocess_example(_example(), training=True)


def test_crop_and_resize_sizes_are_gin_bindings():
  import gin  # pylint: disable=import-outside-toplevel
  gin.parse_config(["preprocess_example.resize_shape = (96, 128)",
                    "preprocess_example.crop_shape = (64, 96)"])
  image, depth = preprocess_example(_example(), training=False)
  assert image.shape == (64, 96, 3) and depth.shape == (64, 96, 1)
