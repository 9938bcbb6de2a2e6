/* SPDX-License-Identifier: MIT */
/* Unit tests of bench part 2: statistics against hand-computed numbers,
 * strict score validation (every rule), the PRNG and labels, blinding of
 * the packets, judge config, and the aggregate (self never counted). */
#include "judging.h"

#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NA NAN
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void close_to(double got, double want)
{
    ck_assert_msg(fabs(got - want) < 1e-9, "got %.12f, want %.12f", got, want);
}

/* ---- stats ------------------------------------------------------------- */

START_TEST(median_odd_even_missing)
{
    double odd[] = {3, 1, 2};
    double even[] = {4, 1, 3, 2};
    double gaps[] = {NA, 5, 1, NA};
    double none[] = {NA, NA};
    double one[] = {7};
    close_to(stats_median(odd, N(odd)), 2);
    close_to(stats_median(even, N(even)), 2.5);
    close_to(stats_median(gaps, N(gaps)), 3); /* (1 + 5) / 2 */
    close_to(stats_median(one, 1), 7);
    ck_assert(isnan(stats_median(none, N(none))));
    ck_assert(isnan(stats_median(NULL, 0)));
    /* input order does not matter and the input is left alone */
    double mixed[] = {10, 2, NA, 8, 4, 6};
    close_to(stats_median(mixed, N(mixed)), 6);
    close_to(mixed[0], 10);
    ck_assert(isnan(mixed[2]));
}
END_TEST

START_TEST(spread)
{
    /* 2 4 4 4 5 5 7 9: mean 5, squares 32, sample var 32/7 */
    double v[] = {2, 4, NA, 4, 4, 5, 5, 7, 9};
    close_to(stats_stdev(v, N(v)), sqrt(32.0 / 7.0));
    close_to(stats_mean(v, N(v)), 5);
    close_to(stats_min(v, N(v)), 2);
    close_to(stats_max(v, N(v)), 9);
    close_to(stats_range(v, N(v)), 7);
    ck_assert_uint_eq(stats_count(v, N(v)), 8);
    double k[] = {10, 9, 10, 10}; /* mean 9.75, var 0.75/3 */
    close_to(stats_stdev(k, N(k)), 0.5);
    double one[] = {NA, 4};
    ck_assert(isnan(stats_stdev(one, N(one)))); /* needs two values */
    close_to(stats_range(one, N(one)), 0);
    double none[] = {NA};
    ck_assert(isnan(stats_min(none, 1)));
    ck_assert(isnan(stats_max(none, 1)));
    ck_assert(isnan(stats_range(none, 1)));
    ck_assert(isnan(stats_mean(none, 1)));
    double same[] = {3, 3, 3};
    close_to(stats_stdev(same, N(same)), 0);
}
END_TEST

START_TEST(stats_mode_ties)
{
    static const char *const order[] = {"unusable", "rewrite",
                                        "ship-with-cleanup", NULL};
    const char *v[] = {"rewrite", "unusable", NULL, "rewrite", "unusable"};
    int count = 0, tie = 0;
    ck_assert_str_eq(stats_mode(v, N(v), order, &count, &tie), "unusable");
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(tie, 1);
    /* without an order, ties go by name */
    ck_assert_str_eq(stats_mode(v, N(v), NULL, &count, &tie), "rewrite");
    /* a clear winner is no tie, wherever it sits */
    const char *w[] = {"ship-with-cleanup", "rewrite", "ship-with-cleanup"};
    ck_assert_str_eq(stats_mode(w, N(w), order, &count, &tie),
                     "ship-with-cleanup");
    ck_assert_int_eq(count, 2);
    ck_assert_int_eq(tie, 0);
    /* the order beats input order; unknown values come after known ones */
    const char *x[] = {"zeta", "rewrite"};
    ck_assert_str_eq(stats_mode(x, N(x), order, &count, &tie), "rewrite");
    const char *none[] = {NULL, NULL};
    ck_assert_ptr_null(stats_mode(none, N(none), order, &count, &tie));
    ck_assert_int_eq(count, 0);
}
END_TEST

/* ---- prng and labels --------------------------------------------------- */

