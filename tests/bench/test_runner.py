# SPDX-License-Identifier: MIT
"""Tests of the harness's in-box helpers (bench/runner): serve.py answers
each request in a fresh process and kills what a request leaves behind;
sbcall.py turns every malformed answer into ProtocolError, a BaseException,
so `pytest.raises(Exception)` can never be satisfied by a broken answer.
Runs on the host with the standard library only (unittest):
    python3 tests/bench/test_runner.py SOURCE_DIR
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SRC = sys.argv.pop(1) if len(sys.argv) > 1 else os.getcwd()
RUNNER = os.path.join(SRC, "bench", "runner")

CANDIDATE = r'''
import os, time
STATE = []
def add(a, b):
    return a + b
def remember(x):
    STATE.append(x)
    return len(STATE)
def boom():
    raise ValueError("podman and docker are both missing")
def not_json():
    return object()
def hard_exit():
    os._exit(0)
def sleep(n):
    time.sleep(n)
    return n
def env(name):
    return os.environ.get(name)
def cwd():
    return os.getcwd()
def spawn_and_hang(path):
    import subprocess
    p = subprocess.Popen(["sleep", "300"])
    open(path, "w").write(str(p.pid))
    time.sleep(300)
'''


def read(path):
    with open(path) as f:
        return f.read()


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is dead
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test-runner-")
        cls.cand = os.path.join(cls.tmp, "candidate")
        cls.scratch = os.path.join(cls.tmp, "scratch")
        os.makedirs(cls.cand)
        os.makedirs(cls.scratch)
        with open(os.path.join(cls.cand, "mod.py"), "w") as f:
            f.write(CANDIDATE)
        cls.sock = os.path.join(cls.tmp, "sbcall.sock")
        os.environ["BENCH_SOCKET"] = cls.sock
        os.environ["BENCH_CONNECT_WAIT"] = "10"
        sys.path.insert(0, RUNNER)
        import sbcall
        cls.sbcall = sbcall
        sbcall.SOCKET = cls.sock
        sbcall.CONNECT_WAIT = 10
        sbcall._state["gave_up"] = False


class ServeTests(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = subprocess.Popen(
            [sys.executable, os.path.join(RUNNER, "serve.py"), "--socket",
             cls.sock, "--candidate", cls.cand, "--scratch", cls.scratch])
        for _ in range(100):
            if os.path.exists(cls.sock):
                break
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.server.wait()
        shutil.rmtree(cls.tmp)

    def test_call_returns_the_result(self):
        self.assertEqual(self.sbcall.call("mod.add", 2, 3), 5)
        self.assertEqual(self.sbcall.call("mod.add", [1], b=[2]), [1, 2])

    def test_every_call_is_a_fresh_process(self):
        self.assertEqual(self.sbcall.call("mod.remember", 1), 1)
        self.assertEqual(self.sbcall.call("mod.remember", 2), 1)

    def test_candidate_exception_is_a_candidate_error(self):
        with self.assertRaises(self.sbcall.CandidateError) as e:
            self.sbcall.call("mod.boom")
        self.assertEqual(e.exception.exc_type, "ValueError")
        self.assertIn("podman", str(e.exception))

    def test_no_answer_is_a_protocol_error(self):
        for fn in ("mod.hard_exit", "mod.not_json", "mod.missing_function"):
            with self.assertRaises(BaseException) as e:
                self.sbcall.call(fn)
            if fn == "mod.missing_function":  # AttributeError: the candidate's
                self.assertIsInstance(e.exception, self.sbcall.CandidateError)
            else:
                self.assertIsInstance(e.exception, self.sbcall.ProtocolError)
                self.assertNotIsInstance(e.exception, Exception)

    def test_timeout_is_a_protocol_error(self):
        t0 = time.monotonic()
        with self.assertRaises(self.sbcall.ProtocolError):
            self.sbcall.call_with("mod.sleep", [30], timeout=1)
        self.assertLess(time.monotonic() - t0, 10)

    def test_env_and_cwd(self):
        d = os.path.join(self.scratch, "d")
        os.makedirs(d, exist_ok=True)
        self.assertEqual(self.sbcall.call_with("mod.env", ["X_Y"],
                                               env={"X_Y": "1"}), "1")
        self.assertEqual(self.sbcall.call_with("mod.cwd", cwd=d), d)
        self.assertEqual(self.sbcall.call("mod.cwd"), self.scratch)

    def test_run(self):
        p = self.sbcall.run(["sh", "-c", "cat; echo err >&2; exit 3"],
                            stdin=b"hi")
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (3, b"hi", b"err\n"))
        p = self.sbcall.run(["sh", "-c", "head -c 5000 /dev/zero"], cap=100)
        self.assertEqual(len(p.stdout), 100)
        p = self.sbcall.run(["sleep", "30"], timeout=1)
        self.assertTrue(p.timed_out)
        self.assertEqual(p.returncode, 124)

    def test_a_hung_up_request_is_killed_with_its_children(self):
        marker = os.path.join(self.tmp, "child.pid")
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        req = json.dumps({"op": "call", "module": "mod",
                          "func": "spawn_and_hang", "args": [marker],
                          "timeout": 600}).encode()
        s.sendall(struct.pack(">I", len(req)) + req)
        for _ in range(100):
            if os.path.exists(marker) and read(marker):
                break
            time.sleep(0.05)
        pid = int(read(marker))
        self.assertTrue(alive(pid))
        s.close()  # the test gave up (its hang guard fired)
        for _ in range(100):
            if not alive(pid):
                break
            time.sleep(0.05)
        self.assertFalse(alive(pid), "the request's child outlived it")


class HostileServerTests(Base):
    """A candidate that replaced serve.py answers what it likes."""

    def serve_once(self, payload):
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(self.sock)
        srv.listen(1)

        def answer():
            c, _ = srv.accept()
            n = struct.unpack(">I", c.recv(4))[0]
            while n > 0:
                n -= len(c.recv(n))
            c.sendall(payload)
            c.close()
            srv.close()
        t = threading.Thread(target=answer)
        t.start()
        return t

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def check(self, payload, what):
        t = self.serve_once(payload)
        try:
            with self.assertRaises(self.sbcall.ProtocolError, msg=what):
                try:
                    self.sbcall.call("mod.add", 1, 2)
                except Exception as e:  # what pytest.raises(Exception) sees
                    self.fail("%s: raised an Exception (%r), which "
                              "pytest.raises(Exception) would accept"
                              % (what, e))
        finally:
            t.join(5)

    def test_malformed_answers_fail_the_test(self):
        def msg(obj):
            d = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
            return struct.pack(">I", len(d)) + d
        self.check(b"", "hang-up without an answer")
        self.check(b"\x00\x00", "a truncated length")
        self.check(struct.pack(">I", 100) + b"{}", "a truncated body")
        self.check(struct.pack(">I", 1 << 30), "an oversized length")
        self.check(msg(b"not json"), "not JSON")
        self.check(msg([1, 2]), "not an object")
        self.check(msg({"value": 3}), "no ok")
        self.check(msg({"ok": "yes", "value": 3}), "ok not a boolean")
        self.check(msg({"ok": True}), "no value")
        self.check(msg({"ok": False}), "an exception without type")
        self.check(msg({"ok": False, "error": "x"}), "a harness error")

    def test_a_well_formed_lie_is_just_an_answer(self):
        t = self.serve_once(struct.pack(">I", 25) + b'{"ok": true, "value": 3} ')
        try:
            self.assertEqual(self.sbcall.call("mod.add", 1, 2), 3)
        finally:
            t.join(5)

    def test_no_server_fails_fast_after_the_first_wait(self):
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass
        self.sbcall.CONNECT_WAIT = 0.5
        with self.assertRaises(self.sbcall.ProtocolError):
            self.sbcall.call("mod.add", 1, 2)
        t0 = time.monotonic()
        with self.assertRaises(self.sbcall.ProtocolError):
            self.sbcall.call("mod.add", 1, 2)
        self.assertLess(time.monotonic() - t0, 3)


if __name__ == "__main__":
    unittest.main()
