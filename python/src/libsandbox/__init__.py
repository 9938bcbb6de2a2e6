# SPDX-License-Identifier: MIT
"""libsandbox: run untrusted commands in resource-capped boxes.

    import libsandbox

    r = libsandbox.run("echo hi", image="busybox:latest")
    r.exit_code, r.stdout                       # 0, b'hi\n'
    r = libsandbox.run(["printf", "%s\n", "a b", "$HOME"])   # no shell
    r = libsandbox.run("wc -c", stdin=b"\0" * 10)             # stdin bytes

    with libsandbox.stream("for i in 1 2; do echo $i; sleep 1; done") as s:
        for name, data in s:                    # ("stdout", b"1\n"), ...
            print(name, data)
    s.result.exit_code

    with libsandbox.Box(image="busybox:latest", lifetime=600) as box:
        box.exec("echo state > /tmp/f")         # one box, many commands
        box.exec(["cat", "/tmp/f"]).stdout      # b'state\n'
        box.put("in.bin", "/tmp/in.bin"); box.get("/tmp/in.bin", "out.bin")

    with libsandbox.Pool(image="busybox:latest", size=2) as pool:
        pool.run("echo warm").stdout            # from a ready box

    r = libsandbox.run("curl -sS https://api.example.com/v1",
                       image="my-image", allow=["api.example.com:443"])
    r.net_attempts, r.net_log                   # 1, [{"dest": ..., ...}]

Everything a run does is the C library's; this package only moves values
across the boundary (ctypes).  See docs/python.md.
"""

import contextlib
import ctypes
import dataclasses
import json
import numbers
import os
import selectors
import threading
from collections.abc import Mapping
from typing import (Any, Callable, Dict, Iterator, List, Optional,
                    Sequence, Tuple, Union)

from ._capi import (NETWORKS, OUTPUT_FN, SANDBOX_EBADBOX, SANDBOX_EBOXDEAD,
                    SANDBOX_EINVAL, BadBoxError, BoxDeadError,
                    InvalidOptionsError, LibraryError, NoRuntimeError,
                    RunError, SandboxError, load, raise_for, require,
                    sandbox_exec_opts, sandbox_mount, sandbox_opts,
                    sandbox_result, sandbox_stream, take_string)

__all__ = [
    "run", "stream", "Stream", "Result", "Box", "Pool", "load", "version",
    "SandboxError", "InvalidOptionsError", "NoRuntimeError", "RunError",
    "LibraryError", "BoxDeadError", "BadBoxError", "SANDBOX_EBOXDEAD",
    "SANDBOX_EBADBOX", "sandbox_opts", "sandbox_exec_opts", "sandbox_result",
    "sandbox_stream", "sandbox_mount",
]

__version__ = "0.3.0"

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
    # network="allowlist": connection attempts the proxy saw, and one dict
    # per attempt (time, proto, dest, addr, allowed, reason, bytes_up,
    # bytes_down, duration_sec), parsed from the library's JSON lines.
    net_attempts: int = 0
    net_log: List[Dict[str, Any]] = dataclasses.field(default_factory=list)

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


def _set_command(opts, command: Optional[Command], keep: list) -> None:
    if command is None:  # a box template: no command
        return
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


def _set_allow(opts, allow, keep: list) -> None:
    """opts.allow/n_allow from a sequence of "host:port" strings.  Only
    the marshalling is checked here (a list of C strings); the entries
    themselves, an empty list and allow with another network mode are
    the library's to refuse (sandbox_opts_validate)."""
    if allow is None:
        return
    if isinstance(allow, (str, bytes)) or isinstance(allow, Mapping):
        raise InvalidOptionsError(
            f"allow must be a list of destinations such as "
            f"['api.example.com:443'], not {type(allow).__name__} "
            f"{allow!r}", SANDBOX_EINVAL)
    try:
        entries = list(allow)
    except TypeError:
        raise InvalidOptionsError(
            f"allow must be a list of destinations such as "
            f"['api.example.com:443'], not {type(allow).__name__}",
            SANDBOX_EINVAL) from None
    items = [_cstr(f"allow[{i}]", e, keep) for i, e in enumerate(entries)]
    arr = (ctypes.c_char_p * (len(items) + 1))(*items, None)
    keep.append(arr)
    opts.allow = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
    opts.n_allow = len(items)


