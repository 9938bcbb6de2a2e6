/* SPDX-License-Identifier: MIT */
/* main.c: sandbox-bench's subcommands: words in, a phase called, exit. */
#include "bench.h"
#include "judging.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include <sandbox.h>

static const char USAGE[] =
    "usage: sandbox-bench COMMAND [OPTIONS]\n"
    "\n"
    "  new-task NAME [--tasks-dir DIR]\n"
    "      scaffold a task directory (default DIR: bench/tasks)\n"
    "  check --task DIR [--config FILE]\n"
    "      validate a task (and a config) and print what was read\n"
    "  implement --task DIR --config FILE (--model NAME ... | --all)\n"
    "            [--round NAME] [--out DIR] [--sandboxed | --host]\n"
    "      run each model's command in a fresh git worktree holding only\n"
    "      PROMPT.md and SPEC.md; capture into OUT/runs/TASK/MODEL/ROUND/\n"
    "  evaluate --task DIR [--out DIR] [--candidate LABEL=DIR ...]\n"
    "           [--fixtures DIR] [--repeat N] [--jobs N] [--runtime RT]\n"
    "           [--id ID] [--keep-scratch] [--json] [--quiet]\n"
    "           [--risk TIER|LABEL=TIER ...] [--config FILE] [--approve FILE]\n"
    "      run the hidden tests against every candidate inside libsandbox\n"
    "      (default candidates: every captured run of the task in OUT)\n"
    "  manifest --task DIR [--runtime RT]\n"
    "      print the suite's test ids, collected in the runner box with no\n"
    "      candidate (the content of tests/MANIFEST)\n"
    "  report RESULTS.json|EVAL_DIR [--verbose] [--json]\n"
    "      print the ranking table of an evaluation\n"
    "  judge --task DIR --config FILE [--out DIR] [--eval EVAL_DIR]\n"
    "        [--id ID] [--seed N] [--jobs N] [--sandboxed | --host]\n"
    "        [--no-drive] [--quiet]\n"
    "      one blinded packet per judge (labels shuffled per judge from the\n"
    "      seed); run each judge's command on its packet\n"
    "  aggregate --task DIR [--out DIR] [--judging ID|DIR] [--json]\n"
    "      validate the scores; write review.md, review.json, review.svg\n"
    "  run-all --task DIR --config FILE [--out DIR] [--round NAME] [--id ID]\n"
    "          [--repeat N] [--jobs N] [--seed N] [--sandboxed | --host]\n"
    "      implement -> evaluate -> judge -> aggregate for every model\n"
    "\n"
    "OUT defaults to ./bench-out.  See docs/bench.md.\n";

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    fputs("sandbox-bench: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see sandbox-bench --help)\n", stderr);
    return 2;
}

static int cmd_new_task(int argc, char **argv)
{
    const char *tasks_dir = "bench/tasks";
    const char *name = NULL;
    static const struct option lo[] = {{"tasks-dir", required_argument, 0, 't'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 't')
            tasks_dir = optarg;
        else
            return 2;
    }
    if (optind < argc)
        name = argv[optind++];
    if (!name || optind < argc)
        return usage_error("new-task needs exactly one NAME%s", "");
    bench_err e;
    if (mkdir_p(tasks_dir, &e) != 0 || task_scaffold(tasks_dir, name, &e)) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        return 2;
    }
    printf("created %s/%s: edit PROMPT.md, SPEC.md, JUDGE_PROMPT.md, "
           "JUDGE_RUBRIC.md, task.json and tests/\n",
           tasks_dir, name);
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    const char *task_dir = NULL, *config = NULL;
    static const struct option lo[] = {{"task", required_argument, 0, 't'},
                                       {"config", required_argument, 0, 'c'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        if (c == 't')
            task_dir = optarg;
        else if (c == 'c')
            config = optarg;
        else
            return 2;
    }
    if (!task_dir && !config)
        return usage_error("check needs --task DIR and/or --config FILE%s", "");
    bench_err e;
    if (task_dir) {
        bench_task t;
        if (task_load(task_dir, &t, &e) != 0) {
            fprintf(stderr, "sandbox-bench: %s\n", e.msg);
            return 2;
        }
        char hex[65] = "";
        static const char *const skip[] = {"__pycache__", ".pytest_cache",
                                           NULL};
        digest_tree(t.tests_dir, skip, hex, &e);
        printf("task %s: language %s, entrypoints", t.name, t.language);
        for (size_t i = 0; i < t.n_entrypoints; i++)
            printf(" %s", t.entrypoints[i]);
        printf("\n  image %s\n  test command: %s\n  tests %s -> %s "
               "(read-only), suite sha256 %s\n  report /workspace/%s\n"
               "  limits: %.0f s, memory %s, pids %ld, cpus %.1f\n",
               t.image, t.test_command, t.tests_dir, t.tests_mount, hex,
               t.report, t.limits.timeout_sec, t.limits.memory, t.limits.pids,
               t.limits.cpus);
        task_free(&t);
    }
    if (config) {
        bench_config cf;
        if (config_load(config, &cf, &e) != 0) {
            fprintf(stderr, "sandbox-bench: %s\n", e.msg);
            return 2;
        }
        judge_cmd *jc = NULL;
        size_t njc = 0;
        if (judge_config(&cf, &jc, &njc, &e) != 0) {
            fprintf(stderr, "sandbox-bench: %s\n", e.msg);
            config_free(&cf);
            return 2;
        }
        judge_cmds_free(jc, njc);
        printf("config %s: %zu implementer%s, %zu expert judge%s, command "
               "%s, %s\n",
               config, cf.n_implementers, cf.n_implementers == 1 ? "" : "s",
               cf.n_judges, cf.n_judges == 1 ? "" : "s", cf.command[0],
               cf.sandboxed ? "inside libsandbox" : "on the host");
        config_free(&cf);
    }
    return 0;
}

