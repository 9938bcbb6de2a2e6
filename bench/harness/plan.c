/* SPDX-License-Identifier: MIT */
/*
 * plan.c: the serialised evaluation plan and the per-run records of the Slurm
 * executor, and `sandbox-bench evaluate-one PLAN INDEX`, which an array task
 * runs on its node.
 *
 * EVAL_DIR/slurm/plan.json  {"kind": "sandbox-bench-plan", "task_dir",
 *     "eval_dir", "eval_id", "runtime", "seed", "keep_scratch", "per_task",
 *     "candidates": [{"label", "dir"}], "runs": [[cand, repeat], ...]}
 *   Array task i runs runs[i*per_task .. (i+1)*per_task - 1].
 * EVAL_DIR/slurm/records/c<cand>-r<repeat>.json  one run's outcome, lossless
 *   (status, detail, exit code, wall time, flood, image id, backend, every
 *   test case), written to a temporary name and renamed into place, so the
 *   submitter reads a whole record or none.
 */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sandbox.h>

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *jdup(json_t *o, const char *k)
{
    const char *s = jstr(o, k);
    return s ? xstrdup(s) : NULL;
}

int plan_write(const char *path, const eval_plan *p, bench_err *e)
{
    json_t *cands = json_array();
    for (size_t i = 0; i < p->n_cands; i++)
        json_array_append_new(
            cands, json_pack("{s:s, s:s, s:i, s:s}", "label", p->cands[i].label,
                             "dir", p->cands[i].dir, "tier", p->tier[i],
                             "sha256", p->cand_sha[i]));
    json_t *runs = json_array();
    for (size_t i = 0; i < p->n_runs; i++)
        json_array_append_new(
            runs,
            json_pack("[I, i]", (json_int_t)p->run_cand[i], p->run_repeat[i]));
    json_t *doc =
        json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:b, s:i, s:o, s:o}", "kind",
                  "sandbox-bench-plan", "version", 1, "task_dir", p->task_dir,
                  "eval_dir", p->eval_dir, "eval_id", p->eval_id, "seed",
                  (json_int_t)p->seed, "keep_scratch", p->keep_scratch,
                  "per_task", p->per_task, "candidates", cands, "runs", runs);
    json_object_set_new(doc, "runtime",
                        p->runtime ? json_string(p->runtime) : json_null());
    json_object_set_new(doc, "approve_file",
                        p->approve_file ? json_string(p->approve_file)
                                        : json_null());
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    int rc = json_write_file(tmp, doc, e);
    json_decref(doc);
    if (rc == 0 && rename(tmp, path) != 0) {
        bench_seterr(e, "cannot rename %s to %s: %s", tmp, path,
                     strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int plan_read(const char *path, eval_plan *p, bench_err *e)
{
    memset(p, 0, sizeof *p);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        bench_seterr(e,
                     "cannot read the evaluation plan %s: %s; fix: the "
                     "output directory must be on storage every node mounts "
                     "at the same path",
                     path, je.text);
        return -1;
    }
    json_t *cands = json_object_get(doc, "candidates");
    json_t *runs = json_object_get(doc, "runs");
    const char *kind = jstr(doc, "kind");
    if (!kind || strcmp(kind, "sandbox-bench-plan") || !json_is_array(cands) ||
        !json_is_array(runs) || !jstr(doc, "task_dir") ||
        !jstr(doc, "eval_dir") || !jstr(doc, "eval_id")) {
        bench_seterr(e,
                     "%s is not a sandbox-bench plan; fix: pass the "
                     "plan.json that `evaluate --executor slurm` wrote",
                     path);
        json_decref(doc);
        return -1;
    }
    p->task_dir = jdup(doc, "task_dir");
    p->eval_dir = jdup(doc, "eval_dir");
    p->eval_id = jdup(doc, "eval_id");
    p->runtime = jdup(doc, "runtime");
    p->seed = (long long)json_integer_value(json_object_get(doc, "seed"));
    p->keep_scratch = json_is_true(json_object_get(doc, "keep_scratch"));
    p->per_task = (int)json_integer_value(json_object_get(doc, "per_task"));
    if (p->per_task < 1)
        p->per_task = 1;
    p->n_cands = json_array_size(cands);
    p->cands = xcalloc(p->n_cands ? p->n_cands : 1, sizeof *p->cands);
    p->approve_file = jdup(doc, "approve_file");
    p->tier = xcalloc(p->n_cands ? p->n_cands : 1, sizeof *p->tier);
    p->cand_sha = xcalloc(p->n_cands ? p->n_cands : 1, sizeof *p->cand_sha);
    for (size_t i = 0; i < p->n_cands; i++) {
        json_t *c = json_array_get(cands, i);
        p->cands[i].label = xstrdup(jstr(c, "label") ? jstr(c, "label") : "");
        p->cands[i].dir = xstrdup(jstr(c, "dir") ? jstr(c, "dir") : "");
        p->tier[i] = (int)json_integer_value(json_object_get(c, "tier"));
        p->cand_sha[i] = xstrdup(jstr(c, "sha256") ? jstr(c, "sha256") : "");
    }
    p->n_runs = json_array_size(runs);
    p->run_cand = xcalloc(p->n_runs ? p->n_runs : 1, sizeof *p->run_cand);
    p->run_repeat = xcalloc(p->n_runs ? p->n_runs : 1, sizeof *p->run_repeat);
    for (size_t i = 0; i < p->n_runs; i++) {
        json_t *r = json_array_get(runs, i);
        json_int_t ci = json_integer_value(json_array_get(r, 0));
        if (ci < 0 || (size_t)ci >= p->n_cands) {
            bench_seterr(e, "%s: runs[%zu] names candidate %lld of %zu", path,
                         i, (long long)ci, p->n_cands);
            json_decref(doc);
            plan_free(p);
            return -1;
        }
        p->run_cand[i] = (size_t)ci;
        p->run_repeat[i] = (int)json_integer_value(json_array_get(r, 1));
    }
    json_decref(doc);
    return 0;
}

void plan_free(eval_plan *p)
{
    free(p->task_dir);
    free(p->eval_dir);
    free(p->eval_id);
    free(p->runtime);
    free(p->approve_file);
    free(p->tier);
    free_strv(p->cand_sha, p->cand_sha ? p->n_cands : 0);
    candidates_free(p->cands, p->n_cands);
    free(p->run_cand);
    free(p->run_repeat);
    memset(p, 0, sizeof *p);
}

size_t plan_n_tasks(const eval_plan *p)
{
    size_t k = (size_t)(p->per_task < 1 ? 1 : p->per_task);
    return (p->n_runs + k - 1) / k;
}

char *plan_record_path(const char *eval_dir, size_t cand, int repeat)
{
    return xasprintf("%s/slurm/records/c%zu-r%d.json", eval_dir, cand, repeat);
}

int record_write(const char *path, const char *label, json_t *run, bench_err *e)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:O}", "kind", "sandbox-bench-record",
                  "label", label, "node", host, "run", run);
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    int rc = json_write_file(tmp, doc, e);
    json_decref(doc);
    if (rc == 0) {
        /* the bytes on stable storage before the name appears */
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        if (rename(tmp, path) != 0) {
            bench_seterr(e, "cannot rename %s to %s: %s", tmp, path,
                         strerror(errno));
            rc = -1;
        }
    }
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int record_read(const char *path, const char *label, json_t **run, bench_err *e)
{
    *run = NULL;
    if (!path_is_file(path))
        return 0;
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        bench_seterr(e, "record %s: %s", path, je.text);
        return -1;
    }
    const char *l = jstr(doc, "label");
    json_t *r = json_object_get(doc, "run");
    if (!l || strcmp(l, label) || !json_is_object(r) || !jstr(r, "status")) {
        bench_seterr(e,
                     "record %s is for candidate \"%s\", not \"%s\" (or "
                     "malformed); fix: resume with the same candidates, or "
                     "start a new evaluation with another --id",
                     path, l ? l : "?", label);
        json_decref(doc);
        return -1;
    }
    *run = json_incref(r);
    json_decref(doc);
    return 1;
}

