"""NYU Depth V2 through tensorflow-datasets (`nyu_depth_v2`, FastDepth's 34 GB h5 archive).

Splits: train (47,584 frames of the 249 training scenes) and validation (the 654 official test
frames). Images uint8 [480, 640, 3], depth float16 metres.

The paper samples "~13K pairs from 249 training scenes". tfds stores its records in an order
shuffled by a hash of each frame's key (scene + frame), so the first N records of the train split
are a deterministic sample spread evenly over all scenes; `train[:N]` reads only those.

Preparing: tfds downloads FastDepth's `nyudepthv2.tar.gz` from its server, which has been down
for months at a time. `prepare_from_archive` runs tfds' own nyu_depth_v2 builder on a local copy
of that archive (the .tar.gz or the folder it was extracted to) instead: only the download is
replaced, the records are the ones tfds writes.
"""

import logging
import os
import tempfile

import tensorflow_datasets as tfds
from tensorflow_datasets.datasets.nyu_depth_v2 import nyu_depth_v2_dataset_builder

from attn_depth.data.frame_tables import RecordFrames
from attn_depth.data.frames import DataError
from attn_depth.data.frames import prepare_quietly

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'

NAME = "nyu_depth_v2"
SPLITS = {"train": "train", "test": "validation"}
PAPER_TRAIN_EXAMPLES = 13000
ARCHIVE_NAME = "nyudepthv2.tar.gz"
ARCHIVE_ROOT = "nyudepthv2"  # the archive's top folder: nyudepthv2/{train,val}/<scene>/*.h5


class _LocalArchive:
  """Stands in for tfds' download manager inside the real builder: the URL resolves to a local
  copy of the archive (extracted by tfds' own extractor) or to its extracted folder."""

  def __init__(self, download_manager, archive, links):
    self._download_manager = download_manager
    self._archive = archive
    self._links = links  # a temporary folder, removed by prepare_from_archive once done

  def download_and_extract(self, url):
    del url  # the builder's one URL, FastDepth's nyudepthv2.tar.gz
    if os.path.isfile(self._archive):
      return self._download_manager.extract(self._archive)
    folder = os.path.abspath(self._archive)
    if os.path.isdir(os.path.join(folder, ARCHIVE_ROOT)):
      return folder
    # The user pointed at nyudepthv2/ itself (or a copy under another name): the builder
    # expects <root>/nyudepthv2/{train,val}, so link it under that name.
    os.symlink(folder, os.path.join(self._links, ARCHIVE_ROOT))
    return self._links


class _NyuFromLocalArchive(nyu_depth_v2_dataset_builder.Builder, skip_registration=True):
  """tfds' nyu_depth_v2 builder (same name, version, features and records) reading a local
  archive; what it prepares is read back by the ordinary `tfds.builder("nyu_depth_v2")`."""

  name = NAME

  def __init__(self, *, archive, links=None, **kwargs):
    self._archive, self._links = archive, links
    super().__init__(**kwargs)

  def _split_generators(self, dl_manager):
    return super()._split_generators(_LocalArchive(dl_manager, self._archive, self._links))


def check_archive(archive):
  """Raises a DataError naming `archive` unless it looks like FastDepth's archive or its
  extracted folder."""
  if os.path.isfile(archive):
    if not (archive.endswith((".tar.gz", ".tgz", ".tar"))):
      raise DataError(f"{archive}: expected FastDepth's {ARCHIVE_NAME} (a .tar.gz) or the "
                      f"folder it was extracted to")
    return
  if not os.path.isdir(archive):
    raise DataError(f"{archive}: no such file or folder; expected FastDepth's {ARCHIVE_NAME} "
                    f"or the folder it was extracted to")
  root = (os.path.join(archive, ARCHIVE_ROOT) if os.path.isdir(os.path.join(archive, ARCHIVE_ROOT))
          else archive)
  missing = [s for s in ("train", "val") if not os.path.isdir(os.path.join(root, s))]
  if missing:
    raise DataError(f"{archive}: no {' or '.join(missing)} folder; expected the extracted "
                    f"{ARCHIVE_NAME}: {ARCHIVE_ROOT}/train/<scene>/*.h5 and "
                    f"{ARCHIVE_ROOT}/val/official/*.h5")


