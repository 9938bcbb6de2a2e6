/* SPDX-License-Identifier: MIT */
/* The container backend: podman or docker driven through their CLIs.
 * plan -> argv -> spawn -> capture (deadline, cancel) -> stop (kill the
 * container, not just the client) -> classify -> result. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

/* How long each clean-up CLI call (rm, ps) may take. */
#define SBX_CLEANUP_CALL_SEC 30.0
#define SBX_CLEANUP_TRIES 3

/* Remove the container by name until the runtime no longer lists it.
 * Returns true when it is verifiably gone. */
static bool remove_container(const char *rt, sbx_runtime_kind kind,
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
    ctx->removed = remove_container(ctx->plan->runtime_path, ctx->plan->kind,
                                    ctx->plan->name);
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
static int engine_saw_oom(const sbx_plan *plan, time_t started)
{
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
                    const stop_ctx *sc, sandbox_result *res, time_t started)
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
        sbx_set_message(res,
                        sbx_asprintf("%s failed before the command ran: %.*s",
                                     plan->runtime_path, (int)clen, complaint));
        return SANDBOX_ERUNTIME;
    }
    if (code == 128 + SIGKILL) {
        int oom = engine_saw_oom(plan, started);
        if (oom != 0) {
            res->reason = SANDBOX_END_OOM;
            res->term_signal = SIGKILL;
            sbx_set_message(
                res, sbx_asprintf(
                         "killed by SIGKILL (exit 137) under the %s memory "
                         "limit: out of memory (%s)",
                         plan->memory,
                         oom > 0 ? "the engine reported the OOM kill"
                                 : "inferred: podman keeps no OOM record of "
                                   "a --rm container"));
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

static int container_run_box(const sbx_plan *plan, sandbox_result *res,
                             sbx_err *e)
{
    char **argv = NULL;
    sbx_child child;
    sbx_capture cap = {0};
    stop_ctx sc = {.plan = plan};
    int rc;

    if ((rc = sbx_build_run_argv(plan, &argv, e)) < 0)
        return rc;
    time_t started = time(NULL);
    /* stdin (issue 10): a pipe the capture loop feeds; the client (-i)
     * forwards it to the box. */
    sbx_autoclose int in_r = -1;
    rc = plan->io != NULL ? sbx_io_stdin_pipe(plan->io, &in_r, e) : 0;
    if (rc == 0)
        rc = sbx_spawn_stdin(argv, true, in_r, &child, e);
    sbx_argv_free(argv);
    sbx_closep(&in_r);
    if (rc < 0)
        return rc;
    cap.cap = plan->output_limit;
    cap.io = plan->io;
    rc = sbx_capture_run(&child, plan->timeout_sec, plan->cancel_fd,
                         stop_container, &sc, &cap, e);
    sbx_child_close(&child);
    res->out = cap.out;
    res->err = cap.err;
    res->wall_sec = cap.wall_sec;
    if (rc < 0) {
        /* The capture failed (out of memory, poll): the client was stopped
         * and reaped; make sure the container goes too. */
        if (!sc.removed)
            remove_container(plan->runtime_path, plan->kind, plan->name);
        return rc;
    }
    rc = classify(plan, &cap, &sc, res, started);
    if (rc < 0)
        sbx_fail(e, rc, "%s", res->message ? res->message : "runtime failed");
    return rc;
}

/* The workspace hook: /workspace is the capped overlay (workspace.c). */
int sbx_container_run(const sbx_plan *plan, sandbox_result *res, sbx_err *e)
{
    sbx_ws *ws = NULL;
    sbx_plan wp = *plan;
    sbx_idmap map;
    int rc = sbx_ws_prepare(
        plan, sbx_ws_engine_map(plan, &map) == 0 ? &map : NULL, &ws, e);
    if (rc < 0)
        return rc;
    if (ws != NULL)
        wp.workspace = (char *)sbx_ws_source(ws);
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
        if (remove_container(path, kind, line))
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
