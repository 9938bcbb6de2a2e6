/* SPDX-License-Identifier: MIT */
/* escape-probe: the attacker's half of the escape suite (tests/escape).
 *
 * A static binary, bind-mounted read-only into the box and also run,
 * unchanged, on the unsandboxed host as the control.  Modes:
 *
 *   escape-probe run NAME=ARG ...   run each attack in its own forked child
 *                                   and print one line per attack:
 *                                   "ESCAPE <name> LANDED|HELD|ERROR <detail>"
 *   escape-probe hold TOKEN SECS    sleep (the lifecycle attacks look for it)
 *   escape-probe daemon TOKEN SECS  detach a setsid grandchild that holds
 *
 * An attack child killed by a signal (seccomp's SIGSYS, the OOM killer)
 * counts as HELD.  The probe only states what it could do; the harness
 * (escape.c) decides, with host-side checks wherever the effect is on the
 * host.  Destructive attacks only *open* their target for writing, or
 * change it to the value it already has (chmod to the same mode): the
 * control runs them against the real host. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/rtnetlink.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#define SYSFS_MAGIC_ 0x62656572
#define TIOCLINUX_ 0x541C

enum { HELD = 0, LANDED = 1, PERROR = 2 };

static char detail[512];

static int say(int v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int say(int v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return v;
}

/* "a,b,c" -> the n-th field (static copy), or "" */
static const char *field(const char *arg, int n)
{
    static char buf[8][256];
    static int slot;
    char *out = buf[slot++ % 8];
    const char *p = arg ? arg : "";
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    if (!p)
        return "";
    size_t len = strcspn(p, ",");
    if (len >= 256)
        len = 255;
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static int held_errno(const char *what)
{
    return say(HELD, "%s: %s", what, strerror(errno));
}

/* ---- small helpers ---- */
static int read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    return (int)n;
}

static const char *status_field(const char *name)
{
    static char buf[8192];
    static char val[128];
    if (read_file("/proc/self/status", buf, sizeof buf) < 0)
        return NULL;
    char key[64];
    snprintf(key, sizeof key, "\n%s:", name);
    char *p = strstr(buf, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, "\n");
    if (n >= sizeof val)
        n = sizeof val - 1;
    memcpy(val, p, n);
    val[n] = '\0';
    return val;
}

/* field k (1-based) of /proc/self/stat, after the comm */
static long stat_field(int k)
{
    char buf[2048];
    if (read_file("/proc/self/stat", buf, sizeof buf) < 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p += 2; /* field 3 */
    for (int i = 3; i < k; i++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    return strtol(p, NULL, 10);
}

/* open for writing on a filesystem of magic `fsmagic`; never writes */
static int open_for_write(const char *path, long fsmagic)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return held_errno(path);
    struct statfs sf;
    int real = fstatfs(fd, &sf) == 0 && (long)sf.f_type == fsmagic;
    close(fd);
    if (!real)
        return say(HELD, "%s opens for write but is masked", path);
    return say(LANDED, "%s open for writing", path);
}

/* ---- host fs ---- */
static int a_read(const char *arg)
{
    char buf[256];
    int n = read_file(arg, buf, sizeof buf);
    if (n < 0)
        return held_errno(arg);
    buf[strcspn(buf, "\n")] = '\0';
    return say(LANDED, "read %d bytes: %.64s", n, buf);
}

/* read first 32 bytes, print them hex (the harness compares) */
static int a_read_hex(const char *arg)
{
    char buf[33];
    int n = read_file(arg, buf, sizeof buf);
    if (n < 0)
        return held_errno(arg);
    char hex[80] = "";
    for (int i = 0; i < n && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)buf[i]);
    return say(LANDED, "hex=%s", hex);
}

static int a_write_file(const char *arg)
{
    int fd = open(arg, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return held_errno(arg);
    ssize_t n = write(fd, "escaped\n", 8);
    close(fd);
    return n == 8 ? say(LANDED, "appended to %s", arg) : held_errno("write");
}

static int a_create_in(const char *arg)
{
    char p[512];
    snprintf(p, sizeof p, "%s/escape-new", arg);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return held_errno(p);
    close(fd);
    return say(LANDED, "created %s", p);
}

static int a_remount_rw(const char *arg)
{
    if (mount(NULL, arg, NULL, MS_REMOUNT | MS_BIND, NULL) < 0)
        return held_errno("remount rw");
    char p[512];
    snprintf(p, sizeof p, "%s/escape-remounted", arg);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return held_errno("remounted but create");
    close(fd);
    return say(LANDED, "remounted %s rw and wrote", arg);
}

static int a_inherited_fd(const char *arg)
{
    int keep = atoi(arg);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return held_errno("/proc/self/fd");
    char found[400] = "";
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int fd = atoi(de->d_name);
        if (de->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) || fd == keep)
            continue;
        char l[64], t[256] = "";
        snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
        ssize_t k = readlink(l, t, sizeof t - 1);
        if (k > 0)
            t[k] = '\0';
        size_t used = strlen(found);
        snprintf(found + used, sizeof found - used, " %d->%.80s", fd, t);
        n++;
    }
    closedir(d);
    return n ? say(LANDED, "%d inherited fds:%s", n, found)
             : say(HELD, "only 0-2 open");
}

