/* SPDX-License-Identifier: MIT */
/* The box's control channel, attacked from inside the box on the backend
 * $SANDBOX_TEST_RUNTIME (podman, docker, native):
 *   - the control socket is gone from SBX_INIT_BOX_DIR once the init is
 *     accepted: nothing left to connect to (container boxes), nor on the
 *     host (the control directory /tmp/libsandbox-box-<our pid>-*);
 *   - /.sandbox is read-only: no file, link, fifo or socket can be put
 *     there, the init binary neither replaced, truncated nor moved
 *     (control: the same operations in the box's /tmp succeed);
 *   - the init's connected socket cannot be taken: /proc/1/fd/N,
 *     /proc/1/environ, /proc/1/root are refused, the init is not dumpable
 *     (control: a dumpable sibling process's fds and environ are open to
 *     the box's uid, so the refusal is the init's, not /proc's);
 *   - no box process can become "PID 1 of a pid namespace" (what the host
 *     accepts, with the container's cgroup) by unshare: refused (control:
 *     on the host the same unshare makes such a process).
 * An attack that lands fails the test. */
#include "box_util.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static bool container(void)
{
    return strcmp(bu_runtime(), "native") != 0;
}

static const char *const images[] = {"busybox:latest", "debian:stable-slim"};

static sandbox_box *box_new(const char *img)
{
    sandbox_opts o;
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.image = img;
    o.runtime = bu_runtime();
    o.timeout_sec = 60;
    return bu_box_create(&o);
}

/* sh -c cmd in the box: its exit code, stdout+stderr in *out. */
static int sh(sandbox_box *b, const char *cmd, char **out)
{
    char *full = NULL;
    ck_assert_int_ge(asprintf(&full, "exec 2>&1; %s", cmd), 0);
    int code = bu_sh(b, full, out);
    free(full);
    return code;
}

/* The box's control directories on the host: ours are named by our pid. */
static size_t host_ctl_dirs(glob_t *g)
{
    char pat[128];
    snprintf(pat, sizeof pat, "/tmp/libsandbox-box-%ld-*", (long)getpid());
    if (glob(pat, GLOB_NOSORT, NULL, g) != 0)
        return 0;
    return g->gl_pathc;
}

START_TEST(test_socket_gone)
{
    sandbox_box *b = box_new(images[_i]);
    char *o = NULL;
    /* Control: the directory is reachable from the box (the init is
     * there), so a socket would be too. */
    ck_assert_int_eq(sh(b, "[ -x /.sandbox/init ]", NULL), 0);
    ck_assert_msg(sh(b,
                     "[ -e /.sandbox/ctl.sock ] || [ -S "
                     "/.sandbox/ctl.sock ]",
                     &o) != 0,
                  "the control socket is still in the box: %s", o);
    free(o);
    if (container()) {
        glob_t g;
        size_t n = host_ctl_dirs(&g);
        ck_assert_msg(n == 1, "%zu control directories of ours on the host", n);
        char sock[100];
        ck_assert_int_lt(
            snprintf(sock, sizeof sock, "%s/s/ctl.sock", g.gl_pathv[0]),
            (int)sizeof sock);
        struct stat st;
        ck_assert_msg(lstat(sock, &st) < 0 && errno == ENOENT,
                      "%s is still there after the init connected", sock);
        /* A second connection (anyone's) finds no listener. */
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
        ck_assert_int_lt(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        close(fd);
        ck_assert_int_eq(stat(g.gl_pathv[0], &st), 0);
        ck_assert_int_eq(st.st_uid, 0);
        ck_assert_int_eq(st.st_mode & 0777, 0700);
        char sub[100];
        snprintf(sub, sizeof sub, "%s/s", g.gl_pathv[0]);
        ck_assert_int_eq(stat(sub, &st), 0);
        ck_assert_int_eq(st.st_uid, 0);
        ck_assert_int_eq(st.st_mode & 0777, 0711);
        globfree(&g);
    }
    /* The box still works: the one connection is intact. */
    ck_assert_int_eq(sh(b, "true", NULL), 0);
    bu_box_end(b);
}
END_TEST

/* Each must fail in /.sandbox and (the control) succeed in /tmp/c. */
static const char *const writes[] = {
    "touch D/x",
    "mkdir D/d",
    "ln -s /tmp D/ctl.sock",
    "mkfifo D/ctl.sock",
    "mv D/init D/moved",
    "rm -f D/init",
    ": > D/init",
    "echo '#!/bin/sh' > D/init",
    "chmod 777 D",
    "chmod 700 D/init",
};

/* cmd = w with every 'D' replaced by dir (cmd holds 256 bytes). */
static void with_dir(char cmd[256], const char *w, const char *dir)
{
    size_t k = 0, n = strlen(dir);
    for (const char *p = w; *p && k < 256 - 20; p++) {
        if (*p == 'D') {
            memcpy(cmd + k, dir, n);
            k += n;
        } else {
            cmd[k++] = *p;
        }
    }
    cmd[k] = '\0';
}

START_TEST(test_dir_read_only)
{
    sandbox_box *b = box_new(images[_i]);
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        char cmd[256];
        const char *w = writes[i];
        with_dir(cmd, w, "/tmp/c");
        char *o = NULL;
        ck_assert_int_eq(
            sh(b, "rm -rf /tmp/c && mkdir /tmp/c && : > /tmp/c/init", NULL), 0);
        int ctl = sh(b, cmd, &o);
        ck_assert_msg(ctl == 0, "control '%s' failed in /tmp: %s", cmd, o);
        free(o);
        with_dir(cmd, w, "/.sandbox");
        ck_assert_msg(sh(b, cmd, &o) != 0, "'%s' worked in the box: %s", cmd,
                      o);
        free(o);
    }
    char *o = NULL;
    ck_assert_int_eq(sh(b,
                        "[ -x /.sandbox/init ] && [ ! -e /.sandbox/x ] && "
                        "[ ! -e /.sandbox/d ] && [ ! -e /.sandbox/moved ] && "
                        "[ ! -e /.sandbox/ctl.sock ] && "
                        "[ ! -L /.sandbox/ctl.sock ] && "
                        "[ -x /.sandbox/init ] && [ -s /.sandbox/init ]",
                        &o),
                     0);
    free(o);
    bu_box_end(b);
    /* The init binary on the host is intact (the test's SANDBOX_INIT). */
    const char *init = getenv("SANDBOX_INIT");
    if (init != NULL) {
        struct stat st;
        ck_assert_int_eq(stat(init, &st), 0);
        ck_assert_int_gt(st.st_size, 1000);
        ck_assert_int_eq(st.st_mode & 06000, 0);
    }
}
END_TEST

