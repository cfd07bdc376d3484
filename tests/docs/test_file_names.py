"""Every file name the README and docs give (`runs/quickstart/eval/synthetic_rooms_paper.json`,
`<name>_depth_mm.png`, `model_int8.tflite`...) is one the code writes or reads, or one the
repository holds: a renamed output cannot leave the pages naming the old file. Fast: the code is
parsed, nothing is imported."""

import ast
import glob
import os
import re

from tests.conftest import REPO_ROOT

DOCS = ["README.md"] + sorted(os.path.relpath(path, REPO_ROOT) for path in
                              glob.glob(os.path.join(REPO_ROOT, "docs", "*.md")))
EXTENSIONS = ("json|gin|md|png|npy|npz|ply|tflite|onnx|keras|webm|csv|txt|h5|mat|zip|gz|exr|"
              "ipynb|cff")
# Files of other projects the pages name, which this code neither writes nor spells.
OTHERS = {"nyu_test.zip": "DenseDepth's test set (docs/evaluation.md: its own evaluation)",
          "model.weights.h5": "Keras' own saved layout (docs/deployment.md: why a preset is not it)",
          "gpu.md": "the name the docs' GPU-day command gives --gpu_markdown",
          "val/*.h5": "FastDepth's nyudepthv2 archive, read by tfds' own nyu_depth_v2 builder"}


def _code_names():
  """(patterns, literals) of every string the package, lab/ and tools/ spell: a literal as
  itself, an f-string or a str.format template with each field as a group."""
  patterns, literals = set(), set()
  for folder in ("attn_depth", "lab", "tools"):
    for path in glob.glob(os.path.join(REPO_ROOT, folder, "**", "*.py"), recursive=True):
      with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
      for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
          literals.add(node.value)
          parts = re.split(r"\{[^{}]*\}", node.value)
        elif isinstance(node, ast.JoinedStr):
          parts, text = [], ""
          for value in node.values:
            if isinstance(value, ast.Constant):
              text += value.value
            else:
              parts.append(text)
              text = ""
          parts.append(text)
        else:
          continue
        if any(parts):
          patterns.add("(.+?)".join(re.escape(part) for part in parts))
  return [re.compile(pattern) for pattern in patterns], literals


def _repo_names():
  names = set()
  for folder, _, files in os.walk(REPO_ROOT):
    if "/." not in folder and "egg-info" not in folder:
      names.update(files)
  return names


def _spelled(base, code):
  """Whether the code spells `base` whole, or its end after a separator (a name the code joins
  as stem + suffix); what a template's fields stand for must itself be a string of the code
  (a source, a protocol) or a placeholder of the page, so that f"{name}.json" does not vouch
  for every .json."""
  patterns, literals = code
  dot = base.rindex(".")
  ends = [base] + [base[i:] for i in range(1, dot) if base[i] in "_-." or base[i - 1] in "_-."]
  ends += [base[dot:]] if base[:dot] == "x" else []  # <name>.ply: the code's ".ply" suffix
  for end in ends:
    for pattern in patterns:
      match = pattern.fullmatch(end)
      if match and all(group == "x" or group in literals for group in match.groups()):
        return True
  return False


def _mentioned(base, code):
  """Whether a string of the code names the file (a flag's help naming the file it reads)."""
  word = re.compile(r"(?<![\w.])" + re.escape(base) + r"(?![\w])")
  return any(word.search(literal) for literal in code[1])


def test_every_file_name_the_docs_give_is_written_by_the_code_or_held_by_the_repo():
  code, repo = _code_names(), _repo_names()
  checked, missing = 0, []
  for doc in DOCS:
    with open(os.path.join(REPO_ROOT, doc), encoding="utf-8") as f:
      text = f.read()
    for name in set(re.findall(r"`([\w<>.*/-]+\.(?:%s))`" % EXTENSIONS, text)):
      checked += 1
      # A placeholder (<name>, *, ...) stands for any text the code fills in.
      base = re.sub(r"<[^<>]*>|\*|\.\.\.", "x", os.path.basename(name))
      numbered = re.sub(r"\d+(?=\.)", "x", base)  # 00000.png: frames named by their index
      pattern = re.sub(r"<[^<>]*>|\.\.\.", "*", name)
      if not (base in repo or base in OTHERS or name in OTHERS or _spelled(base, code) or _spelled(numbered, code)
              or glob.glob(os.path.join(REPO_ROOT, pattern))
              or (base == os.path.basename(name) and _mentioned(base, code))):
        missing.append(f"{doc}: `{name}`")
  assert not missing, f"neither written or read by the code nor files of the repository: {missing}"
  assert checked > 80, checked
