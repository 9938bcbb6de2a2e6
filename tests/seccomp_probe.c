/* SPDX-License-Identifier: MIT */
/* The seccomp policy, seen from inside a box on a real backend
 * (SANDBOX_TEST_RUNTIME=podman|docker|native), with the host itself as the
 * control: every probe the box must refuse is first shown to land on the
 * unsandboxed host, so a test that passes cannot be a probe that never
 * worked.  The probes are tests/seccomp_probe.py (SECCOMP_PROBE_PY), run
 * with the libsandbox-python image inside and /usr/bin/python3 outside. */
#include <sandbox.h>

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOST_PYTHON "/usr/bin/python3"

static const char *runtime(void)
{
    const char *r = getenv("SANDBOX_TEST_RUNTIME");
    return r && *r ? r : "podman";
}

/* name, the box's answer, the host's answer ("ok": the call got through). */
typedef struct probe {
    const char *name, *box, *host;
} probe;

static const probe probes[] = {
    {"vsock", "EPERM", "ok"},
    {"packet", "EPERM", "ok"},
    {"netlink_uevent", "EPERM", "ok"},
    {"netlink_route", "ok", "ok"},
    {"inet", "ok", "ok"},
    {"inet6", "ok", "ok"},
    {"unix", "ok", "ok"},
    {"socketpair_vsock", "EPERM", "ok"},
    {"socketpair_unix", "ok", "ok"},
    {"unshare_user", "EPERM", "ok"},
    {"tiocsti_fcntl", "EPERM", "ok"},
    {"tiocsti", "EPERM", "ok"},
    {"tiocsti_high_bits", "EPERM", "ok"},
    {"tioclinux", "EPERM", "ok"},
    {"tcgets", "ok", "ok"},
    {"chmod_setuid", "EPERM", "ok"},
    {"chmod_setgid", "EPERM", "ok"},
    {"chmod_plain", "ok", "ok"},
    {"open_creat_setuid", "EPERM", "ok"},
    {"mknod_chardev", "EPERM", "ok"},
    {"mkfifo", "ok", "ok"},
    {"personality_no_randomize", "EPERM", "ok"},
    {"personality_query", "ok", "ok"},
    {"io_uring_setup", "EPERM", "ok"},
    {"ptrace_traceme", "EPERM", "ok"},
    {"cachestat", "EPERM", "ok"},
    {"mseal", "ENOSYS", "ok"},
    {"clone3", "ENOSYS", "ok"},
    {"openat2", "ENOSYS", "ok"},
    {"i386_abi", "SIGSYS", "ok"},
    {"fork", "ok", "ok"},
    {"thread", "ok", "ok"},
    {"subprocess", "ok", "ok"},
};

/* The answer for `name` in the probe's output (a static copy), or NULL. */
static const char *answer(const char *out, const char *name)
{
    static char word[64];
    size_t n = strlen(name);
    for (const char *l = out; l != NULL && *l; l = strchr(l, '\n')) {
        if (*l == '\n')
            l++;
        if (strncmp(l, name, n) == 0 && l[n] == ' ') {
            size_t k = strcspn(l + n + 1, "\n");
            if (k >= sizeof word)
                k = sizeof word - 1;
            memcpy(word, l + n + 1, k);
            word[k] = '\0';
            return word;
        }
    }
    return NULL;
}

static void check_all(const char *out, bool in_box, const char *where)
{
    ck_assert_msg(strstr(out, "\ndone\n") != NULL,
                  "%s: the probe did not finish:\n%s", where, out);
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
        const char *want = in_box ? probes[i].box : probes[i].host;
        const char *got = answer(out, probes[i].name);
        ck_assert_msg(got != NULL, "%s: no answer for %s", where,
                      probes[i].name);
        ck_assert_msg(strcmp(got, want) == 0, "%s: %s answered %s, want %s",
                      where, probes[i].name, got, want);
    }
}

