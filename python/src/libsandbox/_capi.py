# SPDX-License-Identifier: MIT
"""The C surface of libsandbox as ctypes: struct mirrors, the loader, the
error classes.  Field for field as in sandbox.h; the tests compare every
size and offset with a C compiler's."""

import ctypes
import ctypes.util
import os
import threading
from typing import Optional

# The oldest library this package speaks to and the major version whose
# struct layout it describes.
MIN_VERSION_NUMBER = 200
SUPPORTED_MAJOR = 0
LIBRARY_ENV = "LIBSANDBOX_PATH"

SANDBOX_OK = 0
SANDBOX_EINVAL = -1
SANDBOX_ENORUNTIME = -2
SANDBOX_ESPAWN = -3
SANDBOX_ENOMEM = -4
SANDBOX_EIO = -5
SANDBOX_ERUNTIME = -6
SANDBOX_EABI = -7
SANDBOX_EBOXDEAD = -8  # the box is gone (destroyed, OOM, lifetime, idle)
SANDBOX_EBADBOX = -9   # not a box handle (NULL, foreign, freed)

# enum sandbox_end
SANDBOX_END_NONE = 0
SANDBOX_END_EXITED = 1
SANDBOX_END_SIGNALED = 2
SANDBOX_END_TIMEOUT = 3
SANDBOX_END_OOM = 4
SANDBOX_END_CANCELLED = 5
SANDBOX_END_ERROR = 6

NETWORKS = {"none": 0, "bridge": 1, "allowlist": 2}

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


