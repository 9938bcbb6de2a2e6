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
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
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

/* Directories of run `name` in any hierarchy. */
static int run_cgroups(const char *name)
{
    static const char *const ctrl[] = {"memory",  "pids",    "cpu",
                                       "cpuacct", "unified", ""};
    char path[512];
    int n = 0;
    for (size_t i = 0; i < sizeof ctrl / sizeof *ctrl; i++) {
        snprintf(path, sizeof path, "/sys/fs/cgroup/%s/libsandbox/%s", ctrl[i],
                 name);
        n += access(path, F_OK) == 0;
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
    /* Our own pid must not exist in the box; its pid 1 is the box's init
     * (a run is an exec in a box, issue 10) and the shell a low pid. */
    snprintf(cmd, sizeof cmd,
             "test -e /proc/%ld && echo HOST-VISIBLE; "
             "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$; "
             "set -- /proc/[0-9]*; echo $#",
             (long)getpid());
    opts_for(&o, cmd);
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_ptr_null(strstr(r.out.data, "HOST-VISIBLE"));
    ck_assert_msg(strncmp(r.out.data, "/.sandbox/init --fd 3 \n", 23) == 0,
                  "pid 1: %s", r.out.data);
    char *rest = NULL;
    long self = strtol(r.out.data + 23, &rest, 10);
    long n = strtol(rest, NULL, 10);
    ck_assert_msg(self > 1 && self < 10, "the shell is pid %ld", self);
    ck_assert_msg(n >= 2 && n <= 4, "%ld processes visible", n);
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
    int tmp_before = count_entries("/var/cache/libsandbox/rootfs", ".tmp-");
    int left = 0;
    for (int i = 0; i < 100; i++) {
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, "sleep 3017 & sleep 3017");
        o.timeout_sec = 0.2;
        ck_assert_int_eq(run(&o, &r), 0);
        ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
        ck_assert_int_eq(r.exit_code, 124);
        /* Other runs may share this host: look for this run's cgroups. */
        left += run_cgroups(r.container_name);
        sandbox_result_free(&r);
    }
    ck_assert_int_eq(left, 0);
    /* The box's mounts live in its own mount namespace: none of them may
     * appear here.  (The host's total changes with unrelated engine
     * activity, so look for ours by path.) */
    ck_assert_int_eq(
        count_matching("/proc/self/mountinfo", "/var/cache/libsandbox/rootfs"),
        0);
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
             "mkdir -p %s/bin %s/proc %s/sys %s/dev %s/tmp %s/.sandbox && "
             "touch %s/.sandbox/init && "
             "cp /bin/busybox %s/bin/ && ln -s busybox %s/bin/sh && "
             "ln -s busybox %s/bin/echo",
             dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    opts_for(&o, "echo from-dir");
    o.image = dir;
    /* mkdtemp's 0700, owned by the caller: the root is idmapped, so the
     * box's root (an unprivileged host id) owns it as the caller does. */
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
             "chmod 755 %s && mkdir -p %s/bin %s/proc %s/sys %s/dev %s/tmp "
             "%s/.sandbox && touch %s/.sandbox/init && "
             "cp /bin/busybox %s/bin/ && for a in sh id cat grep ls touch; "
             "do ln -s busybox %s/bin/$a; done",
             root, root, root, root, root, root, root, root, root, root);
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

/* ---- issue 14: the box never reaches the host ------------------------ */

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Device nodes are the host's own inodes: as host root, chmod/chown/touch
 * change them (shown on a scratch node); in the box all three fail, the
 * host's /dev/null does not change, and the box's root is a subordinate
 * id (result: host_root 0). */
