#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run) and as the README says:
#   1. scripts/install.sh --no-run   packages, engines, images, ./build
#   2. style and static analysis     clang-format, cppcheck
#   3. ctest in ./build              unit, integration (podman + docker), valgrind
#   4. ASan+UBSan build              unit + integration again; fuzzers
#   5. install + consumers           pkg-config and find_package(libsandbox)
#   6. Python drop-in (pytest)       if examples/python exists
#   7. hygiene                       no container of ours left in either engine
# Options: --quick skips the sanitizer build and valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

step() { printf '\n==== %s\n' "$*"; }
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"

step "setup (scripts/install.sh --no-run)"
$SUDO ./scripts/install.sh --no-run

step "style: clang-format"
mapfile -t csrc < <(git ls-files '*.c' '*.h' 2>/dev/null || true)
if ((${#csrc[@]})); then
    clang-format --dry-run -Werror "${csrc[@]}"
fi

step "static analysis: cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
    --inline-suppr --std=c11 -D_GNU_SOURCE -I libsandbox/include \
    --suppress=missingIncludeSystem libsandbox/src cli bench

step "ctest: unit, integration (podman, docker), valgrind"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANDBOX_BUILD_CLI=ON >/dev/null
cmake --build build -j2
labels="unit|integration|cli|valgrind"
((quick)) && labels="unit|integration|cli"
ctest --test-dir build -L "$labels" --output-on-failure

if ((!quick)); then
    step "ASan+UBSan build: unit + integration"
    cmake -S . -B build-asan -DSANDBOX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_C_COMPILER=clang >/dev/null
    cmake --build build-asan -j2
    ctest --test-dir build-asan -L "unit|integration" --output-on-failure
fi

if ((!quick)); then
    step "fuzzers: formatter and option parsing (libFuzzer, 20 s each)"
    cmake -S . -B build-fuzz -DSANDBOX_FUZZ=ON -DCMAKE_C_COMPILER=clang \
        -DCMAKE_BUILD_TYPE=Debug -DSANDBOX_BUILD_CLI=OFF \
        -DSANDBOX_BUILD_BENCH=OFF >/dev/null
    cmake --build build-fuzz -j2 --target fuzz_format fuzz_opts
    ctest --test-dir build-fuzz -L fuzz --output-on-failure
fi

step "install and consume (pkg-config, CMake package)"
prefix=$(mktemp -d /tmp/libsandbox-prefix.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install build --prefix "$prefix" >/dev/null
./tests/consumers.sh "$prefix"

if [[ -f examples/python/test_sandbox_py.py ]]; then
    step "Python drop-in (pytest, Debian python3 with python3-pytest)"
    LIBSANDBOX_PATH="$ROOT/build/libsandbox/libsandbox.so.0" \
        SANDBOX_CLI="$ROOT/build/cli/sandbox" \
        /usr/bin/python3 -m pytest -q examples/python
fi

step "hygiene: no container of ours left"
left=0
for rt in podman docker; do
    n=$($rt ps -a -q --filter label=io.libsandbox.owner | wc -l)
    echo "$rt: $n container(s) labelled io.libsandbox.owner"
    left=$((left + n))
done
((left == 0)) || { echo "containers left behind" >&2; exit 1; }
echo
echo "all tests passed"
