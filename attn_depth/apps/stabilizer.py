"""The consistent mode of video depth: per-frame predictions fused over time along optical flow.

Flow-guided recursive fusion in log depth. Each frame, the past's fused depth is carried to the
new frame along dense optical flow (OpenCV's DIS) and corrected for the camera's own motion: the
camera's rotation and translation between the two frames are found from the flow and the
carried depth (perspective-n-point with RANSAC, so moving objects and bad flow are outliers), and
each carried point's depth is moved into the new camera (a camera moving forwards sees
everything nearer). The past's weight falls with the photometric error of the flow, so
occlusions, disocclusions and wrong flow fall back to the frame's own prediction; a shot change
(a cut, a dissolve), told by what carrying the past shows (`SIGNAL_WEIGHTS`, `DEPTH_JUMP`),
drops the whole past. Run forwards and backwards over a clip and averaged (`stabilize_clip`).
The paper's network is untouched; docs/paper_to_code.md argues the choice.
"""

import dataclasses

import cv2
import numpy as np

from attn_depth.core.camera import Intrinsics


# Shot changes, from what carrying the past into the new frame tells: the fraction of pixels
# whose flow is photometrically exact ("matched"), the fraction whose flow is consistent
# forward-backward ("consistent", within 1 px at flow resolution) and the pose fit's RANSAC
# inlier ratio ("inliers"). None alone separates cuts from fast motion: flow between similar
# rooms matches flat walls photometrically, and fast pans break forward-backward consistency
# and the pose fit. Their weighted mean ("agreement") does. Weights from a logistic fit (on the
# 4-step miniature network's and the fresh stand-in's predictions, cut_evaluation) and the
# threshold halfway between the cuts' highest and the uncut shots' lowest agreement, both
# on the tuning set of `attn_depth.data.cut_footage` (seed 40; it is measured on seed 41, which
# shares no room and no motion with it: README, "Video"). Below it the past is dropped: a
# missed cut carries a ghost of the previous shot, a false alarm costs one frame of smoothing.
SIGNAL_WEIGHTS = {"matched": 0.5, "consistent": 0.3, "inliers": 0.2}
CUT_THRESHOLD = 0.59
# A dissolve changes the picture a little each frame, and the agreement hardly falls; but once
# the new shot dominates, the network's depth jumps to it while the carried depth is the old
# shot's. "disagreement": the median absolute deviation of log(carried / new) over the matched
# pixels (a scale error of the network costs nothing). A cut also when it is above 0.15 and
# 2.5x its median over the shot's last 8 frames (the shot's own level: networks that flicker
# more disagree more all the time). Chosen on the same tuning set, with three predictors (that
# network, and stand-ins whose errors are drawn afresh or kept from frame to frame): no false
# alarm with any, every dissolve found with the stand-ins.
DEPTH_JUMP = {"above": 0.15, "times": 2.5, "frames": 8}


