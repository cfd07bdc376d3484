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

import io

import numpy as np
from PIL import Image
import tensorflow as tf
import tensorflow_datasets as tfds

from attn_depth.data.frames import EXAMPLE_SIGNATURE

HEIGHT, WIDTH = 480, 640
# NYU Depth V2 colour camera (toolbox camera_params.m).
NYU_FX, NYU_FY, NYU_CX, NYU_CY = 518.857901, 519.469611, 325.582449, 253.736166
MIN_DEPTH, MAX_DEPTH = 0.5, 10.0

def _rotation(yaw, pitch, roll):
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
    return _rotation(self.yaw, self.pitch, self.roll)

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
  """Procedural albedo modulation in [1 - strength, 1 + strength]; u, v in metres."""
  if pattern == 0:  # planks / stripes with per-plank brightness
    plank = np.floor(u * frequency)
    value = np.sin(plank * 12.9898) * 0.5 + 0.5 * np.sin(v * frequency * 7.0 + plank)
  elif pattern == 1:  # checkerboard tiles
    value = (np.floor(u * frequency) + np.floor(v * frequency)) % 2 * 2.0 - 1.0
  elif pattern == 2:  # smooth plaster-like undulation
    value = np.sin(u * frequency) * np.sin(v * frequency * 1.3 + 0.7)
  else:
    value = np.zeros_like(u)
  return 1.0 + strength * value.astype(np.float32)


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
_GAMMA_LEVELS = 4096
_GAMMA_LUT = (np.linspace(0, 1, _GAMMA_LEVELS) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)


def _select(axis, values):
  """values[axis[i]][i] for an int8 axis array of 0, 1, 2."""
  return np.where(axis == 0, values[0], np.where(axis == 1, values[1], values[2]))


def _camera_rays(height, width):
  """Per-pixel rays (x/z, y/z, 1) in camera coordinates, as three flat float32 arrays."""
  key = (height, width)
  if key not in _RAY_CACHE:
    scale = width / WIDTH
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    _RAY_CACHE[key] = ((u - NYU_CX * scale) / (NYU_FX * scale),
                       (v - NYU_CY * scale) / (NYU_FY * scale))
  x, y = _RAY_CACHE[key]
  return x.reshape(-1), y.reshape(-1)


def render(seed, height=HEIGHT, width=WIDTH):
  """Renders one scene; `seed` is anything numpy.random.default_rng takes. Returns (image uint8 [H, W, 3], depth float32 [H, W] metres).

  `width` sets the scale of NYU's intrinsics (the field of view stays NYU's).
  """
  scene = Scene(np.random.default_rng(seed))
  scale = width / WIDTH
  fx, fy, cx, cy = NYU_FX * scale, NYU_FY * scale, NYU_CX * scale, NYU_CY * scale
  rotation = scene.rotation()

  # World ray directions for camera rays (x, y, 1): t along them is the camera z-depth,
  # NYU's depth semantics.
  cam_x, cam_y = _camera_rays(height, width)
  rays = [rotation[a, 0] * cam_x + rotation[a, 1] * cam_y + rotation[a, 2] for a in range(3)]
  inv = [1.0 / np.where(np.abs(r) < 1e-9, np.float32(1e-9), r) for r in rays]
  origin = scene.camera.astype(np.float32)
  room = scene.size.astype(np.float32)

  # The room, seen from inside: every ray leaves it through the face where it exits.
  depth, exit_axis, exit_positive = None, None, None
  for a in range(3):
    positive = rays[a] > 0
    t = (np.where(positive, room[a], np.float32(0)) - origin[a]) * inv[a]
    if depth is None:
      depth, exit_axis, exit_positive = t, np.zeros(t.shape, np.int8), positive
    else:
      nearer = t < depth
      depth = np.where(nearer, t, depth)
      exit_axis[nearer] = a
      exit_positive = np.where(nearer, positive, exit_positive)
  surface = exit_axis.astype(np.int16) * 2 + exit_positive  # room faces 0..5
  normal_axis = exit_axis
  normal_sign = np.where(exit_positive, np.float32(-1), np.float32(1))

  for index, (lo, hi, _) in enumerate(scene.boxes):
    pixels = _projected_pixels(lo, hi, origin, rotation, fx, fy, cx, cy, height, width)
    if pixels is None:
      continue
    t_in, t_out, axis = _slab_entry(origin, [i[pixels] for i in inv], lo.astype(np.float32),
                                    hi.astype(np.float32))
    hit = (t_in <= t_out) & (t_in > 0) & (t_in < depth[pixels])
    pixels, axis = pixels[hit], axis[hit]
    depth[pixels] = t_in[hit]
    surface[pixels] = 6 + index
    normal_axis[pixels] = axis
    ray_along_normal = _select(axis, [r[pixels] for r in rays])
    normal_sign[pixels] = np.where(ray_along_normal > 0, np.float32(-1), np.float32(1))

  points = [origin[a] + rays[a] * depth for a in range(3)]
  to_light = [np.float32(scene.light[a]) - points[a] for a in range(3)]
  distance_sq = to_light[0] ** 2 + to_light[1] ** 2 + to_light[2] ** 2
  facing = normal_sign * _select(normal_axis, to_light)
  lambert = np.maximum(facing, 0) / np.sqrt(distance_sq)
  light = np.float32(scene.ambient) + np.float32(scene.light_power) * lambert / (1 + distance_sq)

  # Texture coordinates: the two world axes spanning the surface.
  tex_u = np.where(normal_axis == 0, points[2], points[0])
  tex_v = np.where(normal_axis == 1, points[2], points[1])
  materials = scene.room_materials + [box[2] for box in scene.boxes]
  order = np.argsort(surface, kind="stable")
  bounds = np.searchsorted(surface[order], np.arange(len(materials) + 1))
  shade = np.empty((depth.size, 3), np.float32)
  for index, (base, pattern, frequency, strength) in enumerate(materials):
    pixels = order[bounds[index]:bounds[index + 1]]
    if pixels.size:
      shade[pixels] = (base * (light[pixels] * _texture(
          pattern, frequency, strength, tex_u[pixels], tex_v[pixels]))[:, None])
  # Display gamma through a lookup table: a power over every channel costs more than the rest.
  levels = np.minimum(shade * np.float32(_GAMMA_LEVELS - 1), _GAMMA_LEVELS - 1)
  image = _GAMMA_LUT[levels.astype(np.int32)].reshape(height, width, 3)
  depth = np.clip(depth, MIN_DEPTH, MAX_DEPTH).astype(np.float32).reshape(height, width)
  return image, depth


