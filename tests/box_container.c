/* SPDX-License-Identifier: MIT */
/* Container boxes (podman/docker), what only they need showing:
 *   - destroy, and the owner's SIGKILL (the guardian), leave no container,
 *     no control directory and no kill-group cgroup behind;
 *   - an exec's timeout kills a setsid'd escapee inside the container,
 *     while the engine's own `exec` leaves it running once its client is
 *     killed (the control: moby#35703, the attack is real);
 *   - an exec in a box whose container was removed from outside fails with
 *     SANDBOX_EBOXDEAD saying so;
 *   - an image's HEALTHCHECK never runs; an image whose USER is not root
 *     gets a box whose execs run as that user; a host process that is PID
 *     1 of its own namespace and reaches the control socket first is
 *     refused, the real init adopted.
 * SANDBOX_TEST_RUNTIME picks podman or docker (ctest: box-container-*). */
#include "box_util.h"

#include <check.h>
#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILLGROUP_ROOT "/sys/fs/cgroup/unified/libsandbox"

static const char *image(void)
{
    const char *i = getenv("SANDBOX_TEST_IMAGE");
    return i != NULL && i[0] ? i : "busybox";
}

static bool container_exists(const char *name)
{
    char *argv[] = {(char *)bu_runtime(), "container", "inspect", (char *)name,
                    NULL};
    return bu_host_run(argv, NULL) == 0;
}

/* The host directory bound at /.sandbox (the control socket's). */
static char *control_dir(const char *name)
{
    char *argv[] = {(char *)bu_runtime(),
                    "container",
                    "inspect",
                    "--format={{range .Mounts}}{{.Destination}} "
                    "{{.Source}}\n{{end}}",
                    (char *)name,
                    NULL};
    char *out = NULL;
    ck_assert_int_eq(bu_host_run(argv, &out), 0);
    char *dir = NULL;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
        if (strncmp(l, "/.sandbox ", 10) == 0)
            dir = strdup(l + 10);
    free(out);
    ck_assert_msg(dir != NULL, "no /.sandbox mount on %s", name);
    /* The box sees DIR/s; DIR (root's, 0700) holds it. */
    size_t n = strlen(dir);
    ck_assert_msg(n > 2 && strcmp(dir + n - 2, "/s") == 0,
                  "/.sandbox is %s, not a control directory's s/", dir);
    dir[n - 2] = '\0';
    struct stat st;
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(st.st_uid, 0);
    ck_assert_msg((st.st_mode & 0777) == 0700, "%s has mode %o", dir,
                  st.st_mode & 0777);
    return dir;
}

static bool path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static sandbox_box *make_box_mem(const char *memory)
{
    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.runtime = bu_runtime();
    o.image = image();
    o.memory = memory;
    return bu_box_create(&o);
}

static sandbox_box *make_box(void)
{
    return make_box_mem("256m");
}

static int exec_sh(sandbox_box *b, const char *cmd, double timeout,
                   sandbox_result *res)
{
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = cmd;
    x.timeout_sec = timeout;
    sandbox_result_init(res, sizeof *res);
    return sandbox_box_exec(b, &x, res);
}

/* ---- nothing left behind ---------------------------------------------- */

START_TEST(destroy_leaves_nothing)
{
    sandbox_box *b = make_box();
    char *name = strdup(sandbox_box_name(b));
    char *dir = control_dir(name);
    char kg[512];
    snprintf(kg, sizeof kg, KILLGROUP_ROOT "/%s", name);
    sandbox_result r;
    ck_assert_int_eq(exec_sh(b, "echo hi", 30, &r), 0);
    ck_assert_str_eq(r.out.data, "hi\n");
    sandbox_result_free(&r);
    ck_assert(container_exists(name));
    ck_assert(path_exists(dir));
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_box_destroy(b, &r), 0);
    sandbox_result_free(&r);
    ck_assert_msg(!container_exists(name), "%s still exists", name);
    ck_assert_msg(!path_exists(dir), "%s still exists", dir);
    ck_assert_msg(!path_exists(kg), "%s still exists", kg);
    sandbox_box_free(b);
    free(dir);
    free(name);
}
END_TEST

