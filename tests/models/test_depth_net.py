"""The Table-1 networks: shapes, the DMG's blocks on hand-computed cases, frozen parts, saving."""

import json
import os
import subprocess
import sys

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from attn_depth import config
from attn_depth import models
from attn_depth.models import depth_net
from attn_depth.models import summary


H, W = 64, 96


def _images(batch=2, height=H, width=W, seed=0):
  return np.random.default_rng(seed).uniform(0, 1, (batch, height, width, 3)).astype("float32")


@pytest.mark.parametrize("variant", sorted(models.VARIANTS))
def test_every_variant_maps_rgb_to_half_resolution_metres(variant):
  model = models.build_model(variant, depth=50, input_shape=(H, W, 3))
  depth = model(_images())
  assert tuple(depth.shape) == (2, H // 2, W // 2, 1)
  assert depth.dtype == "float32"
  assert np.all(np.asarray(depth) >= 0)


@pytest.mark.parametrize("variant", ["baseline", "full"])
def test_fully_convolutional_on_sizes_divisible_by_8(variant):
  """72 rows: the strided baseline meets odd sizes (72 -> 36 -> 18 -> 9 -> 5 -> 3)."""
  model = models.build_model(variant, depth=50, input_shape=(None, None, 3))
  for height, width in ((72, 88), (48, 64)):
    assert tuple(model(_images(1, height, width)).shape) == (1, height // 2, width // 2, 1)


def test_table1_depths_and_flags():
  assert models.build_model("baseline", input_shape=(H, W, 3)).name == "attn_depth_baseline_r50"
  full = models.build_model("full", input_shape=(H, W, 3))
  assert full.name == "attn_depth_full_r101"
  backbone = models.get_backbone(full)
  assert backbone.get_layer("conv4_block23_out") is not None


def test_afb_reweights_dotted_and_adds_solid():
  """fc2 with zero kernel and bias b gives weight sigmoid(b): out = dotted * sigmoid(b) + solid."""
  dotted_in = keras.Input((4, 5, 3))
  solid_in = keras.Input((4, 5, 3))
  block = keras.Model([dotted_in, solid_in],
                      depth_net.attention_fuse_block(dotted_in, solid_in, name="afb"))
  bias = np.array([-1.0, 0.0, 2.0], "float32")
  fc2 = block.get_layer("afb_fc2")
  fc2.set_weights([np.zeros_like(fc2.get_weights()[0]), bias])
  rng = np.random.default_rng(0)
  dotted, solid = rng.normal(size=(2, 2, 4, 5, 3)).astype("float32")
  expected = dotted / (1 + np.exp(-bias)) + solid
  np.testing.assert_allclose(block([dotted, solid]), expected, rtol=1e-5, atol=1e-6)
  # Its hidden layer sees both inputs (6 channels) and keeps C (DFN-style, reduction 1).
  assert block.get_layer("afb_fc1").get_weights()[0].shape == (1, 1, 6, 3)


def test_afb_weight_depends_on_context():
  dotted_in, solid_in = keras.Input((4, 4, 2)), keras.Input((4, 4, 2))
  block = keras.Model([dotted_in, solid_in],
                      depth_net.attention_fuse_block(dotted_in, solid_in, name="afb"))
  ones = np.ones((1, 4, 4, 2), "float32")
  weight_a = np.asarray(block([ones, 0 * ones]))
  weight_b = np.asarray(block([ones, 5 * ones])) - 5
  assert not np.allclose(weight_a, weight_b)


def test_crb_is_reduce_then_residual_block():
  """Zero 3x3 kernels and biases: the residual branch vanishes, out = relu(1x1 reduce(x))."""
  inputs = keras.Input((8, 8, 6))
  block = keras.Model(inputs, depth_net.channel_reduce_block(inputs, 4, rate=4, name="crb"))
  for name in ("crb_conv1", "crb_conv2"):
    layer = block.get_layer(name)
    assert layer.dilation_rate == (4, 4)
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
  kernel, bias = block.get_layer("crb_reduce").get_weights()
  x = np.random.default_rng(1).normal(size=(2, 8, 8, 6)).astype("float32")
  expected = np.maximum(np.einsum("bhwc,cd->bhwd", x, kernel[0, 0]) + bias, 0)
  np.testing.assert_allclose(block(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_variants_differ_exactly_by_their_blocks():
  counts = {v: summary.parameter_counts(models.build_model(v, depth=50, input_shape=(H, W, 3)))
            for v in ("dfe", "dfe_afb", "full")}
  # Each AFB on C channels: fc1 (2C -> C) and fc2 (C -> C), with biases: 3C^2 + 2C.
  afb = sum(3 * c * c + 2 * c for c in (128, 256, 512))
  assert counts["dfe_afb"]["total"] - counts["dfe"]["total"] == afb
  assert counts["full"] == counts["dfe_afb"]  # dilation changes no shape
  full = models.build_model("full", depth=50, input_shape=(H, W, 3))
  flat = models.build_model("dfe_afb", depth=50, input_shape=(H, W, 3))
  assert full.get_layer("crb3_out_conv1").dilation_rate == (4, 4)
  assert full.get_layer("crb4_conv2").dilation_rate == (8, 8)
  assert flat.get_layer("crb4_conv2").dilation_rate == (1, 1)
  assert "afb2_fc1" not in [l.name for l in models.build_model(
      "dfe", depth=50, input_shape=(H, W, 3)).layers]


def _frozen(layer_name, layer):
  return layer_name.startswith(("conv1_", "conv2_")) or isinstance(
      layer, keras.layers.BatchNormalization)


@pytest.mark.slow
def test_frozen_layers_and_batch_norm_stay_put_while_the_rest_learns():
  model = models.build_model("full", depth=50, input_shape=(H, W, 3))
  backbone = models.get_backbone(model)
  groups = models.variable_groups(model)
  before = {v.path: np.array(v) for v in model.weights}

  frozen_paths = {w.path for l in backbone.layers if _frozen(l.name, l) for w in l.weights}
  trainable_paths = {v.path for v in model.trainable_variables}
  assert frozen_paths and not frozen_paths & trainable_paths
  assert {v.path for v in groups["dfe"] + groups["dmg"]} == trainable_paths
  assert not {v.path for v in groups["dfe"]} & {v.path for v in groups["dmg"]}
  assert {id(v) for v in groups["dfe"]} <= {id(w) for w in backbone.weights}

  optimizers = {name: keras.optimizers.Adam(1e-3) for name in groups}
  images, target = _images(), np.full((2, H // 2, W // 2, 1), 3.0, "float32")
  for _ in range(2):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.abs(model(images, training=True) - target))
    grads = tape.gradient(loss, groups["dfe"] + groups["dmg"])
    split = len(groups["dfe"])
    optimizers["dfe"].apply_gradients(zip(grads[:split], groups["dfe"]))
    optimizers["dmg"].apply_gradients(zip(grads[split:], groups["dmg"]))

  after = {v.path: np.array(v) for v in model.weights}
  for path in frozen_paths:  # kernels, BN gamma/beta and moving statistics alike
    np.testing.assert_array_equal(after[path], before[path], err_msg=path)
  for name in ("conv3_block1_1_conv/kernel", "conv5_block3_3_conv/kernel",
               "crb4_reduce/kernel", "afb1_fc2/kernel", "depth_head_conv/kernel"):
    assert not np.array_equal(after[name], before[name]), name


def test_freezing_is_configurable():
  model = models.build_model("full", depth=50, input_shape=(H, W, 3), frozen_stages=0,
                             freeze_batch_norm=False)
  paths = {v.path for v in model.trainable_variables}
  assert "conv1_conv/kernel" in paths and "conv2_block1_1_bn/gamma" in paths


@pytest.mark.slow
def test_keras_file_round_trip_in_a_fresh_process(tmp_path):
  """Saved, then loaded by a new interpreter that only imports attn_depth: same outputs, same
  frozen layers."""
  model = models.build_model("full", depth=50, input_shape=(None, None, 3))
  images = _images()
  path = tmp_path / "model.keras"
  model.save(path)
  np.save(tmp_path / "images.npy", images)
  script = (
      "import json, sys, numpy as np, keras, attn_depth\n"
      "from attn_depth import models\n"
      f"m = keras.saving.load_model({str(path)!r})\n"
      f"np.save({str(tmp_path / 'depth.npy')!r}, np.asarray(m(np.load({str(tmp_path / 'images.npy')!r}))))\n"
      "print(json.dumps([len(m.trainable_variables), len(models.variable_groups(m)['dfe'])]))\n")
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
  assert result.returncode == 0, result.stderr[-2000:]
  counts = json.loads(result.stdout.strip().splitlines()[-1])
  assert counts == [len(model.trainable_variables), len(models.variable_groups(model)["dfe"])]
  np.testing.assert_array_equal(np.load(tmp_path / "depth.npy"), np.asarray(model(images)))


def test_gin_selects_the_variant():
  config.parse_gin(["gin/nyu/dfe_r101.gin"], ["build_model.backbone_weights = None",
                                               "build_model.depth = 50",
                                               "build_model.input_shape = (64, 96, 3)"])
  model = models.build_model()
  assert model.name == "attn_depth_dfe_r50"
  assert "sum1" in [l.name for l in model.layers]


@pytest.mark.parametrize("gin_file", sorted(
    f"gin/nyu/{name}" for name in os.listdir(os.path.join(config.GIN_DIR, "nyu"))))
def test_every_shipped_experiment_builds_its_table1_row(gin_file):
  config.parse_gin([gin_file], ["build_model.backbone_weights = None",
                                "build_model.input_shape = (64, 96, 3)"])
  model = models.build_model()
  variant, depth = os.path.basename(gin_file)[:-len(".gin")].rsplit("_r", 1)
  assert model.name == f"attn_depth_{variant}_r{depth}"
  assert gin.query_parameter("build_model.frozen_stages") == 2
  assert tuple(model(_images(1)).shape) == (1, H // 2, W // 2, 1)
