"""The metrics in one place: Table 1's depth metrics and the detail (boundary) metrics.

    from attn_depth import metrics
    metrics.depth_metrics(gt, pred)        # rel, sq_rel, rms, rms_log, log10, delta1..3
    metrics.boundary_metrics(gt, pred)     # iBims eps_acc / eps_comp, Hu et al. edge P/R/F1
"""

from attn_depth.evaluation.boundary import BOUNDARY_METRIC_NAMES
from attn_depth.evaluation.boundary import BoundaryMetricsAccumulator
from attn_depth.evaluation.boundary import boundary_metrics
from attn_depth.evaluation.boundary import canny_depth_edges
from attn_depth.evaluation.boundary import chamfer_errors
from attn_depth.evaluation.boundary import depth_boundary_errors
from attn_depth.evaluation.boundary import edge_precision_recall
from attn_depth.evaluation.boundary import sobel_magnitude
from attn_depth.evaluation.metrics import METRIC_NAMES
from attn_depth.evaluation.metrics import DepthMetricsAccumulator
from attn_depth.evaluation.metrics import depth_metrics

__all__ = [
    "BOUNDARY_METRIC_NAMES", "BoundaryMetricsAccumulator", "boundary_metrics",
    "canny_depth_edges", "chamfer_errors", "depth_boundary_errors", "edge_precision_recall",
    "sobel_magnitude", "METRIC_NAMES",
    "DepthMetricsAccumulator", "depth_metrics",
]
