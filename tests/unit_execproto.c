/* SPDX-License-Identifier: MIT */
/* The exec protocol (src/execproto.c) against the real init binary
 * (relay/boxinit.c, $SANDBOX_INIT) started directly on the host as a child
 * with --fd: no namespaces, so what is shown is the protocol itself --
 * output, argv verbatim, stdin, timeouts that kill escaping trees through
 * the kill groups (and survive without them: the attack is real), errors,
 * concurrency, the owner's EOF, no fd leaks. */
#include "box.h"
#include "internal.h"
#include "test_util.h"

#include "../libsandbox/relay/boxinit_proto.h"

#include <pthread.h>
#include <sched.h>
#include <sys/un.h>
#include <signal.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

typedef struct tinit {
    sbx_xp xp;
    pthread_mutex_t mu;
    pid_t pid;
} tinit;

static char *test_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
                           NULL};

static void start_init(tinit *t, bool groups)
{
    const char *init = getenv(SBX_INIT_ENV);
    ck_assert_msg(init != NULL, SBX_INIT_ENV " is not set");
    pthread_mutex_init(&t->mu, NULL);
    sbx_xp_init(&t->xp, &t->mu);
    sbx_err e = {0};
    int end = -1;
    ck_assert_int_eq(sbx_xp_socketpair(&t->xp, &end, &e), 0);
    t->pid = fork();
    ck_assert_int_ge(t->pid, 0);
    if (t->pid == 0) {
        char n[16];
        fcntl(end, F_SETFD, 0);
        snprintf(n, sizeof n, "%d", end);
        execl(init, "init", "--fd", n, (char *)NULL);
        _exit(126);
    }
    close(end);
    if (groups) {
        char name[64];
        snprintf(name, sizeof name, "unit-execproto-%d", (int)t->pid);
        int rc = sbx_xp_killgroups(&t->xp, name, NULL, &e);
        ck_assert_msg(rc == 0, "killgroups: %s", e.msg);
    }
}

