"""A page in the browser: drop a photo, get its depth, point cloud, bokeh and downloads.

The same command as `attn-depth demo` (attn_depth/cli/demo.py), for a checkout:
  python tools/demo.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["demo", *sys.argv[1:]], program=sys.argv[0]))
