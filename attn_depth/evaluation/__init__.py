"""Depth metrics and evaluation of models on the data pipelines."""

from attn_depth.evaluation.metrics import METRIC_NAMES
from attn_depth.evaluation.metrics import DepthMetricsAccumulator
from attn_depth.evaluation.metrics import depth_metrics
