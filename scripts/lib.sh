# shellcheck shell=bash
# Shared helpers for scripts/install.sh, scripts/start-engines.sh,
# scripts/build-images.sh and scripts/test.sh.  Source it; do not execute it.

# Directory layout.
LIBSANDBOX_CACHE_DIR="${LIBSANDBOX_CACHE_DIR:-/var/cache/libsandbox}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKERD_PIDFILE="${DOCKERD_PIDFILE:-/var/run/docker.pid}"
DOCKER_SOCK="${DOCKER_SOCK:-/var/run/docker.sock}"
# shellcheck disable=SC2034  # used by the sourcing scripts
CONTAINERS_CONF_DROPIN="/etc/containers/containers.conf.d/50-libsandbox.conf"
DOCKERD_WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"

# Dockerd flags (see docs/setup.md for why each one is here).
# shellcheck disable=SC2034  # used by start-engines.sh
DOCKERD_FLAGS=(
    --host="unix://${DOCKER_SOCK}"
    --pidfile="${DOCKERD_PIDFILE}"
    --storage-driver=overlay2
    --exec-opt native.cgroupdriver=cgroupfs
    --default-ulimit nofile=1024:1024
    --iptables=true
    --ip-masq=true
)

log() { printf '==> [%s] %s\n' "${LOG_TAG:-libsandbox}" "$*" >&2; }
warn() { printf '==> [%s] WARNING: %s\n' "${LOG_TAG:-libsandbox}" "$*" >&2; }
die() {
    printf '==> [%s] ERROR: %s\n' "${LOG_TAG:-libsandbox}" "$*" >&2
    exit 1
}

# Re-exec the calling script as root when needed: as root nothing happens
# (a fresh Debian 12 where you are root has no sudo, and needs none);
# otherwise through sudo if it is installed; otherwise stop and say how.
# Usage: require_root "$0" "$@"
require_root() {
    if [[ ${EUID} -eq 0 ]]; then
        return 0
    fi
    if command -v sudo >/dev/null 2>&1; then
        log "not root; re-running through sudo"
        exec sudo --preserve-env=LIBSANDBOX_CACHE_DIR,LIBSANDBOX_DEBIAN_MIRROR,DOCKERD_WAIT_SECONDS \
            bash "$@"
    fi
    die "$(basename "$1") must run as root, and you are $(id -un) (uid ${EUID}) with no sudo installed; fix: run it as root (su -, then $1), or install sudo and give $(id -un) a sudoers entry"
}

# Run one command as root: directly when root, else through sudo, else stop
# with the fix (same rules as require_root).  Usage: as_root CMD ARG...
as_root() {
    if [[ ${EUID} -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo --preserve-env=LIBSANDBOX_CACHE_DIR,LIBSANDBOX_DEBIAN_MIRROR,DOCKERD_WAIT_SECONDS "$@"
    else
        die "'$*' must run as root, and you are $(id -un) (uid ${EUID}) with no sudo installed; fix: run it as root (su -), or install sudo and give $(id -un) a sudoers entry"
    fi
}

# Repository root (parent of scripts/).
repo_root() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    dirname "${here}"
}

# Seconds since the epoch with sub-second precision, for timing output.
now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1fs", e - s }'; }

# The docker client to use.  /usr/local/bin/docker may be a newer,
# independently installed CLI; prefer it only if it can talk to the
# daemon, otherwise fall back to Debian's /usr/bin/docker.
docker_cli() {
    if [[ -n "${LIBSANDBOX_DOCKER_CLI:-}" ]]; then
        printf '%s\n' "${LIBSANDBOX_DOCKER_CLI}"
        return 0
    fi
    local cand
    for cand in "$(command -v docker 2>/dev/null || true)" /usr/bin/docker; do
        [[ -n "${cand}" && -x "${cand}" ]] || continue
        if timeout 15 "${cand}" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
            LIBSANDBOX_DOCKER_CLI="${cand}"
            printf '%s\n' "${cand}"
            return 0
        fi
    done
    return 1
}

docker_up() {
    local cli
    cli="$(docker_cli)" || return 1
    timeout 15 "${cli}" info >/dev/null 2>&1
}

# Print the Debian archive mirror URL configured for apt on this machine.
# Reads one-line /etc/apt/sources.list{,.d/*.list} and deb822
# /etc/apt/sources.list.d/*.sources; picks the first "deb" entry whose
# suite is the release codename itself (not -security / -updates).
# LIBSANDBOX_DEBIAN_MIRROR overrides.
apt_mirror() {
    local codename="${1:-}"
    if [[ -n "${LIBSANDBOX_DEBIAN_MIRROR:-}" ]]; then
        printf '%s\n' "${LIBSANDBOX_DEBIAN_MIRROR}"
        return 0
    fi
    if [[ -z "${codename}" ]]; then
        # shellcheck disable=SC1091
        codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
    fi
    local files=() f
    [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f "${f}" ]] && files+=("${f}")
    done
    [[ ${#files[@]} -gt 0 ]] || return 1
    local url
    url="$(
        for f in "${files[@]}"; do
            if [[ "${f}" == *.sources ]]; then
                # deb822: blank-line separated stanzas, possibly with
                # continuation lines and comments.
                awk -v want="${codename}" '
                    function flush() {
                        if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false|0)$/) {
                            n = split(suites, s, " ")
                            for (i = 1; i <= n; i++) if (s[i] == want) {
                                split(uris, u, " "); print u[1]; exit
                            }
                        }
                        types = ""; suites = ""; uris = ""; enabled = ""; last = ""
                    }
                    /^[ \t]*#/ { next }
                    /^[ \t]*$/ { flush(); next }
                    /^[ \t]/ { if (last == "uris") uris = uris " " $0; next }
                    {
                        key = tolower($0); sub(/:.*/, "", key)
                        val = $0; sub(/^[^:]*:[ \t]*/, "", val); gsub(/[ \t]+/, " ", val)
                        last = key
                        if (key == "types") types = val
                        else if (key == "suites") suites = val
                        else if (key == "uris") uris = val
                        else if (key == "enabled") enabled = tolower(val)
                    }
                    END { flush() }
                ' "${f}"
            else
                # one-line: deb [opts] URI suite comp...
                awk -v want="${codename}" '
                    $1 != "deb" { next }
                    {
                        i = 2
                        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                        if ($(i + 1) == want) { print $i; exit }
                    }
                ' "${f}"
            fi
        done | head -n1
    )"
    [[ -n "${url}" ]] || return 1
    printf '%s\n' "${url%/}"
}
