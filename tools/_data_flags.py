"""The test-data flags that tools/evaluate.py and tools/figures.py share."""

from absl import flags

from attn_depth import data

SEQUENCE_SOURCES = ("synthetic_flythroughs",)
SOURCE = flags.DEFINE_enum("source", "nyu_labeled", sorted(data.SOURCES) + list(SEQUENCE_SOURCES),
                           "Test data: nyu_labeled (654 frames of the labeled .mat), nyu_tfds "
                           "(tfds' validation split, the same 654), densedepth, sunrgbd (SUN "
                           "RGB-D, e.g. B3DO), rgbd_files (your own RGB-D frames), "
                           "synthetic_rooms; synthetic_flythroughs: temporal consistency on "
                           "camera fly-throughs with known poses (per-frame and consistent "
                           "mode).")
NYU_MAT = flags.DEFINE_string("nyu_mat", None, "nyu_depth_v2_labeled.mat (--source=nyu_labeled).")
NYU_SPLITS = flags.DEFINE_string("nyu_splits", None, "NYU's splits.mat (--source=nyu_labeled).")
TFDS_DATA_DIR = flags.DEFINE_string("tfds_data_dir", None, "tfds data folder holding a prepared "
                                    "nyu_depth_v2 (--source=nyu_tfds); default tfds' own.")
DENSEDEPTH = flags.DEFINE_string("densedepth", None, "DenseDepth's nyu_data.zip or its "
                                 "extracted folder (--source=densedepth).")
SUNRGBD = flags.DEFINE_string("sunrgbd", None, "SUN RGB-D's SUNRGBD folder (--source=sunrgbd).")
SUNRGBD_SUBSETS = flags.DEFINE_list("sunrgbd_subsets", None, "SUN RGB-D subsets, e.g. b3dodata "
                                    "(the paper's B3DO; the default), kv1, kv2/kinect2data.")
RGBD_TEST = flags.DEFINE_string("rgbd_test", None, "Your own test frames (--source=rgbd_files): "
                                "a CSV 'rgb,depth[,fx]' or a folder with rgb/ and depth/.")


def bindings(depth_key=None):
  """gin bindings of the data flags that were given."""
  given = [f"nyu_labeled_source.depth_key = '{depth_key}'"] if depth_key else []
  for flag, binding in ((NYU_MAT, "nyu_labeled_source.mat_path"),
                        (NYU_SPLITS, "nyu_labeled_source.splits_path"),
                        (TFDS_DATA_DIR, "nyu_tfds_source.data_dir"),
                        (DENSEDEPTH, "densedepth_source.path"),
                        (SUNRGBD, "sunrgbd_source.path"),
                        (RGBD_TEST, "rgbd_files_source.test")):
    if flag.value:
      given.append(f"{binding} = {flag.value!r}")
  if SUNRGBD_SUBSETS.value:
    given.append(f"sunrgbd_source.subsets = {tuple(SUNRGBD_SUBSETS.value)!r}")
  return given