START_TEST(test_init_fds)
{
    sandbox_box *b = box_new(images[_i]);
    char *o = NULL;
    /* Control: a dumpable sibling of the box's uid is open to it. */
    ck_assert_msg(sh(b,
                     "sleep 30 & p=$!; sleep 0.2; "
                     "readlink /proc/$p/fd/1 >/dev/null && "
                     "cat /proc/$p/environ >/dev/null && "
                     "ls /proc/$p/root/ >/dev/null; r=$?; kill $p; exit $r",
                     &o) == 0,
                  "control: a sibling's /proc entries are closed too: %s", o);
    free(o);
    const char *probes[] = {
        "readlink /proc/1/fd/3", "readlink /proc/1/fd/4",
        "cat /proc/1/environ",   "ls /proc/1/root/",
        "readlink /proc/1/exe",  "readlink /proc/1/cwd",
        "cat /proc/1/maps",      "head -c 1 /proc/1/mem",
    };
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "%s > /dev/null", probes[i]);
        ck_assert_msg(sh(b, cmd, &o) != 0, "'%s' worked on the init: %s",
                      probes[i], o);
        free(o);
    }
    ck_assert_int_eq(sh(b, "true", NULL), 0);
    bu_box_end(b);
}
END_TEST

/* What the host accepts on the control socket is a pid namespace's PID 1
 * in the container's cgroup: no box process can make itself one. */
START_TEST(test_no_nested_pid1)
{
    /* Control: on the host, unshare makes such a process (what the host
     * sees in /proc: "NSpid: <pid> 1", is_ns_init's test). */
    pid_t mid = fork();
    ck_assert_int_ge(mid, 0);
    if (mid == 0) {
        if (unshare(CLONE_NEWPID) < 0)
            _exit(2);
        pid_t g = fork();
        if (g == 0) {
            pause();
            _exit(0);
        }
        if (g < 0)
            _exit(3);
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)g);
        int ok = 4;
        for (int tries = 0; tries < 100 && ok != 0; tries++) {
            FILE *f = fopen(path, "re");
            while (f && fgets(line, sizeof line, f))
                if (strncmp(line, "NSpid:", 6) == 0) {
                    size_t n = strlen(line);
                    ok = n > 3 && strcmp(line + n - 3, "\t1\n") == 0 &&
                                 strchr(line + 7, '\t') != NULL
                             ? 0
                             : 5;
                }
            if (f)
                fclose(f);
            usleep(10000);
        }
        kill(g, SIGKILL);
        _exit(ok);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(mid, &st, 0), mid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "control: the host's unshare made no nested PID 1 (%d)", st);
    sandbox_box *b = box_new(images[1]);
    char *o = NULL;
    ck_assert_int_eq(sh(b, "command -v unshare", &o), 0);
    free(o);
    const char *tries[] = {
        "unshare -pf --mount-proc true",
        "unshare -Upf --map-root-user true",
        "unshare -Urpf --mount-proc true",
        "unshare -U true",
    };
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        ck_assert_msg(sh(b, tries[i], &o) != 0, "'%s' worked in the box: %s",
                      tries[i], o);
        free(o);
    }
    bu_box_end(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("box_ctl");
    TCase *c = tcase_create(bu_runtime());
    tcase_set_timeout(c, 300);
    tcase_add_loop_test(c, test_socket_gone, 0, 2);
    tcase_add_loop_test(c, test_dir_read_only, 0, 2);
    tcase_add_loop_test(c, test_init_fds, 0, 2);
    tcase_add_test(c, test_no_nested_pid1);
    suite_add_tcase(s, c);
    return tu_run(s);
}
