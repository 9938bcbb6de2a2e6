/* SPDX-License-Identifier: MIT */
/* The owner's side of the exec protocol with the box's init
 * (relay/boxinit.c; wire format in relay/boxinit_proto.h) and the per-exec
 * kill groups: a cgroup v2 directory per exec whose cgroup.kill ends the
 * exec's whole tree, however it forks, setsids or double-forks away. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "box.h"

#include "../relay/boxinit_proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/magic.h>

#define XP_READY_SEC 30.0 /* the init forks and the child reports */
#define XP_KILL_WAIT_SEC 2.0

bool sbx_init_path(char *buf, size_t n, sbx_err *e)
{
    const char *env = secure_getenv(SBX_INIT_ENV);
    const char *path = env && env[0] ? env : SBX_LIBEXECDIR "/sandbox-init";
    if (snprintf(buf, n, "%s", path) >= (int)n)
        return sbx_fail(e, SANDBOX_EINVAL, "init path too long") && false;
    if (access(buf, X_OK) < 0) {
        sbx_fail_errno(e, SANDBOX_ERUNTIME, errno,
                       "boxes need the init binary %s (install libsandbox "
                       "fully, or set " SBX_INIT_ENV
                       " to the sandbox-init binary)",
                       buf);
        return false;
    }
    return true;
}

void sbx_xp_init(sbx_xp *xp, pthread_mutex_t *mu)
{
    memset(xp, 0, sizeof *xp);
    xp->ctl_fd = -1;
    xp->init_pid = -1;
    xp->mu = mu;
}

int sbx_xp_socketpair(sbx_xp *xp, int *init_end, sbx_err *e)
{
    int sv[2];
    *init_end = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno,
                              "socketpair (the box's control socket)");
    xp->ctl_fd = sv[0];
    *init_end = sv[1];
    return 0;
}

int sbx_xp_listen(const char *dir, uid_t box_uid, gid_t box_gid, int *lfd,
                  sbx_err *e)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    *lfd = -1;
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir,
                 SBX_INIT_SOCK_NAME) >= (int)sizeof a.sun_path)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "the control socket's directory %s is too long for "
                        "a Unix socket path (at most %zu bytes)",
                        dir, sizeof a.sun_path - sizeof SBX_INIT_SOCK_NAME - 1);
    sbx_autoclose int fd =
        socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "socket (control)");
    if (unlink(a.sun_path) < 0 && errno != ENOENT)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "unlink %s", a.sun_path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "bind %s", a.sun_path);
    /* Any uid may connect: the box's init runs as the image's USER, which
     * may be any id of the box's range (and its name is resolved by the
     * engine, in the image).  Who is accepted is decided by the peer's
     * credentials (sbx_xp_accept), not by the socket's mode; the socket is
     * gone once the init is accepted. */
    if (lchown(a.sun_path, box_uid, box_gid) < 0 ||
        chmod(a.sun_path, 0666) < 0 || listen(fd, 4) < 0) {
        int err = errno;
        unlink(a.sun_path);
        return sbx_fail_errno(e, SANDBOX_EIO, err,
                              "preparing the control socket %s", a.sun_path);
    }
    *lfd = fd;
    fd = -1;
    return 0;
}

/* Is pid the init of its own pid namespace (NSpid's last field is 1)? */
static bool is_ns_init(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    bool ok = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "NSpid:", 6) != 0)
            continue;
        const char *last = strrchr(line, '\t');
        const char *sp = strrchr(line, ' ');
        if (sp != NULL && (last == NULL || sp > last))
            last = sp;
        ok = last != NULL && strtol(last + 1, NULL, 10) == 1 &&
             strchr(line + 6, '\t') != strrchr(line, '\t');
        break;
    }
    fclose(f);
    return ok;
}

