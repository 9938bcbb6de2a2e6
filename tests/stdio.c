/* SPDX-License-Identifier: MIT */
/* Exec options of the one-shot run (issue 10) against a real backend:
 * stdin as bytes and from an fd, a box that never reads its stdin, argv
 * without a shell, streaming to tee fds and a callback, and bad input.
 *
 * SANDBOX_TEST_RUNTIME=podman|docker|native picks the backend (ctest runs
 * this binary once per backend); SANDBOX_TEST_IMAGE the image (default
 * busybox:latest).  Links the shared library through the public header. */
#include <sandbox.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
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
    return r && *r ? r : "podman";
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

static void opts_for(sandbox_opts *o, const char *cmd)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->command = cmd;
    o->image = image();
    o->runtime = runtime();
    o->timeout_sec = 60;
}

static int run(const sandbox_opts *o, sandbox_result *r)
{
    ck_assert_int_eq(sandbox_result_init(r, sizeof *r), 0);
    return sandbox_run(o, r);
}

static void assert_exit0(int rc, const sandbox_result *r)
{
    ck_assert_msg(rc == 0 && r->reason == SANDBOX_END_EXITED &&
                      r->exit_code == 0,
                  "rc %d reason %s exit %d: %s / stderr: %s", rc,
                  sandbox_end_name(r->reason), r->exit_code,
                  r->message ? r->message : "-", r->err.data);
}

/* ---- stdin ------------------------------------------------------------ */

/* Every byte value, NULs included, and more than a pipe holds. */
START_TEST(test_stdin_bytes_round_trip)
{
    size_t n = 300 * 1024;
    unsigned char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + i / 256);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "cat");
    o.stdin_data = data;
    o.stdin_len = n;
    o.output_limit = n;
    int rc = run(&o, &r);
    assert_exit0(rc, &r);
    ck_assert_uint_eq(r.out.len, n);
    ck_assert_msg(memcmp(r.out.data, data, n) == 0, "bytes differ");
    sandbox_result_free(&r);

    /* Empty stdin_data: the box reads EOF at once. */
    opts_for(&o, "wc -c");
    o.stdin_data = "";
    o.stdin_len = 0;
    rc = run(&o, &r);
    assert_exit0(rc, &r);
    ck_assert_int_eq(atoi(r.out.data), 0);
    sandbox_result_free(&r);
    free(data);
}
END_TEST

/* Without stdin options the box's stdin is /dev/null, as before. */
START_TEST(test_stdin_default_dev_null)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "wc -c");
    int rc = run(&o, &r);
    assert_exit0(rc, &r);
    ck_assert_int_eq(atoi(r.out.data), 0);
    sandbox_result_free(&r);
}
END_TEST

typedef struct feeder {
    int fd;
    size_t n;
} feeder;

static void *feed(void *arg)
{
    feeder *f = arg;
    char buf[8192];
    memset(buf, 'x', sizeof buf);
    size_t left = f->n;
    while (left > 0) {
        size_t k = left < sizeof buf ? left : sizeof buf;
        ssize_t w = write(f->fd, buf, k);
        if (w <= 0)
            break;
        left -= (size_t)w;
    }
    close(f->fd);
    return NULL;
}

START_TEST(test_stdin_from_pipe)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    feeder f = {p[1], 3u << 20}; /* 3 MiB, written as the box reads */
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, feed, &f), 0);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "wc -c; echo done");
    o.stdin_fd = p[0];
    int rc = run(&o, &r);
    pthread_join(th, NULL);
    assert_exit0(rc, &r);
    ck_assert_msg(strstr(r.out.data, "3145728") != NULL &&
                      strstr(r.out.data, "done") != NULL,
                  "stdout: %s", r.out.data);
    /* The caller's fd stays the caller's: open, not closed. */
    ck_assert_int_ge(fcntl(p[0], F_GETFD), 0);
    close(p[0]);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_stdin_from_file)
{
    char path[] = "/tmp/sbx-stdio-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    size_t n = 200 * 1024;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i % 251);
    ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "cat");
    o.stdin_fd = fd;
    o.output_limit = n;
    int rc = run(&o, &r);
    assert_exit0(rc, &r);
    ck_assert_uint_eq(r.out.len, n);
    ck_assert_msg(memcmp(r.out.data, data, n) == 0, "bytes differ");
    sandbox_result_free(&r);
    close(fd);
    free(data);
}
END_TEST

