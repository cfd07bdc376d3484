r"""Table 1 in one command: every row trained, evaluated under each protocol, exported, the
paper's figures drawn, and results.md / results.json written beside the paper's numbers.

  attn-depth reproduce --output_dir=runs --nyu_tfds_data_dir=/data/tensorflow_datasets \
      --nyu_mat=/data/nyu_depth_v2_labeled.mat --nyu_splits=/data/splits.mat --weights_dir=/data
  attn-depth reproduce --miniature --output_dir=runs/miniature --seeds=3

Each stage is the repository's own tool with the command the README gives for it; its output
goes to <output_dir>/<row>/logs/. Run the same command again after an interruption (Ctrl-C,
preemption, kill -9): finished stages are skipped and training resumes from its latest
checkpoint. Exit status: 0 when every stage is done, 1 when one failed (the others still ran),
130 when interrupted.
"""

import sys

from absl import flags

from attn_depth import cli
from attn_depth import reproduction

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "(required) One folder per row, figures/, "
                                  "results.md, results.json.", required=True)
_ROWS = flags.DEFINE_list("rows", None, "Rows to run (default all): "
                          + ",".join(reproduction.TABLE1_ROWS) + "; with --miniature "
                          + ",".join(reproduction.MINIATURE_ROWS) + ".")
_MINIATURE = flags.DEFINE_bool("miniature", False, "Table 1 in miniature: the four variants on "
                               "procedural rooms with one shared reduced backbone, from scratch, "
                               "--seeds seeds each (about 80 minutes on 2 CPU cores).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per row of the miniature.")
_NYU_TFDS = flags.DEFINE_string("nyu_tfds_data_dir", None, "tfds data folder holding a prepared "
                                "nyu_depth_v2 (with --nyu_archive: where to prepare it; default "
                                "<output_dir>/tensorflow_datasets).")
_NYU_ARCHIVE = flags.DEFINE_string("nyu_archive", None, "FastDepth's nyudepthv2.tar.gz (or its "
                                   "extracted folder), prepared through tfds' builder first.")
_NYU_MAT = flags.DEFINE_string("nyu_mat", None, "nyu_depth_v2_labeled.mat: evaluate on its 654 "
                               "test frames (default: tfds' validation split, the same frames).")
_NYU_SPLITS = flags.DEFINE_string("nyu_splits", None, "NYU's splits.mat (with --nyu_mat).")
_WEIGHTS_DIR = flags.DEFINE_string("weights_dir", None, "Folder with keras.applications' "
                                   "resnet{50,101}_weights_tf_dim_ordering_tf_kernels_notop.h5 "
                                   "(default: Keras' cache, downloaded on first use).")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "gin bindings for every training "
                                          "(e.g. \"train.mixed_precision = 'float16'\"); "
                                          "recorded in results.json.")
_EXPORTS = flags.DEFINE_list("exports", list(reproduction.EXPORTS), "What each row's export "
                             "stage writes (the SavedModel and its model card always): "
                             + ", ".join(reproduction.EXPORTS) + ".")
_FIGURES = flags.DEFINE_bool("figures", True, "Draw the paper's Figs. 3, 4, 5 and 7 across the "
                             "rows.")


def main(argv):
  del argv
  with cli.tool("reproduce"):
    status = reproduction.reproduce(
        _OUTPUT_DIR.value, _ROWS.value, miniature=_MINIATURE.value, seeds=_SEEDS.value,
        nyu_tfds_data_dir=_NYU_TFDS.value, nyu_archive=_NYU_ARCHIVE.value,
        nyu_mat=_NYU_MAT.value, nyu_splits=_NYU_SPLITS.value, weights_dir=_WEIGHTS_DIR.value,
        gin_bindings=_GIN_BINDINGS.value, exports=_EXPORTS.value, figures=_FIGURES.value,
        print_fn=cli.print_flush)
  sys.exit(status)

