"""Camera fly-throughs of procedural rooms: sequences with exact depth and the camera pose of
every frame, for measuring temporal consistency with known geometry.

A trajectory is smooth and hand-held-like: from the room's camera, the position drifts by
low-frequency sinusoids (at most 0.25 m sideways, 0.1 m vertically, and forward only, up to 0.3 m:
never into furniture, which keeps 0.35 m from the start, nor through the wall behind) while the
view pans (yaw within +-0.25 rad), tilts and rolls slightly. Deterministic by seed; rendered
sequences are cached as .npz files under `data_dir`.

A static sequence is one view rendered once, shown `num_frames` times with fresh photometric
noise (sensor noise and small exposure changes): any change in predicted depth is flicker.
"""

import logging
import os

import gin
import numpy as np

from attn_depth.data import synthetic_rooms
from attn_depth.data.frames import DataError

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'

CACHE_VERSION = "v1"


def pose_matrix(position, rotation):
  """4x4 world-from-camera transform."""
  pose = np.eye(4)
  pose[:3, :3], pose[:3, 3] = rotation, position
  return pose


def trajectory(scene, num_frames, rng):
  """Camera poses (world-from-camera 4x4, [T, 4, 4]) of a smooth path through `scene`."""
  # Time in units of 24 frames: a path does not move faster in a shorter sequence.
  t = np.arange(int(num_frames)) / 24.0

  def wobble(amplitude):
    frequency, phase = rng.uniform(0.3, 0.8), rng.uniform(0, 2 * np.pi)
    return amplitude * (np.sin(2 * np.pi * frequency * t + phase) - np.sin(phase))

  offsets = np.stack([wobble(0.25) / 2, wobble(0.1) / 2,
                      0.3 * (1 - np.cos(np.pi * t * rng.uniform(0.5, 1.0))) / 2], axis=1)
  yaw = scene.yaw + wobble(0.25) / 2
  pitch = scene.pitch + wobble(0.08) / 2
  roll = scene.roll + wobble(0.03) / 2
  return np.stack([pose_matrix(scene.camera + offsets[i],
                               synthetic_rooms.camera_rotation(yaw[i], pitch[i], roll[i]))
                   for i in range(len(t))])


def render_sequence(scene_seed, num_frames, static=False, height=synthetic_rooms.HEIGHT,
                    width=synthetic_rooms.WIDTH):
  """{"images": uint8 [T, H, W, 3], "depths": float32 [T, H, W], "poses": [T, 4, 4],
  "intrinsics": (fx, fy, cx, cy)} of one fly-through (or a static, noisy view)."""
  rng = np.random.default_rng(scene_seed)
  scene = synthetic_rooms.Scene(rng)
  motion = np.random.default_rng([*np.atleast_1d(scene_seed).tolist(), 7])
  if static:
    image, depth = synthetic_rooms.render(scene, height, width)
    pose = pose_matrix(scene.camera, scene.rotation())
    images = []
    for _ in range(num_frames):
      noisy = image.astype(np.float32) * motion.uniform(0.97, 1.03)
      noisy += motion.normal(0.0, 2.0, image.shape)
      images.append(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
    images, depths = np.stack(images), np.repeat(depth[None], num_frames, axis=0)
    poses = np.repeat(pose[None], num_frames, axis=0)
  else:
    poses = trajectory(scene, num_frames, motion)
    frames = [synthetic_rooms.render(scene, height, width,
                                     view=(pose[:3, 3], pose[:3, :3])) for pose in poses]
    images, depths = np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames])
  return {"images": images, "depths": depths, "poses": poses,
          "intrinsics": synthetic_rooms.renderer_intrinsics(height, width)}


def sequences(num_sequences=8, num_frames=24, seed=2, static=False, data_dir=None):
  """Yields `num_sequences` rendered sequences (scene set `seed`: the quickstart trains on set 0
  and tests on set 1, so set 2 is unseen); cached under `data_dir` when given."""
  kind = "static" if static else "flythrough"
  folder = (os.path.join(os.path.expanduser(data_dir), "synthetic_flythroughs", CACHE_VERSION,
                         f"{kind}_t{int(num_frames)}_seed{int(seed)}") if data_dir else None)
  if folder:
    os.makedirs(folder, exist_ok=True)
  for index in range(int(num_sequences)):
    path = os.path.join(folder, f"{index:04d}.npz") if folder else None
    if path and os.path.isfile(path):
      try:
        with np.load(path) as stored:
          sequence = {key: stored[key] for key in ("images", "depths", "poses")}
          sequence["intrinsics"] = tuple(stored["intrinsics"])
        yield sequence
        continue
      except (OSError, ValueError, KeyError) as error:
        _LOG.warning("%s: unreadable cached sequence (%s); rendering it again", path, error)
    sequence = render_sequence(synthetic_rooms.scene_seed(seed, index), num_frames, static)
    if path:
      partial = path + ".partial.npz"
      np.savez_compressed(partial, **sequence)
      os.replace(partial, path)
    yield sequence


def check_sequence(sequence, where):
  """Raises DataError unless `sequence` has matching images, depths and poses."""
  images, depths, poses = (np.asarray(sequence[k]) for k in ("images", "depths", "poses"))
  if images.ndim != 4 or depths.shape != images.shape[:3] or poses.shape != (len(images), 4, 4):
    raise DataError(f"{where}: images {images.shape}, depths {depths.shape}, poses "
                    f"{poses.shape}; expected [T, H, W, 3], [T, H, W], [T, 4, 4]")


@gin.configurable
def synthetic_flythroughs_source(num_sequences=8, num_frames=24, num_static=2, static_frames=12,
                                 seed=2, data_dir="~/tensorflow_datasets"):
  """The sequence test set of tools/evaluate.py --source=synthetic_flythroughs: (fly-throughs,
  static noisy views), both generators; rooms of set `seed` (unseen by the quickstart)."""
  return (sequences(num_sequences, num_frames, seed, False, data_dir),
          sequences(num_static, static_frames, seed, True, data_dir))