/* 100 MiB the box never reads: the run still ends when the box does, with
 * its output, and soon; the same under a timeout. */
START_TEST(test_stdin_ignored_100mib)
{
    size_t n = 100u << 20;
    char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    memset(data, 'y', n);
    sandbox_opts o;
    sandbox_result r;
    /* It writes 2 MB before it ends: a loop blocked on the stdin pipe
     * would never read them, and box and caller would wait on each other. */
    opts_for(&o, "echo started; head -c 2000000 /dev/zero; sleep 1; "
                 "echo ended >&2");
    o.stdin_data = data;
    o.stdin_len = n;
    o.timeout_sec = 30;
    double t0 = now();
    int rc = run(&o, &r);
    double took = now() - t0;
    assert_exit0(rc, &r);
    ck_assert_str_eq(r.out.data, "started\n");
    ck_assert_uint_eq(r.out.total, 2000008);
    ck_assert_str_eq(r.err.data, "ended\n");
    ck_assert_msg(took < 20.0, "took %.1f s", took);
    sandbox_result_free(&r);

    opts_for(&o, "echo hi; sleep 30");
    o.stdin_data = data;
    o.stdin_len = n;
    o.timeout_sec = 3;
    t0 = now();
    rc = run(&o, &r);
    took = now() - t0;
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    ck_assert_str_eq(r.out.data, "hi\n");
    ck_assert_msg(took < 20.0, "took %.1f s", took);
    sandbox_result_free(&r);
    free(data);
}
END_TEST

/* An endless stdin_fd (/dev/zero) and a box that reads a little and closes
 * its stdin: the feeding stops on EPIPE, and no SIGPIPE reaches this
 * process (its disposition is the default: it would die). */
START_TEST(test_stdin_endless_fd_closed_by_box)
{
    signal(SIGPIPE, SIG_DFL);
    int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(zero, 0);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "head -c 1000 | wc -c; exec 0<&-; echo ok");
    o.stdin_fd = zero;
    o.timeout_sec = 30;
    int rc = run(&o, &r);
    /* podman's attach can drop a container's whole output when it exits
     * while its client is still streaming stdin (seen once in ~5 runs
     * under ASan, never on docker or native): one retry, said so. */
    if (rc == 0 && r.out.len == 0 && strcmp(runtime(), "podman") == 0) {
        fprintf(stderr, "stdio: podman lost the output once; retrying\n");
        sandbox_result_free(&r);
        rc = run(&o, &r);
    }
    assert_exit0(rc, &r);
    ck_assert_msg(strstr(r.out.data, "1000") && strstr(r.out.data, "ok"),
                  "stdout: %s", r.out.data);
    sandbox_result_free(&r);
    close(zero);
}
END_TEST

/* The control for the test above: the same write without the library's
 * care kills a process with SIGPIPE. */
START_TEST(test_sigpipe_control)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        ssize_t w = write(p[1], "x", 1);
        (void)w;
        _exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
    close(p[1]);
}
END_TEST

/* ---- argv --------------------------------------------------------------- */

static const char *const meta[] = {"$HOME", ";", "'",    "\"",    "a\nb", "",
                                   "a b",   "*", "`id`", "$(id)", "\\"};
#define N_META (sizeof meta / sizeof *meta)

START_TEST(test_argv_metacharacters_verbatim)
{
    const char *argv[2 + N_META];
    argv[0] = "printf";
    argv[1] = "[%s]\\n";
    for (size_t i = 0; i < N_META; i++)
        argv[2 + i] = meta[i];
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, NULL);
    o.argv = argv;
    o.argc = 2 + N_META;
    int rc = run(&o, &r);
    assert_exit0(rc, &r);
    char want[512] = "";
    for (size_t i = 0; i < N_META; i++) {
        strcat(want, "[");
        strcat(want, meta[i]);
        strcat(want, "]\n");
    }
    ck_assert_str_eq(r.out.data, want);
    sandbox_result_free(&r);

    /* Control: the same words through the shell (command mode) do not
     * arrive verbatim ($HOME expands, ';' ends the command). */
    opts_for(&o, "printf '[%s]\\n' $HOME ';'x; echo");
    rc = run(&o, &r);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_null(strstr(r.out.data, "[$HOME]"));
    sandbox_result_free(&r);
}
END_TEST

