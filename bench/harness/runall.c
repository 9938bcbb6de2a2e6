/* SPDX-License-Identifier: MIT */
/*
 * runall.c: `run-all`: implement every configured model, evaluate what
 * was captured, judge it, aggregate the review.  A model whose implement
 * run fails is reported and left out; the chain goes on with the rest.
 */
#include "judging.h"

#include <stdlib.h>
#include <string.h>

int run_all(const bench_task *t, const bench_config *c, const runall_args *a,
            bench_err *e)
{
    int failed = 0;
    candidate *cands = xcalloc(c->n_implementers, sizeof *cands);
    size_t n = 0;
    implement_args ia = {
        a->out_dir, a->round, a->sandboxed, a->quiet, {0, 0, 0}};
    for (size_t i = 0; i < c->n_implementers; i++) {
        const bench_model *m = &c->implementers[i];
        char *run_dir = NULL;
        bench_err me;
        if (implement_run(t, c, m, &ia, &run_dir, &me) != 0) {
            fprintf(stderr,
                    "sandbox-bench: run-all: implement %s failed: "
                    "%s (left out; the others go on)\n",
                    m->name, me.msg);
            failed = 1;
            continue;
        }
        const char *round = strrchr(run_dir, '/');
        cands[n].label = xasprintf("%s/%s", m->name, round ? round + 1 : "");
        cands[n].dir = path_join(run_dir, "files");
        n++;
        free(run_dir);
    }
    if (n == 0) {
        bench_seterr(e, "run-all: no model produced a candidate; see the "
                        "errors above");
        free(cands);
        return -1;
    }
    evaluate_args ea;
    memset(&ea, 0, sizeof ea);
    ea.out_dir = a->out_dir;
    ea.repeat = a->repeat;
    ea.jobs = a->jobs;
    ea.quiet = a->quiet;
    ea.eval_id = a->id;
    ea.slurm = a->slurm;
    ea.config = c; /* per-model risk tiers */
    json_t *results = NULL;
    char *eval_dir = NULL;
    int rc = evaluate_all(t, cands, n, &ea, &results, &eval_dir, e);
    candidates_free(cands, n);
    if (rc != 0)
        return -1;
    report_print(stdout, results, 0);
    json_decref(results);

    judge_args ja;
    memset(&ja, 0, sizeof ja);
    ja.out_dir = a->out_dir;
    ja.eval_dir = eval_dir;
    ja.id = a->id;
    ja.seed = a->seed;
    ja.seed_set = a->seed_set;
    ja.jobs = a->jobs;
    ja.sandboxed = a->sandboxed;
    ja.drive = 1;
    ja.quiet = a->quiet;
    char *jdir = NULL;
    rc = judge_run(t, c, &ja, &jdir, e);
    free(eval_dir);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        fprintf(stderr, "sandbox-bench: run-all: some judges failed (see "
                        "above); their scores show as missing in the review\n");
        failed = 1;
    }
    json_t *review = NULL;
    rc = aggregate_write(jdir, &review, e);
    if (rc == 0) {
        printf("\nreview: %s/review.md\n", jdir);
        json_decref(review);
    }
    free(jdir);
    if (rc != 0)
        return -1;
    return failed;
}
