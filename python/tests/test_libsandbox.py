# SPDX-License-Identifier: MIT
"""The libsandbox package against the real backends (native, podman,
docker; one that cannot run busybox here is skipped)."""
import ctypes
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

import libsandbox
from conftest import IMAGE, REPO

HEADER_DIR = REPO / "libsandbox" / "include"


def run(backend, cmd, **kw):
    kw.setdefault("image", IMAGE)
    kw.setdefault("timeout", 60)
    return libsandbox.run(cmd, runtime=backend, **kw)


def test_echo_result_fields(backend):
    r = run(backend, "echo hi; echo err >&2; exit 3")
    assert (r.reason, r.exit_code) == ("exited", 3)
    assert r.stdout == b"hi\n" and r.stderr == b"err\n"
    assert not r.stdout_truncated and not r.stderr_truncated
    assert r.backend == backend
    assert r.wall_sec > 0
    assert r.image_id and r.image_id.startswith("sha256:")
    assert r.host_root in (None, False)
    assert r.message and "3" in r.message
    assert not r.ok


def test_truncated_flag(backend):
    r = run(backend, "head -c 5000 /dev/zero", output_limit=100)
    assert r.stdout_truncated and len(r.stdout) == 100
    assert r.stdout_total == 5000


def test_argv_words_verbatim(backend):
    words = ["$HOME", ";", "'", '"', "a\nb", "", "a b", "`id`"]
    r = run(backend, ["printf", "[%s]\\n", *words])
    assert r.ok, r
    assert r.stdout == b"".join(b"[" + w.encode() + b"]\n" for w in words)
    # Control: a str is a shell command, where $HOME expands.
    r = run(backend, "printf '[%s]\\n' $HOME")
    assert r.stdout != b"[$HOME]\n"


def test_stdin_bytes_binary(backend):
    data = bytes(range(256)) * 1024  # NULs included, > a pipe's buffer
    r = run(backend, "cat", stdin=data, output_limit=len(data))
    assert r.ok, r
    assert r.stdout == data


def test_stdin_file_and_pipe(backend, tmp_path):
    p = tmp_path / "in.bin"
    p.write_bytes(b"\x00file\xff" * 1000)
    with open(p, "rb") as f:
        r = run(backend, "wc -c", stdin=f)
        assert not f.closed  # the caller's file stays open
    assert r.ok and r.stdout.strip() == b"6000"
    rfd, wfd = os.pipe()
    os.write(wfd, b"through a pipe\n")
    os.close(wfd)
    try:
        r = run(backend, "cat", stdin=rfd)
    finally:
        os.close(rfd)
    assert r.stdout == b"through a pipe\n"


def test_stdin_ignored_100mib(backend):
    t0 = time.monotonic()
    r = run(backend, "echo started; sleep 1; echo ended",
            stdin=b"z" * (100 << 20))
    assert r.ok and r.stdout == b"started\nended\n"
    assert time.monotonic() - t0 < 20


def test_stream_delivers_before_the_end(backend):
    t0 = time.monotonic()
    seen = []
    with libsandbox.stream("echo first; sleep 2; echo second; echo e >&2",
                           image=IMAGE, runtime=backend) as s:
        for name, data in s:
            seen.append((time.monotonic(), name, data))
    end = time.monotonic()
    assert s.result.ok
    assert s.result.stdout == b"first\nsecond\n"
    out = b"".join(d for _, n, d in seen if n == "stdout")
    err = b"".join(d for _, n, d in seen if n == "stderr")
    assert out == b"first\nsecond\n" and err == b"e\n"
    assert end - seen[0][0] > 1.5, (seen, end - t0)


def test_stream_leaving_early_kills_the_box(backend):
    t0 = time.monotonic()
    s = libsandbox.stream("echo go; sleep 30", image=IMAGE, runtime=backend)
    for name, data in s:
        assert data == b"go\n"
        break
    s.close()
    assert s.result.reason == "cancelled"
    assert time.monotonic() - t0 < 20