START_TEST(test_box_root_is_not_host_root)
{
    if (geteuid() != 0)
        return;
    char node[64], cmd[512];
    snprintf(node, sizeof node, "/tmp/sbx-node-%ld", (long)getpid());
    unlink(node);
    ck_assert_int_eq(mknod(node, S_IFCHR | 0600, makedev(1, 3)), 0);
    struct stat before, after;
    ck_assert_int_eq(stat(node, &before), 0);
    usleep(10000);
    snprintf(cmd, sizeof cmd, "chmod 666 %s && chown 0:0 %s && touch %s", node,
             node, node);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(stat(node, &after), 0);
    unlink(node);
    ck_assert(!same_time(&before.st_ctim, &after.st_ctim));
    ck_assert_int_eq(after.st_mode & 0777, 0666);

    sandbox_opts o;
    sandbox_result r;
    ck_assert_int_eq(stat("/dev/null", &before), 0);
    opts_for(&o, "cat /proc/self/uid_map; chmod 666 /dev/null && echo CHMOD; "
                 "chown 0:0 /dev/null && echo CHOWN; chmod 000 /dev/null && "
                 "echo CHMOD0; touch /dev/null && echo TOUCH; "
                 "echo x > /dev/null && echo WRITE-OK");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_int_eq(stat("/dev/null", &after), 0);
    ck_assert_msg(strstr(r.out.data, "WRITE-OK") != NULL, "%s", r.out.data);
    ck_assert_msg(strstr(r.out.data, "CHMOD") == NULL &&
                      strstr(r.out.data, "CHOWN") == NULL &&
                      strstr(r.out.data, "TOUCH") == NULL,
                  "the box changed a host inode: %s", r.out.data);
    ck_assert(same_time(&before.st_ctim, &after.st_ctim));
    ck_assert(same_time(&before.st_mtim, &after.st_mtim));
    ck_assert_int_eq(before.st_mode, after.st_mode);
    long in = -1, outside = -1, count = -1;
    ck_assert_int_eq(sscanf(r.out.data, "%ld %ld %ld", &in, &outside, &count),
                     3);
    ck_assert_int_eq(in, 0);
    ck_assert_int_gt(outside, 0); /* the subordinate range, not root */
    ck_assert_int_gt(count, 1);
    ck_assert_int_eq(r.host_root, 0);
    sandbox_result_free(&r);
}
END_TEST

/* A root caller without a subordinate range gets the fix, never a box whose
 * root is host root.  (/etc/subuid hidden in a private mount namespace.) */
