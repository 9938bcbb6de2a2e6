/* SPDX-License-Identifier: MIT */
/* Defaults, validation, size parsing, and the resolved run plan. */
#include "box.h"
#include "net.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#define SBX_COMMAND_MAX (1u << 20)

int sandbox_opts_init(sandbox_opts *opts, size_t size)
{
    if (opts == NULL || size < SBX_OPTS_MIN_SIZE)
        return SANDBOX_EABI;
    sandbox_opts d;
    memset(&d, 0, sizeof d);
    d.struct_size = size < sizeof d ? size : sizeof d;
    d.image = SANDBOX_DEFAULT_IMAGE;
    d.timeout_sec = SANDBOX_DEFAULT_TIMEOUT_SEC;
    d.network = SANDBOX_NETWORK_NONE;
    d.memory = SANDBOX_DEFAULT_MEMORY;
    d.pids = SANDBOX_DEFAULT_PIDS;
    d.cpus = SANDBOX_DEFAULT_CPUS;
    d.output_limit = SANDBOX_DEFAULT_OUTPUT_LIMIT;
    d.cancel_fd = -1;
    d.disk_limit = SANDBOX_DEFAULT_DISK_LIMIT;
    d.stdin_fd = d.stdout_fd = d.stderr_fd = -1;
    d.box_lifetime_sec = SBX_BOX_LIFETIME_DEF;
    /* A caller with a newer, larger struct gets its tail zeroed; one with
     * an older, smaller struct gets only the fields it knows. */
    memset(opts, 0, size);
    memcpy(opts, &d, d.struct_size);
    opts->struct_size = size;
    return 0;
}

int sandbox_result_init(sandbox_result *res, size_t size)
{
    if (res == NULL || size < SBX_RESULT_MIN_SIZE)
        return SANDBOX_EABI;
    memset(res, 0, size);
    res->struct_size = size;
    res->exit_code = -1;
    res->cpu_sec = -1;
    if (SBX_HAS(res, host_root))
        res->host_root = -1;
    return 0;
}

int sbx_opts_normalize(const sandbox_opts *in, sandbox_opts *out, sbx_err *e)
{
    if (in == NULL)
        return sbx_fail(e, SANDBOX_EINVAL, "opts is NULL");
    if (in->struct_size < SBX_OPTS_MIN_SIZE)
        return sbx_fail(e, SANDBOX_EABI,
                        "opts.struct_size is %zu: initialise the options "
                        "with sandbox_opts_init(&opts, sizeof opts)",
                        in->struct_size);
    sandbox_opts_init(out, sizeof *out);
    size_t n = in->struct_size < sizeof *out ? in->struct_size : sizeof *out;
    memcpy(out, in, n);
    out->struct_size = sizeof *out;
    return 0;
}

int sbx_parse_size(const char *s, uint64_t *bytes)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return SANDBOX_EINVAL;
    uint64_t whole = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (whole > (UINT64_MAX - digit) / 10)
            return SANDBOX_EINVAL;
        whole = whole * 10 + digit;
    }
    /* Fraction: keep up to 9 digits, enough for byte precision below 1 PiB. */
    uint64_t frac = 0, scale = 1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return SANDBOX_EINVAL;
        for (; isdigit((unsigned char)*p); p++) {
            if (scale < 1000000000ULL) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
    }
    uint64_t mult = 1;
    switch (tolower((unsigned char)*p)) {
    case 'k':
        mult = 1ULL << 10;
        p++;
        break;
    case 'm':
        mult = 1ULL << 20;
        p++;
        break;
    case 'g':
        mult = 1ULL << 30;
        p++;
        break;
    case 't':
        mult = 1ULL << 40;
        p++;
        break;
    case 'b':
    case '\0': break;
    default: return SANDBOX_EINVAL;
    }
    if (mult > 1 && tolower((unsigned char)*p) == 'i')
        p++;
    if (tolower((unsigned char)*p) == 'b')
        p++;
    if (*p != '\0')
        return SANDBOX_EINVAL;
    if (whole > UINT64_MAX / mult)
        return SANDBOX_EINVAL;
    /* frac/scale * mult without overflow: mult is 1 or a power of 1024 up
     * to 2^40, frac < 10^9, so q < 2^60. */
    uint64_t fbytes = 0; /* a fraction of a byte is nothing */
    if (mult >= 1024) {
        uint64_t q = frac * (mult >> 10);
        fbytes = q / scale * 1024 + (q % scale) * 1024 / scale;
    }
    if (whole * mult > UINT64_MAX - fbytes)
        return SANDBOX_EINVAL;
    *bytes = whole * mult + fbytes;
    return 0;
}

