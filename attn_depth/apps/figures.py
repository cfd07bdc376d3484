"""The paper's Figures 3, 4, 5 and 7, regenerated from one or more of your runs (matplotlib).

- Fig. 3: RGB | ground truth | each run's prediction, one colour scale per row (the ground
  truth's range), at the paper's 240x320 crop.
- Fig. 4: rel against inference time per image (batch 1), measured here, beside the paper's own
  point (rel 0.127 at ~15 fps on a TITAN Xp) and the rel of the other methods quoted from its
  Table 1 (their times are in the paper's chart only, not its text: drawn as lines).
- Fig. 5: coloured point clouds (NYU toolbox back-projection) rendered from a viewpoint turned
  away from the camera's, by z-buffered splatting; ground truth beside each prediction.
- Fig. 7: bokeh rendered from each predicted depth beside bokeh from the ground truth.
"""

import dataclasses
import os
import time

import matplotlib
matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position
import numpy as np  # noqa: E402  pylint: disable=wrong-import-position

from attn_depth.core import files  # noqa: E402  pylint: disable=wrong-import-position
from attn_depth.core import visualization  # noqa: E402  pylint: disable=wrong-import-position
from attn_depth.apps import bokeh  # noqa: E402  pylint: disable=wrong-import-position
from attn_depth.apps import pointcloud  # noqa: E402  pylint: disable=wrong-import-position
from attn_depth.data.preprocessing import resize_and_crop_image  # noqa: E402  pylint: disable=wrong-import-position
from attn_depth.evaluation import protocols  # noqa: E402  pylint: disable=wrong-import-position

# Quoted from the paper: Table 1 (rel) and the text's "~15 fps" for its own network. Table 1's
# MS-CRF row is its 95K-image model; the paper's Fig. 4 compares with MS-CRF's small-training-set
# model, whose rel it does not quote, so the line is labelled with what it is.
PAPER_OURS = {"label": "paper: full R101 (TITAN Xp, ~15 fps)", "rel": 0.127, "seconds": 1 / 15}
PAPER_OTHERS_REL = {"Roy [36]": 0.187, "Liu [31]": 0.355, "MS-CRF [44], 95K images": 0.121,
                    "Eigen [9]": 0.158, "Laina [24]": 0.127, "Xu [45]": 0.125}


@dataclasses.dataclass
class RunPredictions:
  """One run's name and its predictions on the figure's frames at the 240x320 crop."""
  label: str
  network: object
  depths: np.ndarray = None  # [N, h, w] metres


@dataclasses.dataclass
class FigureFrames:
  """The frames shown: RGB crops (uint8 [N, h, w, 3]) and ground truth ([N, h, w] metres)."""
  images: np.ndarray
  depths: np.ndarray


def crop_frames(network, images, depths):
  """Frames (uint8 [N, 480, 640, 3], [N, 480, 640]) -> the paper protocol's crops and the
  network's predictions there."""
  gt, pred = protocols.apply("paper", network, images, depths)
  rgb = resize_and_crop_image(images, network.resize_size, network.input_size).numpy()
  return (np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8), gt), pred


def _depth_range(depth):
  valid = depth[np.isfinite(depth) & (depth > 0)]
  return (float(valid.min()), float(valid.max())) if valid.size else (0.0, 10.0)


def figure3(frames, runs, path):
  """Qualitative grid: a row per frame; RGB | ground truth | each run; shared colour scale."""
  columns = 2 + len(runs)
  rows = len(frames.images)
  fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.1 * rows), squeeze=False)
  for row in range(rows):
    low, high = _depth_range(frames.depths[row])
    panels = [("RGB", frames.images[row], None), ("ground truth", frames.depths[row], "d")]
    panels += [(run.label, run.depths[row], "d") for run in runs]
    for column, (title, picture, kind) in enumerate(panels):
      axis = axes[row, column]
      if kind:
        shown = np.ma.masked_where(~(picture > 0), picture)
        mappable = axis.imshow(shown, cmap=visualization.COLORMAP, vmin=low, vmax=high)
      else:
        axis.imshow(picture)
      axis.set_xticks([])
      axis.set_yticks([])
      if row == 0:
        axis.set_title(title, fontsize=8)
    fig.colorbar(mappable, ax=axes[row, -1], fraction=0.046, pad=0.02, label="m")
  fig.suptitle("Fig. 3: qualitative comparison (shared colour scale per row)", fontsize=9)
  _save(fig, path)
  plt.close(fig)
  return path