/* A script prints its arguments one per line; argv[0] with a '/' is not
 * looked up. */
START_TEST(test_argv_script_and_path)
{
    const char *argv[] = {
        "/bin/sh", "-c",    "for a in \"$@\"; do printf '%s\\n' \"$a\"; done",
        "sh",      "$HOME", ";",
        "'",       "\"",    "x\ny",
        ""};
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, NULL);
    o.argv = argv;
    o.argc = sizeof argv / sizeof *argv;
    int rc = run(&o, &r);
    assert_exit0(rc, &r);
    ck_assert_str_eq(r.out.data, "$HOME\n;\n'\n\"\nx\ny\n\n");
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_argv_missing_program)
{
    const char *argv[] = {"no-such-program-xyz", "a"};
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, NULL);
    o.argv = argv;
    o.argc = 2;
    int rc = run(&o, &r);
    ck_assert_msg(
        rc < 0 || (r.reason == SANDBOX_END_EXITED && r.exit_code == 127),
        "rc %d reason %s exit %d", rc, sandbox_end_name(r.reason), r.exit_code);
    if (rc < 0)
        ck_assert_msg(r.message && strstr(r.message, "no-such-program-xyz"),
                      "message: %s", r.message ? r.message : "-");
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_argv_with_stdin)
{
    const char *argv[] = {"tr", "a-z", "A-Z"};
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, NULL);
    o.argv = argv;
    o.argc = 3;
    o.stdin_data = "hello\n";
    o.stdin_len = 6;
    int rc = run(&o, &r);
    assert_exit0(rc, &r);
    ck_assert_str_eq(r.out.data, "HELLO\n");
    sandbox_result_free(&r);
}
END_TEST

/* ---- streaming ---------------------------------------------------------- */

typedef struct reader {
    int fd;
    char buf[4096];
    size_t len;
    double first; /* when the first byte arrived; 0: never */
} reader;

static void *read_all(void *arg)
{
    reader *rd = arg;
    for (;;) {
        ssize_t n =
            read(rd->fd, rd->buf + rd->len, sizeof rd->buf - 1 - rd->len);
        if (n <= 0)
            break;
        if (rd->first == 0)
            rd->first = now();
        rd->len += (size_t)n;
    }
    rd->buf[rd->len] = '\0';
    return NULL;
}

typedef struct cb_log {
    char out[4096], err[4096];
    size_t out_len, err_len;
    double first_out;
    int calls;
} cb_log;

static void on_output(void *ctx, int stream, const char *data, size_t len)
{
    cb_log *l = ctx;
    l->calls++;
    char *dst = stream == 1 ? l->out : l->err;
    size_t *n = stream == 1 ? &l->out_len : &l->err_len;
    if (stream == 1 && l->first_out == 0)
        l->first_out = now();
    if (*n + len < sizeof l->out) {
        memcpy(dst + *n, data, len);
        *n += len;
        dst[*n] = '\0';
    }
}

