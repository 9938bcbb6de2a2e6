#!/bin/sh
# End-to-end test of the bench's evidence against real podman:
#  A. the attack is real: on a hostile tree (planted .git with fsmonitor
#     and hooks, symlinks to host files) a plain `git add -A` runs the
#     planted command on the host, and following the links reads the host
#     file -- what the capture step did before;
#  B. implement inside libsandbox with the hostile stub model: no marker
#     on the host, no host byte anywhere under the output, .git refused,
#     symlinks recorded as symlinks, the over-cap file named;
#  C. host mode is refused without --host; with --host it warns, and the
#     capture is just as safe;
#  D. evaluate with a signing key; the log verifies; a changed, removed,
#     inserted and reordered line are each named; a scorecard verifies
#     and a tampered one is rejected;
#  E. replay: one that matches; one refused because the suite digest in a
#     copy of the record changed; one refused because the image tag now
#     names another image.
# usage: e2e_evidence.sh PATH/TO/sandbox-bench SOURCE_DIR
set -eu
BENCH=$1
SRC=$2
HERE=$(cd "$(dirname "$0")" && pwd)

if ! command -v podman >/dev/null 2>&1; then
    echo "SKIP: podman not found"; exit 77
fi
for img in busybox:latest debian:stable-slim; do
    if ! podman image exists "$img"; then
        echo "SKIP: image $img missing"; exit 77
    fi
done
export SANDBOX_RUNTIME=podman
unset SANDBOX_BENCH_SIGN_KEY