START_TEST(prng_fixed)
{
    uint64_t st = 0;
    /* the reference splitmix64 sequence from state 0 */
    ck_assert(splitmix64(&st) == 0xe220a8397b1dcdafull);
    ck_assert(splitmix64(&st) == 0x6e789e6aa1b965f4ull);
    bench_rng a, b, c;
    rng_seed(&a, 42, "kimi");
    rng_seed(&b, 42, "kimi");
    rng_seed(&c, 42, "qwen");
    int differ = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t x = rng_next(&a), y = rng_next(&b), z = rng_next(&c);
        ck_assert(x == y);
        differ |= x != z;
    }
    ck_assert(differ);
    /* a shuffle is a permutation, and reproducible */
    size_t p[26], q[26];
    int seen[26] = {0};
    for (size_t i = 0; i < 26; i++)
        p[i] = q[i] = i;
    rng_seed(&a, 7, "j");
    rng_seed(&b, 7, "j");
    rng_shuffle(&a, p, 26);
    rng_shuffle(&b, q, 26);
    int moved = 0;
    for (size_t i = 0; i < 26; i++) {
        ck_assert_uint_eq(p[i], q[i]);
        seen[p[i]]++;
        moved |= p[i] != i;
    }
    for (size_t i = 0; i < 26; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert(moved);
    for (int i = 0; i < 1000; i++)
        ck_assert(rng_below(&a, 3) < 3);
}
END_TEST

START_TEST(blind_labels)
{
    const struct {
        size_t i;
        const char *l;
    } t[] = {{0, "A"},   {1, "B"},   {25, "Z"},   {26, "AA"},
             {27, "AB"}, {51, "AZ"}, {701, "ZZ"}, {702, "AAA"}};
    for (size_t k = 0; k < N(t); k++) {
        char *s = blind_label(t[k].i);
        ck_assert_str_eq(s, t[k].l);
        free(s);
    }
}
END_TEST

/* ---- scores ------------------------------------------------------------ */

static const char GOOD[] =
    "{\"hard_fail\": \"pass\", \"hard_fail_reasons\": [], "
    "\"spec_compliance\": 8, \"spec_compliance_notes\": [\"l.12 ok\"], "
    "\"code_quality\": {\"clarity\": 4, \"conciseness\": 3, "
    "\"error_handling\": 5, \"comments\": 0}, \"verdict\": \"rewrite\", "
    "\"one_line_summary\": \"fine\"}";

static char *with(const char *from, const char *to)
{
    const char *p = strstr(GOOD, from);
    ck_assert_msg(p != NULL, "%s not in GOOD", from);
    return xasprintf("%.*s%s%s", (int)(p - GOOD), GOOD, to, p + strlen(from));
}

/* Parse text; expect it invalid with a problem on `field` whose message
 * contains `want`; every problem names judge j1 and label B. */
static void bad(const char *text, const char *field, const char *want)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "test JSON: %s: %s", je.text, text);
    problem_list pl = {NULL, 0};
    judge_scores s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(scores_parse(j, "j1", "B", &s, &pl), -1);
    ck_assert_ptr_null(s.summary);
    int hit = 0;
    for (size_t i = 0; i < pl.n; i++) {
        ck_assert_str_eq(pl.v[i].judge, "j1");
        ck_assert_str_eq(pl.v[i].label, "B");
        if (!strcmp(pl.v[i].field, field) && strstr(pl.v[i].message, want))
            hit = 1;
    }
    ck_assert_msg(hit,
                  "no problem on %s containing \"%s\" for %s (first: "
                  "%s: %s)",
                  field, want, text, pl.n ? pl.v[0].field : "-",
                  pl.n ? pl.v[0].message : "-");
    problems_free(&pl);
    json_decref(j);
}

static void bad_with(const char *from, const char *to, const char *field,
                     const char *want)
{
    char *t = with(from, to);
    bad(t, field, want);
    free(t);
}

