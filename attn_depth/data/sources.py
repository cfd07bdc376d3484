"""Every data source, declared once (deeplab2's DatasetDescriptor is the model).

A source is a module that reads its files (nyu_tfds.py, sunrgbd.py, ...) plus one entry here: a
gin-configurable function that takes the split and returns a `Split` (how to count its frames,
how to open them as a table read by index), and a `DatasetDescriptor` that says what the source
is -- its splits, its ground truth in words (stated in every result), whether it is NYU's official
test set (the paper's Table-1 row is printed beside it), frames or sequences, and the command-line
flags that configure it (the tools' flags and their gin bindings are derived from it).

Adding a source: write its module, then add its configurable and its descriptor below.
"""

import dataclasses
import inspect
from typing import Callable

import gin

from attn_depth.data import densedepth
from attn_depth.data import flythroughs
from attn_depth.data import nyu_labeled
from attn_depth.data import nyu_tfds
from attn_depth.data import rgbd_files
from attn_depth.data import sunrgbd
from attn_depth.data import synthetic_rooms
from attn_depth.data.frames import DataError
from attn_depth.data.frames import expand_path

SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class Split:
  """One split of a source as configured: `count()` -> number of frames, or -1 where the source
  cannot tell without reading it all (never prepares anything that is not prepared yet);
  `table()` -> a `frame_tables.FrameTable` read by index."""
  count: Callable[[], int]
  table: Callable[[], object]


@dataclasses.dataclass(frozen=True)
class DataFlag:
  """A command-line flag of attn-depth evaluate and attn-depth figures that sets a gin binding."""
  name: str
  binding: str
  help: str
  is_list: bool = False

  def binding_of(self, value):
    if self.is_list:
      value = tuple(value)
    return f"{self.binding} = {value!r}"


@dataclasses.dataclass(frozen=True)
class DatasetDescriptor:
  """What is known about a source, in one place."""
  name: str
  configure: Callable  # gin-configurable; frames: split -> Split, sequences: () -> generators
  summary: str  # one line for --help
  ground_truth: str  # stated in every result; {depth_key} and {kind} are filled in
  splits: tuple = SPLITS
  kind: str = "frames"  # or "sequences" (temporal evaluation)
  nyu_test_set: bool = False  # NYU's 654 official test frames: the paper's row applies
  flags: tuple = ()
  split_note: str = ""  # said when a split it lacks is asked for

  def split(self, split):
    if split not in self.splits:
      raise DataError(f"{self.name}: no {split!r} split; "
                      + (self.split_note or f"it has {list(self.splits)}"))
    return self.configure(split)

  def settings(self):
    """The configurable's parameters as gin sets them now, defaults filled in (stored with
    results so that they can be reproduced)."""
    function = getattr(self.configure, "__wrapped__", self.configure)
    values = {}
    for name, parameter in inspect.signature(function).parameters.items():
      if name == "split":
        continue
      try:
        values[name] = gin.query_parameter(f"{self.configure.__name__}.{name}")
      except ValueError:
        values[name] = parameter.default
    return values


# ---- NYU Depth V2 --------------------------------------------------------------------------------

@gin.configurable
def nyu_tfds_source(split, num_train_examples=nyu_tfds.PAPER_TRAIN_EXAMPLES, data_dir=None,
                    download=False, archive=None):
  args = (split, num_train_examples, expand_path(data_dir), download, expand_path(archive))
  return Split(lambda: nyu_tfds.count_frames(*args), lambda: nyu_tfds.nyu_tfds_table(*args))


@gin.configurable
def nyu_labeled_source(split, mat_path=None, splits_path=None, depth_key="depths"):
  mat_path, splits_path = expand_path(mat_path), expand_path(splits_path)

  def count():
    nyu_labeled.check_files(mat_path, splits_path)  # the dataset checks them itself
    return len(nyu_labeled.read_split_indices(splits_path, split))

  return Split(count, lambda: nyu_labeled.nyu_labeled_table(mat_path, splits_path, split,
                                                            depth_key))


@gin.configurable
def densedepth_source(split, path=None):
  path = expand_path(path)
  if not path:
    raise DataError("densedepth: no path given; expected DenseDepth's nyu_data.zip or the "
                    "folder it was extracted to (gin: densedepth_source.path; attn-depth evaluate "
                    "takes --densedepth)")
  return Split(lambda: densedepth.count_frames(path, split),
               lambda: densedepth.densedepth_table(path, split))


# ---- Other cameras and your own data --------------------------------------------------------------

@gin.configurable
def sunrgbd_source(split, path=None, subsets=("kv1/b3dodata",), depth_folder="depth"):
  """SUN RGB-D for the paper's generalization test: every frame of `subsets` is a test frame
  (the network never trains on it)."""
  del split  # test only (the descriptor's splits)
  path = expand_path(path)
  if not path:
    raise DataError("sunrgbd: no path given; expected SUN RGB-D's SUNRGBD folder (gin: "
                    "sunrgbd_source.path; attn-depth evaluate takes --sunrgbd)")
  return Split(lambda: len(sunrgbd.find_frames(path, subsets, depth_folder)),
               lambda: sunrgbd.sunrgbd_table(path, subsets, depth_folder))


