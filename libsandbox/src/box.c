/* SPDX-License-Identifier: MIT */
/* Boxes: the public handle (sandbox_box_*), its lifetime, idle timeout and
 * the reason it died, the one exit classifier, and sandbox_run on a box.
 *
 * Locking: b->mu guards busy, destroyed, why, t_active, the guardian's
 * socket and the backend's inspect/destroy.  It is never held while an
 * exec runs (execs run concurrently); destroy marks the box destroyed,
 * kills the running execs' groups and waits for busy to reach 0 before it
 * tears the box down. */
#include "box.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

/* Present once the container backend's boxes are linked in. */
#pragma weak sbx_container_box_ops

#define SBX_XOPTS_MIN_SIZE sizeof(sandbox_exec_opts)
#define SBX_BOX_PATH                                                           \
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- the exit classifier ---------------------------------------------- */

static void classify_end(sandbox_result *res, int status, const sbx_exit_ctx *x)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    bool sigkill = code == 128 + SIGKILL;
    res->exit_code = code;
    if (sigkill && (x->oom != 0 || x->oom_kills > 0)) {
        res->reason = SANDBOX_END_OOM;
        res->term_signal = SIGKILL;
        if (x->oom_note != NULL)
            sbx_set_message(res, sbx_asprintf("out of memory: %s (limit %s)",
                                              x->oom_note, x->memory));
        else
            sbx_set_message(
                res, sbx_asprintf("out of memory: the kernel killed %llu "
                                  "process(es) at the %s memory limit",
                                  (unsigned long long)x->oom_kills, x->memory));
        return;
    }
    char note[200] = "";
    if (x->oom_kills > 0)
        snprintf(note, sizeof note,
                 "; the kernel OOM-killed %llu process(es) in the box at the "
                 "%s memory limit, and the box went on",
                 (unsigned long long)x->oom_kills, x->memory);
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

void sbx_classify(sandbox_result *res, const sbx_capture *cap,
                  const sbx_exit_ctx *x)
{
    const char *killed = x->killed ? x->killed : "the box was killed";
    res->term_signal = 0;
    if (cap->timed_out) {
        res->reason = SANDBOX_END_TIMEOUT;
        res->exit_code = SANDBOX_EXIT_TIMEOUT;
        sbx_set_message(res, sbx_asprintf("timed out after %g s; %s",
                                          x->timeout_sec, killed));
    } else if (cap->cancelled) {
        res->reason = SANDBOX_END_CANCELLED;
        res->exit_code = 130;
        sbx_set_message(res, sbx_asprintf("cancelled; %s", killed));
    } else {
        classify_end(res, cap->status, x);
    }
}

/* ---- the handle --------------------------------------------------------- */

int sbx_box_check(const sandbox_box *b, sbx_err *e)
{
    if (b == NULL || b->magic != SBX_BOX_MAGIC)
        return sbx_fail(e, SANDBOX_EBADBOX,
                        "%s is not a box handle: pass the sandbox_box * that "
                        "sandbox_box_create returned (and has not been "
                        "released by sandbox_box_free)",
                        b == NULL ? "NULL" : "the pointer");
    return 0;
}

static const sbx_box_ops *ops_for(sbx_runtime_kind k)
{
    if (k == SBX_RT_NATIVE)
        return &sbx_native_box_ops;
    const sbx_box_ops *c = &sbx_container_box_ops;
    return c; /* NULL until the container backend's boxes are built in */
}

