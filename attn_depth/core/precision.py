"""The precision a network computes in, and what this machine's devices support.

* "float32": the paper's, and the default everywhere.
* "bfloat16": Keras' `mixed_bfloat16` policy (variables float32, layers compute in bfloat16,
  the depth head emits float32 metres). Fast on CPUs with bfloat16 instructions (AVX512_BF16 or
  AMX: 2.07x on the full network on the project's Xeon) and on GPUs of compute capability
  8.0 or later (Ampere).
* "float16": `mixed_float16`, for GPUs (Tensor Cores from compute capability 7.0); CPUs have no
  fast float16 convolutions in TensorFlow.

Where the device lacks the requested precision, `resolve` falls back to float32 (or to the
precision this device does have, bfloat16 for float16 on a bf16 CPU) and says so in one line:
slow emulation is never chosen silently.
"""

import contextlib
import functools
import logging

import keras
import tensorflow as tf

from attn_depth.core import machine

PRECISIONS = ("float32", "bfloat16", "float16")
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")

# The --precision flag's help, the same in every tool that has it.
FLAG_HELP = ("What the network computes in: float32 (the paper's), bfloat16 (CPUs with "
             "AVX512_BF16/AMX, GPUs from Ampere) or float16 (GPUs); a precision the device "
             "lacks falls back with one line. Default float32, or a SavedModel's own.")

_log = logging.getLogger(__name__)


class PrecisionError(ValueError):
  """An unknown precision name."""


def check(precision):
  if precision not in PRECISIONS:
    raise PrecisionError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
  return precision


# The CPU's feature flags, from the one machine description (a name here: tests replace it).
cpu_flags = machine.cpu_flags


@functools.lru_cache(maxsize=None)
def gpu_compute_capabilities():
  """(major, minor) of every visible GPU, in order."""
  capabilities = []
  for gpu in tf.config.list_physical_devices("GPU"):
    details = tf.config.experimental.get_device_details(gpu)
    capabilities.append(tuple(details.get("compute_capability", (0, 0))))
  return tuple(capabilities)


def unsupported_reason(precision, gpus=None, flags=None):
  """None when the device that would run the network computes in `precision` natively, else
  why not (one clause). `gpus`: compute capabilities (default this machine's); `flags`: CPU
  flags (default this machine's), for the CPU when no GPU is visible."""
  check(precision)
  gpus = gpu_compute_capabilities() if gpus is None else tuple(gpus)
  if precision == "float32":
    return None
  if gpus:
    least = min(gpus)
    needed = (8, 0) if precision == "bfloat16" else (7, 0)
    if least < needed:
      return (f"the GPU (compute capability {least[0]}.{least[1]}) has no fast {precision}; "
              f"{precision} needs {needed[0]}.{needed[1]} or later")
    return None
  flags = cpu_flags() if flags is None else frozenset(flags)
  if precision == "float16":
    return "float16 is a GPU precision; TensorFlow has no fast float16 convolutions on CPUs"
  if not flags & set(CPU_BF16_FLAGS):
    return "this CPU has no bfloat16 instructions (AVX512_BF16 or AMX), only slow emulation"
  return None


def resolve(precision, gpus=None, flags=None):
  """The precision to compute in when `precision` is asked for: itself where the device
  supports it, else bfloat16 (for float16 on a CPU with bfloat16) or float32, said in one
  warning line."""
  reason = unsupported_reason(precision, gpus, flags)
  if reason is None:
    return precision
  fallback = ("bfloat16" if precision == "float16"
              and unsupported_reason("bfloat16", gpus, flags) is None else "float32")
  _log.warning("precision %s: %s; computing in %s", precision, reason, fallback)
  return fallback


@contextlib.contextmanager
def policy(precision):
  """Keras layers built inside compute in `precision` (variables stay float32)."""
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(POLICIES[check(precision)])
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def of_model(model):
  """The precision a Keras model computes in (its first layer's compute dtype)."""
  compute = getattr(getattr(model, "dtype_policy", None), "compute_dtype", "float32")
  return compute if compute in PRECISIONS else "float32"
