/* SPDX-License-Identifier: MIT */
/* podman/docker boxes (issue 10): one long-lived container per box.
 *
 * create: `run -d` with the one-shot run's hardening (argv.c) whose PID 1
 *   is the static init (SBX_INIT_BOX_DIR/SBX_INIT_NAME, bound read-only
 *   onto a stub in the control socket's directory, which is bound
 *   read-only at SBX_INIT_BOX_DIR).  The init connects to the socket the
 *   owner listens on; the owner accepts exactly one peer, checks that it
 *   is the container's PID 1 (NSpid 1, in the container's cgroup), moves
 *   it into the box's kill-group root and keeps a pidfd of it.
 * exec: through the init over the control socket (execproto.c), never
 *   `podman exec`: the engines cannot kill an exec (moby#35703), our kill
 *   groups can, and it is ~100x faster.
 * inspect: alive from the init's pidfd; why it died from the engine's
 *   record (the container is not --rm); box-wide memory/cpu from the
 *   container's cgroup.
 * destroy: kill the init (the kernel then kills its whole pid namespace),
 *   close the control socket, `rm -f` until gone, commit the workspace.
 * The guardian removes the container, the socket directory and the
 * staged workspace's mounts when the owner dies. */
#include "box.h"
#include "guardian.h"
#include "internal.h"
#include "net.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>

/* `run -d` (which may pull a missing image) and the other engine calls. */
#define CBOX_RUN_CALL_SEC 120.0
#define CBOX_CALL_SEC 30.0
/* why_dead: 100 ms apart, for the engine to write an exit down */
#define CBOX_RECORD_TRIES 50
#define CBOX_OOM_TRIES 5
/* How long the init has to connect once `run -d` returned. */
#define CBOX_CONNECT_SEC 10.0
/* How long destroy waits for the killed init to be gone. */
#define CBOX_KILL_WAIT_SEC 5.0
#define CGROUP2_MAGIC_ 0x63677270
/* The control directory and podman's private cwd, named by the owner's
 * pid so that sandbox_gc can sweep those of dead owners whose guardian
 * died too (sbx_cbox_gc). */
#define CBOX_TMP "/tmp"
#define CBOX_DIR_NAME "libsandbox-box-"
#define CBOX_RUN_NAME "libsandbox-boxrun-"
#define CBOX_DIR_PREFIX CBOX_TMP "/" CBOX_DIR_NAME
#define CBOX_RUN_PREFIX CBOX_TMP "/" CBOX_RUN_NAME
#define CBOX_BOX_SUBDIR "s"

typedef struct cbox {
    sbx_plan p; /* shallow copy of b->plan: id map, staged workspace, net */
    sbx_idmap pmap;
    sbx_ws *ws;
    sbx_netrun net;
    bool net_started;
    bool started; /* `run -d` was attempted: the container may exist */
    char **rm, **exists;
    char dir[64];       /* 0700, root's: only the caller enters; "" none */
    char bdir[72];      /* dir/s, 0711: the box's /.sandbox; "" none */
    char sock[96];      /* bdir/ctl.sock */
    char stub[96];      /* bdir/init: the init's mount point */
    char run[64];       /* podman: its client's (and conmon's) cwd, "" none */
    char run_oom[80];   /* run/oom: conmon's record of an OOM kill */
    uint64_t oom_alive; /* the memory cgroup's OOM kills when last alive */
    char init[4096];    /* the init binary on the host */
    char merged[4096];  /* the staged workspace (guardian), "" none */
    char kill_v1[640];  /* SBX_KILLGROUP_V1_ROOT/<name> (guardian) */
    uid_t box_uid;
    gid_t box_gid;
    int lfd;          /* the listening socket until the init connected */
    int pidfd;        /* the init's, -1 */
    pid_t pid;        /* the init's host pid, -1 */
    char cid[80];     /* the container's ID (run -d's output) */
    char mem_cg[640]; /* v1 memory or v2 cgroup directory, "" unknown */
    char cpu_cg[640]; /* v1 cpuacct or the v2 directory, "" unknown */
    bool v2;
    int host_root;
} cbox;

/* ---- the guardian's callback: async-signal-safe only ---------------- */

static void remove_dir_safe(const cbox *c)
{
    if (c->run[0] != '\0') {
        unlink(c->run_oom);
        rmdir(c->run);
    }
    if (c->dir[0] == '\0')
        return;
    if (c->bdir[0] != '\0') {
        unlink(c->sock);
        unlink(c->stub);
        rmdir(c->bdir);
    }
    rmdir(c->dir);
}