def _projected_pixels(lo, hi, origin, rotation, fx, fy, cx, cy, height, width):
  """Flat indices of the pixels inside the box's projected bounding rectangle, or None."""
  corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T
  cam = (corners - origin) @ rotation  # camera coordinates (rotation is orthonormal)
  if np.all(cam[:, 2] <= 1e-3):
    return None
  if np.any(cam[:, 2] <= 1e-3):  # straddles the camera plane: test the whole image
    u0, u1, v0, v1 = 0, width, 0, height
  else:
    us, vs = fx * cam[:, 0] / cam[:, 2] + cx, fy * cam[:, 1] / cam[:, 2] + cy
    u0, u1 = max(int(np.floor(us.min())), 0), min(int(np.ceil(us.max())) + 1, width)
    v0, v1 = max(int(np.floor(vs.min())), 0), min(int(np.ceil(vs.max())) + 1, height)
    if u0 >= u1 or v0 >= v1:
      return None
  rows = np.arange(v0, v1)[:, None] * width
  return (rows + np.arange(u0, u1)[None, :]).reshape(-1)


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
    for index in range(self._num_examples):
      image, depth = render(scene_seed(self._seed, index))
      # Encoded here with fast zlib settings: tfds' own PNG encoder costs 3x the rendering.
      png = io.BytesIO()
      Image.fromarray(image).save(png, format="PNG", compress_level=1)
      png.seek(0)
      yield index, {"image": png, "depth": depth.astype(np.float16)}


def synthetic_rooms_dataset(num_examples, seed, data_dir=None):
  """`num_examples` procedural scenes, deterministic by `seed`.

  With `data_dir`, the scenes are rendered once into tfds records there (PNG images, float16
  depth, like nyu_depth_v2) and read back on every later call; without, they are rendered on
  the fly.
  """
  if data_dir is None:
    def generate():
      for index in range(int(num_examples)):
        image, depth = render(scene_seed(seed, index))
        yield {"image": image, "depth": depth}
    return tf.data.Dataset.from_generator(generate, output_signature=EXAMPLE_SIGNATURE)
  builder = SyntheticRooms(num_examples=num_examples, seed=seed, data_dir=data_dir)
  if not builder.is_prepared():
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            compute_stats=tfds.download.ComputeStatsMode.SKIP))
  dataset = builder.as_dataset(split="train", shuffle_files=False)
  return dataset.map(
      lambda example: {"image": example["image"], "depth": tf.cast(example["depth"], tf.float32)},
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
