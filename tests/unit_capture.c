/* SPDX-License-Identifier: MIT */
/* sbx_spawn + sbx_capture_run with real /bin/sh children (no container), and
 * sandbox_run end to end with the fake runtime (tests/fake-runtime) on PATH:
 * exit codes, reason classification, timeout/cancel clean-up, no leaks. */
#include "guardian.h"
#include "internal.h"
#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------ */

typedef struct stop_rec {
    int calls;
    bool kill_it; /* kill the child's process group when called */
} stop_rec;

static void stop_cb(void *ctx, sbx_child *c)
{
    stop_rec *r = ctx;
    r->calls++;
    if (r->kill_it && c->pid > 0)
        kill(-c->pid, SIGKILL);
}

static void spawn_sh(const char *script, sbx_child *c)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    sbx_err e = {0};
    int rc = sbx_spawn(argv, true, c, &e);
    ck_assert_msg(rc == 0, "spawn: %d %s", rc, e.msg);
    ck_assert_int_gt(c->pid, 0);
    ck_assert_int_ge(c->out_fd, 0);
    ck_assert_int_ge(c->err_fd, 0);
}

/* Spawn, capture, close; the caller frees cap's streams. */
static int run_sh(const char *script, size_t capn, double timeout,
                  int cancel_fd, stop_rec *sr, sbx_capture *cap)
{
    sbx_child c;
    sbx_err e = {0};
    memset(cap, 0, sizeof *cap);
    cap->cap = capn;
    spawn_sh(script, &c);
    int rc = sbx_capture_run(&c, timeout, cancel_fd, stop_cb, sr, cap, &e);
    ck_assert_int_eq(c.pid, -1);    /* reaped */
    ck_assert_int_eq(c.out_fd, -1); /* pipes closed by the loop */
    ck_assert_int_eq(c.err_fd, -1);
    sbx_child_close(&c);
    ck_assert_int_eq(c.pidfd, -1);
    return rc;
}

static void free_cap(sbx_capture *cap)
{
    sbx_stream_free(&cap->out);
    sbx_stream_free(&cap->err);
}

static void assert_no_children(void)
{
    int st;
    errno = 0;
    pid_t r = waitpid(-1, &st, WNOHANG);
    ck_assert_msg(r == -1 && errno == ECHILD,
                  "a child is left: waitpid(-1) = %d (errno %d)", (int)r,
                  errno);
}

static double now(void)
{
    return sbx_now();
}

/* Write one byte to fd after `delay` seconds (a cancel from elsewhere). */
typedef struct later {
    int fd;
    double delay;
    pthread_t th;
} later;

static void *later_main(void *arg)
{
    later *l = arg;
    struct timespec ts = {(time_t)l->delay,
                          (long)((l->delay - (double)(time_t)l->delay) * 1e9)};
    nanosleep(&ts, NULL);
    ssize_t n = write(l->fd, "x", 1);
    (void)n;
    return NULL;
}

static void later_start(later *l, int fd, double delay)
{
    l->fd = fd;
    l->delay = delay;
    ck_assert_int_eq(pthread_create(&l->th, NULL, later_main, l), 0);
}

static void later_join(later *l)
{
    ck_assert_int_eq(pthread_join(l->th, NULL), 0);
}

/* ---- spawn + capture ---------------------------------------------------- */

START_TEST(test_basic)
{
    stop_rec sr = {0, true};
    sbx_capture cap;
    int fds = tu_count_fds();
    ck_assert_int_eq(
        run_sh("printf out; printf err >&2; exit 3", 1000, 10, -1, &sr, &cap),
        0);
    ck_assert(cap.exited);
    ck_assert(!cap.timed_out);
    ck_assert(!cap.cancelled);
    ck_assert(WIFEXITED(cap.status));
    ck_assert_int_eq(WEXITSTATUS(cap.status), 3);
    ck_assert_str_eq(cap.out.data, "out");
    ck_assert_uint_eq(cap.out.len, 3);
    ck_assert_uint_eq(cap.out.total, 3);
    ck_assert_int_eq(cap.out.truncated, 0);
    ck_assert_str_eq(cap.err.data, "err");
    ck_assert_int_eq(sr.calls, 0);
    ck_assert(cap.wall_sec >= 0 && cap.wall_sec < 5 * tu_slack());
    free_cap(&cap);
    assert_no_children();
    ck_assert_int_eq(tu_count_fds(), fds);
}
END_TEST

START_TEST(test_no_output)
{
    stop_rec sr = {0, true};
    sbx_capture cap;
    /* stdin is /dev/null: cat ends at once */
    ck_assert_int_eq(run_sh("cat", 1000, 10, -1, &sr, &cap), 0);
    ck_assert(WIFEXITED(cap.status));
    ck_assert_int_eq(WEXITSTATUS(cap.status), 0);
    ck_assert_uint_eq(cap.out.len, 0);
    ck_assert_uint_eq(cap.out.total, 0);
    ck_assert_uint_eq(cap.err.total, 0);
    free_cap(&cap);
    assert_no_children();
}
END_TEST

START_TEST(test_concurrent_1mb)
{
    /* 16 x 64 KiB alternately to stdout and stderr: reading one pipe only
     * until EOF would deadlock on the other's full pipe buffer. */
    const char *script = "i=0; while [ $i -lt 16 ]; do "
                         "head -c 65536 /dev/zero | tr '\\000' o; "
                         "head -c 65536 /dev/zero | tr '\\000' e >&2; "
                         "i=$((i+1)); done";
    stop_rec sr = {0, true};
    sbx_capture cap;
    ck_assert_int_eq(run_sh(script, 2 << 20, 60, -1, &sr, &cap), 0);
    ck_assert(!cap.timed_out);
    ck_assert_int_eq(WEXITSTATUS(cap.status), 0);
    ck_assert_uint_eq(cap.out.len, 1 << 20);
    ck_assert_uint_eq(cap.out.total, 1 << 20);
    ck_assert_uint_eq(cap.err.len, 1 << 20);
    ck_assert_uint_eq(cap.err.total, 1 << 20);
    ck_assert_int_eq(cap.out.truncated, 0);
    ck_assert_int_eq(cap.err.truncated, 0);
    for (size_t i = 0; i < cap.out.len; i++)
        if (cap.out.data[i] != 'o' || cap.err.data[i] != 'e')
            ck_abort_msg("byte %zu: out '%c' err '%c'", i, cap.out.data[i],
                         cap.err.data[i]);
    ck_assert_int_eq(sr.calls, 0);
    free_cap(&cap);
    assert_no_children();
}
END_TEST

