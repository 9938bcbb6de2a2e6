/* SPDX-License-Identifier: MIT */
/* The container backend: podman or docker driven through their CLIs.
 * plan -> argv -> spawn -> capture (deadline, cancel) -> stop (kill the
 * container, not just the client) -> classify -> result. */
#include "box.h"
#include "guardian.h"
#include "internal.h"
#include "net.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

/* How long each clean-up CLI call (rm, ps) may take. */
#define SBX_CLEANUP_CALL_SEC 30.0
#define SBX_CLEANUP_TRIES 3

/* Remove the container by name until the runtime no longer lists it.
 * Returns true when it is verifiably gone.  Shared with the boxes
 * (backend_container_box.c). */
bool sbx_container_remove(const char *rt, sbx_runtime_kind kind,
                          const char *name)
{
    for (int attempt = 0; attempt < SBX_CLEANUP_TRIES; attempt++) {
        char **rm = NULL, **ps = NULL;
        char *listed = NULL;
        bool gone = false;
        if (sbx_build_rm_argv(rt, kind, name, &rm, NULL) == 0)
            sbx_run_quiet(rm, SBX_CLEANUP_CALL_SEC, NULL, 0);
        if (sbx_build_ps_argv(rt, kind, name, &ps, NULL) == 0 &&
            sbx_run_quiet(ps, SBX_CLEANUP_CALL_SEC, &listed, 4096) == 0)
            gone = listed == NULL || strstr(listed, name) == NULL;
        sbx_argv_free(rm);
        sbx_argv_free(ps);
        free(listed);
        if (gone)
            return true;
        /* podman's removal can race (EBUSY on the container's shm while a
         * new mount namespace elsewhere still holds it): a short pause. */
        struct timespec gap = {0, 200 * 1000 * 1000};
        if (attempt + 1 < SBX_CLEANUP_TRIES)
            nanosleep(&gap, NULL);
    }
    return false;
}

typedef struct stop_ctx {
    const sbx_plan *plan;
    bool removed;
} stop_ctx;

/* Called on the deadline or on cancel.  Killing only the client would leave
 * the container running (podman keeps it under conmon; moby#14207), so:
 * stop the client first so it cannot create or start anything more, then
 * remove the container by name and check that it is gone. */
static void stop_container(void *vctx, sbx_child *c)
{
    stop_ctx *ctx = vctx;
    if (c->pid > 0)
        kill(-c->pid, SIGKILL);
    ctx->removed = sbx_container_remove(ctx->plan->runtime_path,
                                        ctx->plan->kind, ctx->plan->name);
}

/* ---- the podman client's private working directory ------------------
 * Runtime clients never run in the caller's cwd: conmon (started by the
 * podman client, inheriting its cwd) writes an `oom` file there when the
 * kernel OOM-kills in the box.  Each podman run gets a fresh 0700
 * directory; the file, when present, is the exact OOM record podman 4
 * otherwise lacks for a --rm container.  Docker's client runs in "/". */
typedef struct run_dir {
    char path[64]; /* "" when none */
    char oom[80];  /* path + "/oom" */
} run_dir;

static int run_dir_make(run_dir *d, sbx_err *e)
{
    snprintf(d->path, sizeof d->path, "/tmp/libsandbox-run-XXXXXX");
    if (mkdtemp(d->path) == NULL) {
        int err = errno;
        d->path[0] = '\0';
        return sbx_fail_errno(e, SANDBOX_EIO, err,
                              "cannot create a private directory under /tmp "
                              "for the runtime client");
    }
    snprintf(d->oom, sizeof d->oom, "%s/oom", d->path);
    return 0;
}

/* Also the guardian's callback: async-signal-safe (unlink, rmdir). */
static void run_dir_remove_safe(void *arg)
{
    const run_dir *d = arg;
    if (d->path[0] == '\0')
        return;
    unlink(d->oom);
    rmdir(d->path);
}

/* The guardian's callback: the client's private directory, and the staged
 * workspace's mounts (a dead caller's box writes are dropped, never left
 * mounted).  Async-signal-safe. */
