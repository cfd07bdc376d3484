"""Temporal evaluation of a network on sequences with known geometry (fly-throughs, static
noisy views): per-frame accuracy and frame-to-frame consistency, per-frame and stabilised."""

import numpy as np

from attn_depth.core import files
from attn_depth.apps import stabilizer
from attn_depth.evaluation import temporal
from attn_depth.evaluation.metrics import depth_metrics


MODES = ("per_frame", "consistent")


def predict_modes(network, images, batch_size=8):
  """{mode: depth [T, H, W]} of frames [T, H, W, 3] through the photo path
  (`depth_at_image_size`): each frame on its own (the paper's network), and the same predictions
  fused over the clip (`stabilizer.stabilize_clip`); the network runs once."""
  depths = np.concatenate([network.depth_at_image_size(images[i:i + batch_size])
                           for i in range(0, len(images), batch_size)])
  return {"per_frame": depths, "consistent": stabilizer.stabilize_clip(images, depths)}


def _half_resolution(preds, sequence):
  return preds[:, ::2, ::2], np.asarray(sequence["depths"])[:, ::2, ::2]


def evaluate_flythrough(preds, sequence, tolerance=0.01):
  """Per frame: rel (whole frame, at half resolution); per consecutive pair: the reprojection
  error of the predictions [T, H, W] and of the ground truth (the floor); NaN for a pair
  across a cut (`sequence["cuts"]`: first frames of new shots)."""
  preds, gts = _half_resolution(preds, sequence)
  intrinsics = temporal.half_resolution(sequence["intrinsics"])
  errors, floor, matched = temporal.sequence_errors(preds, gts, sequence["poses"], intrinsics,
                                                    tolerance)
  for cut in np.asarray(sequence.get("cuts", ()), np.int64):  # a new shot: nothing to carry
    errors[cut - 1] = floor[cut - 1] = matched[cut - 1] = np.nan
  rel = np.array([depth_metrics(g, p)["rel"] for g, p in zip(gts, preds)])
  return {"rel": rel, "temporal": errors, "floor": floor, "matched": matched}


def evaluate_static(preds, sequence):
  """Flicker of predictions [T, H, W] of one static view seen with photometric noise, and
  their rel."""
  preds, gts = _half_resolution(preds, sequence)
  rel = np.array([depth_metrics(g, p)["rel"] for g, p in zip(gts, preds)])
  return {"flicker": temporal.flicker(preds), "rel": rel}


def summarise(flythroughs, statics):
  """Means over sequences of the per-frame numbers."""
  def mean(key, results):
    values = np.concatenate([np.atleast_1d(r[key]) for r in results]) if results else []
    return float(np.nanmean(values)) if len(values) else float("nan")
  return {"rel": mean("rel", flythroughs), "temporal_error": mean("temporal", flythroughs),
          "temporal_error_floor": mean("floor", flythroughs),
          "covisible_fraction": mean("matched", flythroughs),
          "flicker": mean("flicker", statics), "static_rel": mean("rel", statics),
          "sequences": len(flythroughs), "static_sequences": len(statics)}


def evaluate_sequences(network, flythroughs, statics, progress=None):
  """Both modes on every sequence: {"per_frame": summary, "consistent": summary, "curves":
  per-pair temporal error and per-frame rel of each mode, averaged over the fly-throughs}."""
  results = {mode: ([], []) for mode in MODES}
  done = 0
  for kind, (group, evaluate) in enumerate(((flythroughs, evaluate_flythrough),
                                            (statics, evaluate_static))):
    for sequence in group:
      for mode, preds in predict_modes(network, sequence["images"]).items():
        results[mode][kind].append(evaluate(preds, sequence))
      done += 1
      if progress:
        progress(done)
  report = {mode: summarise(*results[mode]) for mode in MODES}
  report["curves"] = {mode: {"temporal": np.nanmean([r["temporal"] for r in results[mode][0]],
                                                    axis=0).tolist(),
                             "rel": np.nanmean([r["rel"] for r in results[mode][0]],
                                               axis=0).tolist()}
                      for mode in MODES if results[mode][0]}
  per_frame, consistent = report["per_frame"], report["consistent"]
  report["ratios"] = {
      "temporal_error": consistent["temporal_error"] / per_frame["temporal_error"],
      "flicker": consistent["flicker"] / per_frame["flicker"],
      "rel": consistent["rel"] / per_frame["rel"]}
  return report


def plot_curves(report, path, title):
  """Per-frame plot: temporal error of each consecutive pair and rel of each frame, both
  modes (matplotlib)."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.2), sharex=True)
  for mode, style in zip(MODES, ("-o", "-s")):
    curve = report["curves"][mode]
    label = "per-frame (paper)" if mode == "per_frame" else "consistent"
    top.plot(np.arange(1, len(curve["temporal"]) + 1), curve["temporal"], style, markersize=3,
             label=label)
    bottom.plot(np.arange(len(curve["rel"])), curve["rel"], style, markersize=3, label=label)
  top.set_ylabel("reprojection error\n|z' - d| / d, frame t -> t+1")
  bottom.set_ylabel("rel")
  bottom.set_xlabel("frame")
  top.legend(fontsize=8)
  top.set_title(title, fontsize=9)
  with files.replacing(path) as partial:  # the same extension: matplotlib picks PNG by it
    fig.savefig(partial, dpi=110, bbox_inches="tight")
  plt.close(fig)
  return path


def temporal_report(network, result, settings):
  """What a temporal evaluation needs to be reproduced, with its numbers."""
  return {"model": network.source, "step": network.step, "config": network.config,
          "source": "synthetic_flythroughs", "protocol": "temporal",
          "sequence_settings": settings, "precision": network.precision,
          "protocol_description": (
              "whole frames through the photo path (fit 'whole'); metrics at half resolution "
              "(every second row and column); temporal error: predicted depth of frame t carried "
              "into frame t+1 by the true relative pose, |z' - d| / d over pixels co-visible "
              "and unoccluded by the ground truth (1% tolerance); flicker: std / mean over time "
              "per pixel of a static view with photometric noise; consistent mode: "
              "attn_depth.apps.stabilizer.stabilize_clip"),
          **result}


def markdown_rows(report):
  """The two modes side by side, and their ratios."""
  lines = ["| mode | rel | temporal error | flicker |", "|---|---:|---:|---:|"]
  for mode in MODES:
    r = report[mode]
    lines.append(f"| {mode.replace('_', '-')} | {r['rel']:.4f} | {r['temporal_error']:.4f} | "
                 f"{r['flicker']:.4f} |")
  ratio = report["ratios"]
  lines.append(f"| consistent / per-frame | {ratio['rel']:.3f} | {ratio['temporal_error']:.3f} | "
               f"{ratio['flicker']:.3f} |")
  lines.append(f"\nground truth's own temporal error (the floor): "
               f"{report['per_frame']['temporal_error_floor']:.2e}; co-visible pixels per pair: "
               f"{report['per_frame']['covisible_fraction']:.0%}")
  return "\n".join(lines)