START_TEST(test_no_subid_range_is_an_error)
{
    if (geteuid() != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("/dev/null", "/etc/subuid", NULL, MS_BIND, NULL) < 0)
            _exit(2);
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, "echo RAN");
        int rc = run(&o, &r);
        bool ok = rc == SANDBOX_ERUNTIME && r.message != NULL &&
                  strstr(r.message, "subordinate") != NULL &&
                  strstr(r.message, "/etc/subuid") != NULL;
        if (!ok)
            fprintf(stderr, "rc %d: %s\n", rc, r.message ? r.message : "");
        _exit(ok ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

/* A caller with a controlling terminal can open /dev/tty (the TIOCSTI
 * attack's way in); its box cannot: new session, no tty, stdin /dev/null,
 * no /dev/tty node. */
START_TEST(test_no_controlling_terminal)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    char slave[128];
    ck_assert_int_eq(ptsname_r(master, slave, sizeof slave), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (setsid() < 0 || open(slave, O_RDWR) < 0)
            _exit(2);
        int tty = open("/dev/tty", O_RDWR); /* control: it is reachable */
        if (tty < 0)
            _exit(3);
        close(tty);
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, "(exec 3</dev/tty) 2>/dev/null && echo TTY-OPEN; "
                     "test -e /dev/tty && echo TTY-NODE; "
                     "awk '{print \"sid=\" $6 \" tty=\" $7}' /proc/self/stat; "
                     "readlink /proc/self/fd/0");
        int rc = run(&o, &r);
        bool ok = rc == 0 && strstr(r.out.data, "TTY-") == NULL &&
                  strstr(r.out.data, " tty=0\n") != NULL &&
                  strstr(r.out.data, "null\n") != NULL;
        if (!ok)
            fprintf(stderr, "rc %d: %s%s\n", rc, r.out.data, r.err.data);
        _exit(ok ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    close(master);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

/* /proc and /sys as the OCI defaults: masked paths read empty, the
 * read-only ones are read-only mounts (on the host, root may write
 * /proc/irq and read /proc/timer_list: the control). */
START_TEST(test_proc_sys_masked_read_only)
{
    if (geteuid() != 0)
        return;
    int fd = open("/proc/irq/default_smp_affinity", O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0); /* opened, nothing written */
    close(fd);
    char buf[256];
    FILE *f = fopen("/proc/timer_list", "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(fread(buf, 1, sizeof buf, f), 0);
    fclose(f);

    sandbox_opts o;
    sandbox_result r;
    opts_for(&o,
             "for f in /proc/kcore /proc/keys /proc/latency_stats "
             "/proc/interrupts "
             "/proc/timer_list /proc/timer_stats /proc/sched_debug; do "
             "test -e $f && echo $f=$(cat $f | wc -c); done; "
             "for d in /proc/acpi /proc/asound /proc/scsi /sys/firmware "
             "/sys/devices/virtual/powercap; do "
             "test -d $d && echo $d=$(ls -A $d | wc -l); done; "
             "for f in /proc/irq/default_smp_affinity /proc/irq/*/smp_affinity "
             "/proc/sysrq-trigger /proc/sys/kernel/hostname; do "
             "(echo 1 > $f) 2>/dev/null && echo WRITABLE:$f; done; "
             "for m in bus fs irq sys sysrq-trigger; do "
             "grep -q \" /proc/$m ro,\" /proc/self/mountinfo && echo ro:$m; "
             "done; echo done");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(strstr(r.out.data, "WRITABLE") == NULL, "%s", r.out.data);
    ck_assert_msg(strstr(r.out.data, "/proc/timer_list=0\n") != NULL, "%s",
                  r.out.data);
    for (const char *p = r.out.data; (p = strchr(p, '=')) != NULL; p++)
        ck_assert_msg(p[1] == '0' && p[2] == '\n', "not masked: %s",
                      r.out.data);
    static const char *const ro[] = {"bus", "fs", "irq", "sys",
                                     "sysrq-trigger"};
    for (size_t i = 0; i < sizeof ro / sizeof *ro; i++) {
        char host[64], want[64];
        snprintf(host, sizeof host, "/proc/%s", ro[i]);
        snprintf(want, sizeof want, "ro:%s\n", ro[i]);
        if (access(host, F_OK) == 0) /* this kernel has it */
            ck_assert_msg(strstr(r.out.data, want) != NULL, "%s missing: %s",
                          want, r.out.data);
    }
    sandbox_result_free(&r);
}
END_TEST

/* Processes whose command line contains needle (NULs read as spaces);
 * the first one's pid in *first. */
static int count_cmdline(const char *needle, pid_t *first)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[512];
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        for (ssize_t i = 0; i < len; i++)
            buf[i] = buf[i] ? buf[i] : ' ';
        buf[len] = '\0';
        if (strstr(buf, needle) != NULL) {
            if (n++ == 0 && first != NULL)
                *first = (pid_t)atoi(de->d_name);
        }
    }
    closedir(d);
    return n;
}

static bool wait_count(const char *needle, int at_least, double sec)
{
    double t0 = now_sec();
    while (count_cmdline(needle, NULL) < at_least)
        if (now_sec() - t0 > sec)
            return false;
        else
            usleep(10000);
    return true;
}

/* SIGKILL the caller: a plain orphan (the control) lives on; the box, its
 * pid-namespace init SIGKILLed by PR_SET_PDEATHSIG, goes within 5 s, and
 * `sandbox gc` removes the cgroup it left. */
START_TEST(test_box_dies_with_its_caller)
{
    char ctl[32], marker[32], cmd[128];
    snprintf(ctl, sizeof ctl, "3600.1%ld", (long)getpid());
    snprintf(marker, sizeof marker, "3600.2%ld", (long)getpid());

    snprintf(cmd, sizeof cmd, "sleep %s & sleep %s", ctl, ctl);
    pid_t sh = fork();
    if (sh == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    ck_assert(wait_count(ctl, 2, 10));
    kill(sh, SIGKILL);
    waitpid(sh, NULL, 0);
    usleep(300000);
    pid_t orphan = -1;
    int survivors = count_cmdline(ctl, &orphan);
    for (int i = 0; i < 100 && count_cmdline(ctl, &orphan) > 0; i++) {
        kill(orphan, SIGKILL);
        usleep(10000);
    }
    ck_assert_int_ge(survivors, 1); /* the attack class is real */

    snprintf(cmd, sizeof cmd, "sleep %s & sleep %s", marker, marker);
    pid_t caller = fork();
    if (caller == 0) {
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, cmd);
        o.timeout_sec = 120;
        run(&o, &r);
        _exit(0);
    }
    pid_t boxed = -1;
    ck_assert(wait_count(marker, 2, 20));
    count_cmdline(marker, &boxed);
    char cgpath[128], line[512], name[128] = "";
    snprintf(cgpath, sizeof cgpath, "/proc/%ld/cgroup", (long)boxed);
    FILE *f = fopen(cgpath, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, ":memory:/libsandbox/") != NULL)
            sscanf(strstr(line, "/libsandbox/") + 12, "%127[^\n]", name);
    fclose(f);
    ck_assert_msg(strncmp(name, "sandbox-", 8) == 0, "cgroup '%s'", name);

    double t0 = now_sec();
    kill(caller, SIGKILL);
    waitpid(caller, NULL, 0);
    while (count_cmdline(marker, NULL) > 0 && now_sec() - t0 < 5)
        usleep(5000);
    double gone = now_sec() - t0;
    ck_assert_msg(count_cmdline(marker, NULL) == 0,
                  "box processes outlived their caller by 5 s");
    fprintf(stderr, "box gone %.0f ms after its caller's SIGKILL\n",
            gone * 1e3);
    ck_assert_int_gt(run_cgroups(name), 0); /* left behind, empty */
    for (int i = 0; i < 30 && run_cgroups(name) > 0; i++) {
        unsigned removed = 0;
        ck_assert_int_eq(sandbox_gc("native", 0, &removed, NULL), 0);
        if (run_cgroups(name) > 0)
            sleep(1);
    }
    ck_assert_int_eq(run_cgroups(name), 0);
}
END_TEST

