/* SPDX-License-Identifier: MIT */
/* Exec options without a runtime: the container argv of argv mode and of a
 * fed stdin, option validation, SIGPIPE-free writes, and tees that stall or
 * lose their reader (io.c). */
#include "internal.h"
#include "test_util.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static char *tmp, *bin, *podman;

static void setup(void)
{
    tmp = tu_mkdtemp();
    bin = tu_path(tmp, "bin");
    ck_assert_int_eq(mkdir(bin, 0755), 0);
    podman = tu_install_fake(bin, "podman");
    ck_assert_int_eq(setenv("PATH", bin, 1), 0);
    unsetenv(SANDBOX_RUNTIME_ENV);
}

static void teardown(void)
{
    free(bin);
    free(podman);
    tu_rmtree(tmp);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char **run_argv(const sandbox_opts *o, sbx_plan *plan)
{
    sbx_err e = {0};
    char **argv = NULL;
    int rc = sbx_plan_init(plan, o, &e);
    ck_assert_msg(rc == 0, "plan_init: %d %s", rc, e.msg);
    ck_assert_int_eq(sbx_build_run_argv(plan, &argv, &e), 0);
    return argv;
}

/* The words after the image are the argv, one element each; "-i" comes
 * right before the image when stdin is fed, and not otherwise. */
START_TEST(test_argv_mode_words)
{
    const char *words[] = {"printf", "%s\n", "$HOME", "a b", "", ";"};
    sandbox_opts o;
    sbx_plan p;
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.image = "busybox:latest";
    o.argv = words;
    o.argc = 6;
    char **argv = run_argv(&o, &p);
    size_t n = tu_argc(argv);
    ck_assert_uint_ge(n, 7);
    ck_assert_str_eq(argv[n - 7], "busybox:latest");
    for (size_t i = 0; i < 6; i++)
        ck_assert_str_eq(argv[n - 6 + i], words[i]);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_ne(argv[i], "-i");
    sbx_argv_free(argv);
    sbx_plan_free(&p);

    o.stdin_data = "x";
    o.stdin_len = 1;
    argv = run_argv(&o, &p);
    n = tu_argc(argv);
    ck_assert_str_eq(argv[n - 8], "-i");
    ck_assert_str_eq(argv[n - 7], "busybox:latest");
    sbx_argv_free(argv);
    sbx_plan_free(&p);

    /* Command mode keeps sh -c <command>. */
    o.argv = NULL;
    o.argc = 0;
    o.stdin_data = NULL;
    o.stdin_len = 0;
    o.command = "echo $HOME";
    argv = run_argv(&o, &p);
    n = tu_argc(argv);
    tu_assert_argv(argv + n - 4, "busybox:latest", "sh", "-c", "echo $HOME");
    sbx_argv_free(argv);
    sbx_plan_free(&p);
}
END_TEST

static void expect_invalid(const sandbox_opts *o, const char *needle)
{
    char *msg = NULL;
    ck_assert_int_eq(sandbox_opts_validate(o, &msg), SANDBOX_EINVAL);
    ck_assert_msg(msg && strstr(msg, needle), "'%s' lacks '%s'",
                  msg ? msg : "-", needle);
    sandbox_free(msg);
}

START_TEST(test_validation)
{
    const char *words[] = {"true", NULL};
    sandbox_opts o;
    int p[2];
    ck_assert_int_eq(pipe(p), 0);

    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.argv = words;
    o.argc = 2; /* counts the NULL */
    expect_invalid(&o, "argv[1] is NULL");
    o.argc = 1;
    ck_assert_int_eq(sandbox_opts_validate(&o, NULL), 0);
    words[0] = "";
    expect_invalid(&o, "argv[0] is empty");
    words[0] = "true";
    o.command = "true";
    expect_invalid(&o, "command and argv are both set");
    o.command = NULL;
    o.argc = 0;
    expect_invalid(&o, "argc");

    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.command = "cat";
    o.stdin_fd = p[1]; /* the write end */
    expect_invalid(&o, "stdin_fd");
    o.stdin_fd = p[0];
    ck_assert_int_eq(sandbox_opts_validate(&o, NULL), 0);
    o.stdin_fd = -2;
    expect_invalid(&o, "stdin_fd -2");
    o.stdin_fd = -1;
    o.stdout_fd = p[0]; /* the read end */
    expect_invalid(&o, "stdout_fd");
    o.stdout_fd = -1;
    o.stderr_fd = p[0];
    expect_invalid(&o, "stderr_fd");
    o.stderr_fd = p[1];
    ck_assert_int_eq(sandbox_opts_validate(&o, NULL), 0);
    o.stdin_len = 3;
    expect_invalid(&o, "stdin_data is NULL");
    o.stdin_data = "abc";
    ck_assert_int_eq(sandbox_opts_validate(&o, NULL), 0);
    o.stdin_fd = p[0];
    expect_invalid(&o, "both set");
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A caller built against the 0.2.0 header (no exec fields) gets the
 * defaults: stdin /dev/null, no tees. */
START_TEST(test_old_struct_size)
{
    sandbox_opts o;
    memset(&o, 0x5a, sizeof o); /* garbage where the old struct ends */
    size_t old = offsetof(sandbox_opts, disk_limit) + sizeof(const char *);
    ck_assert_int_eq(sandbox_opts_init(&o, old), 0);
    o.command = "true";
    sbx_plan p;
    sbx_err e = {0};
    ck_assert_int_eq(sbx_plan_init(&p, &o, &e), 0);
    ck_assert_int_eq(p.stdin_fd, -1);
    ck_assert_int_eq(p.stdout_fd, -1);
    ck_assert_int_eq(p.stderr_fd, -1);
    ck_assert(!p.stdin_open);
    ck_assert_ptr_null(p.argv);
    sbx_plan_free(&p);
}
END_TEST

/* Control: a plain write to a pipe without a reader kills the writer. */
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

/* The library's write: EPIPE, no signal delivered, none left pending, the
 * caller's mask unchanged; a SIGPIPE the caller already had pending stays
 * pending (it is not the library's to consume). */
START_TEST(test_write_nosigpipe)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        sigset_t before, after, pend;
        pthread_sigmask(SIG_SETMASK, NULL, &before);
        errno = 0;
        if (sbx_write_nosigpipe(p[1], "x", 1) != -1 || errno != EPIPE)
            _exit(2);
        pthread_sigmask(SIG_SETMASK, NULL, &after);
        sigpending(&pend);
        if (sigismember(&pend, SIGPIPE) ||
            sigismember(&after, SIGPIPE) != sigismember(&before, SIGPIPE))
            _exit(3);
        /* The caller's own pending SIGPIPE survives. */
        sigset_t ps;
        sigemptyset(&ps);
        sigaddset(&ps, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &ps, NULL);
        raise(SIGPIPE);
        if (sbx_write_nosigpipe(p[1], "x", 1) != -1)
            _exit(4);
        sigpending(&pend);
        _exit(sigismember(&pend, SIGPIPE) ? 0 : 5);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
    close(p[1]);
}
END_TEST

static void io_for(sbx_io *io, int out_fd, int err_fd)
{
    sbx_plan p;
    memset(&p, 0, sizeof p);
    p.stdin_fd = -1;
    p.stdout_fd = out_fd;
    p.stderr_fd = err_fd;
    sbx_err e = {0};
    ck_assert_msg(sbx_io_init(io, &p, &e) == 0, "%s", e.msg);
}

/* Nobody reads the tee: pushing 3 MiB returns at once, the tee is dropped
 * after SBX_TEE_BUF, and the note says so.  The pipe stays blocking for
 * its owner (the library wrote through its own description). */
START_TEST(test_tee_stalled)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    sbx_io io;
    io_for(&io, p[1], -1);
    char *chunk = calloc(1, 65536);
    double t0 = now();
    for (int i = 0; i < 48; i++)
        sbx_io_output(&io, 1, chunk, 65536);
    sbx_io_flush(&io, 0.2);
    ck_assert_msg(now() - t0 < 2.0, "took %.2f s", now() - t0);
    ck_assert_msg(strstr(io.note, "stdout_fd fell"), "note: %s", io.note);
    ck_assert_int_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
    sbx_io_free(&io);
    free(chunk);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* The tee's reader is gone: EPIPE, no signal, a note. */
START_TEST(test_tee_reader_gone)
{
    signal(SIGPIPE, SIG_DFL);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    sbx_io io;
    io_for(&io, -1, p[1]);
    close(p[0]);
    sbx_io_output(&io, 2, "hello", 5);
    sbx_io_flush(&io, 0.1);
    ck_assert_msg(strstr(io.note, "stderr_fd: its reader went away"),
                  "note: %s", io.note);
    sbx_io_free(&io);
    close(p[1]);
}
END_TEST

/* A socket tee: send(MSG_DONTWAIT), bytes arrive in order. */
START_TEST(test_tee_socket)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sbx_io io;
    io_for(&io, sv[0], -1);
    sbx_io_output(&io, 1, "ab", 2);
    sbx_io_output(&io, 1, "cd", 2);
    sbx_io_flush(&io, 0.1);
    char buf[8] = "";
    ck_assert_int_eq(read(sv[1], buf, sizeof buf - 1), 4);
    ck_assert_str_eq(buf, "abcd");
    ck_assert_str_eq(io.note, "");
    sbx_io_free(&io);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("unit_stdio");
    TCase *tc = tcase_create("stdio");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_argv_mode_words);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_old_struct_size);
    tcase_add_test(tc, test_sigpipe_control);
    tcase_add_test(tc, test_write_nosigpipe);
    tcase_add_test(tc, test_tee_stalled);
    tcase_add_test(tc, test_tee_reader_gone);
    tcase_add_test(tc, test_tee_socket);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