def _set_io(opts, kw, keep: list) -> None:
    """The fields sandbox_opts and sandbox_exec_opts share: stdin, tees,
    the callback, cancel_fd."""
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


def _output_limit(value: Any) -> int:
    n = _number("output_limit", value, True)
    if n < 0:
        raise InvalidOptionsError("output_limit must not be negative",
                                  SANDBOX_EINVAL)
    return n


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
        opts.output_limit = _output_limit(kw["output_limit"])
    if kw.get("lifetime") is not None:
        opts.box_lifetime_sec = _number("lifetime", kw["lifetime"])
    if kw.get("idle") is not None:
        opts.box_idle_sec = _number("idle", kw["idle"])
    network = kw.get("network")
    if network is None and kw.get("allow") is not None:
        network = "allowlist"  # allow= implies the allow-list
    if network is not None:
        if not isinstance(network, str) or network not in NETWORKS:
            raise InvalidOptionsError(f"network {network!r} is unknown: use "
                                      f"'none', 'bridge' or 'allowlist'",
                                      SANDBOX_EINVAL)
        opts.network = NETWORKS[network]
    _set_allow(opts, kw.get("allow"), keep)
    for name in ("max_connections", "max_net_bytes"):  # size_t, uint64_t
        if kw.get(name) is not None:
            n = _number(name, kw[name], True)
            if n < 0:
                raise InvalidOptionsError(f"{name} must not be negative "
                                          f"(0: no cap)", SANDBOX_EINVAL)
            setattr(opts, name, n)
    _set_env(opts, kw.get("env"), keep)
    _set_mounts(opts, kw.get("mounts"), keep)
    _set_io(opts, kw, keep)
    return opts


def _build_exec(lib, command, kw, keep):
    """A sandbox_exec_opts for Box.exec / Pool.run."""
    if command is None:
        raise InvalidOptionsError("exec needs a command: a str (sh -c) or a "
                                  "list of words (argv)", SANDBOX_EINVAL)
    x = sandbox_exec_opts()
    rc = require(lib, "sandbox_exec_opts_init")(ctypes.byref(x),
                                                ctypes.sizeof(x))
    if rc != 0:
        raise LibraryError("sandbox_exec_opts_init rejected sizeof("
                           f"sandbox_exec_opts) = {ctypes.sizeof(x)}: ABI "
                           "mismatch", rc)
    _set_command(x, command, keep)
    if kw.get("cwd") is not None:
        x.cwd = _cstr("cwd", kw["cwd"], keep, path=True)
    if kw.get("timeout") is not None:
        x.timeout_sec = _number("timeout", kw["timeout"])
    if kw.get("output_limit") is not None:
        x.output_limit = _output_limit(kw["output_limit"])
    _set_env(x, kw.get("env"), keep)
    _set_io(x, kw, keep)
    return x


def _cptr_str(ptr) -> Optional[str]:
    if not ptr:
        return None
    return ctypes.string_at(ptr).decode("utf-8", "replace")


def _bytes(st) -> bytes:
    return ctypes.string_at(st.data, st.len) if st.data and st.len else b""


def _net_log(ptr) -> List[Dict[str, Any]]:
    """res.net_log's JSON lines as dicts ([] for NULL).  A line that is
    not a JSON object (the library writes none) is kept as {"raw": line}
    rather than lost."""
    if not ptr:
        return []
    out: List[Dict[str, Any]] = []
    for line in ctypes.string_at(ptr).decode("utf-8", "replace").split("\n"):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        out.append(item if isinstance(item, dict) else {"raw": line})
    return out


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
        net_attempts=res.net_attempts,
        net_log=_net_log(res.net_log),
    )


ResultFn = Callable[[Any], int]  # fn(byref(sandbox_result)) -> rc


def _call_into(lib, fn: ResultFn) -> Result:
    """Give fn an initialised sandbox_result, copy it out, free it; raise
    the error class for a negative return."""
    res = sandbox_result()
    rc = lib.sandbox_result_init(ctypes.byref(res), ctypes.sizeof(res))
    if rc != 0:
        raise LibraryError("sandbox_result_init rejected sizeof("
                           f"sandbox_result) = {ctypes.sizeof(res)}: ABI "
                           "mismatch", rc)
    try:
        rc = fn(ctypes.byref(res))
        result = _to_result(lib, res)
    finally:
        lib.sandbox_result_free(ctypes.byref(res))
    if rc < 0:
        raise_for(lib, rc, result)
    return result


