"""Throughput benchmarks, reported as a table and as JSON. Goals (README, "Performance"):

  rooms     procedural scenes rendered per second on one core      goal >= 20
  pipeline  training pipeline examples/s (records -> batch)        goal >= 200 on 2 CPU cores

  python tools/benchmark.py                       # everything
  python tools/benchmark.py --sections=rooms --json=bench.json
"""

import json
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from attn_depth import benchmarks  # noqa: E402
from attn_depth import cli  # noqa: E402

SECTIONS = {
    "rooms": ("procedural rooms rendered (480x640, one core)", "scenes/s", 20.0,
              lambda: benchmarks.rooms_per_second()),
    "pipeline": ("training pipeline, tfds records -> decode -> preprocess -> augment -> batch",
                 "examples/s", 200.0,
                 lambda: benchmarks.pipeline_examples_per_second(_DATA_DIR.value)),
}

_SECTIONS = flags.DEFINE_list("sections", list(SECTIONS), f"Any of {list(SECTIONS)}.")
_JSON = flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
_DATA_DIR = flags.DEFINE_string("data_dir", None,
                                "Where the pipeline benchmark keeps its prepared records "
                                "(default: a temporary folder).")


def main(argv):
  del argv
  cli.quiet_logs()
  with cli.user_errors("benchmark"):
    unknown = set(_SECTIONS.value) - set(SECTIONS)
    if unknown:
      raise cli.UserError(f"unknown sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    results = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or
                           platform.machine(), "python": platform.python_version()}}
    print(f"{'section':<10} {'value':>10} {'unit':<11} {'goal':>6}  what")
    for name in _SECTIONS.value:
      what, unit, goal, measure = SECTIONS[name]
      value = measure()
      results[name] = {"value": round(value, 2), "unit": unit, "goal": goal,
                       "met": value >= goal, "what": what}
      print(f"{name:<10} {value:>10.1f} {unit:<11} {goal:>6.0f}  {what}"
            f"{'' if value >= goal else '  (below goal)'}")
    if _JSON.value:
      with open(_JSON.value, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
  app.run(main)
