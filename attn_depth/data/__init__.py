"""NYU Depth V2 (tfds, labeled .mat, DenseDepth's zip), procedural rooms, the paper's processing."""

from attn_depth.data.densedepth import densedepth_dataset
from attn_depth.data.frames import DataError
from attn_depth.data.nyu_labeled import nyu_labeled_dataset
from attn_depth.data.nyu_tfds import nyu_tfds_dataset
from attn_depth.data.pipeline import build_pipeline
from attn_depth.data.pipeline import count_frames
from attn_depth.data.pipeline import load_source
from attn_depth.data.pipeline import load_table
from attn_depth.data.preprocessing import augment
from attn_depth.data.preprocessing import preprocess_example
from attn_depth.data.preprocessing import valid_mask
from attn_depth.data.sources import FRAME_SOURCES
from attn_depth.data.sources import SOURCES
from attn_depth.data.sources import DatasetDescriptor
from attn_depth.data.sources import descriptor
from attn_depth.data.synthetic_rooms import synthetic_rooms_dataset