OUT=$(mktemp -d /tmp/bench-evidence.XXXXXX)
TAG=localhost/sandbox-bench-evidence-e2e-$$:pin
cleanup() {
    # Only this one name: `podman untag IMAGE` with no name would strip
    # every name of the image it points at (busybox's or debian's).
    podman untag "$TAG" "$TAG" >/dev/null 2>&1 || true
    rm -rf "$OUT"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

SECRET="HOST-SECRET-$$-$(date +%s)"
SSHKEY="FAKE-SSH-KEY-$$"
printf '%s\n' "$SECRET" > "$OUT/secret.txt"
mkdir -p "$OUT/home/.ssh"
printf '%s\n' "$SSHKEY" > "$OUT/home/.ssh/id_rsa"
MARKER=$OUT/MARKER
# every host byte the stub links to; none may appear under these dirs
no_leak() {
    for d in "$@"; do
        [ -e "$d" ] || continue
        if grep -rlF -e "$SECRET" -e "$SSHKEY" "$d" >/dev/null 2>&1; then
            grep -rlF -e "$SECRET" -e "$SSHKEY" "$d" >&2
            fail "host bytes captured under $d"
        fi
    done
}

# ---- A. the attack lands on a plain git capture ---------------------------
mkdir -p "$OUT/naive"
sh "$HERE/stub-hostile.sh" "$OUT/naive" "$MARKER" "$OUT/secret.txt" \
    "$OUT/home" > /dev/null
git -C "$OUT/naive" add -A > /dev/null 2>&1 || true
[ -e "$MARKER" ] || fail "A: the planted fsmonitor did not run: the attack test proves nothing"
grep -qF "$SECRET" "$OUT/naive/secret-link" || fail "A: the symlink does not reach the host file"
rm -f "$MARKER"
rm -rf "$OUT/naive"
echo "A: a plain git add -A on the hostile tree runs its fsmonitor on the host"

# ---- the toy task (image: a private tag of busybox) ------------------------
podman tag busybox:latest "$TAG"
"$BENCH" new-task toy --tasks-dir "$OUT" > /dev/null
cat > "$OUT/toy/task.json" <<JSON
{"name": "toy", "language": "sh", "entrypoints": ["run.sh"],
 "image": "$TAG", "test_command": "sh /workspace/run.sh",
 "report": "out/junit.xml",
 "limits": {"timeout_sec": 30, "memory": "256m", "pids": 64}}
JSON
python3 - "$OUT" "$HERE/stub-hostile.sh" "$MARKER" <<'PY'
import json, sys
out, stub, marker = sys.argv[1:]
script = open(stub).read()
cmd = ["sh", "-c", script, "stub", "{workdir}", marker,
       out + "/secret.txt", out + "/home"]
base = {"implementers": ["evil"], "command": cmd, "timeout_sec": 60,
        "transcript": "transcript.md", "usage_file": "usage.json"}
boxed = dict(base, sandbox={"enabled": True, "image": "busybox:latest",
                            "network": "none"})
json.dump(boxed, open(out + "/boxed.json", "w"))
json.dump(base, open(out + "/host.json", "w"))
PY

check_run() { # RUN_DIR
    python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
meta = json.load(open(os.path.join(d, "meta.json")))
refused = [r["path"] for r in meta["refused"]]
assert refused == [".git", "sub/.git"], refused
links = {l["path"]: l["target"] for l in meta["symlinks"]}
assert set(links) == {"secret-link", "id_rsa", "hostetc"}, links
assert links["hostetc"] == "/etc", links
skipped = {s["path"]: s["why"] for s in meta["capture"]["skipped"]}
assert "per-file cap" in skipped["big.bin"], skipped
# a boxed run's fifo never reaches the host (the workspace commit-back skips
# special files); a host run's is skipped by the capture
assert "pipe" not in skipped or "special file" in skipped["pipe"], skipped
assert meta["status"] == "capture-too-large", meta["status"]
assert "never followed" in meta["transcript_refused"], meta
assert "never followed" in meta["usage_file_refused"], meta
assert meta["usage"] is None
files = sorted(f["path"] for f in meta["files"])
assert "run.sh" in files and not any(".git" == p.split("/")[-1] for p in files), files
for p in ("secret-link", "id_rsa", "hostetc", "pipe", ".git", "transcript.md"):
    assert not os.path.lexists(os.path.join(d, "files", p)), p
patch = open(os.path.join(d, "diff.patch")).read()
assert "new file mode 120000" in patch, "symlinks are not in the patch as symlinks"
assert "+++ b/run.sh" in patch
PY
}

# ---- B. implement inside libsandbox --------------------------------------
"$BENCH" implement --task "$OUT/toy" --config "$OUT/boxed.json" --model evil \
    --round boxed --out "$OUT/bo" --max-file-bytes 100000 --quiet \
    > "$OUT/impl-boxed.txt"
[ ! -e "$MARKER" ] || fail "B: the planted fsmonitor/hook ran on the host"
no_leak "$OUT/bo"
check_run "$OUT/bo/runs/toy/evil/boxed"
git -C "$OUT/bo/repos/toy" ls-tree -r run/toy/evil/boxed | grep -q '^120000 blob .*	secret-link$' \
    || fail "B: the branch does not hold secret-link as a symlink"
[ ! -e "$OUT/bo/worktrees/toy-evil-boxed" ] || fail "B: the model's tree was left behind"
python3 - "$OUT/bo" <<'PY'
import hashlib, json, os, sys
out = sys.argv[1]
meta_path = os.path.join(out, "runs/toy/evil/boxed/meta.json")
meta = json.load(open(meta_path))
recs = [json.loads(l) for l in open(os.path.join(out, "log.jsonl"))]
imp = [r for r in recs if r["kind"] == "implement"]
assert len(imp) == 1, imp
r = imp[0]
assert r["candidate_sha256"] == meta["candidate_sha256"]
assert r["meta_sha256"] == hashlib.sha256(open(meta_path, "rb").read()).hexdigest()
assert r["backend"] == "podman" and r["image_id"].startswith("sha256:"), r
assert meta["sandbox_image_id"] == r["image_id"]
PY
echo "B: sandboxed implement: no marker, no host byte, .git refused, links recorded"

# ---- C. host mode ----------------------------------------------------------
if "$BENCH" implement --task "$OUT/toy" --config "$OUT/host.json" \
    --model evil --round h0 --out "$OUT/ho" > "$OUT/h0.out" 2> "$OUT/h0.err"; then
    fail "C: a host run started without --host"
fi
grep -q -- "--host" "$OUT/h0.err" || fail "C: the refusal does not name --host"
grep -q "hidden tests" "$OUT/h0.err" || fail "C: the refusal does not say why"
"$BENCH" implement --task "$OUT/toy" --config "$OUT/host.json" --model evil \
    --round host --out "$OUT/ho" --max-file-bytes 100000 --host \
    > /dev/null 2> "$OUT/h1.err"
grep -q "WARNING: --host" "$OUT/h1.err" || fail "C: --host does not warn"
[ ! -e "$MARKER" ] || fail "C: the planted fsmonitor/hook ran on the host"
no_leak "$OUT/ho"
check_run "$OUT/ho/runs/toy/evil/host"
echo "C: host mode needs --host and warns; its capture is as safe"

# ---- D. signed evaluation, log and scorecard tampering ---------------------
"$BENCH" key gen "$OUT/keys" > /dev/null
[ "$(stat -c %a "$OUT/keys/scorecard-key.pem")" = 600 ] || fail "D: private key not 0600"
"$BENCH" evaluate --task "$OUT/toy" --out "$OUT/bo" --id signed --repeat 3 \
    --seed 42 --sign-key "$OUT/keys/scorecard-key.pem" --quiet > /dev/null
EV=$OUT/bo/evals/toy/signed
LOG=$OUT/bo/log.jsonl
python3 - "$EV/results.json" "$LOG" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["image_id"].startswith("sha256:") and len(doc["image_id"]) == 71, doc["image_id"]
assert doc["backend"] == "podman" and doc["seed"] == 42
for k in ("suite_sha256", "task_sha256", "libsandbox"):
    assert doc[k], k
assert len(doc["scorecards"]) == 1
for l in open(sys.argv[2]):
    r = json.loads(l)
    assert "seq" in r and "prev" in r
    if r["kind"] == "evaluation":
        for k in ("image_id", "backend", "libsandbox", "suite_sha256",
                  "task_sha256", "seed"):
            assert r.get(k) is not None, (k, r)
        assert r["image_id"] == doc["image_id"]
PY
want_id=$(podman image inspect --format '{{.Id}}' "$TAG")
grep -q "\"image_id\":\"sha256:$want_id\"" "$LOG" || fail "D: image_id is not the engine's ID $want_id"
# the native backend reports the same engine ID (its rootfs export is keyed
# by it), when it can run here
if SANDBOX_CACHE_DIR=$OUT/cache "$BENCH" evaluate --task "$OUT/toy" --out "$OUT/bo" --id native \
    --runtime native --quiet > /dev/null 2>&1; then
    grep -q "\"image_id\": \"sha256:$want_id\"" "$OUT/bo/evals/toy/native/results.json" \
        || fail "D: native image_id is not $want_id"
    grep -q '"backend": "native"' "$OUT/bo/evals/toy/native/results.json" || fail "D: native backend not recorded"
    echo "D: native reports the same image ID"
else
    echo "D: (native backend unavailable here: its image_id is not checked)"
fi
"$BENCH" verify "$LOG" > "$OUT/v.txt" || { cat "$OUT/v.txt"; fail "D: the untouched log does not verify"; }
n=$(wc -l < "$LOG")
[ "$n" -ge 4 ] || fail "D: expected at least 4 log lines, got $n"
tamper() { # NAME SED-SCRIPT WANT
    cp "$LOG" "$OUT/log-$1"
    sed -i "$2" "$OUT/log-$1"
    if "$BENCH" verify "$OUT/log-$1" > "$OUT/v-$1.txt"; then
        fail "D: $1 line not detected"
    fi
    grep -q "$3" "$OUT/v-$1.txt" || { cat "$OUT/v-$1.txt"; fail "D: $1: no '$3'"; }
}
tamper changed '2s/"kind":"\([a-z]*\)"/"kind":"\1X"/' 'line 2 (seq 2): changed'
tamper removed '2d' 'seq 2 is missing'
tamper inserted '2p' 'an inserted'
tamper reordered '2{h;d};3G' 'reordered'
echo "D: log verifies; changed, removed, inserted, reordered lines each named"

CARD=$EV/scorecards/evil_boxed.json
PUB=$OUT/keys/scorecard-key.pub.pem
"$BENCH" verify "$CARD" --key "$PUB" > /dev/null || fail "D: the good scorecard is rejected"
python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); i=len(d)//2; sys.stdout.buffer.write(d[:i]+bytes([d[i]^1])+d[i+1:])' "$CARD" > "$OUT/card-bad.json"
cmp -s "$CARD" "$OUT/card-bad.json" && fail "D: the tampering edit did not apply"
if "$BENCH" verify "$OUT/card-bad.json" --key "$PUB" > "$OUT/vc.txt"; then
    fail "D: a tampered scorecard verifies"
