/* SPDX-License-Identifier: MIT */
/* Integration tests against a real container runtime.
 *
 * SANDBOX_TEST_RUNTIME=podman|docker picks the runtime (ctest runs this
 * binary once per runtime); SANDBOX_TEST_IMAGE the fast image (default
 * busybox:latest, built locally by scripts/build-images.sh). Every property
 * is checked from inside the box or on the host, never by sending traffic. */
#include <sandbox.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/prctl.h>
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

static void opts_for(sandbox_opts *o, const char *cmd)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->command = cmd;
    o->image = image();
    o->runtime = runtime();
    o->timeout_sec = 60;
}

static int run(sandbox_opts *o, sandbox_result *r)
{
    ck_assert_int_eq(sandbox_result_init(r, sizeof *r), 0);
    return sandbox_run(o, r);
}

static char *text_of(const sandbox_result *r, size_t *len)
{
    char *t = NULL;
    ck_assert_int_eq(sandbox_format(r, 0, &t, len), 0);
    return t;
}

static bool is_native(void)
{
    return strcmp(runtime(), "native") == 0;
}

/* How many containers the runtime lists whose name contains `name`; for
 * the native backend, how many cgroup directories of that run are left. */
static int containers_named(const char *name)
{
    char cmd[512];
    if (is_native()) {
        static const char *const ctrl[] = {"memory",  "pids",    "cpu",
                                           "cpuacct", "unified", ""};
        int n = 0;
        for (size_t i = 0; i < sizeof ctrl / sizeof *ctrl; i++) {
            snprintf(cmd, sizeof cmd, "/sys/fs/cgroup/%s/libsandbox/%s",
                     ctrl[i], name);
            n += access(cmd, F_OK) == 0;
        }
        return n;
    }
    snprintf(cmd, sizeof cmd, "%s ps -a --filter name=%s --format '{{.Names}}'",
             runtime(), name);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, p))
        if (strstr(line, name))
            n++;
    pclose(p);
    return n;
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Every test's temporary directories live under one root that an
 * unchecked fixture (run in the parent process) removes after all tests,
 * so a failed assertion cannot leave them behind. */
static char tmp_root[] = "/tmp/sbx-it-XXXXXX";

static void tmp_root_setup(void)
{
    if (mkdtemp(tmp_root) == NULL)
        abort();
}

static void tmp_root_teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        abort();
}

static char *make_tmpdir(void)
{
    char *d = NULL;
    ck_assert_int_gt(asprintf(&d, "%s/XXXXXX", tmp_root), 0);
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

START_TEST(test_echo)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "echo hi");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_EXITED);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out.data, "hi\n");
    ck_assert_uint_eq(r.out.len, 3);
    ck_assert_str_eq(r.err.data, "");
    ck_assert_ptr_nonnull(strstr(r.runtime, runtime()));
    ck_assert_ptr_nonnull(r.container_name);
    ck_assert(r.wall_sec > 0);
    ck_assert_int_eq(containers_named(r.container_name), 0);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_exit_7)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "exit 7");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_EXITED);
    ck_assert_int_eq(r.exit_code, 7);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_text_form)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "printf out; printf 'e1\\ne2' >&2; exit 3");
    ck_assert_int_eq(run(&o, &r), 0);
    char *t = text_of(&r, NULL);
    ck_assert_str_eq(t, "exit=3\n--- stdout ---\nout\n--- stderr ---\ne1\ne2");
    sandbox_free(t);
    sandbox_result_free(&r);

    opts_for(&o, "true");
    ck_assert_int_eq(run(&o, &r), 0);
    t = text_of(&r, NULL);
    ck_assert_str_eq(t, "exit=0\n--- stdout ---\n--- stderr ---\n");
    sandbox_free(t);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_timeout_kills_container)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "sleep 30");
    o.timeout_sec = 2;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    ck_assert_int_eq(r.exit_code, 124);
    ck_assert_msg(r.wall_sec < 5.0, "took %.2f s", r.wall_sec);
    ck_assert_int_eq(containers_named(r.container_name), 0);
    char *t = text_of(&r, NULL);
    ck_assert(strncmp(t, "exit=124\n", 9) == 0);
    sandbox_free(t);
    sandbox_result_free(&r);
}
END_TEST

