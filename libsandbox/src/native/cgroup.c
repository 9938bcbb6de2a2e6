/* SPDX-License-Identifier: MIT */
/* cgroups for the native backend: memory (no swap), pids and cpu limits,
 * OOM kills, peak memory and CPU time, and complete removal.  Works on
 * cgroup v1 (this host: one hierarchy per controller) and v2. */
#include "native.h"
#include "../box.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <sys/file.h>
#include <time.h>

#define SBX_CG_SWEEP_EVERY_SEC 60

static const char *const v1_names[SBX_CG_N] = {"memory", "pids", "cpu",
                                               "cpuacct"};

static int write_file(const char *dir, const char *file, const char *val)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return sbx_write_file(path, val);
}

static int read_file(const char *dir, const char *file, char *buf, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return 0;
}

static uint64_t read_u64(const char *dir, const char *file)
{
    char buf[64];
    if (read_file(dir, file, buf, sizeof buf) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

/* Value of "key N" in a flat keyed file (memory.events, cpu.stat...). */
static uint64_t read_key(const char *dir, const char *file, const char *key)
{
    char buf[4096];
    if (read_file(dir, file, buf, sizeof buf) < 0)
        return 0;
    size_t kl = strlen(key);
    for (char *line = buf; line && *line;) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
            return strtoull(line + kl + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

/* Find cgroup mounts in /proc/self/mountinfo: v1 hierarchies carrying each
 * controller, and the v2 mount. */
static void find_mounts(char *v1[SBX_CG_N], char **v2)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    if (f == NULL)
        return;
    while (getline(&line, &cap, f) > 0) {
        /* ... mount_point opts - fstype source super_opts */
        char *fields[16] = {0}, *save = NULL;
        int n = 0;
        /* strtok_r: strtok's hidden state would race between threads. */
        for (char *tok = strtok_r(line, " \n", &save); tok && n < 16;
             tok = strtok_r(NULL, " \n", &save))
            fields[n++] = tok;
        int dash = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(fields[i], "-") == 0) {
                dash = i;
                break;
            }
        if (dash < 0 || dash + 3 >= n + 1 || fields[dash + 1] == NULL)
            continue;
        const char *mnt = fields[4], *type = fields[dash + 1];
        const char *super = dash + 3 < n ? fields[dash + 3] : "";
        if (strcmp(type, "cgroup2") == 0 && *v2 == NULL) {
            *v2 = sbx_strdup(mnt);
        } else if (strcmp(type, "cgroup") == 0) {
            char opts[512];
            snprintf(opts, sizeof opts, ",%s,", super);
            for (int c = 0; c < SBX_CG_N; c++) {
                char want[32];
                snprintf(want, sizeof want, ",%s,", v1_names[c]);
                if (v1[c] == NULL && strstr(opts, want) != NULL)
                    v1[c] = sbx_strdup(mnt);
            }
        }
    }
    free(line);
    fclose(f);
}

static int make_dir(const char *path, sbx_err *e)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        int err = errno;
        char buf[128];
        if (err == EACCES || err == EPERM || err == EROFS)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "the native runtime cannot create the cgroup "
                            "'%s' (%s), so it cannot enforce the memory, pids "
                            "and cpu limits: run as root, or delegate a "
                            "cgroup v2 subtree to this user (e.g. systemd-run "
                            "--user --scope -p Delegate=yes)",
                            path, strerror_r(err, buf, sizeof buf));
        return sbx_fail_errno(e, SANDBOX_EIO, err, "mkdir %s", path);
    }
    return 0;
}

static int set(const char *dir, const char *file, const char *val, sbx_err *e)
{
    int rc = write_file(dir, file, val);
    if (rc < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, -rc, "cannot set %s/%s to %s",
                              dir, file, val);
    return 0;
}

/* v1: libsandbox/<name> in each controller's hierarchy (one directory per
 * distinct hierarchy gets a cgroup.procs); v2: one directory. */
static int layout_v1(sbx_cgroup *cg, char *v1[SBX_CG_N], const char *name,
                     bool make, sbx_err *e)
{
    int rc = 0;
    cg->version = 1;
    if (v1[SBX_CG_CPUACCT] == NULL)
        v1[SBX_CG_CPUACCT] = sbx_strdup(v1[SBX_CG_CPU]);
    for (int c = 0; c < SBX_CG_N && rc == 0; c++) {
        sbx_autofree char *parent = sbx_asprintf("%s/libsandbox", v1[c]);
        bool shared = false;
        for (int d = 0; d < c; d++)
            shared |= strcmp(v1[d], v1[c]) == 0;
        if (parent == NULL)
            return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
        if (make && (rc = make_dir(parent, e)) < 0)
            return rc;
        cg->dir[c] = sbx_asprintf("%s/%s", parent, name);
        if (cg->dir[c] == NULL)
            return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
        if (!shared && (!make || (rc = make_dir(cg->dir[c], e)) == 0))
            cg->procs[c] = sbx_asprintf("%s/cgroup.procs", cg->dir[c]);
    }
    return rc;
}

