"""reproduce(): its arguments, the miniature end to end on tiny settings, and the verdict on the
paper's ordering computed by hand."""

import json
import math
import os

import numpy as np
import pytest
from scipy import stats

from attn_depth import reproduction
from attn_depth.evaluation import reports
from attn_depth.reproduction import results
from attn_depth.reproduction import rows as rows_lib


def test_rows_of_table1_and_of_the_miniature():
  rows = rows_lib.table1_rows()
  assert [r.gin_file for r in rows] == [f"gin/nyu/{n}.gin" for n in rows_lib.TABLE1_ROWS]
  assert [r.variant for r in rows] == ["baseline", "dfe", "dfe_afb", "full"]
  assert rows[3].paper == {"rel": 0.127, "rms": 0.555, "log10": 0.053}
  mini = rows_lib.miniature_rows(seeds=3)
  assert len(mini) == 12 and mini[0].name == "baseline/seed_0" and mini[4].name == "baseline/seed_1"
  assert {r.seed for r in mini} == {0, 1, 2} and mini[3].gin_file == "gin/miniature/full.gin"
  with pytest.raises(ValueError, match="unknown Table-1 row"):
    rows_lib.table1_rows(["full_r152"])


@pytest.mark.parametrize("kwargs,message", [
    ({"nyu_mat": "x.mat"}, "give both --nyu_mat and --nyu_splits"),
    ({"nyu_archive": "/nowhere/nyudepthv2.tar.gz"}, "--nyu_archive: /nowhere"),
    ({"weights_dir": "/tmp"}, "--weights_dir: no resnet50_weights"),
    ({"miniature": True, "nyu_mat": "x.mat"}, "takes no NYU data"),
    ({"rows": ["full"]}, "unknown Table-1 row"),
])
def test_a_reproduction_that_cannot_start_says_why_in_one_line(tmp_path, kwargs, message):
  with pytest.raises(ValueError, match=message) as error:
    reproduction.reproduce(str(tmp_path / "out"), print_fn=lambda line: None, **kwargs)
  assert "\n" not in str(error.value)


def _row(means, stds, n=3):
  return {"seeds": [{}] * n, "mean": means, "std": stds}


def test_the_verdict_by_hand():
  rows = {"baseline": _row({"rel": 0.30, "edge_f1@1": 0.20}, {"rel": 0.03, "edge_f1@1": 0.01}),
          "dfe": _row({"rel": 0.25, "edge_f1@1": 0.25}, {"rel": 0.04, "edge_f1@1": 0.01}),
          "dfe_afb": _row({"rel": 0.24, "edge_f1@1": 0.24}, {"rel": 0.00, "edge_f1@1": 0.01}),
          "full": _row({"rel": 0.20, "edge_f1@1": 0.30}, {"rel": 0.03, "edge_f1@1": 0.01})}
  verdict = results.verdict(rows)
  rel = verdict["rel"]
  assert rel["holds"]  # 0.30 > 0.25 > 0.24 > 0.20: lower is better
  first = rel["steps"][0]
  assert first["improvement"] == pytest.approx(0.05)
  assert first["standard_error"] == pytest.approx(math.sqrt(0.03 ** 2 / 3 + 0.04 ** 2 / 3))
  assert first["in_standard_errors"] == pytest.approx(0.05 / math.sqrt(0.0025 / 3))
  # Welch's t-test by hand (Welch-Satterthwaite df), p as scipy's reference implementation.
  var_a, var_b = 0.03 ** 2 / 3, 0.04 ** 2 / 3
  assert first["df"] == pytest.approx((var_a + var_b) ** 2 / (var_a ** 2 / 2 + var_b ** 2 / 2))
  assert first["df"] == pytest.approx(3.709, abs=1e-3)
  reference = stats.ttest_ind_from_stats(0.30, 0.03, 3, 0.25, 0.04, 3, equal_var=False)
  assert first["p"] == pytest.approx(reference.pvalue) and 0.15 < first["p"] < 0.2
  half = stats.t.ppf(0.975, first["df"]) * first["standard_error"]
  assert first["ci95"] == pytest.approx([0.05 - half, 0.05 + half])
  assert not rel["shown"]  # in the paper's direction, but 1.7 SE on 3 seeds is p ≈ 0.18
  f1 = verdict["edge_f1@1"]  # higher is better; dfe -> dfe_afb goes down
  assert not f1["holds"] and f1["steps"][1]["improvement"] == pytest.approx(-0.01)
  assert not verdict["dbe_acc"]["holds"]  # not measured: no verdict of holding
  text = results.verdict_markdown({"verdict": verdict})
  assert ("- rel: ordering in the paper's direction, not shown at this scale; baseline → dfe "
          f"+0.050 (+1.7 SE, p = {first['p']:.3f}, 95 % CI [") in text
  assert "- F1@1: ordering does not hold" in text
  clear = results.verdict({name: _row({"rel": mean}, {"rel": 0.001}, n=5) for name, mean in
                           (("baseline", 0.30), ("dfe", 0.25), ("dfe_afb", 0.24),
                            ("full", 0.20))})
  assert clear["rel"]["shown"] and all(step["p"] < 1e-6 for step in clear["rel"]["steps"])
  assert "- rel: ordering shown (every step p < 0.05); " in results.verdict_markdown(
      {"verdict": clear})


