"""attn_depth: Hao, Li, You, Lu, "Detail Preserving Depth Estimation from a Single Image Using
Attention Guided Networks" (3DV 2018) in TensorFlow 2 / Keras 3.

Importing the package registers its custom layers, so saved `.keras` models load directly.
"""

from attn_depth import models

__version__ = "0.1.0"