static int a_env(const char *arg)
{
    extern char **environ;
    for (char **e = environ; *e; e++)
        if (strstr(*e, arg))
            return say(LANDED, "environment has %.60s", *e);
    return say(HELD, "no %s in the environment", arg);
}

/* ---- device nodes ---- */
static int a_chmod_same(const char *arg)
{
    struct stat st;
    if (stat(arg, &st) < 0)
        return held_errno(arg);
    if (chmod(arg, st.st_mode & 07777) < 0)
        return held_errno("chmod");
    return say(LANDED, "chmod %o %s", st.st_mode & 07777, arg);
}

static int a_chown_same(const char *arg)
{
    struct stat st;
    if (stat(arg, &st) < 0)
        return held_errno(arg);
    if (chown(arg, st.st_uid, st.st_gid) < 0)
        return held_errno("chown");
    return say(LANDED, "chown %u:%u %s", st.st_uid, st.st_gid, arg);
}

static int a_touch(const char *arg)
{
    if (utimensat(AT_FDCWD, arg, NULL, 0) < 0)
        return held_errno("utimensat");
    return say(LANDED, "touched %s", arg);
}

static int a_open_any(const char *arg)
{
    char opened[300] = "";
    for (int i = 0;; i++) {
        const char *p = field(arg, i);
        if (!*p)
            break;
        int fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            close(fd);
            size_t u = strlen(opened);
            snprintf(opened + u, sizeof opened - u, " %s", p);
        }
    }
    return *opened ? say(LANDED, "opened%s", opened)
                   : say(HELD, "none of them opens");
}

static int a_mknod_char(const char *arg)
{
    char p[512];
    snprintf(p, sizeof p, "%s/escape-null", arg);
    if (mknod(p, S_IFCHR | 0600, makedev(1, 3)) < 0)
        return held_errno("mknod c 1 3");
    unlink(p);
    return say(LANDED, "mknod %s c 1 3", p);
}

/* arg: dir,major,minor of the host's root disk */
static int a_mknod_disk(const char *arg)
{
    char p[512];
    snprintf(p, sizeof p, "%s/escape-disk", field(arg, 0));
    unsigned ma = (unsigned)atoi(field(arg, 1)),
             mi = (unsigned)atoi(field(arg, 2));
    if (mknod(p, S_IFBLK | 0600, makedev(ma, mi)) < 0)
        return held_errno("mknod b");
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    unlink(p);
    if (fd < 0)
        return held_errno("mknod ok, open");
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n > 0 ? say(LANDED, "read %zd bytes of block %u:%u", n, ma, mi)
                 : held_errno("read");
}

static int a_exists(const char *arg)
{
    struct stat st;
    return lstat(arg, &st) == 0 ? say(LANDED, "%s is visible", arg)
                                : held_errno(arg);
}

/* ---- terminal ---- */
static int a_open_tty(const char *arg)
{
    (void)arg;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return held_errno("/dev/tty");
    close(fd);
    return say(LANDED, "opened the controlling terminal");
}

static int a_tiocsti(const char *arg)
{
    int fds[4] = {open("/dev/tty", O_RDWR | O_CLOEXEC), 0, 1, 2};
    char ok[64] = "";
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 0)
            continue;
        int good = 1;
        for (const char *c = arg; *c && good; c++)
            good = ioctl(fds[i], TIOCSTI, c) == 0;
        if (good) {
            size_t u = strlen(ok);
            snprintf(ok + u, sizeof ok - u, " %s", i ? "stdio" : "/dev/tty");
        }
    }
    if (fds[0] >= 0)
        close(fds[0]);
    return *ok ? say(LANDED, "TIOCSTI accepted on%s", ok)
               : say(HELD, "TIOCSTI refused everywhere (%s)", strerror(errno));
}

/* Does the ioctl reach the kernel?  On a non-tty the kernel says ENOTTY;
 * seccomp says EPERM (or kills). */
static int ioctl_reaches(unsigned long req, const char *name)
{
    /* a pipe: no tty, and no dependence on the state of /dev/null */
    int pp[2];
    if (pipe(pp) < 0)
        return held_errno("pipe");
    char c = 'x';
    int r = ioctl(pp[0], req, &c);
    int e = errno;
    close(pp[0]);
    close(pp[1]);
    if (r < 0 && (e == EPERM || e == EACCES || e == ENOSYS))
        return say(HELD, "%s filtered: %s", name, strerror(e));
    return say(LANDED, "%s reached the kernel (%s)", name,
               r < 0 ? strerror(e) : "ok");
}

static int a_seccomp_tiocsti(const char *arg)
{
    (void)arg;
    return ioctl_reaches(TIOCSTI, "TIOCSTI");
}

static int a_seccomp_tioclinux(const char *arg)
{
    (void)arg;
    return ioctl_reaches(TIOCLINUX_, "TIOCLINUX");
}

static int a_new_session(const char *arg)
{
    (void)arg;
    long sid = stat_field(6);
    if (sid < 0)
        return held_errno("/proc/self/stat");
    return sid == 0 ? say(LANDED, "session leader is outside the box (sid 0)")
                    : say(HELD, "session %ld is the box's own", sid);
}

