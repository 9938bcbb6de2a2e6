/* SPDX-License-Identifier: MIT */
/* The warm pool (sandbox_pool_*) on the native backend: many threads
 * through a small pool, a fresh box per run, take, free leaving nothing,
 * a template that cannot make boxes, boxes that idle out while they wait.
 * Needs root, cgroups and the busybox image (as tests/native.c). */
#include <sandbox.h>

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net_server.h"

#define CG_ROOT "/sys/fs/cgroup"
#define IMAGE "busybox:latest"

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_sec(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void tmpl_for(sandbox_opts *o)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->image = IMAGE;
    o->runtime = "native";
    o->timeout_sec = 60;
}

static sandbox_pool *pool_new(const sandbox_opts *o, unsigned size)
{
    sandbox_pool *p = NULL;
    char *msg = NULL;
    int rc = sandbox_pool_create(o, size, &p, &msg);
    ck_assert_msg(rc == 0, "sandbox_pool_create: %d %s", rc,
                  msg ? msg : "(no message)");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(msg);
    return p;
}

static void exec_opts(sandbox_exec_opts *x, const char *cmd)
{
    ck_assert_int_eq(sandbox_exec_opts_init(x, sizeof *x), 0);
    x->command = cmd;
}

/* ---- what the test process has: descendants, their cgroups ----------- */

static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* comm may hold spaces */
    char state;
    int ppid;
    if (rp == NULL || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return ppid;
}

static bool is_descendant(pid_t pid)
{
    pid_t self = getpid();
    for (int depth = 0; depth < 64 && pid > 1; depth++) {
        pid = parent_of(pid);
        if (pid == self)
            return true;
    }
    return false;
}

/* Processes below this one, zombies included. */
static int count_descendants(void)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(de->d_name);
        if (pid != getpid() && is_descendant(pid))
            n++;
    }
    closedir(d);
    return n;
}

/* Our descendants after waiting up to `sec` for them to go (a released
 * guardian, say, may take a moment to exit). */
static int descendants_after(double sec)
{
    double end = now_sec() + sec;
    int n;
    while ((n = count_descendants()) > 0 && now_sec() < end)
        sleep_sec(0.05);
    return n;
}

typedef struct names {
    char v[64][80];
    int n;
} names;

static void names_add(names *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return;
    ck_assert_int_lt(s->n, 64);
    snprintf(s->v[s->n++], sizeof s->v[0], "%s", name);
}

/* The library's pids cgroups holding one of our descendants. */
static void our_cgroups(names *s)
{
    DIR *d = opendir(CG_ROOT "/pids/libsandbox");
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "sandbox-", 8) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, CG_ROOT "/pids/libsandbox/%s/cgroup.procs",
                 de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        int pid;
        bool ours = false;
        while (!ours && fscanf(f, "%d", &pid) == 1)
            ours = is_descendant(pid);
        fclose(f);
        if (ours)
            names_add(s, de->d_name);
    }
    closedir(d);
}

/* Directories named `name` in any hierarchy the library uses. */
static int cgroups_named(const char *name)
{
    static const char *const where[] = {
        "pids/libsandbox",    "memory/libsandbox",  "cpu/libsandbox",
        "cpuacct/libsandbox", "unified/libsandbox", "libsandbox"};
    int n = 0;
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        char path[512];
        snprintf(path, sizeof path, CG_ROOT "/%s/%s", where[i], name);
        n += access(path, F_OK) == 0;
    }
    return n;
}

/* ---- 50 runs from 8 threads through a pool of 2 ------------------------ */

#define N_RUNS 50
#define N_THREADS 8

typedef struct shared {
    sandbox_pool *pool;
    pthread_mutex_t mu;
    int next;
    char names[N_RUNS][80];
    char fail[N_RUNS][512];
} shared;

/* The run sees nothing an earlier run left, leaves a mark, prints its
 * number. */