def _call(lib, opts) -> Result:
    return _call_into(lib, lambda res: lib.sandbox_run(ctypes.byref(opts),
                                                       res))


def _validate(lib, opts) -> None:
    msg = ctypes.c_void_p()
    rc = lib.sandbox_opts_validate(ctypes.byref(opts), ctypes.byref(msg))
    text = take_string(lib, msg)
    if rc < 0:
        raise InvalidOptionsError(text or lib.sandbox_strerror(rc).decode(),
                                  rc)


def _write_cancel(fd: int) -> None:
    try:
        os.write(fd, b"x")
    except OSError:
        pass


def _perform(lib, opts, cancel_fd, fn: ResultFn) -> Result:
    """_call_into(lib, fn), cancellable by Ctrl-C when called from the main
    thread: the C call runs in a worker while the main thread waits
    (signals are delivered only there, between bytecodes); a
    KeyboardInterrupt writes to the pipe that is opts.cancel_fd, the
    library kills the run (or the exec), and the exception is re-raised
    once the call has returned."""
    if cancel_fd is not None or \
            threading.current_thread() is not threading.main_thread():
        return _call_into(lib, fn)
    r, w = os.pipe()
    os.set_blocking(w, False)
    opts.cancel_fd = r
    out: dict = {}
    done = threading.Event()

    def worker():
        try:
            out["result"] = _call_into(lib, fn)
        except BaseException as exc:  # re-raised in the caller
            out["exc"] = exc
        finally:
            done.set()

    # Wait on an Event, not Thread.join(): on Python <= 3.12 a join()
    # interrupted by KeyboardInterrupt can leave the thread marked finished.
    t = threading.Thread(target=worker, name="libsandbox-run", daemon=True)
    interrupted = None
    try:
        t.start()
        while True:
            try:
                done.wait()
                break
            except BaseException as exc:  # KeyboardInterrupt, SystemExit
                _write_cancel(w)
                interrupted = interrupted or exc
    finally:
        if t.ident is not None:
            done.wait()
        os.close(r)
        os.close(w)
    if interrupted is not None:
        raise interrupted
    if "exc" in out:
        raise out["exc"]
    return out["result"]


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
        on_output: Optional[OnOutput] = None,
        allow: Optional[Sequence[str]] = None,
        max_connections: Optional[int] = None,
        max_net_bytes: Optional[int] = None, library=None) -> Result:
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

    allow: the destinations the box may reach, "host:port",
    "*.domain:port", "A.B.C.D[/len]:port" or "[v6[/len]]:port"; giving it
    selects network "allowlist" (no route out; a proxy on the host that
    connects to these only, reached through HTTP_PROXY/HTTPS_PROXY/
    ALL_PROXY = http://127.0.0.1:3128 in the box; docs/network.md).
    max_connections, max_net_bytes: caps per run on the connections the
    proxy allows and the bytes both ways (None or 0: no cap).  The
    Result's net_attempts and net_log record every attempt.  The library
    refuses (InvalidOptionsError) a bad entry, network="allowlist" with no
    allow, and allow or the caps with network "none" or "bridge".

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
        stderr_fd=stderr_fd, on_output=on_output, allow=allow,
        max_connections=max_connections, max_net_bytes=max_net_bytes), keep)
    try:
        return _perform(lib, opts, cancel_fd,
                        lambda res: lib.sandbox_run(ctypes.byref(opts), res))
    finally:
        del keep


_STREAM_OWN = ("stdout_fd", "stderr_fd", "cancel_fd", "on_output")


