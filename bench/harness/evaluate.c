/* SPDX-License-Identifier: MIT */
/*
 * evaluate.c: the evaluate phase.  For every candidate and every repeat:
 *
 * isolation "two-box" (the shipped task's): TWO boxes, run concurrently
 *   - the RUNNER box: the task's test command (trusted pytest), the hidden
 *     tests read-only at tests_mount, the harness client (bench/runner)
 *     read-only at /bench/runner, and a fresh report directory as
 *     /workspace that no other box sees;
 *   - the CANDIDATE box: the candidate's files read-only at /candidate, a
 *     fresh scratch directory as /workspace, and the harness's server
 *     (bench/runner/serve.py), which runs each request of the runner's
 *     tests in a fresh process;
 *   - between them only a Unix socket in a small directory (read-write in
 *     the candidate box, read-only in the runner box); the candidate box is
 *     cancelled when the runner box ends.  Both: network none.
 * isolation "single-box" (legacy, trusted candidates only): the test command
 *   runs with the candidate's files at /workspace, as before -- a hostile
 *   candidate can forge that box's report.
 *
 * Then the JUnit report is read and checked against the suite's MANIFEST
 * (the only denominator): a report with missing, extra, duplicate or
 * renamed ids is `tampered` and those ids earn nothing.  Run statuses:
 *   completed   the runner wrote a report that matches the manifest
 *   tampered    the report does not match the manifest (named in detail)
 *   timeout     the run passed limits.timeout_sec and was killed
 *   oom         the run passed limits.memory and was killed
 *   flood       the run wrote more than limits.flood_bytes of output
 *               and then ended without a report
 *   crashed     the runner died (signal / non-zero exit), no report
 *   no-report   the runner exited 0 but wrote no report
 *   bad-report  the report is not well-formed JUnit XML
 *   awaiting-approval  risk tier high: not approved before/after the run
 *   error       the sandbox could not run at all (image, runtime)
 * Every candidate's files are also scanned for runner tampering (scan.c);
 * costs (wall, peak memory, CPU of each box) are always recorded.
 * Every run is appended to <out>/log.jsonl; the whole evaluation is
 * written to <out>/evals/<task>/<id>/results.json.
 */
#include "bench.h"
#include "executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sandbox.h>

#ifndef BENCH_RUNNER_DIR
#define BENCH_RUNNER_DIR "/usr/share/sandbox-bench/runner"
#endif

#define BOX_CANDIDATE "/candidate"
#define BOX_RUNNER "/bench/runner"
#define BOX_IPC "/bench/ipc"
#define SERVE_CMD                                                              \
    "exec python3 " BOX_RUNNER "/serve.py --socket " BOX_IPC                   \
    "/sbcall.sock --candidate " BOX_CANDIDATE " --scratch /workspace"

typedef struct box_cost {
    int ran;
    double wall_sec;
    uint64_t peak_memory_bytes;
    double cpu_sec;
    char *end;      /* sandbox_end name */
    char *image_id; /* the immutable identity of what ran, or NULL */
    char *backend;  /* podman, docker, native, or NULL */
} box_cost;

typedef struct eval_job {
    size_t cand;
    int repeat; /* 1-based */
    run_outcome out;
    char *run_dir;
    box_cost runner, cbox;
    manifest_check mc; /* mc.verdict NULL: no report checked */
    json_t *withheld;  /* high tier, not approved after: what it earned */
} eval_job;

typedef struct eval_ctx {
    const bench_task *task;
    const candidate *cands;
    char **cand_sha;
    int *tier;
    json_t **scan; /* per candidate: findings */
    json_t *approvals;
    const evaluate_args *args;
    const char *eval_dir;
    const char *eval_id;
    const char *runner_dir;
    char *log_path;
    char suite_sha[65];
    char task_sha[65];
    eval_job *jobs;
    size_t n_jobs;
    size_t next;
    size_t done;
    double t0;
    pthread_mutex_t lock;
} eval_ctx;

/* ---- risk tiers --------------------------------------------------------- */

int risk_tier_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "low"))
        return 0;
    if (!strcmp(s, "medium"))
        return 1;
    if (!strcmp(s, "high"))
        return 2;
    return -1;
}

const char *risk_tier_name(int tier)
{
    return tier == 0 ? "low" : tier == 2 ? "high" : "medium";
}

/* "512m" -> bytes (0 if unreadable). */
static uint64_t size_bytes(const char *s)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!end || end == s || v < 0)
        return 0;
    switch (*end) {
    case 'k':
    case 'K': v *= 1024.0; break;
    case 'm':
    case 'M': v *= 1024.0 * 1024; break;
    case 'g':
    case 'G': v *= 1024.0 * 1024 * 1024; break;
    case 't':
    case 'T': v *= 1024.0 * 1024 * 1024 * 1024; break;
    default: break;
    }
    return (uint64_t)v;
}

/* The candidate box's limits at a tier. */
static void tier_limits(int tier, const bench_limits *L, const char **memory,
                        long *pids, double *cpus)
{
    *memory = L->memory;
    *pids = L->pids;
    *cpus = L->cpus;
    if (tier >= 1 && *pids > 256)
        *pids = 256;
    if (tier >= 2) {
        if (size_bytes(L->memory) > size_bytes("512m"))
            *memory = "512m";
        if (*pids > 128)
            *pids = 128;
        if (*cpus > 1.0)
            *cpus = 1.0;
    }
}

static json_t *policy_json(const bench_task *t, int tier)
{
    const char *mem;
    long pids;
    double cpus;
    tier_limits(tier, &t->limits, &mem, &pids, &cpus);
    int two = !strcmp(t->isolation, "two-box");
    return json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:I, s:f, s:f}, s:s, s:s}", "tier",
        risk_tier_name(tier), "network", "none (every box)", "mounts",
        two ? "candidate box: the candidate's files read-only at /candidate, "
              "fresh scratch at /workspace, the socket directory; runner "
              "box: hidden tests read-only, its own report directory"
            : "single box: a scratch copy of the candidate at /workspace, "
              "hidden tests read-only (the candidate can reach the report)",
        "candidate_limits", "memory", mem, "pids", (json_int_t)pids, "cpus",
        cpus, "timeout_sec", t->limits.timeout_sec, "scan",
        tier == 0 ? "static flags reported in the results and the review"
                  : "static flags reported; a flagged candidate ranks below "
                    "an unflagged one with the same score",
        "approval",
        tier == 2 ? "manual: `before <sha256>` and `after <sha256>` lines in "
                    "the --approve file"
                  : "none");
}

static int tier_of(const evaluate_args *a, const candidate *c, bench_err *e)
{
    int exact = -1, model = -1, all = -1;
    const char *sl = strchr(c->label, '/');
    size_t ml = sl ? (size_t)(sl - c->label) : strlen(c->label);
    /* LABEL=TIER beats MODEL=TIER beats the config's per-model "risk"
     * beats a bare TIER; the default is medium. */
    for (size_t i = 0; i < a->n_risk_specs; i++) {
        const char *s = a->risk_specs[i], *eq = strrchr(s, '=');
        int tier = risk_tier_parse(eq ? eq + 1 : s);
        if (tier < 0 || eq == s) {
            bench_seterr(e,
                         "--risk \"%s\": fix: write TIER or LABEL=TIER "
                         "with TIER low, medium or high",
                         s);
            return -2;
        }
        if (!eq)
            all = tier;
        else if ((size_t)(eq - s) == strlen(c->label) &&
                 !strncmp(s, c->label, (size_t)(eq - s)))
            exact = tier;
        else if (sl && (size_t)(eq - s) == ml && !strncmp(s, c->label, ml))
            model = tier;
    }
    if (exact >= 0)
        return exact;
    if (model >= 0)
        return model;
    if (a->config) {
        char *name = xasprintf("%.*s", (int)ml, c->label);
        const bench_model *m = config_find(a->config, name);
        free(name);
        if (m && m->risk)
            return risk_tier_parse(m->risk);
    }
    return all >= 0 ? all : 1;
}

