"""Evaluation protocols: where the prediction is placed in the frame and which pixels count.

All start from NYU's 480x640 frames and differ in geometry, ground truth and averaging:

* `paper` (default; this project's reading for Table 1: the paper states no evaluation geometry,
  only its training one, which this protocol applies): the frame is resized to 312x416 and
  centre-cropped to 240x320, the network's output (120x160) is upsampled 2x bilinearly, and the
  metrics cover the crop (rows 55-425, cols 74-566 of the frame), against the ground truth
  resized (nearest) and cropped the same way.
* `eigen` (Eigen et al. 2014, for comparing with papers that use it): the whole frame is resized
  to 312x416 -- the scale the network was trained at -- and run through the fully convolutional
  network; the prediction is resized bilinearly to 480x640 and scored against the untouched
  ground truth inside Eigen's crop, rows 45:471, cols 41:601 -- BTS's evaluation: per-image
  means, predictions clipped to [1 mm, 10 m]; with the labeled .mat, `rawDepths` by default.
* `densedepth` (Alhashim & Wonka 2018, their `evaluate()`): the same whole-frame prediction,
  always averaged with the mirrored image's, scored inside rows 20-459, cols 24-615 (inclusive)
  with every pixel of the test set pooled, on the filled depth (`depths`), predictions clipped to
  [0.1, 10] m (DenseDepth's minDepth/maxDepth) and every pixel with depth kept, 10 m and beyond
  included (the filled depth has no holes); DenseDepth's `rel` divides by the prediction (its
  compute_errors receives the prediction as ground truth; the other metrics are symmetric), which
  this protocol reproduces so numbers compare with theirs.

* `photo` (not a published protocol: what attn-depth predict, the PLY, bokeh and the SavedModel
  give a user): the whole frame through the photo path (`DepthNetwork.depth_at_image_size` with
  the network's fit), scored on the whole frame, per image. The photo-fit benchmark compares
  fits with it.

Sizes follow the network (its training crop and resize), so reduced models keep the geometry.
Optional flip test-time augmentation averages the prediction with the mirrored prediction of the
mirrored image.
"""

import numpy as np
import tensorflow as tf

from attn_depth.data.preprocessing import clean_depth
from attn_depth.data.preprocessing import resize_and_crop_depth
from attn_depth.data.preprocessing import resize_and_crop_image
from attn_depth.data.preprocessing import PAPER_CROP
from attn_depth.data.preprocessing import PAPER_RESIZE

EIGEN_CROP = (45, 471, 41, 601)  # top, bottom, left, right in the 480x640 frame
DENSEDEPTH_CROP = (20, 460, 24, 616)  # DenseDepth's [20, 459, 24, 615], inclusive
PROTOCOLS = ("paper", "eigen", "densedepth", "photo")
# What each protocol averages over and how, and which labeled-.mat depth it scores against.
PROTOCOL_DEFAULTS = {
    "paper": {"mode": "image", "depth_key": "depths", "rel_denominator": "ground_truth"},
    "eigen": {"mode": "image", "depth_key": "rawDepths", "rel_denominator": "ground_truth"},
    "densedepth": {"mode": "pixel", "depth_key": "depths", "rel_denominator": "prediction",
                   "min_depth": 0.0, "max_depth": float("inf"), "prediction_range": (0.1, 10.0)},
    "photo": {"mode": "image", "depth_key": "depths", "rel_denominator": "ground_truth"},
}


def describe(protocol, network, flip=False):
  """The protocol in words, printed and stored with every result."""
  crop, resize = network.input_size, network.resize_size
  if protocol == "paper":
    text = (f"paper: frame -> {resize[0]}x{resize[1]} -> centre crop {crop[0]}x{crop[1]}; "
            f"prediction upsampled 2x bilinearly; ground truth resized (nearest) and cropped "
            f"alike")
  elif protocol == "eigen":
    top, bottom, left, right = EIGEN_CROP
    text = (f"eigen: whole frame -> {resize[0]}x{resize[1]}; prediction resized bilinearly to "
            f"the frame; Eigen crop rows {top}:{bottom}, cols {left}:{right} of the raw "
            f"ground truth")
  elif protocol == "densedepth":
    top, bottom, left, right = DENSEDEPTH_CROP
    text = (f"densedepth: whole frame -> {resize[0]}x{resize[1]}; prediction resized bilinearly "
            f"to the frame and averaged with the mirrored image's; rows {top}-{bottom - 1}, "
            f"cols {left}-{right - 1} of the ground truth, every pixel with depth; prediction "
            f"clipped to [0.1, 10] m; rel relative to the prediction, as DenseDepth computes it")
    flip = False  # part of the protocol, said above
  elif protocol == "photo":
    text = (f"photo: whole frame through the photo path (fit '{network.fit}': "
            + ("resized to the training frames' area" if network.fit == "whole" else
               f"squeezed to {crop[0]}x{crop[1]}")
            + "), depth resized back; the whole frame scored")
  else:
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
  return text + ("; flip test-time averaging" if flip else "")


