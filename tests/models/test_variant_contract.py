"""One contract every Table-1 variant runs (keras-hub's run_task_test is the model): build from
its spec, one training step, checkpoint and reload with no gin, SavedModel and preset round
trips that give the same depth."""

import numpy as np
import pytest
import tensorflow as tf

import attn_depth
from attn_depth.serving import export
from attn_depth.serving import inference
from attn_depth.serving import presets
from attn_depth import models
from attn_depth.training.trainer import Trainer

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)

IMAGES = np.random.default_rng(7).integers(0, 256, (2, 50, 70, 3), dtype=np.uint8)


def tiny_spec(variant):
  return models.ModelSpec(variant, backbone_blocks=(1, 1, 1, 1), backbone_width=0.125,
                          dmg_widths=(8, 8, 16, 16), input_size=(64, 96), resize_size=(80, 120))


@pytest.mark.parametrize("variant", sorted(models.VARIANTS))
def test_variant_contract(variant, tmp_path):
  spec = tiny_spec(variant)
  model = spec.build()
  assert model.name == f"attn_depth_{variant}_r14"
  # One training step of the paper's recipe moves the weights and gives a finite loss.
  trainer = Trainer(model, tf.distribute.get_strategy(), 2, decay_steps=10,
                    learning_rates={"dfe": (1e-3, 1e-5), "dmg": (1e-3, 1e-5)})
  images = tf.random.stateless_uniform((2, 64, 96, 3), (1, 2))
  depths = tf.random.stateless_uniform((2, 64, 96, 1), (3, 4), 0.5, 5.0)
  before = [v.numpy().copy() for v in model.trainable_variables]
  loss, _ = trainer.train_step(iter(tf.data.Dataset.from_tensors((images, depths)).repeat()))
  assert np.isfinite(float(loss)) and trainer.step == 1
  assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables))
  # Checkpoint + spec: what tools/train.py leaves; loading it needs no gin.
  run_dir = str(tmp_path / "run")
  trainer.checkpoint.write(f"{run_dir}/ckpt-1")
  spec.save(run_dir)
  loaded = inference.load_network(f"{run_dir}/ckpt-1")
  expected = inference.keras_network(model, spec).depth_at_image_size(IMAGES)
  assert loaded.spec == spec and loaded.step == 1
  np.testing.assert_allclose(loaded.depth_at_image_size(IMAGES), expected, rtol=1e-5, atol=1e-6)
  # SavedModel round trip.
  export_dir = export.export_saved_model(loaded.model, str(tmp_path / "export"), spec, step=1)
  served = inference.load_network(export_dir)
  assert served.spec == spec
  # The loader picks the backend by what the path holds; only the Keras one can be re-saved.
  assert (loaded.backend, served.backend) == ("keras", "saved_model")
  assert isinstance(loaded, inference.KerasNetwork)
  assert not isinstance(served, inference.KerasNetwork)
  with pytest.raises(presets.PresetError, match="needs the Keras model"):
    attn_depth.DepthEstimator(served).save_to_preset(str(tmp_path / "not_a_preset"))
  assert not (tmp_path / "not_a_preset").exists()
  np.testing.assert_allclose(served.depth_at_image_size(IMAGES), expected, rtol=1e-4, atol=1e-5)
  # LiteRT and ONNX of the network endpoint agree with the SavedModel's.
  images = np.random.default_rng(1).random((1, 64, 96, 3)).astype(np.float32)
  reference = export.run_saved_model(export_dir, images, inference.NETWORK_SIGNATURE)
  for name, depth in (
      ("litert", export.run_tflite(export.convert_to_tflite(loaded.model), images)),
      ("onnx", export.run_onnx(export.export_onnx(loaded.model, str(tmp_path / "m.onnx")),
                               images))):
    assert export.compare_depths(reference, depth)["max_rel"] <= 1e-3, name
  # Preset round trip.
  preset = attn_depth.DepthEstimator(loaded).save_to_preset(str(tmp_path / "preset"))
  again = attn_depth.DepthEstimator.from_preset(preset)
  assert again.spec == spec
  np.testing.assert_allclose(again.predict(IMAGES)["depths"][..., 0], expected, rtol=1e-5,
                             atol=1e-6)