START_TEST(test_cap_respected)
{
    const char *script = "head -c 1048576 /dev/zero | tr '\\000' a; "
                         "head -c 300000 /dev/zero >&2; exit 0";
    stop_rec sr = {0, true};
    sbx_capture cap;
    ck_assert_int_eq(run_sh(script, 1000, 60, -1, &sr, &cap), 0);
    ck_assert_int_eq(WEXITSTATUS(cap.status), 0);
    ck_assert_uint_eq(cap.out.len, 1000);
    ck_assert_uint_eq(cap.out.total, 1048576);
    ck_assert_int_eq(cap.out.truncated, 1);
    ck_assert_uint_eq(cap.err.len, 1000);
    ck_assert_uint_eq(cap.err.total, 300000);
    ck_assert_int_eq(cap.err.truncated, 1);
    for (size_t i = 0; i < 1000; i++)
        ck_assert_int_eq(cap.out.data[i], 'a');
    ck_assert_int_eq(cap.out.data[1000], '\0');
    free_cap(&cap);
    assert_no_children();
}
END_TEST

START_TEST(test_stream_append)
{
    sandbox_stream s = {0};
    ck_assert_int_eq(sbx_stream_append(&s, 5, "abc", 3), 0);
    ck_assert_str_eq(s.data, "abc");
    ck_assert_uint_eq(s.total, 3);
    ck_assert_int_eq(s.truncated, 0);
    ck_assert_int_eq(sbx_stream_append(&s, 5, "de", 2), 0);
    ck_assert_str_eq(s.data, "abcde");
    ck_assert_int_eq(s.truncated, 0); /* exactly at the cap */
    ck_assert_int_eq(sbx_stream_append(&s, 5, "fg", 2), 0);
    ck_assert_str_eq(s.data, "abcde");
    ck_assert_uint_eq(s.len, 5);
    ck_assert_uint_eq(s.total, 7);
    ck_assert_int_eq(s.truncated, 1);
    ck_assert_int_eq(sbx_stream_append(&s, 5, "", 0), 0);
    ck_assert_uint_eq(s.total, 7);
    sbx_stream_free(&s);
    ck_assert_ptr_null(s.data);
    ck_assert_uint_eq(s.total, 0);

    /* one append straddling the cap */
    ck_assert_int_eq(sbx_stream_append(&s, 4, "123456", 6), 0);
    ck_assert_str_eq(s.data, "1234");
    ck_assert_uint_eq(s.total, 6);
    ck_assert_int_eq(s.truncated, 1);
    sbx_stream_free(&s);

    /* NUL bytes are data */
    ck_assert_int_eq(sbx_stream_append(&s, 10, "a\0b", 3), 0);
    ck_assert_uint_eq(s.len, 3);
    ck_assert_int_eq(memcmp(s.data, "a\0b", 4), 0);
    sbx_stream_free(&s);
}
END_TEST

START_TEST(test_timeout)
{
    stop_rec sr = {0, true};
    sbx_capture cap;
    int fds = tu_count_fds();
    double t0 = now();
    ck_assert_int_eq(run_sh("echo started; sleep 30", 1000, 1.0, -1, &sr, &cap),
                     0);
    double dt = now() - t0;
    ck_assert(cap.timed_out);
    ck_assert(!cap.cancelled);
    ck_assert(cap.exited);
    ck_assert_int_eq(sr.calls, 1);
    ck_assert_msg(dt >= 0.95 && dt < 1.0 + 1.0 * tu_slack(),
                  "took %.2f s for a 1 s timeout", dt);
    ck_assert(WIFSIGNALED(cap.status));
    ck_assert_int_eq(WTERMSIG(cap.status), SIGKILL);
    ck_assert_str_eq(cap.out.data, "started\n");
    free_cap(&cap);
    assert_no_children();
    ck_assert_int_eq(tu_count_fds(), fds);
}
END_TEST

START_TEST(test_timeout_stop_does_not_kill)
{
    /* A stop hook that fails to stop the child: the loop SIGKILLs the
     * group itself after its grace period (5 s) instead of hanging. */
    stop_rec sr = {0, false};
    sbx_capture cap;
    double t0 = now();
    ck_assert_int_eq(run_sh("sleep 60", 1000, 0.5, -1, &sr, &cap), 0);
    double dt = now() - t0;
    ck_assert(cap.timed_out);
    ck_assert_int_eq(sr.calls, 1);
    ck_assert_msg(dt >= 5.0 && dt < 5.5 + 1.5 * tu_slack(), "took %.2f s", dt);
    ck_assert(WIFSIGNALED(cap.status));
    free_cap(&cap);
    assert_no_children();
}
END_TEST

START_TEST(test_flood_timeout)
{
    /* Endless output: the cap holds, the deadline still fires. */
    stop_rec sr = {0, true};
    sbx_capture cap;
    double t0 = now();
    ck_assert_int_eq(run_sh("cat /dev/zero", 1000, 1.0, -1, &sr, &cap), 0);
    double dt = now() - t0;
    ck_assert(cap.timed_out);
    ck_assert_int_eq(sr.calls, 1);
    ck_assert_msg(dt < 1.0 + 1.5 * tu_slack(), "took %.2f s", dt);
    ck_assert_uint_eq(cap.out.len, 1000);
    ck_assert_uint_gt(cap.out.total, 1000);
    ck_assert_int_eq(cap.out.truncated, 1);
    free_cap(&cap);
    assert_no_children();
}
END_TEST

