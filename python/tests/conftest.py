# SPDX-License-Identifier: MIT
"""pytest setup for the libsandbox package.

LIBSANDBOX_PATH picks the library under test; SANDBOX_TEST_RUNTIME one
backend (default: native, podman and docker) (default: the repository's
build/libsandbox/libsandbox.so.0).  The package is imported as installed
(scripts/test.sh installs it into a temporary directory first); when it is
not installed, the source tree's python/src is used."""
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
os.environ.setdefault("LIBSANDBOX_PATH",
                      str(REPO / "build" / "libsandbox" / "libsandbox.so.0"))
# An uninstalled build's helpers next to the library under test: the box
# init (every native box's PID 1) and the network relay, named through
# their environment variables (installed ones are found without).
for _var, _exe in (("SANDBOX_INIT", "sandbox-init"),
                   ("SANDBOX_NETRELAY", "sandbox-netrelay")):
    _built = pathlib.Path(os.environ["LIBSANDBOX_PATH"]).parent / _exe
    if _built.exists():
        os.environ.setdefault(_var, str(_built))
try:
    import libsandbox  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "python" / "src"))
    import libsandbox  # noqa: F401

IMAGE = "busybox:latest"
# $SANDBOX_TEST_RUNTIME=native|podman|docker runs the backend tests on that
# backend only (as the C tests take it); unset: all three.
ALL_BACKENDS = ["native", "podman", "docker"]
BACKENDS = ([os.environ["SANDBOX_TEST_RUNTIME"]]
            if os.environ.get("SANDBOX_TEST_RUNTIME") else ALL_BACKENDS)
_works = {}


def backend_works(rt):
    """Can this backend run busybox here?  Asked once per session."""
    if rt not in _works:
        try:
            r = libsandbox.run("true", image=IMAGE, runtime=rt, timeout=120)
            _works[rt] = r.ok
        except libsandbox.SandboxError as exc:
            _works[rt] = False
            _works[rt + ".why"] = str(exc)
    return _works[rt]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if not backend_works(request.param):
        pytest.skip(f"{request.param} cannot run {IMAGE} here: "
                    f"{_works.get(request.param + '.why', 'not ok')}")
    return request.param
