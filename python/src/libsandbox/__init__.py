# SPDX-License-Identifier: MIT
"""libsandbox: run untrusted commands in a throw-away, resource-capped box.

    import libsandbox

    r = libsandbox.run("echo hi", image="busybox:latest")
    r.exit_code, r.stdout                       # 0, b'hi\\n'
    r = libsandbox.run(["printf", "%s\\n", "a b", "$HOME"])   # no shell
    r = libsandbox.run("wc -c", stdin=b"\\0" * 10)             # stdin bytes

    with libsandbox.stream("for i in 1 2; do echo $i; sleep 1; done") as s:
        for name, data in s:                    # ("stdout", b"1\\n"), ...
            print(name, data)
    s.result.exit_code

Everything a run does is the C library's; this package only moves values
across the boundary (ctypes).  See docs/python.md.
"""

import ctypes
import dataclasses
import numbers
import os
import selectors
import threading
from collections.abc import Mapping
from typing import (Any, Callable, Iterator, List, Optional, Sequence,
                    Tuple, Union)

from ._capi import (NETWORKS, OUTPUT_FN, SANDBOX_EINVAL, InvalidOptionsError,
                    LibraryError, NoRuntimeError, RunError, SandboxError,
                    load, raise_for, sandbox_mount, sandbox_opts,
                    sandbox_result, sandbox_stream)

__all__ = [
    "run", "stream", "Stream", "Result", "load", "version", "SandboxError",
    "InvalidOptionsError", "NoRuntimeError", "RunError", "LibraryError",
    "sandbox_opts", "sandbox_result", "sandbox_stream", "sandbox_mount",
]

__version__ = "0.2.0"

StrOrBytes = Union[str, bytes, "os.PathLike[str]"]
Command = Union[str, bytes, Sequence[StrOrBytes]]
Stdin = Union[None, bytes, bytearray, memoryview, str, int, Any]
OnOutput = Callable[[int, bytes], None]


def version() -> str:
    """The C library's version string."""
    return load().sandbox_version().decode("ascii")


@dataclasses.dataclass
class Result:
    """What a run did.  Every value is copied out of sandbox_result."""
    exit_code: int            # the command's; 124 timeout; -1 if none
    reason: str               # exited|signaled|timeout|oom|cancelled|error
    stdout: bytes             # at most output_limit bytes, raw
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    wall_sec: float
    image_id: Optional[str]   # what ran: the engine's image ID / sha256:...
    backend: Optional[str]    # "podman", "docker" or "native"
    host_root: Optional[bool]  # box uid 0 was host uid 0; None: unknown
    message: Optional[str]    # why, when not a clean exit 0
    term_signal: int = 0
    stdout_total: int = 0     # bytes produced, kept or not
    stderr_total: int = 0
    container_name: Optional[str] = None
    peak_memory_bytes: Optional[int] = None
    cpu_sec: Optional[float] = None
    disk_limit_hit: bool = False
    error: int = 0            # sandbox_error when reason == "error"

    @property
    def ok(self) -> bool:
        return self.reason == "exited" and self.exit_code == 0


# --- Marshalling ------------------------------------------------------------

def _cstr(name: str, value: Any, keep: list, path: bool = False):
    if value is None:
        return None
    if path or isinstance(value, os.PathLike):
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


