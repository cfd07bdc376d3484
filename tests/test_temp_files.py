"""The suite leaves nothing in the system's temp folder: every process it starts writes there."""

import os
import subprocess
import sys
import tempfile

from tests.conftest import SESSION_TMP


def test_tests_and_the_processes_they_start_write_into_the_session_folder(tmp_path):
  assert tempfile.gettempdir() == SESSION_TMP and str(tmp_path).startswith(SESSION_TMP)
  child = subprocess.run([sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"],
                         capture_output=True, text=True, check=True)
  assert child.stdout.strip() == SESSION_TMP
  assert os.path.basename(SESSION_TMP).startswith("attn_depth_tests_")
