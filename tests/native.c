/* SPDX-License-Identifier: MIT */
/* Tests only a namespace backend needs (the shared suite in integration.c
 * also runs against it).  Needs root, cgroups and the busybox and
 * libsandbox-python images (scripts/build-images.sh). */
#include <sandbox.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void opts_for(sandbox_opts *o, const char *cmd)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->command = cmd;
    o->image = "busybox:latest";
    o->runtime = "native";
    o->timeout_sec = 60;
}

static int run(sandbox_opts *o, sandbox_result *r)
{
    ck_assert_int_eq(sandbox_result_init(r, sizeof *r), 0);
    return sandbox_run(o, r);
}

/* Entries in a directory (0 if it does not exist). */
static int count_entries(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int n = 0;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static int leftover_cgroups(void)
{
    static const char *const ctrl[] = {"memory",  "pids",    "cpu",
                                       "cpuacct", "unified", ""};
    char path[256];
    int n = 0;
    for (size_t i = 0; i < sizeof ctrl / sizeof *ctrl; i++) {
        snprintf(path, sizeof path, "/sys/fs/cgroup/%s/libsandbox", ctrl[i]);
        n += count_entries(path, "sandbox-");
    }
    return n;
}

static int count_matching(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

START_TEST(test_host_processes_invisible)
{
    sandbox_opts o;
    sandbox_result r;
    char cmd[256];
    /* Our own pid must not exist in the box, and the box's shell is 1. */
    snprintf(cmd, sizeof cmd,
             "test -e /proc/%ld && echo HOST-VISIBLE; echo $$; "
             "set -- /proc/[0-9]*; echo $#",
             (long)getpid());
    opts_for(&o, cmd);
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_ptr_null(strstr(r.out.data, "HOST-VISIBLE"));
    ck_assert(strncmp(r.out.data, "1\n", 2) == 0);
    long n = strtol(r.out.data + 2, NULL, 10);
    ck_assert_msg(n >= 1 && n <= 3, "%ld processes visible", n);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_root_read_only)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "touch /etc/pwned 2>&1; touch /tmp/ok && echo tmp-ok");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_ptr_nonnull(strstr(r.out.data, "Read-only file system"));
    ck_assert_ptr_nonnull(strstr(r.out.data, "tmp-ok"));
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_host_environment_absent)
{
    sandbox_opts o;
    sandbox_result r;
    setenv("LIBSANDBOX_NATIVE_SECRET", "leak", 1);
    opts_for(&o, "env");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_ptr_null(strstr(r.out.data, "LIBSANDBOX_NATIVE_SECRET"));
    ck_assert_ptr_nonnull(strstr(r.out.data, "PATH=/usr/local/sbin"));
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_blocked_syscalls_fail)
{
    sandbox_opts o;
    sandbox_result r;
    /* unshare(CLONE_NEWUSER) needs no capability, so only seccomp can
     * refuse it; keyctl, bpf and ptrace likewise.  Python's ctypes makes
     * the raw calls (x86_64 numbers). */
    opts_for(&o,
             "python3 -c 'import ctypes, os\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             "for name, nr, args in [(\"unshare\", 272, (0x10000000,)),\n"
             "    (\"keyctl\", 250, (0, 0)), (\"bpf\", 321, (0, 0, 0)),\n"
             "    (\"ptrace\", 101, (16, 1)), (\"mount\", 165, (0, 0, 0)),\n"
             "    (\"perf_event_open\", 298, (0, 0, -1, -1, 0)),\n"
             "    (\"io_uring_setup\", 425, (1, 0))]:\n"
             "    rc = libc.syscall(nr, *args)\n"
             "    print(name, rc, os.strerror(ctypes.get_errno()))\n'");
    o.image = "libsandbox-python:latest";
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(r.exit_code == 0, "%s", r.err.data);
    const char *names[] = {"unshare",       "keyctl", "bpf",
                           "ptrace",        "mount",  "perf_event_open",
                           "io_uring_setup"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s -1 Operation not permitted", names[i]);
        ck_assert_msg(strstr(r.out.data, want) != NULL, "%s not blocked: %s",
                      names[i], r.out.data);
    }
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_oom_exact_and_peak_reported)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo ${#x}");
    o.memory = "32m";
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_OOM);
    ck_assert_uint_gt(r.peak_memory_bytes, 16u << 20);
    ck_assert_uint_le(r.peak_memory_bytes, 33u << 20);
    ck_assert(r.cpu_sec >= 0);
    sandbox_result_free(&r);

    /* A plain SIGKILL is not an OOM on this backend: it is counted.  (The
     * inner shell: init ignores signals sent from inside its namespace.) */
    opts_for(&o, "sh -c 'kill -9 $$'; exit $?");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_SIGNALED);
    ck_assert_int_eq(r.term_signal, 9);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_hundred_timeouts_leave_nothing)
{
    int cgroups_before = leftover_cgroups();
    int tmp_before = count_entries("/var/cache/libsandbox/rootfs", ".tmp-");
    for (int i = 0; i < 100; i++) {
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, "sleep 3017 & sleep 3017");
        o.timeout_sec = 0.2;
        ck_assert_int_eq(run(&o, &r), 0);
        ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
        ck_assert_int_eq(r.exit_code, 124);
        sandbox_result_free(&r);
    }
    ck_assert_int_eq(leftover_cgroups(), cgroups_before);
    /* The box's mounts live in its own mount namespace: none of them may
     * appear here.  (The host's total changes with unrelated engine
     * activity, so look for ours by path.) */
    ck_assert_int_eq(count_matching("/proc/self/mountinfo", "libsandbox"), 0);
    ck_assert_int_eq(count_entries("/var/cache/libsandbox/rootfs", ".tmp-"),
                     tmp_before);
    /* No box process survived: nothing in our process tree is left. */
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    FILE *p = popen("pgrep -c -f '^sleep 3017$'", "r");
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_directory_image)
{
    sandbox_opts o;
    sandbox_result r;
    char dir[] = "/tmp/sbx-rootfs-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/bin %s/proc %s/sys %s/dev %s/tmp && "
             "cp /bin/busybox %s/bin/ && ln -s busybox %s/bin/sh && "
             "ln -s busybox %s/bin/echo",
             dir, dir, dir, dir, dir, dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    opts_for(&o, "echo from-dir");
    o.image = dir;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_str_eq(r.out.data, "from-dir\n");
    sandbox_result_free(&r);

    /* Container runtimes cannot take a directory: a clear error. */
    o.runtime = "podman";
    ck_assert_int_eq(run(&o, &r), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(r.message, "native"));
    sandbox_result_free(&r);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static void *run_marker(void *arg)
{
    sandbox_result *r = arg;
    sandbox_opts o;
    opts_for(&o, "test -e /marker && echo new || echo old");
    o.image = "localhost/sbx-retag:latest";
    sandbox_result_init(r, sizeof *r);
    sandbox_run(&o, r);
    return NULL;
}

/* The rootfs cache follows the image ID: the same name rebuilt is exported
 * again (and two runs racing to export it both succeed, leaving one copy
 * and no temporary directory). */
START_TEST(test_rootfs_cache_follows_image_id)
{
    if (system("podman --version >/dev/null 2>&1") != 0)
        return;
    ck_assert_int_eq(system("podman rmi -f localhost/sbx-retag:latest "
                            ">/dev/null 2>&1; podman tag busybox:latest "
                            "localhost/sbx-retag:latest"),
                     0);
    sandbox_result r[2];
    run_marker(&r[0]);
    ck_assert_msg(r[0].exit_code == 0, "%s", r[0].message);
    ck_assert_str_eq(r[0].out.data, "old\n");
    sandbox_result_free(&r[0]);

    /* Same name, new content, new ID. */
    ck_assert_int_eq(
        system("podman rm -f sbx-retag-c >/dev/null 2>&1; "
               "podman run --name sbx-retag-c busybox:latest touch /marker && "
               "podman commit -q sbx-retag-c localhost/sbx-retag:latest "
               ">/dev/null && podman rm sbx-retag-c >/dev/null"),
        0);
    int tmp_before = count_entries("/var/cache/libsandbox/rootfs", ".tmp-");
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, run_marker, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(r[i].exit_code == 0, "%s", r[i].message);
        ck_assert_str_eq(r[i].out.data, "new\n");
        sandbox_result_free(&r[i]);
    }
    ck_assert_int_eq(count_entries("/var/cache/libsandbox/rootfs", ".tmp-"),
                     tmp_before);

    /* Rebuild once more: the previous export is now referenced by no name,
     * and `sandbox gc --runtime native` deletes it, keeping the current. */
    char old_id[160] = "", new_id[160] = "", path[512];
    FILE *p = popen("podman image inspect --format '{{.Id}}' "
                    "localhost/sbx-retag:latest",
                    "r");
    ck_assert_ptr_nonnull(fgets(old_id, sizeof old_id, p));
    pclose(p);
    old_id[strcspn(old_id, "\n")] = '\0';
    ck_assert_int_eq(
        system("podman run --name sbx-retag-c localhost/sbx-retag:latest "
               "touch /marker2 && podman commit -q sbx-retag-c "
               "localhost/sbx-retag:latest >/dev/null && "
               "podman rm sbx-retag-c >/dev/null"),
        0);
    run_marker(&r[0]);
    ck_assert_str_eq(r[0].out.data, "new\n");
    sandbox_result_free(&r[0]);
    p = popen("podman image inspect --format '{{.Id}}' "
              "localhost/sbx-retag:latest",
              "r");
    ck_assert_ptr_nonnull(fgets(new_id, sizeof new_id, p));
    pclose(p);
    new_id[strcspn(new_id, "\n")] = '\0';
    snprintf(path, sizeof path, "/var/cache/libsandbox/rootfs/%s", old_id);
    ck_assert_int_eq(access(path, F_OK), 0);
    unsigned removed = 0;
    ck_assert_int_eq(sandbox_gc("native", 0, &removed, NULL), 0);
    ck_assert_uint_ge(removed, 1);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof path, "/var/cache/libsandbox/rootfs/%s", new_id);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(system("podman rmi -f localhost/sbx-retag:latest "
                            ">/dev/null 2>&1"),
                     0);
}
END_TEST

