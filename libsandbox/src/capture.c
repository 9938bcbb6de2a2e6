/* SPDX-License-Identifier: MIT */
/* The capture loop: both pipes read concurrently with poll, at most `cap`
 * bytes kept per stream (the rest counted and drained so the child never
 * blocks), a monotonic deadline, cancellation, a bounded drain after the
 * child is gone, and the child always reaped before returning. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

/* After the client exits (or is stopped), a grandchild that inherited the
 * pipes may hold them open forever (cpython#76116): drain this long, then
 * give up. */
#define SBX_DRAIN_SEC 1.0
/* A stopped client that does not exit within this is SIGKILLed. */
#define SBX_STOP_GRACE_SEC 5.0
#define SBX_READ_CHUNK 65536
/* Status mode: stop hook rounds (SBX_STOP_GRACE_SEC apart) without a
 * status record before the status counts as lost. */
#define SBX_STATUS_STOPS 3

void sbx_stream_free(sandbox_stream *s)
{
    free(s->data);
    memset(s, 0, sizeof *s);
}

int sbx_stream_append(sandbox_stream *s, size_t cap, const char *buf, size_t n)
{
    s->total += n;
    size_t room = s->len < cap ? cap - s->len : 0;
    size_t take = n < room ? n : room;
    if (take < n)
        s->truncated = 1;
    if (take == 0)
        return 0;
    if (s->data == NULL) {
        /* Allocate the whole cap once the first byte arrives: at most
         * cap + 1 bytes per stream, ever. */
        s->data = malloc(cap + 1);
        if (s->data == NULL)
            return SANDBOX_ENOMEM;
    }
    memcpy(s->data + s->len, buf, take);
    s->len += take;
    s->data[s->len] = '\0';
    return 0;
}

/* Read everything available on *fd; close it at EOF.  Each chunk also goes
 * to the caller's tee fd and callback (io.c) as it arrives. */
