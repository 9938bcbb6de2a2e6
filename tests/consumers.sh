#!/usr/bin/env bash
# Build examples/minimal.c against an *installed* libsandbox, once through
# pkg-config and once through find_package(libsandbox), and run both.
# usage: tests/consumers.sh PREFIX
set -euo pipefail
prefix=$1
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/libsandbox-consumers.XXXXXX)
trap 'rm -rf "$work"' EXIT
libdir=$(find "$prefix" -name 'libsandbox.pc' -printf '%h\n' | head -n1)
export PKG_CONFIG_PATH="$libdir"
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64:$(dirname "$libdir")"
export LD_LIBRARY_PATH

# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror "$root/examples/minimal.c" \
    $(pkg-config --cflags --libs libsandbox) -o "$work/minimal-pc"
out=$("$work/minimal-pc" 'echo via-pkg-config' busybox:latest)
[[ "$out" == $'exit=0\n--- stdout ---\nvia-pkg-config\n--- stderr ---' ]] ||
    { echo "pkg-config consumer printed: $out" >&2; exit 1; }
echo "pkg-config consumer: ok"

# The other two examples, through pkg-config as well.
for ex in eval_dir structured box pool; do
    # shellcheck disable=SC2046
    cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "$root/examples/$ex.c" \
        $(pkg-config --cflags --libs libsandbox) -lpthread -o "$work/$ex"
done
mkdir -p "$work/scripts"
printf 'echo ok\n' >"$work/scripts/a-good.sh"
printf 'echo bad >&2; exit 4\n' >"$work/scripts/b-bad.sh"
printf 'sleep 30\n' >"$work/scripts/c-slow.sh"
table=$("$work/eval_dir" "$work/scripts" busybox:latest) && rc=0 || rc=$?
echo "$table"
[[ $rc -eq 1 ]] && grep -q '^a-good.sh *exited *0' <<<"$table" &&
    grep -q '^b-bad.sh *exited *4' <<<"$table" &&
    grep -q '^c-slow.sh *timeout *124' <<<"$table" ||
    { echo "eval_dir table is wrong" >&2; exit 1; }
echo "eval_dir example: ok"
# Boxes (0.3.0): state across execs, an exec timeout that leaves the box,
# put/get, a clear error after destroy; a pool whose every run is fresh.
for rt in native podman; do
    out=$("$work/box" "$rt" busybox:latest)
    echo "$out"
    grep -q '^read it back .*exited exit=0 out=state$' <<<"$out" &&
        grep -q '^timed out exec .*timeout exit=124' <<<"$out" &&
        grep -q '^sleepers left .*out=0$' <<<"$out" &&
        grep -q '^put + get round trip: ok' <<<"$out" &&
        grep -q '^exec after destroy: .*destroyed' <<<"$out" ||
        { echo "box example ($rt) is wrong" >&2; exit 1; }
done
out=$(SANDBOX_RUNTIME=native "$work/pool" 'echo one' 'echo two' 'echo three' \
    'test ! -e /tmp/seen && touch /tmp/seen && echo fresh' \
    'test ! -e /tmp/seen && touch /tmp/seen && echo fresh')
echo "$out"
[[ $(grep -c '^fresh$' <<<"$out") -eq 2 ]] && grep -q '^one$' <<<"$out" &&
    grep -q '^three$' <<<"$out" || { echo "pool example failed" >&2; exit 1; }
echo "box and pool examples: ok"
# The structured example, line by line: every line must match its pattern,
# in order, and there must be no other line (an empty stream once ran into
# the next field: "stderr:    0 of 0 bytes: wall: ...").
expect_lines() { # NAME OUTPUT PATTERN... (bash regexes, anchored)
    local name=$1 out=$2 i=0 line
    shift 2
    local -a got
    mapfile -t got <<<"$out"
    for pat in "$@"; do
        line=${got[i]-<no line>}
        [[ "$line" =~ ^${pat}$ ]] ||
            { printf '%s: line %d is "%s", expected /%s/\n%s\n' "$name" $((i + 1)) \
                "$line" "$pat" "$out" >&2; return 1; }
        i=$((i + 1))
    done
    ((${#got[@]} == i)) ||
        { printf '%s: %d lines, expected %d:\n%s\n' "$name" ${#got[@]} $i "$out" >&2; return 1; }
}
out=$("$work/structured" 'echo "$GREETING"; exit 3' busybox:latest native) && rc=0 || rc=$?
echo "$out"
[[ $rc -eq 3 ]] || { echo "structured example exited $rc, not 3" >&2; exit 1; }
expect_lines "structured (empty stderr)" "$out" \
    'rc:        0 \(success\)' \
    'reason:    exited' \
    'exit code: 3' \
    'stdout:    6 of 6 bytes: hello' \
    'stderr:    0 of 0 bytes' \
    'wall:      [0-9]+\.[0-9]{3} s on native as sandbox-[0-9a-f]+' \
    'memory:    peak [0-9]+ KiB' \
    'cpu:       [0-9]+\.[0-9]{3} s' \
    'message:   exited with code 3'
out=$("$work/structured" 'printf "a\nb"; printf "e1\n\ne3\n" >&2' busybox:latest native)
expect_lines "structured (two streams, several lines)" "$out" \
    'rc:        0 \(success\)' \
    'reason:    exited' \
    'exit code: 0' \
    'stdout:    3 of 3 bytes: a' \
    '           b' \
    'stderr:    7 of 7 bytes: e1' \
    ' *' \
    '           e3' \
    'wall:      [0-9]+\.[0-9]{3} s on native as sandbox-[0-9a-f]+' \
    'memory:    peak [0-9]+ KiB' \
    'cpu:       [0-9]+\.[0-9]{3} s'
echo "structured example: ok (line by line)"

mkdir -p "$work/cm"
cat >"$work/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(libsandbox 0.1 REQUIRED)
add_executable(minimal-cmake $root/examples/minimal.c)
target_link_libraries(minimal-cmake PRIVATE libsandbox::sandbox)
add_executable(minimal-static $root/examples/minimal.c)
target_link_libraries(minimal-static PRIVATE libsandbox::sandbox_static)
add_executable(eval-dir-cmake $root/examples/eval_dir.c)
target_compile_definitions(eval-dir-cmake PRIVATE _GNU_SOURCE)
target_link_libraries(eval-dir-cmake PRIVATE libsandbox::sandbox)
add_executable(structured-cmake $root/examples/structured.c)
target_link_libraries(structured-cmake PRIVATE libsandbox::sandbox)
CM
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm/build" >/dev/null
for exe in minimal-cmake minimal-static; do
    out=$("$work/cm/build/$exe" "echo via-$exe" busybox:latest)
    [[ "$out" == "exit=0"*"via-$exe"* ]] ||
        { echo "$exe printed: $out" >&2; exit 1; }
    echo "CMake package consumer ($exe): ok"
done
# Nothing private leaks out of the shared library.
extra=$(nm -D --defined-only "$prefix"/lib*/libsandbox.so.0 | awk '$2 == "T" {print $3}' |
    grep -v '^sandbox_' || true)
[[ -z "$extra" ]] || { echo "unexpected exported symbols: $extra" >&2; exit 1; }
"$work/cm/build/structured-cmake" 'echo cm' busybox:latest >/dev/null ||
    { echo "structured-cmake failed" >&2; exit 1; }
"$work/cm/build/eval-dir-cmake" "$work/scripts" busybox:latest >/dev/null || true
echo "CMake package consumers (eval_dir, structured): ok"
echo "exported symbols: only sandbox_*"
