"""tools/summary.py as a user runs it."""

import json

import pytest

from attn_depth import models
from attn_depth.models import summary
from tests.conftest import run_tool

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)


def test_summary_counts_match_the_models(tmp_path):
  out = tmp_path / "params.json"
  result = run_tool("summary", "--variants=full,baseline", "--gin_bindings=build_model.depth = 50",
                    "--gin_bindings=build_model.input_shape = (64, 96, 3)", f"--json={out}")
  assert result.returncode == 0, result.stderr[-2000:]
  rows = json.loads(out.read_text())
  assert sorted(rows) == ["baseline", "full"]
  model = models.build_model("full", depth=50, input_shape=(64, 96, 3))
  assert rows["full"]["total"] == summary.parameter_counts(model)["total"]
  assert f"{rows['full']['total']:,}" in result.stdout


def test_unknown_variant_is_one_line_not_a_traceback():
  result = run_tool("summary", "--variants=fancy")
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert "summary: error: unknown variant 'fancy'" in result.stderr