class TemporalStabilizer:
  """Call with consecutive frames: (uint8 image [H, W, 3], depth [H, W] metres) -> fused depth.

  Args:
    memory: weight of the carried past where the flow is photometrically exact (0: off).
    photometric_scale: grey-level error (0-255) at which the past's weight falls to 1/e.
    flow_width: width the optical flow is computed at (speed; the flow is upsampled).
    compensate_motion: move the carried depth into the new camera (see the module); off, the
      carried depth is the previous frame's, stale by the camera's motion along its axis.
    intrinsics: (fx, fy, cx, cy) of the frames; default NYU's camera scaled to the frame
      (`Intrinsics.nyu_scaled`: the field of view the network learned depth for).
    cut_threshold: a shot change below this agreement of the carried past with the new frame
      (`SIGNAL_WEIGHTS`; or at a jump of the depth, `DEPTH_JUMP`); there the past is dropped
      (0: no shot-change test at all, the former behaviour).

  After each call, `signals` holds what the carried past told about the new frame (None on a
  first frame), and `detected` lists the frames (0-based, in call order) where a shot change
  was found and the past dropped.
  """

  def __init__(self, memory=0.9, photometric_scale=16.0, flow_width=320,
               compensate_motion=True, intrinsics=None, cut_threshold=CUT_THRESHOLD):
    self.memory, self.photometric_scale, self.flow_width = memory, photometric_scale, flow_width
    self.cut_threshold = cut_threshold
    self.compensate_motion, self.intrinsics = compensate_motion, intrinsics
    self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    self.reset()

  def reset(self):
    """Forget the past (a new clip)."""
    self._grey, self._image, self._log_depth = None, None, None
    self.frame, self.detected, self.signals = 0, [], None
    self._disagreements = []  # this shot's, for `is_cut`

  def is_cut(self, signals):
    """Whether the previous frame and this one belong to different shots (see
    `SIGNAL_WEIGHTS` and `DEPTH_JUMP`); off with `cut_threshold` 0."""
    if self.cut_threshold <= 0:
      return False
    if signals["agreement"] < self.cut_threshold:
      return True
    recent = self._disagreements[-DEPTH_JUMP["frames"]:]
    return bool(len(recent) >= 2 and signals["disagreement"] > DEPTH_JUMP["above"]
                and signals["disagreement"] > DEPTH_JUMP["times"] * np.median(recent))

  def _flow_to_previous(self, grey):
    """Per pixel of the current frame, where it was in the previous one: (map_x, map_y), and
    the fraction of pixels whose flow the flow back from the previous frame returns (1 px)."""
    height, width = grey.shape
    scale = min(self.flow_width / width, 1.0)
    small = (max(int(round(width * scale)), 8), max(int(round(height * scale)), 8))
    now, before = cv2.resize(grey, small), cv2.resize(self._grey, small)
    flow = self._flow.calc(now, before, None)
    back = self._flow.calc(before, now, None)
    sx, sy = np.meshgrid(np.arange(small[0], dtype=np.float32),
                         np.arange(small[1], dtype=np.float32))
    returned = cv2.remap(back, sx + flow[..., 0], sy + flow[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    consistent = np.mean(np.hypot(*(flow + returned).transpose(2, 0, 1)) < 1.0)
    flow = cv2.resize(flow, (width, height)) / scale
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1], consistent

  def _into_new_camera(self, carried, map_x, map_y, trusted):
    """(`carried` log depth (the previous frame's, at the previous positions `map_x, map_y` of
    the new frame's pixels) moved into the new camera, the pose fit's inlier ratio); the depth
    is unchanged when the motion cannot be found (too few trusted pixels, no consistent pose)."""
    height, width = carried.shape
    fx, fy, cx, cy = self.intrinsics or dataclasses.astuple(Intrinsics.nyu_scaled(height,
                                                                                    width))
    candidates = np.flatnonzero(trusted.ravel())
    if len(candidates) < 100:
      return carried, 0.0
    pick = candidates[::max(1, len(candidates) // 1500)]  # ~1500 evenly spread pixels
    rows, cols = np.divmod(pick, width)
    depth = np.exp(carried.ravel()[pick]).astype(np.float64)
    was_x, was_y = map_x.ravel()[pick], map_y.ravel()[pick]
    points = np.stack([(was_x - cx) / fx * depth, (was_y - cy) / fy * depth, depth], axis=1)
    pixels = np.stack([cols, rows], axis=1).astype(np.float64)
    camera = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    cv2.setRNGSeed(0)  # RANSAC's samples: the same clip gives the same depth
    found, rotation, translation, inliers = cv2.solvePnPRansac(
        points, pixels, camera, None, reprojectionError=4.0 * width / 640, iterationsCount=100,
        confidence=0.99)
    ratio = 0.0 if not found or inliers is None else len(inliers) / len(pick)
    if ratio < 0.3:
      return carried, ratio
    rotation, translation = cv2.Rodrigues(rotation)[0], translation.ravel()
    # z in the new camera of the point at the carried depth along its old ray (x/z, y/z, 1).
    moved = np.exp(carried) * (rotation[2, 0] * (map_x - cx) / fx
                               + rotation[2, 1] * (map_y - cy) / fy + rotation[2, 2])
    moved += translation[2]
    return (np.where(moved > 1e-3, np.log(np.maximum(moved, 1e-3)), carried).astype(np.float32),
            ratio)

  def __call__(self, image, depth):
    image = np.asarray(image, np.uint8)
    depth = np.asarray(depth, np.float32)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    log_depth = np.log(np.maximum(depth, 1e-3))
    self.signals = None
    if self._grey is None or self.memory <= 0 or self._grey.shape != grey.shape:
      fused = log_depth
    else:
      map_x, map_y, consistent = self._flow_to_previous(grey)
      carried = cv2.remap(self._log_depth, map_x, map_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
      seen = cv2.remap(self._image, map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
      error = np.abs(image.astype(np.float32) - seen.astype(np.float32)).mean(axis=2)
      inside = (map_x >= 0) & (map_x <= grey.shape[1] - 1) & (map_y >= 0) & (map_y <= grey.shape[0] - 1)
      weight = self.memory * np.exp(-error / self.photometric_scale) * inside
      trusted = weight > 0.5 * self.memory
      moved, inlier_ratio = self._into_new_camera(carried, map_x, map_y, trusted)
      if self.compensate_motion:
        carried = moved
      difference = (carried - log_depth)[trusted]
      self.signals = {"matched": float(trusted.mean()), "consistent": float(consistent),
                      "inliers": float(inlier_ratio),
                      "disagreement": float(np.median(np.abs(difference - np.median(difference))))
                                      if difference.size else np.inf}
      self.signals["agreement"] = sum(SIGNAL_WEIGHTS[k] * self.signals[k] for k in SIGNAL_WEIGHTS)
      if self.is_cut(self.signals):  # a new shot: nothing of the past belongs to it
        self.detected.append(self.frame)
        self._disagreements = []
        fused = log_depth
      else:
        self._disagreements.append(self.signals["disagreement"])
        fused = (1 - weight) * log_depth + weight * carried
    self._grey, self._image, self._log_depth = grey, image, fused.astype(np.float32)
    self.frame += 1
    return np.exp(fused).astype(np.float32)


def stabilize_clip(images, depths, forward=None, backward=None):
  """Depth [T, H, W] of a whole clip fused over time in both directions (see the module).
  `forward`: a TemporalStabilizer that goes on from an earlier part of the clip; `backward`:
  the one for the reversed clip (default: a fresh one with default settings)."""
  ahead, behind = forward or TemporalStabilizer(), backward or TemporalStabilizer()
  forwards = [np.log(ahead(image, depth)) for image, depth in zip(images, depths)]
  backwards = [np.log(behind(image, depth))
               for image, depth in zip(images[::-1], depths[::-1])][::-1]
  return np.stack([np.exp(0.5 * (f + b)) for f, b in zip(forwards, backwards)]).astype(np.float32)
