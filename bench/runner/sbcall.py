# SPDX-License-Identifier: MIT
"""sbcall.py: the runner box's client for the candidate box's serve.py.

A hidden test never imports or executes the candidate's code itself; it asks
the candidate box to, over the Unix socket in $BENCH_SOCKET:

    import sbcall
    out = sbcall.call("sandbox.sandbox_run", "echo hi", timeout=5)
    p = sbcall.run(["python3", "/candidate/sandbox.py", "--", "true"])
    p.returncode, p.stdout, p.stderr          # bytes

`call` returns the function's JSON-serialisable result, or raises
CandidateError (an Exception, carrying the candidate's exception type and
message) when the candidate's function raised.  Anything else -- no server,
a malformed, oversized or truncated answer, a dead or timed-out request --
raises ProtocolError, a BaseException, so that `pytest.raises(Exception)`
can never be satisfied by a broken answer: the test fails.

BENCH_INPROCESS=1 is the WEAKENED mode, for demonstrating attacks only: the
candidate is imported into this very process and run() starts local
processes -- the old single-box design, where a candidate can rewrite the
report, shadow or patch the runner.  Never use it for untrusted code.

Defaults for env (merged into the candidate box's environment; None unsets a
name) and cwd come from `configure()` (a test fixture's job) and can be
overridden per request with call_with() / run(env=, cwd=).
"""
import base64
import json
import os
import socket
import struct
import time

MAX_MSG = 32 << 20
SOCKET = os.environ.get("BENCH_SOCKET", "/bench/ipc/sbcall.sock")
CANDIDATE = os.environ.get("BENCH_CANDIDATE_DIR", "/candidate")
SCRATCH = os.environ.get("BENCH_SCRATCH", "/workspace")
CONNECT_WAIT = float(os.environ.get("BENCH_CONNECT_WAIT", "60"))

_defaults = {"env": None, "cwd": None}
_state = {"gave_up": False}  # after one failed wait, fail fast
INPROCESS = os.environ.get("BENCH_INPROCESS") == "1"


class ProtocolError(BaseException):
    """The candidate box gave no usable answer: the test fails."""


class CandidateError(Exception):
    """The candidate's function raised."""

    def __init__(self, exc_type, message):
        super().__init__(message)
        self.exc_type = exc_type
        self.message = message

    def __repr__(self):
        return "CandidateError(%s: %s)" % (self.exc_type, self.message)


class Completed:
    def __init__(self, returncode, stdout, stderr, timed_out):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def text(self):
        return (self.stdout.decode("utf-8", "replace"),
                self.stderr.decode("utf-8", "replace"))


def configure(env=None, cwd=None):
    """Set the default env overrides and working directory of requests."""
    _defaults["env"] = dict(env) if env else None
    _defaults["cwd"] = cwd


def _connect():
    end = time.monotonic() + (1.0 if _state["gave_up"] else CONNECT_WAIT)
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(SOCKET)
            return s
        except OSError as e:
            s.close()
            if time.monotonic() > end:
                _state["gave_up"] = True
                raise ProtocolError("no candidate server at %s: %s"
                                    % (SOCKET, e))
            time.sleep(0.1)


def _recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ProtocolError("the candidate box hung up mid-answer")
        buf += chunk
    return bytes(buf)


def request(req, timeout):
    """Send one request, return the decoded answer dict (or fail)."""
    data = json.dumps(req).encode("utf-8")
    if len(data) > MAX_MSG:
        raise ValueError("request too large")
    s = _connect()
    try:
        s.settimeout(timeout + 30)
        s.sendall(struct.pack(">I", len(data)) + data)
        try:
            (n,) = struct.unpack(">I", _recv_exact(s, 4))
            if n > MAX_MSG:
                raise ProtocolError("answer of %d bytes (limit %d)"
                                    % (n, MAX_MSG))
            ans = json.loads(_recv_exact(s, n).decode("utf-8"))
        except socket.timeout:
            raise ProtocolError("no answer within %.0f s" % (timeout + 30))
        except (ValueError, UnicodeDecodeError) as e:
            raise ProtocolError("malformed answer: %s" % e)
    finally:
        s.close()
    if not isinstance(ans, dict) or not isinstance(ans.get("ok"), bool):
        raise ProtocolError("malformed answer: %r" % (ans,)[:200])
    if "error" in ans:
        raise ProtocolError("the candidate box: %s" % str(ans["error"])[:500])
    return ans


