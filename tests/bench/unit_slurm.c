/* SPDX-License-Identifier: MIT */
/* Unit tests of the Slurm executor's pieces that need no cluster: the plan
 * and the per-run records (lossless, atomic), evaluate-one's refusals, and
 * the bad-input errors raised before anything is submitted. */
#include "executor.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/unit-slurm-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static const char REPORT[] =
    "<testsuites><testsuite name=\"s\">"
    "<testcase classname=\"m\" name=\"ok\" time=\"0.25\"/>"
    "<testcase classname=\"m\" name=\"bad\"><failure message=\"assert "
    "1 == 2 \xc3\xa9\"/></testcase>"
    "<testcase name=\"skipped\"><skipped message=\"later\"/></testcase>"
    "</testsuite></testsuites>";

START_TEST(record_round_trip)
{
    char *d = tmpdir_new();
    run_outcome o;
    memset(&o, 0, sizeof o);
    bench_err e;
    ck_assert_int_eq(junit_parse_memory(REPORT, strlen(REPORT), &o.report, &e),
                     0);
    o.status = xstrdup("completed");
    o.detail = xstrdup("flooded 2.0 MiB but completed");
    o.flood = 1;
    o.exit_code = 1;
    o.wall_sec = 12.5;
    o.image_id = xstrdup("sha256:abc");
    o.backend = xstrdup("native");
    char *p = path_join(d, "c1-r2.json");
    ck_assert_int_eq(record_write(p, "model/r1", &o, "/x/model_r1/r2", &e), 0);

    run_outcome b;
    char *rd = NULL;
    ck_assert_int_eq(record_read(p, "model/r1", &b, &rd, &e), 1);
    ck_assert_str_eq(b.status, o.status);
    ck_assert_str_eq(b.detail, o.detail);
    ck_assert_int_eq(b.flood, 1);
    ck_assert_int_eq(b.exit_code, 1);
    ck_assert(b.wall_sec == 12.5);
    ck_assert_str_eq(b.image_id, "sha256:abc");
    ck_assert_str_eq(b.backend, "native");
    ck_assert_str_eq(rd, "/x/model_r1/r2");
    ck_assert_uint_eq(b.report.n_cases, o.report.n_cases);
    ck_assert_uint_eq(b.report.passed, o.report.passed);
    ck_assert_uint_eq(b.report.failed, o.report.failed);
    ck_assert_uint_eq(b.report.skipped, o.report.skipped);
    for (size_t i = 0; i < o.report.n_cases; i++) {
        const junit_case *x = &o.report.cases[i], *y = &b.report.cases[i];
        ck_assert_str_eq(x->id, y->id);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_int_eq(x->verdict, y->verdict);
        ck_assert(x->time_sec == y->time_sec);
        if (x->message)
            ck_assert_str_eq(x->message, y->message);
        else
            ck_assert_ptr_null(y->message);
    }
    /* nothing but the record: the temporary name is gone */
    char **files = NULL;
    size_t nf = 0;
    ck_assert_int_eq(list_files(d, NULL, &files, &nf, &e), 0);
    ck_assert_uint_eq(nf, 1);
    free_strv(files, nf);
    /* another candidate's record is refused, a missing one is "none" */
    run_outcome c;
    ck_assert_int_eq(record_read(p, "other", &c, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "fix:"));
    char *q = path_join(d, "none.json");
    ck_assert_int_eq(record_read(q, "model/r1", &c, NULL, &e), 0);
    free(q);
    run_outcome_clear(&o);
    run_outcome_clear(&b);
    free(rd);
    free(p);
    rm_rf(d);
    free(d);
}
END_TEST

static void plan_fill(eval_plan *p, size_t runs, int per_task)
{
    memset(p, 0, sizeof *p);
    p->task_dir = xstrdup("/nonexistent/task");
    p->eval_dir = xstrdup("/tmp/e");
    p->eval_id = xstrdup("id1");
    p->runtime = xstrdup("native");
    p->seed = -42;
    p->per_task = per_task;
    p->n_cands = 2;
    p->cands = xcalloc(2, sizeof *p->cands);
    p->cands[0].label = xstrdup("a");
    p->cands[0].dir = xstrdup("/c/a");
    p->cands[1].label = xstrdup("b/r1");
    p->cands[1].dir = xstrdup("/c/b");
    p->n_runs = runs;
    p->run_cand = xcalloc(runs, sizeof *p->run_cand);
    p->run_repeat = xcalloc(runs, sizeof *p->run_repeat);
    for (size_t i = 0; i < runs; i++) {
        p->run_cand[i] = i % 2;
        p->run_repeat[i] = (int)(i / 2) + 1;
    }
}

