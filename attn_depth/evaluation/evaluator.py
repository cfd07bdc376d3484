"""The one implementation of evaluating depth on a test set under a named protocol.

Shaped after Orbit's StandardEvaluator: an `Evaluator` is configured once with *how* to
evaluate (protocol, averaging, flip, detail metrics, batch size, a frame limit) and `run` loops
over the frames; what happens to one batch -- where the prediction is placed in the frame and
which ground-truth pixels count -- is the protocol's (`protocols.apply`). Everything that scores
depth goes through it: training's periodic and final evaluations, the constant-depth baseline,
attn-depth evaluate (for a network or a folder of anyone's predictions), attn-depth figures and the
photo-fit benchmark. Results have one shape and one report format (`evaluation.reports`).
"""

import numpy as np
import tensorflow as tf

from attn_depth.models import network as network_lib
from attn_depth.data.frame_tables import FrameTable
from attn_depth.evaluation import protocols
from attn_depth.evaluation import reports
from attn_depth.evaluation.boundary import BoundaryMetricsAccumulator
from attn_depth.evaluation.metrics import DepthMetricsAccumulator


class Evaluator:
  """Metrics of a network (or of saved predictions) on unprocessed test frames.

  Args:
    protocol: "paper" (Table 1), "eigen" or "densedepth" (see `protocols`).
    mode: "image" (mean of per-image metrics) or "pixel" (all pixels pooled); default the
      protocol's.
    flip: average with the mirrored prediction of the mirrored image.
    boundary: also compute the detail metrics (iBims-1 ε_acc / ε_comp, Hu et al.'s edge F1).
    batch_size: frames per forward pass.
    max_images: evaluate only the first N frames.
    depth_key: which labeled-.mat depth the frames hold (reports only; default the protocol's).
  """

  def __init__(self, protocol="paper", mode=None, flip=False, boundary=True, batch_size=4,
               max_images=None, depth_key=None):
    if protocol not in protocols.PROTOCOLS:
      raise ValueError(f"unknown protocol {protocol!r}; choose one of {protocols.PROTOCOLS}")
    defaults = protocols.PROTOCOL_DEFAULTS[protocol]
    if mode not in (None, "image", "pixel"):
      raise ValueError(f"mode must be 'image' or 'pixel', got {mode!r}")
    self.protocol, self.flip, self.boundary = protocol, flip, boundary
    self.mode = mode or defaults["mode"]
    self.mode_given = mode
    self.batch_size, self.max_images = max(int(batch_size), 1), max_images
    self.depth_key = depth_key or defaults["depth_key"]
    self.rel_denominator = defaults["rel_denominator"]

  def describe(self, network):
    """The protocol in words (sizes from `network`), as printed and stored with results."""
    return protocols.describe(self.protocol, network, self.flip)

  def run(self, network, frames, progress=None):
    """Scores `network` (a `models.network.DepthNetwork`) on `frames`: a `FrameTable`
    (data.load_table) or a dataset of {"image": uint8 [H, W, 3], "depth": [H, W] metres} in the
    test set's order, through the protocol. `progress(done)` after each batch.

    Returns {"images", "metrics", "mode", "ground_truth_holes"}; with the detail metrics,
    "boundary" and "boundary_images" (per-image means over the images where each is defined);
    from a FrameTable, "skipped_frames": {"count", "frames"} (the frames that could not be read,
    so that a result never silently covers fewer frames than the test set).
    ground_truth_holes is the fraction of frame pixels without depth.
    """

    def score_batch(_, batch, __):
      return protocols.apply(self.protocol, network, batch["image"], batch["depth"], self.flip)

    return self._score(frames, score_batch, progress)

  def run_predictions(self, predictions, frames, progress=None):
    """Scores saved depth, one file per frame (a `predictions.FramePredictions`), on `frames`
    as `run` does a network: the protocol's crop and clipping, no flip; at the end the folder
    is checked for files no frame used. Returns what `run` returns."""
    if self.flip:
      raise ValueError("saved predictions cannot be flipped; average mirrored predictions "
                       "before saving them")

    def score_batch(start, _, raw):
      predicted = predictions.frame_depths(start, raw.shape[0], raw.shape[1:3])
      return protocols.apply_to_frame_predictions(self.protocol, predicted, raw)

    return self._score(frames, score_batch, progress, finish=predictions.check_all_used)

  def _score(self, frames, score_batch, progress, finish=None):
    """The loop of `run` and `run_predictions`: `score_batch(first frame, batch, raw depth)`
    -> (ground truth, prediction) as the protocol compares them."""
    table = frames if isinstance(frames, FrameTable) else None
    if table is not None:
      frames = table.frames()
    ranges = {key: value for key, value in protocols.PROTOCOL_DEFAULTS[self.protocol].items()
              if key in ("min_depth", "max_depth", "prediction_range")}
    depth_accumulator = DepthMetricsAccumulator(mode=self.mode,
                                                rel_denominator=self.rel_denominator, **ranges)
    boundary_accumulator = BoundaryMetricsAccumulator() if self.boundary else None
    if self.max_images is not None:
      frames = frames.take(self.max_images)
    images_seen, holes, pixels = 0, 0, 0
    for batch in frames.batch(self.batch_size):
      raw = batch["depth"].numpy()
      holes += int(np.sum(~(np.isfinite(raw) & (raw > 0))))
      pixels += raw.size
      gt, pred = score_batch(images_seen, batch, raw)
      depth_accumulator.add(gt, pred)
      if boundary_accumulator:
        boundary_accumulator.add(gt, pred)
      images_seen += gt.shape[0]
      if progress:
        progress(images_seen)
    if finish:
      finish(images_seen)
    result = {"images": images_seen, "metrics": depth_accumulator.result(), "mode": self.mode,
              "ground_truth_holes": holes / max(pixels, 1)}
    if table is not None:
      result["skipped_frames"] = skipped_frames(table, images_seen, self.max_images)
    if boundary_accumulator:
      result["boundary"] = boundary_accumulator.result()
      result["boundary_images"] = boundary_accumulator.counts
    return result

  def report(self, network, result, source, **extra):
    """The result with everything needed to reproduce it (one schema for every result)."""
    return reports.build_report(network, result, source, self.protocol, self.mode_given,
                                self.flip, self.depth_key, self.max_images, **extra)

  def result_name(self, source, saved_model=False, predictions=False, precision="float32"):
    """The report's file stem: source, protocol and the settings that differ from its
    defaults."""
    return reports.result_name(source, self.protocol, self.flip, self.mode_given,
                               self.depth_key, self.max_images, saved_model, predictions,
                               self.boundary, precision)


