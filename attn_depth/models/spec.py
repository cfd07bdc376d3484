"""A trained model's identity: the small record that rebuilds its network and feeds it right.

keras-hub rebuilds a model from the config saved with it; so does attn_depth. A `ModelSpec` holds
everything needed to rebuild the network (variant, ResNet depth, custom backbone blocks and
width, DMG widths, AFB reduction) and to feed it at its training scale (the training crop and
the frame size it was cropped from). It is written as `model_spec.json` beside every run's
checkpoints, inside every SavedModel (`assets.extra/model_spec.json`) and in every preset, so
loading a model never reads or changes gin's global configuration.

Runs written before the record existed still load: `from_operative_config` reads their
`operative_config.gin` with gin's parser, without binding anything.
"""

import dataclasses
import inspect
import json
import os

import gin
from gin import config_parser

from attn_depth.core import files
from attn_depth.core import precision as precision_lib
from attn_depth.core import run_dir
from attn_depth.core.errors import UserError
from attn_depth.data import preprocessing
from attn_depth.models import backbone
from attn_depth.models import depth_net

SPEC_FILE = run_dir.SPEC_FILE  # a run folder, a preset and a SavedModel's assets.extra/
FORMAT_VERSION = 1

_MODEL_FIELDS = ("variant", "depth", "backbone_blocks", "backbone_width", "dmg_widths",
                 "afb_reduction")
_SIZE_PARAMETERS = {"input_size": "crop_shape", "resize_size": "resize_shape"}


def _build_model_default(name):
  function = getattr(depth_net.build_model, "__wrapped__", depth_net.build_model)
  return inspect.signature(function).parameters[name].default


def _tuple(value):
  return None if value is None else tuple(_tuple(v) if isinstance(v, (list, tuple)) else v
                                          for v in value)


class ModelSpecError(UserError, ValueError):
  """A model_spec.json that does not describe a network this package can build."""


