/* SPDX-License-Identifier: MIT */
/*
 * image_id.c: the immutable identity of what a run ran, for
 * sandbox_result.image_id.
 *
 *   podman/docker  the engine's image ID: `<rt> image inspect --format
 *                  {{.Id}} <image>` (spawned with cwd "/", stdin
 *                  /dev/null, output captured), as "sha256:<hex>".
 *   native, image  the rootfs export is keyed by that same engine image
 *   name           ID: the ID the run's ref file names (written by
 *                  rootfs.c when it exported or checked the image), as
 *                  "sha256:<hex>"; if no ref is current, the engine is
 *                  asked as above.
 *   native, root   NULL: a directory has no cheap honest digest (hashing
 *   directory      every file of a root filesystem per run is not cheap,
 *                  and a digest of names and mtimes is not honest).
 *
 * Asked after the backend returns: if the tag is moved while a run is in
 * flight, the ID can name the new image.  Failures leave image_id NULL;
 * they never fail the run.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

#define SBX_INSPECT_TIMEOUT_SEC 60.0
#define SBX_ID_MAX 160

static void kill_group(void *ctx, sbx_child *c)
{
    (void)ctx;
    if (c->pid > 0)
        kill(-c->pid, SIGKILL);
}

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

/* Run argv with cwd "/" and return its stdout (at most cap bytes). */
static char *run_in_root(char *const argv[], size_t cap_bytes)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sbx_child c = {-1, -1, -1, -1};
    char *result = NULL;

    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
        goto close_pipes;
    if (posix_spawn_file_actions_init(&fa) != 0)
        goto close_pipes;
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        goto close_pipes;
    }
    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (rc == 0)
        rc = posix_spawn_file_actions_addchdir_np(&fa, "/");
    if (rc == 0)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                               POSIX_SPAWN_SETSIGMASK |
                                               POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawnattr_setpgroup(&at, 0);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&at, &all);
    if (rc == 0)
        rc = posix_spawn(&c.pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        c.pid = -1;
        goto close_pipes;
    }
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;
    c.out_fd = out[0];
    c.err_fd = err[0];
    out[0] = err[0] = -1;
    fcntl(c.out_fd, F_SETFL, O_NONBLOCK);
    fcntl(c.err_fd, F_SETFL, O_NONBLOCK);
    sbx_capture cap = {0};
    cap.cap = cap_bytes;
    if (sbx_capture_run(&c, SBX_INSPECT_TIMEOUT_SEC, -1, kill_group, NULL, &cap,
                        NULL) == 0 &&
        !cap.timed_out && cap.exited && WIFEXITED(cap.status) &&
        WEXITSTATUS(cap.status) == 0 && cap.out.data != NULL) {
        result = cap.out.data;
        cap.out.data = NULL;
    }
    sbx_stream_free(&cap.out);
    sbx_stream_free(&cap.err);
    sbx_child_close(&c);
    return result;

close_pipes:
    for (int i = 0; i < 2; i++) {
        sbx_closep(&out[i]);
        sbx_closep(&err[i]);
    }
    return NULL;
}

static char *engine_image_id(const char *rt, const char *image)
{
    char *argv[] = {(char *)rt, "image",       "inspect", "--format",
                    "{{.Id}}",  (char *)image, NULL};
    sbx_autofree char *out = run_in_root(argv, 4096);
    return normalize_id(out);
}

/* The native rootfs cache's ref file for (rt, image): the same path
 * rootfs.c writes (cache dir, "<rt basename>@<image with / and : as _>"). */
static char *native_ref_id(const char *rt, const char *image)
{
    sbx_autofree char *cache = NULL;
    const char *env = getenv("SANDBOX_CACHE_DIR");
    if (env != NULL && env[0] == '/')
        cache = sbx_asprintf("%s/rootfs", env);
    else if (geteuid() == 0)
        cache = sbx_strdup("/var/cache/libsandbox/rootfs");
    else {
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        cache = (xdg != NULL && xdg[0] == '/')
                    ? sbx_asprintf("%s/libsandbox/rootfs", xdg)
                    : sbx_asprintf("%s/.cache/libsandbox/rootfs",
                                   home ? home : "/tmp");
    }
    if (cache == NULL)
        return NULL;
    char name[600];
    size_t j = 0;
    const char *base = strrchr(rt, '/');
    for (const char *p = base ? base + 1 : rt; *p && j < 64; p++)
        name[j++] = *p;
    name[j++] = '@';
    for (const char *p = image; *p && j < sizeof name - 1; p++)
        name[j++] = (*p == '/' || *p == ':') ? '_' : *p;
    name[j] = '\0';
    sbx_autofree char *ref = sbx_asprintf("%s/refs/%s", cache, name);
    if (ref == NULL)
        return NULL;
    int fd = open(ref, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char line[SBX_ID_MAX + 1];
    ssize_t n = read(fd, line, SBX_ID_MAX);
    close(fd);
    if (n <= 0)
        return NULL;
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    sbx_autofree char *dir = sbx_asprintf("%s/%s", cache, line);
    struct stat st;
    if (dir == NULL || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL; /* the export this ref names is not there */
    return normalize_id(line);
}

void sbx_fill_image_id(const sbx_plan *plan, sandbox_result *res)
{
    if (!SBX_HAS(res, image_id) || res->image_id != NULL || plan->image == NULL)
        return;
    if (plan->kind == SBX_RT_NATIVE) {
        if (plan->image[0] == '/')
            return; /* a directory: NULL, see above */
        sbx_autofree char *rt = NULL;
        sbx_runtime_kind kind;
        if (sbx_find_runtime(NULL, NULL, getenv("PATH"), &rt, &kind, NULL) < 0)
            return;
        res->image_id = native_ref_id(rt, plan->image);
        if (res->image_id == NULL)
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
