"""Evaluates a trained model -- or anyone's saved predictions -- on a test set under a named

The same command as `attn-depth evaluate` (attn_depth/cli/evaluate.py), for a checkout:
  python tools/evaluate.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["evaluate", *sys.argv[1:]], program=sys.argv[0]))
