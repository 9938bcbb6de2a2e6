# SPDX-License-Identifier: MIT
"""sandbox.py: the reference contract's drop-in, backed by libsandbox.

A single file, standard library only (ctypes).  Everything a run does
(validation, finding podman or docker, the container's flags, timeouts,
capture, UTF-8 repair, the text form and its truncation) is libsandbox's.
This module only moves values across the C boundary, so the Python and C
paths cannot disagree.

    from sandbox import sandbox_run, run

    print(sandbox_run("echo hi", image="busybox:latest"))
    r = run("ls /nope", image="busybox:latest")
    r.reason, r.exit_code, r.stderr        # 'exited', 1, b'ls: /nope: ...'

As a program it is the contract's CLI:

    python sandbox.py [--image I] [--timeout N] [--network none|bridge]
                      [--memory M] [--pids N] [--cpus N] [--workspace DIR]
                      [--runtime R] -- COMMAND [ARG ...]

The library is found by load(path), then $LIBSANDBOX_PATH, then the
system's loader (ctypes.util.find_library("sandbox"), "libsandbox.so.0").
See docs/python.md.
"""

import argparse
import ctypes
import ctypes.util
import dataclasses
import numbers
import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Optional

__all__ = [
    "sandbox_run", "run", "Result", "load", "version", "find_runtime", "gc",
    "SandboxError", "InvalidOptionsError", "NoRuntimeError", "RunError",
    "LibraryError", "main",
]

# The oldest library this module speaks to (MAJOR*10000 + MINOR*100 + PATCH)
# and the major version whose struct layout it describes.
MIN_VERSION_NUMBER = 100
SUPPORTED_MAJOR = 0

LIBRARY_ENV = "LIBSANDBOX_PATH"
EXIT_SANDBOX = 125  # the CLI's own failures, as sandbox(1)

# enum sandbox_error
SANDBOX_OK = 0
SANDBOX_EINVAL = -1
SANDBOX_ENORUNTIME = -2
SANDBOX_ESPAWN = -3
SANDBOX_ENOMEM = -4
SANDBOX_EIO = -5
SANDBOX_ERUNTIME = -6
SANDBOX_EABI = -7
SANDBOX_EBOXDEAD = -8
SANDBOX_EBADBOX = -9

# enum sandbox_network
_NETWORKS = {"none": 0, "bridge": 1}

# enum sandbox_end
SANDBOX_END_CANCELLED = 5


# --- The C structs, field for field as in sandbox.h -------------------------
# ONE SOURCE: when the libsandbox package (python/) is importable, its
# mirrors (libsandbox._capi) replace these right below, and this copy is only
# the fallback that keeps the file self-contained.  The package's tests
# (python/tests/test_mirrors.py) fail unless this copy is field for field
# (names, ctypes types, order) the package's, and this suite compiles a C
# program against sandbox.h and compares every size and offset with the
# compiler's (test_struct_layout_*).  Edit the package first, then copy.

# void (*on_output)(void *ctx, int stream, const char *data, size_t len)
OUTPUT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)

class sandbox_mount(ctypes.Structure):
    _fields_ = [
        ("host", ctypes.c_char_p),
        ("box", ctypes.c_char_p),
        ("writable", ctypes.c_int),
    ]


class sandbox_opts(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("command", ctypes.c_char_p),
        ("image", ctypes.c_char_p),
        ("workspace", ctypes.c_char_p),
        ("runtime", ctypes.c_char_p),
        ("timeout_sec", ctypes.c_double),
        ("network", ctypes.c_int),
        ("memory", ctypes.c_char_p),
        ("pids", ctypes.c_long),
        ("cpus", ctypes.c_double),
        ("output_limit", ctypes.c_size_t),
        ("mounts", ctypes.POINTER(sandbox_mount)),
        ("n_mounts", ctypes.c_size_t),
        ("env", ctypes.POINTER(ctypes.c_char_p)),
        ("n_env", ctypes.c_size_t),
        ("cancel_fd", ctypes.c_int),
        # 0.2.0
        ("disk_limit", ctypes.c_char_p),
        # exec options (issue 10)
        ("argv", ctypes.POINTER(ctypes.c_char_p)),
        ("argc", ctypes.c_size_t),
        ("stdin_data", ctypes.c_void_p),
        ("stdin_len", ctypes.c_size_t),
        ("stdin_fd", ctypes.c_int),
        ("stdout_fd", ctypes.c_int),
        ("stderr_fd", ctypes.c_int),
        ("on_output", OUTPUT_FN),
        ("on_output_ctx", ctypes.c_void_p),
        # network allowlist (issue 11)
        ("allow", ctypes.POINTER(ctypes.c_char_p)),
        ("n_allow", ctypes.c_size_t),
        ("max_connections", ctypes.c_size_t),
        ("max_net_bytes", ctypes.c_uint64),
        # boxes (sandbox_box_create, issue 10)
        ("box_lifetime_sec", ctypes.c_double),
        ("box_idle_sec", ctypes.c_double),
    ]


