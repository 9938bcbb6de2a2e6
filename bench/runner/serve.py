#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""serve.py: the harness's server in the CANDIDATE box.

sandbox-bench runs two boxes per evaluation.  The RUNNER box holds the test
runner, the hidden tests and the report; the CANDIDATE box holds the
candidate's files (read-only at --candidate), a fresh scratch directory and
this server.  The runner's tests reach the candidate only through the Unix
socket --socket, with sbcall.py on their side.

Protocol: every message is a 4-byte big-endian length and that many bytes of
UTF-8 JSON (at most MAX_MSG).  One request per connection:

  {"op": "call", "module": "sandbox", "func": "sandbox_run",
   "args": [...], "kwargs": {...}, "env": {...}|null, "cwd": str|null,
   "timeout": sec}
     -> {"ok": true, "value": <JSON>}  or
        {"ok": false, "exc_type": "RuntimeError", "exc_message": "..."}
  {"op": "run", "argv": [...], "stdin": base64, "env": {...}|null,
   "cwd": str|null, "timeout": sec, "cap": bytes}
     -> {"ok": true, "exit": n, "timed_out": bool, "stdout": base64,
         "stderr": base64, "stdout_total": n, "stderr_total": n}
  {"op": "ping"} -> {"ok": true, "candidate": dir}

Any failure of the harness itself is {"ok": false, "error": "..."}.

Every request runs in a FRESH process (its own session), so nothing one
request does to the interpreter survives into the next.  `env` is merged
into this server's environment (a null value unsets the name).  When the
client hangs up before the answer (its test timed out), or `timeout`
passes, the request's whole process group is killed.

