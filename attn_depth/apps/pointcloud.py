"""Depth + colour -> a coloured point cloud in metres, written as binary PLY.

Pinhole model, camera at the origin looking down +z, x right, y down (OpenCV's convention):
x = (u - cx) z / fx, y = (v - cy) z / fy for the pixel at column u, row v, counted from 0 (the
centre of the top-left pixel is (0, 0)). NYU's toolbox returns y up (its
rgb_plane2rgb_world.m writes [x, -y, z]): negate y to compare with its points.

NYU's toolbox (camera_params.m, rgb_plane2rgb_world.m: the labeled depth maps lie on the RGB
image plane) back-projects MATLAB's 1-based pixel coordinates with cx_rgb = 325.58,
cy_rgb = 253.74, and NYU's depth maps were projected with that same model; in 0-based coordinates its principal point is therefore (324.58, 252.74). To
another image size the principal point scales about the image's outer corner (pixel centres at
k + 0.5 in continuous coordinates): c' = (c + 0.5) s - 0.5.
"""

import dataclasses

import numpy as np

from attn_depth.core.camera import Intrinsics  # noqa: F401  (re-exported)
from attn_depth.core.camera import scale_principal_point  # noqa: F401


def depth_to_points(depth, intrinsics, image=None):
  """(points float32 [N, 3] metres, colours uint8 [N, 3] or None) of the valid pixels
  (finite depth > 0), in row-major pixel order."""
  depth = np.asarray(depth, np.float32)
  rows, cols = np.nonzero(np.isfinite(depth) & (depth > 0))
  z = depth[rows, cols]
  x = (cols - intrinsics.cx) * z / intrinsics.fx
  y = (rows - intrinsics.cy) * z / intrinsics.fy
  points = np.stack([x, y, z], axis=1).astype(np.float32)
  colours = None if image is None else np.asarray(image, np.uint8)[rows, cols]
  return points, colours


_PLY_VERTEX = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
_PLY_COLOUR = [("red", "u1"), ("green", "u1"), ("blue", "u1")]
_PLY_TYPES = {"<f4": "float", "u1": "uchar"}


def write_ply(path, points, colours=None):
  """Binary little-endian PLY: float x, y, z (+ uchar red, green, blue)."""
  fields = _PLY_VERTEX + (_PLY_COLOUR if colours is not None else [])
  with open(path, "wb") as f:
    f.write(_ply_header(len(points), fields))
    f.write(_vertices(points, colours, fields).tobytes())


def write_depth_ply(path, depth, intrinsics, image=None, rows_per_chunk=None):
  """The points of `depth_to_points(depth, intrinsics, image)` written as by `write_ply`, a band
  of rows at a time: the same file, in memory a small fraction of the photo's size."""
  depth = np.asarray(depth)
  height, width = depth.shape
  rows_per_chunk = rows_per_chunk or max(1, 2_000_000 // max(width, 1))
  bands = [slice(start, min(start + rows_per_chunk, height))
           for start in range(0, height, rows_per_chunk)]
  count = sum(int(np.count_nonzero(np.isfinite(depth[band]) & (depth[band] > 0)))
              for band in bands)
  fields = _PLY_VERTEX + (_PLY_COLOUR if image is not None else [])
  with open(path, "wb") as f:
    f.write(_ply_header(count, fields))
    for band in bands:
      shifted = dataclasses.replace(intrinsics, cy=intrinsics.cy - band.start)
      points, colours = depth_to_points(depth[band], shifted,
                                        None if image is None else np.asarray(image)[band])
      f.write(_vertices(points, colours, fields).tobytes())


def _ply_header(count, fields):
  header = ["ply", "format binary_little_endian 1.0", "comment attn_depth: metres, camera frame",
            f"element vertex {count}"]
  header += [f"property {_PLY_TYPES[kind]} {name}" for name, kind in fields]
  header.append("end_header")
  return ("\n".join(header) + "\n").encode("ascii")


def _vertices(points, colours, fields):
  vertices = np.empty(len(points), dtype=fields)
  for axis, name in enumerate("xyz"):
    vertices[name] = points[:, axis]
  if colours is not None:
    for channel, name in enumerate(("red", "green", "blue")):
      vertices[name] = colours[:, channel]
  return vertices


def read_ply(path):
  """(points [N, 3], colours [N, 3] or None) of a PLY written by `write_ply`."""
  with open(path, "rb") as f:
    header = []
    while True:
      line = f.readline().decode("ascii").strip()
      header.append(line)
      if line == "end_header":
        break
    if "format binary_little_endian 1.0" not in header:
      raise ValueError(f"{path}: not a binary little-endian PLY")
    count = next(int(line.split()[-1]) for line in header if line.startswith("element vertex"))
    names = [line.split()[-1] for line in header if line.startswith("property")]
    kinds = {"float": "<f4", "uchar": "u1"}
    fields = [(line.split()[-1], kinds[line.split()[1]]) for line in header
              if line.startswith("property")]
    vertices = np.frombuffer(f.read(), dtype=fields, count=count)
  points = np.stack([vertices[name] for name in "xyz"], axis=1)
  colours = (np.stack([vertices[name] for name in ("red", "green", "blue")], axis=1)
             if "red" in names else None)
  return points, colours