START_TEST(owner_sigkill_leaves_nothing)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t owner = fork();
    ck_assert_int_ge(owner, 0);
    if (owner == 0) {
        close(p[0]);
        sandbox_box *b = make_box();
        const char *n = sandbox_box_name(b);
        if (write(p[1], n, strlen(n) + 1) < 0)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char name[256] = "";
    ssize_t got = read(p[0], name, sizeof name - 1);
    close(p[0]);
    ck_assert_int_gt(got, 0);
    char *dir = control_dir(name);
    char kg[512];
    snprintf(kg, sizeof kg, KILLGROUP_ROOT "/%s", name);
    ck_assert(container_exists(name));
    kill(owner, SIGKILL);
    waitpid(owner, NULL, 0);
    double t0 = bu_now();
    while ((container_exists(name) || path_exists(dir) || path_exists(kg)) &&
           bu_now() - t0 < 10.0)
        bu_nap(0.1);
    double took = bu_now() - t0;
    ck_assert_msg(!container_exists(name), "%s outlived its owner", name);
    ck_assert_msg(!path_exists(dir), "%s outlived its owner", dir);
    ck_assert_msg(!path_exists(kg), "%s outlived its owner", kg);
    ck_assert_msg(took < 3.5, "the guardian took %.2f s", took);
    free(dir);
}
END_TEST

/* ---- an exec's timeout kills what escaped its session --------------- */

#define ESCAPE(file)                                                           \
    "setsid sh -c 'echo $$ > " file "; exec sleep 1000' </dev/null "           \
    ">/dev/null 2>&1 & sleep 1000"

static bool box_pid_alive(sandbox_box *b, const char *file)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "p=$(cat %s) && [ -n \"$p\" ] && kill -0 \"$p\" && "
             "! grep -q '^State:.*Z' /proc/$p/status && echo alive || "
             "echo dead",
             file);
    sandbox_result r;
    ck_assert_int_eq(exec_sh(b, cmd, 30, &r), 0);
    bool alive = strstr(r.out.data, "alive") != NULL;
    ck_assert_msg(alive || strstr(r.out.data, "dead") != NULL, "probe: %s %s",
                  r.out.data, r.err.data);
    sandbox_result_free(&r);
    return alive;
}

