"""A reader run in a forked child: its result, its exception, and its crash as one line."""

import ctypes
import os

import pytest

from attn_depth.core import isolated


def _crash():
  ctypes.string_at(0)  # reads address 0: SIGSEGV


def _fail():
  raise KeyError("no such variable")


def test_results_and_exceptions_come_back_and_a_crash_is_one_error():
  assert isolated.call(divmod, 17, 5) == (3, 2)
  with pytest.raises(KeyError, match="no such variable"):
    isolated.call(_fail)
  with pytest.raises(isolated.ReaderCrashed, match=r"^splits\.mat: its reader crashed on it "
                                                     r"\(signal SIGSEGV\)"):
    isolated.call(_crash, where="splits.mat")
  assert isolated.call(os.getpid) != os.getpid()  # it ran in another process