static int a_no_ctty(const char *arg)
{
    (void)arg;
    long tty = stat_field(7);
    if (tty < 0)
        return held_errno("/proc/self/stat");
    return tty ? say(LANDED, "controlling tty %ld:%ld", (tty >> 8) & 0xfff,
                     tty & 0xff)
               : say(HELD, "no controlling terminal");
}

/* ---- privilege ---- */
static int a_cap(const char *arg)
{
    const char *v = status_field(arg);
    if (!v)
        return held_errno("/proc/self/status");
    return strtoull(v, NULL, 16) ? say(LANDED, "%s %s", arg, v)
                                 : say(HELD, "%s %s", arg, v);
}

static int a_nnp(const char *arg)
{
    (void)arg;
    const char *v = status_field("NoNewPrivs");
    if (!v)
        return held_errno("/proc/self/status");
    return atoi(v) ? say(HELD, "NoNewPrivs %s", v)
                   : say(LANDED, "NoNewPrivs %s", v);
}

static int a_seccomp_mode(const char *arg)
{
    (void)arg;
    const char *v = status_field("Seccomp");
    if (!v)
        return held_errno("/proc/self/status");
    return atoi(v) == 2 ? say(HELD, "Seccomp %s", v)
                        : say(LANDED, "Seccomp %s (no filter)", v);
}

static int a_uid_map(const char *arg)
{
    (void)arg;
    char buf[1024];
    if (read_file("/proc/self/uid_map", buf, sizeof buf) < 0)
        return held_errno("uid_map");
    for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
        unsigned long in, out, n;
        if (sscanf(l, "%lu %lu %lu", &in, &out, &n) == 3 && in == 0 && out == 0)
            return say(LANDED, "uid 0 is host uid 0 (%s)", l);
    }
    return say(HELD, "uid 0 maps elsewhere");
}

/* ---- seccomp / syscalls ---- */
static int a_mount_tmpfs(const char *arg)
{
    char p[512];
    snprintf(p, sizeof p, "%s/escape-mnt", arg);
    mkdir(p, 0700);
    if (mount("none", p, "tmpfs", 0, "size=1m") < 0)
        return held_errno("mount tmpfs");
    umount2(p, MNT_DETACH);
    return say(LANDED, "mounted a tmpfs on %s", p);
}

static int a_unshare_user(const char *arg)
{
    (void)arg;
    if (unshare(CLONE_NEWUSER) < 0)
        return held_errno("unshare(CLONE_NEWUSER)");
    return say(LANDED, "new user namespace");
}

static int write_str(const char *p, const char *s)
{
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

static int a_userns_mount(const char *arg)
{
    uid_t u = geteuid();
    gid_t g = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
        return held_errno("unshare(NEWUSER|NEWNS)");
    char m[64];
    write_str("/proc/self/setgroups", "deny");
    snprintf(m, sizeof m, "0 %u 1", u);
    write_str("/proc/self/uid_map", m);
    snprintf(m, sizeof m, "0 %u 1", g);
    write_str("/proc/self/gid_map", m);
    return a_mount_tmpfs(arg);
}

static int a_clone_newuser(const char *arg)
{
    (void)arg;
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0)
        return held_errno("clone(CLONE_NEWUSER)");
    if (pid == 0)
        _exit(0);
    waitpid((pid_t)pid, NULL, 0);
    return say(LANDED, "clone(CLONE_NEWUSER) made pid %ld", pid);
}

static volatile long target_word = 0x5ca1ab1e;

static pid_t sleeper(void)
{
    pid_t p = fork();
    if (p == 0) {
        for (;;)
            pause();
    }
    return p;
}

static int a_ptrace(const char *arg)
{
    (void)arg;
    pid_t p = sleeper();
    if (p < 0)
        return held_errno("fork");
    long r = ptrace(PTRACE_ATTACH, p, 0, 0);
    int e = errno;
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    errno = e;
    return r == 0 ? say(LANDED, "PTRACE_ATTACH to a sibling")
                  : held_errno("ptrace");
}

static int a_process_vm(const char *arg)
{
    (void)arg;
    pid_t p = sleeper();
    if (p < 0)
        return held_errno("fork");
    long v = 0;
    struct iovec l = {&v, sizeof v}, r = {(void *)&target_word, sizeof v};
    ssize_t n = process_vm_readv(p, &l, 1, &r, 1, 0);
    int e = errno;
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    errno = e;
    return n == sizeof v ? say(LANDED, "read a sibling's memory: %lx", v)
                         : held_errno("process_vm_readv");
}

static int a_keyctl(const char *arg)
{
    (void)arg;
    long k = syscall(SYS_add_key, "user", "sbx-escape", "x", 1,
                     -2 /* KEY_SPEC_PROCESS_KEYRING */);
    return k >= 0 ? say(LANDED, "add_key made key %ld", k)
                  : held_errno("add_key");
}

static int a_bpf(const char *arg)
{
    (void)arg;
    union bpf_attr at;
    memset(&at, 0, sizeof at);
    at.map_type = BPF_MAP_TYPE_ARRAY;
    at.key_size = 4;
    at.value_size = 4;
    at.max_entries = 1;
    long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &at, sizeof at);
    if (fd < 0)
        return held_errno("bpf(BPF_MAP_CREATE)");
    close((int)fd);
    return say(LANDED, "bpf map created");
}

