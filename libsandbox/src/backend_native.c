/* SPDX-License-Identifier: MIT */
/* The native backend: the box built directly from Linux namespaces, no
 * daemon and no runtime CLI on the hot path.
 *
 * Parent (the calling thread)             Child (native/child.c, PID 1 of
 *                                          a new pid namespace)
 *   resolve the rootfs, check its mount
 *   points, create the cgroup, compile
 *   seccomp, plan the user namespace
 *   [root: a user namespace mapped to
 *    the subordinate range, as an fd]
 *   clone(NEWNS|NEWPID|NEWNET|NEWIPC|  ->  new session, signals reset,
 *         NEWUTS[|NEWUSER if not root])    stdio; wait
 *   [not root: write the id maps]
 *   move the child into the cgroup
 *   send "go"                          ->  cgroup ns, hostname, mounts
 *                                          (idmapped through the userns
 *                                          when root), pivot_root, lo up,
 *                                          [root: setns(userns)], ids,
 *                                          parent-death SIGKILL, caps,
 *                                          no_new_privs, seccomp, execve
 *   read the error pipe: EOF = exec'd  <-  (or: which step failed, errno)
 *   capture loop (shared with the container backend); on deadline or
 *   cancel SIGKILL the pid-ns init (the kernel kills the rest) and the
 *   cgroup; read OOM/peak/cpu; remove the cgroup.
 *
 * The sync channel is a socketpair written with MSG_NOSIGNAL: a child that
 * died early never costs the caller a SIGPIPE.  The parent holds its end
 * until the child has exec'd, so the child can tell a dead caller (EOF)
 * from a live one right after setting PR_SET_PDEATHSIG. */
#include "guardian.h"
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

typedef struct native_run {
    sbx_box a;
    char *rootfs;
    char **envp;
    char *argv[4];
    char **xargv; /* argv mode: opts.argv NULL-terminated (borrowed words) */
    struct sock_fprog prog;
    sbx_cgroup cg;
    bool have_cg;
    bool own_rootfs; /* rootfs is our cache's export, not the caller's */
    int rootfs_lock; /* held shared while the box may use the export */
    sbx_userns userns;
    char tmp_opts[64];
    int out[2], err[2], sync[2], epipe[2]; /* [0]: the parent's end */
    int in_r; /* the box's stdin pipe's read end (io.c), or -1 */
    void *stack;
    pid_t pid;
    double t0;
    sbx_netrun *net; /* network plumbing (net.h) */
} native_run;

static void native_run_init(native_run *r)
{
    memset(r, 0, sizeof *r);
    r->rootfs_lock = -1;
    r->cg.lock_fd = -1;
    r->a.userns_fd = -1;
    r->stack = MAP_FAILED;
    r->pid = -1;
    r->in_r = -1;
    for (int i = 0; i < 2; i++)
        r->out[i] = r->err[i] = r->sync[i] = r->epipe[i] = -1;
}

