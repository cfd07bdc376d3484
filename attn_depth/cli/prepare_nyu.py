"""Prepares tfds' nyu_depth_v2 from a local copy of FastDepth's archive: no download server.

  attn-depth prepare-nyu --archive=/data/nyudepthv2.tar.gz --data_dir=/data/tensorflow_datasets
  attn-depth prepare-nyu --archive=/data/extracted --data_dir=/data/tensorflow_datasets

--archive is nyudepthv2.tar.gz (34 GB; tfds extracts it into <data_dir>/downloads/extracted
first, another 34 GB) or the folder it was extracted to (read in place). tfds' own nyu_depth_v2
builder writes the records, exactly as `tfds build nyu_depth_v2` would after downloading; training
and evaluation then read them with nyu_tfds_source.data_dir = <data_dir>.
"""

from absl import flags

from attn_depth import cli
from attn_depth.data import nyu_tfds
from attn_depth.data.frames import expand_path

_ARCHIVE = flags.DEFINE_string("archive", None, "(required) nyudepthv2.tar.gz or the folder it "
                               "was extracted to (holding nyudepthv2/train and nyudepthv2/val).",
                               required=True)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "tfds data folder to prepare into; default "
                                "tfds' own (~/tensorflow_datasets or $TFDS_DATA_DIR).")


def main(argv):
  del argv
  with cli.tool("prepare_nyu"):
    data_dir = expand_path(_DATA_DIR.value)
    builder = nyu_tfds.prepare_from_archive(expand_path(_ARCHIVE.value), data_dir,
                                            print_fn=cli.print_flush)
    splits = builder.info.splits
    print(f"{nyu_tfds.NAME} ready in {builder.data_dir}: train {splits['train'].num_examples} "
          f"frames, validation {splits['validation'].num_examples} frames, "
          f"{nyu_tfds.prepared_bytes(builder) / 1e9:.2f} GB of records", flush=True)