static void one_run(shared *s, int i)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "if [ -e /tmp/mark ]; then echo stale: $(cat /tmp/mark); fi; "
             "echo %d > /tmp/mark; echo run-%d",
             i, i);
    sandbox_exec_opts x;
    exec_opts(&x, cmd);
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    int rc = sandbox_pool_run(s->pool, &x, &r);
    char want[32];
    snprintf(want, sizeof want, "run-%d\n", i);
    if (rc != 0 || r.reason != SANDBOX_END_EXITED || r.exit_code != 0 ||
        r.out.data == NULL || strcmp(r.out.data, want) != 0)
        snprintf(s->fail[i], sizeof s->fail[i],
                 "run %d: rc %d reason %s exit %d out '%s' err '%s' msg %s", i,
                 rc, sandbox_end_name(r.reason), r.exit_code,
                 r.out.data ? r.out.data : "(null)",
                 r.err.data ? r.err.data : "(null)",
                 r.message ? r.message : "-");
    snprintf(s->names[i], sizeof s->names[i], "%s",
             r.container_name ? r.container_name : "");
    sandbox_result_free(&r);
}

static void *worker(void *arg)
{
    shared *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int i = s->next < N_RUNS ? s->next++ : -1;
        pthread_mutex_unlock(&s->mu);
        if (i < 0)
            return NULL;
        one_run(s, i);
    }
}

START_TEST(many_threads_fresh_boxes)
{
    sandbox_opts o;
    tmpl_for(&o);
    static shared s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    s.pool = pool_new(&o, 2);
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &s), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    sandbox_pool_free(s.pool);
    for (int i = 0; i < N_RUNS; i++)
        ck_assert_msg(s.fail[i][0] == '\0', "%s", s.fail[i]);
    /* A distinct box each time. */
    for (int i = 0; i < N_RUNS; i++) {
        ck_assert_msg(s.names[i][0] != '\0', "run %d: no box name", i);
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(s.names[i], s.names[j]) != 0,
                          "runs %d and %d shared box %s", j, i, s.names[i]);
    }
    for (int i = 0; i < N_RUNS; i++)
        ck_assert_msg(cgroups_named(s.names[i]) == 0,
                      "box %s left a cgroup after sandbox_pool_free",
                      s.names[i]);
    ck_assert_int_eq(descendants_after(5.0), 0);
    pthread_mutex_destroy(&s.mu);
}
END_TEST

/* ---- take: the box is the caller's, and outlives the pool -------------- */

static char *exec_out(sandbox_box *b, const char *cmd)
{
    sandbox_exec_opts x;
    exec_opts(&x, cmd);
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    int rc = sandbox_box_exec(b, &x, &r);
    ck_assert_msg(rc == 0 && r.exit_code == 0, "exec '%s': rc %d exit %d: %s",
                  cmd, rc, r.exit_code, r.message ? r.message : "-");
    char *out = strdup(r.out.data ? r.out.data : "");
    sandbox_result_free(&r);
    return out;
}

START_TEST(take_hands_over_a_box)
{
    sandbox_opts o;
    tmpl_for(&o);
    sandbox_pool *p = pool_new(&o, 1);
    sandbox_box *b = NULL;
    char *msg = NULL;
    int rc = sandbox_pool_take(p, &b, &msg);
    ck_assert_msg(rc == 0, "take: %d %s", rc, msg ? msg : "-");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(sandbox_box_alive(b, NULL), 1);
    free(exec_out(b, "echo kept > /tmp/state"));
    char *out = exec_out(b, "cat /tmp/state");
    ck_assert_str_eq(out, "kept\n");
    free(out);
    /* A second take is another box. */
    sandbox_box *b2 = NULL;
    ck_assert_int_eq(sandbox_pool_take(p, &b2, NULL), 0);
    ck_assert_ptr_ne(b, b2);
    ck_assert_str_ne(sandbox_box_name(b), sandbox_box_name(b2));
    out = exec_out(b2, "cat /tmp/state 2>/dev/null; echo fresh");
    ck_assert_str_eq(out, "fresh\n");
    free(out);
    sandbox_box_free(b2);
    /* The pool goes; the caller's box lives on. */
    sandbox_pool_free(p);
    ck_assert_int_eq(sandbox_box_alive(b, NULL), 1);
    out = exec_out(b, "cat /tmp/state");
    ck_assert_str_eq(out, "kept\n");
    free(out);
    char name[80];
    snprintf(name, sizeof name, "%s", sandbox_box_name(b));
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_box_destroy(b, &r), 0);
    sandbox_result_free(&r);
    sandbox_box_free(b);
    ck_assert_int_eq(cgroups_named(name), 0);
    ck_assert_int_eq(descendants_after(5.0), 0);
}
END_TEST