This server is harness code, but it runs in the candidate's box: the
candidate can kill or replace it.  That gains nothing -- whatever answers on
the socket is, by definition, the candidate's answer, and the runner's
client treats a missing or malformed answer as a failed test.
"""
import argparse
import base64
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

MAX_MSG = 32 << 20       # bytes in one message, either way
DEFAULT_CAP = 1 << 20    # bytes of stdout/stderr kept by `run`
MAX_TIMEOUT = 3600.0

HERE = os.path.dirname(os.path.abspath(__file__))
CALLEE = os.path.join(HERE, "callee.py")


def recv_exact(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def recv_msg(conn):
    (n,) = struct.unpack(">I", recv_exact(conn, 4))
    if n > MAX_MSG:
        raise ValueError("message of %d bytes (limit %d)" % (n, MAX_MSG))
    return json.loads(recv_exact(conn, n).decode("utf-8"))


def send_msg(conn, obj):
    data = json.dumps(obj).encode("utf-8")
    if len(data) > MAX_MSG:
        data = json.dumps({"ok": False, "error": "answer of %d bytes is over "
                           "the %d-byte limit" % (len(data), MAX_MSG)}
                          ).encode("utf-8")
    conn.sendall(struct.pack(">I", len(data)) + data)


def client_gone(conn):
    r, _, _ = select.select([conn], [], [], 0)
    if not r:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def merged_env(extra):
    env = dict(os.environ)
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(str(k), None)
        else:
            env[str(k)] = str(v)
    return env


def resolve(argv0, env):
    if "/" in argv0:
        return argv0
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep):
        p = os.path.join(d, argv0)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return argv0


def killpg(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def drain(f, cap, out, totals, key):
    while True:
        chunk = f.read1(65536) if hasattr(f, "read1") else f.read(65536)
        if not chunk:
            return
        totals[key] += len(chunk)
        if len(out) < cap:
            out += chunk[:cap - len(out)]


def supervise(conn, proc, timeout, pipes, cap):
    """Wait for proc; kill its group when the client goes or time is up."""
    outs = {k: bytearray() for k in pipes}
    totals = {k: 0 for k in pipes}
    threads = [threading.Thread(target=drain, args=(f, cap, outs[k], totals, k),
                                daemon=True) for k, f in pipes.items()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    timed_out = gone = False
    while proc.poll() is None:
        if time.monotonic() > deadline:
            timed_out = True
            break
        if client_gone(conn):
            gone = True
            break
        time.sleep(0.02)
    killpg(proc)  # also reaps anything the request left in its session
    proc.wait()
    for t in threads:
        t.join(5)
    return proc.returncode, timed_out, gone, outs, totals


def do_run(conn, req, scratch):
    argv = req.get("argv")
    if not isinstance(argv, list) or not argv or \
            not all(isinstance(a, str) for a in argv):
        return {"ok": False, "error": "argv must be a non-empty list of "
                "strings"}
    env = merged_env(req.get("env"))
    cwd = req.get("cwd") or scratch
    stdin = base64.b64decode(req.get("stdin") or "")
    cap = min(int(req.get("cap") or DEFAULT_CAP), MAX_MSG // 3)
    timeout = min(float(req.get("timeout") or 60), MAX_TIMEOUT)
    try:
        proc = subprocess.Popen([resolve(argv[0], env)] + argv[1:], cwd=cwd,
                                env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as e:
        return {"ok": True, "exit": 127, "timed_out": False, "stdout": "",
                "stderr": base64.b64encode(str(e).encode()).decode(),
                "stdout_total": 0, "stderr_total": len(str(e))}

    def feed():
        try:
            proc.stdin.write(stdin)
        except OSError:
            pass
        try:
            proc.stdin.close()
        except OSError:
            pass
    threading.Thread(target=feed, daemon=True).start()
    code, timed_out, gone, outs, totals = supervise(
        conn, proc, timeout, {"stdout": proc.stdout, "stderr": proc.stderr},
        cap)
    if gone:
        return None
    return {"ok": True, "exit": 124 if timed_out else code,
            "timed_out": timed_out,
            "stdout": base64.b64encode(bytes(outs["stdout"])).decode(),
            "stderr": base64.b64encode(bytes(outs["stderr"])).decode(),
            "stdout_total": totals["stdout"],
            "stderr_total": totals["stderr"]}


def do_call(conn, req, candidate, scratch):
    for k in ("module", "func"):
        if not isinstance(req.get(k), str) or not req[k]:
            return {"ok": False, "error": "%s must be a non-empty string" % k}
    env = merged_env(req.get("env"))
    cwd = req.get("cwd") or scratch
    timeout = min(float(req.get("timeout") or 60), MAX_TIMEOUT)
    rfd, wfd = os.pipe()
    env["SBCALL_RESULT_FD"] = str(wfd)
    payload = json.dumps({"candidate": candidate, "module": req["module"],
                          "func": req["func"], "args": req.get("args") or [],
                          "kwargs": req.get("kwargs") or {}}).encode()
    try:
        proc = subprocess.Popen([sys.executable, "-I", CALLEE], cwd=cwd,
                                env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, pass_fds=(wfd,),
                                start_new_session=True)
    except OSError as e:
        os.close(rfd)
        os.close(wfd)
        return {"ok": False, "error": "cannot start the callee: %s" % e}
    os.close(wfd)
    try:
        proc.stdin.write(payload)
        proc.stdin.close()
    except OSError:
        pass
    result = os.fdopen(rfd, "rb")
    code, timed_out, gone, outs, _ = supervise(conn, proc, timeout,
                                               {"result": result}, MAX_MSG)
    result.close()
    if gone:
        return None
    if timed_out:
        return {"ok": False, "error": "the call did not return within %.0f s"
                % timeout}
    try:
        ans = json.loads(bytes(outs["result"]).decode("utf-8"))
    except ValueError:
        return {"ok": False, "error": "the candidate's process ended (exit "
                "%s) without an answer (os._exit, a crash, or output on the "
                "result channel)" % code}
    return ans


def handle(conn, candidate, scratch):
    try:
        conn.settimeout(30)
        req = recv_msg(conn)
        conn.settimeout(None)
        op = req.get("op") if isinstance(req, dict) else None
        if op == "ping":
            ans = {"ok": True, "candidate": candidate}
        elif op == "call":
            ans = do_call(conn, req, candidate, scratch)
        elif op == "run":
            ans = do_run(conn, req, scratch)
        else:
            ans = {"ok": False, "error": "unknown op %r" % (op,)}
        if ans is not None:
            send_msg(conn, ans)
    except Exception as e:  # the client's problem, or a dead client
        try:
            send_msg(conn, {"ok": False, "error": "%s: %s"
                            % (type(e).__name__, e)})
        except OSError:
            pass
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--candidate", required=True)
    p.add_argument("--scratch", required=True)
    a = p.parse_args()
    tmp = a.socket + ".tmp"
    for f in (tmp, a.socket):
        try:
            os.unlink(f)
        except FileNotFoundError:
            pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(tmp)
    os.chmod(tmp, 0o666)  # the runner box may map another uid
    s.listen(64)
    os.rename(tmp, a.socket)  # appears only when it accepts
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn, a.candidate, a.scratch),
                         daemon=True).start()


if __name__ == "__main__":
    main()
