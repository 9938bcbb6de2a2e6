#!/bin/sh
# End-to-end test of bench part 2 (judge -> aggregate) against real podman:
# four stub "models" implement the task with part-1 fixtures (correct,
# shell-injection, cli-defaults, podman-only), the hidden tests run twice
# each, then seven judges score the blinded packets: four peers and two
# experts driven by tests/bench/stub-judge.sh (one writes malformed score
# files) and one expert left for manual driving.  Checks: the blinding, the
# review ranks the correct fixture first, it shows the malformed judge's
# problems, and it is byte-identical for the same inputs and seed.
# usage: e2e_judge.sh PATH/TO/sandbox-bench SOURCE_DIR
set -eu
BENCH=$1
SRC=$2
HERE=$(cd "$(dirname "$0")" && pwd)
TASK=$SRC/bench/tasks/sandbox
FIX=$TASK/fixtures

if ! command -v podman >/dev/null 2>&1; then
    echo "SKIP: podman not found"; exit 77
fi
if ! podman image exists libsandbox-python:latest; then
    echo "SKIP: image libsandbox-python:latest missing"; exit 77
fi
export SANDBOX_RUNTIME=podman
# E2E_OUT=DIR keeps the run there (and reuses its evaluation) for debugging.
if [ -n "${E2E_OUT:-}" ]; then
    OUT=$E2E_OUT; mkdir -p "$OUT"; rm -rf "$OUT/judgments"
else
    OUT=$(mktemp -d /tmp/bench-e2e-judge.XXXXXX)
    trap 'rm -rf "$OUT"' EXIT
fi
fail() { echo "FAIL: $*" >&2; exit 1; }

# Model names that appear nowhere in the task or the fixtures, so any
# trace of them in a packet is a blinding leak.
NAMES="kestrel osprey heron plover owl crow wren"
mkdir -p "$OUT/fx"
for pair in kestrel:correct osprey:shell-injection heron:cli-defaults \
            plover:podman-only; do
    mkdir -p "$OUT/fx/${pair%%:*}"
    cp "$FIX/${pair#*:}/sandbox.py" "$OUT/fx/${pair%%:*}/"
done
J="\"sh\", \"$HERE/stub-judge.sh\""
JA="\"{judge}\", \"{packet}\", \"{output}\", \"{labels}\", \"kestrel\", \"osprey\", \"heron\", \"plover\", \"owl\", \"crow\", \"wren\""
cat > "$OUT/config.json" <<JSON
{
  "implementers": [
    {"name": "kestrel", "slug": "vendor/kestrel-1"},
    {"name": "osprey", "slug": "vendor/osprey-2", "judge_command": [$J, "generous", $JA]},
    {"name": "heron", "slug": "vendor/heron-3", "judge_command": [$J, "harsh", $JA]},
    {"name": "plover", "slug": "vendor/plover-4"}
  ],
  "expert_judges": [
    {"name": "owl", "slug": "vendor/owl-9"},
    {"name": "crow", "slug": "vendor/crow-9", "judge_command": [$J, "malformed", $JA]},
    {"name": "wren", "slug": "vendor/wren-9", "judge_command": null}
  ],
  "command": ["sh", "$HERE/stub-model.sh", "$OUT/fx", "{model}", "{workdir}", "{prompt_file}"],
  "judge_command": [$J, "fair", $JA],
  "timeout_sec": 60
}
JSON
"$BENCH" check --task "$TASK" --config "$OUT/config.json" > /dev/null

# A model listed as both implementer and expert is a config error.
sed 's/{"name": "owl", "slug": "vendor\/owl-9"}/"kestrel"/' "$OUT/config.json" > "$OUT/bad.json"
if "$BENCH" check --task "$TASK" --config "$OUT/bad.json" > /dev/null 2> "$OUT/bad.err"; then
    fail "a model that is both implementer and expert was accepted"
fi
grep -q 'both "implementers" and "expert_judges"' "$OUT/bad.err" || fail "$(cat "$OUT/bad.err")"

if [ ! -f "$OUT/evals/sandbox/ev/results.json" ]; then
    "$BENCH" implement --task "$TASK" --config "$OUT/config.json" --all --host \
        --round r1 --out "$OUT" --quiet > /dev/null
    "$BENCH" evaluate --task "$TASK" --out "$OUT" --jobs 2 --repeat 2 --id ev \
        --quiet > "$OUT/table.txt"
fi
cat "$OUT/table.txt"

