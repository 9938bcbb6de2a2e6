/* SPDX-License-Identifier: MIT */
/*
 * sandbox-bench: internal interfaces of the bench harness.
 *
 * One concern per file:
 *   task.c       task.json and config.json: parse, validate, scaffold
 *   implement.c  the implement phase: git worktree + model command
 *   evaluate.c   the evaluate phase: scratch dir, sandbox_run, verdicts
 *   junit.c      JUnit XML report -> per-test verdicts (libxml2)
 *   digest.c     sha256 of files and directory trees (OpenSSL EVP)
 *   log.c        the append-only JSON-lines log
 *   report.c     the results table
 *   proc.c       host processes for git and the model command (no shell)
 *   util.c       paths, files, time, errors
 *   main.c       the subcommands
 *
 * Errors: every fallible function returns 0 or -1 and, on -1, has written a
 * complete sentence into a caller-supplied `bench_err`.
 */
#ifndef SANDBOX_BENCH_H
#define SANDBOX_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define BENCH_VERSION "0.1.0"

typedef struct bench_err {
    char msg[2048];
} bench_err;

void bench_seterr(bench_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- util.c ------------------------------------------------------------ */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *path_join(const char *a, const char *b);
char *path_abs(const char *p); /* realpath, NULL if it does not exist */
int mkdir_p(const char *path, bench_err *e);
/* A --jobs/--repeat style count, 1..1000; prints the fix and returns -1. */
int cli_parse_count(const char *flag, const char *s, int *out);
/* --out made absolute (created if missing); prints and returns NULL. */
char *cli_out_dir(const char *out);
int rm_rf(const char *path);
int path_is_dir(const char *p);
int path_is_file(const char *p);
/* Whole file into a NUL-terminated buffer; *len excludes the NUL. */
int read_file(const char *path, char **data, size_t *len, bench_err *e);
int write_file(const char *path, const void *data, size_t len, bench_err *e);
int copy_file(const char *src, const char *dst, bench_err *e);
/* Copy a directory tree: regular files and dirs; symlinks are never
 * followed and left out. */
int copy_tree(const char *src, const char *dst, bench_err *e);
/* Sorted relative paths of the regular files under dir (recursive), skipping
 * names in `skip` (NULL-terminated, matched against the top-level name). */
int list_files(const char *dir, const char *const *skip, char ***out, size_t *n,
               bench_err *e);
void free_strv(char **v, size_t n);
double now_wall(void);         /* CLOCK_REALTIME seconds */
double now_mono(void);         /* CLOCK_MONOTONIC seconds */
char *iso_time(double t);      /* "2026-05-12T10:11:12.345Z" */
char *utc_date(void);          /* "2026-05-12" */
int valid_name(const char *s); /* [A-Za-z0-9._-]+, not "." / ".." */
int json_write_file(const char *path, json_t *j, bench_err *e);
char *shell_quote(const char *s); /* for a shell *inside* the box only */

/* ---- proc.c ------------------------------------------------------------ */
typedef struct proc_result {
    int exited;    /* 1: exited normally */
    int exit_code; /* exit status, or 128+signal */
    int signal;    /* terminating signal, or 0 */
    int timed_out; /* 1: killed at the deadline */
    double wall_sec;
} proc_result;

/* Run argv (execvp: PATH lookup, no shell) in cwd; stdin from /dev/null;
 * stdout/stderr appended to the given files (NULL: /dev/null).  Its own
 * process group; on timeout (> 0) the whole group gets SIGKILL. */
int proc_run(char *const argv[], const char *cwd, const char *out_path,
             const char *err_path, double timeout_sec, proc_result *r,
             bench_err *e);
/* Run argv and capture stdout into *out (NUL-terminated). */
int proc_capture(char *const argv[], const char *cwd, char **out,
                 proc_result *r, bench_err *e);

/* ---- task.c ------------------------------------------------------------ */
typedef struct bench_limits {
    double timeout_sec;
    char *memory;
    long pids;
    double cpus;
    size_t output_limit;  /* bytes of runner output kept */
    uint64_t flood_bytes; /* runner output beyond this is a flood */
} bench_limits;

typedef struct bench_task {
    char *dir; /* absolute task directory */
    char *name;
    char *language;
    char **entrypoints; /* files the implementer must produce */
    size_t n_entrypoints;
    char *image;
    char *test_command; /* run as sh -c inside the box, cwd /workspace */
    char *tests_dir;    /* absolute host path of the hidden tests */
    char *tests_mount;  /* where the tests appear in the box (read-only) */
    char *report;       /* JUnit XML path relative to /workspace */
    char **env;         /* NAME=VALUE set in the box */
    size_t n_env;
    bench_limits limits;
    char *isolation; /* "two-box" (runner and candidate boxes) or
                        "single-box" (legacy: the candidate can reach the
                        runner and its report) */
    char *manifest;  /* the test-id list, relative to tests/ */
    char **tests;    /* the manifest's ids, sorted: the only denominator */
    size_t n_tests;
} bench_task;

typedef struct bench_model {
    char *name; /* short label, used in paths */
    char *slug; /* the model id passed to the command */
    char *risk; /* "low", "medium", "high" or NULL (the default, medium) */
} bench_model;

/* Risk tiers (docs/bench.md): 0 low, 1 medium, 2 high; -1 unknown. */
int risk_tier_parse(const char *s);
const char *risk_tier_name(int tier);

typedef struct bench_config {
    char *path;
    bench_model *implementers;
    size_t n_implementers;
    bench_model *judges;
    size_t n_judges;
    char **command; /* argv template with {placeholders} */
    size_t n_command;
    double timeout_sec; /* model command wall clock */
    char *usage_file;   /* optional JSON the command leaves in the worktree */
    char *transcript;   /* optional transcript file in the worktree */
    int sandboxed;      /* run the command inside libsandbox */
    char *sandbox_image;
    int sandbox_network; /* sandbox_network */
    char *sandbox_memory;
    long sandbox_pids;
    char **net_allow; /* "network": {"allow": [...]}: allowlist entries */
    size_t n_net_allow;
    json_t *raw; /* the parsed file (judge.c reads judge_command) */
} bench_config;

int task_load(const char *dir, bench_task *t, bench_err *e);
/* task_load without reading tests/MANIFEST when need_manifest is 0. */
int task_load_opt(const char *dir, int need_manifest, bench_task *t,
                  bench_err *e);
/* Parse an already-read task.json object (file names the source). */
int task_parse(json_t *root, const char *file, bench_task *t, bench_err *e);
void task_free(bench_task *t);
int config_load(const char *path, bench_config *c, bench_err *e);
int config_parse(json_t *root, const char *file, bench_config *c, bench_err *e);
void config_free(bench_config *c);
const bench_model *config_find(const bench_config *c, const char *name);
/* Create tasks_root/name with every file a task needs. */
int task_scaffold(const char *tasks_root, const char *name, bench_err *e);

/* ---- digest.c ---------------------------------------------------------- */
/* Lowercase hex sha256 (65 bytes with NUL). */
int digest_bytes(const void *data, size_t len, char hex[65]);
int digest_file(const char *path, char hex[65], bench_err *e);
/* Digest of a tree: sha256 over "<relpath>\0<sha256 of file>\n" for every
 * regular file, sorted by path.  Names in skip are left out (top level). */
int digest_tree(const char *dir, const char *const *skip, char hex[65],
                bench_err *e);

/* ---- junit.c ----------------------------------------------------------- */
typedef enum test_verdict {
    TV_PASSED = 0,
    TV_FAILED = 1,
    TV_ERROR = 2,
    TV_SKIPPED = 3,
    TV_MISSING = 4,    /* not in this run's report (no report, or not run) */
    TV_UNVERIFIED = 5, /* in the report, but duplicated or renamed */
} test_verdict;

const char *test_verdict_name(int v);

typedef struct junit_case {
    char *id; /* "classname::name" (or name) */
    char *name;
    char *classname;
    int verdict; /* test_verdict */
    double time_sec;
    char *message; /* failure/error/skip message, or NULL */
} junit_case;

typedef struct junit_report {
    junit_case *cases;
    size_t n_cases;
    unsigned passed, failed, errors, skipped;
} junit_report;

int junit_parse_memory(const char *data, size_t len, junit_report *r,
                       bench_err *e);
int junit_parse_file(const char *path, junit_report *r, bench_err *e);
void junit_free(junit_report *r);
/* The trusted test list: tests/MANIFEST, one JUnit id per line ('#'
 * comments, blank lines ignored), part of the suite digest.  Sorted on
 * return; an empty list or a repeated id is an error. */
int manifest_parse(const char *data, const char *file, char ***ids, size_t *n,
                   bench_err *e);
int manifest_load(const char *path, char ***ids, size_t *n, bench_err *e);

typedef struct manifest_check {
    int ok; /* the report lists exactly the manifest, each id once */
    char **missing, **extra, **duplicate, **renamed; /* "old -> new" */
    size_t n_missing, n_extra, n_duplicate, n_renamed;
    int *verdict;         /* per manifest id: the report's verdict, or
                             TV_MISSING / TV_UNVERIFIED */
    const char **message; /* per manifest id (borrowed from the report) */
    const struct junit_case **match; /* per manifest id: its case or NULL */
} manifest_check;

/* Check report r against the sorted manifest ids[n]. */
void manifest_verify(char *const *ids, size_t n, const junit_report *r,
                     manifest_check *mc);
/* One sentence naming what was wrong, or NULL when ok (caller frees). */
char *manifest_problems(const manifest_check *mc);
void manifest_check_free(manifest_check *mc);
/* Call once from the main thread before any thread parses. */
void junit_global_init(void);
void junit_global_cleanup(void);

/* ---- scan.c ------------------------------------------------------------ */
/* Static flags for runner tampering in a candidate's files (regular files
 * only; symlinks are never followed).  *out: [{flag, file, line, text}]. */
int scan_candidate(const char *dir, const char *tests_mount, json_t **out,
                   bench_err *e);
/* Scan one file's text into findings (exposed for tests). */
void scan_text(const char *file, const char *data, size_t len,
               const char *tests_mount, json_t *findings);
/* The distinct flag names of findings, in a fixed order. */
json_t *scan_flags(json_t *findings);

/* ---- log.c ------------------------------------------------------------- */
/* Append one JSON object as one chained line (audit_append). */
int log_append(const char *path, json_t *record, bench_err *e);

/* ---- audit.c ----------------------------------------------------------- */
/* sha256 (hex) of one log line's bytes, without its newline. */
int audit_line_hash(const char *line, size_t len, char hex[65]);
/* Append record as one canonical line with "seq" and "prev" (the previous
 * line's hash) set, under flock, fsynced.  *seq / hash (may be NULL) get
 * the new line's seq and hash. */
int audit_append(const char *path, json_t *record, uint64_t *seq, char hash[65],
                 bench_err *e);
/* Check a log's chain.  *problems gets one sentence per problem, naming
 * the line (free_strv); returns 0 intact, 1 problems, -1 unreadable.
 * head/head_seq: the hash and seq of the newest record. */
int audit_verify(const char *path, char ***problems, size_t *n_problems,
                 uint64_t *n_records, uint64_t *head_seq, char head[65],
                 bench_err *e);
int audit_verify_buffer(const char *data, size_t size, char ***problems,
                        size_t *n_problems, uint64_t *n_records,
                        uint64_t *head_seq, char head[65]);

/* ---- implement.c ------------------------------------------------------- */
/* Capture caps (0 in a field: the default below). */
#define CAPTURE_MAX_FILE_BYTES (8ull << 20)   /* one file */
#define CAPTURE_MAX_TOTAL_BYTES (64ull << 20) /* the whole tree */
#define CAPTURE_MAX_ENTRIES 20000u
#define CAPTURE_MAX_TRANSCRIPT_BYTES ((size_t)16 << 20)
#define CAPTURE_MAX_USAGE_BYTES ((size_t)1 << 20)
typedef struct capture_limits {
    uint64_t max_file_bytes;
    uint64_t max_total_bytes;
    size_t max_entries;
} capture_limits;

typedef struct implement_args {
    const char *out_dir; /* bench output root */
    const char *round;   /* NULL: UTC date (+ -rN if taken) */
    int sandboxed;       /* -1: config's choice, 0: --host, 1: --sandboxed */
    int quiet;
    capture_limits caps; /* zeros: defaults */
} implement_args;

/* Copy the tree a model wrote (src) into dst without following any
 * symlink and without reading anything outside src: regular files are
 * copied (hashed, capped), symlinks recorded with their target text,
 * special files skipped, any ".git" refused.  Paths in skip (relative)
 * are left out.  *report gets {files, symlinks, skipped, refused, bytes,
 * max_file_bytes, max_total_bytes}; *too_large is 1 when a cap cut
 * something.  -1 only on I/O errors. */
int capture_tree(const char *src, const char *dst, const capture_limits *lim,
                 const char *const *skip, json_t **report, int *too_large,
                 bench_err *e);
/* Read root/rel, opening every component with O_NOFOLLOW beneath root
 * (no "..", no symlink anywhere), a regular file of at most max bytes.
 * 0: read; 1: not there; -1: refused or unreadable (e says why). */
int read_beneath(const char *root, const char *rel, size_t max, char **data,
                 size_t *len, bench_err *e);

/* Run argv inside libsandbox with `dir` as /workspace (the config's
 * sandbox image, network and limits); *why gets the end reason. */
int model_run_sandboxed(char **argv, size_t argc, const bench_config *c,
                        const char *dir, const char *out_path,
                        const char *err_path, proc_result *pr, char **why,
                        bench_err *e);
/* Run a model or judge command in `dir`, inside libsandbox when
 * `sandboxed`, else on the host (no shell either way), and record
 * ended_at, exit_code, timed_out, wall_sec and sandbox_end into rec. */
int command_run_recorded(char **argv, size_t argc, const bench_config *c,
                         int sandboxed, const char *dir, const char *out_path,
                         const char *err_path, json_t *rec, proc_result *out,
                         bench_err *e);
/* The last JSON line on a command's stdout naming cost or tokens. */
json_t *usage_from_stdout(const char *path);
int implement_run(const bench_task *t, const bench_config *c,
                  const bench_model *m, const implement_args *a,
                  char **run_dir_out, bench_err *e);
/* Substitute {placeholders} in one template word (exposed for tests). */
char *template_expand(const char *word, const char *const *keys,
                      const char *const *values, size_t n, bench_err *e);

/* ---- evaluate.c -------------------------------------------------------- */
typedef struct candidate {
    char *label; /* "model/round" or a fixture name */
    char *dir;   /* directory holding the candidate's files */
} candidate;

typedef struct run_outcome {
    char *status; /* completed, timeout, oom, crashed, no-report,
                     bad-report, error */
    int flood;    /* runner output above flood_bytes */
    int exit_code;
    double wall_sec;
    char *detail; /* one human sentence, or NULL */
    junit_report report;
    char *image_id; /* sandbox_result.image_id, or NULL */
    char *backend;  /* sandbox_result.backend, or NULL */
} run_outcome;

typedef struct evaluate_args {
    const char *out_dir;
    int repeat;
    int jobs;
    int keep_scratch;
    int quiet;
    const char *runtime;  /* NULL: libsandbox detects */
    const char *eval_id;  /* NULL: timestamp */
    long long seed;       /* recorded; SANDBOX_BENCH_SEED in the box */
    const char *sign_key; /* private key: sign scorecards; NULL: none */
    /* Risk tiers: "TIER" (every candidate) or "LABEL=TIER" specs, then the
     * config's per-model "risk"; the default is medium. */
    char *const *risk_specs;
    size_t n_risk_specs;
    const bench_config *config; /* NULL: no per-model tiers */
    const char *approve_file;   /* high tier: "before|after <sha256>" lines */
    /* ---- executors (executor.h) ---- */
    int cancel_fd; /* > 0: readable => every run is cancelled (evaluate-one
                      on SIGTERM); 0: none */
    const struct slurm_opts *slurm; /* non-NULL: --executor slurm */
} evaluate_args;

/* Evaluate every candidate `repeat` times; writes results.json under
 * out_dir/evals/<task>/<eval_id>/ and appends to out_dir/log.jsonl.
 * *results receives the results document (caller json_decref's). */
int evaluate_all(const bench_task *t, const candidate *cands, size_t n,
                 const evaluate_args *a, json_t **results, char **eval_dir,
                 bench_err *e);
/* Collect the suite's test ids with NO candidate: the runner box alone (no
 * server to reach, every test fails fast), its report's ids, sorted, one
 * per line into *text.  Two-box tasks only. */
int manifest_collect(const bench_task *t, const char *runtime, char **text,
                     bench_err *e);
/* Find candidates: every <out>/runs/<task>/<model>/<round>/files. */
int candidates_from_runs(const char *out_dir, const char *task, candidate **out,
                         size_t *n, bench_err *e);
void candidates_free(candidate *c, size_t n);

/* ---- sign.c ------------------------------------------------------------ */
/* DIR/scorecard-key.pem (0600, refuses to overwrite) and
 * DIR/scorecard-key.pub.pem; the paths are returned (may be NULL). */
int sign_keygen(const char *dir, char **priv, char **pub, bench_err *e);
/* Sign card (any "signature" is replaced); *text gets the card file's
 * bytes: its canonical JSON line with the signature, and a newline. */
int scorecard_sign(json_t *card, const char *key_path, char **text,
                   bench_err *e);
/* 0: a good card signed by pub_path's key; -1: e says what is wrong. */
int scorecard_verify(const char *data, size_t len, const char *pub_path,
                     bench_err *e);
int scorecard_verify_file(const char *path, const char *pub_path, bench_err *e);
/* One signed scorecard per candidate of results into
 * eval_dir/scorecards/<label>.json, each anchored to the log's head and
 * logged; adds "scorecards" to results. */
int scorecards_write(json_t *results, const char *eval_dir,
                     const char *log_path, const char *key_path, bench_err *e);

/* ---- replay.c ---------------------------------------------------------- */
typedef struct replay_args {
    const char *record; /* results.json or its directory */
    int jobs;           /* 0: as recorded */
    int quiet;
} replay_args;
/* 0: replayed, every verdict the same; 1: replayed, *diffs names every
 * verdict that differs; 2: refused (image, suite or candidate changed;
 * e says which); -1: error. */
int replay_run(const replay_args *a, char ***diffs, size_t *n_diffs,
               char **replay_dir, bench_err *e);
/* The verdict differences between two results documents. */
int results_diff(json_t *was, json_t *now, char ***diffs, size_t *n);

/* ---- report.c ---------------------------------------------------------- */
/* Print the ranking table for a results document. */
void report_print(FILE *f, json_t *results, int verbose);

#endif /* SANDBOX_BENCH_H */