def test_on_output_callback(backend):
    seen = []
    r = run(backend, "echo x; echo y >&2",
            on_output=lambda st, d: seen.append((st, d)))
    assert r.ok
    assert b"".join(d for st, d in seen if st == 1) == b"x\n"
    assert b"".join(d for st, d in seen if st == 2) == b"y\n"


def test_bad_input_is_value_error(backend, tmp_path):
    marker = tmp_path / "ran"
    wo = os.open("/dev/null", os.O_WRONLY)
    try:
        with pytest.raises(libsandbox.InvalidOptionsError, match="stdin_fd"):
            run(backend, f"touch {marker}", stdin=wo)
    finally:
        os.close(wo)
    with pytest.raises(ValueError, match="argc"):
        run(backend, [])
    with pytest.raises(ValueError, match="network"):
        run(backend, "true", network="wifi")
    with pytest.raises(ValueError, match="NUL"):
        run(backend, ["echo", "a\0b"])
    assert not marker.exists()


def test_defaults_are_the_librarys():
    opts = libsandbox.sandbox_opts()
    lib = libsandbox.load()
    assert lib.sandbox_opts_init(ctypes.byref(opts), ctypes.sizeof(opts)) == 0
    assert (opts.stdin_fd, opts.stdout_fd, opts.stderr_fd) == (-1, -1, -1)
    assert opts.image == b"debian:stable-slim"


STRUCTS = {"sandbox_opts": libsandbox.sandbox_opts,
           "sandbox_result": libsandbox.sandbox_result,
           "sandbox_stream": libsandbox.sandbox_stream,
           "sandbox_mount": libsandbox.sandbox_mount,
           "sandbox_exec_opts": libsandbox.sandbox_exec_opts}


def test_struct_layout_matches_the_header(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    lines = ["#include <stdio.h>", "#include <stddef.h>",
             "#include <sandbox.h>", "int main(void) {"]
    for name, cls in STRUCTS.items():
        lines.append(f'printf("{name} size %zu\\n", sizeof({name}));')
        lines.append(f'printf("{name} align %zu\\n", _Alignof({name}));')
        for field, _ in cls._fields_:
            lines.append(f'printf("{name}.{field} %zu %zu\\n", '
                         f'offsetof({name}, {field}), '
                         f'sizeof((({name} *)0)->{field}));')
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I",
                    str(HEADER_DIR), str(src), "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    want = []
    for name, cls in STRUCTS.items():
        want.append(f"{name} size {ctypes.sizeof(cls)}")
        want.append(f"{name} align {ctypes.alignment(cls)}")
        for field, ftype in cls._fields_:
            want.append(f"{name}.{field} {getattr(cls, field).offset} "
                        f"{ctypes.sizeof(ftype)}")
    assert got[:-1] == want


def header_fields(name):
    """The field names of `typedef struct name {...} name;` in sandbox.h,
    in order: plain declarators ("int a, b;"), pointers, function
    pointers."""
    import re
    text = (HEADER_DIR / "sandbox.h").read_text()
    m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), text,
                  re.S)
    assert m, name
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    body = re.sub(r"//[^\n]*", "", body)
    names = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", decl)
        if fp:
            names.append(fp.group(1))
            continue
        for part in decl.split(","):
            names.append(re.findall(r"\w+", part)[-1])
    return names


@pytest.mark.parametrize("name", list(STRUCTS))
def test_header_fields_are_all_described(name):
    """A field added to sandbox.h and missed here (or reordered) fails."""
    assert header_fields(name) == [f for f, _ in STRUCTS[name]._fields_]


def test_header_parser_sees_comma_declarations():
    # The control for the test above: sandbox_exec_opts declares
    # "int stdout_fd, stderr_fd;" on one line, and both are seen.
    fields = header_fields("sandbox_exec_opts")
    assert fields[fields.index("stdout_fd") + 1] == "stderr_fd"
    assert fields[-1] == "cancel_fd"


def test_py_typed_is_shipped():
    pkg = pathlib.Path(libsandbox.__file__).parent
    assert (pkg / "py.typed").exists()
