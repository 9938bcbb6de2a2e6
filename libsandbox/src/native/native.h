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
    int lock_fd;           /* the run's first directory, flock'ed: in use */
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
/* For the guardian (arg: a const sbx_cgroup *): kill what the cgroup holds
 * and remove its directories, retrying for a few seconds.  Uses only
 * async-signal-safe calls, so it may run in a forked copy of a threaded
 * caller. */
SBX_HIDDEN void sbx_cgroup_reap_safe(void *arg);
SBX_HIDDEN void sbx_cgroup_stats(const sbx_cgroup *cg, sbx_cg_stats *st);
/* Remove the empty run cgroups older than min_age_sec that a killed caller
 * left behind; returns how many directories went. */
SBX_HIDDEN unsigned sbx_cgroup_sweep(double min_age_sec);
/* Kill what is left, remove the directories, free cg. */
SBX_HIDDEN void sbx_cgroup_destroy(sbx_cgroup *cg);
/* At most once a minute (a time stamp file in the rootfs cache), sweep what
 * killed runs left: cheap enough to call after every run. */
SBX_HIDDEN void sbx_cgroup_sweep_maybe(void);

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
/* The cache directory (malloc'd): $SANDBOX_CACHE_DIR/rootfs, ... */
SBX_HIDDEN char *sbx_rootfs_cache_dir(void);
/* Check (create false) or create (an empty directory, or an empty file when
 * file) the mount point `box_path` under root without following any symlink
 * or '..' inside root: what the image holds is not trusted. */
SBX_HIDDEN int sbx_rootfs_mount_point(const char *root, const char *box_path,
                                      bool create, bool file, sbx_err *e);
/* The ref file name for an image name: reversible, so distinct names never
 * share a cache entry ('/' -> '+', ':' -> '_', other bytes outside
 * [A-Za-z0-9.-] -> %XX).  0, or -ENAMETOOLONG. */
SBX_HIDDEN int sbx_rootfs_ref_name(const char *image, char *buf, size_t size);

/* ---- userns.c: the box's user namespace (parent side) ----------------- */
typedef struct sbx_userns {
    char uid_map[64], gid_map[64];
    bool deny_setgroups; /* unprivileged caller: required by the kernel */
    bool late;           /* root caller: mounts first, then the userns */
} sbx_userns;

/* Decide the mapping: a root caller maps box 0..n-1 to its subordinate
 * range (an error naming the fix when it has none), anyone else maps their
 * own uid and gid to 0. */
SBX_HIDDEN int sbx_userns_plan(sbx_userns *u, sbx_err *e);
/* Write the maps of pid's user namespace. */
SBX_HIDDEN int sbx_userns_write(const sbx_userns *u, pid_t pid, sbx_err *e);
/* Root caller: a user namespace with u's maps, as a descriptor (*fd), made
 * through a short-lived holder process that runs on `stack`.  The box
 * child enters it with setns(2) after its mounts, and idmapped mounts use
 * it so the caller's files appear owned by the box's root. */
SBX_HIDDEN int sbx_userns_open(const sbx_userns *u, void *stack,
                               size_t stack_size, int *fd, sbx_err *e);

/* ---- child.c, mounts.c: the box side, system calls only ---------------- */
enum sbx_box_step {
    STEP_SYNC = 1,
    STEP_IDS,
    STEP_CGROUPNS,
    STEP_HOSTNAME,
    STEP_PRIVATE,
    STEP_ROOT_BIND,
    STEP_PROC,
    STEP_PROC_RO,
    STEP_SYS,
    STEP_DEV,
    STEP_TMP,
    STEP_WORKSPACE,
    STEP_MOUNTS,
    STEP_ROOT_RO,
    STEP_PIVOT,
    STEP_CHDIR,
    STEP_LOOPBACK,
    STEP_CAPS,
    STEP_NNP,
    STEP_SECCOMP,
    STEP_EXEC,
    STEP_STDIO,
    STEP_SIGNALS,
    STEP_SESSION,
    STEP_USERNS,
    STEP_PDEATHSIG,
    STEP_MASK,
    STEP_N
};
SBX_HIDDEN const char *sbx_box_step_name(int step);

#define SBX_MAX_BOX_MOUNTS (SBX_MAX_MOUNTS + 1)

typedef struct sbx_box_mount {
    char *src; /* host path */
    char *dst; /* path inside the box, absolute, checked */
    bool rw;
    bool no_idmap; /* already mapped for the box (staged workspace) */
    int step;      /* STEP_WORKSPACE or STEP_MOUNTS, for the error */
} sbx_box_mount;

/* Everything the child needs, prepared by the parent (the child cannot
 * allocate). */
typedef struct sbx_box {
    int sync_fd;       /* socket: the parent's go/ack bytes */
    int err_fd;        /* {step, errno} on failure; EOF at exec */
    int out_w, err_w;  /* the box's stdout, stderr; -1: /dev/null */
    int ctl_fd;        /* -1, or passed to the command as fd 3 (the box
                          init's control socket) */
    bool no_pdeathsig; /* a box: it dies with its owner through ctl_fd's
                          EOF, not with the creating thread */
    int in_r;          /* the box's stdin (a pipe), -1: /dev/null */
    int parent_fds[5]; /* the parent's ends, closed first in the child */
    bool late_userns;  /* root caller: mount as host root, then the userns */
    int userns_fd;     /* late_userns: the namespace to enter (and idmap) */
    bool drop_groups;  /* setgroups(0) is allowed (root caller) */
    const char *root;  /* host path of the root filesystem */
    const char *tmp_opts;
    const char *workdir; /* inside, after pivot */
    sbx_box_mount mounts[SBX_MAX_BOX_MOUNTS];
    size_t n_mounts;
    struct sock_fprog *prog;
    char *const *argv, *const *envp;
    const char *path; /* argv mode: the box's PATH for argv[0] (NULL: sh) */
} sbx_box;

/* The clone child's entry point. */
SBX_HIDDEN int sbx_box_main(void *arg);
/* Report {step, errno} to the parent and _exit(127). */
SBX_HIDDEN __attribute__((noreturn)) void sbx_box_fail(const sbx_box *a,
                                                       int step);
/* Every mount of the box and the pivot into its root (mounts.c). */
SBX_HIDDEN void sbx_box_mount_all(const sbx_box *a);

#endif
