/* SPDX-License-Identifier: MIT */
/* The workspace on a real backend, through the public API only:
 * SANDBOX_TEST_RUNTIME=native|podman|docker (ctest runs it once per
 * backend).  The box attacks the host through /workspace (fills the disk,
 * leaves setuid binaries, plants links to /etc/shadow) and each check is
 * made on the host.  Needs root and the busybox image. */
#include <sandbox.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OWNER 1000

static const char *runtime(void)
{
    const char *r = getenv("SANDBOX_TEST_RUNTIME");
    return r && *r ? r : "native";
}

static char *root_dir; /* made and removed outside the forked test */
static char *ws_dir;

static int rm_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st;
    (void)f;
    (void)w;
    remove(p);
    return 0;
}

/* A fresh workspace owned by OWNER (the caller is root: the workspace's
 * owner is who committed files must belong to). */
static void root_setup(void)
{
    char tmpl[] = "/tmp/sbx-wstest-XXXXXX";
    root_dir = mkdtemp(tmpl) ? strdup(tmpl) : NULL;
}

static void root_teardown(void)
{
    if (root_dir != NULL)
        nftw(root_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(root_dir);
    root_dir = NULL;
}

static void ws_setup(void)
{
    ck_assert_ptr_nonnull(root_dir);
    ck_assert_int_ge(asprintf(&ws_dir, "%s/ws-XXXXXX", root_dir), 0);
    ck_assert_ptr_nonnull(mkdtemp(ws_dir));
    ck_assert_int_eq(chown(ws_dir, OWNER, OWNER), 0);
    ck_assert_int_eq(chmod(ws_dir, 0755), 0);
}

static void ws_teardown(void)
{
    nftw(ws_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(ws_dir);
    ws_dir = NULL;
}

static char *at(const char *rel)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", ws_dir, rel), 0);
    return p;
}

static void put(const char *rel, const char *content)
{
    char *p = at(rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
    ck_assert_int_eq(chown(p, OWNER, OWNER), 0);
    free(p);
}

static char *get(const char *rel)
{
    char *p = at(rel);
    FILE *f = fopen(p, "r");
    free(p);
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool present(const char *rel)
{
    char *p = at(rel);
    struct stat st;
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static int run_in_ws(const char *cmd, const char *disk_limit, double timeout,
                     sandbox_result *r)
{
    sandbox_opts o;
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.command = cmd;
    o.image = "busybox:latest";
    o.runtime = runtime();
    o.timeout_sec = timeout;
    o.workspace = ws_dir;
    o.disk_limit = disk_limit;
    ck_assert_int_eq(sandbox_result_init(r, sizeof *r), 0);
    return sandbox_run(&o, r);
}

/* Bytes the directory tree takes on disk (du). */
static unsigned long long du_bytes;
static int du_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)p;
    (void)f;
    (void)w;
    du_bytes += (unsigned long long)st->st_blocks * 512;
    return 0;
}

/* Nothing of the run is left in the staging area or the mount table. */
static void assert_no_leftovers(const sandbox_result *r)
{
    char path[256];
    struct stat st;
    ck_assert_ptr_nonnull(r->container_name);
    snprintf(path, sizeof path, "/run/libsandbox/ws/%s", r->container_name);
    ck_assert_msg(lstat(path, &st) < 0, "%s left behind", path);
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL)
        ck_assert_msg(strstr(line, r->container_name) == NULL, "mount left: %s",
                      line);
    fclose(f);
}

START_TEST(test_disk_limit_enospc)
{
    sandbox_result r;
    /* 2 GiB against a 64 MiB cap. */
    ck_assert_int_eq(
        run_in_ws("dd if=/dev/zero of=/workspace/big bs=1M count=2048 2>&1; "
                  "echo dd=$?",
                  "64m", 120, &r),
        0);
    ck_assert_msg(strstr(r.out.data, "No space left") != NULL, "%s",
                  r.out.data);
    ck_assert_msg(strstr(r.out.data, "dd=1") != NULL, "%s", r.out.data);
    ck_assert_int_eq(r.disk_limit_hit, 1);
    ck_assert_uint_ge(r.disk_bytes, 60ull << 20);
    ck_assert_uint_le(r.disk_bytes, 65ull << 20);
    du_bytes = 0;
    nftw(ws_dir, du_cb, 16, FTW_PHYS);
    ck_assert_msg(du_bytes <= (68ull << 20), "workspace grew to %llu bytes",
                  du_bytes);
    assert_no_leftovers(&r);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_under_limit_not_hit)
{
    sandbox_result r;
    ck_assert_int_eq(run_in_ws("dd if=/dev/zero of=/workspace/f bs=1M "
                               "count=8 2>/dev/null",
                               "64m", 60, &r),
                     0);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_int_eq(r.disk_limit_hit, 0);
    ck_assert_uint_ge(r.disk_bytes, 8ull << 20);
    char *p = at("f");
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, 8 << 20);
    free(p);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_sparse_file_stays_sparse)
{
    sandbox_result r;
    /* 100 GiB apparent for no tmpfs blocks: the host must not pay it. */
    ck_assert_int_eq(run_in_ws("truncate -s 100G /workspace/sparse && "
                               "echo x >> /workspace/sparse",
                               "64m", 60, &r),
                     0);
    ck_assert_msg(r.exit_code == 0, "%s%s", r.out.data, r.err.data);
    char *p = at("sparse");
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, (100ll << 30) + 2);
    ck_assert_int_lt(st.st_blocks * 512, 1 << 20);
    free(p);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_setuid_stripped)
{
    sandbox_result r;
    ck_assert_int_eq(run_in_ws("cp /bin/sh /workspace/sh && "
                               "{ chmod 4755 /workspace/sh; "
                               "ls -l /workspace/sh; }",
                               NULL, 60, &r),
                     0);
    ck_assert_msg(r.exit_code == 0, "%s%s", r.out.data, r.err.data);
    /* The shared seccomp policy refuses setuid modes (EPERM); if a box
     * ever gets the bit in its own view, the commit-back must strip it
     * (unit_workspace tests that layer on its own).  Either way: */
    ck_assert_msg(strstr(r.out.data, "rwsr-xr-x") != NULL ||
                      strstr(r.err.data, "not permitted") != NULL,
                  "%s%s", r.out.data, r.err.data);
    /* ... never on the host. */
    char *p = at("sh");
    struct stat st;
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0755);
    ck_assert_int_eq(st.st_uid, OWNER);
    ck_assert_int_eq(st.st_gid, OWNER);
    free(p);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_modify_delete_seen)
{
    put("edit", "one\n");
    put("gone", "gone\n");
    char *d = at("dir");
    ck_assert_int_eq(mkdir(d, 0755), 0);
    ck_assert_int_eq(chown(d, OWNER, OWNER), 0);
    free(d);
    put("dir/inner", "inner\n");
    sandbox_result r;
    ck_assert_int_eq(run_in_ws("cd /workspace && stat -c %u edit && "
                               "echo two >> edit && rm gone && rm -r dir && "
                               "mkdir -p new/sub && echo n > new/sub/f",
                               NULL, 60, &r),
                     0);
    ck_assert_msg(r.exit_code == 0, "%s%s", r.out.data, r.err.data);
    /* The box sees the workspace owner's files as its root's. */
    ck_assert_str_eq(r.out.data, "0\n");
    char *s = get("edit");
    ck_assert_str_eq(s, "one\ntwo\n");
    free(s);
    ck_assert(!present("gone"));
    ck_assert(!present("dir"));
    s = get("new/sub/f");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "n\n");
    free(s);
    char *p = at("new/sub");
    struct stat st;
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert_int_eq(st.st_uid, OWNER);
    free(p);
    assert_no_leftovers(&r);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_shadow_link_not_followed)
{
    struct stat before, after;
    ck_assert_int_eq(stat("/etc/shadow", &before), 0);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ck_assert_int_ge(in, 0);
    ck_assert_int_ge(
        inotify_add_watch(in, "/etc/shadow",
                          IN_OPEN | IN_ACCESS | IN_MODIFY | IN_ATTRIB),
        0);
    sandbox_result r;
    /* A link out, then content "through" it, then a directory swapped
     * for a link: the commit must recreate links, never follow them. */
    ck_assert_int_eq(run_in_ws("cd /workspace && ln -s /etc/shadow shadow && "
                               "ln -s /etc etc && mkfifo fifo",
                               NULL, 60, &r),
                     0);
    ck_assert_msg(r.exit_code == 0, "%s%s", r.out.data, r.err.data);
    char *p = at("shadow");
    struct stat st;
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(st.st_uid, OWNER);
    char target[64];
    ssize_t n = readlink(p, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, "/etc/shadow");
    free(p);
    ck_assert(!present("fifo"));
    ck_assert_ptr_nonnull(r.message);
    ck_assert_msg(strstr(r.message, "not copied back") != NULL, "%s",
                  r.message);
    /* /etc/shadow was neither opened nor changed. */
    char ev[4096];
    ck_assert_int_lt(read(in, ev, sizeof ev), 0);
    ck_assert_int_eq(stat("/etc/shadow", &after), 0);
    ck_assert_int_eq(before.st_ctime, after.st_ctime);
    ck_assert_int_eq(before.st_mtime, after.st_mtime);
    /* Control: the watch does see an open. */
    int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_gt(read(in, ev, sizeof ev), 0);
    close(in);
    sandbox_result_free(&r);

    /* Second run: write "into" the linked directory. */
    ck_assert_int_eq(run_in_ws("echo pwned > /workspace/etc/pwned; "
                               "rm /workspace/etc; mkdir /workspace/etc; "
                               "echo inside > /workspace/etc/pwned",
                               NULL, 60, &r),
                     0);
    ck_assert_int_lt(lstat("/etc/pwned", &st), 0);
    char *s = get("etc/pwned");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "inside\n");
    free(s);
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_commit_after_timeout)
{
    sandbox_result r;
    ck_assert_int_eq(
        run_in_ws("echo before > /workspace/t; sleep 30", NULL, 2, &r), 0);
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    char *s = get("t");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "before\n");
    free(s);
    assert_no_leftovers(&r);
    sandbox_result_free(&r);
}
END_TEST

