"""The stage runner with fake tools (small Python scripts): done stages skipped, failures in one
line with the log, interruptions raised, missing products, changed inputs run again."""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from attn_depth.reproduction import stages as stages_lib
from attn_depth.reproduction.stages import Stage
from attn_depth.reproduction.stages import StageRunner


def _tool(tmp_path, body, name="tool.py"):
  path = tmp_path / name
  path.write_text("import sys\n" + body + "\n")
  return str(path)


def _runner():
  lines = []
  return StageRunner(print_fn=lines.append), lines


def test_a_done_stage_is_skipped_until_its_command_or_inputs_change(tmp_path):
  product = tmp_path / "run" / "out.txt"
  tool = _tool(tmp_path, "open(sys.argv[1], 'a').write('x')\nprint('step 1/1  loss 0.5')")
  stage = Stage("train", str(tmp_path / "run"), [tool, str(product)], {"step": 1},
                (str(product),))
  os.makedirs(stage.folder)
  runner, lines = _runner()
  record = runner.run(stage, "1/1 row")
  assert record["status"] == "done" and record["returncode"] == 0 and product.read_text() == "x"
  assert "[1/1 row]   step 1/1  loss 0.5" in lines  # progress relayed
  assert any(line.startswith("[1/1 row] train: done in ") for line in lines)
  assert runner.run(stage)["status"] == "skipped" and product.read_text() == "x"
  # The log keeps every attempt, each under the command it ran.
  log = open(stage.log_path, encoding="utf-8").read()
  assert log.startswith(f"# ") and stage.shell_command() in log and "step 1/1" in log
  # Other inputs (a newer checkpoint, say): run again.
  stage.inputs = {"step": 2}
  assert runner.run(stage)["status"] == "done" and product.read_text() == "xx"
  # A product gone: run again.
  product.unlink()
  assert runner.run(stage)["status"] == "done" and product.read_text() == "x"
  with open(os.path.join(stage.folder, "stages.json"), encoding="utf-8") as f:
    state = json.load(f)
  assert state["train"]["inputs"] == {"step": 2} and "pid" not in state["train"]


def test_a_failed_stage_is_one_line_with_its_last_output_and_log(tmp_path):
  tool = _tool(tmp_path, "print('loading')\nprint('evaluate: error: no such file x.mat')\n"
               "sys.exit(1)")
  stage = Stage("evaluate nyu_labeled paper", str(tmp_path), [tool])
  runner, lines = _runner()
  record = runner.run(stage)
  assert record["status"] == "failed" and record["returncode"] == 1
  assert lines[-1] == (f"evaluate nyu_labeled paper: failed (exit 1): evaluate: error: no such "
                       f"file x.mat (log: {stage.log_path})")
  assert not stages_lib.is_done(stage)


def test_exit_0_without_its_product_is_a_failure(tmp_path):
  stage = Stage("export", str(tmp_path), [_tool(tmp_path, "print('ok')")],
                products=(str(tmp_path / "export" / "saved_model.pb"),))
  runner, lines = _runner()
  assert runner.run(stage)["status"] == "failed"
  assert "failed (no export/saved_model.pb)" in lines[-1]


@pytest.mark.parametrize("code", [130, 143])
def test_a_stage_stopped_by_a_signal_interrupts_the_reproduction(tmp_path, code):
  stage = Stage("train", str(tmp_path), [_tool(tmp_path, f"sys.exit({code})")])
  runner, _ = _runner()
  with pytest.raises(stages_lib.Interrupted):
    runner.run(stage)
  assert stages_lib.read_state(str(tmp_path))["train"]["status"] == "interrupted"


def test_the_trained_step_comes_from_the_checkpoint_file(tmp_path):
  assert stages_lib.trained_step(str(tmp_path)) is None
  (tmp_path / "checkpoint").write_text(
      'model_checkpoint_path: "ckpt-86680"\nall_model_checkpoint_paths: "ckpt-86000"\n')
  assert stages_lib.trained_step(str(tmp_path)) == 86680


def test_a_previous_calls_child_is_recognised_by_its_command_line():
  child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                            "tools/x.py", "--model_dir=/runs/a", "--gin_file=gin/b.gin"])
  try:
    command = ["tools/x.py", "--model_dir=/runs/a", "--gin_file=gin/b.gin"]
    deadline = time.time() + 30
    while not pathlib.Path(f"/proc/{child.pid}/cmdline").read_bytes() and time.time() < deadline:
      time.sleep(0.01)  # until the child has exec'd (its command line is empty before)
    assert stages_lib._alive(child.pid, command)  # pylint: disable=protected-access
    assert not stages_lib._alive(child.pid, ["tools/x.py", "--model_dir=/runs/other"])  # pylint: disable=protected-access
    assert not stages_lib._alive(2 ** 22 + 7, command)  # pylint: disable=protected-access
  finally:
    child.kill()
    child.wait()
  assert not stages_lib._alive(child.pid, command)  # pylint: disable=protected-access


def test_killed_by_kill_9_its_child_saves_and_the_next_call_waits_for_it(tmp_path):
  """The reproduction killed with SIGKILL: its running child gets SIGTERM from the kernel and
  can still write its log (it writes the file itself); a second call waits until that child
  has stopped before running the stage again."""
  marker = tmp_path / "saved"
  tool = _tool(tmp_path, f"""import os, signal, time
if os.path.exists({str(marker)!r}):
    print('resumed; step 9/9', flush=True)
    sys.exit(0)
def stop(*_):
    time.sleep(3)  # saving a checkpoint
    open({str(marker)!r}, 'w').close()
    print('SIGTERM: saved a checkpoint at step 1 and stopped', flush=True)
    sys.exit(143)
signal.signal(signal.SIGTERM, stop)
print('step 1/9', flush=True)
time.sleep(120)""")
  folder = str(tmp_path / "run")
  script = ("from attn_depth.reproduction.stages import Stage, StageRunner\n"
            f"StageRunner().run(Stage('train', {folder!r}, [{tool!r}, '--model_dir=x']))\n")
  parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL)
  log_path = os.path.join(folder, "logs", "train.log")
  deadline = time.time() + 120
  while not (os.path.exists(log_path) and "step 1/9" in open(log_path, encoding="utf-8").read()):
    assert time.time() < deadline and parent.poll() is None
    time.sleep(0.1)
  parent.kill()
  parent.wait()
  runner, lines = _runner()
  record = runner.run(Stage("train", folder, [tool, "--model_dir=x"]))
  assert any("waiting for the previous call's process" in line for line in lines), lines
  assert record["status"] == "done"
  log = open(log_path, encoding="utf-8").read()
  assert log.index("SIGTERM: saved a checkpoint") < log.index("resumed; step 9/9")


def test_a_stage_recorded_as_a_tools_script_counts_as_the_same_attn_depth_command(tmp_path):
  """A reproduction started before the `attn-depth` command (its stages.json says
  ["tools/prepare_nyu.py", ...]) is not run again for the new spelling; other changes are."""
  product = tmp_path / "out.txt"
  product.write_text("x")
  stage = Stage("prepare NYU", str(tmp_path), ["attn-depth", "prepare-nyu", "--archive=a"],
                products=(str(product),))
  record = {"status": "done", "command": ["tools/prepare_nyu.py", "--archive=a"], "inputs": {}}
  (tmp_path / "stages.json").write_text(json.dumps({"prepare NYU": record}))
  assert stages_lib.is_done(stage)
  record["command"] = ["tools/prepare_nyu.py", "--archive=b"]
  (tmp_path / "stages.json").write_text(json.dumps({"prepare NYU": record}))
  assert not stages_lib.is_done(stage)
