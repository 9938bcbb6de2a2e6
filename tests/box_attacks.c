/* SPDX-License-Identifier: MIT */
/* A hostile box against its OWNER through the exec protocol (issue 10 red
 * team), public API only.  The promise under test (docs/api.md, Boxes): an
 * owner never waits on the box beyond an exec's timeout (plus the bounded
 * kill and drain), its memory stays bounded, and a box that breaks its own
 * execs gets clear errors, not a hung or crashed owner.  Every attack
 * first shows it lands (its control), then that the owner holds.
 *
 * stop_stall: a process left by one exec (box_attacks/stopper.c, "stop")
 *   SIGSTOPs every later process of the box: the init's fork before READY,
 *   after READY while it reads its spec, or the exec's own processes.
 *   Control: without it `sleep 1; echo done` prints done; with it the same
 *   exec cannot finish (it is stopped within a millisecond of starting,
 *   1 s before it could print) and times out.  The attack: an exec whose
 *   argv+env (600 KB) exceed the status socket's buffer needs the stopped
 *   child to read them; the owner used to send them with a blocking send
 *   outside the exec's timeout and hung until the box's lifetime ended.
 *   Then many short execs, each a fresh race for the stopper (some are
 *   stopped before READY: the owner used to wait 30 s for READY whatever
 *   the exec's timeout).
 * kill_others: the same process SIGKILLs every later process of the box.
 * stdout_holder: an exec closes its stdout/stderr and leaves a background
 *   process holding the pipes open for 300 s; the exec ends with its main
 *   process (the pipes are drained a moment, not waited for).
 * output_flood: endless output on stdout and stderr; the owner keeps at
 *   most output_limit per stream and flags the truncation.
 * pids_exhausted: a background fork loop holds every pid of the box's
 *   pids limit; the next exec fails at once with a clear error.
 *
 * SANDBOX_TEST_RUNTIME picks the backend, SANDBOX_TEST_STOPPER the static
 * stopper binary. */
#define BU_DEFAULT_RUNTIME "native"
#include "box_util.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* What an exec may take beyond its timeout: the kill and its reap (a
 * stopped process dies of cgroup.kill at once; the engines add latency). */
#define SLACK_SEC 6.0

static sandbox_box *make_box(long pids)
{
    sandbox_opts o;
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.image = "busybox:latest";
    o.runtime = bu_runtime();
    o.timeout_sec = 60;
    o.box_lifetime_sec = 600;
    if (pids > 0)
        o.pids = pids;
    return bu_box_create(&o);
}

static void destroy(sandbox_box *b)
{
    sandbox_result r;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    double t0 = bu_now();
    ck_assert_int_eq(sandbox_box_destroy(b, &r), 0);
    ck_assert_msg(bu_now() - t0 < 30, "destroy took %.1f s", bu_now() - t0);
    sandbox_result_free(&r);
    sandbox_box_free(b);
}

/* One exec; *took gets its wall time as the owner saw it. */
static int run(sandbox_box *b, const char *cmd, double timeout,
               const char *const *env, size_t n_env, size_t limit,
               sandbox_result *r, double *took)
{
    sandbox_exec_opts x;
    ck_assert_int_eq(sandbox_exec_opts_init(&x, sizeof x), 0);
    x.command = cmd;
    x.timeout_sec = timeout;
    x.env = env;
    x.n_env = n_env;
    x.output_limit = limit;
    ck_assert_int_eq(sandbox_result_init(r, sizeof *r), 0);
    double t0 = bu_now();
    int rc = sandbox_box_exec(b, &x, r);
    *took = bu_now() - t0;
    return rc;
}

static const char *why(int rc, const sandbox_result *r)
{
    static __thread char buf[512];
    snprintf(buf, sizeof buf, "rc %d, %s, exit %d, signal %d: %s", rc,
             sandbox_end_name(r->reason), r->exit_code, r->term_signal,
             r->message ? r->message : (r->err.data ? r->err.data : "-"));
    return buf;
}

/* `sleep 1; echo done` finishes (the baseline of every control). */
static void baseline(sandbox_box *b)
{
    sandbox_result r;
    double took;
    int rc = run(b, "sleep 1; echo done", 10, NULL, 0, 0, &r, &took);
    ck_assert_msg(rc == 0 && r.reason == SANDBOX_END_EXITED &&
                      r.exit_code == 0 && strcmp(r.out.data, "done\n") == 0,
                  "baseline: %s", why(rc, &r));
    sandbox_result_free(&r);
}