static int a_perf(const char *arg)
{
    (void)arg;
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.size = sizeof pa;
    pa.type = PERF_TYPE_SOFTWARE;
    pa.config = PERF_COUNT_SW_TASK_CLOCK;
    pa.disabled = 1;
    pa.exclude_kernel = 1;
    pa.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
    if (fd < 0)
        return held_errno("perf_event_open");
    close((int)fd);
    return say(LANDED, "perf event opened");
}

static int a_io_uring(const char *arg)
{
    (void)arg;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(SYS_io_uring_setup, 1, &p);
    if (fd < 0)
        return held_errno("io_uring_setup");
    close((int)fd);
    return say(LANDED, "io_uring created");
}

static int a_userfaultfd(const char *arg)
{
    (void)arg;
    long fd = syscall(SYS_userfaultfd, O_CLOEXEC);
    if (fd < 0)
        return held_errno("userfaultfd");
    close((int)fd);
    return say(LANDED, "userfaultfd created");
}

static int a_open_by_handle(const char *arg)
{
    struct {
        struct file_handle h;
        unsigned char buf[128];
    } fh;
    int mnt = -1;
    fh.h.handle_bytes = sizeof fh.buf;
    if (name_to_handle_at(AT_FDCWD, arg, &fh.h, &mnt, 0) < 0)
        return held_errno("name_to_handle_at");
    int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = open_by_handle_at(root, &fh.h, O_RDONLY | O_CLOEXEC);
    int e = errno;
    close(root);
    if (fd < 0) {
        errno = e;
        return held_errno("open_by_handle_at");
    }
    close(fd);
    return say(LANDED, "opened %s by handle", arg);
}

static int a_chroot(const char *arg)
{
    if (chroot(arg) < 0)
        return held_errno("chroot");
    return say(LANDED, "chroot %s", arg);
}

/* ---- sockets / network ---- */
static int try_socket(int fam, int type, int proto, const char *name)
{
    int fd = socket(fam, type | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return say(HELD, "socket(%s): %s", name, strerror(errno));
    close(fd);
    return say(LANDED, "socket(%s) created", name);
}

static int a_vsock(const char *arg)
{
    (void)arg;
    return try_socket(AF_VSOCK, SOCK_STREAM, 0, "AF_VSOCK");
}
static int a_packet(const char *arg)
{
    (void)arg;
    return try_socket(AF_PACKET, SOCK_RAW, htons(0x0003), "AF_PACKET");
}
static int a_raw(const char *arg)
{
    (void)arg;
    return try_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP, "AF_INET SOCK_RAW");
}
static int a_alg(const char *arg)
{
    (void)arg;
    return try_socket(AF_ALG, SOCK_SEQPACKET, 0, "AF_ALG");
}

static int a_netlink_dump(const char *arg)
{
    (void)arg;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return held_errno("socket(AF_NETLINK)");
    struct {
        struct nlmsghdr n;
        struct ifinfomsg i;
    } req;
    memset(&req, 0, sizeof req);
    req.n.nlmsg_len = sizeof req;
    req.n.nlmsg_type = RTM_GETLINK;
    req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.i.ifi_family = AF_UNSPEC;
    if (send(fd, &req, sizeof req, 0) < 0) {
        close(fd);
        return held_errno("netlink send");
    }
    char names[256] = "";
    int others = 0, done = 0;
    static char buf[32768];
    while (!done) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = 1;
                break;
            }
            struct ifinfomsg *ifi = NLMSG_DATA(h);
            int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi));
            for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len);
                 a = RTA_NEXT(a, len))
                if (a->rta_type == IFLA_IFNAME) {
                    const char *nm = RTA_DATA(a);
                    size_t u = strlen(names);
                    snprintf(names + u, sizeof names - u, " %s", nm);
                    others += strcmp(nm, "lo") != 0;
                }
        }
    }
    close(fd);
    return others ? say(LANDED, "links:%s", names)
                  : say(HELD, "links:%s", names);
}

static int a_only_lo(const char *arg)
{
    (void)arg;
    DIR *d = opendir("/sys/class/net");
    if (!d)
        return held_errno("/sys/class/net");
    char names[256] = "";
    int others = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t u = strlen(names);
        snprintf(names + u, sizeof names - u, " %.30s", de->d_name);
        others += strcmp(de->d_name, "lo") != 0;
    }
    closedir(d);
    return others ? say(LANDED, "interfaces:%s", names)
                  : say(HELD, "interfaces:%s", names);
}

/* UDP connect() only looks the route up: no packet leaves. */
static int udp_routable(const char *ip)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    errno = e;
    return r == 0;
}

static int a_route(const char *arg)
{
    int r = udp_routable(arg);
    return r == 1 ? say(LANDED, "a route to %s exists", arg)
                  : held_errno("connect");
}

