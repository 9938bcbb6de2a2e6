#!/bin/sh
# End-to-end test of `sandbox-bench evaluate --executor slurm` on a running
# cluster (scripts/slurm-up.sh brings up a single-node one; scripts/test.sh
# does so around `ctest -L slurm`):
#  A. 4 fixtures x 2 repeats, --executor local and --executor slurm, on the
#     native backend (podman if native cannot run here): the same ranks,
#     verdicts, statuses, table and file structure; the log gets one record
#     per run either way;
#  B. scancel in the middle: no box process, container or libsandbox cgroup
#     is left, the cut runs show slurm:CANCELLED, and --resume completes with
#     the same verdicts;
#  C. Ctrl-C (SIGINT) on the submitter scancels the array; nothing is left;
#  D. bad input: no sbatch on PATH, an unknown partition, an array larger
#     than MaxArraySize, an output directory the node cannot see: exit 2 and
#     a message naming the fix; slurm-up.sh again is a quick no-op.
# usage: e2e_slurm.sh PATH/TO/sandbox-bench SOURCE_DIR
set -eu
BENCH=$1
SRC=$2
TASK=$SRC/bench/tasks/sandbox
RT=${SANDBOX_E2E_RUNTIME:-native}

for t in sbatch squeue scancel scontrol sinfo; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not found (scripts/slurm-up.sh)"; exit 77; }
done
if [ -z "${SLURM_CONF:-}" ] && [ -f /run/libsandbox-slurm/slurm.conf ]; then
    export SLURM_CONF=/run/libsandbox-slurm/slurm.conf
fi
sinfo -h -o '%T' 2>/dev/null | grep -qx idle ||
    { echo "SKIP: no idle Slurm node (run scripts/slurm-up.sh)"; exit 77; }
podman image exists libsandbox-python:latest ||
    { echo "SKIP: image libsandbox-python:latest missing (scripts/build-images.sh)"; exit 77; }

