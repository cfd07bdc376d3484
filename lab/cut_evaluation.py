"""The consistent video mode on edited footage (`attn_depth.data.cut_footage`): does it carry
depth across a shot change, does it see cuts that are not there?

Per clip, both modes (per-frame, `stabilizer.stabilize_clip`) of the same per-frame
predictions: rel of the first two frames after the cut, the temporal error over the clip (pairs
across a cut left out), and the shot changes each direction's stabiliser detected. Predictions
come from a network or from `stand_in_predictions` (the true depth with errors of a network's
kind, drawn afresh each frame), which needs no trained model.

  python -m lab.cut_evaluation [clips per kind] [seed] [fresh|steady|model]
"""

import sys
import time

import numpy as np

from attn_depth.apps import sequences
from attn_depth.apps import stabilizer
from attn_depth.data import cut_footage


def stand_in_predictions(depths, seed):
  """A stand-in for a network's per-frame predictions of true depths [T, H, W]: a tilted
  log-depth plane and a scale error, and blocky local errors, drawn afresh each frame."""
  rng = np.random.default_rng(seed)
  frames, height, width = depths.shape
  rows, cols = np.mgrid[0:height, 0:width] / width
  predicted = []
  for t in range(frames):
    tilt_x, tilt_y, scale = rng.normal(0, 0.15), rng.normal(0, 0.15), rng.normal(0, 0.06)
    blocks = np.kron(rng.normal(0, 0.04, (height // 8 + 1, width // 8 + 1)), np.ones((8, 8)))
    predicted.append(depths[t] * np.exp(tilt_x * (cols - 0.5) + tilt_y * (rows - 0.4) + scale
                                        + blocks[:height, :width]))
  return np.stack(predicted).astype(np.float32)


def steady_stand_in_predictions(depths, seed):
  """Predictions of true depths [T, H, W] whose errors are the same every frame (a tilt, a
  scale, blocky local errors) with 1 % fresh noise: a network consistent over time, where
  fusing gains little and a ghost of the previous shot is pure loss (with errors drawn afresh
  each frame, averaging in anything, even the wrong shot's depth, hides the ghost)."""
  rng = np.random.default_rng(seed)
  _, height, width = depths.shape
  cols = np.mgrid[0:height, 0:width][1] / width
  blocks = np.kron(rng.normal(0, 0.04, (height // 8 + 1, width // 8 + 1)), np.ones((8, 8)))
  fixed = 0.15 * (cols - 0.5) + 0.05 + blocks[:height, :width]
  return np.stack([d * np.exp(fixed + rng.normal(0, 0.01)) for d in depths]).astype(np.float32)


def detections(forward, backward, num_frames):
  """Boundaries (i: between frames i - 1 and i) where either direction reset its past."""
  found = {int(i) for i in forward.detected}
  found |= {num_frames - int(i) for i in backward.detected}  # reversed frame i: boundary T - i
  return sorted(found)


def evaluate_clip(clip, predictions, **settings):
  """{"kind", "rel_after": (per-frame, consistent) mean rel of frames cut and cut + 1,
  "temporal": (per-frame, consistent) mean temporal error, "rel": (per-frame, consistent),
  "detected": boundaries, "hits", "misses", "false_alarms"}."""
  forward = stabilizer.TemporalStabilizer(**settings)
  backward = stabilizer.TemporalStabilizer(**settings)
  fused = stabilizer.stabilize_clip(clip["images"], predictions, forward, backward)
  found = detections(forward, backward, len(predictions))
  per_frame = sequences.evaluate_flythrough(predictions, clip)
  consistent = sequences.evaluate_flythrough(fused, clip)
  hits = sum(any(first <= b <= last for b in found) for first, last in clip["changes"])
  false_alarms = sum(not any(first <= b <= last for first, last in clip["changes"])
                     for b in found)
  after = [i for c in clip["cuts"] for i in (c, c + 1) if i < len(predictions)]
  return {"kind": clip["kind"], "detected": found, "hits": hits,
          "misses": len(clip["changes"]) - hits, "false_alarms": false_alarms,
          "rel_after": (float(np.mean(per_frame["rel"][after])) if after else np.nan,
                        float(np.mean(consistent["rel"][after])) if after else np.nan),
          "temporal": (float(np.nanmean(per_frame["temporal"])),
                       float(np.nanmean(consistent["temporal"]))),
          "rel": (float(np.mean(per_frame["rel"])), float(np.mean(consistent["rel"])))}


def summarise(results):
  """Per kind: rel-after-cut ratio (consistent / per-frame of the means), temporal and rel
  ratios, cuts detected / present, false alarms, clips."""
  table = {}
  for kind in dict.fromkeys(r["kind"] for r in results):
    mine = [r for r in results if r["kind"] == kind]

    def ratio(key, mine=mine):
      return float(np.mean([r[key][1] for r in mine]) / np.mean([r[key][0] for r in mine]))

    table[kind] = {"rel_after_cut": ratio("rel_after") if kind in cut_footage.CUT_KINDS
                                    else np.nan,
                   "temporal": ratio("temporal"), "rel": ratio("rel"),
                   "detected": sum(r["hits"] for r in mine),
                   "cuts": sum(r["hits"] + r["misses"] for r in mine),
                   "false_alarms": sum(r["false_alarms"] for r in mine), "clips": len(mine)}
  return table


def evaluate_set(seed, clips_per_kind, predict=None, **settings):
  """(`summarise`d results, per-clip results) on the clip set `seed`; `predict(depths, images,
  index)` gives the per-frame predictions (default: `stand_in_predictions`); `settings`: the
  `TemporalStabilizer`'s."""
  results = []
  for index, clip in enumerate(cut_footage.clip_set(seed, clips_per_kind)):
    predictions = (predict(clip["depths"], clip["images"], index) if predict
                   else stand_in_predictions(clip["depths"], [seed, index]))
    results.append(evaluate_clip(clip, predictions, **settings))
  return summarise(results), results


def predictor(name):
  """`predict` for `evaluate_set`: "fresh" (`stand_in_predictions`), "steady"
  (`steady_stand_in_predictions`) or a model (a run folder, checkpoint or export)."""
  if name in ("fresh", "steady"):
    made = stand_in_predictions if name == "fresh" else steady_stand_in_predictions
    return lambda depths, images, index: made(depths, index)
  from attn_depth.serving import inference  # pylint: disable=import-outside-toplevel
  network = inference.load_network(name)
  return lambda depths, images, index: np.concatenate(
      [network.depth_at_image_size(images[i:i + 8]) for i in range(0, len(images), 8)])


def markdown(table):
  lines = ["| clip kind | rel, 2 frames after the cut | cuts detected | false alarms | "
           "temporal error | rel |", "|---|---:|---:|---:|---:|---:|"]
  for kind, row in table.items():
    after = "—" if np.isnan(row["rel_after_cut"]) else f"{row['rel_after_cut']:.3f}"
    lines.append(f"| {kind} | {after} | {row['detected']}/{row['cuts']} | "
                 f"{row['false_alarms']} | {row['temporal']:.3f} | {row['rel']:.3f} |")
  return "\n".join(lines)


if __name__ == "__main__":
  started = time.time()
  count = int(sys.argv[1]) if len(sys.argv) > 1 else 6
  chosen = int(sys.argv[2]) if len(sys.argv) > 2 else cut_footage.HELD_OUT_SEED
  print(markdown(evaluate_set(chosen, count, predictor(sys.argv[3] if len(sys.argv) > 3
                                                        else "steady"))[0]))
  print(f"({time.time() - started:.0f} s)")
