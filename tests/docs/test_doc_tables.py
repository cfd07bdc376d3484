"""The docs' tables of measured figures are what `python -m lab.doc_tables` prints from the
committed result files (docs/results/), and a distinctive figure of a table is quoted nowhere
else in the README and docs (elsewhere, link to the table). Plain file reading: no TensorFlow."""

import glob
import json
import os
import re
import shutil

from lab import doc_tables
from tests.conftest import REPO_ROOT


def test_every_table_is_what_its_result_files_give():
  assert doc_tables.check(REPO_ROOT) == [], (
      "run python -m lab.doc_tables --write after changing a result file in docs/results/")


def test_every_table_has_its_markers_and_every_result_file_a_stamp_and_a_table():
  for name, table in doc_tables.TABLES.items():
    with open(os.path.join(REPO_ROOT, table.doc), encoding="utf-8") as f:
      assert name in doc_tables.blocks(f.read()), f"{name}: no markers in {table.doc}"
  used = {source for table in (*doc_tables.TABLES.values(), *doc_tables.QUOTES.values())
          for source in table.sources}
  for path in glob.glob(os.path.join(REPO_ROOT, doc_tables.RESULTS, "*.json")):
    with open(path, encoding="utf-8") as f:
      stamp = json.load(f).get("stamp", {})
    assert set(stamp) >= {"machine", "commit", "date", "source"}, path
    assert os.path.basename(path) in used, f"{path}: no table or quote is made from it"


def _copy(tmp_path):
  for table in (*doc_tables.TABLES.values(), *doc_tables.QUOTES.values()):
    os.makedirs(tmp_path / os.path.dirname(table.doc), exist_ok=True)
    shutil.copy(os.path.join(REPO_ROOT, table.doc), tmp_path / table.doc)
  shutil.copytree(os.path.join(REPO_ROOT, doc_tables.RESULTS), tmp_path / doc_tables.RESULTS)


def test_a_changed_result_fails_the_check_until_the_table_is_regenerated(tmp_path, capsys):
  """The check can fail: one number changed in a copy of a result file names its table (and
  only the tables made from that file) and the prose that quotes it; --write makes the table
  agree again, the prose is left to be edited by hand."""
  _copy(tmp_path)
  path = tmp_path / doc_tables.RESULTS / "miniature.json"
  result = json.loads(path.read_text(encoding="utf-8"))
  result["rows"]["dfe"]["mean"]["rel"] = 0.199
  path.write_text(json.dumps(result), encoding="utf-8")
  assert doc_tables.main(["--root", str(tmp_path)]) == 1
  out = capsys.readouterr().out
  assert "miniature_table1: docs/reproducing.md differs" in out
  assert 'verdict: docs/reproducing.md no longer says "the first two steps are shown' in out
  assert doc_tables.check(str(tmp_path)) == ["miniature_table1"]
  assert doc_tables.main(["--root", str(tmp_path), "--write"]) == 1
  assert doc_tables.check(str(tmp_path)) == []
  assert "| dfe | 0.199 ± 0.001 |" in (tmp_path / "docs/reproducing.md").read_text("utf-8")
  assert {name for name, _ in doc_tables.check_quotes(str(tmp_path))} == {"verdict"}


def test_the_prose_states_its_quoted_figures_as_their_files_give():
  assert doc_tables.check_quotes(REPO_ROOT) == []
  with open(os.path.join(REPO_ROOT, "docs", "reproducing.md"), encoding="utf-8") as f:
    page = " ".join(f.read().split())
  assert "(2.7 standard errors, p = 0.075)" in page  # what the verdict quote rebuilds


def test_a_table_whose_markers_are_gone_is_named(tmp_path):
  _copy(tmp_path)
  page = tmp_path / "README.md"
  page.write_text(page.read_text("utf-8").replace("<!-- table: test_suite", "<!-- table: x"),
                  encoding="utf-8")
  assert doc_tables.check(str(tmp_path)) == ["test_suite"]


def test_stamp_names_the_machine_the_commit_and_the_date(tmp_path):
  """A stamp on a tool's JSON: the machine it names, the commit, the file's date."""
  path = tmp_path / "bench.json"
  path.write_text(json.dumps({"machine": {"device": "CPU (a test CPU, 2 cores)"},
                              "flops": {"value": 1.0}}), encoding="utf-8")
  os.utime(path, (0, 86400 * 365))
  doc_tables.add_stamp(str(path), commit="abc1234")
  stamp = json.loads(path.read_text(encoding="utf-8"))["stamp"]
  assert stamp == {"machine": "CPU (a test CPU, 2 cores)", "commit": "abc1234",
                   "date": "1971-01-01", "source": "the tool's own output"}
  line = doc_tables.stamp_line("docs/results/bench.json", stamp)
  assert line == ("*Measured on CPU (a test CPU, 2 cores), 1971-01-01, commit abc1234: "
                  "`docs/results/bench.json`, the tool's own output.*")


# A figure is distinctive when it has 3 or more significant digits and a decimal point or a
# thousands separator (0.257, 553.7, 52,483,393); integers like 100 or 600 are too common.
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+\.\d+)(?![\w]|[.,]\d)")


def _distinctive(text):
  found = set()
  for number in _NUMBER.findall(re.sub(r"δ ?< ?1\.25", "", text)):  # a metric's name
    if len(number.replace(",", "").replace(".", "").lstrip("0")) >= 3:
      found.add(number)
  return found


# Equal digits that are another quantity, not a table's figure quoted.
COINCIDENCES = {
    ("docs/applications.md", "12.5"): "GB of memory of the photo path, not the 12.5 s step",
    ("docs/applications.md", "0.687"): "δ1 of the whole-photo fit, not bfloat16 training's rms",
    ("docs/training.md", "1.23"): "steps/s of a deterministic quickstart, not the step ratio",
}


def _pages():
  return [os.path.join(REPO_ROOT, "README.md")] + sorted(
      glob.glob(os.path.join(REPO_ROOT, "docs", "*.md")))


def test_no_figure_of_a_table_is_quoted_elsewhere():
  """One number in one place: outside the generated tables (and their stamp lines), the README
  and the docs repeat none of the tables' distinctive figures."""
  figures = {}
  for name in doc_tables.TABLES:
    rows = doc_tables.render(name, REPO_ROOT).split("\n\n", 1)[0].split("\n")[2:]
    for number in _distinctive("\n".join(rows)):
      figures.setdefault(number, name)
  quoted = []
  for path in _pages():
    with open(path, encoding="utf-8") as f:
      outside = doc_tables._BLOCK.sub("", f.read())  # pylint: disable=protected-access
    page = os.path.relpath(path, REPO_ROOT)
    for number in sorted(_distinctive(outside) & set(figures)):
      if (page, number) in COINCIDENCES:
        continue
      quoted.append(f"{page}: {number} (table {figures[number]})")
  assert not quoted, "quote the table by a link instead:\n" + "\n".join(quoted)
