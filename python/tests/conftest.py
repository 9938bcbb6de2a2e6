# SPDX-License-Identifier: MIT
"""pytest setup for the libsandbox package.

LIBSANDBOX_PATH picks the library under test (default: the repository's
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
try:
    import libsandbox  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "python" / "src"))
    import libsandbox  # noqa: F401

IMAGE = "busybox:latest"
BACKENDS = ["native", "podman", "docker"]
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
