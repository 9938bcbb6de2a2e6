#!/bin/sh
# shellcheck disable=SC2015  # "A && B || fail": fail when either is false
# sandbox-bench's command line, no container runtime needed:
#  - options and operands in any order in every subcommand
#    (`report EVAL_DIR --verbose` == `report --verbose EVAL_DIR`);
#  - `COMMAND --help` (and -h) prints that command's usage only, exit 0;
#  - "--" ends the options; POSIXLY_CORRECT restores POSIX order.
# usage: cli_args.sh PATH/TO/sandbox-bench SOURCE_DIR
set -eu
BENCH=$1
SRC=$2
TASK=$SRC/bench/tasks/sandbox
W=$(mktemp -d /tmp/bench-cli-args.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }

# ---- --help per subcommand ----------------------------------------------
for c in new-task check implement evaluate report judge aggregate run-all; do
    for h in --help -h; do
        out=$("$BENCH" "$c" $h) || fail "$c $h exited $?"
        first=$(printf '%s\n' "$out" | head -n1)
        case "$first" in
        "usage: sandbox-bench $c "*) ;;
        *) fail "$c $h: first line is: $first" ;;
        esac
        # Its own usage only: no other command's line.
        others=$(printf '%s\n' "$out" | grep -cE '^  (new-task|check|implement|evaluate|report|judge|aggregate|run-all) (--[a-z]|[A-Z])' || true)
        [ "$others" -eq 0 ] || fail "$c $h prints other commands' usage: $out"
    done
    # --help after other words too
    "$BENCH" "$c" --out "$W/x" --help | grep -q "^usage: sandbox-bench $c " ||
        fail "$c --out X --help"
    ok "$c --help / -h / after options: its own usage"
done
"$BENCH" evaluate-one --help | grep -q '^usage: sandbox-bench evaluate-one PLAN INDEX' ||
    fail "evaluate-one --help"
rc=0; "$BENCH" evaluate-one "$W/plan.json" 2>"$W/err" || rc=$?
[ $rc -eq 2 ] && grep -q 'evaluate-one needs PLAN INDEX' "$W/err" || fail "evaluate-one PLAN: rc $rc"
"$BENCH" evaluate --help | grep -q -- '--executor local|slurm' || fail "evaluate --help: no --executor"
rc=0; "$BENCH" evaluate --task "$TASK" --executor cloud 2>"$W/err" || rc=$?
[ $rc -eq 2 ] && grep -q 'fix: give local or slurm' "$W/err" || fail "--executor cloud: rc $rc"
rc=0; "$BENCH" evaluate --task "$TASK" --per-task 4 2>"$W/err" || rc=$?
[ $rc -eq 2 ] && grep -q 'are for --executor slurm' "$W/err" || fail "--per-task without slurm: rc $rc"
rc=0; "$BENCH" evaluate --resume --executor slurm --task "$TASK" 2>"$W/err" || rc=$?
[ $rc -eq 2 ] && grep -q 'resume needs the --id' "$W/err" || fail "--resume without --id: rc $rc"
ok "evaluate-one --help; --executor and its options checked before anything runs"
"$BENCH" --help | grep -q '^  run-all ' || fail "sandbox-bench --help lost the full list"
ok "sandbox-bench --help: every command"

# ---- report: operand before or after the options --------------------------
E=$W/out/evals/t1/e1
mkdir -p "$E"
cat >"$E/results.json" <<'JSON'
{"task": "t1", "eval_id": "e1", "repeat": 1, "image": "img",
 "suite_sha256": "0123456789abcdef0123",
 "tests": ["a", "b", "c", "d", "e", "f", "g", "h"],
 "candidates": [
  {"label": "good", "summary": {"mean_passed": 8, "pass_rate": 1.0,
   "flaky": [], "statuses": {"completed": 1}, "failing": []},
   "runs": [{"repeat": 1, "status": "completed"}], "tests": {}},
  {"label": "bad", "summary": {"mean_passed": 1, "pass_rate": 0.125,
   "flaky": [], "statuses": {"completed": 1},
   "failing": ["b", "c", "d", "e", "f", "g", "h"]},
   "runs": [{"repeat": 1, "status": "completed"}],
   "tests": {"m::b": {"name": "b", "message": "assert 1 == 2"}}}]}
