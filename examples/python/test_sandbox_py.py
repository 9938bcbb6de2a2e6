# SPDX-License-Identifier: MIT
"""The sandbox.py drop-in against real podman and docker.

Every behaviour test runs through three entry points, each against both
runtimes (a runtime that cannot start busybox here is skipped):
  function  sandbox.sandbox_run(...) in this process (runtime picked with
            $SANDBOX_RUNTIME, since the contract's function has no such
            argument)
  pycli     `python sandbox.py [flags] -- COMMAND` (the drop-in's CLI mode)
  ccli      the C CLI `sandbox` ($SANDBOX_CLI, default build/cli/sandbox)
The CLIs run with a fresh temporary directory as their working directory,
which is their default workspace.

Run: python3 -m pytest examples/python   (LIBSANDBOX_PATH picks the library)
"""
import ctypes
import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import sandbox

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
HEADER_DIR = REPO / "libsandbox" / "include"
SANDBOX_PY = HERE / "sandbox.py"
C_CLI = pathlib.Path(os.environ.get("SANDBOX_CLI",
                                    REPO / "build" / "cli" / "sandbox"))
IMAGE = "busybox:latest"
LABEL = "io.libsandbox.owner"
MARKER = "\n... [truncated]\n"
RUNTIMES = ["podman", "docker"]
ENTRIES = ["function", "pycli", "ccli"]


# --- fixtures ---------------------------------------------------------------

_runtime_ok = {}


def runtime_works(rt):
    """Can this runtime start busybox here?  Asked once per session."""
    if rt not in _runtime_ok:
        path = shutil.which(rt)
        ok = False
        if path:
            try:
                ok = subprocess.run(
                    [path, "run", "--rm", "--network=none", IMAGE, "true"],
                    capture_output=True, timeout=120).returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
        _runtime_ok[rt] = ok
    return _runtime_ok[rt]


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    if not runtime_works(request.param):
        pytest.skip(f"{request.param} cannot run {IMAGE} here")
    return request.param


def need_entry(entry):
    if entry == "ccli" and not os.access(C_CLI, os.X_OK):
        pytest.skip(f"C CLI not built: {C_CLI} (set SANDBOX_CLI)")


@dataclasses.dataclass
class Outcome:
    text: str        # the text form (stdout of the CLIs)
    code: int        # exit status (parsed from the text for the function)
    stderr: str      # the CLIs' stderr ("" for the function)
    elapsed: float   # seconds for the whole call
    pid: int         # the process that owned the container (its label)


class Invoker:
    """Runs a command through one entry point with the contract's keywords
    (image, timeout, network, memory, pids, cpus, workspace)."""

    def __init__(self, entry, runtime, cwd, monkeypatch):
        self.entry, self.runtime, self.cwd = entry, runtime, cwd
        self.monkeypatch = monkeypatch
        self.env = dict(os.environ)
        if runtime is None:
            self.env.pop("SANDBOX_RUNTIME", None)
        else:
            self.env["SANDBOX_RUNTIME"] = runtime

    def argv(self, command, kw):
        base = ([str(C_CLI)] if self.entry == "ccli"
                else [sys.executable, str(SANDBOX_PY)])
        flags = []
        for key, value in kw.items():
            flags += [f"--{key}", str(value)]
        return base + flags + ["--", command]

    def __call__(self, command, **kw):
        kw.setdefault("image", IMAGE)
        start = time.monotonic()
        if self.entry == "function":
            with self.monkeypatch.context() as m:
                if self.runtime is None:
                    m.delenv("SANDBOX_RUNTIME", raising=False)
                else:
                    m.setenv("SANDBOX_RUNTIME", self.runtime)
                if "PATH" in kw:
                    m.setenv("PATH", kw.pop("PATH"))
                text = sandbox.sandbox_run(command, **kw)
            assert isinstance(text, str)
            head = text.split("\n", 1)[0]
            assert head.startswith("exit="), text
            return Outcome(text, int(head[5:]), "",
                           time.monotonic() - start, os.getpid())
        env = dict(self.env)
        if "PATH" in kw:
            env["PATH"] = kw.pop("PATH")
        proc = subprocess.Popen(self.argv(command, kw), cwd=self.cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=120)
        return Outcome(out.decode("utf-8"), proc.returncode,
                       err.decode("utf-8", "replace"),
                       time.monotonic() - start, proc.pid)