static bool image_ok(const char *s)
{
    if (!isalnum((unsigned char)s[0]))
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!isalnum(c) && strchr("._/:@-", c) == NULL)
            return false;
    }
    return strlen(s) <= 512;
}

static bool env_ok(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    const char *p = s;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    return *p == '=';
}

static const char *component_problem(const char *p);

/* Absolute path a container runtime's -v syntax can carry. */
static const char *path_problem(const char *p)
{
    if (p[0] != '/')
        return "is not an absolute path";
    if (strpbrk(p, ":,") != NULL)
        return "contains ':' or ',' which the runtime's mount syntax cannot "
               "carry; rename or symlink it";
    for (const char *q = p; *q; q++)
        if (iscntrl((unsigned char)*q))
            return "contains a control character";
    return component_problem(p);
}

/* Components of an absolute path: no "..", no ".", no empty one ("//")
 * but a trailing slash.  The runtime would normalise them, and a ".." box
 * path names a place other than the one the caller read (the box may have
 * made a component a symlink). */
static const char *component_problem(const char *p)
{
    for (const char *c = p + 1; *c != '\0';) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0)
            return "contains an empty component ('//'); write each '/' once";
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return "contains a '.' or '..' component; write the path "
                   "without them";
        if (end == NULL)
            break;
        c = end + 1;
    }
    return NULL;
}

/* argv mode: argc >= 1 non-NULL words, argv[0] not empty, all of them
 * together no longer than a command. */
static int validate_argv(const sandbox_opts *o, sbx_err *e)
{
    if (o->argc == 0 || o->argv == NULL)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "argv is %s but argc is %zu: set argc to the number "
                        "of words (at least 1: the program) and argv to them",
                        o->argv ? "set" : "NULL", o->argc);
    if (o->argc > SBX_MAX_ARGV)
        return sbx_fail(e, SANDBOX_EINVAL, "argc %zu is more than %d words",
                        o->argc, SBX_MAX_ARGV);
    size_t total = 0;
    for (size_t i = 0; i < o->argc; i++) {
        if (o->argv[i] == NULL)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "argv[%zu] is NULL (argc is %zu): argc must count "
                            "the words, not a terminating NULL",
                            i, o->argc);
        total += strlen(o->argv[i]) + 1;
    }
    if (o->argv[0][0] == '\0')
        return sbx_fail(e, SANDBOX_EINVAL,
                        "argv[0] is empty: it names the program to run");
    if (total > SBX_COMMAND_MAX)
        return sbx_fail(e, SANDBOX_EINVAL, "argv is longer than %u bytes",
                        SBX_COMMAND_MAX);
    return 0;
}

/* What to run: exactly one of command and argv. */
static int validate_command(const sandbox_opts *o, sbx_err *e)
{
    if (o->command != NULL && (o->argv != NULL || o->argc != 0))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "command and argv are both set: use command for a "
                        "shell command (sh -c) or argv for a program and its "
                        "arguments (no shell), not both");
    if (o->command == NULL && (o->argv != NULL || o->argc != 0))
        return validate_argv(o, e);
    if (o->command == NULL || o->command[0] == '\0')
        return sbx_fail(e, SANDBOX_EINVAL,
                        "command is empty: set "
                        "opts.command to the shell command to run (or "
                        "opts.argv and opts.argc to a program and its "
                        "arguments)");
    if (strlen(o->command) > SBX_COMMAND_MAX)
        return sbx_fail(e, SANDBOX_EINVAL, "command is longer than %u bytes",
                        SBX_COMMAND_MAX);
    return 0;
}

