#!/usr/bin/env bash
# Make podman and docker usable on this host (idempotent):
#   * write the podman containers.conf drop-in (runc, cgroupfs, file
#     events logger, lowered default nofile ulimit);
#   * clean up stale dockerd/containerd pid files and sockets;
#   * start dockerd in the background if it is not already answering and
#     wait (bounded) for `docker info`.
# See docs/setup.md for the reasons behind each setting.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="start-engines"
require_root "$0" "$@"

usage() {
    cat <<EOF
usage: $0 [--podman-only|--docker-only]
EOF
}

do_podman=1
do_docker=1
while [[ $# -gt 0 ]]; do
    case "$1" in
    --podman-only) do_docker=0 ;;
    --docker-only) do_podman=0 ;;
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

# ---------------------------------------------------------------- podman --
# Podman (rootful) raises RLIMIT_NOFILE to 1048576 and RLIMIT_NPROC to
# 4194304 in every container.  Without CAP_SYS_RESOURCE, anything above the
# host's hard limits (e.g. a hard nofile of 20000) makes runc fail with
# "error setting rlimit type 6/7: operation not permitted".  Pin nofile to
# 1024:1024 and nproc to this host's own limit.  Podman itself lowers its
# (and so conmon's/runc's) RLIMIT_NPROC to kernel.pid_max, so the
# container's nproc must not exceed that either.
podman_ulimits() {
    local u=('"nofile=1024:1024"') hard pidmax
    hard="$(ulimit -Hu)"
    pidmax="$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 32768)"
    if [[ "${hard}" == unlimited ]] || ((hard > pidmax)); then
        hard="${pidmax}"
    fi
    u+=("\"nproc=${hard}:${hard}\"")
    local IFS=,
    printf '[%s]' "${u[*]}"
}

write_containers_conf() {
    local want
    want="$(
        cat <<EOF
# Written by libsandbox scripts/start-engines.sh -- see docs/setup.md.
[containers]
# Podman's default rlimits (nofile=1048576, nproc=4194304) exceed this
# host's hard limits, which makes every 'podman run' fail.
default_ulimits = $(podman_ulimits)

[engine]
# crun 1.8 (Debian 12) fails on hybrid/v1 cgroup hosts; runc works.
runtime = "runc"
# systemd is not necessarily PID 1: manage cgroups directly and log
# events to a file instead of journald.
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    )"
    if [[ -f "${CONTAINERS_CONF_DROPIN}" ]] && [[ "$(cat "${CONTAINERS_CONF_DROPIN}")" == "${want}" ]]; then
        log "podman: ${CONTAINERS_CONF_DROPIN} up to date"
    else
        mkdir -p "$(dirname "${CONTAINERS_CONF_DROPIN}")"
        printf '%s\n' "${want}" >"${CONTAINERS_CONF_DROPIN}.tmp"
        mv -f "${CONTAINERS_CONF_DROPIN}.tmp" "${CONTAINERS_CONF_DROPIN}"
        log "podman: wrote ${CONTAINERS_CONF_DROPIN}"
    fi
}

check_podman() {
    command -v podman >/dev/null 2>&1 || die "podman is not installed (run scripts/install.sh)"
    local info
    if ! info="$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.EventLogger}} {{.Store.GraphDriverName}}' 2>&1)"; then
        warn "podman info failed; trying 'podman system migrate' to clear stale state"
        podman system migrate >/dev/null 2>&1 || true
        info="$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.EventLogger}} {{.Store.GraphDriverName}}' 2>&1)" ||
            die "podman info fails: ${info}"
    fi
    # shellcheck disable=SC2086
    set -- ${info}
    [[ "$1" == runc ]] || die "podman uses OCI runtime '$1', expected runc (is ${CONTAINERS_CONF_DROPIN} read?)"
    log "podman: ok (runtime=$1 cgroup_manager=$2 events_logger=$3 storage=$4)"
}

