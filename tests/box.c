/* SPDX-License-Identifier: MIT */
/* Boxes (issue 10) against a real backend, through the public API only:
 * state across execs, an exec's timeout killing its whole tree while the
 * box lives on, the box's limits across execs, stdin, argv, streaming,
 * concurrency, the owner's death, bad input, idle/lifetime/OOM deaths.
 *
 * SANDBOX_TEST_RUNTIME=native|podman|docker picks the backend (ctest runs
 * this binary once per backend); SANDBOX_TEST_IMAGE the image (default
 * busybox:latest). */
#include <sandbox.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *runtime(void)
{
    const char *r = getenv("SANDBOX_TEST_RUNTIME");
    return r && *r ? r : "native";
}

static bool is_native(void)
{
    return strcmp(runtime(), "native") == 0;
}

static const char *image(void)
{
    const char *i = getenv("SANDBOX_TEST_IMAGE");
    return i && *i ? i : "busybox:latest";
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void box_opts(sandbox_opts *o)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->image = image();
    o->runtime = runtime();
    o->timeout_sec = 60;
}

static sandbox_box *make_box(const sandbox_opts *o)
{
    sandbox_box *b = NULL;
    char *msg = NULL;
    int rc = sandbox_box_create(o, &b, &msg);
    ck_assert_msg(rc == 0 && b != NULL, "create: %d %s", rc, msg ? msg : "-");
    sandbox_free(msg);
    return b;
}

static sandbox_box *default_box(void)
{
    sandbox_opts o;
    box_opts(&o);
    return make_box(&o);
}

/* exec a shell command; r initialised here. */
static int sh(sandbox_box *b, const char *cmd, double timeout,
              sandbox_result *r)
{
    sandbox_exec_opts x;
    ck_assert_int_eq(sandbox_exec_opts_init(&x, sizeof x), 0);
    x.command = cmd;
    x.timeout_sec = timeout;
    ck_assert_int_eq(sandbox_result_init(r, sizeof *r), 0);
    return sandbox_box_exec(b, &x, r);
}

static void assert_ok(int rc, const sandbox_result *r)
{
    ck_assert_msg(rc == 0 && r->reason == SANDBOX_END_EXITED &&
                      r->exit_code == 0,
                  "rc %d reason %s exit %d: %s / stderr: %s", rc,
                  sandbox_end_name(r->reason), r->exit_code,
                  r->message ? r->message : "-", r->err.data);
}

/* The box's out put of one command, which must succeed. */
static char *sh_out(sandbox_box *b, const char *cmd)
{
    sandbox_result r;
    int rc = sh(b, cmd, 30, &r);
    assert_ok(rc, &r);
    char *s = strdup(r.out.data);
    sandbox_result_free(&r);
    return s;
}

/* Native: does any cgroup hierarchy still hold a directory for name? */
static bool native_cgroup_exists(const char *name)
{
    static const char *const roots[] = {
        "/sys/fs/cgroup/memory/libsandbox", "/sys/fs/cgroup/pids/libsandbox",
        "/sys/fs/cgroup/libsandbox", "/sys/fs/cgroup/unified/libsandbox"};
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", roots[i], name);
        if (stat(p, &st) == 0)
            return true;
    }
    return false;
}

/* Engines: is a container of that name still there? */
static bool container_exists(const char *name)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s ps -a --format '{{.Names}}' 2>/dev/null | grep -qx '%s'",
             runtime(), name);
    return system(cmd) == 0;
}

static bool box_left(const char *name)
{
    return is_native() ? native_cgroup_exists(name) : container_exists(name);
}

static void destroy_free(sandbox_box *b)
{
    char name[128];
    snprintf(name, sizeof name, "%s", sandbox_box_name(b));
    sandbox_result r;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    int rc = sandbox_box_destroy(b, &r);
    ck_assert_msg(rc == 0, "destroy: %d %s", rc, r.message ? r.message : "-");
    sandbox_result_free(&r);
    sandbox_box_free(b);
    ck_assert_msg(!box_left(name), "box %s left behind", name);
}