/* The host control: the same probes, no sandbox. */
START_TEST(test_probes_land_on_host)
{
    char cmd[512];
    ck_assert_msg(access(HOST_PYTHON, X_OK) == 0,
                  "the host control needs " HOST_PYTHON);
    snprintf(cmd, sizeof cmd, HOST_PYTHON " %s", SECCOMP_PROBE_PY);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    check_all(buf, false, "host");
}
END_TEST

static void opts_for(sandbox_opts *o, const char *image, const char *cmd)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->command = cmd;
    o->image = image;
    o->runtime = runtime();
    o->timeout_sec = 120;
    o->workspace = NULL;
}

START_TEST(test_probes_refused_in_box)
{
    sandbox_mount m[] = {{SECCOMP_PROBE_PY, "/probe.py", 0}};
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "libsandbox-python:latest", "python3 -u /probe.py");
    o.mounts = m;
    o.n_mounts = 1;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_msg(r.exit_code == 0, "exit %d: %s", r.exit_code, r.err.data);
    check_all(r.out.data, true, runtime());
    sandbox_result_free(&r);
}
END_TEST

/* What a real box runs still works under the policy: both shells, and a
 * tiny pytest suite (pytest is in the python image; nothing installed). */
START_TEST(test_shells_work)
{
    static const char *const images[] = {"busybox:latest",
                                         "debian:stable-slim"};
    for (size_t i = 0; i < 2; i++) {
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, images[i],
                 "echo start; (sleep 0.1; echo bg) & wait; ls / >/dev/null "
                 "&& mkdir /tmp/d && chmod 700 /tmp/d && echo end");
        ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
        ck_assert_int_eq(sandbox_run(&o, &r), 0);
        ck_assert_msg(r.exit_code == 0, "%s: exit %d: %s", images[i],
                      r.exit_code, r.err.data);
        ck_assert_str_eq(r.out.data, "start\nbg\nend\n");
        sandbox_result_free(&r);
    }
}
END_TEST

/* util-linux's unshare(1): lands on the host, refused in the box. */
START_TEST(test_unshare_command)
{
    ck_assert_msg(system("unshare -U true") == 0,
                  "control: unshare -U must work on the host");
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "debian:stable-slim", "unshare -U true; echo rc=$?");
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    ck_assert_int_eq(sandbox_run(&o, &r), 0);
    ck_assert_msg(strstr(r.out.data, "rc=0") == NULL &&
                      strstr(r.out.data, "rc=") != NULL,
                  "%s%s", r.out.data, r.err.data);
    ck_assert_msg(strstr(r.err.data, "Operation not permitted") != NULL, "%s",
                  r.err.data);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_pytest_works)
{
    char dir[] = "/tmp/sbx-seccomp-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char file[128];
    snprintf(file, sizeof file, "%s/test_tiny.py", dir);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("import os, threading\n"
          "def test_fork_and_threads():\n"
          "    t = threading.Thread(target=lambda: None)\n"
          "    t.start(); t.join()\n"
          "    pid = os.fork()\n"
          "    if pid == 0:\n"
          "        os._exit(0)\n"
          "    assert os.waitpid(pid, 0)[1] == 0\n",
          f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(dir, 0755), 0);
    sandbox_mount m[] = {{dir, "/t", 0}};
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "libsandbox-python:latest",
             "cd /tmp && PYTHONDONTWRITEBYTECODE=1 python3 -m pytest -q -p "
             "no:cacheprovider /t/test_tiny.py");
    o.mounts = m;
    o.n_mounts = 1;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    int rc = sandbox_run(&o, &r);
    unlink(file);
    rmdir(dir);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(r.exit_code == 0 && strstr(r.out.data, "1 passed"),
                  "exit %d: %s%s", r.exit_code, r.out.data, r.err.data);
    sandbox_result_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seccomp_probe");
    TCase *tc = tcase_create(runtime());
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_probes_land_on_host);
    tcase_add_test(tc, test_probes_refused_in_box);
    tcase_add_test(tc, test_shells_work);
    tcase_add_test(tc, test_unshare_command);
    tcase_add_test(tc, test_pytest_works);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_VERBOSE);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
