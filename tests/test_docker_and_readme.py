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


# The README and the pages it links to, by audience (docs/*.md): what the command and link
# checks below read.
DOCS = ("README.md",) + tuple(sorted(os.path.join("docs", name)
                                     for name in os.listdir(os.path.join(REPO_ROOT, "docs"))
                                     if name.endswith(".md")))

# Printed by a fresh process: each command's own flags (absl's, by importing its module alone,
# without running it) and which of them are booleans (absl also takes --noNAME for those).
_FLAGS_SCRIPT = """
import importlib, json, sys
import attn_depth_cli
from absl import flags
base = set(flags.FLAGS)
out = {}
for name, (module, _) in attn_depth_cli.COMMANDS.items():
  for loaded in [m for m in sys.modules if m.startswith("attn_depth.cli")]:
    del sys.modules[loaded]
  for flag in set(flags.FLAGS) - base:
    delattr(flags.FLAGS, flag)
  importlib.import_module("attn_depth.cli." + module)
  out[name] = {flag: flags.FLAGS[flag].boolean for flag in set(flags.FLAGS) - base}
print("FLAGS" + json.dumps(out))
"""


def _command_flags():
  import json  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  result = subprocess.run([sys.executable, "-c", _FLAGS_SCRIPT], capture_output=True, text=True,
                          timeout=300, check=False, cwd=REPO_ROOT)
  assert result.returncode == 0, result.stderr[-2000:]
  line = next(l for l in result.stdout.splitlines() if l.startswith("FLAGS"))
  return json.loads(line[len("FLAGS"):])


def test_readme_and_docs_commands_name_existing_tools_configs_and_flags():
  """Every `attn-depth <command>` the README and docs/*.md write names a command, its
  --gin_files exist, and every --flag of a command in a code block is one of its flags."""
  import attn_depth_cli  # pylint: disable=import-outside-toplevel
  commands = []
  for name in DOCS:
    commands += [(name, c) for c in re.findall(r"attn-depth ([a-z][^\n`]*)", _read(name))]
  assert len(commands) > 20
  for name, command in commands:
    assert re.match(r"[a-z][a-z-]*", command).group(0) in attn_depth_cli.COMMANDS, (name, command)
    for gin_file in re.findall(r"--gin_file=([\w./-]+)", command):
      assert os.path.isfile(os.path.join(REPO_ROOT, gin_file)), (name, command)
  own_flags = _command_flags()
  checked = 0
  for name in DOCS:
    for block in re.findall(r"```bash\n(.*?)```", _read(name), re.S):
      for line in block.replace("\\\n", " ").splitlines():
        if "attn-depth " not in line:
          continue
        words = shlex.split(line.split("attn-depth ", 1)[1], comments=True, posix=True)
        command, known = words[0], own_flags[words[0]]
        for word in words[1:]:
          if word.startswith("--"):
            flag = word[2:].split("=", 1)[0]
            assert flag in known or (flag.startswith("no") and known.get(flag[2:])), (
                f"{name}: `attn-depth {command}` has no flag --{flag}: {line}")
            checked += 1
  assert checked > 60, checked
  # Flags written inline in the prose: a command's, absl's --help, or one of the few other
  # tools the pages name (the fuzzer, the docs' table generator, docker).
  known = set().union(*own_flags.values()) | {"no" + flag for command in own_flags.values()
                                              for flag, boolean in command.items() if boolean}
  known |= {"help"} | _OTHER_TOOLS_FLAGS | set(re.findall(
      r'DEFINE_\w+\(\s*"(\w+)"', _read(os.path.join("tools", "fuzz.py")))) | set(re.findall(
          r'add_argument\("--(\w+)"', _read(os.path.join("lab", "doc_tables.py"))))
  inline = 0
  for name in DOCS:
    prose = re.sub(r"```.*?```", "", _read(name), flags=re.S)
    for span in re.findall(r"`([^`\n]+)`", prose):
      for flag in re.findall(r"(?:^|\s)--([a-z][\w-]*)", span):
        assert flag in known, f"{name}: no tool has the flag --{flag}: `{span}`"
        inline += 1
  assert inline > 40, inline


# Flags of other programs the pages write inline: docker run's and podman build's; and the
# flag a new dataset's registry entry brings in docs/data.md's worked example (`my_set`).
_OTHER_TOOLS_FLAGS = {"gpus", "shm-size", "ipc", "pull", "my_set"}


def _anchor(heading):
  """GitHub's anchor for a Markdown heading."""
  text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
  return text.replace(" ", "-")