@pytest.fixture(params=ENTRIES)
def entry(request):
    need_entry(request.param)
    return request.param


@pytest.fixture
def box(entry, runtime, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Invoker(entry, runtime, cwd, monkeypatch)


@pytest.fixture
def nobox(entry, tmp_path, monkeypatch):
    """An invoker for checks that fail before any runtime is needed."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Invoker(entry, None, cwd, monkeypatch)


def leftovers(rt, pid):
    out = subprocess.run(
        [rt, "ps", "-a", f"--filter=label={LABEL}={pid}",
         "--format", "{{.Names}}"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


# --- behaviour, through every entry point and runtime -----------------------

def test_echo(box):
    r = box("echo hello")
    assert r.text == "exit=0\n--- stdout ---\nhello\n--- stderr ---\n"
    assert r.code == 0


def test_text_form_exact(box):
    # stdout without a final newline gets exactly one; stderr is kept as is.
    r = box("printf out; printf err >&2")
    assert r.text == "exit=0\n--- stdout ---\nout\n--- stderr ---\nerr"
    # An empty stdout puts the stderr header right after its own.
    r = box("echo e >&2; exit 3")
    assert r.text == "exit=3\n--- stdout ---\n--- stderr ---\ne\n"
    assert r.code == 3
    # Invalid UTF-8 becomes U+FFFD.
    r = box(r"printf 'a\377b\n'")
    assert r.text == "exit=0\n--- stdout ---\na\ufffdb\n--- stderr ---\n"


def test_exit_7(box):
    r = box("exit 7")
    assert r.text == "exit=7\n--- stdout ---\n--- stderr ---\n"
    assert r.code == 7


def test_timeout_kills_the_container(box):
    r = box("echo started; sleep 30", timeout=2)
    assert r.code == 124
    assert r.text.startswith("exit=124\n--- stdout ---\nstarted\n"), r.text
    assert r.elapsed < 5, f"timeout 2 took {r.elapsed:.2f} s"
    assert leftovers(box.runtime, r.pid) == []


def test_network_none_has_only_loopback(box):
    r = box("ls -1 /sys/class/net")
    assert r.text == "exit=0\n--- stdout ---\nlo\n--- stderr ---\n"


def test_network_bridge_has_another_interface(box):
    # Lists interfaces only: no traffic leaves the host.
    r = box("ls -1 /sys/class/net", network="bridge")
    assert r.code == 0, r.text
    body = r.text.split("--- stdout ---\n", 1)[1].split("--- stderr ---")[0]
    names = body.split()
    assert "lo" in names and len(names) >= 2, names


def test_workspace_write_reaches_host(box, tmp_path):
    if box.entry == "function":
        ws = tmp_path / "ws"
        ws.mkdir()
        r = box("echo data > /workspace/out.txt && pwd", workspace=str(ws))
    else:  # the CLIs' default workspace is their working directory
        ws = box.cwd
        r = box("echo data > /workspace/out.txt && pwd")
    assert r.text == "exit=0\n--- stdout ---\n/workspace\n--- stderr ---\n"
    assert (ws / "out.txt").read_text() == "data\n"


def test_truncation(box):
    r = box("yes abcdefghi | head -c 200000")
    assert r.code == 0
    raw = r.text.encode("utf-8")
    assert len(raw) <= 50000
    assert r.text.endswith(MARKER)
    assert r.text.startswith("exit=0\n--- stdout ---\nabcdefghi\n")


def test_truncation_never_splits_a_character(box):
    # 3-byte characters: a byte cut would leave invalid UTF-8 (and the
    # decode in Invoker would raise).
    r = box(r"yes '€€€' | head -c 150000")
    assert len(r.text.encode("utf-8")) <= 50000
    assert r.text.endswith(MARKER)
    assert "\ufffd" not in r.text


PAYLOADS = [
    "'; touch {p}; '",
    '"; touch {p}; "',
    "; touch {p}",
    "&& touch {p}",
    "|| touch {p}",
    "| touch {p}",
    "`touch {p}`",
    "$(touch {p})",
    "\n touch {p}",
    "'$(touch {p})'\"`touch {p}`\"",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_stays_in_the_box(box, tmp_path, payload):
    canary = tmp_path / "canary"
    canary.mkdir()
    target = canary / "pwned"
    r = box("echo " + payload.format(p=target))
    assert r.text.startswith("exit="), r.text
    assert not target.exists(), f"{payload!r} touched the host"
    assert list(canary.iterdir()) == []


def test_debian_default_image(entry, runtime, tmp_path, monkeypatch):
    need_entry(entry)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    r = Invoker(entry, runtime, cwd, monkeypatch)(
        "cat /etc/debian_version", image="debian:stable-slim")
    assert r.code == 0, r.text
    body = r.text.split("--- stdout ---\n", 1)[1]
    assert body.split("\n")[0].strip() != ""


# --- failures before anything runs ------------------------------------------

def test_missing_runtime(nobox, tmp_path):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    if nobox.entry == "function":
        with pytest.raises(RuntimeError) as info:
            nobox("echo hi", PATH=str(empty))
        msg = str(info.value)
    else:
        r = nobox("echo hi", PATH=str(empty))
        assert r.code == 125 and r.text == ""
        msg = r.stderr
    assert "podman" in msg and "docker" in msg, msg


BAD_ARGS = [
    ("memory 'lots'", "echo hi", {"memory": "lots"}),
    ("timeout -1", "echo hi", {"timeout": -1}),
    ("network 'wifi'", "echo hi", {"network": "wifi"}),
    ("NUL in command", "echo a\0b", {}),
    ("pids 0", "echo hi", {"pids": 0}),
    ("image with a space", "echo hi", {"image": "busy box"}),
]


@pytest.mark.parametrize("what,command,kw", BAD_ARGS,
                         ids=[b[0] for b in BAD_ARGS])
def test_bad_arguments(nobox, what, command, kw):
    if nobox.entry == "function":
        with pytest.raises(ValueError):
            nobox(command, **kw)
        return
    if "\0" in command:
        pytest.skip("an argv word cannot hold a NUL byte")
    r = nobox(command, **kw)
    assert r.code == 125, (r.text, r.stderr)
    assert r.text == "" and r.stderr.strip() != ""


def test_cli_usage_errors(entry, tmp_path):
    need_entry(entry)
    if entry == "function":
        pytest.skip("CLI only")
    base = ([str(C_CLI)] if entry == "ccli"
            else [sys.executable, str(SANDBOX_PY)])
    for argv in (["echo", "hi"], ["--"], ["--bogus", "--", "true"]):
        p = subprocess.run(base + argv, capture_output=True, cwd=tmp_path)
        assert p.returncode == 125, argv
        assert p.stdout == b""
        assert p.stderr.strip() != b""


# --- cancellation -------------------------------------------------------------

def _wait_for_container(rt, pid, limit=20):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if leftovers(rt, pid):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM])
def test_cli_signal_cancels(entry, runtime, tmp_path, signo):
    need_entry(entry)
    if entry == "function":
        pytest.skip("CLI only (see test_keyboard_interrupt_cancels)")
    base = ([str(C_CLI)] if entry == "ccli"
            else [sys.executable, str(SANDBOX_PY)])
    env = dict(os.environ, SANDBOX_RUNTIME=runtime)
    proc = subprocess.Popen(base + ["--image", IMAGE, "--", "sleep 30"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert _wait_for_container(runtime, proc.pid)
        start = time.monotonic()
        proc.send_signal(signo)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signo
    assert time.monotonic() - start < 10
    assert out.startswith(b"exit=")
    assert leftovers(runtime, proc.pid) == []


def test_keyboard_interrupt_cancels(runtime, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import sandbox
        try:
            sandbox.run("sleep 30", image={IMAGE!r}, runtime={runtime!r})
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        sys.exit(0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_for_container(runtime, proc.pid)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err
    assert out == b"interrupted\n"
    assert time.monotonic() - start < 10
    assert leftovers(runtime, proc.pid) == []


# --- the structured result ----------------------------------------------------

def test_run_result_fields(runtime):
    r = sandbox.run("printf out; printf err >&2; exit 5", image=IMAGE,
                    runtime=runtime)
    assert r.reason == "exited" and r.exit_code == 5 and r.term_signal == 0
    assert r.error == 0
    assert (r.stdout, r.stderr) == (b"out", b"err")
    assert (r.stdout_total, r.stderr_total) == (3, 3)
    assert not r.stdout_truncated and not r.stderr_truncated
    assert r.text == "exit=5\n--- stdout ---\nout\n--- stderr ---\nerr"
    assert os.path.isabs(r.runtime) and os.path.basename(r.runtime) == runtime
    assert r.container_name
    assert 0 < r.wall_sec < 30
    assert not r.ok


def test_run_result_truncation_and_binary(runtime):
    r = sandbox.run("yes | head -c 200000; printf '\\0\\377' >&2",
                    image=IMAGE, runtime=runtime)
    assert r.stdout_total == 200000 and len(r.stdout) == 50000
    assert r.stdout_truncated and not r.stderr_truncated
    assert r.stderr == b"\0\xff"       # raw bytes, unrepaired
    assert r.text.endswith(MARKER)


def test_run_timeout_reason(runtime):
    r = sandbox.run("sleep 30", image=IMAGE, runtime=runtime, timeout=1)
    assert (r.reason, r.exit_code) == ("timeout", 124)
    assert r.text.startswith("exit=124\n")
    assert leftovers(runtime, os.getpid()) == []


def test_run_env_and_mounts(runtime, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("from host\n")
    rw = tmp_path / "rw"
    rw.mkdir()
    # The box's root is an unprivileged host uid (100000 here) and podman
    # and docker cannot idmap an extra mount with runc 1.1: a writable
    # extra mount must be writable by that uid (native idmaps it).
    rw.chmod(0o777)
    r = sandbox.run(
        'echo "$GREETING"; cat /data/in.txt; echo x > /out/w.txt; '
        "touch /data/nope 2>/dev/null || echo read-only",
        image=IMAGE, runtime=runtime, env={"GREETING": "hi there"},
        mounts=[(str(data), "/data"), (rw, "/out", True)])
    assert r.stdout == b"hi there\nfrom host\nread-only\n", r
    assert (rw / "w.txt").read_text() == "x\n"
    assert not (data / "nope").exists()


def test_run_caller_environment_does_not_leak(runtime, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "s3cr3t")
    r = sandbox.run("env", image=IMAGE, runtime=runtime)
    assert b"s3cr3t" not in r.stdout


def test_run_rejects_bad_python_values():
    for kw in ({"env": {"A": "x\0y"}}, {"pids": 1.5}, {"timeout": "60"},
               {"mounts": [("/tmp",)]}, {"workspace": "/tm\0p"},
               {"output_limit": -1}):
        with pytest.raises(ValueError):
            sandbox.run("true", image=IMAGE, **kw)


def test_missing_runtime_path_is_a_runtime_error(tmp_path):
    with pytest.raises(RuntimeError) as info:
        sandbox.run("true", image=IMAGE, runtime=str(tmp_path / "podman"))
    assert isinstance(info.value, sandbox.NoRuntimeError)
    assert "podman" in str(info.value) and "docker" in str(info.value)


def test_unknown_runtime_name_is_invalid():
    # The library only drives podman and docker: another name is an option
    # error (SANDBOX_EINVAL), not a missing runtime.
    with pytest.raises(ValueError):
        sandbox.run("true", image=IMAGE, runtime="no-such-runtime-xyz")


def test_find_runtime(runtime):
    assert os.path.basename(sandbox.find_runtime(runtime)) == runtime


# --- the library and the ABI --------------------------------------------------

STRUCTS = {
    "sandbox_mount": sandbox.sandbox_mount,
    "sandbox_opts": sandbox.sandbox_opts,
    "sandbox_stream": sandbox.sandbox_stream,
    "sandbox_result": sandbox.sandbox_result,
}


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    """{struct: {"sizeof": n, "alignof": a, field: (offset, size)}} as the C
    compiler lays them out from sandbox.h."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    lines = ["#include <stdio.h>", "#include <stddef.h>",
             '#include "sandbox.h"', "int main(void) {"]
    for name, cls in STRUCTS.items():
        lines.append(f'printf("{name} sizeof %zu\\n", sizeof({name}));')
        lines.append(f'printf("{name} alignof %zu\\n", _Alignof({name}));')
        for field, _ in cls._fields_:
            lines.append(
                f'printf("{name} {field} %zu %zu\\n", '
                f'offsetof({name}, {field}), '
                f'sizeof((({name} *)0)->{field}));')
    lines.append("return 0; }")
    d = tmp_path_factory.mktemp("abi")
    (d / "layout.c").write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", str(HEADER_DIR),
                    "-o", str(d / "layout"), str(d / "layout.c")], check=True)
    out = subprocess.run([str(d / "layout")], capture_output=True, text=True,
                         check=True).stdout
    layout = {}
    for line in out.splitlines():
        parts = line.split()
        entry = layout.setdefault(parts[0], {})
        if parts[1] in ("sizeof", "alignof"):
            entry[parts[1]] = int(parts[2])
        else:
            entry[parts[1]] = (int(parts[2]), int(parts[3]))
    return layout