/* fd is -1 or open with an access mode other than `bad`. */
int sbx_validate_fd(int fd, const char *name, int bad, const char *need,
                    sbx_err *e)
{
    if (fd == -1)
        return 0;
    int fl = fd < -1 ? -1 : fcntl(fd, F_GETFL);
    if (fl < 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "%s %d is not an open file descriptor (use -1 for "
                        "none)",
                        name, fd);
    if ((fl & O_ACCMODE) == bad)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "%s %d is open %s only: it must be %s", name, fd,
                        bad == O_WRONLY ? "for writing" : "for reading", need);
    return 0;
}

static int validate_io(const sandbox_opts *o, sbx_err *e)
{
    int rc;
    if (o->stdin_data == NULL && o->stdin_len > 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "stdin_data is NULL but stdin_len is %zu: point "
                        "stdin_data at the bytes (or set stdin_len to 0)",
                        o->stdin_len);
    if (o->stdin_data != NULL && o->stdin_fd != -1)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "stdin_data and stdin_fd are both set: the box has "
                        "one stdin; use one of them (stdin_fd -1 for none)");
    if ((rc = sbx_validate_fd(o->stdin_fd, "stdin_fd", O_WRONLY,
                              "readable (O_RDONLY or O_RDWR)", e)) < 0 ||
        (rc = sbx_validate_fd(o->stdout_fd, "stdout_fd", O_RDONLY,
                              "writable (O_WRONLY or O_RDWR)", e)) < 0 ||
        (rc = sbx_validate_fd(o->stderr_fd, "stderr_fd", O_RDONLY,
                              "writable (O_WRONLY or O_RDWR)", e)) < 0)
        return rc;
    return 0;
}

/* box_lifetime_sec: 0 (default 3600) or (0, 7 days]; box_idle_sec: 0
 * (never) or (0, 7 days]. */
static int validate_box_times(const sandbox_opts *o, sbx_err *e)
{
    if (!isfinite(o->box_lifetime_sec) || o->box_lifetime_sec < 0 ||
        o->box_lifetime_sec > SBX_TIMEOUT_MAX)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "box_lifetime_sec %g is out of range: it must be > 0 "
                        "and at most %g s (7 days), or 0 for the default "
                        "(3600)",
                        o->box_lifetime_sec, SBX_TIMEOUT_MAX);
    if (!isfinite(o->box_idle_sec) || o->box_idle_sec < 0 ||
        o->box_idle_sec > SBX_TIMEOUT_MAX)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "box_idle_sec %g is out of range: it must be >= 0 "
                        "(0: never idle out) and at most %g s (7 days)",
                        o->box_idle_sec, SBX_TIMEOUT_MAX);
    return 0;
}

