/* SPDX-License-Identifier: MIT */
/* The one seccomp policy of every backend, and its OCI/docker JSON form.
 *
 * An allow-list modelled on moby's default profile for a container without
 * CAP_SYS_ADMIN and friends (docs/seccomp.md lists every difference): the
 * syscalls below are allowed, some only with the argument rules below,
 * everything else fails with EPERM, including syscalls newer than this
 * table.  native/seccomp.c compiles the rules with libseccomp; podman and
 * docker get the same rules as a profile file written here.
 *
 * Only rules that *allow* carry argument conditions: libseccomp refuses a
 * rule whose action is the default one (EPERM), and runc silently drops it
 * from a profile, so "deny when" is always written as "allow unless". */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* Allowed with any arguments, spelled as x86_64 names them (aarch64 lacks
 * the legacy ones, which are then skipped).  No 32-bit-only names and no
 * multiplexers (socketcall, ipc): they would bypass the argument rules. */
static const char *const allowed[] = {"accept",
                                      "accept4",
                                      "access",
                                      "alarm",
                                      "arch_prctl",
                                      "bind",
                                      "brk",
                                      "capget",
                                      "capset",
                                      "chdir",
                                      "chown",
                                      "clock_getres",
                                      "clock_gettime",
                                      "clock_nanosleep",
                                      "close",
                                      "close_range",
                                      "connect",
                                      "copy_file_range",
                                      "dup",
                                      "dup2",
                                      "dup3",
                                      "epoll_create",
                                      "epoll_create1",
                                      "epoll_ctl",
                                      "epoll_ctl_old",
                                      "epoll_pwait",
                                      "epoll_pwait2",
                                      "epoll_wait",
                                      "epoll_wait_old",
                                      "eventfd",
                                      "eventfd2",
                                      "execve",
                                      "execveat",
                                      "exit",
                                      "exit_group",
                                      "faccessat",
                                      "faccessat2",
                                      "fadvise64",
                                      "fallocate",
                                      "fanotify_mark",
                                      "fchdir",
                                      "fchown",
                                      "fchownat",
                                      "fcntl",
                                      "fdatasync",
                                      "fgetxattr",
                                      "flistxattr",
                                      "flock",
                                      "fork",
                                      "fremovexattr",
                                      "fsetxattr",
                                      "fstat",
                                      "fstatfs",
                                      "fsync",
                                      "ftruncate",
                                      "futex",
                                      "futex_waitv",
                                      "futimesat",
                                      "get_robust_list",
                                      "get_thread_area",
                                      "getcpu",
                                      "getcwd",
                                      "getdents",
                                      "getdents64",
                                      "getegid",
                                      "geteuid",
                                      "getgid",
                                      "getgroups",
                                      "getitimer",
                                      "getpeername",
                                      "getpgid",
                                      "getpgrp",
                                      "getpid",
                                      "getppid",
                                      "getpriority",
                                      "getrandom",
                                      "getresgid",
                                      "getresuid",
                                      "getrlimit",
                                      "getrusage",
                                      "getsid",
                                      "getsockname",
                                      "getsockopt",
                                      "gettid",
                                      "gettimeofday",
                                      "getuid",
                                      "getxattr",
                                      "inotify_add_watch",
                                      "inotify_init",
                                      "inotify_init1",
                                      "inotify_rm_watch",
                                      "io_cancel",
                                      "io_destroy",
                                      "io_getevents",
                                      "io_pgetevents",
                                      "io_setup",
                                      "io_submit",
                                      "ioprio_get",
                                      "ioprio_set",
                                      "kill",
                                      "landlock_add_rule",
                                      "landlock_create_ruleset",
                                      "landlock_restrict_self",
                                      "lchown",
                                      "lgetxattr",
                                      "link",
                                      "linkat",
                                      "listen",
                                      "listxattr",
                                      "llistxattr",
                                      "lremovexattr",
                                      "lseek",
                                      "lsetxattr",
                                      "lstat",
                                      "madvise",
                                      "membarrier",
                                      "memfd_create",
                                      "memfd_secret",
                                      "mincore",
                                      "mkdir",
                                      "mkdirat",
                                      "mlock",
                                      "mlock2",
                                      "mlockall",
                                      "mmap",
                                      "mprotect",
                                      "mq_getsetattr",
                                      "mq_notify",
                                      "mq_open",
                                      "mq_timedreceive",
                                      "mq_timedsend",
                                      "mq_unlink",
                                      "mremap",
                                      "msgctl",
                                      "msgget",
                                      "msgrcv",
                                      "msgsnd",
                                      "msync",
                                      "munlock",
                                      "munlockall",
                                      "munmap",
                                      "nanosleep",
                                      "newfstatat",
                                      "pause",
                                      "pidfd_open",
                                      "pidfd_send_signal",
                                      "pipe",
                                      "pipe2",
                                      "pkey_alloc",
                                      "pkey_free",
                                      "pkey_mprotect",
                                      "poll",
                                      "ppoll",
                                      "prctl",
                                      "pread64",
                                      "preadv",
                                      "preadv2",
                                      "prlimit64",
                                      "process_mrelease",
                                      "pselect6",
                                      "pwrite64",
                                      "pwritev",
                                      "pwritev2",
                                      "read",
                                      "readahead",
                                      "readlink",
                                      "readlinkat",
                                      "readv",
                                      "recvfrom",
                                      "recvmmsg",
                                      "recvmsg",
                                      "remap_file_pages",
                                      "removexattr",
                                      "rename",
                                      "renameat",
                                      "renameat2",
                                      "restart_syscall",
                                      "rmdir",
                                      "rseq",
                                      "rt_sigaction",
                                      "rt_sigpending",
                                      "rt_sigprocmask",
                                      "rt_sigqueueinfo",
                                      "rt_sigreturn",
                                      "rt_sigsuspend",
                                      "rt_sigtimedwait",
                                      "rt_tgsigqueueinfo",
                                      "sched_get_priority_max",
                                      "sched_get_priority_min",
                                      "sched_getaffinity",
                                      "sched_getattr",
                                      "sched_getparam",
                                      "sched_getscheduler",
                                      "sched_rr_get_interval",
                                      "sched_setaffinity",
                                      "sched_setattr",
                                      "sched_setparam",
                                      "sched_setscheduler",
                                      "sched_yield",
                                      "seccomp",
                                      "select",
                                      "semctl",
                                      "semget",
                                      "semop",
                                      "semtimedop",
                                      "sendfile",
                                      "sendmmsg",
                                      "sendmsg",
                                      "sendto",
                                      "set_robust_list",
                                      "set_thread_area",
                                      "set_tid_address",
                                      "setfsgid",
                                      "setfsuid",
                                      "setgid",
                                      "setgroups",
                                      "setitimer",
                                      "setpgid",
                                      "setpriority",
                                      "setregid",
                                      "setresgid",
                                      "setresuid",
                                      "setreuid",
                                      "setrlimit",
                                      "setsid",
                                      "setsockopt",
                                      "setuid",
                                      "setxattr",
                                      "shmat",
                                      "shmctl",
                                      "shmdt",
                                      "shmget",
                                      "shutdown",
                                      "sigaltstack",
                                      "signalfd",
                                      "signalfd4",

                                      "splice",
                                      "stat",
                                      "statfs",
                                      "statx",
                                      "symlink",
                                      "symlinkat",
                                      "sync",
                                      "sync_file_range",
                                      "syncfs",
                                      "sysinfo",
                                      "tee",
                                      "tgkill",
                                      "time",
                                      "timer_create",
                                      "timer_delete",
                                      "timer_getoverrun",
                                      "timer_gettime",
                                      "timer_settime",
                                      "timerfd_create",
                                      "timerfd_gettime",
                                      "timerfd_settime",
                                      "times",
                                      "tkill",
                                      "truncate",
                                      "umask",
                                      "uname",
                                      "unlink",
                                      "unlinkat",
                                      "utime",
                                      "utimensat",
                                      "utimes",
                                      "vfork",
                                      "vmsplice",
                                      "wait4",
                                      "waitid",
                                      "write",
                                      "writev"};

