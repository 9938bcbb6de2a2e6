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
exit $fail
