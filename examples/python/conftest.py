# SPDX-License-Identifier: MIT
"""pytest setup for the sandbox.py suite.

Environment (all optional):
  LIBSANDBOX_PATH  the libsandbox.so under test (default: build/libsandbox/)
  SANDBOX_CLI      the C CLI `sandbox` (default: build/cli/sandbox; its
                   tests are skipped when it is missing)
"""
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]

os.environ.setdefault("LIBSANDBOX_PATH",
                      str(REPO / "build" / "libsandbox" / "libsandbox.so"))
# Import the sandbox.py next to this file, whatever the working directory.
sys.path.insert(0, str(HERE))