def seconds_per_image(network, repeats=5):
  """Median wall time of one forward pass at batch 1 on the network's input size, after one
  warm-up pass (tracing)."""
  image = np.random.default_rng(0).uniform(size=(1, *network.input_size, 3)).astype(np.float32)
  network.network(image)
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    network.network(image)
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def figure4(points, device, path):
  """rel against seconds per image: `points` is a list of {"label", "rel", "seconds"} measured
  on `device`; the paper's numbers are added, labelled as quoted."""
  fig, axis = plt.subplots(figsize=(6.4, 4.2))
  for point in points:
    axis.scatter(point["seconds"], point["rel"], s=40, zorder=3)
    axis.annotate(f"{point['label']} (here)", (point["seconds"], point["rel"]), fontsize=7,
                  xytext=(4, 4), textcoords="offset points")
  axis.scatter(PAPER_OURS["seconds"], PAPER_OURS["rel"], marker="*", s=120, color="black",
               zorder=3)
  axis.annotate(PAPER_OURS["label"] + ", quoted", (PAPER_OURS["seconds"], PAPER_OURS["rel"]),
                fontsize=7, xytext=(4, -10), textcoords="offset points")
  rels = [p["rel"] for p in points] + [PAPER_OURS["rel"]] + list(PAPER_OTHERS_REL.values())
  low, high = min(rels) - 0.02, max(rels) + 0.02
  axis.set_ylim(low, high)
  label_y = -1.0
  for name, rel in sorted(PAPER_OTHERS_REL.items(), key=lambda item: item[1]):
    axis.axhline(rel, color="grey", linestyle=":", linewidth=0.8)
    label_y = max(rel, label_y + 0.035 * (high - low))  # labels of close values stacked
    axis.annotate(f"{name} {rel:.3f}", xy=(1.0, rel), xycoords=("axes fraction", "data"),
                  xytext=(1.01, label_y), textcoords=("axes fraction", "data"), fontsize=6,
                  va="center", color="grey",
                  arrowprops={"arrowstyle": "-", "color": "grey", "linewidth": 0.5})
  seconds = [p["seconds"] for p in points] + [PAPER_OURS["seconds"]]
  axis.set_xscale("log")
  axis.set_xlim(min(seconds) / 2, max(seconds) * 2)
  axis.set_xlabel(f"seconds per image, batch 1 (ours measured on {device})")
  axis.set_ylabel("rel (lower is better)")
  axis.set_title("Fig. 4: accuracy and speed (dotted: rel quoted from the paper's Table 1; "
                 "their times are not in its text)", fontsize=8)
  _save(fig, path)
  plt.close(fig)
  return path


def crop_intrinsics(resize_size, input_size):
  """NYU's camera for the paper protocol's crop: scaled to `resize_size`, then centre-cropped
  to `input_size`."""
  scaled = pointcloud.Intrinsics.nyu_scaled(*resize_size)
  top, left = (resize_size[0] - input_size[0]) // 2, (resize_size[1] - input_size[1]) // 2
  return pointcloud.Intrinsics(scaled.fx, scaled.fy, scaled.cx - left, scaled.cy - top)


