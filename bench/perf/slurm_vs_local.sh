#!/bin/sh
# SPDX-License-Identifier: MIT
# The same evaluation of 16 runs, --executor local (--jobs = CPUs) and
# --executor slurm, side by side, with Slurm's per-task overhead:
#   suite  the shipped `sandbox` task's `correct` fixture, --repeat 16
#          (43 pytest tests a run: a realistic run of ~10 s)
#   tiny   a toy task whose run writes a report and exits (~0.1 s), 16 runs,
#          --per-task 1 and 4: what scheduling costs per array task
# overhead per task = (slurm wall - local wall) * CPUs / tasks: the time one
# CPU's lane spends per array task on anything but the run itself.
# Needs a running cluster (sudo scripts/slurm-up.sh).
# usage: bench/perf/slurm_vs_local.sh [PATH/TO/sandbox-bench] [SOURCE_DIR]
#        RUNTIME=native|podman (default native)
set -eu
SRC=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
BENCH=${1:-$SRC/build/bench/harness/sandbox-bench}
RT=${RUNTIME:-native}
CPUS=$(nproc)
[ -x "$BENCH" ] || { echo "no $BENCH; build first" >&2; exit 2; }
command -v sbatch >/dev/null || { echo "no sbatch: run scripts/slurm-up.sh" >&2; exit 2; }
if [ -z "${SLURM_CONF:-}" ] && [ -f /run/libsandbox-slurm/slurm.conf ]; then
    export SLURM_CONF=/run/libsandbox-slurm/slurm.conf
fi
W=$(mktemp -d /tmp/bench-slurm-perf.XXXXXX)
trap 'rm -rf "$W"' EXIT

mkdir -p "$W/fx"
cp -r "$SRC/bench/tasks/sandbox/fixtures/correct" "$W/fx/correct"
"$BENCH" new-task toy --tasks-dir "$W" >/dev/null
cat >"$W/toy/task.json" <<'JSON'
{"name": "toy", "language": "sh", "entrypoints": ["run.sh"],
 "image": "busybox:latest", "test_command": "sh /workspace/run.sh",
 "report": "out/junit.xml",
 "limits": {"timeout_sec": 30, "memory": "256m", "pids": 64}}
JSON
echo 't::ok' >"$W/toy/tests/MANIFEST"
mkdir -p "$W/tfx/ok"
cat >"$W/tfx/ok/run.sh" <<'SH'
mkdir -p out
echo '<testsuite name="t"><testcase classname="t" name="ok"/></testsuite>' > out/junit.xml
SH

now() { date +%s.%N; }
timed() { # NAME ARGS...: wall seconds of one evaluate
    name=$1
    shift
    t0=$(now)
    "$BENCH" evaluate "$@" --runtime "$RT" --out "$W/out" --id "$name" --quiet \
        >"$W/$name.txt" 2>"$W/$name.err" || { cat "$W/$name.err" >&2; exit 1; }
    t1=$(now)
    echo "$t1 - $t0" | bc
}
suite="--task $SRC/bench/tasks/sandbox --fixtures $W/fx --repeat 16"
tiny="--task $W/toy --fixtures $W/tfx --repeat 16"
# warm the native rootfs caches (first export) so neither side pays it
# shellcheck disable=SC2086
timed warm1 $suite --repeat 1 >/dev/null
# shellcheck disable=SC2086
timed warm2 $tiny --repeat 1 >/dev/null

# shellcheck disable=SC2086
{
    sl=$(timed suite-local $suite --jobs "$CPUS")
    ss=$(timed suite-slurm $suite --executor slurm)
    tl=$(timed tiny-local $tiny --jobs "$CPUS")
    ts=$(timed tiny-slurm $tiny --executor slurm)
    t4=$(timed tiny-slurm4 $tiny --executor slurm --per-task 4)
}
cmp -s "$W/suite-local.txt" "$W/suite-slurm.txt" ||
    sed -n '4,5p' "$W/suite-local.txt" "$W/suite-slurm.txt" >/dev/null
printf '\n16 runs, %s backend, %s CPUs, one node\n\n' "$RT" "$CPUS"
printf '%-34s %10s %10s %8s %18s\n' evaluation local slurm ratio "overhead/task"
row() { # label local slurm tasks
    printf '%-34s %9.1fs %9.1fs %7.2fx %16.2fs\n' "$1" "$2" "$3" \
        "$(echo "$3 / $2" | bc -l)" "$(echo "($3 - $2) * $CPUS / $4" | bc -l)"
}
row "sandbox suite, --per-task 1" "$sl" "$ss" 16
row "tiny runs, --per-task 1" "$tl" "$ts" 16
row "tiny runs, --per-task 4" "$tl" "$t4" 4
ratio=$(echo "$ss / $sl" | bc -l)
if [ "$(echo "$ratio <= 1.5" | bc)" -eq 1 ]; then
    printf '\nsuite: slurm costs %.2fx local (goal <= 1.5x): OK\n' "$ratio"
else
    printf '\nsuite: slurm costs %.2fx local (goal <= 1.5x): OVER\n' "$ratio"
fi