def test_docs_links_resolve_and_every_page_links_back():
  """Relative links of the README and docs/*.md point at files that exist, and at headings
  that exist there; every docs page starts with a link back to the README and its neighbours,
  and the README links to every page."""
  for name in DOCS:
    text = re.sub(r"```.*?```", "", _read(name), flags=re.S)
    folder = os.path.dirname(name)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
      if re.match(r"[a-z]+://", target):
        continue
      path, _, anchor = target.partition("#")
      path = os.path.normpath(os.path.join(folder, path)) if path else name
      assert os.path.exists(os.path.join(REPO_ROOT, path)), f"{name}: {target}"
      if anchor and path.endswith(".md"):
        anchors = {_anchor(h) for h in re.findall(r"^#+ (.*)$", re.sub(
            r"```.*?```", "", _read(path), flags=re.S), re.M)}
        assert anchor in anchors, f"{name}: {target} (anchors: {sorted(anchors)})"
  readme = _read("README.md")
  for name in DOCS[1:]:
    head = "\n".join(_read(name).splitlines()[:5])
    assert "](../README.md)" in head, name
    for other in DOCS[1:]:
      assert f"]({os.path.basename(other)})" in head, (name, other)
    assert f"]({name})" in readme or f"]({name}#" in readme, name
  assert len(readme.splitlines()) <= 200


def test_ci_runs_the_readme_test_command():
  """The README's two set-up commands: install + main job, then the full test tier, which CI
  runs as one exact line of its own (not a substring: a flag added or dropped fails)."""
  readme, ci = _read("README.md"), _read(".ci/run")
  setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
  block = re.search(r"```bash\n(.*?)```", setup, re.S).group(1)
  install_and_train, test_command = block.strip().splitlines()
  assert test_command == "python -m pytest -q --full --durations=30 -ra"
  assert test_command in ci.splitlines()
  install = install_and_train.split(" && ")[0]
  assert install == ('pip install -c constraints.txt -e ".[test]" '
                     '--config-settings editable_mode=compat')
  assert f"python -m {install}" in ci.splitlines()
  # The fast tier is the bare command, named in the same section.
  assert "`python -m pytest -q`" in setup


def test_the_environment_is_exactly_the_locked_one():
  """What the tests run on is what constraints.txt pins (CI installs with it)."""
  import importlib.metadata  # pylint: disable=import-outside-toplevel
  pins = [line.split("==") for line in _read("constraints.txt").splitlines()
          if line and not line.startswith("#")]
  assert any(name == "tensorflow" for name, _ in pins) and len(pins) > 50
  differ = {name: (version, importlib.metadata.version(name)) for name, version in pins
            if importlib.metadata.version(name) != version}
  assert not differ, f"installed versions differ from constraints.txt: {differ}"


def test_gin_tf_is_never_imported():
  """gin.tf (TF 1 sessions, global step hooks) is not this project's: plain gin everywhere."""
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  script = ("import sys, attn_depth, attn_depth.config, attn_depth.serving.presets, attn_depth.training\n"
            "assert not [m for m in sys.modules if m.startswith('gin.tf')], 'gin.tf imported'\n")
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False, cwd=REPO_ROOT)
  assert result.returncode == 0, result.stderr[-1000:]
  for folder in ("attn_depth", "tools", "gin"):
    for root, _, files in os.walk(os.path.join(REPO_ROOT, folder)):
      for name in files:
        if name.endswith((".py", ".gin")):
          with open(os.path.join(root, name), encoding="utf-8") as f:
            assert not re.search(r"\bgin\.tf\b|from gin import tf", f.read()), name


def test_the_package_imports_from_the_folder_that_holds_the_clone(tmp_path):
  """`git clone` makes a folder named attn_depth; a script next to it must still get the
  installed package, not that folder as an empty namespace package."""
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  (tmp_path / "attn_depth").mkdir()
  (tmp_path / "attn_depth" / "README.md").write_text("a clone's folder\n")
  result = subprocess.run([sys.executable, "-c", "import attn_depth; attn_depth.DepthEstimator"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-1000:]


def test_the_status_is_told_first_everywhere_a_newcomer_starts():
  """What has been reproduced (nothing of Table 1 yet) is on the README's first screen, in the
  citation's abstract, the notebooks' first cells and every model card, in the same words."""
  import json  # pylint: disable=import-outside-toplevel
  from attn_depth.serving import card  # pylint: disable=import-outside-toplevel
  said = "no result of the paper's Table 1 has been reproduced yet"

  def flat(text):
    return " ".join(text.split())

  first_screen = "\n".join(_read("README.md").splitlines()[:40])
  assert said in flat(first_screen) and "not yet run at scale" in flat(first_screen)
  assert "reproduction of" not in flat(first_screen)
  assert said in flat(_read("CITATION.cff"))
  for notebook in ("reproduce_on_a_gpu.ipynb", "your_photo.ipynb"):
    with open(os.path.join(REPO_ROOT, "docs", notebook), encoding="utf-8") as f:
      assert said in flat("".join(json.load(f)["cells"][0]["source"])), notebook
  assert said in card.STATUS