def render_points(points, colours, intrinsics, size, yaw_degrees=30.0, pitch_degrees=-15.0,
                  splat=2, background=255):
  """Points [N, 3] (camera coordinates, metres) seen by the same camera turned by `yaw` about
  the vertical axis and `pitch` about the horizontal one, around the cloud's median depth:
  uint8 [h, w, 3], the nearest point winning each pixel (z-buffer), each point a splat x splat
  square."""
  height, width = size
  canvas = np.full((height, width, 3), background, np.uint8)
  if not len(points):
    return canvas
  pivot = np.array([0.0, 0.0, float(np.median(points[:, 2]))])
  yaw, pitch = np.radians(yaw_degrees), np.radians(pitch_degrees)
  turn = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
  tilt = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
  seen = (points - pivot) @ (tilt @ turn).T + pivot
  z = seen[:, 2]
  ahead = z > 1e-3
  seen, z, colours = seen[ahead], z[ahead], colours[ahead]
  u = np.round(intrinsics.fx * seen[:, 0] / z + intrinsics.cx).astype(np.int64)
  v = np.round(intrinsics.fy * seen[:, 1] / z + intrinsics.cy).astype(np.int64)
  pixel, depth, colour = [], [], []
  for dv in range(splat):
    for du in range(splat):
      uu, vv = u + du, v + dv
      inside = (uu >= 0) & (uu < width) & (vv >= 0) & (vv < height)
      pixel.append(vv[inside] * width + uu[inside])
      depth.append(z[inside])
      colour.append(colours[inside])
  pixel, depth, colour = np.concatenate(pixel), np.concatenate(depth), np.concatenate(colour)
  order = np.lexsort((depth, pixel))  # by pixel, nearest first
  first = np.ones(order.size, bool)
  first[1:] = pixel[order][1:] != pixel[order][:-1]
  winners = order[first]
  canvas.reshape(-1, 3)[pixel[winners]] = colour[winners]
  return canvas


def _image_grid(panel_rows, title, path):
  """Saves a grid of RGB pictures: `panel_rows` is a list of rows of (title, uint8 image); the
  first row's titles label the columns."""
  rows, columns = len(panel_rows), len(panel_rows[0])
  fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.1 * rows), squeeze=False)
  for row, panels in enumerate(panel_rows):
    for column, (name, picture) in enumerate(panels):
      axes[row, column].imshow(picture)
      axes[row, column].set_xticks([])
      axes[row, column].set_yticks([])
      if row == 0:
        axes[row, column].set_title(name, fontsize=8)
  fig.suptitle(title, fontsize=9)
  _save(fig, path)
  plt.close(fig)
  return path


def figure5(frames, runs, intrinsics, path, yaw_degrees=30.0):
  """Point clouds of ground truth and each run, rendered from a turned viewpoint."""
  size = frames.depths.shape[1:3]
  panel_rows = []
  for row, image in enumerate(frames.images):
    panels = [("RGB", image)]
    for title, depth in [("ground truth", frames.depths[row])] + [
        (run.label, run.depths[row]) for run in runs]:
      points, colours = pointcloud.depth_to_points(depth, intrinsics, image)
      panels.append((title, render_points(points, colours, intrinsics, size, yaw_degrees)))
    panel_rows.append(panels)
  return _image_grid(panel_rows, f"Fig. 5: point clouds seen from {yaw_degrees:.0f} degrees to "
                     f"the side", path)


def figure7(frames, runs, path, aperture=8.0):
  """Bokeh from the ground truth beside bokeh from each run's depth, focused on the ground
  truth's depth at the image centre."""
  panel_rows = []
  for row, image in enumerate(frames.images):
    truth = frames.depths[row]
    focus = bokeh.focus_depth_at_centre(truth)
    filled = np.where(truth > 0, truth, np.median(truth[truth > 0]) if (truth > 0).any() else 1.0)
    panels = [("RGB", image), ("bokeh, ground-truth depth",
                               bokeh.render_bokeh(image, filled, focus, aperture))]
    panels += [(f"bokeh, {run.label}", bokeh.render_bokeh(image, run.depths[row], focus, aperture))
               for run in runs]
    panel_rows.append(panels)
  return _image_grid(panel_rows, f"Fig. 7: bokeh (focus at the centre's depth, aperture "
                     f"{aperture:g} px)", path)


def _save(fig, path):
  with files.replacing(path) as partial:  # the same extension: matplotlib picks PNG by it
    fig.savefig(partial, dpi=110, bbox_inches="tight")


def write_all(frames, runs, fig4_points, device, output_dir, intrinsics):
  """All four figures into `output_dir`; returns {name: path}."""
  os.makedirs(output_dir, exist_ok=True)
  return {
      "fig3": figure3(frames, runs, os.path.join(output_dir, "fig3_qualitative.png")),
      "fig4": figure4(fig4_points, device, os.path.join(output_dir, "fig4_accuracy_speed.png")),
      "fig5": figure5(frames, runs, intrinsics, os.path.join(output_dir, "fig5_point_clouds.png")),
      "fig7": figure7(frames, runs, os.path.join(output_dir, "fig7_bokeh.png")),
  }