JSON
"$BENCH" report "$E" >"$W/plain.txt" || fail "report DIR"
"$BENCH" report --verbose "$E" >"$W/v-before.txt" || fail "report --verbose DIR"
"$BENCH" report "$E" --verbose >"$W/v-after.txt" || fail "report DIR --verbose"
"$BENCH" report "$E" -v >"$W/v-short.txt" || fail "report DIR -v"
"$BENCH" report "$E/results.json" --verbose >"$W/v-file.txt" || fail "report FILE --verbose"
cmp -s "$W/v-before.txt" "$W/v-after.txt" || fail "report: --verbose before and after differ"
cmp -s "$W/v-before.txt" "$W/v-short.txt" || fail "report: -v differs"
cmp -s "$W/v-before.txt" "$W/v-file.txt" || fail "report: FILE and DIR differ"
! cmp -s "$W/plain.txt" "$W/v-after.txt" || fail "report: --verbose changed nothing"
grep -q 'assert 1 == 2' "$W/v-after.txt" || fail "report DIR --verbose: no failure messages"
grep -q '+2 more' "$W/plain.txt" || fail "report DIR: not the short form"
ok "report EVAL_DIR --verbose == report --verbose EVAL_DIR == -v, FILE or DIR"
"$BENCH" report "$E" --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["eval_id"] == "e1"' ||
    fail "report DIR --json"
ok "report EVAL_DIR --json"
rc=0; "$BENCH" report "$E" "$E" 2>"$W/err" || rc=$?
[ $rc -eq 2 ] && grep -q 'report needs one' "$W/err" || fail "report DIR DIR: rc $rc"
rc=0; "$BENCH" report "$E" --bogus 2>"$W/err" || rc=$?
[ $rc -eq 2 ] && grep -q "unrecognized option '--bogus'" "$W/err" || fail "report DIR --bogus: rc $rc"
ok "report: two operands or an unknown option after one: exit 2"
rc=0; POSIXLY_CORRECT=1 "$BENCH" report "$E" --verbose 2>"$W/err" || rc=$?
[ $rc -eq 2 ] || fail "POSIXLY_CORRECT: report DIR --verbose accepted"
ok "POSIXLY_CORRECT=1: the first operand ends the options"
rc=0; "$BENCH" report -- --verbose 2>"$W/err" || rc=$?
[ $rc -eq 2 ] && grep -q -- '--verbose/results.json\|--verbose: ' "$W/err" ||
    fail "report -- --verbose: rc $rc: $(cat "$W/err")"
ok "report -- --verbose: an operand named --verbose"

# ---- new-task, check: either order ----------------------------------------
"$BENCH" new-task --tasks-dir "$W/tasks" one >/dev/null || fail "new-task --tasks-dir D NAME"
"$BENCH" new-task two --tasks-dir "$W/tasks" >/dev/null || fail "new-task NAME --tasks-dir D"
[ -f "$W/tasks/one/task.json" ] && [ -f "$W/tasks/two/task.json" ] || fail "new-task made no task"
ok "new-task NAME before or after --tasks-dir"
a=$("$BENCH" check --task "$TASK") || fail "check --task"
rc=0; "$BENCH" check stray --task "$TASK" 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "check: a stray operand accepted (rc $rc)"
ok "check: a stray operand anywhere is refused"
[ -n "$a" ]

# ---- judge, aggregate, run-all: TASK as an operand, anywhere ---------------
# They fail later (nothing evaluated or judged here) but never with the
# usage error, wherever TASK is.
for args in "aggregate --out $W/out $TASK" "aggregate $TASK --out $W/out" \
    "judge --out $W/out --no-drive $TASK --config $W/none.json" \
    "judge $TASK --config $W/none.json --out $W/out" \
    "run-all --out $W/out --config $W/none.json $TASK"; do
    rc=0
    # shellcheck disable=SC2086
    "$BENCH" $args >/dev/null 2>"$W/err" || rc=$?
    ! grep -q 'needs --task' "$W/err" || fail "$args: usage error: $(cat "$W/err")"
    [ $rc -ne 0 ] || fail "$args: succeeded with nothing to work on"
done
ok "judge, aggregate, run-all: TASK before or after the options"
echo "all $n passed"
