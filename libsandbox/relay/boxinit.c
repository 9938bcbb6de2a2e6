/* SPDX-License-Identifier: MIT */
/* sandbox-init: PID 1 of every box (native, podman, docker).
 *
 *   init --fd N          the control socket is the inherited fd N
 *   init --connect PATH  connect a SOCK_SEQPACKET Unix socket to PATH
 *
 * It holds the control socket to the box's owner and runs one child per
 * control message (boxinit_proto.h has the wire format): fork, new
 * session, report on the exec's status socket (the owner learns the host
 * pid from SCM_CREDENTIALS and moves it into the exec's kill group), read
 * argv/env/cwd, wait for "go", execve.  It reaps every child (orphans
 * too, being PID 1 or a subreaper) and writes the wait status of each exec
 * it started to that exec's status socket.  The control socket's EOF (the
 * owner is gone) ends it, and with it the box.
 *
 * Nothing here trusts the box: a bad control message is dropped, never a
 * crash.  Not dumpable, so the box's code (same uid) cannot ptrace it or
 * take its fds.  Plain C and libc syscalls only, so it links statically and
 * runs in any image. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "boxinit_proto.h"
#include "pathsearch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH                                                           \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CONNECT_TRY_SEC 10

typedef struct exec_slot {
    pid_t pid;
    int fd; /* the exec's status socket */
} exec_slot;

static exec_slot *slots;
static size_t n_slots, cap_slots;
static int ctl_fd = -1, sig_fd = -1;

static void send_rec(int fd, uint32_t type, int32_t a, int32_t b, int flags)
{
    sbxi_rec r = {SBXI_MAGIC, type, a, b};
    ssize_t w;
    do
        w = send(fd, &r, sizeof r, MSG_NOSIGNAL | flags);
    while (w < 0 && errno == EINTR);
}

/* ---- the child: becomes one exec ---------------------------------------- */

static void child_fail(int st, int step, int err)
{
    send_rec(st, SBXI_ERROR, err, step, 0);
    _exit(127);
}

static bool read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static void send_ready(int st)
{
    sbxi_rec r = {SBXI_MAGIC, SBXI_READY, (int32_t)getpid(), 0};
    struct iovec iov = {&r, sizeof r};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } c;
    memset(&c, 0, sizeof c);
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = c.buf,
                       .msg_controllen = sizeof c.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred cr = {getpid(), getuid(), getgid()};
    memcpy(CMSG_DATA(cm), &cr, sizeof cr);
    ssize_t w;
    do
        w = sendmsg(st, &m, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno == EPERM) {
        /* The kernel adds our credentials anyway: the owner's end has
         * SO_PASSCRED. */
        m.msg_control = NULL;
        m.msg_controllen = 0;
        do
            w = sendmsg(st, &m, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
    }
    if (w != (ssize_t)sizeof r)
        _exit(127);
}

/* The spec: flags, argc, envc, then cwd, argv..., envp... as C strings. */
typedef struct spec {
    uint32_t flags;
    char *cwd;
    char **argv, **envp;
} spec;

static bool parse_spec(char *p, size_t len, spec *s)
{
    uint32_t hdr[3];
    if (len < sizeof hdr)
        return false;
    memcpy(hdr, p, sizeof hdr);
    s->flags = hdr[0];
    uint32_t argc = hdr[1], envc = hdr[2];
    if (argc < 1 || argc > len || envc > len || p[len - 1] != '\0')
        return false;
    s->argv = calloc((size_t)argc + 1, sizeof(char *));
    s->envp = calloc((size_t)envc + 1, sizeof(char *));
    if (s->argv == NULL || s->envp == NULL)
        return false;
    char *q = p + sizeof hdr, *end = p + len;
    size_t want = 1 + (size_t)argc + envc;
    for (size_t i = 0; i < want; i++) {
        if (q >= end)
            return false;
        if (i == 0)
            s->cwd = q;
        else if (i <= argc)
            s->argv[i - 1] = q;
        else
            s->envp[i - 1 - argc] = q;
        q += strlen(q) + 1;
    }
    return q == end;
}

