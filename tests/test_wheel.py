"""The package as `pip install attn_depth-*.whl` leaves it, outside any clone: a wheel built from
the sources, installed into a fresh virtual environment, and the `attn-depth` command run from a
folder that has nothing of the checkout: --help, a few quickstart steps with the shipped config
found by name, predict on an image, export, reproduce --help. The environment reads its
dependencies from the one the tests run in (a path in a .pth file: no second TensorFlow
download), not that environment's .pth files, so the editable checkout is not on its path."""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from tests.training import tiny

pytestmark = pytest.mark.slow

_SOURCES = ("setup.py", "README.md", "LICENSE", "attn_depth_cli.py", "attn_depth", "gin")


def _run(command, cwd, env, timeout=600):
  result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
  assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
  return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
  """(bin folder, environment variables) of a virtual environment holding only the wheel."""
  root = tmp_path_factory.mktemp("wheel")
  source = root / "source"  # a copy: building in the clone would leave build/ there
  source.mkdir()
  for name in _SOURCES:
    if os.path.isdir(os.path.join(REPO_ROOT, name)):
      shutil.copytree(os.path.join(REPO_ROOT, name), source / name,
                      ignore=shutil.ignore_patterns("__pycache__"))
    else:
      shutil.copy(os.path.join(REPO_ROOT, name), source / name)
  _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "--no-index", "-w", str(root / "dist"), str(source)], cwd=root, env=os.environ)
  (wheel,) = (root / "dist").glob("attn_depth-*.whl")
  with zipfile.ZipFile(wheel) as archive:
    names = set(archive.namelist())
    entry_points = next(archive.read(n).decode() for n in names
                        if n.endswith(".dist-info/entry_points.txt"))
  # The configs travel inside the package, and the command is declared in the metadata.
  assert {"attn_depth/gin/base.gin", "attn_depth/gin/nyu/full_r101.gin",
          "attn_depth/gin/miniature/full.gin", "attn_depth_cli.py"} <= names
  assert "attn-depth = attn_depth_cli:main" in entry_points

  venv = root / "venv"
  _run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=os.environ)
  python = venv / "bin" / "python"
  site = pathlib.Path(subprocess.run(
      [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
      capture_output=True, text=True, check=True).stdout.strip())
  # A path line (not this environment's .pth files, which would put the checkout on the path).
  (site / "ci_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
  _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
        "--ignore-installed", "-c", os.path.join(REPO_ROOT, "constraints.txt"), str(wheel)],
       cwd=root, env=os.environ)
  env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH",)}
  env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
             KERAS_HOME=str(root / "keras"), TF_CPP_MIN_LOG_LEVEL="0")
  return venv / "bin", env


def test_the_installed_wheel_runs_every_step_from_outside_the_clone(installed, tmp_path):
  bin_dir, env = installed
  work = tmp_path / "user"  # nothing of the checkout here
  work.mkdir()
  where = _run([str(bin_dir / "python"), "-c",
                "import sys, attn_depth, attn_depth_cli; print(attn_depth.__file__); "
                "print(attn_depth_cli.__file__); print('\\n'.join(sys.path))"], work, env).stdout
  assert REPO_ROOT not in where, where  # neither the package nor the clone comes from here
  assert where.splitlines()[0].startswith(str(bin_dir.parent))

  overview = _run(["attn-depth", "--help"], work, env).stdout
  for command in ("train", "evaluate", "predict", "export", "reproduce", "benchmark"):
    assert f"\n  {command} " in overview

  # The shipped quickstart config by its README name, shrunk to a few steps.
  bindings = (tiny.TINY_MODEL + tiny.tiny_rooms(tmp_path / "data")
              + tiny.tiny_training(total_steps=2))
  trained = _run(["attn-depth", "train", "--gin_file=gin/quickstart.gin", "--model_dir=run"]
                 + [f"--gin_bindings={b}" for b in bindings], work, env)
  assert (work / "run" / "export" / "saved_model.pb").is_file()
  # The quiet start-up happened before TensorFlow loaded, even with TF's own logging at 0.
  assert "oneDNN" not in trained.stderr and "cuda" not in trained.stderr.lower(), trained.stderr

  photo = work / "photo.png"
  Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), np.uint8)).save(photo)
  _run(["attn-depth", "predict", "--model=run/export", str(photo), "--output_dir=depth",
        "--outputs=npy"], work, env)
  depth = np.load(work / "depth" / "photo_depth.npy")
  assert depth.shape[:2] == (60, 80) and np.isfinite(depth).all() and (depth > 0).all()

  _run(["attn-depth", "export", "--model=run", "--export_dir=exported", "--tflite=",
        "--noonnx", "--preset_dir=preset"], work, env)
  assert (work / "exported" / "saved_model.pb").is_file()
  assert (work / "preset" / "model.keras").is_file()

  plan = _run(["attn-depth", "reproduce", "--help"], work, env).stdout
  assert "--output_dir" in plan and "--miniature" in plan
