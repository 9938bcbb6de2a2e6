/* SPDX-License-Identifier: MIT */
/* The container CLI's argv, nothing else.  No shell is ever involved: the
 * command reaches the box as one argument of `sh -c`, or argv mode's words
 * as words. */
#include "box.h"
#include "internal.h"
#include "net.h"

#include <stdio.h>
#include <string.h>

typedef struct argv_builder {
    char **v;
    size_t n, cap;
    bool failed;
} argv_builder;

static void add(argv_builder *b, const char *s)
{
    if (b->failed)
        return;
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        char **v = realloc(b->v, cap * sizeof *v);
        if (v == NULL) {
            b->failed = true;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    char *copy = sbx_strdup(s);
    if (copy == NULL) {
        b->failed = true;
        return;
    }
    b->v[b->n++] = copy;
    b->v[b->n] = NULL;
}

__attribute__((format(printf, 2, 3))) static void addf(argv_builder *b,
                                                       const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s == NULL)
        b->failed = true;
    add(b, s);
    free(s);
}

static int finish(argv_builder *b, char ***argv, sbx_err *e)
{
    if (b->failed) {
        sbx_argv_free(b->v);
        *argv = NULL;
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory building argv");
    }
    *argv = b->v;
    return 0;
}

void sbx_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

/* The one word that binds the workspace: the workspace's staging swaps the
 * source directory here and nowhere else. */
static void add_workspace(argv_builder *b, const sbx_plan *p)
{
    add(b, "-v");
    addf(b, "%s:/workspace:rw", p->workspace);
    add(b, "-w");
    add(b, "/workspace");
}

/* The box's places to write, none of them on the host's disk: a read-only
 * root and size-capped tmpfs (memory, charged to the box's memory cgroup)
 * where programs expect to write.  Each is capped at disk_limit; `exec`
 * because build-and-run tasks run what they compile in /tmp (the box runs
 * arbitrary code anyway), nosuid/nodev as the engines' defaults.  The
 * tmpfs is mounted in the box's user namespace, so its root owns them. */
static const struct {
    const char *path, *mode;
} box_tmpfs[] = {
    {"/tmp", "1777"},
    {"/var/tmp", "1777"},
    {"/run", "755"},
    {"/root", "700"}, /* HOME of the box's root */
};

static void add_disk_cap(argv_builder *b, const sbx_plan *p)
{
    add(b, "--read-only");
    for (size_t i = 0; i < sizeof box_tmpfs / sizeof *box_tmpfs; i++)
        addf(b, "--tmpfs=%s:rw,exec,nosuid,nodev,size=%llu,mode=%s",
             box_tmpfs[i].path, (unsigned long long)p->disk_limit_bytes,
             box_tmpfs[i].mode);
}

/* Box root is never host root: podman maps the box's ids 0..count-1 onto
 * the caller's subordinate range (docker's engine remaps by itself). */
static void add_idmap(argv_builder *b, const sbx_plan *p)
{
    if (p->idmap == NULL)
        return;
    addf(b, "--uidmap=0:%u:%u", p->idmap->uid_start, p->idmap->count);
    addf(b, "--gidmap=0:%u:%u", p->idmap->gid_start, p->idmap->count);
}

/* The flags every box gets, one-shot or long-lived: limits, hardening,
 * workspace, id map, capped writable places, name and label, mounts, the
 * allowlist's socket and relay, env.  Fails only on an allowlist without
 * its proxy. */
static int add_box_flags(argv_builder *b, const sbx_plan *p,
                         const char *seccomp, sbx_err *e)
{
    add(b, "--pull=missing");
    addf(b, "--network=%s",
         p->network == SANDBOX_NETWORK_BRIDGE ? "bridge" : "none");
    addf(b, "--memory=%s", p->memory);
    addf(b, "--pids-limit=%ld", p->pids);
    addf(b, "--cpus=%s", p->cpus);
    add(b, "--cap-drop=ALL");
    add(b, "--security-opt=no-new-privileges");
    addf(b, "--security-opt=seccomp=%s", seccomp);
    if (p->workspace != NULL)
        add_workspace(b, p);
    /* Ours: hardening (issue 14). */
    add_idmap(b, p);
    add_disk_cap(b, p);
    /* The image's HEALTHCHECK would have the engine run commands in the
     * box on its own schedule, outside the run's timeout (or every exec's
     * timeout, kill group and accounting): a box runs what its owner
     * asked for, nothing else. */
    add(b, "--no-healthcheck");
    /* Ours: a name to kill it by, a label to sweep strays by. */
    addf(b, "--name=%s", p->name);
    addf(b, "--label=%s", p->label);
    for (size_t i = 0; i < p->n_mounts; i++) {
        add(b, "-v");
        addf(b, "%s:%s:%s", p->mounts[i].host, p->mounts[i].box,
             p->mounts[i].writable ? "rw" : "ro");
    }
    if (p->network == SANDBOX_NETWORK_ALLOWLIST) {
        /* --network=none above; the proxy's socket and the relay. */
        if (p->net == NULL || !p->net->active)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "network allowlist without a running proxy");
        add(b, "-v");
        addf(b, "%s:" SBX_NET_BOX_DIR ":ro", p->net->px.sockdir);
        add(b, "-v");
        addf(b, "%s:" SBX_NET_BOX_DIR "/" SBX_NET_RELAY_NAME ":ro",
             p->net->relay);
    }
    for (size_t i = 0; i < p->n_env; i++)
        addf(b, "--env=%s", p->env[i]);
    return 0;
}