#define SUGID ((uint64_t)(S_ISUID | S_ISGID))
#define MASKED(i, mask, want)                                                  \
    {                                                                          \
        (i), SBX_CMP_MASKED_EQ, (mask), (want)                                 \
    }
#define EQ(i, v)                                                               \
    {                                                                          \
        (i), SBX_CMP_EQ, (v), 0                                                \
    }

/* The namespace flags a clone() may not carry (moby's list). */
#define NS_FLAGS                                                               \
    ((uint64_t)(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |    \
                CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP))
#if defined(__s390x__)
#define CLONE_FLAGS_ARG 1 /* s390 swaps clone's first two arguments */
#else
#define CLONE_FLAGS_ARG 0
#endif

/* Allowed only when the arguments match; a syscall listed several times is
 * allowed when any of its rules matches. */
static const sbx_scmp_rule conditional[] = {
    /* Socket families a box needs; AF_NETLINK only for NETLINK_ROUTE, which
     * getifaddrs()/if_nameindex() use (read-only without CAP_NET_ADMIN, and
     * namespaced).  AF_VSOCK ignores network namespaces; AF_PACKET, AF_ALG,
     * AF_KEY, AF_BLUETOOTH ... are attack surface nobody here needs. */
    {"socket", 0, 1, {EQ(0, AF_UNIX)}},
    {"socket", 0, 1, {EQ(0, AF_INET)}},
    {"socket", 0, 1, {EQ(0, AF_INET6)}},
    {"socket", 0, 2, {EQ(0, AF_NETLINK), EQ(2, NETLINK_ROUTE)}},
    /* socketpair() creates two sockets of its family before the family can
     * say it has no pairs: any other family would reach the same code the
     * socket() rule keeps out.  Only AF_UNIX has pairs worth having. */
    {"socketpair", 0, 1, {EQ(0, AF_UNIX)}},
    /* No new namespaces (clone3 hides its flags in memory: below). */
    {"clone", 0, 1, {MASKED(CLONE_FLAGS_ARG, NS_FLAGS, 0)}},
    /* personality(): Linux, Linux32, UNAME26 and the query, as moby. */
    {"personality", 0, 1, {EQ(0, 0x0)}},
    {"personality", 0, 1, {EQ(0, 0x8)}},
    {"personality", 0, 1, {EQ(0, 0x20000)}},
    {"personality", 0, 1, {EQ(0, 0x20008)}},
    {"personality", 0, 1, {EQ(0, 0xffffffff)}},
    /* No setuid/setgid bits, however a file gets its mode. */
    {"chmod", 0, 1, {MASKED(1, SUGID, 0)}},
    {"fchmod", 0, 1, {MASKED(1, SUGID, 0)}},
    {"fchmodat", 0, 1, {MASKED(2, SUGID, 0)}},
    {"fchmodat2", 0, 1, {MASKED(2, SUGID, 0)}},
    {"creat", 0, 1, {MASKED(1, SUGID, 0)}},
    {"open", 0, 1, {MASKED(2, SUGID, 0)}},
    {"openat", 0, 1, {MASKED(3, SUGID, 0)}},
    /* mknod: regular files (type 0 too), FIFOs and sockets, never device
     * nodes, never with setuid/setgid bits. */
    {"mknod", 0, 1, {MASKED(1, S_IFMT | SUGID, 0)}},
    {"mknod", 0, 1, {MASKED(1, S_IFMT | SUGID, S_IFREG)}},
    {"mknod", 0, 1, {MASKED(1, S_IFMT | SUGID, S_IFIFO)}},
    {"mknod", 0, 1, {MASKED(1, S_IFMT | SUGID, S_IFSOCK)}},
    {"mknodat", 0, 1, {MASKED(2, S_IFMT | SUGID, 0)}},
    {"mknodat", 0, 1, {MASKED(2, S_IFMT | SUGID, S_IFREG)}},
    {"mknodat", 0, 1, {MASKED(2, S_IFMT | SUGID, S_IFIFO)}},
    {"mknodat", 0, 1, {MASKED(2, S_IFMT | SUGID, S_IFSOCK)}},
    /* Answer ENOSYS, so libc falls back to the checked call: clone3's
     * flags and openat2's mode live in memory a filter cannot read. */
    {"clone3", ENOSYS, 0, {{0}}},
    {"openat2", ENOSYS, 0, {{0}}},
};

