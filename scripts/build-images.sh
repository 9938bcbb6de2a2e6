#!/usr/bin/env bash
# Build the container images libsandbox's tests use, locally, without any
# registry, and import them into podman and docker:
#
#   busybox:latest           rootfs from Debian's busybox-static
#   debian:stable-slim       debootstrap --variant=minbase <codename>
#   libsandbox-python:latest debootstrap minbase + python3, python3-pytest
#                            (skip with --no-python; ~45 s extra on first build)
#
# Images that already exist in an engine are left alone unless --force.
# "Exist" is asked of the running engine, so a dockerd restarted with
# --userns-remap (whose store is /var/lib/docker/<uid>.<gid>, empty at
# first) gets its own imports; running the script again is a no-op.
# Root filesystems are cached as tarballs under $LIBSANDBOX_CACHE_DIR
# (default /var/cache/libsandbox) so re-imports are fast; --rebuild
# throws the cache away.  The debootstrap mirror is read from this
# machine's apt sources (override: LIBSANDBOX_DEBIAN_MIRROR).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="build-images"
require_root "$0" "$@"

usage() {
    cat <<EOF
usage: $0 [options]
  --no-python     do not build libsandbox-python:latest
  --python        build libsandbox-python:latest (the default)
  --force         re-import images even if they already exist
  --rebuild       discard cached rootfs tarballs and rebuild them (implies --force)
  --podman-only   only import into podman
  --docker-only   only import into docker
  --no-verify     skip the 'run echo ok' check in each engine
  --verify        run the check even if this exact setup was verified before
EOF
}

want_python=1
force=0
rebuild=0
verify=1
engines=(podman docker)
while [[ $# -gt 0 ]]; do
    case "$1" in
    --python) want_python=1 ;;
    --no-python) want_python=0 ;;
    --force) force=1 ;;
    --rebuild)
        rebuild=1
        force=1
        ;;
    --podman-only) engines=(podman) ;;
    --docker-only) engines=(docker) ;;
    --no-verify) verify=0 ;;
    --verify) verify=2 ;;
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

# shellcheck disable=SC1091
CODENAME="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
CODENAME="${LIBSANDBOX_DEBIAN_SUITE:-${CODENAME:-bookworm}}"
IMG_PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

mkdir -p "${LIBSANDBOX_CACHE_DIR}"
WORKDIRS=()

# Unmount anything left mounted below a rootfs (debootstrap mounts /proc,
# /sys, ... inside the target) and delete it without crossing filesystems.
remove_rootfs() {
    local dir="$1" m
    [[ -d "${dir}" ]] || return 0
    while read -r m; do
        if [[ -n "${m}" ]]; then
            umount -l "${m}" 2>/dev/null || true
        fi
    done < <(awk -v d="${dir}/" 'index($2 "/", d) == 1 { print $2 }' /proc/self/mounts | sort -r)
    rm -rf --one-file-system "${dir}"
}

cleanup() {
    local d
    for d in "${WORKDIRS[@]}"; do
        remove_rootfs "${d}"
    done
}
trap cleanup EXIT

new_workdir() {
    local d
    d="$(mktemp -d "${LIBSANDBOX_CACHE_DIR}/work.XXXXXX")"
    WORKDIRS+=("${d}")
    printf '%s\n' "${d}"
}

# Deterministic tarball of a rootfs (sorted, fixed mtime, numeric owners),
# without device nodes or pseudo-filesystem contents.
tar_rootfs() {
    local rootfs="$1" out="$2"
    tar --create --file="${out}.tmp" --directory="${rootfs}" \
        --sort=name --numeric-owner --mtime='2000-01-01 00:00:00Z' \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        --exclude='./run/*' .
    mv -f "${out}.tmp" "${out}"
}