static void guard_fire(void *arg)
{
    const cbox *c = arg;
    if (c->merged[0] != '\0')
        sbx_ws_detach_safe(c->merged);
    remove_dir_safe(c);
    sbx_xp_reap_safe(c->kill_v1, true);
}

/* ---- small helpers ---------------------------------------------------- */

static void kill_client(void *ctx, sbx_child *c)
{
    (void)ctx;
    if (c->pid > 0)
        kill(-c->pid, SIGKILL);
}

/* Run an engine command, capturing both streams (at most cap bytes each).
 * Returns its exit code, or -1 when it could not run or timed out. */
static int engine_call(char *const argv[], double timeout_sec, sbx_capture *cap,
                       size_t keep)
{
    sbx_child ch;
    memset(cap, 0, sizeof *cap);
    cap->cap = keep;
    if (sbx_spawn(argv, true, &ch, NULL) < 0)
        return -1;
    int code = -1;
    if (sbx_capture_run(&ch, timeout_sec, -1, kill_client, NULL, cap, NULL) ==
            0 &&
        !cap->timed_out && WIFEXITED(cap->status))
        code = WEXITSTATUS(cap->status);
    sbx_child_close(&ch);
    return code;
}

static void capture_free(sbx_capture *cap)
{
    sbx_stream_free(&cap->out);
    sbx_stream_free(&cap->err);
}

/* The most telling line of an engine's stderr: its "Error..." line, else
 * the last non-empty one.  Copied into buf. */
static void complaint(const sandbox_stream *s, char *buf, size_t n)
{
    buf[0] = '\0';
    if (s->data == NULL)
        return;
    const char *end = s->data + s->len, *best = NULL;
    size_t best_len = 0;
    for (const char *l = s->data; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        size_t len = nl ? (size_t)(nl - l) : (size_t)(end - l);
        bool err = memmem(l, len, "Error", 5) != NULL ||
                   memmem(l, len, "error", 5) != NULL;
        if (len > 0 && (best == NULL || err || best_len == 0)) {
            if (err || best == NULL ||
                memmem(best, best_len, "rror", 4) == NULL) {
                best = l;
                best_len = len;
            }
        }
        l = nl ? nl + 1 : end;
    }
    if (best != NULL)
        snprintf(buf, n, "%.*s", (int)(best_len > 400 ? 400 : best_len), best);
}

static const char *engine_name(const sbx_plan *p)
{
    return p->kind == SBX_RT_PODMAN ? "podman" : "docker";
}

static bool read_text(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t got = read(fd, buf, n - 1);
    close(fd);
    if (got < 0)
        return false;
    buf[got] = '\0';
    return true;
}

static bool read_u64(const char *dir, const char *file, const char *key,
                     uint64_t *v)
{
    char path[768], buf[4096];
    if (dir[0] == '\0' ||
        snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path ||
        !read_text(path, buf, sizeof buf))
        return false;
    const char *at = buf;
    if (key != NULL) {
        size_t kl = strlen(key);
        for (at = buf; (at = strstr(at, key)) != NULL; at += kl)
            if ((at == buf || at[-1] == '\n') && at[kl] == ' ')
                break;
        if (at == NULL)
            return false;
        at += kl + 1;
    }
    char *endp;
    errno = 0;
    unsigned long long x = strtoull(at, &endp, 10);
    if (errno != 0 || endp == at)
        return false;
    *v = x;
    return true;
}

static bool cgroup2_host(void)
{
    struct statfs sf;
    return statfs("/sys/fs/cgroup", &sf) == 0 &&
           (unsigned long)sf.f_type == CGROUP2_MAGIC_;
}

/* ---- create: stage ---------------------------------------------------- */

/* The id map (podman), the staged workspace, the network plumbing, the
 * init binary and the control socket's directory. */
