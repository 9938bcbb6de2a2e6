# SPDX-License-Identifier: MIT
"""network="allowlist" from Python (allow, max_connections, max_net_bytes;
Result.net_attempts / net_log) against the real backends.

As tests/network.c does: the only server is one this test starts on the
host's 127.0.0.1; inside the box, bash's /dev/tcp (debian:stable-slim)
sends CONNECT to the relay on 127.0.0.1:3128, or busybox wget goes
through $http_proxy.  Destinations off the list are refused by the
proxy on the host: no packet for them leaves."""
import ctypes
import re
import socket
import threading

import pytest

import libsandbox
from conftest import IMAGE

DEBIAN = "debian:stable-slim"  # bash, for /dev/tcp (as tests/network.c)
LOG_KEYS = {"time", "proto", "dest", "addr", "allowed", "reason", "bytes_up",
            "bytes_down", "duration_sec"}


class Server:
    """tests/net_server.h in Python: 127.0.0.1:<free port>; per connection,
    if the client sends within 300 ms: "HTTP/1.0 200 OK\\r\\n\\r\\nGOT
    <first line>\\n", else "HELLO <port>\\n"; then close."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.conns = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conns += 1
            with c:
                c.settimeout(0.3)
                try:
                    data = c.recv(4096)
                except OSError:
                    data = b""
                if data:
                    first = data.split(b"\r\n")[0].split(b"\n")[0]
                    out = b"HTTP/1.0 200 OK\r\n\r\nGOT " + first + b"\n"
                else:
                    out = b"HELLO %d\n" % self.port
                try:
                    c.sendall(out)
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._t.join()
        self.sock.close()


def free_port():
    """A port on 127.0.0.1 nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def srv():
    s = Server()
    yield s
    s.close()


def connect_sh(*targets):
    """A bash command: one CONNECT through the relay per target."""
    script = "".join(
        "exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'CONNECT %s "
        "HTTP/1.1\\r\\n\\r\\n' >&3 && timeout 10 cat <&3; exec 3<&-; " % t
        for t in targets)
    return ["bash", "-c", script]


def entry(log, dest):
    found = [e for e in log if e.get("dest") == dest]
    assert len(found) == 1, log
    return found[0]


def test_allowed_reached_others_refused_and_logged(backend, srv):
    other = free_port()
    ok = f"127.0.0.1:{srv.port}"
    r = libsandbox.run(connect_sh(ok, f"127.0.0.1:{other}",
                                  "evil.example:443"),
                       image=DEBIAN, runtime=backend, timeout=60, allow=[ok])
    out = r.stdout.decode()
    assert r.ok, r
    assert "200 Connection established" in out, r
    assert f"HELLO {srv.port}" in out, r
    assert out.count("403 Forbidden") == 2, r
    assert srv.conns == 1  # the refused ones never reached a server
    assert r.net_attempts == 3
    assert len(r.net_log) == 3 and all(set(e) >= LOG_KEYS
                                       for e in r.net_log), r.net_log
    good = entry(r.net_log, ok)
    assert good["allowed"] is True and good["addr"] == "127.0.0.1"
    assert good["bytes_down"] >= len(f"HELLO {srv.port}\n")
    port_off = entry(r.net_log, f"127.0.0.1:{other}")
    assert port_off["allowed"] is False and port_off["reason"], port_off
    name_off = entry(r.net_log, "evil.example:443")
    assert name_off["allowed"] is False, name_off
    assert name_off["addr"] == ""  # never resolved
    assert "not in the allow-list" in name_off["reason"], name_off


def test_max_connections_enforced(backend, srv):
    ok = f"127.0.0.1:{srv.port}"
    r = libsandbox.run(connect_sh(ok, ok, ok), image=DEBIAN, runtime=backend,
                       timeout=60, allow=[ok], max_connections=2,
                       max_net_bytes=1 << 20)
    assert r.ok, r
    assert srv.conns == 2
    assert r.net_attempts == 3
    assert [e["allowed"] for e in r.net_log] == [True, True, False], r.net_log
    assert "max_connections" in r.net_log[2]["reason"], r.net_log


def test_proxy_variables_reach_a_client(backend, srv):
    # busybox wget honours $http_proxy by itself: plain HTTP, the request
    # forwarded by the proxy.  allow= alone selects network "allowlist".
    r = libsandbox.run(["wget", "-q", "-O-",
                        f"http://127.0.0.1:{srv.port}/via-proxy"],
                       image=IMAGE, runtime=backend, timeout=60,
                       allow=[f"127.0.0.1:{srv.port}"])
    assert r.ok, r
    assert b"GOT GET /via-proxy HTTP/1." in r.stdout, r
    assert r.net_attempts == 1
    assert r.net_log[0]["proto"] == "http" and r.net_log[0]["allowed"]