/* ioctl() is allowed unless the low 32 bits of its request are TIOCSTI or
 * TIOCLINUX.  The kernel truncates the request to 32 bits, so a plain
 * 64-bit "!=" would let TIOCSTI | 1 << 32 through (CVE-2019-10063's
 * class), and libseccomp takes one comparison per argument and rule.  So
 * the rule is expanded into masked equalities whose union is exactly
 * "low 32 bits not in {a, b}":
 *   - for each bit where a and b agree: that bit differs from a's;
 *   - or the bits where they differ take any value but a's and b's. */
#define IOCTL_DENY_A ((uint64_t)TIOCSTI)
#define IOCTL_DENY_B ((uint64_t)TIOCLINUX)

static int ioctl_rules(sbx_policy_fn fn, void *ctx)
{
    const uint64_t low = 0xffffffffu;
    const uint64_t diff = (IOCTL_DENY_A ^ IOCTL_DENY_B) & low;
    const uint64_t same = ~diff & low;
    sbx_scmp_rule r = {"ioctl", 0, 1, {{0}}};
    int rc;

    _Static_assert(((TIOCSTI ^ TIOCLINUX) & ~0xffu) == 0,
                   "the expansion enumerates the differing bits");
    for (unsigned bit = 0; bit < 32; bit++) {
        uint64_t m = (uint64_t)1 << bit;
        if (!(same & m))
            continue;
        r.args[0] = (sbx_scmp_arg)MASKED(1, m, ~IOCTL_DENY_A & m);
        if ((rc = fn(&r, ctx)) != 0)
            return rc;
    }
    /* Every value of the differing bits (a subset of the low byte). */
    for (uint64_t v = 0; v <= 0xff; v++) {
        if ((v & ~diff) != 0 || v == (IOCTL_DENY_A & diff) ||
            v == (IOCTL_DENY_B & diff))
            continue;
        r.args[0] = (sbx_scmp_arg)MASKED(1, diff, v);
        if ((rc = fn(&r, ctx)) != 0)
            return rc;
    }
    return 0;
}

