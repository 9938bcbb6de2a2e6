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

/* One (candidate, repeat) of the evaluation, as evaluate.c holds it (job:
 * its eval_job, opaque here: read and fill it with the evaluate_job_*
 * functions below). */
typedef struct eval_job_ref {
    size_t cand;
    int repeat; /* 1-based */
    void *job;
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
    const int *tier;       /* per candidate: its risk tier */
    char *const *cand_sha; /* per candidate: its files' digest */
} eval_plan_view;

/* ---- evaluate.c ---------------------------------------------------------- */
/* Run candidate c once (repeat, 1-based) exactly as the local executor does
 * (both boxes, manifest check, tier, approvals); returns the run's record:
 * its results.json entry, which evaluate_job_load turns back into the same
 * job (caller json_decref's). */
json_t *evaluate_run_single(const bench_task *t, const candidate *c,
                            const evaluate_args *a, const char *eval_dir,
                            int repeat, int tier, const char *cand_sha);
/* Fill r's job from a record; -1 when it is not one (e says why). */
int evaluate_job_load(const eval_job_ref *r, const bench_task *t, json_t *run,
                      bench_err *e);
/* A run that ended without a record: status and detail, no report. */
void evaluate_job_missing(const eval_job_ref *r, const char *eval_dir,
                          const char *label, const char *status,
                          const char *detail);
/* The job's status, NULL while it has none. */
const char *evaluate_job_status(const eval_job_ref *r);

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
    char *approve_file; /* absolute, or NULL */
    int *tier;          /* per candidate */
    char **cand_sha;    /* per candidate */
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
/* One run's record (evaluate_run_single), written atomically (temp file,
 * fsync, rename) as {"kind", "label", "node", "run"}. */
int record_write(const char *path, const char *label, json_t *run,
                 bench_err *e);
/* 1: *run (caller json_decref's) read; 0: no record; -1: unreadable or
 * another candidate's (e says why). */
int record_read(const char *path, const char *label, json_t **run,
                bench_err *e);

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
