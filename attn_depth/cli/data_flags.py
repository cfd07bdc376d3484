"""The test-data flags that attn-depth evaluate and attn-depth figures share, derived from the source
registry (attn_depth.data.sources): a source's flags are declared with the source."""

from absl import flags

from attn_depth import data


def _sources(kinds):
  return [name for name, descriptor in data.SOURCES.items() if descriptor.kind in kinds
          and "test" in descriptor.splits]


def define_source_flag(kinds=("frames", "sequences")):
  """--source, over the registry's test sources of `kinds` (figures: frames only)."""
  names = _sources(kinds)
  return flags.DEFINE_enum(
      "source", "nyu_labeled", names,
      "Test data: " + "; ".join(f"{name}: {data.SOURCES[name].summary}" for name in names) + ".")


_FLAGS = {flag.name: (flag, flags.DEFINE_list(flag.name, None, flag.help) if flag.is_list else
                      flags.DEFINE_string(flag.name, None, flag.help))
          for descriptor in data.SOURCES.values() for flag in descriptor.flags}


def bindings(depth_key=None):
  """gin bindings of the data flags that were given."""
  given = [f"nyu_labeled_source.depth_key = '{depth_key}'"] if depth_key else []
  for flag, holder in _FLAGS.values():
    if holder.value:
      given.append(flag.binding_of(holder.value))
  return given
