/* SPDX-License-Identifier: MIT */
/*
 * evaluate.c: the evaluate phase.  For every candidate and every repeat:
 *   - a fresh scratch directory holding a copy of the candidate's files,
 *     mounted read-write at /workspace;
 *   - the task's hidden tests mounted READ-ONLY at tests_mount;
 *   - the task's test command run through sandbox_run with network none
 *     and the task's limits;
 *   - the JUnit XML report read into per-test verdicts, and a run status
 *     that names what went wrong when there is no usable report:
 *       completed   the runner wrote a report (tests may still fail)
 *       timeout     the run passed limits.timeout_sec and was killed
 *       oom         the run passed limits.memory and was killed
 *       flood       the run wrote more than limits.flood_bytes of output
 *                   and then ended without a report
 *       crashed     the runner died (signal / non-zero exit), no report
 *       no-report   the runner exited 0 but wrote no report
 *       bad-report  the report is not well-formed JUnit XML
 *       error       the sandbox could not run at all (image, runtime)
 * Every run is appended to <out>/log.jsonl; the whole evaluation is
 * written to <out>/evals/<task>/<id>/results.json.
 */
#include "bench.h"
#include "executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sandbox.h>

typedef struct eval_job {
    size_t cand;
    int repeat; /* 1-based */
    run_outcome out;
    char *run_dir;
} eval_job;

