#!/usr/bin/env bash
# End-to-end checks of the `sandbox` CLI against real runtimes, as a user
# types it.  usage: tests/cli.sh PATH/TO/sandbox
set -uo pipefail
sb=$(realpath "$1")
fail=0
work=$(mktemp -d /tmp/sbx-cli.XXXXXX)
# The box's root is host uid 100000 (issue 14), not root: the workspace
# must be writable by it (until the workspace is staged for the box).
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
check() { # name, condition...
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}

for rt in podman docker native; do
    img=busybox:latest
    cd "$work" || exit 1
    out=$("$sb" --runtime "$rt" --image "$img" -- echo hi)
    check "$rt: echo hi prints the text form" [ "$out" = $'exit=0\n--- stdout ---\nhi\n--- stderr ---' ]
    "$sb" --runtime "$rt" --image "$img" -- exit 7 >/dev/null
    check "$rt: exit code passthrough (7)" [ $? -eq 7 ]
    "$sb" --runtime "$rt" --image "$img" --timeout 1 -- sleep 30 >/dev/null
    check "$rt: timeout exits 124" [ $? -eq 124 ]
    # The default workspace is the current directory.
    "$sb" --runtime "$rt" --image "$img" -- 'echo made > /workspace/f' >/dev/null
    check "$rt: default workspace is the cwd" [ "$(cat "$work/f" 2>/dev/null)" = made ]
    rm -f "$work/f"
    # Words after -- are joined by single spaces.
    out=$("$sb" --runtime "$rt" --image "$img" -- echo a   b)
    check "$rt: words joined by one space" grep -qx 'a b' <<<"$out"
    json=$("$sb" --runtime "$rt" --image "$img" --json -- 'printf "\377x"; exit 3')
    check "$rt: --json is valid JSON with reason and exit code" \
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["exit_code"]==3 and d["reason"]=="exited", d' "$json"
done

# SIGTERM to the CLI cancels the run: the box is killed and removed, the
# text says exit=143 and so does the CLI.
for rt in podman native; do
    "$sb" --runtime "$rt" --image busybox:latest --no-workspace -- sleep 30 \
        >"$work/term.out" &
    pid=$!
    sleep 2
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    check "$rt: SIGTERM exits 143" [ $rc -eq 143 ]
    check "$rt: SIGTERM prints exit=143" grep -qx 'exit=143' "$work/term.out"
    if [ "$rt" = podman ]; then
        sleep 1
        n=$(podman ps -a -q --filter "label=io.libsandbox.owner=$pid" | wc -l)
        check "$rt: SIGTERM leaves no container" [ "$n" -eq 0 ]
    fi
done

# Its own errors: exit 125, a message on stderr, nothing run.
err=$("$sb" --memory lots -- true 2>&1 >/dev/null)
rc=$?
check "bad --memory exits 125" [ $rc -eq 125 ]
check "bad --memory names the flag value" grep -q "lots" <<<"$err"
"$sb" echo hi >/dev/null 2>&1
check "missing -- is a usage error (125)" [ $? -eq 125 ]
err=$(PATH=/nonexistent SANDBOX_RUNTIME='' "$sb" -- true 2>&1)
rc=$?
check "no runtime: 125 and names podman and docker" \
    bash -c '[ "$1" -eq 125 ] && grep -q podman <<<"$2" && grep -q docker <<<"$2"' _ "$rc" "$err"
check "--version" bash -c "'$sb' --version | grep -q '0\.'"
check "--help mentions exit codes" bash -c "'$sb' --help | grep -q 124"
check "gc runs" "$sb" gc --runtime podman

# --stdin FILE|- and --argv (issue 10), on every backend.
printf 'one\0two\n' >"$work/in.bin"
for rt in podman docker native; do
    cd "$work" || exit 1
    out=$("$sb" --runtime "$rt" --image busybox:latest --no-workspace \
        --stdin "$work/in.bin" -- od -An -c)
    check "$rt: --stdin FILE reaches the box's stdin (NUL kept)" \
        grep -q 'o   n   e  \\0   t   w   o  \\n' <<<"$out"
    out=$(printf 'from-pipe' | "$sb" --runtime "$rt" --image busybox:latest \
        --no-workspace --stdin - -- cat)
    check "$rt: --stdin - forwards the CLI's stdin" grep -qx 'from-pipe' <<<"$out"
    out=$("$sb" --runtime "$rt" --image busybox:latest --no-workspace \
        --argv -- printf '[%s]\n' 'a b' '$HOME' ';' '')
    check "$rt: --argv passes each word as one argument" \
        [ "$out" = $'exit=0\n--- stdout ---\n[a b]\n[$HOME]\n[;]\n[]\n--- stderr ---' ]
done
"$sb" --no-workspace --stdin "$work/nope" -- cat >/dev/null 2>&1
check "--stdin of a missing file exits 125" [ $? -eq 125 ]
# network allowlist: bad entries are refused before anything runs, naming
# the entry (and the file line); a run's --json carries the record.  The
# only server is the test's own, on 127.0.0.1.
err=$("$sb" --allow 'api.*.example.com:443' -- true 2>&1)
rc=$?
check "--allow with a mid-name wildcard: 125, names the entry" \
    bash -c '[ "$1" -eq 125 ] && grep -q "api\.\*\.example\.com:443" <<<"$2"' _ "$rc" "$err"
printf 'ok.example:443\n# comment\n\nbad.example:0\n' >"$work/allow.txt"
err=$("$sb" --allow-file "$work/allow.txt" -- true 2>&1)
check "--allow-file: a bad line is named by file and line" \
    grep -q "allow.txt line 4" <<<"$err"
err=$("$sb" --network allowlist -- true 2>&1)
check "--network allowlist without --allow: 125" grep -q "empty allow-list" <<<"$err"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$work" >/dev/null 2>&1 &
srv=$!
sleep 1
for rt in podman native; do
    json=$("$sb" --runtime "$rt" --image debian:stable-slim --no-workspace \
        --allow "127.0.0.1:$port" --json -- \
        "bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128; printf \"GET http://127.0.0.1:$port/allow.txt HTTP/1.0\r\n\r\n\" >&3; cat <&3'")
    check "$rt: --allow reaches the host's 127.0.0.1 server through the proxy" \
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert "ok.example" in d["stdout"], d["stdout"]; assert d["net_attempts"]==1 and d["net_log"][0]["allowed"] and d["net_log"][0]["proto"]=="http", d["net_log"]' "$json"
done
kill "$srv"
exit $fail
