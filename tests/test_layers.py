"""The package's layers (.importlinter): nothing imports upward, the siblings of a layer that
must stay independent do, and no two sibling modules or packages import each other, at any depth
(function-local imports included). Fast: the import graph is parsed, nothing is imported."""

import os
import shutil
import subprocess
import sys

from tests.conftest import REPO_ROOT


def _lint(folder):
  """import-linter on the package in `folder` (its .importlinter), in a child whose sys.path
  starts there, so a copy is read instead of the installed package."""
  code = ("import sys; sys.path.insert(0, '.'); from importlinter.cli import lint_imports; "
          "sys.exit(lint_imports(config_filename='.importlinter', no_cache=True, no_logo=True))")
  return subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True,
                        timeout=300, check=False)


def test_the_layer_contracts_hold():
  result = _lint(REPO_ROOT)
  assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_an_upward_import_breaks_the_contracts(tmp_path):
  """The contracts can fail: the package copied aside with one upward import planted (the
  ground floor importing the serving layer) is refused, naming the import."""
  shutil.copytree(os.path.join(REPO_ROOT, "attn_depth"), tmp_path / "attn_depth",
                  ignore=shutil.ignore_patterns("__pycache__"))
  shutil.copy(os.path.join(REPO_ROOT, ".importlinter"), tmp_path / ".importlinter")
  errors = tmp_path / "attn_depth" / "core" / "errors.py"
  errors.write_text(errors.read_text() + "\nfrom attn_depth.serving import inference  # upward\n")
  result = _lint(tmp_path)
  assert result.returncode != 0, result.stdout
  assert "attn_depth.core.errors -> attn_depth.serving.inference" in result.stdout, result.stdout