class sandbox_stream(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),  # char *, may hold NUL bytes: read by len
        ("len", ctypes.c_size_t),
        ("total", ctypes.c_uint64),
        ("truncated", ctypes.c_int),
    ]


class sandbox_result(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("reason", ctypes.c_int),
        ("exit_code", ctypes.c_int),
        ("term_signal", ctypes.c_int),
        ("error", ctypes.c_int),
        ("out", sandbox_stream),
        ("err", sandbox_stream),
        ("wall_sec", ctypes.c_double),
        # Owned by the result; c_void_p so ctypes never converts or frees.
        ("runtime", ctypes.c_void_p),
        ("container_name", ctypes.c_void_p),
        ("message", ctypes.c_void_p),
        ("peak_memory_bytes", ctypes.c_uint64),
        ("cpu_sec", ctypes.c_double),
        # 0.2.0
        ("image_id", ctypes.c_void_p),
        ("backend", ctypes.c_void_p),
        ("host_root", ctypes.c_int),
        ("disk_limit_hit", ctypes.c_int),
        ("disk_bytes", ctypes.c_uint64),
        # network allowlist (issue 11); owned by the result
        ("net_attempts", ctypes.c_size_t),
        ("net_log", ctypes.c_void_p),
    ]


# --- Errors -----------------------------------------------------------------

class SandboxError(Exception):
    """Base of every error this module raises.

    code is the sandbox_error value (negative int) or None; result is the
    Result the library filled (reason "error"), when there is one."""

    def __init__(self, message, code=None, result=None):
        super().__init__(message)
        self.code = code
        self.result = result


class InvalidOptionsError(SandboxError, ValueError):
    """An argument is invalid (SANDBOX_EINVAL); nothing was run."""


class NoRuntimeError(SandboxError, RuntimeError):
    """Neither podman nor docker could be found (SANDBOX_ENORUNTIME)."""


class RunError(SandboxError, RuntimeError):
    """The command could not be run (runtime failure, spawn, I/O, memory)."""


class LibraryError(SandboxError, OSError):
    """libsandbox is missing, too old, or of an unsupported major version."""


# This file's own copy, kept for the test that compares it with the
# package's (and used when the package is not importable).
_FALLBACK_STRUCTS = {
    "sandbox_mount": sandbox_mount,
    "sandbox_opts": sandbox_opts,
    "sandbox_stream": sandbox_stream,
    "sandbox_result": sandbox_result,
}

# Built on the libsandbox package (python/) when it is installed: its C
# struct mirrors and its exception classes are the ones used, so values and
# exceptions pass between the two unchanged.  Without it, the definitions
# above (the same layout) keep this file self-contained.
try:
    from libsandbox import _capi as _pkg
except ImportError:
    _pkg = None
if _pkg is not None:
    OUTPUT_FN = _pkg.OUTPUT_FN  # noqa: F811
    sandbox_mount = _pkg.sandbox_mount  # noqa: F811
    sandbox_opts = _pkg.sandbox_opts  # noqa: F811
    sandbox_stream = _pkg.sandbox_stream  # noqa: F811
    sandbox_result = _pkg.sandbox_result  # noqa: F811
    SandboxError = _pkg.SandboxError  # noqa: F811
    InvalidOptionsError = _pkg.InvalidOptionsError  # noqa: F811
    NoRuntimeError = _pkg.NoRuntimeError  # noqa: F811
    RunError = _pkg.RunError  # noqa: F811
    LibraryError = _pkg.LibraryError  # noqa: F811


# --- Loading the library ----------------------------------------------------

_lib = None
_lib_lock = threading.Lock()

