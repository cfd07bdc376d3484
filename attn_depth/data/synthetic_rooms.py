"""Procedural indoor rooms: an offline stand-in for NYU Depth V2 with exact depth edges.

Each scene is a box-shaped room (floor, four walls, ceiling) holding furniture-like boxes (some on
the floor, tables on four legs, shelves and frames on the walls), seen by a pinhole camera with
NYU Depth V2's Kinect intrinsics at 480x640. Depth is analytic ray casting, per pixel and without
anti-aliasing, so occluding edges in the depth map are exact; colour comes from textured surfaces
lit by a ceiling light (Lambert shading, distance fall-off), so that perspective, occlusion,
texture gradients and shading are real monocular cues. Depth has NYU's semantics: metres along
the optical axis (z), 0 where unknown (never here).

The renderer is vectorised numpy; each box is ray-cast only inside its projected bounding box.
"""

import ctypes
import ctypes.util
import io
import sys

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from attn_depth.core.console import Progress
from attn_depth.data.frame_tables import PythonFrames
from attn_depth.data.frame_tables import RecordFrames
from attn_depth.data.frames import NYU_CX
from attn_depth.data.frames import NYU_CY
from attn_depth.data.frames import NYU_FX
from attn_depth.data.frames import NYU_FY
from attn_depth.data.frames import prepare_quietly

HEIGHT, WIDTH = 480, 640
MIN_DEPTH, MAX_DEPTH = 0.5, 10.0

def camera_rotation(yaw, pitch, roll):
  """World-from-camera rotation. Camera: x right, y down, z forward; world: x right, y up."""
  flip = np.diag([1.0, -1.0, 1.0])
  cr, sr = np.cos(roll), np.sin(roll)
  cp, sp = np.cos(pitch), np.sin(pitch)
  cy, sy = np.cos(yaw), np.sin(yaw)
  roll_m = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
  pitch_m = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
  yaw_m = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
  return (yaw_m @ pitch_m @ flip @ roll_m).astype(np.float32)


class Scene:
  """Random room layout; all boxes axis-aligned in world coordinates (metres, y up)."""

  def __init__(self, rng):
    self.size = np.array([rng.uniform(3.0, 6.0), rng.uniform(2.4, 3.0), rng.uniform(3.5, 7.0)])
    w, h, d = self.size
    self.camera = np.array([rng.uniform(0.3 * w, 0.7 * w), rng.uniform(1.0, 1.7),
                            rng.uniform(0.2, 0.8)])
    self.yaw = rng.uniform(-0.5, 0.5)
    self.pitch = rng.uniform(0.05, 0.4)  # looking slightly down, like a hand-held Kinect
    self.roll = rng.uniform(-0.05, 0.05)
    self.boxes = []  # (lo, hi, material)
    self._add_furniture(rng)
    self.light = np.array([w / 2 + rng.uniform(-0.5, 0.5), h - 0.05, d / 2 + rng.uniform(-1, 1)])
    self.ambient = rng.uniform(0.25, 0.4)
    self.light_power = rng.uniform(2.5, 5.0)
    # Room surfaces: x-, x+, y- (floor), y+ (ceiling), z-, z+.
    self.room_materials = [_material(rng, kind) for kind in
                           ("wall", "wall", "floor", "ceiling", "wall", "wall")]

  def rotation(self):
    """World-from-camera rotation of this scene's camera."""
    return camera_rotation(self.yaw, self.pitch, self.roll)

  def _clear_of_camera(self, lo, hi, margin=0.35):
    return np.any(self.camera < lo - margin) or np.any(self.camera > hi + margin)

  def _try_add(self, lo, hi, material):
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    if self._clear_of_camera(lo, hi):
      self.boxes.append((lo, hi, material))

  def _add_furniture(self, rng):
    w, h, d = self.size
    for _ in range(rng.integers(2, 6)):  # cabinets, beds, sofas, boxes on the floor
      size = rng.uniform([0.3, 0.3, 0.3], [1.6, 1.8, 1.2])
      x = rng.uniform(0, w - size[0])
      z = rng.uniform(0.8, d - size[2])
      if rng.random() < 0.6:  # against a side or the back wall, like real furniture
        x = 0.0 if rng.random() < 0.5 else w - size[0]
      self._try_add([x, 0, z], [x + size[0], size[1], z + size[2]], _material(rng, "box"))
    for _ in range(rng.integers(0, 3)):  # tables: a top on four legs, see-through below
      tw, td, th = rng.uniform(0.6, 1.4), rng.uniform(0.5, 1.0), rng.uniform(0.45, 0.8)
      x, z = rng.uniform(0.2, w - tw - 0.2), rng.uniform(1.0, max(1.1, d - td - 0.2))
      material = _material(rng, "box")
      self._try_add([x, th - 0.04, z], [x + tw, th, z + td], material)
      leg = 0.05
      for lx, lz in ((x, z), (x + tw - leg, z), (x, z + td - leg), (x + tw - leg, z + td - leg)):
        self._try_add([lx, 0, lz], [lx + leg, th - 0.04, lz + leg], material)
    for _ in range(rng.integers(1, 4)):  # shelves and frames on the back or side walls
      fw, fh = rng.uniform(0.3, 1.2), rng.uniform(0.05, 0.9)
      y = rng.uniform(0.8, h - fh - 0.2)
      depth = rng.uniform(0.03, 0.35)
      material = _material(rng, "box")
      wall = rng.integers(0, 3)
      if wall == 0:
        x = rng.uniform(0, w - fw)
        self._try_add([x, y, d - depth], [x + fw, y + fh, d], material)
      else:
        z = rng.uniform(1.0, max(1.1, d - fw))
        x0 = 0.0 if wall == 1 else w - depth
        self._try_add([x0, y, z], [x0 + depth, y + fh, z + fw], material)


