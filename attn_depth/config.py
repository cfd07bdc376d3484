"""gin plumbing shared by the tools: the package never reads flags, tools hand them in here."""

import difflib
import inspect
import logging
import os
import re

import gin
from gin import config_parser

# Registers every configurable before a gin file names it.
import attn_depth.data  # noqa: F401
import attn_depth.models  # noqa: F401
import attn_depth.training  # noqa: F401
from attn_depth.core.errors import UserError

_LOG = logging.getLogger(__name__)  # shown by every tool as 'tool: warning: ...'

_search_paths_added = set()
# The shipped configs: attn_depth/gin in an installed wheel (setup.py maps the top-level gin/
# folder there), the repository's gin/ in a checkout. Names like 'gin/nyu/full_r101.gin' (the
# README's, the includes') resolve against the folder above it, 'nyu/full_r101.gin' against it.
_PACKAGED_GIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gin")
GIN_DIR = (_PACKAGED_GIN_DIR if os.path.isdir(_PACKAGED_GIN_DIR) else
           os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gin"))
_GIN_ROOT = os.path.dirname(GIN_DIR)


class ConfigError(UserError, ValueError):
  """A gin file or binding that cannot be parsed (typo, unknown parameter, bad value)."""


def _one_line(error, limit=400):
  # gin appends the location ("In file ..., line N" and the line) on indented lines, and some
  # messages quote the whole configuration after "in config string".
  text = str(error).split(" in config string", 1)[0]
  text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
  return text if len(text) <= limit else text[:limit] + " ..."


def _add_search_path():
  # `include 'gin/base.gin'` (the shipped files) and `--gin_file=gin/nyu/x.gin` resolve against
  # the folder holding gin/, `include 'base.gin'` against gin/, from any working folder.
  for folder in (_GIN_ROOT, GIN_DIR):
    if folder not in _search_paths_added:
      gin.add_config_file_search_path(folder)
      _search_paths_added.add(folder)


def _resolve(path):
  path = os.path.expanduser(path)
  if os.path.exists(path) or os.path.isabs(path):
    return path
  for folder in (_GIN_ROOT, GIN_DIR):
    if os.path.exists(os.path.join(folder, path)):
      return os.path.join(folder, path)
  return path


def parse_gin(gin_files=(), gin_bindings=(), finalize=True):
  """Parses gin files then bindings (later ones win). A relative gin file or include that is
  not found from the working folder is looked up among the shipped configs (GIN_DIR and the
  folder above it).
  Errors become one-line ConfigErrors."""
  _add_search_path()
  gin_files = [_resolve(path) for path in gin_files or ()]
  for path in gin_files:  # said here in one line, before gin logs each place it looked
    if not os.path.isfile(path):
      raise ConfigError(f"{path}: no such gin file (looked in the working folder and among "
                        f"the shipped configs in {GIN_DIR})")
  try:
    gin.parse_config_files_and_bindings(gin_files, list(gin_bindings or ()),
                                        finalize_config=finalize)
  except (ValueError, SyntaxError, IOError) as error:
    hint = _nearest_name(str(error))
    raise ConfigError(_one_line(error) + (f"; did you mean {hint}?" if hint else "")) from None


# gin's words for the two typos a binding can hold: a configurable's name, a parameter's name.
_UNKNOWN_PARAMETER = re.compile(r"Configurable '([\w.]+)' doesn't have a parameter named '(\w+)'")
_UNKNOWN_CONFIGURABLE = re.compile(r"No configurable matching '([\w.]+)'")


def _nearest_name(message):
  """The registered `configurable.parameter` nearest to the unknown name gin's `message`
  names (difflib), or None: a typo is then one line that says what was meant."""
  # pylint: disable=protected-access  (gin has no public list of its configurables)
  registry = gin.config._REGISTRY
  unknown = _UNKNOWN_PARAMETER.search(message)
  if unknown:
    name, parameter = unknown.groups()
    configurable = registry.get_match(name)
    if configurable is None:
      return None
    known = [p for p in inspect.signature(configurable.wrapped).parameters
             if p not in (configurable.denylist or ()) and p not in ("self", "args", "kwargs")]
    close = difflib.get_close_matches(parameter, known, n=1)
    return f"{name}.{close[0]}" if close else None
  unknown = _UNKNOWN_CONFIGURABLE.search(message)
  if not unknown:
    return None
  name = unknown.group(1)
  close = difflib.get_close_matches(name, sorted({c.name for _, c in registry.items()}), n=1)
  if not close:
    return None
  parameter = re.search(re.escape(name) + r"\.(\w+)", message)  # the binding, quoted by gin
  return close[0] + (f".{parameter.group(1)}" if parameter else "")


def parse_run_config(path):
  """Applies a training run's operative_config.gin binding by binding, skipping the bindings
  this version of attn_depth no longer knows (a run written by an older version still loads).
  Returns the skipped binding names; they are also logged."""
  _add_search_path()
  skipped = []
  with open(path, encoding="utf-8") as f:
    parser = config_parser.ConfigParser(f, gin.config.ParserDelegate(skip_unknown=True))
    for statement in parser:
      if not isinstance(statement, config_parser.BindingStatement):
        continue
      scope, selector, arg_name = statement.scope, statement.selector, statement.arg_name
      if arg_name:
        key, name = (scope, selector, arg_name), f"{selector}.{arg_name}"
      else:  # a macro, bound the way gin's own parser binds it
        name = f"{scope}/{selector}" if scope else selector
        key = (name, "gin.macro", "value")
      try:
        gin.bind_parameter(key, statement.value)
      except ValueError:
        skipped.append(name)
  if skipped:
    _LOG.warning("%s: ignored bindings this version does not know: %s", path,
                    ", ".join(skipped))
  return skipped


def parse_gin_for_model(model_path, gin_files=(), gin_bindings=()):
  """What the tools that read a trained model do: the run's own operative config first, so
  that its data settings (the test set it was trained beside, say) carry over, then the user's
  files and bindings on top. The network itself is rebuilt from the model's own spec, never
  from gin (attn_depth.serving.inference.load_network). Nothing of the model for a SavedModel, a preset
  or no model."""
  # pylint: disable=import-outside-toplevel
  from attn_depth.serving import inference
  from attn_depth.serving import presets
  if model_path and not presets.is_preset(model_path):
    for path in inference.model_gin_files(model_path):
      parse_run_config(path)
  parse_gin(gin_files, gin_bindings)


def query(binding, default=None):
  """The value bound to `binding` ("function.parameter") in the parsed config, or `default`."""
  try:
    return gin.query_parameter(binding)
  except ValueError:
    return default
