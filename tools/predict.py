"""Depth, point clouds and bokeh for your own photos.

The same command as `attn-depth predict` (attn_depth/cli/predict.py), for a checkout:
  python tools/predict.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["predict", *sys.argv[1:]], program=sys.argv[0]))