@gin.configurable
def rgbd_files_source(split, train=None, test=None, depth_encoding="png", depth_scale=None,
                      focal=None):
  """Your own RGB-D frames: each split a CSV 'rgb,depth[,fx]' or a folder with rgb/ and depth/
  (see attn_depth/data/rgbd_files.py for encodings and camera handling)."""
  path = expand_path(train if split == "train" else test)
  return Split(lambda: len(rgbd_files.list_pairs(path, depth_encoding)),
               lambda: rgbd_files.rgbd_files_table(path, depth_encoding, depth_scale, focal))


# ---- Procedural rooms (offline) -------------------------------------------------------------------

@gin.configurable
def synthetic_rooms_source(split, num_train_examples=1000, num_test_examples=100, seed=0,
                           data_dir=None):
  """Train and test scenes come from different seeds, so test scenes are unseen."""
  count, scene_set = ((num_train_examples, seed) if split == "train" else
                      (num_test_examples, seed + 1))
  return Split(lambda: count, lambda: synthetic_rooms.synthetic_rooms_table(
      count, scene_set, expand_path(data_dir)))


# ---- The registry --------------------------------------------------------------------------------

_DESCRIPTORS = (
    DatasetDescriptor(
        "nyu_labeled", nyu_labeled_source,
        "the 654 official test frames (795 training) of nyu_depth_v2_labeled.mat",
        "nyu_depth_v2_labeled.mat '{depth_key}' ({kind})", nyu_test_set=True,
        flags=(DataFlag("nyu_mat", "nyu_labeled_source.mat_path",
                        "nyu_depth_v2_labeled.mat (--source=nyu_labeled)."),
               DataFlag("nyu_splits", "nyu_labeled_source.splits_path",
                        "NYU's splits.mat (--source=nyu_labeled)."))),
    DatasetDescriptor(
        "nyu_tfds", nyu_tfds_source,
        "tfds' nyu_depth_v2 (training frames; validation split = the same 654 test frames)",
        "tfds nyu_depth_v2 validation split: FastDepth's val/*.h5 depth, which is the filled "
        "depth of the 654 test frames, not rawDepths; not comparable with rawDepths tables",
        nyu_test_set=True,
        flags=(DataFlag("tfds_data_dir", "nyu_tfds_source.data_dir",
                        "tfds data folder holding a prepared nyu_depth_v2 (--source=nyu_tfds); "
                        "default tfds' own."),)),
    DatasetDescriptor(
        "densedepth", densedepth_source,
        "DenseDepth's nyu_data.zip (its 50K training frames and 654 test frames)",
        "DenseDepth's nyu2_test 16-bit PNGs (the filled depth of the 654 test frames)",
        nyu_test_set=True,
        flags=(DataFlag("densedepth", "densedepth_source.path",
                        "DenseDepth's nyu_data.zip or its extracted folder "
                        "(--source=densedepth)."),)),
    DatasetDescriptor(
        "sunrgbd", sunrgbd_source, "SUN RGB-D (e.g. B3DO, the paper's generalization test)",
        "SUN RGB-D depth (raw sensor depth, holes excluded; depth_bfx if chosen), each frame "
        "rescaled to NYU's focal length and centre-padded to 480x640", splits=("test",),
        split_note="a test-only source (the paper's generalization test); to train on SUN "
                   "RGB-D frames, list them for the rgbd_files source",
        flags=(DataFlag("sunrgbd", "sunrgbd_source.path",
                        "SUN RGB-D's SUNRGBD folder (--source=sunrgbd)."),
               DataFlag("sunrgbd_subsets", "sunrgbd_source.subsets",
                        "SUN RGB-D subsets, e.g. b3dodata (the paper's B3DO; the default), kv1, "
                        "kv2/kinect2data.", is_list=True))),
    DatasetDescriptor(
        "rgbd_files", rgbd_files_source, "your own RGB-D frames",
        "your own RGB-D frames (depth as given, holes excluded), brought to NYU's camera "
        "(rescaled by focal length or to cover 480x640)",
        flags=(DataFlag("rgbd_test", "rgbd_files_source.test",
                        "Your own test frames (--source=rgbd_files): a CSV 'rgb,depth[,fx]' or "
                        "a folder with rgb/ and depth/."),)),
    DatasetDescriptor(
        "synthetic_rooms", synthetic_rooms_source, "procedural rooms (offline, exact depth)",
        "exact rendered depth of procedural rooms"),
    DatasetDescriptor(
        "synthetic_flythroughs", flythroughs.synthetic_flythroughs_source,
        "temporal consistency on camera fly-throughs of procedural rooms with known poses "
        "(per-frame and consistent mode)",
        "exact rendered depth and camera poses of fly-throughs through unseen procedural rooms",
        splits=("test",), kind="sequences"),
)
SOURCES = {descriptor.name: descriptor for descriptor in _DESCRIPTORS}
FRAME_SOURCES = tuple(name for name, d in SOURCES.items() if d.kind == "frames")


def descriptor(source):
  """The DatasetDescriptor of `source`; a DataError names the known ones."""
  if source not in SOURCES:
    raise DataError(f"unknown data source {source!r}; choose one of {sorted(SOURCES)}")
  return SOURCES[source]


def frame_split(source, split):
  """The configured `Split` of a frame source."""
  if split not in SPLITS:
    raise DataError(f"unknown split {split!r}; choose one of {SPLITS}")
  found = descriptor(source)
  if found.kind != "frames":
    raise DataError(f"{source}: a {found.kind} source; it is evaluated by attn-depth evaluate "
                    f"--source={source}, not read frame by frame")
  return found.split(split)
