#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run) and as the README says:
#   1. scripts/install.sh --no-run   packages, engines, images, ./build
#   2. style and static analysis     clang-format, cppcheck
#   3. build matrix                  4 build types x gcc/clang, dpkg-buildflags,
#                                    -Werror; configure + build only (ci-builds.sh)
#   4. ctest in ./build              unit, integration (podman + docker), valgrind;
#                                    the bench end-to-end runs (label bench-e2e,
#                                    ~12 min) only in step 5 unless --quick
#   5. ASan+UBSan build              unit + integration again; fuzzers
#   6. install + consumers           pkg-config and find_package(libsandbox)
#   7. Debian packages               dpkg-buildpackage, lintian, install, smoke
#                                    test, C consumer, purge (scripts/deb.sh)
#   8. Python drop-in (pytest)       if examples/python exists; the
#      libsandbox package (python/)  pip-installed offline into a temp dir
#   9. Slurm executor                scripts/slurm-up.sh, ctest -L slurm
#                                    (tests/bench/e2e_slurm.sh), slurm-down.sh,
#                                    no daemon left
#  10. hygiene                       no container of ours left in either engine
# Run it as root (no sudo needed), or as a user with sudo: the steps that
# need root (1 and 7) go through sudo then.
# Options: --quick skips the build matrix, the sanitizer build and valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck disable=SC2034  # read by lib.sh's log/die
LOG_TAG="test"
step_name="" step_t0=$SECONDS
step_done() { [[ -z "$step_name" ]] || printf '==== %s: %ds\n' "$step_name" $((SECONDS - step_t0)); }
step() {
    step_done
    step_name="$*" step_t0=$SECONDS
    printf '\n==== %s\n' "$*"
}

step "setup (scripts/install.sh --no-run)"
as_root ./scripts/install.sh --no-run

step "style: clang-format"
mapfile -t csrc < <(git ls-files '*.c' '*.h' 2>/dev/null || true)
if ((${#csrc[@]})); then
    clang-format --dry-run -Werror "${csrc[@]}"
fi

step "static analysis: cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
    --inline-suppr --std=c11 -D_GNU_SOURCE -I libsandbox/include \
    --suppress=missingIncludeSystem libsandbox/src libsandbox/relay cli bench

if ((!quick)); then
    step "build matrix: Release Debug RelWithDebInfo MinSizeRel x gcc clang (scripts/ci-builds.sh)"
    ./scripts/ci-builds.sh -j2
fi

step "ctest: unit, integration (podman, docker), valgrind"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANDBOX_BUILD_CLI=ON \
    -DSANDBOX_WERROR=ON >/dev/null
cmake --build build -j2
labels="unit|integration|cli|valgrind"
skip=()
((quick)) && labels="unit|integration|cli"
# The bench end-to-end tests (podman boxes for every fixture: ~12 of this
# step's 28 minutes) run once, under ASan+UBSan in the next step.
((quick)) || skip=(-LE bench-e2e)
ctest --test-dir build -L "$labels" "${skip[@]}" --output-on-failure

if ((!quick)); then
    step "ASan+UBSan build: unit + integration"
    cmake -S . -B build-asan -DSANDBOX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_C_COMPILER=clang -DSANDBOX_WERROR=ON >/dev/null
    cmake --build build-asan -j2
    ctest --test-dir build-asan -L "unit|integration" --output-on-failure
fi

if ((!quick)); then
    step "fuzzers: formatter, option parsing, box get extraction (libFuzzer, 20 s each)"
    cmake -S . -B build-fuzz -DSANDBOX_FUZZ=ON -DCMAKE_C_COMPILER=clang \
        -DCMAKE_BUILD_TYPE=Debug -DSANDBOX_BUILD_CLI=OFF \
        -DSANDBOX_BUILD_BENCH=OFF -DSANDBOX_WERROR=ON >/dev/null
    cmake --build build-fuzz -j2 --target fuzz_format fuzz_opts fuzz_boxcopy
    ctest --test-dir build-fuzz -L fuzz --output-on-failure
fi

step "install and consume (pkg-config, CMake package)"
prefix=$(mktemp -d /tmp/libsandbox-prefix.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install build --prefix "$prefix" >/dev/null
./tests/consumers.sh "$prefix"

step "Debian packages: build, lintian, install, smoke test, C consumer, purge (scripts/deb.sh)"
as_root ./scripts/deb.sh

if [[ -f examples/python/test_sandbox_py.py ]]; then
    step "Python drop-in (pytest, Debian python3 with python3-pytest)"
    LIBSANDBOX_PATH="$ROOT/build/libsandbox/libsandbox.so.0" \
        SANDBOX_CLI="$ROOT/build/cli/sandbox" \
        /usr/bin/python3 -m pytest -q examples/python
fi

if [[ -f python/pyproject.toml ]]; then
    step "Python package libsandbox (pip install --no-build-isolation into a temporary dir, pytest)"
    pytarget=$(mktemp -d /tmp/libsandbox-py.XXXXXX)
    /usr/bin/python3 -m pip install -q --no-build-isolation --no-index \
        --no-deps --target "$pytarget" ./python
    PYTHONPATH="$pytarget" LIBSANDBOX_PATH="$ROOT/build/libsandbox/libsandbox.so.0" \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests
    rm -rf "$pytarget" python/build python/src/*.egg-info
fi

step "Slurm executor: single-node cluster (scripts/slurm-up.sh), ctest -L slurm, teardown"
as_root ./scripts/slurm-up.sh
slurm_rc=0
SLURM_CONF=/run/libsandbox-slurm/slurm.conf ctest --test-dir build -L slurm \
    --output-on-failure || slurm_rc=$?
slurm_pids=$(cat /run/libsandbox-slurm/{munged,slurmctld,slurmd}.pid 2>/dev/null || true)
as_root ./scripts/slurm-down.sh
for p in $slurm_pids; do
    if kill -0 "$p" 2>/dev/null; then echo "a Slurm daemon ($p) outlived slurm-down.sh" >&2; exit 1; fi
done
((slurm_rc == 0)) || { echo "ctest -L slurm failed" >&2; exit 1; }

step "hygiene: no container of ours left"
left=0
for rt in podman docker; do
    n=$($rt ps -a -q --filter label=io.libsandbox.owner | wc -l)
    echo "$rt: $n container(s) labelled io.libsandbox.owner"
    left=$((left + n))
done
((left == 0)) || { echo "containers left behind" >&2; exit 1; }
# Boxes (0.3.0): no exec kill group, no container control directory, no CLI
# box registry entry outlives the suite.
# A directory that is not there (the last box removed the kill groups' root)
# holds nothing: find's failure on it must not end the script (pipefail).
count_under() { if [[ -d "$1" ]]; then find "$@" | wc -l; else echo 0; fi; }
kg=$(count_under /sys/fs/cgroup/unified/libsandbox -mindepth 1 -type d)
ctl=$(find /tmp -maxdepth 1 -name 'libsandbox-box-*' | wc -l)
reg=$(count_under /run/libsandbox/cli-boxes -mindepth 1 -maxdepth 1)
echo "kill groups: $kg, container box control dirs: $ctl, CLI box registry entries: $reg"
((kg + ctl + reg == 0)) || { echo "box leftovers" >&2; exit 1; }
step_done
echo
echo "all tests passed"