int sbx_policy_foreach(sbx_policy_fn fn, void *ctx)
{
    int rc;
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        sbx_scmp_rule r = {allowed[i], 0, 0, {{0}}};
        if ((rc = fn(&r, ctx)) != 0)
            return rc;
    }
    for (size_t i = 0; i < sizeof conditional / sizeof *conditional; i++)
        if ((rc = fn(&conditional[i], ctx)) != 0)
            return rc;
    return ioctl_rules(fn, ctx);
}

/* ---- the OCI / docker profile ------------------------------------------ */

#if defined(__x86_64__)
#define SBX_SCMP_ARCH "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define SBX_SCMP_ARCH "SCMP_ARCH_AARCH64"
#else
#define SBX_SCMP_ARCH ""
#endif

typedef struct json_out {
    sbx_buf b;
    bool failed;
    bool in_names; /* an unconditional-allow entry is open */
    bool first;    /* no entry written yet */
} json_out;

static void put(json_out *o, const char *s)
{
    if (!o->failed && sbx_buf_put(&o->b, s, strlen(s)) < 0)
        o->failed = true;
}

__attribute__((format(printf, 2, 3))) static void putf(json_out *o,
                                                       const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        o->failed = true;
    else
        put(o, tmp);
}

/* Syscall names are written unquoted-safe: the table holds identifiers
 * only, and anything else is refused rather than escaped. */