def _material(rng, kind):
  """(base colour, pattern id, pattern frequency, pattern strength)."""
  if kind == "floor":
    base = rng.uniform([0.35, 0.2, 0.1], [0.75, 0.55, 0.4])
  elif kind == "ceiling":
    base = np.full(3, rng.uniform(0.8, 0.95))
  elif kind == "wall":
    base = rng.uniform(0.55, 0.95) * rng.uniform(0.85, 1.0, 3)
  else:
    base = rng.uniform(0.1, 0.9, 3)
  pattern = {"floor": rng.integers(0, 2), "ceiling": 3, "wall": 2}.get(kind, rng.integers(0, 4))
  return (base.astype(np.float32), int(pattern), float(rng.uniform(1.5, 6.0)),
          float(rng.uniform(0.1, 0.35)))


def _texture(pattern, frequency, strength, u, v):
  """Procedural albedo modulation in [1 - strength, 1 + strength]; u, v in metres.

  Per-pixel pattern ids (0 planks, 1 tiles, 2 plaster, 3 plain), frequencies and strengths;
  each pattern is evaluated only on its own pixels.
  """
  shape = u.shape
  pattern, frequency, strength, u, v = (x.reshape(-1) for x in (pattern, frequency, strength, u, v))
  value = np.zeros(u.shape, np.float32)
  for kind in range(3):
    pixels = np.flatnonzero(pattern == kind)
    if not pixels.size:
      continue
    f = frequency[pixels]
    uf, vf = u[pixels] * f, v[pixels] * f
    if kind == 0:  # planks: per-plank brightness, grain along the plank
      plank = np.floor(uf)
      hashed = plank * np.float32(0.618034)  # golden-ratio hash: per-plank brightness
      value[pixels] = hashed - np.floor(hashed) - np.float32(0.5) + np.float32(
          0.5) * np.sin(vf * np.float32(7.0) + plank)
    elif kind == 1:  # tiles
      parity = (np.floor(uf) + np.floor(vf)).astype(np.int32) & 1
      value[pixels] = parity * np.float32(2) - np.float32(1)
    else:  # smooth plaster-like undulation
      value[pixels] = np.sin(uf) * np.sin(vf * np.float32(1.3) + np.float32(0.7))
  value *= strength
  value += np.float32(1)
  return value.reshape(shape)