static int a_dns(const char *arg)
{
    (void)arg;
    char buf[4096];
    if (read_file("/etc/resolv.conf", buf, sizeof buf) < 0)
        return say(HELD, "no /etc/resolv.conf");
    char seen[256] = "";
    for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
        char ip[64];
        if (sscanf(l, "nameserver %63s", ip) != 1 ||
            strncmp(ip, "127.", 4) == 0)
            continue;
        size_t u = strlen(seen);
        snprintf(seen + u, sizeof seen - u, " %s", ip);
        if (udp_routable(ip) == 1)
            return say(LANDED, "nameserver %s is routable", ip);
    }
    return say(HELD, "no routable nameserver (%s)", *seen ? seen : " none");
}

static int a_abstract(const char *arg)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(arg);
    if (n + 1 > sizeof sa.sun_path)
        n = sizeof sa.sun_path - 1;
    memcpy(sa.sun_path + 1, arg, n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return held_errno("socket(AF_UNIX)");
    int r =
        connect(fd, (struct sockaddr *)&sa,
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
    int e = errno;
    close(fd);
    errno = e;
    return r == 0 ? say(LANDED, "connected to the host's @%s", arg)
                  : held_errno("connect");
}

static int a_loopback_tcp(const char *arg)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(arg)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return held_errno("socket");
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    errno = e;
    return r == 0 ? say(LANDED, "connected to 127.0.0.1:%s", arg)
                  : held_errno("connect");
}

static int a_unix_sockets(const char *arg)
{
    char got[300] = "";
    for (int i = 0;; i++) {
        const char *p = field(arg, i);
        if (!*p)
            break;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", p);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            size_t u = strlen(got);
            snprintf(got + u, sizeof got - u, " %s", p);
        }
        if (fd >= 0)
            close(fd);
    }
    return *got ? say(LANDED, "connected to%s", got)
                : say(HELD, "no engine socket reachable");
}

/* ---- /proc and /sys ---- */
static int a_proc_write(const char *arg)
{
    return open_for_write(arg, PROC_SUPER_MAGIC);
}

static int a_irq_affinity(const char *arg)
{
    (void)arg;
    DIR *d = opendir("/proc/irq");
    if (!d)
        return held_errno("/proc/irq");
    struct dirent *de;
    char p[300] = "";
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] >= '0' && de->d_name[0] <= '9') {
            snprintf(p, sizeof p, "/proc/irq/%s/smp_affinity", de->d_name);
            if (access(p, F_OK) == 0)
                break;
            p[0] = '\0';
        }
    closedir(d);
    if (!*p)
        return say(HELD, "no /proc/irq/*/smp_affinity visible");
    return open_for_write(p, PROC_SUPER_MAGIC);
}

static int a_kcore(const char *arg)
{
    (void)arg;
    char b[4];
    int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return held_errno("/proc/kcore");
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    return n == 4 && memcmp(b, "\177ELF", 4) == 0
               ? say(LANDED, "read the kernel's memory image header")
               : say(HELD, "/proc/kcore gave %zd bytes, not ELF", n);
}

static int a_dir_nonempty(const char *arg)
{
    DIR *d = opendir(arg);
    if (!d)
        return held_errno(arg);
    int n = 0;
    char first[128] = "";
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && n++ == 0)
            snprintf(first, sizeof first, "%.60s", de->d_name);
    closedir(d);
    return n ? say(LANDED, "%s lists %d entries (%s...)", arg, n, first)
             : say(HELD, "%s is empty", arg);
}

static int a_sys_write(const char *arg)
{
    for (int i = 0;; i++) {
        const char *p = field(arg, i);
        if (!*p)
            break;
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct statfs sf;
        int real = fstatfs(fd, &sf) == 0 && (long)sf.f_type == SYSFS_MAGIC_;
        close(fd);
        if (real)
            return say(LANDED, "%s open for writing", p);
    }
    return say(HELD, "no sysfs knob opens for writing");
}

static int a_readable_any(const char *arg)
{
    char got[300] = "";
    for (int i = 0;; i++) {
        const char *p = field(arg, i);
        if (!*p)
            break;
        struct stat st;
        char b[16];
        int n = -1;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(p);
            struct dirent *de;
            n = 0;
            while (d && (de = readdir(d)) != NULL)
                n += de->d_name[0] != '.';
            if (d)
                closedir(d);
        } else {
            n = read_file(p, b, sizeof b);
        }
        if (n > 0) {
            size_t u = strlen(got);
            snprintf(got + u, sizeof got - u, " %s", p);
        }
    }
    return *got ? say(LANDED, "readable:%s", got)
                : say(HELD, "all masked or empty");
}

static int a_kallsyms(const char *arg)
{
    (void)arg;
    char b[256];
    if (read_file("/proc/kallsyms", b, sizeof b) <= 0)
        return held_errno("/proc/kallsyms");
    unsigned long long a = strtoull(b, NULL, 16);
    return a ? say(LANDED, "kernel address %llx", a)
             : say(HELD, "addresses hidden");
}

static int a_syslog(const char *arg)
{
    (void)arg;
    static char b[4096];
    long n = syscall(SYS_syslog, 3 /* READ_ALL */, b, (int)sizeof b);
    return n > 0 ? say(LANDED, "read %ld bytes of the kernel log", n)
                 : held_errno("syslog");
}