int sbx_xp_accept(sbx_xp *xp, int lfd, pid_t expect_pid, sbx_xp_peer_fn peer_ok,
                  void *ctx, double timeout_sec, sbx_err *e)
{
    struct sockaddr_un a;
    socklen_t alen = sizeof a;
    bool named = getsockname(lfd, (struct sockaddr *)&a, &alen) == 0 &&
                 alen > offsetof(struct sockaddr_un, sun_path) &&
                 a.sun_path[0] != '\0';
    if (named && alen < sizeof a)
        ((char *)&a)[alen] = '\0';
    double until = sbx_now() + timeout_sec;
    int rc = 0;
    for (;;) {
        double left = until - sbx_now();
        if (left <= 0) {
            rc = sbx_fail(
                e, SANDBOX_ERUNTIME,
                "the box's init did not connect to its control "
                "socket within %g s (is %s mounted at " SBX_INIT_BOX_DIR
                " and the box started with it as its command?)",
                timeout_sec, named ? a.sun_path : "the socket");
            break;
        }
        struct pollfd pf = {.fd = lfd, .events = POLLIN};
        int pr = poll(&pf, 1, (int)(left * 1000.0) + 1);
        if (pr < 0 && errno != EINTR) {
            rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "poll (control)");
            break;
        }
        if (pr <= 0)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                continue;
            rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "accept (control)");
            break;
        }
        struct ucred cr;
        socklen_t cl = sizeof cr;
        bool ok =
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 &&
            cr.pid > 0 &&
            (expect_pid > 0 ? cr.pid == expect_pid : is_ns_init(cr.pid)) &&
            (peer_ok == NULL || peer_ok(ctx, cr.pid));
        if (!ok) {
            close(fd); /* not the box's init: someone else, refused */
            continue;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        xp->ctl_fd = fd;
        xp->init_pid = cr.pid;
        break;
    }
    if (named)
        unlink(a.sun_path);
    return rc;
}

/* ---- kill groups --------------------------------------------------------- */

static bool pure_v2(void)
{
    struct statfs s;
    return statfs("/sys/fs/cgroup", &s) == 0 &&
           (unsigned long)s.f_type == (unsigned long)CGROUP2_SUPER_MAGIC;
}

int sbx_xp_killgroups(sbx_xp *xp, const char *box_name, const char *parent_v2,
                      sbx_err *e)
{
    int n;
    if (box_name == NULL || box_name[0] == '\0' || strchr(box_name, '/') ||
        strcmp(box_name, ".") == 0 || strcmp(box_name, "..") == 0)
        return sbx_fail(e, SANDBOX_EINVAL, "kill groups: bad box name");
    if (pure_v2()) {
        if (parent_v2 == NULL || parent_v2[0] != '/')
            return sbx_fail(e, SANDBOX_EINVAL,
                            "kill groups: the box's cgroup v2 directory is "
                            "needed on a cgroup v2 host");
        n = snprintf(xp->kill_dir, sizeof xp->kill_dir, "%s/execs", parent_v2);
    } else {
        n = snprintf(xp->kill_dir, sizeof xp->kill_dir,
                     SBX_KILLGROUP_V1_ROOT "/%s", box_name);
    }
    if (n < 0 || (size_t)n >= sizeof xp->kill_dir) {
        xp->kill_dir[0] = '\0';
        return sbx_fail(e, SANDBOX_EINVAL, "kill groups: path too long");
    }
    /* Another box's close may remove the shared root between our mkdirs:
     * try again. */
    int r = -ENOENT;
    for (int i = 0; i < 3 && r == -ENOENT; i++)
        r = sbx_mkdir_p(xp->kill_dir, 0755);
    if (r < 0) {
        int err = -r;
        char dir[sizeof xp->kill_dir];
        memcpy(dir, xp->kill_dir, sizeof dir);
        xp->kill_dir[0] = '\0';
        return sbx_fail_errno(
            e, SANDBOX_ERUNTIME, err,
            "cannot make the exec kill groups' cgroup v2 directory %s (an "
            "exec's timeout kills its tree through cgroup.kill: needs root "
            "and a cgroup v2 hierarchy, kernel >= 5.14)",
            dir);
    }
    return 0;
}

