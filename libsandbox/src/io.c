/* SPDX-License-Identifier: MIT */
/* The box's stdin and the streaming of its output (issue 10): everything
 * the capture loop does besides reading the box's pipes.  See internal.h
 * for the rules (never block, never SIGPIPE, bounded tee buffers). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

/* How a tee fd is written without ever blocking the capture loop. */
enum {
    TEE_FILE = 1, /* regular file or block device: write(2) completes */
    TEE_SOCK,     /* send(MSG_DONTWAIT | MSG_NOSIGNAL)                  */
    TEE_NB,       /* a non-blocking description (the caller's or ours)  */
};

ssize_t sbx_write_nosigpipe(int fd, const void *buf, size_t n)
{
    /* A pipe with no reader raises SIGPIPE in the writing thread.  Block
     * it around the write; if the write made one pending (and none was
     * pending before: a second standard signal is not queued), consume
     * it, so the caller never sees it and its mask is left as it was. */
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t r;
    do
        r = write(fd, buf, n);
    while (r < 0 && errno == EINTR);
    int err = errno;
    /* Not only on EPIPE: a write that blocked part-way returns the bytes it
     * wrote even though the reader's going raised the signal. */
    if (!was_pending && sigpending(&pending) == 0 &&
        sigismember(&pending, SIGPIPE) == 1) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return r;
}

static void note(sbx_io *io, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(sbx_io *io, const char *fmt, ...)
{
    size_t used = strlen(io->note);
    if (used + 3 >= sizeof io->note)
        return;
    if (used > 0) {
        memcpy(io->note + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(io->note + used, sizeof io->note - used, fmt, ap);
    va_end(ap);
}

/* Decide how to write fd without blocking.  A pipe, FIFO or tty whose
 * description is blocking is reopened through /proc/self/fd: a new
 * description of the same object that can be made non-blocking without
 * changing the caller's. */
static int tee_open(sbx_tee *t, int fd, const char *name, sbx_err *e)
{
    struct stat st;
    t->fd = t->own = -1;
    t->name = name;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) < 0)
        return sbx_fail_errno(e, SANDBOX_EINVAL, errno, "%s %d", name, fd);
    int fl = fcntl(fd, F_GETFL);
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
        t->kind = TEE_FILE;
        t->fd = fd;
    } else if (S_ISSOCK(st.st_mode)) {
        t->kind = TEE_SOCK;
        t->fd = fd;
    } else if (fl >= 0 && (fl & O_NONBLOCK)) {
        t->kind = TEE_NB;
        t->fd = fd;
    } else {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        t->own = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat st2;
        if (t->own >= 0 && fstat(t->own, &st2) == 0 &&
            st2.st_dev == st.st_dev && st2.st_ino == st.st_ino) {
            t->kind = TEE_NB;
            t->fd = t->own;
        } else {
            int err = t->own >= 0 ? EXDEV : errno;
            sbx_closep(&t->own);
            if (err == ENXIO) /* a FIFO nobody reads */
                return sbx_fail(e, SANDBOX_EINVAL,
                                "%s %d is a pipe with no reader: open its "
                                "read end first",
                                name, fd);
            return sbx_fail_errno(e, SANDBOX_EIO, err,
                                  "%s %d: cannot reopen it non-blocking "
                                  "through /proc/self/fd (is /proc "
                                  "mounted?); pass a socket, a file or a "
                                  "non-blocking pipe",
                                  name, fd);
        }
    }
    return 0;
}

static void tee_fail(sbx_io *io, sbx_tee *t, int err)
{
    if (err == EPIPE || err == ECONNRESET)
        note(io,
             "%s: its reader went away after %llu bytes; streaming to it "
             "stopped (the result holds the captured output)",
             t->name, (unsigned long long)t->sent);
    else if (err == 0)
        note(io,
             "%s fell more than %u bytes behind after %llu bytes (a slow "
             "or stopped reader); streaming to it stopped, the box was not "
             "held up (the result holds the captured output)",
             t->name, SBX_TEE_BUF, (unsigned long long)t->sent);
    else
        note(io, "%s: writing failed after %llu bytes: %s", t->name,
             (unsigned long long)t->sent, strerror(err));
    free(t->buf);
    t->buf = NULL;
    t->len = 0;
    t->fd = -1;
    sbx_closep(&t->own);
}

