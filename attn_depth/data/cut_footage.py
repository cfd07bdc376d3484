"""Edited footage with exact depth and poses: shot changes of every kind, and long uncut shots,
for measuring whether the consistent video mode carries depth across a cut.

Clip kinds (`KINDS`), each a shot A followed by a shot B:
  similar_slow / similar_fast      hard cut to another room of the same size, wall, floor and
                                   furniture colours and camera height and tilt (other
                                   furniture): flow finds plausible matches across such a cut
  different_slow / different_fast  hard cut to an unrelated room with tinted walls
  same_room_slow / same_room_fast  hard cut to a distant viewpoint (>= 1.2 m away or turned
                                   >= 0.8 rad) in the same room
  dissolve                         shot A fades into a different room's shot B over 3-6 frames
                                   (slow motion)
  uncut_slow / uncut_fast          one long shot (no cut: any detection is a false alarm)
"_slow": the smooth hand-held path of `flythroughs.trajectory` (<= ~2 cm a frame); "_fast":
`flythroughs.fast_trajectory` (forward or sideways with pans), cut at its fastest.

Every random choice (rooms, motion, where the cut falls, the dissolve's length) comes from the
clip's seed: two seed sets share no room and no motion, so cut rules tuned on one are measured
on the other.
"""

import copy

import numpy as np

from attn_depth.data import flythroughs
from attn_depth.data import synthetic_rooms

CUT_KINDS = ("similar_slow", "similar_fast", "different_slow", "different_fast",
             "same_room_slow", "same_room_fast", "dissolve")
UNCUT_KINDS = ("uncut_slow", "uncut_fast")
KINDS = CUT_KINDS + UNCUT_KINDS

TUNING_SEED, HELD_OUT_SEED = 40, 41  # the set thresholds were chosen on; the one measured on


def _similar_room(scene, rng):
  """Another room like `scene`: its size, its colours (jittered a little), its camera height
  and tilt; furniture laid out afresh with the first room's box colours."""
  other = synthetic_rooms.Scene(rng)
  other.size = scene.size * rng.uniform(0.92, 1.08, 3)
  w, _, d = other.size
  other.camera = np.array([rng.uniform(0.3 * w, 0.7 * w), scene.camera[1], rng.uniform(0.2, 0.8)])
  other.yaw, other.pitch, other.roll = rng.uniform(-0.5, 0.5), scene.pitch, scene.roll
  other.boxes = []
  other._add_furniture(rng)  # pylint: disable=protected-access
  palette = [box[2] for box in scene.boxes] or scene.room_materials

  def jitter(material):
    base, pattern, frequency, strength = material
    return (np.clip(base * rng.uniform(0.95, 1.05, 3), 0, 1).astype(np.float32), pattern,
            frequency, strength)

  other.boxes = [(lo, hi, jitter(palette[i % len(palette)]))
                 for i, (lo, hi, _) in enumerate(other.boxes)]
  other.room_materials = [jitter(m) for m in scene.room_materials]
  other.ambient, other.light_power = scene.ambient, scene.light_power
  other.light = np.minimum(scene.light, other.size - 0.05)
  return other


def _different_room(rng):
  """An unrelated room whose walls are tinted (warm, cool or green)."""
  other = synthetic_rooms.Scene(rng)
  tint = np.array([(1.0, 0.72, 0.55), (0.55, 0.75, 1.0), (0.65, 1.0, 0.65)][rng.integers(3)])
  other.room_materials = [(np.clip(m[0] * tint, 0, 1).astype(np.float32),) + tuple(m[1:])
                          if index in (0, 1, 4, 5) else m
                          for index, m in enumerate(other.room_materials)]
  return other


def _far_viewpoint(scene, rng):
  """The same room seen from a camera >= 1.2 m away or turned >= 0.8 rad, looking at the room's
  middle: a copy of `scene` with that camera."""
  other = copy.copy(scene)  # the same room and furniture
  centre = scene.size * np.array([0.5, 0.0, 0.6])
  for _ in range(200):
    position = np.array([rng.uniform(0.4, scene.size[0] - 0.4), rng.uniform(1.0, 1.7),
                         rng.uniform(0.4, scene.size[2] - 0.4)])
    yaw = np.arctan2(centre[0] - position[0], centre[2] - position[2]) + rng.uniform(-0.3, 0.3)
    turned = abs((yaw - scene.yaw + np.pi) % (2 * np.pi) - np.pi)
    if (flythroughs._clearance(scene, position, 0.6)  # pylint: disable=protected-access
        and (np.linalg.norm(position - scene.camera) >= 1.2 or turned >= 0.8)):
      other.camera, other.yaw = position, yaw
      other.pitch = rng.uniform(0.05, 0.3)
      return other
  raise ValueError("no clear distant viewpoint in this room")