START_TEST(test_streaming_before_the_end)
{
    int po[2], pe[2];
    ck_assert_int_eq(pipe(po), 0);
    ck_assert_int_eq(pipe(pe), 0);
    reader ro = {.fd = po[0]}, re = {.fd = pe[0]};
    pthread_t to, te;
    ck_assert_int_eq(pthread_create(&to, NULL, read_all, &ro), 0);
    ck_assert_int_eq(pthread_create(&te, NULL, read_all, &re), 0);
    cb_log log;
    memset(&log, 0, sizeof log);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "echo first; echo oops >&2; sleep 2; echo second");
    o.stdout_fd = po[1];
    o.stderr_fd = pe[1];
    o.on_output = on_output;
    o.on_output_ctx = &log;
    int rc = run(&o, &r);
    double end = now();
    close(po[1]);
    close(pe[1]);
    pthread_join(to, NULL);
    pthread_join(te, NULL);
    close(po[0]);
    close(pe[0]);
    assert_exit0(rc, &r);
    ck_assert_str_eq(r.out.data, "first\nsecond\n");
    ck_assert_str_eq(ro.buf, "first\nsecond\n");
    ck_assert_str_eq(re.buf, "oops\n");
    ck_assert_str_eq(log.out, "first\nsecond\n");
    ck_assert_str_eq(log.err, "oops\n");
    ck_assert_ptr_null(r.message);
    ck_assert_msg(ro.first > 0 && end - ro.first > 1.5,
                  "tee: first byte %.2f s before the end", end - ro.first);
    ck_assert_msg(end - log.first_out > 1.5,
                  "callback: first byte %.2f s before the end",
                  end - log.first_out);
    sandbox_result_free(&r);
}
END_TEST

/* A tee nobody reads must not hold the box up: the run ends as the box
 * does, the output is captured, and the message says the tee was dropped.
 * A tee whose reader is gone: the same, and no SIGPIPE. */
START_TEST(test_stalled_and_closed_tee)
{
    signal(SIGPIPE, SIG_DFL);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "head -c 3000000 /dev/zero; echo end >&2");
    o.stdout_fd = p[1];
    double t0 = now();
    int rc = run(&o, &r);
    double took = now() - t0;
    assert_exit0(rc, &r);
    ck_assert_uint_eq(r.out.total, 3000000);
    ck_assert_str_eq(r.err.data, "end\n");
    ck_assert_msg(took < 20.0, "took %.1f s", took);
    ck_assert_msg(r.message && strstr(r.message, "stdout_fd fell"),
                  "message: %s", r.message ? r.message : "-");
    sandbox_result_free(&r);
    close(p[0]);

    /* Reader gone. */
    opts_for(&o, "echo one; echo two");
    o.stdout_fd = p[1];
    rc = run(&o, &r);
    assert_exit0(rc, &r);
    ck_assert_str_eq(r.out.data, "one\ntwo\n");
    ck_assert_msg(r.message && strstr(r.message, "stdout_fd"), "message: %s",
                  r.message ? r.message : "-");
    sandbox_result_free(&r);
    close(p[1]);
}
END_TEST

/* Tee into a regular file. */
START_TEST(test_tee_to_file)
{
    char path[] = "/tmp/sbx-stdio-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "echo to-file; echo err >&2");
    o.stdout_fd = fd;
    int rc = run(&o, &r);
    assert_exit0(rc, &r);
    sandbox_result_free(&r);
    char buf[64] = "";
    ck_assert_int_eq(pread(fd, buf, sizeof buf - 1, 0), 8);
    ck_assert_str_eq(buf, "to-file\n");
    close(fd);
    unlink(path);
}
END_TEST

/* ---- bad input: a clear error and nothing runs ----------------------------
 * Each case would create /workspace/ran if it ran. */
static char ws[] = "/tmp/sbx-stdio-ws-XXXXXX";

static void ws_setup(void)
{
    if (mkdtemp(ws) == NULL)
        abort();
    chmod(ws, 0777); /* the box's root may be an unprivileged host uid */
}

static void ws_teardown(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/ran", ws);
    unlink(p);
    rmdir(ws);
}

static void expect_einval(sandbox_opts *o, const char *needle)
{
    sandbox_result r;
    char *msg = NULL;
    o->workspace = ws;
    ck_assert_int_eq(sandbox_opts_validate(o, &msg), SANDBOX_EINVAL);
    ck_assert_msg(msg && strstr(msg, needle), "validate: '%s' lacks '%s'",
                  msg ? msg : "-", needle);
    sandbox_free(msg);
    int rc = run(o, &r);
    ck_assert_int_eq(rc, SANDBOX_EINVAL);
    ck_assert_int_eq(r.reason, SANDBOX_END_ERROR);
    ck_assert_msg(r.message && strstr(r.message, needle), "'%s' lacks '%s'",
                  r.message ? r.message : "-", needle);
    ck_assert_ptr_null(r.container_name); /* no box was made */
    sandbox_result_free(&r);
    char p[128];
    snprintf(p, sizeof p, "%s/ran", ws);
    ck_assert_int_ne(access(p, F_OK), 0);
}