# ------------------------------------------------------------ rootfs: busybox
busybox_tarball() {
    local bb=/bin/busybox
    [[ -x "${bb}" ]] || die "${bb} missing (apt-get install busybox-static)"
    local ver out
    ver="$("${bb}" 2>&1 | head -n1 | awk '{ print $2 }')"
    out="${LIBSANDBOX_CACHE_DIR}/busybox-${ver:-unknown}.tar"
    if [[ -f "${out}" && ${rebuild} -eq 0 ]]; then
        printf '%s\n' "${out}"
        return 0
    fi
    log "busybox: building rootfs from ${bb} (${ver})"
    local work rootfs applet full
    work="$(new_workdir)"
    rootfs="${work}/rootfs"
    mkdir -p "${rootfs}"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var/tmp,workspace,dev,proc,sys,run,home}
    chmod 1777 "${rootfs}/tmp" "${rootfs}/var/tmp"
    chmod 0700 "${rootfs}/root"
    install -m 0755 "${bb}" "${rootfs}/bin/busybox"
    # Every applet in /bin (like the upstream busybox image), plus its
    # canonical location (/usr/bin/env, /sbin/ip, ...) when different.
    while read -r applet; do
        [[ -n "${applet}" && "${applet}" != busybox ]] || continue
        ln -sf busybox "${rootfs}/bin/${applet}"
    done < <("${bb}" --list)
    while read -r full; do
        [[ -n "${full}" && "${full}" != bin/* ]] || continue
        [[ -e "${rootfs}/${full}" || -L "${rootfs}/${full}" ]] && continue
        ln -s /bin/busybox "${rootfs}/${full}"
    done < <("${bb}" --list-full)
    cat >"${rootfs}/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"${rootfs}/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
    printf 'hosts: files dns\n' >"${rootfs}/etc/nsswitch.conf"
    tar_rootfs "${rootfs}" "${out}"
    remove_rootfs "${work}"
    printf '%s\n' "${out}"
}

# ------------------------------------------------------------- rootfs: debian
# Shrink a debootstrapped rootfs the way the official *-slim images do and
# strip host-specific files.
slim_debian_rootfs() {
    local rootfs="$1"
    mkdir -p "${rootfs}/etc/dpkg/dpkg.cfg.d" "${rootfs}/etc/apt/apt.conf.d"
    cat >"${rootfs}/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# Like debian:*-slim: keep docs, man pages and translations out.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    cat >"${rootfs}/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    printf '#!/bin/sh\nexit 101\n' >"${rootfs}/usr/sbin/policy-rc.d"
    chmod 0755 "${rootfs}/usr/sbin/policy-rc.d"
    find "${rootfs}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "${rootfs}/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "${rootfs}"/usr/share/{man,groff,info,lintian,linda,locale}/* \
        "${rootfs}"/var/cache/apt/archives/*.deb \
        "${rootfs}"/var/cache/apt/*.bin \
        "${rootfs}"/var/lib/apt/lists/* \
        "${rootfs}"/var/log/*.log "${rootfs}"/var/log/apt/* \
        "${rootfs}"/var/cache/ldconfig/aux-cache \
        "${rootfs}"/tmp/* "${rootfs}"/var/tmp/*
    # Host specific: engines provide their own.
    : >"${rootfs}/etc/resolv.conf"
    printf 'localhost\n' >"${rootfs}/etc/hostname"
    : >"${rootfs}/etc/machine-id"
    mkdir -p "${rootfs}/workspace"
}

# debian_tarball NAME [extra debootstrap packages...]
debian_tarball() {
    local name="$1"
    shift
    local out="${LIBSANDBOX_CACHE_DIR}/${name}.tar"
    if [[ -f "${out}" && ${rebuild} -eq 0 ]]; then
        printf '%s\n' "${out}"
        return 0
    fi
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing (apt-get install debootstrap)"
    local mirror
    mirror="$(apt_mirror "${CODENAME}")" ||
        die "cannot find a '${CODENAME}' mirror in /etc/apt/sources.list{,.d/*}; set LIBSANDBOX_DEBIAN_MIRROR"
    local include=()
    if [[ $# -gt 0 ]]; then
        include=("--include=$(
            IFS=,
            printf '%s' "$*"
        )")
    fi
    local work rootfs t0
    work="$(new_workdir)"
    rootfs="${work}/rootfs"
    mkdir -p "${LIBSANDBOX_CACHE_DIR}/debs"
    t0="$(now)"
    log "${name}: debootstrap --variant=minbase ${include[*]} ${CODENAME} ${mirror} (log: ${LIBSANDBOX_CACHE_DIR}/${name}.debootstrap.log)"
    if ! debootstrap --variant=minbase --cache-dir="${LIBSANDBOX_CACHE_DIR}/debs" \
        "${include[@]}" "${CODENAME}" "${rootfs}" "${mirror}" \
        >"${LIBSANDBOX_CACHE_DIR}/${name}.debootstrap.log" 2>&1; then
        tail -n 30 "${LIBSANDBOX_CACHE_DIR}/${name}.debootstrap.log" >&2 || true
        [[ -f "${rootfs}/debootstrap/debootstrap.log" ]] && tail -n 30 "${rootfs}/debootstrap/debootstrap.log" >&2
        die "${name}: debootstrap failed"
    fi
    log "${name}: debootstrap done in $(elapsed "${t0}")"
    slim_debian_rootfs "${rootfs}"
    tar_rootfs "${rootfs}" "${out}"
    remove_rootfs "${work}"
    printf '%s\n' "${out}"
}

# ----------------------------------------------------------------- engines
engine_cli() {
    case "$1" in
    podman) printf 'podman\n' ;;
    docker) docker_cli ;;
    esac
}

image_id() {
    local engine="$1" ref="$2" cli
    cli="$(engine_cli "${engine}")" || return 1
    "${cli}" image inspect --format '{{.Id}}' "${ref}" 2>/dev/null
}

# import_image ENGINE REF TARBALL
import_image() {
    local engine="$1" ref="$2" tarball="$3" cli old new
    cli="$(engine_cli "${engine}")" || die "${engine}: no working client"
    old="$(image_id "${engine}" "${ref}" || true)"
    log "${engine}: importing ${ref} from ${tarball}"
    local quiet=()
    [[ "${engine}" == podman ]] && quiet=(--quiet)
    "${cli}" import "${quiet[@]}" \
        --change 'CMD ["/bin/sh"]' \
        --change "ENV ${IMG_PATH_ENV}" \
        --change 'LABEL org.libsandbox.built-by=scripts/build-images.sh' \
        "${tarball}" "${ref}" >/dev/null
    new="$(image_id "${engine}" "${ref}")" || die "${engine}: ${ref} missing after import"
    if [[ -n "${old}" && "${old}" != "${new}" ]]; then
        # The previous image is now untagged; drop it unless still in use.
        "${cli}" rmi "${old}" >/dev/null 2>&1 || true
    fi
}

# ensure_image KEY PODMAN_REF DOCKER_REF TARBALL_FUNCTION [ARGS...]
ensure_image() {
    local key="$1" pref="$2" dref="$3"
    shift 3
    local engine ref needed=() tarball t0
    for engine in "${engines[@]}"; do
        ref="${pref}"
        [[ "${engine}" == docker ]] && ref="${dref}"
        if [[ ${force} -eq 0 ]] && image_id "${engine}" "${ref}" >/dev/null; then
            log "${engine}: ${ref} already present (use --force to re-import)"
        else
            needed+=("${engine}")
        fi
    done
    [[ ${#needed[@]} -gt 0 ]] || return 0
    t0="$(now)"
    tarball="$("$@")"
    log "${key}: rootfs tarball ${tarball} ($(du -h "${tarball}" | cut -f1)) ready in $(elapsed "${t0}")"
    for engine in "${needed[@]}"; do
        ref="${pref}"
        [[ "${engine}" == docker ]] && ref="${dref}"
        import_image "${engine}" "${ref}" "${tarball}"
    done
}

# verify_image SHORT_NAME [command...]
verify_image() {
    local short="$1" engine cli out
    shift
    for engine in "${engines[@]}"; do
        cli="$(engine_cli "${engine}")"
        # --pull=missing: the short name must resolve to the local image;
        # a pull attempt would fail (no registry) and fail the check.
        if ! out="$("${cli}" run --rm --pull=missing --network=none "${short}" "$@" 2>&1)"; then
            die "${engine}: '${short}' does not run: ${out}"
        fi
        log "${engine}: run ${short} -> $(printf '%s' "${out}" | tr '\n' ' ')"
    done
}

# ------------------------------------------------------------------- main
T_START="$(now)"
for engine in "${engines[@]}"; do
    case "${engine}" in
    podman) podman info >/dev/null 2>&1 || die "podman does not work; run scripts/start-engines.sh" ;;
    docker)
        docker_up || die "docker daemon is not reachable; run scripts/start-engines.sh"
        LIBSANDBOX_DOCKER_CLI="$(docker_cli)"
        ;;
    esac
done

ensure_image busybox docker.io/library/busybox:latest busybox:latest busybox_tarball
ensure_image debian docker.io/library/debian:stable-slim debian:stable-slim \
    debian_tarball "debian-${CODENAME}-minbase"
if [[ ${want_python} -eq 1 ]]; then
    ensure_image python localhost/libsandbox-python:latest libsandbox-python:latest \
        debian_tarball "debian-${CODENAME}-python" python3 python3-pytest
fi

# Fingerprint of what the check exercises: image IDs, engine versions and
# the podman drop-in.  Unchanged since the last successful check -> skip it.
verify_fingerprint() {
    local engine cli ref
    for engine in "${engines[@]}"; do
        cli="$(engine_cli "${engine}")"
        "${cli}" version --format '{{.Client.Version}}' 2>/dev/null || true
        # dockerd with userns-remap keeps a separate image store per
        # remapping (/var/lib/docker/<uid>.<gid>): switching it on or off
        # must re-run the check against the store actually in use.
        if [[ "${engine}" == docker ]]; then
            "${cli}" info --format '{{.DockerRootDir}} {{json .SecurityOptions}}' 2>/dev/null || true
        fi
        for ref in busybox:latest debian:stable-slim libsandbox-python:latest; do
            [[ "${ref}" == libsandbox-python:* && ${want_python} -eq 0 ]] && continue
            printf '%s %s %s\n' "${engine}" "${ref}" "$(image_id "${engine}" "${ref}" || true)"
        done
    done
    cat "${CONTAINERS_CONF_DROPIN}" 2>/dev/null || true
}

if [[ ${verify} -ge 1 ]]; then
    stamp="${LIBSANDBOX_CACHE_DIR}/verified.stamp"
    fp="$(verify_fingerprint | sha256sum | cut -d' ' -f1)"
    if [[ ${verify} -eq 1 && -f "${stamp}" && "$(cat "${stamp}")" == "${fp}" ]]; then
        log "images unchanged since last successful run check (use --verify to re-run it)"
    else
        rm -f "${stamp}"
        verify_image busybox sh -c 'echo ok'
        verify_image debian:stable-slim sh -c 'echo ok'
        if [[ ${want_python} -eq 1 ]]; then
            verify_image libsandbox-python:latest python3 -c 'import pytest; print("ok pytest", pytest.__version__)'
        fi
        printf '%s\n' "${fp}" >"${stamp}"
    fi
fi

# Untagged leftovers of earlier imports (their removal is skipped while a
# container still uses them).
for engine in "${engines[@]}"; do
    cli="$(engine_cli "${engine}")"
    for old in $("${cli}" images -q --filter dangling=true \
        --filter label=org.libsandbox.built-by=scripts/build-images.sh 2>/dev/null | sort -u); do
        if "${cli}" rmi "${old}" >/dev/null 2>&1; then
            log "${engine}: removed stale untagged image ${old}"
        fi
    done
done

for engine in "${engines[@]}"; do
    cli="$(engine_cli "${engine}")"
    log "${engine} images:"
    "${cli}" images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | sed 's/^/    /' |
        grep -E 'busybox|debian|libsandbox-python' >&2 || true
done
log "done in $(elapsed "${T_START}")"