# ---- judge twice with the same seed, once with another ------------------
run_judge() {
    "$BENCH" judge --task "$TASK" --config "$OUT/config.json" --out "$OUT" \
        --seed "$1" --id "$2" --jobs 3 --quiet > "$OUT/$2.judge.txt" || true
    "$BENCH" aggregate --task "$TASK" --out "$OUT" --judging "$2" \
        > "$OUT/$2.agg.txt"
}
run_judge 42 s1
run_judge 42 s2
run_judge 43 s3
JD=$OUT/judgments/sandbox
grep -q '^manual: judge wren (expert)' "$OUT/s1.judge.txt" || fail "wren not listed for manual driving"

# Blinding: no model name, no hidden test, no result, no mapping in any packet.
for n in $NAMES; do
    if grep -rqiw -- "$n" "$JD/s1/packets"; then fail "model name $n in a packet"; fi
    if find "$JD/s1/packets" | grep -qi -- "$n"; then fail "model name $n in a packet path"; fi
done
if find "$JD/s1/packets" -path '*/output' -prune -o \( -name 'test_*' \
        -o -name conftest.py -o -name '*.json' -o -name '*.xml' \) -print \
        | grep -q .; then
    fail "hidden tests or results in a packet"
fi
cmp -s "$JD/s1/pairings.json" "$JD/s2/pairings.json" || fail "same seed, different shuffle"
cmp -s "$JD/s1/pairings.json" "$JD/s3/pairings.json" && fail "another seed, same shuffle"

# Byte-identical: the same judging aggregated again, and a second judging
# with the same seed.
cp "$JD/s1/review.md" "$OUT/first.md"
cp "$JD/s1/review.json" "$OUT/first.json"
cp "$JD/s1/review.svg" "$OUT/first.svg"
"$BENCH" aggregate --task "$TASK" --out "$OUT" --judging "$JD/s1" > /dev/null
cmp "$OUT/first.md" "$JD/s1/review.md" || fail "review.md differs on re-aggregation"
cmp "$OUT/first.json" "$JD/s1/review.json" || fail "review.json differs on re-aggregation"
cmp "$OUT/first.svg" "$JD/s1/review.svg" || fail "review.svg differs on re-aggregation"
cmp "$JD/s1/review.md" "$JD/s2/review.md" || fail "review.md differs for the same seed"

sed -n '1,/^## Per-judge ranking/p' "$JD/s1/review.md"
grep -q '^| 1 | kestrel/r1 |' "$JD/s1/review.md" || fail "correct (kestrel) is not ranked first"
grep -q '](review.svg)' "$JD/s1/review.md" || fail "no chart"
grep -q '^<svg' "$JD/s1/review.svg" || fail "no svg"

python3 - "$JD/s1" <<'PY'
import json, os, sys
d = sys.argv[1]
doc = json.load(open(os.path.join(d, "review.json")))
pairs = json.load(open(os.path.join(d, "pairings.json")))
idx = json.load(open(os.path.join(d, "judging.json")))
cands = doc["candidates"]
assert [c["id"] for c in cands][0] == "kestrel/r1", [c["id"] for c in cands]
by = {c["id"]: c for c in cands}
# four peers + owl valid; crow (malformed) has no valid scores; wren pending
k = by["kestrel/r1"]
assert k["tests"]["always_passed"] == k["tests"]["total"] == 43, k["tests"]
assert k["tests"]["repeat"] == 2
assert k["hard_fail"] == {"fail": 0, "of": 4}, k["hard_fail"]   # 5 valid - self
o = by["osprey/r1"]
assert o["hard_fail"]["fail"] == 4, o["hard_fail"]
assert o["verdict"]["mode"] == "unusable"
tiers = {r["judge"]: r["tier"] for r in k["judges"]}
assert tiers["kestrel"] == "self" and tiers["owl"] == "expert" and tiers["osprey"] == "peer", tiers
for r in k["judges"]:
    assert r["valid"] == (r["judge"] not in ("crow", "wren")), r
