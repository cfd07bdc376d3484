"""Result files: every setting that changes a result is in its name, and a result never
replaces one of other settings or of a newer checkpoint."""

import json
import os

from attn_depth.evaluation import reports


def _report(step, boundary=True, **settings):
  report = {"source": "nyu_labeled", "protocol": "paper", "flip": False, "mode": "per-image mean",
            "ground_truth_key": "depths", "max_images": None, "step": step,
            "metrics": {"rel": 0.1 + step / 1e4}, **settings}
  if boundary:
    report["boundary"] = {"dbe_acc": 2.0}
  return report


def _write(report, path):
  path = reports.free_path(str(path), report)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(report, f)
  return os.path.basename(path)


def test_the_name_tells_the_detail_metrics_apart():
  assert reports.result_name("nyu_labeled", "paper") == "nyu_labeled_paper"
  assert reports.result_name("nyu_labeled", "paper", boundary=False) == (
      "nyu_labeled_paper_noboundary")
  assert reports.result_name("nyu_labeled", "eigen", True, max_images=5, boundary=False) == (
      "nyu_labeled_eigen_flip_first5_noboundary")


def test_a_newer_step_replaces_an_older_one_never_the_reverse(tmp_path):
  path = tmp_path / "nyu_labeled_paper.json"
  assert _write(_report(400), path) == "nyu_labeled_paper.json"
  assert _write(_report(600), path) == "nyu_labeled_paper.json"  # replaced by the newer step
  assert _write(_report(400), path) == "nyu_labeled_paper_step400.json"  # beside it
  assert _write(_report(400), path) == "nyu_labeled_paper_step400.json"  # again: replaced
  with open(path, encoding="utf-8") as f:
    assert json.load(f)["step"] == 600


def test_other_settings_never_replace_a_result(tmp_path):
  path = tmp_path / "nyu_labeled_paper.json"
  assert _write(_report(600), path) == "nyu_labeled_paper.json"
  assert _write(_report(600, boundary=False), path) == "nyu_labeled_paper-2.json"
  assert _write(_report(600, max_images=5), path) == "nyu_labeled_paper-3.json"
  with open(path, encoding="utf-8") as f:
    assert "boundary" in json.load(f)