/* ---- resources ---- */
static int a_fork_bomb(const char *arg)
{
    int want = atoi(arg);
    pid_t *kids = calloc((size_t)want, sizeof *kids);
    int n = 0, e = 0;
    for (; n < want; n++) {
        kids[n] = fork();
        if (kids[n] == 0) {
            for (;;)
                pause();
        }
        if (kids[n] < 0) {
            e = errno;
            break;
        }
    }
    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < n; i++)
        waitpid(kids[i], NULL, 0);
    free(kids);
    return n == want ? say(LANDED, "%d processes", n)
                     : say(HELD, "stopped at %d: %s", n, strerror(e));
}

static int a_memory_hog(const char *arg)
{
    size_t mb = (size_t)atoi(arg);
    for (size_t i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p)
            return say(HELD, "malloc failed at %zu MiB", i);
        memset(p, (int)i | 1, 1 << 20);
    }
    return say(LANDED, "touched %zu MiB", mb);
}

/* arg: dir,MiB: write that much into dir/escape-fill */
static int fill(const char *dir, size_t mb, int keep)
{
    char p[512];
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/escape-fill", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return held_errno(p);
    static char block[1 << 16];
    memset(block, 'f', sizeof block);
    size_t done = 0, want = mb << 20;
    int e = 0;
    while (done < want) {
        ssize_t n = write(fd, block, sizeof block);
        if (n <= 0) {
            e = errno;
            break;
        }
        done += (size_t)n;
    }
    if (e == 0 && fsync(fd) < 0)
        e = errno;
    if (close(fd) < 0 && e == 0)
        e = errno;
    if (!keep)
        unlink(p);
    return e == 0 ? say(LANDED, "wrote %zu MiB into %s", mb, dir)
                  : say(HELD, "stopped after %zu KiB: %s", done >> 10,
                        strerror(e));
}

static int a_fill(const char *arg)
{
    return fill(field(arg, 0), (size_t)atoi(field(arg, 1)), 1);
}

/* arg: dir1:dir2:...,MiB: the first directory of the root layer that
 * takes a file at all */
static int a_fill_any(const char *arg)
{
    char dirs[256];
    snprintf(dirs, sizeof dirs, "%s", field(arg, 0));
    size_t mb = (size_t)atoi(field(arg, 1));
    for (char *d = strtok(dirs, ":"); d; d = strtok(NULL, ":")) {
        char p[300];
        snprintf(p, sizeof p, "%s/escape-probe-try", d);
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            continue;
        close(fd);
        unlink(p);
        return fill(d, mb, 0);
    }
    return say(HELD, "no directory of the root takes a file");
}

/* arg: dir,MiB,N: one MiB-sized file in dir/escape-links and N hard
 * links to it.  The box's tmpfs pays for the file once; a commit-back that
 * copies every name pays it N + 1 times on the host's disk. */
static int a_link_fill(const char *arg)
{
    char d[400], f[480], l[480];
    snprintf(d, sizeof d, "%s/escape-links", field(arg, 0));
    size_t mb = (size_t)atoi(field(arg, 1));
    int n = atoi(field(arg, 2));
    mkdir(d, 0755);
    snprintf(f, sizeof f, "%s/f", d);
    int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return held_errno(f);
    static char block[1 << 16];
    memset(block, 'h', sizeof block);
    for (size_t done = 0; done < (mb << 20); done += sizeof block)
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block) {
            int e = errno;
            close(fd);
            return say(HELD, "could not write the file: %s", strerror(e));
        }
    close(fd);
    int made = 0;
    for (int i = 0; i < n; i++) {
        snprintf(l, sizeof l, "%s/l%d", d, i);
        made += link(f, l) == 0;
    }
    return say(HELD, "links=%d of a %zu MiB file (the host decides)", made, mb);
}

/* arg: a directory: empty it, remove it, make it again with a file in
 * it (what `rm -rf d; mkdir d; echo > d/f` does). */
static int a_mnt_clobber(const char *arg)
{
    char p[600];
    int gone = 0;
    DIR *d = opendir(arg);
    for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", arg, de->d_name);
        gone += unlink(p) == 0;
    }
    if (d)
        closedir(d);
    rmdir(arg); /* EBUSY on the host: a mount point */
    mkdir(arg, 0755);
    snprintf(p, sizeof p, "%s/escape-planted", arg);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return held_errno(p);
    close(fd);
    return say(HELD, "removed %d entries, planted a file (the host decides)",
               gone);
}

static int a_fill_rm(const char *arg)
{
    return fill(field(arg, 0), (size_t)atoi(field(arg, 1)), 0);
}

/* ---- setuid / ownership (arg: the workspace) ---- */
static int copy_self(const char *dst)
{
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (in < 0 || out < 0) {
        int e = errno;
        if (in >= 0)
            close(in);
        if (out >= 0)
            close(out);
        errno = e;
        return -1;
    }
    char b[65536];
    ssize_t n;
    while ((n = read(in, b, sizeof b)) > 0)
        if (write(out, b, (size_t)n) != n)
            break;
    close(in);
    return close(out);
}

static int make_mode(const char *arg, const char *name, mode_t mode,
                     int chown_root)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", arg, name);
    if (copy_self(p) < 0)
        return held_errno("copy into the workspace");
    if (chown_root && chown(p, 0, 0) < 0)
        return held_errno("chown 0:0");
    if (chmod(p, mode) < 0)
        return held_errno("chmod");
    struct stat st;
    stat(p, &st);
    return (st.st_mode & mode & 06000)
               ? say(LANDED, "%s mode %o", name, st.st_mode & 07777)
               : say(HELD, "mode bits dropped");
}