static const char *env_path(char **envp)
{
    for (char **e = envp; *e != NULL; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            return *e + 5;
    return DEFAULT_PATH;
}

/* argv[0] looked up in PATH (no shell fallback); errno is the most telling
 * failure. */
static void exec_lookup(const spec *s)
{
    if (s->argv[0][0] == '\0') {
        execve(s->argv[0], s->argv, s->envp); /* ENOENT, as execve says */
        return;
    }
    sbx_exec_in_path(env_path(s->envp), s->argv, s->envp);
}

static void run_child(int fds[SBXI_NFDS])
{
    /* Without /dev/null in the box the received fds may be 0..2: move them
     * out of the way of the dup2s below. */
    for (int i = 0; i < SBXI_NFDS; i++)
        if (fds[i] <= 2) {
            int nfd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (nfd < 0)
                _exit(127);
            fds[i] = nfd;
        }
    int st = fds[3];
    close(ctl_fd);
    close(sig_fd);
    /* Whatever the init inherited or set, the exec starts from defaults
     * (an ignored signal would stay ignored across execve). */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    setsid();
    send_ready(st);

    uint32_t len;
    if (!read_full(st, &len, sizeof len) || len > SBXI_SPEC_MAX)
        child_fail(st, SBXI_STEP_SPEC, EPROTO);
    char *buf = malloc((size_t)len + 1);
    if (buf == NULL)
        child_fail(st, SBXI_STEP_SPEC, ENOMEM);
    spec s = {0};
    char go = 0;
    if (!read_full(st, buf, len) || !parse_spec(buf, len, &s))
        child_fail(st, SBXI_STEP_SPEC, EPROTO);
    if (!read_full(st, &go, 1) || go != SBXI_GO)
        child_fail(st, SBXI_STEP_SPEC, EPROTO);

    for (int i = 0; i < 3; i++)
        if (dup2(fds[i], i) < 0)
            child_fail(st, SBXI_STEP_STDIO, errno);
    for (int i = 0; i < 3; i++)
        if (fds[i] > 2)
            close(fds[i]);
    if (chdir(s.cwd) < 0)
        child_fail(st, SBXI_STEP_CWD, errno);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (s.flags & SBXI_FLAG_PATH_LOOKUP)
        exec_lookup(&s);
    else
        execve(s.argv[0], s.argv, s.envp);
    child_fail(st, SBXI_STEP_EXEC, errno);
}

/* ---- the init ------------------------------------------------------------ */

static void close_fds(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static bool slot_add(pid_t pid, int fd)
{
    if (n_slots == cap_slots) {
        size_t nc = cap_slots ? cap_slots * 2 : 16;
        exec_slot *ns = realloc(slots, nc * sizeof *ns);
        if (ns == NULL)
            return false;
        slots = ns;
        cap_slots = nc;
    }
    slots[n_slots++] = (exec_slot){pid, fd};
    return true;
}

static void start_exec(int fds[SBXI_NFDS])
{
    pid_t pid = fork();
    if (pid == 0)
        run_child(fds);
    int err = errno;
    close_fds(fds, 3);
    if (pid < 0) {
        send_rec(fds[3], SBXI_ERROR, err, SBXI_STEP_FORK, MSG_DONTWAIT);
        send_rec(fds[3], SBXI_WAIT, 127 << 8, 0, MSG_DONTWAIT);
        close(fds[3]);
        return;
    }
    if (!slot_add(pid, fds[3])) {
        /* No room to remember it: it must not run unreported. */
        kill(pid, SIGKILL);
        close(fds[3]);
    }
}

static void shut_down(int code)
{
    for (size_t i = 0; i < n_slots; i++)
        kill(-slots[i].pid, SIGKILL);
    _exit(code);
}

/* One control message; anything malformed is dropped with its fds. */
static void on_control(void)
{
    sbxi_ctl h;
    struct iovec iov = {&h, sizeof h};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 16)];
    } c;
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = c.buf,
                       .msg_controllen = sizeof c.buf};
    ssize_t n = recvmsg(ctl_fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == ENOMEM || errno == ENOBUFS || errno == EMFILE ||
            errno == ENFILE) {
            /* The box is at its memory or fd limit (a hog in an exec):
             * transient, the owner is still there.  Back off instead of
             * ending the box (poll reports the message again). */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            return;
        }
        /* ECONNRESET and the like: the owner is gone */
        shut_down(SBXI_EXIT_CTL_ERROR);
    }
    if (n == 0)
        shut_down(SBXI_EXIT_HANGUP);
    int fds[16], nfds = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm != NULL;
         cm = CMSG_NXTHDR(&m, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && nfds < 16; i++)
            memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
    }
    bool ok = n == (ssize_t)sizeof h &&
              !(m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && nfds == SBXI_NFDS &&
              h.magic == SBXI_MAGIC && h.version == SBXI_VERSION;
    if (!ok) {
        close_fds(fds, nfds);
        return;
    }
    start_exec(fds);
}