int sbx_build_run_argv(const sbx_plan *p, char ***argv, sbx_err *e)
{
    argv_builder b = {0};
    char seccomp[4096]; /* the shared allow-list as a profile file */
    int rc = sbx_seccomp_profile_path(seccomp, sizeof seccomp, e);
    *argv = NULL;
    if (rc < 0)
        return rc;

    add(&b, p->runtime_path);
    add(&b, "run");
    /* The contract's flags, in the contract's order. */
    add(&b, "--rm");
    if ((rc = add_box_flags(&b, p, seccomp, e)) < 0) {
        sbx_argv_free(b.v);
        return rc;
    }
    /* "--" is not used: docker and podman stop option parsing at the image,
     * and the image was validated not to start with '-'. */
    if (p->stdin_open)
        add(&b, "-i"); /* the client forwards its stdin (our pipe) */
    add(&b, p->image);
    if (p->network == SANDBOX_NETWORK_ALLOWLIST) {
        /* The relay first, then the command or the words (net.h). */
        for (char **w = p->net->argv; *w; w++)
            add(&b, *w);
        return finish(&b, argv, e);
    }
    if (p->argv != NULL) {
        /* argv mode: the words as they are, no shell (issue 10). */
        for (size_t i = 0; i < p->argc; i++)
            add(&b, p->argv[i]);
        return finish(&b, argv, e);
    }
    add(&b, "sh");
    add(&b, "-c");
    add(&b, p->command);
    return finish(&b, argv, e);
}

int sbx_build_create_argv(const sbx_plan *p, const char *init_dir,
                          const char *init_path, char *const *init_argv,
                          char ***argv, sbx_err *e)
{
    argv_builder b = {0};
    char seccomp[4096];
    int rc = sbx_seccomp_profile_path(seccomp, sizeof seccomp, e);
    *argv = NULL;
    if (rc < 0)
        return rc;

    add(&b, p->runtime_path);
    add(&b, "run");
    /* Detached and kept after it exits (no --rm): the engine's record of
     * why it ended (OOM, exit code) outlives it until the owner removes
     * it.  No stdin: execs bring their own through the init. */
    add(&b, "-d");
    if ((rc = add_box_flags(&b, p, seccomp, e)) < 0) {
        sbx_argv_free(b.v);
        return rc;
    }
    /* The control socket's directory, then the init on its stub file
     * inside it (a read-only bind needs its mount points to exist). */
    add(&b, "-v");
    addf(&b, "%s:" SBX_INIT_BOX_DIR ":ro", init_dir);
    add(&b, "-v");
    addf(&b, "%s:" SBX_INIT_BOX_DIR "/" SBX_INIT_NAME ":ro", init_path);
    add(&b, p->image);
    if (p->network == SANDBOX_NETWORK_ALLOWLIST) {
        /* The relay forks its listener and execs the init, which stays
         * the box's PID 1 with the proxy variables in its environment. */
        add(&b, SBX_NET_BOX_DIR "/" SBX_NET_RELAY_NAME);
        add(&b, "-p");
        addf(&b, "%d", SBX_NET_RELAY_PORT);
        add(&b, "-s");
        add(&b, SBX_NET_BOX_DIR "/" SBX_NET_SOCK_NAME);
        add(&b, "--");
    }
    add(&b, SBX_INIT_BOX_DIR "/" SBX_INIT_NAME);
    for (char *const *w = init_argv; w && *w; w++)
        add(&b, *w);
    return finish(&b, argv, e);
}

int sbx_build_rm_argv(const char *runtime_path, sbx_runtime_kind k,
                      const char *name, char ***argv, sbx_err *e)
{
    argv_builder b = {0};
    add(&b, runtime_path);
    add(&b, "rm");
    add(&b, "-f");
    if (k == SBX_RT_PODMAN) {
        /* podman rm -f would first stop with a 10 s grace period. */
        add(&b, "--time=0");
        add(&b, "--ignore");
    }
    add(&b, name);
    return finish(&b, argv, e);
}

int sbx_build_ps_argv(const char *runtime_path, sbx_runtime_kind k,
                      const char *name, char ***argv, sbx_err *e)
{
    argv_builder b = {0};
    add(&b, runtime_path);
    add(&b, "ps");
    add(&b, "-a");
    add(&b, "--no-trunc");
    if (name != NULL) {
        addf(&b, "--filter=name=%s", name);
        add(&b, "--format={{.Names}}");
    } else {
        add(&b, "--filter=label=" SANDBOX_LABEL);
        add(&b, k == SBX_RT_PODMAN
                    ? "--format={{.Names}} {{index .Labels \"" SANDBOX_LABEL
                      "\"}}"
                    : "--format={{.Names}} {{.Label \"" SANDBOX_LABEL "\"}}");
    }
    return finish(&b, argv, e);
}

int sbx_build_exists_argv(const char *runtime_path, sbx_runtime_kind k,
                          const char *name, char ***argv, sbx_err *e)
{
    argv_builder b = {0};
    add(&b, runtime_path);
    add(&b, "container");
    if (k == SBX_RT_PODMAN) {
        add(&b, "exists");
    } else {
        add(&b, "inspect");
        add(&b, "--format={{.Id}}");
    }
    add(&b, name);
    return finish(&b, argv, e);
}
