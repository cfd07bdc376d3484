"""A trained model's provenance: one record, `provenance.json`, beside `model_spec.json` in a
preset and in a SavedModel's assets.extra/ (attn_depth.core.run_dir).

    {"format_version": 1,
     "step": 600, "fit": "whole", "precision": "float32",
     "trained_from": "runs/quickstart", "trained_on": "synthetic_rooms",
     "versions": {"attn_depth": "0.1.0", "keras": "3.15.1", "tensorflow": "2.21.0"},
     "saved_at": "2026-12-01T10:00:00+00:00",
     "results": [{"name": "synthetic_rooms_paper", "source": "synthetic_rooms",
                  "protocol": "paper", "mode": "per-image mean", "images": 100, "step": 600,
                  "metrics": {"rel": 0.21, "rms": 0.74, ...}}]}

`spec` says what the network is; this says where it came from. The model card
(attn_depth.serving.card) is written from both. Exports and presets written before the record
existed stay readable: `read` falls back to a preset's `metadata.json` or a SavedModel's
`assets.extra/attn_depth.json` and gives the same fields.
"""

import datetime
import json
import os

import keras
import tensorflow as tf

from attn_depth.core import files
from attn_depth.core import run_dir as run_dir_lib
from attn_depth.core import version
from attn_depth.core.errors import UserError
from attn_depth.models import spec as spec_lib

FORMAT_VERSION = 1
FIELDS = ("format_version", "step", "fit", "precision", "trained_from", "trained_on", "versions",
          "saved_at", "results")
# The sources of procedural scenes (attn_depth.data.sources): a model trained only on them has
# never seen a photo.
PROCEDURAL_SOURCE_PREFIX = "synthetic_"
# A result's summary: the metrics of Table 1 (attn_depth.evaluation.reports.TABLE1_COLUMNS).
RESULT_METRICS = ("rel", "rms", "log10", "delta1", "delta2", "delta3")


class ProvenanceError(UserError, ValueError):
  """A provenance record that cannot be read; the message says which and why."""


def record(step, fit, precision, trained_from, reports=(), trained_on=None):
  """The provenance of a model at `step`, computing in `precision`, fitted as `fit`, from
  `trained_from` (the run folder or checkpoint), trained on the data source `trained_on` (its
  train.source, `training_source`), with the evaluation `reports` (name, report) of its run."""
  return {
      "format_version": FORMAT_VERSION,
      "step": None if step is None else int(step), "fit": fit, "precision": precision,
      "trained_from": str(trained_from), "trained_on": trained_on,
      "versions": {"attn_depth": version.__version__, "keras": keras.__version__,
                   "tensorflow": tf.__version__},
      "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "results": [summary(name, report) for name, report in reports]}


def training_source(operative_config):
  """The data source a run trained on (its train.source, e.g. "synthetic_rooms"), read from its
  operative_config.gin at `operative_config`; None where there is no such file or it does not
  say."""
  if not operative_config or not os.path.isfile(operative_config):
    return None
  try:
    source = spec_lib.GinFile(operative_config).value("train", "source")
  except (ValueError, SyntaxError, OSError):  # a damaged config: the source is unknown
    return None
  return source if isinstance(source, str) else None


def trained_only_on_procedural_scenes(trained_on):
  """Whether a model trained on the source `trained_on` has seen procedural scenes alone."""
  return bool(trained_on) and trained_on.startswith(PROCEDURAL_SOURCE_PREFIX)


def summary(name, report):
  """What provenance keeps of an evaluation report: where it is, what was scored, the
  numbers (NaN left out: JSON and the Hub's metadata have no NaN)."""
  metrics = report.get("metrics", {})
  return {"name": name, "source": report.get("source"), "protocol": report.get("protocol"),
          "mode": report.get("mode"), "images": report.get("images"), "step": report.get("step"),
          "metrics": {key: float(metrics[key]) for key in RESULT_METRICS
                      if isinstance(metrics.get(key), (int, float))
                      and metrics[key] == metrics[key]}}


def write(folder, provenance):
  """Writes `provenance` as `folder`/provenance.json (whole or not at all). Returns the path."""
  path = os.path.join(folder, run_dir_lib.PROVENANCE_FILE)
  files.write_json(path, provenance)
  return path


def read(folder, legacy):
  """The provenance record in `folder` (a preset, or a SavedModel's assets.extra/), every field
  of FIELDS present; from `legacy` (the file name older versions wrote instead: metadata.json
  of a preset, attn_depth.json of a SavedModel) where provenance.json is absent, keeping that
  file's own entries too (an older SavedModel's input and frame sizes). None when neither
  exists; ProvenanceError, in one line, for a file that is not a record."""
  path = os.path.join(folder, run_dir_lib.PROVENANCE_FILE)
  if not os.path.isfile(path):
    path = os.path.join(folder, legacy)
    if not os.path.isfile(path):
      return None
  try:
    with open(path, encoding="utf-8") as f:
      value = json.load(f)
  except (OSError, ValueError) as error:
    raise ProvenanceError(f"{path}: unreadable ({str(error).splitlines()[0][:200]})") from None
  if not isinstance(value, dict):
    raise ProvenanceError(f"{path}: expected a JSON object, got {type(value).__name__}")
  if os.path.basename(path) != run_dir_lib.PROVENANCE_FILE:
    return _from_legacy(value)
  found = value.get("format_version")
  if not isinstance(found, int) or found > FORMAT_VERSION:
    raise ProvenanceError(f"{path}: format {found!r} is newer than this attn_depth reads "
                          f"({FORMAT_VERSION}); update attn_depth")
  return {**{field: None for field in FIELDS}, "versions": {}, "results": [], **value}


def _from_legacy(value):
  """A preset's metadata.json ({attn_depth_version, keras_version, step, fit, trained_from,
  saved_at}) or a SavedModel's attn_depth.json ({input_size, resize_size, fit, step, config,
  model, precision}) as a provenance record (what they did not record is None)."""
  versions = {name: value[f"{name}_version"] for name in ("attn_depth", "keras")
              if f"{name}_version" in value}
  return {**value, "format_version": 0, "step": value.get("step"),
          "fit": value.get("fit", "whole"), "precision": value.get("precision"),
          "trained_from": value.get("trained_from"), "trained_on": value.get("trained_on"),
          "versions": versions,
          "saved_at": value.get("saved_at"), "results": []}