typedef struct guard_ctx {
    run_dir *rd;
    const char *ws_merged; /* NULL: no staged workspace */
} guard_ctx;

static void guard_fire(void *arg)
{
    const guard_ctx *gc = arg;
    run_dir_remove_safe(gc->rd);
    if (gc->ws_merged != NULL)
        sbx_ws_detach_safe(gc->ws_merged);
}

/* The library's side: whatever else conmon left, then the directory. */
static void run_dir_remove(run_dir *d)
{
    if (d->path[0] == '\0')
        return;
    int dfd = open(d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (dir != NULL) {
        struct dirent *de;
        while ((de = readdir(dir)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlinkat(dfd, de->d_name, 0);
        closedir(dir);
    } else if (dfd >= 0) {
        close(dfd);
    }
    run_dir_remove_safe(d);
    d->path[0] = '\0';
}

/* ---- host_root: was the box's uid 0 the host's? ----------------------
 * docker: the engine decides (dockerd --userns-remap).  One `docker info`
 * per run, started right after the run client so it costs no wall time
 * (~10 ms of CPU, overlapped with the container's start); nothing is
 * cached between runs (the daemon may be restarted with other flags). */
static void kill_client(void *ctx, sbx_child *c)
{
    (void)ctx;
    if (c->pid > 0)
        kill(-c->pid, SIGKILL);
}

int sbx_docker_info_start(const sbx_plan *plan, sbx_child *c)
{
    char *argv[] = {plan->runtime_path, "info",
                    "--format={{json .SecurityOptions}}", NULL};
    return sbx_spawn(argv, true, c, NULL);
}

/* 0: remapped, 1: not (box root is host root), -1: cannot tell. */
int sbx_docker_info_finish(sbx_child *c)
{
    sbx_capture cap = {.cap = 4096};
    int verdict = -1;
    if (sbx_capture_run(c, SBX_CLEANUP_CALL_SEC, -1, kill_client, NULL, &cap,
                        NULL) == 0 &&
        !cap.timed_out && WIFEXITED(cap.status) &&
        WEXITSTATUS(cap.status) == 0 && cap.out.data != NULL)
        verdict = strstr(cap.out.data, "name=userns") != NULL ? 0 : 1;
    sbx_child_close(c);
    sbx_stream_free(&cap.out);
    sbx_stream_free(&cap.err);
    return verdict;
}

/* The first line of the runtime's own complaint on stderr, if it looks like
 * one: podman says "Error: ...", docker says "docker: Error ...". */
static const char *runtime_complaint(const sandbox_stream *err, size_t *len)
{
    if (err->data == NULL || err->len == 0)
        return NULL;
    const char *d = err->data, *end = err->data + err->len;
    /* The complaint may follow "Trying to pull ..." lines. */
    for (const char *line = d; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        if ((n >= 7 && memcmp(line, "Error: ", 7) == 0) ||
            (n >= 8 && memcmp(line, "docker: ", 8) == 0) ||
            (n >= 26 && memcmp(line, "Error response from daemon", 26) == 0) ||
            memmem(line, n, "level=error", 11) != NULL) {
            *len = n;
            return line;
        }
        line = nl ? nl + 1 : end;
    }
    return NULL;
}

/* Did the engine record an OOM kill of this container since `started`?
 * 1 yes, 0 no, -1 cannot tell.  The container is gone (--rm), but docker
 * keeps its events: one `docker events` call, made only after an exit of
 * 137.  podman 4 emits no OOM event, so there the answer is -1 and the
 * caller infers (SIGKILL we did not send, under a memory limit). */
static int engine_saw_oom(const sbx_plan *plan, time_t started,
                          const run_dir *rd)
{
    if (plan->kind == SBX_RT_PODMAN)
        return rd->path[0] != '\0' && access(rd->oom, F_OK) == 0 ? 1 : -1;
    if (plan->kind != SBX_RT_DOCKER)
        return -1;
    char since[32], until[32], filter[96];
    snprintf(since, sizeof since, "--since=%lld", (long long)started - 1);
    snprintf(until, sizeof until, "--until=%lld", (long long)time(NULL) + 1);
    snprintf(filter, sizeof filter, "--filter=container=%s", plan->name);
    char *argv[] = {plan->runtime_path,
                    "events",
                    since,
                    until,
                    filter,
                    "--filter=event=oom",
                    "--format={{.Status}}",
                    NULL};
    char *out = NULL;
    int code = sbx_run_quiet(argv, 30.0, &out, 4096);
    int saw = code != 0 ? -1 : (out != NULL && strstr(out, "oom") != NULL);
    free(out);
    return saw;
}

static int classify(const sbx_plan *plan, const sbx_capture *cap,
                    const stop_ctx *sc, sandbox_result *res, time_t started,
                    const run_dir *rd)
{
    if (cap->timed_out) {
        res->reason = SANDBOX_END_TIMEOUT;
        res->exit_code = SANDBOX_EXIT_TIMEOUT;
        sbx_set_message(
            res, sbx_asprintf("timed out after %g s; container %s %s",
                              plan->timeout_sec, plan->name,
                              sc->removed ? "killed and removed"
                                          : "could not be verified removed "
                                            "(run 'sandbox gc')"));
        return 0;
    }
    if (cap->cancelled) {
        res->reason = SANDBOX_END_CANCELLED;
        res->exit_code = 130;
        sbx_set_message(
            res, sbx_asprintf("cancelled; container %s %s", plan->name,
                              sc->removed ? "killed and removed"
                                          : "could not be verified removed "
                                            "(run 'sandbox gc')"));
        return 0;
    }
    if (WIFSIGNALED(cap->status)) {
        res->reason = SANDBOX_END_ERROR;
        res->error = SANDBOX_ERUNTIME;
        res->term_signal = WTERMSIG(cap->status);
        sbx_set_message(res,
                        sbx_asprintf("the runtime client %s was killed by "
                                     "signal %d",
                                     plan->runtime_path, res->term_signal));
        return SANDBOX_ERUNTIME;
    }
    int code = WEXITSTATUS(cap->status);
    res->exit_code = code;
    size_t clen = 0;
    const char *complaint = runtime_complaint(&res->err, &clen);
    if (complaint != NULL &&
        (code == 125 || ((code == 126 || code == 127) &&
                         (memmem(complaint, clen, "OCI", 3) != NULL ||
                          memmem(complaint, clen, "runc", 4) != NULL)))) {
        /* podman and docker exit 125 when they fail themselves, 126/127
         * when the OCI runtime could not start the container. */
        res->reason = SANDBOX_END_ERROR;
        res->error = SANDBOX_ERUNTIME;
        /* The usual cause since box root is no longer host root: a
         * workspace or mount only host root may enter. */
        bool denied = memmem(complaint, clen, "ermission denied", 16) != NULL;
        sbx_set_message(
            res,
            sbx_asprintf("%s failed before the command ran: %.*s%s",
                         plan->runtime_path, (int)clen, complaint,
                         denied && (plan->workspace || plan->n_mounts > 0)
                             ? " (the box's root is an unprivileged host uid "
                               "(podman --uidmap, docker userns-remap): the "
                               "workspace and mounts must be accessible to it)"
                             : ""));
        return SANDBOX_ERUNTIME;
    }
    if (code == 128 + SIGKILL) {
        int oom = engine_saw_oom(plan, started, rd);
        if (oom != 0) {
            res->reason = SANDBOX_END_OOM;
            res->term_signal = SIGKILL;
            sbx_set_message(
                res,
                sbx_asprintf("killed by SIGKILL (exit 137) under the %s memory "
                             "limit: out of memory (%s)",
                             plan->memory,
                             oom > 0 ? "the engine reported the OOM kill"
                                     : "inferred: podman's conmon left no OOM "
                                       "record"));
            return 0;
        }
    }
    if (code > 128 && code < 128 + 65) {
        res->reason = SANDBOX_END_SIGNALED;
        res->term_signal = code - 128;
        sbx_set_message(res, sbx_asprintf("killed by signal %d (exit %d)",
                                          code - 128, code));
        return 0;
    }
    res->reason = SANDBOX_END_EXITED;
    if (code != 0)
        sbx_set_message(res, sbx_asprintf("exited with code %d", code));
    return 0;
}

/* Podman, rootful: the box's ids map onto the caller's subordinate range
 * (--uidmap/--gidmap), so box root is host uid <start>, never 0.  Rootless
 * podman already maps box root to the caller.  Docker: the engine's
 * --userns-remap (reported, not enforced: res->host_root). */
int sbx_podman_idmap(sbx_idmap *map, bool *use, sbx_err *e)
{
    *use = false;
    if (geteuid() != 0)
        return 0;
    int rc = sbx_subid_range(map, e);
    if (rc < 0)
        return rc;
    *use = true;
    return 0;
}

static int container_run(const sbx_plan *plan, sandbox_result *res, sbx_err *e);

/* network allowlist: the proxy lives exactly as long as the run. */
static int container_run_box(const sbx_plan *plan, sandbox_result *res,
                             sbx_err *e)
{
    sbx_netrun net;
    int rc = sbx_netrun_start(plan, &net, e);
    if (rc == 0) {
        sbx_plan p = *plan;
        p.net = &net;
        rc = container_run(&p, res, e);
    }
    sbx_netrun_finish(&net, res);
    return rc;
}

/* One box: guardian, client, capture, classification.  plan already
 * carries the id map (podman), the workspace source to bind and the
 * network plumbing (net.h). */
static int container_run(const sbx_plan *plan, sandbox_result *res, sbx_err *e)
{
    char **argv = NULL, **rm = NULL, **exists = NULL;
    sbx_child child,
        info = {.pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1};
    sbx_capture cap = {0};
    stop_ctx sc = {.plan = plan};
    sbx_guardian g = {.pid = -1, .fd = -1};
    run_dir rd = {{0}, {0}};
    /* podman: mapped by --uidmap (rootful) or rootless: never host root. */
    int host_root = plan->kind == SBX_RT_PODMAN ? 0 : -1;
    int rc;

    if ((rc = sbx_build_run_argv(plan, &argv, e)) < 0 ||
        (rc = sbx_build_rm_argv(plan->runtime_path, plan->kind, plan->name, &rm,
                                e)) < 0 ||
        (rc = sbx_build_exists_argv(plan->runtime_path, plan->kind, plan->name,
                                    &exists, e)) < 0)
        goto out;
    if (plan->kind == SBX_RT_PODMAN && (rc = run_dir_make(&rd, e)) < 0)
        goto out;
    /* The box dies with its caller: whatever kills this process, the
     * guardian removes the container, and at the latest at the deadline
     * plus a grace even if this process is stopped or stuck. */
    time_t started = time(NULL);
    double deadline = sbx_now() + plan->timeout_sec + SBX_GUARDIAN_GRACE_SEC;
    guard_ctx gctx = {&rd, plan->workspace_staged ? plan->workspace : NULL};
    if ((rc = sbx_guardian_start(&g, deadline, rm, exists, guard_fire, &gctx,
                                 e)) < 0)
        goto out;
    /* stdin (issue 10): a pipe the capture loop feeds; the client (-i)
     * forwards it to the box. */
    int in_r = -1;
    rc = plan->io != NULL ? sbx_io_stdin_pipe(plan->io, &in_r, e) : 0;
    if (rc == 0)
        rc = sbx_spawn_io(argv, true, rd.path[0] ? rd.path : "/", in_r, &child,
                          e);
    sbx_closep(&in_r);
    if (rc < 0)
        goto out;
    if (child.pidfd >= 0)
        sbx_guardian_watch(&g, child.pidfd, NULL);
    if (plan->kind == SBX_RT_DOCKER && sbx_docker_info_start(plan, &info) < 0)
        info.pid = -1;
    cap.cap = plan->output_limit;
    cap.io = plan->io;
    rc = sbx_capture_run(&child, plan->timeout_sec, plan->cancel_fd,
                         stop_container, &sc, &cap, e);
    sbx_child_close(&child);
    res->out = cap.out;
    res->err = cap.err;
    res->wall_sec = cap.wall_sec;
    if (rc < 0) {
        /* The capture failed (out of memory, poll, a lost status): the
         * client was stopped and reaped; make sure the container goes. */
        if (!sc.removed)
            sbx_container_remove(plan->runtime_path, plan->kind, plan->name);
        goto out;
    }
    if (info.pid > 0)
        host_root = sbx_docker_info_finish(&info);
    rc = classify(plan, &cap, &sc, res, started, &rd);
    if (rc < 0)
        sbx_fail(e, rc, "%s", res->message ? res->message : "runtime failed");
out:
    if (info.pid > 0)
        sbx_docker_info_finish(&info);
    sbx_guardian_release(&g);
    run_dir_remove(&rd);
    if (SBX_HAS(res, host_root))
        res->host_root = host_root;
    sbx_argv_free(argv);
    sbx_argv_free(rm);
    sbx_argv_free(exists);
    return rc;
}

/* The workspace hook: /workspace is the capped overlay (workspace.c). */
int sbx_container_run(const sbx_plan *plan, sandbox_result *res, sbx_err *e)
{
    sbx_ws *ws = NULL;
    sbx_plan wp = *plan; /* shallow: nothing here is freed */
    sbx_idmap map, pmap;
    bool use_map = false;
    /* The id map first: the workspace is staged for the box's root. */
    if (plan->kind == SBX_RT_PODMAN) {
        int mrc = sbx_podman_idmap(&pmap, &use_map, e);
        if (mrc < 0)
            return mrc;
        if (use_map)
            wp.idmap = &pmap;
    }
    int rc = sbx_ws_prepare(
        &wp, sbx_ws_engine_map(&wp, &map) == 0 ? &map : NULL, &ws, e);
    if (rc < 0)
        return rc;
    if (ws != NULL)
        wp.workspace = (char *)sbx_ws_source(ws);
    wp.workspace_staged = true;
    return sbx_ws_finish(ws, res, container_run_box(&wp, res, e), e);
}

int sandbox_gc(const char *runtime, int all, unsigned *removed, char **msg)
{
    sbx_err e = {0};
    char *path = NULL, *listing = NULL;
    char **ps = NULL;
    sbx_runtime_kind kind;
    unsigned count = 0;
    int rc;

    if (msg != NULL)
        *msg = NULL;
    if (removed != NULL)
        *removed = 0;
    rc = sbx_find_runtime(runtime, getenv(SANDBOX_RUNTIME_ENV), getenv("PATH"),
                          &path, &kind, &e);
    if (rc < 0)
        goto out;
    count = sbx_ws_sweep();
    count += sbx_net_gc();  /* proxies of dead callers (net.h) */
    count += sbx_cbox_gc(); /* container boxes' control directories */
    /* exec kill groups of boxes whose owner and guardian died together */
    count += sbx_xp_killgroups_sweep(10.0);
    if (kind == SBX_RT_NATIVE) {
        count += sbx_native_gc();
        goto out;
    }
    if ((rc = sbx_build_ps_argv(path, kind, NULL, &ps, &e)) < 0)
        goto out;
    if (sbx_run_quiet(ps, SBX_CLEANUP_CALL_SEC, &listing, 1 << 20) != 0) {
        rc = sbx_fail(&e, SANDBOX_ERUNTIME,
                      "'%s ps' failed: is the %s "
                      "service running?",
                      path, kind == SBX_RT_PODMAN ? "podman" : "docker");
        goto out;
    }
    for (char *line = listing, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *sp = strchr(line, ' ');
        long owner = sp ? strtol(sp + 1, NULL, 10) : 0;
        if (sp != NULL)
            *sp = '\0';
        if (line[0] == '\0')
            continue;
        /* A live owner may still be using it (or be another namespace's
         * pid: then `all` is the way to sweep). */
        if (!all && owner > 0 && (kill((pid_t)owner, 0) == 0 || errno == EPERM))
            continue;
        if (sbx_container_remove(path, kind, line))
            count++;
    }
out:
    if (removed != NULL)
        *removed = count;
    if (rc < 0)
        sbx_err_out(&e, msg);
    free(path);
    free(listing);
    sbx_argv_free(ps);
    return rc;
}