START_TEST(exec_timeout_kills_escapee)
{
    sandbox_box *b = make_box();
    sandbox_result r;
    double t0 = bu_now();
    ck_assert_int_eq(exec_sh(b, ESCAPE("/tmp/esc"), 1.0, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    ck_assert_int_eq(r.exit_code, SANDBOX_EXIT_TIMEOUT);
    ck_assert_double_lt(bu_now() - t0, 10.0);
    sandbox_result_free(&r);
    /* The box lives on; the setsid'd sleep is gone. */
    ck_assert(!box_pid_alive(b, "/tmp/esc"));
    ck_assert_int_eq(exec_sh(b, "echo still", 30, &r), 0);
    ck_assert_str_eq(r.out.data, "still\n");
    sandbox_result_free(&r);
    bu_box_end(b);
}
END_TEST

/* The control: the engine's exec, its client killed at the same point. */
START_TEST(engine_exec_leaves_escapee)
{
    sandbox_box *b = make_box();
    const char *name = sandbox_box_name(b);
    char *argv[] = {(char *)bu_runtime(), "exec", (char *)name, "sh", "-c",
                    ESCAPE("/tmp/esc2"),  NULL};
    pid_t client;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", 0, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 01, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 01, 0);
    ck_assert_int_eq(posix_spawnp(&client, argv[0], &fa, NULL, argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    /* Until the escapee wrote its pid, at most 20 s. */
    sandbox_result r;
    for (double t0 = bu_now(); bu_now() - t0 < 20.0; bu_nap(0.2)) {
        ck_assert_int_eq(exec_sh(b, "cat /tmp/esc2 2>/dev/null", 30, &r), 0);
        bool there = r.out.len > 0;
        sandbox_result_free(&r);
        if (there)
            break;
    }
    kill(client, SIGKILL);
    waitpid(client, NULL, 0);
    bu_nap(1.0);
    ck_assert_msg(box_pid_alive(b, "/tmp/esc2"),
                  "the escapee died with the engine's exec client: the "
                  "control shows no attack");
    bu_box_end(b);
}
END_TEST

/* ---- removed from outside ------------------------------------------------ */

START_TEST(removed_from_outside)
{
    sandbox_box *b = make_box();
    char *name = strdup(sandbox_box_name(b));
    /* podman's rm would give the init (which ignores SIGTERM) 10 s. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s rm -f %s %s 2>&1", bu_runtime(),
             strcmp(bu_runtime(), "podman") == 0 ? "--time=0" : "", name);
    char *argv[] = {"sh", "-c", cmd, NULL};
    /* A retry when podman's own removal races (EBUSY on the container's
     * shm while another process's new mount namespace still holds it). */
    for (int attempt = 0; attempt < 5; attempt++) {
        char *said = NULL;
        int code = bu_host_run(argv, &said);
        bool gone = !container_exists(name);
        ck_assert_msg(code == 0 || attempt < 4, "%s: %d %s", cmd, code, said);
        free(said);
        if (code == 0 && gone)
            break;
        bu_nap(0.5);
    }
    sandbox_result r;
    int rc = exec_sh(b, "echo hi", 30, &r);
    ck_assert_int_eq(rc, SANDBOX_EBOXDEAD);
    ck_assert_ptr_nonnull(r.message);
    ck_assert_msg(strstr(r.message, "removed from outside") != NULL, "%s",
                  r.message);
    sandbox_result_free(&r);
    char *why = NULL;
    ck_assert_int_eq(sandbox_box_alive(b, &why), 0);
    ck_assert_ptr_nonnull(why);
    sandbox_free(why);
    sandbox_box_destroy(b, NULL);
    sandbox_box_free(b);
    ck_assert(!container_exists(name));
    free(name);
}
END_TEST

/* podman's conmon lives as long as the box and writes `oom` into its
 * client's cwd on an OOM kill: never the caller's cwd nor "/". */
START_TEST(oom_file_not_in_cwd)
{
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    char here[4200];
    snprintf(here, sizeof here, "%s/oom", cwd);
    ck_assert_msg(access("/oom", F_OK) != 0 && access(here, F_OK) != 0,
                  "an oom file is already there: remove it first");
    sandbox_box *b = make_box_mem("64m");
    sandbox_result r;
    ck_assert_int_eq(
        exec_sh(b, "dd if=/dev/zero of=/dev/null bs=200M count=1", 60, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_OOM);
    sandbox_result_free(&r);
    ck_assert_int_eq(exec_sh(b, "echo alive", 30, &r), 0);
    ck_assert_str_eq(r.out.data, "alive\n");
    sandbox_result_free(&r);
    bu_box_end(b);
    ck_assert_msg(access("/oom", F_OK) != 0, "conmon wrote /oom");
    ck_assert_msg(access(here, F_OK) != 0, "conmon wrote %s", here);
}
END_TEST

/* An image's HEALTHCHECK has the engine run commands in the box on its
 * own schedule, outside every exec's timeout, kill group and accounting.
 * Control: the same image as a plain `docker run -d` container does run
 * its check.  Both kinds of box: a long-lived one and sandbox_run's.  docker
 * only: podman runs healthchecks from systemd timers, which this host's test
 * containers do not get. */
START_TEST(no_image_healthcheck)
{
    if (strcmp(bu_runtime(), "docker") != 0)
        return;
    char img[64], base[64], ctl[64];
    snprintf(img, sizeof img, "libsandbox-test-hc-%ld:latest", (long)getpid());
    snprintf(base, sizeof base, "libsandbox-test-hcbase-%ld", (long)getpid());
    snprintf(ctl, sizeof ctl, "libsandbox-test-hcctl-%ld", (long)getpid());
    char *create[] = {"docker",        "create", "--name", base,
                      (char *)image(), "true",   NULL};
    ck_assert_int_eq(bu_host_run(create, NULL), 0);
    char *commit[] = {"docker",
                      "commit",
                      "--change",
                      "HEALTHCHECK --interval=1s --timeout=1s CMD touch "
                      "/tmp/hc-ran",
                      base,
                      img,
                      NULL};
    int crc = bu_host_run(commit, NULL);
    char *rm_base[] = {"docker", "rm", "-f", base, NULL};
    bu_host_run(rm_base, NULL);
    ck_assert_int_eq(crc, 0);

    /* control */
    char *run[] = {"docker",         "run", "-d",    "--name", ctl,
                   "--network=none", img,   "sleep", "30",     NULL};
    ck_assert_int_eq(bu_host_run(run, NULL), 0);
    bool ran = false;
    for (int i = 0; i < 100 && !ran; i++) {
        bu_nap(0.1);
        char *probe[] = {"docker", "exec",        ctl, "test",
                         "-e",     "/tmp/hc-ran", NULL};
        ran = bu_host_run(probe, NULL) == 0;
    }
    char *rm_ctl[] = {"docker", "rm", "-f", ctl, NULL};
    bu_host_run(rm_ctl, NULL);
    ck_assert_msg(ran, "control: the image's healthcheck never ran");

    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.runtime = bu_runtime();
    o.image = img;
    sandbox_box *b = NULL;
    char *msg = NULL;
    int rc = sandbox_box_create(&o, &b, &msg);
    if (rc != 0) {
        char *rmi[] = {"docker", "rmi", "-f", img, NULL};
        bu_host_run(rmi, NULL);
    }
    ck_assert_msg(rc == 0, "%s", msg);
    sandbox_result r;
    ck_assert_int_eq(
        exec_sh(b, "sleep 4; test -e /tmp/hc-ran && echo ran || echo none", 30,
                &r),
        0);
    bool none = r.out.data != NULL && strcmp(r.out.data, "none\n") == 0;
    sandbox_result_free(&r);
    bu_box_end(b);
    /* and the one-shot box (`run --rm`) */
    o.command = "sleep 4; test -e /tmp/hc-ran && echo ran || echo none";
    o.timeout_sec = 30;
    sandbox_result_init(&r, sizeof r);
    rc = sandbox_run(&o, &r);
    bool none1 =
        rc == 0 && r.out.data != NULL && strcmp(r.out.data, "none\n") == 0;
    char *why = r.message != NULL ? strdup(r.message) : NULL;
    sandbox_result_free(&r);
    char *rmi[] = {"docker", "rmi", "-f", img, NULL};
    ck_assert_int_eq(bu_host_run(rmi, NULL), 0);
    ck_assert_msg(none, "the image's healthcheck ran in the box");
    ck_assert_msg(none1, "the image's healthcheck ran in a one-shot box (%s)",
                  why ? why : "");
    free(why);
}
END_TEST

/* An image whose USER is not root: the init runs as that user (as the
 * engine's own `run` would run the command), reaches its control socket,
 * and every exec runs as that user; an exec's timeout still kills its
 * tree.  Before 0.3.0's fix the create failed (a box-root-only socket). */
START_TEST(image_user_not_root)
{
    char base[64], img[80];
    snprintf(base, sizeof base, "libsandbox-test-ubase-%ld", (long)getpid());
    snprintf(img, sizeof img, "localhost/libsandbox-test-user-%ld:latest",
             (long)getpid());
    char *create[] = {(char *)bu_runtime(), "create", "--name", base,
                      (char *)image(),      "true",   NULL};
    ck_assert_int_eq(bu_host_run(create, NULL), 0);
    char *commit[] = {(char *)bu_runtime(),
                      "commit",
                      "--change",
                      "USER 1000:1000",
                      base,
                      img,
                      NULL};
    int crc = bu_host_run(commit, NULL);
    char *rm_base[] = {(char *)bu_runtime(), "rm", "-f", base, NULL};
    bu_host_run(rm_base, NULL);
    ck_assert_int_eq(crc, 0);

    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.runtime = bu_runtime();
    o.image = img;
    sandbox_box *b = NULL;
    char *msg = NULL;
    int rc = sandbox_box_create(&o, &b, &msg);
    char *rmi[] = {(char *)bu_runtime(), "rmi", "-f", img, NULL};
    if (rc != 0)
        bu_host_run(rmi, NULL);
    ck_assert_msg(rc == 0, "create with USER 1000: %s", msg ? msg : "-");
    sandbox_result r;
    ck_assert_int_eq(exec_sh(b, "id -u; id -g; echo kept > /tmp/f", 30, &r), 0);
    ck_assert_str_eq(r.out.data, "1000\n1000\n");
    sandbox_result_free(&r);
    ck_assert_int_eq(exec_sh(b, ESCAPE("/tmp/esc"), 1.0, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    sandbox_result_free(&r);
    ck_assert(!box_pid_alive(b, "/tmp/esc"));
    ck_assert_int_eq(exec_sh(b, "cat /tmp/f", 30, &r), 0);
    ck_assert_str_eq(r.out.data, "kept\n");
    sandbox_result_free(&r);
    ck_assert_int_eq(sandbox_box_destroy(b, NULL), 0);
    sandbox_box_free(b);
    ck_assert_int_eq(bu_host_run(rmi, NULL), 0);
}
END_TEST

/* The control socket takes any uid (the image's USER may be any), so a
 * host process may reach it first: one that is PID 1 of a pid namespace
 * of its own (as the init is) connects while the box starts.  It must be
 * refused (closed), and the real init adopted.  Before the fix the first
 * PID 1 was taken and the create failed (the control: it lands there). */
static void squat(const char dir[80])
{
    if (unshare(CLONE_NEWPID) < 0)
        _exit(3);
    pid_t p1 = fork();
    if (p1 < 0)
        _exit(3);
    if (p1 > 0) {
        int st;
        waitpid(p1, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 3);
    }
    /* PID 1 here */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/s/ctl.sock", dir);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    bool connected = false;
    for (int i = 0; i < 5000 && !connected; i++) {
        connected = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (!connected)
            bu_nap(0.001);
    }
    if (!connected)
        _exit(4);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, 20000) <= 0)
        _exit(1); /* kept: adopted? */
    char buf[64];
    _exit(read(fd, buf, sizeof buf) == 0 ? 0 : 2); /* 0: refused */
}

/* Our box's control directory /tmp/libsandbox-box-<our pid>-XXXXXX, as
 * soon as it appears (a 20 s wait at most); false if it never does. */
static bool find_ctl_dir(char dir[80])
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "libsandbox-box-%ld-", (long)getpid());
    dir[0] = '\0';
    for (int i = 0; i < 20000 && dir[0] == '\0'; i++) {
        DIR *d = opendir("/tmp");
        for (struct dirent *de; d && (de = readdir(d)) != NULL;)
            if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 &&
                strlen(de->d_name) < 64)
                snprintf(dir, 80, "/tmp/%.63s", de->d_name);
        if (d != NULL)
            closedir(d);
        if (dir[0] == '\0')
            bu_nap(0.001);
    }
    return dir[0] != '\0';
}

static void *squatter(void *arg)
{
    int *status = arg;
    char dir[80];
    if (!find_ctl_dir(dir)) {
        *status = 5;
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0)
        squat(dir);
    int st = 0;
    waitpid(pid, &st, 0);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 3;
    return NULL;
}

/* Create a box while attacker(&status) runs on a thread; the create must
 * succeed and the box answer an exec (the real init adopted).  Returns
 * the attacker's status. */
static int create_under(void *(*attacker)(void *))
{
    int status = -1;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, attacker, &status), 0);
    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.runtime = bu_runtime();
    o.image = image();
    sandbox_box *b = NULL;
    char *msg = NULL;
    int rc = sandbox_box_create(&o, &b, &msg);
    pthread_join(t, NULL);
    ck_assert_msg(rc == 0, "create under attack: %s", msg ? msg : "-");
    sandbox_result r;
    ck_assert_int_eq(exec_sh(b, "echo adopted", 30, &r), 0);
    ck_assert_str_eq(r.out.data, "adopted\n");
    sandbox_result_free(&r);
    ck_assert_int_eq(sandbox_box_destroy(b, NULL), 0);
    sandbox_box_free(b);
    return status;
}