/* ---- state, timeouts, limits ----------------------------------------- */

START_TEST(test_state_persists)
{
    sandbox_box *b = default_box();
    ck_assert_ptr_nonnull(sandbox_box_name(b));
    ck_assert_int_eq(sandbox_box_alive(b, NULL), 1);
    free(sh_out(b, "echo hello > /tmp/f; mkdir -p /tmp/d; echo x > /tmp/d/y"));
    char *out = sh_out(b, "cat /tmp/f /tmp/d/y");
    ck_assert_str_eq(out, "hello\nx\n");
    free(out);
    /* exit codes per exec, the box unaffected */
    sandbox_result r;
    ck_assert_int_eq(sh(b, "exit 7", 10, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_EXITED);
    ck_assert_int_eq(r.exit_code, 7);
    sandbox_result_free(&r);
    /* per-exec env over the box's, cwd */
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    const char *env[] = {"FOO=bar", "HOME=/tmp"};
    x.command = "echo $FOO $HOME; pwd";
    x.env = env;
    x.n_env = 2;
    x.cwd = "/tmp/d";
    sandbox_result_init(&r, sizeof r);
    assert_ok(sandbox_box_exec(b, &x, &r), &r);
    ck_assert_str_eq(r.out.data, "bar /tmp\n/tmp/d\n");
    sandbox_result_free(&r);
    destroy_free(b);
}
END_TEST

/* A setsid'd, double-forked escapee writes its pid to /tmp: a normal end
 * of its exec leaves it running (the control: escapees do outlive their
 * exec), an exec timeout kills it with the rest of the exec's tree, and
 * the box lives on. */
#define ESCAPE                                                                 \
    "(setsid sh -c 'sleep 300 & echo $! > /tmp/%s.pid' &); "                   \
    "while [ ! -s /tmp/%s.pid ]; do sleep 0.1; done; %s"

START_TEST(test_exec_timeout_kills_tree)
{
    sandbox_box *b = default_box();
    char cmd[512];
    sandbox_result r;
    snprintf(cmd, sizeof cmd, ESCAPE, "ctl", "ctl", "exit 0");
    assert_ok(sh(b, cmd, 20, &r), &r);
    sandbox_result_free(&r);
    char *out = sh_out(b, "kill -0 $(cat /tmp/ctl.pid) && echo alive");
    ck_assert_str_eq(out, "alive\n");
    free(out);

    snprintf(cmd, sizeof cmd, ESCAPE, "esc", "esc", "sleep 300");
    double t0 = now();
    ck_assert_int_eq(sh(b, cmd, 2, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert_double_lt(now() - t0, 15);
    sandbox_result_free(&r);
    out = sh_out(b, "kill -0 $(cat /tmp/esc.pid) 2>/dev/null && echo alive "
                    "|| echo gone; kill -0 $(cat /tmp/ctl.pid) && echo ctl");
    ck_assert_str_eq(out, "gone\nctl\n");
    free(out);
    ck_assert_int_eq(sandbox_box_alive(b, NULL), 1);
    destroy_free(b);
}
END_TEST

START_TEST(test_limits_hold_across_execs)
{
    sandbox_opts o;
    box_opts(&o);
    o.pids = 48;
    o.memory = "64m";
    sandbox_box *b = make_box(&o);
    free(sh_out(b, "echo warm"));
    /* exec 2: a pids hog; it never gets past the box's 48.  The hog's
     * subshell dies at the first failed fork (its sleeps stay, in the
     * exec's tree), the count uses builtins only (no fork is left), and
     * `read` waits on a pipe that never delivers until the exec's timeout
     * kills the whole tree. */
    int in[2];
    ck_assert_int_eq(pipe(in), 0);
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "(i=0; while [ $i -lt 200 ]; do sleep 100 & i=$((i+1)); "
                "done) 2>/dev/null; set -- /proc/[0-9]*; echo n=$#; read x";
    x.stdin_fd = in[0];
    x.timeout_sec = 4;
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_box_exec(b, &x, &r), 0);
    close(in[0]);
    close(in[1]);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    int n = -1;
    const char *p = strstr(r.out.data, "n=");
    ck_assert_msg(p != NULL && sscanf(p, "n=%d", &n) == 1, "out: %s",
                  r.out.data);
    ck_assert_int_le(n, 48);
    ck_assert_int_gt(n, 10);
    sandbox_result_free(&r);
    /* exec 3: a memory hog; killed at the box's 64m */
    ck_assert_int_eq(sh(b, "head -c 300m /dev/zero | tail > /dev/null", 30, &r),
                     0);
    ck_assert_msg(r.reason == SANDBOX_END_OOM ||
                      r.reason == SANDBOX_END_SIGNALED ||
                      (r.reason == SANDBOX_END_EXITED && r.exit_code != 0),
                  "memory hog: %s %d %s", sandbox_end_name(r.reason),
                  r.exit_code, r.message ? r.message : "-");
    ck_assert_uint_le(r.peak_memory_bytes, 80ull << 20);
    sandbox_result_free(&r);
    /* and the box still works */
    char *out = sh_out(b, "echo still");
    ck_assert_str_eq(out, "still\n");
    free(out);
    destroy_free(b);
}
END_TEST

/* ---- stdin, argv, streaming -------------------------------------------- */

START_TEST(test_stdin)
{
    sandbox_box *b = default_box();
    sandbox_exec_opts x;
    sandbox_result r;
    char data[3000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7);
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "cat";
    x.stdin_data = data;
    x.stdin_len = sizeof data;
    sandbox_result_init(&r, sizeof r);
    assert_ok(sandbox_box_exec(b, &x, &r), &r);
    ck_assert_uint_eq(r.out.len, sizeof data);
    ck_assert_int_eq(memcmp(r.out.data, data, sizeof data), 0);
    sandbox_result_free(&r);

    /* from an fd */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "via fd\n", 7), 7);
    close(p[1]);
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "cat; echo end";
    x.stdin_fd = p[0];
    sandbox_result_init(&r, sizeof r);
    assert_ok(sandbox_box_exec(b, &x, &r), &r);
    ck_assert_str_eq(r.out.data, "via fd\nend\n");
    sandbox_result_free(&r);
    close(p[0]);

    /* 100 MiB that the box never reads: no deadlock */
    size_t big = 100u << 20;
    char *buf = calloc(1, big);
    ck_assert_ptr_nonnull(buf);
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "echo ignored";
    x.stdin_data = buf;
    x.stdin_len = big;
    x.timeout_sec = 30;
    double t0 = now();
    sandbox_result_init(&r, sizeof r);
    assert_ok(sandbox_box_exec(b, &x, &r), &r);
    ck_assert_str_eq(r.out.data, "ignored\n");
    ck_assert_double_lt(now() - t0, 20);
    sandbox_result_free(&r);
    free(buf);
    destroy_free(b);
}
END_TEST

