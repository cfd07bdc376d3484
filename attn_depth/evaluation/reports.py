"""Evaluation results as users receive them: one JSON schema, a markdown Table-1 row beside the
paper's, file names that keep results of different settings apart."""

import datetime
import json
import math
import os

import numpy as np

from attn_depth.core import files

from attn_depth.data import sources
from attn_depth.evaluation import protocols

# Table 1's "Ours" rows (rel, rms, log10): the numbers a reproduction is compared with.
PAPER_TABLE1 = {
    "baseline": {"rel": 0.153, "rms": 0.663, "log10": 0.070},
    "dfe": {"rel": 0.134, "rms": 0.583, "log10": 0.056},
    "dfe_afb": {"rel": 0.129, "rms": 0.568, "log10": 0.054},
    "full": {"rel": 0.127, "rms": 0.555, "log10": 0.053},
}
TABLE1_COLUMNS = ("rel", "rms", "log10", "delta1", "delta2", "delta3")
TABLE1_HEADERS = ("rel", "rms", "log10", "δ<1.25", "δ<1.25²", "δ<1.25³")
DETAIL_COLUMNS = ("dbe_acc", "dbe_comp", "edge_f1@0.25", "edge_f1@0.5", "edge_f1@1")
DETAIL_HEADERS = ("ε_acc px", "ε_comp px", "F1@0.25", "F1@0.5", "F1@1")
# What the detail rows mean, in one line for the console (docs/evaluation.md has the details).
DETAIL_MEANING = ("dbe_acc, dbe_comp: ε_acc, ε_comp (iBims-1), how far the predicted depth "
                  "edges lie from the true ones and the edges' two-way distance, in pixels up "
                  "to 10, lower is better; edge_f1@t: F1 of the depth edges found at gradient "
                  "threshold t (Hu et al.), higher is better")


def _cells(values, names):
  return [("–" if values.get(name) is None or math.isnan(values[name]) else
           f"{values[name]:.3f}") for name in names]


def markdown_rows(report):
  """Table-1-style markdown: this run's row, the paper's row for the variant (NYU test sets
  only), detail metrics."""
  variant = report.get("config", {}).get("variant")
  label = f"{variant or 'model'} (step {report.get('step')})"
  lines = ["| | " + " | ".join(TABLE1_HEADERS) + " |",
           "|---" * (len(TABLE1_COLUMNS) + 1) + "|",
           f"| {label} | " + " | ".join(_cells(report["metrics"], TABLE1_COLUMNS)) + " |"]
  baseline = report.get("baseline")
  if baseline:  # training's bar: the best constant depth, scored alike
    lines.append(f"| {baseline['name']} | "
                 + " | ".join(_cells(baseline["metrics"], TABLE1_COLUMNS)) + " |")
  source = sources.SOURCES.get(report.get("source"))
  if variant in PAPER_TABLE1 and source and source.nyu_test_set:
    lines.append(f"| paper, Table 1 ({variant}) | "
                 + " | ".join(_cells(PAPER_TABLE1[variant], TABLE1_COLUMNS)) + " |")
  if "boundary" in report:
    lines += ["", "| | " + " | ".join(DETAIL_HEADERS) + " |",
              "|---" * (len(DETAIL_COLUMNS) + 1) + "|",
              f"| {label} | " + " | ".join(_cells(report["boundary"], DETAIL_COLUMNS)) + " |"]
  return "\n".join(lines)


def describe_ground_truth(source, depth_key, holes):
  """The ground truth of a result in words (the source's registry entry), with the hole
  fraction measured on it."""
  kind = "colorization-filled" if depth_key == "depths" else "raw Kinect, holes excluded"
  known = sources.SOURCES.get(source)
  text = (known.ground_truth if known else source).format(depth_key=depth_key, kind=kind)
  return f"{text}; measured: {holes:.1%} of the pixels without depth"


def build_report(network, result, source, protocol, mode, flip, depth_key=None,
                 max_images=None, **extra):
  """Everything a result needs to be reproduced: model, step, data, protocol, metrics; `extra`
  adds entries (training's constant-depth baseline, say)."""
  mode = result.get("mode", mode)
  defaults = protocols.PROTOCOL_DEFAULTS.get(protocol, {})
  depth_key = depth_key or defaults.get("depth_key")
  return {
      "model": network.source, "step": network.step, "config": network.config,
      "source": source, "split": "test", "protocol": protocol,
      "ground_truth_key": depth_key if source == "nyu_labeled" else None,
      "max_images": max_images,
      "protocol_description": protocols.describe(protocol, network, flip),
      "mode": "per-image mean" if mode == "image" else "pixel-pooled", "flip": flip,
      "rel": ("|d - g| / d, as DenseDepth's code" if defaults.get("rel_denominator") ==
              "prediction" else "|d - g| / g"),
      "ground_truth": describe_ground_truth(source, depth_key,
                                            result.get("ground_truth_holes", float("nan"))),
      "input_size": list(network.input_size), "resize_size": list(network.resize_size),
      "precision": network.precision,
      "evaluated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      **{key: value for key, value in result.items() if key != "mode"},
      **extra,
  }


