"""Writes keras.applications-format notop ResNet weight files, as the real download is written."""

import h5py
import keras
import numpy as np
from keras.src.legacy.saving import legacy_h5_format


def randomize_batch_norm(model, seed):
  """Non-trivial BN parameters and statistics, so that tests see them act."""
  rng = np.random.default_rng(seed)
  for layer in model.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      gamma, beta, mean, var = layer.get_weights()
      layer.set_weights([
          rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
          rng.normal(0.0, 0.1, beta.shape).astype("float32"),
          rng.normal(0.0, 0.1, mean.shape).astype("float32"),
          rng.uniform(0.5, 1.5, var.shape).astype("float32"),
      ])


def write_notop_weights(path, depth, seed=0):
  """A random-valued file in the layout of resnet<depth>_weights_tf_dim_ordering_tf_kernels_notop.h5."""
  keras.utils.set_random_seed(seed)
  constructor = {50: keras.applications.ResNet50, 101: keras.applications.ResNet101}[depth]
  model = constructor(include_top=False, weights=None, input_shape=(None, None, 3))
  randomize_batch_norm(model, seed)
  with h5py.File(path, "w") as f:
    legacy_h5_format.save_weights_to_hdf5_group(f, model)
  return path


def read_layer_weights(path):
  """{layer name: [arrays]} straight from the .h5 file, without Keras."""
  with h5py.File(path, "r") as f:
    out = {}
    for name in f.attrs["layer_names"]:
      name = name.decode() if isinstance(name, bytes) else name
      group = f[name]
      if not group.attrs["weight_names"].size:
        continue
      out[name] = [np.asarray(group[w.decode() if isinstance(w, bytes) else w])
                   for w in group.attrs["weight_names"]]
    return out
