#!/usr/bin/env bash
# The build matrix, as CI runs it from scripts/test.sh: every CMake build
# type with gcc and with clang, with Debian's hardening flags
# (dpkg-buildflags, hardening=+all) and -Werror (SANDBOX_WERROR=ON).
# Configure and build only; the tests are run once, by scripts/test.sh.
# Every target is built, the tests included (BUILD_TESTING=ON), because a
# warning that only an optimisation level shows can sit in a test.
#
# usage: scripts/ci-builds.sh [-j N] [TYPE...]   (default: all four types)
# Build trees go under ${CI_BUILDS_DIR:-/tmp/libsandbox-ci-builds} and are
# removed afterwards; a failing build's log is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

jobs=2
if [[ "${1:-}" == "-j" ]]; then
    jobs=$2
    shift 2
elif [[ "${1:-}" == -j[0-9]* ]]; then
    jobs=${1#-j}
    shift
fi
types=("$@")
((${#types[@]})) || types=(Release Debug RelWithDebInfo MinSizeRel)
compilers=(gcc clang)

command -v dpkg-buildflags >/dev/null ||
    { echo "ci-builds.sh: dpkg-buildflags not found; fix: apt-get install dpkg-dev" >&2; exit 1; }
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
# CMake reads CFLAGS and LDFLAGS but not CPPFLAGS: fold them in, as
# debhelper's cmake build system does.
CFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
export CFLAGS LDFLAGS
echo "CFLAGS=$CFLAGS"
echo "LDFLAGS=$LDFLAGS"

base=${CI_BUILDS_DIR:-/tmp/libsandbox-ci-builds}
mkdir -p "$base"
work=$(mktemp -d "$base/run.XXXXXX")
trap 'rm -rf "$work"; rmdir "$base" 2>/dev/null || true' EXIT

failed=()
t_all=$SECONDS
for cc in "${compilers[@]}"; do
    for type in "${types[@]}"; do
        dir="$work/$cc-$type"
        log="$dir.log"
        t0=$SECONDS
        if cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" \
            -DCMAKE_C_COMPILER="$cc" -DSANDBOX_WERROR=ON -DBUILD_TESTING=ON \
            -DSANDBOX_BUILD_CLI=ON -DSANDBOX_BUILD_BENCH=ON >"$log" 2>&1 &&
            cmake --build "$dir" -j"$jobs" >>"$log" 2>&1; then
            printf '%-6s %-15s ok   %3ds\n' "$cc" "$type" $((SECONDS - t0))
        else
            printf '%-6s %-15s FAIL %3ds\n' "$cc" "$type" $((SECONDS - t0))
            grep -E 'error|warning' "$log" | head -n 40 || tail -n 40 "$log"
            failed+=("$cc/$type")
        fi
        rm -rf "$dir"
    done
done
echo "build matrix: ${#compilers[@]} compilers x ${#types[@]} types in $((SECONDS - t_all))s"
if ((${#failed[@]})); then
    echo "build matrix FAILED: ${failed[*]}" >&2
    exit 1
fi
