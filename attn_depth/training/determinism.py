"""Bit-identical training: TensorFlow's determinism switches, and the one combination a GPU
cannot run deterministically (XLA and the stem's max pool)."""

import keras
import tensorflow as tf

from attn_depth.training.controller import TrainingSetupError


def configure_determinism(deterministic):
  """Makes every op deterministic (`tf.config.experimental.enable_op_determinism`) and runs
  one op at a time, each on one thread: on CPU, TensorFlow's multi-threaded kernels (oneDNN's
  and Eigen's) sum in an order that varies between processes, and ops running side by side
  (inter-op parallelism) change the results of the quickstart network's backward pass now and
  then (seen from step 4 on); Adam amplifies either within a few dozen steps. Must run before
  TensorFlow starts its runtime (attn-depth train does so); raises TrainingSetupError when it is
  too late."""
  if not deterministic:
    return
  tf.config.experimental.enable_op_determinism()
  threading = tf.config.threading
  if (threading.get_intra_op_parallelism_threads() == 1
      and threading.get_inter_op_parallelism_threads() == 1):
    return
  try:
    threading.set_intra_op_parallelism_threads(1)
    threading.set_inter_op_parallelism_threads(1)
  except RuntimeError:
    raise TrainingSetupError(
        "train.deterministic = True must be set before TensorFlow starts (attn-depth train "
        "applies it from --gin_file/--gin_bindings; in Python call "
        "attn_depth.training.configure_determinism(True) first)") from None


def check_deterministic_xla(model, deterministic, jit_compile):
  """Refuses, before any work, what fails at the first step on a GPU: with op determinism on,
  XLA has no deterministic gradient of a max pool (tensorflow#69417, "GPU MaxPool gradient
  ops do not yet have a deterministic XLA implementation"), and the gradient reaches the stem's
  max pool whenever a trainable variable lies before it (`frozen_stages = 0`, as in the
  quickstart; the paper's configs freeze conv1, so they may use both). CPUs are not affected."""
  if not (deterministic and jit_compile) or not tf.config.list_logical_devices("GPU"):
    return
  before = variables_before_max_pools(model)
  if before:
    raise TrainingSetupError(
        f"train.deterministic with train.jit_compile cannot train {', '.join(before)} on a GPU: XLA has "
        "no deterministic max-pool gradient (tensorflow#69417); set train.jit_compile = False, "
        "train.deterministic = False, or build_model.frozen_stages >= 1")


def variables_before_max_pools(model):
  """Paths of the trainable variables whose gradient passes through a max-pooling layer: those
  of the layers upstream of any MaxPooling2D, walked through the functional graph."""
  found = []

  def visit(network):
    for layer in network.layers:
      if isinstance(layer, keras.Model):
        visit(layer)
      elif isinstance(layer, keras.layers.MaxPooling2D):
        seen, stack = set(), [n for node in layer._inbound_nodes  # pylint: disable=protected-access
                              for n in node.parent_nodes]
        while stack:
          node = stack.pop()
          if id(node) in seen:
            continue
          seen.add(id(node))
          found.extend(v.path for v in node.operation.trainable_weights if v.path not in found)
          stack.extend(node.parent_nodes)

  visit(model)
  return found
