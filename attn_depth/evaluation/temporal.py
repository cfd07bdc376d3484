"""Temporal consistency measured with known geometry (no optical flow, no guesswork).

Reprojection error between frames t and t+1: every pixel p of frame t with ground truth is
carried into frame t+1 by the true relative pose and the ground truth; it is co-visible and
unoccluded if it lands inside frame t+1 where the ground truth there (all four bilinear
neighbours) agrees with its reprojected depth within `tolerance`. On those pixels, frame t's
*predicted* depth at p is carried into frame t+1 the same way (the 3-D point at that depth along
p's ray, in t+1's camera) and compared with frame t+1's prediction sampled at the same place:
|z'_pred - d_t+1| / d_t+1. With the ground truth as prediction this is 0 up to resampling (the
floor). A scale error that stays constant over time costs little; flicker costs in full.

Flicker on a static camera: the relative temporal standard deviation std_t(d) / mean_t(d) per
pixel, averaged, of predictions of one view seen with photometric noise.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Correspondence:
  """Pixels of frame t (rows, cols), where they land in frame t+1 (u, v, float), and the
  relative pose camera_t -> camera_t+1 (rotation [3, 3], translation [3])."""
  rows: np.ndarray
  cols: np.ndarray
  u: np.ndarray
  v: np.ndarray
  rotation: np.ndarray
  translation: np.ndarray


def relative_pose(pose_t, pose_t1):
  """camera_t -> camera_t+1 of world-from-camera poses: x_t1 = R x_t + t."""
  relative = np.linalg.inv(pose_t1) @ pose_t
  return relative[:3, :3], relative[:3, 3]


def _carry(rows, cols, depth, intrinsics, rotation, translation):
  fx, fy, cx, cy = intrinsics
  points = np.stack([(cols - cx) / fx * depth, (rows - cy) / fy * depth, depth], axis=1)
  moved = points @ rotation.T + translation
  z = moved[:, 2]
  with np.errstate(divide="ignore", invalid="ignore"):
    return fx * moved[:, 0] / z + cx, fy * moved[:, 1] / z + cy, z


def _bilinear(image, u, v):
  """Samples image [H, W] at float (u, v) inside [0, W-1] x [0, H-1]; also the 4 corners."""
  u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
  u1, v1 = np.minimum(u0 + 1, image.shape[1] - 1), np.minimum(v0 + 1, image.shape[0] - 1)
  du, dv = u - u0, v - v0
  corners = np.stack([image[v0, u0], image[v0, u1], image[v1, u0], image[v1, u1]])
  value = ((corners[0] * (1 - du) + corners[1] * du) * (1 - dv)
           + (corners[2] * (1 - du) + corners[3] * du) * dv)
  return value, corners


def correspondence(gt_t, gt_t1, pose_t, pose_t1, intrinsics, tolerance=0.01):
  """Co-visible, unoccluded pixels of frame t in frame t+1, from the ground truth."""
  rotation, translation = relative_pose(pose_t, pose_t1)
  rows, cols = np.nonzero(np.isfinite(gt_t) & (gt_t > 0))
  u, v, z = _carry(rows, cols, gt_t[rows, cols], intrinsics, rotation, translation)
  height, width = gt_t1.shape
  inside = (z > 0) & (u >= 0) & (u <= width - 1) & (v >= 0) & (v <= height - 1)
  rows, cols, u, v, z = rows[inside], cols[inside], u[inside], v[inside], z[inside]
  _, corners = _bilinear(gt_t1, u, v)
  agree = np.all((corners > 0) & (np.abs(corners - z) <= tolerance * z), axis=0)
  return Correspondence(rows[agree], cols[agree], u[agree], v[agree], rotation, translation)


def reprojection_error(pred_t, pred_t1, match, intrinsics):
  """Mean |z'_pred - d_t+1| / d_t+1 over the matched pixels (NaN if none)."""
  if not len(match.rows):
    return float("nan")
  depth = np.asarray(pred_t, np.float64)[match.rows, match.cols]
  _, _, z = _carry(match.rows, match.cols, depth, intrinsics, match.rotation, match.translation)
  sampled, _ = _bilinear(np.asarray(pred_t1, np.float64), match.u, match.v)
  valid = sampled > 0
  return float(np.mean(np.abs(z[valid] - sampled[valid]) / sampled[valid]))


def sequence_errors(preds, gts, poses, intrinsics, tolerance=0.01):
  """Reprojection error of each consecutive pair of a sequence: [T - 1], and the ground
  truth's own (the floor)."""
  errors, floor, matched = [], [], []
  for t in range(len(preds) - 1):
    match = correspondence(gts[t], gts[t + 1], poses[t], poses[t + 1], intrinsics, tolerance)
    errors.append(reprojection_error(preds[t], preds[t + 1], match, intrinsics))
    floor.append(reprojection_error(gts[t], gts[t + 1], match, intrinsics))
    matched.append(len(match.rows) / gts[t].size)
  return np.array(errors), np.array(floor), np.array(matched)


def flicker(preds):
  """Mean over pixels of std_t(d) / mean_t(d) of predictions [T, H, W] of one static view."""
  preds = np.asarray(preds, np.float64)
  mean = preds.mean(axis=0)
  valid = mean > 0
  return float(np.mean(preds.std(axis=0)[valid] / mean[valid]))


def half_resolution(intrinsics):
  """Intrinsics of an image subsampled as [::2, ::2] (pixel (r, c) is full-resolution (2r, 2c))."""
  fx, fy, cx, cy = intrinsics
  return fx / 2, fy / 2, cx / 2, cy / 2
