/* SPDX-License-Identifier: MIT */
/* Starting the runtime client: posix_spawn (vfork-fast, safe in threaded
 * callers), pipes for stdout/stderr, stdin from /dev/null, no inherited
 * fds, default signals, its own process group, and a working directory of
 * the library's choosing: never the caller's (conmon writes its `oom` file
 * into the directory it inherits from the podman client). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC); /* pidfds are always CLOEXEC */
    return fd;
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int sbx_spawn(char *const argv[], bool capture, sbx_child *c, sbx_err *e)
{
    return sbx_spawn_in(argv, capture, "/", c, e);
}

int sbx_spawn_in(char *const argv[], bool capture, const char *cwd,
                 sbx_child *c, sbx_err *e)
{
    return sbx_spawn_io(argv, capture, cwd, -1, c, e);
}

int sbx_spawn_io(char *const argv[], bool capture, const char *cwd,
                 int stdin_fd, sbx_child *c, sbx_err *e)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int rc;

    c->pid = -1;
    c->pidfd = c->out_fd = c->err_fd = -1;
    if (capture && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "pipe2");
        goto close_pipes;
    }
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        rc = sbx_fail_errno(e, SANDBOX_ENOMEM, rc, "posix_spawn");
        goto close_pipes;
    }
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        rc = sbx_fail_errno(e, SANDBOX_ENOMEM, rc, "posix_spawn");
        goto close_pipes;
    }
    sigemptyset(&none);
    sigfillset(&all);
    if (stdin_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
    else
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0 && capture) {
        rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        if (rc == 0)
            rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    } else if (rc == 0) {
        rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        if (rc == 0)
            rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    /* Fds other threads opened without O_CLOEXEC must not leak in. */
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (rc == 0)
        rc = posix_spawn_file_actions_addchdir_np(&fa, cwd ? cwd : "/");
    if (rc == 0)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                               POSIX_SPAWN_SETSIGMASK |
                                               POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawnattr_setpgroup(&at, 0);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&at, &all);
    if (rc == 0)
        rc = posix_spawn(&c->pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        c->pid = -1;
        rc = sbx_fail_errno(e, SANDBOX_ESPAWN, rc, "cannot run '%s'", argv[0]);
        goto close_pipes;
    }
    c->pidfd = pidfd_open_compat(c->pid);
    if (capture) {
        close(out[1]);
        close(err[1]);
        c->out_fd = out[0];
        c->err_fd = err[0];
        fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
        fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
    }
    return 0;

close_pipes:
    for (int i = 0; i < 2; i++) {
        sbx_closep(&out[i]);
        sbx_closep(&err[i]);
    }
    return rc;
}

int sbx_reap(sbx_child *c, int *status)
{
    if (c->pid <= 0)
        return SANDBOX_EINVAL;
    pid_t r;
    do
        r = waitpid(c->pid, status, 0);
    while (r < 0 && errno == EINTR);
    c->pid = -1;
    /* ECHILD: someone else reaped it (a SIGCHLD handler calling
     * waitpid(-1), SIGCHLD ignored): its status is lost, never "0". */
    return r < 0 ? SANDBOX_EIO : 0;
}

void sbx_child_close(sbx_child *c)
{
    sbx_closep(&c->out_fd);
    sbx_closep(&c->err_fd);
    sbx_closep(&c->pidfd);
}

static void kill_group(void *ctx, sbx_child *c)
{
    (void)ctx;
    if (c->pid > 0)
        kill(-c->pid, SIGKILL);
}

int sbx_run_quiet(char *const argv[], double timeout_sec, char **out,
                  size_t out_cap)
{
    sbx_child c;
    sbx_capture cap = {0};
    int code = -1;

    if (out != NULL)
        *out = NULL;
    if (sbx_spawn(argv, true, &c, NULL) < 0)
        return -1;
    cap.cap = out_cap ? out_cap : 1;
    if (sbx_capture_run(&c, timeout_sec, -1, kill_group, NULL, &cap, NULL) ==
            0 &&
        !cap.timed_out && WIFEXITED(cap.status))
        code = WEXITSTATUS(cap.status);
    sbx_child_close(&c);
    if (out != NULL && code >= 0) {
        *out = cap.out.data;
        cap.out.data = NULL;
    }
    sbx_stream_free(&cap.out);
    sbx_stream_free(&cap.err);
    return code;
}
