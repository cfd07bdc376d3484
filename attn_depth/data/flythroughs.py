"""Camera fly-throughs of procedural rooms: sequences with exact depth and the camera pose of
every frame, for measuring temporal consistency with known geometry.

A trajectory is smooth and hand-held-like: from the room's camera, the position drifts by
low-frequency sinusoids (at most 0.25 m sideways, 0.1 m vertically, and forward only, up to 0.3 m:
never into furniture, which keeps 0.35 m from the start, nor through the wall behind) while the
view pans (yaw within +-0.25 rad), tilts and rolls slightly. Deterministic by seed; rendered
sequences are cached as .npz files under `data_dir`.

A static sequence is one view rendered once, shown `num_frames` times with fresh photometric
noise (sensor noise and small exposure changes): any change in predicted depth is flicker.

The second set (`motion="fast"`, `render_fast_sequence`) is motion the consistent video mode was
not tuned on: fast forward motion with a pan, sideways sway with pans, a hard cut between two
rooms, and a box moving across the view of a slowly moving camera.
"""

import logging
import os

import gin
import numpy as np

from attn_depth.core import files
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


# The second evaluation set (motion="fast"): what the consistent mode was not tuned on. Per
# frame at 24 frames/s (the smooth set moves at most ~2 cm and ~1 degree a frame):
FAST_KINDS = ("forward", "sideways_pan", "cut", "moving_object")


def _clearance(scene, position, margin):
  """True if `position` keeps `margin` metres from the room's walls and from every box."""
  if np.any(position < margin) or np.any(position > scene.size - margin):
    return False
  return all(np.any(position < lo - margin) or np.any(position > hi + margin)
             for lo, hi, _ in scene.boxes)


def _free_distance(scene, direction, margin=0.35, longest=3.0):
  """How far the camera can move from its start along `direction` without coming nearer than
  `margin` to a wall or a box."""
  for distance in np.arange(0.05, longest, 0.05):
    if not _clearance(scene, scene.camera + distance * direction, margin):
      return max(distance - 0.05, 0.0)
  return longest


def _forward(scene):
  """The camera's viewing direction, level (no pitch)."""
  axis = scene.rotation()[:, 2]
  level = np.array([axis[0], 0.0, axis[2]])
  return level / np.linalg.norm(level)


def fast_trajectory(scene, num_frames, rng, kind):
  """Camera poses [T, 4, 4] of fast hand-held motion of `kind`: "forward" (up to 1.5 m
  towards the scene in T frames, ~6 cm a frame on average, and a quick pan), "sideways_pan"
  (up to 0.8 m side to side and +-0.45 rad of yaw, a cycle a second), or the slow path of the
  smooth set ("moving_object": the scene moves, not the camera)."""
  t = np.arange(int(num_frames)) / 24.0
  length = max(t[-1], 1e-6)
  if kind == "moving_object":
    return trajectory(scene, num_frames, rng)
  forward = _forward(scene)
  side = np.cross(forward, [0.0, 1.0, 0.0])
  if kind == "forward":
    distance = min(1.5, _free_distance(scene, forward))
    path = distance * (1 - np.cos(np.pi * t / length)) / 2
    offsets = path[:, None] * forward[None] + (0.05 * np.sin(2 * np.pi * 1.3 * t))[:, None] * side
    yaw = scene.yaw + rng.uniform(0.15, 0.3) * rng.choice([-1, 1]) * np.sin(np.pi * t / length)
  else:
    room = min(_free_distance(scene, side), _free_distance(scene, -side))
    amplitude = min(0.4, room)
    frequency, phase = rng.uniform(0.8, 1.2), rng.uniform(0, 2 * np.pi)
    sway = amplitude * np.sin(2 * np.pi * frequency * t + phase) - amplitude * np.sin(phase)
    sway = np.clip(sway, -room, room)
    offsets = sway[:, None] * side[None]
    yaw = scene.yaw + 0.45 * np.sin(2 * np.pi * rng.uniform(0.8, 1.2) * t)
  pitch = scene.pitch + 0.04 * np.sin(2 * np.pi * 1.7 * t)
  return np.stack([pose_matrix(scene.camera + offsets[i],
                               synthetic_rooms.camera_rotation(yaw[i], pitch[i], scene.roll))
                   for i in range(len(t))])


def _moving_box(scene, num_frames, rng):
  """(lo, hi, material) per frame of a box crossing the view 1.5-2.5 m ahead at 0.8-1.2 m/s."""
  forward, size = _forward(scene), rng.uniform([0.35, 0.4, 0.35], [0.6, 0.9, 0.6])
  side = np.cross(forward, [0.0, 1.0, 0.0])
  ahead = scene.camera + rng.uniform(1.5, 2.5) * forward
  speed = rng.uniform(0.8, 1.2) / 24.0 * rng.choice([-1, 1])
  material = synthetic_rooms._material(rng, "box")  # pylint: disable=protected-access
  boxes = []
  for i in range(int(num_frames)):
    centre = ahead + (i - num_frames / 2) * speed * side
    lo = np.array([centre[0] - size[0] / 2, 0.0, centre[2] - size[2] / 2])
    boxes.append((lo, lo + size, material))
  return boxes