class sandbox_exec_opts(ctypes.Structure):
    """One command in a box (sandbox_box_exec, sandbox_pool_run)."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("command", ctypes.c_char_p),
        ("argv", ctypes.POINTER(ctypes.c_char_p)),
        ("argc", ctypes.c_size_t),
        ("env", ctypes.POINTER(ctypes.c_char_p)),
        ("n_env", ctypes.c_size_t),
        ("cwd", ctypes.c_char_p),
        ("timeout_sec", ctypes.c_double),
        ("output_limit", ctypes.c_size_t),
        ("stdin_data", ctypes.c_void_p),
        ("stdin_len", ctypes.c_size_t),
        ("stdin_fd", ctypes.c_int),
        ("stdout_fd", ctypes.c_int),
        ("stderr_fd", ctypes.c_int),
        ("on_output", OUTPUT_FN),
        ("on_output_ctx", ctypes.c_void_p),
        ("cancel_fd", ctypes.c_int),
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


class SandboxError(Exception):
    """Base of every error raised here.  code: the sandbox_error value
    (negative) or None; result: the Result the library filled, if any."""

    def __init__(self, message: str, code: Optional[int] = None,
                 result: object = None) -> None:
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


class BoxDeadError(RunError):
    """The box is gone (SANDBOX_EBOXDEAD): destroyed, out of memory, past
    its lifetime or idle timeout, killed; the message says why."""


class BadBoxError(SandboxError, ValueError):
    """Not a box handle (SANDBOX_EBADBOX): NULL, foreign or freed."""


_P = ctypes.POINTER
SIGNATURES = {
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
    "sandbox_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "sandbox_end_name": (ctypes.c_char_p, [ctypes.c_int]),
    "sandbox_version": (ctypes.c_char_p, []),
    "sandbox_version_number": (ctypes.c_int, []),
    "sandbox_free": (None, [ctypes.c_void_p]),
}

# Boxes and pools (0.3.0): bound when the library has them, so run() keeps
# working with a 0.2 library; using a Box there raises LibraryError.
_H = ctypes.c_void_p  # sandbox_box * / sandbox_pool *, opaque
OPTIONAL_SIGNATURES = {
    "sandbox_exec_opts_init": (ctypes.c_int, [_P(sandbox_exec_opts),
                                              ctypes.c_size_t]),
    "sandbox_box_create": (ctypes.c_int, [_P(sandbox_opts), _P(_H),
                                          _P(ctypes.c_void_p)]),
    "sandbox_box_exec": (ctypes.c_int, [_H, _P(sandbox_exec_opts),
                                        _P(sandbox_result)]),
    "sandbox_box_put": (ctypes.c_int, [_H, ctypes.c_char_p, ctypes.c_char_p,
                                       _P(ctypes.c_void_p)]),
    "sandbox_box_get": (ctypes.c_int, [_H, ctypes.c_char_p, ctypes.c_char_p,
                                       _P(ctypes.c_void_p)]),
    "sandbox_box_alive": (ctypes.c_int, [_H, _P(ctypes.c_void_p)]),
    "sandbox_box_name": (ctypes.c_char_p, [_H]),
    "sandbox_box_destroy": (ctypes.c_int, [_H, _P(sandbox_result)]),
    "sandbox_box_free": (None, [_H]),
    "sandbox_pool_create": (ctypes.c_int, [_P(sandbox_opts), ctypes.c_uint,
                                           _P(_H), _P(ctypes.c_void_p)]),
    "sandbox_pool_run": (ctypes.c_int, [_H, _P(sandbox_exec_opts),
                                        _P(sandbox_result)]),
    "sandbox_pool_take": (ctypes.c_int, [_H, _P(_H), _P(ctypes.c_void_p)]),
    "sandbox_pool_free": (None, [_H]),
}

_lib = None
_lib_lock = threading.Lock()


def _candidates(path):
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
            "libsandbox.so.0, or call libsandbox.load(path)")
    try:
        for fname, (restype, argtypes) in SIGNATURES.items():
            fn = getattr(lib, fname)
            fn.restype = restype
            fn.argtypes = argtypes
    except AttributeError as exc:
        raise LibraryError(f"{name} is not a usable libsandbox: {exc}") from None
    for fname, (restype, argtypes) in OPTIONAL_SIGNATURES.items():
        fn = getattr(lib, fname, None)
        if fn is not None:
            fn.restype = restype
            fn.argtypes = argtypes
    number = lib.sandbox_version_number()
    text = lib.sandbox_version().decode("ascii", "replace")
    if number < MIN_VERSION_NUMBER:
        raise LibraryError(f"libsandbox {text} at {name} is too old: the "
                           f"libsandbox package needs 0.2.0 or newer")
    if number // 10000 != SUPPORTED_MAJOR:
        raise LibraryError(f"libsandbox {text} at {name} has major version "
                           f"{number // 10000}; this package describes the "
                           f"structs of major version {SUPPORTED_MAJOR}")
    return lib


def load(path=None) -> ctypes.CDLL:
    """Load libsandbox and return the ctypes.CDLL.

    With path, load exactly that file (and use it from now on).  Without,
    return the library already loaded, or find it: $LIBSANDBOX_PATH, then
    ctypes.util.find_library("sandbox"), then "libsandbox.so.0"."""
    global _lib
    with _lib_lock:
        if path is not None or _lib is None:
            _lib = _open(path)
        return _lib


def require(lib, fname: str):
    """lib's fname, or LibraryError when this libsandbox predates it."""
    fn = getattr(lib, fname, None) if fname in OPTIONAL_SIGNATURES else None
    if fn is None:
        text = lib.sandbox_version().decode("ascii", "replace")
        raise LibraryError(f"this libsandbox ({text}) does not export "
                           f"{fname}(): boxes and pools need a libsandbox "
                           f"built with them (0.3.0 or newer); point "
                           f"{LIBRARY_ENV} at one")
    return fn


def take_string(lib, ptr) -> Optional[str]:
    """Copy and release a char * the library returned through char **."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.sandbox_free(ptr)


def raise_for(lib, rc: int, result=None,
              message: Optional[str] = None) -> None:
    """Raise the exception class for sandbox_error rc, with the library's
    message (result.message, else message, else sandbox_strerror)."""
    msg = (result.message if result is not None and result.message
           else message or lib.sandbox_strerror(rc).decode())
    if rc == SANDBOX_EBOXDEAD:
        raise BoxDeadError(msg, rc, result)
    if rc == SANDBOX_EBADBOX:
        raise BadBoxError(msg, rc, result)
    if rc == SANDBOX_EINVAL:
        raise InvalidOptionsError(msg, rc, result)
    if rc == SANDBOX_ENORUNTIME:
        if "podman" not in msg or "docker" not in msg:
            msg += " (libsandbox needs podman or docker, or runtime='native')"
        raise NoRuntimeError(msg, rc, result)
    if rc == SANDBOX_EABI:
        raise LibraryError(msg, rc, result)
    raise RunError(msg, rc, result)
