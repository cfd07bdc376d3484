"""attn_depth: Hao, Li, You, Lu, "Detail Preserving Depth Estimation from a Single Image Using
Attention Guided Networks" (3DV 2018) in TensorFlow 2 / Keras 3.

Importing the package registers its custom layers, so saved `.keras` models load directly.
Depth for your own images: `attn_depth.DepthEstimator.from_path(path).predict(images)`.
"""

from attn_depth import models
from attn_depth.serving.estimator import DepthEstimator

from attn_depth.core.version import __version__  # noqa: F401
