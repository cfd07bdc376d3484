"""The trainer's one dynamic loss scale: its rule by hand, and float16 checkpoints written with
Keras' per-group LossScaleOptimizers still resume (same weights, Adam moments and step; the
smaller scale carries on)."""

import keras
import numpy as np
import tensorflow as tf

from attn_depth import models
from attn_depth.core import precision
from attn_depth.training import loss_scale as loss_scale_lib
from attn_depth.training.trainer import Trainer

TINY = dict(backbone_weights=None, backbone_blocks=(1, 1, 1, 1), backbone_width=0.125,
            dmg_widths=(8, 8, 16, 16), frozen_stages=0)


def test_the_scale_halves_on_overflow_floors_at_one_and_doubles_after_the_growth_steps():
  scale = loss_scale_lib.DynamicLossScale(initial_scale=4.0, growth_steps=3)
  seen = []
  for finite in [True, True, False, False, False, False, True, True, True, True]:
    scale.update(tf.constant(finite))
    seen.append((float(scale.scale.numpy()), int(scale.good_steps.numpy())))
  assert seen == [(4.0, 1), (4.0, 2), (2.0, 0), (1.0, 0), (1.0, 0), (1.0, 0),
                  (1.0, 1), (1.0, 2), (2.0, 0), (2.0, 1)]
  assert int(scale.skipped_steps.numpy()) == 4


def test_non_finite_count_counts_every_inf_and_nan():
  grads = [tf.constant([1.0, np.inf, np.nan]), tf.constant([[-np.inf, 0.0]])]
  assert float(loss_scale_lib.non_finite_count(grads).numpy()) == 3.0


def _trainer():
  keras.utils.set_random_seed(0)
  with precision.policy("float16"):
    model = models.build_model(input_shape=(None, None, 3), **TINY)
  return Trainer(model, tf.distribute.get_strategy(), 2, 100,
                 {"dfe": (1e-5, 1e-7), "dmg": (1e-4, 1e-6)}, loss_scaling=True)


def test_a_checkpoint_of_the_keras_loss_scale_optimizer_layout_resumes(tmp_path):
  old = _trainer()
  # The layout before the trainer kept its own scale: one LossScaleOptimizer per group
  # wrapping that group's Adam, with its own scale and finite-step counter.
  wrapped = {}
  for group, adam in old.optimizers.items():
    adam.apply_gradients([(tf.fill(v.shape, 0.5), v) for v in old.groups[group]])
    wrapped[group] = keras.optimizers.LossScaleOptimizer(adam, name=f"loss_scale_{group}")
    wrapped[group].build(old.groups[group])
  wrapped["dfe"].dynamic_scale.assign(8192.0)
  wrapped["dfe"].step_counter.assign(7)
  wrapped["dmg"].dynamic_scale.assign(1024.0)
  wrapped["dmg"].step_counter.assign(5)
  old.global_step.assign(11)
  path = tf.train.Checkpoint(model=old.model, global_step=old.global_step,
                             **{f"{g}_optimizer": o for g, o in wrapped.items()}
                             ).save(str(tmp_path / "ckpt"))

  new = _trainer()
  new.restore(path)
  assert new.step == 11
  assert float(new.loss_scale.scale.numpy()) == 1024.0  # the smaller of the two
  assert int(new.loss_scale.good_steps.numpy()) == 5
  for before, after in zip(old.model.weights, new.model.weights):
    np.testing.assert_array_equal(before.numpy(), after.numpy())
  for group in old.optimizers:
    for before, after in zip(old.optimizers[group].variables, new.optimizers[group].variables):
      np.testing.assert_array_equal(before.numpy(), after.numpy())
    assert int(new.optimizers[group].iterations.numpy()) == 1


def test_the_current_layout_round_trips_and_a_foreign_checkpoint_is_refused(tmp_path):
  old = _trainer()
  old.loss_scale.scale.assign(256.0)
  old.loss_scale.skipped_steps.assign(3)
  path = old.checkpoint.save(str(tmp_path / "ckpt"))
  new = _trainer()
  new.restore(path)
  assert float(new.loss_scale.scale.numpy()) == 256.0 and new.skipped_steps == 3
  other = tf.train.Checkpoint(model=old.model).save(str(tmp_path / "model-only"))
  try:
    _trainer().restore(other)
  except AssertionError:
    pass
  else:
    raise AssertionError("a checkpoint without the optimizers' state was accepted")
