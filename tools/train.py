"""Trains a Table-1 network (or the offline quickstart) as configured by gin.

The same command as `attn-depth train` (attn_depth/cli/train.py), for a checkout:
  python tools/train.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["train", *sys.argv[1:]], program=sys.argv[0]))