OUT=$(mktemp -d /tmp/bench-e2e-slurm.XXXXXX)
cleanup() {
    for f in "$OUT"/evals/sandbox/*/slurm/jobid; do
        if [ -f "$f" ]; then scancel "$(cat "$f")" 2>/dev/null || true; fi
    done
    rm -rf "$OUT"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }

# seeds unique to this run: a box's environment names its evaluation
S0=$$
FX=$OUT/fixtures
mkdir -p "$FX"
for f in correct podman-only cli-defaults leaks-container; do
    cp -r "$TASK/fixtures/$f" "$FX/$f"
done
ev() { # ID SEED [ARGS...]: evaluate the 4 fixtures x 2 repeats
    id=$1 seed=$2
    shift 2
    "$BENCH" evaluate --task "$TASK" --fixtures "$FX" --repeat 2 --runtime "$RT" \
        --out "$OUT" --id "$id" --seed "$seed" "$@"
}

evx() { # the same, as this (background) process itself: signals reach it
    id=$1 seed=$2
    shift 2
    exec "$BENCH" evaluate --task "$TASK" --fixtures "$FX" --repeat 2 --runtime "$RT" \
        --out "$OUT" --id "$id" --seed "$seed" "$@"
}

# ---- A. local and slurm give the same evaluation ---------------------------
ev local ${S0}7 --jobs 2 >"$OUT/local.txt" 2>"$OUT/local.err" || fail "local: $(cat "$OUT/local.err")"
if [ "$RT" = native ] && grep -q '"status": "error"' "$OUT/evals/sandbox/local/results.json"; then
    echo "# native cannot run here: podman instead"
    RT=podman
    rm -rf "$OUT/evals/sandbox/local"
    ev local ${S0}7 --jobs 2 >"$OUT/local.txt" 2>"$OUT/local.err" || fail "local (podman)"
fi
ev slurm ${S0}7 --executor slurm >"$OUT/slurm.txt" 2>"$OUT/slurm.err" || fail "slurm: $(cat "$OUT/slurm.err")"
grep -q 'submitted array job [0-9]*: 8 tasks' "$OUT/slurm.err" || fail "not one array of 8: $(cat "$OUT/slurm.err")"
grep -q '\[evaluate 8/8 ' "$OUT/slurm.err" || fail "no progress"
# the table without the measured costs (wall, memory, CPU differ run to run)
norm='s/evaluation [a-z]*:/evaluation X:/; s#evals/sandbox/[a-z]*/#evals/sandbox/X/#; / wall [0-9.]* s, peak memory/d'
sed "$norm" "$OUT/local.txt" >"$OUT/l.txt"
sed "$norm" "$OUT/slurm.txt" >"$OUT/s.txt"
cat "$OUT/s.txt"
cmp "$OUT/l.txt" "$OUT/s.txt" || { diff "$OUT/l.txt" "$OUT/s.txt" >&2; fail "the tables differ"; }
ok "local and slurm print the same table"

cat >"$OUT/same.py" <<'PY'
import json, os, sys
out, a, b = sys.argv[1:4]
def load(i): return json.load(open(os.path.join(out, "evals/sandbox", i, "results.json")))
A, B = load(a), load(b)
def shape(x):
    if isinstance(x, dict): return {k: shape(v) for k, v in sorted(x.items())}
    if isinstance(x, list): return [shape(x[0])] if x else []
    return "num" if isinstance(x, (int, float)) and not isinstance(x, bool) else type(x).__name__
assert shape(A) == shape(B), "results.json structure differs"
assert [c["label"] for c in A["candidates"]] == [c["label"] for c in B["candidates"]]
ranks = lambda d: [c["label"] for c in sorted(d["candidates"], key=lambda c: (-c["summary"]["mean_passed"], -c["summary"]["tests_always_passed"], c["label"]))]
assert ranks(A) == ranks(B), (ranks(A), ranks(B))
for ca, cb in zip(A["candidates"], B["candidates"]):
    for k in ("tests_total", "tests_always_passed", "mean_passed", "statuses", "failing", "flaky"):
        assert ca["summary"][k] == cb["summary"][k], (ca["label"], k, ca["summary"][k], cb["summary"][k])
    for t in ca["tests"]:
        assert ca["tests"][t]["verdicts"] == cb["tests"][t]["verdicts"], (ca["label"], t)
    assert [r["repeat"] for r in ca["runs"]] == [r["repeat"] for r in cb["runs"]]
    for r in cb["runs"]:
        assert r["status"] == "completed", r
        assert os.path.isfile(os.path.join(r["run_dir"], "junit.xml")), r["run_dir"]
        assert os.path.isfile(os.path.join(r["run_dir"], "test-output.txt"))
# the log: one record per run of each, the same keys
log = [json.loads(l) for l in open(os.path.join(out, "log.jsonl"))]
la = [l for l in log if l.get("eval_id") == a]
lb = [l for l in log if l.get("eval_id") == b]
assert len(la) == len(lb) == 8, (len(la), len(lb))
assert sorted(la[0]) == sorted(lb[0]), (sorted(la[0]), sorted(lb[0]))
assert sorted((l["candidate"], l["repeat"]) for l in la) == sorted((l["candidate"], l["repeat"]) for l in lb)
# the run directories hold the same files
def files(i):
    root = os.path.join(out, "evals/sandbox", i)
    got = set()
    for d, dirs, fs in os.walk(root):
        if os.path.relpath(d, root).split(os.sep)[0] == "slurm":
            continue
        got |= {os.path.relpath(os.path.join(d, f), root) for f in fs}
    return got
assert files(a) == files(b), files(a) ^ files(b)
print("same: ranks", ranks(A))
PY
python3 "$OUT/same.py" "$OUT" local slurm || fail "local and slurm differ"
ok "same ranks, verdicts, statuses, results.json structure, log records and files"

# ---- B. scancel in the middle, then --resume --------------------------------
cgroups_empty() { # the libsandbox cgroups that hold no process
    for d in /sys/fs/cgroup/*/libsandbox/sandbox-* /sys/fs/cgroup/libsandbox/sandbox-*; do
        [ -d "$d" ] && [ ! -s "$d/cgroup.procs" ] && echo "$d"
    done 2>/dev/null | sort
}
ours() { # processes whose environment carries the seed: our boxes' processes
    grep -lz "^SANDBOX_BENCH_SEED=$1\$" /proc/[0-9]*/environ 2>/dev/null |
        sed 's#/proc/\([0-9]*\)/environ#\1#' | tr '\n' ' ' || true
}
wait_running() { # EVAL_ID SEED: a run recorded, and a task running with a box up
    i=0
    while [ $i -lt 480 ]; do
        f=$OUT/evals/sandbox/$1/slurm/jobid
        if [ -f "$f" ] && ls "$OUT/evals/sandbox/$1/slurm/records/"*.json >/dev/null 2>&1 &&
            [ -n "$(ours "$2")" ] &&
            [ "$(squeue -h -t R -j "$(cat "$f")" 2>/dev/null | wc -l)" -ge 1 ]; then
            return 0
        fi
        sleep 0.25
        i=$((i + 1))
    done
    fail "$1: no run recorded and box up within 120 s"
}
nothing_left() { # EVAL_ID SEED EMPTY_CGROUPS_BEFORE
    jid=$(cat "$OUT/evals/sandbox/$1/slurm/jobid")
    i=0
    while [ $i -lt 80 ]; do
        left=$(ours "$2")
        procs=$(pgrep -f "evaluate-one $OUT/evals/sandbox/$1/" || true)
        live=$(squeue -h -j "$jid" -t PD,R,CG,S 2>/dev/null | wc -l)
        cgs=$(cgroups_empty | comm -13 "$3" - | tr '\n' ' ')
        ctrs=$(podman ps -a -q --filter "label=io.libsandbox.owner" 2>/dev/null | while read -r c; do
            o=$(podman inspect -f '{{index .Config.Labels "io.libsandbox.owner"}}' "$c" 2>/dev/null)
            grep -q "pid $o)" "$OUT/evals/sandbox/$1/slurm/logs/"*.out 2>/dev/null && echo "$c"
        done | tr '\n' ' ')
        [ -z "$left$procs$cgs$ctrs" ] && [ "$live" -eq 0 ] && return 0
        sleep 0.25
        i=$((i + 1))
    done
    fail "$1: left behind after 20 s: box processes [$left] evaluate-one [$procs] tasks $live empty cgroups [$cgs] containers [$ctrs]"
}

cgroups_empty >"$OUT/cg-before"
ev cut ${S0}8 --executor slurm >"$OUT/cut.txt" 2>"$OUT/cut.err" &
sub=$!
wait_running cut ${S0}8
echo "# box processes of seed ${S0}8 before scancel: $(ours ${S0}8)"
scancel "$(cat "$OUT/evals/sandbox/cut/slurm/jobid")"
rc=0
wait $sub || rc=$?
[ $rc -eq 1 ] || fail "cut: exit $rc, not 1: $(cat "$OUT/cut.err")"
grep -q 'ended without a record.*--resume --id cut' "$OUT/cut.err" || fail "cut: no resume hint: $(cat "$OUT/cut.err")"
grep -q 'slurm:CANCELLED' "$OUT/evals/sandbox/cut/results.json" || fail "cut: no run shows slurm:CANCELLED"
nothing_left cut ${S0}8 "$OUT/cg-before"
ok "scancel mid-run: runs show slurm:CANCELLED; no box process, container, cgroup or evaluate-one left"

ev cut ${S0}8 --executor slurm --resume >"$OUT/resume.txt" 2>"$OUT/resume.err" || fail "resume: $(cat "$OUT/resume.err")"
grep -q -- '--resume: [1-7] of 8 runs have their record; [1-7] to run' "$OUT/resume.err" ||
    fail "resume did not submit only what was missing: $(cat "$OUT/resume.err")"
python3 - "$OUT" <<'PY' || fail "resume: results differ from local"
import json, os, sys
out = sys.argv[1]
L = json.load(open(os.path.join(out, "evals/sandbox/local/results.json")))
R = json.load(open(os.path.join(out, "evals/sandbox/cut/results.json")))
for a, b in zip(L["candidates"], R["candidates"]):
    assert a["label"] == b["label"]
    assert a["summary"]["statuses"] == b["summary"]["statuses"] == {"completed": 2}, b["summary"]
    for t in a["tests"]:
        assert a["tests"][t]["verdicts"] == b["tests"][t]["verdicts"], (a["label"], t)
log = [json.loads(l) for l in open(os.path.join(out, "log.jsonl"))]
cut = [l for l in log if l.get("eval_id") == "cut"]
done = [(l["candidate"], l["repeat"]) for l in cut if l["status"] == "completed"]
assert sorted(done) == sorted(set(done)) and len(done) == 8, done   # each run logged once
assert all(l["status"] in ("completed", "slurm:CANCELLED") for l in cut)
print("resume: every run completed, each logged once")
PY
ok "--resume ran only the missing runs; same verdicts as local; each run logged once"

# ---- C. Ctrl-C on the submitter cancels the array ---------------------------
cgroups_empty >"$OUT/cg-before"
evx intr ${S0}9 --executor slurm >"$OUT/intr.txt" 2>"$OUT/intr.err" &
sub=$!
wait_running intr ${S0}9
kill -INT $sub
rc=0
wait $sub || rc=$?
[ $rc -eq 1 ] || fail "intr: exit $rc: $(cat "$OUT/intr.err")"
grep -q 'interrupted: scancel' "$OUT/intr.err" || fail "intr: no scancel: $(cat "$OUT/intr.err")"
grep -q 'fix: rerun the same command with --resume --id intr' "$OUT/intr.err" || fail "intr: no fix"
[ ! -f "$OUT/evals/sandbox/intr/results.json" ] || fail "intr: wrote results.json"
nothing_left intr ${S0}9 "$OUT/cg-before"
ok "SIGINT on the submitter: array scancelled, nothing left, no results.json"

# ---- D. bad input -------------------------------------------------------------
bad() { # WHAT GREP ARGS...
    what=$1 want=$2
    shift 2
    rc=0
    "$@" >/dev/null 2>"$OUT/bad.err" || rc=$?
    [ $rc -eq 2 ] || fail "$what: exit $rc, not 2: $(cat "$OUT/bad.err")"
    grep -q "$want" "$OUT/bad.err" || fail "$what: $(cat "$OUT/bad.err")"
    grep -q 'fix:' "$OUT/bad.err" || fail "$what: names no fix: $(cat "$OUT/bad.err")"
}
bad "no sbatch" 'no .sbatch. on PATH' env PATH=/nonexistent "$BENCH" evaluate --task "$TASK" \
    --fixtures "$FX" --out "$OUT" --id b1 --executor slurm
bad "partition" 'no such partition (it has: ' ev b2 1 --executor slurm --partition no-such-part
bad "MaxArraySize" "MaxArraySize is [0-9]*; fix: --per-task [0-9]* or more" \
    ev b3 1 --executor slurm --repeat 300
bad "local with slurm options" 'are for --executor slurm' ev b4 1 --throttle 2
bad "resume without --id" 'resume needs the --id' "$BENCH" evaluate --task "$TASK" \
    --fixtures "$FX" --out "$OUT" --executor slurm --resume
if unshare -m true 2>/dev/null; then
    mkdir -p "$OUT/private"
    bad "not shared" 'the nodes cannot see the output directory' unshare -m sh -c \
        "mount -t tmpfs tmpfs '$OUT/private' && exec '$BENCH' evaluate --task '$TASK' --fixtures '$FX' --out '$OUT/private/o' --id b5 --executor slurm --runtime $RT"
fi
ok "bad input: exit 2 with the fix named (no sbatch, partition, MaxArraySize, not shared, usage)"

if [ -x "$SRC/scripts/slurm-up.sh" ] && [ "$(id -u)" -eq 0 ]; then
    t0=$(date +%s)
    "$SRC/scripts/slurm-up.sh" >/dev/null
    [ $(($(date +%s) - t0)) -le 10 ] || fail "slurm-up.sh on a running cluster took > 10 s"
    sinfo -h -o '%T' | grep -qx idle || fail "slurm-up.sh again: node not idle"
    ok "slurm-up.sh on a running cluster: a quick no-op"
fi
echo "all $n passed"
