"""results.json and results.md of a reproduction, built from what its run folders hold: each row's
evaluation reports (attn_depth.evaluation.reports), training sessions (train/sessions.json),
stage records (stages.json) and artefacts. Rewritten only when their content changes, so that a
call that finds everything done changes nothing."""

import glob
import json
import math
import os

import numpy as np

from attn_depth.core import files
from attn_depth.core.run_dir import SAVED_MODEL_FILE
from attn_depth.core.run_dir import RunDir
from attn_depth.evaluation import reports
from attn_depth.reproduction import rows as rows_lib
from attn_depth.serving import export
from attn_depth.serving import presets
from attn_depth.reproduction.stages import read_state
from attn_depth.reproduction.stages import recorded_done
from attn_depth.reproduction.stages import trained_step

# Lower is better for errors, higher for accuracies: how the miniature's verdict reads a metric.
DIRECTION = {"rel": -1, "rms": -1, "log10": -1, "delta1": 1, "dbe_acc": -1, "dbe_comp": -1,
             "edge_f1@0.25": 1, "edge_f1@0.5": 1, "edge_f1@1": 1}
HEADERS = dict(zip(reports.TABLE1_COLUMNS + reports.DETAIL_COLUMNS,
                   reports.TABLE1_HEADERS + reports.DETAIL_HEADERS))
ENVIRONMENT_KEYS = ("tensorflow", "keras", "python", "cuda", "cudnn", "device", "tf32",
                    "mixed_precision", "jit_compile")


def _read_json(path):
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _metrics(report):
  """Table-1 and detail metrics of one evaluation report, one flat dict."""
  values = {name: report["metrics"].get(name) for name in reports.TABLE1_COLUMNS}
  values.update({name: report.get("boundary", {}).get(name) for name in reports.DETAIL_COLUMNS})
  return {name: (None if value is None or not math.isfinite(value) else value)
          for name, value in values.items()}


def _training(run_dir):
  """Wall time, speed and peak memory over a run's training sessions, and what it ran on."""
  sessions = (_read_json(RunDir(run_dir).sessions) or {}).get("sessions")
  if not sessions:
    return None
  speeds = [(s["last_step"] - s["first_step"], s["steps_per_second"]) for s in sessions
            if s.get("steps_per_second")]
  steps = sum(n for n, _ in speeds)
  peaks = [s.get("peak_device_memory_gb") for s in sessions if s.get("peak_device_memory_gb")]
  last = sessions[-1]
  return {
      "sessions": len(sessions), "seconds": round(sum(s["seconds"] for s in sessions), 1),
      "steps_per_second": (sum(n * v for n, v in speeds) / steps) if steps else None,
      "peak_host_memory_gb": round(max(s["peak_host_memory_gb"] for s in sessions), 2),
      "peak_device_memory_gb": round(max(peaks), 2) if peaks else None,
      "environment": {key: last.get(key) for key in ENVIRONMENT_KEYS},
  }


def _links(output_dir, run_dir, step):
  """Relative paths of what a row leaves (only those that exist)."""
  run = RunDir(run_dir)
  candidates = {
      "log": run.stage_log("train"),
      "weights": run.checkpoint(step) + ".index",
      "operative_config": run.operative_config,
      "model_spec": run.spec,
      "savedmodel": run.export_file(SAVED_MODEL_FILE),
      "model_card": run.export_file(presets.EXPORT_CARD),
      "tflite": run.export_file(export.tflite_name("float32")),
      "onnx": run.export_file(export.ONNX_FILE),
      "preset": run.preset_file(presets.MODEL_FILE),
  }
  links = {}
  for name, path in candidates.items():
    if os.path.exists(path):
      if name == "weights":
        path = path[:-len(".index")]  # the checkpoint prefix tools take
      elif name in ("savedmodel", "preset"):
        path = os.path.dirname(path)
      links[name] = os.path.relpath(path, output_dir)
  return links


def _row_folders(output_dir, names):
  return [name for name in names if os.path.exists(RunDir(os.path.join(output_dir, name)).stages)]