static bool name_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static int json_rule(const sbx_scmp_rule *r, void *ctx)
{
    json_out *o = ctx;
    if (!name_ok(r->name) || r->n_args > 2) {
        o->failed = true;
        return -1;
    }
    /* Unconditional allows share one entry. */
    if (r->errno_ret == 0 && r->n_args == 0) {
        if (o->in_names) {
            putf(o, ", \"%s\"", r->name);
            return 0;
        }
        putf(o, "%s\n    {\"names\": [\"%s\"", o->first ? "" : ",", r->name);
        o->in_names = true;
        o->first = false;
        return 0;
    }
    if (o->in_names)
        put(o, "], \"action\": \"SCMP_ACT_ALLOW\"}");
    o->in_names = false;
    putf(o, "%s\n    {\"names\": [\"%s\"], ", o->first ? "" : ",", r->name);
    o->first = false;
    if (r->errno_ret != 0)
        putf(o, "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": %d",
             r->errno_ret);
    else
        put(o, "\"action\": \"SCMP_ACT_ALLOW\"");
    if (r->n_args > 0) {
        put(o, ", \"args\": [");
        for (unsigned i = 0; i < r->n_args; i++) {
            const sbx_scmp_arg *a = &r->args[i];
            putf(o,
                 "%s{\"index\": %u, \"value\": %llu, \"valueTwo\": %llu, "
                 "\"op\": \"%s\"}",
                 i ? ", " : "", a->index, (unsigned long long)a->value,
                 (unsigned long long)a->value2,
                 a->op == SBX_CMP_MASKED_EQ ? "SCMP_CMP_MASKED_EQ"
                                            : "SCMP_CMP_EQ");
        }
        put(o, "]");
    }
    put(o, "}");
    return 0;
}

int sbx_policy_json(char **json, size_t *len, sbx_err *e)
{
    json_out o = {.first = true};
    *json = NULL;
    if (SBX_SCMP_ARCH[0] == '\0')
        return sbx_fail(e, SANDBOX_ERUNTIME,
                        "no seccomp profile for this architecture: "
                        "libsandbox knows x86_64 and aarch64");
    putf(&o,
         "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"
         "  \"defaultErrnoRet\": %d,\n"
         "  \"architectures\": [\"%s\"],\n  \"syscalls\": [",
         SBX_POLICY_DEFAULT_ERRNO, SBX_SCMP_ARCH);
    if (sbx_policy_foreach(json_rule, &o) != 0)
        o.failed = true;
    if (o.in_names)
        put(&o, "], \"action\": \"SCMP_ACT_ALLOW\"}");
    put(&o, "\n  ]\n}\n");
    if (o.failed) {
        free(o.b.data);
        return sbx_fail(e, SANDBOX_ENOMEM, "building the seccomp profile");
    }
    *json = o.b.data;
    *len = o.b.len;
    return 0;
}

/* ---- the profile file ---------------------------------------------------- */

/* FNV-1a, 64 bits: names files after their content.  Not a security
 * boundary (the directory is): a reused file is compared byte for byte. */
uint64_t sbx_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Open (creating if needed) name under parent as a directory that only
 * the caller can write: a real directory (not a symlink), owned by euid,
 * no group/other write (root: 0755 in /run; others: 0700). */
static int open_private_dir(const char *parent, const char *name, mode_t mode,
                            mode_t forbidden, sbx_err *e)
{
    sbx_autoclose int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (pfd < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "opening %s", parent);
    if (mkdirat(pfd, name, mode) < 0 && errno != EEXIST)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "creating %s/%s", parent,
                              name);
    int dfd =
        openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (dfd < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno,
                              "opening %s/%s (it must be a directory, "
                              "not a symlink)",
                              parent, name);
    struct stat st;
    if (fstat(dfd, &st) < 0 || st.st_uid != geteuid() ||
        (st.st_mode & forbidden) != 0) {
        close(dfd);
        return sbx_fail(e, SANDBOX_EIO,
                        "%s/%s must be owned by uid %ld and not writable by "
                        "others (mode %03o or stricter) to hold the seccomp "
                        "profile: remove it (it may be another user's: ask "
                        "its owner or root), or set XDG_RUNTIME_DIR to a "
                        "private directory",
                        parent, name, (long)geteuid(), (unsigned)(mode & 0777));
    }
    return dfd;
}