static void box_release(sandbox_box *b)
{
    b->magic = 0;
    sbx_plan_free(&b->plan);
    if (b->base_env != NULL)
        for (char **p = b->base_env; *p; p++)
            free(*p);
    free(b->base_env);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int sbx_box_create_plan(sbx_plan *plan, sandbox_box **out, sbx_err *e)
{
    *out = NULL;
    sandbox_box *b = calloc(1, sizeof *b);
    if (b == NULL) {
        sbx_plan_free(plan);
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    }
    b->plan = *plan;
    memset(plan, 0, sizeof *plan);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    sbx_xp_init(&b->xp, &b->mu);
    b->guard.pid = -1;
    b->guard.fd = -1;
    b->ops = ops_for(b->plan.kind);
    b->t_created = b->t_active = sbx_now();
    b->deadline = b->t_created + b->plan.box_lifetime_sec;
    b->magic = SBX_BOX_MAGIC;
    int rc = b->ops != NULL
                 ? b->ops->create(b, e)
                 : sbx_fail(e, SANDBOX_ERUNTIME,
                            "boxes on %s are not built into this libsandbox: "
                            "use the native runtime",
                            b->plan.runtime_path);
    if (rc < 0) {
        box_release(b);
        return rc;
    }
    *out = b;
    return 0;
}

int sandbox_box_create(const sandbox_opts *opts, sandbox_box **box, char **msg)
{
    sbx_err e = {0};
    sandbox_opts o;
    sbx_plan plan;
    if (msg != NULL)
        *msg = NULL;
    if (box == NULL) {
        sbx_fail(&e, SANDBOX_EINVAL, "box is NULL: pass &box");
        sbx_err_out(&e, msg);
        return e.code;
    }
    *box = NULL;
    int rc = sbx_opts_normalize(opts, &o, &e);
    if (rc == 0) {
        /* A box runs no command of its own: the exec fields are ignored. */
        o.command = ":";
        o.argv = NULL;
        o.argc = 0;
        o.stdin_data = NULL;
        o.stdin_len = 0;
        o.stdin_fd = o.stdout_fd = o.stderr_fd = -1;
        o.on_output = NULL;
        o.cancel_fd = -1;
        rc = sbx_plan_init(&plan, &o, &e);
    }
    if (rc == 0 && (rc = sbx_plan_own(&plan, &e)) < 0)
        sbx_plan_free(&plan);
    if (rc == 0)
        rc = sbx_box_create_plan(&plan, box, &e);
    if (rc < 0)
        sbx_err_out(&e, msg);
    return rc;
}

const char *sandbox_box_name(const sandbox_box *box)
{
    return sbx_box_check(box, NULL) == 0 ? box->plan.name : NULL;
}

/* ---- death: lifetime, idle, the backend's word -------------------------- */

/* Under b->mu: is it gone?  Sets b->why (sticky) and b->dead_reason. */
static bool box_gone(sandbox_box *b, sbx_box_state *st)
{
    memset(st, 0, sizeof *st);
    st->cpu_sec = -1;
    if (b->why[0] != '\0')
        return true;
    double now = sbx_now();
    if (b->destroyed) {
        snprintf(b->why, sizeof b->why, "destroyed by sandbox_box_destroy");
        b->dead_reason = SANDBOX_END_EXITED;
        return true;
    }
    if (b->impl != NULL)
        b->ops->inspect(b, st);
    if (now >= b->deadline) {
        snprintf(b->why, sizeof b->why,
                 "its lifetime of %g s ran out (opts.box_lifetime_sec)",
                 b->plan.box_lifetime_sec);
        b->dead_reason = SANDBOX_END_TIMEOUT;
    } else if (b->plan.box_idle_sec > 0 && b->busy == 0 &&
               now >= b->t_active + b->plan.box_idle_sec) {
        snprintf(b->why, sizeof b->why,
                 "it was idle for %g s (opts.box_idle_sec)",
                 b->plan.box_idle_sec);
        b->dead_reason = SANDBOX_END_TIMEOUT;
    } else if (b->impl == NULL || !st->alive) {
        snprintf(b->why, sizeof b->why, "%s",
                 st->why[0] ? st->why : "killed: its init is gone");
        b->dead_reason = st->reason ? st->reason : SANDBOX_END_SIGNALED;
    }
    return b->why[0] != '\0';
}

static int dead_error(const sandbox_box *b, sbx_err *e)
{
    return sbx_fail(e, SANDBOX_EBOXDEAD, "the box %s is gone: %s", b->plan.name,
                    b->why);
}

/* busy++ unless it is gone; *oom: the box's OOM kills so far. */
static int begin(sandbox_box *b, uint64_t *oom, sbx_err *e)
{
    sbx_box_state st;
    pthread_mutex_lock(&b->mu);
    int rc = box_gone(b, &st) ? dead_error(b, e) : 0;
    if (rc == 0 && b->busy++ == 0)
        sbx_guardian_activity(&b->guard, true);
    pthread_mutex_unlock(&b->mu);
    *oom = st.oom_kills;
    return rc;
}

int sbx_box_begin(sandbox_box *b, sbx_err *e)
{
    uint64_t oom;
    return begin(b, &oom, e);
}

void sbx_box_end(sandbox_box *b)
{
    pthread_mutex_lock(&b->mu);
    if (--b->busy == 0) {
        b->t_active = sbx_now();
        sbx_guardian_activity(&b->guard, false);
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
}

int sandbox_box_alive(sandbox_box *box, char **why)
{
    sbx_err e = {0};
    sbx_box_state st;
    if (why != NULL)
        *why = NULL;
    if (sbx_box_check(box, &e) < 0)
        return e.code;
    pthread_mutex_lock(&box->mu);
    bool gone = box_gone(box, &st);
    if (gone && why != NULL)
        *why = sbx_strdup(box->why);
    pthread_mutex_unlock(&box->mu);
    return gone ? 0 : 1;
}

/* ---- exec -----------------------------------------------------------------
 */

static bool env_name_ok(const char *s)
{
    if (s == NULL || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
                       (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    const char *p = s;
    while (*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
           (*p >= '0' && *p <= '9'))
        p++;
    return *p == '=';
}

/* Absolute, no ".", "..", or empty components. */
static bool cwd_ok(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *c = p + 1; *c != '\0';) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if ((n == 0 && end != NULL) || (n == 1 && c[0] == '.') ||
            (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (end == NULL)
            break;
        c = end + 1;
    }
    return true;
}

static int check_what(const sandbox_exec_opts *x, sbx_err *e)
{
    if (x->command != NULL && (x->argv != NULL || x->argc != 0))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: command and argv are both set: use command "
                        "for a shell command (sh -c) or argv for a program "
                        "and its arguments (no shell), not both");
    if (x->command != NULL)
        return x->command[0] != '\0'
                   ? 0
                   : sbx_fail(e, SANDBOX_EINVAL,
                              "exec: command is empty: set x.command (or "
                              "x.argv and x.argc)");
    if (x->argv == NULL || x->argc == 0 || x->argc > SBX_MAX_ARGV)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: nothing to run: set x.command to a shell "
                        "command, or x.argv to argc (1..%d) words",
                        SBX_MAX_ARGV);
    for (size_t i = 0; i < x->argc; i++)
        if (x->argv[i] == NULL)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "exec: argv[%zu] is NULL (argc is %zu): argc "
                            "counts the words, not a terminating NULL",
                            i, x->argc);
    if (x->argv[0][0] == '\0')
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: argv[0] is empty: it names the program");
    return 0;
}

static int check_limits(const sandbox_exec_opts *x, sbx_err *e)
{
    if (!isfinite(x->timeout_sec) || x->timeout_sec < 0 ||
        x->timeout_sec > SBX_TIMEOUT_MAX)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: timeout_sec %g is out of range: it must be > 0 "
                        "and at most %g s, or 0 for the box's timeout",
                        x->timeout_sec, SBX_TIMEOUT_MAX);
    if (x->output_limit != 0 && (x->output_limit < SBX_OUTPUT_LIMIT_MIN ||
                                 x->output_limit > SBX_OUTPUT_LIMIT_MAX))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: output_limit %zu is out of range: between %d "
                        "and %zu bytes, or 0 for the box's",
                        x->output_limit, SBX_OUTPUT_LIMIT_MIN,
                        SBX_OUTPUT_LIMIT_MAX);
    if (x->cwd != NULL && !cwd_ok(x->cwd))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: cwd '%s' must be an absolute path in the box "
                        "without '.', '..' or empty components",
                        x->cwd);
    if (x->n_env > SBX_MAX_ENV || (x->n_env > 0 && x->env == NULL))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: env has %zu entries (at most %d, and env must "
                        "not be NULL)",
                        x->n_env, SBX_MAX_ENV);
    for (size_t i = 0; i < x->n_env; i++)
        if (!env_name_ok(x->env[i]))
            return sbx_fail(e, SANDBOX_EINVAL,
                            "exec: env[%zu] '%s' is not NAME=VALUE with NAME "
                            "made of letters, digits and '_'",
                            i, x->env[i] ? x->env[i] : "(null)");
    return 0;
}

