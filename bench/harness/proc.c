/* SPDX-License-Identifier: MIT */
/*
 * proc.c: host processes (git, and the model command when it is not run
 * inside libsandbox).  argv goes straight to execvp: no host shell ever
 * sees a template word.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void child_exec(char *const argv[], const char *cwd, int out_fd,
                       int err_fd)
{
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0)
        dup2(devnull, 0);
    if (out_fd < 0)
        out_fd = devnull;
    if (err_fd < 0)
        err_fd = devnull;
    if (out_fd >= 0)
        dup2(out_fd, 1);
    if (err_fd >= 0)
        dup2(err_fd, 2);
    if (cwd && chdir(cwd) != 0)
        _exit(126);
    execvp(argv[0], argv);
    _exit(127);
}

static void fill_status(int status, proc_result *r)
{
    if (WIFEXITED(status)) {
        r->exited = 1;
        r->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r->signal = WTERMSIG(status);
        r->exit_code = 128 + r->signal;
    }
}

int proc_run(char *const argv[], const char *cwd, const char *out_path,
             const char *err_path, double timeout_sec, proc_result *r,
             bench_err *e)
{
    memset(r, 0, sizeof *r);
    int out_fd = -1, err_fd = -1;
    if (out_path) {
        out_fd =
            open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            bench_seterr(e, "cannot open %s: %s", out_path, strerror(errno));
            return -1;
        }
    }
    if (err_path) {
        err_fd =
            open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (err_fd < 0) {
            bench_seterr(e, "cannot open %s: %s", err_path, strerror(errno));
            if (out_fd >= 0)
                close(out_fd);
            return -1;
        }
    }
    double t0 = now_mono();
    pid_t pid = fork();
    if (pid < 0) {
        bench_seterr(e, "cannot fork for %s: %s", argv[0], strerror(errno));
        if (out_fd >= 0)
            close(out_fd);
        if (err_fd >= 0)
            close(err_fd);
        return -1;
    }
    if (pid == 0)
        child_exec(argv, cwd, out_fd, err_fd);
    setpgid(pid, pid);
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);

    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, timeout_sec > 0 ? WNOHANG : 0);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            bench_seterr(e, "waitpid for %s: %s", argv[0], strerror(errno));
            return -1;
        }
        if (timeout_sec > 0 && now_mono() - t0 > timeout_sec) {
            r->timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* Whatever the process left in its group goes too. */
    kill(-pid, SIGKILL);
    r->wall_sec = now_mono() - t0;
    fill_status(status, r);
    return 0;
}

int proc_capture(char *const argv[], const char *cwd, char **out,
                 proc_result *r, bench_err *e)
{
    memset(r, 0, sizeof *r);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        bench_seterr(e, "pipe: %s", strerror(errno));
        return -1;
    }
    double t0 = now_mono();
    pid_t pid = fork();
    if (pid < 0) {
        bench_seterr(e, "cannot fork for %s: %s", argv[0], strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int fd = dup(fds[1]); /* without O_CLOEXEC */
        child_exec(argv, cwd, fd, -1);
    }
    close(fds[1]);
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t k = read(fds[0], buf + n, cap - n - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fds[0]);
    buf[n] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    r->wall_sec = now_mono() - t0;
    fill_status(status, r);
    *out = buf;
    return 0;
}