START_TEST(foreign_peer_refused)
{
    int status = create_under(squatter);
    ck_assert_msg(status == 0,
                  "the squatter (PID 1 of its own namespace) was not refused "
                  "(%d: 1 kept, 2 spoken to, 4 never connected, 5 no dir)",
                  status);
}
END_TEST

/* Any local user could enter the control directory (0711) and connect to
 * the socket (0666: the init may run as any uid of the box): flood its
 * backlog, or pose as the init from a namespace of its own.  Now the
 * socket sits in DIR/s and DIR is root's 0700: an unprivileged connector
 * gets EACCES every time.  The control: the same connector reaches a 0666
 * socket in a 0711 directory (the old layout). */
#define NOBODY 65534
static int connect_as_nobody(const char *path, double for_sec)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
            _exit(3);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        bool denied = false;
        for (double t0 = bu_now(); bu_now() - t0 < for_sec;) {
            int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
            if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
                _exit(1); /* reached it */
            denied |= errno == EACCES;
            close(fd);
            bu_nap(0.001);
        }
        _exit(denied ? 0 : 2);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 4;
}

static void *nobody_connector(void *arg)
{
    int *status = arg;
    char dir[80], sock[100];
    if (!find_ctl_dir(dir)) {
        *status = 5;
        return NULL;
    }
    snprintf(sock, sizeof sock, "%s/s/ctl.sock", dir);
    *status = connect_as_nobody(sock, 3.0);
    return NULL;
}

