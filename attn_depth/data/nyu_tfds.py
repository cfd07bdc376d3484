"""NYU Depth V2 through tensorflow-datasets (`nyu_depth_v2`, FastDepth's 32 GB h5 archive).

Splits: train (47,584 frames of the 249 training scenes) and validation (the 654 official test
frames). Images uint8 [480, 640, 3], depth float16 metres.

The paper samples "~13K pairs from 249 training scenes". tfds stores its records in an order
shuffled by a hash of each frame's key (scene + frame), so the first N records of the train split
are a deterministic sample spread evenly over all scenes; `train[:N]` reads only those.
"""

import tensorflow as tf
import tensorflow_datasets as tfds

from attn_depth.data.frames import DataError

NAME = "nyu_depth_v2"
SPLITS = {"train": "train", "test": "validation"}
PAPER_TRAIN_EXAMPLES = 13000


def nyu_tfds_dataset(split="train", num_examples=PAPER_TRAIN_EXAMPLES, data_dir=None,
                     download=False):
  """Frames of tfds' nyu_depth_v2 as {"image": uint8, "depth": float32 metres}.

  Args:
    split: "train" or "test" (tfds' "validation", the 654 official test frames).
    num_examples: train only: how many frames of the deterministic subset; None for all 47,584.
    data_dir: tfds data folder (default: tfds' own, ~/tensorflow_datasets).
    download: let tfds download (32 GB) and prepare the dataset if it is not there.
  """
  if split not in SPLITS:
    raise DataError(f"nyu_depth_v2: unknown split {split!r}, expected one of {sorted(SPLITS)}")
  tfds_split = SPLITS[split]
  if split == "train" and num_examples:
    tfds_split = f"train[:{int(num_examples)}]"
  try:
    dataset = tfds.load(NAME, split=tfds_split, data_dir=data_dir, download=download,
                        shuffle_files=False)
  except AssertionError as error:  # tfds' way of saying "not prepared"
    if "could not find data" not in str(error):
      raise
    where = data_dir or tfds.core.constants.DATA_DIR
    raise DataError(
        f"{where}: nyu_depth_v2 is not prepared there; run `tfds build nyu_depth_v2 "
        f"--data_dir=DIR` on a machine with internet (32 GB download), or allow the download "
        f"(nyu_tfds_source.download = True)") from None
  dataset = dataset.map(
      lambda example: {"image": example["image"], "depth": tf.cast(example["depth"], tf.float32)},
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  # A record that fails to decode is logged by tf.data and skipped, not fatal.
  return dataset.ignore_errors(log_warning=True)