START_TEST(scores_good)
{
    json_t *j = json_loads(GOOD, 0, NULL);
    problem_list pl = {NULL, 0};
    judge_scores s;
    ck_assert_int_eq(scores_parse(j, "j1", "A", &s, &pl), 0);
    ck_assert_uint_eq(pl.n, 0);
    ck_assert_int_eq(s.hard_fail, 0);
    ck_assert_int_eq(s.spec, 8);
    ck_assert_int_eq(s.quality_total, 12);
    ck_assert_int_eq(s.quality[2], 5);
    ck_assert_int_eq(s.verdict, VERDICT_REWRITE);
    ck_assert_str_eq(s.summary, "fine");
    scores_free(&s);
    json_decref(j);
    /* "fail" with reasons, and the range ends */
    char *t1 = with("\"pass\", \"hard_fail_reasons\": []",
                    "\"fail\", \"hard_fail_reasons\": [\"shell=True\"]");
    char *t2 = xasprintf("%s", t1);
    free(t1);
    char *t3 = NULL;
    {
        const char *p = strstr(t2, "\"spec_compliance\": 8");
        t3 = xasprintf("%.*s\"spec_compliance\": 10%s", (int)(p - t2), t2,
                       p + strlen("\"spec_compliance\": 8"));
    }
    j = json_loads(t3, 0, NULL);
    ck_assert_int_eq(scores_parse(j, "j1", "A", &s, &pl), 0);
    ck_assert_int_eq(s.hard_fail, 1);
    ck_assert_int_eq(s.spec, 10);
    scores_free(&s);
    json_decref(j);
    free(t2);
    free(t3);
}
END_TEST

START_TEST(scores_types_and_ranges)
{
    bad_with("\"spec_compliance\": 8", "\"spec_compliance\": true",
             "spec_compliance", "boolean");
    bad_with("\"spec_compliance\": 8", "\"spec_compliance\": 8.0",
             "spec_compliance", "fraction");
    bad_with("\"spec_compliance\": 8", "\"spec_compliance\": 7.5",
             "spec_compliance", "not an integer");
    bad_with("\"spec_compliance\": 8", "\"spec_compliance\": \"8\"",
             "spec_compliance", "a string");
    bad_with("\"spec_compliance\": 8", "\"spec_compliance\": 11",
             "spec_compliance", "out of range");
    bad_with("\"spec_compliance\": 8", "\"spec_compliance\": -1",
             "spec_compliance", "out of range");
    bad_with("\"spec_compliance\": 8", "\"spec_compliance\": null",
             "spec_compliance", "null");
    bad_with("\"clarity\": 4", "\"clarity\": 6", "code_quality.clarity",
             "out of range");
    bad_with("\"comments\": 0", "\"comments\": -1", "code_quality.comments",
             "out of range");
    bad_with("\"clarity\": 4", "\"clarity\": false", "code_quality.clarity",
             "boolean");
    bad_with("\"conciseness\": 3", "\"conciseness\": 2.5",
             "code_quality.conciseness", "fraction");
    bad_with("\"code_quality\": {", "\"code_quality\": [], \"x\": {",
             "code_quality", "not an object");
    bad_with("\"pass\"", "\"maybe\"", "hard_fail", "\"maybe\"");
    bad_with("\"pass\"", "true", "hard_fail", "boolean");
    bad_with("\"hard_fail_reasons\": []", "\"hard_fail_reasons\": \"none\"",
             "hard_fail_reasons", "not an array");
    bad_with("\"hard_fail_reasons\": []", "\"hard_fail_reasons\": [1]",
             "hard_fail_reasons[0]", "not a string");
    bad_with("\"pass\"", "\"fail\"", "hard_fail_reasons", "empty");
    bad_with("\"spec_compliance_notes\": [\"l.12 ok\"]",
             "\"spec_compliance_notes\": {}", "spec_compliance_notes",
             "not an array");
    bad_with("\"rewrite\"", "\"ship\"", "verdict", "\"ship\"");
    bad_with("\"rewrite\"", "2", "verdict", "an integer");
    bad_with("\"fine\"", "\"\"", "one_line_summary", "empty");
    bad_with("\"fine\"", "[\"fine\"]", "one_line_summary", "an array");
    bad("[1, 2]", "(file)", "not an object");
}
END_TEST