/* ---- evaluate-one -------------------------------------------------------- */

static int cancel_pipe[2] = {-1, -1};
static volatile sig_atomic_t cancelled;

static void on_term(int sig)
{
    (void)sig;
    int saved = errno;
    cancelled = 1;
    if (cancel_pipe[1] >= 0) {
        ssize_t w = write(cancel_pipe[1], "x", 1);
        (void)w;
    }
    errno = saved;
}

int evaluate_one_main(const char *plan_path, const char *index)
{
    char *end = NULL;
    errno = 0;
    long idx = strtol(index, &end, 10);
    if (errno || !end || *end || end == index || idx < 0) {
        fprintf(stderr,
                "sandbox-bench: evaluate-one: INDEX \"%s\": fix: give the "
                "array task's index ($SLURM_ARRAY_TASK_ID)\n",
                index);
        return 2;
    }
    bench_err e;
    eval_plan p;
    if (plan_read(plan_path, &p, &e) != 0) {
        fprintf(stderr, "sandbox-bench: evaluate-one: %s\n", e.msg);
        return 2;
    }
    size_t first = (size_t)idx * (size_t)p.per_task;
    if (first >= p.n_runs) {
        fprintf(stderr,
                "sandbox-bench: evaluate-one: index %ld is past the plan's "
                "%zu array task%s; fix: give an index below %zu\n",
                idx, plan_n_tasks(&p), plan_n_tasks(&p) == 1 ? "" : "s",
                plan_n_tasks(&p));
        plan_free(&p);
        return 2;
    }
    size_t last = first + (size_t)p.per_task;
    if (last > p.n_runs)
        last = p.n_runs;
    bench_task t;
    if (task_load(p.task_dir, &t, &e) != 0) {
        fprintf(stderr, "sandbox-bench: evaluate-one: %s\n", e.msg);
        plan_free(&p);
        return 2;
    }
    /* SIGTERM (scancel, the time limit) or SIGINT: every box is cancelled
     * through libsandbox's cancel_fd and torn down by the library; the run
     * that was cut short writes no record (--resume reruns it). */
    if (pipe2(cancel_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "sandbox-bench: evaluate-one: pipe: %s\n",
                strerror(errno));
        task_free(&t);
        plan_free(&p);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    evaluate_args a;
    memset(&a, 0, sizeof a);
    a.out_dir = NULL;
    a.repeat = 1;
    a.jobs = 1;
    a.keep_scratch = p.keep_scratch;
    a.quiet = 1;
    a.runtime = p.runtime;
    a.eval_id = p.eval_id;
    a.seed = p.seed;
    a.approve_file = p.approve_file;
    a.cancel_fd = cancel_pipe[0];
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    printf("evaluate-one: plan %s task %ld: runs %zu..%zu of %zu on %s "
           "(pid %d)\n",
           plan_path, idx, first, last - 1, p.n_runs, host, (int)getpid());
    fflush(stdout);
    int rc = 0;
    for (size_t i = first; i < last && !cancelled; i++) {
        size_t ci = p.run_cand[i];
        const candidate *c = &p.cands[ci];
        int rep = p.run_repeat[i];
        json_t *run = evaluate_run_single(&t, c, &a, p.eval_dir, rep,
                                          p.tier[ci], p.cand_sha[ci]);
        if (cancelled) {
            printf("evaluate-one: %s #%d: cancelled (no record)\n", c->label,
                   rep);
        } else {
            char *rp = plan_record_path(p.eval_dir, ci, rep);
            if (record_write(rp, c->label, run, &e) != 0) {
                fprintf(stderr, "sandbox-bench: evaluate-one: %s\n", e.msg);
                rc = 1;
            }
            printf(
                "evaluate-one: %s #%d: %s, %lld passed (%.1f s)\n", c->label,
                rep, json_string_value(json_object_get(run, "status")),
                (long long)json_integer_value(json_object_get(run, "passed")),
                json_number_value(json_object_get(run, "wall_sec")));
            free(rp);
        }
        fflush(stdout);
        json_decref(run);
    }
    task_free(&t);
    plan_free(&p);
    if (cancelled)
        rc = 143;
    return rc;
}