static int layout_v2(sbx_cgroup *cg, const char *v2, const char *name,
                     bool make, sbx_err *e)
{
    int rc;
    cg->version = 2;
    sbx_autofree char *parent = sbx_asprintf("%s/libsandbox", v2);
    sbx_autofree char *dir = parent ? sbx_asprintf("%s/%s", parent, name) : 0;
    if (dir == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if (make) {
        if ((rc = make_dir(parent, e)) < 0)
            return rc;
        write_file(v2, "cgroup.subtree_control", "+memory +pids +cpu");
        write_file(parent, "cgroup.subtree_control", "+memory +pids +cpu");
        if ((rc = make_dir(dir, e)) < 0)
            return rc;
    }
    for (int c = 0; c < SBX_CG_N; c++)
        cg->dir[c] = sbx_strdup(dir);
    cg->procs[0] = sbx_asprintf("%s/cgroup.procs", dir);
    return 0;
}

/* Fill cg's paths for run `name` (creating the directories when make). */
static int layout(sbx_cgroup *cg, const char *name, bool make, sbx_err *e)
{
    char *v1[SBX_CG_N] = {0}, *v2 = NULL;
    int rc;
    memset(cg, 0, sizeof *cg);
    cg->lock_fd = -1;
    find_mounts(v1, &v2);
    if (v1[SBX_CG_MEMORY] && v1[SBX_CG_PIDS] && v1[SBX_CG_CPU])
        rc = layout_v1(cg, v1, name, make, e);
    else if (v2 != NULL)
        rc = layout_v2(cg, v2, name, make, e);
    else
        rc = sbx_fail(e, SANDBOX_EINVAL,
                      "the native runtime found no cgroup hierarchy with the "
                      "memory, pids and cpu controllers (see "
                      "/proc/self/mountinfo); it cannot enforce limits");
    for (int c = 0; c < SBX_CG_N; c++)
        free(v1[c]);
    free(v2);
    return rc;
}

static int set_limits(const sbx_cgroup *cg, const sbx_plan *plan, sbx_err *e)
{
    char val[64];
    int rc = 0;
    const char *mem = cg->dir[SBX_CG_MEMORY], *cpu = cg->dir[SBX_CG_CPU];
    snprintf(val, sizeof val, "%llu", (unsigned long long)plan->memory_bytes);
    /* No swap: memory+swap capped at the same value, if accounted. */
    if (cg->version == 1 &&
        (rc = set(mem, "memory.limit_in_bytes", val, e)) == 0)
        write_file(mem, "memory.memsw.limit_in_bytes", val);
    if (cg->version == 2 && (rc = set(mem, "memory.max", val, e)) == 0)
        write_file(mem, "memory.swap.max", "0");
    if (rc < 0)
        return rc;
    snprintf(val, sizeof val, "%ld", plan->pids);
    if ((rc = set(cg->dir[SBX_CG_PIDS], "pids.max", val, e)) < 0)
        return rc;
    long quota = (long)(plan->cpus_value * 100000.0 + 0.5);
    if (quota < 1000)
        quota = 1000;
    if (cg->version == 2) {
        snprintf(val, sizeof val, "%ld 100000", quota);
        return set(cpu, "cpu.max", val, e);
    }
    snprintf(val, sizeof val, "%ld", quota);
    if ((rc = set(cpu, "cpu.cfs_period_us", "100000", e)) < 0)
        return rc;
    return set(cpu, "cpu.cfs_quota_us", val, e);
}

int sbx_cgroup_create(sbx_cgroup *cg, const sbx_plan *plan, sbx_err *e)
{
    int rc = layout(cg, plan->name, true, e);
    if (rc == 0)
        rc = set_limits(cg, plan, e);
    if (rc < 0) {
        sbx_cgroup_destroy(cg);
        return rc;
    }
    /* Held for the whole run: a sweep never touches a locked directory. */
    cg->lock_fd =
        open(cg->dir[SBX_CG_MEMORY], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg->lock_fd >= 0)
        flock(cg->lock_fd, LOCK_EX);
    return 0;
}

int sbx_cgroup_add(const sbx_cgroup *cg, pid_t pid, sbx_err *e)
{
    char val[32];
    snprintf(val, sizeof val, "%ld", (long)pid);
    for (int c = 0; c < SBX_CG_N; c++) {
        if (cg->procs[c] == NULL)
            continue;
        int fd = open(cg->procs[c], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, val, strlen(val)) < 0) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            return sbx_fail_errno(e, SANDBOX_EIO, err,
                                  "cannot move the box "
                                  "into %s",
                                  cg->procs[c]);
        }
        close(fd);
    }
    return 0;
}

