/* SPDX-License-Identifier: MIT */
/* main.c: sandbox-bench's subcommands: words in, a phase called, exit. */
#include "bench.h"
#include "executor.h"
#include "judging.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

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
    "            [--max-file-bytes N] [--max-total-bytes N]\n"
    "      run each model's command in a fresh directory holding only\n"
    "      PROMPT.md and SPEC.md (no .git); capture into\n"
    "      OUT/runs/TASK/MODEL/ROUND/ without following symlinks.  A model\n"
    "      on the host (it can read the hidden tests) needs --host\n"
    "  evaluate --task DIR [--out DIR] [--candidate LABEL=DIR ...]\n"
    "           [--fixtures DIR] [--repeat N] [--jobs N] [--runtime RT]\n"
    "           [--id ID] [--keep-scratch] [--json] [--quiet]\n"
    "           [--risk TIER|LABEL=TIER ...] [--config FILE] [--approve FILE]\n"
    "           [--seed N] [--sign-key KEY.pem]\n"
    "           [--executor local|slurm] [--partition P] [--account A]\n"
    "           [--time-limit T] [--sbatch-arg WORD ...] [--throttle K]\n"
    "           [--per-task N] [--resume]\n"
    "      run the hidden tests against every candidate inside libsandbox\n"
    "      (default candidates: every captured run of the task in OUT);\n"
    "      signs one scorecard per candidate when a key is given, or\n"
    "      $SANDBOX_BENCH_SIGN_KEY names one.  --executor slurm submits the\n"
    "      runs as one Slurm job array (K at once, N runs per array task)\n"
    "      and merges the same results; --resume --id ID submits only the\n"
    "      runs without a record (docs/scale-out.md)\n"
    "  evaluate-one PLAN INDEX\n"
    "      run array task INDEX's share of an evaluation plan on this node\n"
    "      (what each task of --executor slurm runs)\n"
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
    "  verify LOG\n"
    "      check the log's hash chain: name every changed, removed,\n"
    "      inserted or reordered line\n"
    "  verify CARD --key PUB.pem\n"
    "      check a signed scorecard; any changed byte is rejected\n"
    "  key gen DIR\n"
    "      make an Ed25519 signing key: DIR/scorecard-key.pem (0600) and\n"
    "      DIR/scorecard-key.pub.pem\n"
    "  replay RESULTS.json|EVAL_DIR [--jobs N] [--quiet]\n"
    "      re-run an evaluation from its record; refused (exit 2) if the\n"
    "      image, suite or a candidate changed; exit 1 if a verdict differs\n"
    "\n"
    "OUT defaults to ./bench-out.  See docs/bench.md.\n";

/* Every subcommand's getopt_long permutes (no "+" in the option string):
 * options and operands come in any order, as with GNU tools, and "--" ends
 * the options.  POSIXLY_CORRECT in the environment restores POSIX order. */

/* "--help" or "-h" among a subcommand's words, before any "--". */
static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    }
    return 0;
}

/* Print CMD's block of USAGE as its own usage (f NULL: only look);
 * 0 if USAGE has none. */
static int command_usage(FILE *f, const char *cmd)
{
    size_t cl = strlen(cmd);
    if (cl == 0 || cmd[0] == ' ' || cmd[0] == '-')
        return 0;
    const char *p = USAGE;
    while ((p = strstr(p, "\n  ")) != NULL) {
        p += 3;
        if (!strncmp(p, cmd, cl) && (p[cl] == ' ' || p[cl] == '\n'))
            break;
    }
    if (!p)
        return 0;
    if (!f)
        return 1;
    /* The block: its first line, then every line indented further. */
    const char *end = p;
    do {
        end = strchr(end, '\n') + 1;
    } while (!strncmp(end, "   ", 3));
    static const char lead[] = "usage: sandbox-bench ";
    fputs(lead, f);
    int first = 1, described = 0;
    for (const char *l = p; l < end;) {
        const char *nl = strchr(l, '\n');
        size_t sp = strspn(l, " ");
        if (first) /* the command and its first options */
            fprintf(f, "%.*s\n", (int)(nl - l - sp), l + sp);
        else if (sp == 6) /* the description, indented 6 in USAGE */
            fprintf(f, "%s  %.*s\n", described++ ? "" : "\n",
                    (int)(nl - l - sp), l + sp);
        else /* more options, aligned under the first */
            fprintf(f, "%*s%.*s\n", (int)(sizeof lead - 3), "", (int)(nl - l),
                    l);
        first = 0;
        l = nl + 1;
    }
    fputs("\nOUT defaults to ./bench-out.  Options and operands may come in "
          "any order.\nSee sandbox-bench(1) and docs/bench.md.\n",
          f);
    return 1;
}