static int check_io(const sandbox_exec_opts *x, sbx_err *e)
{
    int rc;
    if (x->stdin_data == NULL && x->stdin_len > 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: stdin_data is NULL but stdin_len is %zu",
                        x->stdin_len);
    if (x->stdin_data != NULL && x->stdin_fd != -1)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: stdin_data and stdin_fd are both set: use one "
                        "(stdin_fd -1 for none)");
    if ((rc = sbx_validate_fd(x->stdin_fd, "exec: stdin_fd", O_WRONLY,
                              "readable (O_RDONLY or O_RDWR)", e)) < 0 ||
        (rc = sbx_validate_fd(x->stdout_fd, "exec: stdout_fd", O_RDONLY,
                              "writable (O_WRONLY or O_RDWR)", e)) < 0 ||
        (rc = sbx_validate_fd(x->stderr_fd, "exec: stderr_fd", O_RDONLY,
                              "writable (O_WRONLY or O_RDWR)", e)) < 0)
        return rc;
    if (x->cancel_fd < -1 ||
        (x->cancel_fd >= 0 && fcntl(x->cancel_fd, F_GETFD) < 0))
        return sbx_fail(e, SANDBOX_EINVAL,
                        "exec: cancel_fd %d is not an open file descriptor "
                        "(use -1 for none)",
                        x->cancel_fd);
    return 0;
}

