# SPDX-License-Identifier: MIT
"""Box and Pool against the real backends (native, podman, docker, or the
one $SANDBOX_TEST_RUNTIME names; a backend that cannot run a busybox box
here is skipped, and so is everything when the library has no boxes)."""
import hashlib
import os
import threading
import time

import pytest

import libsandbox
from conftest import BACKENDS, IMAGE

_box_works = {}


def box_works(rt):
    if rt not in _box_works:
        try:
            with libsandbox.Box(image=IMAGE, runtime=rt, timeout=60) as b:
                _box_works[rt] = (b.exec("true").ok, "exec true failed")
        except libsandbox.SandboxError as exc:
            _box_works[rt] = (False, f"{type(exc).__name__}: {exc}")
    return _box_works[rt]


@pytest.fixture(params=BACKENDS)
def rt(request):
    ok, why = box_works(request.param)
    if not ok:
        pytest.skip(f"no {IMAGE} box on {request.param} here: {why}")
    return request.param


def need(fname):
    """Skip when the library under test has no fname (built before it)."""
    if getattr(libsandbox.load(), fname, None) is None:
        pytest.skip(f"this libsandbox has no {fname}()")


@pytest.fixture
def box(rt):
    with libsandbox.Box(image=IMAGE, runtime=rt, timeout=60,
                        lifetime=600) as b:
        yield b


def test_state_persists(box, rt):
    r = box.exec("echo persisted > /tmp/state; mkdir /tmp/d; echo x > "
                 "/tmp/d/f")
    assert r.ok, r
    r = box.exec(["cat", "/tmp/state", "/tmp/d/f"])
    assert r.ok and r.stdout == b"persisted\nx\n", r
    # Control: a fresh box has none of it.
    with libsandbox.Box(image=IMAGE, runtime=rt) as other:
        assert not other.exec("test -e /tmp/state").ok


def test_exec_options(box):
    words = ["$HOME", ";", "'", "a b", "", "`id`"]
    r = box.exec(["printf", "[%s]\\n", *words])
    assert r.stdout == b"".join(b"[" + w.encode() + b"]\n" for w in words)
    r = box.exec("cat; pwd; echo $GREETING", stdin=b"\x00in\xff\n",
                 cwd="/tmp", env={"GREETING": "hello"})
    assert r.ok, r
    assert r.stdout == b"\x00in\xff\n/tmp\nhello\n"
    assert box.exec("echo ${GREETING:-unset}").stdout == b"unset\n"


def test_exec_timeout_leaves_the_box_alive(box):
    t0 = time.monotonic()
    r = box.exec("sleep 300 & sleep 300 & sleep 300", timeout=1)
    elapsed = time.monotonic() - t0
    assert (r.reason, r.exit_code) == ("timeout", 124), r
    assert elapsed < 15
    assert box.alive() and box.why_dead() is None
    r = box.exec("echo still here")
    assert r.ok and r.stdout == b"still here\n"
    # The timed-out exec's whole tree died (the background sleeps too).
    deadline = time.monotonic() + 10
    while True:
        r = box.exec("ps -o args | grep -c '^sleep 300' || true")
        if r.stdout.strip() == b"0" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.stdout.strip() == b"0", r


def test_stream_yields_before_the_command_ends(box):
    seen = []
    s = box.stream("echo first; sleep 2; echo second; echo e >&2")
    with s:
        for name, data in s:
            seen.append((time.monotonic(), name, data))
    end = time.monotonic()
    assert s.result.ok, s.result
    assert b"".join(d for _, n, d in seen if n == "stdout") == \
        b"first\nsecond\n"
    assert b"".join(d for _, n, d in seen if n == "stderr") == b"e\n"
    assert seen[0][2].startswith(b"first")
    assert end - seen[0][0] > 1.5, seen
    # Leaving early kills that exec only; the box lives on.
    t0 = time.monotonic()
    s = box.stream("echo go; sleep 60")
    for _name, data in s:
        assert data == b"go\n"
        break
    s.close()
    assert s.result.reason == "cancelled"
    assert time.monotonic() - t0 < 20
    assert box.exec("echo after").stdout == b"after\n"


def test_put_get_binary_round_trip(box, tmp_path):
    need("sandbox_box_put")
    data = bytes(range(256)) * 4096 + os.urandom(100003)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    box.put(src, "/tmp/in.bin")
    r = box.exec("sha256sum /tmp/in.bin")
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    box.exec("cp /tmp/in.bin /tmp/out.bin && printf '\\377' >> /tmp/out.bin")
    dst = tmp_path / "out.bin"
    box.get("/tmp/out.bin", dst)
    assert dst.read_bytes() == data + b"\xff"
    # A directory tree, both ways.
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "z.bin").write_bytes(b"\0" * 10 + b"\x80")
    (tree / "a.txt").write_text("a\n")
    box.put(tree, "/tmp/tree")
    assert box.exec("cat /tmp/tree/a.txt").stdout == b"a\n"
    box.get("/tmp/tree", tmp_path / "back")
    assert (tmp_path / "back" / "sub" / "z.bin").read_bytes() == \
        b"\0" * 10 + b"\x80"


