"""The cost and speed measurements behind tools/benchmark.py (their values are not timed here)."""

import keras
import numpy as np
import pytest

from attn_depth.benchmarks import suite as benchmarks

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)

TINY = dict(backbone_blocks=(1, 1, 1, 1), backbone_width=0.125, dmg_widths=(8, 8, 16, 16))


def test_flops_of_one_convolution_by_hand():
  """3x3 conv, 4 -> 8 channels, 10x10 'same': 2 * 9 * 4 * 8 * 100 multiply-adds-as-2, plus one
  add per output for the bias."""
  model = keras.Sequential([keras.Input((10, 10, 4)), keras.layers.Conv2D(8, 3, padding="same")])
  assert benchmarks.count_flops(lambda x: model(x), (1, 10, 10, 4)) == 2 * 9 * 4 * 8 * 100 + 800


def test_variant_costs_split_into_dfe_and_dmg():
  costs = benchmarks.variant_costs("full", size=(64, 96), **TINY)
  assert costs["dfe_gflops"] > 0 and costs["dmg_gflops"] > 0
  assert abs(costs["dfe_gflops"] + costs["dmg_gflops"] - costs["gflops"]) < 1e-9
  # Every pixel costs the same in a fully convolutional network: 4x the pixels, 4x the FLOPs
  # (once the 1/4-resolution maps are larger than the rate-8 kernels' reach).
  larger = benchmarks.variant_costs("full", size=(128, 192), **TINY)
  assert abs(larger["gflops"] / costs["gflops"] - 4.0) < 0.01


def test_latency_comparison_reports_both_networks_and_the_dmg_shares():
  result = benchmarks.latency_comparison("full", size=(32, 48), batches=(1,), repeats=1, **TINY)
  row = result["batches"]["1"]
  for name in ("model", "resnet101"):
    assert row[name]["seconds"] > 0 and row[name]["images_per_second"] > 0
  assert row["flops_per_second_ratio"] > 0
  assert 0 < result["dmg"]["flop_share"] < 1 and 0 <= result["dmg"]["time_share"] <= 1


def test_measured_peak_memory_is_the_commands_own_not_its_parents():
  """Linux keeps the peak RSS of the memory a process leaves at exec: a child spawned straight
  from a large test session reported the session's peak (the 100-megapixel test failed in CI
  on it). Measured from a bare interpreter, a small command stays small and a large one is seen."""
  import sys  # pylint: disable=import-outside-toplevel
  from attn_depth.benchmarks import suite as benchmarks  # pylint: disable=import-outside-toplevel
  ballast = np.ones(1_500_000_000 // 8)  # 1.5 GB resident in this process
  small = benchmarks.run_measured([sys.executable, "-c", "pass"])
  assert small["returncode"] == 0 and small["peak_rss_gb"] < 0.2, small["peak_rss_gb"]
  large = benchmarks.run_measured(
      [sys.executable, "-c", "import sys; b = bytearray(600_000_000); b[::4096] = b'x' * "
       "len(b[::4096]); sys.exit(3)"])
  assert large["returncode"] == 3 and 0.55 < large["peak_rss_gb"] < 1.0, large["peak_rss_gb"]
  del ballast
  slow = benchmarks.run_measured([sys.executable, "-c", "import time; time.sleep(60)"],
                                 timeout=2)
  assert slow["returncode"] != 0 and slow["seconds"] < 30