int sandbox_exec_opts_init(sandbox_exec_opts *x, size_t size)
{
    if (x == NULL || size < SBX_XOPTS_MIN_SIZE)
        return SANDBOX_EABI;
    memset(x, 0, size);
    x->struct_size = size;
    x->stdin_fd = x->stdout_fd = x->stderr_fd = x->cancel_fd = -1;
    return 0;
}

static int exec_opts_get(const sandbox_exec_opts *in, sandbox_exec_opts *out,
                         sbx_err *e)
{
    if (in == NULL)
        return sbx_fail(e, SANDBOX_EINVAL, "exec options are NULL");
    if (in->struct_size < SBX_XOPTS_MIN_SIZE)
        return sbx_fail(e, SANDBOX_EABI,
                        "exec options' struct_size is %zu: initialise them "
                        "with sandbox_exec_opts_init(&x, sizeof x)",
                        in->struct_size);
    memcpy(out, in, sizeof *out);
    int rc;
    if ((rc = check_what(out, e)) < 0 || (rc = check_limits(out, e)) < 0 ||
        (rc = check_io(out, e)) < 0)
        return rc;
    return 0;
}

/* One exec, resolved: what box.c hands sbx_xp_exec. */
typedef struct box_exec {
    const char *command; /* or argv */
    const char *const *argv;
    size_t argc;
    const char *const *env;
    size_t n_env;
    const char *cwd;
    double timeout_sec;
    size_t output_limit;
    int cancel_fd;
    sbx_io *io;
    const char *killed;
} box_exec;

/* Put "NAME=..." into v (n used), replacing an earlier one of that name. */
static void env_set(char **v, size_t *n, char *s)
{
    size_t k = (size_t)(strchr(s, '=') - s) + 1;
    for (size_t i = 0; i < *n; i++)
        if (strncmp(v[i], s, k) == 0) {
            v[i] = s;
            return;
        }
    v[(*n)++] = s;
}

static const char *const proxy_env[] = {
    "HTTP_PROXY=http://127.0.0.1:3128",  "HTTPS_PROXY=http://127.0.0.1:3128",
    "ALL_PROXY=http://127.0.0.1:3128",   "http_proxy=http://127.0.0.1:3128",
    "https_proxy=http://127.0.0.1:3128", "all_proxy=http://127.0.0.1:3128",
    "SANDBOX_NETRELAY_PORT=3128"};
#define N_PROXY_ENV (sizeof proxy_env / sizeof *proxy_env)

/* The exec's environment (pointers borrowed): the box's base, the box's
 * env, the allowlist's proxy variables, the exec's env; later wins. */
static char **exec_env(const sandbox_box *b, const box_exec *x)
{
    static const char *const defaults[] = {SBX_BOX_PATH, "HOME=/root",
                                           "HOSTNAME=sandbox", NULL};
    char *const *base = b->base_env ? b->base_env : (char *const *)defaults;
    size_t nb = 0;
    while (base[nb] != NULL)
        nb++;
    char **v =
        calloc(nb + b->plan.n_env + N_PROXY_ENV + x->n_env + 1, sizeof *v);
    if (v == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < nb; i++)
        env_set(v, &n, base[i]);
    for (size_t i = 0; i < b->plan.n_env; i++)
        env_set(v, &n, (char *)b->plan.env[i]);
    if (b->plan.network == SANDBOX_NETWORK_ALLOWLIST)
        for (size_t i = 0; i < N_PROXY_ENV; i++)
            env_set(v, &n, (char *)proxy_env[i]);
    for (size_t i = 0; i < x->n_env; i++)
        env_set(v, &n, (char *)x->env[i]);
    v[n] = NULL;
    return v;
}

