"""The rows a reproduction trains: Table 1's four "Ours" rows on NYU Depth V2, and the same four
in miniature on procedural rooms (one shared reduced backbone, several seeds)."""

import dataclasses

from attn_depth.core import errors
from attn_depth.evaluation import reports

TABLE1_ROWS = ("baseline_r50", "dfe_r101", "dfe_afb_r101", "full_r101")
MINIATURE_ROWS = ("baseline", "dfe", "dfe_afb", "full")
# The paper's ordering, worst first: each row adds one thing to the one before.
ORDER = ("baseline", "dfe", "dfe_afb", "full")
# Table 1's evaluations of every row: (protocol, flip). `paper` applies the paper's training
# geometry (the paper states no evaluation geometry); the others make the numbers comparable with the tables of Eigen et al. and DenseDepth.
PROTOCOL_RUNS = (("paper", False), ("paper", True), ("eigen", False), ("densedepth", False))
PAPER_LABELS = {"baseline": "baseline (strided ResNet, deconvolution decoder)",
                "dfe": "DFE", "dfe_afb": "DFE + AFB", "full": "DFE + AFB + dilated CRB (full)"}


class ReproductionError(errors.UserError, ValueError):
  """A reproduction that cannot start: unknown rows, missing data, conflicting arguments."""


@dataclasses.dataclass(frozen=True)
class Row:
  """One trained network of a reproduction.

  name: the row's folder under the output folder ("full_r101", or "full/seed_1").
  variant: build_model's variant ("baseline", "dfe", "dfe_afb", "full").
  gin_file: the shipped config it trains with, unmodified.
  seed: train.seed (None: the config's own).
  """
  name: str
  variant: str
  gin_file: str
  seed: int = None

  @property
  def paper(self):
    """Table 1's numbers for this variant (rel, rms, log10)."""
    return reports.PAPER_TABLE1[self.variant]

  @property
  def group(self):
    """The row a seed belongs to ("full" for "full/seed_1")."""
    return self.name.split("/", 1)[0]


def table1_rows(names=TABLE1_ROWS):
  unknown = [name for name in names if name not in TABLE1_ROWS]
  if unknown:
    raise ReproductionError(f"unknown Table-1 row(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(TABLE1_ROWS)}")
  return [Row(name, name.rsplit("_r", 1)[0], f"gin/nyu/{name}.gin") for name in names]


def miniature_rows(names=MINIATURE_ROWS, seeds=3):
  unknown = [name for name in names if name not in MINIATURE_ROWS]
  if unknown:
    raise ReproductionError(f"unknown miniature row(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(MINIATURE_ROWS)}")
  if seeds < 1:
    raise ReproductionError(f"--seeds must be at least 1, got {seeds}")
  # Seed-major: after an interruption every row has as many seeds as the others, or one more.
  return [Row(f"{name}/seed_{seed}", name, f"gin/miniature/{name}.gin", seed)
          for seed in range(seeds) for name in names]