START_TEST(scores_fields)
{
    bad_with("\"verdict\": \"rewrite\", ", "", "verdict", "missing");
    bad_with("\"hard_fail\": \"pass\", ", "", "hard_fail", "missing");
    bad_with("\"spec_compliance\": 8, ", "", "spec_compliance", "missing");
    bad_with("\"one_line_summary\": \"fine\"", "\"x\": 1", "one_line_summary",
             "missing");
    bad_with("\"one_line_summary\": \"fine\"",
             "\"one_line_summary\": \"fine\", \"model\": \"kimi\"", "model",
             "unknown field");
    bad_with("\"comments\": 0", "\"comments\": 0, \"speed\": 5",
             "code_quality.speed", "unknown field");
    bad_with("\"comments\": 0", "\"comment\": 0", "code_quality.comments",
             "missing");
    /* every problem of a file is reported, not only the first */
    json_t *j = json_loads("{\"hard_fail\": 1, \"spec_compliance\": true, "
                           "\"code_quality\": {\"clarity\": 9}, \"x\": 0}",
                           0, NULL);
    problem_list pl = {NULL, 0};
    judge_scores s;
    ck_assert_int_eq(scores_parse(j, "j9", "C", &s, &pl), -1);
    ck_assert_uint_ge(pl.n, 9);
    problems_free(&pl);
    json_decref(j);
}
END_TEST

START_TEST(scores_files)
{
    char tmpl[] = "/tmp/unit-judge-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    problem_list pl = {NULL, 0};
    judge_scores s;
    bench_err e;
    char *p = path_join(tmpl, "A_scores.json");
    ck_assert_int_eq(scores_load(p, "j1", "A", &s, &pl), -1);
    ck_assert_uint_eq(pl.n, 1);
    ck_assert_str_eq(pl.v[0].field, "(file)");
    ck_assert_ptr_nonnull(strstr(pl.v[0].message, "missing"));
    ck_assert_int_eq(write_file(p, "{\"hard_fail\": ", 14, &e), 0);
    ck_assert_int_eq(scores_load(p, "j1", "A", &s, &pl), -1);
    ck_assert_ptr_nonnull(strstr(pl.v[1].message, "not valid JSON"));
    const char *dup = "{\"verdict\": \"rewrite\", \"verdict\": \"rewrite\"}";
    ck_assert_int_eq(write_file(p, dup, strlen(dup), &e), 0);
    ck_assert_int_eq(scores_load(p, "j1", "A", &s, &pl), -1);
    ck_assert_int_eq(write_file(p, GOOD, strlen(GOOD), &e), 0);
    size_t before = pl.n;
    ck_assert_int_eq(scores_load(p, "j1", "A", &s, &pl), 0);
    ck_assert_uint_eq(pl.n, before);
    scores_free(&s);
    /* a file for a label this judge was never given */
    char *q = path_join(tmpl, "Q_scores.json");
    ck_assert_int_eq(write_file(q, GOOD, strlen(GOOD), &e), 0);
    char *labels[] = {"A", "B"};
    scores_unknown_labels(tmpl, "j1", labels, 2, &pl);
    ck_assert_uint_eq(pl.n, before + 1);
    ck_assert_str_eq(pl.v[before].label, "Q");
    ck_assert_ptr_nonnull(strstr(pl.v[before].message, "not a label"));
    problems_free(&pl);
    free(p);
    free(q);
    rm_rf(tmpl);
}
END_TEST

/* ---- blinding, config, aggregate --------------------------------------- */

static void put(const char *dir, const char *rel, const char *text)
{
    char *p = path_join(dir, rel);
    char *slash = strrchr(p, '/');
    bench_err e;
    *slash = '\0';
    ck_assert_int_eq(mkdir_p(p, &e), 0);
    *slash = '/';
    ck_assert_int_eq(write_file(p, text, strlen(text), &e), 0);
    free(p);
}

/* needle in text as a whole word (not inside a longer word) */
static int has_word(const char *text, const char *needle)
{
    size_t l = strlen(needle);
    for (const char *p = text; (p = strcasestr(p, needle)) != NULL; p++) {
        int before = p > text && (isalnum((unsigned char)p[-1]));
        int after = isalnum((unsigned char)p[l]);
        if (!before && !after)
            return 1;
    }
    return 0;
}

static int grep_tree(const char *dir, const char *needle)
{
    char **f = NULL;
    size_t n = 0;
    bench_err e;
    ck_assert_int_eq(list_files(dir, NULL, &f, &n, &e), 0);
    int hit = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = path_join(dir, f[i]), *d = NULL;
        size_t len;
        if (has_word(f[i], needle))
            hit = 1;
        if (read_file(p, &d, &len, &e) == 0 && has_word(d, needle))
            hit = 1;
        free(d);
        free(p);
    }
    free_strv(f, n);
    return hit;
}