@pytest.mark.slow
def test_the_miniature_end_to_end_on_tiny_settings(tmp_path):
  """Two rows x two seeds, two steps each on 16 rooms: per-seed results, mean and standard
  deviation equal to those of the runs' own reports, figures of seed 0, a second call that
  changes nothing."""
  lines = []
  bindings = [f"synthetic_rooms_source.data_dir = '{tmp_path / 'rooms'}'",
              "synthetic_rooms_source.num_train_examples = 16",
              "synthetic_rooms_source.num_test_examples = 4", "train.total_steps = 2"]
  output = str(tmp_path / "mini")
  status = reproduction.reproduce(output, ["baseline", "full"], miniature=True, seeds=2,
                                  gin_bindings=bindings, print_fn=lines.append)
  assert status == 0, "\n".join(lines)
  with open(os.path.join(output, "results.json"), encoding="utf-8") as f:
    result = json.load(f)
  assert list(result["rows"]) == ["baseline", "full"]
  for name, row in result["rows"].items():
    assert [s["seed"] for s in row["seeds"]] == [0, 1]
    rel = []
    for seed in (0, 1):
      with open(os.path.join(output, name, f"seed_{seed}", "eval", "synthetic_rooms_paper.json"),
                encoding="utf-8") as f:
        report = json.load(f)
      assert report["config"]["variant"] == name and report["images"] == 4
      rel.append(report["metrics"]["rel"])
    assert rel[0] != rel[1]  # two seeds, two networks
    assert row["mean"]["rel"] == pytest.approx(np.mean(rel))
    assert row["std"]["rel"] == pytest.approx(np.std(rel, ddof=1))
    assert set(reports.DETAIL_COLUMNS) <= set(row["mean"])
  assert set(result["verdict"]) == set(results.DIRECTION)
  assert not result["verdict"]["rel"]["holds"]  # two of four rows: no ordering to hold
  assert sorted(os.listdir(os.path.join(output, "figures")))[:2] == ["fig3_qualitative.png",
                                                                    "fig4.json"]
  with open(os.path.join(output, "results.md"), encoding="utf-8") as f:
    markdown = f.read()
  assert "| baseline | 2 | " in markdown and " ± " in markdown
  # Again: every stage done earlier, nothing rewritten.
  mtimes = {path: os.stat(os.path.join(output, path)).st_mtime_ns
            for path in ("results.md", "results.json", "reproduce.json")}
  lines.clear()
  assert reproduction.reproduce(output, ["baseline", "full"], miniature=True, seeds=2,
                                gin_bindings=bindings, print_fn=lines.append) == 0
  assert sum("done earlier" in line for line in lines) == 5  # 4 trainings + figures
  assert mtimes == {path: os.stat(os.path.join(output, path)).st_mtime_ns for path in mtimes}
