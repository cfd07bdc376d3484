"""Coverage-guided fuzzing of the readers of user files (needs atheris: pip install atheris).

  python tools/fuzz.py --target=photo --seconds=600
  python tools/fuzz.py --target=all --runs=300

Each target runs in its own process; a finding (an exception other than the reader's one-line
error, a hang, a blow-up in memory) is printed with its traceback and the input is saved in
--work_dir. Exit status 1 if any target found something.
"""

import os
import re
import subprocess
import sys

import attn_depth_cli  # noqa: E402

attn_depth_cli.quiet_start()  # before the package (TensorFlow) loads

from absl import flags  # noqa: E402

from attn_depth import cli  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # lab/
from lab import fuzzing  # noqa: E402

_TARGET = flags.DEFINE_string("target", "all", "A target, or all: "
                              + ", ".join(fuzzing.targets()) + ".")
_RUNS = flags.DEFINE_integer("runs", None, "Inputs per target.")
_SECONDS = flags.DEFINE_integer("seconds", None, "Seconds per target (default 60 unless --runs).")
_SEED = flags.DEFINE_integer("seed", 0, "libFuzzer's seed: the same seed, the same inputs.")
_WORK_DIR = flags.DEFINE_string("work_dir", None, "Corpus and findings (default: a temp folder "
                                "per target).")
_ONE = flags.DEFINE_bool("one", False, "Internal: run one target in this process.")


def main(argv):
  del argv
  with cli.tool("fuzz"):
    names = list(fuzzing.targets()) if _TARGET.value == "all" else [_TARGET.value]
    unknown = [name for name in names if name not in fuzzing.targets()]
    if unknown:
      raise cli.UserError(f"--target={unknown[0]}: choose one of {list(fuzzing.targets())} "
                          f"or all")
    seconds = _SECONDS.value if (_SECONDS.value or _RUNS.value) else 60
    if _ONE.value:
      work_dir = _WORK_DIR.value and os.path.join(_WORK_DIR.value, names[0])
      fuzzing.fuzz(names[0], _RUNS.value, seconds, _SEED.value, work_dir=work_dir)
    failed = []
    for name in names:
      command = [sys.executable, __file__, f"--target={name}", "--one", f"--seed={_SEED.value}"]
      command += [f"--runs={_RUNS.value}"] if _RUNS.value else []
      command += [f"--seconds={seconds}"] if seconds else []
      command += [f"--work_dir={_WORK_DIR.value}"] if _WORK_DIR.value else []
      # libFuzzer writes its summary from C and exits at once: the child's stderr goes
      # unfiltered (ATTN_DEPTH_TF_LOGS) so that no line is lost; this process prints one line.
      done = subprocess.run(command, capture_output=True, text=True, check=False,
                            env={**os.environ, "ATTN_DEPTH_TF_LOGS": "1"})
      runs = re.search(r"(?:Done (\d+) runs|stat::number_of_executed_units: *(\d+))",
                       done.stderr)
      runs = next(group for group in runs.groups() if group) if runs else "?"
      if done.returncode:
        failed.append(name)
        print(f"{name}: FOUND a broken contract after {runs} inputs\n{done.stderr[-4000:]}",
              flush=True)
      else:
        print(f"{name}: {runs} inputs, every one a result or the reader's one-line error",
              flush=True)
    if failed:
      raise cli.UserError(f"{len(failed)} target(s) broke their contract: {', '.join(failed)}")


if __name__ == "__main__":
  attn_depth_cli.run(main)