def render_fast_sequence(scene_seed, num_frames, kind, height=synthetic_rooms.HEIGHT,
                         width=synthetic_rooms.WIDTH):
  """One sequence of the fast set (see `fast_trajectory`); "cut": two rooms' forward motions,
  the second starting at frame T // 2 (`cuts` lists the first frame of each new shot; no
  reprojection is measured across a cut); "moving_object": a box on the floor crossing the
  view of a slowly moving camera."""
  rng = np.random.default_rng(scene_seed)
  scene = synthetic_rooms.Scene(rng)
  motion = np.random.default_rng([*np.atleast_1d(scene_seed).tolist(), 11])
  if kind == "cut":
    first = render_fast_sequence(scene_seed, num_frames // 2, "forward", height, width)
    second = render_fast_sequence([*np.atleast_1d(scene_seed).tolist(), 13],
                                  num_frames - num_frames // 2, "forward", height, width)
    return {**{key: np.concatenate([first[key], second[key]])
               for key in ("images", "depths", "poses")},
            "intrinsics": first["intrinsics"], "cuts": np.array([num_frames // 2])}
  poses = fast_trajectory(scene, num_frames, motion, kind)
  moving = _moving_box(scene, num_frames, motion) if kind == "moving_object" else None
  base_boxes = list(scene.boxes)
  frames = []
  for i, pose in enumerate(poses):
    if moving:
      scene.boxes = base_boxes + [moving[i]]
    frames.append(synthetic_rooms.render(scene, height, width, view=(pose[:3, 3], pose[:3, :3])))
  return {"images": np.stack([f[0] for f in frames]), "depths": np.stack([f[1] for f in frames]),
          "poses": poses, "intrinsics": synthetic_rooms.renderer_intrinsics(height, width),
          "cuts": np.zeros(0, np.int64)}


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


def sequences(num_sequences=8, num_frames=24, seed=2, static=False, data_dir=None,
              motion="smooth"):
  """Yields `num_sequences` rendered sequences (scene set `seed`: the quickstart trains on set 0
  and tests on set 1, so set 2 is unseen); cached under `data_dir` when given. `motion`:
  "smooth" (the hand-held-like fly-throughs the consistent mode was tuned on) or "fast" (the
  second set: `FAST_KINDS` in turn, see `render_fast_sequence`)."""
  if motion not in ("smooth", "fast"):
    raise DataError(f"motion {motion!r}: expected 'smooth' or 'fast'")
  kind = "static" if static else ("flythrough" if motion == "smooth" else "fast")
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
          sequence["cuts"] = stored["cuts"] if "cuts" in stored else np.zeros(0, np.int64)
        yield sequence
        continue
      except (OSError, ValueError, KeyError) as error:
        _LOG.warning("%s: unreadable cached sequence (%s); rendering it again", path, error)
    scene = synthetic_rooms.scene_seed(seed, index)
    if kind == "fast":
      sequence = render_fast_sequence(scene, num_frames, FAST_KINDS[index % len(FAST_KINDS)])
    else:
      sequence = render_sequence(scene, num_frames, static)
    if path:
      with files.replacing(path) as partial:  # ends in .npz: numpy keeps the name
        np.savez_compressed(partial, **sequence)
    yield sequence


def check_sequence(sequence, where):
  """Raises DataError unless `sequence` has matching images, depths and poses."""
  images, depths, poses = (np.asarray(sequence[k]) for k in ("images", "depths", "poses"))
  if images.ndim != 4 or depths.shape != images.shape[:3] or poses.shape != (len(images), 4, 4):
    raise DataError(f"{where}: images {images.shape}, depths {depths.shape}, poses "
                    f"{poses.shape}; expected [T, H, W, 3], [T, H, W], [T, 4, 4]")


@gin.configurable
def synthetic_flythroughs_source(num_sequences=8, num_frames=24, num_static=2, static_frames=12,
                                 seed=2, data_dir="~/tensorflow_datasets", motion="smooth"):
  """The sequence test set of attn-depth evaluate --source=synthetic_flythroughs: (fly-throughs,
  static noisy views), both generators; rooms of set `seed` (unseen by the quickstart);
  `motion`: "smooth" (the set the consistent mode was tuned on) or "fast" (faster forward and
  sideways motion with pans, cuts between rooms, a moving object)."""
  return (sequences(num_sequences, num_frames, seed, False, data_dir, motion),
          sequences(num_static, static_frames, seed, True, data_dir))