static void *write_after(void *arg)
{
    int fd = *(int *)arg;
    sleep(2);
    ck_assert_int_eq(write(fd, "x", 1), 1);
    return NULL;
}

START_TEST(test_cancel_kills_container)
{
    sandbox_opts o;
    sandbox_result r;
    int p[2];
    pthread_t t;
    ck_assert_int_eq(pipe(p), 0);
    opts_for(&o, "sleep 30");
    o.cancel_fd = p[0];
    pthread_create(&t, NULL, write_after, &p[1]);
    ck_assert_int_eq(run(&o, &r), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(r.reason, SANDBOX_END_CANCELLED);
    ck_assert_msg(r.wall_sec < 6.0, "took %.2f s", r.wall_sec);
    ck_assert_int_eq(containers_named(r.container_name), 0);
    close(p[0]);
    close(p[1]);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_network_none_only_lo)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "ls /sys/class/net");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out.data, "lo\n");
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_network_bridge_has_interface)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "ls /sys/class/net | grep -v '^lo$'");
    o.network = SANDBOX_NETWORK_BRIDGE; /* native: slirp4netns's tap0 */
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_uint_gt(r.out.len, 0);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_workspace_write_reaches_host)
{
    sandbox_opts o;
    sandbox_result r;
    char *dir = make_tmpdir();
    /* Box root is host uid 100000 (podman --uidmap, docker userns-remap):
     * until the workspace is staged for it, make the directory writable. */
    ck_assert_int_eq(chmod(dir, 0777), 0);
    opts_for(&o, "pwd; echo data > /workspace/made-inside");
    o.workspace = dir;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out.data, "/workspace\n");
    char path[512];
    snprintf(path, sizeof path, "%s/made-inside", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char buf[16] = {0};
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    ck_assert_str_eq(buf, "data\n");
    sandbox_result_free(&r);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_no_workspace_mounts_nothing)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "grep -c ' /workspace ' /proc/mounts");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_str_eq(r.out.data, "0\n");
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_extra_mount_read_only)
{
    sandbox_opts o;
    sandbox_result r;
    char *dir = make_tmpdir();
    /* Readable by the box's mapped root (not host root any more). */
    ck_assert_int_eq(chmod(dir, 0755), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/input", dir);
    FILE *f = fopen(path, "w");
    fputs("secret-test-data\n", f);
    fclose(f);
    sandbox_mount m = {.host = dir, .box = "/data", .writable = 0};
    opts_for(&o, "cat /data/input; touch /data/new && echo WROTE");
    o.mounts = &m;
    o.n_mounts = 1;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_str_eq(r.out.data, "secret-test-data\n");
    snprintf(path, sizeof path, "%s/new", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    sandbox_result_free(&r);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_env_explicit_only)
{
    sandbox_opts o;
    sandbox_result r;
    const char *env[] = {"FOO=bar baz"};
    setenv("LIBSANDBOX_HOST_SECRET", "leaked", 1);
    opts_for(&o, "echo \"$FOO\"; env | grep -c LIBSANDBOX_HOST_SECRET");
    o.env = env;
    o.n_env = 1;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_str_eq(r.out.data, "bar baz\n0\n");
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_truncation_200k)
{
    sandbox_opts o;
    sandbox_result r;
    size_t len = 0;
    opts_for(&o, "head -c 200000 /dev/zero | tr '\\0' a");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_uint_eq(r.out.total, 200000);
    ck_assert_uint_eq(r.out.len, 50000);
    ck_assert_int_eq(r.out.truncated, 1);
    char *t = text_of(&r, &len);
    ck_assert_uint_le(len, 50000);
    size_t ml = strlen(SANDBOX_TRUNCATION_MARKER);
    ck_assert_str_eq(t + len - ml, SANDBOX_TRUNCATION_MARKER);
    sandbox_free(t);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_binary_output)
{
    sandbox_opts o;
    sandbox_result r;
    size_t len = 0;
    opts_for(&o, "printf 'a\\377\\376b\\000c'");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_uint_eq(r.out.len, 6);
    char *t = text_of(&r, &len);
    const char want[] = "exit=0\n--- stdout ---\na\xEF\xBF\xBD\xEF\xBF\xBD"
                        "b\0c\n--- stderr ---\n";
    ck_assert_uint_eq(len, sizeof want - 1);
    ck_assert(memcmp(t, want, len) == 0);
    sandbox_free(t);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_host_shell_injection)
{
    static const char *const payloads[] = {
        "echo '%s'; touch %s; echo '", "echo \"x\"; touch %s; echo \"%s\"",
        "echo x; touch %s #%s",        "echo x && touch %s #%s",
        "echo `touch %s` %s",          "echo $(touch %s) %s",
        "echo x' ; touch %s ; '%s",    "echo x\" && touch %s && \"%s",
    };
    char *dir = make_tmpdir();
    char sentinel[512];
    snprintf(sentinel, sizeof sentinel, "%s/pwned", dir);
    for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
        sandbox_opts o;
        sandbox_result r;
        char cmd[1200];
        snprintf(cmd, sizeof cmd, payloads[i], sentinel, sentinel);
        opts_for(&o, cmd);
        run(&o, &r);
        ck_assert_int_ne(r.reason, SANDBOX_END_ERROR);
        ck_assert_msg(access(sentinel, F_OK) != 0,
                      "payload %zu created a file on the host", i);
        sandbox_result_free(&r);
    }
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(test_no_caps_no_new_privs)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.out.data, "CapEff:\t0000000000000000"));
    ck_assert_ptr_nonnull(strstr(r.out.data, "NoNewPrivs:\t1"));
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_fork_bomb_stopped_by_pids)
{
    sandbox_opts o;
    sandbox_result r;
    /* Try to start 200 sleepers under a 32-process limit (the subshell dies
     * at the first failed fork), then count them with builtins only: no
     * fork is left for `ls`. */
    opts_for(&o, "(i=0; while [ $i -lt 200 ]; do sleep 20 & i=$((i+1)); "
                 "done) 2>/dev/null; set -- /proc/[0-9]*; echo $#");
    o.pids = 32;
    o.timeout_sec = 40;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_ne(r.reason, SANDBOX_END_ERROR);
    long n = strtol(r.out.data, NULL, 10);
    ck_assert_msg(n > 1 && n <= 32,
                  "%ld processes under a 32 pids limit (exit %d, out '%s', "
                  "err '%.200s')",
                  n, r.exit_code, r.out.data, r.err.data);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_memory_hog_is_oom)
{
    sandbox_opts o;
    sandbox_result r;
    /* A shell variable of 256 MiB under a 32 MiB limit. */
    opts_for(&o, "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo "
                 "${#x}");
    o.memory = "32m";
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(r.reason == SANDBOX_END_OOM, "reason %s exit %d: %s",
                  sandbox_end_name(r.reason), r.exit_code, r.err.data);
    ck_assert_int_eq(r.exit_code, 137);
    ck_assert_ptr_nonnull(strstr(r.message, "out of memory"));
    /* docker: its event log; podman: conmon's oom file, read from the
     * client's private directory. */
    if (!is_native())
        ck_assert_ptr_nonnull(strstr(r.message, "engine reported"));
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_sigkill_is_not_oom)
{
    sandbox_opts o;
    sandbox_result r;
    /* The inner shell kills itself (PID 1 would be immune); no memory
     * pressure at all. */
    opts_for(&o, "sh -c 'kill -9 $$'; exit $?");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.exit_code, 137);
    if (strcmp(runtime(), "podman") == 0) {
        /* podman keeps no OOM record of a --rm container: inferred, and
         * the message says so. */
        ck_assert_int_eq(r.reason, SANDBOX_END_OOM);
        ck_assert_ptr_nonnull(strstr(r.message, "inferred"));
    } else {
        ck_assert_msg(r.reason == SANDBOX_END_SIGNALED, "reason %s: %s",
                      sandbox_end_name(r.reason), r.message);
        ck_assert_int_eq(r.term_signal, 9);
    }
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_missing_image_is_runtime_error)
{
    sandbox_opts o;
    sandbox_result r;
    /* A registry on a closed loopback port: the pull fails at once and no
     * traffic leaves the machine. */
    opts_for(&o, "true");
    o.image = "localhost:1/libsandbox-missing:latest";
    int rc = run(&o, &r);
    int want = is_native() ? SANDBOX_EINVAL : SANDBOX_ERUNTIME;
    ck_assert_int_eq(rc, want);
    ck_assert_int_eq(r.reason, SANDBOX_END_ERROR);
    ck_assert_int_eq(r.error, want);
    ck_assert_ptr_nonnull(r.message);
    sandbox_result_free(&r);
}
END_TEST