static int stage(sandbox_box *b, cbox *c, sbx_err *e)
{
    int rc;
    sbx_idmap map;
    if (c->p.kind == SBX_RT_PODMAN) {
        bool use = false;
        if ((rc = sbx_podman_idmap(&c->pmap, &use, e)) < 0)
            return rc;
        if (use)
            c->p.idmap = &c->pmap;
    }
    /* The network first: podman's map is read back from the argv, which
     * needs the allowlist's proxy. */
    c->net_started = true;
    if ((rc = sbx_netrun_start(&c->p, &c->net, e)) < 0)
        return rc;
    c->p.net = &c->net;
    bool mapped = sbx_ws_engine_map(&c->p, &map) == 0;
    c->box_uid = mapped ? (uid_t)map.uid_start : 0;
    c->box_gid = mapped ? (gid_t)map.gid_start : 0;
    if ((rc = sbx_ws_prepare(&c->p, mapped ? &map : NULL, &c->ws, e)) < 0)
        return rc;
    if (c->ws != NULL) {
        c->p.workspace = (char *)sbx_ws_source(c->ws);
        snprintf(c->merged, sizeof c->merged, "%s", c->p.workspace);
    }
    c->p.workspace_staged = true;
    if (!sbx_init_path(c->init, sizeof c->init, e))
        return e != NULL && e->code < 0 ? e->code : SANDBOX_ERUNTIME;
    snprintf(c->dir, sizeof c->dir, CBOX_DIR_PREFIX "%ld-XXXXXX",
             (long)getpid());
    if (mkdtemp(c->dir) == NULL) {
        int err = errno;
        c->dir[0] = '\0';
        return sbx_fail_errno(e, SANDBOX_EIO, err,
                              "cannot create the box's control directory "
                              "under /tmp");
    }
    /* podman's conmon lives as long as the box, in its client's cwd, and
     * writes an `oom` file there on an OOM kill: never the caller's cwd
     * or "/", a private directory (backend_container.c's run_dir). */
    if (c->p.kind == SBX_RT_PODMAN) {
        snprintf(c->run, sizeof c->run, CBOX_RUN_PREFIX "%ld-XXXXXX",
                 (long)getpid());
        if (mkdtemp(c->run) == NULL) {
            int err = errno;
            c->run[0] = '\0';
            return sbx_fail_errno(e, SANDBOX_EIO, err,
                                  "cannot create a private directory under "
                                  "/tmp for the runtime client");
        }
        snprintf(c->run_oom, sizeof c->run_oom, "%s/oom", c->run);
    }
    /* dir stays 0700 (mkdtemp): no other host user reaches the socket, to
     * flood its backlog or pose as the init.  The box sees only dir/s,
     * bind-mounted at /.sandbox; its root (a mapped host uid) traverses
     * that one to the socket and the init's mount point. */
    snprintf(c->bdir, sizeof c->bdir, "%s/" CBOX_BOX_SUBDIR, c->dir);
    if (mkdir(c->bdir, 0711) < 0) {
        int err = errno;
        c->bdir[0] = '\0';
        return sbx_fail_errno(e, SANDBOX_EIO, err,
                              "cannot create the box's control directory %s/"
                              "%s",
                              c->dir, CBOX_BOX_SUBDIR);
    }
    snprintf(c->sock, sizeof c->sock, "%s/" SBX_INIT_SOCK_NAME, c->bdir);
    snprintf(c->stub, sizeof c->stub, "%s/" SBX_INIT_NAME, c->bdir);
    int fd = open(c->stub, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0 || chmod(c->bdir, 0711) < 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return sbx_fail_errno(e, SANDBOX_EIO, err,
                              "cannot prepare the box's control directory %s",
                              c->bdir);
    }
    close(fd);
    (void)b;
    return sbx_xp_listen(c->bdir, c->box_uid, c->box_gid, &c->lfd, e);
}

/* ---- create: start ------------------------------------------------------ */

/* The init never connected: say so with what it printed. */
static int no_connect(sandbox_box *b, cbox *c, sbx_err *e)
{
    char *argv[] = {c->p.runtime_path, "logs", "--tail=5", b->plan.name, NULL};
    sbx_capture cap;
    char said[420] = "";
    if (engine_call(argv, CBOX_CALL_SEC, &cap, 4096) >= 0) {
        complaint(&cap.err, said, sizeof said);
        if (said[0] == '\0')
            complaint(&cap.out, said, sizeof said);
    }
    capture_free(&cap);
    char wrapped[512];
    if (snprintf(wrapped, sizeof wrapped, "; `%s logs %s` %s%.400s",
                 engine_name(&c->p), b->plan.name,
                 said[0] ? "said: " : "showed nothing",
                 said) >= (int)sizeof wrapped)
        wrapped[sizeof wrapped - 1] = '\0'; /* the log's tail, cut */
    return sbx_fail(e, SANDBOX_ERUNTIME,
                    "the box's init (%s) did not connect to its control "
                    "socket (the container stopped, or %g s passed)%s; can "
                    "the image %s run static x86-64 binaries?",
                    c->init, CBOX_CONNECT_SEC, wrapped, c->p.image);
}

