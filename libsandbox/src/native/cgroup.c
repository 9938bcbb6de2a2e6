/* SPDX-License-Identifier: MIT */
/* cgroups for the native backend: memory (no swap), pids and cpu limits,
 * OOM kills, peak memory and CPU time, and complete removal.  Works on
 * cgroup v1 (this host: one hierarchy per controller) and v2. */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>

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

int sbx_cgroup_create(sbx_cgroup *cg, const sbx_plan *plan, sbx_err *e)
{
    char *v1[SBX_CG_N] = {0}, *v2 = NULL;
    char val[64];
    int rc = 0;

    memset(cg, 0, sizeof *cg);
    find_mounts(v1, &v2);
    bool have_v1 = v1[SBX_CG_MEMORY] && v1[SBX_CG_PIDS] && v1[SBX_CG_CPU];
    if (have_v1) {
        cg->version = 1;
        if (v1[SBX_CG_CPUACCT] == NULL)
            v1[SBX_CG_CPUACCT] = sbx_strdup(v1[SBX_CG_CPU]);
        for (int c = 0; c < SBX_CG_N && rc == 0; c++) {
            char *parent = sbx_asprintf("%s/libsandbox", v1[c]);
            bool shared = false;
            for (int d = 0; d < c; d++)
                shared |= strcmp(v1[d], v1[c]) == 0;
            if (parent == NULL)
                rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
            else if ((rc = make_dir(parent, e)) == 0) {
                cg->dir[c] = sbx_asprintf("%s/%s", parent, plan->name);
                if (cg->dir[c] == NULL)
                    rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
                else if (!shared && (rc = make_dir(cg->dir[c], e)) == 0)
                    cg->procs[c] = sbx_asprintf("%s/cgroup.procs", cg->dir[c]);
            }
            free(parent);
        }
        if (rc == 0) {
            snprintf(val, sizeof val, "%llu",
                     (unsigned long long)plan->memory_bytes);
            rc = set(cg->dir[SBX_CG_MEMORY], "memory.limit_in_bytes", val, e);
            /* No swap: memory+swap capped at the same value, if accounted. */
            if (rc == 0)
                write_file(cg->dir[SBX_CG_MEMORY],
                           "memory.memsw.limit_in_bytes", val);
        }
    } else if (v2 != NULL) {
        cg->version = 2;
        char *parent = sbx_asprintf("%s/libsandbox", v2);
        if (parent == NULL)
            rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
        else if ((rc = make_dir(parent, e)) == 0) {
            write_file(v2, "cgroup.subtree_control", "+memory +pids +cpu");
            write_file(parent, "cgroup.subtree_control", "+memory +pids +cpu");
            char *dir = sbx_asprintf("%s/%s", parent, plan->name);
            if (dir == NULL || (rc = make_dir(dir, e)) < 0) {
                free(dir);
                if (rc == 0)
                    rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
            } else {
                for (int c = 0; c < SBX_CG_N; c++)
                    cg->dir[c] = sbx_strdup(dir);
                cg->procs[0] = sbx_asprintf("%s/cgroup.procs", dir);
                free(dir);
            }
        }
        free(parent);
        if (rc == 0) {
            snprintf(val, sizeof val, "%llu",
                     (unsigned long long)plan->memory_bytes);
            rc = set(cg->dir[SBX_CG_MEMORY], "memory.max", val, e);
            if (rc == 0)
                write_file(cg->dir[SBX_CG_MEMORY], "memory.swap.max", "0");
        }
    } else {
        rc = sbx_fail(e, SANDBOX_EINVAL,
                      "the native runtime found no cgroup hierarchy with the "
                      "memory, pids and cpu controllers (see "
                      "/proc/self/mountinfo); it cannot enforce limits");
    }
    if (rc == 0) {
        snprintf(val, sizeof val, "%ld", plan->pids);
        rc = set(cg->dir[SBX_CG_PIDS], "pids.max", val, e);
    }
    if (rc == 0) {
        long quota = (long)(plan->cpus_value * 100000.0 + 0.5);
        if (quota < 1000)
            quota = 1000;
        if (cg->version == 1) {
            rc = set(cg->dir[SBX_CG_CPU], "cpu.cfs_period_us", "100000", e);
            snprintf(val, sizeof val, "%ld", quota);
            if (rc == 0)
                rc = set(cg->dir[SBX_CG_CPU], "cpu.cfs_quota_us", val, e);
        } else {
            snprintf(val, sizeof val, "%ld 100000", quota);
            rc = set(cg->dir[SBX_CG_CPU], "cpu.max", val, e);
        }
    }
    for (int c = 0; c < SBX_CG_N; c++)
        free(v1[c]);
    free(v2);
    if (rc < 0)
        sbx_cgroup_destroy(cg);
    return rc;
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

void sbx_cgroup_destroy(sbx_cgroup *cg)
{
    /* Dying processes leave the cgroup asynchronously: retry rmdir for up
     * to a second, killing stragglers each time. */
    for (int c = SBX_CG_N - 1; c >= 0; c--) {
        if (cg->dir[c] == NULL || (cg->procs[c] == NULL && cg->version == 1))
            continue;
        for (int i = 0; i < 200; i++) {
            if (rmdir(cg->dir[c]) == 0 || errno == ENOENT)
                break;
            if (errno != EBUSY)
                break;
            sbx_cgroup_kill(cg);
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (cg->version == 2)
            break; /* one directory */
    }
    for (int c = 0; c < SBX_CG_N; c++) {
        free(cg->dir[c]);
        free(cg->procs[c]);
    }
    memset(cg, 0, sizeof *cg);
}

unsigned sbx_cgroup_sweep(double min_age_sec)
{
    char *v1[SBX_CG_N] = {0}, *v2 = NULL, *roots[SBX_CG_N + 1];
    unsigned removed = 0;
    time_t now = time(NULL);

    find_mounts(v1, &v2);
    for (int c = 0; c < SBX_CG_N; c++)
        roots[c] = v1[c];
    roots[SBX_CG_N] = v2;
    for (int c = 0; c <= SBX_CG_N; c++) {
        if (roots[c] == NULL)
            continue;
        char parent[4096];
        snprintf(parent, sizeof parent, "%s/libsandbox", roots[c]);
        DIR *d = opendir(parent);
        struct dirent *de;
        if (d == NULL)
            continue;
        while ((de = readdir(d)) != NULL) {
            char path[8192];
            struct stat st;
            if (strncmp(de->d_name, "sandbox-", 8) != 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", parent, de->d_name);
            /* Young directories may belong to a run being set up; a
             * populated one is refused by the kernel (EBUSY). */
            if (stat(path, &st) == 0 &&
                difftime(now, st.st_ctime) >= min_age_sec && rmdir(path) == 0)
                removed++;
        }
        closedir(d);
    }
    for (int c = 0; c < SBX_CG_N; c++)
        free(v1[c]);
    free(v2);
    return removed;
}