int sbx_validate(const sandbox_opts *o, sbx_err *e)
{
    uint64_t mem;
    int rc;

    if ((rc = validate_command(o, e)) < 0 || (rc = validate_io(o, e)) < 0)
        return rc;
    if (o->image != NULL && o->image[0] == '/') {
        struct stat st;
        const char *why = component_problem(o->image);
        if (why != NULL)
            return sbx_fail(e, SANDBOX_EINVAL, "image directory '%s' %s",
                            o->image, why);
        if (stat(o->image, &st) < 0 || !S_ISDIR(st.st_mode))
            return sbx_fail(e, SANDBOX_EINVAL,
                            "image '%s' is not a directory "
                            "(an absolute image path names a root filesystem "
                            "directory for the native runtime)",
                            o->image);
    } else if (o->image == NULL || !image_ok(o->image))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "image '%s' is not a valid image reference (letters, "
                        "digits and ._/:@- only, starting with a letter or "
                        "digit)",
                        o->image ? o->image : "(null)");
    if (o->runtime != NULL && o->runtime[0] == '\0')
        return sbx_fail(e, SANDBOX_EINVAL,
                        "runtime is an empty string: use "
                        "NULL to detect, or \"podman\" / \"docker\"");
    if (!isfinite(o->timeout_sec) || o->timeout_sec <= 0 ||
        o->timeout_sec > SBX_TIMEOUT_MAX)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "timeout %g s is out of range: "
                        "it must be > 0 and at most %g s (7 days)",
                        o->timeout_sec, SBX_TIMEOUT_MAX);
    if (o->network != SANDBOX_NETWORK_NONE &&
        o->network != SANDBOX_NETWORK_BRIDGE &&
        o->network != SANDBOX_NETWORK_ALLOWLIST)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "network %d is unknown: use SANDBOX_NETWORK_NONE, "
                        "SANDBOX_NETWORK_BRIDGE or SANDBOX_NETWORK_ALLOWLIST",
                        o->network);
    if (o->network == SANDBOX_NETWORK_ALLOWLIST) {
        sbx_netpolicy np;
        int nrc = sbx_netpolicy_parse(&np, o->allow, o->n_allow, e);
        if (nrc < 0)
            return nrc;
        sbx_netpolicy_free(&np);
    } else if (o->n_allow > 0 || o->max_connections > 0 || o->max_net_bytes > 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "allow, max_connections and max_net_bytes apply to "
                        "network allowlist only: set opts.network = "
                        "SANDBOX_NETWORK_ALLOWLIST (--network allowlist)");
    if (o->memory == NULL || sbx_parse_size(o->memory, &mem) < 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "memory '%s' is not a size: write "
                        "a number with an optional unit, e.g. 512m or 2g",
                        o->memory ? o->memory : "(null)");
    if (mem < SBX_MEMORY_MIN || mem > SBX_MEMORY_MAX)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "memory '%s' is out of range: it "
                        "must be between 6m and 1t",
                        o->memory);
    if (o->pids < 1 || o->pids > SBX_PIDS_MAX)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "pids %ld is out of range: it must "
                        "be between 1 and %ld",
                        o->pids, SBX_PIDS_MAX);
    if (!isfinite(o->cpus) || o->cpus < SBX_CPUS_MIN || o->cpus > 4096)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "cpus %g is out of range: it must "
                        "be between 0.01 and the host's CPU count",
                        o->cpus);
    if (o->output_limit < SBX_OUTPUT_LIMIT_MIN ||
        o->output_limit > SBX_OUTPUT_LIMIT_MAX)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "output_limit %zu is out of range: "
                        "it must be between %d and %zu bytes",
                        o->output_limit, SBX_OUTPUT_LIMIT_MIN,
                        SBX_OUTPUT_LIMIT_MAX);
    if (o->workspace != NULL) {
        struct stat st;
        const char *why = path_problem(o->workspace);
        if (o->workspace[0] != '/' && o->workspace[0] != '\0')
            why = NULL; /* relative paths are resolved below */
        if (why != NULL)
            return sbx_fail(e, SANDBOX_EINVAL, "workspace '%s' %s",
                            o->workspace, why);
        if (stat(o->workspace, &st) < 0)
            return sbx_fail_errno(e, SANDBOX_EINVAL, errno,
                                  "workspace '%s' cannot be used",
                                  o->workspace);
        if (!S_ISDIR(st.st_mode))
            return sbx_fail(e, SANDBOX_EINVAL,
                            "workspace '%s' is not a directory", o->workspace);
    }
    if (o->n_mounts > SBX_MAX_MOUNTS || (o->n_mounts > 0 && !o->mounts))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "mounts: %zu entries (at most %d, "
                        "and mounts must not be NULL)",
                        o->n_mounts, SBX_MAX_MOUNTS);
    for (size_t i = 0; i < o->n_mounts; i++) {
        const sandbox_mount *m = &o->mounts[i];
        struct stat st;
        const char *why;
        if (m->host == NULL || m->box == NULL)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "mounts[%zu]: host and box "
                            "paths are required",
                            i);
        if ((why = path_problem(m->host)) != NULL)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "mounts[%zu]: host path '%s' "
                            "%s",
                            i, m->host, why);
        if ((why = path_problem(m->box)) != NULL)
            return sbx_fail(e, SANDBOX_EINVAL, "mounts[%zu]: box path '%s' %s",
                            i, m->box, why);
        if (strcmp(m->box, "/") == 0 ||
            (o->workspace && strcmp(m->box, "/workspace") == 0))
            return sbx_fail(e, SANDBOX_EINVAL,
                            "mounts[%zu]: box path '%s' "
                            "would hide the root or the workspace",
                            i, m->box);
        if (m->writable != 0 && m->writable != 1)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "mounts[%zu]: writable must "
                            "be 0 or 1",
                            i);
        if (stat(m->host, &st) < 0)
            return sbx_fail_errno(e, SANDBOX_EINVAL, errno,
                                  "mounts[%zu]: "
                                  "host path '%s'",
                                  i, m->host);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->mounts[j].box, m->box) == 0)
                return sbx_fail(e, SANDBOX_EINVAL,
                                "mounts[%zu]: box path "
                                "'%s' is already mounted by mounts[%zu]",
                                i, m->box, j);
    }
    if (o->n_env > SBX_MAX_ENV || (o->n_env > 0 && !o->env))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "env: %zu entries (at most %d, "
                        "and env must not be NULL)",
                        o->n_env, SBX_MAX_ENV);
    for (size_t i = 0; i < o->n_env; i++)
        if (o->env[i] == NULL || !env_ok(o->env[i]))
            return sbx_fail(e, SANDBOX_EINVAL,
                            "env[%zu] '%s' is not "
                            "NAME=VALUE with NAME made of letters, digits and "
                            "'_'",
                            i, o->env[i] ? o->env[i] : "(null)");
    if (o->disk_limit != NULL) {
        uint64_t d;
        if (sbx_parse_size(o->disk_limit, &d) < 0 || d < SBX_DISK_MIN ||
            d > SBX_DISK_MAX)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "disk_limit '%s' is not a size between 1m and "
                            "1t such as \"512m\" or \"4g\" (NULL keeps the "
                            "default, " SANDBOX_DEFAULT_DISK_LIMIT ")",
                            o->disk_limit);
    }
    if ((rc = validate_box_times(o, e)) < 0)
        return rc;
    if (o->cancel_fd < -1 ||
        (o->cancel_fd >= 0 && fcntl(o->cancel_fd, F_GETFD) < 0))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "cancel_fd %d is not an open file "
                        "descriptor (use -1 for none)",
                        o->cancel_fd);
    return 0;
}