/* Wait until the init's connection is pending (true), or the container
 * is no longer running or CBOX_CONNECT_SEC passed (false): an init that
 * cannot start fails the create at once, not after the whole wait. */
static bool wait_connect(const sandbox_box *b, const cbox *c)
{
    char *argv[] = {c->p.runtime_path,
                    "container",
                    "inspect",
                    "--format={{.State.Running}}",
                    (char *)b->plan.name,
                    NULL};
    double until = sbx_now() + CBOX_CONNECT_SEC;
    for (int slice = 50; sbx_now() < until; slice = 250) {
        struct pollfd pf = {c->lfd, POLLIN, 0};
        if (poll(&pf, 1, slice) > 0)
            return true;
        sbx_capture cap;
        int code = engine_call(argv, CBOX_CALL_SEC, &cap, 256);
        bool running = code == 0 && cap.out.data != NULL &&
                       strncmp(cap.out.data, "true", 4) == 0;
        capture_free(&cap);
        if (!running) {
            struct pollfd again = {c->lfd, POLLIN, 0};
            return poll(&again, 1, 0) > 0;
        }
    }
    return false;
}

/* The control socket takes any uid (the init runs as the image's USER):
 * a peer is the box's init only if one of its cgroups names the
 * container's ID (and, sbx_xp_accept, it is PID 1 of its pid namespace). */
static bool peer_in_box(void *ctx, pid_t pid)
{
    const cbox *c = ctx;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/cgroup", (long)pid);
    return c->cid[0] != '\0' && read_text(path, buf, sizeof buf) &&
           strstr(buf, c->cid) != NULL;
}

/* argv, guardian, `run -d`, the init's connection. */
static int start(sandbox_box *b, cbox *c, sbx_err *e)
{
    char *init_argv[] = {"--connect", SBX_INIT_BOX_DIR "/" SBX_INIT_SOCK_NAME,
                         NULL};
    char **argv = NULL;
    sbx_child cl, info = {.pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1};
    sbx_capture cap = {0};
    int rc;
    if ((rc = sbx_build_create_argv(&c->p, c->bdir, c->init, init_argv, &argv,
                                    e)) < 0 ||
        (rc = sbx_build_rm_argv(c->p.runtime_path, c->p.kind, b->plan.name,
                                &c->rm, e)) < 0 ||
        (rc = sbx_build_exists_argv(c->p.runtime_path, c->p.kind, b->plan.name,
                                    &c->exists, e)) < 0)
        goto out;
    if (!cgroup2_host())
        snprintf(c->kill_v1, sizeof c->kill_v1, SBX_KILLGROUP_V1_ROOT "/%s",
                 b->plan.name);
    /* The box dies with its owner, at its lifetime, after its idle time
     * (box.c reports why on the next call). */
    if ((rc = sbx_guardian_start_idle(&b->guard, b->deadline,
                                      b->plan.box_idle_sec, c->rm, c->exists,
                                      guard_fire, c, e)) < 0)
        goto out;
    c->started = true;
    if ((rc = sbx_spawn_in(argv, true, c->run[0] ? c->run : "/", &cl, e)) < 0)
        goto out;
    if (cl.pidfd >= 0)
        sbx_guardian_watch(&b->guard, cl.pidfd, NULL);
    if (c->p.kind == SBX_RT_DOCKER && sbx_docker_info_start(&c->p, &info) < 0)
        info.pid = -1;
    cap.cap = 8192;
    rc =
        sbx_capture_run(&cl, CBOX_RUN_CALL_SEC, -1, kill_client, NULL, &cap, e);
    sbx_child_close(&cl);
    if (info.pid > 0)
        c->host_root = sbx_docker_info_finish(&info);
    if (rc < 0)
        goto out;
    if (cap.timed_out || !WIFEXITED(cap.status) ||
        WEXITSTATUS(cap.status) != 0) {
        char why[420];
        complaint(&cap.err, why, sizeof why);
        rc = sbx_fail(e, SANDBOX_ERUNTIME, "`%s run -d` %s: %s",
                      c->p.runtime_path,
                      cap.timed_out ? "did not finish within its time"
                                    : "failed to start the box",
                      why[0] ? why : "(no message)");
        goto out;
    }
    if (cap.out.data != NULL)
        snprintf(c->cid, sizeof c->cid, "%.*s",
                 (int)strcspn(cap.out.data, " \r\n"), cap.out.data);
    if (c->cid[0] == '\0') {
        rc = sbx_fail(e, SANDBOX_ERUNTIME,
                      "`%s run -d` printed no container ID: the box's init "
                      "cannot be told from another peer",
                      c->p.runtime_path);
        goto out;
    }
    rc = wait_connect(b, c)
             ? sbx_xp_accept(&b->xp, c->lfd, 0, peer_in_box, c, 1.0, e)
             : -1;
    sbx_closep(&c->lfd);
    if (rc < 0)
        rc = no_connect(b, c, e);
    /* The socket is gone from the directory now (sbx_xp_accept). */
out:
    capture_free(&cap);
    sbx_argv_free(argv);
    return rc;
}