/* SIGKILL every process listed in cgroup.procs; returns how many. */
static int kill_listed(const char *procs)
{
    FILE *f = fopen(procs, "re");
    int n = 0;
    long pid;
    if (f == NULL)
        return 0;
    while (fscanf(f, "%ld", &pid) == 1) {
        kill((pid_t)pid, SIGKILL);
        n++;
    }
    fclose(f);
    return n;
}

void sbx_cgroup_kill(const sbx_cgroup *cg)
{
    if (cg->dir[SBX_CG_PIDS] == NULL)
        return;
    if (cg->version == 2 &&
        write_file(cg->dir[SBX_CG_PIDS], "cgroup.kill", "1") == 0)
        return;
    for (int c = 0; c < SBX_CG_N; c++)
        if (cg->procs[c] != NULL)
            kill_listed(cg->procs[c]);
}

/* Signal-safe: open/read/kill only, parsing by hand (no stdio). */
static void kill_listed_safe(const char *procs)
{
    int fd = open(procs, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096];
    long pid = 0;
    bool digits = false;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                pid = pid * 10 + (buf[i] - '0');
                digits = true;
            } else {
                if (digits && pid > 1)
                    kill((pid_t)pid, SIGKILL);
                pid = 0;
                digits = false;
            }
        }
    }
    if (digits && pid > 1)
        kill((pid_t)pid, SIGKILL);
    close(fd);
}