_P = ctypes.POINTER
_SIGNATURES = {
    "sandbox_opts_init": (ctypes.c_int, [_P(sandbox_opts), ctypes.c_size_t]),
    "sandbox_result_init": (ctypes.c_int,
                            [_P(sandbox_result), ctypes.c_size_t]),
    "sandbox_opts_validate": (ctypes.c_int,
                              [_P(sandbox_opts), _P(ctypes.c_void_p)]),
    "sandbox_run": (ctypes.c_int, [_P(sandbox_opts), _P(sandbox_result)]),
    "sandbox_result_free": (None, [_P(sandbox_result)]),
    "sandbox_format": (ctypes.c_int, [_P(sandbox_result), ctypes.c_size_t,
                                      _P(ctypes.c_void_p),
                                      _P(ctypes.c_size_t)]),
    "sandbox_utf8_sanitize": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t,
                                             _P(ctypes.c_void_p),
                                             _P(ctypes.c_size_t)]),
    "sandbox_find_runtime": (ctypes.c_int, [ctypes.c_char_p,
                                            _P(ctypes.c_void_p),
                                            _P(ctypes.c_void_p)]),
    "sandbox_gc": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int,
                                  _P(ctypes.c_uint), _P(ctypes.c_void_p)]),
    "sandbox_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "sandbox_end_name": (ctypes.c_char_p, [ctypes.c_int]),
    "sandbox_version": (ctypes.c_char_p, []),
    "sandbox_version_number": (ctypes.c_int, []),
    "sandbox_free": (None, [ctypes.c_void_p]),
}


def _candidates(path):
    """(name, where it came from) in the order they are tried."""
    if path is not None:
        return [(os.fspath(path), "the path given to load()")]
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [(env, "$" + LIBRARY_ENV)]
    found = ctypes.util.find_library("sandbox")
    names = [(found, "ctypes.util.find_library")] if found else []
    return names + [("libsandbox.so.0", "the dynamic loader")]


def _open(path):
    tried = []
    for name, origin in _candidates(path):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as exc:
            tried.append(f"{name} ({origin}): {exc}")
    else:
        raise LibraryError(
            "libsandbox not found; tried " + "; ".join(tried) + ". Install "
            "libsandbox, or set " + LIBRARY_ENV + " to the path of "
            "libsandbox.so, or call sandbox.load(path)")
    try:
        for fname, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, fname)
            fn.restype = restype
            fn.argtypes = argtypes
    except AttributeError as exc:
        raise LibraryError(f"{name} is not a usable libsandbox: {exc}") from None
    number = lib.sandbox_version_number()
    text = lib.sandbox_version().decode("ascii", "replace")
    if number < MIN_VERSION_NUMBER:
        raise LibraryError(f"libsandbox {text} at {name} is too old: this "
                           f"sandbox.py needs 0.1.0 or newer")
    if number // 10000 != SUPPORTED_MAJOR:
        raise LibraryError(f"libsandbox {text} at {name} has major version "
                           f"{number // 10000}; this sandbox.py describes "
                           f"the structs of major version {SUPPORTED_MAJOR}")
    return lib


def load(path=None):
    """Load libsandbox and return the ctypes.CDLL.

    With path, load exactly that file (and use it from now on).  Without,
    return the library already loaded, or find it: $LIBSANDBOX_PATH, then
    ctypes.util.find_library("sandbox"), then "libsandbox.so.0".
    Raises LibraryError when it is missing, too old, or not version 0.x."""
    global _lib
    with _lib_lock:
        if path is not None or _lib is None:
            _lib = _open(path)
        return _lib


def version():
    """The library's version string, e.g. "0.1.0"."""
    return load().sandbox_version().decode("ascii")


# --- Marshalling ------------------------------------------------------------

def _take_string(lib, ptr, decode=True):
    """Copy and release a char * the library returned through char **."""
    if not ptr:
        return None
    try:
        raw = ctypes.string_at(ptr)
    finally:
        lib.sandbox_free(ptr)
    return raw.decode("utf-8", "replace") if decode else raw


def _cstr(name, value, keep, path=False):
    """str/bytes/PathLike -> bytes for a const char * (None stays None)."""
    if value is None:
        return None
    if path:
        value = os.fspath(value)
    if isinstance(value, str):
        value = (os.fsencode(value) if path
                 else value.encode("utf-8", "surrogateescape"))
    if not isinstance(value, bytes):
        raise InvalidOptionsError(f"{name} must be a string, not "
                                  f"{type(value).__name__}", SANDBOX_EINVAL)
    if b"\0" in value:
        raise InvalidOptionsError(f"{name} contains a NUL byte, which a C "
                                  f"string cannot carry", SANDBOX_EINVAL)
    keep.append(value)
    return value