def table1_results(output_dir, test, trained_on, gin_bindings):
  rows = {}
  for name in _row_folders(output_dir, rows_lib.TABLE1_ROWS):
    row = rows_lib.table1_rows([name])[0]
    run_dir = os.path.join(output_dir, name)
    state = read_state(run_dir)
    step = trained_step(run_dir)
    ours, images = {}, None
    for protocol, flip in rows_lib.PROTOCOL_RUNS:
      report = _read_json(RunDir(run_dir).report(reports.result_name(test.source, protocol,
                                                                      flip)))
      if report and report.get("step") == step:  # a result of this checkpoint only
        ours[protocol + ("_flip" if flip else "")] = _metrics(report)
        images = report.get("images")
    train_record = state.get("train", {})
    rows[name] = {
        "paper": row.paper, "ours": ours, "images": images, "step": step,
        "config": {"gin_file": row.gin_file, "command": train_record.get("command")},
        "training": _training(run_dir), "links": _links(output_dir, run_dir, step),
        "stages": {stage: record.get("status") for stage, record in state.items()},
    }
  return {"kind": "table1", "test_data": test.description, "source": test.source,
          "training_data": trained_on, "rows": rows,
          "environment": _environment(rows, gin_bindings),
          "figures": _figures(output_dir)}


def _environment(rows, gin_bindings):
  """What the rows ran on (the latest training session of the first row that has one; rows
  that ran elsewhere say so in their own entry) and the bindings every training got."""
  for row in rows.values():
    training = row.get("training")
    if training:
      return {**training["environment"], "gin_bindings": gin_bindings}
  return {"gin_bindings": gin_bindings}


def _figures(output_dir):
  return sorted(os.path.relpath(path, output_dir)
                for path in glob.glob(os.path.join(RunDir(output_dir).figures_dir, "fig*.png")))


def miniature_results(output_dir, test, trained_on, gin_bindings):
  rows, runs = {}, {}
  for name in rows_lib.MINIATURE_ROWS:
    seeds = []
    for folder in sorted(glob.glob(os.path.join(output_dir, name, "seed_*"))):
      run = os.path.relpath(folder, output_dir)
      if not recorded_done(folder, "train"):
        continue
      report = _read_json(RunDir(folder).report(reports.result_name(test.source, "paper")))
      if not report:
        continue
      seeds.append({"seed": int(folder.rsplit("_", 1)[1]), "step": report["step"],
                    "images": report["images"], "metrics": _metrics(report),
                    "links": _links(output_dir, folder, report["step"])})
      runs[run] = {"training": _training(folder)}
    if not seeds:
      continue
    seeds.sort(key=lambda entry: entry["seed"])
    values = {metric: [s["metrics"][metric] for s in seeds if s["metrics"][metric] is not None]
              for metric in seeds[0]["metrics"]}
    rows[name] = {
        "paper": rows_lib.Row(name, name, "").paper, "config": f"gin/miniature/{name}.gin",
        "seeds": seeds,
        "mean": {m: float(np.mean(v)) if v else None for m, v in values.items()},
        "std": {m: float(np.std(v, ddof=1)) if len(v) > 1 else None for m, v in values.items()},
        "training": _mean_training([runs[os.path.join(name, f"seed_{s['seed']}")]["training"]
                                    for s in seeds]),
    }
  return {"kind": "miniature", "test_data": test.description, "source": test.source,
          "training_data": trained_on, "rows": rows, "verdict": verdict(rows),
          "environment": _environment(rows, gin_bindings), "figures": _figures(output_dir)}


def _mean_training(records):
  records = [r for r in records if r]
  if not records:
    return None
  speeds = [r["steps_per_second"] for r in records if r["steps_per_second"]]
  return {"seconds": round(float(np.mean([r["seconds"] for r in records])), 1),
          "steps_per_second": float(np.mean(speeds)) if speeds else None,
          "peak_host_memory_gb": max(r["peak_host_memory_gb"] for r in records),
          "peak_device_memory_gb": None, "environment": records[-1]["environment"]}


SIGNIFICANCE = 0.05  # a step is "shown" when Welch's two-sided p is below this


def welch(gain, std_a, n_a, std_b, n_b):
  """Welch's t-test of a difference of two means `gain` (two samples of unequal variance):
  {"standard_error", "df", "p", "ci95": [low, high]} (the Welch-Satterthwaite degrees of
  freedom; `scipy.stats.ttest_ind_from_stats(..., equal_var=False)` gives the same p)."""
  from scipy import stats  # pylint: disable=import-outside-toplevel
  var_a, var_b = std_a ** 2 / n_a, std_b ** 2 / n_b
  se = math.sqrt(var_a + var_b)
  if se == 0 or n_a < 2 or n_b < 2:
    return {"standard_error": se, "df": None, "p": None, "ci95": None}
  df = (var_a + var_b) ** 2 / (var_a ** 2 / (n_a - 1) + var_b ** 2 / (n_b - 1))
  half = float(stats.t.ppf(0.975, df)) * se
  return {"standard_error": se, "df": df, "p": float(2 * stats.t.sf(abs(gain) / se, df)),
          "ci95": [gain - half, gain + half]}


