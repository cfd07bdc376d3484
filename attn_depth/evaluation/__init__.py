"""Evaluation: the Evaluator (one implementation of every protocol), protocols, reports.

The metrics themselves have one public face, `attn_depth.metrics`.
"""

from attn_depth.evaluation.evaluator import Evaluator
from attn_depth.evaluation.evaluator import constant_depth_network
from attn_depth.evaluation.protocols import PROTOCOLS
