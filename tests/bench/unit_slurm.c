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

START_TEST(record_round_trip)
{
    char *d = tmpdir_new();
    bench_err e;
    json_error_t je;
    json_t *run = json_loads(
        "{\"repeat\": 2, \"status\": \"completed\", \"flood\": false, "
        "\"exit_code\": 1, \"wall_sec\": 12.125, \"passed\": 1, "
        "\"detail\": null, \"run_dir\": \"/x/model_r1/r2\", \"tests\": "
        "{\"m::ok\": {\"name\": \"ok\", \"verdict\": \"passed\", "
        "\"time_sec\": 0.25}, \"m::bad\": {\"name\": \"bad\", \"verdict\": "
        "\"failed\", \"time_sec\": 0.1, \"message\": \"assert 1 == 2 "
        "\u00e9\"}}, \"costs\": {\"runner\": {\"wall_sec\": 3.5}, "
        "\"candidate\": null}}",
        0, &je);
    ck_assert_msg(run != NULL, "%s", je.text);
    char *p = path_join(d, "c1-r2.json");
    ck_assert_int_eq(record_write(p, "model/r1", run, &e), 0);
    json_t *back = NULL;
    ck_assert_int_eq(record_read(p, "model/r1", &back, &e), 1);
    ck_assert(json_equal(run, back)); /* lossless, floats included */
    json_decref(back);
    /* nothing but the record: the temporary name is gone */
    char **files = NULL;
    size_t nf = 0;
    ck_assert_int_eq(list_files(d, NULL, &files, &nf, &e), 0);
    ck_assert_uint_eq(nf, 1);
    free_strv(files, nf);
    /* another candidate's record is refused, a missing one is "none" */
    ck_assert_int_eq(record_read(p, "other", &back, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "fix:"));
    char *q = path_join(d, "none.json");
    ck_assert_int_eq(record_read(q, "model/r1", &back, &e), 0);
    ck_assert_ptr_null(back);
    free(q);
    json_decref(run);
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
    p->tier = xcalloc(2, sizeof *p->tier);
    p->tier[1] = 2;
    p->cand_sha = xcalloc(2, sizeof *p->cand_sha);
    p->cand_sha[0] = xstrdup("aa");
    p->cand_sha[1] = xstrdup("bb");
    p->approve_file = xstrdup("/shared/approve.txt");
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
    ck_assert_int_eq(q.tier[0], 0);
    ck_assert_int_eq(q.tier[1], 2);
    ck_assert_str_eq(q.cand_sha[1], "bb");
    ck_assert_str_eq(q.approve_file, "/shared/approve.txt");
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
    eval_job_ref ref = {0, 1, NULL, 0}; /* never reached: no sbatch */
    int tier = 1;
    char *sha = "00";
    eval_plan_view v = {&t, &c, 1, &a, d, "id", &ref, 1, &tier, &sha};
    bench_err e;
    ck_assert_int_eq(slurm_execute(&v, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "no `sbatch` on PATH"));
    ck_assert_ptr_nonnull(strstr(e.msg, "fix:"));
    ck_assert_int_eq(bad, 1);
    if (old) {
        setenv("PATH", old, 1);
        free(old);
    }
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