static int a_setuid(const char *arg)
{
    return make_mode(arg, "escape-suid", 04755, 0);
}
static int a_setgid(const char *arg)
{
    return make_mode(arg, "escape-sgid", 02755, 0);
}
static int a_setuid_root(const char *arg)
{
    return make_mode(arg, "escape-suid-root", 04755, 1);
}

static int a_chown_other(const char *arg)
{
    char p[512];
    snprintf(p, sizeof p, "%s/escape-owned", arg);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return held_errno("create");
    close(fd);
    if (chown(p, 4242, 4242) < 0)
        return held_errno("chown 4242");
    return say(LANDED, "chown 4242:4242 escape-owned");
}

static int a_file_caps(const char *arg)
{
    char p[512];
    snprintf(p, sizeof p, "%s/escape-caps", arg);
    if (copy_self(p) < 0)
        return held_errno("copy");
    /* VFS_CAP_REVISION_2, cap_setuid (7) permitted + effective */
    unsigned char v[20] = {0};
    v[0] = 0x01;
    v[3] = 0x02; /* magic_etc = 0x02000001 little endian, effective */
    v[4] = 1 << 7;
    if (setxattr(p, "security.capability", v, sizeof v, 0) < 0)
        return held_errno("setxattr security.capability");
    return say(LANDED, "file capability cap_setuid+ep set");
}

static int a_mknod_ws(const char *arg)
{
    char p[512];
    snprintf(p, sizeof p, "%s/escape-dev", arg);
    if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) < 0)
        return held_errno("mknod c 1 3 in the workspace");
    return say(LANDED, "device node left in the workspace");
}

/* arg: workspace,a host file visible in the box */
static int a_hardlink(const char *arg)
{
    char p[512];
    snprintf(p, sizeof p, "%s/escape-link", field(arg, 0));
    const char *src = field(arg, 1);
    if (link(src, p) < 0)
        return held_errno("link");
    return say(LANDED, "hard link to %s in the workspace", src);
}

/* arg: workspace,canary: plant links; a naive host-side reader follows */
static int a_symlink_plant(const char *arg)
{
    const char *ws = field(arg, 0), *canary = field(arg, 1);
    char p[512];
    snprintf(p, sizeof p, "%s/leak-shadow", ws);
    int ok = symlink("/etc/shadow", p) == 0;
    snprintf(p, sizeof p, "%s/leak-canary", ws);
    ok = symlink(canary, p) == 0 && ok;
    if (!ok)
        return held_errno("symlink");
    /* What the box sees through the link is its own business; what the
     * host sees is decided by the harness. */
    char b[64];
    return read_file(p, b, sizeof b) >= 0
               ? say(LANDED, "the link reaches the canary from the box")
               : say(HELD, "links planted; the canary is not visible here");
}

/* in the control: be the naive host side that follows links */
static int a_naive_follow(const char *arg)
{
    char b[64];
    int n = read_file(arg, b, sizeof b);
    return n >= 0 ? say(LANDED, "followed %s", arg) : held_errno(arg);
}

static int a_mark(const char *arg)
{
    int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return held_errno(arg);
    ssize_t n = write(fd, "written by the box\n", 19);
    close(fd);
    return n == 19 ? say(LANDED, "wrote %s", arg) : held_errno("write");
}

