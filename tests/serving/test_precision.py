"""Reduced-precision inference: what each device supports, the network rebuilt in bfloat16 with
the same weights, exported in it, and the tools' --precision."""

import json
import logging
import os

import numpy as np
import pytest

import attn_depth
from attn_depth.serving import export
from attn_depth.serving import inference
from attn_depth.core import precision
from attn_depth.evaluation import reports
from tests.conftest import run_tool

AVX2 = {"avx2", "fma", "avx512f"}
BF16_CPU = AVX2 | {"avx512_bf16"}


@pytest.mark.parametrize("asked, gpus, flags, used", [
    ("float32", (), AVX2, "float32"),
    ("bfloat16", (), BF16_CPU, "bfloat16"),
    ("bfloat16", (), AVX2 | {"amx_bf16"}, "bfloat16"),
    ("bfloat16", (), AVX2, "float32"),          # emulated bfloat16 would be slower
    ("float16", (), BF16_CPU, "bfloat16"),      # the CPU's own reduced precision
    ("float16", (), AVX2, "float32"),
    ("bfloat16", ((8, 0),), AVX2, "bfloat16"),  # A100: the GPU decides, not the CPU
    ("bfloat16", ((7, 5),), BF16_CPU, "float32"),  # T4: no bfloat16
    ("float16", ((7, 5),), AVX2, "float16"),
    ("float16", ((6, 1),), AVX2, "float32"),
    ("bfloat16", ((9, 0), (7, 0)), AVX2, "float32"),  # the weakest GPU decides
])
def test_resolve_chooses_what_the_device_supports_and_says_so(asked, gpus, flags, used, caplog):
  with caplog.at_level(logging.WARNING, logger="attn_depth.core.precision"):
    assert precision.resolve(asked, gpus=gpus, flags=flags) == used
  lines = [record.getMessage() for record in caplog.records]
  if used == asked:
    assert not lines
  else:
    assert len(lines) == 1 and lines[0].startswith(f"precision {asked}: ")
    assert lines[0].endswith(f"computing in {used}")


def test_unknown_precision_is_refused():
  with pytest.raises(precision.PrecisionError, match="float32"):
    precision.resolve("int4")


def test_reduced_precision_results_are_named_and_kept_apart(tmp_path):
  assert reports.result_name("nyu_labeled", "paper") == "nyu_labeled_paper"
  assert (reports.result_name("nyu_labeled", "paper", precision="bfloat16")
          == "nyu_labeled_paper_bfloat16")
  float32 = {"source": "nyu_labeled", "protocol": "paper", "step": 10, "metrics": {}}
  path = tmp_path / "result.json"
  path.write_text(json.dumps(float32))
  # An explicit --output holding float32 numbers is not replaced by bfloat16 ones.
  assert reports.free_path(str(path), {**float32, "precision": "bfloat16"}) != str(path)
  # Results written before precision was recorded are float32.
  assert reports.free_path(str(path), {**float32, "precision": "float32"}) == str(path)


@pytest.fixture
def bfloat16_cpu(monkeypatch):
  """This CPU counted as one with bfloat16 instructions, so that the bfloat16 path runs on
  every machine (TensorFlow computes bfloat16 on any CPU, only slower without them)."""
  monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(BF16_CPU))
  monkeypatch.setattr(precision, "gpu_compute_capabilities", lambda: ())


@pytest.mark.slow
def test_estimator_rebuilds_the_network_in_bfloat16_with_the_same_weights(run_dir,
                                                                         bfloat16_cpu):
  float32 = attn_depth.DepthEstimator.from_path(run_dir)
  bfloat16 = attn_depth.DepthEstimator.from_path(run_dir, precision="bfloat16")
  assert float32.precision == "float32" and bfloat16.precision == "bfloat16"
  layers = [layer for layer in bfloat16.network.model.layers if layer.weights]
  assert layers and all(layer.dtype_policy.compute_dtype == "bfloat16" for layer in layers)
  weights32 = float32.network.model.get_weights()
  assert all(np.array_equal(a, b) for a, b in zip(weights32, bfloat16.network.model.get_weights()))
  image = np.random.default_rng(0).integers(0, 256, (70, 90, 3), dtype=np.uint8)
  depth32, depth16 = (e.predict(image)["depths"] for e in (float32, bfloat16))
  assert depth16.dtype == np.float32 and depth16.shape == (1, 70, 90, 1)
  # bfloat16 keeps 8 bits of mantissa: ~0.4 % per operation; a network of random-ish weights
  # drifts a few per cent, never by the factor a wrong weight or a missing layer gives.
  assert not np.array_equal(depth32, depth16)
  assert np.mean(np.abs(depth16 - depth32) / depth32) < 0.1


@pytest.mark.slow
def test_bfloat16_export_computes_in_bfloat16_and_says_so(run_dir, tmp_path, bfloat16_cpu):
  network = inference.load_network(run_dir)
  export_dir = str(tmp_path / "export")
  lines = []
  checks = export.export_network(network, export_dir, tflite_precisions=["float32"],
                                 print_fn=lines.append, onnx=False, precision="bfloat16")
  assert "computing in bfloat16" in lines[0]
  assert checks["savedmodel"]["precision"] == "bfloat16"
  assert 0 < checks["savedmodel"]["mean_rel"] <= export.TOLERANCE["savedmodel_bfloat16"][
      "mean_rel"]
  # LiteRT holds the float32 network, checked against float32: exact.
  assert checks["float32"]["max_rel"] <= export.TOLERANCE["float32"]["max_rel"]
  served = inference.load_network(export_dir)
  assert served.precision == "bfloat16"
  with pytest.raises(inference.ModelLoadError, match="computes in bfloat16"):
    inference.load_network(export_dir, precision="float32")
  with open(os.path.join(export_dir, inference.PROVENANCE_FILE), encoding="utf-8") as f:
    assert json.load(f)["precision"] == "bfloat16"


@pytest.mark.slow
def test_tools_take_precision_and_name_what_they_computed_in(run_dir, tmp_path):
  """On this machine as it is: bfloat16 where the CPU has it, else float32 with one line."""
  supported = precision.unsupported_reason("bfloat16") is None
  output = tmp_path / "result.json"
  result = run_tool("evaluate", f"--model={run_dir}", "--source=synthetic_rooms",
                    "--precision=bfloat16", "--max_images=2",
                    "--noboundary", f"--output={output}")
  assert result.returncode == 0, result.stderr[-2000:]
  with open(output, encoding="utf-8") as f:
    assert json.load(f)["precision"] == ("bfloat16" if supported else "float32")
  warnings = [line for line in result.stderr.splitlines() if "precision bfloat16" in line]
  assert len(warnings) == (0 if supported else 1)
  if supported:
    assert "computing in bfloat16" in result.stdout
  result = run_tool("evaluate", f"--model={run_dir}", "--precision=int4")
  assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
  assert result.stderr.startswith("evaluate: error:")
