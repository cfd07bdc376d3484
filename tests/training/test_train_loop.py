"""The training loop in-process: learning rates, frozen variables, resume, NaN stop, seeds."""

import os

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from attn_depth import config
from attn_depth import models
from attn_depth import training
from attn_depth.training import train_lib
from attn_depth.training import trainer as trainer_lib
from tests.training import tiny

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)


def _configure(tmp_path, *extra, gin_files=("gin/base.gin",)):
  config.parse_gin(list(gin_files), tiny.TINY_MODEL + tiny.tiny_rooms(tmp_path / "data")
                   + tiny.tiny_training() + list(extra), finalize=False)


def test_learning_rates_follow_eq4_per_group(tmp_path):
  _configure(tmp_path, "train.total_steps = 3", "train.steps_per_epoch = 2",
             "train.decay_epochs = 2")
  result = training.train(str(tmp_path / "run"))
  assert result["step"] == 3 and len(result["loss_history"]) == 3
  # The step with index 2 (the third) used Eq. 4 at global_step 2 with decay_steps 4.
  assert result["learning_rates"]["dfe"] == pytest.approx((1e-3 - 1e-5) * 0.5 + 1e-5, rel=1e-5)
  assert result["learning_rates"]["dmg"] == pytest.approx((1e-2 - 1e-4) * 0.5 + 1e-4, rel=1e-5)
  assert os.path.isfile(tmp_path / "run" / "operative_config.gin")
  operative = (tmp_path / "run" / "operative_config.gin").read_text()
  assert "train.total_steps = 3" in operative and "build_model.variant = 'full'" in operative


def test_frozen_variables_do_not_move_in_training(tmp_path):
  _configure(tmp_path, "build_model.frozen_stages = 2", "build_model.freeze_batch_norm = True")
  model = models.build_model(input_shape=(None, None, 3))
  strategy = tf.distribute.get_strategy()
  trainer = trainer_lib.Trainer(model, strategy, 2, decay_steps=10,
                                learning_rates={"dfe": (1e-2, 1e-4), "dmg": (1e-2, 1e-4)})
  from attn_depth import data  # pylint: disable=import-outside-toplevel
  iterator = iter(data.build_pipeline("synthetic_rooms", "train", batch_size=2))
  backbone = models.get_backbone(model)
  frozen = [w for l in backbone.layers
            if l.name.startswith(("conv1_", "conv2_")) or "_bn" in l.name for w in l.weights]
  moving = [model.get_layer("crb4_reduce").kernel, backbone.get_layer("conv3_block1_2_conv").kernel]
  before = [np.array(w) for w in frozen + moving]
  for _ in range(2):
    trainer.train_step(iterator)
  after = [np.array(w) for w in frozen + moving]
  for w, b, a in zip(frozen, before, after):
    np.testing.assert_array_equal(a, b, err_msg=w.path)
  for b, a in zip(before[len(frozen):], after[len(frozen):]):
    assert not np.array_equal(a, b)
  assert trainer.step == 2


def test_resume_continues_step_count_and_schedule(tmp_path):
  _configure(tmp_path, "train.steps_per_epoch = 2", "train.decay_epochs = 2")
  run = str(tmp_path / "run")
  first = training.train(run, total_steps=2)
  assert first["step"] == 2 and tf.train.latest_checkpoint(run).endswith("ckpt-2")
  second = training.train(run, total_steps=4)
  assert second["step"] == 4 and len(second["loss_history"]) == 2  # only steps 3 and 4 ran
  assert second["learning_rates"]["dmg"] == pytest.approx((1e-2 - 1e-4) * 0.25 + 1e-4, rel=1e-5)
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(run))
  assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == 4


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
  _configure(tmp_path)
  run = str(tmp_path / "run")
  training.train(run, total_steps=2)
  gin.clear_config()
  _configure(tmp_path)
  real = trainer_lib.log_l1_per_example
  monkeypatch.setattr(trainer_lib, "log_l1_per_example",
                      lambda gt, pred: real(gt, pred) * float("nan"))
  with pytest.raises(training.NonFiniteLossError, match="at step 3.*ckpt-2"):
    training.train(run, total_steps=4)
  assert tf.train.latest_checkpoint(run).endswith("ckpt-2")
  tf.train.load_checkpoint(tf.train.latest_checkpoint(run))  # still readable


