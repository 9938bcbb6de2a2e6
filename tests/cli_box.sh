#!/usr/bin/env bash
# End-to-end checks of `sandbox box create|exec|cp|ls|rm` and the registry
# sweep of `sandbox gc` (issue 10 item 5): the per-exec checks on native,
# podman and docker; lifetime, idle, workspace and a killed keeper on native.
# usage: tests/cli_box.sh PATH/TO/sandbox
set -uo pipefail
sb=$(realpath "$1")
fail=0
work=$(mktemp -d /tmp/sbx-clibox.XXXXXX)
chmod 0777 "$work"
# A registry of our own: other runs of the suite do not see these boxes.
# Not under $work: a directory others can write is refused on the
# registry's path (another user could swap the registry for theirs).
regdir=$(mktemp -d /tmp/sbx-clibox-reg.XXXXXX)
export SANDBOX_BOX_REGISTRY=$regdir/reg
ids=()
cleanup() {
    for id in "${ids[@]}"; do "$sb" box rm "$id" >/dev/null 2>&1; done
    rm -rf "$work" "$regdir"
}
trap cleanup EXIT
check() { # name, condition...
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}
field() { # id key: a field of the box's registry record
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$SANDBOX_BOX_REGISTRY/$1/box.json" "$2" 2>/dev/null
}
cgroup_gone() { # name: no cgroup directory of that name is left
    ! find /sys/fs/cgroup -type d -name "$1" 2>/dev/null | grep -q .
}
gone_within() { # seconds command...: poll until the command succeeds
    local t=$1
    shift
    for _ in $(seq $((t * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

img=busybox:latest
for rt in native podman docker; do
    cd "$work" || exit 1
    id=$("$sb" box create --runtime "$rt" --image "$img" --no-workspace 2>"$work/create.err")
    rc=$?
    if [ $rc -ne 0 ] && grep -q "not built into this libsandbox" "$work/create.err"; then
        echo "skip $rt: $(cat "$work/create.err")"
        continue
    fi
    check "$rt: create exits 0 and prints an id" \
        bash -c '[ "$1" -eq 0 ] && [[ "$2" =~ ^[0-9a-f]{12}$ ]]' _ "$rc" "$id"
    [ $rc -eq 0 ] || continue
    ids+=("$id")
    keeper=$(field "$id" keeper_pid)
    name=$(field "$id" name)
    check "$rt: ls shows it running" \
        bash -c '"$1" box ls | grep -qE "^$2 +$3 .*running"' _ "$sb" "$id" "$rt"
    check "$rt: ls --json has the fields" python3 -c '
import json,sys; b=[x for x in json.loads(sys.argv[1]) if x["id"]==sys.argv[2]][0]
assert b["alive"] and b["backend"]==sys.argv[3] and b["image"]=="busybox:latest", b
assert 3590 < b["expires_in_sec"] <= 3600 and b["keeper_pid"] > 0, b' \
        "$("$sb" box ls --json)" "$id" "$rt"

    out=$("$sb" box exec "$id" -- 'echo kept > /tmp/state; echo one')
    check "$rt: exec prints the command's stdout" [ "$out" = one ]
    out=$("$sb" box exec "$id" -- cat /tmp/state)
    check "$rt: a second exec sees the first one's file" [ "$out" = kept ]
    out=$(printf 'from\npipe\n' | "$sb" box exec "$id" --stdin - -- 'wc -l')
    check "$rt: --stdin - feeds a pipe" [ "$(echo $out)" = 2 ]
    "$sb" box exec "$id" -- 'exit 7'
    check "$rt: exit code passthrough (7)" [ $? -eq 7 ]
    err=$("$sb" box exec "$id" -- 'echo to-err >&2' 2>&1 >/dev/null)
    check "$rt: stderr reaches the client's stderr" [ "$err" = to-err ]
    "$sb" box exec "$id" --timeout 1 -- sleep 30 2>/dev/null
    check "$rt: --timeout exits 124" [ $? -eq 124 ]
    out=$("$sb" box exec "$id" -- 'echo alive')
    check "$rt: the box lives on after a timed-out exec" [ "$out" = alive ]
    out=$("$sb" box exec "$id" --argv -- printf '[%s]' 'a b' '$HOME' ';')
    check "$rt: --argv passes each word verbatim" [ "$out" = '[a b][$HOME][;]' ]
    json=$("$sb" box exec "$id" --json -- 'echo js; exit 3')
    check "$rt: --json prints the result" python3 -c '
import json,sys; d=json.loads(sys.argv[1])
assert d["exit_code"]==3 and d["reason"]=="exited" and d["stdout"]=="js\n", d' "$json"

    # Streaming: the first line is on the client's stdout while the exec
    # still runs.
    "$sb" box exec "$id" -- 'echo first; sleep 2; echo second' >"$work/stream" &
    p=$!
    gone_within 2 grep -qx first "$work/stream"
    check "$rt: streaming: the first line arrives before the exec ends" \
        bash -c 'grep -qx first "$1" && ! grep -q second "$1" && kill -0 "$2"' \
        _ "$work/stream" "$p"
    wait "$p"
    check "$rt: streaming: then the rest" [ "$(cat "$work/stream")" = $'first\nsecond' ]

    # Several clients at once.
    for i in 1 2 3 4 5 6; do
        "$sb" box exec "$id" -- "sleep 0.3; echo c$i" >"$work/c$i" &
    done
    wait
    ok=1
    for i in 1 2 3 4 5 6; do [ "$(cat "$work/c$i")" = "c$i" ] || ok=0; done
    check "$rt: six concurrent execs, each its own output" [ $ok -eq 1 ]

    # SIGTERM to a client cancels its exec: 143.
    "$sb" box exec "$id" -- sleep 30 &
    p=$!
    sleep 1
    kill -TERM "$p"
    wait "$p"
    check "$rt: SIGTERM to exec exits 143" [ $? -eq 143 ]

    # cp in and out, binary identical.
    head -c 300000 /dev/urandom >"$work/in.bin"
    "$sb" box cp "$work/in.bin" "$id:/tmp/in.bin"
    check "$rt: cp into the box" [ $? -eq 0 ]
    out=$("$sb" box exec "$id" -- 'wc -c < /tmp/in.bin')
    check "$rt: the box sees the copied file" [ "$(echo $out)" = 300000 ]
    (cd "$work" && "$sb" box cp "$id:/tmp/in.bin" "out-$rt.bin")
    check "$rt: cp out of the box (relative host path), binary identical" \
        cmp -s "$work/in.bin" "$work/out-$rt.bin"
    "$sb" box cp "$id:/tmp/../etc/passwd" "$work/pw" 2>/dev/null
    check "$rt: cp refuses '..' (125)" [ $? -eq 125 ]

    "$sb" box rm "$id" >/dev/null
    check "$rt: rm exits 0" [ $? -eq 0 ]
    check "$rt: rm leaves no registry entry" [ ! -e "$SANDBOX_BOX_REGISTRY/$id" ]
    check "$rt: rm leaves no keeper process" pid_gone "$keeper"
    if [ "$rt" = native ]; then
        check "$rt: rm leaves no cgroup" cgroup_gone "$name"
    else
        check "$rt: rm leaves no container" \
            bash -c '[ -z "$("$2" ps -aq --filter name="$1")" ]' _ "$name" "$rt"
    fi
    err=$("$sb" box exec "$id" -- true 2>&1)
    check "$rt: exec after rm: 125, no such box" \
        bash -c '[ "$1" -eq 125 ] && grep -q "no box" <<<"$2"' _ "$?" "$err"
done

rt=native
# An unknown id: a clear error, exit 125 (sandbox's own failures).
err=$("$sb" box exec 0123abcd -- true 2>&1)
check "exec on an unknown id: 125 and says so" \
    bash -c '[ "$1" -eq 125 ] && grep -q "no box .0123abcd." <<<"$2"' _ "$?" "$err"
err=$("$sb" box exec ../etc -- true 2>&1)
check "exec on a non-id: 125" \
    bash -c '[ "$1" -eq 125 ] && grep -q "not a box id" <<<"$2"' _ "$?" "$err"
err=$("$sb" box create --runtime native --image /nonexistent-rootfs 2>&1)
check "create with a bad image: 125, the library's message" \
    bash -c '[ "$1" -eq 125 ] && grep -q "nonexistent-rootfs" <<<"$2"' _ "$?" "$err"

# --env values and the keeper's command line: any local user's `ps` reads
# /proc/PID/cmdline, and the keeper lives as long as its box.  Control: a
# process started with the same words shows them there.
sh -c 'sleep 10' sbx-control --env API=sbx-visible-control &
ctl=$!
sleep 0.2
check "control: a process's words are in its /proc cmdline" \
    grep -qa sbx-visible-control /proc/$ctl/cmdline
kill $ctl 2>/dev/null
wait $ctl 2>/dev/null
id=$(SBX_T_TOKEN=from-env "$sb" box create --runtime "$rt" --image "$img" --no-workspace \
    --env SBX_T_TOKEN --env API=sbx-visible-secret)
ids+=("$id")
keeper=$(field "$id" keeper_pid)
check "the keeper's cmdline has no --env value" \
    bash -c '! grep -qa -e sbx-visible-secret -e from-env /proc/$1/cmdline &&
             grep -qa keeper /proc/$1/cmdline' _ "$keeper"
out=$("$sb" box exec "$id" -- 'echo $SBX_T_TOKEN $API' 2>&1)
check "--env NAME passes NAME's value, --env N=V its value" \
    [ "$out" = "from-env sbx-visible-secret" ]
out=$(SBX_T_X=x1 "$sb" box exec --env SBX_T_X "$id" -- 'echo $SBX_T_X' 2>&1)
check "box exec --env NAME passes NAME's value" [ "$out" = x1 ]
err=$(env -u SBX_T_UNSET "$sb" box exec --env SBX_T_UNSET "$id" -- true 2>&1)
check "box exec --env NAME unset: 125, says so" \
    bash -c '[ "$1" -eq 125 ] && grep -q "SBX_T_UNSET is not set" <<<"$2"' _ "$?" "$err"
"$sb" box rm "$id" >/dev/null
err=$(env -u SBX_T_UNSET "$sb" --runtime "$rt" --image "$img" --no-workspace \
    --env SBX_T_UNSET -- true 2>&1)
check "run --env NAME unset: 125, says so" \
    bash -c '[ "$1" -eq 125 ] && grep -q "SBX_T_UNSET is not set" <<<"$2"' _ "$?" "$err"

# --lifetime: the keeper ends the box and goes; exec says why; gc sweeps.
id=$("$sb" box create --runtime "$rt" --image "$img" --no-workspace --lifetime 3)
ids+=("$id")
keeper=$(field "$id" keeper_pid)
name=$(field "$id" name)
sleep 4
check "lifetime 3s: the keeper is gone" gone_within 5 pid_gone "$keeper"
check "lifetime 3s: the box's cgroup is gone" gone_within 5 cgroup_gone "$name"
err=$("$sb" box exec "$id" -- true 2>&1)
check "lifetime 3s: exec fails (125) and says the lifetime passed" \
    bash -c '[ "$1" -eq 125 ] && grep -q "lifetime" <<<"$2"' _ "$?" "$err"
check "lifetime 3s: ls says ended" bash -c '"$1" box ls | grep -qE "^$2 .*ended"' _ "$sb" "$id"
"$sb" gc --runtime native >"$work/gc.out"
check "lifetime 3s: gc removes the entry" \
    bash -c '[ ! -e "$1" ] && grep -q "removed 1 box entry" "$2"' _ "$SANDBOX_BOX_REGISTRY/$id" "$work/gc.out"

# --idle: no exec for 2 s ends the box; a long exec is not idleness.
id=$("$sb" box create --runtime "$rt" --image "$img" --no-workspace --idle 2)
ids+=("$id")
out=$("$sb" box exec "$id" -- 'sleep 3; echo busy')
check "idle 2s: a 3 s exec is not idle time" [ "$out" = busy ]
sleep 3.5
err=$("$sb" box exec "$id" -- true 2>&1)
check "idle 2s: then the box ends, exec says it was idle (125)" \
    bash -c '[ "$1" -eq 125 ] && grep -q "idle" <<<"$2"' _ "$?" "$err"
"$sb" box rm "$id" >/dev/null
check "idle 2s: rm of an ended box removes its entry" [ ! -e "$SANDBOX_BOX_REGISTRY/$id" ]

# The workspace (here a directory of ours) reaches the host at rm.
mkdir "$work/ws" && chmod 0777 "$work/ws"
id=$("$sb" box create --runtime "$rt" --image "$img" --workspace "$work/ws")
ids+=("$id")
out=$("$sb" box exec "$id" -- 'pwd; echo made > f')
check "workspace: exec starts in /workspace" [ "$out" = /workspace ]
"$sb" box rm "$id" >/dev/null
check "workspace: its changes reach the host at rm" \
    [ "$(cat "$work/ws/f" 2>/dev/null)" = made ]

# A SIGKILLed keeper: the library's guardian destroys the box; gc sweeps.
id=$("$sb" box create --runtime "$rt" --image "$img" --no-workspace)
ids+=("$id")
keeper=$(field "$id" keeper_pid)
name=$(field "$id" name)
"$sb" box exec "$id" -- true
# The keeper's children: the box's init and the library's guardian.
kids=$(pgrep -P "$keeper" | tr '\n' ' ')
all_gone() { for p in $kids; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
kill -KILL "$keeper"
check "SIGKILLed keeper: the box's processes go with it ($kids)" \
    bash -c '[ -n "$1" ]' _ "$kids"
check "SIGKILLed keeper: ... all of them, within 10 s" gone_within 10 all_gone
check "SIGKILLed keeper: its memory cgroup goes too" \
    gone_within 10 bash -c '! find /sys/fs/cgroup/memory /sys/fs/cgroup/libsandbox* -maxdepth 3 -type d -name "$1" 2>/dev/null | grep -q .' _ "$name"
err=$("$sb" box exec "$id" -- true 2>&1)
check "SIGKILLed keeper: exec fails (125), says the keeper died" \
    bash -c '[ "$1" -eq 125 ] && grep -q "keeper (pid [0-9]*) died" <<<"$2"' _ "$?" "$err"
check "SIGKILLed keeper: ls says dead" bash -c '"$1" box ls | grep -qE "^$2 .*dead"' _ "$sb" "$id"
"$sb" gc --runtime native >/dev/null
check "SIGKILLed keeper: gc sweeps the entry" [ ! -e "$SANDBOX_BOX_REGISTRY/$id" ]
# The library's sweep spares cgroups younger than 10 s (a run may be
# setting one up); on a hybrid host the box's cgroup v2 kill-group
# directory can outlive the guardian until then.
sleep 10
"$sb" gc --runtime native >/dev/null
check "SIGKILLed keeper: after gc no cgroup of the box is left" cgroup_gone "$name"

# The registry must be private.
chmod 0755 "$SANDBOX_BOX_REGISTRY"
err=$("$sb" box ls 2>&1)
check "a registry with mode 0755 is refused" \
    bash -c '[ "$1" -eq 125 ] && grep -q "mode 0700" <<<"$2"' _ "$?" "$err"
chmod 0700 "$SANDBOX_BOX_REGISTRY"
check "--help documents box" bash -c "'$sb' box --help | grep -q 'box exec ID'"
exit $fail