fi
grep -q "REJECTED" "$OUT/vc.txt" || fail "D: no clear rejection"
head=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["log"]["head_sha256"])' "$CARD")
python3 - "$LOG" "$head" <<'PY'
import hashlib, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert any(hashlib.sha256(l).hexdigest() == sys.argv[2] for l in lines), \
    "the scorecard's log head is no line of the log"
PY
echo "D: scorecard verifies, a tampered one is rejected, its log anchor is in the log"

# ---- E. replay ------------------------------------------------------------
"$BENCH" replay "$EV" --quiet > "$OUT/r1.txt" || { cat "$OUT/r1.txt"; fail "E: the replay does not match"; }
grep -q "every verdict the same" "$OUT/r1.txt" || fail "E: no match reported"
# a copy of the record whose suite digest differs
mkdir -p "$OUT/bo/evals/toy/copy"
sed 's/"suite_sha256": "[0-9a-f]*"/"suite_sha256": "0000000000000000000000000000000000000000000000000000000000000000"/' \
    "$EV/results.json" > "$OUT/bo/evals/toy/copy/results.json"
cmp -s "$EV/results.json" "$OUT/bo/evals/toy/copy/results.json" && fail "E: the suite edit did not apply"
set +e
"$BENCH" replay "$OUT/bo/evals/toy/copy" --quiet > "$OUT/r2.txt" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$OUT/r2.txt"; fail "E: a changed suite was replayed (exit $rc)"; }
grep -q "REFUSED: the suite changed" "$OUT/r2.txt" || { cat "$OUT/r2.txt"; fail "E: unclear refusal"; }
# the tag now names another image
podman tag debian:stable-slim "$TAG"
set +e
"$BENCH" replay "$EV" --quiet > "$OUT/r3.txt" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$OUT/r3.txt"; fail "E: a retagged image was replayed (exit $rc)"; }
grep -q "REFUSED: image .* changed" "$OUT/r3.txt" || { cat "$OUT/r3.txt"; fail "E: unclear refusal"; }
echo "E: replay matches; refused on a changed suite and on a retagged image"
[ ! -e "$MARKER" ] || fail "a marker appeared"
cleanup
trap - EXIT
for img in busybox:latest debian:stable-slim; do
    podman image exists "$img" || fail "the shared image $img lost its name"
done
echo "e2e_evidence: OK"
