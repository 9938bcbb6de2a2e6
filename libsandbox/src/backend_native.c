/* SPDX-License-Identifier: MIT */
/* The native backend's boxes (box.h's operations table): a box built
 * directly from Linux namespaces, no daemon and no runtime CLI.
 *
 * create (the calling thread)              the clone child (native/child.c)
 *   network plumbing (its relay wraps the
 *   init), the staged workspace, the
 *   cgroup, the rootfs and its mount
 *   points, the init bound read-only at
 *   /.sandbox/init, seccomp, the user
 *   namespace plan, the exec kill groups,
 *   the control socket, the guardian
 *   (owner's death, lifetime, idle)
 *   clone(NEWNS|NEWPID|NEWNET|NEWIPC|   ->  new session, signals reset, stdio
 *         NEWUTS[|NEWUSER if not root])     /dev/null, the control socket
 *   [not root: write the id maps]           kept for fd 3; wait
 *   the init into the cgroup and the
 *   kill-group root; slirp4netns
 *   send "go"                           ->  cgroup ns, hostname, mounts,
 *                                           pivot_root, lo up, [userns], ids,
 *                                           caps, no_new_privs, seccomp,
 *                                           execve the init (PID 1)
 *   read the error pipe: EOF = exec'd   <-  (or: which step failed, errno)
 *
 * No PR_SET_PDEATHSIG (except sandbox_run's one-shot box, whose thread
 * waits for it): it fires when the creating *thread* exits, and a
 * pool thread may create boxes that outlive it.  The box dies with its
 * owner process instead: the control socket's EOF makes the init exit
 * (ending the pid namespace), and the guardian reaps the cgroup and
 * detaches the workspace.  Execs go through the init (execproto.c).
 * destroy: kill the init (the pid namespace with it) and the cgroup, reap,
 * release the guardian, close the control socket, cgroup stats, remove
 * the cgroup, commit the workspace, stop the network plumbing. */
#include "box.h"
#include "native/native.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define SBX_STACK_SIZE (256 * 1024)

/* The guardian's callback (the caller died, stalled past the box's
 * lifetime, or left it idle too long): kill whatever the cgroup holds (the
 * init with it, and so the pid namespace), remove it, and detach a staged
 * workspace.  Async-signal-safe. */
typedef struct native_guard {
    const sbx_cgroup *cg;
    const char *ws_merged;
    const char *kill_dir; /* the exec kill groups' directory, or "" */
} native_guard;

typedef struct native_run {
    sbx_box a;
    char *rootfs;
    char **envp;
    char *argv[4]; /* the init: /.sandbox/init --fd 3 */
    char init_host[4096];
    struct sock_fprog prog;
    sbx_cgroup cg;
    bool have_cg;
    bool own_rootfs; /* rootfs is our cache's export, not the caller's */
    int rootfs_lock; /* held shared while the box may use the export */
    sbx_userns userns;
    char tmp_opts[64];
    int sync[2], epipe[2]; /* [0]: the parent's end */
    int ctl_child;         /* the init's end of the control socket */
    void *stack;
    pid_t pid;  /* the init, until reaped */
    int pidfd;  /* of the init, -1 unknown */
    int status; /* its wait status once reaped */
    bool reaped;
    sbx_netrun net; /* network plumbing (net.h) */
    bool net_started;
    sbx_ws *ws; /* the staged workspace, or NULL */
    native_guard ng;
} native_run;

static void native_run_init(native_run *r)
{
    memset(r, 0, sizeof *r);
    r->rootfs_lock = -1;
    r->cg.lock_fd = -1;
    r->a.userns_fd = -1;
    r->a.ctl_fd = -1;
    r->a.in_r = r->a.out_w = r->a.err_w = -1;
    r->stack = MAP_FAILED;
    r->pid = -1;
    r->pidfd = -1;
    r->ctl_child = -1;
    r->net.slirp_pid = -1;
    r->net.slirp_exit_fd = -1;
    for (int i = 0; i < 2; i++)
        r->sync[i] = r->epipe[i] = -1;
    for (int i = 0; i < 5; i++)
        r->a.parent_fds[i] = -1;
}