/* A caller that ignores SIGPIPE and blocks SIGUSR1 hands both to an
 * ordinary child (the control); the box sees defaults and an empty mask. */
START_TEST(test_box_signals_reset)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);
    signal(SIGPIPE, SIG_IGN);
    /* Control: fork + exec keeps both (execve resets only handlers). */
    char host[256] = "";
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        execl("/bin/grep", "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], host, sizeof host - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    host[n > 0 ? n : 0] = '\0';
    ck_assert_msg(strstr(host, "SigBlk:\t0000000000000200") != NULL &&
                      strstr(host, "1000\n") != NULL,
                  "control: %s", host);

    sandbox_opts o;
    sandbox_result r;
    /* "; true": busybox sh ignores SIGQUIT in a command it execs in place
     * of itself; a forked command shows what the box was given. */
    opts_for(&o, "grep -E '^Sig(Ign|Blk)' /proc/self/status; true");
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_str_eq(r.out.data, "SigBlk:\t0000000000000000\n"
                                 "SigIgn:\t0000000000000000\n");
    sandbox_result_free(&r);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}
END_TEST

/* setsid(2) fails with EPERM in this process and its children. */
static int deny_setsid(void)
{
#ifdef __x86_64__
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setsid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof *f, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
#else
    return -1;
#endif
}