/* Entries of the staging area (0 if it does not exist). */
static int staged_runs(void)
{
    DIR *d = opendir("/run/libsandbox/ws");
    int n = 0;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "sandbox-", 8) == 0;
    if (d != NULL)
        closedir(d);
    return n;
}

START_TEST(test_caller_killed_staging_swept)
{
    /* Other tests' runs may be staged too: wait for ours to appear. */
    int before = staged_runs();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sandbox_result r;
        run_in_ws("echo lost > /workspace/lost; sleep 3", NULL, 60, &r);
        _exit(0);
    }
    for (int i = 0; i < 200 && staged_runs() <= before; i++)
        usleep(50000);
    ck_assert_int_gt(staged_runs(), before);
    usleep(500000); /* let the box start */
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    /* The caller is gone: gc (or the next run) sweeps its staging, the
     * box's writes are dropped, not half-applied. */
    unsigned removed = 0;
    ck_assert_int_eq(sandbox_gc(runtime(), 0, &removed, NULL), 0);
    ck_assert_uint_ge(removed, 1);
    ck_assert_int_eq(staged_runs(), before);
    ck_assert(!present("lost"));
    sleep(4); /* the orphaned native box ends by itself */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("workspace");
    TCase *c = tcase_create(runtime());
    tcase_add_unchecked_fixture(c, root_setup, root_teardown);
    tcase_add_checked_fixture(c, ws_setup, ws_teardown);
    tcase_set_timeout(c, 300);
    tcase_add_test(c, test_disk_limit_enospc);
    tcase_add_test(c, test_under_limit_not_hit);
    tcase_add_test(c, test_sparse_file_stays_sparse);
    tcase_add_test(c, test_setuid_stripped);
    tcase_add_test(c, test_modify_delete_seen);
    tcase_add_test(c, test_shadow_link_not_followed);
    tcase_add_test(c, test_commit_after_timeout);
    tcase_add_test(c, test_caller_killed_staging_swept);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "workspace: needs root (skipped)\n");
        return 77;
    }
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