/* ---- free with boxes ready and used boxes still queued ----------------- */

START_TEST(free_leaves_nothing)
{
    sandbox_opts o;
    tmpl_for(&o);
    names seen = {.n = 0};
    sandbox_pool *p = pool_new(&o, 3);
    for (int i = 0; i < 4; i++) {
        sandbox_exec_opts x;
        exec_opts(&x, "sleep 0.1; echo ok");
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        ck_assert_int_eq(sandbox_pool_run(p, &x, &r), 0);
        ck_assert_str_eq(r.out.data, "ok\n");
        names_add(&seen, r.container_name);
        sandbox_result_free(&r);
    }
    /* Let it refill, then look at what it holds. */
    double end = now_sec() + 10;
    do {
        sleep_sec(0.2);
        our_cgroups(&seen);
    } while (seen.n < 4 + 3 && now_sec() < end);
    ck_assert_msg(seen.n >= 4 + 3, "only %d boxes seen (3 ready + 4 used)",
                  seen.n);
    ck_assert_int_gt(count_descendants(), 0);
    /* Used boxes still queued for destruction, and ready ones. */
    sandbox_exec_opts x;
    exec_opts(&x, "true");
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_pool_run(p, &x, &r), 0);
    names_add(&seen, r.container_name);
    sandbox_result_free(&r);
    our_cgroups(&seen);
    sandbox_pool_free(p);
    for (int i = 0; i < seen.n; i++)
        ck_assert_msg(cgroups_named(seen.v[i]) == 0,
                      "box %s left a cgroup after sandbox_pool_free",
                      seen.v[i]);
    ck_assert_int_eq(descendants_after(5.0), 0);
}
END_TEST

START_TEST(free_right_after_create)
{
    sandbox_opts o;
    tmpl_for(&o);
    for (int i = 0; i < 3; i++) {
        sandbox_pool *p = pool_new(&o, 2);
        if (i > 0)
            sleep_sec(0.001 * i);
        sandbox_pool_free(p);
    }
    ck_assert_int_eq(descendants_after(5.0), 0);
    names none = {.n = 0};
    our_cgroups(&none);
    ck_assert_int_eq(none.n, 0);
}
END_TEST

/* ---- a template that cannot make boxes ---------------------------------- */

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

START_TEST(bad_template_fails_clearly)
{
    sandbox_opts o;
    tmpl_for(&o);
    o.image = "libsandbox-no-such-image:latest";
    sandbox_pool *p = pool_new(&o, 2);
    sandbox_exec_opts x;
    exec_opts(&x, "echo never");
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    int rc = sandbox_pool_run(p, &x, &r);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_ERROR);
    ck_assert_int_eq(r.error, rc);
    ck_assert_ptr_nonnull(r.message);
    ck_assert_msg(strstr(r.message, "no ready box") != NULL &&
                      strstr(r.message, "libsandbox-no-such-image") != NULL,
                  "unclear message: %s", r.message);
    sandbox_result_free(&r);
    /* Take says the same. */
    sandbox_box *b = (sandbox_box *)&r;
    char *msg = NULL;
    ck_assert_int_lt(sandbox_pool_take(p, &b, &msg), 0);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, "no ready box") != NULL, "%s", msg);
    sandbox_free(msg);
    /* Over 2 s of calls the process stays almost idle: the pool backs
     * off instead of retrying in a loop, and callers fail at once. */
    double c0 = cpu_self(), t0 = now_sec();
    int calls = 0;
    while (now_sec() - t0 < 2.0) {
        sandbox_result_init(&r, sizeof r);
        double s = now_sec();
        ck_assert_int_lt(sandbox_pool_run(p, &x, &r), 0);
        ck_assert_msg(now_sec() - s < 5.0, "a failing run took %.2f s",
                      now_sec() - s);
        sandbox_result_free(&r);
        calls++;
        sleep_sec(0.05);
    }
    double cpu = cpu_self() - c0;
    ck_assert_msg(cpu < 0.3, "%.3f s of CPU in 2 s (%d calls): busy loop?", cpu,
                  calls);
    double f0 = now_sec();
    sandbox_pool_free(p);
    ck_assert_msg(now_sec() - f0 < 15.0, "free took %.1f s", now_sec() - f0);
    ck_assert_int_eq(descendants_after(5.0), 0);
}
END_TEST

