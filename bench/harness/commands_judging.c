/* SPDX-License-Identifier: MIT */
/* commands_judging.c: the `judge`, `aggregate` and `run-all` subcommands
 * (main.c dispatches here). */
#include "executor.h"
#include "judging.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int fail2(const char *msg, const char *arg)
{
    fprintf(stderr, "sandbox-bench: %s%s%s\n(see sandbox-bench --help)\n", msg,
            arg ? arg : "", arg ? "\"" : "");
    return 2;
}

static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || s[0] == '+' ||
        v > 0x7fffffffffffffffull) {
        fprintf(stderr,
                "sandbox-bench: --seed \"%s\": fix: give a whole "
                "number from 0 to 9223372036854775807\n",
                s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int load_both(const char *task_dir, const char *config, bench_task *t,
                     bench_config *c)
{
    bench_err e;
    if (task_load(task_dir, t, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        return -1;
    }
    if (config && config_load(config, c, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        task_free(t);
        return -1;
    }
    judge_cmd *j = NULL;
    size_t n = 0;
    if (config && judge_config(c, &j, &n, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        task_free(t);
        config_free(c);
        return -1;
    }
    judge_cmds_free(j, n);
    return 0;
}

int cmd_judge(int argc, char **argv)
{
    const char *task_dir = NULL, *config = NULL, *out = "bench-out";
    judge_args a;
    memset(&a, 0, sizeof a);
    a.jobs = 1;
    a.sandboxed = -1;
    a.drive = 1;
    static const struct option lo[] = {{"task", required_argument, 0, 't'},
                                       {"config", required_argument, 0, 'c'},
                                       {"out", required_argument, 0, 'o'},
                                       {"eval", required_argument, 0, 'E'},
                                       {"id", required_argument, 0, 'i'},
                                       {"seed", required_argument, 0, 'S'},
                                       {"jobs", required_argument, 0, 'j'},
                                       {"sandboxed", no_argument, 0, 's'},
                                       {"host", no_argument, 0, 'H'},
                                       {"no-drive", no_argument, 0, 'n'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {0, 0, 0, 0}};
    int ch;
    if (argc > 1 && argv[1][0] != '-') { /* TASK first */
        task_dir = argv[1];
        optind = 2;
    }
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 't': task_dir = optarg; break;
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'E': a.eval_dir = optarg; break;
        case 'i': a.id = optarg; break;
        case 'S':
            if (parse_seed(optarg, &a.seed) != 0)
                return 2;
            a.seed_set = 1;
            break;
        case 'j':
            if (cli_parse_count("--jobs", optarg, &a.jobs) != 0)
                return 2;
            break;
        case 's': a.sandboxed = 1; break;
        case 'H': a.sandboxed = 0; break;
        case 'n': a.drive = 0; break;
        case 'q': a.quiet = 1; break;
        default: return 2;
        }
    }
    if (!task_dir && optind < argc)
        task_dir = argv[optind++];
    if (!task_dir || !config || optind < argc)
        return fail2("judge needs --task DIR (or TASK) and --config FILE",
                     NULL);
    if (a.id && !valid_name(a.id))
        return fail2("--id: use only letters, digits, '.', '_' and '-': \"",
                     a.id);
    bench_task t;
    bench_config c;
    if (load_both(task_dir, config, &t, &c) != 0)
        return 2;
    char *o = cli_out_dir(out);
    int rc = 2;
    if (o) {
        a.out_dir = o;
        char *dir = NULL;
        bench_err e;
        int r = judge_run(&t, &c, &a, &dir, &e);
        if (r < 0) {
            fprintf(stderr, "sandbox-bench: %s\n", e.msg);
            rc = 1;
        } else {
            printf("judging: %s\n", dir);
            rc = r;
        }
        free(dir);
    }
    free(o);
    task_free(&t);
    config_free(&c);
    return rc;
}

int cmd_aggregate(int argc, char **argv)
{
    const char *task_dir = NULL, *out = "bench-out", *judging = NULL;
    int json_out = 0;
    static const struct option lo[] = {{"task", required_argument, 0, 't'},
                                       {"out", required_argument, 0, 'o'},
                                       {"judging", required_argument, 0, 'J'},
                                       {"json", no_argument, 0, 'j'},
                                       {0, 0, 0, 0}};
    int ch;
    if (argc > 1 && argv[1][0] != '-') { /* TASK first */
        task_dir = argv[1];
        optind = 2;
    }
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 't': task_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'J': judging = optarg; break;
        case 'j': json_out = 1; break;
        default: return 2;
        }
    }
    if (!task_dir && optind < argc)
        task_dir = argv[optind++];
    if (!task_dir || optind < argc)
        return fail2("aggregate needs --task DIR (or TASK)", NULL);
    bench_task t;
    bench_err e;
    if (task_load(task_dir, &t, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        return 2;
    }
    char *dir = NULL;
    char *root = xasprintf("%s/judgments/%s", out, t.name);
    if (judging && path_is_dir(judging))
        dir = path_abs(judging);
    else if (judging)
        dir = path_join(root, judging);
    else
        dir = newest_dir_with(root, "judging.json");
    free(root);
    int rc = 1;
    if (!dir || !path_is_dir(dir)) {
        fprintf(stderr,
                "sandbox-bench: no judging of task %s%s%s under %s; "
                "fix: run `sandbox-bench judge` first or pass --judging "
                "DIR\n",
                t.name, judging ? " named " : "", judging ? judging : "", out);
        rc = 2;
    } else {
        json_t *review = NULL;
        if (aggregate_write(dir, &review, &e) != 0) {
            fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        } else {
            if (json_out) {
                json_dumpf(review, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
                fputc('\n', stdout);
            } else {
                size_t np =
                    json_array_size(json_object_get(review, "problems"));
                printf("review: %s/review.md (%zu score-file problem%s)\n", dir,
                       np, np == 1 ? "" : "s");
            }
            json_decref(review);
            rc = 0;
        }
    }
    free(dir);
    task_free(&t);
    return rc;
}

int cmd_run_all(int argc, char **argv)
{
    const char *task_dir = NULL, *config = NULL, *out = "bench-out";
    runall_args a;
    memset(&a, 0, sizeof a);
    a.repeat = 1;
    a.jobs = 1;
    a.sandboxed = -1;
    static const struct option lo[] = {
        {"task", required_argument, 0, 't'},
        {"config", required_argument, 0, 'c'},
        {"out", required_argument, 0, 'o'},
        {"round", required_argument, 0, 'r'},
        {"id", required_argument, 0, 'i'},
        {"repeat", required_argument, 0, 'R'},
        {"jobs", required_argument, 0, 'j'},
        {"seed", required_argument, 0, 'S'},
        {"sandboxed", no_argument, 0, 's'},
        {"host", no_argument, 0, 'H'},
        {"quiet", no_argument, 0, 'q'},
        {"executor", required_argument, 0, 'X'},
        {"partition", required_argument, 0, 'P'},
        {"account", required_argument, 0, 'A'},
        {"time-limit", required_argument, 0, 'L'},
        {"sbatch-arg", required_argument, 0, 'B'},
        {"throttle", required_argument, 0, 'T'},
        {"per-task", required_argument, 0, 'N'},
        {0, 0, 0, 0}};
    int ch;
    /* --executor slurm (executor.h), as for evaluate */
    const char *executor = "local";
    slurm_opts so;
    memset(&so, 0, sizeof so);
    so.per_task = 1;
    const char **sbatch_args = xcalloc((size_t)argc + 1, sizeof *sbatch_args);
    so.sbatch_args = sbatch_args;
    int slurm_only = 0;
    char self[4096];
    if (argc > 1 && argv[1][0] != '-') { /* TASK first */
        task_dir = argv[1];
        optind = 2;
    }
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 't': task_dir = optarg; break;
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'r': a.round = optarg; break;
        case 'i': a.id = optarg; break;
        case 'R':
            if (cli_parse_count("--repeat", optarg, &a.repeat) != 0) {
                free(sbatch_args);
                return 2;
            }
            break;
        case 'j':
            if (cli_parse_count("--jobs", optarg, &a.jobs) != 0) {
                free(sbatch_args);
                return 2;
            }
            break;
        case 'S':
            if (parse_seed(optarg, &a.seed) != 0) {
                free(sbatch_args);
                return 2;
            }
            a.seed_set = 1;
            break;
        case 's': a.sandboxed = 1; break;
        case 'H': a.sandboxed = 0; break;
        case 'q': a.quiet = 1; break;
        case 'X': executor = optarg; break;
        case 'P': so.partition = optarg, slurm_only = 1; break;
        case 'A': so.account = optarg, slurm_only = 1; break;
        case 'L': so.time_limit = optarg, slurm_only = 1; break;
        case 'B':
            sbatch_args[so.n_sbatch_args++] = optarg, slurm_only = 1;
            break;
        case 'T':
        case 'N':
            if (cli_parse_count(ch == 'T' ? "--throttle" : "--per-task", optarg,
                                ch == 'T' ? &so.throttle : &so.per_task)) {
                free(sbatch_args);
                return 2;
            }
            slurm_only = 1;
            break;
        default: free(sbatch_args); return 2;
        }
    }
    if (strcmp(executor, "local") && strcmp(executor, "slurm")) {
        free(sbatch_args);
        return fail2("--executor: fix: give local or slurm, not \"", executor);
    }
    if (!strcmp(executor, "slurm")) {
        if (slurm_cli_setup(&so, self, sizeof self) != 0) {
            free(sbatch_args);
            return 2;
        }
        a.slurm = &so;
    } else if (slurm_only) {
        free(sbatch_args);
        return fail2("--partition, --account, --time-limit, --sbatch-arg, "
                     "--throttle and --per-task are for --executor slurm; "
                     "fix: add --executor slurm",
                     NULL);
    }
    if (!task_dir && optind < argc)
        task_dir = argv[optind++];
    if (!task_dir || !config || optind < argc) {
        free(sbatch_args);
        return fail2("run-all needs --task DIR (or TASK) and --config FILE",
                     NULL);
    }
    if (a.id && !valid_name(a.id)) {
        free(sbatch_args);
        return fail2("--id: use only letters, digits, '.', '_' and '-': \"",
                     a.id);
    }
    bench_task t;
    bench_config c;
    if (load_both(task_dir, config, &t, &c) != 0) {
        free(sbatch_args);
        return 2;
    }
    char *o = cli_out_dir(out);
    int rc = 2;
    if (o) {
        a.out_dir = o;
        bench_err e;
        int r = run_all(&t, &c, &a, &e);
        if (r < 0)
            fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        rc = r < 0 ? 1 : r;
    }
    free(o);
    free(sbatch_args);
    task_free(&t);
    config_free(&c);
    return rc;
}