static int a_touch_rel(const char *arg)
{
    int fd = open(arg, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return held_errno(arg);
    close(fd);
    return say(LANDED, "created ./%s", arg);
}

static const struct {
    const char *name;
    int (*fn)(const char *);
} attacks[] = {
    {"read", a_read},
    {"read-hex", a_read_hex},
    {"write-file", a_write_file},
    {"create-in", a_create_in},
    {"remount-rw", a_remount_rw},
    {"inherited-fd", a_inherited_fd},
    {"env", a_env},
    {"chmod-same", a_chmod_same},
    {"chown-same", a_chown_same},
    {"touch", a_touch},
    {"open-any", a_open_any},
    {"mknod-char", a_mknod_char},
    {"mknod-disk", a_mknod_disk},
    {"exists", a_exists},
    {"open-tty", a_open_tty},
    {"tiocsti", a_tiocsti},
    {"seccomp-tiocsti", a_seccomp_tiocsti},
    {"seccomp-tioclinux", a_seccomp_tioclinux},
    {"new-session", a_new_session},
    {"no-ctty", a_no_ctty},
    {"cap", a_cap},
    {"nnp", a_nnp},
    {"seccomp-mode", a_seccomp_mode},
    {"uid-map", a_uid_map},
    {"mount-tmpfs", a_mount_tmpfs},
    {"unshare-user", a_unshare_user},
    {"userns-mount", a_userns_mount},
    {"clone-newuser", a_clone_newuser},
    {"ptrace", a_ptrace},
    {"process-vm", a_process_vm},
    {"keyctl", a_keyctl},
    {"bpf", a_bpf},
    {"perf", a_perf},
    {"io-uring", a_io_uring},
    {"userfaultfd", a_userfaultfd},
    {"open-by-handle", a_open_by_handle},
    {"chroot", a_chroot},
    {"vsock", a_vsock},
    {"packet", a_packet},
    {"raw", a_raw},
    {"alg", a_alg},
    {"netlink-dump", a_netlink_dump},
    {"only-lo", a_only_lo},
    {"route", a_route},
    {"dns", a_dns},
    {"abstract", a_abstract},
    {"loopback-tcp", a_loopback_tcp},
    {"unix-sockets", a_unix_sockets},
    {"proc-write", a_proc_write},
    {"irq-affinity", a_irq_affinity},
    {"kcore", a_kcore},
    {"dir-nonempty", a_dir_nonempty},
    {"sys-write", a_sys_write},
    {"readable-any", a_readable_any},
    {"kallsyms", a_kallsyms},
    {"syslog", a_syslog},
    {"fork-bomb", a_fork_bomb},
    {"memory-hog", a_memory_hog},
    {"fill", a_fill},
    {"link-fill", a_link_fill},
    {"mnt-clobber", a_mnt_clobber},
    {"fill-rm", a_fill_rm},
    {"fill-any", a_fill_any},
    {"setuid", a_setuid},
    {"setgid", a_setgid},
    {"setuid-root", a_setuid_root},
    {"chown-other", a_chown_other},
    {"file-caps", a_file_caps},
    {"mknod-ws", a_mknod_ws},
    {"hardlink", a_hardlink},
    {"symlink-plant", a_symlink_plant},
    {"naive-follow", a_naive_follow},
    {"touch-rel", a_touch_rel},
    {"mark", a_mark},
};

/* Run one attack "label:fn=arg" in a child; print its verdict line. */
static void run_one(const char *spec)
{
    char label[128], fn[64];
    const char *colon = strchr(spec, ':');
    const char *eq = strchr(spec, '=');
    if (!colon || (eq && eq < colon)) {
        printf("ESCAPE %s ERROR bad spec\n", spec);
        return;
    }
    snprintf(label, sizeof label, "%.*s", (int)(colon - spec), spec);
    size_t fl = eq ? (size_t)(eq - colon - 1) : strlen(colon + 1);
    snprintf(fn, sizeof fn, "%.*s", (int)fl, colon + 1);
    const char *arg = eq ? eq + 1 : "";
    int (*f)(const char *) = NULL;
    for (size_t i = 0; i < sizeof attacks / sizeof *attacks; i++)
        if (strcmp(attacks[i].name, fn) == 0)
            f = attacks[i].fn;
    if (!f) {
        printf("ESCAPE %s ERROR unknown attack %s\n", label, fn);
        return;
    }
    int p[2];
    if (pipe(p) < 0) {
        printf("ESCAPE %s ERROR pipe: %s\n", label, strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) {
        printf("ESCAPE %s ERROR fork: %s\n", label, strerror(errno));
        close(p[0]);
        close(p[1]);
        return;
    }
    if (c == 0) {
        close(p[0]);
        char keep[16];
        snprintf(keep, sizeof keep, "%d", p[1]);
        alarm(20);
        int v = f(strcmp(fn, "inherited-fd") == 0 ? keep : arg);
        char line[700];
        int n = snprintf(line, sizeof line, "%s %s\n",
                         v == LANDED ? "LANDED"
                         : v == HELD ? "HELD"
                                     : "ERROR",
                         detail);
        if (write(p[1], line, (size_t)n) < 0)
            _exit(3);
        _exit(0);
    }
    close(p[1]);
    char buf[700];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 &&
           (n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    close(p[0]);
    buf[got] = '\0';
    int st = 0;
    waitpid(c, &st, 0);
    if (got > 0) {
        buf[strcspn(buf, "\n")] = '\0';
        printf("ESCAPE %s %s\n", label, buf);
    } else if (WIFSIGNALED(st)) {
        printf("ESCAPE %s HELD killed by signal %d (%s)\n", label, WTERMSIG(st),
               strsignal(WTERMSIG(st)));
    } else {
        printf("ESCAPE %s ERROR no verdict (status %d)\n", label, st);
    }
    fflush(stdout);
}

static void hold(int secs)
{
    struct timespec t = {.tv_sec = secs};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        for (int i = 2; i < argc; i++)
            run_one(argv[i]);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "hold") == 0) {
        hold(atoi(argv[3]));
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "daemon") == 0) {
        pid_t p = fork();
        if (p == 0) {
            setsid();
            if (fork() == 0) {
                /* a daemon lets go of the box's stdio */
                int nul = open("/dev/null", O_RDWR);
                for (int fd = 0; fd < 3; fd++)
                    if (nul < 0 || dup2(nul, fd) < 0)
                        close(fd);
                execl("/proc/self/exe", argv[0], "hold", argv[2], argv[3],
                      (char *)NULL);
                hold(atoi(argv[3]));
            }
            _exit(0);
        }
        waitpid(p, NULL, 0);
        printf("ESCAPE daemon started\n");
        return 0;
    }
    fprintf(stderr, "usage: escape-probe run LABEL:ATTACK=ARG... | hold TOKEN "
                    "SECS | daemon TOKEN SECS\n");
    return 2;
}