static const char CONFIG[] =
    "{\"implementers\": [{\"name\": \"kimi\", \"slug\": \"prov/kimi-k2\"}, "
    "{\"name\": \"qwen\", \"slug\": \"prov/qwen3-max\"}], "
    "\"expert_judges\": [{\"name\": \"sage\", \"slug\": \"prov/sage-x\", "
    "\"judge_command\": null}], \"command\": [\"true\"], "
    "\"judge_command\": [\"true\", \"{packet}\"]}";

typedef struct fixture {
    char *root, *out, *task_dir, *eval;
    bench_task t;
    bench_config c;
} fixture;

static void fixture_make(fixture *f)
{
    char tmpl[] = "/tmp/unit-judge-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    bench_err e;
    f->root = xstrdup(tmpl);
    f->out = path_join(f->root, "out");
    ck_assert_int_eq(task_scaffold(f->root, "t1", &e), 0);
    f->task_dir = path_join(f->root, "t1");
    put(f->task_dir, "tests/test_secret.py", "def test_hidden(): pass\n");
    ck_assert_int_eq(task_load(f->task_dir, &f->t, &e), 0);
    /* two captured runs whose files name their model, one fixture */
    put(f->out, "runs/t1/kimi/r1/meta.json",
        "{\"model\": \"kimi\", \"slug\": \"prov/kimi-k2\", \"wall_sec\": 12.5,"
        " \"usage\": {\"cost_usd\": 0.5, \"tokens_total\": 1000}}");
    put(f->out, "runs/t1/kimi/r1/files/solution.py",
        "# written by Kimi (prov/kimi-k2)\nx = 1\n\ny = 2\n");
    put(f->out, "runs/t1/kimi/r1/files/kimi_notes.md", "notes\n");
    put(f->out, "runs/t1/qwen/r1/meta.json", "{\"model\": \"qwen\"}");
    put(f->out, "runs/t1/qwen/r1/files/solution.py",
        "# qwen3-max was here; qwenish stays\nx = 1\n");
    put(f->root, "fx/solution.py", "x = 3\n");
    char *results = xasprintf(
        "{\"task\": \"t1\", \"eval_id\": \"e1\", \"repeat\": 2, "
        "\"tests\": [\"m::a\", \"m::b\"], \"candidates\": ["
        "{\"label\": \"kimi/r1\", \"dir\": \"%s/runs/t1/kimi/r1/files\", "
        "\"sha256\": \"00\", \"summary\": {\"mean_passed\": 2.0, "
        "\"pass_rate\": 1.0, \"tests_always_passed\": 2, \"flaky\": [], "
        "\"statuses\": {\"completed\": 2}}, \"tests\": {\"m::a\": "
        "{\"verdicts\": [\"passed\", \"passed\"], \"passed\": 2, \"runs\": 2, "
        "\"pass_rate\": 1.0, \"flaky\": false}}},"
        "{\"label\": \"qwen/r1\", \"dir\": \"%s/runs/t1/qwen/r1/files\", "
        "\"summary\": {\"mean_passed\": 1.5, \"pass_rate\": 0.75, "
        "\"tests_always_passed\": 1, \"flaky\": [\"b\"], \"statuses\": "
        "{\"completed\": 2}}, \"tests\": {}},"
        "{\"label\": \"fx\", \"dir\": \"%s/fx\", \"summary\": "
        "{\"mean_passed\": 0.0, \"pass_rate\": 0.0}, \"tests\": {}}]}",
        f->out, f->out, f->root);
    put(f->out, "evals/t1/e1/results.json", results);
    free(results);
    f->eval = path_join(f->out, "evals/t1/e1");
    json_t *j = json_loads(CONFIG, 0, NULL);
    memset(&f->c, 0, sizeof f->c);
    ck_assert_int_eq(config_parse(j, "cfg.json", &f->c, &e), 0);
    json_decref(j);
}

static void fixture_free(fixture *f)
{
    rm_rf(f->root);
    free(f->root);
    free(f->out);
    free(f->task_dir);
    free(f->eval);
    task_free(&f->t);
    config_free(&f->c);
}