START_TEST(test_cancel)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    int fds = tu_count_fds();
    stop_rec sr = {0, true};
    sbx_capture cap;
    later l;
    later_start(&l, p[1], 0.3);
    double t0 = now();
    ck_assert_int_eq(run_sh("sleep 30", 1000, 20, p[0], &sr, &cap), 0);
    double dt = now() - t0;
    later_join(&l);
    ck_assert(cap.cancelled);
    ck_assert(!cap.timed_out);
    ck_assert(cap.exited);
    ck_assert_int_eq(sr.calls, 1);
    ck_assert_msg(dt >= 0.25 && dt < 0.3 + 1.0 * tu_slack(), "took %.2f s", dt);
    free_cap(&cap);
    assert_no_children();
    ck_assert_int_eq(tu_count_fds(), fds);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(test_cancel_unused)
{
    /* A cancel fd that never fires changes nothing. */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    stop_rec sr = {0, true};
    sbx_capture cap;
    ck_assert_int_eq(run_sh("echo ok", 1000, 20, p[0], &sr, &cap), 0);
    ck_assert(!cap.cancelled);
    ck_assert_int_eq(sr.calls, 0);
    ck_assert_str_eq(cap.out.data, "ok\n");
    free_cap(&cap);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(test_grandchild_holds_pipe)
{
    /* The child exits 0 but a background grandchild keeps stdout/stderr
     * open (cpython#76116): the loop must stop after its drain bound. */
    stop_rec sr = {0, true};
    sbx_capture cap;
    sbx_child c;
    sbx_err e = {0};
    memset(&cap, 0, sizeof cap);
    cap.cap = 1000;
    spawn_sh("echo before; sleep 30 & exit 0", &c);
    pid_t pgid = c.pid;
    double t0 = now();
    ck_assert_int_eq(sbx_capture_run(&c, 20, -1, stop_cb, &sr, &cap, &e), 0);
    double dt = now() - t0;
    sbx_child_close(&c);
    kill(-pgid, SIGKILL); /* the orphaned sleep */
    ck_assert(cap.exited);
    ck_assert(!cap.timed_out);
    ck_assert_int_eq(sr.calls, 0);
    ck_assert(WIFEXITED(cap.status));
    ck_assert_int_eq(WEXITSTATUS(cap.status), 0);
    ck_assert_str_eq(cap.out.data, "before\n");
    ck_assert_msg(dt >= 0.9 && dt < 1.0 + 1.0 * tu_slack(),
                  "took %.2f s (drain bound is 1 s)", dt);
    free_cap(&cap);
    assert_no_children();
}
END_TEST

START_TEST(test_grandchild_floods_pipe)
{
    /* Worse: the orphan keeps writing.  The drain is still bounded. */
    stop_rec sr = {0, true};
    sbx_capture cap;
    sbx_child c;
    sbx_err e = {0};
    memset(&cap, 0, sizeof cap);
    cap.cap = 1000;
    spawn_sh("cat /dev/zero & exit 5", &c);
    pid_t pgid = c.pid;
    double t0 = now();
    ck_assert_int_eq(sbx_capture_run(&c, 20, -1, stop_cb, &sr, &cap, &e), 0);
    double dt = now() - t0;
    sbx_child_close(&c);
    kill(-pgid, SIGKILL);
    ck_assert(cap.exited);
    ck_assert(!cap.timed_out);
    ck_assert_int_eq(WEXITSTATUS(cap.status), 5);
    ck_assert_uint_eq(cap.out.len, 1000);
    ck_assert_msg(dt < 1.0 + 1.5 * tu_slack(),
                  "took %.2f s (drain bound is 1 s)", dt);
    free_cap(&cap);
    assert_no_children();
}
END_TEST

START_TEST(test_no_fd_leak_many)
{
    int fds = tu_count_fds();
    for (int i = 0; i < 20; i++) {
        stop_rec sr = {0, true};
        sbx_capture cap;
        ck_assert_int_eq(run_sh("echo $$; echo x >&2", 100, 10, -1, &sr, &cap),
                         0);
        free_cap(&cap);
    }
    ck_assert_int_eq(tu_count_fds(), fds);
    assert_no_children();
}
END_TEST

START_TEST(test_spawn_failure)
{
    int fds = tu_count_fds();
    char *argv[] = {"/nonexistent/libsandbox-test", NULL};
    sbx_child c;
    sbx_err e = {0};
    int rc = sbx_spawn(argv, true, &c, &e);
    if (rc == 0 && tu_under_valgrind()) {
        /* valgrind emulates posix_spawn with fork+exec, so the exec failure
         * shows up as exit 127 of the child instead. */
        stop_rec sr = {0, true};
        sbx_capture cap = {.cap = 100};
        ck_assert_int_eq(sbx_capture_run(&c, 10, -1, stop_cb, &sr, &cap, &e),
                         0);
        sbx_child_close(&c);
        ck_assert_int_eq(WEXITSTATUS(cap.status), 127);
        free_cap(&cap);
    } else {
        ck_assert_int_eq(rc, SANDBOX_ESPAWN);
        ck_assert_int_eq(e.code, SANDBOX_ESPAWN);
        ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/libsandbox-test"));
        ck_assert_int_eq(c.pid, -1);
        ck_assert_int_eq(c.out_fd, -1);
        ck_assert_int_eq(c.err_fd, -1);
        ck_assert_int_eq(c.pidfd, -1);
    }
    ck_assert_int_eq(tu_count_fds(), fds);
    assert_no_children();
}
END_TEST

START_TEST(test_child_environment)
{
    /* An fd the caller leaked without CLOEXEC does not reach the child;
     * the child leads its own process group; ignored signals are reset. */
    int fd = dup2(0, 57);
    ck_assert_int_eq(fd, 57);
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    ck_assert_int_eq(sigaction(SIGINT, &ign, &old), 0);
    stop_rec sr = {0, true};
    sbx_capture cap;
    ck_assert_int_eq(
        run_sh("if [ -e /proc/$$/fd/57 ]; then echo leaked; else echo clean;"
               " fi; set -- $(cat /proc/$$/stat); [ \"$5\" = \"$$\" ] &&"
               " echo leader; kill -INT $$; echo survived",
               1000, 10, -1, &sr, &cap),
        0);
    sigaction(SIGINT, &old, NULL);
    close(57);
    ck_assert_str_eq(cap.out.data, "clean\nleader\n");
    ck_assert(WIFSIGNALED(cap.status));
    ck_assert_int_eq(WTERMSIG(cap.status), SIGINT);
    free_cap(&cap);
}
END_TEST

START_TEST(test_run_quiet)
{
    char *argv[] = {"/bin/sh", "-c", "echo hi; echo no >&2; exit 4", NULL};
    char *out = NULL;
    ck_assert_int_eq(sbx_run_quiet(argv, 10, &out, 100), 4);
    ck_assert_str_eq(out, "hi\n");
    free(out);
    ck_assert_int_eq(sbx_run_quiet(argv, 10, NULL, 0), 4);
    char *slow[] = {"/bin/sh", "-c", "echo x; sleep 30", NULL};
    double t0 = now();
    ck_assert_int_eq(sbx_run_quiet(slow, 0.5, &out, 100), -1);
    ck_assert_ptr_null(out);
    ck_assert(now() - t0 < 0.5 + 1.0 * tu_slack());
    char *missing[] = {"/nonexistent/x", NULL};
    int code = sbx_run_quiet(missing, 1, &out, 100);
    if (tu_under_valgrind() && code == 127) /* fork+exec emulation */
        free(out);
    else
        ck_assert_int_eq(code, -1);
    assert_no_children();
}
END_TEST

/* A child reaped behind the library's back (the caller's SIGCHLD handler
 * calling waitpid, or SIGCHLD ignored) must not read as "exited 0". */
START_TEST(test_lost_status_is_error)
{
    sbx_child c;
    sbx_capture cap = {.cap = 100};
    sbx_err e = {0};
    stop_rec sr = {0, true};
    spawn_sh("exit 0", &c);
    /* The attack: someone else takes the status first. */
    int st = -1;
    ck_assert_int_eq(waitpid(c.pid, &st, 0), c.pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    errno = 0;
    ck_assert_int_eq(waitpid(c.pid, &st, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    int rc = sbx_capture_run(&c, 10, -1, stop_cb, &sr, &cap, &e);
    ck_assert_int_eq(rc, SANDBOX_EIO);
    ck_assert(cap.lost);
    ck_assert(!(WIFEXITED(cap.status) && WEXITSTATUS(cap.status) == 0));
    ck_assert_ptr_nonnull(strstr(e.msg, "lost"));
    sbx_child_close(&c);
    free_cap(&cap);

    /* SIGCHLD ignored: the kernel reaps, waitpid says ECHILD. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    ck_assert_int_eq(sigaction(SIGCHLD, &ign, &old), 0);
    sbx_capture cap2;
    rc = run_sh("echo out; exit 0", 100, 10, -1, &sr, &cap2);
    sigaction(SIGCHLD, &old, NULL);
    ck_assert_int_eq(rc, SANDBOX_EIO);
    ck_assert(cap2.lost);
    free_cap(&cap2);
}
END_TEST

/* Helpers start in "/", never in the caller's working directory. */
START_TEST(test_child_cwd_is_root)
{
    char *dir = tu_mkdtemp();
    char old[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(old, sizeof old));
    ck_assert_int_eq(chdir(dir), 0);
    stop_rec sr = {0, true};
    sbx_capture cap;
    ck_assert_int_eq(run_sh("pwd; : > oom", 1000, 10, -1, &sr, &cap), 0);
    ck_assert_str_eq(cap.out.data, "/\n");
    free_cap(&cap);
    ck_assert_int_ne(access("oom", F_OK), 0);
    unlink("/oom");
    ck_assert_int_eq(chdir(old), 0);
    tu_rmtree(dir); /* frees dir */
}
END_TEST

/* ---- the guardian ---------------------------------------------------------
 */

static char *g_marker(const char *tag)
{
    char *m = NULL;
    ck_assert_int_ge(
        asprintf(&m, "/tmp/sbx-guardian-%ld-%s", (long)getpid(), tag), 0);
    unlink(m);
    return m;
}

/* Wait up to `sec` for path to exist. */
static bool wait_for_file(const char *path, double sec)
{
    double until = now() + sec;
    while (now() < until) {
        if (access(path, F_OK) == 0)
            return true;
        usleep(20000);
    }
    return access(path, F_OK) == 0;
}

typedef struct g_cb {
    char path[256];
} g_cb;

/* Async-signal-safe: open + close only. */
static void g_touch(void *arg)
{
    const g_cb *cb = arg;
    int fd = open(cb->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

START_TEST(test_guardian_release)
{
    char *m = g_marker("rel");
    char *argv[] = {"/usr/bin/touch", m, NULL};
    g_cb cb;
    char *m2 = g_marker("relcb");
    snprintf(cb.path, sizeof cb.path, "%s", m2);
    int fds = tu_count_fds();
    sbx_guardian g;
    sbx_err e = {0};
    ck_assert_int_eq(
        sbx_guardian_start(&g, now() + 60, argv, NULL, g_touch, &cb, &e), 0);
    ck_assert_int_gt(g.pid, 0);
    /* It holds nothing of ours: 0-2 on /dev/null, its socket, our pidfd;
     * cwd "/", its own session.  Looked at first, asserted after the
     * release (a failed assertion must not leave it running).  Valgrind
     * keeps fds of its own in every process: not there. */
    char path[64], link[PATH_MAX], bad[PATH_MAX + 32] = "";
    char cwd[PATH_MAX] = "";
    usleep(100000);
    snprintf(path, sizeof path, "/proc/%d/cwd", (int)g.pid);
    ssize_t n = readlink(path, cwd, sizeof cwd - 1);
    if (n > 0)
        cwd[n] = '\0';
    snprintf(path, sizeof path, "/proc/%d/fd", (int)g.pid);
    DIR *d = opendir(path);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        int fd = atoi(de->d_name);
        char fp[PATH_MAX];
        snprintf(fp, sizeof fp, "%s/%s", path, de->d_name);
        n = readlink(fp, link, sizeof link - 1);
        link[n > 0 ? n : 0] = '\0';
        if ((fd > 4 && !tu_under_valgrind()) ||
            (fd <= 2 && strcmp(link, "/dev/null") != 0))
            snprintf(bad, sizeof bad, "fd %d (%s)", fd, link);
    }
    if (d != NULL)
        closedir(d);
    pid_t sid = getsid(g.pid), gpid = g.pid;
    ck_assert_int_eq(sbx_guardian_release(&g), SBX_GUARDIAN_RELEASED);
    ck_assert_msg(bad[0] == '\0', "the guardian holds %s", bad);
    ck_assert_str_eq(cwd, "/");
    ck_assert_int_eq(sid, gpid);
    ck_assert_int_eq(g.pid, -1);
    ck_assert_int_eq(g.fd, -1);
    ck_assert_int_ne(access(m, F_OK), 0);  /* no cleanup on release */
    ck_assert_int_ne(access(m2, F_OK), 0); /* nor callback */
    ck_assert_int_eq(tu_count_fds(), fds);
    assert_no_children();
    ck_assert_int_eq(sbx_guardian_release(&g), SBX_GUARDIAN_RELEASED);
    free(m);
    free(m2);
}
END_TEST

/* Wait until the guardian exited on its own (without reaping it), then
 * release: its verdict, not a release racing its deadline. */
static int release_after_exit(sbx_guardian *g)
{
    siginfo_t si;
    ck_assert_int_eq(waitid(P_PID, (id_t)g->pid, &si, WEXITED | WNOWAIT), 0);
    return sbx_guardian_release(g);
}

START_TEST(test_guardian_deadline)
{
    /* The caller lives on (stopped, stuck): the deadline still holds. */
    char *m = g_marker("dl");
    char *m2 = g_marker("dlcb");
    g_cb cb;
    snprintf(cb.path, sizeof cb.path, "%s", m2);
    char *argv[] = {"/usr/bin/touch", m, NULL};
    sbx_guardian g;
    sbx_err e = {0};
    double t0 = now();
    ck_assert_int_eq(
        sbx_guardian_start(&g, t0 + 0.5, argv, NULL, g_touch, &cb, &e), 0);
    ck_assert(wait_for_file(m2, 5.0));
    ck_assert(access(m, F_OK) == 0);
    ck_assert_msg(now() - t0 >= 0.5, "fired early");
    ck_assert_int_eq(sbx_guardian_release(&g), SBX_GUARDIAN_FIRED);
    assert_no_children();
    /* A cleanup that never succeeds: retried, then reported. */
    char *fail[] = {"/bin/false", NULL};
    ck_assert_int_eq(sbx_guardian_start(&g, now(), fail, NULL, NULL, NULL, &e),
                     0);
    ck_assert_int_eq(release_after_exit(&g), SBX_GUARDIAN_FAILED);
    /* "gone" semantics: cleanup exits 0 but the thing still "exists". */
    char *ok[] = {"/bin/true", NULL};
    ck_assert_int_eq(sbx_guardian_start(&g, now(), ok, ok, NULL, NULL, &e), 0);
    ck_assert_int_eq(release_after_exit(&g), SBX_GUARDIAN_FAILED);
    ck_assert_int_eq(sbx_guardian_start(&g, now(), ok, fail, NULL, NULL, &e),
                     0);
    ck_assert_int_eq(release_after_exit(&g), SBX_GUARDIAN_FIRED);
    /* Relative cleanup paths are refused. */
    char *rel[] = {"touch", m, NULL};
    ck_assert_int_eq(sbx_guardian_start(&g, 0, rel, NULL, NULL, NULL, &e),
                     SANDBOX_EINVAL);
    ck_assert_int_eq(g.pid, -1);
    assert_no_children();
    unlink(m);
    unlink(m2);
    free(m);
    free(m2);
}
END_TEST

/* The caller dies by SIGKILL: the guardian kills the watched process and
 * cleans up within 5 s.  Control: without a guardian the watched process
 * survives its SIGKILLed parent. */
static void caller_dies(bool guarded, const char *marker, int report_fd)
{
    pid_t caller = fork();
    ck_assert_int_ge(caller, 0);
    if (caller == 0) {
        char *argv[] = {"/usr/bin/touch", (char *)marker, NULL};
        sbx_guardian g;
        if (guarded && sbx_guardian_start(&g, now() + 60, argv, NULL, NULL,
                                          NULL, NULL) < 0)
            _exit(1);
        pid_t victim = fork();
        if (victim == 0) {
            setpgid(0, 0);
            execl("/bin/sleep", "sleep", "60", (char *)NULL);
            _exit(127);
        }
        if (guarded) {
            int pfd = (int)syscall(SYS_pidfd_open, victim, 0);
            if (pfd < 0 || sbx_guardian_watch(&g, pfd, NULL) < 0)
                _exit(1);
        }
        if (write(report_fd, &victim, sizeof victim) != sizeof victim)
            _exit(1);
        raise(SIGKILL);
    }
    int st;
    ck_assert_int_eq(waitpid(caller, &st, 0), caller);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static bool pid_gone_within(pid_t pid, double sec)
{
    double until = now() + sec;
    for (;;) {
        /* As our orphans' subreaper we reap them (no zombies either). */
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        if (now() >= until)
            return false;
        usleep(20000);
    }
}

START_TEST(test_guardian_caller_sigkill)
{
    /* Valgrind has no pidfd_open (the guardian falls back to the socket's
     * EOF, but there is no pidfd to hand over) and CK_FORK=no would keep
     * the subreaper role for later tests. */
    if (tu_under_valgrind())
        return;
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t victim = -1;

    /* Control: no guardian, the victim outlives its SIGKILLed parent. */
    char *m0 = g_marker("ctl");
    caller_dies(false, m0, p[1]);
    ck_assert_int_eq(read(p[0], &victim, sizeof victim), sizeof victim);
    ck_assert(!pid_gone_within(victim, 1.0));
    ck_assert_int_ne(access(m0, F_OK), 0);
    kill(victim, SIGKILL);
    ck_assert(pid_gone_within(victim, 5.0));

    /* Guarded: victim killed and cleanup run within 5 s. */
    char *m = g_marker("kill");
    double t0 = now();
    caller_dies(true, m, p[1]);
    ck_assert_int_eq(read(p[0], &victim, sizeof victim), sizeof victim);
    ck_assert(pid_gone_within(victim, 5.0));
    ck_assert(wait_for_file(m, 5.0 - (now() - t0)));
    /* The guardian itself exits: nothing of ours is left. */
    double until = now() + 5.0;
    while (now() < until && waitpid(-1, NULL, WNOHANG) >= 0)
        usleep(20000);
    assert_no_children();
    close(p[0]);
    close(p[1]);
    unlink(m);
    free(m);
    free(m0);
}
END_TEST

/* ---- sandbox_run end to end with the fake runtime ---------------------- */

static char *tmp, *bin, *fake, *logpath;

static void e2e_setup(void)
{
    tmp = tu_mkdtemp();
    bin = tu_path(tmp, "bin");
    ck_assert_int_eq(mkdir(bin, 0755), 0);
    fake = tu_install_fake(bin, "podman");
    logpath = tu_path(tmp, "argv.log");
    /* The fake comes first; the system dirs follow for sh, sleep, head. */
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s:/usr/bin:/bin", bin), 0);
    ck_assert_int_eq(setenv("PATH", path, 1), 0);
    free(path);
    ck_assert_int_eq(setenv("FAKE_LOG", logpath, 1), 0);
    const char *clear[] = {
        SANDBOX_RUNTIME_ENV, "FAKE_STDOUT",    "FAKE_STDERR",    "FAKE_EXIT",
        "FAKE_PS_LISTS",     "FAKE_PS_OUTPUT", "FAKE_OTHER_EXIT"};
    for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++)
        unsetenv(clear[i]);
}

static void e2e_teardown(void)
{
    unsetenv("FAKE_LOG");
    free(bin);
    free(fake);
    free(logpath);
    tu_rmtree(tmp);
}

static void opts_for(sandbox_opts *o, const char *cmd)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->command = cmd;
}

/* The recorded invocations; free with tu_log_free. */
static size_t read_log(char ****lines)
{
    char *log = tu_read_file(logpath, NULL);
    if (log == NULL) {
        *lines = NULL;
        return 0;
    }
    size_t n = tu_log_parse(log, lines);
    free(log);
    /* `image inspect` (image_id.c) runs concurrently with `run`, so its
     * place in the log varies: move it after every other call (stable). */
    char ***l = *lines;
    size_t k = 0;
    char **inspect[8];
    size_t ni = 0;
    for (size_t i = 0; i < n; i++) {
        if (l[i][0] && l[i][1] && strcmp(l[i][1], "image") == 0 && ni < 8)
            inspect[ni++] = l[i];
        else
            l[k++] = l[i];
    }
    for (size_t i = 0; i < ni; i++)
        l[k++] = inspect[i];
    return n;
}

static size_t count_calls(char ***lines, const char *verb)
{
    size_t n = 0;
    for (char ***l = lines; l && *l; l++)
        if ((*l)[0] && (*l)[1] && strcmp((*l)[1], verb) == 0)
            n++;
    return n;
}

START_TEST(test_e2e_exit_passthrough)
{
    sandbox_opts o;
    sandbox_result r;
    int fds = tu_count_fds();
    opts_for(&o, "echo out; echo err >&2; exit 7");
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_EXITED);
    ck_assert_int_eq(r.exit_code, 7);
    ck_assert_int_eq(r.term_signal, 0);
    ck_assert_int_eq(r.error, 0);
    ck_assert_str_eq(r.out.data, "out\n");
    ck_assert_str_eq(r.err.data, "err\n");
    ck_assert_uint_eq(r.out.total, 4);
    ck_assert_str_eq(r.runtime, fake);
    ck_assert_ptr_nonnull(r.container_name);
    ck_assert_int_eq(strncmp(r.container_name, "sandbox-", 8), 0);
    ck_assert_ptr_nonnull(r.message);
    ck_assert_str_eq(r.message, "exited with code 7");
    ck_assert(r.wall_sec > 0 && r.wall_sec < 10 * tu_slack());

    /* The runtime saw exactly one `run` whose last three words are
     * `sh -c <command>` and which names the container, then one `image
     * inspect` for image_id (image_id.c; the fake prints no ID: NULL). */
    char ***lines;
    ck_assert_uint_eq(read_log(&lines), 2);
    tu_assert_argv(lines[1], fake, "image", "inspect", "--format", "{{.Id}}",
                   "debian:stable-slim");
    ck_assert_ptr_null(r.image_id);
    ck_assert_str_eq(r.backend, "podman");
    char **a = lines[0];
    size_t n = tu_argc(a);
    ck_assert_str_eq(a[0], fake);
    ck_assert_str_eq(a[1], "run");
    ck_assert_str_eq(a[n - 4], "debian:stable-slim");
    ck_assert_str_eq(a[n - 3], "sh");
    ck_assert_str_eq(a[n - 2], "-c");
    ck_assert_str_eq(a[n - 1], "echo out; echo err >&2; exit 7");
    char name_arg[96];
    snprintf(name_arg, sizeof name_arg, "--name=%s", r.container_name);
    bool named = false;
    for (size_t i = 0; i < n; i++)
        named = named || strcmp(a[i], name_arg) == 0;
    ck_assert(named);
    tu_log_free(lines);

    /* The text form of the result. */
    char *text = NULL;
    ck_assert_int_eq(sandbox_format(&r, 0, &text, NULL), 0);
    ck_assert_str_eq(text, "exit=7\n--- stdout ---\nout\n--- stderr ---\n"
                           "err\n");
    sandbox_free(text);

    /* Reusing the result frees the previous one. */
    opts_for(&o, "exit 0");
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_EXITED);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_null(r.message);
    ck_assert_ptr_nonnull(r.out.data); /* never NULL after a run */
    ck_assert_str_eq(r.out.data, "");
    ck_assert_str_eq(r.err.data, "");
    sandbox_result_free(&r);
    ck_assert_ptr_null(r.runtime);
    ck_assert_int_eq(tu_count_fds(), fds);
    assert_no_children();
}
END_TEST

static void run_expect(const char *cmd, int want_rc, int reason, int code,
                       int sig, const char *msg_needle, sandbox_result *r)
{
    sandbox_opts o;
    opts_for(&o, cmd);
    ck_assert_int_eq(sandbox_result_init(r, sizeof *r), 0);
    int rc = sandbox_run(&o, r);
    ck_assert_msg(rc == want_rc, "'%s': rc %d, want %d (%s)", cmd, rc, want_rc,
                  r->message ? r->message : "");
    ck_assert_msg(r->reason == reason, "'%s': reason %s, want %s", cmd,
                  sandbox_end_name(r->reason), sandbox_end_name(reason));
    ck_assert_int_eq(r->exit_code, code);
    ck_assert_int_eq(r->term_signal, sig);
    if (msg_needle != NULL) {
        ck_assert_ptr_nonnull(r->message);
        ck_assert_msg(strstr(r->message, msg_needle) != NULL,
                      "message '%s' lacks '%s'", r->message, msg_needle);
    }
}

START_TEST(test_e2e_classification)
{
    sandbox_result r;
    run_expect("exit 137", 0, SANDBOX_END_OOM, 137, SIGKILL, "out of memory",
               &r);
    ck_assert_int_eq(r.error, 0);
    sandbox_result_free(&r);
    run_expect("exit 130", 0, SANDBOX_END_SIGNALED, 130, SIGINT, "signal 2",
               &r);
    sandbox_result_free(&r);
    run_expect("exit 143", 0, SANDBOX_END_SIGNALED, 143, SIGTERM, NULL, &r);
    sandbox_result_free(&r);
    run_expect("exit 128", 0, SANDBOX_END_EXITED, 128, 0, NULL, &r);
    sandbox_result_free(&r);
    run_expect("exit 255", 0, SANDBOX_END_EXITED, 255, 0, NULL, &r);
    sandbox_result_free(&r);
    /* the command's own 125 / 127, without a runtime complaint */
    run_expect("echo 'my error' >&2; exit 125", 0, SANDBOX_END_EXITED, 125, 0,
               NULL, &r);
    sandbox_result_free(&r);
    run_expect("nonexistent-command-xyz", 0, SANDBOX_END_EXITED, 127, 0, NULL,
               &r);
    sandbox_result_free(&r);
    assert_no_children();
}
END_TEST

START_TEST(test_e2e_runtime_error)
{
    sandbox_result r;
    ck_assert_int_eq(setenv("FAKE_STDERR",
                            "Trying to pull docker.io/library/nope...\n"
                            "Error: initializing source docker://nope: "
                            "reading manifest latest: manifest unknown\n",
                            1),
                     0);
    ck_assert_int_eq(setenv("FAKE_EXIT", "125", 1), 0);
    /* The command never ran: exit_code is -1 ("-1 if none"). */
    run_expect("true", SANDBOX_ERUNTIME, SANDBOX_END_ERROR, -1, 0,
               "Error: initializing source docker://nope", &r);
    ck_assert_int_eq(r.error, SANDBOX_ERUNTIME);
    ck_assert_ptr_nonnull(strstr(r.message, "manifest unknown"));
    ck_assert_ptr_null(strstr(r.message, "Trying to pull"));
    /* the raw stderr is still there */
    ck_assert_ptr_nonnull(strstr(r.err.data, "Trying to pull"));
    sandbox_result_free(&r);

    /* 127 from the OCI runtime is a runtime failure too */
    ck_assert_int_eq(setenv("FAKE_STDERR",
                            "Error: runc: exec failed: "
                            "OCI runtime error\n",
                            1),
                     0);
    ck_assert_int_eq(setenv("FAKE_EXIT", "127", 1), 0);
    run_expect("true", SANDBOX_ERUNTIME, SANDBOX_END_ERROR, -1, 0, "runc", &r);
    sandbox_result_free(&r);

    /* docker's prefix */
    ck_assert_int_eq(setenv("FAKE_STDERR",
                            "docker: Error response from "
                            "daemon: no such image.\n",
                            1),
                     0);
    ck_assert_int_eq(setenv("FAKE_EXIT", "125", 1), 0);
    run_expect("true", SANDBOX_ERUNTIME, SANDBOX_END_ERROR, -1, 0,
               "no such image", &r);
    sandbox_result_free(&r);
    unsetenv("FAKE_STDERR");
    unsetenv("FAKE_EXIT");
}
END_TEST

START_TEST(test_e2e_client_killed)
{
    /* The runtime client itself dies by a signal (here: the fake execs the
     * command, which kills itself): an error, not the command's result. */
    sandbox_result r;
    run_expect("kill -9 $$", SANDBOX_ERUNTIME, SANDBOX_END_ERROR, -1, SIGKILL,
               "signal 9", &r);
    ck_assert_int_eq(r.error, SANDBOX_ERUNTIME);
    sandbox_result_free(&r);
    assert_no_children();
}
END_TEST

/* The client runs in a private directory, not the caller's cwd: what
 * conmon writes there (its `oom` file) is the library's to read and
 * remove.  The fake runs the command in the client's cwd, as conmon
 * would write. */
START_TEST(test_e2e_private_cwd_oom_file)
{
    char *dir = tu_mkdtemp();
    char old[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(old, sizeof old));
    ck_assert_int_eq(chdir(dir), 0);
    sandbox_result r;
    run_expect("pwd; : > oom; kill -9 $$", SANDBOX_ERUNTIME, SANDBOX_END_ERROR,
               -1, SIGKILL, "signal 9", &r);
    sandbox_result_free(&r);
    ck_assert_int_ne(access("oom", F_OK), 0);
    /* An exit of 137 with conmon's record: an exact OOM. */
    sandbox_opts o;
    opts_for(&o, "pwd; : > oom; exit 137");
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_OOM);
    ck_assert_ptr_nonnull(strstr(r.message, "engine reported"));
    ck_assert_ptr_nonnull(strstr(r.out.data, "/tmp/libsandbox-run-"));
    ck_assert_int_eq(r.host_root, 0); /* podman: mapped (or rootless) */
    char *rundir = strndup(r.out.data, strcspn(r.out.data, "\n"));
    ck_assert_int_ne(access(rundir, F_OK), 0); /* removed */
    free(rundir);
    sandbox_result_free(&r);
    /* Without the record: still the inference. */
    opts_for(&o, "exit 137");
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.message, "inferred"));
    sandbox_result_free(&r);
    ck_assert_int_ne(access("oom", F_OK), 0);
    ck_assert_int_eq(chdir(old), 0);
    tu_rmtree(dir);
    assert_no_children();
}
END_TEST