static int load_approvals(const char *path, json_t **out, bench_err *e)
{
    *out = json_object();
    if (!path)
        return 0;
    char *data = NULL;
    size_t len = 0;
    if (read_file(path, &data, &len, e) != 0)
        return -1;
    char *save = NULL;
    int lineno = 0;
    for (char *line = strtok_r(data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char when[16], sha[80];
        if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0')
            continue;
        if (sscanf(line, "%15s %79s", when, sha) != 2 ||
            (strcmp(when, "before") && strcmp(when, "after")) ||
            strlen(sha) != 64) {
            bench_seterr(e,
                         "%s:%d: \"%s\"; fix: write `before <sha256>` or "
                         "`after <sha256>` (the candidate digest the run "
                         "prints)",
                         path, lineno, line);
            free(data);
            json_decref(*out);
            *out = NULL;
            return -1;
        }
        char *key = xasprintf("%s %s", when, sha);
        json_object_set_new(*out, key, json_true());
        free(key);
    }
    free(data);
    return 0;
}

static int approved(eval_ctx *cx, const char *when, size_t cand)
{
    char *key = xasprintf("%s %s", when, cx->cand_sha[cand]);
    int ok = json_object_get(cx->approvals, key) != NULL;
    free(key);
    return ok;
}

/* ---- one run ------------------------------------------------------------ */

static char *label_dir(const char *label)
{
    char *s = xstrdup(label);
    for (char *p = s; *p; p++)
        if (*p == '/')
            *p = '_';
    if (!valid_name(s)) {
        for (char *p = s; *p; p++)
            if (!valid_name((char[]){*p, 0}))
                *p = '_';
    }
    return s;
}

static void outcome_set(run_outcome *o, const char *status, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void outcome_set(run_outcome *o, const char *status, const char *fmt,
                        ...)
{
    free(o->status);
    o->status = xstrdup(status);
    free(o->detail);
    o->detail = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        char buf[2048];
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        o->detail = xstrdup(buf);
    }
}

static void human_bytes(uint64_t n, char *buf, size_t sz)
{
    if (n >= (1u << 20))
        snprintf(buf, sz, "%.1f MiB", (double)n / (1 << 20));
    else if (n >= 1024)
        snprintf(buf, sz, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, sz, "%llu bytes", (unsigned long long)n);
}

static void cost_from(box_cost *b, const sandbox_result *r)
{
    b->ran = 1;
    b->wall_sec = r->wall_sec;
    b->peak_memory_bytes = r->peak_memory_bytes;
    b->cpu_sec = r->cpu_sec;
    free(b->end);
    b->end = xstrdup(sandbox_end_name(r->reason));
    free(b->image_id);
    b->image_id = r->image_id ? xstrdup(r->image_id) : NULL;
    free(b->backend);
    b->backend = r->backend ? xstrdup(r->backend) : NULL;
}

/* env: the task's, minus the names the harness sets, plus extra. */
static char **box_env(const bench_task *t, const char *const *extra,
                      long long seed, size_t *n)
{
    size_t ne = 0;
    while (extra[ne])
        ne++;
    char **v = xcalloc(t->n_env + ne + 2, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < t->n_env; i++) {
        int mine = 0;
        for (size_t j = 0; j < ne; j++) {
            size_t nl = (size_t)(strchr(extra[j], '=') - extra[j]);
            if (!strncmp(t->env[i], extra[j], nl + 1))
                mine = 1;
        }
        if (!mine)
            v[k++] = xstrdup(t->env[i]);
    }
    for (size_t j = 0; j < ne; j++)
        v[k++] = xstrdup(extra[j]);
    /* the recorded seed, in both boxes (replay passes the same one) */
    v[k++] = xasprintf("SANDBOX_BENCH_SEED=%lld", seed);
    *n = k;
    return v;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define REPORT_MAX (64u << 20)

/* Read root/rel into *data (read_beneath: no symlink at any component, a
 * regular file, at most REPORT_MAX bytes).  -1 with why[0] == 0: there is
 * no file (not an error of the candidate's). */
static int read_report(const char *root, const char *rel, char **data,
                       size_t *len, char *why, size_t wsz)
{
    bench_err be;
    be.msg[0] = '\0';
    why[0] = '\0';
    int rc = read_beneath(root, rel, REPORT_MAX, data, len, &be);
    if (rc == 0)
        return 0;
    if (rc < 0)
        if (snprintf(why, wsz, "the report %s was refused: %s", rel, be.msg) >=
            (int)wsz)
            why[wsz - 1] = '\0'; /* cut to the caller's buffer */
    return -1;
}

typedef struct cbox_thread {
    sandbox_opts opts;
    sandbox_result res;
    int rc;
} cbox_thread;

static void *cbox_main(void *arg)
{
    cbox_thread *b = arg;
    b->rc = sandbox_run(&b->opts, &b->res);
    return NULL;
}

static void write_output(const char *path, const sandbox_result *res,
                         const char *title)
{
    char *text = NULL;
    size_t tl = 0;
    bench_err e;
    if (sandbox_format(res, 0, &text, &tl) != 0)
        return;
    char *tail = xasprintf(
        "\n--- sandbox-bench%s%s ---\nend=%s exit=%d wall=%.3fs "
        "stdout_bytes=%llu stderr_bytes=%llu peak_memory=%llu cpu=%.3fs%s%s\n",
        title ? ": " : "", title ? title : "", sandbox_end_name(res->reason),
        res->exit_code, res->wall_sec, (unsigned long long)res->out.total,
        (unsigned long long)res->err.total,
        (unsigned long long)res->peak_memory_bytes, res->cpu_sec,
        res->message ? " message=" : "", res->message ? res->message : "");
    char *old = NULL;
    size_t ol = 0;
    if (title && read_file(path, &old, &ol, &e) != 0)
        old = NULL;
    char *all =
        xasprintf("%s%s%s%s", old ? old : "", old ? "\n" : "", text, tail);
    write_file(path, all, strlen(all), &e);
    free(old);
    free(all);
    free(tail);
    sandbox_free(text);
}

/* Run candidate job->cand once; fill job->out.  Never fails the harness:
 * every problem becomes the run's status. */
static void run_one(eval_ctx *cx, eval_job *job)
{
    const bench_task *t = cx->task;
    const candidate *c = &cx->cands[job->cand];
    int tier = cx->tier[job->cand];
    int two = !strcmp(t->isolation, "two-box");
    run_outcome *o = &job->out;
    memset(o, 0, sizeof *o);
    o->exit_code = -1;
    bench_err e;
    char *ldir = label_dir(c->label);
    char *rdir = xasprintf("%s/%s/r%d", cx->eval_dir, ldir, job->repeat);
    free(ldir);
    job->run_dir = rdir;
    char *scratch = path_join(rdir, "work");
    char *rwork = path_join(rdir, "runner");
    char *ipc = path_join(rdir, "ipc");
    char *report_in = path_join(two ? rwork : scratch, t->report);
    char *report_out = path_join(rdir, "junit.xml");
    char *output = path_join(rdir, "test-output.txt");
    char **renv = NULL, **cenv = NULL;
    size_t n_renv = 0, n_cenv = 0;
    int have_report = 0;
    char *rdata = NULL;
    size_t rlen = 0;
    char rerr[256] = "";
    sandbox_result res;
    sandbox_result_init(&res, sizeof res);
    cbox_thread cb;
    memset(&cb, 0, sizeof cb);
    sandbox_result_init(&cb.res, sizeof cb.res);

    rm_rf(rdir);
    if (mkdir_p(rdir, &e) != 0) {
        outcome_set(o, "error", "cannot prepare the run directory: %s", e.msg);
        goto done;
    }
    if (tier == 2 && !approved(cx, "before", job->cand)) {
        outcome_set(o, "awaiting-approval",
                    "risk tier high: not run; approve candidate sha256 %s "
                    "before the run with the line `before %s` in an "
                    "--approve FILE",
                    cx->cand_sha[job->cand], cx->cand_sha[job->cand]);
        goto done;
    }
    if (tier == 2 && !two) {
        outcome_set(o, "error",
                    "risk tier high needs a task with \"isolation\": "
                    "\"two-box\" (in a single box the candidate can forge "
                    "the report)");
        goto done;
    }
    if (two) {
        if (mkdir_p(scratch, &e) != 0 || mkdir_p(ipc, &e) != 0 ||
            mkdir_p(rwork, &e) != 0) {
            outcome_set(o, "error", "cannot prepare the boxes: %s", e.msg);
            goto done;
        }
        chmod(scratch, 0777);
        chmod(ipc, 0777); /* the boxes may map root to another host uid */
    } else {
        if (copy_tree(c->dir, scratch, &e) != 0) {
            outcome_set(o, "error", "cannot prepare the scratch directory: %s",
                        e.msg);
            goto done;
        }
        /* A report shipped with the candidate must not count. */
        rm_rf(report_in);
    }
    {
        char *parent = xstrdup(report_in);
        *strrchr(parent, '/') = '\0';
        int mrc = mkdir_p(parent, &e);
        free(parent);
        if (mrc != 0) {
            outcome_set(o, "error", "%s", e.msg);
            goto done;
        }
    }

    sandbox_opts opts;
    sandbox_opts_init(&opts, sizeof opts);
    opts.command = t->test_command;
    opts.image = t->image;
    opts.workspace = two ? rwork : scratch;
    opts.runtime = cx->args->runtime;
    opts.network = SANDBOX_NETWORK_NONE;
    opts.timeout_sec = t->limits.timeout_sec;
    opts.memory = t->limits.memory;
    opts.pids = t->limits.pids;
    opts.cpus = t->limits.cpus;
    opts.output_limit = t->limits.output_limit;
    sandbox_mount rmounts[3] = {{t->tests_dir, t->tests_mount, 0},
                                {cx->runner_dir, BOX_RUNNER, 0},
                                {ipc, BOX_IPC, 0}};
    opts.mounts = rmounts;
    opts.n_mounts = two ? 3 : 2;
    static const char *const renv_two[] = {
        "BENCH_SOCKET=" BOX_IPC "/sbcall.sock",
        "BENCH_CANDIDATE_DIR=" BOX_CANDIDATE, "BENCH_SCRATCH=/workspace",
        "PYTHONPATH=" BOX_RUNNER, NULL};
    static const char *const none[] = {NULL};
    renv = box_env(t, two ? renv_two : none, cx->args->seed, &n_renv);
    opts.env = (const char *const *)renv;
    opts.n_env = n_renv;
    if (cx->args->cancel_fd > 0) /* evaluate-one on SIGTERM; the candidate
                                     box follows the runner box */
        opts.cancel_fd = cx->args->cancel_fd;

    int cancel[2] = {-1, -1};
    int cb_started = 0;
    if (two) {
        if (pipe(cancel) != 0) {
            outcome_set(o, "error", "pipe: %s", strerror(errno));
            goto done;
        }
        sandbox_opts *co = &cb.opts;
        sandbox_opts_init(co, sizeof *co);
        co->command = SERVE_CMD;
        co->image = t->image;
        co->workspace = scratch;
        co->runtime = cx->args->runtime;
        co->network = SANDBOX_NETWORK_NONE;
        co->timeout_sec = t->limits.timeout_sec + 60;
        tier_limits(tier, &t->limits, &co->memory, &co->pids, &co->cpus);
        co->cancel_fd = cancel[0];
        static const char *const cenv_two[] = {
            "BENCH_CANDIDATE_DIR=" BOX_CANDIDATE, "BENCH_SCRATCH=/workspace",
            NULL};
        cenv = box_env(t, cenv_two, cx->args->seed, &n_cenv);
        co->env = (const char *const *)cenv;
        co->n_env = n_cenv;
        sandbox_mount *cm = xcalloc(3, sizeof *cm);
        cm[0] = (sandbox_mount){c->dir, BOX_CANDIDATE, 0};
        cm[1] = (sandbox_mount){cx->runner_dir, BOX_RUNNER, 0};
        cm[2] = (sandbox_mount){ipc, BOX_IPC, 1};
        co->mounts = cm;
        co->n_mounts = 3;
        pthread_t th;
        if (pthread_create(&th, NULL, cbox_main, &cb) != 0) {
            free(cm);
            close(cancel[0]);
            close(cancel[1]);
            outcome_set(o, "error", "cannot start the candidate box thread");
            goto done;
        }
        cb_started = 1;
        int rc = sandbox_run(&opts, &res);
        ssize_t w = write(cancel[1], "x", 1);
        (void)w;
        pthread_join(th, NULL);
        close(cancel[0]);
        close(cancel[1]);
        free(cm);
        if (rc != 0) {
            o->wall_sec = res.wall_sec;
            write_output(output, &res, NULL);
            outcome_set(o, "error", "the sandbox could not run the tests: %s",
                        res.message ? res.message : sandbox_strerror(rc));
            goto done;
        }
    } else {
        int rc = sandbox_run(&opts, &res);
        if (rc != 0) {
            o->wall_sec = res.wall_sec;
            write_output(output, &res, NULL);
            outcome_set(o, "error", "the sandbox could not run the tests: %s",
                        res.message ? res.message : sandbox_strerror(rc));
            goto done;
        }
    }
    cost_from(&job->runner, &res);
    if (res.image_id)
        o->image_id = xstrdup(res.image_id);
    if (res.backend)
        o->backend = xstrdup(res.backend);
    if (cb_started)
        cost_from(&job->cbox, &cb.res);
    o->wall_sec = res.wall_sec;
    o->exit_code = res.exit_code;
    uint64_t total = res.out.total + res.err.total;
    o->flood = total > t->limits.flood_bytes;
    write_output(output, &res, NULL);
    if (cb_started)
        write_output(output, &cb.res, "candidate box");

    /* The report is read without following a link anywhere on its path
     * (a single box's candidate could plant one towards a host file). */
    have_report = read_report(two ? rwork : scratch, t->report, &rdata, &rlen,
                              rerr, sizeof rerr) == 0;
    if (have_report)
        write_file(report_out, rdata, rlen, &e);
    char fb[32], tb[32];
    human_bytes(t->limits.flood_bytes, fb, sizeof fb);
    human_bytes(total, tb, sizeof tb);

    if (res.reason == SANDBOX_END_TIMEOUT) {
        outcome_set(o, o->flood ? "flood" : "timeout",
                    "the test run hung: killed at the %.0f s limit%s%s%s",
                    t->limits.timeout_sec, o->flood ? " after writing " : "",
                    o->flood ? tb : "", o->flood ? " of output" : "");
    } else if (res.reason == SANDBOX_END_OOM) {
        outcome_set(o, "oom",
                    "the test run passed the %s memory limit and "
                    "was killed",
                    t->limits.memory);
    } else if (res.reason == SANDBOX_END_CANCELLED) {
        outcome_set(o, "error", "the run was cancelled");
    } else if (have_report) {
        if (junit_parse_memory(rdata, rlen, &o->report, &e) != 0) {
            outcome_set(o, "bad-report", "%s", e.msg);
        } else {
            manifest_verify(t->tests, t->n_tests, &o->report, &job->mc);
            char *why = manifest_problems(&job->mc);
            if (why)
                outcome_set(o, "tampered", "%s", why);
            else
                outcome_set(o, "completed", NULL);
            free(why);
        }
        if (o->flood && !strcmp(o->status, "completed"))
            o->detail = xasprintf("flooded %s of output (limit %s) but "
                                  "completed",
                                  tb, fb);
    } else if (rerr[0]) {
        outcome_set(o, "bad-report", "%s", rerr);
    } else if (o->flood) {
        outcome_set(o, "flood",
                    "wrote %s of output (limit %s) and no "
                    "report (exit %d)",
                    tb, fb, res.exit_code);
    } else if (res.reason == SANDBOX_END_SIGNALED) {
        outcome_set(o, "crashed",
                    "the test runner was killed by signal %d "
                    "and wrote no report",
                    res.term_signal);
    } else if (res.exit_code > 128 && res.exit_code < 160) {
        outcome_set(o, "crashed",
                    "the test runner died of signal %d (exit "
                    "%d) and wrote no report",
                    res.exit_code - 128, res.exit_code);
    } else if (res.exit_code != 0) {
        outcome_set(o, "crashed",
                    "the test runner exited with %d and wrote "
                    "no report (see test-output.txt)",
                    res.exit_code);
    } else {
        outcome_set(o, "no-report",
                    "the test runner exited 0 but wrote no "
                    "report at /workspace/%s",
                    t->report);
    }
    if (cb_started && cb.rc != 0 && !o->detail)
        o->detail = xasprintf("the candidate box could not run: %s",
                              cb.res.message ? cb.res.message
                                             : sandbox_strerror(cb.rc));
    else if (cb_started && cb.res.reason != SANDBOX_END_CANCELLED && !o->detail)
        o->detail =
            xasprintf("the candidate box ended before the runner "
                      "(%s, exit %d)",
                      sandbox_end_name(cb.res.reason), cb.res.exit_code);

    /* High tier: what it earned is withheld until approved after the run. */
    if (tier == 2 && !approved(cx, "after", job->cand)) {
        unsigned passed = 0;
        for (size_t i = 0; job->mc.verdict && i < t->n_tests; i++)
            passed += job->mc.verdict[i] == TV_PASSED;
        job->withheld =
            json_pack("{s:s, s:I, s:I}", "status", o->status, "passed",
                      (json_int_t)passed, "tests", (json_int_t)t->n_tests);
        char *prev = o->detail ? xstrdup(o->detail) : NULL;
        outcome_set(o, "awaiting-approval",
                    "risk tier high: ran (%s, %u/%zu passed%s%s), results "
                    "withheld until approved after the run: review the "
                    "flags and costs, then add `after %s` to the --approve "
                    "FILE and evaluate again",
                    json_string_value(json_object_get(job->withheld, "status")),
                    passed, t->n_tests, prev ? "; " : "", prev ? prev : "",
                    cx->cand_sha[job->cand]);
        free(prev);
        for (size_t i = 0; job->mc.verdict && i < t->n_tests; i++) {
            job->mc.verdict[i] = TV_UNVERIFIED;
            job->mc.message[i] = "withheld: awaiting approval";
            job->mc.match[i] = NULL;
        }
    }

done:
    free(rdata);
    if (!o->status)
        outcome_set(o, "error", "internal: no status");
    if (!cx->args->keep_scratch) {
        rm_rf(scratch);
        rm_rf(rwork);
    }
    rm_rf(ipc);
    sandbox_result_free(&res);
    sandbox_result_free(&cb.res);
    free_strv(renv, n_renv);
    free_strv(cenv, n_cenv);
    free(scratch);
    free(rwork);
    free(ipc);
    free(report_in);
    free(report_out);
    free(output);
}

static json_t *limits_json(const bench_limits *L)
{
    return json_pack("{s:f, s:s, s:I, s:f, s:I, s:I}", "timeout_sec",
                     L->timeout_sec, "memory", L->memory, "pids",
                     (json_int_t)L->pids, "cpus", L->cpus, "output_limit",
                     (json_int_t)L->output_limit, "flood_bytes",
                     (json_int_t)L->flood_bytes);
}

static json_t *cost_json(const box_cost *b)
{
    if (!b->ran)
        return json_null();
    json_t *j = json_pack("{s:f, s:I, s:s}", "wall_sec", b->wall_sec,
                          "peak_memory_bytes", (json_int_t)b->peak_memory_bytes,
                          "end", b->end ? b->end : "unknown");
    json_object_set_new(j, "cpu_sec",
                        b->cpu_sec >= 0 ? json_real(b->cpu_sec) : json_null());
    json_object_set_new(j, "image_id",
                        b->image_id ? json_string(b->image_id) : json_null());
    json_object_set_new(j, "backend",
                        b->backend ? json_string(b->backend) : json_null());
    return j;
}

static const char *id_name(const char *id)
{
    const char *b = id, *p;
    while ((p = strstr(b, "::")) != NULL)
        b = p + 2;
    return b;
}

/* The run's verdict of manifest id k. */
static int job_verdict(const eval_job *j, size_t k, const char **msg)
{
    if (!j->mc.verdict) {
        *msg = NULL;
        return TV_MISSING;
    }
    *msg = j->mc.message[k];
    return j->mc.verdict[k];
}

static json_t *run_json(const eval_ctx *cx, const eval_job *j)
{
    const run_outcome *o = &j->out;
    const bench_task *t = cx->task;
    json_t *tests = json_object();
    unsigned np = 0, nf = 0, ne = 0, ns = 0;
    for (size_t k = 0; k < t->n_tests; k++) {
        const char *msg;
        int v = job_verdict(j, k, &msg);
        np += v == TV_PASSED;
        nf += v == TV_FAILED;
        ne += v == TV_ERROR;
        ns += v == TV_SKIPPED;
        if (v == TV_MISSING && !j->mc.verdict)
            continue;
        const junit_case *c = j->mc.match ? j->mc.match[k] : NULL;
        json_t *tj = json_pack("{s:s, s:s, s:f}", "name", id_name(t->tests[k]),
                               "verdict", test_verdict_name(v), "time_sec",
                               c ? c->time_sec : 0.0);
        if (msg)
            json_object_set_new(tj, "message", json_string(msg));
        json_object_set_new(tests, t->tests[k], tj);
    }
    json_t *r = json_pack("{s:i, s:s, s:b, s:i, s:f, s:i, s:i, s:i, s:i, s:o}",
                          "repeat", j->repeat, "status", o->status, "flood",
                          o->flood, "exit_code", o->exit_code, "wall_sec",
                          o->wall_sec, "passed", np, "failed", nf, "errors", ne,
                          "skipped", ns, "tests", tests);
    json_object_set_new(r, "detail",
                        o->detail ? json_string(o->detail) : json_null());
    json_object_set_new(r, "run_dir", json_string(j->run_dir));
    json_object_set_new(r, "image_id",
                        o->image_id ? json_string(o->image_id) : json_null());
    json_object_set_new(r, "backend",
                        o->backend ? json_string(o->backend) : json_null());
    json_object_set_new(r, "costs",
                        json_pack("{s:o, s:o}", "runner", cost_json(&j->runner),
                                  "candidate", cost_json(&j->cbox)));
    if (j->mc.verdict && !j->mc.ok) {
        json_t *m = json_object();
        struct {
            const char *k;
            char **v;
            size_t n;
        } parts[] = {{"missing", j->mc.missing, j->mc.n_missing},
                     {"extra", j->mc.extra, j->mc.n_extra},
                     {"duplicate", j->mc.duplicate, j->mc.n_duplicate},
                     {"renamed", j->mc.renamed, j->mc.n_renamed}};
        for (size_t p = 0; p < 4; p++) {
            json_t *a = json_array();
            for (size_t i = 0; i < parts[p].n; i++)
                json_array_append_new(a, json_string(parts[p].v[i]));
            json_object_set_new(m, parts[p].k, a);
        }
        json_object_set_new(r, "manifest_problems", m);
    }
    if (j->withheld)
        json_object_set(r, "withheld", j->withheld);
    return r;
}

static void log_run(eval_ctx *cx, const eval_job *j)
{
    const candidate *c = &cx->cands[j->cand];
    char *ts = iso_time(now_wall());
    json_t *rec = run_json(cx, j);
    json_object_set_new(rec, "time", json_string(ts));
    json_object_set_new(rec, "kind", json_string("evaluation"));
    json_object_set_new(rec, "eval_id", json_string(cx->eval_id));
    json_object_set_new(rec, "task", json_string(cx->task->name));
    json_object_set_new(rec, "candidate", json_string(c->label));
    json_object_set_new(rec, "candidate_dir", json_string(c->dir));
    json_object_set_new(rec, "candidate_sha256",
                        json_string(cx->cand_sha[j->cand]));
    json_object_set_new(rec, "suite_sha256", json_string(cx->suite_sha));
    json_object_set_new(rec, "image", json_string(cx->task->image));
    json_object_set_new(rec, "test_command",
                        json_string(cx->task->test_command));
    json_object_set_new(rec, "isolation", json_string(cx->task->isolation));
    json_object_set_new(rec, "risk",
                        json_string(risk_tier_name(cx->tier[j->cand])));
    json_object_set_new(rec, "scan_flags", scan_flags(cx->scan[j->cand]));
    json_object_set_new(rec, "limits", limits_json(&cx->task->limits));
    json_object_set_new(rec, "libsandbox", json_string(sandbox_version()));
    json_object_set_new(rec, "task_sha256", json_string(cx->task_sha));
    json_object_set_new(rec, "seed", json_integer(cx->args->seed));
    free(ts);
    bench_err e;
    if (log_append(cx->log_path, rec, &e) != 0)
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
    json_decref(rec);
}

static void *worker(void *arg)
{
    eval_ctx *cx = arg;
    for (;;) {
        pthread_mutex_lock(&cx->lock);
        if (cx->next >= cx->n_jobs) {
            pthread_mutex_unlock(&cx->lock);
            return NULL;
        }
        eval_job *j = &cx->jobs[cx->next++];
        pthread_mutex_unlock(&cx->lock);

        run_one(cx, j);
        log_run(cx, j);

        pthread_mutex_lock(&cx->lock);
        cx->done++;
        if (!cx->args->quiet) {
            const run_outcome *o = &j->out;
            unsigned passed = 0;
            for (size_t k = 0; j->mc.verdict && k < cx->task->n_tests; k++)
                passed += j->mc.verdict[k] == TV_PASSED;
            fprintf(stderr, "[evaluate %zu/%zu %.0fs] %s #%d: %s", cx->done,
                    cx->n_jobs, now_mono() - cx->t0, cx->cands[j->cand].label,
                    j->repeat, o->status);
            if (j->mc.verdict)
                fprintf(stderr, ", %u/%zu passed", passed, cx->task->n_tests);
            fprintf(stderr, " (%.1f s)%s%s\n", o->wall_sec,
                    o->detail ? ": " : "", o->detail ? o->detail : "");
        }
        pthread_mutex_unlock(&cx->lock);
    }
}

/* Fold the runs into the results document.  The test universe is the
 * suite's manifest: no report can add to it or take from it. */
static json_t *aggregate(eval_ctx *cx, size_t n_cands)
{
    const evaluate_args *a = cx->args;
    const bench_task *t = cx->task;
    size_t nu = t->n_tests;
    json_t *jcands = json_array();
    for (size_t ci = 0; ci < n_cands; ci++) {
        json_t *runs = json_array();
        json_t *statuses = json_object();
        double sum_passed = 0, wall = 0, cpu = 0;
        int cpu_known = 0;
        uint64_t peak = 0;
        for (size_t i = 0; i < cx->n_jobs; i++) {
            const eval_job *j = &cx->jobs[i];
            if (j->cand != ci)
                continue;
            json_array_append_new(runs, run_json(cx, j));
            const char *st = j->out.status;
            json_t *cnt = json_object_get(statuses, st);
            json_object_set_new(
                statuses, st,
                json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
            for (size_t k = 0; j->mc.verdict && k < nu; k++)
                sum_passed += j->mc.verdict[k] == TV_PASSED;
            const box_cost *bc[2] = {&j->runner, &j->cbox};
            for (int b = 0; b < 2; b++) {
                if (!bc[b]->ran)
                    continue;
                wall += bc[b]->wall_sec;
                if (bc[b]->cpu_sec >= 0) {
                    cpu += bc[b]->cpu_sec;
                    cpu_known = 1;
                }
                if (bc[b]->peak_memory_bytes > peak)
                    peak = bc[b]->peak_memory_bytes;
            }
        }
        int nruns = (int)json_array_size(runs);
        json_t *tests = json_object();
        json_t *failing = json_array();
        json_t *flaky = json_array();
        int all_pass_tests = 0;
        for (size_t k = 0; k < nu; k++) {
            int passes = 0, counted = 0;
            json_t *verdicts = json_array();
            const char *msg = NULL;
            for (size_t i = 0; i < cx->n_jobs; i++) {
                if (cx->jobs[i].cand != ci)
                    continue;
                const char *m;
                int v = job_verdict(&cx->jobs[i], k, &m);
                if (v != TV_PASSED && v != TV_SKIPPED && !msg)
                    msg = m;
                json_array_append_new(verdicts,
                                      json_string(test_verdict_name(v)));
                counted++;
                if (v == TV_PASSED)
                    passes++;
            }
            const char *name = id_name(t->tests[k]);
            int is_flaky = passes > 0 && passes < counted;
            json_t *tj =
                json_pack("{s:s, s:i, s:i, s:f, s:b, s:o}", "name", name,
                          "passed", passes, "runs", counted, "pass_rate",
                          counted ? (double)passes / counted : 0.0, "flaky",
                          is_flaky, "verdicts", verdicts);
            if (msg)
                json_object_set_new(tj, "message", json_string(msg));
            json_object_set_new(tests, t->tests[k], tj);
            if (passes == counted && counted > 0)
                all_pass_tests++;
            else
                json_array_append_new(failing, json_string(name));
            if (is_flaky)
                json_array_append_new(flaky, json_string(name));
        }
        json_t *flags = scan_flags(cx->scan[ci]);
        int tier = cx->tier[ci];
        json_t *summary = json_pack(
            "{s:i, s:i, s:f, s:f, s:o, s:o, s:o, s:O, s:i, s:s}", "tests_total",
            (int)nu, "tests_always_passed", all_pass_tests, "mean_passed",
            nruns ? sum_passed / nruns : 0.0, "pass_rate",
            nruns && nu ? sum_passed / ((double)nruns * (double)nu) : 0.0,
            "statuses", statuses, "failing", failing, "flaky", flaky, "flags",
            flags, "rank_flags", tier >= 1 ? (int)json_array_size(flags) : 0,
            "risk", risk_tier_name(tier));
        /* peak memory and CPU: 0 / null when the backend does not measure
         * them (podman and docker do not; native does) */
        json_t *costs = json_pack("{s:f, s:I}", "wall_sec", wall,
                                  "peak_memory_bytes", (json_int_t)peak);
        json_object_set_new(costs, "cpu_sec",
                            cpu_known ? json_real(cpu) : json_null());
        json_object_set_new(summary, "costs", costs);
        json_decref(flags);
        json_t *cj = json_pack(
            "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:{s:O, s:O}}", "label",
            cx->cands[ci].label, "dir", cx->cands[ci].dir, "sha256",
            cx->cand_sha[ci], "summary", summary, "tests", tests, "runs", runs,
            "risk", policy_json(t, tier), "scan", "flags",
            json_object_get(summary, "flags"), "findings", cx->scan[ci]);
        json_array_append_new(jcands, cj);
    }
    json_t *jids = json_array();
    for (size_t k = 0; k < nu; k++)
        json_array_append_new(jids, json_string(t->tests[k]));
    char *ts = iso_time(now_wall());
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:i, s:s, s:s, s:o, s:o}",
        "kind", "sandbox-bench-results", "task", t->name, "eval_id",
        cx->eval_id, "image", t->image, "test_command", t->test_command,
        "suite_sha256", cx->suite_sha, "limits", limits_json(&t->limits),
        "repeat", a->repeat, "jobs", a->jobs, "finished_at", ts, "libsandbox",
        sandbox_version(), "tests", jids, "candidates", jcands);
    json_object_set_new(doc, "isolation", json_string(t->isolation));
    json_object_set_new(doc, "manifest", json_string(t->manifest));
    free(ts);
    /* What ran, pinned: one image id and backend if every run agrees. */
    const char *iid = NULL, *be = NULL;
    int mixed = 0;
    for (size_t i = 0; i < cx->n_jobs; i++) {
        const run_outcome *o = &cx->jobs[i].out;
        if (o->image_id && iid && strcmp(o->image_id, iid))
            mixed = 1;
        if (o->image_id && !iid)
            iid = o->image_id;
        if (o->backend && !be)
            be = o->backend;
    }
    json_object_set_new(doc, "image_id",
                        iid && !mixed ? json_string(iid) : json_null());
    if (mixed)
        json_object_set_new(doc, "image_id_mixed", json_true());
    json_object_set_new(doc, "backend", be ? json_string(be) : json_null());
    json_object_set_new(doc, "runtime",
                        a->runtime ? json_string(a->runtime) : json_null());
    json_object_set_new(doc, "task_sha256", json_string(cx->task_sha));
    json_object_set_new(doc, "task_dir", json_string(cx->task->dir));
    json_object_set_new(doc, "tests_dir", json_string(cx->task->tests_dir));
    json_object_set_new(doc, "seed", json_integer(a->seed));
    return doc;
}

/* ---- executors (executor.h) ---------------------------------------------- */

static void job_free(eval_job *j)
{
    free(j->out.status);
    free(j->out.detail);
    free(j->run_dir);
    free(j->out.image_id);
    free(j->out.backend);
    free(j->runner.end);
    free(j->cbox.end);
    free(j->runner.image_id);
    free(j->cbox.image_id);
    free(j->runner.backend);
    free(j->cbox.backend);
    json_decref(j->withheld);
    manifest_check_free(&j->mc);
    junit_free(&j->out.report);
    memset(j, 0, sizeof *j);
}

json_t *evaluate_run_single(const bench_task *t, const candidate *c,
                            const evaluate_args *a, const char *eval_dir,
                            int repeat, int tier, const char *cand_sha)
{
    eval_ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.task = t;
    cx.cands = c;
    cx.args = a;
    cx.eval_dir = eval_dir;
    cx.tier = &tier;
    char *sha = xstrdup(cand_sha);
    cx.cand_sha = &sha;
    const char *rd = getenv("SANDBOX_BENCH_RUNNER_DIR");
    cx.runner_dir = rd && *rd ? rd : BENCH_RUNNER_DIR;
    eval_job j;
    memset(&j, 0, sizeof j);
    j.repeat = repeat;
    bench_err e;
    if (load_approvals(a->approve_file, &cx.approvals, &e) != 0) {
        char *ld = label_dir(c->label);
        j.run_dir = xasprintf("%s/%s/r%d", eval_dir, ld, repeat);
        free(ld);
        j.out.exit_code = -1;
        outcome_set(&j.out, "error", "%s", e.msg);
    } else {
        run_one(&cx, &j);
    }
    json_t *rec = run_json(&cx, &j);
    job_free(&j);
    json_decref(cx.approvals);
    free(sha);
    return rec;
}

static char *jdup_s(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? xstrdup(s) : NULL;
}

static void cost_load(box_cost *b, json_t *j)
{
    memset(b, 0, sizeof *b);
    if (!json_is_object(j))
        return;
    b->ran = 1;
    b->wall_sec = json_number_value(json_object_get(j, "wall_sec"));
    b->peak_memory_bytes =
        (uint64_t)json_integer_value(json_object_get(j, "peak_memory_bytes"));
    json_t *cpu = json_object_get(j, "cpu_sec");
    b->cpu_sec = json_is_number(cpu) ? json_number_value(cpu) : -1;
    b->end = jdup_s(j, "end");
    b->image_id = jdup_s(j, "image_id");
    b->backend = jdup_s(j, "backend");
}

static char **strv_load(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    char **v = xcalloc(*n + 1, sizeof *v);
    for (size_t i = 0; i < *n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        v[i] = xstrdup(s ? s : "");
    }
    return v;
}

int evaluate_job_load(const eval_job_ref *r, const bench_task *t, json_t *run,
                      bench_err *e)
{
    eval_job *j = r->job;
    const char *st = json_string_value(json_object_get(run, "status"));
    json_t *tests = json_object_get(run, "tests");
    if (!st || !json_is_object(tests)) {
        bench_seterr(e, "a run record without \"status\" or \"tests\"; fix: "
                        "rerun the evaluation without --resume");
        return -1;
    }
    job_free(j);
    j->cand = r->cand;
    j->repeat = r->repeat;
    run_outcome *o = &j->out;
    o->status = xstrdup(st);
    o->detail = jdup_s(run, "detail");
    o->image_id = jdup_s(run, "image_id");
    o->backend = jdup_s(run, "backend");
    o->flood = json_is_true(json_object_get(run, "flood"));
    o->exit_code = (int)json_integer_value(json_object_get(run, "exit_code"));
    o->wall_sec = json_number_value(json_object_get(run, "wall_sec"));
    j->run_dir = jdup_s(run, "run_dir");
    json_t *costs = json_object_get(run, "costs");
    cost_load(&j->runner, json_object_get(costs, "runner"));
    cost_load(&j->cbox, json_object_get(costs, "candidate"));
    json_t *w = json_object_get(run, "withheld");
    j->withheld = w ? json_incref(w) : NULL;
    /* run_json lists every manifest id once a report was checked, none
     * otherwise: the same test entries come back out */
    if (json_object_size(tests) == 0 || t->n_tests == 0)
        return 0;
    size_t n = t->n_tests;
    manifest_check *mc = &j->mc;
    mc->verdict = xcalloc(n, sizeof *mc->verdict);
    mc->message = xcalloc(n, sizeof *mc->message);
    mc->match = xcalloc(n, sizeof *mc->match);
    o->report.cases = xcalloc(n, sizeof *o->report.cases);
    o->report.n_cases = n;
    for (size_t k = 0; k < n; k++) {
        json_t *tj = json_object_get(tests, t->tests[k]);
        junit_case *c = &o->report.cases[k];
        c->id = xstrdup(t->tests[k]);
        c->name = xstrdup(id_name(t->tests[k]));
        c->verdict = TV_MISSING;
        const char *vn = json_string_value(json_object_get(tj, "verdict"));
        for (int v = TV_PASSED; vn && v <= TV_UNVERIFIED; v++)
            if (!strcmp(vn, test_verdict_name(v)))
                c->verdict = v;
        c->time_sec = json_number_value(json_object_get(tj, "time_sec"));
        c->message = jdup_s(tj, "message");
        mc->verdict[k] = c->verdict;
        mc->message[k] = c->message;
        mc->match[k] = c;
    }
    json_t *mp = json_object_get(run, "manifest_problems");
    mc->ok = mp == NULL;
    if (mp) {
        mc->missing = strv_load(json_object_get(mp, "missing"), &mc->n_missing);
        mc->extra = strv_load(json_object_get(mp, "extra"), &mc->n_extra);
        mc->duplicate =
            strv_load(json_object_get(mp, "duplicate"), &mc->n_duplicate);
        mc->renamed = strv_load(json_object_get(mp, "renamed"), &mc->n_renamed);
    }
    return 0;
}

void evaluate_job_missing(const eval_job_ref *r, const char *eval_dir,
                          const char *label, const char *status,
                          const char *detail)
{
    eval_job *j = r->job;
    job_free(j);
    j->cand = r->cand;
    j->repeat = r->repeat;
    j->out.exit_code = -1;
    j->out.status = xstrdup(status);
    j->out.detail = xstrdup(detail);
    char *ld = label_dir(label);
    j->run_dir = xasprintf("%s/%s/r%d", eval_dir, ld, r->repeat);
    free(ld);
}

const char *evaluate_job_status(const eval_job_ref *r)
{
    return ((const eval_job *)r->job)->out.status;
}

int evaluate_all(const bench_task *t, const candidate *cands, size_t n,
                 const evaluate_args *a, json_t **results, char **eval_dir,
                 bench_err *e)
{
    if (n == 0) {
        bench_seterr(e, "no candidates to evaluate; fix: run `sandbox-bench "
                        "implement` first or pass --candidate LABEL=DIR");
        return -1;
    }
    eval_ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.task = t;
    cx.cands = cands;
    cx.args = a;
    const char *rd = getenv("SANDBOX_BENCH_RUNNER_DIR");
    cx.runner_dir = rd && *rd ? rd : BENCH_RUNNER_DIR;
    {
        char *serve = path_join(cx.runner_dir, "serve.py");
        int ok = path_is_file(serve);
        free(serve);
        if (!ok) {
            bench_seterr(e,
                         "%s/serve.py: missing; fix: point "
                         "SANDBOX_BENCH_RUNNER_DIR at the harness's "
                         "bench/runner directory",
                         cx.runner_dir);
            return -1;
        }
    }
    static const char *const suite_skip[] = {"__pycache__", ".pytest_cache",
                                             NULL};
    if (digest_tree(t->tests_dir, suite_skip, cx.suite_sha, e) != 0)
        return -1;
    if (digest_tree(t->dir, suite_skip, cx.task_sha, e) != 0)
        return -1;
    if (load_approvals(a->approve_file, &cx.approvals, e) != 0)
        return -1;
    cx.cand_sha = xcalloc(n, sizeof *cx.cand_sha);
    cx.tier = xcalloc(n, sizeof *cx.tier);
    cx.scan = xcalloc(n, sizeof *cx.scan);
    char *id = NULL, *dir = NULL;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        if (!path_is_dir(cands[i].dir)) {
            bench_seterr(e, "candidate %s: %s is not a directory",
                         cands[i].label, cands[i].dir);
            goto out;
        }
        if (digest_tree(cands[i].dir, NULL, hex, e) != 0)
            goto out;
        cx.cand_sha[i] = xstrdup(hex);
        cx.tier[i] = tier_of(a, &cands[i], e);
        if (cx.tier[i] < 0)
            goto out;
        if (scan_candidate(cands[i].dir, t->tests_mount, &cx.scan[i], e) != 0)
            goto out;
    }
    if (a->eval_id) {
        id = xstrdup(a->eval_id);
    } else {
        char *iso = iso_time(now_wall());
        /* 2026-05-12T10:11:12.345Z -> 20260512T101112Z-<pid> */
        char compact[32];
        size_t k = 0;
        for (const char *p = iso; *p && *p != '.' && k < sizeof compact - 1;
             p++)
            if (*p != '-' && *p != ':')
                compact[k++] = *p;
        compact[k] = '\0';
        id = xasprintf("%sZ-%d", compact, (int)getpid());
        free(iso);
    }
    cx.eval_id = id;
    dir = xasprintf("%s/evals/%s/%s", a->out_dir, t->name, id);
    cx.eval_dir = dir;
    cx.log_path = path_join(a->out_dir, "log.jsonl");
    if (mkdir_p(dir, e) != 0)
        goto out;
    cx.n_jobs = n * (size_t)a->repeat;
    cx.jobs = xcalloc(cx.n_jobs, sizeof *cx.jobs);
    /* Repeat-major order: with --jobs every candidate gets its first run
     * early, so a slow one does not hold the others back. */
    for (int r = 0; r < a->repeat; r++)
        for (size_t i = 0; i < n; i++) {
            eval_job *j = &cx.jobs[(size_t)r * n + i];
            j->cand = i;
            j->repeat = r + 1;
        }
    pthread_mutex_init(&cx.lock, NULL);
    cx.t0 = now_mono();
    int nthreads = a->jobs < 1 ? 1 : a->jobs;
    if ((size_t)nthreads > cx.n_jobs)
        nthreads = (int)cx.n_jobs;
    if (!a->quiet)
        fprintf(stderr,
                "[evaluate] task %s (%s, %zu tests in %s): %zu candidate%s "
                "x %d repeat%s, %d job%s, image %s -> %s\n",
                t->name, t->isolation, t->n_tests, t->manifest, n,
                n == 1 ? "" : "s", a->repeat, a->repeat == 1 ? "" : "s",
                nthreads, nthreads == 1 ? "" : "s", t->image, dir);
    if (a->slurm) {
        /* The Slurm executor (executor_slurm.c) runs the plan as a job
         * array and fills every job from its record; the log is written
         * here, in plan order, as the local workers would have. */
        eval_job_ref *refs = xcalloc(cx.n_jobs, sizeof *refs);
        for (size_t i = 0; i < cx.n_jobs; i++)
            refs[i] = (eval_job_ref){cx.jobs[i].cand, cx.jobs[i].repeat,
                                     &cx.jobs[i], 0};
        eval_plan_view v = {t,  cands, n,         a,       dir,
                            id, refs,  cx.n_jobs, cx.tier, cx.cand_sha};
        int xrc = slurm_execute(&v, e);
        pthread_mutex_destroy(&cx.lock);
        for (size_t i = 0; i < cx.n_jobs && xrc == 0; i++)
            if (!refs[i].logged) /* --resume: logged by an earlier merge */
                log_run(&cx, &cx.jobs[i]);
        free(refs);
        if (xrc != 0)
            goto free_jobs;
    } else {
        pthread_t *th = xcalloc((size_t)nthreads, sizeof *th);
        int started = 0;
        for (int i = 0; i < nthreads; i++) {
            if (pthread_create(&th[i], NULL, worker, &cx) != 0)
                break;
            started++;
        }
        if (started == 0)
            worker(&cx);
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        free(th);
        pthread_mutex_destroy(&cx.lock);
    }

    json_t *doc = aggregate(&cx, n);
    char *rpath = path_join(dir, "results.json");
    rc = json_write_file(rpath, doc, e);
    /* One signed scorecard per candidate when a key is configured
     * (--sign-key, or $SANDBOX_BENCH_SIGN_KEY for run-all and replay;
     * sign.c); they are listed in results.json. */
    const char *key =
        a->sign_key ? a->sign_key : getenv("SANDBOX_BENCH_SIGN_KEY");
    if (rc == 0 && key && key[0]) {
        rc = scorecards_write(doc, dir, cx.log_path, key, e);
        if (rc == 0)
            rc = json_write_file(rpath, doc, e);
    }
    free(rpath);
    if (rc == 0) {
        *results = doc;
        *eval_dir = xstrdup(dir);
    } else {
        json_decref(doc);
    }
free_jobs:
    for (size_t i = 0; i < cx.n_jobs; i++)
        job_free(&cx.jobs[i]);
    free(cx.jobs);
out:
    for (size_t i = 0; i < n; i++)
        json_decref(cx.scan[i]);
    free(cx.scan);
    free(cx.tier);
    json_decref(cx.approvals);
    free_strv(cx.cand_sha, n);
    free(cx.log_path);
    free(dir);
    free(id);
    return rc;
}