class Stream:
    """A run whose output is delivered as it arrives: iterate to get
    ("stdout" | "stderr", bytes) chunks in arrival order; .result is the
    Result once the run ended.  Leaving the iteration early (break, an
    exception, close()) cancels the run: the box is killed (for
    Box.stream: that exec is killed, the box lives on).  When the run
    could not run at all, the iteration ends by raising its error.

    Built on the library's tee fds: two pipes, read here, that the C call
    (on a worker thread) writes without ever blocking the box; no ctypes
    callback is involved."""

    def __init__(self, command_or_argv: Command, **kw: Any) -> None:
        lib = kw.pop("library", None) or load()

        def build(kw2: dict, keep: list):
            opts = _build(lib, command_or_argv, kw2, keep)
            _validate(lib, opts)
            return opts

        self._start(lib, kw, build, lambda opts: _call(lib, opts))

    def _start(self, lib, kw: dict, build: Callable[[dict, list], Any],
               call: Callable[[Any], Result]) -> None:
        for bad in _STREAM_OWN:
            if kw.get(bad) is not None:
                raise InvalidOptionsError(f"stream() sets {bad} itself",
                                          SANDBOX_EINVAL)
        self._lib = lib
        self._keep: List[Any] = []
        self._result: Optional[Result] = None
        self._exc: Optional[BaseException] = None
        self._fds: List[int] = []
        self._w: List[int] = []
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        can_r, can_w = os.pipe()
        os.set_blocking(can_w, False)
        self._fds = [out_r, err_r, can_r, can_w]
        self._w = [out_w, err_w]
        try:
            kw = dict(kw, stdout_fd=out_w, stderr_fd=err_w, cancel_fd=can_r)
            self._opts = build(kw, self._keep)
        except BaseException:
            self._close_all()
            raise
        self._call = call
        self._thread = threading.Thread(target=self._work,
                                        name="libsandbox-stream", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            self._result = self._call(self._opts)
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
        if self._exc is not None:
            raise self._exc

    def close(self) -> None:
        """Cancel the run if it is still going, wait for it, free the fds."""
        if self._fds:
            _write_cancel(self._fds[3])
        self._thread.join()
        self._close_all()

    @property
    def result(self) -> Result:
        """The run's Result (waits for the end); raises what the run
        raised (RunError, BoxDeadError, ...)."""
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

    Takes run()'s keyword arguments (allow, max_connections and
    max_net_bytes too: .result.net_log then holds the attempts) except
    stdout_fd, stderr_fd, cancel_fd and on_output (it uses them itself)."""
    return Stream(command_or_argv, **kw)


# --- Boxes and pools ----------------------------------------------------------

class _Handle:
    """A C handle (sandbox_box * / sandbox_pool *) shared by threads.

    Calls on it are counted; close() first makes running calls end (for a
    box: sandbox_box_destroy, after which they return EBOXDEAD), then waits
    for the count to reach zero before freeing, so the free never races
    with another call (the C rule for sandbox_box_free/sandbox_pool_free).
    After close() every call raises BoxDeadError (code SANDBOX_EBOXDEAD)
    without touching the freed pointer."""

    _what = "handle"

    def _init_handle(self, lib, handle: Optional[int]) -> None:
        self._lib = lib
        self._cv = threading.Condition()
        self._active = 0
        self._closing = False
        self._handle = handle

    @contextlib.contextmanager
    def _use(self) -> Iterator[int]:
        with self._cv:
            if self._handle is None or self._closing:
                raise BoxDeadError(f"the {self._what} was closed: make a new "
                                   f"one", SANDBOX_EBOXDEAD)
            self._active += 1
            handle = self._handle
        try:
            yield handle
        finally:
            with self._cv:
                self._active -= 1
                if self._active == 0:
                    self._cv.notify_all()

    def _begin_close(self) -> Optional[int]:
        with self._cv:
            if self._handle is None or self._closing:
                return None
            self._closing = True
            return self._handle

    def _finish_close(self, free: Callable[[int], None]) -> None:
        with self._cv:
            while self._active:
                self._cv.wait()
            handle, self._handle = self._handle, None
        if handle is not None:
            free(handle)

    @property
    def closed(self) -> bool:
        return self._handle is None or self._closing

    def __del__(self) -> None:
        try:
            if getattr(self, "_handle", None) is not None:
                self.close()  # type: ignore[attr-defined]
        except BaseException:  # interpreter shutdown, a dead library
            pass


class Box(_Handle):
    """One box, many commands: state persists from one exec to the next.

        with libsandbox.Box(image="busybox:latest", memory="512m") as box:
            box.exec("echo hi > /tmp/f")
            box.exec(["cat", "/tmp/f"]).stdout          # b'hi\\n'
            for name, data in box.stream("make test"):  # as it arrives
                ...
            box.put("src/", "/work/src")                # host -> box
            box.get("/work/out.bin", "out.bin")         # box -> host

    The box's limits (memory, pids, cpus, disk_limit, network) hold across
    all its execs.  It dies at `lifetime` seconds (library default 3600),
    after `idle` seconds without an exec/put/get (default: never), with
    this process, on destroy(), or when the with block ends.  A workspace's
    changes reach the host when the box is destroyed.

    Threads: one Box may be used from several threads at once: exec,
    stream, put, get, alive and destroy run concurrently (execs really run
    in parallel in the box; ctypes releases the GIL).  close() (the with
    block's end) destroys the box, so calls still running end with
    BoxDeadError; it then waits for them and frees the handle."""

    _what = "Box"

    def __init__(self, image: Optional[str] = None, *,
                 memory: Optional[str] = None, network: Optional[str] = None,
                 workspace: Optional[StrOrBytes] = None, env: Any = None,
                 lifetime: Optional[float] = None,
                 idle: Optional[float] = None,
                 timeout: Optional[float] = None, pids: Optional[int] = None,
                 cpus: Optional[float] = None,
                 runtime: Optional[StrOrBytes] = None,
                 disk_limit: Optional[str] = None,
                 output_limit: Optional[int] = None,
                 mounts: Optional[Sequence[Tuple[Any, ...]]] = None,
                 allow: Optional[Sequence[str]] = None,
                 max_connections: Optional[int] = None,
                 max_net_bytes: Optional[int] = None,
                 library=None) -> None:
        """Start the box (sandbox_box_create).  Options as for run();
        lifetime/idle in seconds (box_lifetime_sec/box_idle_sec); timeout
        is every exec's default timeout.  allow, max_connections,
        max_net_bytes: as for run(), for the box's whole life (the caps
        count across all its execs); the box's net_attempts and net_log
        arrive in destroy()'s Result (close() alone discards them).
        Raises what run() raises when the box cannot start (nothing is
        left on the host then)."""
        lib = library or load()
        self._init_handle(lib, None)
        self._name: Optional[str] = None
        create = require(lib, "sandbox_box_create")
        keep: List[Any] = []
        opts = _build(lib, None, dict(
            image=image, memory=memory, network=network, workspace=workspace,
            env=env, lifetime=lifetime, idle=idle, timeout=timeout, pids=pids,
            cpus=cpus, runtime=runtime, disk_limit=disk_limit,
            output_limit=output_limit, mounts=mounts, allow=allow,
            max_connections=max_connections, max_net_bytes=max_net_bytes),
            keep)
        handle, msg = ctypes.c_void_p(), ctypes.c_void_p()
        rc = create(ctypes.byref(opts), ctypes.byref(handle),
                    ctypes.byref(msg))
        text = take_string(lib, msg)
        if rc < 0 or not handle.value:
            raise_for(lib, rc if rc < 0 else SANDBOX_EBADBOX, None, text)
        self._adopt(handle.value)

    @classmethod
    def _from_handle(cls, lib, handle: int) -> "Box":
        box = cls.__new__(cls)
        box._init_handle(lib, None)
        box._adopt(handle)
        return box

    def _adopt(self, handle: int) -> None:
        self._handle = handle
        name = require(self._lib, "sandbox_box_name")(handle)
        self._name = name.decode("utf-8", "replace") if name else None

    @property
    def name(self) -> Optional[str]:
        """The container's name (podman/docker) or the native box's cgroup
        name."""
        return self._name

    def _exec_raw(self, x, res) -> int:
        with self._use() as h:
            return self._lib.sandbox_box_exec(h, ctypes.byref(x), res)

    def _exec_opts(self, x) -> Result:
        return _call_into(self._lib, lambda res: self._exec_raw(x, res))

    def exec(self, command_or_argv: Command, *, stdin: Stdin = None,
             env: Any = None, cwd: Optional[StrOrBytes] = None,
             timeout: Optional[float] = None,
             output_limit: Optional[int] = None,
             stdout_fd: Optional[int] = None,
             stderr_fd: Optional[int] = None,
             on_output: Optional[OnOutput] = None,
             cancel_fd: Optional[int] = None) -> Result:
        """Run one command in the box and wait for it (sandbox_box_exec).

        command_or_argv, stdin, stdout_fd, stderr_fd, on_output, cancel_fd:
        as for run().  env: added to (and overriding) the box's.  cwd: an
        absolute path in the box (default: /workspace with a workspace,
        else /).  timeout: seconds (None: the box's); on expiry the exec's
        whole process tree is killed, the Result says "timeout" (exit 124)
        and the box lives on.  Raises BoxDeadError when the box is gone
        (the message says why: out of memory, lifetime, destroyed...)."""
        keep: List[Any] = []
        x = _build_exec(self._lib, command_or_argv, dict(
            stdin=stdin, env=env, cwd=cwd, timeout=timeout,
            output_limit=output_limit, stdout_fd=stdout_fd,
            stderr_fd=stderr_fd, on_output=on_output, cancel_fd=cancel_fd),
            keep)
        try:
            return _perform(self._lib, x, cancel_fd,
                            lambda res: self._exec_raw(x, res))
        finally:
            del keep

    def stream(self, command_or_argv: Command, *, stdin: Stdin = None,
               env: Any = None, cwd: Optional[StrOrBytes] = None,
               timeout: Optional[float] = None,
               output_limit: Optional[int] = None) -> Stream:
        """Like exec(), but iterate the returned Stream for ("stdout" |
        "stderr", bytes) chunks as they arrive; .result is the Result.
        Leaving the iteration early kills this exec (not the box)."""
        lib = self._lib
        s = Stream.__new__(Stream)
        kw = dict(stdin=stdin, env=env, cwd=cwd, timeout=timeout,
                  output_limit=output_limit)
        s._start(lib, kw,
                 lambda kw2, keep: _build_exec(lib, command_or_argv, kw2,
                                               keep),
                 self._exec_opts)
        return s

    def _copy(self, fname: str, a: bytes, b: bytes) -> None:
        fn = require(self._lib, fname)
        msg = ctypes.c_void_p()
        with self._use() as h:
            rc = fn(h, a, b, ctypes.byref(msg))
        text = take_string(self._lib, msg)
        if rc < 0:
            raise_for(self._lib, rc, None, text)

    def put(self, host_path: StrOrBytes, box_path: StrOrBytes) -> None:
        """Copy a host file or directory tree into the box at box_path
        (absolute, must not exist; its parent must).  Regular files,
        directories and symlinks (copied as links); setuid/setgid bits
        dropped.  Needs `tar` in the image."""
        keep: List[Any] = []
        self._copy("sandbox_box_put",
                   _cstr("host_path", host_path, keep, path=True),
                   _cstr("box_path", box_path, keep, path=True))

    def get(self, box_path: StrOrBytes, host_path: StrOrBytes) -> None:
        """Copy the box's box_path out to host_path (must not exist; its
        parent must), written by this process's uid, never through a link
        the box made."""
        keep: List[Any] = []
        self._copy("sandbox_box_get",
                   _cstr("box_path", box_path, keep, path=True),
                   _cstr("host_path", host_path, keep, path=True))

    def _status(self) -> Tuple[bool, Optional[str]]:
        if self.closed:
            return False, "the Box was closed"
        why = ctypes.c_void_p()
        with self._use() as h:
            rc = require(self._lib, "sandbox_box_alive")(h,
                                                         ctypes.byref(why))
        text = take_string(self._lib, why)
        if rc < 0:
            raise_for(self._lib, rc, None, text)
        return rc == 1, text

    def alive(self) -> bool:
        """True while the box runs (sandbox_box_alive)."""
        return self._status()[0]

    def why_dead(self) -> Optional[str]:
        """None while the box runs, else why it is gone."""
        alive, why = self._status()
        return None if alive else (why or "the box is gone")

    def destroy(self) -> Result:
        """Stop the box and everything in it, commit its workspace back,
        remove what it left; execs still running end with BoxDeadError.
        Returns the box-level accounting (reason, peak_memory_bytes,
        cpu_sec, disk_limit_hit).  The handle stays until close(); later
        execs raise BoxDeadError.  Destroying twice is harmless."""
        fn = require(self._lib, "sandbox_box_destroy")

        def call(res):
            with self._use() as h:
                return fn(h, res)
        return _call_into(self._lib, call)

    def close(self) -> None:
        """destroy() if the box still runs, wait for the calls in other
        threads to return, release the handle (sandbox_box_free)."""
        h = self._begin_close()
        if h is None:
            return
        try:
            self._lib.sandbox_box_destroy(h, None)
        finally:
            self._finish_close(self._lib.sandbox_box_free)

    def __enter__(self) -> "Box":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<libsandbox.Box {self._name or '?'} {state}>"


class Pool(_Handle):
    """A warm pool: `size` ready boxes made from one template, refilled by a
    background thread the library owns (sandbox_pool_*).

        with libsandbox.Pool(image="busybox:latest", size=2) as pool:
            pool.run("echo hi").stdout        # one-shot, from a ready box
            with pool.take() as box:          # a ready Box, yours now
                box.exec("...")

    Template keywords are Box's (image, memory, network, workspace, env,
    lifetime, idle, timeout, pids, cpus, runtime, disk_limit,
    output_limit, mounts, allow, max_connections, max_net_bytes).  With
    allow (network "allowlist") run() destroys its box before returning,
    so its Result carries that run's net_attempts and net_log.  Threads:
    run() and take() may be called from any number of threads at once;
    close() waits for them."""

    _what = "Pool"

    def __init__(self, size: int = 1, *, library=None,
                 **template: Any) -> None:
        lib = library or load()
        self._init_handle(lib, None)
        create = require(lib, "sandbox_pool_create")
        unknown = set(template) - set(_BOX_KEYS)
        if unknown:
            raise InvalidOptionsError(
                f"Pool() got unknown template option(s) "
                f"{', '.join(sorted(unknown))}: use Box()'s "
                f"({', '.join(_BOX_KEYS)})", SANDBOX_EINVAL)
        n = _number("size", size, True)
        if not 0 <= n <= 0xFFFFFFFF:
            raise InvalidOptionsError(f"size {n} is out of range",
                                      SANDBOX_EINVAL)
        keep: List[Any] = []
        opts = _build(lib, None, template, keep)
        handle, msg = ctypes.c_void_p(), ctypes.c_void_p()
        rc = create(ctypes.byref(opts), n, ctypes.byref(handle),
                    ctypes.byref(msg))
        text = take_string(lib, msg)
        if rc < 0 or not handle.value:
            raise_for(lib, rc if rc < 0 else SANDBOX_EBADBOX, None, text)
        self._handle = handle.value

    def run(self, command_or_argv: Command, *, stdin: Stdin = None,
            env: Any = None, cwd: Optional[StrOrBytes] = None,
            timeout: Optional[float] = None,
            output_limit: Optional[int] = None,
            stdout_fd: Optional[int] = None,
            stderr_fd: Optional[int] = None,
            on_output: Optional[OnOutput] = None,
            cancel_fd: Optional[int] = None) -> Result:
        """One-shot run in a ready box (sandbox_pool_run): as Box.exec,
        then the box is destroyed in the background."""
        lib = self._lib
        fn_run = require(lib, "sandbox_pool_run")
        keep: List[Any] = []
        x = _build_exec(lib, command_or_argv, dict(
            stdin=stdin, env=env, cwd=cwd, timeout=timeout,
            output_limit=output_limit, stdout_fd=stdout_fd,
            stderr_fd=stderr_fd, on_output=on_output, cancel_fd=cancel_fd),
            keep)

        def fn(res):
            with self._use() as h:
                return fn_run(h, ctypes.byref(x), res)
        try:
            return _perform(lib, x, cancel_fd, fn)
        finally:
            del keep

    def take(self) -> Box:
        """A ready Box, now the caller's (close it, or use it in a with)."""
        fn = require(self._lib, "sandbox_pool_take")
        handle, msg = ctypes.c_void_p(), ctypes.c_void_p()
        with self._use() as h:
            rc = fn(h, ctypes.byref(handle), ctypes.byref(msg))
        text = take_string(self._lib, msg)
        if rc < 0 or not handle.value:
            raise_for(self._lib, rc if rc < 0 else SANDBOX_EBADBOX, None,
                      text)
        return Box._from_handle(self._lib, handle.value)

    def close(self) -> None:
        """Stop refilling, destroy the ready boxes, free the pool (after
        the run()/take() calls of other threads returned)."""
        if self._begin_close() is not None:
            self._finish_close(self._lib.sandbox_pool_free)

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_BOX_KEYS = ("image", "memory", "network", "workspace", "env", "lifetime",
             "idle", "timeout", "pids", "cpus", "runtime", "disk_limit",
             "output_limit", "mounts", "allow", "max_connections",
             "max_net_bytes")