int sandbox_opts_validate(const sandbox_opts *opts, char **msg)
{
    sbx_err e = {0};
    sandbox_opts o;
    if (msg != NULL)
        *msg = NULL;
    int rc = sbx_opts_normalize(opts, &o, &e);
    if (rc == 0)
        rc = sbx_validate(&o, &e);
    if (rc < 0)
        sbx_err_out(&e, msg);
    return rc;
}

/* Does resolving `path` pass through a symlink a box made (the workspace
 * commit-back marks every link it creates with SBX_WS_BOX_LINK_XATTR, which
 * only host root can set)?  Walks the path one prefix at a time, following
 * each link's target the way the kernel would (at most 40 links).  Returns
 * the marked link in *bad (malloc'd), or NULL. */
static char *box_link_on_path(const char *path, int depth)
{
    size_t n = strlen(path);
    if (depth > 40 || n >= PATH_MAX)
        return NULL; /* realpath reports the loop or the length */
    char buf[PATH_MAX];
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (i < n && buf[i] != '/')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (lstat(buf, &st) == 0 && S_ISLNK(st.st_mode)) {
            if (lgetxattr(buf, SBX_WS_BOX_LINK_XATTR, NULL, 0) >= 0)
                return sbx_strdup(buf);
            char target[PATH_MAX];
            ssize_t t = readlink(buf, target, sizeof target - 1);
            if (t < 0)
                return NULL;
            target[t] = '\0';
            /* the link's directory, for a relative target */
            char *slash = strrchr(buf, '/');
            size_t dl = slash ? (size_t)(slash - buf) : 0;
            const char *rest = saved ? path + i : "";
            char *next = target[0] == '/'
                             ? sbx_asprintf("%s%s", target, rest)
                             : sbx_asprintf("%.*s%s%s%s", (int)dl, buf,
                                            slash ? "/" : "", target, rest);
            if (next == NULL)
                return NULL;
            char *bad = box_link_on_path(next, depth + 1);
            free(next);
            return bad;
        }
        buf[i] = saved;
    }
    return NULL;
}

char *sbx_box_link_on_path(const char *path)
{
    return path != NULL ? box_link_on_path(path, 0) : NULL;
}