static int cmd_implement(int argc, char **argv)
{
    const char *task_dir = NULL, *config = NULL, *round = NULL;
    const char *out = "bench-out";
    char **models = xcalloc((size_t)argc + 1, sizeof *models);
    size_t n_models = 0;
    int all = 0, sandboxed = -1, quiet = 0;
    static const struct option lo[] = {{"task", required_argument, 0, 't'},
                                       {"config", required_argument, 0, 'c'},
                                       {"model", required_argument, 0, 'm'},
                                       {"all", no_argument, 0, 'a'},
                                       {"round", required_argument, 0, 'r'},
                                       {"out", required_argument, 0, 'o'},
                                       {"sandboxed", no_argument, 0, 's'},
                                       {"host", no_argument, 0, 'H'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        switch (c) {
        case 't': task_dir = optarg; break;
        case 'c': config = optarg; break;
        case 'm': models[n_models++] = optarg; break;
        case 'a': all = 1; break;
        case 'r': round = optarg; break;
        case 'o': out = optarg; break;
        case 's': sandboxed = 1; break;
        case 'H': sandboxed = 0; break;
        case 'q': quiet = 1; break;
        default: free(models); return 2;
        }
    }
    if (!task_dir || !config || (!all && n_models == 0) || optind < argc) {
        free(models);
        return usage_error("implement needs --task DIR, --config FILE and "
                           "--model NAME or --all%s",
                           "");
    }
    bench_err e;
    bench_task t;
    bench_config cf;
    if (task_load(task_dir, &t, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        free(models);
        return 2;
    }
    if (config_load(config, &cf, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        task_free(&t);
        free(models);
        return 2;
    }
    int rc = 0;
    char *abs_out = cli_out_dir(out);
    if (!abs_out)
        rc = 2;
    if (all) {
        n_models = cf.n_implementers;
        models = xrealloc(models, (n_models + 1) * sizeof *models);
        for (size_t i = 0; i < n_models; i++)
            models[i] = cf.implementers[i].name;
    }
    for (size_t i = 0; i < n_models && rc == 0; i++) {
        const bench_model *m = config_find(&cf, models[i]);
        if (!m) {
            fprintf(stderr,
                    "sandbox-bench: %s: no implementer named \"%s\"; "
                    "fix: add it to \"implementers\" or pick one listed "
                    "there\n",
                    config, models[i]);
            rc = 2;
            break;
        }
    }
    implement_args ia = {abs_out, round, sandboxed, quiet};
    for (size_t i = 0; i < n_models && rc == 0; i++) {
        const bench_model *m = config_find(&cf, models[i]);
        char *run_dir = NULL;
        if (implement_run(&t, &cf, m, &ia, &run_dir, &e) != 0) {
            fprintf(stderr, "sandbox-bench: implement %s: %s\n", m->name,
                    e.msg);
            rc = 1;
            continue;
        }
        printf("%s\n", run_dir);
        free(run_dir);
    }
    free(abs_out);
    free(models);
    task_free(&t);
    config_free(&cf);
    return rc;
}

static int add_fixture_dir(const char *dir, candidate **v, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "sandbox-bench: --fixtures %s: %s\n", dir,
                strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *p = path_join(dir, de->d_name);
        if (path_is_dir(p)) {
            names = xrealloc(names, (nn + 1) * sizeof *names);
            names[nn++] = xstrdup(de->d_name);
        }
        free(p);
    }
    closedir(d);
    for (size_t i = 0; i + 1 < nn; i++) /* sort: stable order */
        for (size_t j = i + 1; j < nn; j++)
            if (strcmp(names[i], names[j]) > 0) {
                char *x = names[i];
                names[i] = names[j];
                names[j] = x;
            }
    for (size_t i = 0; i < nn; i++) {
        *v = xrealloc(*v, (*n + 1) * sizeof **v);
        char *p = path_join(dir, names[i]);
        (*v)[*n].dir = path_abs(p);
        (*v)[*n].label = names[i];
        (*n)++;
        free(p);
    }
    free(names);
    return 0;
}

static int cmd_evaluate(int argc, char **argv)
{
    const char *task_dir = NULL, *out = "bench-out";
    candidate *cands = NULL;
    size_t n = 0;
    evaluate_args a = {0};
    a.repeat = 1;
    a.jobs = 1;
    int json_out = 0, rc = 2;
    static const struct option lo[] = {{"task", required_argument, 0, 't'},
                                       {"out", required_argument, 0, 'o'},
                                       {"candidate", required_argument, 0, 'c'},
                                       {"fixtures", required_argument, 0, 'f'},
                                       {"repeat", required_argument, 0, 'r'},
                                       {"jobs", required_argument, 0, 'j'},
                                       {"runtime", required_argument, 0, 'R'},
                                       {"id", required_argument, 0, 'i'},
                                       {"keep-scratch", no_argument, 0, 'k'},
                                       {"json", no_argument, 0, 'J'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"risk", required_argument, 0, 'K'},
                                       {"config", required_argument, 0, 'C'},
                                       {"approve", required_argument, 0, 'A'},
                                       {0, 0, 0, 0}};
    char *risk[64];
    size_t n_risk = 0;
    const char *config_path = NULL;
    bench_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int c;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        switch (c) {
        case 't': task_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'K':
            if (n_risk < sizeof risk / sizeof *risk)
                risk[n_risk++] = optarg;
            break;
        case 'C': config_path = optarg; break;
        case 'A': a.approve_file = optarg; break;
        case 'c': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1]) {
                candidates_free(cands, n);
                return usage_error("--candidate \"%s\": fix: write "
                                   "LABEL=DIR",
                                   optarg);
            }
            char *dir = path_abs(eq + 1);
            if (!dir || !path_is_dir(dir)) {
                free(dir);
                candidates_free(cands, n);
                return usage_error("--candidate \"%s\": DIR does not exist",
                                   optarg);
            }
            cands = xrealloc(cands, (n + 1) * sizeof *cands);
            cands[n].label = xasprintf("%.*s", (int)(eq - optarg), optarg);
            cands[n].dir = dir;
            n++;
            break;
        }
        case 'f':
            if (add_fixture_dir(optarg, &cands, &n) != 0) {
                candidates_free(cands, n);
                return 2;
            }
            break;
        case 'r':
            if (cli_parse_count("--repeat", optarg, &a.repeat) != 0) {
                candidates_free(cands, n);
                return 2;
            }
            break;
        case 'j':
            if (cli_parse_count("--jobs", optarg, &a.jobs) != 0) {
                candidates_free(cands, n);
                return 2;
            }
            break;
        case 'R': a.runtime = optarg; break;
        case 'i': a.eval_id = optarg; break;
        case 'k': a.keep_scratch = 1; break;
        case 'J': json_out = 1; break;
        case 'q': a.quiet = 1; break;
        default: candidates_free(cands, n); return 2;
        }
    }
    if (!task_dir || optind < argc) {
        candidates_free(cands, n);
        return usage_error("evaluate needs --task DIR%s", "");
    }
    if (a.eval_id && !valid_name(a.eval_id)) {
        candidates_free(cands, n);
        return usage_error("--id \"%s\": fix: use only letters, digits, "
                           "'.', '_' and '-'",
                           a.eval_id);
    }
    bench_err e;
    bench_task t;
    if (task_load(task_dir, &t, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        candidates_free(cands, n);
        return 2;
    }
    a.risk_specs = risk;
    a.n_risk_specs = n_risk;
    if (config_path) {
        if (config_load(config_path, &cfg, &e) != 0) {
            fprintf(stderr, "sandbox-bench: %s\n", e.msg);
            task_free(&t);
            candidates_free(cands, n);
            return 2;
        }
        a.config = &cfg;
    }
    char *abs_out = cli_out_dir(out);
    if (!abs_out)
        goto done;
    a.out_dir = abs_out;
    if (n == 0 && candidates_from_runs(abs_out, t.name, &cands, &n, &e)) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        goto done;
    }
    json_t *results = NULL;
    char *eval_dir = NULL;
    if (evaluate_all(&t, cands, n, &a, &results, &eval_dir, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        rc = 1;
        goto done;
    }
    if (json_out) {
        json_dumpf(results, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
    } else {
        report_print(stdout, results, 0);
        printf("\nresults: %s/results.json\n", eval_dir);
    }
    json_decref(results);
    free(eval_dir);
    rc = 0;
done:
    free(abs_out);
    task_free(&t);
    if (config_path)
        config_free(&cfg);
    candidates_free(cands, n);
    return rc;
}

static int cmd_manifest(int argc, char **argv)
{
    const char *task_dir = NULL, *runtime = NULL;
    static const struct option lo[] = {{"task", required_argument, 0, 't'},
                                       {"runtime", required_argument, 0, 'R'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        if (c == 't')
            task_dir = optarg;
        else if (c == 'R')
            runtime = optarg;
        else
            return 2;
    }
    if (!task_dir || optind < argc)
        return usage_error("manifest needs --task DIR%s", "");
    bench_err e;
    bench_task t;
    if (task_load_opt(task_dir, 0, &t, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        return 2;
    }
    char *text = NULL;
    int rc = manifest_collect(&t, runtime, &text, &e);
    if (rc == 0)
        fputs(text, stdout);
    else
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
    free(text);
    task_free(&t);
    return rc == 0 ? 0 : 1;
}

static int cmd_report(int argc, char **argv)
{
    int verbose = 0, json_out = 0;
    static const struct option lo[] = {{"verbose", no_argument, 0, 'v'},
                                       {"json", no_argument, 0, 'J'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+v", lo, NULL)) != -1) {
        if (c == 'v')
            verbose = 1;
        else if (c == 'J')
            json_out = 1;
        else
            return 2;
    }
    if (optind + 1 != argc)
        return usage_error("report needs one RESULTS.json or evaluation "
                           "directory%s",
                           "");
    const char *arg = argv[optind];
    char *path =
        path_is_dir(arg) ? path_join(arg, "results.json") : xstrdup(arg);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc || !json_is_array(json_object_get(doc, "candidates"))) {
        fprintf(stderr,
                "sandbox-bench: %s: %s; fix: pass the results.json "
                "written by `sandbox-bench evaluate` (or its directory)\n",
                path, doc ? "not a results document" : je.text);
        json_decref(doc);
        free(path);
        return 2;
    }
    if (json_out) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
    } else {
        report_print(stdout, doc, verbose);
    }
    json_decref(doc);
    free(path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("sandbox-bench %s (libsandbox %s)\n", BENCH_VERSION,
               sandbox_version());
        return 0;
    }
    junit_global_init();
    int rc;
    argc--;
    argv++;
    optind = 1;
    if (!strcmp(cmd, "new-task"))
        rc = cmd_new_task(argc, argv);
    else if (!strcmp(cmd, "check"))
        rc = cmd_check(argc, argv);
    else if (!strcmp(cmd, "implement"))
        rc = cmd_implement(argc, argv);
    else if (!strcmp(cmd, "evaluate"))
        rc = cmd_evaluate(argc, argv);
    else if (!strcmp(cmd, "report"))
        rc = cmd_report(argc, argv);
    else if (!strcmp(cmd, "manifest"))
        rc = cmd_manifest(argc, argv);
    else if (!strcmp(cmd, "judge"))
        rc = cmd_judge(argc, argv);
    else if (!strcmp(cmd, "aggregate"))
        rc = cmd_aggregate(argc, argv);
    else if (!strcmp(cmd, "run-all"))
        rc = cmd_run_all(argc, argv);
    else
        rc = usage_error("unknown command \"%s\"", cmd);
    junit_global_cleanup();
    return rc;
}
