# Hidden tests for the `sandbox` task.  They run inside the evaluation
# sandbox: /workspace holds the candidate's sandbox.py, this directory is
# mounted read-only, and there is no real container runtime -- a fake
# podman/docker (fakeruntime.py) stands in for it.
import importlib.util
import json
import os
import shutil
import signal
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CANDIDATE_DIR = os.environ.get("BENCH_CANDIDATE_DIR", os.getcwd())
HANG_SEC = float(os.environ.get("BENCH_TEST_HANG_SEC", "15"))


class Hang(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A test that hangs fails with a clear message instead of stalling the
    whole suite (the harness's own limit stays the last resort)."""
    def on_alarm(_sig, _frame):
        raise Hang("hung: no answer after %.0f s (a deadlock or an ignored "
                   "timeout)" % HANG_SEC)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SEC)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _load_candidate():
    path = os.path.join(CANDIDATE_DIR, "sandbox.py")
    if not os.path.isfile(path):
        pytest.fail("sandbox.py not found in %s" % CANDIDATE_DIR,
                    pytrace=False)
    spec = importlib.util.spec_from_file_location("sandbox", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sandbox"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def candidate_path():
    return os.path.join(CANDIDATE_DIR, "sandbox.py")


@pytest.fixture(scope="session")
def sb():
    """The candidate module."""
    return _load_candidate()


class FakeRuntime:
    """Two bin directories holding the fake runtime, and its records."""

    def __init__(self, root):
        self.root = root
        self.state = os.path.join(root, "state")
        self.both = os.path.join(root, "bin-both")
        self.docker_only = os.path.join(root, "bin-docker")
        self.none = os.path.join(root, "bin-none")
        os.makedirs(self.state)
        with open(os.path.join(HERE, "fakeruntime.py")) as f:
            src = f.read()
        src = src.replace(
            'STATE = os.environ.get("FAKE_RUNTIME_STATE", '
            '"/tmp/fake-runtime-state")', "STATE = %r" % self.state)
        script = "#!%s\n%s" % (sys.executable, src)
        for d, names in ((self.both, ("podman", "docker")),
                         (self.docker_only, ("docker",)), (self.none, ())):
            os.makedirs(d)
            for n in names:
                p = os.path.join(d, n)
                with open(p, "w") as f:
                    f.write(script)
                os.chmod(p, 0o755)

    def calls(self, sub=None):
        path = os.path.join(self.state, "calls.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            out = [json.loads(line) for line in f if line.strip()]
        if sub:
            out = [c for c in out if c["argv"] and c["argv"][0] == sub]
        return out

    def runs(self):
        return self.calls("run")

    def last_run_argv(self):
        runs = self.runs()
        assert runs, "the runtime was never asked to `run` a container"
        return runs[-1]["argv"]

    def containers(self):
        base = os.path.join(self.state, "containers")
        return sorted(os.listdir(base)) if os.path.isdir(base) else []

    def running(self):
        alive = []
        for n in self.containers():
            d = os.path.join(self.state, "containers", n)
            if os.path.exists(os.path.join(d, "exit")):
                continue
            try:
                with open(os.path.join(d, "pgid")) as f:
                    os.killpg(int(f.read()), 0)
                alive.append(n)
            except (OSError, ValueError):
                pass
        return alive

    def cleanup(self):
        for n in self.containers():
            try:
                with open(os.path.join(self.state, "containers", n,
                                       "pgid")) as f:
                    os.killpg(int(f.read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """PATH starts with a fake podman + docker; cwd is a fresh directory."""
    rt = FakeRuntime(str(tmp_path / "fake"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("PATH", rt.both + os.pathsep + os.environ["PATH"])
    yield rt
    rt.cleanup()


def wait_until(pred, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