/* As an unprivileged user: it works through a user namespace, or fails
 * before running with the documented message about cgroups. */
START_TEST(test_non_root)
{
    const char *cli = getenv("SANDBOX_CLI");
    if (cli == NULL || access(cli, X_OK) != 0 || geteuid() != 0)
        return;
    ck_assert_int_eq(system("id sbxtest >/dev/null 2>&1 || "
                            "useradd --no-create-home sbxtest"),
                     0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd / && su -s /bin/sh sbxtest -c '%s --runtime native --image "
             "/ --no-workspace -- echo unprivileged' 2>&1",
             cli);
    FILE *p = popen(cmd, "r");
    char out[4096] = {0};
    size_t n = fread(out, 1, sizeof out - 1, p);
    int st = pclose(p);
    out[n] = '\0';
    bool worked = WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
                  strstr(out, "unprivileged") != NULL;
    bool documented = strstr(out, "cannot create the cgroup") != NULL &&
                      strstr(out, "delegate") != NULL;
    ck_assert_msg(worked || documented, "non-root run: %s", out);

    /* Now delegate the run cgroups' parent to the user (cgroup v1: hand
     * over the directories; v2 hosts would use systemd's Delegate=) and
     * run for real through the user namespace, on a rootfs directory the
     * user can read.  Ownership is handed back whatever happens. */
    static const char *const ctrl[] = {"memory", "pids", "cpu", "cpuacct"};
    char root[] = "/tmp/sbx-userns-root-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(cmd, sizeof cmd,
             "chmod 755 %s && mkdir -p %s/bin %s/proc %s/sys %s/dev %s/tmp && "
             "cp /bin/busybox %s/bin/ && for a in sh id cat grep ls touch; "
             "do ln -s busybox %s/bin/$a; done",
             root, root, root, root, root, root, root, root);
    ck_assert_int_eq(system(cmd), 0);
    for (size_t i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd,
                 "d=/sys/fs/cgroup/%s/libsandbox; test -d $d || exit 0; "
                 "chown sbxtest $d $d/cgroup.procs",
                 ctrl[i]);
        ck_assert_int_eq(system(cmd), 0);
    }
    snprintf(cmd, sizeof cmd,
             "cd / && su -s /bin/sh sbxtest -c '%s --runtime native --image "
             "%s --no-workspace -- \"cat /proc/self/uid_map; grep CapEff "
             "/proc/self/status; touch /x 2>&1\"' 2>&1",
             cli, root);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    st = pclose(p);
    out[n] = '\0';
    for (size_t i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd,
                 "d=/sys/fs/cgroup/%s/libsandbox; test -d $d || exit 0; "
                 "chown root $d $d/cgroup.procs",
                 ctrl[i]);
        ck_assert_int_eq(system(cmd), 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    ck_assert_int_eq(system(cmd), 0);
    if (access("/sys/fs/cgroup/memory/libsandbox", F_OK) != 0)
        return; /* not a cgroup v1 host: delegation is systemd's job */
    /* uid 0 inside is the user outside; no capabilities; root read-only
     * (touch fails, so the command exits 1). */
    struct passwd *pw = getpwnam("sbxtest");
    ck_assert_ptr_nonnull(pw);
    const char *body = strstr(out, "--- stdout ---\n");
    long in = -1, outside = -1, count = -1;
    ck_assert_msg(
        WIFEXITED(st) && strncmp(out, "exit=1\n", 7) == 0 && body != NULL &&
            sscanf(body + 15, "%ld %ld %ld", &in, &outside, &count) == 3,
        "delegated non-root run: %s", out);
    ck_assert_int_eq(in, 0);
    ck_assert_int_eq(outside, (long)pw->pw_uid);
    ck_assert_int_eq(count, 1);
    ck_assert_ptr_nonnull(strstr(out, "Read-only file system"));
    ck_assert_ptr_nonnull(strstr(out, "CapEff:\t0000000000000000"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("native");
    TCase *tc = tcase_create("native");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_host_processes_invisible);
    tcase_add_test(tc, test_root_read_only);
    tcase_add_test(tc, test_host_environment_absent);
    tcase_add_test(tc, test_blocked_syscalls_fail);
    tcase_add_test(tc, test_oom_exact_and_peak_reported);
    tcase_add_test(tc, test_hundred_timeouts_leave_nothing);
    tcase_add_test(tc, test_directory_image);
    tcase_add_test(tc, test_rootfs_cache_follows_image_id);
    tcase_add_test(tc, test_non_root);
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