def prepare_from_archive(archive, data_dir=None, print_fn=print):
  """Prepares nyu_depth_v2 in `data_dir` from a local copy of FastDepth's archive (.tar.gz,
  extracted by tfds into <data_dir>/downloads/extracted, or the extracted folder, read in
  place). Returns the prepared builder."""
  check_archive(archive)
  with tempfile.TemporaryDirectory(prefix="attn_depth_nyu_") as links:
    builder = _NyuFromLocalArchive(archive=archive, links=links, data_dir=data_dir)
    if builder.is_prepared():
      return builder
    prepare_quietly(builder, f"preparing {NAME} from {archive} into {builder.data_dir} (once; "
                    f"tfds' own builder)", print_fn)
  return builder


def prepared_bytes(builder):
  """Bytes of the prepared records on disk."""
  folder = builder.data_dir
  return sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))


def _prepared_builder(data_dir, download, archive):
  builder = tfds.builder(NAME, data_dir=data_dir)
  if builder.is_prepared():
    return builder
  if archive:
    return prepare_from_archive(archive, data_dir)
  if download:
    prepare_quietly(builder, f"downloading (34 GB) and preparing {NAME} into {builder.data_dir} "
                    f"(once)")
    return builder
  where = data_dir or tfds.core.constants.DATA_DIR
  raise DataError(
      f"{where}: {NAME} is not prepared there; prepare it from a local copy of "
      f"{ARCHIVE_NAME} (attn-depth prepare-nyu --archive=PATH --data_dir=DIR, or "
      f"nyu_tfds_source.archive = PATH), or allow the 34 GB download "
      f"(nyu_tfds_source.download = True)")


def _train_count(available, num_examples):
  if not num_examples:
    return available
  if int(num_examples) > available:
    _LOG.warning("%s: %d training frames requested, only %d prepared; using all %d", NAME,
                    int(num_examples), available, available)
    return available
  return int(num_examples)


def _prepared_split(split, num_examples, data_dir, download, archive):
  """(prepared builder, frames of `split` to use), from tfds' metadata: nothing is read."""
  if split not in SPLITS:
    raise DataError(f"nyu_depth_v2: unknown split {split!r}, expected one of {sorted(SPLITS)}")
  builder = _prepared_builder(data_dir, download, archive)
  available = builder.info.splits[SPLITS[split]].num_examples
  return builder, _train_count(available, num_examples) if split == "train" else available


def count_frames(split="train", num_examples=PAPER_TRAIN_EXAMPLES, data_dir=None,
                 download=False, archive=None):
  """Frames `nyu_tfds_dataset` yields for these arguments (from tfds' metadata, nothing read)."""
  return _prepared_split(split, num_examples, data_dir, download, archive)[1]


def nyu_tfds_table(split="train", num_examples=PAPER_TRAIN_EXAMPLES, data_dir=None,
                   download=False, archive=None):
  """Frames of tfds' nyu_depth_v2, addressable by index, as {"image": uint8, "depth": float32
  metres}.

  Args:
    split: "train" or "test" (tfds' "validation", the 654 official test frames).
    num_examples: train only: how many frames of the deterministic subset (the first N records);
      None for all 47,584. More than are prepared: all prepared frames, with a warning.
    data_dir: tfds data folder (default: tfds' own, ~/tensorflow_datasets or $TFDS_DATA_DIR).
    download: let tfds download (34 GB) and prepare the dataset if it is not there.
    archive: a local copy of FastDepth's nyudepthv2.tar.gz or its extracted folder, prepared
      into `data_dir` if the dataset is not there yet.
  """
  builder, count = _prepared_split(split, num_examples, data_dir, download, archive)
  return RecordFrames(f"{NAME}[{split}]", builder, SPLITS[split], count)


def nyu_tfds_dataset(split="train", num_examples=PAPER_TRAIN_EXAMPLES, data_dir=None,
                     download=False, archive=None):
  """`nyu_tfds_table`'s frames in tfds' order, as a dataset."""
  return nyu_tfds_table(split, num_examples, data_dir, download, archive).frames()