@pytest.mark.parametrize("name", list(STRUCTS))
def test_struct_layout_matches_the_header(c_layout, name):
    cls = STRUCTS[name]
    c = c_layout[name]
    py = {field: (getattr(cls, field).offset, getattr(cls, field).size)
          for field, _ in cls._fields_}
    assert py == {k: v for k, v in c.items()
                  if k not in ("sizeof", "alignof")}
    assert ctypes.sizeof(cls) == c["sizeof"]
    assert ctypes.alignment(cls) == c["alignof"]


def test_header_fields_are_all_described():
    """Every field declared in sandbox.h's structs appears in ctypes (a field
    added to the header and missed here fails this test)."""
    import re
    text = (HEADER_DIR / "sandbox.h").read_text()
    for name, cls in STRUCTS.items():
        m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), text,
                      re.S)
        assert m, name
        body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
        # Plain fields ("int x;") and function pointers ("void (*f)(...);").
        declared = [fp or plain for fp, plain in re.findall(
            r"(?:\(\*(\w+)\)\s*\([^;]*\)|(\w+))\s*;", body)]
        assert declared == [f for f, _ in cls._fields_], name


def test_library_rejects_a_short_struct():
    lib = sandbox.load()
    opts = sandbox.sandbox_opts()
    res = sandbox.sandbox_result()
    assert lib.sandbox_opts_init(ctypes.byref(opts), 8) == sandbox.SANDBOX_EABI
    assert lib.sandbox_result_init(ctypes.byref(res), 8) == sandbox.SANDBOX_EABI


