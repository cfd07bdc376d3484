"""The readers of user files under coverage-guided fuzzing (tools/fuzz.py, atheris): every input
ends in a result or the reader's one-line error. The suite runs each target briefly with a fixed
seed; the README gives the longer runs by hand. The inputs that broke a contract once are kept
here as regression cases."""

import base64
import gzip
import os

import pytest

from lab import fuzzing
from tests.conftest import run_tool


# Found by the fuzzer (PIL's "Truncated IHDR chunk" ValueError; numpy's tokenize.TokenError for
# a damaged .npy header): both escaped the readers as exceptions of other types.
FOUND = {
    "photo": "iVBORw0KGgoAAAAFSUhEUgAAABAAAAAMCAIAAADkharWAAACV0lEQVR4nAFMArP9AF+CwtnP6w+jIdfZgvi9E"
             "EW46M1OqT19Ch3wQhO2JzsEO21R3ix4ejHQTgwIAgAAAOSFqtYAAAJXSURBVHicAUwCs/0AX4LC2c/rD6Mh1"
             "9mC+L0QRbjozU6pPX0KHfBCE7YnOwQ7bVHeLHh6MdBOHECmeVmq6QIgMCunopA9+CTDqXZnLoywdQeXD1M+x"
             "K6B0M8UfFHBJescQKZ5WarpAiAwK6eikD34JMOpdmcujLB1B5cPUz7EroHQzxR8UcEl6xHmiVBORw0KGgoAA"
             "A==",
    "depth_npy": "k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJz"
                 "ogKDQsIDUpICAgICAgICAgICAgICAgICAgICAgICAgICCkICAgICAgICAgICAgICAgICAgICAgIAoAAA"
                 "EAAgADAAQABQAGAAcACAAJAAoACwAMAA0ADgAPABAAESAgICAg",
    # scipy.io.loadmat 1.17 dies with SIGSEGV on this splits.mat: read in a child process now.
    "nyu_splits_mat": "TUFUTEFCIDUuMCBNQVQtZmlsZSBQbGF0Zm9ybTogcG9zaXgsIENyZWF0ZWQgb246IFRodSBEZWMg"
                      "IDMgMDc6NDM6MDggMjAyNgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                      "AAAAAAAAAAAAAAAAAAABSU0OAAAAUAAAAAYAAAAIAAAABgAAAAAAAAAFAAAACAAAAAIAAAABAAAA"
                      "AQAAAAkAAAB0cmH//////////2luTmR4cwAAAAAAAAAJAAAAEAAAAAAAAAAAAPA/AAAAAAAACEAO"
                      "AAAASAAAAAYAAAAIAAAABgAAAABAAAAAAAAAEEA=",
}


def test_a_member_with_a_bad_checksum_skips_its_frame_only(tmp_path):
  """Found by fuzzing: zipfile's BadZipFile (bad CRC-32) escaped DenseDepth's frame reader."""
  target = fuzzing.targets()["densedepth_zip"]
  data = bytearray(target.seeds()[0])
  member = data.find(b"IDAT", data.find(b"data/nyu2_test/1_colors.png"))
  data[member + 8] ^= 0xFF  # the second frame's image, inside the stored member
  path = tmp_path / "nyu_data.zip"
  path.write_bytes(bytes(data))
  frames = target.read(str(path))
  assert [ok for _, _, ok in frames] == [True, False]


@pytest.mark.parametrize("name", sorted(FOUND))
def test_what_the_fuzzer_found_is_now_the_one_line_error(name, tmp_path):
  target = fuzzing.targets()[name]
  with pytest.raises(target.expected):
    target.read(_write(tmp_path, target, FOUND[name]))


# Larger inputs, kept gzipped beside this file: h5py's KeyError ("bad object header version
# number") escaped the labeled .mat's layout check; zipfile's OSError (a seek to a negative
# offset, from a hostile central directory) escaped DenseDepth's CSV read.
FOUND_FILES = {"nyu_labeled_mat": "fuzz_found/nyu_labeled_mat_bad_object_header.mat.gz",
               "densedepth_zip": "fuzz_found/densedepth_zip_negative_offset.zip.gz"}


@pytest.mark.parametrize("name", sorted(FOUND_FILES))
def test_larger_inputs_the_fuzzer_found_are_now_the_one_line_error(name, tmp_path):
  target = fuzzing.targets()[name]
  with gzip.open(os.path.join(os.path.dirname(__file__), FOUND_FILES[name]), "rb") as f:
    path = tmp_path / ("input" + target.suffix)
    path.write_bytes(f.read())
  with pytest.raises(target.expected):
    target.read(str(path))


def _write(tmp_path, target, encoded):
  path = tmp_path / ("input" + target.suffix)
  path.write_bytes(base64.b64decode(encoded))
  return str(path)


@pytest.mark.slow
def test_every_seed_reads_and_every_target_survives_a_fixed_fuzzing_run(tmp_path):
  for name, target in fuzzing.targets().items():
    for index, data in enumerate(target.seeds()):
      path = tmp_path / f"{name}{index}{target.suffix}"
      path.write_bytes(data)
      target.check(target.read(str(path)))  # the seeds are valid files: the fuzzer starts inside
  result = run_tool("fuzz", "--target=all", "--runs=300", "--seed=0", f"--work_dir={tmp_path}",
                    timeout=900)
  assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
  lines = result.stdout.strip().splitlines()
  assert len(lines) == len(fuzzing.targets()), result.stdout
  for name, line in zip(fuzzing.targets(), lines):
    assert line == f"{name}: 300 inputs, every one a result or the reader's one-line error"