static void start_hostile(sandbox_box *b, const char *mode)
{
    const char *stopper = getenv("SANDBOX_TEST_STOPPER");
    ck_assert_msg(stopper != NULL, "SANDBOX_TEST_STOPPER not set");
    char *msg = NULL;
    int rc = sandbox_box_put(b, stopper, "/tmp/stopper", &msg);
    ck_assert_msg(rc == 0, "put: %s", msg ? msg : "-");
    sandbox_free(msg);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "chmod 755 /tmp/stopper && { setsid /tmp/stopper %s </dev/null "
             ">/dev/null 2>&1 & } && echo started",
             mode);
    sandbox_result r;
    double took;
    rc = run(b, cmd, 10, NULL, 0, 0, &r, &took);
    ck_assert_msg(rc == 0 && r.exit_code == 0 &&
                      strcmp(r.out.data, "started\n") == 0,
                  "start the stopper: %s", why(rc, &r));
    sandbox_result_free(&r);
}

/* 600 KB of environment, far above any socket buffer. */
enum { NV = 6, VLEN = 100000 };
static char **big_env(void)
{
    char **v = calloc(NV, sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int i = 0; i < NV; i++) {
        v[i] = malloc(VLEN + 8);
        ck_assert_ptr_nonnull(v[i]);
        snprintf(v[i], 8, "V%d=", i);
        memset(v[i] + 3, 'x', VLEN);
        v[i][VLEN + 3] = '\0';
    }
    return v;
}

static void free_env(char **v)
{
    for (int i = 0; i < NV; i++)
        free(v[i]);
    free(v);
}

START_TEST(stop_stall)
{
    sandbox_box *b = make_box(0);
    baseline(b);
    char **env = big_env();
    sandbox_result r;
    double took;
    /* the big spec alone is fine */
    int rc =
        run(b, "echo ${#V5}", 10, (const char *const *)env, NV, 0, &r, &took);
    ck_assert_msg(rc == 0 && r.exit_code == 0 &&
                      strcmp(r.out.data, "100000\n") == 0,
                  "big env without the stopper: %s", why(rc, &r));
    sandbox_result_free(&r);

    start_hostile(b, "stop");

    /* Control: the stopper lands; the exec cannot print. */
    rc = run(b, "sleep 1; echo done", 4, NULL, 0, 0, &r, &took);
    ck_assert_msg((rc < 0 || r.reason == SANDBOX_END_TIMEOUT) &&
                      (r.out.data == NULL || strstr(r.out.data, "done") == 0),
                  "control: the stopper did not stop the exec (%s)",
                  why(rc, &r));
    ck_assert_msg(took < 4 + SLACK_SEC, "control took %.1f s", took);
    sandbox_result_free(&r);

    /* The attack: the big spec under the stopper; the 3 s timeout holds. */
    rc = run(b, "sleep 1; echo done", 3, (const char *const *)env, NV, 0, &r,
             &took);
    ck_assert_msg(took < 3 + SLACK_SEC,
                  "the exec's 3 s timeout did not hold: %.1f s (%s)", took,
                  why(rc, &r));
    ck_assert_msg(rc < 0 || r.reason == SANDBOX_END_TIMEOUT,
                  "a stopped exec did not fail or time out: %s", why(rc, &r));
    sandbox_result_free(&r);

    /* Fresh races: short execs, big spec or not, each caught wherever the
     * stopper meets it (or not at all: `true` may slip through). */
    for (int i = 0; i < 12; i++) {
        rc = run(b, "true", 1, i % 2 ? (const char *const *)env : NULL,
                 i % 2 ? NV : 0, 0, &r, &took);
        ck_assert_msg(took < 1 + SLACK_SEC,
                      "short exec %d: its 1 s timeout did not hold: %.1f s "
                      "(%s)",
                      i, took, why(rc, &r));
        ck_assert_msg(rc < 0 || r.reason == SANDBOX_END_TIMEOUT ||
                          (r.reason == SANDBOX_END_EXITED && r.exit_code == 0),
                      "short exec %d: %s", i, why(rc, &r));
        sandbox_result_free(&r);
    }
    free_env(env);
    ck_assert_int_eq(sandbox_box_alive(b, NULL), 1);
    destroy(b);
}
END_TEST

START_TEST(kill_others)
{
    sandbox_box *b = make_box(0);
    baseline(b);
    start_hostile(b, "kill");
    char **env = big_env();
    for (int i = 0; i < 6; i++) {
        /* Control and attack in one: the exec dies before it can print,
         * whatever step it was at, and the owner learns it at once. */
        sandbox_result r;
        double took;
        int rc = run(b, "sleep 1; echo done", 4,
                     i % 2 ? (const char *const *)env : NULL, i % 2 ? NV : 0, 0,
                     &r, &took);
        ck_assert_msg(
            (rc < 0 || r.reason == SANDBOX_END_SIGNALED) &&
                (r.out.data == NULL || strstr(r.out.data, "done") == 0),
            "exec %d: the killer did not kill it (%s)", i, why(rc, &r));
        ck_assert_msg(took < 4, "exec %d took %.1f s (%s)", i, took,
                      why(rc, &r));
        ck_assert_msg(rc != SANDBOX_EBOXDEAD,
                      "exec %d: a killed exec is not a dead box (%s)", i,
                      why(rc, &r));
        sandbox_result_free(&r);
    }
    free_env(env);
    ck_assert_int_eq(sandbox_box_alive(b, NULL), 1);
    destroy(b);
}
END_TEST