static char *judge_with_seed(fixture *f, const char *id, uint64_t seed)
{
    judge_args a;
    memset(&a, 0, sizeof a);
    a.out_dir = f->out;
    a.id = id;
    a.seed = seed;
    a.seed_set = 1;
    a.jobs = 1;
    a.sandboxed = 0;
    a.drive = 0;
    a.quiet = 1;
    char *dir = NULL;
    bench_err e;
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w"); /* the manual-judge list */
    int rc = judge_run(&f->t, &f->c, &a, &dir, &e);
    fclose(stdout);
    stdout = saved;
    ck_assert_msg(rc == 0, "judge_run: %s", e.msg);
    return dir;
}

START_TEST(blinding)
{
    fixture f;
    fixture_make(&f);
    char *d1 = judge_with_seed(&f, "one", 99);
    char *d2 = judge_with_seed(&f, "two", 99);
    char *pk = path_join(d1, "packets");
    /* no model name or slug, in any file or path */
    const char *names[] = {"kimi",    "qwen",      "sage",  "prov",
                           "kimi-k2", "qwen3-max", "sage-x"};
    for (size_t i = 0; i < N(names); i++)
        ck_assert_msg(!grep_tree(pk, names[i]), "%s leaked", names[i]);
    ck_assert(grep_tree(pk, "qwenish stays")); /* whole words only */
    ck_assert(grep_tree(pk, "[model]"));
    /* never the hidden tests, their results or any mapping */
    ck_assert(!grep_tree(pk, "test_hidden"));
    ck_assert(!grep_tree(pk, "secret"));
    ck_assert(!grep_tree(pk, "results"));
    ck_assert(!grep_tree(pk, "pairings"));
    ck_assert(!grep_tree(pk, "mean_passed"));
    ck_assert(!grep_tree(pk, "m::a"));
    char **files = NULL;
    size_t n = 0;
    bench_err e;
    ck_assert_int_eq(list_files(pk, NULL, &files, &n, &e), 0);
    /* 3 judges x (4 task files + README + 3 candidates' 4 files) */
    ck_assert_uint_eq(n, 3 * (5 + 4));
    for (size_t i = 0; i < n; i++) {
        const char *rest = strchr(files[i], '/') + 1;
        ck_assert_msg(
            !strncmp(rest, "implementations/", 16) ||
                !strcmp(rest, "README.md") || !strcmp(rest, "PROMPT.md") ||
                !strcmp(rest, "SPEC.md") || !strcmp(rest, "JUDGE_PROMPT.md") ||
                !strcmp(rest, "JUDGE_RUBRIC.md"),
            "unexpected %s", files[i]);
    }
    free_strv(files, n);
    /* every packet has an empty output folder */
    for (int k = 1; k <= 3; k++) {
        char *o = xasprintf("%s/judge-%02d/output", pk, k);
        ck_assert(path_is_dir(o));
        ck_assert_int_eq(list_files(o, NULL, &files, &n, &e), 0);
        ck_assert_uint_eq(n, 0);
        free_strv(files, n);
        free(o);
    }
    /* the same seed gives the same shuffle; the mapping sits beside */
    char *p1 = path_join(d1, "pairings.json");
    char *p2 = path_join(d2, "pairings.json");
    json_t *j1 = json_load_file(p1, 0, NULL), *j2 = json_load_file(p2, 0, NULL);
    ck_assert(json_equal(j1, j2));
    ck_assert_uint_eq(json_object_size(j1), 3);
    ck_assert_uint_eq(json_object_size(json_object_get(j1, "kimi")), 3);
    json_decref(j1);
    json_decref(j2);
    char *ix = path_join(d1, "judging.json");
    json_t *jx = json_load_file(ix, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(jx, "seed")), 99);
    json_t *jj = json_object_get(jx, "judges");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(jj, 2), "tier")),
        "expert");
    ck_assert(json_is_null(json_object_get(json_array_get(jj, 2), "command")));
    json_decref(jx);
    free(ix);
    free(p1);
    free(p2);
    free(pk);
    free(d1);
    free(d2);
    fixture_free(&f);
}
END_TEST