int sbx_policy_dir(char *path, size_t n, sbx_err *e)
{
    const char *parent = NULL, *name = NULL;
    char tmpname[64];
    mode_t mode = 0700, forbidden = 077;
    if (geteuid() == 0) {
        parent = "/run";
        name = "libsandbox";
        mode = 0755;
        forbidden = 022;
    } else {
        const char *x = getenv("XDG_RUNTIME_DIR");
        struct stat st;
        if (x != NULL && x[0] == '/' && strlen(x) + 32 < n &&
            lstat(x, &st) == 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == geteuid() && (st.st_mode & 077) == 0) {
            parent = x;
            name = "libsandbox";
        } else {
            snprintf(tmpname, sizeof tmpname, "libsandbox-%ld",
                     (long)geteuid());
            parent = "/tmp";
            name = tmpname;
        }
    }
    int dfd = open_private_dir(parent, name, mode, forbidden, e);
    if (dfd < 0)
        return dfd;
    int len = snprintf(path, n, "%s/%s", parent, name);
    if (len < 0 || (size_t)len >= n) {
        close(dfd);
        return sbx_fail(e, SANDBOX_EINVAL, "profile path too long");
    }
    return dfd;
}

int sbx_policy_read(int dfd, const char *name, void *buf, size_t cap,
                    size_t *len)
{
    sbx_autoclose int fd =
        openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 022) != 0 || st.st_size < 0 ||
        (uint64_t)st.st_size > cap)
        return -1;
    size_t want = (size_t)st.st_size, got = 0;
    while (got < want) {
        ssize_t r = read(fd, (char *)buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    *len = got;
    return 0;
}

int sbx_policy_publish(int dfd, const char *name, const void *data, size_t len)
{
    char tmp[160];
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd ^= (uint64_t)(uintptr_t)&rnd ^ (uint64_t)(sbx_now() * 1e9);
    int w = snprintf(tmp, sizeof tmp, ".%s.%ld.%016llx.tmp", name,
                     (long)getpid(), (unsigned long long)rnd);
    if (w < 0 || (size_t)w >= sizeof tmp)
        return -ENAMETOOLONG;
    int fd = openat(dfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    int err = 0;
    while (off < len && err == 0) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            err = n < 0 ? errno : EIO;
        else
            off += (size_t)n;
    }
    /* Readable by the engine client whatever the caller's umask. */
    if (err == 0 && fchmod(fd, 0644) < 0)
        err = errno;
    if (close(fd) < 0 && err == 0)
        err = errno;
    if (err == 0 && renameat(dfd, tmp, dfd, name) < 0)
        err = errno;
    if (err != 0)
        unlinkat(dfd, tmp, 0);
    return -err;
}

int sbx_seccomp_profile_path(char *buf, size_t n, sbx_err *e)
{
    sbx_autofree char *json = NULL;
    sbx_autofree char *old = NULL;
    size_t len = 0, old_len = 0;
    char dir[4096], name[64];
    int rc;

    if ((rc = sbx_policy_json(&json, &len, e)) < 0)
        return rc;
    snprintf(name, sizeof name, "seccomp-%016llx.json",
             (unsigned long long)sbx_fnv1a64(SBX_FNV_INIT, json, len));
    sbx_autoclose int dfd = sbx_policy_dir(dir, sizeof dir, e);
    if (dfd < 0)
        return dfd;
    int plen = snprintf(buf, n, "%s/%s", dir, name);
    if (plen < 0 || (size_t)plen >= n)
        return sbx_fail(e, SANDBOX_EINVAL, "seccomp profile path too long");
    /* Reuse a file of ours holding exactly this profile. */
    if ((old = malloc(len)) == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if (sbx_policy_read(dfd, name, old, len, &old_len) == 0 && old_len == len &&
        memcmp(old, json, len) == 0)
        return 0;
    /* Concurrent callers each publish a complete file; the last rename
     * wins (they are identical). */
    if ((rc = sbx_policy_publish(dfd, name, json, len)) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, -rc, "writing %s", buf);
    return 0;
}