def _number(name, value, integer=False, lo=None, hi=None):
    """A number ctypes can hold exactly; ranges are the library's business
    (lo/hi only keep ctypes from silently wrapping an integer)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidOptionsError(f"{name} must be a number, not "
                                  f"{value!r}", SANDBOX_EINVAL)
    if not integer:
        return float(value)
    if isinstance(value, float) and not value.is_integer():
        raise InvalidOptionsError(f"{name} {value!r} is not a whole number",
                                  SANDBOX_EINVAL)
    value = int(value)
    if not lo <= value <= hi:
        raise InvalidOptionsError(f"{name} {value} is out of range",
                                  SANDBOX_EINVAL)
    return value


_LONG_BITS = 8 * ctypes.sizeof(ctypes.c_long)
_SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1


def _build_opts(lib, command, *, workspace, image, timeout, network, memory,
                pids, cpus, runtime, output_limit, env, mounts):
    """Fill a sandbox_opts; returns (opts, keep) where keep holds every
    buffer the struct points into until the call returns."""
    opts = sandbox_opts()
    rc = lib.sandbox_opts_init(ctypes.byref(opts), ctypes.sizeof(opts))
    if rc != 0:
        raise LibraryError(f"sandbox_opts_init rejected sizeof(sandbox_opts) "
                           f"= {ctypes.sizeof(opts)}: ABI mismatch", rc)
    keep = []
    opts.command = _cstr("command", command, keep)
    opts.image = _cstr("image", image, keep)
    opts.workspace = _cstr("workspace", workspace, keep, path=True)
    opts.runtime = _cstr("runtime", runtime, keep, path=True)
    opts.memory = _cstr("memory", memory, keep)
    opts.timeout_sec = _number("timeout", timeout)
    opts.cpus = _number("cpus", cpus)
    opts.pids = _number("pids", pids, True, -(1 << (_LONG_BITS - 1)),
                        (1 << (_LONG_BITS - 1)) - 1)
    opts.output_limit = _number("output_limit", output_limit, True, 0,
                                _SIZE_MAX)
    if network not in _NETWORKS:
        raise InvalidOptionsError(f"network {network!r} is unknown: use "
                                  f"'none' or 'bridge'", SANDBOX_EINVAL)
    opts.network = _NETWORKS[network]

    if env:
        if isinstance(env, Mapping):
            items = []
            for k, v in env.items():
                k = _cstr("env name", k, keep)
                if b"=" in k:
                    raise InvalidOptionsError(f"env name {k!r} contains '='",
                                              SANDBOX_EINVAL)
                items.append(k + b"=" + _cstr(f"env[{k!r}]", v, keep))
        else:
            items = [_cstr("env entry", e, keep) for e in env]
        arr = (ctypes.c_char_p * len(items))(*items)
        keep.append(arr)
        opts.env = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
        opts.n_env = len(items)
    if mounts:
        arr = (sandbox_mount * len(mounts))()
        for i, m in enumerate(mounts):
            if len(m) not in (2, 3):
                raise InvalidOptionsError(f"mounts[{i}] must be (host, box) or "
                                          f"(host, box, writable)",
                                          SANDBOX_EINVAL)
            arr[i].host = _cstr(f"mounts[{i}] host", m[0], keep, path=True)
            arr[i].box = _cstr(f"mounts[{i}] box", m[1], keep, path=True)
            arr[i].writable = 1 if len(m) == 3 and m[2] else 0
        keep.append(arr)
        opts.mounts = arr
        opts.n_mounts = len(mounts)
    return opts, keep


# Write end of the cancel pipe of the call the main thread is waiting for;
# the CLI's signal handlers write to it.
_main_cancel_w = None


def _write_cancel(fd):
    try:
        os.write(fd, b"x")
    except OSError:  # full (already cancelled) or closed: nothing to add
        pass


def _perform(lib, opts, res, cancel_fd):
    """Call sandbox_run so that a signal can cancel it.

    ctypes releases the GIL during the call, but Python runs signal handlers
    only in the main thread, between bytecodes.  So when called from the
    main thread, the C call runs in a worker thread while the main thread
    waits in join(), where KeyboardInterrupt (or the CLI's handlers) can
    run: they write to a pipe whose read end is opts.cancel_fd, and the
    library kills and removes the container and returns CANCELLED."""
    global _main_cancel_w
    if cancel_fd is not None:
        opts.cancel_fd = cancel_fd
        return lib.sandbox_run(ctypes.byref(opts), ctypes.byref(res))
    if threading.current_thread() is not threading.main_thread():
        return lib.sandbox_run(ctypes.byref(opts), ctypes.byref(res))

    r, w = os.pipe()  # close-on-exec (PEP 446)
    os.set_blocking(w, False)
    opts.cancel_fd = r
    box = {}
    entered, done = threading.Event(), threading.Event()

    def call():
        entered.set()
        try:
            box["rc"] = lib.sandbox_run(ctypes.byref(opts), ctypes.byref(res))
        finally:
            done.set()

    # Wait on an Event, not Thread.join(): on Python <= 3.12 a join()
    # interrupted by KeyboardInterrupt can leave the thread marked as
    # finished, and the next join() returns at once, with the container
    # still running.
    worker = threading.Thread(target=call, name="sandbox_run", daemon=True)
    interrupted = None
    previous, _main_cancel_w = _main_cancel_w, w
    close = True
    try:
        try:
            worker.start()
        except BaseException as exc:
            # Raised while start() waited for the new thread (it exists and
            # will run), or before it was created: then give up.
            if not entered.wait(2.0):
                close = False  # a late start must not find the fds reused
                raise
            _write_cancel(w)
            interrupted = exc
        while True:
            try:
                if done.wait():
                    break
            except BaseException as exc:  # KeyboardInterrupt, SystemExit
                _write_cancel(w)
                interrupted = interrupted or exc
    finally:
        _main_cancel_w = previous
        if close:
            os.close(r)
            os.close(w)
    worker.join()
    if interrupted is not None:
        raise interrupted
    return box["rc"]


@dataclasses.dataclass
class Result:
    """What a run did.  Every value comes from sandbox_result."""
    reason: str             # exited|signaled|timeout|oom|cancelled|error
    exit_code: int          # the command's; 124 on timeout; -1 if none
    term_signal: int        # signal number when signaled or oom, else 0
    error: int              # sandbox_error when reason == "error", else 0
    stdout: bytes           # at most output_limit bytes
    stderr: bytes
    stdout_total: int       # bytes the command wrote, kept or not
    stderr_total: int
    stdout_truncated: bool
    stderr_truncated: bool
    wall_sec: float
    runtime: Optional[str]  # absolute path of podman/docker used
    container_name: Optional[str]
    message: Optional[str]  # why, when not exited 0
    peak_memory_bytes: Optional[int]  # the box's peak memory; None: unknown
    cpu_sec: Optional[float]          # the box's user+system CPU; None: unknown
    text: Optional[str]     # sandbox_format's text form; None on "error"

    @property
    def ok(self):
        return self.reason == "exited" and self.exit_code == 0


def _stream(st):
    return ctypes.string_at(st.data, st.len) if st.data and st.len else b""


def _cptr_str(ptr, path=False):
    if not ptr:
        return None
    raw = ctypes.string_at(ptr)
    return os.fsdecode(raw) if path else raw.decode("utf-8", "replace")


def _to_result(lib, res, output_limit):
    text = None
    if res.reason != 0 and res.error == 0:
        ptr, n = ctypes.c_void_p(), ctypes.c_size_t()
        rc = lib.sandbox_format(ctypes.byref(res), output_limit,
                                ctypes.byref(ptr), ctypes.byref(n))
        if rc != 0:
            raise RunError("sandbox_format failed: " +
                           lib.sandbox_strerror(rc).decode(), rc)
        try:
            text = ctypes.string_at(ptr, n.value).decode("utf-8")
        finally:
            lib.sandbox_free(ptr)
    return Result(
        reason=lib.sandbox_end_name(res.reason).decode("ascii"),
        exit_code=res.exit_code,
        term_signal=res.term_signal,
        error=res.error,
        stdout=_stream(res.out),
        stderr=_stream(res.err),
        stdout_total=res.out.total,
        stderr_total=res.err.total,
        stdout_truncated=bool(res.out.truncated),
        stderr_truncated=bool(res.err.truncated),
        wall_sec=res.wall_sec,
        runtime=_cptr_str(res.runtime, path=True),
        container_name=_cptr_str(res.container_name),
        message=_cptr_str(res.message),
        peak_memory_bytes=res.peak_memory_bytes or None,
        cpu_sec=res.cpu_sec if res.cpu_sec >= 0 else None,
        text=text,
    )


def _raise_for(lib, rc, result):
    msg = (result.message if result and result.message
           else lib.sandbox_strerror(rc).decode())
    if rc == SANDBOX_EINVAL:
        raise InvalidOptionsError(msg, rc, result)
    if rc == SANDBOX_ENORUNTIME:
        if "podman" not in msg or "docker" not in msg:
            msg += " (libsandbox needs podman or docker)"
        raise NoRuntimeError(msg, rc, result)
    if rc == SANDBOX_EABI:
        raise LibraryError(msg, rc, result)
    raise RunError(msg, rc, result)


def run(command, workspace=None, image="debian:stable-slim", timeout=60,
        network="none", memory="2g", pids=512, cpus=2.0, *, runtime=None,
        output_limit=50000, env=None, mounts=None, cancel_fd=None,
        library=None):
    """Run command (as `sh -c command`) in a fresh container; return Result.

    runtime: "podman", "docker" or a path (None: $SANDBOX_RUNTIME, else
    podman, else docker).  env: {name: value} set in the box (nothing else
    leaks in).  mounts: [(host, box, writable)], read-only unless writable.
    cancel_fd: an fd that, once readable, cancels the run (default: a
    private pipe that KeyboardInterrupt writes to when called from the main
    thread).  library: a CDLL from load(path), default load().

    Raises InvalidOptionsError (a ValueError) for bad arguments,
    NoRuntimeError (a RuntimeError) when neither podman nor docker exists,
    RunError (a RuntimeError) when the command could not be run."""
    lib = library or load()
    opts, keep = _build_opts(
        lib, command, workspace=workspace, image=image, timeout=timeout,
        network=network, memory=memory, pids=pids, cpus=cpus, runtime=runtime,
        output_limit=output_limit, env=env, mounts=mounts)
    res = sandbox_result()
    rc = lib.sandbox_result_init(ctypes.byref(res), ctypes.sizeof(res))
    if rc != 0:
        raise LibraryError(f"sandbox_result_init rejected sizeof("
                           f"sandbox_result) = {ctypes.sizeof(res)}: ABI "
                           f"mismatch", rc)
    try:
        rc = _perform(lib, opts, res, cancel_fd)
        result = _to_result(lib, res, opts.output_limit)
    finally:
        lib.sandbox_result_free(ctypes.byref(res))
        del keep
    if rc < 0:
        _raise_for(lib, rc, result)
    return result


def sandbox_run(command, workspace=None, image="debian:stable-slim",
                timeout=60, network="none", memory="2g", pids=512,
                cpus=2.0):
    """The contract's function: run command, return the text form

        exit=<n>\\n--- stdout ---\\n<stdout>--- stderr ---\\n<stderr>

    (cut to 50,000 bytes, exit 124 on timeout), as libsandbox's
    sandbox_format renders it.  Raises RuntimeError naming podman and
    docker when neither exists, ValueError for invalid arguments."""
    return run(command, workspace=workspace, image=image, timeout=timeout,
               network=network, memory=memory, pids=pids, cpus=cpus).text


def find_runtime(runtime=None):
    """The absolute path of the runtime the library would use."""
    lib = load()
    keep = []
    spec = _cstr("runtime", runtime, keep, path=True)
    path, msg = ctypes.c_void_p(), ctypes.c_void_p()
    rc = lib.sandbox_find_runtime(spec, ctypes.byref(path), ctypes.byref(msg))
    found = _take_string(lib, path, decode=False)
    why = _take_string(lib, msg)
    if rc < 0:
        if rc == SANDBOX_ENORUNTIME:
            raise NoRuntimeError(why or lib.sandbox_strerror(rc).decode(), rc)
        raise RunError(why or lib.sandbox_strerror(rc).decode(), rc)
    return os.fsdecode(found)


def gc(runtime=None, all=False):
    """Remove containers libsandbox left behind; returns how many."""
    lib = load()
    keep = []
    spec = _cstr("runtime", runtime, keep, path=True)
    removed, msg = ctypes.c_uint(), ctypes.c_void_p()
    rc = lib.sandbox_gc(spec, 1 if all else 0, ctypes.byref(removed),
                        ctypes.byref(msg))
    why = _take_string(lib, msg)
    if rc < 0:
        cls = NoRuntimeError if rc == SANDBOX_ENORUNTIME else RunError
        raise cls(why or lib.sandbox_strerror(rc).decode(), rc)
    return removed.value


# --- The contract's CLI ------------------------------------------------------

class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(message)


def _parser():
    p = _Parser(
        prog="sandbox.py", add_help=True,
        usage="%(prog)s [OPTION ...] -- COMMAND [ARG ...]",
        description="Run COMMAND (the words after --, joined by single "
        "spaces, run as `sh -c`) in a throw-away container through "
        "libsandbox and print exit=<n>, its stdout and its stderr.")
    p.add_argument("--image", default="debian:stable-slim")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SEC")
    p.add_argument("--network", choices=sorted(_NETWORKS), default="none")
    p.add_argument("--memory", default="2g", metavar="SIZE")
    p.add_argument("--pids", type=int, default=512, metavar="N")
    p.add_argument("--cpus", type=float, default=2.0, metavar="N")
    p.add_argument("--workspace", metavar="DIR",
                   help="mounted read-write at /workspace (default: .)")
    p.add_argument("--no-workspace", action="store_true",
                   help="mount no workspace")
    p.add_argument("--runtime", metavar="NAME|PATH",
                   help="podman, docker or a path (default: $SANDBOX_RUNTIME,"
                   " else podman, else docker)")
    p.add_argument("--output-limit", type=int, default=50000, metavar="BYTES")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--mount", action="append", default=[],
                   metavar="HOST:BOX[:ro|rw]")
    p.add_argument("--version", action="store_true")
    return p


def _parse_mount(spec):
    host, sep, rest = spec.partition(":")
    box, _, mode = rest.partition(":")
    if not host or not sep or not box or mode not in ("", "ro", "rw"):
        raise _Usage(f"invalid value {spec!r} for --mount: expected "
                     f"HOST:BOX[:ro|rw]")
    return (os.path.abspath(host), box, mode == "rw")


def main(argv=None):
    """The CLI; returns the exit status (the command's, 124 on timeout,
    125 for its own failures, 128+N when interrupted by signal N)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    err = sys.stderr
    try:
        if "--" in argv:
            cut = argv.index("--")
            args = _parser().parse_args(argv[:cut])
            words = argv[cut + 1:]
        else:
            args = _parser().parse_args(argv)
            words = []
        if args.version:
            print(f"sandbox.py (libsandbox {version()})")
            return 0
        if not words:
            raise _Usage("no command given: put the command after --")
        mounts = [_parse_mount(m) for m in args.mount]
    except _Usage as exc:
        err.write(f"sandbox.py: {exc}\nTry 'sandbox.py --help'.\n")
        return EXIT_SANDBOX
    except SandboxError as exc:
        err.write(f"sandbox.py: {exc}\n")
        return EXIT_SANDBOX
    workspace = None
    if not args.no_workspace:
        workspace = args.workspace if args.workspace else os.getcwd()

    # Signals cancel the run: the handlers only write to the cancel pipe of
    # the call the main thread is waiting for (see _perform).
    got = []

    def on_signal(signo, _frame):
        got.append(signo)
        if _main_cancel_w is not None:
            _write_cancel(_main_cancel_w)

    for signo in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signo) != signal.SIG_IGN:
            signal.signal(signo, on_signal)

    try:
        result = run(" ".join(words), workspace=workspace, image=args.image,
                     timeout=args.timeout, network=args.network,
                     memory=args.memory, pids=args.pids, cpus=args.cpus,
                     runtime=args.runtime, output_limit=args.output_limit,
                     env=args.env, mounts=mounts)
    except SandboxError as exc:
        err.write(f"sandbox.py: {exc}\n")
        return EXIT_SANDBOX
    out = sys.stdout
    data = result.text.encode("utf-8")
    if hasattr(out, "buffer"):
        out.flush()
        out.buffer.write(data)
        out.buffer.flush()
    else:
        out.write(result.text)
        out.flush()
    if result.reason == "cancelled":
        return 128 + got[0] if got else EXIT_SANDBOX
    if not 0 <= result.exit_code <= 255:
        return EXIT_SANDBOX
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