def skipped_frames(table, images_seen, max_images=None):
  """{"count", "frames"}: the frames of `table` a run over it did not score. Named where the
  table knows them (unreadable files); records tf.data could not decode are counted from what
  is missing (whole runs only)."""
  named = [where for _, where in table.skipped()]
  count = len(named)
  if max_images is None:
    count = max(count, len(table) - images_seen)
  return {"count": count, "frames": named}


def constant_depth_network(value, like):
  """A network that predicts `value` metres everywhere, fed like `like` (a DepthNetwork): the
  bar a model must clear, scored by the same Evaluator as the model."""

  def network_fn(images):
    shape = tf.shape(images)
    return tf.fill(tf.stack([shape[0], shape[1] // 2, shape[2] // 2]), float(value))

  return network_lib.DepthNetwork(network_fn, like.input_size, f"constant {value:.2f} m",
                                config={"constant_depth_m": float(value)},
                                resize_size=like.resize_size, backend="constant")


def median_depth(batches, max_batches=50):
  """Median valid depth of the first (image, depth) batches of a preprocessed pipeline: the
  best constant under the log-L1 loss."""
  values = []
  for index, (_, depths) in enumerate(batches):
    if index >= max_batches:
      break
    depths = depths.numpy()
    values.append(depths[np.isfinite(depths) & (depths > 0)])
  return float(np.median(np.concatenate(values))) if values else 1.0
