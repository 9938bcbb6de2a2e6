/* SPDX-License-Identifier: MIT */
/* A box whose owner and guardian die together (one SIGKILL each, as a
 * `kill -9` of both or an OOM-killer sweep would do): nobody runs destroy
 * and nobody runs the guardian's cleanup.  The box itself ends (its init
 * sees the control socket close), but the kill groups of the execs that
 * were running stay: cgroup directories nobody owns.  The attack's
 * landing is shown first (they are there once the box is gone); then
 * sandbox_gc must remove them, and the box's container, cgroups and
 * workspace staging (the box has a workspace; nothing is committed), while
 * a live box's kill groups, older than gc's age limit and with an exec
 * running, survive the same gc and the box still execs.
 * SANDBOX_TEST_RUNTIME: native, podman or docker (ctest: box-orphans-*). */
#define BU_DEFAULT_RUNTIME "native"
#include "box_util.h"

#include <check.h>
#include <dirent.h>
#include <glob.h>
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

#define KILLGROUP_ROOT "/sys/fs/cgroup/unified/libsandbox"

static bool is_native(void)
{
    return strcmp(bu_runtime(), "native") == 0;
}

static bool path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static sandbox_box *make_box(const char *workspace)
{
    sandbox_opts o;
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.workspace = workspace;
    const char *img = getenv("SANDBOX_TEST_IMAGE");
    o.image = img && *img ? img : "busybox:latest";
    o.runtime = bu_runtime();
    o.memory = "256m";
    return bu_box_create(&o);
}

static void *sleeper(void *arg)
{
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "sleep 1000";
    x.timeout_sec = 600;
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    sandbox_box_exec(arg, &x, &r);
    sandbox_result_free(&r);
    return NULL;
}

/* dir/exec-1 and dir/exec-2 exist (both sleepers are in their groups). */
static bool both_groups(const char *dir)
{
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/exec-1", dir);
    snprintf(b, sizeof b, "%s/exec-2", dir);
    return path_exists(a) && path_exists(b);
}

/* The owner's child named sbx-guardian. */
static pid_t guardian_of(pid_t owner)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    pid_t found = -1;
    for (struct dirent *de; found < 0 && (de = readdir(d)) != NULL;) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *close_paren = strrchr(buf, ')');
        char state;
        long ppid;
        if (close_paren == NULL ||
            sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2)
            continue;
        if (ppid == (long)owner && strstr(buf, "(sbx-guardian)") != NULL)
            found = (pid_t)atol(de->d_name);
    }
    closedir(d);
    return found;
}

/* A mount whose source or target names the box (its workspace staging). */
static bool mounted(const char *name)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

static size_t ctl_dirs(const char *pattern)
{
    glob_t g;
    size_t n = glob(pattern, GLOB_NOSORT, NULL, &g) == 0 ? g.gl_pathc : 0;
    if (n > 0)
        globfree(&g);
    return n;
}

static bool container_gone(const char *name)
{
    if (is_native())
        return true;
    char *argv[] = {(char *)bu_runtime(), "container", "inspect", (char *)name,
                    NULL};
    return bu_host_run(argv, NULL) != 0;
}

