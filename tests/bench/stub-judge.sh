#!/bin/sh
# A stand-in for a judge CLI, driven by sandbox-bench's judge_command:
#   stub-judge.sh MODE {judge} {packet} {output} {labels} FORBIDDEN...
# It checks that the packet holds only what a judge may see (no hidden
# tests, no results, no mapping, no model name), then scores every blinded
# implementation from its code alone, deterministically:
#   shell=True on the host            -> hard fail, spec 2, unusable
#   no docker fallback                -> spec -3
#   the CLI's workspace defaults None -> spec -3
# MODE fair | generous (+1 spec) | harsh (-1 spec) | malformed (broken files)
set -eu
mode=$1 judge=$2 packet=$3 output=$4 labels=$5
shift 5
cd "$packet"
# What a packet may hold, and nothing else.
have=$(ls -A | tr '\n' ' ')
want="JUDGE_PROMPT.md JUDGE_RUBRIC.md PROMPT.md README.md SPEC.md implementations output "
[ "$have" = "$want" ] || { echo "packet holds: $have" >&2; exit 5; }
[ -z "$(ls -A output)" ] || { echo "output/ is not empty" >&2; exit 5; }
if find . -name 'test_*' -o -name conftest.py -o -name 'fakeruntime*' \
        -o -name '*.json' -o -name 'junit*' | grep -q .; then
    echo "hidden tests, results or a mapping in the packet" >&2; exit 5
fi
for name in "$@"; do
    if grep -rqiw -- "$name" . || find . | grep -qi -- "$name"; then
        echo "model name $name in the packet" >&2; exit 5
    fi
done
for L in $labels; do [ -f "implementations/$L/sandbox.py" ] || exit 6; done

score() { # $1 = label: prints spec hard_fail verdict
    f=implementations/$1/sandbox.py
    spec=10 hf=pass verdict=ship-with-cleanup
    if grep -q 'shell=True' "$f"; then spec=2 hf=fail verdict=unusable; fi
    grep -q '"docker"' "$f" || spec=$((spec - 3))
    grep -q 'add_argument("--workspace", default=None' "$f" && spec=$((spec - 3))
    case $mode in
    generous) spec=$((spec + 1)) ;;
    harsh) spec=$((spec - 1)) ;;
    esac
    [ "$spec" -gt 10 ] && spec=10
    [ "$spec" -lt 0 ] && spec=0
    [ "$hf" = pass ] && [ "$spec" -lt 8 ] && verdict=rewrite
    echo "$spec $hf $verdict"
}

n=0
for L in $labels; do
    n=$((n + 1))
    set -- $(score "$L")
    spec=$1 hf=$2 verdict=$3
    reasons='[]'
    [ "$hf" = fail ] && reasons='["line 94: shell=True on the host"]'
    q=$((spec / 2)); [ "$q" -gt 5 ] && q=5
    printf '# %s\nspec %s\n' "$L" "$spec" > "$output/${L}_rubric.md"
    body=$(printf '{"hard_fail": "%s", "hard_fail_reasons": %s, "spec_compliance": %s, "spec_compliance_notes": ["static review"], "code_quality": {"clarity": %s, "conciseness": 4, "error_handling": %s, "comments": 3}, "verdict": "%s", "one_line_summary": "%s | reviewed by a stub"}' \
        "$hf" "$reasons" "$spec" "$q" "$q" "$verdict" "spec $spec/10")
    if [ "$mode" = malformed ]; then
        case $n in
        1) body=$(echo "$body" | sed 's/"spec_compliance": [0-9]*/"spec_compliance": true/') ;;
        2) body=$(echo "$body" | sed 's/"spec_compliance": [0-9]*/"spec_compliance": 7.5/; s/"clarity": [0-9]*/"clarity": 9/') ;;
        3) body=$(echo "$body" | sed 's/, "verdict": "[a-z-]*"/, "extra": 1/') ;;
        *) body='{"hard_fail": "pass",' ;;
        esac
    fi
    printf '%s\n' "$body" > "$output/${L}_scores.json"
done
if [ "$mode" = malformed ]; then
    printf '{}\n' > "$output/Z_scores.json"
fi
echo "stub judge $judge ($mode): scored $labels"
echo '{"cost_usd": 0.002, "tokens_total": 1500}'
