# SPDX-License-Identifier: MIT
"""One source for the C struct mirrors: the drop-in examples/python/sandbox.py
uses the package's when `libsandbox` is importable and keeps its own copy
only as a fallback.  These tests fail the moment that copy drifts from the
package's (field names, ctypes types, order), and check the drop-in really
takes the package's mirrors when it can, and its own when it cannot."""
import ctypes
import importlib.util
import os
import subprocess
import sys

import pytest

import libsandbox
from libsandbox import _capi
from conftest import REPO

DROPIN = REPO / "examples" / "python" / "sandbox.py"
NAMES = ["sandbox_mount", "sandbox_opts", "sandbox_stream", "sandbox_result"]


def load_dropin():
    spec = importlib.util.spec_from_file_location("sandbox_dropin", DROPIN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def describe(t, seen=()):
    """A structural description of a ctypes type, equal for two types iff
    they have the same layout meaning: simple types by their code, structs
    by their fields (recursively), pointers by what they point to,
    function pointers by their signature."""
    if isinstance(t, type) and issubclass(t, ctypes.Structure):
        if t.__name__ in seen:
            return ("struct", t.__name__)
        return ("struct", t.__name__,
                tuple((f, describe(ft, seen + (t.__name__,)))
                      for f, ft in t._fields_))
    if isinstance(t, type) and issubclass(t, ctypes._Pointer):
        return ("pointer", describe(t._type_, seen))
    if isinstance(t, type) and issubclass(t, ctypes._CFuncPtr):
        return ("function", describe(t._restype_, seen) if t._restype_
                else None, tuple(describe(a, seen) for a in t._argtypes_),
                t._flags_)
    if isinstance(t, type) and issubclass(t, ctypes.Array):
        return ("array", t._length_, describe(t._type_, seen))
    if t is None:
        return None
    # Simple types: c_size_t is c_ulong here, which is what we want to
    # compare (the same C type), so compare the type code and size.
    return ("simple", getattr(t, "_type_", t.__name__), ctypes.sizeof(t))


@pytest.mark.parametrize("name", NAMES)
def test_dropin_fallback_is_the_packages(name):
    mod = load_dropin()
    own = mod._FALLBACK_STRUCTS[name]
    pkg = getattr(_capi, name)
    assert own is not pkg  # the fallback is a real, separate copy
    assert [f for f, _ in own._fields_] == [f for f, _ in pkg._fields_]
    assert describe(own) == describe(pkg)
    assert ctypes.sizeof(own) == ctypes.sizeof(pkg)
    for field, _ in pkg._fields_:
        assert getattr(own, field).offset == getattr(pkg, field).offset


def test_describe_sees_a_drift():
    # The control: a copy that differs in one type, one name, or the
    # order is told apart from the package's.
    pkg = _capi.sandbox_mount
    typ = type("sandbox_mount", (ctypes.Structure,), {"_fields_": [
        ("host", ctypes.c_char_p), ("box", ctypes.c_char_p),
        ("writable", ctypes.c_long)]})
    name = type("sandbox_mount", (ctypes.Structure,), {"_fields_": [
        ("host", ctypes.c_char_p), ("box", ctypes.c_char_p),
        ("rw", ctypes.c_int)]})
    order = type("sandbox_mount", (ctypes.Structure,), {"_fields_": [
        ("box", ctypes.c_char_p), ("host", ctypes.c_char_p),
        ("writable", ctypes.c_int)]})
    same = type("sandbox_mount", (ctypes.Structure,), {"_fields_": list(
        pkg._fields_)})
    assert describe(same) == describe(pkg)
    for bad in (typ, name, order):
        assert describe(bad) != describe(pkg)
    # void * vs a function pointer in sandbox_opts.on_output (the first
    # drift) is a difference too.
    assert describe(ctypes.c_void_p) != describe(_capi.OUTPUT_FN)


def test_dropin_uses_the_package_mirrors_when_importable():
    mod = load_dropin()
    assert mod._pkg is _capi
    for name in NAMES:
        assert getattr(mod, name) is getattr(libsandbox, name)
    assert mod.RunError is libsandbox.RunError


def test_dropin_falls_back_without_the_package(tmp_path):
    # A Python where `import libsandbox` fails: the drop-in runs on its
    # own copy (and still runs: the structs are usable with the library).
    code = ("import sys, ctypes\n"
            "sys.modules['libsandbox'] = None\n"  # import raises ImportError
            f"sys.path.insert(0, {str(DROPIN.parent)!r})\n"
            "import sandbox\n"
            "assert sandbox._pkg is None\n"
            "assert sandbox.sandbox_opts is "
            "sandbox._FALLBACK_STRUCTS['sandbox_opts']\n"
            "lib = sandbox.load()\n"
            "o = sandbox.sandbox_opts()\n"
            "print(lib.sandbox_opts_init(ctypes.byref(o), ctypes.sizeof(o)),"
            " o.stdin_fd, o.box_lifetime_sec,"
            " int(hasattr(lib, 'sandbox_box_create')))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, cwd=tmp_path, env=dict(os.environ))
    assert p.returncode == 0, p.stderr
    rc, fd, lifetime, boxes = p.stdout.split()
    assert (rc, fd) == ("0", "-1")
    if boxes == "1":  # a library with boxes fills the header's default
        assert float(lifetime) == 3600.0