START_TEST(test_argv_verbatim)
{
    sandbox_box *b = default_box();
    const char *argv[] = {"printf", "[%s]", "a b",   "$HOME", "`id`", "'q'",
                          "\"",     "*",    ";&& |", "",      "\\n"};
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.argv = argv;
    x.argc = sizeof argv / sizeof *argv;
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    assert_ok(sandbox_box_exec(b, &x, &r), &r);
    ck_assert_str_eq(r.out.data,
                     "[a b][$HOME][`id`]['q'][\"][*][;&& |][][\\n]");
    sandbox_result_free(&r);
    destroy_free(b);
}
END_TEST

typedef struct stream_ctx {
    double first;
    size_t bytes;
} stream_ctx;

static void on_out(void *ctx, int stream, const char *data, size_t len)
{
    stream_ctx *s = ctx;
    (void)data;
    if (stream == 1 && s->bytes == 0)
        s->first = now();
    s->bytes += len;
}

START_TEST(test_streaming_before_end)
{
    sandbox_box *b = default_box();
    stream_ctx s = {0, 0};
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "echo first; sleep 2; echo second";
    x.on_output = on_out;
    x.on_output_ctx = &s;
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    assert_ok(sandbox_box_exec(b, &x, &r), &r);
    double end = now();
    ck_assert_str_eq(r.out.data, "first\nsecond\n");
    ck_assert_uint_eq(s.bytes, 13);
    ck_assert_msg(end - s.first > 1.5, "first byte %.3f s before the end",
                  end - s.first);
    sandbox_result_free(&r);
    destroy_free(b);
}
END_TEST