int manifest_collect(const bench_task *t, const char *runtime, char **text,
                     bench_err *e)
{
    if (strcmp(t->isolation, "two-box")) {
        bench_seterr(e,
                     "%s: collecting the test list needs \"isolation\": "
                     "\"two-box\" (in a single box the suite runs with a "
                     "candidate); fix: write tests/%s by hand",
                     t->name, t->manifest);
        return -1;
    }
    const char *rd = getenv("SANDBOX_BENCH_RUNNER_DIR");
    const char *runner_dir = rd && *rd ? rd : BENCH_RUNNER_DIR;
    char tmpl[] = "/tmp/sandbox-bench-manifest-XXXXXX";
    if (!mkdtemp(tmpl)) {
        bench_seterr(e, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    char *work = path_join(tmpl, "runner");
    char *ipc = path_join(tmpl, "ipc"); /* empty: no server */
    char *parent = path_join(work, t->report);
    *strrchr(parent, '/') = '\0';
    int rc = -1;
    char **env = NULL;
    size_t n_env = 0;
    sandbox_result res;
    sandbox_result_init(&res, sizeof res);
    char *data = NULL;
    size_t len = 0;
    junit_report rep;
    memset(&rep, 0, sizeof rep);
    if (mkdir_p(parent, e) != 0 || mkdir_p(ipc, e) != 0)
        goto out;
    static const char *const extra[] = {"BENCH_SOCKET=" BOX_IPC "/sbcall.sock",
                                        "BENCH_CANDIDATE_DIR=" BOX_CANDIDATE,
                                        "BENCH_SCRATCH=/workspace",
                                        "PYTHONPATH=" BOX_RUNNER,
                                        "BENCH_CONNECT_WAIT=0",
                                        NULL};
    env = box_env(t, extra, 0, &n_env);
    sandbox_mount m[3] = {{t->tests_dir, t->tests_mount, 0},
                          {runner_dir, BOX_RUNNER, 0},
                          {ipc, BOX_IPC, 0}};
    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.command = t->test_command;
    o.image = t->image;
    o.workspace = work;
    o.runtime = runtime;
    o.network = SANDBOX_NETWORK_NONE;
    o.timeout_sec = t->limits.timeout_sec;
    o.memory = t->limits.memory;
    o.pids = t->limits.pids;
    o.cpus = t->limits.cpus;
    o.mounts = m;
    o.n_mounts = 3;
    o.env = (const char *const *)env;
    o.n_env = n_env;
    if (sandbox_run(&o, &res) != 0) {
        bench_seterr(e, "the runner box could not run: %s",
                     res.message ? res.message : "unknown error");
        goto out;
    }
    char why[256];
    if (read_report(work, t->report, &data, &len, why, sizeof why) != 0) {
        bench_seterr(e,
                     "the runner box wrote no report at /workspace/%s (%s, "
                     "exit %d)%s%s",
                     t->report, sandbox_end_name(res.reason), res.exit_code,
                     why[0] ? ": " : "", why);
        goto out;
    }
    if (junit_parse_memory(data, len, &rep, e) != 0)
        goto out;
    char **ids = xcalloc(rep.n_cases ? rep.n_cases : 1, sizeof *ids);
    for (size_t i = 0; i < rep.n_cases; i++)
        ids[i] = rep.cases[i].id;
    if (rep.n_cases > 1)
        qsort(ids, rep.n_cases, sizeof *ids, cmp_cstr);
    size_t total = 1;
    for (size_t i = 0; i < rep.n_cases; i++)
        total += strlen(ids[i]) + 1;
    char *buf = xmalloc(total), *p = buf;
    for (size_t i = 0; i < rep.n_cases; i++) {
        if (i && !strcmp(ids[i], ids[i - 1])) {
            bench_seterr(e,
                         "the suite reports \"%s\" twice; fix: give "
                         "every test a distinct id",
                         ids[i]);
            free(ids);
            free(buf);
            goto out;
        }
        p += sprintf(p, "%s\n", ids[i]);
    }
    *p = '\0';
    free(ids);
    *text = buf;
    rc = 0;
out:
    junit_free(&rep);
    free(data);
    sandbox_result_free(&res);
    free_strv(env, n_env);
    rm_rf(tmpl);
    free(work);
    free(ipc);
    free(parent);
    return rc;
}

int candidates_from_runs(const char *out_dir, const char *task, candidate **out,
                         size_t *n, bench_err *e)
{
    char *root = xasprintf("%s/runs/%s", out_dir, task);
    *out = NULL;
    *n = 0;
    if (!path_is_dir(root)) {
        bench_seterr(e,
                     "%s: no implement runs for task %s; fix: run "
                     "`sandbox-bench implement` first, or pass --candidate "
                     "LABEL=DIR",
                     root, task);
        free(root);
        return -1;
    }
    char **files = NULL;
    size_t nf = 0;
    if (list_files(root, NULL, &files, &nf, e) != 0) {
        free(root);
        return -1;
    }
    /* Every <model>/<round>/meta.json whose files/ exists. */
    size_t cap = 0;
    for (size_t i = 0; i < nf; i++) {
        const char *f = files[i];
        const char *s1 = strchr(f, '/');
        const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        if (!s2 || strcmp(s2 + 1, "meta.json"))
            continue;
        char *rel = xasprintf("%.*s", (int)(s2 - f), f);
        char *fdir = xasprintf("%s/%s/files", root, rel);
        if (!path_is_dir(fdir)) {
            free(rel);
            free(fdir);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        (*out)[*n].label = rel;
        (*out)[*n].dir = fdir;
        (*n)++;
    }
    free_strv(files, nf);
    free(root);
    if (*n == 0) {
        bench_seterr(e,
                     "no captured candidates under %s/runs/%s; fix: run "
                     "`sandbox-bench implement` first",
                     out_dir, task);
        return -1;
    }
    return 0;
}

void candidates_free(candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].label);
        free(c[i].dir);
    }
    free(c);
}
