"""Throughput and memory benchmarks, reported as a table and as JSON. Goals (README,
"Performance"):

  rooms     procedural scenes rendered per second on one core          >= 20
  pipeline  training pipeline examples/s (records -> batch), 2 cores   >= 200
  train     peak memory of a training step: full ResNet-101, batch 3,
            240x320 (GB; also seconds per step)                        <= 12

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


def _rooms():
  return {"value": benchmarks.rooms_per_second()}


def _pipeline():
  return {"value": benchmarks.pipeline_examples_per_second(_DATA_DIR.value)}


def _train():
  result = benchmarks.training_step()
  return {"value": result["peak_rss_gb"], "seconds_per_step": result["seconds_per_step"]}


# name: (what, unit, goal, higher is better, measure)
SECTIONS = {
    "rooms": ("procedural rooms rendered (480x640, one core)", "scenes/s", 20.0, True, _rooms),
    "pipeline": ("training pipeline: tfds records -> decode -> preprocess -> augment -> batch",
                 "examples/s", 200.0, True, _pipeline),
    "train": ("peak memory of a training step (full, ResNet-101, batch 3, 240x320)", "GB",
              12.0, False, _train),
}

_SECTIONS = flags.DEFINE_list("sections", list(SECTIONS), f"Any of {list(SECTIONS)}.")
_JSON = flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
_DATA_DIR = flags.DEFINE_string("data_dir", None,
                                "Where the pipeline benchmark keeps its prepared records "
                                "(default: a temporary folder).")


def main(argv):
  del argv
  with cli.tool("benchmark"):
    unknown = set(_SECTIONS.value) - set(SECTIONS)
    if unknown:
      raise cli.UserError(f"unknown sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    results = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or
                           platform.machine(), "python": platform.python_version()}}
    print(f"{'section':<10} {'value':>10} {'unit':<11} {'goal':>6}  what")
    for name in _SECTIONS.value:
      what, unit, goal, higher_is_better, measure = SECTIONS[name]
      result = measure()
      value = result["value"]
      met = value >= goal if higher_is_better else value <= goal
      results[name] = {**{k: round(v, 3) for k, v in result.items()}, "unit": unit,
                       "goal": goal, "met": met, "what": what}
      extras = "".join(f", {k} {v:.2f}" for k, v in result.items() if k != "value")
      print(f"{name:<10} {value:>10.1f} {unit:<11} {goal:>6.0f}  {what}{extras}"
            f"{'' if met else '  (goal missed)'}")
    if _JSON.value:
      with open(_JSON.value, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
  app.run(main)