def _number(name: str, value: Any, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidOptionsError(f"{name} must be a number, not {value!r}",
                                  SANDBOX_EINVAL)
    if not integer:
        return float(value)
    if isinstance(value, float) and not value.is_integer():
        raise InvalidOptionsError(f"{name} {value!r} is not a whole number",
                                  SANDBOX_EINVAL)
    value = int(value)
    if not -(1 << 62) <= value <= (1 << 62):
        raise InvalidOptionsError(f"{name} {value} is out of range",
                                  SANDBOX_EINVAL)
    return value


def _fd_of(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidOptionsError(f"{name} must be an fd or a file",
                                  SANDBOX_EINVAL)
    if isinstance(value, int):
        return value
    try:
        return int(value.fileno())
    except (AttributeError, OSError, ValueError) as exc:
        raise InvalidOptionsError(f"{name} must be bytes, str, an fd or a "
                                  f"file with fileno(): {exc}",
                                  SANDBOX_EINVAL) from None


def _set_command(opts, command: Command, keep: list) -> None:
    if isinstance(command, (str, bytes)):
        opts.command = _cstr("command", command, keep)
        return
    if isinstance(command, os.PathLike):
        command = [command]
    try:
        words = list(command)
    except TypeError:
        raise InvalidOptionsError("command must be a str (run with sh -c) or "
                                  "a sequence of words (argv, no shell)",
                                  SANDBOX_EINVAL) from None
    items = [_cstr(f"argv[{i}]", w, keep) for i, w in enumerate(words)]
    arr = (ctypes.c_char_p * (len(items) + 1))(*items, None)
    keep.append(arr)
    opts.argv = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
    opts.argc = len(items)  # 0 words: the library's EINVAL names argc


def _set_stdin(opts, stdin: Stdin, keep: list) -> None:
    if stdin is None:
        return
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8", "surrogateescape")
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        data = bytes(stdin)
        buf = ctypes.create_string_buffer(data, len(data) + 1)
        keep.append(buf)
        opts.stdin_data = ctypes.cast(buf, ctypes.c_void_p)
        opts.stdin_len = len(data)
        return
    opts.stdin_fd = _fd_of("stdin", stdin)


def _set_env(opts, env, keep: list) -> None:
    if not env:
        return
    if isinstance(env, Mapping):
        items = []
        for k, v in env.items():
            kb = _cstr("env name", k, keep)
            if b"=" in kb:
                raise InvalidOptionsError(f"env name {k!r} contains '='",
                                          SANDBOX_EINVAL)
            items.append(kb + b"=" + _cstr(f"env[{k!r}]", v, keep))
    else:
        items = [_cstr("env entry", e, keep) for e in env]
    arr = (ctypes.c_char_p * len(items))(*items)
    keep.append(arr)
    opts.env = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
    opts.n_env = len(items)


def _set_mounts(opts, mounts, keep: list) -> None:
    if not mounts:
        return
    arr = (sandbox_mount * len(mounts))()
    for i, m in enumerate(mounts):
        if len(m) not in (2, 3):
            raise InvalidOptionsError(f"mounts[{i}] must be (host, box) or "
                                      f"(host, box, writable)", SANDBOX_EINVAL)
        arr[i].host = _cstr(f"mounts[{i}] host", m[0], keep, path=True)
        arr[i].box = _cstr(f"mounts[{i}] box", m[1], keep, path=True)
        arr[i].writable = 1 if len(m) == 3 and m[2] else 0
    keep.append(arr)
    opts.mounts = arr
    opts.n_mounts = len(mounts)


def _build(lib, command, kw, keep):
    opts = sandbox_opts()
    rc = lib.sandbox_opts_init(ctypes.byref(opts), ctypes.sizeof(opts))
    if rc != 0:
        raise LibraryError(f"sandbox_opts_init rejected sizeof(sandbox_opts) "
                           f"= {ctypes.sizeof(opts)}: ABI mismatch", rc)
    _set_command(opts, command, keep)
    for name in ("image", "memory", "disk_limit"):
        if kw.get(name) is not None:
            setattr(opts, name, _cstr(name, kw[name], keep))
    for name in ("workspace", "runtime"):
        if kw.get(name) is not None:
            setattr(opts, name, _cstr(name, kw[name], keep, path=True))
    if kw.get("timeout") is not None:
        opts.timeout_sec = _number("timeout", kw["timeout"])
    if kw.get("cpus") is not None:
        opts.cpus = _number("cpus", kw["cpus"])
    if kw.get("pids") is not None:
        opts.pids = _number("pids", kw["pids"], True)
    if kw.get("output_limit") is not None:
        n = _number("output_limit", kw["output_limit"], True)
        if n < 0:
            raise InvalidOptionsError("output_limit must not be negative",
                                      SANDBOX_EINVAL)
        opts.output_limit = n
    network = kw.get("network")
    if network is not None:
        if network not in NETWORKS:
            raise InvalidOptionsError(f"network {network!r} is unknown: use "
                                      f"'none' or 'bridge'", SANDBOX_EINVAL)
        opts.network = NETWORKS[network]
    _set_env(opts, kw.get("env"), keep)
    _set_mounts(opts, kw.get("mounts"), keep)
    _set_stdin(opts, kw.get("stdin"), keep)
    if kw.get("cancel_fd") is not None:
        opts.cancel_fd = _fd_of("cancel_fd", kw["cancel_fd"])
    for name in ("stdout_fd", "stderr_fd"):
        if kw.get(name) is not None:
            setattr(opts, name, _fd_of(name, kw[name]))
    cb = kw.get("on_output")
    if cb is not None:
        def trampoline(_ctx, stream_no, data, n, _cb=cb):
            _cb(stream_no, ctypes.string_at(data, n))
        fn = OUTPUT_FN(trampoline)
        keep.append(fn)
        opts.on_output = fn
    return opts


def _cptr_str(ptr) -> Optional[str]:
    if not ptr:
        return None
    return ctypes.string_at(ptr).decode("utf-8", "replace")


def _bytes(st) -> bytes:
    return ctypes.string_at(st.data, st.len) if st.data and st.len else b""


def _to_result(lib, res) -> Result:
    return Result(
        exit_code=res.exit_code,
        reason=lib.sandbox_end_name(res.reason).decode("ascii"),
        stdout=_bytes(res.out),
        stderr=_bytes(res.err),
        stdout_truncated=bool(res.out.truncated),
        stderr_truncated=bool(res.err.truncated),
        wall_sec=res.wall_sec,
        image_id=_cptr_str(res.image_id),
        backend=_cptr_str(res.backend),
        host_root=None if res.host_root < 0 else bool(res.host_root),
        message=_cptr_str(res.message),
        term_signal=res.term_signal,
        stdout_total=res.out.total,
        stderr_total=res.err.total,
        container_name=_cptr_str(res.container_name),
        peak_memory_bytes=res.peak_memory_bytes or None,
        cpu_sec=res.cpu_sec if res.cpu_sec >= 0 else None,
        disk_limit_hit=bool(res.disk_limit_hit),
        error=res.error,
    )


def _call(lib, opts) -> Result:
    res = sandbox_result()
    rc = lib.sandbox_result_init(ctypes.byref(res), ctypes.sizeof(res))
    if rc != 0:
        raise LibraryError("sandbox_result_init rejected sizeof("
                           f"sandbox_result) = {ctypes.sizeof(res)}: ABI "
                           "mismatch", rc)
    try:
        rc = lib.sandbox_run(ctypes.byref(opts), ctypes.byref(res))
        result = _to_result(lib, res)
    finally:
        lib.sandbox_result_free(ctypes.byref(res))
    if rc < 0:
        raise_for(lib, rc, result)
    return result


def _validate(lib, opts) -> None:
    msg = ctypes.c_void_p()
    rc = lib.sandbox_opts_validate(ctypes.byref(opts), ctypes.byref(msg))
    text = None
    if msg:
        try:
            text = ctypes.string_at(msg).decode("utf-8", "replace")
        finally:
            lib.sandbox_free(msg)
    if rc < 0:
        raise InvalidOptionsError(text or lib.sandbox_strerror(rc).decode(),
                                  rc)


def _write_cancel(fd: int) -> None:
    try:
        os.write(fd, b"x")
    except OSError:
        pass


def _perform(lib, opts, cancel_fd) -> Result:
    """sandbox_run, cancellable by Ctrl-C when called from the main thread:
    the C call runs in a worker while the main thread waits (signals are
    delivered only there, between bytecodes); KeyboardInterrupt writes to
    the pipe that is opts.cancel_fd, the library kills the box, and the
    exception is re-raised once the call has returned."""
    if cancel_fd is not None or \
            threading.current_thread() is not threading.main_thread():
        return _call(lib, opts)
    r, w = os.pipe()
    os.set_blocking(w, False)
    opts.cancel_fd = r
    box: dict = {}

    def worker():
        try:
            box["result"] = _call(lib, opts)
        except BaseException as exc:  # re-raised in the caller
            box["exc"] = exc

    t = threading.Thread(target=worker, name="libsandbox-run", daemon=True)
    interrupted = None
    try:
        t.start()
        while True:
            try:
                t.join()
                break
            except BaseException as exc:  # KeyboardInterrupt, SystemExit
                _write_cancel(w)
                interrupted = interrupted or exc
    finally:
        t.join()
        os.close(r)
        os.close(w)
    if interrupted is not None:
        raise interrupted
    if "exc" in box:
        raise box["exc"]
    return box["result"]


def run(command_or_argv: Command, *, image: Optional[str] = None,
        timeout: Optional[float] = None, network: Optional[str] = None,
        memory: Optional[str] = None, pids: Optional[int] = None,
        cpus: Optional[float] = None,
        workspace: Optional[StrOrBytes] = None, env: Any = None,
        stdin: Stdin = None, runtime: Optional[StrOrBytes] = None,
        disk_limit: Optional[str] = None, output_limit: Optional[int] = None,
        mounts: Optional[Sequence[Tuple[Any, ...]]] = None,
        cancel_fd: Optional[int] = None, stdout_fd: Optional[int] = None,
        stderr_fd: Optional[int] = None,
        on_output: Optional[OnOutput] = None, library=None) -> Result:
    """Run one command in a fresh box and return its Result.

    command_or_argv: a str runs as `sh -c command`; a list of words runs
    as a program and its arguments, no shell (each word one argument).
    None for an option means the library's default (image
    debian:stable-slim, timeout 60 s, network "none", memory "2g", 512
    pids, 2 cpus, no workspace, disk_limit "1g", runtime: $SANDBOX_RUNTIME,
    else podman, else docker; "native" for the daemonless backend).
    stdin: bytes (or str, UTF-8) fed to the box, or an fd / a file object
    the library reads to EOF (it is not closed); None: /dev/null.
    stdout_fd/stderr_fd: fds every output byte is also written to as it
    arrives; on_output(stream, data): called as bytes arrive (stream 1 or
    2), on the thread running the C call.

    Raises InvalidOptionsError (ValueError) for bad arguments (nothing
    ran), NoRuntimeError, RunError (RuntimeError) when it could not run.
    A command that runs and fails (exit code, timeout, OOM) is a Result."""
    lib = library or load()
    keep: List[Any] = []
    opts = _build(lib, command_or_argv, dict(
        image=image, timeout=timeout, network=network, memory=memory,
        pids=pids, cpus=cpus, workspace=workspace, env=env, stdin=stdin,
        runtime=runtime, disk_limit=disk_limit, output_limit=output_limit,
        mounts=mounts, cancel_fd=cancel_fd, stdout_fd=stdout_fd,
        stderr_fd=stderr_fd, on_output=on_output), keep)
    try:
        return _perform(lib, opts, cancel_fd)
    finally:
        del keep


class Stream:
    """A run whose output is delivered as it arrives: iterate to get
    ("stdout" | "stderr", bytes) chunks in arrival order; .result is the
    Result once the run ended.  Leaving the iteration early (break, an
    exception, close()) cancels the run: the box is killed.

    Built on the library's tee fds: two pipes, read here, that the C call
    (on a worker thread) writes without ever blocking the box."""

    def __init__(self, command_or_argv: Command, **kw: Any) -> None:
        for bad in ("stdout_fd", "stderr_fd", "cancel_fd", "on_output"):
            if kw.get(bad) is not None:
                raise InvalidOptionsError(f"stream() sets {bad} itself",
                                          SANDBOX_EINVAL)
        self._lib = kw.pop("library", None) or load()
        self._keep: List[Any] = []
        self._result: Optional[Result] = None
        self._exc: Optional[BaseException] = None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        can_r, can_w = os.pipe()
        os.set_blocking(can_w, False)
        self._fds = [out_r, err_r, can_r, can_w]
        self._w = [out_w, err_w]
        try:
            kw.update(stdout_fd=out_w, stderr_fd=err_w, cancel_fd=can_r)
            self._opts = _build(self._lib, command_or_argv, kw, self._keep)
            _validate(self._lib, self._opts)
        except BaseException:
            self._close_all()
            raise
        self._thread = threading.Thread(target=self._work,
                                        name="libsandbox-stream", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            self._result = _call(self._lib, self._opts)
        except BaseException as exc:  # re-raised by .result
            self._exc = exc
        finally:
            for fd in self._w:  # EOF for the reader
                os.close(fd)
            self._w = []

    def _close_all(self) -> None:
        for fd in self._fds + self._w:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds, self._w = [], []

    def __iter__(self) -> Iterator[Tuple[str, bytes]]:
        if not self._fds:
            return
        names = {self._fds[0]: "stdout", self._fds[1]: "stderr"}
        sel = selectors.DefaultSelector()
        try:
            for fd in names:
                sel.register(fd, selectors.EVENT_READ)
            open_fds = set(names)
            while open_fds:
                for key, _ in sel.select():
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fd)
                        open_fds.discard(key.fd)
                        continue
                    yield names[key.fd], data
        except BaseException:
            self.close()
            raise
        finally:
            sel.close()
        self._thread.join()

    def close(self) -> None:
        """Cancel the run if it is still going, wait for it, free the fds."""
        if self._fds:
            _write_cancel(self._fds[3])
            # Drain so the worker is never held up by a full pipe (it is
            # not: the library writes tees non-blocking), then wait.
        self._thread.join()
        self._close_all()

    @property
    def result(self) -> Result:
        """The run's Result (waits for the end); raises what the run
        raised (RunError, ...)."""
        self._thread.join()
        if self._exc is not None:
            raise self._exc
        assert self._result is not None
        return self._result

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._thread.is_alive():
            self.close()
        else:
            self._close_all()


def stream(command_or_argv: Command, **kw: Any) -> Stream:
    """Like run(), but the output arrives as it is produced:

        with libsandbox.stream(["sh", "-c", "echo a; sleep 1; echo b"]) as s:
            for name, data in s:     # "stdout"/"stderr", bytes
                ...
        s.result                     # the Result, as run() returns it

    Takes run()'s keyword arguments except stdout_fd, stderr_fd, cancel_fd
    and on_output (it uses them itself)."""
    return Stream(command_or_argv, **kw)
