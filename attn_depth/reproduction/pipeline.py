"""`reproduce()`: Table 1 (or Table 1 in miniature) in one call, resumable.

For every row: train -> evaluate under each protocol -> export; then the paper's figures across
the rows, then results.md / results.json beside the paper's numbers. Each stage is the
repository's own tool, run with the command the README gives for it (attn_depth.reproduction.
stages), so that a row can be redone by hand from its log. Run again with the same arguments,
finished stages are skipped and an interrupted training resumes from its latest checkpoint.
"""

import dataclasses
import json
import os

from attn_depth.core.run_dir import SAVED_MODEL_FILE
from attn_depth.core.run_dir import RunDir
from attn_depth.core import files
from attn_depth.evaluation import reports
from attn_depth.reproduction import results
from attn_depth.reproduction import rows as rows_lib
from attn_depth.reproduction.rows import ReproductionError
from attn_depth.reproduction.stages import Interrupted
from attn_depth.reproduction.stages import Stage
from attn_depth.reproduction.stages import StageRunner
from attn_depth.reproduction.stages import forwarded_signals
from attn_depth.reproduction.stages import recorded_done
from attn_depth.reproduction.stages import trained_step

PROTOCOL_RUNS = rows_lib.PROTOCOL_RUNS
ARGUMENTS_FILE = "reproduce.json"
# What the export stage writes besides the SavedModel and its model card (always written).
EXPORTS = ("savedmodel", "litert", "onnx", "preset")
WEIGHTS_FILE = "resnet{depth}_weights_tf_dim_ordering_tf_kernels_notop.h5"


@dataclasses.dataclass
class TestData:
  """Where a reproduction's rows are evaluated."""
  source: str
  flags: list
  description: str


def _q(value):
  return "'" + str(value).replace("'", "\\'") + "'"


def _table1_data(output_dir, nyu_tfds_data_dir, nyu_archive, nyu_mat, nyu_splits):
  """(prepare stage or None, training bindings, TestData, description of the training data)."""
  if bool(nyu_mat) != bool(nyu_splits):
    raise ReproductionError("give both --nyu_mat and --nyu_splits (the labeled set and its "
                            "official split), or neither (then tfds' validation split)")
  for flag, path in (("--nyu_archive", nyu_archive), ("--nyu_mat", nyu_mat),
                     ("--nyu_splits", nyu_splits)):
    if path and not os.path.exists(path):
      raise ReproductionError(f"{flag}: {path} does not exist")
  prepare = None
  tfds_dir = nyu_tfds_data_dir
  if nyu_archive:
    tfds_dir = tfds_dir or os.path.join(output_dir, "tensorflow_datasets")
    prepare = Stage("prepare NYU", output_dir,
                    ["attn-depth", "prepare-nyu", f"--archive={nyu_archive}",
                     f"--data_dir={tfds_dir}"],
                    products=(os.path.join(tfds_dir, "nyu_depth_v2"),))
  bindings = [f"nyu_tfds_source.data_dir = {_q(tfds_dir)}"] if tfds_dir else []
  trained_on = (f"tfds nyu_depth_v2 in {tfds_dir}" if tfds_dir else
                "tfds nyu_depth_v2 in tfds' default folder")
  if nyu_archive:
    trained_on += f" (prepared from {nyu_archive})"
  if nyu_mat:
    test = TestData("nyu_labeled", [f"--nyu_mat={nyu_mat}", f"--nyu_splits={nyu_splits}"],
                    f"the 654 official test frames of the labeled set ({nyu_mat}, "
                    f"{nyu_splits})")
  else:
    test = TestData("nyu_tfds", [f"--tfds_data_dir={tfds_dir}"] if tfds_dir else [],
                    "tfds' nyu_depth_v2 validation split (the same 654 official test frames, "
                    "from FastDepth's archive; no --nyu_mat given)")
  return prepare, bindings, test, trained_on


def _weights_bindings(row, weights_dir):
  if not weights_dir:
    return []  # the configs' own: keras.applications' ImageNet weights (Keras' cache)
  depth = 50 if row.variant == "baseline" else 101
  path = os.path.join(weights_dir, WEIGHTS_FILE.format(depth=depth))
  if not os.path.exists(path):
    raise ReproductionError(f"--weights_dir: no {os.path.basename(path)} in {weights_dir} "
                            f"(keras.applications' notop ResNet-{depth} weights)")
  return [f"build_model.backbone_weights = {_q(path)}"]


