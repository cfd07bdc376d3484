"""The machine's peak from what it is, and the GPU report's whole code path on this CPU with
tiny networks (only the device differs on the GPU day)."""

import json
import math
import os

import pytest

from attn_depth.benchmarks import suite as benchmarks
from attn_depth.benchmarks import gpu_report
from attn_depth.benchmarks import machine
from attn_depth.core import machine as machine_lib
from attn_depth.core import precision
from tests.conftest import run_tool

XEON = {"vendor_id": "GenuineIntel", "model name": "Intel(R) Xeon(R) Platinum 8480+",
        "cpu family": "6", "flags": "fpu sse avx avx2 fma avx512f avx512_bf16 amx_bf16"}
ZEN4 = {"vendor_id": "AuthenticAMD", "model name": "AMD EPYC 9654", "cpu family": "25",
        "flags": "fpu sse avx avx2 fma avx512f avx512_bf16"}
ZEN2 = {"vendor_id": "AuthenticAMD", "model name": "AMD EPYC 7742", "cpu family": "23",
        "flags": "fpu sse avx avx2 fma"}


def test_one_machine_description_for_training_precision_and_benchmarks():
  """The session record, the precision checks and the benchmarks read the same description:
  the CPU flags from /proc/cpuinfo's own line, the cores this process may use, no CUDA on a
  CPU-only machine."""
  described = machine_lib.describe()
  with open("/proc/cpuinfo", encoding="utf-8") as f:
    flags_line = next(line for line in f if line.startswith("flags"))
  assert precision.cpu_flags() == machine_lib.cpu_flags() == frozenset(
      flags_line.split(":", 1)[1].split())
  assert described["cores"] == len(os.sched_getaffinity(0))
  assert described["gpus"] == [] and described["cuda"] is None
  assert described["tf32"] is False  # tests/conftest.py turns it off (a GPU runs it by default)
  assert described["device"] == f"CPU ({described['cpu']}, {described['cores']} cores)"
  assert machine.describe_cpu()["model"] == described["cpu"]


def test_peak_by_hand():
  # Sapphire Rapids: 2 FMA units x 16 float32 lanes x 2; AMX 1024 bfloat16 FLOPs per cycle.
  xeon = machine.describe_cpu(XEON, cores=2, ghz=2.0)
  assert xeon["fp32_flops_per_cycle"] == 64 and xeon["bf16_unit"] == "AMX"
  assert xeon["peak_fp32_gflops"] == 256.0 and xeon["peak_bf16_gflops"] == 4096.0
  # Zen 4 (the 2026-11-29 machine): 512-bit FMAs as two 256-bit halves on 2 pipes; its
  # AVX512_BF16 dot products do twice float32's work: 166 GFLOP/s at 2.6 GHz, as measured.
  zen4 = machine.describe_cpu(ZEN4, cores=2, ghz=2.6)
  assert zen4["fp32_flops_per_cycle"] == 32 and zen4["bf16_flops_per_cycle"] == 64
  assert math.isclose(zen4["peak_fp32_gflops"], 166.4)
  # Zen 2 (the earlier AVX2 machines): 157 GFLOP/s at 2.45 GHz; no bfloat16 unit.
  zen2 = machine.describe_cpu(ZEN2, cores=2, ghz=2.45)
  assert math.isclose(zen2["peak_fp32_gflops"], 156.8)
  assert zen2["bf16_flops_per_cycle"] == zen2["fp32_flops_per_cycle"]
  assert "peak_fp32_gflops" not in machine.describe_cpu(ZEN2, cores=2, ghz=None)


def test_metric_changes_are_relative_to_float32():
  changes = benchmarks.metric_changes({"float32": {"rel": 0.2, "delta1": 0.5},
                                       "bfloat16": {"rel": 0.201, "delta1": 0.49}})
  assert changes["float32"] == {"rel": 0.0, "delta1": 0.0}
  assert changes["bfloat16"]["rel"] == pytest.approx(0.005)
  assert changes["bfloat16"]["delta1"] == pytest.approx(-0.02)


TINY = {"backbone_blocks": (1, 1, 1, 1), "backbone_width": 0.125, "dmg_widths": (8, 8, 8, 8)}


