"""Prepares tfds' nyu_depth_v2 from a local copy of FastDepth's archive: no download server.

The same command as `attn-depth prepare-nyu` (attn_depth/cli/prepare_nyu.py), for a checkout:
  python tools/prepare_nyu.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["prepare-nyu", *sys.argv[1:]], program=sys.argv[0]))