# self scores never counted: kestrel's median over osprey(10) heron(9) plover(10) owl(10)
assert k["spec"]["all"] == 10 and k["spec"]["peer"] == 10 and k["spec"]["expert"] == 10, k["spec"]
assert k["agreement"]["spec"]["n"] == 4, k["agreement"]
# heron is harsh: spread 1 for kestrel; sample stdev of [10, 9, 10, 10] = 0.5
assert k["agreement"]["spec"]["range"] == 1 and k["agreement"]["spec"]["stdev"] == 0.5, k["agreement"]
assert doc["pending"] == ["wren"], doc["pending"]
probs = doc["problems"]
assert probs and all(p["judge"] == "crow" for p in probs), probs
fields = {p["field"] for p in probs}
for f in ("spec_compliance", "code_quality.clarity", "verdict", "extra", "(file)"):
    assert f in fields, (f, fields)
assert any(p["label"] == "Z" for p in probs), probs
assert all(p["candidate"] for p in probs if p["label"] != "Z")
assert any("boolean" in p["message"] for p in probs)
assert any("fraction" in p["message"] for p in probs)
bias = {b["judge"]: b for b in doc["self_bias"]}
assert set(bias) == {"kestrel", "osprey", "heron", "plover"}, bias
assert bias["osprey"]["delta_spec"] is not None
ag = {a["judge"]: a for a in doc["test_agreement"]}
assert ag["owl"]["pairs"] > 0 and ag["crow"]["pairs"] == 0, ag
j = {x["name"]: x for x in doc["judges"]}
assert j["owl"]["status"] == "ok" and j["owl"]["cost_usd"] == 0.002, j["owl"]
assert j["wren"]["status"] == "manual", j["wren"]
assert k["cost"]["cost_usd"] == 0.0123 and k["cost"]["loc"] > 50, k["cost"]
# the mapping in the review matches pairings.json
for c in cands:
    for r in c["judges"]:
        assert pairs[r["judge"]][c["id"]] == r["label"]
assert idx["seed"] == 42
print("review: ranks, tiers, problems, bias, agreement and costs as expected")
PY
grep -q '^| crow | expert | [A-Z] | no valid scores |' "$JD/s1/review.md" || fail "malformed judge not shown as no valid scores"
grep -q '^| wren | expert | [A-Z] | no scores yet |' "$JD/s1/review.md" || fail "manual judge not shown as pending"
grep -q '^| crow | A |' "$JD/s1/review.md" || fail "crow's problems not listed"
# ---- judges inside libsandbox: only the packet is mounted ----------------
# ({{ and }} are literal braces in a command template.)
if podman image exists busybox:latest; then
    cat > "$OUT/sandboxed.json" <<JSON
{
  "implementers": ["kestrel", "osprey", "heron", "plover"],
  "command": ["true"],
  "judge_command": ["sh", "-c", "ls -A /workspace > output/seen.txt; test -e $OUT && echo host-visible >> output/seen.txt; for L in {labels}; do echo '{{\"hard_fail\": \"pass\", \"hard_fail_reasons\": [], \"spec_compliance\": 5, \"spec_compliance_notes\": [], \"code_quality\": {{\"clarity\": 3, \"conciseness\": 3, \"error_handling\": 3, \"comments\": 3}}, \"verdict\": \"rewrite\", \"one_line_summary\": \"boxed\"}}' > output/\$L\"_scores.json\"; done"],
  "timeout_sec": 60,
  "sandbox": {"enabled": true, "image": "busybox:latest", "network": "none",
              "memory": "256m", "pids": 64}
}
JSON
    "$BENCH" judge --task "$TASK" --config "$OUT/sandboxed.json" --out "$OUT" \
        --eval "$OUT/evals/sandbox/ev" --seed 1 --id sb --jobs 2 --quiet > /dev/null \
        || fail "sandboxed judges failed"
    "$BENCH" aggregate --task "$TASK" --out "$OUT" --judging sb > /dev/null
    for s in "$JD"/sb/packets/*/output/seen.txt; do
        got=$(tr '\n' ' ' < "$s")
        [ "$got" = "JUDGE_PROMPT.md JUDGE_RUBRIC.md PROMPT.md README.md SPEC.md implementations output " ] \
            || fail "a sandboxed judge saw: $got"
    done
    python3 - "$JD/sb" <<'PY'
import json, os, sys
d = sys.argv[1]
doc = json.load(open(os.path.join(d, "review.json")))
assert doc["problems"] == [], doc["problems"]
for j in doc["judges"]:
    assert j["status"] == "ok" and j["valid_scores"] == 4, j
    run = json.load(open(os.path.join(d, "judges", j["name"], "run.json")))
    assert run["sandboxed"] is True and run["sandbox_end"] == "exited", run
print("sandboxed judges: each saw only its packet")
PY
fi
echo "e2e_judge: OK"