@pytest.mark.slow
def test_gpu_report_runs_every_configuration_and_writes_the_table(monkeypatch):
  # float16 made "supported" and bfloat16 "unsupported" here, so that both paths run on any
  # CPU (what a GPU supports is unit-tested in tests/serving/test_precision.py).
  monkeypatch.setattr(gpu_report.precision_lib, "unsupported_reason",
                      lambda p, *a: "no bfloat16 on this pretend GPU" if p == "bfloat16" else None)
  lines = []
  report = gpu_report.run({"full_r101": ("full", None), "baseline_r50": ("baseline", None)},
                          xla_rows=["full_r101"],
                          precisions=("float32", "float16", "bfloat16"), xla=(False, True),
                          batch=1, size=(32, 48), steps=3, inference_batches=(1, 2),
                          pipeline=False, print_fn=lines.append, model_kwargs=TINY,
                          determinism_steps=2)
  json.dumps(report)  # one JSON
  assert report["device"] == ["CPU"] and report["recipe_steps"] == 86_680
  env = report["environment"]
  assert env["gpus"] == [] and env["pip_check"]["ok"], env["pip_check"]
  assert env["precisions"]["bfloat16"] == "no bfloat16 on this pretend GPU"
  assert env["shm_gb"] > 0 and isinstance(env["tf32_was_on"], bool)
  configs = report["training"]["full_r101"]
  assert set(configs) == {"float32", "float32+xla", "float16", "float16+xla", "bfloat16",
                          "bfloat16+xla"}
  for name in ("bfloat16", "bfloat16+xla"):
    assert configs[name] == {"unsupported": "no bfloat16 on this pretend GPU"}
  for name in ("float32", "float32+xla", "float16", "float16+xla"):
    result = configs[name]
    assert "error" not in result, (name, result)
    # What ran is what the name says (a switch that was ignored would give equal losses).
    precision = name.split("+")[0]
    assert result["ran"] == {"compute_dtype": [precision],
                             "loss_scaling": precision == "float16",
                             "xla": name.endswith("+xla")}, (name, result["ran"])
    assert result["steps_per_second"] > 0 and result["peak_device_gb"] is None
    assert result["recipe_hours"] == pytest.approx(86_680 / result["steps_per_second"] / 3600)
    assert result["tf32"] is False or precision != "float32"
    assert result["skipped_steps"] == 0  # a tiny network at 2^15 does not overflow
  # The same weights and batch: XLA changes how, not what, and float16 stays close.
  assert configs["float32+xla"]["loss_relative_difference"] < 1e-3
  assert configs["float16"]["loss_matches_float32"]
  # XLA for the rows asked only (compiling is most of a GPU report's time).
  assert set(report["training"]["baseline_r50"]) == {"float32", "float16", "bfloat16"}
  assert set(report["inference"]) == {"float32", "float16"}
  assert set(report["inference"]["float16"]) == {"1", "2"}
  assert report["determinism"]["bit_identical"] is True
  table = report["markdown"].splitlines()
  assert table[0].startswith("| row | precision | XLA | steps/s | peak device memory | "
                             "skipped steps |")
  assert sum(line.startswith("| full_r101 |") for line in table) == 6
  assert "| full_r101 | float32 (TF32 off) | no |" in report["markdown"]
  assert "| full_r101 | bfloat16 | yes | unsupported |" in report["markdown"]
  assert any(line.startswith("| float16 |") and "images/s" in line for line in table)
  assert report["pipeline"]["demand_examples_per_second"] > 0
  assert lines[0].startswith("TensorFlow ") and "GPUs: none" in lines[0]
  assert "pip check: ok" in lines
  assert ("train full_r101 bfloat16: not run, unsupported (no bfloat16 on this pretend GPU)"
          in lines)
  assert lines[-1] == "determinism: two processes, 2 deterministic steps of full_r101: bit-identical"


@pytest.mark.slow
def test_gpu_section_says_there_is_no_gpu_and_exits_0(tmp_path):
  # No GPU visible on any machine, one with GPUs included: what a CPU-only user sees.
  result = run_tool("benchmark", "--sections=gpu", f"--json={tmp_path / 'gpu.json'}",
                    env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1"})
  assert result.returncode == 0, result.stderr[-2000:]
  assert "no GPU visible" in result.stdout and not result.stderr.strip()
  # The machine part runs anyway: what a user pastes when the GPU is not seen in the image.
  assert "GPUs: none" in result.stdout and "pip check: ok" in result.stdout
  with open(tmp_path / "gpu.json", encoding="utf-8") as f:
    gpu = json.load(f)["gpu"]
  assert gpu["skipped"] == "no GPU" and gpu["environment"]["gpus"] == []
  assert gpu["environment"]["memory_growth_env"] == "true"  # set by the tool for its children


def test_environment_lines_name_what_to_fix():
  env = {"tensorflow": "2.21.0", "cuda": "12.5", "cudnn": "9", "tf32_was_on": True,
         "gpus": [{"name": "NVIDIA A100", "compute_capability": "8.0", "memory_growth": True}] * 2,
         "precisions": {"float32": "supported", "float16": "supported",
                        "bfloat16": "supported"},
         "pip_check": {"ok": False, "output": "foo 1.0 has requirement bar>2\nbaz is broken"},
         "shm_gb": 0.067, "memory_growth_env": "true"}
  lines = gpu_report.environment_lines(env)
  assert lines[0] == ("TensorFlow 2.21.0, CUDA 12.5, cuDNN 9; GPUs: NVIDIA A100 (compute "
                      "capability 8.0, memory growth on), NVIDIA A100 (compute capability 8.0, "
                      "memory growth on)")
  assert "TF32 was on (the float32 rows run with it off)" in lines
  assert "pip check: PROBLEMS: foo 1.0 has requirement bar>2; baz is broken" in lines
  assert lines[-1] == ("/dev/shm: 0.07 GB -- too small for NCCL between GPUs: docker run "
                       "--shm-size=1g (or --ipc=host)")
  env["shm_gb"], env["gpus"] = 1.07, env["gpus"][:1]
  assert gpu_report.environment_lines(env)[-1] == "/dev/shm: 1.07 GB"
