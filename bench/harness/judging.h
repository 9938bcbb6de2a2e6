/* SPDX-License-Identifier: MIT */
/*
 * sandbox-bench, part 2: blinded multi-judge scoring and the review.
 *
 * One concern per file:
 *   prng.c       splitmix64 + xoshiro256**: the same seed, the same shuffle
 *   stats.c      median, sample stdev, min/max/range, mode (NaN = missing)
 *   scores.c     strict validation of a judge's <label>_scores.json
 *   judge.c      packets (blinded, shuffled per judge) and driving judges
 *   aggregate.c  judging dir + evaluation -> the review document (JSON)
 *   review.c     the review document -> review.md and review.svg
 *   runall.c     implement -> evaluate -> judge -> aggregate
 *   commands_judging.c  the judge, aggregate and run-all subcommands
 */
#ifndef SANDBOX_BENCH_JUDGING_H
#define SANDBOX_BENCH_JUDGING_H

#include "bench.h"

/* ---- prng.c ------------------------------------------------------------ */
typedef struct bench_rng {
    uint64_t s[4];
} bench_rng;

uint64_t splitmix64(uint64_t *state);
/* Seed xoshiro256** from (seed, stream): stream separates judges. */
void rng_seed(bench_rng *r, uint64_t seed, const char *stream);
uint64_t rng_next(bench_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t rng_below(bench_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(bench_rng *r, size_t *idx, size_t n);

/* ---- stats.c ----------------------------------------------------------- */
/* Every function skips NaN (a missing value).  With no values left the
 * result is NaN; the sample stdev needs two values. */
size_t stats_count(const double *v, size_t n);
double stats_median(const double *v, size_t n);
double stats_mean(const double *v, size_t n);
double stats_stdev(const double *v, size_t n); /* sample (n - 1) */
double stats_min(const double *v, size_t n);
double stats_max(const double *v, size_t n);
double stats_range(const double *v, size_t n);
/* The most frequent non-NULL string.  Ties go to the value listed first
 * in `order` (values not in order come after, by strcmp).  *count gets its
 * frequency, *tie 1 when another value was as frequent.  NULL if none. */
const char *stats_mode(const char *const *v, size_t n, const char *const *order,
                       int *count, int *tie);

/* ---- scores.c ---------------------------------------------------------- */
typedef struct score_problem {
    char *judge;
    char *label;
    char *field;   /* "hard_fail", "code_quality.clarity", "(file)" ... */
    char *message; /* one sentence with the fix */
} score_problem;

typedef struct problem_list {
    score_problem *v;
    size_t n;
} problem_list;

void problems_add(problem_list *pl, const char *judge, const char *label,
                  const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void problems_free(problem_list *pl);

enum { VERDICT_SHIP = 0, VERDICT_REWRITE = 1, VERDICT_UNUSABLE = 2 };
extern const char *const VERDICT_NAMES[]; /* NULL-terminated */
extern const char *const QUALITY_KEYS[];  /* clarity ... comments, NULL */

typedef struct judge_scores {
    int hard_fail; /* 1: "fail" */
    json_t *hard_fail_reasons;
    int spec; /* 0-10 */
    json_t *spec_notes;
    int quality[4]; /* QUALITY_KEYS order, 0-5 each */
    int quality_total;
    int verdict; /* VERDICT_* */
    char *summary;
} judge_scores;

/* Validate a parsed scores object; every problem goes to pl.  0: valid
 * (s filled), -1: invalid (s untouched). */
int scores_parse(json_t *root, const char *judge, const char *label,
                 judge_scores *s, problem_list *pl);
/* Read and validate one file (missing, unreadable and bad JSON included). */
int scores_load(const char *path, const char *judge, const char *label,
                judge_scores *s, problem_list *pl);
void scores_free(judge_scores *s);
/* Every *_scores.json in dir whose label is not in labels is a problem. */
void scores_unknown_labels(const char *dir, const char *judge,
                           char *const *labels, size_t n, problem_list *pl);

/* ---- judge.c ----------------------------------------------------------- */
typedef struct judge_cmd {
    char *name;
    char *slug;
    const char *tier; /* "peer" or "expert" */
    char **command;   /* argv template, or NULL: driven by hand */
    size_t n_command;
} judge_cmd;

/* The judges of a config: implementers (peer) then expert judges, with
 * their judge commands ("judge_command" at the top level, or per model;
 * per model null = by hand).  Config errors name the field and the fix. */
int judge_config(const bench_config *c, judge_cmd **out, size_t *n,
                 bench_err *e);
void judge_cmds_free(judge_cmd *j, size_t n);
/* "A".."Z", "AA".. for index 0, 1, ... */
char *blind_label(size_t i);

typedef struct judge_args {
    const char *out_dir;  /* absolute */
    const char *eval_dir; /* NULL: the newest evaluation of the task */
    const char *id;       /* NULL: a timestamp */
    uint64_t seed;
    int seed_set;
    int jobs;
    int sandboxed; /* -1: config's choice */
    int drive;     /* 0: build packets only */
    int quiet;
} judge_args;

/* Build the packets (and drive the judges that have a command).
 * *judging_dir gets OUT/judgments/<task>/<id>.  Returns 0, or 1 when some
 * judge failed (the packets are still there), or -1 on a phase error. */
int judge_run(const bench_task *t, const bench_config *c, const judge_args *a,
              char **judging_dir, bench_err *e);
/* The newest directory under root holding `file` (by its JSON "created_at"
 * or "finished_at", then name). */
char *newest_dir_with(const char *root, const char *file);

/* ---- aggregate.c ------------------------------------------------------- */
/* Read a judging directory and its evaluation; build the review document.
 * Problems are part of the document, never a failure. */
int aggregate_build(const char *judging_dir, json_t **review, bench_err *e);
/* Build and write review.json, review.md and review.svg in judging_dir. */
int aggregate_write(const char *judging_dir, json_t **review, bench_err *e);
/* Non-blank lines that are not only a comment (#, //, --, ;). */
long count_loc(const char *dir);

/* ---- review.c ---------------------------------------------------------- */
char *review_markdown(json_t *review);
char *review_svg(json_t *review);

/* ---- runall.c ---------------------------------------------------------- */
typedef struct runall_args {
    const char *out_dir;
    const char *round;
    const char *id; /* evaluation and judging id */
    int repeat;
    int jobs;
    int sandboxed;
    uint64_t seed;
    int seed_set;
    int quiet;
    const struct slurm_opts *slurm; /* --executor slurm; NULL: local */
} runall_args;

int run_all(const bench_task *t, const bench_config *c, const runall_args *a,
            bench_err *e);

/* ---- commands_judging.c ----------------------------------------------- */
int cmd_judge(int argc, char **argv);
int cmd_aggregate(int argc, char **argv);
int cmd_run_all(int argc, char **argv);

#endif /* SANDBOX_BENCH_JUDGING_H */
