#!/bin/sh
# End-to-end test of sandbox-bench against real podman:
#  A. implement (a stub "model" drops each fixture into its worktree) ->
#     evaluate the shipped `sandbox` task -> only the correct fixture passes
#     everything and each broken one fails the test aimed at its flaw;
#  B. a toy task whose candidates hang, flood, crash, write no report or a
#     garbage report: each gets its verdict, the harness keeps going.
# usage: e2e.sh PATH/TO/sandbox-bench SOURCE_DIR
set -eu
BENCH=$1
SRC=$2
HERE=$(cd "$(dirname "$0")" && pwd)
TASK=$SRC/bench/tasks/sandbox
FIX=$TASK/fixtures

if ! command -v podman >/dev/null 2>&1; then
    echo "SKIP: podman not found"; exit 77
fi
for img in libsandbox-python:latest busybox:latest; do
    if ! podman image exists "$img"; then
        echo "SKIP: image $img missing (scripts/build-images.sh)"; exit 77
    fi
done
export SANDBOX_RUNTIME=podman

OUT=$(mktemp -d /tmp/bench-e2e.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- A. implement -> evaluate ------------------------------------------
models=$(cd "$FIX" && ls)
{
    printf '{\n  "implementers": ['
    sep=
    for m in $models; do printf '%s"%s"' "$sep" "$m"; sep=', '; done
    printf '],\n  "command": ["sh", "%s", "%s", "{model}", "{workdir}", "{prompt_file}"],\n' \
        "$HERE/stub-model.sh" "$FIX"
    printf '  "timeout_sec": 60,\n  "transcript": "transcript.md"\n}\n'
} > "$OUT/config.json"

"$BENCH" check --task "$TASK" --config "$OUT/config.json"
"$BENCH" implement --task "$TASK" --config "$OUT/config.json" --all --host \
    --round r1 --out "$OUT" --quiet > "$OUT/implement.txt"

# The base commit holds only PROMPT.md and SPEC.md: never the hidden tests.
files=$(git -C "$OUT/repos/sandbox" ls-tree -r --name-only HEAD | tr '\n' ' ')
[ "$files" = "PROMPT.md SPEC.md " ] || fail "base commit holds: $files"

python3 - "$OUT" $models <<'PY'
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
for m in models:
    d = os.path.join(out, "runs", "sandbox", m, "r1")
    meta = json.load(open(os.path.join(d, "meta.json")))
    assert meta["status"] == "ok", (m, meta)
    assert meta["exit_code"] == 0 and meta["wall_sec"] >= 0, meta
    assert meta["usage"]["cost_usd"] == 0.0123, meta["usage"]
    assert meta["usage"]["tokens_total"] == 4567
    assert [f["path"] for f in meta["files"]] == ["sandbox.py"], meta["files"]
    assert meta["missing_entrypoints"] == []
    assert meta["transcript"] == "transcript.md"
    for k in ("started_at", "ended_at", "base_commit", "capture_commit",
              "candidate_sha256", "branch", "command", "slug"):
        assert meta.get(k), (k, meta)
    assert "{" not in " ".join(meta["command"]), meta["command"]
    patch = open(os.path.join(d, "diff.patch")).read()
    assert "+++ b/sandbox.py" in patch and "transcript" not in patch, patch[:200]
    assert os.path.isfile(os.path.join(d, "transcript.md"))
    assert "wrote sandbox.py" in open(os.path.join(d, "model.stdout")).read()
print("implement: %d runs captured" % len(models))
PY

"$BENCH" evaluate --task "$TASK" --out "$OUT" --jobs 2 --id e2e \
    > "$OUT/table.txt"
cat "$OUT/table.txt"
# `report` re-prints the same table from results.json
"$BENCH" report "$OUT/evals/sandbox/e2e" > "$OUT/report.txt"
grep -v '^results: ' "$OUT/table.txt" | sed '$d' > "$OUT/table-only.txt"
cmp "$OUT/report.txt" "$OUT/table-only.txt" || fail "report differs from evaluate's table"
grep -q '^1 .*correct/r1 .*43/43' "$OUT/report.txt" || fail "correct is not first"

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
doc = json.load(open(os.path.join(out, "evals/sandbox/e2e/results.json")))
by = {c["label"].split("/")[0]: c for c in doc["candidates"]}
total = len(doc["tests"])
assert total >= 30, total
# the flaw each broken fixture must be caught on
aimed = {
    "leaks-container": ["test_timeout_kills_the_container_not_just_the_client"],
    "shell-injection": ["test_command_never_passes_through_a_host_shell["],
    "unsafe-truncation": ["test_truncation_never_splits_a_two_byte_character",
                          "test_stdout_newlines_are_kept_not_collapsed"],
    "deadlock": ["test_large_stderr_does_not_deadlock"],
    "cli-defaults": ["test_cli_default_workspace_is_the_current_directory",
                     "test_cli_exit_code_is_passed_through"],
    "podman-only": ["test_docker_fallback_when_podman_is_missing"],
}
correct = by["correct"]["summary"]
assert correct["tests_always_passed"] == total, correct
assert correct["failing"] == [], correct
for name, wants in aimed.items():
    s = by[name]["summary"]
    assert s["tests_always_passed"] < total, (name, s)
    for w in wants:
        assert any(f.startswith(w) for f in s["failing"]), (name, w, s["failing"])
    assert list(s["statuses"]) == ["completed"], (name, s["statuses"])
# the correct one ranks first, alone
best = max(c["summary"]["mean_passed"] for c in doc["candidates"])
winners = [c["label"] for c in doc["candidates"]
           if c["summary"]["mean_passed"] == best]
assert winners == ["correct/r1"], winners
# the log: one line per run, with digests that match the captured files
lines = [json.loads(l) for l in open(os.path.join(out, "log.jsonl"))]
ev = [l for l in lines
      if l.get("kind") == "evaluation" and l.get("eval_id") == "e2e"]
assert len(ev) == len(by), len(ev)
for l in ev:
    meta = json.load(open(os.path.join(out, "runs/sandbox", l["candidate"], "meta.json")))
    assert l["candidate_sha256"] == meta["candidate_sha256"], l["candidate"]
    assert l["suite_sha256"] == doc["suite_sha256"]
    assert l["image"] == "libsandbox-python:latest"
    assert l["limits"]["memory"] == "1g"
    assert os.path.isfile(os.path.join(l["run_dir"], "junit.xml"))
    assert os.path.isfile(os.path.join(l["run_dir"], "test-output.txt"))
    assert not os.path.exists(os.path.join(l["run_dir"], "work"))
print("evaluate: correct %d/%d; every broken fixture caught on its flaw"
      % (correct["tests_always_passed"], total))
PY

# ---- B. harness verdicts on a toy task ---------------------------------
TOY=$OUT/toy
"$BENCH" new-task toy --tasks-dir "$OUT" > /dev/null
cat > "$TOY/task.json" <<'JSON'
{
  "name": "toy",
  "language": "sh",
  "entrypoints": ["run.sh"],
  "image": "busybox:latest",
  "test_command": "sh /workspace/run.sh",
  "report": "out/junit.xml",
  "limits": {"timeout_sec": 5, "memory": "256m", "pids": 64,
             "flood_bytes": 1000000}
}
JSON
C=$OUT/toy-candidates
mk() { mkdir -p "$C/$1"; printf '%s\n' "$2" > "$C/$1/run.sh"; }
mk good 'mkdir -p out
ro=passed; touch /eval/tests/x 2>/dev/null && ro=failed
net=passed; [ "$(ls /sys/class/net)" = lo ] || net=failed
case=""
for t in tests_readonly:$ro network_none:$net; do
  n=${t%%:*}; v=${t#*:}
  if [ "$v" = passed ]; then case="$case<testcase classname=\"toy\" name=\"$n\" time=\"0.1\"/>"
  else case="$case<testcase classname=\"toy\" name=\"$n\"><failure message=\"$n\"/></testcase>"; fi
done
echo "<testsuites><testsuite name=\"toy\">$case<testcase classname=\"toy\" name=\"always_fails\"><failure message=\"boom\"/></testcase></testsuite></testsuites>" > out/junit.xml'
mk hang 'sleep 100'
mk flood 'head -c 5000000 /dev/zero; exit 1'
mk crash 'sh -c "kill -SEGV \$\$"; exit $?'
mk noreport 'exit 0'
mk badreport 'mkdir -p out; echo "<testsuites><testcase" > out/junit.xml'
mk stale 'exit 0'
mkdir -p "$C/stale/out"
echo '<testsuites><testcase name="forged"/></testsuites>' > "$C/stale/out/junit.xml"

"$BENCH" evaluate --task "$TOY" --out "$OUT" --fixtures "$C" --jobs 2 \
    --repeat 2 --id toy > "$OUT/toy-table.txt" 2> "$OUT/toy-progress.txt"
cat "$OUT/toy-table.txt"
grep -q '\[evaluate 14/14' "$OUT/toy-progress.txt" || fail "no progress"
python3 - "$OUT" <<'PY'
import json, os, sys
doc = json.load(open(os.path.join(sys.argv[1], "evals/toy/toy/results.json")))
by = {c["label"]: c for c in doc["candidates"]}
want = {"good": "completed", "hang": "timeout", "flood": "flood",
        "crash": "crashed", "noreport": "no-report",
        "badreport": "bad-report", "stale": "no-report"}
for name, status in want.items():
    got = by[name]["summary"]["statuses"]
    assert got == {status: 2}, (name, got, by[name]["runs"][0]["detail"])
    for r in by[name]["runs"]:
        if status != "completed":
            assert r["detail"], (name, r)
good = by["good"]
t = good["tests"]
assert t["toy::tests_readonly"]["passed"] == 2, t   # hidden tests are read-only
assert t["toy::network_none"]["passed"] == 2, t     # no network
assert t["toy::always_fails"]["passed"] == 0
assert t["toy::always_fails"]["message"] == "boom"
assert good["summary"]["mean_passed"] == 2.0
assert good["summary"]["flaky"] == []
assert by["flood"]["runs"][0]["flood"] is True
assert "forged" not in json.dumps(doc["tests"])
assert by["hang"]["runs"][0]["wall_sec"] < 30
print("toy: every verdict as expected")
PY
echo "e2e: OK"
