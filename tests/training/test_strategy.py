"""Choosing the strategy: the paper's batch of 3 on a machine with several GPUs trains (on the
most GPUs it splits over) instead of stopping, and says so in one line."""

import logging
import types

import pytest
import tensorflow as tf

from attn_depth.training import distribution


@pytest.fixture
def visible_gpus(monkeypatch):
  """Pretends `n` GPUs are visible; returns the device lists MirroredStrategy was built on."""
  made = []

  def pretend(n):
    devices = [types.SimpleNamespace(name=f"/job:localhost/replica:0/task:0/device:GPU:{i}")
               for i in range(n)]
    monkeypatch.setattr(distribution.tf.config, "list_logical_devices",
                        lambda kind=None: devices if kind == "GPU" else [])
    monkeypatch.setattr(distribution.tf.distribute, "MirroredStrategy",
                        lambda devices=None: made.append(devices) or "mirrored")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    return made

  return pretend


@pytest.mark.parametrize("gpus, batch, used", [
    (2, 3, 1), (4, 3, 3), (8, 3, 3), (8, 6, 6), (2, 4, 2), (4, 8, 4), (1, 3, 1), (0, 3, 0)])
def test_auto_trains_on_the_most_gpus_the_batch_splits_over(visible_gpus, caplog, gpus, batch,
                                                            used):
  made = visible_gpus(gpus)
  with caplog.at_level(logging.WARNING):
    strategy = distribution.build_strategy("auto", global_batch_size=batch)
  if used > 1:
    assert strategy == "mirrored"
    assert made == [[f"/job:localhost/replica:0/task:0/device:GPU:{i}" for i in range(used)]]
  else:
    assert not made and strategy is tf.distribute.get_strategy()
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  if used < gpus:
    assert warnings == [f"batch size {batch} does not split over the {gpus} visible GPUs: "
                        f"training on {used} of them (a batch size divisible by {gpus} uses "
                        "them all)"]
  else:
    assert not warnings


def test_mirrored_as_asked_and_auto_without_a_batch_take_every_gpu(visible_gpus):
  made = visible_gpus(4)
  distribution.build_strategy("auto")
  assert len(made[-1]) == 4
  distribution.build_strategy("mirrored", global_batch_size=3)
  assert made[-1] is None  # every GPU; train() then names the batch that does not split