static void on_reaped(pid_t pid, int status)
{
    for (size_t i = 0; i < n_slots; i++) {
        if (slots[i].pid != pid)
            continue;
        send_rec(slots[i].fd, SBXI_WAIT, status, 0, MSG_DONTWAIT);
        close(slots[i].fd);
        slots[i] = slots[--n_slots];
        return;
    }
}

static void on_sigchld(void)
{
    struct signalfd_siginfo si[8];
    while (read(sig_fd, si, sizeof si) > 0)
        ;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        on_reaped(pid, status);
    }
}

static int connect_to(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof a.sun_path)
        _exit(125);
    memcpy(a.sun_path, path, len + 1);
    for (int i = 0; i < CONNECT_TRY_SEC * 100; i++) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
            _exit(125);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        close(fd);
        if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN &&
            errno != EINTR)
            _exit(125);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    _exit(125);
}

static void close_others(int keep)
{
    /* close_range(first, last) needs first <= last: nothing below keep
     * to close when keep is 3. */
    if ((keep <= 3 ||
         syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u) == 0) &&
        syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = 3; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

static long parse_fd(const char *s)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

int main(int argc, char **argv)
{
    /* Box code runs as our uid: not dumpable, it cannot ptrace us or take
     * our fds (pidfd_getfd, /proc/1/fd).  Refuse to run weaker. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        _exit(125);
    if (getpid() != 1)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    if (argc != 3)
        _exit(125);
    if (strcmp(argv[1], "--fd") == 0) {
        long v = parse_fd(argv[2]);
        if (v < 0 || fcntl((int)v, F_GETFD) < 0)
            _exit(125);
        ctl_fd = (int)v;
    } else if (strcmp(argv[1], "--connect") == 0) {
        ctl_fd = connect_to(argv[2]);
    } else {
        _exit(125);
    }
    if (ctl_fd <= 2) {
        int nfd = fcntl(ctl_fd, F_DUPFD_CLOEXEC, 3);
        if (nfd < 0)
            _exit(125);
        ctl_fd = nfd;
    }
    fcntl(ctl_fd, F_SETFD, FD_CLOEXEC);
    close_others(ctl_fd);
    int null = open("/dev/null", O_RDWR);
    for (int i = 0; i < 3; i++)
        if (null != i && (null < 0 || dup2(null, i) < 0))
            close(i);
    if (null > 2)
        close(null);

    signal(SIGPIPE, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_SETMASK, &chld, NULL); /* nothing else inherited */
    sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0)
        _exit(125);

    for (;;) {
        struct pollfd pf[2] = {{.fd = ctl_fd, .events = POLLIN},
                               {.fd = sig_fd, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(125);
        }
        if (pf[1].revents)
            on_sigchld();
        if (pf[0].revents)
            on_control();
    }
}
