"""The consistent mode of video depth: per-frame predictions fused over time along optical flow.

Flow-guided (OpenCV Farneback) recursive fusion in log depth; the past's weight falls with the
photometric error of the flow, so occlusions and wrong flow fall back to the frame's own
prediction. Run forwards and backwards over a clip and averaged (`stabilize_clip`). The paper's
network is untouched; docs/paper_to_code.md argues the choice.
"""

import cv2
import numpy as np


class TemporalStabilizer:
  """Call with consecutive frames: (uint8 image [H, W, 3], depth [H, W] metres) -> fused depth.

  Args:
    memory: weight of the carried past where the flow is photometrically exact (0: off).
    photometric_scale: grey-level error (0-255) at which the past's weight falls to 1/e.
    flow_width: width the optical flow is computed at (speed; the flow is upsampled).
  """

  def __init__(self, memory=0.9, photometric_scale=16.0, flow_width=320):
    self.memory, self.photometric_scale, self.flow_width = memory, photometric_scale, flow_width
    self.reset()

  def reset(self):
    """Forget the past (a new clip)."""
    self._grey, self._image, self._log_depth = None, None, None

  def _flow_to_previous(self, grey):
    """Per pixel of the current frame, where it was in the previous one: (map_x, map_y)."""
    height, width = grey.shape
    scale = min(self.flow_width / width, 1.0)
    small = (max(int(round(width * scale)), 8), max(int(round(height * scale)), 8))
    flow = cv2.calcOpticalFlowFarneback(cv2.resize(grey, small), cv2.resize(self._grey, small),
                                        None, 0.5, 3, 15, 3, 5, 1.2, 0)
    flow = cv2.resize(flow, (width, height)) / scale
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]

  def __call__(self, image, depth):
    image = np.asarray(image, np.uint8)
    depth = np.asarray(depth, np.float32)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    log_depth = np.log(np.maximum(depth, 1e-3))
    if self._grey is None or self.memory <= 0 or self._grey.shape != grey.shape:
      fused = log_depth
    else:
      map_x, map_y = self._flow_to_previous(grey)
      carried = cv2.remap(self._log_depth, map_x, map_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
      seen = cv2.remap(self._image, map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
      error = np.abs(image.astype(np.float32) - seen.astype(np.float32)).mean(axis=2)
      inside = (map_x >= 0) & (map_x <= grey.shape[1] - 1) & (map_y >= 0) & (map_y <= grey.shape[0] - 1)
      weight = self.memory * np.exp(-error / self.photometric_scale) * inside
      fused = (1 - weight) * log_depth + weight * carried
    self._grey, self._image, self._log_depth = grey, image, fused.astype(np.float32)
    return np.exp(fused).astype(np.float32)


def stabilize_clip(images, depths, forward=None):
  """Depth [T, H, W] of a whole clip fused over time in both directions (see the module).
  `forward`: a TemporalStabilizer that goes on from an earlier part of the clip."""
  ahead, behind = forward or TemporalStabilizer(), TemporalStabilizer()
  forwards = [np.log(ahead(image, depth)) for image, depth in zip(images, depths)]
  backwards = [np.log(behind(image, depth))
               for image, depth in zip(images[::-1], depths[::-1])][::-1]
  return np.stack([np.exp(0.5 * (f + b)) for f, b in zip(forwards, backwards)]).astype(np.float32)