def _check_arguments(output_dir, settings):
  """The output folder belongs to one set of training settings: a later call with other ones
  would mix rows trained differently (or resume a training with other settings)."""
  path = os.path.join(output_dir, ARGUMENTS_FILE)
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      previous = json.load(f)
    differing = sorted(key for key in set(previous) | set(settings)
                       if previous.get(key) != settings.get(key))
    if differing:
      key = differing[0]
      raise ReproductionError(
          f"{output_dir} holds a reproduction made with other settings ({key}: "
          f"{previous.get(key)!r}, now {settings.get(key)!r}); run with the same arguments to "
          f"go on, or choose another --output_dir")
    return
  os.makedirs(output_dir, exist_ok=True)
  files.write_json(path, settings)


def _train_stage(row, output_dir, bindings, train_source):
  run_dir = os.path.join(output_dir, row.name)
  command = ["attn-depth", "train", f"--gin_file={row.gin_file}", f"--model_dir={run_dir}"]
  command += [f"--gin_bindings={binding}" for binding in bindings]
  # Training's own final evaluation (paper protocol on its source's test split) ends it.
  run = RunDir(run_dir)
  return Stage("train", run_dir, command,
               products=(run.checkpoint_state,
                         run.report(reports.result_name(train_source, "paper"))))


def _evaluation_stages(row, output_dir, test, step):
  run_dir = os.path.join(output_dir, row.name)
  stages = []
  for protocol, flip in PROTOCOL_RUNS:
    command = ["attn-depth", "evaluate", f"--model={run_dir}", f"--source={test.source}",
               f"--protocol={protocol}", *(["--flip"] if flip else []), *test.flags]
    name = reports.result_name(test.source, protocol, flip)
    stages.append(Stage(f"evaluate {test.source} {protocol}{' flip' if flip else ''}", run_dir,
                        command, inputs={"step": step},
                        products=(RunDir(run_dir).report(name),)))
  return stages


def _export_stage(row, output_dir, step, exports):
  """attn-depth export; with every export (the default) exactly the README's command."""
  run_dir = os.path.join(output_dir, row.name)
  command = ["attn-depth", "export", f"--model={run_dir}"]
  if "litert" not in exports:
    command.append("--tflite=")
  if "onnx" not in exports:
    command.append("--noonnx")
  if "preset" not in exports:
    command.append("--preset_dir=none")
  return Stage("export", run_dir, command, inputs={"step": step},
               products=(RunDir(run_dir).export_file(SAVED_MODEL_FILE),))


def _figures_stage(output_dir, trained, test):
  """Figs. 3, 4, 5, 7 over the trained rows (one seed each in the miniature)."""
  names = list(trained)
  figures_dir = RunDir(output_dir).figures_dir
  command = ["attn-depth", "figures",
             "--runs=" + ",".join(os.path.join(output_dir, name) for name in names),
             "--labels=" + ",".join(name.split("/", 1)[0] for name in names),
             f"--output_dir={figures_dir}",
             f"--source={test.source}", *test.flags]
  return Stage("figures", output_dir, command, inputs={"steps": trained},
               products=(os.path.join(figures_dir, "fig4.json"),))


def reproduce(output_dir, rows=None, miniature=False, seeds=3, nyu_tfds_data_dir=None,
              nyu_archive=None, nyu_mat=None, nyu_splits=None, weights_dir=None, gin_bindings=(),
              exports=EXPORTS, figures=True, print_fn=print):
  """Trains, evaluates and exports every row, draws the figures, writes results.md/.json.

  Args:
    output_dir: one folder per row (`<row>/`, in the miniature `<row>/seed_<k>/`), figures/,
      results.md, results.json, reproduce.json (the settings: a later call must match them).
    rows: Table-1 rows (default all four), or miniature rows.
    miniature: Table 1 in miniature on procedural rooms (gin/miniature/*.gin), `seeds` seeds.
    nyu_tfds_data_dir: a tfds data folder holding (or to hold) a prepared nyu_depth_v2.
    nyu_archive: FastDepth's nyudepthv2.tar.gz or its extracted folder, prepared first.
    nyu_mat, nyu_splits: the labeled .mat and splits.mat to evaluate on (else tfds'
      validation split, the same 654 frames).
    weights_dir: a folder with keras.applications' notop ResNet-50/101 .h5 files (else Keras'
      cache, downloaded on first use).
    gin_bindings: passed to every training (mixed precision, say); recorded.
    exports: of EXPORTS; the SavedModel and its model card are always written.
    figures: draw the paper's figures across the rows.

  Returns:
    the exit status: 0 when every stage is done, 1 when one failed, 130 when interrupted.
  """
  output_dir = os.path.abspath(os.path.expanduser(output_dir))
  unknown = sorted(set(exports) - set(EXPORTS))
  if unknown:
    raise ReproductionError(f"--exports: unknown {', '.join(unknown)}; choose from "
                            f"{', '.join(EXPORTS)}")
  plan = _plan(output_dir, rows, miniature, seeds, nyu_tfds_data_dir, nyu_archive, nyu_mat,
               nyu_splits, weights_dir, gin_bindings)
  _check_arguments(output_dir, {
      "kind": "miniature" if miniature else "table1", "training_data": plan.trained_on,
      "weights_dir": weights_dir, "gin_bindings": list(gin_bindings)})
  print_fn(f"{'Table 1 in miniature' if miniature else 'Table 1'}: "
           f"{len(plan.rows)} run(s) ({', '.join(row.name for row in plan.rows)}) into "
           f"{output_dir}")
  print_fn(f"training data: {plan.trained_on}; test data: {plan.test.description}")
  runner = StageRunner(print_fn=print_fn)
  failed = []
  interrupted = False
  try:
    with forwarded_signals(runner):
      _run_plan(plan, output_dir, runner, exports, figures, failed)
  except Interrupted as stop:
    print_fn(str(stop))
    interrupted = True
  written = results.write_results(output_dir, plan.test, plan.trained_on, list(gin_bindings),
                                  miniature)
  print_fn(f"\n{written['summary']}\n")
  print_fn(f"wrote {written['markdown']} and {written['json']}")
  if interrupted:
    print_fn("interrupted: run the same command again to go on")
    return 130
  if failed:
    print_fn(f"{len(failed)} stage(s) failed ({', '.join(failed)}); their logs say why; the "
             f"same command runs them again and skips what is done")
    return 1
  return 0