def verdict(rows):
  """Whether the paper's ordering (baseline < DFE < DFE+AFB < full) holds for each metric, with
  each step's improvement against the seed-to-seed spread: the standard error of the difference
  of two means (sqrt(s_a²/n_a + s_b²/n_b)) and Welch's t-test (p, 95 % confidence interval).
  "holds": every step in the paper's direction; "shown": and each with p < SIGNIFICANCE."""
  order = [name for name in rows_lib.ORDER if name in rows]
  result = {}
  for metric, direction in DIRECTION.items():
    steps, holds = [], len(order) == len(rows_lib.ORDER)
    shown = holds
    for before, after in zip(order, order[1:]):
      a, b = rows[before], rows[after]
      if a["mean"].get(metric) is None or b["mean"].get(metric) is None:
        holds = shown = False
        continue
      gain = direction * (b["mean"][metric] - a["mean"][metric])
      test = {"standard_error": None, "df": None, "p": None, "ci95": None}
      if a["std"].get(metric) is not None and b["std"].get(metric) is not None:
        test = welch(gain, a["std"][metric], len(a["seeds"]), b["std"][metric],
                     len(b["seeds"]))
      spread = test["standard_error"]
      steps.append({"from": before, "to": after, "improvement": gain, **test,
                    "in_standard_errors": gain / spread if spread else None})
      holds = holds and gain > 0
      shown = shown and gain > 0 and test["p"] is not None and test["p"] < SIGNIFICANCE
    result[metric] = {"holds": holds, "shown": shown, "steps": steps}
  return result


def _cell(value, digits=3):
  return "–" if value is None else f"{value:.{digits}f}"


def _table1_markdown(result):
  columns = reports.TABLE1_COLUMNS + reports.DETAIL_COLUMNS
  header = ("| row | | " + " | ".join(HEADERS[c] for c in columns) + " | images | step |\n"
            + "|---" * (len(columns) + 4) + "|")
  lines = [header]
  for name, row in result["rows"].items():
    lines.append(f"| {name} | paper | " + " | ".join(_cell(row["paper"].get(c)) for c in columns)
                 + " | 654 | 86,680 |")
    for key in ("paper", "paper_flip"):
      if key in row["ours"]:
        label = "ours" + (", flip" if key.endswith("flip") else "")
        lines.append(f"| | {label} | " + " | ".join(_cell(row["ours"][key].get(c))
                                                    for c in columns)
                     + f" | {row['images']} | {row['step']:,} |")
    if not row["ours"]:
      lines.append("| | ours | " + " | ".join("–" for _ in columns)
                   + f" | – | {row['step'] or '–'} |")
  return "\n".join(lines)


def _other_protocols_markdown(result):
  columns = reports.TABLE1_COLUMNS
  lines = ["| row | protocol | " + " | ".join(HEADERS[c] for c in columns) + " |",
           "|---" * (len(columns) + 2) + "|"]
  for name, row in result["rows"].items():
    for key, values in row["ours"].items():
      lines.append(f"| {name} | {key.replace('_', ', ')} | "
                   + " | ".join(_cell(values.get(c)) for c in columns) + " |")
  return "\n".join(lines)


def _runs_markdown(rows):
  lines = ["| row | step | training time | steps/s | peak memory host / device | stages | "
           "artefacts |", "|---|---:|---:|---:|---|---|---|"]
  for name, row in rows.items():
    training = row.get("training") or {}
    seconds = training.get("seconds")
    device = training.get("peak_device_memory_gb")
    memory = (f"{training['peak_host_memory_gb']:.1f} GB / "
              + (f"{device:.1f} GB" if device else "–")) if training else "–"
    failed = [stage for stage, status in row.get("stages", {}).items() if status != "done"]
    links = " · ".join(f"[{label}]({path})" for label, path in row.get("links", {}).items())
    lines.append(f"| {name} | {row.get('step') or '–'} | "
                 f"{_hours(seconds) if seconds else '–'} | "
                 f"{_cell(training.get('steps_per_second'), 2)} | {memory} | "
                 f"{'all done' if not failed else 'not done: ' + ', '.join(failed)} | {links} |")
  return "\n".join(lines)


def _hours(seconds):
  return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _environment_markdown(environment):
  keys = [key for key in ENVIRONMENT_KEYS + ("gin_bindings",) if key in environment]
  if not keys:
    return "No training session recorded yet."
  return "\n".join(f"- {key}: {environment[key]}" for key in keys)


