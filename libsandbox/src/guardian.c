/* SPDX-License-Identifier: MIT */
/* The guardian process: see guardian.h for the contract.  Everything below
 * guardian_main() runs in the forked child and is async-signal-safe. */
#include "guardian.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* The guardian's fds, fixed after it tidied its table. */
#define G_SOCK 3
#define G_PIDFD 4
#define G_FIRST_FREE 5

typedef struct g_job {
    double deadline;
    double idle_sec; /* > 0: fire after this long idle ('I', no 'B') */
    char *const *cleanup;
    char *const *gone;
    sbx_guardian_fn fn;
    void *arg;
    char **envp;
    bool have_pidfd;
} g_job;

/* ---- the child: async-signal-safe only -------------------------------- */

static double g_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void g_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Run argv to completion within timeout; its exit code, or -1 when it
 * could not run, was killed, or took too long (then it is SIGKILLed). */
static int g_run(char *const argv[], char **envp, double timeout)
{
    pid_t p = _Fork();
    if (p == 0) {
        /* The guardian ignores these; its commands get the defaults. */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    if (p < 0)
        return -1;
    double until = g_now() + timeout;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(p, &st, WNOHANG);
        if (r == p)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (g_now() >= until) {
            kill(p, SIGKILL);
            while (waitpid(p, &st, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        g_sleep_ms(10);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void g_kill_watched(const int *watch, int n)
{
#ifdef SYS_pidfd_send_signal
    for (int i = 0; i < n; i++)
        syscall(SYS_pidfd_send_signal, watch[i], SIGKILL, NULL, 0);
    /* Wait (bounded) until they are dead: a pidfd polls readable then. */
    double until = g_now() + 2.0;
    for (int i = 0; i < n; i++) {
        struct pollfd pf = {.fd = watch[i], .events = POLLIN};
        int ms = (int)((until - g_now()) * 1000.0);
        if (ms > 0)
            while (poll(&pf, 1, ms) < 0 && errno == EINTR)
                ;
    }
#else
    (void)watch;
    (void)n;
#endif
}

/* Read one message: 'R' (release), 'P' (a pidfd to watch, stored), 0
 * (nothing yet / unknown), -1 (EOF or error: the caller's end is gone). */
static int g_recv(int *watch, int *nwatch, int flags)
{
    char byte = 0;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cm.buf,
                        .msg_controllen = sizeof cm.buf};
    ssize_t k = recvmsg(G_SOCK, &mh, MSG_CMSG_CLOEXEC | flags);
    if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (k <= 0)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c != NULL && c->cmsg_level == SOL_SOCKET &&
        c->cmsg_type == SCM_RIGHTS) {
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
        if (byte == 'P' && *nwatch < SBX_GUARDIAN_MAX_WATCH)
            watch[(*nwatch)++] = fd;
        else
            close(fd);
    }
    return (unsigned char)byte;
}

__attribute__((noreturn)) static void g_fire(const g_job *j, int *watch,
                                             int nwatch)
{
    /* Messages the caller sent just before it died (a pidfd to kill). */
    for (int i = 0; i < 16; i++) {
        int got = g_recv(watch, &nwatch, MSG_DONTWAIT);
        if (got == 'R')
            _exit(SBX_GUARDIAN_RELEASED);
        if (got <= 0)
            break;
    }
    g_kill_watched(watch, nwatch);
    bool done = false;
    if (j->cleanup == NULL) /* the callback does the whole cleanup */
        done = true;
    for (int t = 0; t < SBX_GUARDIAN_TRIES && !done; t++) {
        if (t > 0)
            g_sleep_ms(250);
        int rc = g_run(j->cleanup, j->envp, SBX_GUARDIAN_CALL_SEC);
        if (j->gone != NULL)
            done = g_run(j->gone, j->envp, SBX_GUARDIAN_CALL_SEC) > 0;
        else
            done = rc == 0;
    }
    if (j->fn != NULL)
        j->fn(j->arg);
    _exit(done ? SBX_GUARDIAN_FIRED : SBX_GUARDIAN_FAILED);
}

/* Leave exactly: 0-2 on /dev/null, G_SOCK, G_PIDFD (if any). */
static int g_tidy_fds(int sock, int pidfd)
{
    int s = fcntl(sock, F_DUPFD, G_FIRST_FREE);
    int p = pidfd >= 0 ? fcntl(pidfd, F_DUPFD, G_FIRST_FREE) : -1;
    int nul = open("/dev/null", O_RDWR);
    int n = nul >= 0 ? fcntl(nul, F_DUPFD, G_FIRST_FREE) : -1;
    if (s < 0 || n < 0 || (pidfd >= 0 && p < 0))
        return -1;
    if (dup2(n, 0) < 0 || dup2(n, 1) < 0 || dup2(n, 2) < 0 ||
        dup2(s, G_SOCK) < 0)
        return -1;
    if (p >= 0 && dup2(p, G_PIDFD) < 0)
        return -1;
    if (p < 0)
        close(G_PIDFD);
    /* Fds the caller owns (its pipes, sockets, the box's) must not stay
     * open in here: close everything from G_FIRST_FREE up. */
    if (close_range(G_FIRST_FREE, ~0U, 0) < 0) {
        struct rlimit rl;
        int max = 65536;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            max = (int)rl.rlim_cur;
        for (int fd = G_FIRST_FREE; fd < max; fd++)
            close(fd);
    }
    /* Not inherited by the cleanup commands. */
    fcntl(G_SOCK, F_SETFD, FD_CLOEXEC);
    if (p >= 0)
        fcntl(G_PIDFD, F_SETFD, FD_CLOEXEC);
    return 0;
}

static void g_reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    /* Its output goes nowhere and it has no terminal. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

__attribute__((noreturn)) static void guardian_main(int sock, int pidfd,
                                                    const g_job *j)
{
    if (g_tidy_fds(sock, pidfd) < 0)
        _exit(SBX_GUARDIAN_FAILED);
    g_reset_signals();
    /* Its own session: the terminal's SIGINT/SIGHUP to the caller's
     * process group (Ctrl-C) kills the caller, not its guardian.  Cwd "/":
     * it pins no directory of the caller's. */
    setsid();
    if (chdir("/") < 0)
        _exit(SBX_GUARDIAN_FAILED);
    prctl(PR_SET_NAME, "sbx-guardian", 0, 0, 0);

    int watch[SBX_GUARDIAN_MAX_WATCH];
    int nwatch = 0;
    bool busy = false;
    double idle_since = g_now();
    for (;;) {
        struct pollfd pf[2] = {{.fd = G_SOCK, .events = POLLIN},
                               {.fd = G_PIDFD, .events = POLLIN}};
        int ms = -1;
        double until = j->deadline;
        if (j->idle_sec > 0 && !busy &&
            (until <= 0 || idle_since + j->idle_sec < until))
            until = idle_since + j->idle_sec;
        if (until > 0) {
            double left = until - g_now();
            if (left <= 0)
                g_fire(j, watch, nwatch);
            ms = left > 60.0 ? 60000 : (int)(left * 1000.0) + 1;
        }
        int r = poll(pf, j->have_pidfd ? 2 : 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            g_fire(j, watch, nwatch);
        if (r == 0)
            continue; /* the deadlines are checked at the top */
        if (j->have_pidfd && pf[1].revents != 0)
            g_fire(j, watch, nwatch); /* the caller is dead */
        if (pf[0].revents == 0)
            continue;
        int got = g_recv(watch, &nwatch, 0);
        if (got == 'R')
            _exit(SBX_GUARDIAN_RELEASED);
        if (got == 'B')
            busy = true;
        if (got == 'I') {
            busy = false;
            idle_since = g_now();
        }
        if (got < 0)
            g_fire(j, watch, nwatch); /* EOF: the caller's end closed */
    }
}

/* ---- the library's side ------------------------------------------------ */

static int g_start(sbx_guardian *g, double deadline_monotonic, double idle_sec,
                   char *const cleanup_argv[], char *const gone_argv[],
                   sbx_guardian_fn fn, void *fn_arg, sbx_err *e)
{
    int sv[2];
    g->pid = -1;
    g->fd = -1;
    if ((cleanup_argv == NULL && fn == NULL) ||
        (cleanup_argv != NULL &&
         (cleanup_argv[0] == NULL || cleanup_argv[0][0] != '/')) ||
        (gone_argv != NULL && (gone_argv[0] == NULL || gone_argv[0][0] != '/')))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "guardian: the cleanup commands need absolute paths");
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno,
                              "socketpair for the guardian");
    int pidfd = -1;
#ifdef SYS_pidfd_open
    pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
#endif
    g_job job = {.deadline = deadline_monotonic,
                 .idle_sec = idle_sec,
                 .cleanup = cleanup_argv,
                 .gone = gone_argv,
                 .fn = fn,
                 .arg = fn_arg,
                 .envp = environ,
                 .have_pidfd = pidfd >= 0};
    /* Every signal blocked across the fork: no handler of the caller's
     * ever runs in the guardian (it resets them, then unblocks). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = _Fork();
    if (pid == 0)
        guardian_main(sv[1], pidfd, &job);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    if (pidfd >= 0)
        close(pidfd);
    if (pid < 0) {
        close(sv[0]);
        return sbx_fail_errno(e, SANDBOX_ESPAWN, err,
                              "cannot fork the guardian process");
    }
    g->pid = pid;
    g->fd = sv[0];
    return 0;
}

int sbx_guardian_start(sbx_guardian *g, double deadline_monotonic,
                       char *const cleanup_argv[], char *const gone_argv[],
                       sbx_guardian_fn fn, void *fn_arg, sbx_err *e)
{
    return g_start(g, deadline_monotonic, 0, cleanup_argv, gone_argv, fn,
                   fn_arg, e);
}

int sbx_guardian_start_idle(sbx_guardian *g, double deadline_monotonic,
                            double idle_sec, char *const cleanup_argv[],
                            char *const gone_argv[], sbx_guardian_fn fn,
                            void *fn_arg, sbx_err *e)
{
    return g_start(g, deadline_monotonic, idle_sec, cleanup_argv, gone_argv, fn,
                   fn_arg, e);
}

void sbx_guardian_activity(sbx_guardian *g, bool busy)
{
    if (g->fd < 0)
        return;
    ssize_t n;
    do
        n = send(g->fd, busy ? "B" : "I", 1, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
}

int sbx_guardian_watch(sbx_guardian *g, int pidfd, sbx_err *e)
{
    if (g->fd < 0 || pidfd < 0)
        return sbx_fail(e, SANDBOX_EINVAL, "guardian: nothing to watch");
    char byte = 'P';
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cm.buf,
                        .msg_controllen = sizeof cm.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pidfd, sizeof pidfd);
    ssize_t n;
    do
        n = sendmsg(g->fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        return sbx_fail_errno(e, SANDBOX_EIO, errno,
                              "handing a process to the guardian");
    return 0;
}

int sbx_guardian_release(sbx_guardian *g)
{
    if (g->pid <= 0) {
        sbx_closep(&g->fd);
        return SBX_GUARDIAN_RELEASED;
    }
    if (g->fd >= 0) {
        /* MSG_NOSIGNAL: a guardian that already fired and exited must
         * not cost the caller a SIGPIPE. */
        ssize_t n;
        do
            n = send(g->fd, "R", 1, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
    }
    sbx_closep(&g->fd);
    int st = 0;
    pid_t r;
    do
        r = waitpid(g->pid, &st, 0);
    while (r < 0 && errno == EINTR);
    g->pid = -1;
    if (r < 0)
        return SBX_GUARDIAN_RELEASED; /* reaped behind our back */
    if (!WIFEXITED(st))
        return SBX_GUARDIAN_FAILED;
    int code = WEXITSTATUS(st);
    return code == SBX_GUARDIAN_FIRED    ? SBX_GUARDIAN_FIRED
           : code == SBX_GUARDIAN_FAILED ? SBX_GUARDIAN_FAILED
                                         : SBX_GUARDIAN_RELEASED;
}