static int group_path(char *buf, size_t n, const char *dir, unsigned id,
                      const char *file)
{
    int k = snprintf(buf, n, "%s/exec-%u%s%s", dir, id, file ? "/" : "",
                     file ? file : "");
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* Async-signal-safe path join: dir + "/" + name into buf (false: too long). */
static bool join_safe(char *buf, size_t n, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b + 1 > n)
        return false;
    memcpy(buf, dir, a);
    buf[a] = '/';
    memcpy(buf + a + 1, name, b + 1);
    return true;
}

static double mono_safe(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait (bounded) until cgroup dir has no process left. */
static void wait_empty(const char *dir)
{
    char path[PATH_MAX], buf[256];
    if (!join_safe(path, sizeof path, dir, "cgroup.events"))
        return;
    double until = mono_safe() + XP_KILL_WAIT_SEC;
    while (mono_safe() < until) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        ssize_t r = read(fd, buf, sizeof buf - 1);
        if (r <= 0) {
            close(fd);
            return;
        }
        buf[r] = '\0';
        if (strstr(buf, "populated 0") != NULL) {
            close(fd);
            return;
        }
        struct pollfd pf = {.fd = fd, .events = POLLPRI};
        poll(&pf, 1, 50);
        close(fd);
    }
}

void sbx_xp_reap_safe(const char *kill_dir, bool remove_dir)
{
    char path[PATH_MAX];
    if (kill_dir == NULL || kill_dir[0] != '/')
        return;
    /* One write kills every exec group below (never the init: it is not
     * in kill_dir). */
    if (join_safe(path, sizeof path, kill_dir, "cgroup.kill")) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t w = write(fd, "1", 1);
            (void)w;
            close(fd);
        }
    }
    wait_empty(kill_dir);
    int dfd = open(kill_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        char buf[4096];
        long n;
        while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
            for (long off = 0; off < n;) {
                struct dirent64 *d = (struct dirent64 *)(buf + off);
                off += d->d_reclen;
                if (d->d_type == DT_DIR && strncmp(d->d_name, "exec-", 5) == 0)
                    unlinkat(dfd, d->d_name, AT_REMOVEDIR);
            }
        }
        close(dfd);
    }
    if (remove_dir && rmdir(kill_dir) == 0 &&
        strncmp(kill_dir, SBX_KILLGROUP_V1_ROOT "/",
                sizeof SBX_KILLGROUP_V1_ROOT) == 0)
        rmdir(SBX_KILLGROUP_V1_ROOT); /* the last box's: EBUSY otherwise */
}

/* "populated 0" in dir's cgroup.events: no process anywhere below. */
static bool unpopulated(const char *dir)
{
    char path[PATH_MAX], buf[256];
    if (!join_safe(path, sizeof path, dir, "cgroup.events"))
        return false;
    sbx_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (r <= 0)
        return false;
    buf[r] = '\0';
    return strstr(buf, "populated 0") != NULL;
}

bool sbx_xp_sweep_dir(const char *dir, double min_age_sec)
{
    struct stat st;
    char execs[PATH_MAX];
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
        difftime(time(NULL), st.st_ctime) < min_age_sec || !unpopulated(dir))
        return false;
    /* Nothing runs below, so nothing can be moved in: the groups of the
     * execs that were running when the box died, then the box's own. */
    if (join_safe(execs, sizeof execs, dir, "execs") &&
        access(execs, F_OK) == 0)
        sbx_xp_reap_safe(execs, true);
    sbx_xp_reap_safe(dir, false);
    return rmdir(dir) == 0;
}

unsigned sbx_xp_killgroups_sweep(double min_age_sec)
{
    DIR *d = opendir(SBX_KILLGROUP_V1_ROOT);
    if (d == NULL)
        return 0;
    unsigned n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        char path[PATH_MAX];
        if (strncmp(de->d_name, "sandbox-", 8) == 0 &&
            join_safe(path, sizeof path, SBX_KILLGROUP_V1_ROOT, de->d_name) &&
            sbx_xp_sweep_dir(path, min_age_sec))
            n++;
    }
    closedir(d);
    rmdir(SBX_KILLGROUP_V1_ROOT); /* EBUSY while a box has its groups */
    return n;
}