def test_same_seed_same_first_losses(tmp_path):
  _configure(tmp_path, "train.total_steps = 3")
  first = training.train(str(tmp_path / "a"))["loss_history"]
  gin.clear_config()
  _configure(tmp_path, "train.total_steps = 3")
  again = training.train(str(tmp_path / "b"))["loss_history"]
  gin.clear_config()
  _configure(tmp_path, "train.total_steps = 3", "train.seed = 7")
  other = training.train(str(tmp_path / "c"))["loss_history"]
  np.testing.assert_allclose(first, again, rtol=1e-6)
  assert not np.allclose(first, other)


def _tensor(checkpoint, name):
  return tf.train.load_checkpoint(checkpoint).get_tensor(name + "/.ATTRIBUTES/VARIABLE_VALUE")


def _model_weights(checkpoint):
  """The network's weights in `checkpoint`, read into a network built as configured."""
  model = models.build_model(input_shape=(None, None, 3))
  tf.train.Checkpoint(model=model).read(checkpoint).expect_partial()
  return {w.path: w.numpy() for w in model.weights}


def test_warm_start_takes_model_weights_only(tmp_path):
  _configure(tmp_path)
  source_run = str(tmp_path / "source")
  training.train(source_run, total_steps=2)
  source = tf.train.latest_checkpoint(source_run)
  gin.clear_config()
  # Learning rates of 0: the warm step moves no weight, so the warm run's checkpoint shows
  # what it took at the start.
  _configure(tmp_path, f"train.warm_start_from = '{source_run}'",
             "train.dfe_learning_rate = (0.0, 0.0)", "train.dmg_learning_rate = (0.0, 0.0)")
  result = training.train(str(tmp_path / "warm"), total_steps=1)
  assert result["step"] == 1  # the step counter started fresh
  warm = tf.train.latest_checkpoint(str(tmp_path / "warm"))
  taken, given = _model_weights(warm), _model_weights(source)
  assert taken.keys() == given.keys() and len(taken) > 100
  for name, value in given.items():
    np.testing.assert_array_equal(taken[name], value, err_msg=name)
  # Not the optimizer: its step counts and moments are the warm run's own (one step).
  for group in ("dfe", "dmg"):
    assert _tensor(warm, f"{group}_optimizer/_iterations") == 1
    assert _tensor(source, f"{group}_optimizer/_iterations") == 2
  moments = [name for name in tf.train.list_variables(source) if "optimizer/_variables/" in name[0]]
  assert moments and any(
      not np.array_equal(tf.train.load_checkpoint(warm).get_tensor(name),
                         tf.train.load_checkpoint(source).get_tensor(name))
      for name, _ in moments)
  assert _tensor(warm, "global_step") == 1 and _tensor(source, "global_step") == 2


def test_batch_must_split_over_replicas(tmp_path):
  _configure(tmp_path, "train.batch_size = 3")

  class TwoReplicas:
    num_replicas_in_sync = 2

  with pytest.raises(training.TrainingSetupError, match="does not split over 2 replicas"):
    training.train(str(tmp_path / "run"), strategy=TwoReplicas())


def test_deterministic_xla_with_a_trainable_stem_is_refused_on_a_gpu_before_any_step(
    tmp_path, monkeypatch):
  """The quickstart's trainable stem under deterministic + XLA on a (faked) GPU: one clear
  error before the first step, nothing written but the run's lock-free folder."""
  _configure(tmp_path, "train.deterministic = True", "train.jit_compile = True",
             gin_files=("gin/quickstart.gin",))
  gpu = [tf.config.LogicalDevice("/device:GPU:0", "GPU")]
  monkeypatch.setattr(tf.config, "list_logical_devices",
                      lambda kind=None: gpu if kind == "GPU" else [])
  # Its thread settings need a fresh process (tools/train.py); the rule is what is tested.
  monkeypatch.setattr(train_lib, "configure_determinism", lambda deterministic: None)
  with pytest.raises(training.TrainingSetupError, match="tensorflow#69417"):
    training.train(str(tmp_path / "run"))
  assert not tf.io.gfile.glob(str(tmp_path / "run" / "ckpt-*"))


def xla_compiled(function):
  """Whether the tf.function ran (was traced) and every trace is marked for XLA compilation."""
  traces = function._list_all_concrete_functions()  # pylint: disable=protected-access
  return bool(traces) and all(
      trace.function_def.attr["_XlaMustCompile"].b for trace in traces)


