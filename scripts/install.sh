#!/usr/bin/env bash
# One-shot, idempotent setup for libsandbox on Debian 12.  Run it as root
# (no sudo needed), or as a user with sudo (it re-runs itself through sudo):
#   1. apt-get install the toolchain, podman, docker and image-building tools;
#   2. scripts/start-engines.sh   (podman containers.conf drop-in, dockerd);
#   3. scripts/build-images.sh    (busybox, debian:stable-slim, python image);
#   4. cmake configure + build into ./build;
#   5. cmake --install build (/usr/local), then `sandbox -- echo hi`
#      on the default image (smoke test, skip with --no-run).
# A second run only checks and takes a few seconds.  See docs/setup.md.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="install"
require_root "$0" "$@"

usage() {
    cat <<EOF
usage: $0 [options]
  --no-run        do not run './build/cli/sandbox -- echo hi' at the end
  --no-build      do not configure/build the project (implies --no-run)
  --no-images     do not build/import container images
  --no-python     do not build the libsandbox-python image
  --force-images  re-import images even if present (build-images.sh --force)
  --skip-apt      do not check/install Debian packages
EOF
}

run_smoke=1
do_build=1
do_images=1
do_apt=1
image_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --no-run) run_smoke=0 ;;
    --no-build)
        do_build=0
        run_smoke=0
        ;;
    --no-images) do_images=0 ;;
    --no-python) image_args+=(--no-python) ;;
    --force-images) image_args+=(--force) ;;
    --skip-apt) do_apt=0 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
    shift
done

ROOT="$(repo_root)"
SCRIPTS="${ROOT}/scripts"
T_ALL="$(now)"

PACKAGES=(
    # container engines and their helpers
    podman runc docker.io uidmap slirp4netns fuse-overlayfs bubblewrap iproute2
    # image building
    debootstrap busybox-static
    # build toolchain and libraries
    cmake gcc clang pkg-config git
    check libjansson-dev libsubunit-dev libseccomp-dev libxml2-dev libssl-dev
    libarchive-dev
    # analysis / test tooling
    valgrind cppcheck clang-format clang-tidy libclang-rt-14-dev python3-pytest
    python3-pip python3-setuptools python3-wheel
    shellcheck
    # Debian packages of the project (scripts/deb.sh)
    debhelper lintian
)

missing_packages() {
    local p status
    for p in "${PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${Status}' "${p}" 2>/dev/null || true)"
        [[ "${status}" == "install ok installed" ]] || printf '%s\n' "${p}"
    done
}

install_packages() {
    local missing t0
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "apt: all ${#PACKAGES[@]} packages already installed"
        return 0
    fi
    t0="$(now)"
    log "apt: installing ${#missing[@]} package(s): ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1
    # Keep maintainer scripts from starting services (dockerd, containerd)
    # with default flags; start-engines.sh starts dockerd the way we want.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e "${policy}" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"${policy}"
        chmod 0755 "${policy}"
        created_policy=1
    fi
    local rc=0
    apt-get update -q || rc=$?
    if [[ ${rc} -eq 0 ]]; then
        apt-get install -y -q \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "${missing[@]}" || rc=$?
    fi
    [[ ${created_policy} -eq 1 ]] && rm -f "${policy}"
    [[ ${rc} -eq 0 ]] || die "apt-get failed (exit ${rc})"
    mapfile -t missing < <(missing_packages)
    [[ ${#missing[@]} -eq 0 ]] || die "still missing after apt-get: ${missing[*]}"
    log "apt: done in $(elapsed "${t0}")"
}

# The boxes' root maps to an unprivileged host range (docs/threat-model.md):
# give root a subordinate range if it has none.  100000-165535 is the range
# Debian's useradd would hand the first user; we only add it when root has
# no line of its own in either file.
ensure_subids() {
    local f
    for f in /etc/subuid /etc/subgid; do
        touch "${f}"
        if ! grep -qE '^(root|0):' "${f}"; then
            printf 'root:100000:65536\n' >>"${f}"
            log "${f}: added root:100000:65536"
        fi
    done
}

step() {
    local name="$1" t0
    shift
    log "---- ${name}"
    t0="$(now)"
    "$@"
    log "---- ${name}: done in $(elapsed "${t0}")"
}

build_project() {
    if [[ ! -f "${ROOT}/CMakeLists.txt" ]]; then
        log "NOTE: ${ROOT}/CMakeLists.txt does not exist yet; skipping the build"
        return 0
    fi
    cd "${ROOT}"
    log "cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo"
    cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANDBOX_BUILD_CLI=ON >/dev/null ||
        die "cmake configure failed (re-run: cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo)"
    log "cmake --build build -j2"
    cmake --build build -j2 || die "build failed (re-run: cmake --build build -j2)"
    # Install library, header, pkg-config file, CMake package, CLI and man
    # page under /usr/local, so `sandbox` works from any directory.
    log "cmake --install build (prefix /usr/local)"
    cmake --install build --prefix /usr/local >/dev/null ||
        die "install failed (re-run: cmake --install build)"
    ldconfig
}

smoke_test() {
    cd "${ROOT}"
    if ! command -v sandbox >/dev/null; then
        log "NOTE: ./build/cli/sandbox is not built yet; skipping the smoke test"
        return 0
    fi
    # The installed CLI, on the default image (debian:stable-slim), from
    # the repository directory as its workspace.
    log "sandbox -- echo hi"
    sandbox -- echo hi || die "smoke test 'sandbox -- echo hi' failed"
}

if [[ ${do_apt} -eq 1 ]]; then
    step "packages" install_packages
fi
step "subordinate ids" ensure_subids
step "engines" "${SCRIPTS}/start-engines.sh"
if [[ ${do_images} -eq 1 ]]; then
    step "images" "${SCRIPTS}/build-images.sh" "${image_args[@]}"
fi
if [[ ${do_build} -eq 1 ]]; then
    step "build" build_project
fi
if [[ ${run_smoke} -eq 1 ]]; then
    step "smoke test" smoke_test
fi
log "all done in $(elapsed "${T_ALL}")"