/* Write what fits now; returns bytes written, or -1 (errno) on failure. */
static ssize_t tee_write_some(const sbx_tee *t, const char *p, size_t n)
{
    ssize_t r;
    if (t->kind == TEE_SOCK) {
        do
            r = send(t->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
    } else {
        r = sbx_write_nosigpipe(t->fd, p, n);
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    return r;
}

/* Push the buffer, then p[0..n): whatever is left waits in the buffer. */
static void tee_push(sbx_io *io, sbx_tee *t, const char *p, size_t n)
{
    if (t->fd < 0)
        return;
    if (t->len > 0) {
        ssize_t w = tee_write_some(t, t->buf, t->len);
        if (w < 0) {
            tee_fail(io, t, errno);
            return;
        }
        memmove(t->buf, t->buf + w, t->len - (size_t)w);
        t->len -= (size_t)w;
        t->sent += (uint64_t)w;
    }
    while (n > 0 && t->len == 0) {
        ssize_t w = tee_write_some(t, p, n);
        if (w < 0) {
            tee_fail(io, t, errno);
            return;
        }
        if (w == 0)
            break;
        p += w;
        n -= (size_t)w;
        t->sent += (uint64_t)w;
    }
    if (n == 0)
        return;
    if (t->len + n > SBX_TEE_BUF) {
        tee_fail(io, t, 0);
        return;
    }
    if (t->buf == NULL && (t->buf = malloc(SBX_TEE_BUF)) == NULL) {
        tee_fail(io, t, ENOMEM);
        return;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

int sbx_io_init(sbx_io *io, const sbx_plan *p, sbx_err *e)
{
    int rc;
    memset(io, 0, sizeof *io);
    io->in_w = io->src_fd = -1;
    io->tee[0].fd = io->tee[0].own = io->tee[1].fd = io->tee[1].own = -1;
    for (int i = 0; i < SBX_IO_MAX_POLL; i++)
        io->idx[i] = -1;
    io->data = p->stdin_data;
    io->len = p->stdin_data != NULL ? p->stdin_len : 0;
    io->src_fd = p->stdin_fd;
    io->feeding = p->stdin_open;
    io->cb = p->on_output;
    io->ctx = p->on_output_ctx;
    if ((rc = tee_open(&io->tee[0], p->stdout_fd, "stdout_fd", e)) < 0 ||
        (rc = tee_open(&io->tee[1], p->stderr_fd, "stderr_fd", e)) < 0) {
        sbx_io_free(io);
        return rc;
    }
    return 0;
}

int sbx_io_stdin_pipe(sbx_io *io, int *box_end, sbx_err *e)
{
    int p[2];
    *box_end = -1;
    if (!io->feeding)
        return 0;
    if (pipe2(p, O_CLOEXEC) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "pipe2 (stdin)");
    if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0) {
        int err = errno;
        close(p[0]);
        close(p[1]);
        return sbx_fail_errno(e, SANDBOX_EIO, err, "fcntl (stdin)");
    }
    io->in_w = p[1];
    *box_end = p[0];
    return 0;
}

void sbx_io_stop_feeding(sbx_io *io)
{
    sbx_closep(&io->in_w);
    io->off = io->len;
    io->c_len = io->c_off = 0;
    io->src_eof = true;
}

/* Nothing more to write: EOF on the box's stdin. */
static bool stdin_done(const sbx_io *io)
{
    if (io->src_fd >= 0)
        return io->src_eof && io->c_off == io->c_len;
    return io->off >= io->len;
}

int sbx_io_poll_add(sbx_io *io, struct pollfd *pf, int n)
{
    int k = 0;
    for (int i = 0; i < SBX_IO_MAX_POLL; i++)
        io->idx[i] = -1;
    if (io->in_w >= 0 && stdin_done(io))
        sbx_closep(&io->in_w);
    if (io->in_w >= 0) {
        bool have = io->src_fd >= 0 ? io->c_off < io->c_len : true;
        if (have) {
            io->idx[0] = n + k;
            pf[n + k++] = (struct pollfd){.fd = io->in_w, .events = POLLOUT};
        } else {
            io->idx[1] = n + k;
            pf[n + k++] = (struct pollfd){.fd = io->src_fd, .events = POLLIN};
        }
    }
    for (int s = 0; s < 2; s++) {
        const sbx_tee *t = &io->tee[s];
        if (t->fd >= 0 && t->len > 0 && t->kind != TEE_FILE) {
            io->idx[2 + s] = n + k;
            pf[n + k++] = (struct pollfd){.fd = t->fd, .events = POLLOUT};
        }
    }
    return k;
}

static void feed_stdin(sbx_io *io)
{
    const char *p;
    size_t n;
    if (io->src_fd >= 0) {
        p = io->chunk + io->c_off;
        n = io->c_len - io->c_off;
    } else {
        p = (const char *)io->data + io->off;
        n = io->len - io->off;
    }
    if (n > SBX_IO_CHUNK)
        n = SBX_IO_CHUNK;
    ssize_t w = sbx_write_nosigpipe(io->in_w, p, n);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        /* EPIPE: the box closed its stdin (or ended): stop feeding. */
        sbx_io_stop_feeding(io);
        return;
    }
    if (io->src_fd >= 0)
        io->c_off += (size_t)w;
    else
        io->off += (size_t)w;
}

static void read_source(sbx_io *io)
{
    if (io->chunk == NULL && (io->chunk = malloc(SBX_IO_CHUNK)) == NULL) {
        note(io, "stdin_fd: out of memory; the box's stdin was closed");
        sbx_io_stop_feeding(io);
        return;
    }
    ssize_t r;
    do
        r = read(io->src_fd, io->chunk, SBX_IO_CHUNK);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        io->c_off = 0;
        io->c_len = (size_t)r;
    } else if (r == 0) {
        io->src_eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        note(io, "reading stdin_fd %d failed: %s; the box's stdin was closed",
             io->src_fd, strerror(errno));
        io->src_eof = true;
    }
}

void sbx_io_poll_done(sbx_io *io, const struct pollfd *pf)
{
    if (io->idx[0] >= 0 && pf[io->idx[0]].revents && io->in_w >= 0)
        feed_stdin(io);
    if (io->idx[1] >= 0 && pf[io->idx[1]].revents && io->in_w >= 0)
        read_source(io);
    for (int s = 0; s < 2; s++)
        if (io->idx[2 + s] >= 0 && pf[io->idx[2 + s]].revents)
            tee_push(io, &io->tee[s], NULL, 0);
}

void sbx_io_output(sbx_io *io, int stream, const char *buf, size_t n)
{
    if (n == 0 || (stream != 1 && stream != 2))
        return;
    tee_push(io, &io->tee[stream - 1], buf, n);
    if (io->cb != NULL)
        io->cb(io->ctx, stream, buf, n);
}

void sbx_io_flush(sbx_io *io, double seconds)
{
    double until = sbx_now() + seconds;
    for (;;) {
        struct pollfd pf[2];
        int n = 0;
        for (int s = 0; s < 2; s++)
            if (io->tee[s].fd >= 0 && io->tee[s].len > 0) {
                tee_push(io, &io->tee[s], NULL, 0);
                if (io->tee[s].fd >= 0 && io->tee[s].len > 0)
                    pf[n++] =
                        (struct pollfd){.fd = io->tee[s].fd, .events = POLLOUT};
            }
        double left = until - sbx_now();
        if (n == 0 || left <= 0)
            break;
        poll(pf, (nfds_t)n, (int)(left * 1000.0) + 1);
    }
    for (int s = 0; s < 2; s++)
        if (io->tee[s].fd >= 0 && io->tee[s].len > 0)
            note(io,
                 "%s: %zu bytes were not delivered within %g s after the "
                 "box ended (a slow or stopped reader)",
                 io->tee[s].name, io->tee[s].len, seconds);
}

void sbx_io_free(sbx_io *io)
{
    sbx_closep(&io->in_w);
    free(io->chunk);
    io->chunk = NULL;
    for (int s = 0; s < 2; s++) {
        free(io->tee[s].buf);
        io->tee[s].buf = NULL;
        io->tee[s].len = 0;
        sbx_closep(&io->tee[s].own);
        io->tee[s].fd = -1;
    }
}