typedef struct eval_ctx {
    const bench_task *task;
    const candidate *cands;
    char **cand_sha;
    const evaluate_args *args;
    const char *eval_dir;
    const char *eval_id;
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
        char buf[1024];
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

/* Run candidate job->cand once; fill job->out.  Never fails the harness:
 * every problem becomes the run's status. */
static void run_one(eval_ctx *cx, eval_job *job)
{
    const bench_task *t = cx->task;
    const candidate *c = &cx->cands[job->cand];
    run_outcome *o = &job->out;
    memset(o, 0, sizeof *o);
    o->exit_code = -1;
    bench_err e;
    char *ldir = label_dir(c->label);
    char *rdir = xasprintf("%s/%s/r%d", cx->eval_dir, ldir, job->repeat);
    free(ldir);
    job->run_dir = rdir;
    char *scratch = path_join(rdir, "work");
    char *report_in = path_join(scratch, t->report);
    char *report_out = path_join(rdir, "junit.xml");
    char *output = path_join(rdir, "test-output.txt");
    sandbox_mount mount = {t->tests_dir, t->tests_mount, 0};
    sandbox_opts opts;
    sandbox_result res;
    sandbox_opts_init(&opts, sizeof opts);
    sandbox_result_init(&res, sizeof res);

    rm_rf(rdir);
    if (mkdir_p(rdir, &e) != 0 || copy_tree(c->dir, scratch, &e) != 0) {
        outcome_set(o, "error", "cannot prepare the scratch directory: %s",
                    e.msg);
        goto done;
    }
    /* A report shipped with the candidate must not count. */
    rm_rf(report_in);
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

    opts.command = t->test_command;
    opts.image = t->image;
    opts.workspace = scratch;
    opts.runtime = cx->args->runtime;
    opts.network = SANDBOX_NETWORK_NONE;
    opts.timeout_sec = t->limits.timeout_sec;
    opts.memory = t->limits.memory;
    opts.pids = t->limits.pids;
    opts.cpus = t->limits.cpus;
    opts.output_limit = t->limits.output_limit;
    opts.mounts = &mount;
    opts.n_mounts = 1;
    if (cx->args->cancel_fd > 0)
        opts.cancel_fd = cx->args->cancel_fd;
    /* the task's env plus the recorded seed */
    const char **env = xcalloc(t->n_env + 1, sizeof *env);
    for (size_t i = 0; i < t->n_env; i++)
        env[i] = t->env[i];
    char *seed_env = xasprintf("SANDBOX_BENCH_SEED=%lld", cx->args->seed);
    env[t->n_env] = seed_env;
    opts.env = env;
    opts.n_env = t->n_env + 1;

    int rc = sandbox_run(&opts, &res);
    free(env);
    free(seed_env);
    if (res.image_id)
        o->image_id = xstrdup(res.image_id);
    if (res.backend)
        o->backend = xstrdup(res.backend);
    o->wall_sec = res.wall_sec;
    o->exit_code = res.exit_code;
    uint64_t total = res.out.total + res.err.total;
    o->flood = total > t->limits.flood_bytes;

    /* test-output.txt: the contract's text form plus the byte counts. */
    {
        char *text = NULL;
        size_t tl = 0;
        if (sandbox_format(&res, 0, &text, &tl) == 0) {
            char *tail = xasprintf(
                "\n--- sandbox-bench ---\nend=%s exit=%d wall=%.3fs "
                "stdout_bytes=%llu stderr_bytes=%llu%s%s\n",
                sandbox_end_name(res.reason), res.exit_code, res.wall_sec,
                (unsigned long long)res.out.total,
                (unsigned long long)res.err.total,
                res.message ? " message=" : "", res.message ? res.message : "");
            char *all = xasprintf("%s%s", text, tail);
            write_file(output, all, strlen(all), &e);
            free(all);
            free(tail);
        }
        sandbox_free(text);
    }

    if (rc != 0) {
        outcome_set(o, "error", "the sandbox could not run the tests: %s",
                    res.message ? res.message : sandbox_strerror(rc));
        goto done;
    }
    int have_report = path_is_file(report_in);
    if (have_report)
        copy_file(report_in, report_out, &e);
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
        if (junit_parse_file(report_in, &o->report, &e) != 0)
            outcome_set(o, "bad-report", "%s", e.msg);
        else
            outcome_set(o, "completed", NULL);
        if (o->flood && !strcmp(o->status, "completed"))
            o->detail = xasprintf("flooded %s of output (limit %s) but "
                                  "completed",
                                  tb, fb);
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

done:
    if (!o->status)
        outcome_set(o, "error", "internal: no status");
    if (!cx->args->keep_scratch)
        rm_rf(scratch);
    sandbox_result_free(&res);
    free(scratch);
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

static json_t *run_json(const eval_job *j)
{
    const run_outcome *o = &j->out;
    json_t *tests = json_object();
    for (size_t i = 0; i < o->report.n_cases; i++) {
        const junit_case *c = &o->report.cases[i];
        json_t *tj =
            json_pack("{s:s, s:s, s:f}", "name", c->name, "verdict",
                      test_verdict_name(c->verdict), "time_sec", c->time_sec);
        if (c->message)
            json_object_set_new(tj, "message", json_string(c->message));
        json_object_set_new(tests, c->id, tj);
    }
    json_t *r = json_pack("{s:i, s:s, s:b, s:i, s:f, s:i, s:i, s:i, s:i, s:o}",
                          "repeat", j->repeat, "status", o->status, "flood",
                          o->flood, "exit_code", o->exit_code, "wall_sec",
                          o->wall_sec, "passed", o->report.passed, "failed",
                          o->report.failed, "errors", o->report.errors,
                          "skipped", o->report.skipped, "tests", tests);
    json_object_set_new(r, "detail",
                        o->detail ? json_string(o->detail) : json_null());
    json_object_set_new(r, "run_dir", json_string(j->run_dir));
    json_object_set_new(r, "image_id",
                        o->image_id ? json_string(o->image_id) : json_null());
    json_object_set_new(r, "backend",
                        o->backend ? json_string(o->backend) : json_null());
    return r;
}

static void log_run(eval_ctx *cx, const eval_job *j)
{
    const candidate *c = &cx->cands[j->cand];
    char *ts = iso_time(now_wall());
    json_t *rec = run_json(j);
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
            unsigned total = o->report.passed + o->report.failed +
                             o->report.errors + o->report.skipped;
            fprintf(stderr, "[evaluate %zu/%zu %.0fs] %s #%d: %s", cx->done,
                    cx->n_jobs, now_mono() - cx->t0, cx->cands[j->cand].label,
                    j->repeat, o->status);
            if (!strcmp(o->status, "completed") ||
                !strcmp(o->status, "bad-report"))
                fprintf(stderr, ", %u/%u passed", o->report.passed, total);
            fprintf(stderr, " (%.1f s)%s%s\n", o->wall_sec,
                    o->detail ? ": " : "", o->detail ? o->detail : "");
        }
        pthread_mutex_unlock(&cx->lock);
    }
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fold the runs into the results document. */
static json_t *aggregate(eval_ctx *cx, size_t n_cands)
{
    const evaluate_args *a = cx->args;
    /* The test universe: every test id seen in any run. */
    json_t *universe = json_object();
    for (size_t i = 0; i < cx->n_jobs; i++) {
        const junit_report *r = &cx->jobs[i].out.report;
        for (size_t k = 0; k < r->n_cases; k++)
            json_object_set_new(universe, r->cases[k].id,
                                json_string(r->cases[k].name));
    }
    size_t nu = json_object_size(universe);
    const char **ids = xcalloc(nu, sizeof *ids);
    {
        size_t k = 0;
        const char *key;
        json_t *v;
        json_object_foreach(universe, key, v) ids[k++] = key;
        if (nu > 1)
            qsort(ids, nu, sizeof *ids, cmp_cstr);
    }
    json_t *jcands = json_array();
    for (size_t ci = 0; ci < n_cands; ci++) {
        json_t *runs = json_array();
        json_t *statuses = json_object();
        double sum_passed = 0;
        for (size_t i = 0; i < cx->n_jobs; i++) {
            if (cx->jobs[i].cand != ci)
                continue;
            json_array_append_new(runs, run_json(&cx->jobs[i]));
            const char *st = cx->jobs[i].out.status;
            json_t *cnt = json_object_get(statuses, st);
            json_object_set_new(
                statuses, st,
                json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
            sum_passed += cx->jobs[i].out.report.passed;
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
                const junit_report *r = &cx->jobs[i].out.report;
                int v = TV_MISSING;
                for (size_t m = 0; m < r->n_cases; m++) {
                    if (!strcmp(r->cases[m].id, ids[k])) {
                        v = r->cases[m].verdict;
                        if (v != TV_PASSED && v != TV_SKIPPED && !msg)
                            msg = r->cases[m].message;
                    }
                }
                json_array_append_new(verdicts,
                                      json_string(test_verdict_name(v)));
                counted++;
                if (v == TV_PASSED)
                    passes++;
            }
            const char *name =
                json_string_value(json_object_get(universe, ids[k]));
            int is_flaky = passes > 0 && passes < counted;
            json_t *tj =
                json_pack("{s:s, s:i, s:i, s:f, s:b, s:o}", "name", name,
                          "passed", passes, "runs", counted, "pass_rate",
                          counted ? (double)passes / counted : 0.0, "flaky",
                          is_flaky, "verdicts", verdicts);
            if (msg)
                json_object_set_new(tj, "message", json_string(msg));
            json_object_set_new(tests, ids[k], tj);
            if (passes == counted && counted > 0)
                all_pass_tests++;
            else
                json_array_append_new(failing, json_string(name));
            if (is_flaky)
                json_array_append_new(flaky, json_string(name));
        }
        json_t *summary = json_pack(
            "{s:i, s:i, s:f, s:f, s:o, s:o, s:o}", "tests_total", (int)nu,
            "tests_always_passed", all_pass_tests, "mean_passed",
            nruns ? sum_passed / nruns : 0.0, "pass_rate",
            nruns && nu ? sum_passed / ((double)nruns * (double)nu) : 0.0,
            "statuses", statuses, "failing", failing, "flaky", flaky);
        json_t *cj = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "label",
                               cx->cands[ci].label, "dir", cx->cands[ci].dir,
                               "sha256", cx->cand_sha[ci], "summary", summary,
                               "tests", tests, "runs", runs);
        json_array_append_new(jcands, cj);
    }
    json_t *jids = json_array();
    for (size_t k = 0; k < nu; k++)
        json_array_append_new(jids, json_string(ids[k]));
    free(ids);
    json_decref(universe);
    char *ts = iso_time(now_wall());
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:i, s:s, s:s, s:o, s:o}",
        "kind", "sandbox-bench-results", "task", cx->task->name, "eval_id",
        cx->eval_id, "image", cx->task->image, "test_command",
        cx->task->test_command, "suite_sha256", cx->suite_sha, "limits",
        limits_json(&cx->task->limits), "repeat", a->repeat, "jobs", a->jobs,
        "finished_at", ts, "libsandbox", sandbox_version(), "tests", jids,
        "candidates", jcands);
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
    static const char *const suite_skip[] = {"__pycache__", ".pytest_cache",
                                             NULL};
    if (digest_tree(t->tests_dir, suite_skip, cx.suite_sha, e) != 0)
        return -1;
    if (digest_tree(t->dir, suite_skip, cx.task_sha, e) != 0)
        return -1;
    cx.cand_sha = xcalloc(n, sizeof *cx.cand_sha);
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        if (!path_is_dir(cands[i].dir)) {
            bench_seterr(e, "candidate %s: %s is not a directory",
                         cands[i].label, cands[i].dir);
            free_strv(cx.cand_sha, n);
            return -1;
        }
        if (digest_tree(cands[i].dir, NULL, hex, e) != 0) {
            free_strv(cx.cand_sha, n);
            return -1;
        }
        cx.cand_sha[i] = xstrdup(hex);
    }
    char *id;
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
    char *dir = xasprintf("%s/evals/%s/%s", a->out_dir, t->name, id);
    cx.eval_dir = dir;
    cx.log_path = path_join(a->out_dir, "log.jsonl");
    int rc = -1;
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
                "[evaluate] task %s: %zu candidate%s x %d repeat%s, "
                "%d job%s, image %s -> %s\n",
                t->name, n, n == 1 ? "" : "s", a->repeat,
                a->repeat == 1 ? "" : "s", nthreads, nthreads == 1 ? "" : "s",
                t->image, dir);
    if (a->slurm) {
        /* The Slurm executor (executor_slurm.c) runs the plan as a job
         * array and fills every job's outcome; the log is written here, in
         * plan order, as the local workers would have. */
        eval_job_ref *refs = xcalloc(cx.n_jobs, sizeof *refs);
        for (size_t i = 0; i < cx.n_jobs; i++)
            refs[i] = (eval_job_ref){cx.jobs[i].cand, cx.jobs[i].repeat,
                                     &cx.jobs[i].out, &cx.jobs[i].run_dir, 0};
        eval_plan_view v = {t, cands, n, a, dir, id, refs, cx.n_jobs};
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
    for (size_t i = 0; i < cx.n_jobs; i++) {
        free(cx.jobs[i].out.status);
        free(cx.jobs[i].out.detail);
        free(cx.jobs[i].run_dir);
        free(cx.jobs[i].out.image_id);
        free(cx.jobs[i].out.backend);
        junit_free(&cx.jobs[i].out.report);
    }
    free(cx.jobs);
out:
    free_strv(cx.cand_sha, n);
    free(cx.log_path);
    free(dir);
    free(id);
    return rc;
}

void evaluate_run_single(const bench_task *t, const candidate *c,
                         const evaluate_args *a, const char *eval_dir,
                         int repeat, run_outcome *out, char **run_dir)
{
    eval_ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.task = t;
    cx.cands = c;
    cx.args = a;
    cx.eval_dir = eval_dir;
    eval_job j = {0, repeat, {0}, NULL};
    run_one(&cx, &j);
    *out = j.out;
    *run_dir = j.run_dir;
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
