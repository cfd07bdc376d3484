"""The consistent video mode on edited footage (`attn_depth.data.cut_footage`): cuts found where
they are and nowhere else, and no depth carried across them. Clips of the held-out set (seed
41): the rule's weights and threshold were chosen on seed 40, which shares no room and no motion
with it."""

import numpy as np

from lab import cut_evaluation
from attn_depth.apps import sequences
from attn_depth.apps import stabilizer
from attn_depth.data import cut_footage


def _held_out(kind, num_frames=12):
  return cut_footage.render_clip([cut_footage.HELD_OUT_SEED, 0], kind, num_frames)


def _fused(clip, predictions):
  forward, backward = stabilizer.TemporalStabilizer(), stabilizer.TemporalStabilizer()
  fused = stabilizer.stabilize_clip(clip["images"], predictions, forward, backward)
  return fused, forward, backward


def test_cuts_of_every_kind_are_found_where_they_are_and_not_in_uncut_shots():
  """Each hard cut (similar and different rooms, a distant viewpoint in the same room, during
  slow and fast motion) found by both directions at its frame and nowhere else, a dissolve
  somewhere inside it; no cut in a long slow or fast uncut shot."""
  for kind in cut_footage.KINDS:
    clip = _held_out(kind, 24 if kind in cut_footage.UNCUT_KINDS else 12)
    _, forward, backward = _fused(clip, cut_evaluation.stand_in_predictions(clip["depths"], 0))
    count = len(clip["images"])
    # Boundary i lies between frames i - 1 and i; the backward pass meets it at frame T - i.
    for direction, found in (("forward", getattr(forward, "detected", [])),
                             ("backward", [count - i for i in getattr(backward, "detected", [])])):
      for first, last in clip["changes"]:
        assert any(first <= i <= last for i in found), (kind, direction, found)
      assert all(any(first <= i <= last for first, last in clip["changes"]) for i in found), (
          kind, direction, found)


def test_no_depth_is_carried_across_a_cut():
  """Every cut kind, a dissolve too: rel of the two frames after the cut at most 2 % worse
  than per-frame prediction, for a network whose errors are steady over time (before the rule:
  31 % worse after a cut between similar rooms during fast motion, 15 % between different
  rooms, 12 % to a distant viewpoint of the same room, 54 % after a dissolve)."""
  ratios = {}
  for kind in cut_footage.CUT_KINDS:
    clip = _held_out(kind)
    predictions = cut_evaluation.steady_stand_in_predictions(clip["depths"], 0)
    fused, _, _ = _fused(clip, predictions)
    after = [int(c) + k for c in clip["cuts"] for k in (0, 1)]
    per_frame = sequences.evaluate_flythrough(predictions, clip)["rel"][after].mean()
    ratios[kind] = sequences.evaluate_flythrough(fused, clip)["rel"][after].mean() / per_frame
  assert max(ratios.values()) <= 1.02, ratios