def _merged_env(env):
    out = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = str(v)
    return out


def _inprocess_call(module, name, args, kwargs, env, cwd):
    import sys
    if CANDIDATE not in sys.path:
        sys.path.insert(0, CANDIDATE)
    old_env, old_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(_merged_env(env))
    try:
        if cwd:
            os.chdir(cwd)
        fn = __import__(module)
        for part in name.split("."):
            fn = getattr(fn, part)
        try:
            return json.loads(json.dumps(fn(*args, **kwargs)))
        except Exception as e:
            raise CandidateError(type(e).__name__, str(e))
    finally:
        os.environ.clear()
        os.environ.update(old_env)
        os.chdir(old_cwd)


def _inprocess_run(argv, stdin, env, timeout, cwd):
    import shutil
    import subprocess
    if "/" not in argv[0]:  # found on this process's PATH, as serve.py does
        argv = [shutil.which(argv[0]) or argv[0]] + argv[1:]
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True,
                           env=_merged_env(env), cwd=cwd or None,
                           timeout=timeout)
        return Completed(p.returncode, p.stdout, p.stderr, False)
    except subprocess.TimeoutExpired as e:
        return Completed(124, e.stdout or b"", e.stderr or b"", True)


def call_with(func, args=(), kwargs=None, env=None, cwd=None, timeout=60):
    """call() with explicit env/cwd/timeout; func is "module.function"."""
    module, _, name = func.partition(".")
    if not name:
        raise ValueError("func must be module.function, not %r" % func)
    if INPROCESS:
        return _inprocess_call(module, name, list(args), dict(kwargs or {}),
                               env if env is not None else _defaults["env"],
                               cwd if cwd is not None else _defaults["cwd"])
    ans = request({"op": "call", "module": module, "func": name,
                   "args": list(args), "kwargs": dict(kwargs or {}),
                   "env": env if env is not None else _defaults["env"],
                   "cwd": cwd if cwd is not None else _defaults["cwd"],
                   "timeout": timeout}, timeout)
    if ans["ok"]:
        if "value" not in ans:
            raise ProtocolError("malformed answer: no value")
        return ans["value"]
    t, m = ans.get("exc_type"), ans.get("exc_message")
    if not isinstance(t, str) or not isinstance(m, str):
        raise ProtocolError("malformed exception answer")
    raise CandidateError(t, m)


def call(func, *args, **kwargs):
    """Call the candidate's module.function(*args, **kwargs) in a fresh
    process of the candidate box, with the configured env and cwd."""
    return call_with(func, args, kwargs)


def run(argv, stdin=b"", env=None, timeout=60, cwd=None, cap=1 << 20):
    """Run argv in a fresh process of the candidate box."""
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    if INPROCESS:
        return _inprocess_run(list(argv), stdin,
                              env if env is not None else _defaults["env"],
                              timeout,
                              cwd if cwd is not None else _defaults["cwd"])
    ans = request({"op": "run", "argv": list(argv),
                   "stdin": base64.b64encode(stdin).decode(),
                   "env": env if env is not None else _defaults["env"],
                   "cwd": cwd if cwd is not None else _defaults["cwd"],
                   "timeout": timeout, "cap": cap}, timeout)
    try:
        p = Completed(int(ans["exit"]), base64.b64decode(ans["stdout"]),
                      base64.b64decode(ans["stderr"]), bool(ans["timed_out"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ProtocolError("malformed run answer: %s" % e)
    if len(p.stdout) > cap or len(p.stderr) > cap:
        raise ProtocolError("run answer over the %d-byte cap" % cap)
    return p


def py(code, data=None, timeout=60, env=None, cwd=None):
    """Run a small Python program in the candidate box with `DATA` bound to
    `data` (JSON); it prints one JSON value, which is returned.  For test
    plumbing (setting up a fake, reading its records) -- note it runs where
    the candidate can interfere, like everything in that box."""
    prog = "import json,sys\nDATA=json.loads(sys.stdin.read())\n" + code
    p = run(["python3", "-I", "-c", prog], stdin=json.dumps(data),
            timeout=timeout, env=env, cwd=cwd)
    if p.returncode != 0:
        raise ProtocolError("helper failed (%d): %s"
                            % (p.returncode, p.stderr[-500:]))
    try:
        return json.loads(p.stdout.decode("utf-8"))
    except ValueError as e:
        raise ProtocolError("helper answer malformed: %s" % e)