/* What start-up needed and the box no longer does. */
static void native_run_free_setup(native_run *r)
{
    for (size_t i = 0; i < r->a.n_mounts; i++) {
        free(r->a.mounts[i].src);
        free(r->a.mounts[i].dst);
    }
    r->a.n_mounts = 0;
    if (r->envp != NULL)
        for (char **p = r->envp; *p; p++)
            free(*p);
    free(r->envp);
    r->envp = NULL;
    free(r->prog.filter);
    r->prog.filter = NULL;
    sbx_closep(&r->a.userns_fd);
    sbx_closep(&r->ctl_child);
    for (int i = 0; i < 2; i++) {
        sbx_closep(&r->sync[i]);
        sbx_closep(&r->epipe[i]);
    }
    if (r->stack != MAP_FAILED)
        munmap(r->stack, SBX_STACK_SIZE);
    r->stack = MAP_FAILED;
}

static void native_run_free(native_run *r)
{
    native_run_free_setup(r);
    sbx_closep(&r->pidfd);
    free(r->rootfs);
    sbx_closep(&r->rootfs_lock);
    if (r->have_cg)
        sbx_cgroup_destroy(&r->cg);
    free(r);
}

/* The box's environment: a fixed PATH and HOME, then opts.env. */
static int build_env(native_run *r, const sbx_plan *p, sbx_err *e)
{
    r->envp = calloc(p->n_env + 4, sizeof(char *));
    if (r->envp == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    size_t n = 0;
    r->envp[n++] = sbx_strdup(
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    r->envp[n++] = sbx_strdup("HOME=/root");
    r->envp[n++] = sbx_strdup("HOSTNAME=sandbox");
    for (size_t i = 0; i < p->n_env; i++)
        r->envp[n++] = sbx_strdup(p->env[i]);
    for (size_t i = 0; i < n; i++)
        if (r->envp[i] == NULL)
            return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    return 0;
}

/* A bind of host path src at box path dst; the mount point is checked (or,
 * in our cache's export, created) without following any symlink. */
static int add_mount(native_run *r, const char *src, const char *dst, bool rw,
                     int step, sbx_err *e)
{
    struct stat st;
    if (r->a.n_mounts >= SBX_MAX_BOX_MOUNTS)
        return sbx_fail(e, SANDBOX_EINVAL, "too many mounts");
    if (stat(src, &st) < 0)
        return sbx_fail_errno(e, SANDBOX_EINVAL, errno, "mount source %s", src);
    int rc = sbx_rootfs_mount_point(r->rootfs, dst, r->own_rootfs,
                                    !S_ISDIR(st.st_mode), e);
    if (rc < 0)
        return rc;
    sbx_box_mount *m = &r->a.mounts[r->a.n_mounts++];
    m->src = sbx_strdup(src);
    m->dst = sbx_strdup(dst);
    m->rw = rw;
    m->step = step;
    if (m->src == NULL || m->dst == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    return 0;
}

/* The workspace, bound read-write at /workspace (the first mount). */
static int add_workspace(native_run *r, const sbx_plan *p, sbx_err *e)
{
    r->a.workdir = "/";
    if (p->workspace == NULL)
        return 0;
    r->a.workdir = "/workspace";
    int rc = add_mount(r, p->workspace, "/workspace", true, STEP_WORKSPACE, e);
    if (rc == 0)
        r->a.mounts[r->a.n_mounts - 1].no_idmap = p->workspace_staged;
    return rc;
}

static int add_extra_mounts(native_run *r, const sbx_plan *p, sbx_err *e)
{
    for (size_t i = 0; i < p->n_mounts; i++) {
        const sbx_plan_mount *m = &p->mounts[i];
        int rc = add_mount(r, m->host, m->box, m->writable, STEP_MOUNTS, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The box's command: its init, bound read-only at SBX_INIT_BOX_DIR/init
 * (the mount point created in our own export; a caller's root filesystem
 * directory must have it), with the control socket as fd 3. */
static int add_init(native_run *r, sbx_err *e)
{
    static const char box_path[] = SBX_INIT_BOX_DIR "/" SBX_INIT_NAME;
    int rc;
    if (!sbx_init_path(r->init_host, sizeof r->init_host, e))
        return e != NULL && e->code < 0 ? e->code : SANDBOX_ERUNTIME;
    if (!r->own_rootfs &&
        sbx_rootfs_mount_point(r->rootfs, box_path, false, true, e) < 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "the root filesystem %s has no %s file: the native "
                        "runtime binds its box init there; create it "
                        "(mkdir -p ROOT%s && touch ROOT%s)",
                        r->rootfs, box_path, SBX_INIT_BOX_DIR, box_path);
    if ((rc = add_mount(r, r->init_host, box_path, false, STEP_MOUNTS, e)) < 0)
        return rc;
    r->argv[0] = (char *)box_path;
    r->argv[1] = "--fd";
    r->argv[2] = "3";
    r->argv[3] = NULL;
    r->a.argv = r->argv;
    r->a.path = ""; /* argv[0] holds a '/': exec'd as is */
    return 0;
}

/* The root filesystem and the box's fixed mount points in it. */
static int prepare_rootfs(native_run *r, const sbx_plan *p, sbx_err *e)
{
    static const char *const needed[] = {"/proc", "/sys", "/dev", "/tmp"};
    int rc = sbx_rootfs_resolve(p->image, &r->rootfs, &r->rootfs_lock, e);
    if (rc < 0)
        return rc;
    r->own_rootfs = p->image[0] != '/';
    r->a.root = r->rootfs;
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
        if (sbx_rootfs_mount_point(r->rootfs, needed[i], false, false, e) < 0)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "the root filesystem %s has no %s directory: the "
                            "native runtime needs empty /proc, /sys, /dev and "
                            "/tmp directories (no symlinks) to mount on",
                            r->rootfs, needed[i]);
    }
    /* /tmp: a tmpfs capped at disk_limit (and never above the memory
     * limit: its pages count against the memory cgroup as well). */
    uint64_t tmp_cap = p->disk_limit_bytes;
    if (tmp_cap == 0 || tmp_cap > p->memory_bytes)
        tmp_cap = p->memory_bytes;
    snprintf(
        r->tmp_opts, sizeof r->tmp_opts, "mode=1777,size=%llu,nr_inodes=%llu",
        (unsigned long long)tmp_cap,
        (unsigned long long)(tmp_cap / 4096 < 1024 ? 1024 : tmp_cap / 4096));
    r->a.tmp_opts = r->tmp_opts;
    return 0;
}

/* network allowlist: the proxy's socket directory at SBX_NET_BOX_DIR and
 * the relay onto its stub there (the stub is the mount point, inside the
 * first mount: no mount point in the root filesystem for it). */
static int add_net_mounts(native_run *r, sbx_err *e)
{
    if (!r->net.active)
        return 0;
    int rc =
        add_mount(r, r->net.px.sockdir, SBX_NET_BOX_DIR, false, STEP_MOUNTS, e);
    if (rc < 0)
        return rc;
    if (r->a.n_mounts >= SBX_MAX_BOX_MOUNTS)
        return sbx_fail(e, SANDBOX_EINVAL, "too many mounts");
    sbx_box_mount *m = &r->a.mounts[r->a.n_mounts++];
    m->src = sbx_strdup(r->net.relay);
    m->dst = sbx_strdup(SBX_NET_BOX_DIR "/" SBX_NET_RELAY_NAME);
    m->step = STEP_MOUNTS;
    if (m->src == NULL || m->dst == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    return 0;
}

static int prepare(native_run *r, const sbx_plan *p, sbx_err *e)
{
    int rc;
    /* The cgroup first: a caller who may not make one learns that before
     * anything about the root filesystem. */
    if ((rc = sbx_cgroup_create(&r->cg, p, e)) < 0)
        return rc;
    r->have_cg = true;
    if ((rc = sbx_userns_plan(&r->userns, e)) < 0 ||
        (rc = prepare_rootfs(r, p, e)) < 0 ||
        (rc = add_workspace(r, p, e)) < 0 ||
        (rc = add_extra_mounts(r, p, e)) < 0 ||
        (rc = add_net_mounts(r, e)) < 0 || (rc = add_init(r, e)) < 0 ||
        (rc = build_env(r, p, e)) < 0)
        return rc;
    if (r->net.active)
        r->a.argv = r->net.argv; /* the relay first, then the init (net.h) */
    r->a.envp = r->envp;
    r->a.late_userns = r->userns.late;
    r->a.drop_groups = !r->userns.deny_setgroups;
    if ((rc = sbx_seccomp_build(&r->prog, e)) < 0)
        return rc;
    r->a.prog = &r->prog;
    return 0;
}

/* one_shot: sandbox_run's box, whose creating thread waits for it to end,
 * so PR_SET_PDEATHSIG (the kernel's fastest "die with the caller") is safe;
 * any other box may outlive the thread that made it (a pool's). */
static int open_channels(native_run *r, bool one_shot, sbx_err *e)
{
    if (pipe2(r->epipe, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->sync) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "creating pipes");
    r->a.sync_fd = r->sync[1];
    r->a.err_fd = r->epipe[1];
    r->a.ctl_fd = r->ctl_child;
    r->a.no_pdeathsig = !one_shot;
    r->a.parent_fds[0] = r->epipe[0];
    r->a.parent_fds[1] = r->sync[0];
    r->stack = mmap(NULL, SBX_STACK_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (r->stack == MAP_FAILED)
        return sbx_fail_errno(e, SANDBOX_ENOMEM, errno, "mmap");
    return 0;
}

/* The child's {step, errno} record as an error. */
static int child_error(const native_run *r, const int rec[2], sbx_err *e)
{
    bool exec = rec[0] == STEP_EXEC;
    return sbx_fail_errno(
        e, exec ? SANDBOX_ERUNTIME : SANDBOX_ESPAWN, rec[1],
        "the native box could not start: %s%s%s%s",
        exec ? "executing its init " SBX_INIT_BOX_DIR "/" SBX_INIT_NAME
             : sbx_box_step_name(rec[0]),
        exec ? " in " : "", exec ? r->rootfs : "",
        exec && rec[1] == EACCES
            ? " (the box's root is an unprivileged host user: the root "
              "filesystem's directories must be searchable and its files "
              "readable by others)"
            : "");
}

/* Something failed while the child was starting: if the child reported a
 * step (it writes before it exits), that is the real cause.  The child is
 * killed and reaped. */
static int box_failed(native_run *r, int rc, sbx_err *e)
{
    int rec[2];
    struct pollfd pfd = {.fd = r->epipe[0], .events = POLLIN};
    if (poll(&pfd, 1, 0) == 1 &&
        read(r->epipe[0], rec, sizeof rec) == (ssize_t)sizeof rec)
        rc = child_error(r, rec, e);
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        r->pid = -1;
    }
    return rc;
}

static int send_go(native_run *r, sbx_err *e)
{
    if (send(r->sync[0], "g", 1, MSG_NOSIGNAL) != 1)
        return box_failed(
            r, sbx_fail_errno(e, SANDBOX_ESPAWN, errno, "releasing the box"),
            e);
    return 0;
}

/* EOF on the error pipe: the child exec'd /bin/sh. */
static int wait_exec(native_run *r, sbx_err *e)
{
    int rec[2];
    ssize_t n;
    do
        n = read(r->epipe[0], rec, sizeof rec);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof rec)
        return box_failed(r, child_error(r, rec, e), e);
    if (n != 0)
        return box_failed(r,
                          sbx_fail_errno(e, SANDBOX_ESPAWN, errno,
                                         "the native box could not start"),
                          e);
    sbx_closep(&r->sync[0]); /* past the child's parent-death check */
    sbx_closep(&r->a.userns_fd);
    return 0;
}

/* The init's host pid into the box's kill-group root: destroy's
 * cgroup.kill there takes it and every exec (execproto.c). */
static int enter_killgroup(native_run *r, const sbx_xp *xp, sbx_err *e)
{
    if (xp->kill_dir[0] == '\0')
        return 0;
    char path[600], pid[24];
    snprintf(path, sizeof path, "%s/cgroup.procs", xp->kill_dir);
    snprintf(pid, sizeof pid, "%ld", (long)r->pid);
    int rc = sbx_write_file(path, pid);
    if (rc < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, -rc,
                              "cannot move the box's init into its kill "
                              "group %s",
                              xp->kill_dir);
    return 0;
}

static int clone_init(native_run *r, sbx_err *e)
{
    int rc, flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                    CLONE_NEWUTS | SIGCHLD;
    if (!r->a.late_userns)
        flags |= CLONE_NEWUSER;
    if (r->a.late_userns &&
        (rc = sbx_userns_open(&r->userns, r->stack, SBX_STACK_SIZE,
                              &r->a.userns_fd, e)) < 0)
        return rc;
    r->pid =
        clone(sbx_box_main, (char *)r->stack + SBX_STACK_SIZE, flags, &r->a);
    if (r->pid < 0)
        return sbx_fail_errno(
            e, SANDBOX_ESPAWN, errno, "cannot create the box's namespaces%s",
            r->a.late_userns ? ""
                             : " (unprivileged user namespaces may be "
                               "disabled: sysctl "
                               "kernel.unprivileged_userns_clone)");
#ifdef SYS_pidfd_open
    r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
#endif
    sbx_closep(&r->sync[1]);
    sbx_closep(&r->epipe[1]);
    sbx_closep(&r->ctl_child);
    return 0;
}

static int start_box(native_run *r, sbx_xp *xp, sbx_err *e)
{
    int rc = clone_init(r, e);
    if (rc < 0)
        return rc;
    if ((!r->a.late_userns &&
         (rc = sbx_userns_write(&r->userns, r->pid, e)) < 0) ||
        (rc = sbx_cgroup_add(&r->cg, r->pid, e)) < 0 ||
        (rc = enter_killgroup(r, xp, e)) < 0 ||
        (rc = sbx_netrun_attach(&r->net, r->pid, e)) < 0)
        return box_failed(r, rc, e);
    if ((rc = send_go(r, e)) < 0)
        return rc;
    if ((rc = wait_exec(r, e)) < 0)
        return rc;
    xp->init_pid = r->pid;
    return 0;
}

/* What ran, pinned: our cache's exports are named by the engine's image ID
 * (rootfs.c), so the export this box used is its identity. */
static void set_image_id(const native_run *r, sandbox_result *res)
{
    if (!SBX_HAS(res, image_id) || res->image_id != NULL || !r->own_rootfs)
        return;
    const char *b = strrchr(r->rootfs, '/');
    if (b != NULL && strspn(b + 1, "0123456789abcdef") == 64 && b[65] == '\0')
        res->image_id = sbx_asprintf("sha256:%s", b + 1);
}

bool sbx_native_available(void)
{
    return true;
}

unsigned sbx_native_gc(void)
{
    return sbx_cgroup_sweep(10.0) + sbx_rootfs_sweep();
}

static void native_guard_fire(void *arg)
{
    const native_guard *ng = arg;
    sbx_cgroup_reap_safe((void *)ng->cg);
    if (ng->kill_dir != NULL && ng->kill_dir[0] != '\0')
        sbx_xp_reap_safe(ng->kill_dir, true); /* the exec kill groups */
    if (ng->ws_merged != NULL)
        sbx_ws_detach_safe(ng->ws_merged);
}

/* The network plumbing (its relay wraps the init) and the staged
 * workspace; *wp is the plan the box is built from. */
static int stage(native_run *r, const sbx_plan *p, sbx_plan *wp, sbx_err *e)
{
    static const char *const init_argv[] = {SBX_INIT_BOX_DIR "/" SBX_INIT_NAME,
                                            "--fd", "3", NULL};
    *wp = *p;
    wp->command = NULL;
    wp->argv = init_argv;
    wp->argc = 3;
    r->net_started = true;
    int rc = sbx_netrun_start(wp, &r->net, e);
    if (rc < 0)
        return rc;
    wp->net = &r->net;
    /* A root caller's box root is its subordinate range's first id (the
     * same range native/userns.c maps): the staged workspace shows the
     * owner's files as that id's.  Anyone else's box root is the caller. */
    sbx_idmap map;
    bool mapped = p->workspace != NULL && geteuid() == 0;
    if (mapped && (rc = sbx_subid_range(&map, e)) < 0)
        return rc;
    if ((rc = sbx_ws_prepare(p, mapped ? &map : NULL, &r->ws, e)) < 0)
        return rc;
    if (r->ws != NULL) {
        wp->workspace = (char *)sbx_ws_source(r->ws);
        wp->workspace_staged = true;
    }
    return 0;
}

static int start_guardian(sandbox_box *b, native_run *r, sbx_err *e)
{
    r->ng.cg = &r->cg;
    r->ng.ws_merged = r->ws != NULL ? sbx_ws_source(r->ws) : NULL;
    r->ng.kill_dir = b->xp.kill_dir;
    return sbx_guardian_start_idle(&b->guard, b->deadline, b->plan.box_idle_sec,
                                   NULL, NULL, native_guard_fire, &r->ng, e);
}

/* Kill the init (and with it the pid namespace) and everything the cgroup
 * holds, and reap it. */
static void stop_init(native_run *r)
{
    if (r->pid <= 0 || r->reaped)
        return;
    kill(r->pid, SIGKILL);
    if (r->have_cg)
        sbx_cgroup_kill(&r->cg);
    pid_t w;
    do
        w = waitpid(r->pid, &r->status, 0);
    while (w < 0 && errno == EINTR);
    r->reaped = true;
}

/* Everything create made, gone; box-level accounting into res.  commit:
 * apply the workspace's changes (a box that ran its course). */
static int teardown(sandbox_box *b, native_run *r, sandbox_result *res,
                    bool commit, sbx_err *e)
{
    stop_init(r);
    int g = sbx_guardian_release(&b->guard);
    sbx_xp_close(&b->xp);
    if (r->have_cg) {
        sbx_cg_stats st;
        sbx_cgroup_stats(&r->cg, &st);
        res->peak_memory_bytes = st.peak_bytes;
        res->cpu_sec = st.cpu_sec;
        sbx_cgroup_destroy(&r->cg);
        r->have_cg = false;
    }
    set_image_id(r, res);
    if (SBX_HAS(res, host_root))
        res->host_root = 0; /* always a user namespace, never host root */
    sbx_err own = {0};
    bool keep = commit && g == SBX_GUARDIAN_RELEASED;
    int rc =
        sbx_ws_finish(r->ws, res, keep ? 0 : SANDBOX_EBOXDEAD, keep ? e : &own);
    r->ws = NULL;
    if (r->net_started)
        sbx_netrun_finish(&r->net, res); /* proxy, slirp4netns */
    native_run_free(r);
    b->impl = NULL;
    sbx_cgroup_sweep_maybe(); /* what killed callers left, once a minute */
    return keep ? rc : 0;
}

/* The exec kill groups (cgroup v2 dirs).  A caller that may not make them
 * (not root, no delegated v2 tree) still gets a box: a timed-out exec is
 * then killed by its session (execproto.c's fallback). */
static int box_killgroups(sandbox_box *b, const native_run *r, sbx_err *e)
{
    if (b->plan.one_shot)
        return 0;
    sbx_err ke = {0};
    int rc = sbx_xp_killgroups(&b->xp, b->plan.name,
                               r->cg.version == 2 ? r->cg.dir[0] : NULL, &ke);
    if (rc < 0 && geteuid() == 0) {
        if (e != NULL)
            *e = ke;
        return rc;
    }
    return 0;
}

static int native_create(sandbox_box *b, sbx_err *e)
{
    native_run *r = malloc(sizeof *r);
    if (r == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    native_run_init(r);
    b->impl = r;
    sbx_plan wp;
    int rc;
    if ((rc = stage(r, &b->plan, &wp, e)) < 0 ||
        (rc = prepare(r, &wp, e)) < 0 || (rc = box_killgroups(b, r, e)) < 0 ||
        (rc = sbx_xp_socketpair(&b->xp, &r->ctl_child, e)) < 0 ||
        (rc = start_guardian(b, r, e)) < 0 ||
        (rc = open_channels(r, b->plan.one_shot, e)) < 0 ||
        (rc = start_box(r, &b->xp, e)) < 0) {
        sandbox_result scratch;
        sandbox_result_init(&scratch, sizeof scratch);
        teardown(b, r, &scratch, false, NULL);
        sandbox_result_free(&scratch);
        return rc;
    }
    native_run_free_setup(r);
    return 0;
}

/* Is the init alive?  Not reaped here (destroy does): WNOWAIT. */
static bool init_alive(native_run *r, int *status)
{
    if (r->reaped) {
        *status = r->status;
        return false;
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
        si.si_pid == 0)
        return true;
    *status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0)
                                       : W_EXITCODE(0, si.si_status);
    return false;
}

static int native_inspect(sandbox_box *b, sbx_box_state *st)
{
    native_run *r = b->impl;
    memset(st, 0, sizeof *st);
    st->cpu_sec = -1;
    if (r == NULL)
        return 0;
    sbx_cg_stats cs;
    sbx_cgroup_stats(&r->cg, &cs);
    st->oom_kills = cs.oom_kills;
    st->peak_bytes = cs.peak_bytes;
    st->cpu_sec = cs.cpu_sec;
    int status = 0;
    st->alive = init_alive(r, &status);
    if (st->alive)
        return 0;
    if (cs.oom_kills > 0 && WIFSIGNALED(status) &&
        WTERMSIG(status) == SIGKILL) {
        st->reason = SANDBOX_END_OOM;
        snprintf(st->why, sizeof st->why,
                 "out of memory: the kernel killed the box's init at the %s "
                 "memory limit (%llu OOM kill(s) in the box)",
                 b->plan.memory, (unsigned long long)cs.oom_kills);
    } else if (WIFSIGNALED(status)) {
        st->reason = SANDBOX_END_SIGNALED;
        snprintf(st->why, sizeof st->why,
                 "killed: the box's init died of signal %d", WTERMSIG(status));
    } else {
        st->reason = SANDBOX_END_EXITED;
        snprintf(st->why, sizeof st->why, "the box's init exited with code %d",
                 WEXITSTATUS(status));
    }
    return 0;
}

static int native_destroy(sandbox_box *b, sandbox_result *res, sbx_err *e)
{
    native_run *r = b->impl;
    if (r == NULL)
        return 0;
    return teardown(b, r, res, true, e);
}

const sbx_box_ops sbx_native_box_ops = {
    .name = "native",
    .create = native_create,
    .inspect = native_inspect,
    .destroy = native_destroy,
};