/* Rootful podman without a subordinate range: a clear error naming the
 * fix, never a box whose root is host root.  /etc/subuid is hidden by an
 * empty file in a private mount namespace (this test's process only). */
START_TEST(test_e2e_no_subid_range)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0)
        return; /* needs root (as the mapping itself does) */
    ck_assert_int_eq(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
    char *empty = tu_path(tmp, "empty-subuid");
    tu_write_file(empty, "", 0644);
    ck_assert_int_eq(mount(empty, "/etc/subuid", "none", MS_BIND, NULL), 0);
    sandbox_result r;
    run_expect("echo ran", SANDBOX_ERUNTIME, SANDBOX_END_ERROR, -1, 0,
               "subordinate id range", &r);
    ck_assert_ptr_nonnull(strstr(r.message, "usermod --add-subuids"));
    ck_assert_int_eq(r.out.len, 0); /* nothing ran */
    sandbox_result_free(&r);
    umount("/etc/subuid");
    free(empty);
}
END_TEST

/* sandbox_run with the status lost: an error, never "exited 0". */
START_TEST(test_e2e_lost_status)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    ck_assert_int_eq(sigaction(SIGCHLD, &ign, &old), 0);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "exit 0");
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    int rc = sandbox_run(&o, &r);
    sigaction(SIGCHLD, &old, NULL);
    ck_assert_int_eq(rc, SANDBOX_EIO);
    ck_assert_int_eq(r.reason, SANDBOX_END_ERROR);
    ck_assert_ptr_nonnull(strstr(r.message, "lost"));
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_e2e_timeout)
{
    sandbox_opts o;
    sandbox_result r;
    int fds = tu_count_fds();
    opts_for(&o, "echo partial; sleep 30");
    o.timeout_sec = 1.0;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    double t0 = now();
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    double dt = now() - t0;
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert_int_eq(r.exit_code, SANDBOX_EXIT_TIMEOUT);
    ck_assert_str_eq(r.out.data, "partial\n");
    ck_assert_msg(dt < 1.0 + 2.0 * tu_slack(), "took %.2f s", dt);
    ck_assert_ptr_nonnull(r.message);
    ck_assert_ptr_nonnull(strstr(r.message, "timed out"));
    ck_assert_ptr_nonnull(strstr(r.message, r.container_name));
    ck_assert_ptr_nonnull(strstr(r.message, "killed and removed"));

    /* The container itself was removed by name, podman-style. */
    char ***lines;
    size_t n = read_log(&lines);
    ck_assert_uint_ge(n, 3);
    ck_assert_str_eq(lines[0][1], "run");
    tu_assert_argv(lines[1], fake, "rm", "-f", "--time=0", "--ignore",
                   r.container_name);
    char filt[128];
    snprintf(filt, sizeof filt, "--filter=name=%s", r.container_name);
    tu_assert_argv(lines[2], fake, "ps", "-a", "--no-trunc", filt,
                   "--format={{.Names}}");
    ck_assert_uint_eq(count_calls(lines, "rm"), 1);
    tu_log_free(lines);

    char *text = NULL;
    ck_assert_int_eq(sandbox_format(&r, 0, &text, NULL), 0);
    ck_assert_str_eq(text, "exit=124\n--- stdout ---\npartial\n"
                           "--- stderr ---\n");
    sandbox_free(text);
    sandbox_result_free(&r);
    assert_no_children();
    ck_assert_int_eq(tu_count_fds(), fds);
}
END_TEST