START_TEST(owner_and_guardian_sigkill)
{
    /* The live box, with an exec running through the gc below. */
    char ws[] = "/tmp/libsandbox-test-orphan-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(ws));
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t owner = fork();
    ck_assert_int_ge(owner, 0);
    if (owner == 0) {
        close(p[0]);
        sandbox_box *b = make_box(ws);
        pthread_t t;
        pthread_create(&t, NULL, sleeper, b);
        pthread_create(&t, NULL, sleeper, b);
        const char *n = sandbox_box_name(b);
        if (write(p[1], n, strlen(n) + 1) < 0)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char name[256] = "";
    ck_assert_int_gt(read(p[0], name, sizeof name - 1), 0);
    close(p[0]);
    /* Only now: a fork while another thread of ours is in the library
     * (its allocator's locks held) leaves the owner hung under ASan. */
    sandbox_box *live = make_box(NULL);
    pthread_t lt;
    ck_assert_int_eq(pthread_create(&lt, NULL, sleeper, live), 0);
    char kg[512], live_kg[512], mem[512];
    snprintf(kg, sizeof kg, KILLGROUP_ROOT "/%s", name);
    snprintf(live_kg, sizeof live_kg, KILLGROUP_ROOT "/%s",
             sandbox_box_name(live));
    snprintf(mem, sizeof mem, "/sys/fs/cgroup/memory/libsandbox/%s", name);
    double t0 = bu_now();
    while (!both_groups(kg) && bu_now() - t0 < 30)
        bu_nap(0.05);
    ck_assert_msg(both_groups(kg), "the owner's execs never started");
    char live_g1[600];
    snprintf(live_g1, sizeof live_g1, "%s/exec-1", live_kg);
    while (!path_exists(live_g1) && bu_now() - t0 < 30)
        bu_nap(0.05);
    ck_assert_msg(path_exists(live_g1), "the live box's exec never started");

    pid_t guard = guardian_of(owner);
    ck_assert_int_gt(guard, 0);
    kill(guard, SIGKILL);
    kill(owner, SIGKILL);
    waitpid(owner, NULL, 0);

    /* The box ends (its init sees the socket close); the kill groups of
     * the two execs stay: the attack lands. */
    char procs[600];
    snprintf(procs, sizeof procs, "%s/exec-1/cgroup.procs", kg);
    bool empty = false;
    for (t0 = bu_now(); !empty && bu_now() - t0 < 20; bu_nap(0.1)) {
        FILE *f = fopen(procs, "r");
        char line[64];
        empty = f == NULL || fgets(line, sizeof line, f) == NULL;
        if (f != NULL)
            fclose(f);
    }
    ck_assert_msg(empty, "the box's execs outlived its owner and guardian");
    ck_assert_msg(both_groups(kg), "control: the dead box's kill groups "
                                   "were removed without gc");

    /* A container box's control directory, named by its owner's pid. */
    char ctl_pat[128];
    snprintf(ctl_pat, sizeof ctl_pat, "/tmp/libsandbox-box-%ld-*", (long)owner);
    ck_assert_msg(is_native() || ctl_dirs(ctl_pat) == 1,
                  "control: the dead box's control directory was removed "
                  "without gc");

    /* gc sweeps only what is older than 10 s. */
    bu_nap(11);
    unsigned removed = 0;
    char *msg = NULL;
    int rc = sandbox_gc(bu_runtime(), 0, &removed, &msg);
    ck_assert_msg(rc == 0, "gc: %s", msg ? msg : "-");
    sandbox_free(msg);
    bool ctl_gone = ctl_dirs(ctl_pat) == 0;
    bool gone = !path_exists(kg);
    bool mem_gone = !path_exists(mem);
    bool cont_gone = container_gone(name);
    char staged[600];
    snprintf(staged, sizeof staged, "/run/libsandbox/ws/%s", name);
    bool ws_gone = !path_exists(staged) && !mounted(name);

    /* The live box: its kill groups and its running exec survived. */
    bool live_kept = path_exists(live_kg);
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "echo alive";
    x.timeout_sec = 30;
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    ck_assert_int_eq(sandbox_box_exec(live, &x, &r), 0);
    ck_assert_str_eq(r.out.data, "alive\n");
    sandbox_result_free(&r);
    ck_assert_int_eq(sandbox_box_destroy(live, NULL), 0);
    pthread_join(lt, NULL); /* its exec ends with the box */
    sandbox_box_free(live);

    ck_assert_msg(gone, "gc left the dead box's kill groups %s", kg);
    ck_assert_msg(mem_gone, "gc left the dead box's cgroup %s", mem);
    ck_assert_msg(cont_gone, "gc left the dead box's container %s", name);
    ck_assert_msg(ws_gone, "gc left the dead box's workspace staging %s",
                  staged);
    ck_assert_msg(ctl_gone, "gc left the dead box's control directory %s",
                  ctl_pat);
    ck_assert_msg(live_kept, "gc removed a live box's kill groups");
    ck_assert_int_eq(rmdir(ws), 0); /* nothing committed into it */
    ck_assert_msg(!path_exists(live_kg), "destroy left %s", live_kg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("box_orphans");
    TCase *tc = tcase_create("orphans");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, owner_and_guardian_sigkill);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