def result_name(source, protocol, flip=False, mode=None, depth_key=None, max_images=None,
                saved_model=False, predictions=False, boundary=True, precision="float32"):
  """A result file's stem that tells its settings apart: source, protocol, flip, and whatever
  differs from the protocol's defaults (averaging, labeled-.mat ground truth), a test subset,
  the detail metrics left out, a reduced precision, and whether a SavedModel (rather than the
  run's checkpoint) or saved predictions were evaluated."""
  defaults = protocols.PROTOCOL_DEFAULTS[protocol]
  parts = [source, protocol]
  if flip:
    parts.append("flip")
  if mode and mode != defaults["mode"]:
    parts.append(mode)
  if source == "nyu_labeled" and depth_key and depth_key != defaults["depth_key"]:
    parts.append(depth_key)
  if max_images:
    parts.append(f"first{max_images}")
  if not boundary:
    parts.append("noboundary")
  if precision and precision != "float32":
    parts.append(precision)
  if saved_model:
    parts.append("savedmodel")
  if predictions:
    parts.append("predictions")
  return "_".join(parts)


# A later checkpoint of the same run evaluated alike replaces its earlier result; an earlier
# checkpoint's result goes beside it (<stem>_step<N>.json); any other difference keeps both.
_SETTINGS = ("source", "protocol", "flip", "mode", "ground_truth_key", "max_images",
             "sequence_settings")


def _settings(report):
  return {**{key: report.get(key) for key in _SETTINGS}, "detail": "boundary" in report,
          "precision": report.get("precision") or "float32"}  # older results: float32


def free_path(json_path, report):
  """`json_path`, unless it holds a result of other settings (then the first free
  `<stem>-2.json`, `-3`, ...) or of a later step of the same model (then `<stem>_step<N>.json`
  for this older one): a result never replaces one with different settings or a newer one."""
  stem, number, path = os.path.splitext(json_path)[0], 2, json_path
  while os.path.exists(path):
    try:
      with open(path, encoding="utf-8") as f:
        previous = json.load(f)
    except (OSError, ValueError):
      previous = {}
    if _settings(previous) == _settings(report):
      newer = previous.get("step") or 0
      if newer <= (report.get("step") or 0) or path.endswith(f"_step{report.get('step')}.json"):
        return path  # the same evaluation again, or of a later step: replaced
      path = f"{stem}_step{report.get('step')}.json"  # an older checkpoint: beside it
      continue
    path, number = f"{stem}-{number}.json", number + 1
  return path


def write_report(report, json_path):
  """JSON beside a .md with the markdown rows; folders created as needed. Returns (json path,
  markdown path): another name than `json_path` when that file holds a result of other
  settings."""
  folder = os.path.dirname(json_path)
  if folder:
    os.makedirs(folder, exist_ok=True)
  json_path = free_path(json_path, report)
  markdown_path = os.path.splitext(json_path)[0] + ".md"
  with files.replacing_all([json_path, markdown_path]) as (json_partial, markdown_partial):
    with open(json_partial, "w", encoding="utf-8") as f:
      json.dump(report, f, indent=2, default=_json_default)
    with open(markdown_partial, "w", encoding="utf-8") as f:
      f.write(f"{report['protocol_description']}; {report['mode']}; {report['images']} images "
              f"of {report['source']}{skipped_note(report)}; ground truth: "
              f"{report['ground_truth']}\n\n{markdown_rows(report)}\n")
  return json_path, markdown_path


def skipped_note(report):
  """'' or ' (2 frames skipped: a.png, b.png)': a result on fewer frames than the test set says
  so wherever it is shown."""
  skipped = report.get("skipped_frames") or {"count": 0}
  if not skipped["count"]:
    return ""
  names = skipped.get("frames") or []
  shown = ", ".join(names[:5]) + (f", ... ({len(names) - 5} more)" if len(names) > 5 else "")
  return (f" ({skipped['count']} frame{'s' if skipped['count'] != 1 else ''} skipped"
          + (f": {shown}" if shown else "") + ")")


def _json_default(value):
  if isinstance(value, (np.floating, np.integer)):
    return value.item()
  return str(value)