/* The box's child failing before the parent's "go" never kills the caller
 * with SIGPIPE (the control: a write nobody reads does), and the error
 * names the step. */
START_TEST(test_early_child_failure_no_sigpipe)
{
#ifndef __x86_64__
    return; /* deny_setsid() is written for x86_64 */
#endif
    pid_t pid = fork();
    if (pid == 0) {
        int fds[2];
        if (pipe(fds) < 0)
            _exit(2);
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        ssize_t w = write(fds[1], "x", 1);
        _exit(w < 0 ? 3 : 4);
    }
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);

    for (int round = 0; round < 20; round++) {
        pid = fork();
        if (pid == 0) {
            signal(SIGPIPE, SIG_DFL);
            if (deny_setsid() < 0)
                _exit(2);
            sandbox_opts o;
            sandbox_result r;
            opts_for(&o, "echo RAN");
            int rc = run(&o, &r);
            bool ok = rc == SANDBOX_ESPAWN &&
                      strstr(r.message, "new session") != NULL;
            if (!ok)
                fprintf(stderr, "rc %d: %s\n", rc, r.message);
            _exit(ok ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "round %d: status %d (signal %d)", round, st,
                      WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
}
END_TEST

/* Forget the rootfs cache refs of test images and let gc delete their
 * exports, so a test leaves no cache entry behind. */
static void drop_refs(const char *const *refs, size_t n)
{
    char path[512];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/var/cache/libsandbox/rootfs/refs/%s",
                 refs[i]);
        unlink(path);
    }
    unsigned removed = 0;
    sandbox_gc("native", 0, &removed, NULL);
}

/* 'foo/bar:latest' and 'foo_bar_latest' once shared a rootfs cache entry
 * (both escaped to foo_bar_latest): the second ran the first's files. */
START_TEST(test_distinct_image_names_distinct_rootfs)
{
    if (system("podman --version >/dev/null 2>&1") != 0)
        return;
    ck_assert_int_eq(
        system("podman rmi -f localhost/sbxesc/a:latest "
               "localhost/sbxesc_a_latest >/dev/null 2>&1; "
               "podman rm -f sbxesc-c >/dev/null 2>&1; "
               "podman run --name sbxesc-c busybox:latest touch /marker-a && "
               "podman commit -q sbxesc-c localhost/sbxesc/a:latest "
               ">/dev/null && podman rm sbxesc-c >/dev/null && "
               "podman tag busybox:latest localhost/sbxesc_a_latest"),
        0);
    static const char *const images[] = {
        "localhost/sbxesc/a:latest", "localhost/sbxesc_a_latest",
        "localhost/sbxesc/a:latest", "localhost/sbxesc_a_latest"};
    for (size_t i = 0; i < 4; i++) {
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, "test -e /marker-a && echo A || echo B");
        o.image = images[i];
        ck_assert_int_eq(run(&o, &r), 0);
        ck_assert_msg(r.exit_code == 0, "%s", r.message);
        ck_assert_str_eq(r.out.data, i % 2 == 0 ? "A\n" : "B\n");
        sandbox_result_free(&r);
    }
    ck_assert_int_eq(system("podman rmi -f localhost/sbxesc/a:latest "
                            "localhost/sbxesc_a_latest >/dev/null 2>&1"),
                     0);
    static const char *const refs[] = {"podman@localhost+sbxesc+a_latest",
                                       "podman@localhost+sbxesc%5Fa%5Flatest"};
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "/var/cache/libsandbox/rootfs/refs/%s",
                 refs[i]);
        ck_assert_msg(access(path, F_OK) == 0, "no ref %s", refs[i]);
    }
    drop_refs(refs, 2);
}
END_TEST

/* An image whose /data is a symlink to a host path: the old host-side
 * `mkdir -p <rootfs>/data/sub` created the directory on the host (the
 * control does exactly that); now the run is refused and nothing is made. */
