#!/usr/bin/env bash
# shellcheck disable=SC2015  # "A && B || fail": fail when either is false
# The Debian packages, as CI builds and checks them (scripts/test.sh):
#   1. copy the tree (tracked and untracked-but-not-ignored files, no build
#      directories) and run `dpkg-buildpackage -us -uc -b` in the copy;
#   2. lintian on the .changes: any error fails (warnings are listed, with
#      their reasons, in docs/packaging.md);
#   3. install the .debs (apt-get install ./*.deb), run the packaged CLI
#      (`/usr/bin/sandbox --runtime native --image busybox:latest --no-workspace -- echo hi`) and
#      build and run a C consumer against the packaged -dev files through
#      pkg-config, shared and static;
#   4. purge the packages again.  A /usr/local install (scripts/install.sh)
#      is left alone; the checks use only /usr paths so they cannot pass by
#      picking it up instead.
# Needs root (dpkg) and debhelper, lintian (scripts/install.sh installs
# them).  usage: scripts/deb.sh [--keep DIR]   (--keep: copy the .debs there)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=""
if [[ "${1:-}" == "--keep" ]]; then
    keep=$2
fi

log() { printf '==> [deb] %s\n' "$*" >&2; }
die() {
    printf '==> [deb] ERROR: %s\n' "$*" >&2
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs and removes packages)"
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null ||
        die "$tool not found; fix: apt-get install debhelper lintian dpkg-dev (or run scripts/install.sh)"
done

PKGS=(libsandbox0 libsandbox-dev sandbox sandbox-bench)
for p in "${PKGS[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        die "$p is already installed; this check installs and purges it: fix: apt-get purge ${PKGS[*]}"
    fi
done