START_TEST(shuffle_per_judge)
{
    fixture f;
    fixture_make(&f);
    /* over many seeds, judges must not always share one order */
    int differ = 0;
    for (int s = 0; s < 6 && !differ; s++) {
        char *id = xasprintf("s%d", s);
        char *d = judge_with_seed(&f, id, (uint64_t)s);
        char *p = path_join(d, "pairings.json");
        json_t *j = json_load_file(p, 0, NULL);
        differ =
            !json_equal(json_object_get(j, "kimi"),
                        json_object_get(j, "qwen")) ||
            !json_equal(json_object_get(j, "kimi"), json_object_get(j, "sage"));
        json_decref(j);
        free(p);
        free(d);
        free(id);
    }
    ck_assert(differ);
    fixture_free(&f);
}
END_TEST

START_TEST(judge_config_rules)
{
    bench_err e;
    bench_config c;
    memset(&c, 0, sizeof c);
    json_t *j = json_loads(CONFIG, 0, NULL);
    ck_assert_int_eq(config_parse(j, "cfg.json", &c, &e), 0);
    json_decref(j);
    judge_cmd *jc = NULL;
    size_t n = 0;
    ck_assert_int_eq(judge_config(&c, &jc, &n, &e), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(jc[0].tier, "peer");
    ck_assert_str_eq(jc[2].tier, "expert");
    ck_assert_uint_eq(jc[0].n_command, 2);
    ck_assert_ptr_null(jc[2].command); /* null: driven by hand */
    judge_cmds_free(jc, n);
    config_free(&c);
    /* a model may not be both peer and expert */
    memset(&c, 0, sizeof c);
    j = json_loads("{\"implementers\": [\"kimi\"], \"expert_judges\": "
                   "[\"kimi\"], \"command\": [\"x\"]}",
                   0, NULL);
    ck_assert_int_eq(config_parse(j, "cfg.json", &c, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "both"));
    json_decref(j);
    config_free(&c);
    /* an unknown placeholder in a judge command */
    memset(&c, 0, sizeof c);
    j = json_loads("{\"implementers\": [\"kimi\"], \"command\": [\"x\"], "
                   "\"judge_command\": [\"x\", \"{pakcet}\"]}",
                   0, NULL);
    ck_assert_int_eq(config_parse(j, "cfg.json", &c, &e), 0);
    ck_assert_int_eq(judge_config(&c, &jc, &n, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "judge_command[1]"));
    ck_assert_ptr_nonnull(strstr(e.msg, "{pakcet}"));
    json_decref(j);
    config_free(&c);
}
END_TEST

static void score(const char *dir, const char *judge, const char *cand,
                  const char *text)
{
    char *pp = path_join(dir, "pairings.json");
    json_t *p = json_load_file(pp, 0, NULL);
    const char *L =
        json_string_value(json_object_get(json_object_get(p, judge), cand));
    ck_assert_ptr_nonnull(L);
    char *ix = path_join(dir, "judging.json");
    json_t *jx = json_load_file(ix, 0, NULL);
    const char *packet = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(jx, "judges"), i, x)
    {
        if (!strcmp(json_string_value(json_object_get(x, "name")), judge))
            packet = json_string_value(json_object_get(x, "packet"));
    }
    char *rel = xasprintf("%s/output/%s_scores.json", packet, L);
    put(dir, rel, text);
    free(rel);
    json_decref(jx);
    json_decref(p);
    free(ix);
    free(pp);
}

static char *scores_text(int spec, int q, const char *verdict)
{
    return xasprintf("{\"hard_fail\": \"pass\", \"hard_fail_reasons\": [], "
                     "\"spec_compliance\": %d, \"spec_compliance_notes\": [],"
                     " \"code_quality\": {\"clarity\": %d, \"conciseness\": "
                     "%d, \"error_handling\": %d, \"comments\": %d}, "
                     "\"verdict\": \"%s\", \"one_line_summary\": \"s\"}",
                     spec, q, q, q, q, verdict);
}

