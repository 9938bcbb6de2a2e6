/* SPDX-License-Identifier: MIT */
/* Helpers shared by the box tests (box_ctl.c, box_copy.c, box_container.c,
 * box_attacks.c), through the public API only: the backend under test,
 * box create and destroy, sh -c in a box, a command on the host, the
 * clock.  Static inline, as test_util.h (whose tu_run they use too).
 *
 * SANDBOX_TEST_RUNTIME names the backend; a test whose default is not
 * podman defines BU_DEFAULT_RUNTIME before including this header. */
#ifndef LIBSANDBOX_BOX_UTIL_H
#define LIBSANDBOX_BOX_UTIL_H

#include <sandbox.h>

#include "test_util.h"

#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#ifndef BU_DEFAULT_RUNTIME
#define BU_DEFAULT_RUNTIME "podman"
#endif

extern char **environ;

/* $SANDBOX_TEST_RUNTIME, or BU_DEFAULT_RUNTIME when unset or empty. */
static inline const char *bu_runtime(void)
{
    const char *r = getenv("SANDBOX_TEST_RUNTIME");
    return r != NULL && r[0] ? r : BU_DEFAULT_RUNTIME;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double bu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void bu_nap(double sec)
{
    struct timespec ts = {(time_t)sec,
                          (long)((sec - (double)(time_t)sec) * 1e9)};
    nanosleep(&ts, NULL);
}

/* sandbox_box_create(o); the test fails, naming the backend, the image and
 * the library's message, if it does not give a box. */
static inline sandbox_box *bu_box_create(const sandbox_opts *o)
{
    sandbox_box *b = NULL;
    char *msg = NULL;
    int rc = sandbox_box_create(o, &b, &msg);
    ck_assert_msg(rc == 0, "box_create(%s, %s): %d %s",
                  o->runtime ? o->runtime : "-", o->image ? o->image : "-", rc,
                  msg ? msg : "-");
    sandbox_free(msg);
    return b;
}

/* Destroy (which must succeed) and free. */
static inline void bu_box_end(sandbox_box *b)
{
    ck_assert_int_eq(sandbox_box_destroy(b, NULL), 0);
    sandbox_box_free(b);
}

/* Run sh -c cmd in the box, which must run and exit; returns its exit code,
 * its stdout in *out (if not NULL, malloc'd). */
static inline int bu_sh(sandbox_box *b, const char *cmd, char **out)
{
    sandbox_exec_opts x;
    ck_assert_int_eq(sandbox_exec_opts_init(&x, sizeof x), 0);
    x.command = cmd;
    sandbox_result r;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    int rc = sandbox_box_exec(b, &x, &r);
    ck_assert_msg(rc == 0 && r.reason == SANDBOX_END_EXITED,
                  "exec '%s': rc %d reason %s: %s", cmd, rc,
                  sandbox_end_name(r.reason), r.message ? r.message : "-");
    int code = r.exit_code;
    if (out != NULL)
        *out = strdup(r.out.data ? r.out.data : "");
    sandbox_result_free(&r);
    return code;
}

/* Run argv on the host (stderr to /dev/null); its exit code, *out (if not
 * NULL) its stdout. */
static inline int bu_host_run(char *const argv[], char **out)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 01, 0);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    ck_assert_int_eq(rc, 0);
    char *buf = NULL;
    size_t len = 0;
    char chunk[4096];
    ssize_t n;
    while ((n = read(p[0], chunk, sizeof chunk)) > 0) {
        char *grown = realloc(buf, len + (size_t)n + 1);
        ck_assert_ptr_nonnull(grown);
        buf = grown;
        memcpy(buf + len, chunk, (size_t)n);
        len += (size_t)n;
        buf[len] = '\0';
    }
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (out != NULL)
        *out = buf != NULL ? buf : strdup("");
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif /* LIBSANDBOX_BOX_UTIL_H */