void sbx_xp_kill_all(sbx_xp *xp)
{
    if (xp->kill_dir[0] != '\0')
        sbx_xp_reap_safe(xp->kill_dir, false);
}

void sbx_xp_close(sbx_xp *xp)
{
    sbx_closep(&xp->ctl_fd);
    if (xp->kill_dir[0] != '\0')
        sbx_xp_reap_safe(xp->kill_dir, true);
    xp->kill_dir[0] = '\0';
}

/* ---- one exec ------------------------------------------------------------ */

typedef struct xp_run {
    sbx_xp *xp;
    unsigned id;
    int st;        /* our end of the status socket */
    pid_t pid;     /* the exec's host pid */
    bool grouped;  /* it is in kill_dir/exec-<id> */
    bool dead;     /* status EOF without a record */
    bool expired;  /* the deadline passed before the command ran */
    int err, step; /* an ERROR record, step 0: none */
    char rbuf[sizeof(sbxi_rec)];
    size_t rlen;
} xp_run;

static int box_dead(sbx_err *e, const char *what, int err)
{
    return sbx_fail_errno(e, SANDBOX_EBOXDEAD, err,
                          "the box's init is gone (%s): the box died or was "
                          "destroyed",
                          what);
}

/* Send the four fds to the init. */
static int send_fds(sbx_xp *xp, unsigned id, const int fds[SBXI_NFDS],
                    sbx_err *e)
{
    sbxi_ctl h = {SBXI_MAGIC, SBXI_VERSION, id};
    struct iovec iov = {&h, sizeof h};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * SBXI_NFDS)];
    } c;
    memset(&c, 0, sizeof c);
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = c.buf,
                       .msg_controllen = sizeof c.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * SBXI_NFDS);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * SBXI_NFDS);
    ssize_t w;
    do
        w = sendmsg(xp->ctl_fd, &m, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)sizeof h)
        return 0;
    if (w < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN))
        return box_dead(e, "its control socket is closed", errno);
    return sbx_fail_errno(e, SANDBOX_EIO, w < 0 ? errno : EIO,
                          "sending the exec to the box's init");
}

/* Take one record: 1 complete (in *r), 0 need more, -1 EOF/error. */
static int read_rec(xp_run *x, sbxi_rec *r, struct ucred *cred, bool *got_cred)
{
    for (;;) {
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(struct ucred))];
        } c;
        struct iovec iov = {x->rbuf + x->rlen, sizeof x->rbuf - x->rlen};
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = c.buf,
                           .msg_controllen = sizeof c.buf};
        ssize_t n = recvmsg(x->st, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm != NULL;
             cm = CMSG_NXTHDR(&m, cm))
            if (cm->cmsg_level == SOL_SOCKET &&
                cm->cmsg_type == SCM_CREDENTIALS && cred != NULL &&
                cm->cmsg_len >= CMSG_LEN(sizeof *cred)) {
                memcpy(cred, CMSG_DATA(cm), sizeof *cred);
                *got_cred = true;
            }
        x->rlen += (size_t)n;
        if (x->rlen < sizeof x->rbuf)
            continue;
        memcpy(r, x->rbuf, sizeof *r);
        x->rlen = 0;
        if (r->magic != SBXI_MAGIC)
            return -1;
        return 1;
    }
}

/* The capture loop's status hook: 1 when the WAIT record arrived. */
static int on_status(void *ctx, sbx_capture *cap)
{
    xp_run *x = ctx;
    for (;;) {
        sbxi_rec r;
        int k = read_rec(x, &r, NULL, NULL);
        if (k == 0)
            return 0;
        if (k < 0) {
            x->dead = true;
            return -1;
        }
        if (r.type == SBXI_ERROR && x->step == 0) {
            x->err = r.a;
            x->step = r.b;
        } else if (r.type == SBXI_WAIT) {
            cap->status = r.a;
            return 1;
        }
    }
}