void sbx_cgroup_reap_safe(void *arg)
{
    const sbx_cgroup *cg = arg;
    if (cg->version == 2 && cg->dir[SBX_CG_PIDS] != NULL) {
        char path[4096];
        size_t l = strlen(cg->dir[SBX_CG_PIDS]);
        if (l + sizeof "/cgroup.kill" < sizeof path) {
            memcpy(path, cg->dir[SBX_CG_PIDS], l);
            memcpy(path + l, "/cgroup.kill", sizeof "/cgroup.kill");
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd >= 0) {
                ssize_t w = write(fd, "1", 1);
                (void)w;
                close(fd);
            }
        }
    }
    /* The kernel finishes exits asynchronously: kill and remove for up to
     * about 4 s, until every directory is gone. */
    for (int t = 0; t < 80; t++) {
        bool left = false;
        for (int c = 0; c < SBX_CG_N; c++) {
            if (cg->procs[c] != NULL)
                kill_listed_safe(cg->procs[c]);
            if (cg->dir[c] != NULL && rmdir(cg->dir[c]) < 0 && errno != ENOENT)
                left = true;
        }
        if (!left)
            return;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void sbx_cgroup_stats(const sbx_cgroup *cg, sbx_cg_stats *st)
{
    const char *mem = cg->dir[SBX_CG_MEMORY];
    memset(st, 0, sizeof *st);
    st->cpu_sec = -1;
    if (mem == NULL)
        return;
    if (cg->version == 1) {
        st->oom_kills = read_key(mem, "memory.oom_control", "oom_kill");
        st->peak_bytes = read_u64(mem, "memory.max_usage_in_bytes");
        if (cg->dir[SBX_CG_CPUACCT] != NULL)
            st->cpu_sec =
                (double)read_u64(cg->dir[SBX_CG_CPUACCT], "cpuacct.usage") /
                1e9;
    } else {
        st->oom_kills = read_key(mem, "memory.events", "oom_kill");
        st->peak_bytes = read_u64(mem, "memory.peak");
        st->cpu_sec = (double)read_key(mem, "cpu.stat", "usage_usec") / 1e6;
    }
}

/* Kill stragglers and rmdir every directory (dying processes leave a
 * cgroup asynchronously: retry for up to a second).  Returns how many
 * directories remain. */
static int remove_dirs(const sbx_cgroup *cg)
{
    int left = 0;
    for (int c = SBX_CG_N - 1; c >= 0; c--) {
        if (cg->dir[c] == NULL || (cg->procs[c] == NULL && cg->version == 1))
            continue;
        int i = 0;
        while (rmdir(cg->dir[c]) < 0 && errno == EBUSY && i++ < 200) {
            sbx_cgroup_kill(cg);
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        left += access(cg->dir[c], F_OK) == 0;
        if (cg->version == 2)
            break; /* one directory */
    }
    return left;
}

static void free_paths(sbx_cgroup *cg)
{
    for (int c = 0; c < SBX_CG_N; c++) {
        free(cg->dir[c]);
        free(cg->procs[c]);
    }
    sbx_closep(&cg->lock_fd);
    memset(cg, 0, sizeof *cg);
    cg->lock_fd = -1;
}

void sbx_cgroup_destroy(sbx_cgroup *cg)
{
    remove_dirs(cg);
    free_paths(cg);
}

int sbx_native_cgroup_reap(const char *run_name)
{
    sbx_cgroup cg;
    if (run_name == NULL || strncmp(run_name, "sandbox-", 8) != 0 ||
        strchr(run_name, '/') != NULL || strlen(run_name) > 63)
        return -EINVAL;
    if (layout(&cg, run_name, false, NULL) < 0) {
        free_paths(&cg);
        return -ENOENT;
    }
    sbx_cgroup_kill(&cg);
    int left = remove_dirs(&cg);
    free_paths(&cg);
    return left ? -EBUSY : 0;
}

/* Does a live run hold this run name's lock? */
static bool in_use(const char *lock_root, const char *name)
{
    char path[4096];
    if (lock_root == NULL)
        return false;
    snprintf(path, sizeof path, "%s/libsandbox/%s", lock_root, name);
    sbx_autoclose int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

/* rmdir the run directories under one hierarchy's libsandbox/ that are old
 * enough and not locked by a live run; a populated one is refused by the
 * kernel (EBUSY): a sweep never kills (a run of an older library holds no
 * lock). */
static unsigned sweep_root(const char *root, const char *lock_root, bool v2,
                           double min_age_sec)
{
    char parent[4096];
    unsigned removed = 0;
    time_t now = time(NULL);
    snprintf(parent, sizeof parent, "%s/libsandbox", root);
    DIR *d = opendir(parent);
    struct dirent *de;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[8192];
        struct stat st;
        if (strncmp(de->d_name, "sandbox-", 8) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", parent, de->d_name);
        /* Young directories may belong to a run being set up.  A v2
         * directory may hold the exec kill groups of a box whose owner and
         * guardian died together (rmdir: EBUSY): they go with it once
         * nothing runs below. */
        if (stat(path, &st) == 0 && difftime(now, st.st_ctime) >= min_age_sec &&
            !in_use(lock_root, de->d_name) &&
            (rmdir(path) == 0 ||
             (v2 && errno == EBUSY && sbx_xp_sweep_dir(path, min_age_sec))))
            removed++;
    }
    closedir(d);
    return removed;
}

unsigned sbx_cgroup_sweep(double min_age_sec)
{
    char *v1[SBX_CG_N] = {0}, *v2 = NULL;
    unsigned removed = 0;
    find_mounts(v1, &v2);
    const char *lock_root = v1[SBX_CG_MEMORY] ? v1[SBX_CG_MEMORY] : v2;
    /* The lock directory's hierarchy last, so the others see it held. */
    for (int c = SBX_CG_N - 1; c >= 0; c--)
        if (v1[c] != NULL)
            removed += sweep_root(v1[c], lock_root, false, min_age_sec);
    if (v2 != NULL)
        removed += sweep_root(v2, lock_root, true, min_age_sec);
    for (int c = 0; c < SBX_CG_N; c++)
        free(v1[c]);
    free(v2);
    return removed;
}

void sbx_cgroup_sweep_maybe(void)
{
    sbx_autofree char *cache = sbx_rootfs_cache_dir();
    sbx_autofree char *stamp =
        cache ? sbx_asprintf("%s/.cgroup-sweep", cache) : NULL;
    struct stat st;
    time_t now = time(NULL);
    if (stamp == NULL || (stat(stamp, &st) == 0 && st.st_mtime <= now &&
                          now - st.st_mtime < SBX_CG_SWEEP_EVERY_SEC))
        return;
    int fd = open(stamp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && sbx_mkdir_p(cache, 0700) == 0)
        fd = open(stamp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    futimens(fd, NULL);
    close(fd);
    sbx_cgroup_sweep(10.0);
}
