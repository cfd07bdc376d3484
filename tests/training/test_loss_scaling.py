"""float16's loss scaling on two replicas (two logical CPUs: the code path of two GPUs).

Keras' LossScaleOptimizer let an overflow on replica 1 into the weights, and with one scale per
optimizer a DMG-only overflow at the backward pass's scale was never cured (issue 34, items 1
and 2; attn_depth/training/loss_scale.py). Both are injected here into the real Trainer."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # a TensorFlow process of its own (two logical CPUs): --full

_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from attn_depth import models
from attn_depth.core import precision
from attn_depth.training.trainer import Trainer

TINY = dict(backbone_weights=None, backbone_blocks=(1, 1, 1, 1), backbone_width=0.125,
            dmg_widths=(8, 8, 16, 16), frozen_stages=0)


class Injected(Trainer):
  # Overflows put into the gradients of the backward pass, before the trainer sees them.

  def __init__(self, *args, **kwargs):
    with args[1].scope():
      self.inf_on_replica = tf.Variable(-1, trainable=False)  # inf in every gradient there
      self.dmg_float16_factor = tf.Variable(0.0, trainable=False)  # DMG through float16 * k
    super().__init__(*args, **kwargs)

  def _gradients_fn(self, images, depths):
    loss, grads = super()._gradients_fn(images, depths)
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    here = tf.equal(tf.cast(replica, tf.int32), self.inf_on_replica)
    grads = [tf.where(here, g + np.inf, g) for g in grads]
    k, dfe = self.dmg_float16_factor, len(self.groups["dfe"])
    # A DMG gradient too large for float16 at the backward pass's scale: the scaled gradient
    # times k through float16 (max 65504), back to float32.
    grads[dfe:] = [tf.where(k > 0, tf.cast(tf.cast(g * k, tf.float16), tf.float32) / k, g)
                   for g in grads[dfe:]]
    return loss, grads


def setup():
  keras.utils.set_random_seed(0)
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with precision.policy("float16"), strategy.scope():
    model = models.build_model(input_shape=(None, None, 3), **TINY)
  trainer = Injected(model, strategy, 2, 100, {"dfe": (1e-5, 1e-7), "dmg": (1e-4, 1e-6)},
                     loss_scaling=True)
  rng = np.random.default_rng(0)
  images = rng.random((2, 64, 96, 3), dtype=np.float32)
  depths = rng.uniform(0.5, 10.0, (2, 64, 96, 1)).astype(np.float32)
  dataset = tf.data.Dataset.from_tensor_slices((images, depths)).batch(2).repeat()
  return trainer, iter(strategy.experimental_distribute_dataset(dataset))


def per_replica(trainer, group):
  # Each replica's copy of the group's weights: [replica][variable].
  copies = [trainer.strategy.experimental_local_results(v.value) for v in trainer.groups[group]]
  return [[c[r].numpy() for c in copies] for r in range(trainer.strategy.num_replicas_in_sync)]


def summary(trainer, before):
  out = {}
  for group in ("dfe", "dmg"):
    now = per_replica(trainer, group)
    out[group] = {
        "finite": all(np.isfinite(w).all() for replica in now for w in replica),
        "replicas_equal": all(np.array_equal(a, b) for a, b in zip(now[0], now[1])),
        "changed": any(not np.array_equal(a, b) for a, b in zip(now[0], before[group][0])),
    }
  scale = getattr(trainer, "loss_scale", None)
  out["scale"] = float(scale.scale.numpy()) if scale is not None else None
  out["skipped"] = trainer.skipped_steps if scale is not None else None
  out["adam_iterations"] = {g: int(opt.iterations.numpy()) for g, opt in trainer.optimizers.items()}
  return out


def weights(trainer):
  return {g: per_replica(trainer, g) for g in ("dfe", "dmg")}


results = {}
# 1. inf on replica 1 only, in the first step; then a clean step.
trainer, iterator = setup()
initial = weights(trainer)
trainer.inf_on_replica.assign(1)
trainer.train_step(iterator)
results["replica1_overflow"] = summary(trainer, initial)
trainer.inf_on_replica.assign(-1)
trainer.train_step(iterator)
results["then_clean"] = summary(trainer, initial)

# 2. DMG gradients that overflow float16 at the initial scale 2^15 but not at 2^14.
trainer, iterator = setup()
probe = trainer.strategy.run(trainer._gradients, args=next(iterator))[1]
dfe = len(trainer.groups["dfe"])
largest = max(float(np.abs(r.numpy()).max()) for g in probe[dfe:]
              for r in trainer.strategy.experimental_local_results(g))
trainer.dmg_float16_factor.assign(65504.0 / (0.7 * largest))
initial = weights(trainer)
trainer.train_step(iterator)
results["dmg_overflow_first_step"] = summary(trainer, initial)
after_first = weights(trainer)
for _ in range(3):
  trainer.train_step(iterator)
results["dmg_overflow_later_steps"] = summary(trainer, after_first)
print("RESULT " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def results():
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": REPO_ROOT}
  run = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO_ROOT, env=env,
                       capture_output=True, text=True, timeout=600, check=False)
  assert run.returncode == 0, run.stderr[-3000:]
  return json.loads(run.stdout.split("RESULT ", 1)[1])


def test_an_overflow_on_one_replica_skips_the_step_on_every_replica(results):
  step = results["replica1_overflow"]
  for group in ("dfe", "dmg"):
    assert step[group]["finite"], f"a {group} weight became inf/NaN"
    assert step[group]["replicas_equal"], f"the replicas' {group} weights differ"
    assert not step[group]["changed"], f"the {group} weights moved in a skipped step"
  assert step["scale"] == 2.0 ** 14 and step["skipped"] == 1
  assert step["adam_iterations"] == {"dfe": 0, "dmg": 0}
  clean = results["then_clean"]
  for group in ("dfe", "dmg"):
    assert clean[group]["finite"] and clean[group]["replicas_equal"] and clean[group]["changed"]
  assert clean["scale"] == 2.0 ** 14 and clean["skipped"] == 1
  assert clean["adam_iterations"] == {"dfe": 1, "dmg": 1}


def test_a_dmg_only_overflow_lowers_the_one_scale_and_the_dmg_keeps_learning(results):
  later = results["dmg_overflow_later_steps"]
  assert later["dmg"]["changed"], "the DMG stopped learning after its overflow"
  first = results["dmg_overflow_first_step"]
  assert first["dmg"]["finite"] and first["dfe"]["finite"]
  assert not first["dmg"]["changed"] and not first["dfe"]["changed"]  # every group skips
  assert first["scale"] == 2.0 ** 14 and first["skipped"] == 1
  assert later["dfe"]["changed"] and later["dmg"]["finite"] and later["dmg"]["replicas_equal"]
  assert later["scale"] == 2.0 ** 14 and later["skipped"] == 1
  assert later["adam_iterations"] == {"dfe": 3, "dmg": 3}