START_TEST(test_mount_point_symlink_not_followed)
{
    if (system("podman --version >/dev/null 2>&1") != 0 || geteuid() != 0)
        return;
    char target[] = "/tmp/sbx-target-XXXXXX", src[] = "/tmp/sbx-src-XXXXXX";
    char cmd[1024], sub[128];
    ck_assert_ptr_nonnull(mkdtemp(target));
    ck_assert_ptr_nonnull(mkdtemp(src));
    snprintf(sub, sizeof sub, "%s/sub", target);
    snprintf(cmd, sizeof cmd,
             "podman rm -f sbxln-c >/dev/null 2>&1; "
             "podman run --name sbxln-c busybox:latest ln -s %s /data && "
             "podman commit -q sbxln-c localhost/sbx-symlink:latest "
             ">/dev/null && podman rm sbxln-c >/dev/null",
             target);
    ck_assert_int_eq(system(cmd), 0);
    sandbox_opts o;
    sandbox_result r;
    sandbox_mount m = {src, "/data/sub", 0};
    opts_for(&o, "true");
    o.image = "localhost/sbx-symlink:latest";
    o.mounts = &m;
    o.n_mounts = 1;
    ck_assert_int_eq(run(&o, &r), SANDBOX_EINVAL);
    ck_assert_msg(strstr(r.message, "symbolic link") != NULL, "%s", r.message);
    sandbox_result_free(&r);
    ck_assert_int_ne(access(sub, F_OK), 0);

    /* Control: a path-following mkdir on the same cached export. */
    char id[160] = "";
    FILE *f = fopen("/var/cache/libsandbox/rootfs/refs/"
                    "podman@localhost+sbx-symlink_latest",
                    "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%159s", id), 1);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "mkdir -p /var/cache/libsandbox/rootfs/%s/data/sub", id);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(access(sub, F_OK), 0); /* it lands on the host */
    snprintf(cmd, sizeof cmd,
             "rm -rf %s %s; podman rmi -f localhost/sbx-symlink:latest "
             ">/dev/null 2>&1",
             target, src);
    ck_assert_int_eq(system(cmd), 0);
    static const char *const refs[] = {"podman@localhost+sbx-symlink_latest"};
    drop_refs(refs, 1);
}
END_TEST

/* One process OOM-killed, the box going on to exit 0: EXITED 0, with the
 * OOM kill in the message (the whole box OOM-killed stays OOM: see
 * test_oom_exact_and_peak_reported). */
START_TEST(test_oom_kill_that_did_not_end_the_box)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "sh -c 'x=$(head -c 268435456 /dev/zero | tr \"\\0\" a); "
                 "echo ${#x}'; echo survived");
    o.memory = "32m";
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(r.reason == SANDBOX_END_EXITED && r.exit_code == 0,
                  "reason %d exit %d: %s", r.reason, r.exit_code, r.message);
    ck_assert_ptr_nonnull(strstr(r.out.data, "survived"));
    ck_assert_msg(r.message != NULL && strstr(r.message, "OOM-killed"), "%s",
                  r.message ? r.message : "(no message)");
    sandbox_result_free(&r);
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
    tcase_add_test(tc, test_box_root_is_not_host_root);
    tcase_add_test(tc, test_no_subid_range_is_an_error);
    tcase_add_test(tc, test_no_controlling_terminal);
    tcase_add_test(tc, test_proc_sys_masked_read_only);
    tcase_add_test(tc, test_box_dies_with_its_caller);
    tcase_add_test(tc, test_box_signals_reset);
    tcase_add_test(tc, test_early_child_failure_no_sigpipe);
    tcase_add_test(tc, test_distinct_image_names_distinct_rootfs);
    tcase_add_test(tc, test_mount_point_symlink_not_followed);
    tcase_add_test(tc, test_oom_kill_that_did_not_end_the_box);
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