START_TEST(bad_arguments)
{
    sandbox_opts o;
    tmpl_for(&o);
    sandbox_pool *p = (sandbox_pool *)&o;
    char *msg = NULL;
    ck_assert_int_eq(sandbox_pool_create(&o, 0, &p, &msg), SANDBOX_EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(msg);
    sandbox_free(msg);
    ck_assert_int_eq(sandbox_pool_create(NULL, 1, &p, NULL), SANDBOX_EINVAL);
    ck_assert_int_eq(sandbox_pool_create(&o, 1, NULL, NULL), SANDBOX_EINVAL);
    o.memory = "lots";
    ck_assert_int_eq(sandbox_pool_create(&o, 1, &p, NULL), SANDBOX_EINVAL);
    tmpl_for(&o);
    o.workspace = "/tmp";
    ck_assert_int_eq(sandbox_pool_create(&o, 1, &p, &msg), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "workspace"));
    sandbox_free(msg);
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    sandbox_exec_opts x;
    exec_opts(&x, "true");
    ck_assert_int_eq(sandbox_pool_run(NULL, &x, &r), SANDBOX_EINVAL);
    ck_assert_int_eq(r.reason, SANDBOX_END_ERROR);
    ck_assert_ptr_nonnull(strstr(r.message, "not a pool"));
    sandbox_result_free(&r);
    sandbox_box *b;
    ck_assert_int_eq(sandbox_pool_take(NULL, &b, NULL), SANDBOX_EINVAL);
    ck_assert_ptr_null(b);
    sandbox_pool_free(NULL);
}
END_TEST

/* ---- the template is copied; ready boxes that idle out are replaced ---- */

START_TEST(template_is_copied)
{
    sandbox_opts o;
    tmpl_for(&o);
    char img[64], var[64];
    snprintf(img, sizeof img, "%s", IMAGE);
    snprintf(var, sizeof var, "POOLVAR=copied");
    const char *env[] = {var};
    o.image = img;
    o.env = env;
    o.n_env = 1;
    sandbox_pool *p = pool_new(&o, 1);
    memset(img, 'x', sizeof img - 1);
    memset(var, 'x', sizeof var - 1);
    sandbox_exec_opts x;
    exec_opts(&x, "echo $POOLVAR");
    for (int i = 0; i < 2; i++) {
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        ck_assert_int_eq(sandbox_pool_run(p, &x, &r), 0);
        ck_assert_str_eq(r.out.data, "copied\n");
        sandbox_result_free(&r);
    }
    sandbox_pool_free(p);
}
END_TEST

START_TEST(idle_boxes_are_replaced)
{
    sandbox_opts o;
    tmpl_for(&o);
    o.box_idle_sec = 1.0;
    sandbox_pool *p = pool_new(&o, 1);
    sleep_sec(2.5); /* the first ready box idled out meanwhile */
    sandbox_exec_opts x;
    exec_opts(&x, "echo alive");
    for (int i = 0; i < 2; i++) {
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        int rc = sandbox_pool_run(p, &x, &r);
        ck_assert_msg(rc == 0 && r.exit_code == 0, "rc %d exit %d: %s", rc,
                      r.exit_code, r.message ? r.message : "-");
        ck_assert_str_eq(r.out.data, "alive\n");
        sandbox_result_free(&r);
        sleep_sec(1.2);
    }
    sandbox_pool_free(p);
    ck_assert_int_eq(descendants_after(5.0), 0);
}
END_TEST