/* sh -c command, or the argv words (looked up in the exec's PATH). */
static char **exec_argv(const box_exec *x, bool *lookup)
{
    size_t n = x->command != NULL ? 3 : x->argc;
    char **v = calloc(n + 1, sizeof *v);
    if (v == NULL)
        return NULL;
    *lookup = x->command == NULL;
    if (x->command != NULL) {
        v[0] = "/bin/sh";
        v[1] = "-c";
        v[2] = (char *)x->command;
    } else {
        for (size_t i = 0; i < n; i++)
            v[i] = (char *)x->argv[i];
    }
    return v;
}

/* After the exec: the box's accounting, and whether it died meanwhile.  An
 * init whose control socket closed may still be tearing its pid namespace
 * down: its end (and why) shows within a moment. */
static int exec_after(sandbox_box *b, int rc, uint64_t oom_before,
                      uint64_t *oom_during, sandbox_result *res, sbx_err *e)
{
    sbx_box_state st;
    pthread_mutex_lock(&b->mu);
    bool gone = box_gone(b, &st);
    for (int i = 0; i < 200 && !gone && rc == SANDBOX_EBOXDEAD; i++) {
        pthread_mutex_unlock(&b->mu);
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&b->mu);
        gone = box_gone(b, &st);
    }
    *oom_during = st.oom_kills > oom_before ? st.oom_kills - oom_before : 0;
    res->peak_memory_bytes = st.peak_bytes;
    res->cpu_sec = st.cpu_sec;
    if (gone && (rc == SANDBOX_EBOXDEAD || b->destroyed))
        rc = dead_error(b, e);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static int box_exec_run(sandbox_box *b, const box_exec *x, sandbox_result *res,
                        sbx_err *e)
{
    uint64_t oom_before = 0;
    int rc = begin(b, &oom_before, e);
    if (rc < 0)
        return rc;
    bool lookup = false;
    sbx_autofree char **envp = exec_env(b, x);
    sbx_autofree char **argv = exec_argv(x, &lookup);
    sbx_capture cap = {0};
    if (envp == NULL || argv == NULL)
        rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    sbx_xspec xs = {.argv = argv,
                    .path_lookup = lookup,
                    .envp = envp,
                    .cwd = x->cwd,
                    .timeout_sec = x->timeout_sec,
                    .output_limit = x->output_limit,
                    .cancel_fd = x->cancel_fd,
                    .io = x->io};
    double t0 = sbx_now();
    if (rc == 0)
        rc = sbx_xp_exec(&b->xp, &xs, &cap, e);
    res->out = cap.out;
    res->err = cap.err;
    res->wall_sec = sbx_now() - t0;
    if (rc == 0 &&
        ((res->out.data == NULL && (res->out.data = calloc(1, 1)) == NULL) ||
         (res->err.data == NULL && (res->err.data = calloc(1, 1)) == NULL)))
        rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    uint64_t oom = 0;
    rc = exec_after(b, rc, oom_before, &oom, res, e);
    if (rc == 0) {
        sbx_exit_ctx ec = {.timeout_sec = x->timeout_sec,
                           .memory = b->plan.memory,
                           .oom_kills = oom,
                           .killed = x->killed};
        sbx_classify(res, &cap, &ec);
    }
    sbx_box_end(b);
    return rc;
}

static void fill_names(const sandbox_box *b, sandbox_result *res)
{
    free(res->runtime);
    free(res->container_name);
    res->runtime = sbx_strdup(b->plan.runtime_path);
    res->container_name = sbx_strdup(b->plan.name);
    if (SBX_HAS(res, backend)) {
        free(res->backend);
        res->backend = sbx_strdup(b->ops->name);
    }
    if (SBX_HAS(res, host_root))
        res->host_root = b->plan.kind == SBX_RT_NATIVE ? 0 : -1;
}

/* What went wrong with a tee or stdin_fd (io.c) joins the message. */
static void add_io_note(sandbox_result *res, const sbx_io *io)
{
    if (io == NULL || io->note[0] == '\0')
        return;
    char *m = res->message ? sbx_asprintf("%s; %s", res->message, io->note)
                           : sbx_strdup(io->note);
    if (m != NULL)
        sbx_set_message(res, m);
}