/* ---- concurrency --------------------------------------------------------- */

#define N_BOXES 4
#define N_THREADS 32
#define N_EXECS 20

typedef struct worker {
    sandbox_box *box;
    int id;
    int bad;
    char why[256];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < N_EXECS; i++) {
        char cmd[64], want[64];
        snprintf(cmd, sizeof cmd, "echo t%d-%d; echo e%d >&2", w->id, i, w->id);
        snprintf(want, sizeof want, "t%d-%d\n", w->id, i);
        sandbox_exec_opts x;
        sandbox_exec_opts_init(&x, sizeof x);
        x.command = cmd;
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        int rc = sandbox_box_exec(w->box, &x, &r);
        char ewant[32];
        snprintf(ewant, sizeof ewant, "e%d\n", w->id);
        if (rc != 0 || r.exit_code != 0 || strcmp(r.out.data, want) != 0 ||
            strcmp(r.err.data, ewant) != 0) {
            if (w->bad++ == 0)
                snprintf(w->why, sizeof w->why, "rc %d exit %d out '%s' %s", rc,
                         r.exit_code, r.out.data ? r.out.data : "",
                         r.message ? r.message : "");
        }
        sandbox_result_free(&r);
    }
    return NULL;
}

START_TEST(test_threads_many_execs)
{
    sandbox_box *boxes[N_BOXES];
    for (int i = 0; i < N_BOXES; i++)
        boxes[i] = default_box();
    pthread_t t[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){.box = boxes[i % N_BOXES], .id = i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    int bad = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].bad)
            fprintf(stderr, "thread %d: %d bad, first: %s\n", i, w[i].bad,
                    w[i].why);
        bad += w[i].bad;
    }
    ck_assert_int_eq(bad, 0);
    for (int i = 0; i < N_BOXES; i++)
        destroy_free(boxes[i]);
}
END_TEST

/* ---- the owner's death -----------------------------------------------------
 */

START_TEST(test_owner_death_destroys_box)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        sandbox_opts o;
        sandbox_opts_init(&o, sizeof o);
        o.image = image();
        o.runtime = runtime();
        sandbox_box *b = NULL;
        if (sandbox_box_create(&o, &b, NULL) != 0)
            _exit(1);
        sandbox_exec_opts x;
        sandbox_exec_opts_init(&x, sizeof x);
        x.command = "(setsid sleep 300 &); echo started";
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        if (sandbox_box_exec(b, &x, &r) != 0)
            _exit(2);
        char name[128];
        snprintf(name, sizeof name, "%s\n", sandbox_box_name(b));
        if (write(p[1], name, strlen(name)) < 0)
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    char name[128] = {0};
    ssize_t n = read(p[0], name, sizeof name - 1);
    close(p[0]);
    ck_assert_int_gt(n, 1);
    name[n - 1] = '\0';
    ck_assert_msg(box_left(name), "box %s not found while its owner lives",
                  name);
    kill(pid, SIGKILL);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    double t0 = now();
    while (box_left(name) && now() - t0 < 20)
        usleep(50000);
    double took = now() - t0;
    ck_assert_msg(!box_left(name), "box %s outlived its owner", name);
    if (is_native())
        ck_assert_msg(took < 3.0, "native box took %.2f s to go", took);
}
END_TEST