START_TEST(host_user_cannot_reach_socket)
{
    /* Control: the old layout lets the connector in. */
    char tmpl[] = "/tmp/sbx-ctl-control-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_int_eq(chmod(tmpl, 0711), 0);
    char sock[100];
    snprintf(sock, sizeof sock, "%s/ctl.sock", tmpl);
    int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(chmod(sock, 0666), 0);
    ck_assert_int_eq(listen(lfd, 4), 0);
    ck_assert_msg(connect_as_nobody(sock, 1.0) == 1,
                  "control: uid %d could not reach a 0666 socket in a 0711 "
                  "directory",
                  NOBODY);
    close(lfd);
    unlink(sock);
    rmdir(tmpl);

    int status = create_under(nobody_connector);
    ck_assert_msg(status == 0,
                  "uid %d and the control socket: %d (1 reached it, 2 never "
                  "denied, 3 setuid failed, 5 no directory)",
                  NOBODY, status);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("box_container");
    TCase *tc = tcase_create("container");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, destroy_leaves_nothing);
    tcase_add_test(tc, owner_sigkill_leaves_nothing);
    tcase_add_test(tc, exec_timeout_kills_escapee);
    tcase_add_test(tc, engine_exec_leaves_escapee);
    tcase_add_test(tc, removed_from_outside);
    tcase_add_test(tc, oom_file_not_in_cwd);
    tcase_add_test(tc, no_image_healthcheck);
    tcase_add_test(tc, image_user_not_root);
    tcase_add_test(tc, foreign_peer_refused);
    tcase_add_test(tc, host_user_cannot_reach_socket);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
