"""What can be checked of the Dockerfile and README without a Docker engine."""

import os
import re
import shlex

from tests.conftest import REPO_ROOT


def _read(name):
  with open(os.path.join(REPO_ROOT, name), encoding="utf-8") as f:
    return f.read()


def test_dockerfile_is_a_gpu_tensorflow_image_with_a_version_arg():
  dockerfile = _read("Dockerfile")
  assert re.search(r"^ARG TF_VERSION=\d+\.\d+\.\d+$", dockerfile, re.M)
  assert re.search(r"^FROM tensorflow/tensorflow:\$\{TF_VERSION\}-gpu$", dockerfile, re.M)
  for line in dockerfile.splitlines():
    if line.startswith("COPY "):
      for source in line.split()[1:-1]:
        assert os.path.exists(os.path.join(REPO_ROOT, source)), line
  assert "pip install" in dockerfile


def test_readme_commands_name_existing_tools_and_configs():
  readme = _read("README.md")
  commands = re.findall(r"python (tools/\w+\.py[^\n`]*)", readme)
  assert commands
  for command in commands:
    words = shlex.split(command.replace("\\", ""), posix=True)
    assert os.path.isfile(os.path.join(REPO_ROOT, words[0])), command
    for word in words:
      match = re.match(r"--gin_file=(\S+)", word)
      if match:
        assert os.path.isfile(os.path.join(REPO_ROOT, match.group(1))), command


def test_ci_runs_the_readme_test_command():
  readme, ci = _read("README.md"), _read(".ci/run")
  test_command = re.search(r"^(python -m pytest[^\n#]*?)\s*(#|$)", readme, re.M).group(1).strip()
  assert test_command in ci
  assert 'pip install -e ".[test]"' in ci
