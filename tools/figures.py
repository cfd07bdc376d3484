"""Regenerates the paper's Figures 3, 4, 5 and 7 from your training runs.

The same command as `attn-depth figures` (attn_depth/cli/figures.py), for a checkout:
  python tools/figures.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["figures", *sys.argv[1:]], program=sys.argv[0]))