/* A ready box killed from outside is discarded, never handed out. */
START_TEST(killed_box_is_not_handed_out)
{
    sandbox_opts o;
    tmpl_for(&o);
    sandbox_pool *p = pool_new(&o, 1);
    names ready = {.n = 0};
    double end = now_sec() + 10;
    while (ready.n == 0 && now_sec() < end) {
        sleep_sec(0.05);
        our_cgroups(&ready);
    }
    ck_assert_int_eq(ready.n, 1);
    char path[512];
    snprintf(path, sizeof path, CG_ROOT "/pids/libsandbox/%s/cgroup.procs",
             ready.v[0]);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    int pid, killed = 0;
    while (fscanf(f, "%d", &pid) == 1)
        killed += kill(pid, SIGKILL) == 0;
    fclose(f);
    ck_assert_int_gt(killed, 0);
    sleep_sec(0.2);
    sandbox_exec_opts x;
    exec_opts(&x, "echo fine");
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    int rc = sandbox_pool_run(p, &x, &r);
    ck_assert_msg(rc == 0 && r.exit_code == 0, "rc %d exit %d: %s", rc,
                  r.exit_code, r.message ? r.message : "-");
    ck_assert_str_eq(r.out.data, "fine\n");
    ck_assert_str_ne(r.container_name, ready.v[0]);
    sandbox_result_free(&r);
    sandbox_pool_free(p);
    ck_assert_int_eq(cgroups_named(ready.v[0]), 0);
    ck_assert_int_eq(descendants_after(5.0), 0);
}
END_TEST

/* network = ALLOWLIST: each run's own connection record (127.0.0.1 only). */
START_TEST(allowlist_runs_get_their_net_log)
{
    ns_server srv;
    ck_assert_int_eq(ns_server_start(&srv), 0);
    char dest[64], cmd[160], want[96];
    snprintf(dest, sizeof dest, "127.0.0.1:%d", srv.port);
    const char *allow[] = {dest};
    sandbox_opts o;
    tmpl_for(&o);
    o.network = SANDBOX_NETWORK_ALLOWLIST;
    o.allow = allow;
    o.n_allow = 1;
    sandbox_pool *p = pool_new(&o, 1);
    snprintf(cmd, sizeof cmd, "wget -q -O- http://%s/pooled", dest);
    snprintf(want, sizeof want, "\"dest\":\"%s\"", dest);
    for (int i = 0; i < 2; i++) {
        sandbox_exec_opts x;
        exec_opts(&x, cmd);
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        int rc = sandbox_pool_run(p, &x, &r);
        ck_assert_msg(rc == 0 && r.exit_code == 0, "rc %d exit %d: %s / %s", rc,
                      r.exit_code, r.message ? r.message : "-",
                      r.err.data ? r.err.data : "");
        ck_assert_msg(strstr(r.out.data, "GOT GET /pooled") != NULL, "out: %s",
                      r.out.data);
        ck_assert_uint_eq(r.net_attempts, 1); /* this run's, not the pool's */
        ck_assert_ptr_nonnull(r.net_log);
        ck_assert_msg(strstr(r.net_log, want) != NULL, "%s", r.net_log);
        sandbox_result_free(&r);
    }
    sandbox_pool_free(p);
    ns_server_stop(&srv);
    ck_assert_int_eq(srv.conns, 2);
    ck_assert_int_eq(descendants_after(5.0), 0);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("native");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, template_is_copied);
    tcase_add_test(tc, many_threads_fresh_boxes);
    tcase_add_test(tc, take_hands_over_a_box);
    tcase_add_test(tc, free_leaves_nothing);
    tcase_add_test(tc, free_right_after_create);
    tcase_add_test(tc, bad_template_fails_clearly);
    tcase_add_test(tc, idle_boxes_are_replaced);
    tcase_add_test(tc, killed_box_is_not_handed_out);
    tcase_add_test(tc, allowlist_runs_get_their_net_log);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