def _slab_entry(origin, inv, lo, hi):
  """Ray-box slab test for rays starting outside the box: entry t, exit t and entry axis."""
  t_near, t_far, axis = None, None, None
  for a in range(3):
    t1 = (lo[a] - origin[a]) * inv[a]
    t2 = (hi[a] - origin[a]) * inv[a]
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    if t_near is None:
      t_near, t_far, axis = near, far, np.zeros(near.shape, np.int8)
    else:
      later = near > t_near
      t_near = np.where(later, near, t_near)
      axis[later] = a
      t_far = np.minimum(t_far, far)
  return t_near, t_far, axis


_RAY_CACHE = {}
_ALLOCATOR_TUNED = []


def _keep_freed_memory():
  """Lets glibc keep freed buffers instead of returning each one to the kernel.

  A scene allocates ~100 temporaries of 1.2 MB; with glibc's defaults every one is unmapped on
  free and page-faulted back on the next allocation, which halves rendering speed (measured:
  19 -> 39 scenes/s). Bounded: at most 512 MB of freed memory stays with the process.
  """
  if _ALLOCATOR_TUNED or not sys.platform.startswith("linux"):
    return
  _ALLOCATOR_TUNED.append(True)
  try:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
    libc.mallopt(m_trim_threshold, 512 * 1024 * 1024)
  except (OSError, AttributeError):  # not glibc: its allocator decides
    pass
_GAMMA_LEVELS = 8192
_MAX_INTENSITY = 4.0
_GAMMA_LUT = (np.linspace(0, _MAX_INTENSITY, _GAMMA_LEVELS) ** (1 / 2.2)).astype(np.float32)


def _select(axis, values):
  """values[axis[i]][i] for an int8 axis array of 0, 1, 2 (arithmetic: np.where is slower)."""
  return (values[0] * (axis == 0) + values[1] * (axis == 1)) + values[2] * (axis == 2)


def _camera_rays(height, width):
  """Per-pixel rays (x/z, y/z, 1) in camera coordinates: the x/z and y/z arrays, [H, W]."""
  key = (height, width)
  if key not in _RAY_CACHE:
    scale = width / WIDTH
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    _RAY_CACHE[key] = ((u - NYU_CX * scale) / (NYU_FX * scale),
                       (v - NYU_CY * scale) / (NYU_FY * scale))
  return _RAY_CACHE[key]


def renderer_intrinsics(height=HEIGHT, width=WIDTH):
  """(fx, fy, cx, cy) the renderer projects with at this size: NYU's values with the principal
  point used as 0-based pixel coordinates (the NYU toolbox's are 1-based, so rendered rooms sit
  1 px off NYU's camera; kept so that cached scenes stay valid). Exact geometry of a render."""
  scale = width / WIDTH
  return NYU_FX * scale, NYU_FY * scale, NYU_CX * scale, NYU_CY * scale


def render(seed, height=HEIGHT, width=WIDTH, view=None):
  """Renders one scene: (image uint8 [H, W, 3], depth float32 [H, W] metres).

  `seed` is anything numpy.random.default_rng takes, or a `Scene`. `width` scales NYU's
  intrinsics (the field of view stays NYU's). `view`: (camera position [3], world-from-camera
  rotation [3, 3]) instead of the scene's own camera (camera fly-throughs). Arrays are [H, W]
  so that each box works on a view of its rectangle.
  """
  _keep_freed_memory()
  scene = seed if isinstance(seed, Scene) else Scene(np.random.default_rng(seed))
  fx, fy, cx, cy = renderer_intrinsics(height, width)
  rotation = scene.rotation() if view is None else np.asarray(view[1], np.float32)

  # World ray directions for camera rays (x, y, 1): t along them is the camera z-depth,
  # NYU's depth semantics.
  cam_x, cam_y = _camera_rays(height, width)
  rays = [rotation[a, 0] * cam_x + rotation[a, 1] * cam_y + rotation[a, 2] for a in range(3)]
  for r in rays:  # a ray exactly parallel to a face never reaches it: nudge 0 to +tiny
    r[r == 0] = np.float32(1e-30)
  inv = [np.float32(1) / r for r in rays]
  origin = (scene.camera if view is None else np.asarray(view[0])).astype(np.float32)
  room = scene.size.astype(np.float32)

  depth, surface, normal_axis, normal_sign = _room_surfaces(rays, inv, origin, room)
  for index, (lo, hi, _) in enumerate(scene.boxes):
    window = _projected_window(lo, hi, origin, rotation, fx, fy, cx, cy, height, width)
    if window is not None:
      _hit_box(index, lo, hi, window, origin, rays, inv, depth, surface, normal_axis,
               normal_sign)
  image = _shade(scene, origin, rays, depth, surface, normal_axis, normal_sign)
  depth = np.minimum(np.maximum(depth, np.float32(MIN_DEPTH)), np.float32(MAX_DEPTH))
  return image, depth