START_TEST(aggregate_self_excluded)
{
    fixture f;
    fixture_make(&f);
    char *d = judge_with_seed(&f, "agg", 5);
    const char *cands[] = {"kimi/r1", "qwen/r1", "fx"};
    /* kimi loves itself (10), qwen gives kimi 6, sage (expert) 8 */
    int kimi[] = {10, 7, 2}, qwen[] = {6, 9, 2}, sage[] = {8, 5, 1};
    for (int i = 0; i < 3; i++) {
        char *t = scores_text(kimi[i], 4, "ship-with-cleanup");
        score(d, "kimi", cands[i], t);
        free(t);
        t = scores_text(qwen[i], 2, i == 2 ? "unusable" : "rewrite");
        score(d, "qwen", cands[i], t);
        free(t);
        t = scores_text(sage[i], 3, "rewrite");
        score(d, "sage", cands[i], t);
        free(t);
    }
    /* and a broken file for one cell never stops the review */
    score(d, "sage", "fx", "{\"hard_fail\": true}");
    json_t *doc = NULL;
    bench_err e;
    ck_assert_int_eq(aggregate_write(d, &doc, &e), 0);
    json_t *cs = json_object_get(doc, "candidates");
    json_t *k = json_array_get(cs, 0);
    ck_assert_str_eq(json_string_value(json_object_get(k, "id")), "kimi/r1");
    json_t *spec = json_object_get(k, "spec");
    /* all = median(qwen 6, sage 8) = 7; self 10 not counted */
    close_to(json_real_value(json_object_get(spec, "all")), 7);
    close_to(json_real_value(json_object_get(spec, "peer")), 6);
    close_to(json_real_value(json_object_get(spec, "expert")), 8);
    close_to(json_real_value(json_object_get(
                 json_object_get(k, "peer_minus_expert"), "spec")),
             -2);
    json_t *ag = json_object_get(json_object_get(k, "agreement"), "spec");
    ck_assert_int_eq(json_integer_value(json_object_get(ag, "n")), 2);
    close_to(json_real_value(json_object_get(ag, "stdev")),
             round(sqrt(2.0) * 1e6) / 1e6);
    /* self-bias: kimi's 10 minus the peer median 6 */
    json_t *b = json_array_get(json_object_get(doc, "self_bias"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(b, "judge")), "kimi");
    close_to(json_real_value(json_object_get(b, "delta_spec")), 4);
    /* cost of kimi's run, LOC without comments and blanks */
    json_t *cost = json_object_get(k, "cost");
    close_to(json_real_value(json_object_get(cost, "cost_usd")), 0.5);
    ck_assert_int_eq(json_integer_value(json_object_get(cost, "loc")), 3);
    close_to(json_real_value(json_object_get(cost, "cost_per_passing_test")),
             0.25);
    /* the broken cell: problems named, "no valid scores" in the review */
    json_t *pr = json_object_get(doc, "problems");
    ck_assert_uint_ge(json_array_size(pr), 5);
    json_t *p0 = json_array_get(pr, 0);
    ck_assert_str_eq(json_string_value(json_object_get(p0, "judge")), "sage");
    ck_assert_str_eq(json_string_value(json_object_get(p0, "candidate")), "fx");
    char *md = review_markdown(doc);
    ck_assert_ptr_nonnull(strstr(md, "no valid scores"));
    ck_assert_ptr_nonnull(strstr(md, "## Self-bias check"));
    ck_assert_ptr_nonnull(strstr(md, "| 1 | kimi/r1 |"));
    free(md);
    /* the same inputs: the same bytes */
    char *a1 = json_dumps(doc, JSON_SORT_KEYS);
    json_t *doc2 = NULL;
    ck_assert_int_eq(aggregate_build(d, &doc2, &e), 0);
    char *a2 = json_dumps(doc2, JSON_SORT_KEYS);
    ck_assert_str_eq(a1, a2);
    free(a1);
    free(a2);
    json_decref(doc2);
    json_decref(doc);
    free(d);
    fixture_free(&f);
}
END_TEST

static Suite *judge_suite(void)
{
    Suite *s = suite_create("bench-judge");
    TCase *tc = tcase_create("stats");
    tcase_add_test(tc, median_odd_even_missing);
    tcase_add_test(tc, spread);
    tcase_add_test(tc, stats_mode_ties);
    tcase_add_test(tc, prng_fixed);
    tcase_add_test(tc, blind_labels);
    suite_add_tcase(s, tc);
    tc = tcase_create("scores");
    tcase_add_test(tc, scores_good);
    tcase_add_test(tc, scores_types_and_ranges);
    tcase_add_test(tc, scores_fields);
    tcase_add_test(tc, scores_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("blinding");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, blinding);
    tcase_add_test(tc, shuffle_per_judge);
    tcase_add_test(tc, judge_config_rules);
    tcase_add_test(tc, aggregate_self_excluded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(judge_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
