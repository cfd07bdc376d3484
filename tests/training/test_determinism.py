"""Deterministic + XLA on a GPU (tensorflow#69417): refused before any work exactly when a
trainable variable lies before the stem's max pool, decided on the shipped configs. The GPU
list is faked: the rule depends on it and on the network, not on a GPU."""

import types

import gin
import pytest
import tensorflow as tf

from attn_depth import config
from attn_depth import models
from attn_depth.training import determinism
from attn_depth.training import TrainingSetupError
from tests.training import tiny


@pytest.fixture
def gpus(monkeypatch):
  def pretend(n):
    devices = [types.SimpleNamespace(name=f"/device:GPU:{i}") for i in range(n)]
    monkeypatch.setattr(determinism.tf.config, "list_logical_devices",
                        lambda kind=None: devices if kind == "GPU" else [])
  return pretend


def _model(gin_file):
  gin.clear_config()
  config.parse_gin([gin_file], tiny.TINY_MODEL)  # the config's own frozen_stages
  return models.build_model(input_shape=(None, None, 3))


def test_the_variables_before_the_max_pool_are_the_stem_s():
  assert sorted(determinism.variables_before_max_pools(_model("gin/quickstart.gin"))) == [
      "conv1_bn/beta", "conv1_bn/gamma", "conv1_conv/bias", "conv1_conv/kernel"]
  for shipped in ["gin/nyu/full_r101.gin", "gin/nyu/baseline_r50.gin", "gin/base.gin"]:
    assert determinism.variables_before_max_pools(_model(shipped)) == [], shipped


def test_deterministic_xla_on_a_gpu_is_refused_for_a_trainable_stem(gpus):
  quickstart = _model("gin/quickstart.gin")
  gpus(1)
  with pytest.raises(TrainingSetupError, match=r"cannot train conv1_\S+, .*conv1_conv/kernel.* on a GPU: .*"
                     r"tensorflow#69417.*jit_compile = False.*frozen_stages >= 1"):
    determinism.check_deterministic_xla(quickstart, deterministic=True, jit_compile=True)
  # Either switch alone is fine on a GPU, and both together are fine on a CPU.
  determinism.check_deterministic_xla(quickstart, deterministic=True, jit_compile=False)
  determinism.check_deterministic_xla(quickstart, deterministic=False, jit_compile=True)
  gpus(0)
  determinism.check_deterministic_xla(quickstart, deterministic=True, jit_compile=True)


def test_the_paper_configs_may_use_both_on_a_gpu(gpus):
  paper = _model("gin/nyu/full_r101.gin")
  gpus(2)
  determinism.check_deterministic_xla(paper, deterministic=True, jit_compile=True)