/* ---- bad input --------------------------------------------------------------
 */

START_TEST(test_bad_input)
{
    sandbox_exec_opts x;
    sandbox_result r;
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "echo never";

    /* NULL and foreign handles */
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_box_exec(NULL, &x, &r), SANDBOX_EBADBOX);
    ck_assert_int_eq(r.reason, SANDBOX_END_ERROR);
    ck_assert_ptr_nonnull(r.message);
    sandbox_result_free(&r);
    long fake[64] = {0};
    ck_assert_int_eq(sandbox_box_exec((sandbox_box *)fake, &x, &r),
                     SANDBOX_EBADBOX);
    sandbox_result_free(&r);
    ck_assert_int_eq(sandbox_box_alive(NULL, NULL), SANDBOX_EBADBOX);
    ck_assert_int_eq(sandbox_box_destroy(NULL, NULL), SANDBOX_EBADBOX);
    ck_assert_ptr_null(sandbox_box_name(NULL));
    sandbox_box_free(NULL);

    /* bad create options */
    sandbox_opts o;
    box_opts(&o);
    o.box_lifetime_sec = -1;
    sandbox_box *b = (sandbox_box *)fake;
    char *msg = NULL;
    ck_assert_int_eq(sandbox_box_create(&o, &b, &msg), SANDBOX_EINVAL);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(msg, "box_lifetime_sec"));
    sandbox_free(msg);

    b = default_box();
    /* bad exec options: clear errors, nothing run */
    struct {
        const char *what;
        double timeout;
        const char *cwd;
        int stdin_bad;
    } cases[] = {{"timeout_sec", -1, NULL, 0},
                 {"timeout_sec", NAN, NULL, 0},
                 {"cwd", 0, "tmp", 0},
                 {"cwd", 0, "/tmp/../etc", 0},
                 {"stdin_fd", 0, NULL, 1}};
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sandbox_exec_opts_init(&x, sizeof x);
        x.command = "touch /tmp/ran";
        x.timeout_sec = cases[i].timeout;
        x.cwd = cases[i].cwd;
        if (cases[i].stdin_bad)
            x.stdin_fd = p[1]; /* the write end: not readable */
        sandbox_result_init(&r, sizeof r);
        ck_assert_int_eq(sandbox_box_exec(b, &x, &r), SANDBOX_EINVAL);
        ck_assert_msg(r.message && strstr(r.message, cases[i].what),
                      "case %zu: %s", i, r.message ? r.message : "-");
        sandbox_result_free(&r);
    }
    close(p[0]);
    close(p[1]);
    char *out = sh_out(b, "test -e /tmp/ran && echo ran || echo clean");
    ck_assert_str_eq(out, "clean\n");
    free(out);

    /* exec after destroy */
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_box_destroy(b, &r), 0);
    sandbox_result_free(&r);
    ck_assert_int_eq(sandbox_box_destroy(b, NULL), 0); /* twice: 0 */
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "true";
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_box_exec(b, &x, &r), SANDBOX_EBOXDEAD);
    ck_assert_ptr_nonnull(
        strstr(r.message, "destroyed by sandbox_box_destroy"));
    sandbox_result_free(&r);
    char *why = NULL;
    ck_assert_int_eq(sandbox_box_alive(b, &why), 0);
    ck_assert_ptr_nonnull(strstr(why, "destroyed"));
    sandbox_free(why);
    sandbox_box_free(b);
}
END_TEST

/* ---- deaths: idle, lifetime, OOM -------------------------------------------
 */

START_TEST(test_idle_expiry)
{
    sandbox_opts o;
    box_opts(&o);
    o.box_idle_sec = 1.5;
    sandbox_box *b = make_box(&o);
    char name[128];
    snprintf(name, sizeof name, "%s", sandbox_box_name(b));
    /* busy for longer than the idle time: not idle */
    free(sh_out(b, "sleep 2.5"));
    free(sh_out(b, "true"));
    sleep(3);
    sandbox_result r;
    ck_assert_int_eq(sh(b, "true", 10, &r), SANDBOX_EBOXDEAD);
    ck_assert_msg(strstr(r.message, "idle") != NULL, "%s", r.message);
    sandbox_result_free(&r);
    /* the guardian removed it even before destroy */
    if (is_native())
        ck_assert(!box_left(name));
    destroy_free(b);
}
END_TEST

