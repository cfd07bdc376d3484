"""Parameter counts of Table 1's variants, as configured by gin.

  attn-depth summary                        # all four variants, paper configuration
  attn-depth summary --variants=full --gin_bindings='build_model.depth = 50'
"""


from absl import flags

from attn_depth import cli
from attn_depth import config
from attn_depth.core import files
from attn_depth import models
from attn_depth.models import summary

_GIN_FILES = flags.DEFINE_multi_string("gin_file", ["gin/base.gin"], "gin files, in order.")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "gin bindings, after the files.")
_VARIANTS = flags.DEFINE_list("variants", list(models.VARIANTS), "Variants to count.")
_JSON = flags.DEFINE_string("json", None, "Also write the counts to this JSON file.")


def main(argv):
  del argv
  with cli.tool("summary"):
    config.parse_gin(_GIN_FILES.value, _GIN_BINDINGS.value)
    rows = {}
    print(f"{'variant':<10} {'model':<28} {'total':>12} {'trainable':>12} {'frozen':>11} "
          f"{'DFE':>12} {'DMG':>11}")
    for variant in _VARIANTS.value:
      if variant not in models.VARIANTS:
        raise cli.UserError(f"unknown variant {variant!r}; choose from {sorted(models.VARIANTS)}")
      # Counting needs no ImageNet weights; the shapes are the same.
      model = models.build_model(variant=variant, backbone_weights=None)
      counts = summary.parameter_counts(model)
      rows[variant] = dict(model=model.name, **counts)
      print(f"{variant:<10} {model.name:<28} {counts['total']:>12,} {counts['trainable']:>12,} "
            f"{counts['frozen']:>11,} {counts['dfe']:>12,} {counts['dmg']:>11,}")
    if _JSON.value:
      files.write_json(_JSON.value, rows)

