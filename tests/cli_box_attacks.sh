#!/usr/bin/env bash
# Attacks on `sandbox box ...` from the code inside a CLI box (native):
# what the box controls must not reach the operator's terminal as control
# sequences when the CLI prints a message (the box's own exec output is
# streamed as is, by design; messages are the CLI's words).
# And from another local user: a registry whose parent someone else can
# write (SANDBOX_BOX_REGISTRY under a shared directory, XDG_RUNTIME_DIR in
# /tmp) lets that user swap the registry for a directory of theirs between
# the CLI's check and its use (tests/cli_box_registry_swap.py).
# usage: tests/cli_box_attacks.sh PATH/TO/sandbox
set -uo pipefail
sb=$(realpath "$1")
fail=0
work=$(mktemp -d /tmp/sbx-cliboxatk.XXXXXX)
export SANDBOX_BOX_REGISTRY=$work/reg
here=$(dirname "$(realpath "$0")")
ids=()
race=
apid=
canary=
cleanup() {
    for id in "${ids[@]}"; do "$sb" box rm "$id" >/dev/null 2>&1; done
    [ -n "$race" ] && touch "$race/stop"
    [ -n "$apid" ] && wait "$apid"
    [ -n "$canary" ] && kill "$canary" 2>/dev/null
    rm -rf "$work" ${race:+"$race"}
}
trap cleanup EXIT
check() { # name, condition...
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}
# No ESC, BEL, CR, DEL or C1 control (UTF-8 or raw) in a file.
no_controls() {
    ! LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|[\x80-\x9f]' "$1"
}

cd "$work" || exit 1
id=$("$sb" box create --runtime native --image busybox:latest --no-workspace)
[ -n "$id" ] || { echo "FAIL create"; exit 1; }
ids+=("$id")
# Box-chosen names and link targets end up in the library's messages:
# ESC sequences (set the window title, clear the screen), BEL, CR, a C1
# CSI in UTF-8, then a raw 0x9b (a CSI to an 8-bit terminal; not UTF-8).
"$sb" box exec "$id" -- '
    e=$(printf "\033]0;PWNED\007\033[2J\r\302\233")
    ln -s "$e" /tmp/l
    ln -s "$(printf "RAW\233")" /tmp/raw
    mkdir /tmp/d && mkfifo "/tmp/d/$e"' || { echo "FAIL setup"; exit 1; }
"$sb" box cp "$id:/tmp/l" "$work/out1" 2>"$work/err1"
check "cp: a box link's target is refused (125)" [ $? -eq 125 ]
check "cp: ... the message names it" grep -q 'PWNED' "$work/err1"
check "cp: ... with no terminal control in it" no_controls "$work/err1"
"$sb" box cp "$id:/tmp/d" "$work/out2" 2>"$work/err2"
check "cp: a box fifo is refused (125)" [ $? -eq 125 ]
check "cp: ... no terminal control in a box-named entry" no_controls "$work/err2"
"$sb" box cp "$id:/tmp/raw" "$work/out3" 2>"$work/err3"
check "cp: a link target that is not UTF-8: refused (125)" [ $? -eq 125 ]
check "cp: ... the keeper still answers with the message" \
    grep -q 'symbolic link.*RAW' "$work/err3"
check "cp: ... no raw 8-bit control in it" no_controls "$work/err3"
out=$("$sb" box exec "$id" -- 'echo alive')
check "the box and its keeper live on" [ "$out" = alive ]
# --json shows the box's output as data: JSON escapes C0 itself; C1 (a CSI
# in UTF-8), DEL and the bidi overrides went out raw.
"$sb" box exec "$id" --json -- 'printf "A\302\233[2JB\342\200\256C\177D"' >"$work/json1"
check "exec --json: no raw terminal control in the JSON" no_controls "$work/json1"
check "exec --json: ... no raw bidi override" \
    bash -c '! LC_ALL=C grep -q $'"'"'\xe2\x80\xae'"'"' "$1"' _ "$work/json1"
check "exec --json: ... and the JSON still says exactly what the box wrote" \
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["stdout"] == "A\u009b[2JB\u202eC\x7fD", repr(d["stdout"])' "$work/json1"
for f in err1 err2 err3; do sed 's/^/    /' "$work/$f"; done