export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=2}"
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
work=$(mktemp -d /tmp/libsandbox-deb.XXXXXX)
installed=0
cleanup() {
    if ((installed)); then
        log "purging ${PKGS[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${PKGS[@]}" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

t0=$SECONDS
src="$work/libsandbox-$version"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
    grep -zvE '^(build[^/]*|obj-[^/]*|debian/(\.debhelper|tmp|files|[^/]*\.substvars|[^/]*\.debhelper\.log|libsandbox0|libsandbox-dev|sandbox|sandbox-bench))/' |
    xargs -0 cp --parents -t "$src" 2>/dev/null || true
[[ -f "$src/debian/rules" ]] || die "copying the tree failed"
log "dpkg-buildpackage -us -uc -b in $src"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log" >&2
    die "dpkg-buildpackage failed (log above)"
fi
grep -E 'dpkg-gensymbols|warning' "$work/build.log" | grep -v '^ *$' || true
log "built in $((SECONDS - t0))s:"
(cd "$work" && ls -1 ./*.deb)

t0=$SECONDS
changes=$(ls "$work"/*.changes)
log "lintian $(basename "$changes")"
lintian_rc=0
TMPDIR=$work lintian --fail-on error --display-info "$changes" | tee "$work/lintian.txt" || lintian_rc=$?
((lintian_rc == 0)) || die "lintian reported errors (above)"
log "lintian: $(grep -c '^E:' "$work/lintian.txt" || true) error(s), $(grep -c '^W:' "$work/lintian.txt" || true) warning(s) in $((SECONDS - t0))s"
[[ -z "$keep" ]] || { mkdir -p "$keep" && cp "$work"/*.deb "$keep"/; }

t0=$SECONDS
log "apt-get install ${PKGS[*]} (the .debs just built)"
installed=1
debs=()
for p in "${PKGS[@]}"; do debs+=("./${p}_${version}_$(dpkg --print-architecture).deb"); done
(cd "$work" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${debs[@]}") >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; die "installing the packages failed"; }

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=/usr/lib/$ma
# /usr/local/lib comes first in ld.so.conf and in pkg-config's default path
# and /usr/local/include in the compiler's: point at /usr explicitly.
export LD_LIBRARY_PATH=$libdir
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig:/usr/share/pkgconfig
[[ "$(ldd /usr/bin/sandbox | awk '$1 == "libsandbox.so.0" {print $3}')" == "$libdir/libsandbox.so.0" ]] ||
    die "/usr/bin/sandbox does not load $libdir/libsandbox.so.0: $(ldd /usr/bin/sandbox)"
# busybox:latest, as tests/consumers.sh: built locally by build-images.sh.
podman image exists busybox:latest 2>/dev/null ||
    die "image busybox:latest is not in podman's storage; fix: scripts/build-images.sh"
log "smoke test: /usr/bin/sandbox --runtime native --image busybox:latest --no-workspace -- echo hi"
out=$(cd "$work" && /usr/bin/sandbox --runtime native --image busybox:latest --no-workspace -- echo hi)
[[ "$out" == $'exit=0\n--- stdout ---\nhi\n--- stderr ---' ]] ||
    die "packaged CLI printed: $out"
/usr/bin/sandbox --version
/usr/bin/sandbox-bench --version
/usr/bin/sandbox-bench report --help | grep -q '^usage: sandbox-bench report' ||
    die "packaged sandbox-bench report --help is wrong"
for m in sandbox sandbox-bench; do
    [[ -f /usr/share/man/man1/$m.1.gz ]] && dpkg -S /usr/share/man/man1/$m.1.gz | grep -q "^$m:" ||
        die "the $m package does not ship the man page $m(1)"
done

log "C consumer through pkg-config (PKG_CONFIG_LIBDIR=$PKG_CONFIG_LIBDIR)"
[[ "$(pkg-config --modversion libsandbox)" == "${version%%-*}" ]] ||
    die "pkg-config says libsandbox $(pkg-config --modversion libsandbox), the package is $version"
cat >"$work/consumer.c" <<'C'
#include <sandbox.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    sandbox_opts o;
    sandbox_result r;
    sandbox_opts_init(&o, sizeof o);
    sandbox_result_init(&r, sizeof r);
    o.runtime = "native";
    o.image = "busybox:latest";
    o.command = "echo from-the-package";
    int rc = sandbox_run(&o, &r);
    int ok = rc == 0 && r.exit_code == 0 && r.out.data &&
             strcmp(r.out.data, "from-the-package\n") == 0;
    printf("%s %s: rc %d exit %d\n", sandbox_version(), ok ? "ok" : "FAILED",
           rc, r.exit_code);
    sandbox_result_free(&r);
    return ok ? 0 : 1;
}
C
# -isystem /usr/include ahead of /usr/local/include: the packaged header.
cflags="-std=c11 -Wall -Wextra -Werror -isystem /usr/include"
# shellcheck disable=SC2086,SC2046
cc $cflags -M "$work/consumer.c" $(pkg-config --cflags libsandbox) |
    grep -q ' /usr/include/sandbox.h' || die "the consumer does not see /usr/include/sandbox.h"
# shellcheck disable=SC2086,SC2046
cc $cflags "$work/consumer.c" $(pkg-config --cflags --libs libsandbox) -o "$work/consumer"
# shellcheck disable=SC2086,SC2046
cc $cflags "$work/consumer.c" -Wl,-Bstatic $(pkg-config --libs-only-l libsandbox) -Wl,-Bdynamic \
    $(pkg-config --static --libs-only-other --libs-only-L libsandbox) \
    $(pkg-config --static --libs libseccomp) -o "$work/consumer-static"
(cd "$work" && ./consumer) || die "the pkg-config consumer failed"
(cd "$work" && ./consumer-static) || die "the static pkg-config consumer failed"
if ldd "$work/consumer-static" | grep -q libsandbox; then
    die "consumer-static links libsandbox.so"
fi
log "installed and checked in $((SECONDS - t0))s"

t0=$SECONDS
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${PKGS[@]}" >/dev/null
installed=0
for p in "${PKGS[@]}"; do
    ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        die "$p still installed after purge"
done
[[ ! -e /usr/bin/sandbox && ! -e "$libdir/libsandbox.so.0" ]] || die "files left after purge"
log "purged in $((SECONDS - t0))s; packages: ok"
