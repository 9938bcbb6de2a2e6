/* SPDX-License-Identifier: MIT */
/*
 * image_id.c: the immutable identity of what a run ran, for
 * sandbox_result.image_id.
 *
 *   podman/docker  the engine's image ID: `<rt> image inspect --format
 *                  {{.Id}} <image>`, spawned (cwd "/") right before the
 *                  container and read after it, as "sha256:<hex>".
 *   native, image  the export the box ran on is named by the engine's
 *   name           image ID (rootfs.c); backend_native.c reports that name.
 *                  Without one the engine is asked as above.
 *   native, root   NULL: a directory has no cheap honest digest (hashing
 *   directory      every file of a root filesystem per run is not cheap,
 *                  and a digest of names and mtimes is not honest).
 *
 * The engine is asked as the run starts: if the tag is moved while the
 * engine resolves it, the ID can still name the other image.  Failures
 * leave image_id NULL; they never fail the run.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define SBX_INSPECT_TIMEOUT_SEC 60.0
#define SBX_ID_MAX 160

/* "sha256:<hex>" from an engine's ID output, or NULL if it is not one. */
static char *normalize_id(const char *raw)
{
    if (raw == NULL)
        return NULL;
    const char *p = raw;
    if (strncmp(p, "sha256:", 7) == 0)
        p += 7;
    size_t n = strspn(p, "0123456789abcdef");
    if (n < 12 || n > 128 ||
        (p[n] != '\0' && p[n] != '\n' && p[n] != '\r' && p[n] != ' '))
        return NULL;
    return sbx_asprintf("sha256:%.*s", (int)n, p);
}

/* Read what the inspect child printed (a few dozen bytes), at most
 * SBX_INSPECT_TIMEOUT_SEC, then make sure it is gone and reaped. */
static char *finish_output(sbx_child *c)
{
    char buf[4096];
    size_t n = 0;
    double end = sbx_now() + SBX_INSPECT_TIMEOUT_SEC;
    while (n < sizeof buf - 1) {
        int ms = (int)((end - sbx_now()) * 1000);
        if (ms <= 0)
            break;
        struct pollfd pf = {.fd = c->out_fd, .events = POLLIN};
        int r = poll(&pf, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t k = read(c->out_fd, buf + n, sizeof buf - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    kill(-c->pid, SIGKILL);
    int st;
    sbx_reap(c, &st);
    sbx_child_close(c);
    return normalize_id(buf);
}

static char *engine_image_id(const char *rt, const char *image)
{
    char *argv[] = {(char *)rt, "image",       "inspect", "--format",
                    "{{.Id}}",  (char *)image, NULL};
    sbx_child c;
    if (sbx_spawn(argv, true, &c, NULL) < 0)
        return NULL;
    return finish_output(&c);
}

void sbx_fill_image_id(const sbx_plan *plan, sandbox_result *res)
{
    if (!SBX_HAS(res, image_id) || res->image_id != NULL || plan->image == NULL)
        return;
    if (plan->kind == SBX_RT_NATIVE) {
        if (plan->image[0] == '/')
            return; /* a directory: NULL, see above */
        /* backend_native.c names the export it used; this is the
         * fallback (the engine's current ID for the name). */
        sbx_autofree char *rt = NULL;
        sbx_runtime_kind kind;
        if (sbx_find_runtime(NULL, NULL, getenv("PATH"), &rt, &kind, NULL) < 0)
            return;
        res->image_id = engine_image_id(rt, plan->image);
        return;
    }
    res->image_id = engine_image_id(plan->runtime_path, plan->image);
}

int sbx_image_id_start(const sbx_plan *plan, sbx_child *c)
{
    c->pid = c->pidfd = c->out_fd = c->err_fd = -1;
    if (plan->kind == SBX_RT_NATIVE || plan->image == NULL)
        return -1;
    char *argv[] = {
        plan->runtime_path,  "image", "inspect", "--format", "{{.Id}}",
        (char *)plan->image, NULL};
    if (sbx_spawn(argv, true, c, NULL) < 0) {
        c->pid = -1;
        return -1;
    }
    return 0;
}

void sbx_image_id_finish(sbx_child *c, const sbx_plan *plan,
                         sandbox_result *res, bool keep)
{
    if (c->pid <= 0) {
        if (keep)
            sbx_fill_image_id(plan, res);
        return;
    }
    char *id = finish_output(c);
    if (keep && SBX_HAS(res, image_id) && res->image_id == NULL)
        res->image_id = id;
    else
        free(id);
}
