"""Which frame trains at which step: a pure function of (seed, step), so a resumed run reads
exactly the batches the uninterrupted run would have read, and the checkpoint keeps nothing of
the input pipeline but the global step.

Training examples are numbered by a global position p = step * global_batch + slot. Epoch
e = p // n (n frames) visits every frame once, in the permutation of the n frames keyed by
(seed, e) (`tf.random.experimental.index_shuffle`: computed per index, never materialised).
Under tf.distribute, input pipeline i of k takes, at every step, the slots
[i * B / k, (i + 1) * B / k) of the global batch B: the shards are disjoint and together cover
every epoch. Augmentation is keyed by (seed, p) as well.
"""

import tensorflow as tf


def frame_at(positions, num_frames, seed):
  """Frame index trained at global position(s) `positions` (int64)."""
  positions = tf.cast(positions, tf.int64)
  if positions.shape.rank:
    return tf.map_fn(lambda p: frame_at(p, num_frames, seed), positions)
  n = tf.constant(int(num_frames), tf.int64)
  epoch, within = positions // n, positions % n
  return tf.random.experimental.index_shuffle(
      within, seed=tf.stack([tf.cast(seed, tf.int64), epoch]), max_index=n - 1)


def pipeline_positions(start_step, global_batch, pipelines=1, pipeline_id=0):
  """Global positions that input pipeline `pipeline_id` of `pipelines` reads, in order, from
  step `start_step` on (an endless dataset of int64)."""
  if global_batch % pipelines:
    raise ValueError(f"global batch {global_batch} does not split over {pipelines} pipelines")
  per_pipeline = global_batch // pipelines
  first = int(start_step) * per_pipeline

  def position(local):
    step, slot = local // per_pipeline, local % per_pipeline
    return step * global_batch + pipeline_id * per_pipeline + slot

  return tf.data.Dataset.range(first, tf.int64.max).map(position)
