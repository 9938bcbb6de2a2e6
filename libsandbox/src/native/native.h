/* SPDX-License-Identifier: MIT */
/* The native backend's parts: cgroups, seccomp, root filesystems. */
#ifndef LIBSANDBOX_NATIVE_H
#define LIBSANDBOX_NATIVE_H

#include "../internal.h"

#include <linux/filter.h>

/* ---- cgroup.c: v1 (per-controller hierarchies) and v2 (unified) ---- */
enum { SBX_CG_MEMORY, SBX_CG_PIDS, SBX_CG_CPU, SBX_CG_CPUACCT, SBX_CG_N };

typedef struct sbx_cgroup {
    int version;           /* 1 or 2 */
    char *dir[SBX_CG_N];   /* v1: one dir per controller; v2: all the same */
    char *procs[SBX_CG_N]; /* cgroup.procs paths, NULL where shared */
} sbx_cgroup;

typedef struct sbx_cg_stats {
    uint64_t oom_kills;
    uint64_t peak_bytes;
    double cpu_sec; /* < 0 unknown */
} sbx_cg_stats;

/* Create the run's cgroup with the plan's limits.  Fails with a message
 * naming what to do when the caller may not create cgroups. */
SBX_HIDDEN int sbx_cgroup_create(sbx_cgroup *cg, const sbx_plan *plan,
                                 sbx_err *e);
SBX_HIDDEN int sbx_cgroup_add(const sbx_cgroup *cg, pid_t pid, sbx_err *e);
SBX_HIDDEN void sbx_cgroup_kill(const sbx_cgroup *cg);
SBX_HIDDEN void sbx_cgroup_stats(const sbx_cgroup *cg, sbx_cg_stats *st);
/* Remove the empty run cgroups older than min_age_sec that a killed caller
 * left behind; returns how many directories went. */
SBX_HIDDEN unsigned sbx_cgroup_sweep(double min_age_sec);
/* Kill what is left, remove the directories, free cg. */
SBX_HIDDEN void sbx_cgroup_destroy(sbx_cgroup *cg);

/* ---- seccomp.c ------------------------------------------------------- */
/* Build policy.c's allow-list as a classic BPF program (malloc'd): from
 * the cache in sbx_policy_dir() when it holds this exact filter, else
 * compiled (and cached). */
SBX_HIDDEN int sbx_seccomp_build(struct sock_fprog *prog, sbx_err *e);
/* The cache file's name (in sbx_policy_dir()) for this filter; returns
 * its key. */
SBX_HIDDEN uint64_t sbx_seccomp_cache_name(char *name, size_t n);
/* Compile it with libseccomp, no cache. */
SBX_HIDDEN int sbx_seccomp_compile(struct sock_fprog *prog, sbx_err *e);

/* ---- rootfs.c -------------------------------------------------------- */
/* Resolve plan->image to a root filesystem directory: an absolute
 * directory as is, or an image name exported once from podman/docker into
 * a cache keyed by the image ID.  *dir is malloc'd. */
SBX_HIDDEN int sbx_rootfs_resolve(const char *image, char **dir, int *lock_fd,
                                  sbx_err *e);
/* Delete cached exports no image name points at any more (unless a box is
 * using one) and half-finished exports older than an hour. */
SBX_HIDDEN unsigned sbx_rootfs_sweep(void);

#endif