static void *thread_run(void *arg)
{
    sandbox_result *r = arg;
    sandbox_opts o;
    opts_for(&o, "echo thread");
    sandbox_result_init(r, sizeof *r);
    sandbox_run(&o, r);
    return NULL;
}

START_TEST(test_threads)
{
    enum { N = 4 };
    pthread_t t[N];
    sandbox_result r[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, thread_run, &r[i]);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(r[i].exit_code, 0);
        ck_assert_str_eq(r[i].out.data, "thread\n");
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(r[i].container_name, r[j].container_name);
    }
    for (int i = 0; i < N; i++)
        sandbox_result_free(&r[i]);
}
END_TEST

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

START_TEST(test_no_fd_leak_no_zombie)
{
    int before = count_fds();
    for (int i = 0; i < 3; i++) {
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, i == 2 ? "sleep 30" : "echo x");
        o.timeout_sec = i == 2 ? 1 : 60;
        run(&o, &r);
        sandbox_result_free(&r);
    }
    ck_assert_int_eq(count_fds(), before);
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}
END_TEST

START_TEST(test_gc_leaves_none_of_ours)
{
    unsigned removed = 99;
    char *msg = NULL;
    if (is_native())
        return; /* no runtime to list; leftovers are checked per test */
    /* A stray: a running container whose owner process is dead, as a
     * SIGKILLed caller would leave it. */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char stray[512];
    snprintf(stray, sizeof stray,
             "%s run -d --name sandbox-gc-stray-%ld --label %s=%ld %s "
             "sleep 300 >/dev/null",
             runtime(), (long)getpid(), SANDBOX_LABEL, (long)dead, image());
    ck_assert_int_eq(system(stray), 0);
    snprintf(stray, sizeof stray, "sandbox-gc-stray-%ld", (long)getpid());
    ck_assert_int_eq(containers_named(stray), 1);
    ck_assert_int_eq(sandbox_gc(runtime(), 0, &removed, &msg), 0);
    ck_assert_ptr_null(msg);
    ck_assert_uint_ge(removed, 1);
    ck_assert_int_eq(containers_named(stray), 0);
    /* After everything above and a sweep, every container carrying our
     * label belongs to a live process (another user of the library). */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s ps -a --filter label=%s --format "
             "'{{.Labels}}'",
             runtime(), SANDBOX_LABEL);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[4096];
    while (fgets(line, sizeof line, p)) {
        char *at = strstr(line, SANDBOX_LABEL);
        ck_assert_ptr_nonnull(at);
        long owner = strtol(at + strlen(SANDBOX_LABEL) + 1, NULL, 10);
        ck_assert_msg(owner > 0 && kill((pid_t)owner, 0) == 0,
                      "a container of dead owner %ld survived gc: %s", owner,
                      line);
    }
    pclose(p);
}
END_TEST

