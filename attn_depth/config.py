"""gin plumbing shared by the tools: the package never reads flags, tools hand them in here."""

import os

import gin

# Registers every configurable before a gin file names it.
import attn_depth.data  # noqa: F401
import attn_depth.models  # noqa: F401
import attn_depth.training  # noqa: F401

_search_paths_added = set()
GIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gin")


def parse_gin(gin_files=(), gin_bindings=(), finalize=True):
  """Parses gin files then bindings (later ones win). `include 'base.gin'` and
  `include 'nyu/...'` resolve against the repository's gin/ folder from any working directory."""
  for path in (GIN_DIR,):
    if path not in _search_paths_added:
      gin.add_config_file_search_path(path)
      _search_paths_added.add(path)
  gin.parse_config_files_and_bindings(list(gin_files or ()), list(gin_bindings or ()),
                                      finalize_config=finalize)
