"""Reproductions in one command: Table 1 on NYU Depth V2, and Table 1 in miniature with seeds."""

from attn_depth.reproduction.pipeline import EXPORTS
from attn_depth.reproduction.pipeline import PROTOCOL_RUNS
from attn_depth.reproduction.pipeline import ReproductionError
from attn_depth.reproduction.pipeline import reproduce
from attn_depth.reproduction.rows import MINIATURE_ROWS
from attn_depth.reproduction.rows import TABLE1_ROWS
