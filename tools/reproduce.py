"""Table 1 in one command: every row trained, evaluated under each protocol, exported, the

The same command as `attn-depth reproduce` (attn_depth/cli/reproduce.py), for a checkout:
  python tools/reproduce.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["reproduce", *sys.argv[1:]], program=sys.argv[0]))
