"""Running a model over an evaluation pipeline (paper protocol: prediction upsampled 2x)."""

import time

import numpy as np
import tensorflow as tf

from attn_depth.evaluation.metrics import DepthMetricsAccumulator


def upsample_to(pred, shape):
  """Bilinear resize of [B, h, w, 1] predictions to `shape` (H, W)."""
  return tf.image.resize(pred, shape, method="bilinear")


def traced_inference(model):
  """`model(images, training=False)` as one traced graph. Called eagerly, a Keras functional
  model keeps every intermediate map alive until its output (7 GB for the full ResNet-101 model
  on 3 images at 240x320); the graph frees each one as soon as it is used."""
  return tf.function(lambda images: model(images, training=False), reduce_retracing=True)


def evaluate_model(model, dataset, mode="image", max_batches=None, progress=None,
                   predict=None):
  """Table-1 metrics of `model` on (image, depth) batches.

  Returns (metrics dict, number of images). `progress(done)` is called after each batch.
  `predict`: the model's traced inference, if the caller already has one.
  """
  accumulator = DepthMetricsAccumulator(mode=mode)
  predict = predict or traced_inference(model)
  images_seen = 0
  for index, (images, depths) in enumerate(dataset):
    if max_batches is not None and index >= max_batches:
      break
    pred = upsample_to(predict(images), tf.shape(depths)[1:3])
    accumulator.add(depths.numpy(), pred.numpy())
    images_seen += int(images.shape[0])
    if progress:
      progress(images_seen)
  return accumulator.result(), images_seen


def constant_depth_metrics(dataset, value, mode="image", max_batches=None):
  """Metrics of the constant predictor `value` metres: the bar a model must clear."""
  accumulator = DepthMetricsAccumulator(mode=mode)
  for index, (_, depths) in enumerate(dataset):
    if max_batches is not None and index >= max_batches:
      break
    depths = depths.numpy()
    accumulator.add(depths, np.full_like(depths, value))
  return accumulator.result()


def median_depth(dataset, max_batches=50):
  """Median valid depth of the first batches: the best constant under the log-L1 loss."""
  values = []
  for index, (_, depths) in enumerate(dataset):
    if index >= max_batches:
      break
    depths = depths.numpy()
    values.append(depths[np.isfinite(depths) & (depths > 0)])
  return float(np.median(np.concatenate(values))) if values else 1.0


class Progress:
  """A one-line console progress report with rate and ETA, at most every `every_s` seconds."""

  def __init__(self, total, label, unit="images", every_s=5.0, print_fn=print):
    self.total, self.label, self.unit, self.every_s = total, label, unit, every_s
    self.print_fn = print_fn
    self.start = self.last = time.perf_counter()

  def __call__(self, done):
    now = time.perf_counter()
    if now - self.last < self.every_s and done < (self.total or float("inf")):
      return
    self.last = now
    rate = done / max(now - self.start, 1e-9)
    if self.total:
      eta = (self.total - done) / max(rate, 1e-9)
      self.print_fn(f"{self.label}: {done}/{self.total} {self.unit}, {rate:.1f}/s, "
                    f"ETA {format_duration(eta)}")
    else:
      self.print_fn(f"{self.label}: {done} {self.unit}, {rate:.1f}/s")


def format_duration(seconds):
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"