# ---------------------------------------------------------------- docker --
# User namespace remapping: the box's root must never be host root, on
# docker as on podman (--uidmap) and native.  dockerd refuses root as the
# remap user, so a system user `dockremap` gets the SAME subordinate range
# as root (100000:65536 by default): every backend maps box uid 0 to host
# uid 100000.  With remapping, dockerd keeps its images and containers in
# /var/lib/docker/<uid>.<gid>, so build-images.sh imports into that store.
DOCKER_REMAP_USER="${DOCKER_REMAP_USER:-dockremap}"
DOCKER_REMAP_RANGE="${DOCKER_REMAP_RANGE:-}"
DOCKERD_FLAGS+=(--userns-remap="${DOCKER_REMAP_USER}")

# The range to give dockremap: root's own (first root line of /etc/subuid),
# else 100000:65536.
remap_range() {
    if [[ -n "${DOCKER_REMAP_RANGE}" ]]; then
        printf '%s\n' "${DOCKER_REMAP_RANGE}"
        return 0
    fi
    local r
    r="$(awk -F: '($1 == "root" || $1 == "0") && $3 >= 65536 { print $2 ":65536"; exit }' /etc/subuid 2>/dev/null || true)"
    printf '%s\n' "${r:-100000:65536}"
}

# Idempotent: create the user and its /etc/subuid + /etc/subgid lines.
ensure_remap_user() {
    if ! getent passwd "${DOCKER_REMAP_USER}" >/dev/null; then
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "${DOCKER_REMAP_USER}" ||
            die "cannot create the userns-remap user ${DOCKER_REMAP_USER}"
        log "docker: created system user ${DOCKER_REMAP_USER}"
    fi
    local range f
    range="$(remap_range)"
    for f in /etc/subuid /etc/subgid; do
        touch "${f}"
        if ! grep -q "^${DOCKER_REMAP_USER}:" "${f}"; then
            printf '%s:%s\n' "${DOCKER_REMAP_USER}" "${range}" >>"${f}"
            log "docker: ${f}: ${DOCKER_REMAP_USER}:${range}"
        elif ! grep -qx "${DOCKER_REMAP_USER}:${range}" "${f}"; then
            warn "${f} gives ${DOCKER_REMAP_USER} $(grep "^${DOCKER_REMAP_USER}:" "${f}" | head -n1 | cut -d: -f2-), not ${range}: docker boxes map root elsewhere than podman's"
        fi
    done
}

# Does the running daemon remap user namespaces?
docker_remapped() {
    local cli
    cli="$(docker_cli)" || return 1
    "${cli}" info --format '{{json .SecurityOptions}}' 2>/dev/null | grep -q 'name=userns'
}

# A daemon started without remapping (an older start-engines.sh, or by
# hand) is restarted once: stop it, wait for it to go, start it again.
restart_unremapped_dockerd() {
    docker_up || return 0
    docker_remapped && return 0
    local pid running
    pid="$(dockerd_pid || true)"
    [[ -n "${pid}" ]] || die "docker answers but no dockerd process is visible; restart it with --userns-remap=${DOCKER_REMAP_USER} by hand"
    running="$("$(docker_cli)" ps -q | wc -l)"
    warn "docker: dockerd (pid ${pid}) runs without userns-remap; restarting it (${running} running containers will stop)"
    kill -TERM "${pid}"
    local start=${SECONDS}
    while pid_alive "${pid}"; do
        ((SECONDS - start < 30)) || die "dockerd (pid ${pid}) did not stop within 30 s"
        sleep 0.2
    done
}

