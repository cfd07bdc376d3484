"""gin plumbing: one-line errors, and runs written by older versions still load."""

import gin
import pytest

from attn_depth import config
from attn_depth import models


def test_bad_bindings_are_one_line_config_errors():
  with pytest.raises(config.ConfigError) as error:
    config.parse_gin([], ["train.no_such_parameter = 1"])
  assert "no_such_parameter" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("binding,meant", [
    ("train.totl_steps = 5", "train.total_steps"),
    ("trian.total_steps = 5", "train.total_steps"),
    ("synthetic_rooms_source.num_test_exampls = 5", "synthetic_rooms_source.num_test_examples"),
])
def test_a_mistyped_name_suggests_the_nearest_registered_one(binding, meant, tmp_path):
  with pytest.raises(config.ConfigError, match=f"; did you mean {meant}\\?$"):
    config.parse_gin([], [binding])
  gin_file = tmp_path / "typo.gin"  # in a gin file too
  gin_file.write_text(binding + "\n")
  with pytest.raises(config.ConfigError, match=f"typo.gin.*; did you mean {meant}\\?$"):
    config.parse_gin([str(gin_file)], [])
  with pytest.raises(config.ConfigError) as error:  # nothing near: no guess
    config.parse_gin([], ["train.zzzzzzzz = 5"])
  assert "did you mean" not in str(error.value)


def test_a_run_config_with_bindings_this_version_lacks_still_loads(tmp_path):
  path = tmp_path / "operative_config.gin"
  path.write_text("INPUT_SIZE = (64, 96)\n"
                  "build_model.variant = 'dfe'\n"
                  "preprocess_example.crop_shape = %INPUT_SIZE\n"
                  "train.export_after_training = False  # an older version's parameter\n")
  assert config.parse_run_config(str(path)) == ["train.export_after_training"]
  config.parse_gin([], [])
  assert gin.query_parameter("build_model.variant") == "dfe"
  assert models.ModelSpec.from_gin().input_size == (64, 96)