START_TEST(test_bad_input)
{
    const char *argv[] = {"touch", "/workspace/ran"};
    sandbox_opts o;

    /* A write-only stdin_fd. */
    int wo = open("/dev/null", O_WRONLY | O_CLOEXEC);
    opts_for(&o, "touch /workspace/ran");
    o.stdin_fd = wo;
    expect_einval(&o, "stdin_fd");
    close(wo);
    /* A closed stdin_fd. */
    opts_for(&o, "touch /workspace/ran");
    o.stdin_fd = 1000;
    expect_einval(&o, "stdin_fd 1000");
    /* A read-only tee. */
    int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
    opts_for(&o, "touch /workspace/ran");
    o.stdout_fd = ro;
    expect_einval(&o, "stdout_fd");
    close(ro);
    /* command and argv. */
    opts_for(&o, "touch /workspace/ran");
    o.argv = argv;
    o.argc = 2;
    expect_einval(&o, "command and argv");
    /* argv with argc 0. */
    opts_for(&o, NULL);
    o.argv = argv;
    o.argc = 0;
    expect_einval(&o, "argc");
    /* argc without argv. */
    opts_for(&o, NULL);
    o.argc = 2;
    expect_einval(&o, "argv is NULL");
    /* stdin_data NULL with a length. */
    opts_for(&o, "touch /workspace/ran");
    o.stdin_len = 5;
    expect_einval(&o, "stdin_data");
    /* stdin_data and stdin_fd. */
    opts_for(&o, "touch /workspace/ran");
    o.stdin_data = "x";
    o.stdin_len = 1;
    o.stdin_fd = 0;
    expect_einval(&o, "both set");
    /* Control: the same options, valid, do run. */
    opts_for(&o, NULL);
    o.argv = argv;
    o.argc = 2;
    o.workspace = ws;
    sandbox_result r;
    int rc = run(&o, &r);
    assert_exit0(rc, &r);
    sandbox_result_free(&r);
    char p[128];
    snprintf(p, sizeof p, "%s/ran", ws);
    ck_assert_int_eq(access(p, F_OK), 0);
    unlink(p);
}
END_TEST

/* sandbox_opts_init sets the new fds to -1. */
START_TEST(test_defaults)
{
    sandbox_opts o;
    memset(&o, 0x55, sizeof o);
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    ck_assert_int_eq(o.stdin_fd, -1);
    ck_assert_int_eq(o.stdout_fd, -1);
    ck_assert_int_eq(o.stderr_fd, -1);
    ck_assert_ptr_null(o.argv);
    ck_assert_uint_eq(o.argc, 0);
    ck_assert_ptr_null(o.stdin_data);
    ck_assert_ptr_null(o.on_output);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stdio");
    TCase *tc = tcase_create(runtime());
    tcase_set_timeout(tc, 180);
    tcase_add_unchecked_fixture(tc, ws_setup, ws_teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_sigpipe_control);
    tcase_add_test(tc, test_stdin_default_dev_null);
    tcase_add_test(tc, test_stdin_bytes_round_trip);
    tcase_add_test(tc, test_stdin_from_pipe);
    tcase_add_test(tc, test_stdin_from_file);
    tcase_add_test(tc, test_stdin_ignored_100mib);
    tcase_add_test(tc, test_stdin_endless_fd_closed_by_box);
    tcase_add_test(tc, test_argv_metacharacters_verbatim);
    tcase_add_test(tc, test_argv_script_and_path);
    tcase_add_test(tc, test_argv_missing_program);
    tcase_add_test(tc, test_argv_with_stdin);
    tcase_add_test(tc, test_streaming_before_the_end);
    tcase_add_test(tc, test_stalled_and_closed_tee);
    tcase_add_test(tc, test_tee_to_file);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
