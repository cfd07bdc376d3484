"""Writes procedural rooms in the own-RGB-D layout (README, "Your own RGB-D data"): a worked

The same command as `attn-depth export-rooms` (attn_depth/cli/export_rooms.py), for a checkout:
  python tools/export_rooms.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["export-rooms", *sys.argv[1:]], program=sys.argv[0]))