/* ---- create: adopt the peer ------------------------------------------- */

/* pid's NSpid ends in 1 (PID 1 of a namespace below ours) and one of its
 * cgroups names the container's ID; mem/cpu/v2 cgroup dirs are noted. */
static int check_peer(sandbox_box *b, cbox *c, char *v2dir, size_t v2n,
                      sbx_err *e)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)c->pid);
    const char *ns =
        read_text(path, buf, sizeof buf) ? strstr(buf, "NSpid:") : NULL;
    /* "NSpid:\t<host pid>\t...\t1": two fields at least, the last 1. */
    size_t fields = 0;
    bool pid1 = false;
    for (const char *w = ns ? ns + 6 : NULL; w && *w && *w != '\n';) {
        w += strspn(w, " \t");
        size_t wl = strcspn(w, " \t\n");
        if (wl == 0)
            break;
        fields++;
        pid1 = wl == 1 && *w == '1';
        w += wl;
    }
    pid1 = pid1 && fields >= 2;
    snprintf(path, sizeof path, "/proc/%ld/cgroup", (long)c->pid);
    bool ours = read_text(path, buf, sizeof buf) && c->cid[0] != '\0' &&
                strstr(buf, c->cid) != NULL;
    if (!pid1 || !ours)
        return sbx_fail(e, SANDBOX_ERUNTIME,
                        "the peer on the box's control socket (pid %ld) is "
                        "not the container %s's PID 1; refusing it",
                        (long)c->pid, b->plan.name);
    bool v2 = cgroup2_host();
    c->v2 = v2;
    for (char *l = buf, *next; l && *l; l = next) {
        next = strchr(l, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c1 = *c2 = '\0';
        const char *ctrl = c1 + 1, *cg = c2 + 1;
        if (ctrl[0] == '\0') {
            snprintf(v2dir, v2n, "%s%s",
                     v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified", cg);
            if (v2) {
                snprintf(c->mem_cg, sizeof c->mem_cg, "%s", v2dir);
                snprintf(c->cpu_cg, sizeof c->cpu_cg, "%s", v2dir);
            }
        } else if (strstr(ctrl, "memory") != NULL) {
            snprintf(c->mem_cg, sizeof c->mem_cg, "/sys/fs/cgroup/memory%s",
                     cg);
        } else if (strstr(ctrl, "cpuacct") != NULL) {
            snprintf(c->cpu_cg, sizeof c->cpu_cg, "/sys/fs/cgroup/%s%s", ctrl,
                     cg);
        }
    }
    return 0;
}

/* The environment every exec starts from: PATH and HOME defaults, then
 * the container's own (the image's ENV, --env, the engine's HOSTNAME...),
 * as the init got it (/proc/<pid>/environ).  Entries without '=' are
 * dropped. */
#define CBOX_ENV_MAX (256u << 10)
static int base_env(sandbox_box *b, const cbox *c, sbx_err *e)
{
    static const char *const defaults[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root"};
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", (long)c->pid);
    sbx_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    sbx_autofree char *buf = malloc(CBOX_ENV_MAX);
    if (buf == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    size_t len = 0;
    ssize_t got;
    while (fd >= 0 && len < CBOX_ENV_MAX - 1 &&
           (got = read(fd, buf + len, CBOX_ENV_MAX - 1 - len)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
    size_t n = 2;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\0';
    char **v = calloc(n + 2, sizeof *v);
    if (v == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    size_t k = 0;
    bool oom = false;
    for (size_t i = 0; i < 2; i++)
        oom |= (v[k++] = sbx_strdup(defaults[i])) == NULL;
    for (size_t i = 0; i < len && !oom; i += strlen(buf + i) + 1)
        if (strchr(buf + i, '=') != NULL && buf[i] != '=' && k < n + 1)
            oom |= (v[k++] = sbx_strdup(buf + i)) == NULL;
    v[k] = NULL;
    b->base_env = v; /* box.c frees it with the handle */
    return oom ? sbx_fail(e, SANDBOX_ENOMEM, "out of memory") : 0;
}

static int adopt(sandbox_box *b, cbox *c, sbx_err *e)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(b->xp.ctl_fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno,
                              "SO_PEERCRED on the box's control socket");
    c->pid = cr.pid;
    b->xp.init_pid = cr.pid;
    char v2dir[640] = "";
    int rc = check_peer(b, c, v2dir, sizeof v2dir, e);
    if (rc < 0)
        return rc;
#ifdef SYS_pidfd_open
    c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
#endif
    if (c->pidfd >= 0)
        sbx_guardian_watch(&b->guard, c->pidfd, NULL);
    if ((rc = base_env(b, c, e)) < 0)
        return rc;
    if ((rc = sbx_xp_killgroups(&b->xp, b->plan.name, c->v2 ? v2dir : NULL,
                                e)) < 0)
        return rc;
    /* v1/hybrid: the kill groups are ours, outside the engine's cgroup; the
     * init moves into their root so every exec starts under it. */
    if (!c->v2) {
        char procs[600], pid[24];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", b->xp.kill_dir);
        snprintf(pid, sizeof pid, "%ld", (long)c->pid);
        int wrc = sbx_write_file(procs, pid);
        if (wrc < 0)
            return sbx_fail_errno(e, SANDBOX_EIO, -wrc,
                                  "cannot move the box's init into %s", procs);
    }
    return 0;
}

/* ---- destroy's pieces --------------------------------------------------- */

static void read_stats(const cbox *c, sbx_box_state *st)
{
    uint64_t v;
    if (c->v2) {
        if (read_u64(c->mem_cg, "memory.peak", NULL, &v))
            st->peak_bytes = v;
        if (read_u64(c->mem_cg, "memory.events", "oom_kill", &v))
            st->oom_kills = v;
        if (read_u64(c->cpu_cg, "cpu.stat", "usage_usec", &v))
            st->cpu_sec = (double)v / 1e6;
        return;
    }
    if (read_u64(c->mem_cg, "memory.max_usage_in_bytes", NULL, &v))
        st->peak_bytes = v;
    if (read_u64(c->mem_cg, "memory.oom_control", "oom_kill", &v))
        st->oom_kills = v;
    if (read_u64(c->cpu_cg, "cpuacct.usage", NULL, &v))
        st->cpu_sec = (double)v / 1e9;
}

/* SIGKILL the init and wait (bounded) until it is gone: the kernel kills
 * every other process of its pid namespace first. */
static void kill_init(cbox *c)
{
    if (c->pidfd < 0) {
        if (c->pid > 0)
            kill(c->pid, SIGKILL);
        return;
    }
#ifdef SYS_pidfd_send_signal
    syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
#endif
    struct pollfd pf = {c->pidfd, POLLIN, 0};
    poll(&pf, 1, (int)(CBOX_KILL_WAIT_SEC * 1000));
}

/* Everything create made, in reverse; commit selects the workspace's
 * commit-back.  rc is the caller's outcome so far. */
static int teardown(sandbox_box *b, cbox *c, sandbox_result *res, int rc,
                    sbx_err *e)
{
    kill_init(c);
    sbx_xp_close(&b->xp);
    sbx_closep(&c->lfd);
    if (c->started &&
        !sbx_container_remove(c->p.runtime_path, c->p.kind, b->plan.name) &&
        rc == 0)
        rc = sbx_fail(e, SANDBOX_ERUNTIME,
                      "container %s could not be verified removed (run "
                      "'sandbox gc')",
                      b->plan.name);
    if (c->net_started)
        sbx_netrun_finish(&c->net, res);
    sbx_guardian_release(&b->guard);
    rc = sbx_ws_finish(c->ws, res, rc, e);
    c->ws = NULL;
    remove_dir_safe(c);
    if (res != NULL && SBX_HAS(res, host_root))
        res->host_root = c->host_root;
    sbx_closep(&c->pidfd);
    sbx_argv_free(c->rm);
    sbx_argv_free(c->exists);
    free(c);
    b->impl = NULL;
    return rc;
}

/* ---- the operations ------------------------------------------------------ */

static const sbx_box_ops docker_box_ops;

static int cbox_create(sandbox_box *b, sbx_err *e)
{
    if (b->plan.kind == SBX_RT_DOCKER)
        b->ops = &docker_box_ops;
    cbox *c = calloc(1, sizeof *c);
    if (c == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    c->p = b->plan;
    c->lfd = c->pidfd = -1;
    c->pid = -1;
    /* podman: mapped by --uidmap (rootful) or rootless: never host root. */
    c->host_root = c->p.kind == SBX_RT_PODMAN ? 0 : -1;
    b->impl = c;
    b->guard.pid = -1;
    b->guard.fd = -1;
    b->xp.ctl_fd = -1;
    b->xp.init_pid = -1;
    b->xp.kill_dir[0] = '\0';
    int rc;
    if ((rc = stage(b, c, e)) < 0 || (rc = start(b, c, e)) < 0 ||
        (rc = adopt(b, c, e)) < 0) {
        sbx_err own = {0};
        teardown(b, c, NULL, rc, &own);
        return rc;
    }
    return 0;
}

/* The engine's record of the container's end: 1 with *oom and *exit_code
 * once the engine has seen the init exit, 0 while it still shows the
 * container running, -1 if there is no such container. */
static int engine_record(const sandbox_box *b, const cbox *c, bool *oom,
                         int *exit_code)
{
    char *argv[] = {
        c->p.runtime_path,
        "container",
        "inspect",
        "--format={{.State.Running}} {{.State.OOMKilled}} {{.State.ExitCode}}",
        (char *)b->plan.name,
        NULL};
    sbx_capture cap;
    int code = engine_call(argv, CBOX_CALL_SEC, &cap, 4096);
    char running[16] = "", oomkilled[16] = "";
    int rc = -1;
    if (code == 0 && cap.out.data != NULL &&
        sscanf(cap.out.data, "%15s %15s %d", running, oomkilled, exit_code) ==
            3) {
        *oom = strcmp(oomkilled, "true") == 0;
        rc = strcmp(running, "true") == 0 ? 0 : 1;
    }
    capture_free(&cap);
    return rc;
}

/* Why did the init die?  The engine's record (the container is not --rm),
 * or the container is gone: removed from outside libsandbox.  The init's
 * pidfd can report its death before the engine has reaped it and written
 * the exit down (until then inspect shows it running with exit code 0):
 * wait for the record, a few seconds at most. */
static void why_dead(const sandbox_box *b, const cbox *c, sbx_box_state *st)
{
    bool oom = false;
    int exit_code = -1;
    int rec = engine_record(b, c, &oom, &exit_code);
    for (int i = 0; i < CBOX_RECORD_TRIES && rec == 0; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        rec = engine_record(b, c, &oom, &exit_code);
    }
    /* A SIGKILLed init: the engine may take its OOM event after the exit
     * (docker handles them in turn), so ask the box's memory cgroup while it
     * is there (an OOM kill since the box was last seen alive counts: one
     * of an earlier exec's hogs does not), and the engine again for a
     * moment. */
    for (int i = 0;
         i < CBOX_OOM_TRIES && rec > 0 && !oom && exit_code == 128 + SIGKILL;
         i++) {
        sbx_box_state mem = {0};
        read_stats(c, &mem);
        if (mem.oom_kills > c->oom_alive) {
            oom = true;
            break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        rec = engine_record(b, c, &oom, &exit_code);
    }
    if (rec == 0) {
        st->reason = SANDBOX_END_SIGNALED;
        snprintf(st->why, sizeof st->why,
                 "the box's init is gone, but %s still shows its container "
                 "%s running",
                 engine_name(&c->p), b->plan.name);
    } else if (rec > 0) {
        if (oom || (c->run[0] != '\0' && access(c->run_oom, F_OK) == 0 &&
                    exit_code == 128 + SIGKILL)) {
            st->reason = SANDBOX_END_OOM;
            snprintf(st->why, sizeof st->why,
                     "the box ran out of memory: its init was killed under "
                     "the box's memory limit of %s",
                     c->p.memory);
        } else if (exit_code > 128 && exit_code < 128 + 65) {
            st->reason = SANDBOX_END_SIGNALED;
            snprintf(st->why, sizeof st->why,
                     "the box's init was killed by signal %d (exit %d), not "
                     "by libsandbox: `%s stop`/`kill` from outside?",
                     exit_code - 128, exit_code, engine_name(&c->p));
        } else {
            st->reason = SANDBOX_END_EXITED;
            snprintf(st->why, sizeof st->why,
                     "the box's init exited with code %d (see `%s logs %s`)",
                     exit_code, engine_name(&c->p), b->plan.name);
        }
    } else {
        st->reason = SANDBOX_END_SIGNALED;
        snprintf(st->why, sizeof st->why,
                 "the box's container %s was removed from outside "
                 "libsandbox (`%s rm -f`?)",
                 b->plan.name, engine_name(&c->p));
    }
}

static int cbox_inspect(sandbox_box *b, sbx_box_state *st)
{
    cbox *c = b->impl;
    memset(st, 0, sizeof *st);
    st->cpu_sec = -1;
    if (c == NULL) {
        snprintf(st->why, sizeof st->why, "the box was destroyed");
        return 0;
    }
    bool dead;
    if (c->pidfd >= 0) {
        struct pollfd pf = {c->pidfd, POLLIN, 0};
        dead = poll(&pf, 1, 0) > 0;
    } else {
        dead = kill(c->pid, 0) < 0 && errno == ESRCH;
    }
    if (!dead) {
        st->alive = true;
        read_stats(c, st);
        c->oom_alive = st->oom_kills;
        return 0;
    }
    why_dead(b, c, st);
    return 0;
}

static int cbox_destroy(sandbox_box *b, sandbox_result *res, sbx_err *e)
{
    cbox *c = b->impl;
    if (c == NULL)
        return 0;
    sbx_box_state st = {.cpu_sec = -1};
    read_stats(c, &st); /* before the engine removes the cgroup */
    if (res != NULL) {
        if (st.peak_bytes > 0)
            res->peak_memory_bytes = st.peak_bytes;
        res->cpu_sec = st.cpu_sec;
    }
    return teardown(b, c, res, 0, e);
}

/* ---- sandbox_gc: directories of owners that died with their guardian -- */

unsigned sbx_cbox_gc(void)
{
    static const char *const prefixes[] = {CBOX_DIR_NAME, CBOX_RUN_NAME};
    static const char *const files[] = {SBX_INIT_SOCK_NAME, SBX_INIT_NAME,
                                        "oom"};
    unsigned count = 0;
    int tfd = open(CBOX_TMP, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = tfd >= 0 ? fdopendir(tfd) : NULL;
    if (d == NULL) {
        if (tfd >= 0)
            close(tfd);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        for (size_t i = 0; i < 2; i++) {
            size_t pl = strlen(prefixes[i]);
            if (strncmp(de->d_name, prefixes[i], pl) != 0)
                continue;
            char *end;
            long owner = strtol(de->d_name + pl, &end, 10);
            if (owner <= 0 || *end != '-' || kill((pid_t)owner, 0) == 0 ||
                errno != ESRCH)
                continue;
            int dfd = openat(tfd, de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            struct stat st;
            /* Ours: root's, a directory, not a link planted in /tmp. */
            if (dfd < 0 || fstat(dfd, &st) < 0 || st.st_uid != geteuid()) {
                if (dfd >= 0)
                    close(dfd);
                continue;
            }
            /* The box's part, dir/s (a directory of ours, never a link). */
            int sfd = openat(dfd, CBOX_BOX_SUBDIR,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sfd >= 0) {
                for (size_t f = 0; f < 2; f++)
                    unlinkat(sfd, files[f], 0);
                close(sfd);
                unlinkat(dfd, CBOX_BOX_SUBDIR, AT_REMOVEDIR);
            }
            for (size_t f = 0; f < 3; f++)
                unlinkat(dfd, files[f], 0);
            close(dfd);
            if (unlinkat(tfd, de->d_name, AT_REMOVEDIR) == 0)
                count++;
        }
    }
    closedir(d);
    return count;
}

/* box.c picks sbx_container_box_ops for both engines; create switches a
 * docker box to the docker table (same functions, its name). */
const sbx_box_ops sbx_container_box_ops = {
    .name = "podman",
    .create = cbox_create,
    .inspect = cbox_inspect,
    .destroy = cbox_destroy,
};

static const sbx_box_ops docker_box_ops = {
    .name = "docker",
    .create = cbox_create,
    .inspect = cbox_inspect,
    .destroy = cbox_destroy,
};
