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
# An uninstalled build's helpers next to the library under test: the box
# init (every native box's PID 1) and the network relay, named through
# their environment variables (installed ones are found without).
for _var, _exe in (("SANDBOX_INIT", "sandbox-init"),
                   ("SANDBOX_NETRELAY", "sandbox-netrelay")):
    _built = pathlib.Path(os.environ["LIBSANDBOX_PATH"]).parent / _exe
    if _built.exists():
        os.environ.setdefault(_var, str(_built))
# Import the sandbox.py next to this file, whatever the working directory.
sys.path.insert(0, str(HERE))