START_TEST(test_lifetime_expiry)
{
    sandbox_opts o;
    box_opts(&o);
    o.box_lifetime_sec = 2;
    sandbox_box *b = make_box(&o);
    sandbox_result r;
    double t0 = now();
    int rc = sh(b, "sleep 30", 20, &r);
    ck_assert_msg(rc == SANDBOX_EBOXDEAD, "rc %d %s", rc,
                  r.message ? r.message : "-");
    ck_assert_msg(strstr(r.message, "lifetime") != NULL, "%s", r.message);
    ck_assert_double_lt(now() - t0, 10);
    sandbox_result_free(&r);
    ck_assert_int_eq(sh(b, "true", 10, &r), SANDBOX_EBOXDEAD);
    ck_assert_ptr_nonnull(strstr(r.message, "lifetime"));
    sandbox_result_free(&r);
    destroy_free(b);
}
END_TEST

/* The box's init is the OOM killer's choice (its oom_score_adj raised from
 * inside, and four hogs share the memory, so none outscores it): the box
 * dies of OOM, and the next exec says so. */
START_TEST(test_oom_kills_box)
{
    sandbox_opts o;
    box_opts(&o);
    o.memory = "48m";
    sandbox_box *b = make_box(&o);
    sandbox_result r;
    int rc = sh(b,
                "echo 1000 > /proc/1/oom_score_adj && for i in 1 2 3 4; do "
                "(head -c 100m /dev/zero | tail > /dev/null) & done; wait",
                30, &r);
    ck_assert_msg(rc == SANDBOX_EBOXDEAD || rc == 0, "rc %d %s", rc,
                  r.message ? r.message : "-");
    sandbox_result_free(&r);
    ck_assert_int_eq(sh(b, "true", 10, &r), SANDBOX_EBOXDEAD);
    ck_assert_msg(strstr(r.message, "out of memory") != NULL, "%s", r.message);
    sandbox_result_free(&r);
    char *why = NULL;
    ck_assert_int_eq(sandbox_box_alive(b, &why), 0);
    ck_assert_ptr_nonnull(strstr(why, "out of memory"));
    sandbox_free(why);
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_box_destroy(b, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_OOM);
    sandbox_result_free(&r);
    sandbox_box_free(b);
}
END_TEST

START_TEST(test_run_is_a_box)
{
    /* sandbox_run on the same path: streams, reason and box accounting */
    sandbox_opts o;
    box_opts(&o);
    o.command = "echo out; echo err >&2; exit 3";
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_EXITED);
    ck_assert_int_eq(r.exit_code, 3);
    ck_assert_str_eq(r.out.data, "out\n");
    ck_assert_str_eq(r.err.data, "err\n");
    if (is_native())
        ck_assert_uint_gt(r.peak_memory_bytes, 0);
    ck_assert_ptr_nonnull(r.container_name);
    ck_assert(!box_left(r.container_name));
    sandbox_result_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("box");
    TCase *tc = tcase_create(runtime());
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_state_persists);
    tcase_add_test(tc, test_exec_timeout_kills_tree);
    tcase_add_test(tc, test_limits_hold_across_execs);
    tcase_add_test(tc, test_stdin);
    tcase_add_test(tc, test_argv_verbatim);
    tcase_add_test(tc, test_streaming_before_end);
    tcase_add_test(tc, test_threads_many_execs);
    tcase_add_test(tc, test_owner_death_destroys_box);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_idle_expiry);
    tcase_add_test(tc, test_lifetime_expiry);
    tcase_add_test(tc, test_oom_kills_box);
    tcase_add_test(tc, test_run_is_a_box);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