/* ---- issue 14: the box against the host ---------------------------------- */

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Names of the containers whose owner label is `owner`. */
static int containers_of(pid_t owner, char *name, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s ps -a --filter label=%s=%ld --format '{{.Names}}'", runtime(),
             SANDBOX_LABEL, (long)owner);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '\0' && n++ == 0 && name != NULL)
            snprintf(name, cap, "%s", line);
    }
    pclose(p);
    return n;
}

static bool container_running(const char *name)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s ps --filter name=%s --filter status=running "
             "--format '{{.Names}}' | grep -q .",
             runtime(), name);
    return system(cmd) == 0;
}

/* Fork a caller running `cmd` through sandbox_run; return once its
 * container runs (its name in `name`). */
static pid_t start_caller(const char *cmd, double timeout, char *name,
                          size_t cap)
{
    pid_t caller = fork();
    ck_assert_int_ge(caller, 0);
    if (caller == 0) {
        sandbox_opts o;
        sandbox_result r;
        ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
        o.command = cmd;
        o.image = image();
        o.runtime = runtime();
        o.timeout_sec = timeout;
        sandbox_result_init(&r, sizeof r);
        sandbox_run(&o, &r);
        _exit(0);
    }
    double until = now_sec() + 60;
    while (now_sec() < until) {
        if (containers_of(caller, name, cap) > 0 && container_running(name))
            return caller;
        usleep(100000);
    }
    kill(caller, SIGKILL);
    ck_abort_msg("the caller's container never ran");
    return -1;
}