START_TEST(test_e2e_timeout_not_removed)
{
    /* ps keeps listing the container: three rm attempts, then an honest
     * message. */
    ck_assert_int_eq(setenv("FAKE_PS_LISTS", "1", 1), 0);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "sleep 30");
    o.timeout_sec = 0.5;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert_ptr_nonnull(strstr(r.message, "could not be verified removed"));
    char ***lines;
    read_log(&lines);
    ck_assert_uint_eq(count_calls(lines, "rm"), 3);
    ck_assert_uint_eq(count_calls(lines, "ps"), 3);
    tu_log_free(lines);
    sandbox_result_free(&r);
    unsetenv("FAKE_PS_LISTS");
    assert_no_children();
}
END_TEST

START_TEST(test_e2e_docker_timeout)
{
    char *dk = tu_install_fake(bin, "docker");
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "sleep 30");
    o.timeout_sec = 0.5;
    o.runtime = "docker";
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    ck_assert_str_eq(r.runtime, dk);
    char ***lines;
    ck_assert_uint_ge(read_log(&lines), 2);
    ck_assert_str_eq(lines[0][0], dk);
    /* `docker info` (host_root) runs alongside the client: find the rm. */
    char **rm = NULL;
    for (char ***l = lines; l && *l && rm == NULL; l++)
        if ((*l)[1] && strcmp((*l)[1], "rm") == 0)
            rm = *l;
    ck_assert_ptr_nonnull(rm);
    tu_assert_argv(rm, dk, "rm", "-f", r.container_name);
    ck_assert_uint_eq(count_calls(lines, "info"), 1);
    tu_log_free(lines);
    sandbox_result_free(&r);
    free(dk);
}
END_TEST