def _room_surfaces(rays, inv, origin, room):
  """The room, seen from inside: every ray leaves it through the face where it exits. Returns
  (depth, surface index 0..5, the normal's axis, the normal's sign), each [H, W]."""
  depth, exit_axis, exit_positive = None, None, None
  for a in range(3):
    positive = rays[a] > 0
    t = (room[a] * positive - origin[a]) * inv[a]
    if depth is None:
      depth, exit_axis, exit_positive = t, np.zeros(t.shape, np.int8), positive
    else:
      nearer = t < depth
      np.minimum(t, depth, out=depth)
      exit_axis[nearer] = a
      np.copyto(exit_positive, positive, where=nearer)
  surface = exit_axis.astype(np.int16) * 2 + exit_positive  # room faces 0..5
  return depth, surface, exit_axis, np.float32(1) - np.float32(2) * exit_positive


def _hit_box(index, lo, hi, window, origin, rays, inv, depth, surface, normal_axis,
             normal_sign):
  """Box `index` drawn in place over what is farther, inside its projected window."""
  t_in, t_out, axis = _slab_entry(origin, [i[window] for i in inv], lo.astype(np.float32),
                                  hi.astype(np.float32))
  hit = (t_in <= t_out) & (t_in > 0) & (t_in < depth[window])
  np.copyto(depth[window], t_in, where=hit)
  surface[window][hit] = 6 + index
  np.copyto(normal_axis[window], axis, where=hit)
  # The face is seen from outside: the normal points against the ray.
  along = _select(axis, [r[window] for r in rays])
  np.copyto(normal_sign[window], np.float32(1) - np.float32(2) * (along > 0), where=hit)


def _shade(scene, origin, rays, depth, surface, normal_axis, normal_sign):
  """The picture: one point light (Lambert, falling off with distance) over each surface's
  procedural texture, through display gamma. uint8 [H, W, 3]."""
  points = [origin[a] + rays[a] * depth for a in range(3)]
  to_light = [np.float32(scene.light[a]) - points[a] for a in range(3)]
  distance_sq = to_light[0] ** 2 + to_light[1] ** 2 + to_light[2] ** 2
  facing = normal_sign * _select(normal_axis, to_light)
  lambert = np.maximum(facing, 0) / np.sqrt(distance_sq)
  light = np.float32(scene.ambient) + np.float32(scene.light_power) * lambert / (1 + distance_sq)

  # Texture coordinates: the two world axes spanning the surface.
  tex_u = points[0] + (normal_axis == 0) * (points[2] - points[0])
  tex_v = points[1] + (normal_axis == 1) * (points[2] - points[1])
  materials = scene.room_materials + [box[2] for box in scene.boxes]
  base, pattern, frequency, strength = (np.array(column) for column in zip(*materials))
  intensity = light * _texture(np.take(pattern.astype(np.int8), surface),
                               np.take(frequency.astype(np.float32), surface),
                               np.take(strength.astype(np.float32), surface), tex_u, tex_v)
  # Display gamma: (albedo * intensity)^(1/2.2) = albedo^(1/2.2) * intensity^(1/2.2), the
  # second through a lookup table; one power per pixel instead of three.
  levels = np.minimum(intensity * np.float32(_GAMMA_LEVELS / _MAX_INTENSITY), _GAMMA_LEVELS - 1)
  intensity_gamma = _GAMMA_LUT[levels.astype(np.int32)]
  albedo_gamma = base.astype(np.float32) ** np.float32(1 / 2.2) * 255
  image = np.empty((*depth.shape, 3), np.uint8)
  for channel in range(3):
    value = np.take(albedo_gamma[:, channel], surface)
    value *= intensity_gamma
    np.minimum(value, 255, out=value)
    image[..., channel] = value
  return image