/* Reap what our subreaper role collected (the guardian, the client). */
static void reap_orphans(double sec)
{
    double until = now_sec() + sec;
    while (now_sec() < until) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == ECHILD)
            return;
        if (r == 0)
            usleep(50000);
    }
}

START_TEST(test_caller_sigkill_removes_container)
{
    if (is_native())
        return; /* the native backend's own tests cover it */
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    char name[256] = {0};

    /* Control: kill only a plain foreground client (what a SIGKILLed
     * caller amounts to without a guardian): the container keeps running. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s run --rm --name sandbox-ctl-%ld --network=none %s sleep 60 "
             ">/dev/null 2>&1 & pid=$!; i=0; while [ $i -lt 300 ]; do "
             "%s ps --filter name=sandbox-ctl-%ld --filter status=running "
             "--format '{{.Names}}' | grep -q . && break; sleep 0.1; "
             "i=$((i+1)); done; kill -9 $pid; wait $pid; sleep 2; "
             "%s ps --filter name=sandbox-ctl-%ld --filter status=running "
             "--format '{{.Names}}' | grep -q .; rc=$?; "
             "%s rm -f sandbox-ctl-%ld >/dev/null 2>&1; exit $rc",
             runtime(), (long)getpid(), image(), runtime(), (long)getpid(),
             runtime(), (long)getpid(), runtime(), (long)getpid());
    ck_assert_msg(system(cmd) == 0, "control: the container should survive "
                                    "its killed client");

    /* The library: SIGKILL the caller, the container is gone in 5 s. */
    pid_t caller = start_caller("sleep 60", 120, name, sizeof name);
    double t0 = now_sec();
    ck_assert_int_eq(kill(caller, SIGKILL), 0);
    ck_assert_int_eq(waitpid(caller, NULL, 0), caller);
    while (containers_named(name) > 0 && now_sec() - t0 < 10)
        usleep(100000);
    double dt = now_sec() - t0;
    ck_assert_msg(containers_named(name) == 0 && dt <= 5.0,
                  "container %s still there %.1f s after the caller died", name,
                  dt);
    reap_orphans(10);
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
}
END_TEST