/* The subcommand being parsed, for usage_error's pointer to its --help. */
static const char *usage_cmd;

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    fputs("sandbox-bench: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see sandbox-bench %s%s--help)\n",
            usage_cmd ? usage_cmd : "", usage_cmd ? " " : "");
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
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 't')
            task_dir = optarg;
        else if (c == 'c')
            config = optarg;
        else
            return 2;
    }
    if ((!task_dir && !config) || optind < argc)
        return usage_error("check needs --task DIR and/or --config FILE, and "
                           "no other word%s",
                           "");
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
    static const struct option lo[] = {
        {"task", required_argument, 0, 't'},
        {"config", required_argument, 0, 'c'},
        {"model", required_argument, 0, 'm'},
        {"all", no_argument, 0, 'a'},
        {"round", required_argument, 0, 'r'},
        {"out", required_argument, 0, 'o'},
        {"sandboxed", no_argument, 0, 's'},
        {"host", no_argument, 0, 'H'},
        {"quiet", no_argument, 0, 'q'},
        {"max-file-bytes", required_argument, 0, 'F'},
        {"max-total-bytes", required_argument, 0, 'T'},
        {0, 0, 0, 0}};
    int c;
    capture_limits caps = {0, 0, 0};
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'F':
        case 'T': {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || !end || *end || v == 0 || optarg[0] == '-') {
                free(models);
                return usage_error(
                    "--%s \"%s\": fix: give a byte count "
                    "above 0",
                    c == 'F' ? "max-file-bytes" : "max-total-bytes", optarg);
            }
            if (c == 'F')
                caps.max_file_bytes = v;
            else
                caps.max_total_bytes = v;
            break;
        }
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
    implement_args ia = {abs_out, round, sandboxed, quiet, caps};
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
    static const struct option lo[] = {
        {"task", required_argument, 0, 't'},
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
        {"seed", required_argument, 0, 'S'},
        {"sign-key", required_argument, 0, 'K'},
        {"risk", required_argument, 0, 'Z'},
        {"config", required_argument, 0, 'C'},
        {"approve", required_argument, 0, 'A'},
        {"executor", required_argument, 0, 'X'},
        {"partition", required_argument, 0, 'P'},
        {"account", required_argument, 0, 'Y'},
        {"time-limit", required_argument, 0, 'L'},
        {"sbatch-arg", required_argument, 0, 'B'},
        {"throttle", required_argument, 0, 'T'},
        {"per-task", required_argument, 0, 'N'},
        {"resume", no_argument, 0, 'U'},
        {0, 0, 0, 0}};
    char *risk[64];
    size_t n_risk = 0;
    const char *config_path = NULL;
    bench_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int c;
    const char *executor = "local";
    size_t missing = 0;
    int bad_input = 0;
    slurm_opts so;
    memset(&so, 0, sizeof so);
    so.per_task = 1;
    so.missing = &missing;
    so.bad_input = &bad_input;
    const char **sbatch_args = xcalloc((size_t)argc + 1, sizeof *sbatch_args);
    int slurm_only = 0;
    const char *sign_key = getenv("SANDBOX_BENCH_SIGN_KEY");
    if (sign_key && !sign_key[0])
        sign_key = NULL;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 't': task_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'K': sign_key = optarg; break;
        case 'S': {
            char *end = NULL;
            errno = 0;
            a.seed = strtoll(optarg, &end, 10);
            if (errno || !end || *end || end == optarg) {
                candidates_free(cands, n);
                free(sbatch_args);
                return usage_error("--seed \"%s\": fix: give an integer",
                                   optarg);
            }
            break;
        }
        case 'Z':
            if (n_risk < sizeof risk / sizeof *risk)
                risk[n_risk++] = optarg;
            break;
        case 'C': config_path = optarg; break;
        case 'A': a.approve_file = optarg; break;
        case 'c': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1]) {
                candidates_free(cands, n);
                free(sbatch_args);
                return usage_error("--candidate \"%s\": fix: write "
                                   "LABEL=DIR",
                                   optarg);
            }
            char *dir = path_abs(eq + 1);
            if (!dir || !path_is_dir(dir)) {
                free(dir);
                candidates_free(cands, n);
                free(sbatch_args);
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
                free(sbatch_args);
                return 2;
            }
            break;
        case 'r':
            if (cli_parse_count("--repeat", optarg, &a.repeat) != 0) {
                candidates_free(cands, n);
                free(sbatch_args);
                return 2;
            }
            break;
        case 'j':
            if (cli_parse_count("--jobs", optarg, &a.jobs) != 0) {
                candidates_free(cands, n);
                free(sbatch_args);
                return 2;
            }
            break;
        case 'X': executor = optarg; break;
        case 'P': so.partition = optarg, slurm_only = 1; break;
        case 'Y': so.account = optarg, slurm_only = 1; break;
        case 'L': so.time_limit = optarg, slurm_only = 1; break;
        case 'B':
            sbatch_args[so.n_sbatch_args++] = optarg;
            slurm_only = 1;
            break;
        case 'T':
        case 'N':
            if (cli_parse_count(c == 'T' ? "--throttle" : "--per-task", optarg,
                                c == 'T' ? &so.throttle : &so.per_task)) {
                candidates_free(cands, n);
                free(sbatch_args);
                return 2;
            }
            slurm_only = 1;
            break;
        case 'U': so.resume = 1; break;
        case 'R': a.runtime = optarg; break;
        case 'i': a.eval_id = optarg; break;
        case 'k': a.keep_scratch = 1; break;
        case 'J': json_out = 1; break;
        case 'q': a.quiet = 1; break;
        default: candidates_free(cands, n); return 2;
        }
    }
    so.sbatch_args = sbatch_args;
    if (!task_dir || optind < argc) {
        candidates_free(cands, n);
        free(sbatch_args);
        return usage_error("evaluate needs --task DIR%s", "");
    }
    if (strcmp(executor, "local") && strcmp(executor, "slurm")) {
        candidates_free(cands, n);
        free(sbatch_args);
        return usage_error("--executor \"%s\": fix: give local or slurm",
                           executor);
    }
    int use_slurm = !strcmp(executor, "slurm");
    if (!use_slurm && (slurm_only || so.resume)) {
        candidates_free(cands, n);
        free(sbatch_args);
        return usage_error("--partition, --account, --time-limit, "
                           "--sbatch-arg, --throttle, --per-task and --resume "
                           "are for --executor slurm; fix: add --executor "
                           "slurm%s",
                           "");
    }
    if (so.resume && !a.eval_id) {
        candidates_free(cands, n);
        free(sbatch_args);
        return usage_error("--resume needs the --id ID of the evaluation to "
                           "finish; fix: pass the id printed when it was "
                           "interrupted%s",
                           "");
    }
    char self[4096];
    if (use_slurm) {
        if (slurm_cli_setup(&so, self, sizeof self) != 0) {
            candidates_free(cands, n);
            free(sbatch_args);
            return 2;
        }
        a.slurm = &so;
    }
    if (a.eval_id && !valid_name(a.eval_id)) {
        candidates_free(cands, n);
        free(sbatch_args);
        return usage_error("--id \"%s\": fix: use only letters, digits, "
                           "'.', '_' and '-'",
                           a.eval_id);
    }
    bench_err e;
    bench_task t;
    if (task_load(task_dir, &t, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        candidates_free(cands, n);
        free(sbatch_args);
        return 2;
    }
    a.risk_specs = risk;
    a.n_risk_specs = n_risk;
    if (config_path) {
        if (config_load(config_path, &cfg, &e) != 0) {
            fprintf(stderr, "sandbox-bench: %s\n", e.msg);
            task_free(&t);
            candidates_free(cands, n);
            free(sbatch_args);
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
    if (sign_key && access(sign_key, R_OK) != 0) {
        fprintf(stderr,
                "sandbox-bench: --sign-key %s: %s; fix: make one with "
                "`sandbox-bench key gen DIR`\n",
                sign_key, strerror(errno));
        goto done;
    }
    a.sign_key = sign_key;
    if (evaluate_all(&t, cands, n, &a, &results, &eval_dir, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        rc = bad_input ? 2 : 1;
        goto done;
    }
    if (sign_key && !a.quiet)
        fprintf(stderr, "[evaluate] signed %zu scorecard%s in %s/scorecards\n",
                json_array_size(json_object_get(results, "scorecards")),
                json_array_size(json_object_get(results, "scorecards")) == 1
                    ? ""
                    : "s",
                eval_dir);
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
    if (missing) {
        fprintf(stderr,
                "sandbox-bench: %zu run%s ended without a record (status "
                "slurm:<STATE>); fix: rerun with --resume --id %s\n",
                missing, missing == 1 ? "" : "s", a.eval_id ? a.eval_id : "ID");
        rc = 1;
    }
done:
    free(abs_out);
    task_free(&t);
    if (config_path)
        config_free(&cfg);
    candidates_free(cands, n);
    free(sbatch_args);
    return rc;
}

static int cmd_evaluate_one(int argc, char **argv)
{
    static const struct option lo[] = {{0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
        return 2;
    if (optind + 2 != argc)
        return usage_error("evaluate-one needs PLAN INDEX (the plan.json "
                           "--executor slurm wrote and the array task's "
                           "index)%s",
                           "");
    return evaluate_one_main(argv[optind], argv[optind + 1]);
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
    while ((c = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
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

static int cmd_verify(int argc, char **argv)
{
    const char *key = NULL;
    static const struct option lo[] = {{"key", required_argument, 0, 'k'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'k')
            key = optarg;
        else
            return 2;
    }
    if (optind + 1 != argc)
        return usage_error("verify needs one LOG, or one CARD with --key "
                           "PUB.pem%s",
                           "");
    const char *file = argv[optind];
    bench_err e;
    char *data = NULL;
    size_t len = 0;
    if (read_file(file, &data, &len, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        return 2;
    }
    int is_card =
        strstr(data, "\"kind\":\"sandbox-bench-scorecard\"") != NULL &&
        memchr(data, '\n', len ? len - 1 : 0) == NULL;
    if (is_card || key) {
        if (!key) {
            free(data);
            return usage_error("%s is a scorecard; fix: pass --key PUB.pem "
                               "(the signer's public key)",
                               file);
        }
        int rc = scorecard_verify(data, len, key, &e);
        free(data);
        if (rc != 0) {
            printf("%s: %s\n", file, e.msg);
            return 1;
        }
        printf("%s: OK: a good scorecard signed by %s\n", file, key);
        return 0;
    }
    char **probs = NULL;
    size_t np = 0;
    uint64_t nrec = 0, head_seq = 0;
    char head[65];
    audit_verify_buffer(data, len, &probs, &np, &nrec, &head_seq, head);
    free(data);
    for (size_t i = 0; i < np; i++)
        printf("%s: %s\n", file, probs[i]);
    if (np) {
        printf("%s: TAMPERED: %zu problem%s in %llu line%s\n", file, np,
               np == 1 ? "" : "s", (unsigned long long)nrec,
               nrec == 1 ? "" : "s");
        free_strv(probs, np);
        return 1;
    }
    printf("%s: OK: %llu record%s, chain intact; head seq %llu sha256 %s "
           "(compare with a signed scorecard's \"log\".head_sha256: the last "
           "lines are anchored only there)\n",
           file, (unsigned long long)nrec, nrec == 1 ? "" : "s",
           (unsigned long long)head_seq, head);
    return 0;
}

static int cmd_key(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "gen") != 0)
        return usage_error("key needs: key gen DIR%s", "");
    bench_err e;
    char *priv = NULL, *pub = NULL;
    if (sign_keygen(argv[2], &priv, &pub, &e) != 0) {
        fprintf(stderr, "sandbox-bench: %s\n", e.msg);
        return 2;
    }
    printf("private key %s (mode 0600: pass it to evaluate --sign-key)\n"
           "public key  %s (give it to whoever checks the scorecards)\n",
           priv, pub);
    free(priv);
    free(pub);
    return 0;
}

static int cmd_replay(int argc, char **argv)
{
    replay_args a = {NULL, 0, 0};
    static const struct option lo[] = {{"jobs", required_argument, 0, 'j'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'j') {
            if (cli_parse_count("--jobs", optarg, &a.jobs) != 0)
                return 2;
        } else if (c == 'q') {
            a.quiet = 1;
        } else {
            return 2;
        }
    }
    if (optind + 1 != argc)
        return usage_error("replay needs one RESULTS.json or evaluation "
                           "directory%s",
                           "");
    a.record = argv[optind];
    bench_err e;
    char **diffs = NULL;
    size_t nd = 0;
    char *dir = NULL;
    int rc = replay_run(&a, &diffs, &nd, &dir, &e);
    if (rc == 2 || rc < 0) {
        fprintf(stderr, "sandbox-bench: replay %s: %s\n", a.record, e.msg);
        return 2;
    }
    for (size_t i = 0; i < nd; i++)
        printf("DIFFERS: %s\n", diffs[i]);
    if (nd)
        printf("replay %s: %zu verdict%s differ -> %s\n", a.record, nd,
               nd == 1 ? "" : "s", dir);
    else
        printf("replay %s: every verdict the same -> %s\n", a.record, dir);
    free_strv(diffs, nd);
    free(dir);
    return rc;
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
    if (wants_help(argc - 1, argv + 1) && command_usage(stdout, cmd))
        return 0;
    if (command_usage(NULL, cmd))
        usage_cmd = cmd;
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
    else if (!strcmp(cmd, "evaluate-one"))
        rc = cmd_evaluate_one(argc, argv);
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
    else if (!strcmp(cmd, "verify"))
        rc = cmd_verify(argc, argv);
    else if (!strcmp(cmd, "key"))
        rc = cmd_key(argc, argv);
    else if (!strcmp(cmd, "replay"))
        rc = cmd_replay(argc, argv);
    else
        rc = usage_error("unknown command \"%s\"", cmd);
    junit_global_cleanup();
    return rc;
}