static int resolve_dir(const char *in, char **out, const char *what, sbx_err *e)
{
    char *bad = box_link_on_path(in, 0);
    if (bad != NULL) {
        int rc = sbx_fail(e, SANDBOX_EINVAL,
                          "%s '%s' passes through '%s', a symbolic link a "
                          "box left in a workspace: the library never "
                          "follows box-made links; give the real path "
                          "(or remove the link)",
                          what, in, bad);
        free(bad);
        return rc;
    }
    char *p = realpath(in, NULL);
    if (p == NULL)
        return sbx_fail_errno(e, SANDBOX_EINVAL, errno, "%s '%s'", what, in);
    const char *why = path_problem(p);
    if (why != NULL) {
        int rc = sbx_fail(e, SANDBOX_EINVAL, "%s '%s' (resolved to '%s') %s",
                          what, in, p, why);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* The extra mounts as structs: host resolved (realpath), box copied. */
static int plan_mounts(sbx_plan *plan, const sandbox_opts *o, sbx_err *e)
{
    if (o->n_mounts == 0)
        return 0;
    plan->mounts = calloc(o->n_mounts, sizeof *plan->mounts);
    if (plan->mounts == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    for (size_t i = 0; i < o->n_mounts; i++) {
        sbx_plan_mount *m = &plan->mounts[i];
        int rc = resolve_dir(o->mounts[i].host, &m->host, "mount host path", e);
        if (rc < 0)
            return rc;
        plan->n_mounts = i + 1;
        m->box = sbx_strdup(o->mounts[i].box);
        m->writable = o->mounts[i].writable != 0;
        if (m->box == NULL)
            return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    }
    return 0;
}

int sbx_plan_init(sbx_plan *plan, const sandbox_opts *opts, sbx_err *e)
{
    sandbox_opts o;
    uint8_t rnd[8];
    int rc;

    memset(plan, 0, sizeof *plan);
    if ((rc = sbx_opts_normalize(opts, &o, e)) < 0)
        return rc;
    if ((rc = sbx_validate(&o, e)) < 0)
        return rc;

    plan->command = o.command;
    plan->image = o.image;
    plan->network = o.network;
    plan->memory = o.memory;
    sbx_parse_size(o.memory, &plan->memory_bytes);
    plan->pids = o.pids;
    plan->timeout_sec = o.timeout_sec;
    plan->output_limit = o.output_limit;
    plan->env = o.env;
    plan->n_env = o.n_env;
    plan->cancel_fd = o.cancel_fd;
    plan->argv = o.command == NULL ? o.argv : NULL;
    plan->argc = o.command == NULL ? o.argc : 0;
    plan->stdin_data = o.stdin_data;
    plan->stdin_len = o.stdin_len;
    plan->stdin_fd = o.stdin_fd;
    plan->stdout_fd = o.stdout_fd;
    plan->stderr_fd = o.stderr_fd;
    plan->stdin_open = o.stdin_data != NULL || o.stdin_fd >= 0;
    plan->on_output = o.on_output;
    plan->on_output_ctx = o.on_output_ctx;
    sbx_parse_size(o.disk_limit ? o.disk_limit : SANDBOX_DEFAULT_DISK_LIMIT,
                   &plan->disk_limit_bytes);
    plan->allow = o.allow;
    plan->n_allow = o.n_allow;
    plan->max_connections = o.max_connections;
    plan->max_net_bytes = o.max_net_bytes;
    plan->box_lifetime_sec =
        o.box_lifetime_sec > 0 ? o.box_lifetime_sec : SBX_BOX_LIFETIME_DEF;
    plan->box_idle_sec = o.box_idle_sec;
    /* podman and docker refuse more CPUs than the host has: clamp, so the
     * contract's default of 2.0 still works on a one-CPU machine. */
    double cpus = o.cpus;
    long online = sbx_online_cpus();
    if (cpus > (double)online)
        cpus = (double)online;
    plan->cpus_value = cpus;
    snprintf(plan->cpus, sizeof plan->cpus, "%.2f", cpus);
    /* Trim trailing zeros: "2.00" -> "2", "0.50" -> "0.5". */
    char *dot = strchr(plan->cpus, '.');
    if (dot != NULL) {
        char *end = plan->cpus + strlen(plan->cpus) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }

    if (o.workspace != NULL &&
        (rc = resolve_dir(o.workspace, &plan->workspace, "workspace", e)) < 0)
        goto fail;
    if ((rc = plan_mounts(plan, &o, e)) < 0)
        goto fail;
    rc = sbx_find_runtime(o.runtime, getenv(SANDBOX_RUNTIME_ENV),
                          getenv("PATH"), &plan->runtime_path, &plan->kind, e);
    if (rc < 0)
        goto fail;
    if (plan->kind != SBX_RT_NATIVE && plan->image[0] == '/') {
        rc = sbx_fail(e, SANDBOX_EINVAL,
                      "image '%s' is a directory: only the "
                      "native runtime runs a root filesystem directory; "
                      "podman and docker need an image name",
                      plan->image);
        goto fail;
    }
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "getrandom");
        goto fail;
    }
    snprintf(plan->name, sizeof plan->name,
             "sandbox-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    snprintf(plan->label, sizeof plan->label, "%s=%ld", SANDBOX_LABEL,
             (long)getpid());
    return 0;
fail:
    sbx_plan_free(plan);
    return rc;
}

static void free_strv(char **v, size_t n)
{
    if (v != NULL)
        for (size_t i = 0; i < n; i++)
            free(v[i]);
    free(v);
}

void sbx_plan_free(sbx_plan *plan)
{
    free(plan->runtime_path);
    free(plan->workspace);
    for (size_t i = 0; i < plan->n_mounts; i++) {
        free(plan->mounts[i].host);
        free(plan->mounts[i].box);
    }
    free(plan->mounts);
    if (plan->owned) {
        free((char *)plan->command);
        free((char *)plan->image);
        free((char *)plan->memory);
        free_strv((char **)plan->env, plan->n_env);
        free_strv((char **)plan->argv, plan->argc);
        free_strv((char **)plan->allow, plan->n_allow);
    }
    memset(plan, 0, sizeof *plan);
}

/* n strings copied into a fresh array (NULL stays NULL); -1 out of memory */
static int dup_strv(const char *const **v, size_t n)
{
    if (*v == NULL)
        return 0;
    char **c = calloc(n + 1, sizeof *c);
    if (c == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((c[i] = sbx_strdup((*v)[i])) == NULL) {
            free_strv(c, i);
            return -1;
        }
    *v = (const char *const *)c;
    return 0;
}

int sbx_plan_own(sbx_plan *plan, sbx_err *e)
{
    if (plan->owned)
        return 0;
    const char *cmd = plan->command, *img = plan->image, *mem = plan->memory;
    const char *const *env = plan->env, *const *argv = plan->argv,
                      *const *allow = plan->allow;
    plan->command = plan->image = plan->memory = NULL;
    plan->env = plan->argv = plan->allow = NULL;
    plan->owned = true;
    /* Exec-only fields a box never uses: not kept. */
    plan->stdin_data = NULL;
    plan->stdin_len = 0;
    plan->stdin_fd = plan->stdout_fd = plan->stderr_fd = -1;
    plan->stdin_open = false;
    plan->on_output = NULL;
    plan->on_output_ctx = NULL;
    plan->io = NULL;
    plan->net = NULL;
    plan->cancel_fd = -1;
    plan->env = env;
    plan->argv = argv;
    plan->allow = allow;
    int bad = (cmd && (plan->command = sbx_strdup(cmd)) == NULL) ||
              (img && (plan->image = sbx_strdup(img)) == NULL) ||
              (mem && (plan->memory = sbx_strdup(mem)) == NULL);
    if (bad || dup_strv(&plan->env, plan->n_env) < 0) {
        plan->env = NULL, plan->argv = NULL, plan->allow = NULL;
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    }
    if (dup_strv(&plan->argv, plan->argc) < 0) {
        plan->argv = NULL, plan->allow = NULL;
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    }
    if (dup_strv(&plan->allow, plan->n_allow) < 0) {
        plan->allow = NULL;
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    }
    return 0;
}
