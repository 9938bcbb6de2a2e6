# Hidden tests for the `sandbox` task.  They run in the RUNNER box: this
# directory is mounted read-only there, the report goes to a directory only
# that box sees, and the candidate is NOT in this box.  Every use of the
# candidate goes through sbcall (bench/runner/sbcall.py) to the CANDIDATE box,
# where the candidate's files are read-only at $BENCH_CANDIDATE_DIR and a
# fresh scratch directory is at $BENCH_SCRATCH.  There is no real container
# runtime: a fake podman/docker (fakeruntime.py, installed into the candidate
# box's scratch for each test) stands in for it.  The fake's records live in
# the candidate box, so the candidate could forge them; everything else the
# tests judge is the candidate's answer to a request.
import json
import os
import posixpath
import signal
import uuid

import pytest

import sbcall

HERE = os.path.dirname(os.path.abspath(__file__))
CANDIDATE_DIR = sbcall.CANDIDATE
SCRATCH = sbcall.SCRATCH
HANG_SEC = float(os.environ.get("BENCH_TEST_HANG_SEC", "15"))
PYTHON = "/usr/bin/python3"  # the same image runs both boxes
STD_PATH = "/usr/local/bin:/usr/bin:/bin"


class Hang(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A test that hangs fails with a clear message instead of stalling the
    whole suite (the harness's own limit stays the last resort).  The
    request in flight is killed when its connection closes."""
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


@pytest.fixture(scope="session")
def candidate_path():
    return posixpath.join(CANDIDATE_DIR, "sandbox.py")


class Candidate:
    """The candidate module, in the candidate box: sb.f(*a, **kw) calls
    sandbox.f there in a fresh process and returns its JSON result."""

    def __getattr__(self, name):
        def remote(*args, **kwargs):
            return sbcall.call("sandbox." + name, *args, **kwargs)
        return remote


@pytest.fixture(scope="session")
def sb(candidate_path):
    if not sbcall.py("import os; print(json.dumps(os.path.isfile(DATA)))",
                     candidate_path):
        pytest.fail("sandbox.py not found in %s" % CANDIDATE_DIR,
                    pytrace=False)
    return Candidate()


with open(os.path.join(HERE, "fakeruntime.py")) as _f:
    FAKE_SRC = _f.read()

SETUP = r"""
import os
root, script = DATA["root"], DATA["script"]
for d in ("state", "bin-none", "cwd"):
    os.makedirs(os.path.join(root, d))
for d, names in (("bin-both", ("podman", "docker")), ("bin-docker", ("docker",))):
    os.makedirs(os.path.join(root, d))
    for n in names:
        p = os.path.join(root, d, n)
        with open(p, "w") as f:
            f.write(script)
        os.chmod(p, 0o755)
print(json.dumps(True))
"""

CALLS = r"""
import os
p = os.path.join(DATA, "calls.jsonl")
out = []
if os.path.exists(p):
    with open(p) as f:
        out = [json.loads(l) for l in f if l.strip()]
print(json.dumps(out))
"""

CONTAINERS = r"""
import os, signal
base = os.path.join(DATA["state"], "containers")
names = sorted(os.listdir(base)) if os.path.isdir(base) else []
alive = []
for n in names:
    d = os.path.join(base, n)
    if DATA["kill"]:
        try:
            with open(os.path.join(d, "pgid")) as f:
                os.killpg(int(f.read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        continue
    if os.path.exists(os.path.join(d, "exit")):
        continue
    try:
        with open(os.path.join(d, "pgid")) as f:
            os.killpg(int(f.read()), 0)
        alive.append(n)
    except (OSError, ValueError):
        pass
print(json.dumps({"names": names, "alive": alive}))
"""


class FakeRuntime:
    """A fake podman + docker in the candidate box's scratch, and its
    records.  Paths are paths in the candidate box."""

    def __init__(self, root):
        self.root = root
        self.state = posixpath.join(root, "state")
        self.both = posixpath.join(root, "bin-both")
        self.docker_only = posixpath.join(root, "bin-docker")
        self.none = posixpath.join(root, "bin-none")
        self.cwd = posixpath.join(root, "cwd")
        src = FAKE_SRC.replace(
            'STATE = os.environ.get("FAKE_RUNTIME_STATE", '
            '"/tmp/fake-runtime-state")', "STATE = %r" % self.state)
        sbcall.py(SETUP, {"root": root, "script": "#!%s\n%s" % (PYTHON, src)})
        self.set_path(self.both + os.pathsep + STD_PATH)

    def set_path(self, path):
        """PATH of the candidate's processes from now on in this test."""
        sbcall.configure(env={"PATH": path}, cwd=self.cwd)

    def calls(self, sub=None):
        out = sbcall.py(CALLS, self.state)
        if not isinstance(out, list) or not all(
                isinstance(c, dict) and isinstance(c.get("argv"), list)
                for c in out):
            raise sbcall.ProtocolError("malformed fake-runtime records")
        if sub:
            out = [c for c in out if c["argv"] and c["argv"][0] == sub]
        return out

    def runs(self):
        return self.calls("run")

    def last_run_argv(self):
        runs = self.runs()
        assert runs, "the runtime was never asked to `run` a container"
        return runs[-1]["argv"]

    def _containers(self, kill=False):
        return sbcall.py(CONTAINERS, {"state": self.state, "kill": kill})

    def containers(self):
        return self._containers()["names"]

    def running(self):
        return self._containers()["alive"]

    def cleanup(self):
        self._containers(kill=True)

    def mkdir(self, rel):
        """Make a directory (relative: under this test's root); its path."""
        path = posixpath.join(self.root, rel)
        sbcall.py("import os; os.makedirs(DATA); print('true')", path)
        return path

    def read(self, path):
        """A file's text in the candidate box, or None."""
        return sbcall.py("import os\nprint(json.dumps(open(DATA).read() "
                         "if os.path.isfile(DATA) else None))", path)

    def exists(self, path):
        return sbcall.py("import os; print(json.dumps(os.path.exists(DATA)))",
                         path)


@pytest.fixture
def fake():
    """PATH starts with a fake podman + docker; cwd is a fresh directory
    (both in the candidate box)."""
    rt = FakeRuntime(posixpath.join(SCRATCH, "t-" + uuid.uuid4().hex[:12]))
    yield rt
    sbcall.configure()
    rt.cleanup()