/* Close the control socket: the init must exit on its own, quickly. */
static int stop_init(tinit *t)
{
    char dir[sizeof t->xp.kill_dir];
    memcpy(dir, t->xp.kill_dir, sizeof dir);
    sbx_xp_close(&t->xp);
    if (dir[0] != '\0')
        ck_assert_msg(access(dir, F_OK) < 0, "%s left behind", dir);
    int st = -1;
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(t->pid, &st, WNOHANG);
        if (r == t->pid) {
            pthread_mutex_destroy(&t->mu);
            return st;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(t->pid, SIGKILL);
    waitpid(t->pid, &st, 0);
    ck_abort_msg("the init did not exit after its control socket closed");
    return -1;
}

typedef struct xrun {
    const char *const *argv;
    bool lookup;
    const char *cwd;
    const void *in;
    size_t in_len;
    double timeout;
} xrun;

static int exec_in(tinit *t, const xrun *r, sbx_capture *cap, sbx_err *e)
{
    sbx_plan p;
    sbx_io io;
    memset(&p, 0, sizeof p);
    p.stdin_fd = p.stdout_fd = p.stderr_fd = -1;
    p.stdin_data = r->in;
    p.stdin_len = r->in_len;
    p.stdin_open = r->in != NULL;
    ck_assert_int_eq(sbx_io_init(&io, &p, e), 0);
    sbx_xspec x = {.argv = (char *const *)r->argv,
                   .path_lookup = r->lookup,
                   .envp = test_env,
                   .cwd = r->cwd != NULL ? r->cwd : "/",
                   .timeout_sec = r->timeout > 0 ? r->timeout : 20,
                   .output_limit = 1 << 20,
                   .cancel_fd = -1,
                   .io = &io};
    memset(cap, 0, sizeof *cap);
    int rc = sbx_xp_exec(&t->xp, &x, cap, e);
    sbx_io_free(&io);
    return rc;
}

static void cap_free(sbx_capture *cap)
{
    sbx_stream_free(&cap->out);
    sbx_stream_free(&cap->err);
}

static const char *out_of(const sbx_capture *cap)
{
    return cap->out.data != NULL ? cap->out.data : "";
}

/* ---- tests ----------------------------------------------------------------
 */

START_TEST(test_echo)
{
    tinit t;
    start_init(&t, false);
    const char *argv[] = {"echo", "hello", "box", NULL};
    sbx_capture cap;
    sbx_err e = {0};
    ck_assert_msg(
        exec_in(&t, &(xrun){.argv = argv, .lookup = true}, &cap, &e) == 0, "%s",
        e.msg);
    ck_assert_str_eq(out_of(&cap), "hello box\n");
    ck_assert(cap.exited);
    ck_assert(WIFEXITED(cap.status) && WEXITSTATUS(cap.status) == 0);
    cap_free(&cap);

    /* exit codes, stderr, cwd, the environment as given */
    const char *argv2[] = {"/bin/sh", "-c", "pwd; echo \"$LC_ALL\" >&2; exit 7",
                           NULL};
    ck_assert_int_eq(
        exec_in(&t, &(xrun){.argv = argv2, .cwd = "/tmp"}, &cap, &e), 0);
    ck_assert_str_eq(out_of(&cap), "/tmp\n");
    ck_assert_str_eq(cap.err.data, "C\n");
    ck_assert(WIFEXITED(cap.status) && WEXITSTATUS(cap.status) == 7);
    cap_free(&cap);

    /* a signal is a signal, not an exit */
    const char *argv3[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    ck_assert_int_eq(exec_in(&t, &(xrun){.argv = argv3}, &cap, &e), 0);
    ck_assert(WIFSIGNALED(cap.status) && WTERMSIG(cap.status) == SIGTERM);
    cap_free(&cap);
    int st = stop_init(&t);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

START_TEST(test_argv_verbatim)
{
    tinit t;
    start_init(&t, false);
    const char *argv[] = {"printf", "[%s]",   "a b",      "$(id)", "`id`",
                          "'\"",    ";&|*?~", "\\n$HOME", "",      NULL};
    sbx_capture cap;
    sbx_err e = {0};
    ck_assert_msg(
        exec_in(&t, &(xrun){.argv = argv, .lookup = true}, &cap, &e) == 0, "%s",
        e.msg);
    ck_assert_str_eq(out_of(&cap),
                     "[a b][$(id)][`id`]['\"][;&|*?~][\\n$HOME][]");
    cap_free(&cap);
    stop_init(&t);
}
END_TEST

START_TEST(test_stdin_bytes)
{
    tinit t;
    start_init(&t, false);
    static const char in[] = "line one\n\0binary\xff\xfe tail";
    const char *argv[] = {"cat", NULL};
    sbx_capture cap;
    sbx_err e = {0};
    ck_assert_int_eq(exec_in(&t,
                             &(xrun){.argv = argv,
                                     .lookup = true,
                                     .in = in,
                                     .in_len = sizeof in - 1},
                             &cap, &e),
                     0);
    ck_assert_uint_eq(cap.out.len, sizeof in - 1);
    ck_assert(memcmp(cap.out.data, in, sizeof in - 1) == 0);
    cap_free(&cap);
    /* no stdin: /dev/null, EOF at once */
    const char *wc[] = {"wc", "-c", NULL};
    ck_assert_int_eq(exec_in(&t, &(xrun){.argv = wc, .lookup = true}, &cap, &e),
                     0);
    ck_assert_str_eq(out_of(&cap), "0\n");
    cap_free(&cap);
    stop_init(&t);
}
END_TEST

START_TEST(test_stdin_ignored_100mib)
{
    tinit t;
    start_init(&t, false);
    size_t n = (size_t)100 << 20;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', n);
    const char *argv[] = {"/bin/sh", "-c", "sleep 0.2; echo done", NULL};
    sbx_capture cap;
    sbx_err e = {0};
    double t0 = sbx_now();
    xrun run = {.argv = argv, .in = big, .in_len = n, .timeout = 30};
    ck_assert_int_eq(exec_in(&t, &run, &cap, &e), 0);
    ck_assert(!cap.timed_out);
    ck_assert_str_eq(out_of(&cap), "done\n");
    ck_assert_msg(sbx_now() - t0 < 10 * tu_slack(), "took %g s",
                  sbx_now() - t0);
    cap_free(&cap);
    /* and one that reads part of it and exits */
    const char *head[] = {"head", "-c", "5", NULL};
    run.argv = head;
    run.lookup = true;
    ck_assert_int_eq(exec_in(&t, &run, &cap, &e), 0);
    ck_assert_str_eq(out_of(&cap), "xxxxx");
    cap_free(&cap);
    free(big);
    stop_init(&t);
}
END_TEST

/* The exec double-forks a setsid'd escapee that writes its host pid (the
 * first NSpid field: the same in a pid namespace), then the main process
 * sleeps; the exec times out.  Returns the escapee's host pid. */
static pid_t run_escapee(tinit *t)
{
    char *dir = tu_mkdtemp();
    ck_assert_int_eq(chmod(dir, 0777), 0); /* a userns box's root writes */
    char *pidfile = tu_path(dir, "pid");
    char *script = NULL;
    ck_assert_int_ge(
        asprintf(&script,
                 "(setsid sh -c 'while read k v r; do [ \"$k\" = NSpid: ] "
                 "&& echo $v > %s.tmp; done < /proc/self/status; mv %s.tmp "
                 "%s; exec sleep 1000' &) ; sleep 1000",
                 pidfile, pidfile, pidfile),
        0);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    sbx_capture cap;
    sbx_err e = {0};
    double t0 = sbx_now();
    ck_assert_int_eq(
        exec_in(t, &(xrun){.argv = argv, .timeout = 1.0}, &cap, &e), 0);
    ck_assert(cap.timed_out);
    ck_assert_msg(sbx_now() - t0 < 5 * tu_slack(), "took %g s", sbx_now() - t0);
    ck_assert(WIFSIGNALED(cap.status) && WTERMSIG(cap.status) == SIGKILL);
    cap_free(&cap);
    char *s = tu_read_file(pidfile, NULL);
    ck_assert_ptr_nonnull(s);
    pid_t pid = (pid_t)atoi(s);
    ck_assert_int_gt(pid, 1);
    free(s);
    free(script);
    free(pidfile);
    tu_rmtree(dir);
    return pid;
}

/* `echo word` in the box prints word: the init still works. */
static void assert_echo(tinit *t, const char *word)
{
    const char *argv[] = {"echo", word, NULL};
    sbx_capture cap;
    sbx_err e = {0};
    ck_assert_int_eq(
        exec_in(t, &(xrun){.argv = argv, .lookup = true}, &cap, &e), 0);
    char want[64];
    snprintf(want, sizeof want, "%s\n", word);
    ck_assert_str_eq(out_of(&cap), want);
    cap_free(&cap);
}

static bool gone_within(pid_t pid, double sec)
{
    double until = sbx_now() + sec;
    while (sbx_now() < until) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

START_TEST(test_timeout_kills_escapee)
{
    tinit t;
    start_init(&t, true);
    pid_t pid = run_escapee(&t);
    ck_assert_msg(gone_within(pid, 2.0),
                  "the setsid'd escapee %d survived the exec's timeout",
                  (int)pid);
    /* the box lives on */
    assert_echo(&t, "alive");
    stop_init(&t);
}
END_TEST

/* Control: without kill groups only the exec's session is killed, and the
 * escapee lives on -- the attack the kill groups stop is real. */
START_TEST(test_timeout_without_groups_escapee_survives)
{
    tinit t;
    start_init(&t, false);
    pid_t pid = run_escapee(&t);
    bool gone = gone_within(pid, 0.5);
    if (!gone)
        kill(pid, SIGKILL);
    ck_assert_msg(!gone, "the escapee died without a kill group: the "
                         "attack did not land, the test proves nothing");
    stop_init(&t);
}
END_TEST

START_TEST(test_enoent)
{
    tinit t;
    start_init(&t, false);
    const char *argv[] = {"no-such-command-xyz", "a", NULL};
    sbx_capture cap;
    sbx_err e = {0};
    int rc = exec_in(&t, &(xrun){.argv = argv, .lookup = true}, &cap, &e);
    ck_assert_int_eq(rc, SANDBOX_ERUNTIME);
    ck_assert_msg(strstr(e.msg, "no-such-command-xyz") != NULL &&
                      strstr(e.msg, "No such file") != NULL,
                  "%s", e.msg);
    ck_assert(WIFEXITED(cap.status) && WEXITSTATUS(cap.status) == 127);
    cap_free(&cap);
    /* without lookup, a bare name is a relative path: not found either */
    const char *argv2[] = {"sh", "-c", "true", NULL};
    rc = exec_in(&t, &(xrun){.argv = argv2}, &cap, &e);
    ck_assert_int_eq(rc, SANDBOX_ERUNTIME);
    cap_free(&cap);
    /* a bad cwd */
    const char *argv3[] = {"true", NULL};
    rc = exec_in(&t,
                 &(xrun){.argv = argv3, .lookup = true, .cwd = "/no/such/dir"},
                 &cap, &e);
    ck_assert_int_eq(rc, SANDBOX_ERUNTIME);
    ck_assert_msg(strstr(e.msg, "/no/such/dir") != NULL, "%s", e.msg);
    cap_free(&cap);
    stop_init(&t);
}
END_TEST

typedef struct thr {
    tinit *t;
    int idx;
    int bad;
    char msg[1400];
} thr;

static void *thr_main(void *arg)
{
    thr *a = arg;
    for (int j = 0; j < 20; j++) {
        char word[64], want[80];
        snprintf(word, sizeof word, "thread-%d-exec-%d", a->idx, j);
        snprintf(want, sizeof want, "%s\n", word);
        const char *argv[] = {"echo", word, NULL};
        sbx_capture cap;
        sbx_err e = {0};
        memset(&cap, 0, sizeof cap);
        sbx_io io;
        sbx_plan p;
        memset(&p, 0, sizeof p);
        p.stdin_fd = p.stdout_fd = p.stderr_fd = -1;
        sbx_io_init(&io, &p, &e);
        sbx_xspec x = {.argv = (char *const *)argv,
                       .path_lookup = true,
                       .envp = test_env,
                       .cwd = "/",
                       .timeout_sec = 60,
                       .output_limit = 4096,
                       .cancel_fd = -1,
                       .io = &io};
        int rc = sbx_xp_exec(&a->t->xp, &x, &cap, &e);
        sbx_io_free(&io);
        if (rc != 0 || cap.out.data == NULL ||
            strcmp(cap.out.data, want) != 0) {
            a->bad++;
            snprintf(a->msg, sizeof a->msg, "rc %d (%s) got '%s' want '%s'", rc,
                     e.msg, cap.out.data ? cap.out.data : "", word);
        }
        sbx_stream_free(&cap.out);
        sbx_stream_free(&cap.err);
    }
    return NULL;
}

START_TEST(test_threads)
{
    tinit t;
    start_init(&t, geteuid() == 0);
    enum { N = 32 };
    pthread_t th[N];
    thr a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (thr){.t = &t, .idx = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, thr_main, &a[i]), 0);
    }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (a[i].bad)
            fprintf(stderr, "thread %d: %d bad, last: %s\n", i, a[i].bad,
                    a[i].msg);
        bad += a[i].bad;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(t.xp.next_id, N * 20);
    stop_init(&t);
}
END_TEST

START_TEST(test_owner_close_ends_init)
{
    tinit t;
    start_init(&t, false);
    /* an exec still running when the owner goes is killed with the init */
    sbx_err e = {0};
    int st = stop_init(&t);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    const char *argv[] = {"true", NULL};
    sbx_capture cap;
    ck_assert_int_eq(
        exec_in(&t, &(xrun){.argv = argv, .lookup = true}, &cap, &e),
        SANDBOX_EBOXDEAD);
    cap_free(&cap);
}
END_TEST

/* The init dies while an exec runs: the exec ends with EBOXDEAD, not a
 * hang and not "exited 0". */
START_TEST(test_init_dies_mid_exec)
{
    tinit t;
    start_init(&t, geteuid() == 0);
    pid_t killer = fork();
    ck_assert_int_ge(killer, 0);
    if (killer == 0) {
        close(t.xp.ctl_fd);
        struct timespec ts = {0, 300000000};
        nanosleep(&ts, NULL);
        kill(t.pid, SIGKILL);
        _exit(0);
    }
    const char *argv[] = {"sleep", "30", NULL};
    sbx_capture cap;
    sbx_err e = {0};
    double t0 = sbx_now();
    int rc = exec_in(&t, &(xrun){.argv = argv, .lookup = true, .timeout = 20},
                     &cap, &e);
    ck_assert_int_eq(rc, SANDBOX_EBOXDEAD);
    ck_assert_msg(strstr(e.msg, "init") != NULL, "%s", e.msg);
    /* the sleep keeps the pipes: the bounded drain, not the timeout */
    ck_assert_msg(sbx_now() - t0 < 5 * tu_slack(), "took %g", sbx_now() - t0);
    cap_free(&cap);
    waitpid(killer, NULL, 0);
    int st;
    waitpid(t.pid, &st, 0);
    sbx_xp_close(&t.xp); /* kills the orphaned sleep through its group */
    pthread_mutex_destroy(&t.mu);
}
END_TEST

START_TEST(test_bad_control_messages)
{
    tinit t;
    start_init(&t, false);
    int fd = t.xp.ctl_fd;
    /* short, no fds */
    ck_assert_int_eq(send(fd, "x", 1, 0), 1);
    /* right size, wrong magic, no fds */
    sbxi_ctl h = {0xdeadbeef, SBXI_VERSION, 1};
    ck_assert_int_eq(send(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    /* right header, 2 fds */
    h.magic = SBXI_MAGIC;
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    union {
        struct cmsghdr c;
        char b[CMSG_SPACE(2 * sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {&h, sizeof h};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.b,
                       .msg_controllen = sizeof u.b};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(cm), p, sizeof p);
    ck_assert_int_eq(sendmsg(fd, &m, 0), (ssize_t)sizeof h);
    close(p[1]);
    /* the init dropped them (and closed the pipe's write end it got) */
    char c;
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(read(p[0], &c, 1), 0);
    close(p[0]);
    /* a 1 MiB junk message */
    size_t big = 1 << 16;
    char *junk = calloc(1, big);
    send(fd, junk, big, MSG_DONTWAIT);
    free(junk);
    /* still alive and working */
    ck_assert_int_eq(waitpid(t.pid, NULL, WNOHANG), 0);
    assert_echo(&t, "ok");
    stop_init(&t);
}
END_TEST

START_TEST(test_no_fd_leak)
{
    int before = tu_count_fds();
    tinit t;
    start_init(&t, geteuid() == 0);
    static const char in[] = "abc";
    for (int i = 0; i < 20; i++) {
        const char *argv[] = {"cat", NULL};
        sbx_capture cap;
        sbx_err e = {0};
        ck_assert_int_eq(
            exec_in(
                &t,
                &(xrun){.argv = argv, .lookup = true, .in = in, .in_len = 3},
                &cap, &e),
            0);
        ck_assert_str_eq(out_of(&cap), "abc");
        cap_free(&cap);
        const char *bad[] = {"no-such-cmd", NULL};
        ck_assert_int_eq(
            exec_in(&t, &(xrun){.argv = bad, .lookup = true}, &cap, &e),
            SANDBOX_ERUNTIME);
        cap_free(&cap);
    }
    const char *slow[] = {"sleep", "10", NULL};
    sbx_capture cap;
    sbx_err e = {0};
    ck_assert_int_eq(
        exec_in(&t, &(xrun){.argv = slow, .lookup = true, .timeout = 0.2}, &cap,
                &e),
        0);
    ck_assert(cap.timed_out);
    cap_free(&cap);
    stop_init(&t);
    ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

/* The init as PID 1 of a new pid namespace, connecting to a listening
 * socket (the containers' way): the owner refuses a peer that is not a
 * namespace's init, accepts the init, reads each exec's HOST pid from
 * SCM_CREDENTIALS (proved by the exec finding itself in its kill group),
 * and the init exits when the owner closes. */
START_TEST(test_pidns_connect)
{
    /* _i 1: also a user namespace, the box's root a host uid of its own
     * (as podman --uidmap / docker userns-remap) */
    bool userns = _i == 1;
    const uid_t box_id = 200000;
    const char *init = getenv(SBX_INIT_ENV);
    char *dir = tu_mkdtemp();
    if (userns) {
        ck_assert_int_eq(chmod(tu_root, 0711), 0);
        ck_assert_int_eq(chmod(dir, 0711), 0);
    }
    tinit t;
    pthread_mutex_init(&t.mu, NULL);
    sbx_xp_init(&t.xp, &t.mu);
    sbx_err e = {0};
    int lfd = -1;
    ck_assert_msg(sbx_xp_listen(dir, userns ? box_id : 0, userns ? box_id : 0,
                                &lfd, &e) == 0,
                  "%s", e.msg);
    int sync1[2], sync2[2];
    ck_assert_int_eq(pipe2(sync1, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(sync2, O_CLOEXEC), 0);
    char *sock = tu_path(dir, SBX_INIT_SOCK_NAME);
    /* a decoy connects first: not a namespace's init */
    int decoy = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    ck_assert_int_eq(connect(decoy, (struct sockaddr *)&a, sizeof a), 0);
    pid_t outer = fork();
    ck_assert_int_ge(outer, 0);
    if (outer == 0) {
        char path[sizeof a.sun_path];
        memcpy(path, a.sun_path, sizeof path);
        close(lfd);
        close(decoy);
        free(sock); /* valgrind sees this child's exit too */
        free(dir);
        sock = path;
        if (unshare(CLONE_NEWPID | (userns ? CLONE_NEWUSER : 0)) < 0)
            _exit(100);
        char b = 0;
        if (write(sync1[1], &b, 1) != 1 || read(sync2[0], &b, 1) != 1)
            _exit(101);
        if (userns && (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
                       setresuid(0, 0, 0) < 0))
            _exit(102);
        pid_t in = fork();
        if (in == 0) {
            execl(init, "init", "--connect", sock, (char *)NULL);
            _exit(126);
        }
        int st = 0;
        waitpid(in, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 99);
    }
    char b;
    ck_assert_int_eq(read(sync1[0], &b, 1), 1);
    if (userns) {
        char path[64], map[64];
        snprintf(map, sizeof map, "0 %u 65536\n", (unsigned)box_id);
        snprintf(path, sizeof path, "/proc/%d/uid_map", (int)outer);
        ck_assert_int_eq(sbx_write_file(path, map), 0);
        snprintf(path, sizeof path, "/proc/%d/gid_map", (int)outer);
        ck_assert_int_eq(sbx_write_file(path, map), 0);
    }
    ck_assert_int_eq(write(sync2[1], &b, 1), 1);
    close(sync1[0]);
    close(sync1[1]);
    close(sync2[0]);
    close(sync2[1]);
    ck_assert_msg(sbx_xp_accept(&t.xp, lfd, 0, NULL, NULL, 10.0, &e) == 0, "%s",
                  e.msg);
    close(lfd);
    ck_assert_msg(access(sock, F_OK) < 0, "the socket was not removed");
    /* the decoy was refused: its connection is closed */
    char c;
    ck_assert_int_eq(read(decoy, &c, 1), 0);
    close(decoy);
    ck_assert_int_gt(t.xp.init_pid, 1);
    ck_assert_int_ne(t.xp.init_pid, outer);
    char name[64];
    snprintf(name, sizeof name, "unit-execproto-ns-%d", (int)outer);
    ck_assert_msg(sbx_xp_killgroups(&t.xp, name, NULL, &e) == 0, "%s", e.msg);

    const char *argv[] = {"/bin/sh", "-c",
                          "echo $$; id -u; cat /proc/self/cgroup", NULL};
    sbx_capture cap;
    ck_assert_msg(exec_in(&t, &(xrun){.argv = argv}, &cap, &e) == 0, "%s",
                  e.msg);
    const char *o = out_of(&cap);
    ck_assert_msg(strncmp(o, "2\n0\n", 4) == 0,
                  "not in the pid namespace as its root: %s", o);
    if (userns) {
        /* the init runs as the box's root, a host uid of its own */
        struct stat st;
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/%d", (int)t.xp.init_pid);
        ck_assert_int_eq(stat(proc, &st), 0);
        ck_assert_uint_eq(st.st_uid, box_id);
    }
    ck_assert_msg(strstr(o, "/exec-1\n") != NULL,
                  "the exec is not in its kill group (wrong host pid?): %s", o);
    cap_free(&cap);
    pid_t esc = run_escapee(&t);
    ck_assert(gone_within(esc, 2.0));

    sbx_xp_close(&t.xp);
    int st = -1;
    ck_assert_int_eq(waitpid(outer, &st, 0), outer);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "init status %d", st);
    pthread_mutex_destroy(&t.mu);
    free(sock);
    tu_rmtree(dir);
}
END_TEST

/* A finished exec's background process keeps its group; kill_all ends it
 * and removes the group, the box (init) lives on. */
START_TEST(test_kill_all_background)
{
    tinit t;
    start_init(&t, true);
    char *dir = tu_mkdtemp();
    char *pidfile = tu_path(dir, "pid");
    char *script = NULL;
    ck_assert_int_ge(
        asprintf(&script,
                 "sh -c 'while read k v r; do [ \"$k\" = NSpid: ] && echo $v "
                 "> %s.tmp; done < /proc/self/status; mv %s.tmp %s; exec "
                 "sleep 1000' >/dev/null 2>&1 & while [ ! -s %s ]; do sleep "
                 "0.01; done",
                 pidfile, pidfile, pidfile, pidfile),
        0);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    sbx_capture cap;
    sbx_err e = {0};
    ck_assert_int_eq(exec_in(&t, &(xrun){.argv = argv}, &cap, &e), 0);
    ck_assert(WIFEXITED(cap.status) && WEXITSTATUS(cap.status) == 0);
    cap_free(&cap);
    char *s = tu_read_file(pidfile, NULL);
    pid_t pid = (pid_t)atoi(s);
    free(s);
    ck_assert_int_gt(pid, 1);
    ck_assert_int_eq(kill(pid, 0), 0);
    char grp[600];
    snprintf(grp, sizeof grp, "%s/exec-1", t.xp.kill_dir);
    ck_assert_msg(access(grp, F_OK) == 0, "%s: the busy group went", grp);
    sbx_xp_kill_all(&t.xp);
    ck_assert(gone_within(pid, 2.0));
    ck_assert_msg(access(grp, F_OK) < 0, "%s left", grp);
    assert_echo(&t, "still");
    stop_init(&t);
    free(script);
    free(pidfile);
    tu_rmtree(dir);
}
END_TEST

/* cancel_fd ends the exec (and its group); stdin from a caller's fd. */
START_TEST(test_cancel_and_stdin_fd)
{
    tinit t;
    start_init(&t, geteuid() == 0);
    int cp[2];
    ck_assert_int_eq(pipe2(cp, O_CLOEXEC), 0);
    pid_t w = fork();
    ck_assert_int_ge(w, 0);
    if (w == 0) {
        struct timespec ts = {0, 300000000};
        nanosleep(&ts, NULL);
        ssize_t k = write(cp[1], "x", 1);
        _exit(k == 1 ? 0 : 1);
    }
    sbx_plan p;
    sbx_io io;
    sbx_err e = {0};
    memset(&p, 0, sizeof p);
    p.stdin_fd = p.stdout_fd = p.stderr_fd = -1;
    ck_assert_int_eq(sbx_io_init(&io, &p, &e), 0);
    const char *argv[] = {"sleep", "30", NULL};
    sbx_xspec x = {.argv = (char *const *)argv,
                   .path_lookup = true,
                   .envp = test_env,
                   .cwd = "/",
                   .timeout_sec = 20,
                   .output_limit = 4096,
                   .cancel_fd = cp[0],
                   .io = &io};
    sbx_capture cap;
    memset(&cap, 0, sizeof cap);
    double t0 = sbx_now();
    ck_assert_int_eq(sbx_xp_exec(&t.xp, &x, &cap, &e), 0);
    ck_assert(cap.cancelled && !cap.timed_out);
    ck_assert(WIFSIGNALED(cap.status));
    ck_assert_msg(sbx_now() - t0 < 5 * tu_slack(), "took %g", sbx_now() - t0);
    sbx_io_free(&io);
    cap_free(&cap);
    waitpid(w, NULL, 0);
    close(cp[0]);
    close(cp[1]);

    /* stdin from an fd: a pipe the test writes and closes */
    int sp[2];
    ck_assert_int_eq(pipe2(sp, O_CLOEXEC), 0);
    ck_assert_int_eq(write(sp[1], "from an fd\n", 11), 11);
    close(sp[1]);
    memset(&p, 0, sizeof p);
    p.stdin_fd = sp[0];
    p.stdout_fd = p.stderr_fd = -1;
    p.stdin_open = true;
    ck_assert_int_eq(sbx_io_init(&io, &p, &e), 0);
    const char *cat[] = {"cat", NULL};
    x.argv = (char *const *)cat;
    x.cancel_fd = -1;
    memset(&cap, 0, sizeof cap);
    ck_assert_msg(sbx_xp_exec(&t.xp, &x, &cap, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(out_of(&cap), "from an fd\n");
    sbx_io_free(&io);
    cap_free(&cap);
    close(sp[0]);
    stop_init(&t);
}
END_TEST

START_TEST(test_init_path)
{
    char buf[4096];
    sbx_err e = {0};
    ck_assert(sbx_init_path(buf, sizeof buf, &e));
    ck_assert_str_eq(buf, getenv(SBX_INIT_ENV));
    char *old = sbx_strdup(getenv(SBX_INIT_ENV));
    setenv(SBX_INIT_ENV, "/nonexistent/sandbox-init", 1);
    ck_assert(!sbx_init_path(buf, sizeof buf, &e));
    ck_assert_int_eq(e.code, SANDBOX_ERUNTIME);
    ck_assert_msg(strstr(e.msg, SBX_INIT_ENV) != NULL, "%s", e.msg);
    setenv(SBX_INIT_ENV, old, 1);
    free(old);
}
END_TEST

static Suite *execproto_suite(void)
{
    Suite *s = suite_create("execproto");
    TCase *tc = tcase_create("init");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, tu_root_setup, tu_root_teardown);
    tcase_add_test(tc, test_init_path);
    tcase_add_test(tc, test_echo);
    tcase_add_test(tc, test_argv_verbatim);
    tcase_add_test(tc, test_stdin_bytes);
    tcase_add_test(tc, test_stdin_ignored_100mib);
    tcase_add_test(tc, test_enoent);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_owner_close_ends_init);
    tcase_add_test(tc, test_init_dies_mid_exec);
    tcase_add_test(tc, test_bad_control_messages);
    tcase_add_test(tc, test_no_fd_leak);
    tcase_add_test(tc, test_cancel_and_stdin_fd);
    tcase_add_test(tc, test_timeout_without_groups_escapee_survives);
    if (geteuid() == 0) {
        tcase_add_test(tc, test_timeout_kills_escapee);
        tcase_add_loop_test(tc, test_pidns_connect, 0, 2);
        tcase_add_test(tc, test_kill_all_background);
    } else
        fprintf(stderr, "unit_execproto: not root: the kill-group test "
                        "(cgroup v2 dirs) is not run\n");
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(execproto_suite());
}
