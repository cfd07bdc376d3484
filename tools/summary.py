"""Parameter counts of Table 1's variants, as configured by gin.

The same command as `attn-depth summary` (attn_depth/cli/summary.py), for a checkout:
  python tools/summary.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["summary", *sys.argv[1:]], program=sys.argv[0]))
