"""tools/figures.py, the SUN RGB-D evaluation and the README's own-data example, on a tiny run;
the point-cloud renderer against hand-made cases."""

import json
import os
import re
import shlex

import numpy as np
import pytest

from attn_depth.apps import figures
from attn_depth.apps import pointcloud
from tests.conftest import REPO_ROOT
from tests.conftest import run_tool
from tests.data.test_other_cameras import sun_root  # noqa: F401  pylint: disable=unused-import
from tests.training import tiny

pytestmark = pytest.mark.slow  # end-to-end: the full tier (--full)


def test_render_points_keeps_the_nearest_point_of_each_pixel():
  camera = pointcloud.Intrinsics(10.0, 10.0, 4.0, 4.0)
  # Two points on the camera's axis, one behind the other; and one to the right.
  points = np.array([[0, 0, 2.0], [0, 0, 1.0], [0.4, 0, 2.0]], np.float32)
  colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
  picture = figures.render_points(points, colours, camera, (9, 9), yaw_degrees=0,
                                  pitch_degrees=0, splat=1)
  assert tuple(picture[4, 4]) == (0, 255, 0)  # the nearer point wins
  assert tuple(picture[4, 6]) == (0, 0, 255)  # u = 10 * 0.4 / 2 + 4
  assert (picture == 255).all(axis=2).sum() == 79  # everything else is background
  # Turned by 90 degrees about the pivot (their median depth, 1.5 m): both axis points now lie at
  # the pivot's depth, 0.5 m to either side: u = 10 * +-0.5 / 1.5 + 4 = 7.33 and 0.67; the one
  # that was nearer is seen to the left.
  turned = figures.render_points(points[:2], colours[:2], camera, (9, 9), yaw_degrees=90,
                                 pitch_degrees=0, splat=1)
  assert tuple(turned[4, 7]) == (255, 0, 0) and tuple(turned[4, 1]) == (0, 255, 0)


def test_crop_intrinsics_follow_resize_then_centre_crop():
  crop = figures.crop_intrinsics((312, 416), (240, 320))
  full = pointcloud.Intrinsics.nyu_scaled(312, 416)
  assert crop.fx == full.fx and crop.cx == pytest.approx(full.cx - 48)
  assert crop.cy == pytest.approx(full.cy - 36)


def test_figures_tool_writes_the_four_figures(run_dir, tmp_path):
  out = tmp_path / "figures"
  result = run_tool("figures", f"--runs={run_dir},{run_dir}", "--labels=first,second",
                    "--source=synthetic_rooms", "--num_images=2", "--eval_images=3",
                    f"--output_dir={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  for name in ("fig3_qualitative", "fig4_accuracy_speed", "fig5_point_clouds", "fig7_bokeh"):
    assert os.path.getsize(out / f"{name}.png") > 10_000, name
  fig4 = json.loads((out / "fig4.json").read_text())
  assert [r["label"] for r in fig4["runs"]] == ["first", "second"]
  assert fig4["runs"][0]["rel"] == pytest.approx(fig4["runs"][1]["rel"])  # the same run twice
  assert all(r["seconds"] > 0 and r["images"] == 3 for r in fig4["runs"])
  assert fig4["paper_quoted"]["ours"]["rel"] == 0.127
  assert "first: rel" in result.stdout and "Traceback" not in result.stderr


def test_evaluate_tool_on_sun_rgbd_b3do(run_dir, sun_root, tmp_path):  # noqa: F811
  out = tmp_path / "b3do.json"
  result = run_tool("evaluate", f"--model={run_dir}", "--source=sunrgbd",
                    f"--sunrgbd={sun_root}", "--sunrgbd_subsets=b3dodata", f"--output={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(out.read_text())
  assert report["images"] == 2 and report["source"] == "sunrgbd"
  assert "rescaled to NYU's focal length" in report["ground_truth"]
  assert 0 < report["ground_truth_holes"] < 0.3  # the padding and the hole count as holes
  missing = run_tool("evaluate", f"--model={run_dir}", "--source=sunrgbd")
  assert missing.returncode == 1 and "--sunrgbd" in missing.stderr.strip().splitlines()[-1]


def test_bad_frames_of_an_own_rgbd_test_set_are_named_and_recorded(run_dir, tmp_path):
  """Two broken frames of five: each is named in one warning line, the result says it covers 3
  frames and which 2 it lacks (in the JSON, the .md and the console): numbers on a smaller test
  set never pass unnoticed."""
  from attn_depth.data import rgbd_files  # pylint: disable=import-outside-toplevel
  rgbd_files.export_rooms(str(tmp_path / "own"), 0, 5)
  test = tmp_path / "own" / "test"
  (test / "rgb" / "00001.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
  rgbd_files.write_pair(str(tmp_path / "small"), "x", np.zeros((30, 40, 3), np.uint8),
                        np.ones((30, 40), np.float32))
  os.replace(tmp_path / "small" / "depth" / "x.png", test / "depth" / "00003.png")
  out = tmp_path / "own.json"
  result = run_tool("evaluate", f"--model={run_dir}", "--source=rgbd_files",
                    f"--rgbd_test={test}", f"--output={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(out.read_text())
  assert report["images"] == 3
  assert report["skipped_frames"]["count"] == 2
  assert [os.path.basename(p) for p in report["skipped_frames"]["frames"]] == ["00001.png",
                                                                              "00003.png"]
  warnings = [line for line in result.stderr.splitlines() if line.startswith("evaluate: warning:")]
  assert len(warnings) == 2, result.stderr
  assert "00001.png" in warnings[0] + warnings[1] and "00003.png" in warnings[0] + warnings[1]
  assert "3 images (2 frames skipped:" in result.stdout
  assert "(2 frames skipped:" in out.with_suffix(".md").read_text()


def _readme_block(heading):
  """The first bash block under `heading` in docs/training.md (the README's, once)."""
  with open(os.path.join(REPO_ROOT, "docs", "training.md"), encoding="utf-8") as f:
    readme = f.read()
  section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
  return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_readme_own_data_example_runs(run_dir, tmp_path):
  """The README's worked example, shrunk: export rooms, fine-tune the quickstart network on them
  (here the tiny run), evaluate on the own test frames."""
  commands = [c.replace("\\\n", " ") for c in re.split(r"\n(?=attn-depth )",
                                                         _readme_block("## Your own RGB-D data"))]
  assert len(commands) == 3
  shrink = {"--num_train=200": "--num_train=4", "--num_test=20": "--num_test=2",
            "runs/quickstart": run_dir, "runs/my_rgbd": str(tmp_path / "my_rgbd"),
            "runs/own_rgbd": str(tmp_path / "own_rgbd")}
  for command in commands:
    for old, new in shrink.items():
      command = command.replace(old, new)
    args = shlex.split(command)[1:]  # [command, flags...] of `attn-depth command flags...`
    if args[0] == "train":
      args += ["--gin_bindings=train.total_steps = 2", "--gin_bindings=train.batch_size = 2",
               "--gin_bindings=train.log_every = 1"] + [f"--gin_bindings={b}"
                                                        for b in tiny.TINY_MODEL]
    result = run_tool(args[0].replace("-", "_"), *args[1:])
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
    if args[0] == "train":
      assert "warm start: model weights from" in result.stdout
  assert os.path.isfile(tmp_path / "own_rgbd" / "ckpt-2.index")
  evals = os.listdir(tmp_path / "own_rgbd" / "eval")
  assert any(name.startswith("rgbd_files_paper") for name in evals)
