"""docs/paper_to_code.md's claims about bindings and files stay true."""

import ast
import inspect
import os
import re

import gin

from attn_depth import config
from tests.conftest import REPO_ROOT

_BINDING = re.compile(r"`([a-z_]+)\.([a-z_]+)(?: = ([^`]+))?`")


def _doc():
  with open(os.path.join(REPO_ROOT, "docs", "paper_to_code.md"), encoding="utf-8") as f:
    return f.read()


def test_every_binding_named_exists_and_has_the_stated_paper_default():
  config.parse_gin(["gin/base.gin"], [])
  checked = 0
  for configurable, parameter, value in _BINDING.findall(_doc()):
    selectable = gin.config._REGISTRY.get_match(configurable)  # pylint: disable=protected-access
    if not selectable:  # a module path, not a configurable
      continue
    signature = inspect.signature(selectable.wrapped)
    assert parameter in signature.parameters, f"{configurable} has no parameter {parameter}"
    try:
      default = gin.query_parameter(f"{configurable}.{parameter}")
    except ValueError:  # not bound in gin/base.gin: the function's own default applies
      default = signature.parameters[parameter].default
    if isinstance(default, gin.config.ConfigurableReference):  # a macro such as %INPUT_SIZE
      default = gin.query_parameter(f"%{default.config_key[0]}")
    if value:
      expected = ast.literal_eval(value.strip())
      assert default == expected or (isinstance(default, (list, tuple))
                                     and tuple(default) == tuple(expected)), (
          f"{configurable}.{parameter}: docs say {value}, gin/base.gin has {default!r}")
    checked += 1
  assert checked >= 15


def test_every_code_path_named_exists():
  for path in re.findall(r"`((?:attn_depth|tools|gin|tests)/[\w/.]+\.(?:py|gin))", _doc()):
    assert os.path.isfile(os.path.join(REPO_ROOT, path)), path
