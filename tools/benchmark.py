"""Speed, cost and memory benchmarks, printed as a table and written as JSON. Goals (README,

The same command as `attn-depth benchmark` (attn_depth/cli/benchmark.py), for a checkout:
  python tools/benchmark.py --help
"""

import sys

import attn_depth_cli  # the quiet start-up runs in main(), before TensorFlow loads

if __name__ == "__main__":
  sys.exit(attn_depth_cli.main(["benchmark", *sys.argv[1:]], program=sys.argv[0]))