static void stop_exec(void *ctx, sbx_child *c)
{
    (void)c;
    xp_run *x = ctx;
    char path[PATH_MAX];
    if (x->grouped &&
        group_path(path, sizeof path, x->xp->kill_dir, x->id, "cgroup.kill") ==
            0 &&
        sbx_write_file(path, "1") == 0)
        return;
    /* No kill group: its session (it called setsid), which is all an
     * exec that stays in its session has. */
    if (x->pid > 0)
        kill(-x->pid, SIGKILL);
}

/* The exec's process ended before it ran the command (a process in the box
 * killed it): the init, alive, reported its wait status. */
static int ended_early(int status, const char *before, sbx_err *e)
{
    if (WIFSIGNALED(status))
        return sbx_fail(e, SANDBOX_ERUNTIME,
                        "the exec's process in the box was killed by signal "
                        "%d before it %s (by another process in the box?)",
                        WTERMSIG(status), before);
    return sbx_fail(e, SANDBOX_ERUNTIME,
                    "the exec's process in the box exited with code %d "
                    "before it %s",
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1, before);
}

/* The status socket closed: a WAIT record left in it means the init lives
 * and only the exec's process died; none, the init is gone. */
static int status_closed(xp_run *x, const char *before, int err, sbx_err *e)
{
    sbxi_rec r;
    while (read_rec(x, &r, NULL, NULL) > 0)
        if (r.type == SBXI_WAIT)
            return ended_early(r.a, before, e);
    return box_dead(e, "the exec's status socket closed", err);
}

/* Wait for READY (with the child's pid from SCM_CREDENTIALS), at most the
 * exec's timeout: any process in the box can SIGSTOP the init's child
 * before it reports. */
static int wait_ready(xp_run *x, double deadline, double timeout_sec,
                      sbx_err *e)
{
    bool capped = deadline - sbx_now() < XP_READY_SEC;
    double until = capped ? deadline : sbx_now() + XP_READY_SEC;
    for (;;) {
        sbxi_rec r;
        struct ucred cr = {0};
        bool got = false;
        int k = read_rec(x, &r, &cr, &got);
        if (k < 0)
            return box_dead(e, "it closed the exec's status socket", EPIPE);
        if (k > 0 && r.type == SBXI_WAIT)
            return ended_early(r.a, "started", e);
        if (k > 0 && r.type == SBXI_READY) {
            if (!got || cr.pid <= 0)
                return sbx_fail(e, SANDBOX_EIO,
                                "the box's init reported an exec without "
                                "credentials");
            x->pid = cr.pid;
            return 0;
        }
        if (k > 0 && r.type == SBXI_ERROR)
            return sbx_fail_errno(e, SANDBOX_ERUNTIME, r.a,
                                  "the box's init could not start the exec "
                                  "(fork)");
        if (k > 0)
            continue;
        double left = until - sbx_now();
        if (left <= 0) {
            x->expired = capped;
            return sbx_fail(e, SANDBOX_ERUNTIME,
                            "the box's init did not start the exec within "
                            "%g s (%s)",
                            capped ? timeout_sec : XP_READY_SEC,
                            capped ? "its timeout; something in the box may "
                                     "have stopped it"
                                   : "the box is overloaded or stopped");
        }
        struct pollfd pf = {.fd = x->st, .events = POLLIN};
        poll(&pf, 1, (int)(left * 1000.0) + 1);
    }
}

/* Make exec-<id> and move the exec into it. */
static int join_group(xp_run *x, sbx_err *e)
{
    char path[PATH_MAX], val[32];
    if (x->xp->kill_dir[0] == '\0')
        return 0;
    if (group_path(path, sizeof path, x->xp->kill_dir, x->id, NULL) < 0)
        return sbx_fail(e, SANDBOX_EINVAL, "kill group path too long");
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, errno,
                              "mkdir %s (the exec's kill group)", path);
    x->grouped = true;
    group_path(path, sizeof path, x->xp->kill_dir, x->id, "cgroup.procs");
    snprintf(val, sizeof val, "%d", (int)x->pid);
    int r = sbx_write_file(path, val);
    if (r < 0)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, -r,
                              "moving the exec into its kill group %s", path);
    return 0;
}