# A client of our uid in another user or mount namespace (a confined
# process of ours: its own view of the files, capabilities only over its
# namespace) must not have the keeper act for it: cp's host paths would be
# resolved in the keeper's view, with the keeper's rights.
if command -v unshare >/dev/null; then
    out=$(unshare --user --map-root-user -- "$sb" box exec "$id" -- echo reached 2>&1)
    check "exec from another user namespace of our uid is refused (125)" \
        bash -c '[ "$1" -eq 125 ] && ! grep -q reached <<<"$2"' _ "$?" "$out"
    mkdir "$work/mnt"
    unshare --mount -- bash -c 'mount -t tmpfs none "$1" &&
        "$2" box cp "$3:/etc/passwd" "$1/pw" 2>/dev/null' _ "$work/mnt" "$sb" "$id"
    check "cp from another mount namespace is refused (125)" [ $? -eq 125 ]
    check "... and writes nothing into the keeper's view of the host" \
        [ ! -e "$work/mnt/pw" ]
    err=$(unshare --mount -- timeout 20 "$sb" box rm "$id" 2>&1)
    check "rm from another mount namespace: refused (125), says why" \
        bash -c '[ "$1" -eq 125 ] && grep -q "namespaces" <<<"$2"' _ "$?" "$err"
    out=$("$sb" box exec "$id" -- echo still)
    check "... and the box and its entry stay" [ "$out" = still ]
fi

# A record whose socket is not its keeper's (a record left by a keeper
# whose socket someone else bound, or planted): exec must not hand that
# socket its stdout and stderr.  The record names a live process of ours
# with its real start time, so it passes for a live keeper.
sleep 600 &
fake=$!
fid=fedcba987654
mkdir -m 0700 "$SANDBOX_BOX_REGISTRY/$fid"
python3 - "$SANDBOX_BOX_REGISTRY/$fid" "$fake" <<'PY' &
import json, os, socket, sys
d, pid = sys.argv[1], int(sys.argv[2])
start = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19])
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(d, "sock"))
s.listen(8)
json.dump({"id": os.path.basename(d), "keeper_pid": pid, "keeper_start": start,
           "created": 0, "expires": 4e9, "state": "running"},
          open(os.path.join(d, "box.json"), "w"))
s.settimeout(20)
while True:  # until killed (or 20 s without a client)
    try:
        c, _ = s.accept()
    except OSError:
        break
    try:
        msg, fds, _, _ = socket.recv_fds(c, 4, 8)
        for f in fds:
            os.write(f, b"PWNED-by-the-socket\n")
    except OSError:
        pass
    c.close()
PY
lpid=$!
for _ in $(seq 50); do [ -e "$SANDBOX_BOX_REGISTRY/$fid/box.json" ] && break; sleep 0.1; done
out=$("$sb" box exec "$fid" -- true 2>&1)
rc=$?
check "exec on a record whose socket is not its keeper's: 125" [ $rc -eq 125 ]
check "... and its stdout/stderr never reach that socket" \
    bash -c '! grep -q PWNED <<<"$1"' _ "$out"
"$sb" box rm "$fid" >/dev/null 2>&1
check "box rm of that record does not signal the process it names" \
    kill -0 "$fake"
check "... and removes the record" [ ! -e "$SANDBOX_BOX_REGISTRY/$fid" ]
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
kill "$fake" 2>/dev/null
rm -rf "${SANDBOX_BOX_REGISTRY:?}/$fid"

# A registry in a directory another user owns: that user plants a record
# naming a process of ours (its real start time, so it passes for a live
# keeper) and a socket that never answers, in a directory of its own, and
# keeps swapping a link to it with the registry.  `box rm` as root then
# SIGKILLs that process (the fallback for a keeper that does not answer);
# `exec` would hand the socket its stdin/stdout/stderr.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && [ -x /usr/bin/python3 ]; then
    race=$(mktemp -d /tmp/sbx-cliboxrace.XXXXXX)
    chmod 0755 "$race"
    mkdir "$race/p" && chown nobody "$race/p"
    mkdir -m 0700 "$race/p/reg"
    cp "$here/cli_box_registry_swap.py" "$race/swap.py" && chmod 0644 "$race/swap.py"
    err=$(SANDBOX_BOX_REGISTRY=$race/p/reg "$sb" box ls 2>&1 >/dev/null)
    check "a registry whose parent another user owns is refused (125)" \
        bash -c '[ "$1" -eq 125 ] && grep -q "uid 65534" <<<"$2"' _ "$?" "$err"
    sleep 600 &
    canary=$!
    setpriv --reuid 65534 --regid 65534 --clear-groups \
        /usr/bin/python3 "$race/swap.py" "$race/p" "$canary" "$race/stop" &
    apid=$!
    sleep 0.5
    for _ in $(seq 200); do
        SANDBOX_BOX_REGISTRY=$race/p/reg "$sb" box rm 0123456789ab >/dev/null 2>&1
        kill -0 "$canary" 2>/dev/null || break
    done
    check "box rm never kills a process another user's record names" \
        kill -0 "$canary"
    touch "$race/stop"
    wait "$apid"
    apid=
else
    echo "skip registry swap: needs root, setpriv and /usr/bin/python3"
fi
exit $fail
