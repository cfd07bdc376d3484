"""Writes procedural rooms in the own-RGB-D layout (README, "Your own RGB-D data"): a worked
example of that layout, and test frames for a fine-tuning run.

  attn-depth export-rooms --output_dir=runs/my_rgbd --num_train=200 --num_test=20

writes <output_dir>/train/{rgb,depth}/NNNNN.png and <output_dir>/test/... (16-bit millimetre
depth, NYU's camera), and <output_dir>/train.csv listing the training pairs with fx.
"""

from absl import flags

from attn_depth import cli
from attn_depth.data import rgbd_files
from attn_depth.data.frames import expand_path
from attn_depth.core.console import Progress

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "(required) Folder to write to; must not "
                                  "hold frames already.", required=True)
_NUM_TRAIN = flags.DEFINE_integer("num_train", 200, "Training frames.")
_NUM_TEST = flags.DEFINE_integer("num_test", 20, "Test frames (other rooms).")
_SEED = flags.DEFINE_integer("seed", 100, "Room set; test rooms come from seed + 1.")


def main(argv):
  del argv
  with cli.tool("export_rooms"):
    folder = expand_path(_OUTPUT_DIR.value)
    total = _NUM_TRAIN.value + _NUM_TEST.value
    with cli.output_folder(folder):
      rgbd_files.export_rooms(folder, _NUM_TRAIN.value, _NUM_TEST.value, _SEED.value,
                              progress=Progress(total, "writing rooms", unit="frames",
                                                print_fn=cli.print_flush))
    print(f"wrote {_NUM_TRAIN.value} + {_NUM_TEST.value} frames to {folder}/train and "
          f"{folder}/test (and {folder}/train.csv)")