START_TEST(test_e2e_cancel)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "sleep 30");
    o.cancel_fd = p[0];
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    later l;
    later_start(&l, p[1], 0.3);
    double t0 = now();
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    double dt = now() - t0;
    later_join(&l);
    ck_assert_int_eq(r.reason, SANDBOX_END_CANCELLED);
    ck_assert_int_eq(r.exit_code, 130);
    ck_assert_ptr_nonnull(strstr(r.message, "cancelled"));
    ck_assert_msg(dt < 0.3 + 2.0 * tu_slack(), "took %.2f s", dt);
    char ***lines;
    read_log(&lines);
    ck_assert_uint_eq(count_calls(lines, "rm"), 1);
    tu_log_free(lines);
    sandbox_result_free(&r);
    close(p[0]);
    close(p[1]);
    assert_no_children();
}
END_TEST

START_TEST(test_e2e_output_limit)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "head -c 100000 /dev/zero | tr '\\000' x; echo e >&2");
    o.output_limit = 1000;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_EXITED);
    ck_assert_uint_eq(r.out.len, 1000);
    ck_assert_uint_eq(r.out.total, 100000);
    ck_assert_int_eq(r.out.truncated, 1);
    ck_assert_uint_eq(strlen(r.out.data), 1000);
    ck_assert_str_eq(r.err.data, "e\n");
    ck_assert_int_eq(r.err.truncated, 0);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_e2e_no_runtime)
{
    ck_assert_int_eq(setenv("PATH", tmp, 1), 0); /* no podman, no docker */
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "true");
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), SANDBOX_ENORUNTIME);
    ck_assert_int_eq(r.reason, SANDBOX_END_ERROR);
    ck_assert_int_eq(r.error, SANDBOX_ENORUNTIME);
    ck_assert_int_eq(r.exit_code, -1);
    ck_assert_ptr_nonnull(strstr(r.message, "podman"));
    ck_assert_ptr_nonnull(strstr(r.message, "docker"));
    ck_assert_ptr_null(r.runtime);
    ck_assert_ptr_null(r.container_name);
    sandbox_result_free(&r);
    ck_assert_int_eq(access(logpath, F_OK), -1);
}
END_TEST

