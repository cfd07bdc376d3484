"""What machine this is, said once: the CPU (model, feature flags, usable cores, clock), the GPUs
(name, compute capability, memory growth) and the library versions. Training's session record
(train/sessions.json), the precision checks and the benchmarks all read it from here."""

import functools
import os
import platform


def cpuinfo():
  """({key: value} of the first processor's block in /proc/cpuinfo, [every `cpu MHz`]); empty
  where Linux's file is missing."""
  fields, clocks = {}, []
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if ":" not in line:
          continue
        key, value = (part.strip() for part in line.split(":", 1))
        if key == "cpu MHz":
          clocks.append(float(value))
        fields.setdefault(key, value)
  except (OSError, ValueError):
    pass
  return fields, clocks


@functools.lru_cache(maxsize=None)
def cpu_flags():
  """The CPU's feature flags as Linux lists them (empty where /proc/cpuinfo is missing)."""
  return frozenset(cpuinfo()[0].get("flags", "").split())


def cpu_model():
  return cpuinfo()[0].get("model name") or platform.processor() or platform.machine() or "unknown"


def clock_ghz():
  """The mean clock of the cores Linux reports right now (GHz), or None."""
  _, clocks = cpuinfo()
  return sum(clocks) / len(clocks) / 1000.0 if clocks else None


def usable_cores():
  """The cores this process may run on (a container's or taskset's limit, not the host's)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


def gpus():
  """[{"name", "compute_capability", "memory_growth"}] of every visible GPU, in order."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  found = []
  for gpu in tf.config.list_physical_devices("GPU"):
    details = tf.config.experimental.get_device_details(gpu)
    found.append({"name": details.get("device_name", gpu.name),
                  "compute_capability": ".".join(map(str, details.get("compute_capability",
                                                                       ()))) or None,
                  "memory_growth": tf.config.experimental.get_memory_growth(gpu)})
  return found


def describe():
  """What a run or a measurement ran on: {"tensorflow", "keras", "python", "cuda", "cudnn",
  "device", "cpu", "cores", "gpus", "tf32"}; `device` is the GPUs' names, else the CPU's model
  and cores, and cuda/cudnn are None without a GPU. `tf32`: whether TensorFlow may run float32
  matmuls and convolutions in TF32 (its default, on Ampere or later GPUs): GPU timings compare
  only with the same state."""
  import keras  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  build = tf.sysconfig.get_build_info()
  found = gpus()
  cores = usable_cores()
  return {"tensorflow": tf.__version__, "keras": keras.__version__,
          "python": platform.python_version(),
          "cuda": build.get("cuda_version") if found else None,
          "cudnn": build.get("cudnn_version") if found else None,
          "device": (", ".join(gpu["name"] for gpu in found) if found else
                     f"CPU ({cpu_model()}, {cores} cores)"),
          "cpu": cpu_model(), "cores": cores, "gpus": found,
          "tf32": tf.config.experimental.tensor_float_32_execution_enabled()}