def _projected_window(lo, hi, origin, rotation, fx, fy, cx, cy, height, width):
  """Slices of the box's projected bounding rectangle in the image, or None if unseen."""
  corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T
  cam = (corners - origin) @ rotation  # camera coordinates (rotation is orthonormal)
  if np.all(cam[:, 2] <= 1e-3):
    return None
  if np.any(cam[:, 2] <= 1e-3):  # straddles the camera plane: test the whole image
    return slice(0, height), slice(0, width)
  us, vs = fx * cam[:, 0] / cam[:, 2] + cx, fy * cam[:, 1] / cam[:, 2] + cy
  u0, u1 = max(int(np.floor(us.min())), 0), min(int(np.ceil(us.max())) + 1, width)
  v0, v1 = max(int(np.floor(vs.min())), 0), min(int(np.ceil(vs.max())) + 1, height)
  if u0 >= u1 or v0 >= v1:
    return None
  return slice(v0, v1), slice(u0, u1)


def scene_seed(seed, index):
  """Scene `index` of the set `seed`: sets with different seeds share no scene."""
  return [int(seed), int(index)]


class SyntheticRooms(tfds.core.GeneratorBasedBuilder):
  """Procedural rooms prepared as tfds records: the same reader path as nyu_depth_v2.

  One builder config per (number of scenes, seed), so a prepared set is rendered only once.
  """

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Room, furniture, tables, wall shelves; NYU intrinsics."}

  def __init__(self, *, num_examples=1000, seed=0, **kwargs):
    self._num_examples, self._seed = int(num_examples), int(seed)
    config = tfds.core.BuilderConfig(name=f"n{self._num_examples}_seed{self._seed}")
    super().__init__(config=config, **kwargs)

  def _info(self):
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(HEIGHT, WIDTH, 3)),
            # Raw bytes: tfds' default float list costs 40 ms per frame to write.
            "depth": tfds.features.Tensor(shape=(HEIGHT, WIDTH), dtype=np.float16,
                                          encoding=tfds.features.Encoding.BYTES),
        }),
        supervised_keys=("image", "depth"),
        description=__doc__,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    # tfds' own progress bars are hidden (prepare_quietly): a minute of rendering shows its
    # count and ETA every few seconds instead, on stderr so that stdout stays the tools' lines.
    progress = Progress(self._num_examples, f"rendering procedural rooms (set {self._seed})",
                        unit="rooms", print_fn=_to_stderr)
    for index in range(self._num_examples):
      image, depth = render(scene_seed(self._seed, index))
      progress(index + 1)
      # Encoded here with fast zlib settings: tfds' own PNG encoder costs 3x the rendering.
      png = io.BytesIO()
      Image.fromarray(image).save(png, format="PNG", compress_level=1)
      png.seek(0)
      yield index, {"image": png, "depth": depth.astype(np.float16)}


def _to_stderr(line):
  print(line, file=sys.stderr, flush=True)


def synthetic_rooms_table(num_examples, seed, data_dir=None):
  """`num_examples` procedural scenes, deterministic by `seed`, addressable by index.

  With `data_dir`, the scenes are rendered once into tfds records there (PNG images, float16
  depth, like nyu_depth_v2) and read back on every later call; without, scene i is rendered
  when it is read.
  """
  name = f"synthetic_rooms[n{int(num_examples)}_seed{int(seed)}]"
  if data_dir is None:
    return PythonFrames(name, num_examples, lambda index: render(scene_seed(seed, index)),
                        lambda index: f"procedural room {index} of set {seed}")
  builder = SyntheticRooms(num_examples=num_examples, seed=seed, data_dir=data_dir)
  if not builder.is_prepared():
    prepare_quietly(builder, f"rendering {num_examples} procedural rooms (set {seed}) into "
                    f"{builder.data_dir} (once, ~40 rooms/s)",
                    download_config=tfds.download.DownloadConfig(
                        compute_stats=tfds.download.ComputeStatsMode.SKIP))
  return RecordFrames(name, builder, "train", num_examples)


def synthetic_rooms_dataset(num_examples, seed, data_dir=None):
  """`synthetic_rooms_table`'s frames in order, as a dataset."""
  return synthetic_rooms_table(num_examples, seed, data_dir).frames()