@pytest.mark.parametrize("precision, jit", [("bfloat16", False), ("float16", True)])
def test_mixed_precision_and_xla_switches_train_on_cpu(tmp_path, monkeypatch, precision, jit):
  """The GPU switches run on CPU too: float16 with dynamic loss scaling under XLA, bfloat16.
  What trained is checked, not only that it finished: the layers computed in the asked
  precision, float16 had its one dynamic loss scale, and the forward and backward pass
  was compiled by XLA exactly when asked."""
  made = []

  class Recorded(trainer_lib.Trainer):
    def __init__(self, *args, **kwargs):
      super().__init__(*args, **kwargs)
      made.append(self)

  monkeypatch.setattr(train_lib, "Trainer", Recorded)
  _configure(tmp_path, f"train.mixed_precision = '{precision}'", f"train.jit_compile = {jit}")
  result = training.train(str(tmp_path / "run"))
  assert result["step"] == 2 and all(np.isfinite(result["loss_history"]))
  (trainer,) = made
  convolutions = [layer for layer in trainer.model._flatten_layers()  # pylint: disable=protected-access
                  if isinstance(layer, keras.layers.Conv2D)]
  assert convolutions and all(layer.compute_dtype == precision for layer in convolutions)
  assert all(layer.variable_dtype == "float32" for layer in convolutions)
  # float16: one dynamic loss scale for both groups, in the checkpoint; plain Adams.
  assert (trainer.loss_scale is not None) == (precision == "float16")
  assert all(type(opt) is keras.optimizers.Adam for opt in trainer.optimizers.values())
  saved = {name.split("/")[0] for name, _ in tf.train.list_variables(result["checkpoint"])}
  assert ("loss_scale" in saved) == (precision == "float16")
  assert xla_compiled(trainer._gradients) == jit  # pylint: disable=protected-access
  assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards


def test_a_truncated_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, caplog):
  _configure(tmp_path)
  run = str(tmp_path / "run")
  training.train(run, total_steps=2)  # checkpoint_every = 1: ckpt-1 and ckpt-2
  data_file = os.path.join(run, "ckpt-2.data-00000-of-00001")
  with open(data_file, "r+b") as f:  # killed while writing: half the bytes
    f.truncate(os.path.getsize(data_file) // 2)
  with caplog.at_level("WARNING"):
    result = training.train(run, total_steps=3)
  assert "ckpt-2: unreadable" in caplog.text
  assert result["step"] == 3 and len(result["loss_history"]) == 2  # steps 2 and 3 ran again
  os.remove(os.path.join(run, "ckpt-1.index"))  # a missing shard, and ckpt-3 truncated too
  for name in os.listdir(run):
    if name.startswith("ckpt-") and name.endswith(".index") and name != "ckpt-1.index":
      os.remove(os.path.join(run, name))
  with pytest.raises(training.TrainingSetupError, match="no readable checkpoint"):
    training.train(run, total_steps=4)


def test_a_checkpoint_written_but_not_yet_recorded_is_resumed_from(tmp_path):
  """kill -9 between writing ckpt-N and updating the `checkpoint` state file: no fresh start."""
  _configure(tmp_path)
  run = str(tmp_path / "run")
  training.train(run, total_steps=2)
  os.remove(os.path.join(run, "checkpoint"))
  result = training.train(run, total_steps=3)
  assert result["step"] == 3 and len(result["loss_history"]) == 1


def test_both_room_sets_render_up_front_with_progress_and_the_summary_says_where(tmp_path,
                                                                                 capsys):
  """A first run renders its training rooms and then, before its first step, the test rooms its
  image summaries and final evaluation read, each with a progress line (count, ETA) on stderr;
  the closing summary explains its detail rows and names the report it wrote."""
  _configure(tmp_path, "train.total_steps = 1", "train.image_summary_every = 1",
             "train.final_eval = True", "synthetic_rooms_source.num_train_examples = 4",
             "synthetic_rooms_source.num_test_examples = 2")
  training.train(str(tmp_path / "run"))
  out, err = capsys.readouterr()
  for rooms, scene_set in ((4, 0), (2, 1)):
    assert f"rendering procedural rooms (set {scene_set}): {rooms}/{rooms} rooms, " in err, err
    assert f"rendering {rooms} procedural rooms (set {scene_set}) into" in out
  assert "ETA 0m00s" in err
  # The test rooms are rendered before the first step, not at its image summary.
  assert out.index("rendering 2 procedural rooms (set 1)") < out.index("step 1/1")
  report = tmp_path / "run" / "eval" / "synthetic_rooms_paper.json"
  assert f"report: {report} and {report.with_suffix('.md')}" in out
  assert "dbe_acc, dbe_comp: ε_acc, ε_comp (iBims-1)" in out and "edge_f1@t: F1" in out