# A live (non-zombie) process?  PID 1 on some hosts does not reap orphans
# promptly, so a killed dockerd can linger as a zombie.
pid_alive() {
    [[ -n "$1" && -r "/proc/$1/stat" ]] || return 1
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

# First live dockerd pid, if any.
dockerd_pid() {
    local p
    for p in $(pgrep -x dockerd || true); do
        if pid_alive "${p}"; then
            printf '%s\n' "${p}"
            return 0
        fi
    done
    return 1
}

cleanup_stale_docker() {
    local pid f
    # dockerd refuses to start if its pidfile names a live process, and a
    # leftover socket/pid from a killed daemon confuses clients.
    if [[ -f "${DOCKERD_PIDFILE}" ]]; then
        pid="$(cat "${DOCKERD_PIDFILE}" 2>/dev/null || true)"
        if ! pid_alive "${pid}"; then
            log "docker: removing stale pidfile ${DOCKERD_PIDFILE} (pid ${pid:-?})"
            rm -f "${DOCKERD_PIDFILE}"
        fi
    fi
    for f in /var/run/docker/containerd/containerd.pid /run/docker/containerd/containerd.pid; do
        [[ -f "${f}" ]] || continue
        pid="$(cat "${f}" 2>/dev/null || true)"
        if ! pid_alive "${pid}"; then
            log "docker: removing stale ${f}"
            rm -f "${f}"
        fi
    done
    if [[ -S "${DOCKER_SOCK}" ]] && ! dockerd_pid >/dev/null; then
        log "docker: removing stale socket ${DOCKER_SOCK}"
        rm -f "${DOCKER_SOCK}"
    fi
}

start_dockerd() {
    command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed (run scripts/install.sh)"
    if docker_up; then
        log "docker: daemon already running ($(docker_cli))"
        return 0
    fi
    local pid=""
    pid="$(dockerd_pid || true)"
    if [[ -n "${pid}" ]]; then
        log "docker: dockerd (pid ${pid}) is running but not answering yet; waiting"
    else
        cleanup_stale_docker
        mkdir -p "$(dirname "${DOCKERD_LOG}")"
        log "docker: starting dockerd ${DOCKERD_FLAGS[*]} (log: ${DOCKERD_LOG})"
        # setsid + nohup: the daemon must outlive this script and its
        # session; stdin from /dev/null so it never holds our terminal.
        setsid nohup dockerd "${DOCKERD_FLAGS[@]}" >>"${DOCKERD_LOG}" 2>&1 </dev/null &
        pid=$!
        disown "${pid}" 2>/dev/null || true
    fi
    local start=${SECONDS}
    while ((SECONDS - start < DOCKERD_WAIT_SECONDS)); do
        if docker_up; then
            log "docker: daemon up after ~$((SECONDS - start))s ($(docker_cli))"
            return 0
        fi
        if ! pid_alive "${pid}" && ! dockerd_pid >/dev/null; then
            tail -n 20 "${DOCKERD_LOG}" >&2 || true
            die "dockerd exited during startup; see ${DOCKERD_LOG}"
        fi
        sleep 0.5
    done
    tail -n 20 "${DOCKERD_LOG}" >&2 || true
    die "dockerd did not answer 'docker info' within ${DOCKERD_WAIT_SECONDS}s; see ${DOCKERD_LOG}"
}

check_docker_cli() {
    local cli onpath
    cli="$(docker_cli)" || die "no docker client can talk to the daemon"
    onpath="$(command -v docker || true)"
    if [[ "${cli}" != "${onpath}" ]]; then
        warn "'docker' on PATH (${onpath:-none}) cannot talk to the daemon; ${cli} can."
        warn "Put $(dirname "${cli}") first in PATH, or set LIBSANDBOX_DOCKER_CLI=${cli}."
    fi
    log "docker: client ${cli} $("${cli}" version --format 'client {{.Client.Version}} / server {{.Server.Version}} (API {{.Server.APIVersion}})')"
}

if [[ ${do_podman} -eq 1 ]]; then
    write_containers_conf
    check_podman
fi
if [[ ${do_docker} -eq 1 ]]; then
    ensure_remap_user
    restart_unremapped_dockerd
    start_dockerd
    docker_remapped || die "dockerd runs without user namespace remapping (is --userns-remap=${DOCKER_REMAP_USER} refused? see ${DOCKERD_LOG})"
    log "docker: userns-remap=${DOCKER_REMAP_USER} ($(grep "^${DOCKER_REMAP_USER}:" /etc/subuid | head -n1)), root dir $("$(docker_cli)" info --format '{{.DockerRootDir}}')"
    check_docker_cli
fi