START_TEST(test_stopped_caller_deadline_holds)
{
    if (is_native())
        return;
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    char name[256] = {0};
    double t0 = now_sec();
    pid_t caller = start_caller("sleep 60", 3, name, sizeof name);
    /* A stopped caller cannot enforce its deadline; the guardian does
     * (deadline 3 s + 2 s grace). */
    ck_assert_int_eq(kill(caller, SIGSTOP), 0);
    while (containers_named(name) > 0 && now_sec() - t0 < 30)
        usleep(100000);
    double dt = now_sec() - t0;
    ck_assert_int_eq(containers_named(name), 0);
    ck_assert_msg(dt <= 3 + 2 + 5, "gone only after %.1f s", dt);
    ck_assert_msg(dt >= 3, "gone before the deadline (%.1f s)", dt);
    kill(caller, SIGKILL);
    ck_assert_int_eq(waitpid(caller, NULL, 0), caller);
    reap_orphans(10);
}
END_TEST

/* Box root is not host root: reported, and what it writes is owned by the
 * mapped id on the host.  A setuid file it makes is at worst
 * setuid-100000, never setuid-root; control: the same box without the
 * mapping (podman without --uidmap, docker --userns=host) leaves a
 * setuid-root file. */
START_TEST(test_box_root_is_not_host_root)
{
    if (is_native())
        return;
    sandbox_opts o;
    sandbox_result r;
    char *dir = make_tmpdir();
    ck_assert_int_eq(chmod(dir, 0777), 0);
    /* A writable extra mount is a plain bind mount (the workspace is
     * staged and committed back to its owner): what the box's root writes
     * there carries its host uid.  The setuid chmod is also refused by the
     * seccomp policy; either way no setuid-root file may result. */
    sandbox_mount m = {.host = dir, .box = "/out", .writable = 1};
    opts_for(&o, "cat /proc/self/uid_map; echo x > /out/f; "
                 "cp /bin/busybox /out/sh 2>/dev/null || cp /bin/sh /out/sh; "
                 "chmod 4755 /out/sh 2>/dev/null || echo chmod-refused >&2");
    o.mounts = &m;
    o.n_mounts = 1;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(r.exit_code == 0, "%s", r.err.data);
    ck_assert_int_eq(r.host_root, 0);
    unsigned inside = 1, outside = 0, count = 0;
    ck_assert_int_eq(sscanf(r.out.data, "%u %u %u", &inside, &outside, &count),
                     3);
    ck_assert_uint_eq(inside, 0);
    ck_assert_uint_eq(outside, 100000);
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/f", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_uid, 100000);
    ck_assert_uint_eq(st.st_gid, 100000);
    snprintf(path, sizeof path, "%s/sh", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_msg(!((st.st_mode & S_ISUID) && st.st_uid == 0),
                  "a setuid-root file reached the host");
    ck_assert_uint_eq(st.st_uid, 100000);
    sandbox_result_free(&r);
    unlink(path);

    /* Control: the attack lands without the mapping. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s run --rm --network=none %s -v %s:/w %s sh -c "
             "'cp /bin/busybox /w/sh 2>/dev/null || cp /bin/sh /w/sh; "
             "chmod 4755 /w/sh'",
             runtime(), strcmp(runtime(), "docker") == 0 ? "--userns=host" : "",
             dir, image());
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert((st.st_mode & S_ISUID) && st.st_uid == 0);
    unlink(path);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Nothing reaches the host's disk outside the workspace: a read-only root,
 * and /tmp, /var/tmp, /run, /root capped at disk_limit (ENOSPC past it). */
START_TEST(test_read_only_root_capped_tmpfs)
{
    if (is_native())
        return;
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "for d in / /etc /usr /var; do touch $d/x 2>/dev/null && "
                 "echo wrote-$d; done; "
                 "for d in /tmp /var/tmp /run /root; do echo ok > $d/small || "
                 "echo small-failed-$d; "
                 "dd if=/dev/zero of=$d/big bs=1048576 count=16 2>&1 | "
                 "grep -q 'No space left' && echo nospc-$d; "
                 "rm -f $d/big; done; echo home=$HOME");
    o.disk_limit = "8m";
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_str_eq(r.out.data, "nospc-/tmp\nnospc-/var/tmp\nnospc-/run\n"
                                 "nospc-/root\nhome=/root\n");
    sandbox_result_free(&r);
}
END_TEST

/* The python image still works with a read-only root: pytest runs (its
 * cache and __pycache__ land in /tmp). */
START_TEST(test_python_pytest_read_only)
{
    if (is_native())
        return;
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o,
             "cd /tmp && printf 'def test_ok():\\n    assert 1 + 1 == 2\\n' "
             "> test_a.py && python3 -m pytest -q test_a.py 2>&1 | tail -n1");
    o.image = "libsandbox-python:latest";
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(r.exit_code == 0 && strstr(r.out.data, "1 passed"),
                  "exit %d: %s %s", r.exit_code, r.out.data, r.err.data);
    sandbox_result_free(&r);
}
END_TEST