static int drain_fd(int *fd, sandbox_stream *s, size_t cap, char *buf,
                    sbx_io *io, int stream)
{
    for (;;) {
        ssize_t n = read(*fd, buf, SBX_READ_CHUNK);
        if (n > 0) {
            int rc = sbx_stream_append(s, cap, buf, (size_t)n);
            if (rc < 0)
                return rc;
            if (io != NULL)
                sbx_io_output(io, stream, buf, (size_t)n);
            continue;
        }
        if (n == 0) {
            sbx_closep(fd);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        sbx_closep(fd); /* EIO and friends: treat as EOF */
        return 0;
    }
}

static bool try_reap(sbx_child *c, sbx_capture *cap)
{
    if (c->pid <= 0)
        return true;
    pid_t r;
    do
        r = waitpid(c->pid, &cap->status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == c->pid) {
        c->pid = -1;
        cap->exited = true;
        return true;
    }
    if (r < 0 && errno == ECHILD) {
        /* Reaped behind the library's back: the status is gone, and must
         * never read as "exited 0". */
        c->pid = -1;
        cap->exited = true;
        cap->lost = true;
        cap->status = -1;
        return true;
    }
    return false;
}

static int ms_until(double t, double now)
{
    double d = (t - now) * 1000.0;
    if (d <= 0)
        return 0;
    if (d > 60000.0)
        return 60000;
    return (int)d + 1;
}

/* Status mode (st != NULL): the child is not ours to reap (c->pid -1); its
 * end is a record on st->fd, read by st->fn. */
typedef struct status_src {
    int fd;
    sbx_status_fn fn;
    void *ctx;
    unsigned stops; /* stop hook calls without a record */
} status_src;

/* The status fd is readable: 1 when the child's end was read. */
static bool status_ready(status_src *st, sbx_capture *cap)
{
    int r = st->fn(st->ctx, cap);
    if (r == 0)
        return false;
    cap->exited = true;
    if (r < 0) {
        cap->lost = true;
        cap->status = -1;
    }
    return true;
}

static int capture_loop(sbx_child *c, status_src *st, double timeout_sec,
                        int cancel_fd, sbx_stop_fn stop, void *ctx,
                        sbx_capture *cap, sbx_err *e)
{
    char *buf = malloc(SBX_READ_CHUNK);
    double start = sbx_now();
    double deadline = start + timeout_sec;
    double drain_until = 0, stop_until = 0;
    bool stopped = false;
    int rc = 0;

    if (buf == NULL) {
        rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
        stop(ctx, c);
        stopped = true;
    }
    while (rc == 0) {
        struct pollfd pf[5 + SBX_IO_MAX_POLL];
        int n = 0, i_out = -1, i_err = -1, i_pid = -1, i_cancel = -1;
        int i_st = -1;
        double now = sbx_now();

        if (cap->exited && c->out_fd < 0 && c->err_fd < 0)
            break;
        if (c->out_fd >= 0) {
            i_out = n;
            pf[n++] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
        }
        if (c->err_fd >= 0) {
            i_err = n;
            pf[n++] = (struct pollfd){.fd = c->err_fd, .events = POLLIN};
        }
        if (!cap->exited && st != NULL) {
            i_st = n;
            pf[n++] = (struct pollfd){.fd = st->fd, .events = POLLIN};
        } else if (!cap->exited && c->pidfd >= 0) {
            i_pid = n;
            pf[n++] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
        }
        if (!stopped && cancel_fd >= 0) {
            i_cancel = n;
            pf[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
        }
        if (cap->io != NULL)
            n += sbx_io_poll_add(cap->io, pf, n);
        int wait_ms;
        if (cap->exited)
            wait_ms = ms_until(drain_until, now);
        else if (stopped)
            wait_ms = ms_until(stop_until, now);
        else
            wait_ms = ms_until(deadline, now);
        if (!cap->exited && st == NULL && c->pidfd < 0 && wait_ms > 20)
            wait_ms = 20; /* no pidfd: poll waitpid */

        int pr = poll(pf, (nfds_t)n, wait_ms);
        if (pr < 0 && errno != EINTR) {
            rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "poll");
            break;
        }
        if (pr > 0) {
            if (i_out >= 0 && pf[i_out].revents)
                rc = drain_fd(&c->out_fd, &cap->out, cap->cap, buf, cap->io, 1);
            if (rc == 0 && i_err >= 0 && pf[i_err].revents)
                rc = drain_fd(&c->err_fd, &cap->err, cap->cap, buf, cap->io, 2);
            if (cap->io != NULL)
                sbx_io_poll_done(cap->io, pf);
            if (rc < 0) {
                sbx_fail(e, rc, "out of memory capturing output");
                break;
            }
            if (i_cancel >= 0 && pf[i_cancel].revents && !cap->exited) {
                cap->cancelled = true;
                if (cap->io != NULL)
                    sbx_io_stop_feeding(cap->io);
                stop(ctx, c);
                stopped = true;
                stop_until = sbx_now() + SBX_STOP_GRACE_SEC;
            }
        }
        now = sbx_now();
        bool ended;
        if (st != NULL)
            ended = !cap->exited && i_st >= 0 && pr > 0 && pf[i_st].revents &&
                    status_ready(st, cap);
        else
            ended = !cap->exited &&
                    (i_pid < 0 || (pr > 0 && pf[i_pid].revents)) &&
                    try_reap(c, cap);
        if (ended) {
            drain_until = now + SBX_DRAIN_SEC;
            if (cap->io != NULL)
                sbx_io_stop_feeding(cap->io);
        }
        if (!cap->exited && !stopped && now >= deadline) {
            cap->timed_out = true;
            if (cap->io != NULL)
                sbx_io_stop_feeding(cap->io);
            stop(ctx, c);
            stopped = true;
            stop_until = sbx_now() + SBX_STOP_GRACE_SEC;
        } else if (!cap->exited && stopped && now >= stop_until) {
            if (c->pid > 0)
                kill(-c->pid, SIGKILL);
            if (st != NULL && ++st->stops >= SBX_STATUS_STOPS) {
                /* Killed and still no record: the status is lost. */
                cap->exited = true;
                cap->lost = true;
                cap->status = -1;
                drain_until = now;
            } else if (st != NULL) {
                stop(ctx, c);
            }
            stop_until = now + SBX_STOP_GRACE_SEC;
        }
        if (cap->exited && now >= drain_until)
            break; /* a grandchild holds the pipes: stop waiting */
    }
    /* Every path ends with the child reaped: no zombies. */
    if (c->pid > 0) {
        if (!stopped)
            stop(ctx, c);
        kill(-c->pid, SIGKILL);
        if (sbx_reap(c, &cap->status) < 0) {
            cap->lost = true;
            cap->status = -1;
        }
        cap->exited = true;
    }
    if (cap->lost && rc == 0 && st != NULL)
        rc = sbx_fail(e, SANDBOX_EBOXDEAD,
                      "the box's init did not report the end of the exec "
                      "(the box is gone, or its init stopped answering)");
    else if (cap->lost && rc == 0)
        rc = sbx_fail(e, SANDBOX_EIO,
                      "the exit status of the runtime client was lost: "
                      "another part of this process reaped it (a SIGCHLD "
                      "handler calling waitpid(-1), or SIGCHLD set to "
                      "SIG_IGN); let the library reap its own children");
    sbx_closep(&c->out_fd);
    sbx_closep(&c->err_fd);
    if (cap->io != NULL) {
        sbx_io_stop_feeding(cap->io);
        sbx_io_flush(cap->io, SBX_TEE_FLUSH_SEC);
    }
    cap->wall_sec = sbx_now() - start;
    free(buf);
    return rc;
}

int sbx_capture_run(sbx_child *c, double timeout_sec, int cancel_fd,
                    sbx_stop_fn stop, void *ctx, sbx_capture *cap, sbx_err *e)
{
    return capture_loop(c, NULL, timeout_sec, cancel_fd, stop, ctx, cap, e);
}

int sbx_capture_run_status(sbx_child *c, int status_fd, sbx_status_fn fn,
                           void *fn_ctx, double timeout_sec, int cancel_fd,
                           sbx_stop_fn stop, void *ctx, sbx_capture *cap,
                           sbx_err *e)
{
    status_src st = {.fd = status_fd, .fn = fn, .ctx = fn_ctx};
    return capture_loop(c, &st, timeout_sec, cancel_fd, stop, ctx, cap, e);
}