def _poses(scene, num_frames, rng, fast, ending):
  """Poses of one shot: slow (the smooth set's path) or fast, taken at its fastest: a shot
  that ends with the cut (`ending`) runs into it at full speed, a shot after a cut starts at
  full speed."""
  if not fast:
    return flythroughs.trajectory(scene, num_frames, rng)
  kind = ("forward", "sideways_pan")[rng.integers(2)]
  # The forward path's speed peaks halfway (a cosine ramp): render twice the length, keep the
  # half next to the peak.
  poses = flythroughs.fast_trajectory(scene, 2 * num_frames, rng, kind)
  return poses[:num_frames] if ending else poses[num_frames:]


def _render(scene, poses, height, width):
  frames = [synthetic_rooms.render(scene, height, width, view=(pose[:3, 3], pose[:3, :3]))
            for pose in poses]
  return np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames])


def render_clip(clip_seed, kind, num_frames=16, height=120, width=160):
  """{"images": uint8 [T, H, W, 3], "depths": float32 [T, H, W], "poses": [T, 4, 4],
  "intrinsics", "cuts": the first frame of the new shot (where the ground truth switches; for a
  dissolve, its first frame that is more than half shot B), "changes": [(first, last)] the
  boundaries where the picture changes shot (a boundary i lies between frames i - 1 and i; a
  hard cut's is (cut, cut), a dissolve's spans its mixed frames), "kind"}. Uncut clips are
  `num_frames` long, cut ones too (the cut falls in the middle third)."""
  if kind not in KINDS:
    raise ValueError(f"clip kind {kind!r}: expected one of {', '.join(KINDS)}")
  rng = np.random.default_rng([*np.atleast_1d(clip_seed).tolist(), KINDS.index(kind)])
  scene = synthetic_rooms.Scene(rng)
  intrinsics = synthetic_rooms.renderer_intrinsics(height, width)
  fast = kind.endswith("_fast")
  if kind in UNCUT_KINDS:
    poses = _poses(scene, num_frames, rng, fast, ending=True)
    images, depths = _render(scene, poses, height, width)
    return {"images": images, "depths": depths, "poses": poses, "intrinsics": intrinsics,
            "cuts": np.zeros(0, np.int64), "changes": [], "kind": kind}
  cut = int(rng.integers(num_frames // 3, 2 * num_frames // 3 + 1))
  if kind.startswith("similar"):
    second = _similar_room(scene, rng)
  elif kind.startswith("same_room"):
    second = _far_viewpoint(scene, rng)
  else:
    second = _different_room(rng)
  fade = int(rng.integers(3, 7)) if kind == "dissolve" else 0
  # A dissolve's mixed frames show both shots: shot A goes on under it, shot B starts under it.
  first_start = cut - fade // 2 if fade else cut
  a_frames = cut + (fade - fade // 2) if fade else cut
  a_poses = _poses(scene, a_frames, rng, fast, ending=True)
  b_poses = _poses(second, num_frames - first_start, rng, fast, ending=False)
  shot_a = (*_render(scene, a_poses, height, width), a_poses)
  shot_b = (*_render(second, b_poses, height, width), b_poses)
  if fade:
    images, depths, poses, cut = _dissolve(shot_a, shot_b, first_start, fade)
    changes = [(first_start, first_start + fade)]
  else:
    images, depths, poses = (np.concatenate(pair) for pair in zip(shot_a, shot_b))
    changes = [(cut, cut)]
  return {"images": images, "depths": depths, "poses": poses, "intrinsics": intrinsics,
          "cuts": np.array([cut]), "changes": changes, "kind": kind}


def _dissolve(shot_a, shot_b, start, fade):
  """Shot A's (images, depths, poses) dissolving into shot B's over frames start .. start +
  fade - 1; the ground truth is the dominant shot's. Returns (images, depths, poses, the
  first frame that is more than half shot B)."""
  a_images, a_depths, a_poses = shot_a
  b_images, b_depths, b_poses = shot_b
  images = np.concatenate([a_images[:start], b_images])
  depths = np.concatenate([a_depths[:start], b_depths])
  poses = np.concatenate([a_poses[:start], b_poses])
  for i in range(fade):
    alpha = (i + 1) / (fade + 1)  # the share of shot B
    mixed = (1 - alpha) * a_images[start + i] + alpha * b_images[i]
    images[start + i] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    if alpha <= 0.5:
      depths[start + i], poses[start + i] = a_depths[start + i], a_poses[start + i]
  cut = start + next(i for i in range(fade) if (i + 1) / (fade + 1) > 0.5)
  return images, depths, poses, cut


def clip_set(seed, clips_per_kind, num_frames=16, uncut_frames=48, height=120, width=160,
             kinds=KINDS):
  """Yields `clips_per_kind` clips of every kind of the set `seed` (uncut ones
  `uncut_frames` long)."""
  for kind in kinds:
    for index in range(clips_per_kind):
      yield render_clip([int(seed), index], kind,
                        uncut_frames if kind in UNCUT_KINDS else num_frames, height, width)