START_TEST(stdout_holder)
{
    sandbox_box *b = make_box(0);
    sandbox_result r;
    double took;
    /* The main process closes its stdout/stderr and ends; a background
     * process keeps both pipes open for 300 s. */
    int rc = run(b, "sleep 300 & echo main; exec >&- 2>&-; sleep 0.2; exit 3",
                 30, NULL, 0, 0, &r, &took);
    ck_assert_msg(rc == 0 && r.reason == SANDBOX_END_EXITED &&
                      r.exit_code == 3 && strcmp(r.out.data, "main\n") == 0,
                  "holder: %s", why(rc, &r));
    ck_assert_msg(took < 10, "the exec waited for its pipes: %.1f s", took);
    sandbox_result_free(&r);
    /* Control: the holder lived on with the first exec's stdout, a pipe. */
    rc = run(b,
             "for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null); "
             "[ \"$c\" = sleep ] && readlink $p/fd/1; done; true",
             10, NULL, 0, 0, &r, &took);
    ck_assert_msg(rc == 0 && r.exit_code == 0 &&
                      strncmp(r.out.data, "pipe:", 5) == 0,
                  "control: no background process holds a pipe (%s; out %s)",
                  why(rc, &r), r.out.data);
    sandbox_result_free(&r);
    destroy(b);
}
END_TEST

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

START_TEST(output_flood)
{
    sandbox_box *b = make_box(0);
    sandbox_result r;
    double took;
    long rss0 = maxrss_kb();
    const size_t cap = 65536;
    int rc = run(b, "yes flooding-stderr >&2 & exec yes flooding-stdout", 4,
                 NULL, 0, cap, &r, &took);
    ck_assert_msg(rc == 0 && r.reason == SANDBOX_END_TIMEOUT, "flood: %s",
                  why(rc, &r));
    ck_assert_msg(took < 4 + SLACK_SEC, "flood took %.1f s", took);
    /* Control: far more was produced than kept. */
    ck_assert_msg(r.out.total > 16 * cap && r.err.total > 16 * cap,
                  "control: the flood was small (%llu / %llu bytes)",
                  (unsigned long long)r.out.total,
                  (unsigned long long)r.err.total);
    ck_assert_uint_le(r.out.len, cap);
    ck_assert_uint_le(r.err.len, cap);
    ck_assert_int_eq(r.out.truncated, 1);
    ck_assert_int_eq(r.err.truncated, 1);
    ck_assert(strncmp(r.out.data, "flooding-stdout\n", 16) == 0);
    long grew = maxrss_kb() - rss0;
    ck_assert_msg(grew < 64 * 1024, "the owner grew by %ld KB for %llu bytes",
                  grew, (unsigned long long)(r.out.total + r.err.total));
    sandbox_result_free(&r);
    destroy(b);
}
END_TEST

START_TEST(pids_exhausted)
{
    sandbox_box *b = make_box(32);
    baseline(b);
    sandbox_result r;
    double took;
    /* A background process takes every pid the box has and keeps trying
     * (box_attacks/stopper.c hog). */
    start_hostile(b, "hog");
    /* Control: within moments the box is full and an exec cannot start. */
    int rc = 0;
    double t0 = bu_now();
    for (;;) {
        rc = run(b, "echo done", 5, NULL, 0, 0, &r, &took);
        bool ran = rc == 0 && r.reason == SANDBOX_END_EXITED;
        sandbox_result_free(&r);
        if (!ran)
            break;
        ck_assert_msg(bu_now() - t0 < 20, "control: the hog never filled the "
                                          "box's pids");
    }
    /* The attack: the next execs fail at once with a clear error. */
    for (int i = 0; i < 3; i++) {
        rc = run(b, "echo done", 5, NULL, 0, 0, &r, &took);
        ck_assert_msg(rc < 0, "exec %d in a full box: %s", i, why(rc, &r));
        ck_assert_msg(took < 5, "exec %d took %.1f s", i, took);
        ck_assert_msg(rc != SANDBOX_EBOXDEAD, "exec %d: %s", i, why(rc, &r));
        ck_assert_msg(r.message != NULL && strstr(r.message, "fork"),
                      "exec %d: an unclear error: %s", i, why(rc, &r));
        sandbox_result_free(&r);
    }
    ck_assert_int_eq(sandbox_box_alive(b, NULL), 1);
    destroy(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("box_attacks");
    TCase *tc = tcase_create("owner");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, stop_stall);
    tcase_add_test(tc, kill_others);
    tcase_add_test(tc, stdout_holder);
    tcase_add_test(tc, output_flood);
    tcase_add_test(tc, pids_exhausted);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