START_TEST(plan_round_trip)
{
    char *d = tmpdir_new();
    eval_plan p, q;
    plan_fill(&p, 8, 3);
    ck_assert_uint_eq(plan_n_tasks(&p), 3);
    p.per_task = 1;
    ck_assert_uint_eq(plan_n_tasks(&p), 8);
    p.per_task = 8;
    ck_assert_uint_eq(plan_n_tasks(&p), 1);
    p.per_task = 3;
    char *path = path_join(d, "plan.json");
    bench_err e;
    ck_assert_int_eq(plan_write(path, &p, &e), 0);
    ck_assert_int_eq(plan_read(path, &q, &e), 0);
    ck_assert_str_eq(q.task_dir, p.task_dir);
    ck_assert_str_eq(q.eval_dir, p.eval_dir);
    ck_assert_str_eq(q.eval_id, p.eval_id);
    ck_assert_str_eq(q.runtime, "native");
    ck_assert(q.seed == -42);
    ck_assert_int_eq(q.per_task, 3);
    ck_assert_uint_eq(q.n_cands, 2);
    ck_assert_str_eq(q.cands[1].label, "b/r1");
    ck_assert_uint_eq(q.n_runs, 8);
    for (size_t i = 0; i < 8; i++) {
        ck_assert_uint_eq(q.run_cand[i], p.run_cand[i]);
        ck_assert_int_eq(q.run_repeat[i], p.run_repeat[i]);
    }
    plan_free(&q);
    char *rp = plan_record_path("/e", 1, 3);
    ck_assert_str_eq(rp, "/e/slurm/records/c1-r3.json");
    free(rp);

    /* evaluate-one refuses what it cannot run, exit 2 */
    ck_assert_int_eq(evaluate_one_main(path, "3"), 2); /* past 3 tasks */
    ck_assert_int_eq(evaluate_one_main(path, "x"), 2);
    ck_assert_int_eq(evaluate_one_main(path, "0"), 2); /* no such task dir */
    char *nop = path_join(d, "missing.json");
    ck_assert_int_eq(evaluate_one_main(nop, "0"), 2);
    ck_assert_int_eq(plan_read(nop, &q, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "every node mounts"));
    free(nop);
    plan_free(&p);
    free(path);
    rm_rf(d);
    free(d);
}
END_TEST

START_TEST(no_sbatch_names_the_fix)
{
    char *d = tmpdir_new();
    char *old = getenv("PATH") ? xstrdup(getenv("PATH")) : NULL;
    setenv("PATH", d, 1); /* an empty directory: no sbatch */
    bench_task t;
    memset(&t, 0, sizeof t);
    t.dir = d;
    candidate c = {"a", d};
    size_t missing = 0;
    int bad = 0;
    slurm_opts so;
    memset(&so, 0, sizeof so);
    so.per_task = 1;
    so.missing = &missing;
    so.bad_input = &bad;
    so.self = "/bin/true";
    evaluate_args a;
    memset(&a, 0, sizeof a);
    a.slurm = &so;
    run_outcome out;
    memset(&out, 0, sizeof out);
    char *run_dir = NULL;
    eval_job_ref ref = {0, 1, &out, &run_dir, 0};
    eval_plan_view v = {&t, &c, 1, &a, d, "id", &ref, 1};
    bench_err e;
    ck_assert_int_eq(slurm_execute(&v, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "no `sbatch` on PATH"));
    ck_assert_ptr_nonnull(strstr(e.msg, "fix:"));
    ck_assert_int_eq(bad, 1);
    if (old) {
        setenv("PATH", old, 1);
        free(old);
    }
    run_outcome_clear(&out);
    free(run_dir);
    rm_rf(d);
    free(d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("slurm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, record_round_trip);
    tcase_add_test(tc, plan_round_trip);
    tcase_add_test(tc, no_sbatch_names_the_fix);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    junit_global_init();
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    junit_global_cleanup();
    return failed ? 1 : 0;
}