/* The exec's io (stdin, tees, callback) from its options. */
static int exec_io(const sandbox_exec_opts *x, sbx_io *io, sbx_err *e)
{
    sbx_plan p;
    memset(&p, 0, sizeof p);
    p.stdin_data = x->stdin_data;
    p.stdin_len = x->stdin_len;
    p.stdin_fd = x->stdin_fd;
    p.stdout_fd = x->stdout_fd;
    p.stderr_fd = x->stderr_fd;
    p.stdin_open = x->stdin_data != NULL || x->stdin_fd >= 0;
    p.on_output = x->on_output;
    p.on_output_ctx = x->on_output_ctx;
    return sbx_io_init(io, &p, e);
}

int sandbox_box_exec(sandbox_box *box, const sandbox_exec_opts *x,
                     sandbox_result *res)
{
    sbx_err e = {0};
    sandbox_exec_opts xo = {0};
    sbx_io io;
    if (res == NULL)
        return SANDBOX_EINVAL;
    if (res->struct_size < SBX_RESULT_MIN_SIZE)
        return SANDBOX_EABI;
    sandbox_result_free(res);
    int rc = sbx_box_check(box, &e);
    if (rc == 0)
        rc = exec_opts_get(x, &xo, &e);
    if (rc < 0)
        return sbx_fail_result(res, &e);
    if ((rc = exec_io(&xo, &io, &e)) < 0)
        return sbx_fail_result(res, &e);
    fill_names(box, res);
    box_exec be = {.command = xo.command,
                   .argv = xo.argv,
                   .argc = xo.argc,
                   .env = xo.env,
                   .n_env = xo.n_env,
                   .cwd = xo.cwd                ? xo.cwd
                          : box->plan.workspace ? "/workspace"
                                                : "/",
                   .timeout_sec = xo.timeout_sec > 0 ? xo.timeout_sec
                                                     : box->plan.timeout_sec,
                   .output_limit = xo.output_limit ? xo.output_limit
                                                   : box->plan.output_limit,
                   .cancel_fd = xo.cancel_fd,
                   .io = &io,
                   .killed = "its processes were killed and the box lives on"};
    rc = box_exec_run(box, &be, res, &e);
    if (rc == 0)
        add_io_note(res, &io);
    sbx_io_free(&io);
    return rc < 0 ? sbx_fail_result(res, &e) : 0;
}

/* ---- destroy --------------------------------------------------------------
 */