static void native_run_free(native_run *r)
{
    for (size_t i = 0; i < r->a.n_mounts; i++) {
        free(r->a.mounts[i].src);
        free(r->a.mounts[i].dst);
    }
    if (r->envp != NULL)
        for (char **p = r->envp; *p; p++)
            free(*p);
    free(r->envp);
    free(r->xargv);
    sbx_closep(&r->in_r);
    free(r->prog.filter);
    free(r->rootfs);
    sbx_closep(&r->rootfs_lock);
    sbx_closep(&r->a.userns_fd);
    if (r->have_cg)
        sbx_cgroup_destroy(&r->cg);
    for (int i = 0; i < 2; i++) {
        sbx_closep(&r->out[i]);
        sbx_closep(&r->err[i]);
        sbx_closep(&r->sync[i]);
        sbx_closep(&r->epipe[i]);
    }
    if (r->stack != MAP_FAILED)
        munmap(r->stack, SBX_STACK_SIZE);
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
    for (char **m = p->mount_args; m && *m; m++) {
        /* "host:box:ro|rw" as built by sbx_plan_init (validated: no ':'
         * inside the paths). */
        char host[4096], box[4096], mode[8];
        int rc;
        if (sscanf(*m, "%4095[^:]:%4095[^:]:%7s", host, box, mode) != 3)
            return sbx_fail(e, SANDBOX_EINVAL, "bad mount '%s'", *m);
        rc = add_mount(r, host, box, strcmp(mode, "rw") == 0, STEP_MOUNTS, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* sh -c command, or argv mode: the words as given, argv[0] looked up in
 * the box's PATH (the last PATH= of its environment: opts.env's wins). */
static int set_argv(native_run *r, const sbx_plan *p, sbx_err *e)
{
    if (p->argv == NULL) {
        r->argv[0] = "sh";
        r->argv[1] = "-c";
        r->argv[2] = (char *)p->command;
        r->argv[3] = NULL;
        r->a.argv = r->argv;
        return 0;
    }
    r->xargv = calloc(p->argc + 1, sizeof(char *));
    if (r->xargv == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->argc; i++)
        r->xargv[i] = (char *)p->argv[i];
    r->a.argv = r->xargv;
    r->a.path = "";
    for (char **v = r->envp; *v; v++)
        if (strncmp(*v, "PATH=", 5) == 0)
            r->a.path = *v + 5;
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
    if (r->net == NULL || !r->net->active)
        return 0;
    int rc = add_mount(r, r->net->px.sockdir, SBX_NET_BOX_DIR, false,
                       STEP_MOUNTS, e);
    if (rc < 0)
        return rc;
    if (r->a.n_mounts >= SBX_MAX_BOX_MOUNTS)
        return sbx_fail(e, SANDBOX_EINVAL, "too many mounts");
    sbx_box_mount *m = &r->a.mounts[r->a.n_mounts++];
    m->src = sbx_strdup(r->net->relay);
    m->dst = sbx_strdup(SBX_NET_BOX_DIR "/" SBX_NET_RELAY_NAME);
    m->step = STEP_MOUNTS;
    if (m->src == NULL || m->dst == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    return 0;
}

static int prepare(native_run *r, const sbx_plan *p, sbx_err *e)
{
    int rc;
    if ((rc = sbx_userns_plan(&r->userns, e)) < 0 ||
        (rc = prepare_rootfs(r, p, e)) < 0 ||
        (rc = add_workspace(r, p, e)) < 0 ||
        (rc = add_extra_mounts(r, p, e)) < 0 ||
        (rc = add_net_mounts(r, e)) < 0 || (rc = build_env(r, p, e)) < 0)
        return rc;
    if ((rc = set_argv(r, p, e)) < 0)
        return rc;
    if (r->net != NULL && r->net->active)
        r->a.argv = r->net->argv; /* the relay first (net.h) */
    r->a.envp = r->envp;
    r->a.late_userns = r->userns.late;
    r->a.drop_groups = !r->userns.deny_setgroups;
    if ((rc = sbx_seccomp_build(&r->prog, e)) < 0)
        return rc;
    r->a.prog = &r->prog;
    if ((rc = sbx_cgroup_create(&r->cg, p, e)) < 0)
        return rc;
    r->have_cg = true;
    return 0;
}

static int open_channels(native_run *r, const sbx_plan *p, sbx_err *e)
{
    if (pipe2(r->out, O_CLOEXEC) < 0 || pipe2(r->err, O_CLOEXEC) < 0 ||
        pipe2(r->epipe, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->sync) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "creating pipes");
    r->a.sync_fd = r->sync[1];
    r->a.err_fd = r->epipe[1];
    r->a.out_w = r->out[1];
    r->a.err_w = r->err[1];
    int rc = p->io != NULL ? sbx_io_stdin_pipe(p->io, &r->in_r, e) : 0;
    if (rc < 0)
        return rc;
    r->a.in_r = r->in_r;
    int parent_ends[5] = {r->out[0], r->err[0], r->epipe[0], r->sync[0],
                          p->io != NULL ? p->io->in_w : -1};
    memcpy(r->a.parent_fds, parent_ends, sizeof parent_ends);
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
    if (exec && r->xargv != NULL)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, rec[1],
                              "the native box could not execute '%s' (argv "
                              "mode: looked up in the box's PATH %s unless "
                              "it contains a '/')",
                              r->xargv[0], r->a.path);
    return sbx_fail_errno(
        e, exec ? SANDBOX_ERUNTIME : SANDBOX_ESPAWN, rec[1],
        "the native box could not start: %s%s%s%s", sbx_box_step_name(rec[0]),
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

static int start_box(native_run *r, sbx_err *e)
{
    int rc, flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                    CLONE_NEWUTS | SIGCHLD;
    if (!r->a.late_userns)
        flags |= CLONE_NEWUSER;
    r->t0 = sbx_now();
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
    sbx_closep(&r->sync[1]);
    sbx_closep(&r->epipe[1]);
    sbx_closep(&r->out[1]);
    sbx_closep(&r->err[1]);
    sbx_closep(&r->in_r);
    if ((!r->a.late_userns &&
         (rc = sbx_userns_write(&r->userns, r->pid, e)) < 0) ||
        (rc = sbx_cgroup_add(&r->cg, r->pid, e)) < 0 ||
        (r->net != NULL && (rc = sbx_netrun_attach(r->net, r->pid, e)) < 0))
        return box_failed(r, rc, e);
    if ((rc = send_go(r, e)) < 0)
        return rc;
    return wait_exec(r, e);
}

typedef struct native_stop {
    native_run *r;
    pid_t init;
} native_stop;

static void stop_native(void *vctx, sbx_child *c)
{
    native_stop *s = vctx;
    (void)c;
    /* SIGKILL to the pid namespace's init takes every process in it down;
     * the cgroup catches anything that escaped the namespace. */
    if (s->init > 0)
        kill(s->init, SIGKILL);
    sbx_cgroup_kill(&s->r->cg);
}

/* The box's end: OOM only when the OOM kill is what ended it (its init was
 * SIGKILLed, or the shell reported a child killed so: 137). */
static void set_end(sandbox_result *res, const sbx_plan *p, int status,
                    const sbx_cg_stats *st)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    res->exit_code = code;
    if (st->oom_kills > 0 && code == 128 + SIGKILL) {
        res->reason = SANDBOX_END_OOM;
        res->term_signal = SIGKILL;
        sbx_set_message(res, sbx_asprintf("out of memory: the kernel killed "
                                          "%llu process(es) at the %s memory "
                                          "limit",
                                          (unsigned long long)st->oom_kills,
                                          p->memory));
        return;
    }
    char note[160] = "";
    if (st->oom_kills > 0)
        snprintf(note, sizeof note,
                 "; the kernel OOM-killed %llu process(es) in the box at the "
                 "%s memory limit, and the box went on",
                 (unsigned long long)st->oom_kills, p->memory);
    if (code > 128 && code < 128 + 65) {
        res->reason = SANDBOX_END_SIGNALED;
        res->term_signal = code - 128;
        sbx_set_message(res, sbx_asprintf("killed by signal %d (exit %d)%s",
                                          code - 128, code, note));
    } else {
        res->reason = SANDBOX_END_EXITED;
        if (code != 0 || note[0])
            sbx_set_message(res,
                            sbx_asprintf("exited with code %d%s", code, note));
    }
}

static void set_result(sandbox_result *res, const sbx_plan *p,
                       const sbx_capture *cap, const sbx_cg_stats *st)
{
    if (SBX_HAS(res, host_root))
        res->host_root = 0; /* always a user namespace, never host root */
    if (cap->timed_out) {
        res->reason = SANDBOX_END_TIMEOUT;
        res->exit_code = SANDBOX_EXIT_TIMEOUT;
        sbx_set_message(res, sbx_asprintf("timed out after %g s; the box was "
                                          "killed",
                                          p->timeout_sec));
    } else if (cap->cancelled) {
        res->reason = SANDBOX_END_CANCELLED;
        res->exit_code = 130;
        sbx_set_message(res, sbx_strdup("cancelled; the box was killed"));
    } else {
        set_end(res, p, cap->status, st);
    }
}

/* Capture until the box ends (or the deadline, or cancel), then fill res. */
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

static int run_box(native_run *r, const sbx_plan *p, sandbox_result *res,
                   sbx_err *e)
{
    sbx_child c = {
        .pid = r->pid, .pidfd = -1, .out_fd = r->out[0], .err_fd = r->err[0]};
    r->out[0] = r->err[0] = -1;
#ifdef SYS_pidfd_open
    c.pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
#endif
    fcntl(c.out_fd, F_SETFL, O_NONBLOCK);
    fcntl(c.err_fd, F_SETFL, O_NONBLOCK);
    sbx_capture cap = {.cap = p->output_limit, .io = p->io};
    native_stop ns = {.r = r, .init = r->pid};
    int rc = sbx_capture_run(&c, p->timeout_sec - (sbx_now() - r->t0),
                             p->cancel_fd, stop_native, &ns, &cap, e);
    r->pid = -1; /* reaped by the capture loop */
    sbx_child_close(&c);
    res->out = cap.out;
    res->err = cap.err;
    res->wall_sec = sbx_now() - r->t0;
    sbx_cg_stats st;
    sbx_cgroup_stats(&r->cg, &st);
    res->peak_memory_bytes = st.peak_bytes;
    res->cpu_sec = st.cpu_sec;
    if (rc == 0)
        set_result(res, p, &cap, &st);
    set_image_id(r, res);
    return rc;
}

bool sbx_native_available(void)
{
    return true;
}

unsigned sbx_native_gc(void)
{
    return sbx_cgroup_sweep(10.0) + sbx_rootfs_sweep();
}

/* The guardian's callback when the caller died (or stalled past the
 * deadline): PR_SET_PDEATHSIG has already taken the box's init, and with
 * it the pid namespace; kill whatever the cgroup still holds, remove it,
 * and detach a staged workspace.  Async-signal-safe. */
typedef struct native_guard {
    const sbx_cgroup *cg;
    const char *ws_merged;
} native_guard;

static void native_guard_fire(void *arg)
{
    const native_guard *ng = arg;
    sbx_cgroup_reap_safe((void *)ng->cg);
    if (ng->ws_merged != NULL)
        sbx_ws_detach_safe(ng->ws_merged);
}

static int native_run_box(const sbx_plan *p, sandbox_result *res, sbx_err *e)
{
    native_run r;
    sbx_netrun net;
    sbx_guardian g = {.pid = -1, .fd = -1};
    int rc;
    native_run_init(&r);
    r.net = &net;
    native_guard ng = {&r.cg, p->workspace_staged ? p->workspace : NULL};
    if ((rc = sbx_netrun_start(p, &net, e)) == 0 &&
        (rc = prepare(&r, p, e)) == 0 &&
        (rc = sbx_guardian_start(
             &g, sbx_now() + p->timeout_sec + SBX_GUARDIAN_GRACE_SEC, NULL,
             NULL, native_guard_fire, &ng, e)) == 0 &&
        (rc = open_channels(&r, p, e)) == 0 && (rc = start_box(&r, e)) == 0)
        rc = run_box(&r, p, res, e);
    sbx_guardian_release(&g);
    native_run_free(&r);
    sbx_netrun_finish(&net, res); /* the box is gone: proxy, slirp4netns */
    sbx_cgroup_sweep_maybe();     /* what killed callers left, once a minute */
    return rc;
}

/* The workspace hook: /workspace is the capped overlay (workspace.c). */
int sbx_native_run(const sbx_plan *p, sandbox_result *res, sbx_err *e)
{
    sbx_ws *ws = NULL;
    sbx_plan wp = *p;
    sbx_idmap map;
    /* A root caller's box root is its subordinate range's first id (the
     * same range native/userns.c maps): the staged workspace shows the
     * owner's files as that id's.  Anyone else's box root is the caller. */
    bool mapped = p->workspace != NULL && geteuid() == 0;
    int rc = mapped ? sbx_subid_range(&map, e) : 0;
    if (rc == 0)
        rc = sbx_ws_prepare(p, mapped ? &map : NULL, &ws, e);
    if (rc < 0)
        return rc;
    if (ws != NULL) {
        wp.workspace = (char *)sbx_ws_source(ws);
        wp.workspace_staged = true;
    }
    return sbx_ws_finish(ws, res, native_run_box(&wp, res, e), e);
}
