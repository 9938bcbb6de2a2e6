/* SPDX-License-Identifier: MIT */
/*
 * executor.h: where an evaluation's runs execute.
 *   local  evaluate.c's thread pool (--jobs N): the default
 *   slurm  executor_slurm.c: the plan (plan.c) is submitted as ONE job array
 *          (sbatch --array=0-M%K); array task i runs
 *          `sandbox-bench evaluate-one PLAN i` on its node, which evaluates
 *          its share of the runs with that node's libsandbox and writes one
 *          record per run into the shared evaluation directory (temp file +
 *          rename).  The submitter polls squeue (no accounting database),
 *          then hands the records back to evaluate.c, which writes the same
 *          results.json, table, log and scorecards as a local evaluation.
 */
#ifndef SANDBOX_BENCH_EXECUTOR_H
#define SANDBOX_BENCH_EXECUTOR_H

#include "bench.h"

#include <signal.h>

/* --executor slurm and its options (main.c fills it). */
typedef struct slurm_opts {
    const char *partition;  /* -p; NULL: the cluster's default */
    const char *account;    /* -A; NULL: none */
    const char *time_limit; /* -t, Slurm's forms (MM, HH:MM:SS, D-HH); NULL */
    const char *const *sbatch_args; /* extra sbatch words, verbatim */
    size_t n_sbatch_args;
    int throttle;     /* %K: array tasks running at once; 0: every task */
    int per_task;     /* runs per array task (>= 1) */
    int resume;       /* submit only the runs without a record */
    const char *self; /* this sandbox-bench executable (absolute) */
    /* out: runs that ended without a record (a task failed, was cancelled
     * or hit its time limit); their status is "slurm:<STATE>". */
    size_t *missing;
    /* out: 1 when the error is the caller's input (exit 2): no sbatch, no
     * such partition, an array past MaxArraySize, sbatch refused the
     * words, an output directory the nodes cannot see */
    int *bad_input;
} slurm_opts;

/* One (candidate, repeat) of the evaluation, as evaluate.c holds it. */
typedef struct eval_job_ref {
    size_t cand;
    int repeat; /* 1-based */
    run_outcome *out;
    char **run_dir;
    int logged; /* set by the executor: already in log.jsonl (--resume) */
} eval_job_ref;

typedef struct eval_plan_view {
    const bench_task *task;
    const candidate *cands;
    size_t n_cands;
    const evaluate_args *args;
    const char *eval_dir;
    const char *eval_id;
    eval_job_ref *jobs; /* repeat-major, as the local executor orders them */
    size_t n_jobs;
} eval_plan_view;

/* ---- evaluate.c ---------------------------------------------------------- */
/* Run candidate c once (repeat, 1-based) exactly as the local executor does:
 * scratch copy, sandbox_run, report, status; out and *run_dir are the
 * caller's to free (run_outcome_clear). */
void evaluate_run_single(const bench_task *t, const candidate *c,
                         const evaluate_args *a, const char *eval_dir,
                         int repeat, run_outcome *out, char **run_dir);

/* ---- plan.c -------------------------------------------------------------- */
/* The serialised plan: what an array task needs to run its share. */
typedef struct eval_plan {
    char *task_dir;
    char *eval_dir;
    char *eval_id;
    char *runtime; /* NULL: libsandbox detects */
    long long seed;
    int keep_scratch;
    int per_task;
    candidate *cands;
    size_t n_cands;
    size_t *run_cand; /* the runs still to do: candidate index ... */
    int *run_repeat;  /* ... and repeat */
    size_t n_runs;
} eval_plan;

int plan_write(const char *path, const eval_plan *p, bench_err *e);
int plan_read(const char *path, eval_plan *p, bench_err *e);
void plan_free(eval_plan *p);
/* Array tasks a plan needs: ceil(n_runs / per_task). */
size_t plan_n_tasks(const eval_plan *p);
/* eval_dir/slurm/records/c<cand>-r<repeat>.json */
char *plan_record_path(const char *eval_dir, size_t cand, int repeat);
/* One run's outcome, lossless, written atomically (temp + rename). */
int record_write(const char *path, const char *label, const run_outcome *o,
                 const char *run_dir, bench_err *e);
/* 1: read into *o / *run_dir; 0: no record; -1: unreadable (e says why). */
int record_read(const char *path, const char *label, run_outcome *o,
                char **run_dir, bench_err *e);
void run_outcome_clear(run_outcome *o);

/* `sandbox-bench evaluate-one PLAN INDEX` (main.c's subcommand): 0 every run
 * of the share has its record; 1 some run could not be recorded; 2 usage;
 * 143 cancelled by SIGTERM/SIGINT (no record for the unfinished runs). */
int evaluate_one_main(const char *plan_path, const char *index);

/* ---- executor_slurm.c ---------------------------------------------------- */
int slurm_execute(const eval_plan_view *v, bench_err *e);
/* The CLI's part (evaluate, run-all): so->self from /proc/self/exe into
 * self[size], and SIGINT/SIGTERM set slurm_interrupted (the wait loop then
 * scancels the array).  -1: printed why. */
int slurm_cli_setup(slurm_opts *so, char *self, size_t size);
/* Set from the CLI's SIGINT/SIGTERM handler: cancel the array. */
extern volatile sig_atomic_t slurm_interrupted;

#endif /* SANDBOX_BENCH_EXECUTOR_H */