@dataclasses.dataclass(frozen=True)
class _Plan:
  """What a reproduction runs: its rows with their gin bindings, the data preparation (or
  None), where the rows train and are tested, and what they were trained on (in words)."""
  rows: list
  bindings: dict
  prepare: object
  train_source: str
  test: TestData
  trained_on: str
  miniature: bool


def _plan(output_dir, rows, miniature, seeds, nyu_tfds_data_dir, nyu_archive, nyu_mat,
          nyu_splits, weights_dir, gin_bindings):
  if miniature:
    if nyu_tfds_data_dir or nyu_archive or nyu_mat or nyu_splits or weights_dir:
      raise ReproductionError("--miniature trains on procedural rooms from scratch: it takes no "
                              "NYU data or ImageNet weights")
    row_list = rows_lib.miniature_rows(rows or rows_lib.MINIATURE_ROWS, seeds)
    prepare, data_bindings = None, []
    test = TestData("synthetic_rooms", [], "100 unseen procedural rooms (exact depth)")
    trained_on = "1,200 procedural rooms (gin/quickstart.gin's data)"
  else:
    row_list = rows_lib.table1_rows(rows or rows_lib.TABLE1_ROWS)
    prepare, data_bindings, test, trained_on = _table1_data(
        output_dir, nyu_tfds_data_dir, nyu_archive, nyu_mat, nyu_splits)
  bindings = {row.name: data_bindings + _weights_bindings(row, weights_dir)
              + ([f"train.seed = {row.seed}"] if row.seed is not None else [])
              + list(gin_bindings) for row in row_list}
  return _Plan(row_list, bindings, prepare, "synthetic_rooms" if miniature else "nyu_tfds",
               test, trained_on, miniature)


def _run_plan(plan, output_dir, runner, exports, figures, failed):
  """Runs the plan's stages in order, appending the name of each failed one to `failed` (a
  list the caller still holds when a signal interrupts the run)."""
  row_list = plan.rows
  if plan.prepare and runner.run(plan.prepare)["status"] == "failed":
    failed.append(plan.prepare.name)
    row_list = []  # nothing trains without its data
  for index, row in enumerate(row_list):
    label = f"{index + 1}/{len(row_list)} {row.name}"
    train = _train_stage(row, output_dir, plan.bindings[row.name], plan.train_source)
    if runner.run(train, label)["status"] == "failed":
      failed.append(f"{row.name} train")
      continue
    if plan.miniature:
      continue  # the training's own final evaluation is the miniature's result
    step = trained_step(train.folder)
    for stage in _evaluation_stages(row, output_dir, plan.test, step) + [
        _export_stage(row, output_dir, step, exports)]:
      if runner.run(stage, label)["status"] == "failed":
        failed.append(f"{row.name} {stage.name}")
  trained = {row.name: trained_step(os.path.join(output_dir, row.name))
             for row in row_list if row.seed in (None, 0)
             and recorded_done(os.path.join(output_dir, row.name), "train")}
  if figures and trained:
    stage = _figures_stage(output_dir, trained, plan.test)
    if runner.run(stage, "figures")["status"] == "failed":
      failed.append("figures")