def predict(network, images, flip=False):
  """network.network(images), optionally averaged with its flipped twin. [B, h, w]."""
  depth = network.network(images)
  if flip:
    mirrored = network.network(np.ascontiguousarray(np.asarray(images)[:, :, ::-1]))
    depth = 0.5 * (depth + mirrored[:, :, ::-1])
  return depth


def _resize(depth, size):
  """Bilinear resize of depth [B, h, w] to `size` (H, W)."""
  return tf.image.resize(np.asarray(depth, np.float32)[..., None], size,
                         method="bilinear").numpy()[..., 0]


def apply(protocol, network, images, depths, flip=False):
  """Frames uint8 [B, 480, 640, 3] and depth [B, 480, 640] -> (ground truth, prediction), both
  [B, h, w] over the pixels the protocol scores (invalid ground truth is 0)."""
  images = tf.convert_to_tensor(images)
  depths = tf.convert_to_tensor(depths, tf.float32)
  if protocol == "paper":
    inputs = resize_and_crop_image(images, network.resize_size, network.input_size)
    gt = resize_and_crop_depth(depths, network.resize_size, network.input_size)[..., 0]
    pred = _resize(predict(network, inputs.numpy(), flip), network.input_size)
    return gt.numpy(), pred
  if protocol in ("eigen", "densedepth"):
    frame_size = tuple(depths.shape[1:3])
    inputs = tf.image.resize(tf.image.convert_image_dtype(images, tf.float32),
                             network.resize_size, method="bilinear")
    flip = flip or protocol == "densedepth"
    pred = _resize(predict(network, inputs.numpy(), flip), frame_size)
    top, bottom, left, right = EIGEN_CROP if protocol == "eigen" else DENSEDEPTH_CROP
    gt = clean_depth(depths).numpy()
    return gt[:, top:bottom, left:right], pred[:, top:bottom, left:right]
  if protocol == "photo":
    pred = np.asarray(network.depth_at_image_size(images))
    if flip:
      mirrored = network.depth_at_image_size(tf.reverse(images, axis=[2]))
      pred = 0.5 * (pred + np.asarray(mirrored)[:, :, ::-1])
    return clean_depth(depths).numpy(), pred
  raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")


def apply_to_frame_predictions(protocol, predictions, depths, resize_size=PAPER_RESIZE,
                               input_size=PAPER_CROP):
  """Someone's predictions at the frames' own size, float [B, 480, 640] metres, and the frames'
  depth [B, 480, 640] -> (ground truth, prediction) over the pixels the protocol scores, as
  `apply` gives them for our network.

  paper: the prediction is brought to the evaluation's grid the way the frame is -- resized
  bilinearly to `resize_size` (312x416) and centre-cropped to `input_size` (240x320) -- and
  scored against the ground truth resized (nearest) and cropped alike. eigen and densedepth
  score the prediction at the frame's size inside their crops, photo on the whole frame. Test-time flipping is the
  prediction maker's to do (DenseDepth's protocol includes it; say so when reporting).
  """
  predictions = np.asarray(predictions, np.float32)
  depths = tf.convert_to_tensor(depths, tf.float32)
  if protocol == "paper":
    gt = resize_and_crop_depth(depths, resize_size, input_size)[..., 0].numpy()
    resized = _resize(predictions, resize_size)
    top = (resize_size[0] - input_size[0]) // 2
    left = (resize_size[1] - input_size[1]) // 2
    return gt, resized[:, top:top + input_size[0], left:left + input_size[1]]
  if protocol in ("eigen", "densedepth"):
    top, bottom, left, right = EIGEN_CROP if protocol == "eigen" else DENSEDEPTH_CROP
    gt = clean_depth(depths).numpy()
    return gt[:, top:bottom, left:right], predictions[:, top:bottom, left:right]
  if protocol == "photo":
    return clean_depth(depths).numpy(), predictions
  raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
