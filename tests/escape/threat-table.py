#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build the verdict table of docs/threat-model.md from escape-suite reports.

    for rt in native podman docker; do
        ESCAPE_REPORT=/tmp/escape-$rt.tsv ctest --test-dir build -R escape_$rt
    done
    python3 tests/escape/threat-table.py /tmp/escape-*.tsv

Each report line (escape.c): backend, class, attack, verdict (HELD, LANDED,
ERROR, or N/A when the control could not land on that host), control, why.
The table replaces the text between the BEGIN/END markers of the doc when
--write docs/threat-model.md is given."""
import sys

WHAT = {
    "host-canary-read": "read a host file outside every mount (its path is known)",
    "host-canary-write": "append to that host file",
    "ro-mount-write": "create a file in a read-only extra mount",
    "ro-mount-remount-rw": "remount the read-only mount read-write, then write",
    "inherited-caller-fd": "use an fd the caller left open (not close-on-exec)",
    "host-environment": "find the caller's environment variables",
    "host-dev-shm-visible": "see a file in the host's /dev/shm",
    "chmod-dev-null": "chmod /dev/null to its own mode; host ctime must not move",
    "chown-dev-zero": "chown /dev/zero to its own owner; host ctime must not move",
    "touch-dev-full": "utimes(NULL) on /dev/full (needs only write permission)",
    "open-host-devices": "open /dev/mem, kmem, port, kmsg, vda/sda/nvme, console, tty0, net/tun, fuse, loop-control, vsock",
    "mknod-char-device": "mknod c 1 3 in /tmp",
    "mknod-host-disk-and-read": "mknod the host's root disk and read a sector",
    "open-dev-tty": "open /dev/tty (the caller's controlling terminal)",
    "tiocsti-into-caller": "TIOCSTI keystrokes into the caller's terminal; the caller reads its input queue",
    "seccomp-tiocsti": "ioctl(TIOCSTI) reaches the kernel (ENOTTY) instead of being filtered",
    "seccomp-tioclinux": "ioctl(TIOCLINUX) reaches the kernel instead of being filtered",
    "same-session": "/proc/self/stat session is 0: the session leader is outside the box",
    "controlling-tty": "/proc/self/stat tty_nr is set",
    "host-view-session": "from the host: the box process is in the caller's session",
    "host-view-ctty": "from the host: the box process has a controlling tty",
    "cap-eff-nonzero": "CapEff is not 0",
    "cap-bnd-nonzero": "CapBnd is not 0",
    "no-new-privs-off": "NoNewPrivs is 0",
    "no-seccomp-filter": "Seccomp is not 2 (filter)",
    "uid0-is-host-uid0": "/proc/self/uid_map maps 0 to host 0",
    "host-view-uid0": "from the host: the box process runs as host uid 0",
    "host-view-capeff": "from the host: the box process has capabilities",
    "host-view-nnp-seccomp": "from the host: no no_new_privs or no seccomp filter",
    "result-host-root-honest": "result.host_root disagrees with the host's view of the box's uid",
    "setuid-file-in-workspace": "copy a binary into /workspace, chmod 4755; host file keeps S_ISUID",
    "setgid-file-in-workspace": "the same with 2755",
    "setuid-root-owned-file": "chown 0:0 and chmod 4755; host file setuid root",
    "chown-to-foreign-uid": "chown a workspace file to 4242; host owner is neither caller nor workspace owner",
    "file-capability-xattr": "setxattr security.capability (cap_setuid+ep) on a workspace file",
    "device-node-in-workspace": "mknod a device node in /workspace; host sees it",
    "hardlink-host-file": "hard-link a host file visible in the box into /workspace",
    "mount-tmpfs": "mount(2) a tmpfs",
    "unshare-newuser": "unshare(CLONE_NEWUSER)",
    "userns-then-mount": "unshare(NEWUSER|NEWNS), map ids, mount a tmpfs",
    "clone-newuser": "clone(CLONE_NEWUSER)",
    "ptrace-sibling": "PTRACE_ATTACH to a forked sibling",
    "process-vm-readv": "process_vm_readv a sibling's memory",
    "keyctl-add-key": "add_key(2) to the process keyring",
    "bpf-map-create": "bpf(BPF_MAP_CREATE)",
    "perf-event-open": "perf_event_open a software counter",
    "io-uring-setup": "io_uring_setup",
    "userfaultfd": "userfaultfd(2)",
    "open-by-handle-at": "name_to_handle_at + open_by_handle_at (the 'shocker' escape)",
    "chroot": "chroot(2)",
    "socket-af-vsock": "socket(AF_VSOCK) (crosses VM boundaries, ignores netns)",
    "socket-af-packet": "socket(AF_PACKET, SOCK_RAW)",
    "socket-raw-icmp": "socket(AF_INET, SOCK_RAW, ICMP)",
    "socket-af-alg": "socket(AF_ALG) (kernel crypto API)",
    "netlink-route-dump": "RTM_GETLINK dump lists an interface other than lo",
    "only-lo": "/sys/class/net lists an interface other than lo",
    "no-route": "UDP connect to 198.51.100.1 finds a route (no packet is sent)",
    "no-dns": "a non-loopback nameserver of /etc/resolv.conf is routable",
    "host-abstract-unix-socket": "connect to an abstract unix socket the host listens on",
    "host-loopback-tcp": "connect to a TCP port the host listens on at 127.0.0.1",
    "engine-socket": "connect to docker.sock / podman.sock / containerd.sock",
    "write-sysrq-trigger": "open /proc/sysrq-trigger for writing (procfs, not masked)",
    "write-irq-smp-affinity": "open /proc/irq/N/smp_affinity for writing",
    "read-proc-kcore": "read the ELF header of /proc/kcore",
    "list-sys-firmware": "/sys/firmware lists entries",
    "write-core-pattern": "open /proc/sys/kernel/core_pattern for writing",
    "write-sysfs-knob": "open a /sys/kernel or /sys/power knob for writing",
    "read-oci-masked-paths": "read /proc/timer_list, keys, latency_stats, timer_stats, sched_debug, acpi, scsi",
    "kallsyms-addresses": "/proc/kallsyms shows real kernel addresses",
    "read-kernel-log": "syslog(2) READ_ALL returns the kernel log",
    "fork-bomb": "fork 256 processes with pids=64",
    "memory-hog": "touch 512 MiB with memory=128m",
    "dev-shm-fill": "write 96 MiB into /dev/shm (64 MiB cap)",
    "fill-workspace": "write 32 MiB into /workspace with disk_limit=16m; host file size checked",
    "fill-tmp": "write 32 MiB into /tmp with disk_limit=16m",
    "fill-var-tmp": "write 32 MiB into /var/tmp with disk_limit=16m",
    "fill-root": "write 32 MiB into the first writable directory of the root layer",
    "disk-limit-hit-reported": "result.disk_limit_hit is 1 after the fills",
    "caller-sigkill": "SIGKILL the caller; no box process, container or cgroup 5 s later",
    "caller-sigkill-cgroup-left": "the SIGKILLed caller's box leaves a cgroup directory 5 s later",
    "caller-sigterm": "the same with SIGTERM (no handler: the caller just dies)",
    "deadline-after-caller-death": "timeout 2 s, caller SIGKILLed at start: box gone 4 s later",
    "daemon-outlives-run": "the box's setsid double-forked daemon is alive after the run returned",
    "path-empty-entry": "PATH=':/usr/bin...' with ./podman and ./docker planted in the caller's cwd",
    "path-dot-entry": "the same with a '.' entry",
    "path-relative-entry": "the same with a relative 'bin' entry",
    "symlink-planted-in-workspace": "plant /workspace links to /etc/shadow and to a host canary; host must not follow (canary atime, content, no regular file)",
    "symlink-read-back-canary": "a second box reads the planted canary link; must not get the host file",
    "symlink-read-back-shadow": "a second box reads the planted /etc/shadow link; must not get the host's",
    "mount-box-path-dotdot": "extra mount at /data/../etc must be refused with SANDBOX_EINVAL",
    "hardlink-amplify-commit": "a 4 MiB file and 8 hard links in a 16m workspace; the names' cost on the host checked",
    "delete-through-workspace-mount": "rm -rf of a directory that is a mount point in the host workspace, then a file there; the mounted files must stay",
    "workspace-is-planted-symlink": "box 1 plants <ws>/out -> a host dir; box 2 runs with workspace <ws>/out and must not get that dir",
    "mountpoint-symlink-in-image": "an image whose /mnt links to a host dir, a mount at /mnt/sub: the host dir must stay empty",
    "oom-file-in-caller-cwd": "after an OOM kill nothing appears in the caller's cwd (conmon's 'oom' file)",
}

ORDER = ["native", "podman", "docker"]


def main(argv):
    write = None
    if len(argv) > 2 and argv[1] == "--write":
        write, argv = argv[2], argv[2:]
    rows, seen = {}, []
    for path in argv[1:]:
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) < 5:
                    continue
                be, cls, name, verdict = p[0], p[1], p[2], p[3]
                if (cls, name) not in rows:
                    rows[(cls, name)] = {}
                    seen.append((cls, name))
                rows[(cls, name)][be] = verdict
    out = ["| class | attack | what it tries | native | podman | docker |",
           "| --- | --- | --- | --- | --- | --- |"]
    for cls, name in seen:
        v = rows[(cls, name)]
        cells = []
        for be in ORDER:
            x = v.get(be, "-")
            cells.append("**LANDED**" if x == "LANDED" else x)
        out.append("| %s | `%s` | %s | %s |" % (cls, name, WHAT.get(name, ""),
                                               " | ".join(cells)))
    table = "\n".join(out) + "\n"
    if not write:
        sys.stdout.write(table)
        return 0
    doc = open(write).read()
    b, e = "<!-- BEGIN verdicts -->\n", "<!-- END verdicts -->"
    i, j = doc.index(b) + len(b), doc.index(e)
    open(write, "w").write(doc[:i] + table + doc[j:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