static int put(sbx_buf *b, const char *s)
{
    return sbx_buf_put(b, s, strlen(s) + 1);
}

/* The spec (boxinit_proto.h) followed by "go". */
static int send_spec(xp_run *x, const sbx_xspec *xs, double until, sbx_err *e)
{
    sbx_buf b = {0};
    uint32_t hdr[4] = {0, xs->path_lookup ? SBXI_FLAG_PATH_LOOKUP : 0, 0, 0};
    size_t argc = 0, envc = 0;
    while (xs->argv[argc] != NULL)
        argc++;
    while (xs->envp != NULL && xs->envp[envc] != NULL)
        envc++;
    hdr[2] = (uint32_t)argc;
    hdr[3] = (uint32_t)envc;
    int rc = sbx_buf_put(&b, hdr, sizeof hdr);
    if (rc == 0)
        rc = put(&b, xs->cwd != NULL ? xs->cwd : "/");
    for (size_t i = 0; rc == 0 && i < argc; i++)
        rc = put(&b, xs->argv[i]);
    for (size_t i = 0; rc == 0 && i < envc; i++)
        rc = put(&b, xs->envp[i]);
    if (rc == 0)
        rc = sbx_buf_put(&b, (const char[]){SBXI_GO}, 1);
    if (rc < 0) {
        free(b.data);
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    }
    size_t len = b.len - sizeof(uint32_t) - 1;
    if (len > SBXI_SPEC_MAX) {
        free(b.data);
        return sbx_fail(e, SANDBOX_EINVAL,
                        "the exec's argv and environment take %zu bytes; at "
                        "most %u",
                        len, SBXI_SPEC_MAX);
    }
    uint32_t l32 = (uint32_t)len;
    memcpy(b.data, &l32, sizeof l32);
    /* Non-blocking, under the exec's timeout: a spec larger than the
     * socket buffer needs the child to read it, and any process in the box
     * (same uid) can SIGSTOP the child after READY; a blocking send would
     * then hang the owner forever (tests/box_attacks.c). */
    size_t off = 0;
    while (off < b.len) {
        ssize_t w =
            send(x->st, b.data + off, b.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            double left = until - sbx_now();
            if (left <= 0) {
                free(b.data);
                x->expired = true;
                return sbx_fail(e, SANDBOX_ERUNTIME,
                                "the exec did not take its argv and "
                                "environment within its timeout of %g s "
                                "(something in the box stopped it); it was "
                                "killed",
                                xs->timeout_sec);
            }
            struct pollfd pf = {.fd = x->st, .events = POLLOUT};
            poll(&pf, 1, left > 1e6 ? 1000000000 : (int)(left * 1000.0) + 1);
            continue;
        }
        if (w <= 0) {
            int err = errno;
            free(b.data);
            return status_closed(x, "took its argv and environment", err, e);
        }
        off += (size_t)w;
    }
    free(b.data);
    return 0;
}

static const char *step_name(int step)
{
    switch (step) {
    case SBXI_STEP_FORK: return "forking the exec";
    case SBXI_STEP_SPEC: return "reading the exec's argv and environment";
    case SBXI_STEP_STDIO: return "setting up the exec's stdin/stdout/stderr";
    case SBXI_STEP_CWD: return "changing to the working directory";
    default: return "executing";
    }
}

static int exec_error(const xp_run *x, const sbx_xspec *xs, sbx_err *e)
{
    if (x->step == SBXI_STEP_EXEC)
        return sbx_fail_errno(
            e, SANDBOX_ERUNTIME, x->err, "the box could not execute '%s'%s",
            xs->argv[0],
            xs->path_lookup && strchr(xs->argv[0], '/') == NULL
                ? " (argv mode: looked up in the exec's PATH, no shell)"
                : "");
    if (x->step == SBXI_STEP_CWD)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, x->err,
                              "the exec's working directory '%s' in the box",
                              xs->cwd != NULL ? xs->cwd : "/");
    return sbx_fail_errno(e, SANDBOX_ERUNTIME, x->err, "the box's init: %s",
                          step_name(x->step));
}