/* Under b->mu: end the running execs and wait until none runs. */
static void drain(sandbox_box *b)
{
    while (b->busy > 0) {
        sbx_xp_kill_all(&b->xp);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
}

/* The box's end as a result: why it ended (alive until now: exited 0). */
static void destroy_reason(sandbox_box *b, bool was_gone, sandbox_result *res)
{
    if (!was_gone) {
        res->reason = SANDBOX_END_EXITED;
        res->exit_code = 0;
        return;
    }
    res->reason = b->dead_reason ? b->dead_reason : SANDBOX_END_SIGNALED;
    res->exit_code = res->reason == SANDBOX_END_TIMEOUT ? SANDBOX_EXIT_TIMEOUT
                     : res->reason == SANDBOX_END_OOM   ? 128 + SIGKILL
                                                        : -1;
    sbx_set_message(res, sbx_asprintf("the box ended before it was "
                                      "destroyed: %s",
                                      b->why));
}

static int box_destroy(sandbox_box *b, sandbox_result *res, sbx_err *e)
{
    sbx_box_state st;
    pthread_mutex_lock(&b->mu);
    if (b->destroyed) {
        pthread_mutex_unlock(&b->mu);
        return 0;
    }
    bool was_gone = box_gone(b, &st);
    b->destroyed = true;
    if (!was_gone) {
        snprintf(b->why, sizeof b->why, "destroyed by sandbox_box_destroy");
        b->dead_reason = SANDBOX_END_EXITED;
    }
    drain(b);
    fill_names(b, res);
    destroy_reason(b, was_gone, res);
    int rc = b->impl != NULL ? b->ops->destroy(b, res, e) : 0;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

int sandbox_box_destroy(sandbox_box *box, sandbox_result *res)
{
    sbx_err e = {0};
    sandbox_result scratch;
    if (sbx_box_check(box, &e) < 0)
        return e.code;
    if (res != NULL) {
        if (res->struct_size < SBX_RESULT_MIN_SIZE)
            return SANDBOX_EABI;
        sandbox_result_free(res);
    }
    sandbox_result_init(&scratch, sizeof scratch);
    sandbox_result *r = res != NULL ? res : &scratch;
    int rc = box_destroy(box, r, &e);
    if (rc < 0)
        sbx_fail_result(r, &e);
    if (r->out.data == NULL)
        r->out.data = calloc(1, 1);
    if (r->err.data == NULL)
        r->err.data = calloc(1, 1);
    sandbox_result_free(&scratch);
    return rc;
}

void sandbox_box_free(sandbox_box *box)
{
    if (sbx_box_check(box, NULL) < 0)
        return;
    sandbox_box_destroy(box, NULL);
    box_release(box);
}

/* ---- sandbox_run on a box --------------------------------------------------
 */

/* The box's accounting joins the exec's result. */
static void merge_destroy(sandbox_result *res, sandbox_result *d)
{
    res->peak_memory_bytes = d->peak_memory_bytes;
    res->cpu_sec = d->cpu_sec;
    if (SBX_HAS(res, image_id) && res->image_id == NULL) {
        res->image_id = d->image_id;
        d->image_id = NULL;
    }
    if (SBX_HAS(res, host_root))
        res->host_root = d->host_root;
    if (SBX_HAS(res, disk_bytes)) {
        res->disk_bytes = d->disk_bytes;
        res->disk_limit_hit = d->disk_limit_hit;
    }
    if (SBX_HAS(res, net_log)) {
        res->net_attempts = d->net_attempts;
        free(res->net_log);
        res->net_log = d->net_log;
        d->net_log = NULL;
    }
}

/* Notes destroy added (workspace commit, disk cap, proxy) after the box's
 * own "ended" reason: only those join the run's message. */
static void merge_notes(sandbox_result *res, const sandbox_result *d)
{
    if (d->message == NULL || d->reason != SANDBOX_END_EXITED)
        return;
    char *m = res->message ? sbx_asprintf("%s; %s", res->message, d->message)
                           : sbx_strdup(d->message);
    if (m != NULL)
        sbx_set_message(res, m);
}

int sbx_box_run(sbx_plan *plan, sandbox_result *res, sbx_err *e)
{
    double t0 = sbx_now();
    box_exec be = {.command = plan->argv == NULL ? plan->command : NULL,
                   .argv = plan->argv,
                   .argc = plan->argc,
                   .cwd = plan->workspace ? "/workspace" : "/",
                   .timeout_sec = plan->timeout_sec,
                   .output_limit = plan->output_limit,
                   .cancel_fd = plan->cancel_fd,
                   .io = plan->io,
                   .killed = "the box was killed"};
    plan->box_lifetime_sec = plan->timeout_sec + SBX_GUARDIAN_GRACE_SEC;
    plan->box_idle_sec = 0;
    plan->one_shot = true;
    sandbox_box *b = NULL;
    int rc = sbx_box_create_plan(plan, &b, e);
    if (rc < 0)
        return rc;
    /* The run's timeout counts from the box's start, as it always did. */
    be.timeout_sec -= sbx_now() - t0;
    if (be.timeout_sec < 0.001)
        be.timeout_sec = 0.001;
    rc = box_exec_run(b, &be, res, e);
    if (rc == SANDBOX_EBOXDEAD && b->dead_reason == SANDBOX_END_OOM) {
        /* The OOM killer took the init, and with it the run: an end. */
        rc = 0;
        res->reason = SANDBOX_END_OOM;
        res->exit_code = 128 + SIGKILL;
        res->term_signal = SIGKILL;
        sbx_set_message(res, sbx_strdup(b->why));
    }
    if (rc == 0)
        res->wall_sec = sbx_now() - t0; /* from the box's start, as before */
    sandbox_result d;
    sandbox_result_init(&d, sizeof d);
    sbx_err de = {0};
    int drc = box_destroy(b, &d, rc < 0 ? &de : e);
    merge_destroy(res, &d);
    if (rc == 0)
        merge_notes(res, &d);
    if (rc == 0 && drc < 0)
        rc = drc;
    if (rc == 0)
        sbx_fill_image_id(&b->plan, res);
    sandbox_result_free(&d);
    box_release(b);
    return rc;
}