START_TEST(test_e2e_gc)
{
    /* pid 1 is alive (kept unless all); 999999999 cannot exist. */
    ck_assert_int_eq(
        setenv("FAKE_PS_OUTPUT", "sandbox-alive 1\nsandbox-dead 999999999", 1),
        0);
    unsigned removed = 99;
    char *msg = NULL;
    ck_assert_int_eq(sandbox_gc(NULL, 0, &removed, &msg), 0);
    ck_assert_ptr_null(msg);
    /* The count also holds stale workspace staging and proxy directories
     * of dead callers on this host (sbx_ws_sweep, sbx_net_gc): at least
     * the dead container; the rm calls below say exactly which. */
    ck_assert_uint_ge(removed, 1);
    char ***lines;
    read_log(&lines);
    ck_assert_uint_eq(count_calls(lines, "rm"), 1);
    for (char ***l = lines; *l; l++)
        if (strcmp((*l)[1], "rm") == 0)
            tu_assert_argv(*l, fake, "rm", "-f", "--time=0", "--ignore",
                           "sandbox-dead");
    tu_log_free(lines);
    ck_assert_int_eq(sandbox_gc(NULL, 1, &removed, NULL), 0);
    ck_assert_uint_ge(removed, 2);
    unsetenv("FAKE_PS_OUTPUT");
    assert_no_children();
}
END_TEST