/* conmon's `oom` file no longer lands in the caller's cwd.  Control: the
 * raw podman client run from that directory leaves it there. */
START_TEST(test_oom_file_not_in_cwd)
{
    if (is_native())
        return;
    char *dir = make_tmpdir();
    char old[4096], path[512];
    ck_assert_ptr_nonnull(getcwd(old, sizeof old));
    ck_assert_int_eq(chdir(dir), 0);
    snprintf(path, sizeof path, "%s/oom", dir);
    const char *hog = "x=a; while :; do x=$x$x; done";
    if (strcmp(runtime(), "podman") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "%s run --rm --network=none --memory=32m %s sh -c '%s' "
                 ">/dev/null 2>&1",
                 runtime(), image(), hog);
        ck_assert_int_ne(system(cmd), 0);
        ck_assert_msg(access(path, F_OK) == 0, "control: no oom file");
        ck_assert_int_eq(unlink(path), 0);
    }
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, hog);
    o.memory = "32m";
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_OOM);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_ne(access("/oom", F_OK), 0);
    sandbox_result_free(&r);
    ck_assert_int_eq(chdir(old), 0);
    rm_rf(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create(runtime());
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, tmp_root_setup, tmp_root_teardown);
    tcase_add_test(tc, test_echo);
    tcase_add_test(tc, test_exit_7);
    tcase_add_test(tc, test_text_form);
    tcase_add_test(tc, test_timeout_kills_container);
    tcase_add_test(tc, test_cancel_kills_container);
    tcase_add_test(tc, test_network_none_only_lo);
    tcase_add_test(tc, test_network_bridge_has_interface);
    tcase_add_test(tc, test_workspace_write_reaches_host);
    tcase_add_test(tc, test_no_workspace_mounts_nothing);
    tcase_add_test(tc, test_extra_mount_read_only);
    tcase_add_test(tc, test_env_explicit_only);
    tcase_add_test(tc, test_truncation_200k);
    tcase_add_test(tc, test_binary_output);
    tcase_add_test(tc, test_host_shell_injection);
    tcase_add_test(tc, test_no_caps_no_new_privs);
    tcase_add_test(tc, test_fork_bomb_stopped_by_pids);
    tcase_add_test(tc, test_memory_hog_is_oom);
    tcase_add_test(tc, test_sigkill_is_not_oom);
    tcase_add_test(tc, test_missing_image_is_runtime_error);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_no_fd_leak_no_zombie);
    tcase_add_test(tc, test_caller_sigkill_removes_container);
    tcase_add_test(tc, test_stopped_caller_deadline_holds);
    tcase_add_test(tc, test_box_root_is_not_host_root);
    tcase_add_test(tc, test_read_only_root_capped_tmpfs);
    tcase_add_test(tc, test_python_pytest_read_only);
    tcase_add_test(tc, test_oom_file_not_in_cwd);
    tcase_add_test(tc, test_gc_leaves_none_of_ours);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