def _positive_ints(value, count, name):
  if (not isinstance(value, tuple) or len(value) != count
      or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1 << 16
                 for v in value)):
    raise ValueError(f"{name} must be {count} positive integers, got {value!r}")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """What a trained network is. Defaults are the paper's model (Table 1, last row)."""
  variant: str = "full"
  depth: int = None  # the variant's Table-1 depth: 50 for the baseline, else 101
  backbone_blocks: tuple = None
  backbone_width: float = 1.0
  dmg_widths: tuple = (64, 128, 256, 512)
  afb_reduction: int = 1
  input_size: tuple = preprocessing.PAPER_CROP
  resize_size: tuple = preprocessing.PAPER_RESIZE

  def __post_init__(self):
    if self.variant not in depth_net.VARIANTS:
      raise ValueError(f"unknown variant {self.variant!r}; choose one of "
                       f"{sorted(depth_net.VARIANTS)}")
    # Normalise what JSON and gin hand in (lists, None depth) so equal specs compare equal.
    depth = self.depth or depth_net.VARIANTS[self.variant]["depth"]
    if self.backbone_blocks is not None:  # a custom ResNet is named by its own layer count
      depth = backbone.custom_depth(self.backbone_blocks)
    object.__setattr__(self, "depth", int(depth))
    for name in ("backbone_blocks", "dmg_widths", "input_size", "resize_size"):
      object.__setattr__(self, name, _tuple(getattr(self, name)))
    object.__setattr__(self, "backbone_width", float(self.backbone_width))
    object.__setattr__(self, "afb_reduction", int(self.afb_reduction))

  def build(self, backbone_weights=None, input_shape=(None, None, 3), precision="float32"):
    """The network, built from this record alone: every argument of `build_model` is passed,
    so no gin binding of the caller's can change it. `precision`: what its layers compute in
    (attn_depth.core.precision; variables stay float32, depth comes out float32); not part of the
    record, since the same weights serve every precision."""
    with precision_lib.policy(precision):
      return depth_net.build_model.__wrapped__(
          variant=self.variant, depth=self.depth, input_shape=input_shape,
          backbone_weights=backbone_weights, dmg_widths=self.dmg_widths,
          afb_reduction=self.afb_reduction, frozen_stages=0, freeze_batch_norm=False,
          backbone_blocks=self.backbone_blocks, backbone_width=self.backbone_width)

  @property
  def name(self):
    """'full_r101', 'baseline_r50', 'full_r14' (custom blocks): the Table-1 row it is."""
    return f"{self.variant}_r{self.depth}"

  def to_dict(self):
    return {"format_version": FORMAT_VERSION, **dataclasses.asdict(self)}

  @classmethod
  def from_dict(cls, values, where="model spec"):
    values = dict(values)
    version = values.pop("format_version", FORMAT_VERSION)
    if version > FORMAT_VERSION:
      raise ValueError(f"{where}: format {version} is newer than this attn_depth reads "
                       f"({FORMAT_VERSION}); upgrade attn_depth")
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
      raise ValueError(f"{where}: unknown fields {unknown}")
    return cls(**values)

  def save(self, folder):
    """Writes `folder`/model_spec.json (the folder is created). Returns the path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, SPEC_FILE)
    files.write_json(path, self.to_dict())
    return path

  def check(self):
    """Raises ValueError unless every field holds a value a network can be built from."""
    _positive_ints(self.input_size, 2, "input_size")
    _positive_ints(self.resize_size, 2, "resize_size")
    _positive_ints(self.dmg_widths, 4, "dmg_widths")
    if self.backbone_blocks is not None:
      _positive_ints(self.backbone_blocks, 4, "backbone_blocks")
    if not 0 < self.backbone_width <= 16:
      raise ValueError(f"backbone_width must be in (0, 16], got {self.backbone_width}")
    if not 1 <= self.afb_reduction < 1 << 16:
      raise ValueError(f"afb_reduction must be a positive integer, got {self.afb_reduction}")
    return self

  @classmethod
  def load(cls, path):
    """From a model_spec.json file, or a folder holding one. A file that is not a valid spec
    raises ModelSpecError naming it."""
    if os.path.isdir(path):
      path = os.path.join(path, SPEC_FILE)
    try:
      with open(path, encoding="utf-8") as f:
        values = json.load(f)
      if not isinstance(values, dict):
        raise ValueError(f"a JSON {type(values).__name__}, expected an object")
      return cls.from_dict(values, where=path).check()
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
      reason = str(error).replace(f"{path}: ", "")
      raise ModelSpecError(f"{path}: not a usable model spec ({reason})") from None

  @classmethod
  def from_gin(cls):
    """The spec of the network gin configures now (what attn-depth train builds)."""
    return cls._from_bindings(_query)

  @classmethod
  def from_operative_config(cls, path):
    """The spec of a run written before model_spec.json existed, read from its
    operative_config.gin without touching gin's global configuration."""
    return cls._from_bindings(GinFile(path).value)

  @classmethod
  def _from_bindings(cls, value):
    """`value(selector, parameter, default)` -> the spec those bindings describe."""
    values = {field: value("build_model", field, _build_model_default(field))
              for field in _MODEL_FIELDS}
    for field, parameter in _SIZE_PARAMETERS.items():
      values[field] = value("preprocess_example", parameter, getattr(cls, field))
    return cls(**values)


def _query(selector, parameter, default):
  """The value gin's global configuration binds, macros resolved, or `default`."""
  try:
    value = gin.query_parameter(f"{selector}.{parameter}")
  except ValueError:  # not bound: the function's default
    return default
  if isinstance(value, gin.config.ConfigurableReference):  # a macro such as %INPUT_SIZE
    value = value.scoped_configurable_fn()
  return value


@dataclasses.dataclass(frozen=True)
class _Reference:
  name: str


class _Reader(config_parser.ParserDelegate):
  """Parses values without resolving anything against gin's registry."""

  def configurable_reference(self, scoped_configurable_name, evaluate):
    return _Reference(scoped_configurable_name)

  def macro(self, macro_name):
    return _Reference(macro_name)


class GinFile:
  """The unscoped bindings of a gin file (a run's operative_config.gin), parsed with gin's
  parser but without its registry: nothing is bound, gin's configuration stays as it was."""

  def __init__(self, path):
    self._bindings, self._macros = {}, {}
    with open(path, encoding="utf-8") as f:
      for statement in config_parser.ConfigParser(f, _Reader()):
        if not isinstance(statement, config_parser.BindingStatement) or statement.scope:
          continue
        if statement.arg_name:
          self._bindings[(statement.selector, statement.arg_name)] = statement.value
        else:
          self._macros[statement.selector] = statement.value

  def value(self, selector, parameter, default=None):
    """The value bound to selector.parameter, macros resolved; `default` when unbound (or
    bound to a configurable reference, which has no value here)."""
    found = self._bindings.get((selector, parameter), default)
    while isinstance(found, _Reference):
      found = self._macros.get(found.name, default)
    return found
