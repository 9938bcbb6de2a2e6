/* SPDX-License-Identifier: MIT */
/* Finding the container runtime: explicit option, then $SANDBOX_RUNTIME,
 * then podman on PATH, then docker. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
           access(path, X_OK) == 0;
}

/* Search `name` along a colon-separated PATH, absolute entries only.  An
 * empty entry means "." to execvp and a relative one is relative to the
 * current directory: both are skipped, because the current directory may
 * be a workspace the box wrote (a planted ./podman would run on the host). */
static char *search_path(const char *name, const char *path_env)
{
    char defpath[] = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path_env != NULL ? path_env : defpath;
    while (p != NULL) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        if (dlen > 0 && p[0] == '/') {
            char *cand = sbx_asprintf("%.*s/%s", (int)dlen, p, name);
            if (cand == NULL)
                return NULL;
            if (is_executable_file(cand))
                return cand;
            free(cand);
        }
        p = colon ? colon + 1 : NULL;
    }
    return NULL;
}

static int kind_of(const char *spec, sbx_runtime_kind *kind)
{
    const char *base = strrchr(spec, '/');
    base = base ? base + 1 : spec;
    if (strstr(base, "podman") != NULL)
        *kind = SBX_RT_PODMAN;
    else if (strstr(base, "docker") != NULL)
        *kind = SBX_RT_DOCKER;
    else
        return -1;
    return 0;
}

int sbx_find_runtime(const char *want, const char *env_value,
                     const char *path_env, char **path, sbx_runtime_kind *kind,
                     sbx_err *e)
{
    const char *spec = want;
    const char *from = "the runtime option";

    *path = NULL;
    if (spec == NULL && env_value != NULL && env_value[0] != '\0') {
        spec = env_value;
        from = "$" SANDBOX_RUNTIME_ENV;
    }
    if (spec != NULL && strcmp(spec, "native") == 0) {
        if (!sbx_native_available())
            return sbx_fail(e, SANDBOX_ENORUNTIME,
                            "runtime 'native' (from %s) is not built into "
                            "this libsandbox (it needs Linux and libseccomp)",
                            from);
        *kind = SBX_RT_NATIVE;
        *path = sbx_strdup("native");
        return *path ? 0 : sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    }
    if (spec != NULL) {
        if (kind_of(spec, kind) < 0)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "unknown runtime '%s' (from %s): libsandbox "
                            "drives 'podman' or 'docker' (by name or by "
                            "path) or runs 'native'",
                            spec, from);
        if (strchr(spec, '/') != NULL) {
            if (!is_executable_file(spec))
                return sbx_fail(e, SANDBOX_ENORUNTIME,
                                "runtime '%s' (from %s) is not an "
                                "executable file",
                                spec, from);
            *path = spec[0] == '/' ? sbx_strdup(spec) : realpath(spec, NULL);
        } else {
            *path = search_path(spec, path_env);
            if (*path == NULL)
                return sbx_fail(e, SANDBOX_ENORUNTIME,
                                "runtime '%s' (from %s) was not found on "
                                "PATH; install it or give its full path",
                                spec, from);
        }
        return *path ? 0 : sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    }
    static const char *const order[] = {"podman", "docker"};
    for (size_t i = 0; i < 2; i++) {
        *path = search_path(order[i], path_env);
        if (*path != NULL) {
            *kind = i == 0 ? SBX_RT_PODMAN : SBX_RT_DOCKER;
            return 0;
        }
    }
    return sbx_fail(e, SANDBOX_ENORUNTIME,
                    "no container runtime found: neither podman nor docker "
                    "is on PATH; install one (Debian: apt-get install podman "
                    "or docker.io) or set %s to its path",
                    SANDBOX_RUNTIME_ENV);
}

int sandbox_find_runtime(const char *runtime, char **path, char **msg)
{
    sbx_err e = {0};
    sbx_runtime_kind kind;
    if (msg != NULL)
        *msg = NULL;
    if (path == NULL)
        return SANDBOX_EINVAL;
    int rc = sbx_find_runtime(runtime, getenv(SANDBOX_RUNTIME_ENV),
                              getenv("PATH"), path, &kind, &e);
    if (rc < 0)
        sbx_err_out(&e, msg);
    return rc;
}