def test_version():
    lib = sandbox.load()
    assert lib.sandbox_version_number() >= sandbox.MIN_VERSION_NUMBER
    assert sandbox.version().startswith("0.")


def test_load_missing_library(tmp_path):
    before = sandbox.load()
    with pytest.raises(sandbox.LibraryError) as info:
        sandbox.load(tmp_path / "libsandbox-missing.so")
    assert "libsandbox" in str(info.value)
    assert sandbox.load() is before  # the loaded library is kept


def test_env_var_points_at_missing_library(tmp_path):
    code = ("import sandbox\n"
            "try:\n    sandbox.sandbox_run('true')\n"
            "except sandbox.LibraryError as e:\n    print(e)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=HERE,
                       capture_output=True, text=True,
                       env=dict(os.environ,
                                LIBSANDBOX_PATH=str(tmp_path / "nope.so")))
    assert "LIBSANDBOX_PATH" in p.stdout and "nope.so" in p.stdout


def _fake_library(tmp_path, version_number):
    """A .so with every libsandbox symbol that reports version_number."""
    names = [n for n in sandbox._SIGNATURES
             if n not in ("sandbox_version", "sandbox_version_number")]
    src = "\n".join(f"int {n}(void) {{ return 0; }}" for n in names)
    src += (f'\nconst char *sandbox_version(void) {{ return "fake"; }}\n'
            f"int sandbox_version_number(void) {{ return {version_number}; }}\n")
    c = tmp_path / f"fake{version_number}.c"
    so = tmp_path / f"libfake{version_number}.so"
    c.write_text(src)
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(c)], check=True)
    return so


@pytest.mark.parametrize("number,words", [(99, "too old"),
                                          (10000, "major version")])
def test_load_rejects_old_or_new_major(tmp_path, number, words):
    before = sandbox.load()
    with pytest.raises(sandbox.LibraryError) as info:
        sandbox.load(_fake_library(tmp_path, number))
    assert words in str(info.value)
    assert sandbox.load() is before