def test_stream_carries_the_log(backend, srv):
    ok = f"127.0.0.1:{srv.port}"
    with libsandbox.stream(connect_sh(ok), image=DEBIAN, runtime=backend,
                           timeout=60, allow=[ok]) as s:
        out = b"".join(data for name, data in s if name == "stdout")
    assert f"HELLO {srv.port}".encode() in out
    assert s.result.net_attempts == 1
    assert s.result.net_log[0]["allowed"] is True


def test_box_caps_across_execs_and_destroy_has_the_log(backend, srv):
    ok = f"127.0.0.1:{srv.port}"
    with libsandbox.Box(image=DEBIAN, runtime=backend, timeout=60,
                        allow=[ok], max_connections=1) as box:
        first = box.exec(connect_sh(ok))
        assert f"HELLO {srv.port}".encode() in first.stdout, first
        second = box.exec(connect_sh(ok))  # the cap is the box's
        assert b"403 Forbidden" in second.stdout, second
        d = box.destroy()
    assert srv.conns == 1
    assert d.net_attempts == 2
    assert [e["allowed"] for e in d.net_log] == [True, False], d.net_log


def test_pool_run_result_has_the_runs_log(backend, srv):
    ok = f"127.0.0.1:{srv.port}"
    with libsandbox.Pool(size=1, image=DEBIAN, runtime=backend, timeout=60,
                         allow=[ok], max_connections=5) as pool:
        r = pool.run(connect_sh(ok, "evil.example:443"))
    assert f"HELLO {srv.port}".encode() in r.stdout, r
    assert r.net_attempts == 2
    assert [e["allowed"] for e in r.net_log] == [True, False], r.net_log


def test_no_allowlist_no_log(backend):
    r = libsandbox.run("true", image=IMAGE, runtime=backend)
    assert r.ok and r.net_attempts == 0 and r.net_log == []


@pytest.mark.parametrize("kw, says", [
    # the library's checks (sandbox_opts_validate), passed on
    (dict(network="allowlist"), "empty allow-list"),
    (dict(allow=[]), "empty allow-list"),
    (dict(allow=["a.example:443"], network="none"), "allowlist only"),
    (dict(allow=["a.example:443"], network="bridge"), "allowlist only"),
    (dict(max_connections=3), "allowlist only"),
    (dict(max_net_bytes=3, network="bridge"), "allowlist only"),
    (dict(allow=["a.example"]), "missing :PORT"),
    (dict(allow=["1.2.3.4/33:80"]), "1.2.3.4/33:80"),
    # what Python checks to marshal
    (dict(allow="a.example:443"), "must be a list"),
    (dict(allow=None, network="wifi"), "'allowlist'"),
    (dict(allow=[443]), "allow[0] must be a string"),
    (dict(allow=["a\0b:1"]), "NUL"),
    (dict(allow=["a.example:443"], max_connections=-1), "negative"),
    (dict(allow=["a.example:443"], max_net_bytes=1.5), "whole number"),
])
def test_bad_allowlist_input(backend, tmp_path, kw, says):
    # Refused before anything runs: the box would leave the marker in the
    # writable mount.
    says = re.escape(says)
    with pytest.raises(libsandbox.InvalidOptionsError, match=says):
        libsandbox.run("touch /m/ran", image=IMAGE, runtime=backend,
                       mounts=[(tmp_path, "/m", True)], **kw)
    with pytest.raises(libsandbox.InvalidOptionsError, match=says):
        libsandbox.stream("touch /m/ran", image=IMAGE, runtime=backend,
                          mounts=[(tmp_path, "/m", True)], **kw)
    with pytest.raises(libsandbox.InvalidOptionsError, match=says):
        libsandbox.Box(image=IMAGE, runtime=backend, **kw)
    with pytest.raises(libsandbox.InvalidOptionsError, match=says):
        libsandbox.Pool(size=1, image=IMAGE, runtime=backend, **kw)
    assert not (tmp_path / "ran").exists()


def test_net_log_lines_parsed():
    # The parse alone, on a C string as res.net_log holds one: NULL is [],
    # each JSON line one dict, blank lines skipped, a line that is not a
    # JSON object kept as {"raw": line}.
    from libsandbox import _net_log
    assert _net_log(None) == [] and _net_log(0) == []
    text = (b'{"dest":"a:1","allowed":true,"bytes_up":3}\n'
            b'{"dest":"b:2","allowed":false,"reason":"no \\u00e9"}\n\n'
            b'not json\n[1]\n')
    buf = ctypes.create_string_buffer(text)
    got = _net_log(ctypes.addressof(buf))
    assert got == [{"dest": "a:1", "allowed": True, "bytes_up": 3},
                   {"dest": "b:2", "allowed": False, "reason": "no \u00e9"},
                   {"raw": "not json"}, {"raw": "[1]"}]
