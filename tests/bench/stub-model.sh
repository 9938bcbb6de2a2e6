#!/bin/sh
# A stand-in for a model CLI, driven by sandbox-bench's command template:
#   stub-model.sh FIXTURES_DIR {model} {workdir} {prompt_file}
# It checks what the implementer is allowed to see, then "implements" the
# task by copying fixture FIXTURES_DIR/<model>/ (every file) into the worktree,
# writes a transcript and prints a usage line like agent CLIs do.
set -eu
fixtures=$1 model=$2 workdir=$3 prompt=$4
[ "$(pwd)" = "$workdir" ] || { echo "cwd $(pwd) is not $workdir" >&2; exit 3; }
[ -f "$prompt" ] || { echo "no prompt file $prompt" >&2; exit 3; }
# Only PROMPT.md and SPEC.md (and git's own .git) may be in the worktree.
extra=$(ls -A "$workdir" | grep -v -e '^PROMPT.md$' -e '^SPEC.md$' -e '^.git$' || true)
[ -z "$extra" ] || { echo "unexpected files in the worktree: $extra" >&2; exit 4; }
cp -R "$fixtures/$model/." "$workdir/"
printf '# transcript of %s\nread PROMPT.md, wrote sandbox.py\n' "$model" > "$workdir/transcript.md"
echo "stub model $model: wrote sandbox.py"
echo '{"cost_usd": 0.0123, "tokens_total": 4567, "input_tokens": 4000, "output_tokens": 567}'
