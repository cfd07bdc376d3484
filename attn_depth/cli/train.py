r"""Trains a Table-1 network (or the offline quickstart) as configured by gin.

  attn-depth train --gin_file=gin/quickstart.gin --model_dir=runs/quickstart
  attn-depth train --gin_file=gin/nyu/full_r101.gin --model_dir=runs/full_r101 \
      --gin_bindings="nyu_tfds_source.data_dir = '/data/tensorflow_datasets'"

Restarting with the same --model_dir resumes from its latest checkpoint. Exit status: 0 when
the run reached its last step, 130 after a Ctrl-C and 143 after a SIGTERM (each saved first),
1 on a mistake in the command, a full disk or a lost worker (one line says which checkpoint is
intact). With TF_CONFIG naming several workers, every worker runs this same command
(MultiWorkerMirroredStrategy) and resumes from the chief's checkpoints in --model_dir.
"""


import sys

from absl import flags

from attn_depth import cli
from attn_depth import config
from attn_depth import training

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "(required) Checkpoints, logs and results.",
                                 required=True)
_GIN_FILES = flags.DEFINE_multi_string("gin_file", ["gin/base.gin"], "gin files, in order.")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [],
                                          "gin bindings, applied after the files.")
_STRATEGY = flags.DEFINE_enum("strategy", "auto", ["auto", "default", "mirrored", "multi_worker"],
                              "auto: TF_CONFIG with several workers -> multi_worker; several "
                              "GPUs -> mirrored over as many as the batch splits over (one "
                              "warning line when that is not all); else one device.")


def main(argv):
  del argv
  with cli.tool("train"):
    config.parse_gin(_GIN_FILES.value, _GIN_BINDINGS.value)
    # Before anything starts TensorFlow's runtime (choosing the strategy lists the devices).
    training.configure_determinism(config.query("train.deterministic", False))
    with cli.output_folder(_MODEL_DIR.value):
      strategy = training.build_strategy(
          _STRATEGY.value, global_batch_size=config.query("train.batch_size"))
      result = training.train(_MODEL_DIR.value, strategy)
  if result["stopped"]:  # saved and stopped early: a scheduler must not take it for finished
    sys.exit(training.STOP_EXIT_CODES.get(result["stopped"], 143))

