"""Video in, depth video out: round trip, tools/predict.py on a clip and on a folder of frames,
a bad video in one line, and tools/evaluate.py on fly-throughs."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from attn_depth.apps import video
from attn_depth.data import synthetic_rooms
from tests.apps.browser import assert_plays_in_a_browser
from tests.apps.browser import video_in_browser
from tests.conftest import run_tool

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)


def _frames(count=5, size=(96, 128)):
  return [synthetic_rooms.render([3, i], *size)[0] for i in range(count)]


def _write_clip(path, frames, fps=8):
  writer = video.VideoWriter(str(path), fps, frames[0].shape[:2])
  for frame in frames:
    writer.write(frame)
  writer.close()


def test_video_round_trip(tmp_path):
  frames = _frames()
  _write_clip(tmp_path / "clip.mp4", frames)
  count, fps, size = video.video_info(str(tmp_path / "clip.mp4"))
  assert (count, fps, size) == (5, 8.0, (96, 128))
  back = list(video.read_frames(str(tmp_path / "clip.mp4")))
  assert len(back) == 5
  for original, decoded in zip(frames, back):
    assert np.abs(original.astype(int) - decoded).mean() < 8  # lossy, but the same pictures


def test_a_broken_video_is_one_line(tmp_path):
  (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
  with pytest.raises(video.VideoError, match="broken.mp4: not a readable video"):
    list(video.read_frames(str(tmp_path / "broken.mp4")))


def test_predict_tool_on_a_clip_a_folder_of_frames_and_a_broken_file(run_dir, tmp_path):
  frames = _frames()
  _write_clip(tmp_path / "clip.mp4", frames)
  (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
  folder = tmp_path / "frames"
  folder.mkdir()
  for index, frame in enumerate(frames):  # natural order: frame2 before frame10
    Image.fromarray(frame).save(folder / f"frame{index * 4}.png")
  out = tmp_path / "out"
  result = run_tool("predict", f"--model={run_dir}", "--consistent", "--sequence",
                    f"--output_dir={out}", str(tmp_path / "clip.mp4"),
                    str(tmp_path / "broken.mp4"), str(folder))
  assert result.returncode == 1, result.stderr[-3000:]  # one input failed: the exit code says so
  assert "skipped " in result.stdout and "broken.mp4: not a readable video" in result.stdout
  assert result.stderr.strip().splitlines()[1:] == [  # no FFmpeg/OpenCV line
      "predict: error: 1 of 3 input(s) failed (each named above); the others were written"]
  assert "trained only on procedural rooms" in result.stderr.splitlines()[0]  # the tiny run
  for name in ("clip", "frames"):
    depths = sorted(os.listdir(out / name))
    assert len([d for d in depths if d.endswith(".npy")]) == 5
    assert len([d for d in depths if d.startswith("depth_mm_")]) == 5
    depth = np.load(out / name / "depth_00000.npy")
    assert depth.shape == (96, 128) and np.all(depth > 0)
    count, _, size = video.video_info(str(out / f"{name}_depth.webm"))
    assert count == 5 and size == (96, 256)  # RGB | depth side by side
  assert "ETA" in result.stdout
  # The folder's frames in natural order: its first depth video frame shows frame0.
  first = next(video.read_frames(str(out / "frames_depth.webm")))
  # Both videos play in a browser (a folder of frames has no frame rate: 10 fps).
  assert_plays_in_a_browser(out / "clip_depth.webm", width=256, frames=5, fps=8)
  assert_plays_in_a_browser(out / "frames_depth.webm", width=256, frames=5, fps=10)
  assert np.abs(first[:, :128].astype(int) - frames[0]).mean() < 8
  # A second run keeps the first one's outputs.
  again = run_tool("predict", f"--model={run_dir}", f"--output_dir={out}",
                   str(tmp_path / "clip.mp4"))
  assert again.returncode == 0 and os.path.isdir(out / "clip_2")


def test_evaluate_tool_on_fly_throughs(run_dir, tmp_path):
  out = tmp_path / "temporal.json"
  result = run_tool(
      "evaluate", f"--model={run_dir}", "--source=synthetic_flythroughs", f"--output={out}",
      "--gin_bindings=synthetic_flythroughs_source.num_sequences = 1",
      "--gin_bindings=synthetic_flythroughs_source.num_frames = 3",
      "--gin_bindings=synthetic_flythroughs_source.num_static = 1",
      "--gin_bindings=synthetic_flythroughs_source.static_frames = 3",
      f"--gin_bindings=synthetic_flythroughs_source.data_dir = '{tmp_path / 'cache'}'")
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(out.read_text())
  floor = report["per_frame"]["temporal_error_floor"]
  assert floor < 1e-3  # exact depth reprojected: only resampling
  for mode in ("per_frame", "consistent"):
    assert report[mode]["sequences"] == 1 and report[mode]["static_sequences"] == 1
    curve = report["curves"][mode]["temporal"]
    assert len(curve) == 2  # one error per consecutive pair of the 3 frames
    # One sequence: its summary is the mean of its curve; a network is not exact (above the
    # floor) and flickers under photometric noise.
    assert report[mode]["temporal_error"] == pytest.approx(np.mean(curve), rel=1e-6)
    assert report[mode]["temporal_error"] > 10 * floor and report[mode]["flicker"] > 0
  assert report["ratios"]["temporal_error"] == pytest.approx(
      report["consistent"]["temporal_error"] / report["per_frame"]["temporal_error"])
  assert os.path.getsize(tmp_path / "temporal.png") > 10_000
  assert "| consistent / per-frame |" in result.stdout
  assert len(os.listdir(tmp_path / "cache" / "synthetic_flythroughs" / "v1")) == 2  # cached


def test_browsers_play_our_videos_and_not_mp4v(tmp_path):
  """The writer's WebM decodes in Chromium's <video>; OpenCV's default mp4v, which the tools
  wrote before, does not (the reason for the format)."""
  frames = _frames(count=6)
  _write_clip(tmp_path / "ours.webm", frames, fps=6)
  assert_plays_in_a_browser(tmp_path / "ours.webm", width=128, frames=6, fps=6)
  import cv2  # pylint: disable=import-outside-toplevel
  old = cv2.VideoWriter(str(tmp_path / "old.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 6.0,
                        (128, 96))
  for frame in frames:
    old.write(frame)
  old.release()
  assert "error" in video_in_browser(tmp_path / "old.mp4")