def test_put_get_refuse_bad_paths(box, tmp_path):
    need("sandbox_box_put")
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with pytest.raises(libsandbox.SandboxError) as info:
        box.put(src, "/tmp/../etc/f")
    assert info.value.code < 0 and ".." in str(info.value)
    assert box.exec("test -e /etc/f").exit_code == 1
    with pytest.raises(libsandbox.SandboxError) as info:
        box.get("/tmp/../etc/passwd", tmp_path / "g")
    assert info.value.code < 0
    assert not (tmp_path / "g").exists()


def test_exec_after_destroy_raises_eboxdead(box):
    assert box.exec("true").ok
    box.destroy()
    assert not box.alive()
    assert box.why_dead()
    with pytest.raises(libsandbox.BoxDeadError) as info:
        box.exec("echo never")
    assert info.value.code == libsandbox.SANDBOX_EBOXDEAD == -8
    assert str(info.value)
    box.destroy()  # twice is harmless
    box.close()
    with pytest.raises(libsandbox.BoxDeadError) as info:
        box.exec("echo never")
    assert info.value.code == libsandbox.SANDBOX_EBOXDEAD
    assert not box.alive()


def test_box_from_8_threads(box):
    errors, outs = [], {}

    def worker(i):
        try:
            for j in range(5):
                token = f"t{i}-{j}"
                r = box.exec(["sh", "-c", f"echo {token}; echo {token} >&2"])
                outs[(i, j)] = (r.stdout, r.stderr, r.ok)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(outs) == 40
    for (i, j), (out, err, ok) in outs.items():
        want = f"t{i}-{j}\n".encode()
        assert ok and out == want and err == want, (i, j, out, err)


def test_close_while_other_threads_exec(rt):
    b = libsandbox.Box(image=IMAGE, runtime=rt, timeout=60)
    got = []

    def worker():
        try:
            got.append(b.exec("sleep 30"))
        except libsandbox.BoxDeadError as exc:
            got.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    time.sleep(1)
    t0 = time.monotonic()
    b.close()
    t.join(30)
    assert not t.is_alive()
    assert time.monotonic() - t0 < 20
    assert len(got) == 1
    r = got[0]
    assert isinstance(r, libsandbox.BoxDeadError) or r.reason != "exited"


def test_pool_run_outputs(rt):
    need("sandbox_pool_create")
    with libsandbox.Pool(image=IMAGE, runtime=rt, size=2, timeout=60) as p:
        outs = [p.run(["sh", "-c", f"echo run{i}; touch /tmp/mark"])
                for i in range(4)]
        assert [r.stdout for r in outs] == [f"run{i}\n".encode()
                                            for i in range(4)]
        assert all(r.ok for r in outs)
        # One-shot: no run sees another's files.
        assert p.run("test -e /tmp/mark").exit_code == 1
        with p.take() as b:
            assert b.exec("echo taken > /tmp/t").ok
            assert b.exec("cat /tmp/t").stdout == b"taken\n"
        assert b.closed


def test_bad_arguments(box):
    with pytest.raises(libsandbox.InvalidOptionsError):
        box.exec("true", timeout=-1)
    with pytest.raises(ValueError):
        box.exec(None)
    with pytest.raises(ValueError, match="NUL"):
        box.exec(["echo", "a\0b"])
    with pytest.raises(ValueError):
        libsandbox.Pool(size=1, command="x")
    assert box.alive()


def test_ctrl_c_kills_the_exec_not_the_box(rt, tmp_path):
    # Box.exec from the main thread: SIGINT cancels that exec (through its
    # cancel_fd), KeyboardInterrupt is raised once it returned, and the box
    # still works.
    import signal
    import subprocess
    import sys
    script = tmp_path / "ctrlc.py"
    script.write_text(
        "import sys, time, libsandbox\n"
        f"b = libsandbox.Box(image={IMAGE!r}, runtime={rt!r})\n"
        "print('ready', flush=True)\n"
        "t0 = time.monotonic()\n"
        "try:\n"
        "    b.exec('sleep 60')\n"
        "    print('not interrupted')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', round(time.monotonic() - t0))\n"
        "print(b.exec('echo alive').stdout.decode().strip(), flush=True)\n"
        "b.close()\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(libsandbox.__file__))] +
        [p for p in [os.environ.get("PYTHONPATH")] if p]))
    p = subprocess.Popen([sys.executable, str(script)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines = out.split("\n")
    assert lines[0].startswith("interrupted"), (out, err)
    assert int(lines[0].split()[1]) < 20
    assert lines[1] == "alive", (out, err)
    assert p.returncode == 0, err