def _miniature_markdown(result):
  columns = ("rel", "rms", "log10", "delta1") + reports.DETAIL_COLUMNS
  lines = ["| row | seeds | " + " | ".join(HEADERS[c] for c in columns) + " |",
           "|---" * (len(columns) + 2) + "|"]
  for name, row in result["rows"].items():
    cells = []
    for c in columns:
      mean, std = row["mean"].get(c), row["std"].get(c)
      cells.append("–" if mean is None else
                   f"{mean:.3f}" + (f" ± {std:.3f}" if std is not None else ""))
    lines.append(f"| {name} | {len(row['seeds'])} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def verdict_markdown(result):
  lines = []
  for metric, entry in result["verdict"].items():
    if not entry["steps"]:
      continue
    parts = []
    for step in entry["steps"]:
      sigma = step["in_standard_errors"]
      parts.append(f"{step['from']} → {step['to']} {'+' if step['improvement'] > 0 else '−'}"
                   f"{abs(step['improvement']):.3f}"
                   + (f" ({sigma:+.1f} SE, p = {step['p']:.3f}, 95 % CI "
                      f"[{step['ci95'][0]:+.3f}, {step['ci95'][1]:+.3f}])"
                      if sigma is not None and step["p"] is not None else ""))
    word = ("shown (every step p < 0.05)" if entry["shown"] else
            "in the paper's direction, not shown at this scale" if entry["holds"] else
            "does not hold")
    lines.append(f"- {HEADERS.get(metric, metric)}: ordering {word}; " + "; ".join(parts))
  return "\n".join(lines)


def markdown(result):
  environment = _environment_markdown(result["environment"])
  figures = "\n".join(f"- [{os.path.basename(p)}]({p})" for p in result["figures"]) or "none yet"
  if result["kind"] == "miniature":
    return (f"# Table 1 in miniature\n\nTraining data: {result['training_data']}; test data: "
            f"{result['test_data']}; paper protocol, detail metrics on exact depth edges. Mean ± "
            f"standard deviation over seeds.\n\n{_miniature_markdown(result)}\n\n"
            f"## The paper's ordering (baseline < DFE < DFE + AFB < full)\n\nImprovement of each "
            f"step (positive: better), in units and in standard errors of the difference of the "
            f"two means (SE), with Welch's t-test: its two-sided p and the 95 % confidence "
            f"interval of the improvement. A step is shown when p < 0.05; with 3 seeds per row a "
            f"step of 2-3 SE is typically p ≈ 0.06-0.15, not shown.\n\n"
            f"{verdict_markdown(result)}\n\n## Runs\n\n"
            f"{_runs_markdown(result['rows'])}\n\n## Environment\n\n{environment}\n\n"
            f"## Figures (seed 0 of each row)\n\n{figures}\n")
  return (f"# Table 1 reproduced\n\nTraining data: {result['training_data']}; test data: "
          f"{result['test_data']}. Paper protocol (the paper states no evaluation "
          f"geometry; this applies its training geometry: the frame resized and centre-cropped to the network's input, the prediction upsampled 2x, the ground truth resized "
          f"and cropped alike, per-image mean), beside the paper's numbers; detail "
          f"metrics (iBims-1's ε_acc / ε_comp, Hu et al.'s edge F1) where the paper has "
          f"none.\n\n{_table1_markdown(result)}\n\n## Every protocol\n\n"
          f"{_other_protocols_markdown(result)}\n\n## Runs\n\n{_runs_markdown(result['rows'])}"
          f"\n\n## Environment\n\n{environment}\n\n## Figures\n\n{figures}\n")


def _write_if_changed(path, text):
  try:
    with open(path, encoding="utf-8") as f:
      if f.read() == text:
        return
  except OSError:
    pass
  files.write_text(path, text)


def write_results(output_dir, test, trained_on, gin_bindings, miniature):
  """Writes results.json and results.md; returns their paths and the console summary."""
  build = miniature_results if miniature else table1_results
  result = build(output_dir, test, trained_on, gin_bindings)
  json_path = os.path.join(output_dir, "results.json")
  md_path = os.path.join(output_dir, "results.md")
  _write_if_changed(json_path, json.dumps(result, indent=2) + "\n")
  _write_if_changed(md_path, markdown(result))
  summary = (_miniature_markdown(result) + "\n\n" + verdict_markdown(result) if miniature
             else _table1_markdown(result))
  return {"json": json_path, "markdown": md_path, "summary": summary, "result": result}
