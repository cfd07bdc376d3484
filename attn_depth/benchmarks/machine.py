"""What this machine's CPU can do at most (read from attn_depth.core.machine, the one machine
description): its peak FLOP/s from what it is, for float32 and
bfloat16, so that benchmarks can report a network's speed as a fraction of the limit.

peak = cores x clock x FLOPs per core per cycle, where a core's FLOPs per cycle are
2 (a fused multiply-add) x vector lanes x FMA units:

* vector lanes: 16 float32 with AVX-512, 8 with AVX2/FMA, 4 with SSE;
* FMA units: 2 on Intel server cores with AVX-512 (Skylake-SP and later Xeons) and on AMD Zen
  (Zen 4 executes a 512-bit FMA as two 256-bit halves: counted as 8 lanes x 2 units), 2 on
  AVX2 cores;
* bfloat16: AVX512_BF16's dot-product instructions do twice float32's work per cycle; AMX
  tiles (Sapphire Rapids and later) 1024 FLOPs per cycle per core.

The clock is the one Linux reports while the benchmark runs (`cpu MHz`, sampled), since turbo
and power limits move it; the figure is the machine's limit at that clock, not a promise.
"""

import platform

from attn_depth.core.machine import clock_ghz
from attn_depth.core.machine import cpuinfo
from attn_depth.core.machine import usable_cores


def describe_cpu(fields=None, cores=None, ghz=None):
  """The CPU's peak: {"model", "cores", "ghz", "vector", "fp32_flops_per_cycle",
  "bf16_flops_per_cycle", "bf16_unit", "peak_fp32_gflops", "peak_bf16_gflops"}. Arguments
  default to this machine's (tests pass their own)."""
  if fields is None:
    fields, clocks = cpuinfo()
    ghz = ghz or (sum(clocks) / len(clocks) / 1000.0 if clocks else None)
  flags = set(fields.get("flags", "").split())
  model = fields.get("model name", platform.processor() or platform.machine())
  vendor = fields.get("vendor_id", "")
  cores = cores or usable_cores()
  if "avx512f" in flags:
    vector = "AVX-512"
    lanes, units = (8, 2) if vendor == "AuthenticAMD" and _zen_generation(fields) == 4 else (16, 2)
  elif "avx2" in flags and "fma" in flags:
    vector, lanes, units = "AVX2+FMA", 8, 2
  else:
    vector, lanes, units = "SSE", 4, 1
  fp32 = 2 * lanes * units
  if "amx_bf16" in flags:
    bf16, bf16_unit = 1024, "AMX"
  elif "avx512_bf16" in flags:
    bf16, bf16_unit = 2 * fp32, "AVX512_BF16"
  else:
    bf16, bf16_unit = fp32, "none (converted to float32)"
  result = {"model": model, "cores": cores, "ghz": ghz, "vector": vector,
            "fp32_flops_per_cycle": fp32, "bf16_flops_per_cycle": bf16, "bf16_unit": bf16_unit}
  if ghz:
    result.update(peak_fp32_gflops=cores * ghz * fp32, peak_bf16_gflops=cores * ghz * bf16)
  return result


def _zen_generation(fields):
  """AMD's family 25 (0x19) is Zen 3 / Zen 4; Zen 4 has AVX-512 (Zen 3 does not), family 26
  is Zen 5 with full-width 512-bit units."""
  try:
    family = int(fields.get("cpu family", "0"))
  except ValueError:
    return None
  return {25: 4, 26: 5}.get(family)


def sample_clock_while(fn, interval=0.2):
  """Runs fn(); returns (its result, the mean of `clock_ghz` sampled every `interval` s while
  it ran, or None)."""
  import threading  # pylint: disable=import-outside-toplevel
  samples, done = [], threading.Event()

  def sample():
    while not done.wait(interval):
      value = clock_ghz()
      if value:
        samples.append(value)

  thread = threading.Thread(target=sample, daemon=True)
  thread.start()
  try:
    result = fn()
  finally:
    done.set()
    thread.join()
  return result, (sum(samples) / len(samples) if samples else clock_ghz())