/* Pipes and the status socket; fds[] gets the box's ends. */
static int make_fds(const sbx_xspec *xs, int fds[SBXI_NFDS], sbx_child *c,
                    xp_run *x, sbx_err *e)
{
    int p[2], sv[2], rc;
    if (xs->io != NULL && (rc = sbx_io_stdin_pipe(xs->io, &fds[0], e)) < 0)
        return rc;
    if (fds[0] < 0 && (fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "open /dev/null");
    for (int i = 1; i <= 2; i++) {
        if (pipe2(p, O_CLOEXEC) < 0)
            return sbx_fail_errno(e, SANDBOX_EIO, errno, "pipe2");
        fds[i] = p[1];
        if (i == 1)
            c->out_fd = p[0];
        else
            c->err_fd = p[0];
        fcntl(p[0], F_SETFL, O_NONBLOCK);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "socketpair (status)");
    x->st = sv[0];
    fds[3] = sv[1];
    int one = 1;
    if (setsockopt(x->st, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "SO_PASSCRED");
    fcntl(x->st, F_SETFL, O_NONBLOCK);
    return 0;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        sbx_closep(&fds[i]);
}

int sbx_xp_exec(sbx_xp *xp, const sbx_xspec *xs, sbx_capture *cap, sbx_err *e)
{
    if (xs == NULL || xs->argv == NULL || xs->argv[0] == NULL)
        return sbx_fail(e, SANDBOX_EINVAL, "exec: empty argv");
    if (!(xs->timeout_sec > 0))
        return sbx_fail(e, SANDBOX_EINVAL, "exec: the timeout must be > 0");
    if (xp->ctl_fd < 0)
        return box_dead(e, "no control socket", ENOTCONN);
    double deadline = sbx_now() + xs->timeout_sec;
    xp_run x = {.xp = xp, .st = -1, .pid = -1};
    if (xp->mu != NULL)
        pthread_mutex_lock(xp->mu);
    x.id = ++xp->next_id;
    if (xp->mu != NULL)
        pthread_mutex_unlock(xp->mu);

    sbx_child c = {.pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1};
    int fds[SBXI_NFDS] = {-1, -1, -1, -1};
    cap->io = xs->io;
    cap->cap = xs->output_limit;
    int rc = make_fds(xs, fds, &c, &x, e);
    if (rc == 0)
        rc = send_fds(xp, x.id, fds, e);
    close_all(fds, SBXI_NFDS);
    if (rc == 0)
        rc = wait_ready(&x, deadline, xs->timeout_sec, e);
    if (rc == 0)
        rc = join_group(&x, e);
    if (rc == 0)
        rc = send_spec(&x, xs, deadline, e);
    if (rc < 0) {
        /* It never ran user code: kill what started (its session). */
        if (x.pid > 0)
            stop_exec(&x, &c);
        if (xs->io != NULL)
            sbx_io_stop_feeding(xs->io);
        if (x.expired) {
            /* Its timeout ran out before the command ran (a loaded box, or
             * a process in it stopping the exec): a timeout like any
             * other, not an error. */
            cap->timed_out = true;
            rc = 0;
        }
    } else {
        /* One deadline for the whole exec: a box that stops and resumes
         * the child at each step cannot stretch it. */
        double left = deadline - sbx_now();
        rc = sbx_capture_run_status(&c, x.st, on_status, &x,
                                    left > 0.001 ? left : 0.001, xs->cancel_fd,
                                    stop_exec, &x, cap, e);
        if (rc == 0 && x.dead)
            rc = box_dead(e, "the exec's status socket closed", EPIPE);
        else if (rc == 0 && x.step != 0)
            rc = exec_error(&x, xs, e);
    }
    sbx_closep(&c.out_fd);
    sbx_closep(&c.err_fd);
    sbx_closep(&x.st);
    if (x.grouped) {
        char path[PATH_MAX];
        if (group_path(path, sizeof path, xp->kill_dir, x.id, NULL) == 0)
            rmdir(path); /* EBUSY: background processes; kill_all */
    }
    return rc;
}
