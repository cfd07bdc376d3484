"""Exports a trained model as a SavedModel (any image size in, metres out) and TFLite.

The same command as `attn-depth export` (attn_depth/cli/export.py), for a checkout:
  python tools/export.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["export", *sys.argv[1:]], program=sys.argv[0]))