static Suite *capture_suite(void)
{
    Suite *s = suite_create("capture");
    TCase *tc = tcase_create("spawn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_no_output);
    tcase_add_test(tc, test_concurrent_1mb);
    tcase_add_test(tc, test_cap_respected);
    tcase_add_test(tc, test_stream_append);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_timeout_stop_does_not_kill);
    tcase_add_test(tc, test_flood_timeout);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_cancel_unused);
    tcase_add_test(tc, test_grandchild_holds_pipe);
    tcase_add_test(tc, test_grandchild_floods_pipe);
    tcase_add_test(tc, test_no_fd_leak_many);
    tcase_add_test(tc, test_spawn_failure);
    tcase_add_test(tc, test_child_environment);
    tcase_add_test(tc, test_run_quiet);
    tcase_add_test(tc, test_lost_status_is_error);
    tcase_add_test(tc, test_child_cwd_is_root);
    tcase_add_test(tc, test_guardian_release);
    tcase_add_test(tc, test_guardian_deadline);
    tcase_add_test(tc, test_guardian_caller_sigkill);
    suite_add_tcase(s, tc);

    tc = tcase_create("e2e-fake-runtime");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, tu_root_setup, tu_root_teardown);
    tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
    tcase_add_test(tc, test_e2e_exit_passthrough);
    tcase_add_test(tc, test_e2e_classification);
    tcase_add_test(tc, test_e2e_runtime_error);
    tcase_add_test(tc, test_e2e_client_killed);
    tcase_add_test(tc, test_e2e_private_cwd_oom_file);
    tcase_add_test(tc, test_e2e_lost_status);
    tcase_add_test(tc, test_e2e_no_subid_range);
    tcase_add_test(tc, test_e2e_timeout);
    tcase_add_test(tc, test_e2e_timeout_not_removed);
    tcase_add_test(tc, test_e2e_docker_timeout);
    tcase_add_test(tc, test_e2e_cancel);
    tcase_add_test(tc, test_e2e_output_limit);
    tcase_add_test(tc, test_e2e_no_runtime);
    tcase_add_test(tc, test_e2e_gc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(capture_suite());
}
