"""The Dense Feature Extractor: shapes, ImageNet weight transfer, the a-trous identity."""

import os

import keras
import numpy as np
import pytest

from attn_depth import models
from tests.models import weights_files


STAGE_OUTPUTS = {
    50: ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
    101: ("conv2_block3_out", "conv3_block4_out", "conv4_block23_out", "conv5_block3_out"),
}


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
  cache = {}

  def get(depth):
    if depth not in cache:
      path = tmp_path_factory.mktemp("weights") / models.imagenet_weights_file_name(depth)
      cache[depth] = weights_files.write_notop_weights(str(path), depth, seed=depth)
    return cache[depth]

  return get


def test_dfe_outputs_all_at_quarter_resolution():
  dfe = models.build_dfe(depth=50)
  outputs = dfe(np.zeros((2, 64, 96, 3), "float32"))
  assert [tuple(o.shape) for o in outputs] == [
      (2, 16, 24, 256), (2, 16, 24, 512), (2, 16, 24, 1024), (2, 16, 24, 2048)]


def test_dfe_has_keras_applications_layer_names_and_shapes():
  dfe = models.build_dfe(depth=101)
  reference = keras.applications.ResNet101(include_top=False, weights=None)
  ours = {l.name: [w.shape for w in l.weights] for l in dfe.layers if l.weights}
  theirs = {l.name: [w.shape for w in l.weights] for l in reference.layers if l.weights}
  assert ours == theirs


def test_dilation_rates_per_res_block():
  dfe = models.build_dfe(depth=50)
  for stage, rate in zip(("conv2", "conv3", "conv4", "conv5"), (1, 2, 4, 8)):
    convs = [l for l in dfe.layers if l.name.startswith(stage) and l.name.endswith("_2_conv")]
    assert convs and all(c.dilation_rate == (rate, rate) for c in convs), stage
  assert all(l.strides == (1, 1) for l in dfe.layers
             if isinstance(l, keras.layers.Conv2D) and l.name != "conv1_conv")


def test_loaded_weights_are_the_files(weights_file):
  path = weights_file(50)
  dfe = models.build_dfe(depth=50)
  copied = models.load_imagenet_weights(dfe, path)
  expected = weights_files.read_layer_weights(path)
  assert copied == len(expected) == len([l for l in dfe.layers if l.weights])
  for name, arrays in expected.items():
    for ours, theirs in zip(dfe.get_layer(name).get_weights(), arrays):
      np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [50, 101])
def test_atrous_identity_against_keras_applications(weights_file, depth):
  """Same weights: the dilated DFE at every 1st/2nd/4th/8th pixel == the strided ResNet."""
  path = weights_file(depth)
  constructor = {50: keras.applications.ResNet50, 101: keras.applications.ResNet101}[depth]
  reference = constructor(include_top=False, weights=path, input_shape=(None, None, 3))
  strided = keras.Model(reference.input,
                        [reference.get_layer(n).output for n in STAGE_OUTPUTS[depth]])
  dfe = models.build_dfe(depth=depth)
  models.load_imagenet_weights(dfe, path)

  image = np.random.default_rng(0).uniform(-120, 150, (1, 64, 96, 3)).astype("float32")
  dense_maps = [np.asarray(m) for m in dfe(image)]
  strided_maps = [np.asarray(m) for m in strided(image)]
  for stage, (dense, coarse, step) in enumerate(zip(dense_maps, strided_maps, (1, 2, 4, 8))):
    assert dense.shape[1:3] == (16, 24)
    assert coarse.shape[1:3] == (16 // step, 24 // step)
    scale = np.abs(coarse).max()
    assert scale > 0
    np.testing.assert_allclose(dense[:, ::step, ::step], coarse, rtol=1e-4, atol=1e-4 * scale,
                               err_msg=f"Res-Block {stage + 1}")


def test_missing_weights_file_is_one_clear_error(tmp_path):
  dfe = models.build_dfe(depth=50)
  missing = str(tmp_path / "nowhere.h5")
  with pytest.raises(models.ImageNetWeightsUnavailable) as error:
    models.load_imagenet_weights(dfe, missing)
  assert missing in str(error.value)
  assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in str(error.value)


def test_offline_imagenet_names_file_and_cache(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  dfe = models.build_dfe(depth=50)
  with pytest.raises(models.ImageNetWeightsUnavailable) as error:
    models.load_imagenet_weights(dfe, "imagenet")
  message = str(error.value)
  assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
  assert os.path.join(str(tmp_path), "models") in message


def test_not_a_weights_file_is_one_clear_error(tmp_path):
  bogus = tmp_path / "weights.h5"
  bogus.write_text("not hdf5")
  with pytest.raises(models.ImageNetWeightsUnavailable, match="weights.h5"):
    models.load_imagenet_weights(models.build_dfe(depth=50), str(bogus))
