"""tf.distribute: MirroredStrategy on two logical CPUs, MultiWorkerMirroredStrategy on loopback."""

import json
import os
import re
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from attn_depth.data import synthetic_rooms
from tests.conftest import REPO_ROOT
from tests.training import tiny

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)

_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": REPO_ROOT}


def _bindings(data_dir, steps=2):
  return tiny.TINY_MODEL + tiny.tiny_rooms(data_dir) + tiny.tiny_training(total_steps=steps)


_MIRRORED_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import gin
from attn_depth import config, training
bindings, out = json.loads(sys.argv[1]), sys.argv[2]
results = {}
for name, strategy in (("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
                       ("single", tf.distribute.OneDeviceStrategy("/cpu:0"))):
  gin.clear_config()
  config.parse_gin(["gin/base.gin"], bindings)
  result = training.train(f"{out}/{name}", strategy)
  results[name] = {"replicas": strategy.num_replicas_in_sync, "losses": result["loss_history"],
                   "checkpoint": result["checkpoint"]}
print("RESULT " + json.dumps(results))
"""


def _variables(checkpoint):
  reader = tf.train.load_checkpoint(checkpoint)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
          if name.startswith("model/")}


def test_mirrored_two_replicas_equal_one_device_with_the_same_global_batch(tmp_path):
  """The loss is scaled for the global batch: 2 replicas x 1 example == 1 device x 2."""
  synthetic_rooms.synthetic_rooms_dataset(8, 0, str(tmp_path / "data"))
  result = subprocess.run(
      [sys.executable, "-c", _MIRRORED_SCRIPT, json.dumps(_bindings(tmp_path / "data")),
       str(tmp_path)], cwd=REPO_ROOT, env=_ENV, capture_output=True, text=True, timeout=600,
      check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  results = json.loads(result.stdout.split("RESULT ", 1)[1])
  assert results["mirrored"]["replicas"] == 2 and results["single"]["replicas"] == 1
  np.testing.assert_allclose(results["mirrored"]["losses"], results["single"]["losses"],
                             rtol=1e-4)
  mirrored = _variables(results["mirrored"]["checkpoint"])
  single = _variables(results["single"]["checkpoint"])
  assert mirrored.keys() == single.keys() and len(mirrored) > 20
  for name in mirrored:
    np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-3, atol=1e-5, err_msg=name)


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _start_workers(tmp_path, steps, extra_bindings=()):
  data_dir = tmp_path / "data"
  synthetic_rooms.synthetic_rooms_dataset(8, 0, str(data_dir))  # prepared once, not raced
  workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
  model_dir = str(tmp_path / "run")
  processes = []
  bindings = _bindings(data_dir, steps=steps) + list(extra_bindings)
  for index in range(2):
    tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
    command = [sys.executable, "-u", "tools/train.py", f"--model_dir={model_dir}",
               "--strategy=multi_worker"] + [f"--gin_bindings={b}" for b in bindings]
    processes.append(subprocess.Popen(
        command, cwd=REPO_ROOT, env={**_ENV, "TF_CONFIG": json.dumps(tf_config)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  return model_dir, processes


def _finish(processes, expect=0):
  outputs = []
  try:
    for process in processes:
      outputs.append(process.communicate(timeout=600)[0])
  finally:
    for process in processes:
      process.kill()
  for process, output in zip(processes, outputs):
    assert process.returncode == expect, output[-3000:]
  return outputs


def test_two_workers_on_loopback_end_with_equal_weights(tmp_path):
  model_dir, processes = _start_workers(tmp_path, steps=3)
  outputs = _finish(processes)
  assert "on 2 replica(s)" in outputs[0]
  chief = _variables(tf.train.latest_checkpoint(model_dir))
  other = _variables(tf.train.latest_checkpoint(os.path.join(model_dir, "workers", "worker_1")))
  assert chief.keys() == other.keys() and len(chief) > 20
  for name in chief:
    np.testing.assert_array_equal(chief[name], other[name], err_msg=name)
  assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-3")


def test_sigterm_to_one_worker_makes_all_workers_save_the_same_step(tmp_path):
  model_dir, processes = _start_workers(tmp_path, steps=10_000)
  seen = []
  for line in processes[0].stdout:  # the chief logs every step (log_every = 1)
    seen.append(line)
    if line.startswith("step 3/"):
      break
  processes[1].send_signal(signal.SIGTERM)  # the preempted worker is not the chief
  outputs = _finish(processes, expect=128 + signal.SIGTERM)  # every worker: stopped, not done
  chief_output = "".join(seen) + outputs[0]
  assert "SIGTERM (or Ctrl-C) on another worker: saved a checkpoint at step" in chief_output
  assert "Traceback" not in chief_output + outputs[1]
  chief_step = tf.train.latest_checkpoint(model_dir).rsplit("-", 1)[1]
  other = tf.train.latest_checkpoint(os.path.join(model_dir, "workers", "worker_1"))
  assert other.rsplit("-", 1)[1] == chief_step and int(chief_step) >= 3


def _read_until(process, prefix):
  """The chief's lines up to the first that starts with `prefix`."""
  seen = []
  for line in process.stdout:
    seen.append(line)
    if line.startswith(prefix):
      return "".join(seen)
  raise AssertionError("ended before " + repr(prefix) + ":\n" + "".join(seen)[-3000:])


def _ended_alone(process, timeout=180):
  """What a surviving worker printed and its exit status, once it stopped by itself."""
  try:
    output = process.communicate(timeout=timeout)[0]
  finally:
    process.kill()
  return output, process.returncode


def _errors(output):
  return [line for line in output.splitlines() if line.startswith("train: error:")]


def test_a_hung_or_killed_worker_stops_the_others_and_every_worker_resumes(tmp_path):
  """A worker that goes silent (SIGSTOP: a machine that vanished) makes the chief's step fail
  at the collective timeout; a chief killed with SIGKILL makes the other worker fail at once.
  Each survivor stops with one line naming what was lost and the intact checkpoint, and the
  same command on every worker resumes from it to the end, the workers still equal."""
  bindings = ["build_strategy.collective_timeout_s = 15", "train.checkpoint_every = 2"]
  model_dir, (chief, other) = _start_workers(tmp_path, steps=12, extra_bindings=bindings)
  seen = _read_until(chief, "step 5/")
  other.send_signal(signal.SIGSTOP)
  output, code = _ended_alone(chief)
  other.kill()
  assert code == 1, seen + output
  # A stopped process also stops its heartbeats: whichever the chief notices first -- the
  # collective timeout or the coordination service's missed heartbeats -- is its one line
  # (both messages from TF's real error texts: tests/training/test_controller.py).
  (error,) = _errors(output)
  assert re.fullmatch(
      r"train: error: (no answer from the other workers within the collective timeout \(15 s\) "
      r"after step 5: one is hung or lost|lost worker 1 after step 5 \(killed, crashed, or its "
      r"machine unreachable\)); ckpt-4 is intact: start every worker again with the same "
      r"command to resume from it", error), output[-3000:]
  assert "Traceback" not in output
  assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-4")

  model_dir, (chief, other) = _start_workers(tmp_path, steps=12, extra_bindings=bindings)
  seen = _read_until(chief, "step 7/")
  assert "resumed from " + os.path.join(model_dir, "ckpt-4") + " at step 4" in seen
  chief.send_signal(signal.SIGKILL)
  chief.communicate()
  output, code = _ended_alone(other)
  assert code == 1, output[-3000:]
  assert _errors(output) == [
      "train: error: lost worker 0 after step 7 (killed, crashed, or its machine unreachable); "
      "ckpt-6 is intact: start every worker again with the same command to resume from it"
  ], output[-3000:]
  assert "Traceback" not in output

  model_dir, processes = _start_workers(tmp_path, steps=12, extra_bindings=bindings)
  outputs = _finish(processes)
  assert "resumed from " + os.path.join(model_dir, "ckpt-6") + " at step 6" in outputs[0]
  assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-12")
  chief_weights = _variables(tf.train.latest_checkpoint(model_dir))
  other_weights = _variables(os.path.join(model_dir, "workers", "worker_1", "ckpt-12"))
  for name in chief_weights:
    np.testing.assert_array_equal(chief_weights[name], other_weights[name], err_msg=name)
