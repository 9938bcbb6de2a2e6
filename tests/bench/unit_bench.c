/* SPDX-License-Identifier: MIT */
/* Unit tests of the bench harness: task/config parsing, template
 * expansion, JUnit parsing, digests and the JSON-lines log. */
#include "bench.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/unit-bench-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static void put(const char *dir, const char *rel, const char *text)
{
    char *p = path_join(dir, rel);
    bench_err e;
    ck_assert_int_eq(write_file(p, text, strlen(text), &e), 0);
    free(p);
}

/* ---- task.json --------------------------------------------------------- */

static const char GOOD_TASK[] =
    "{\"name\": \"t1\", \"language\": \"python\", \"entrypoints\": "
    "[\"a.py\", \"pkg/b.py\"], \"image\": \"img:latest\", \"test_command\": "
    "\"run tests\", \"report\": \".bench/j.xml\", \"env\": [\"A=1\"], "
    "\"limits\": {\"timeout_sec\": 30, \"memory\": \"512m\", \"pids\": 64}}";

static int parse_task_text(const char *text, bench_task *t, bench_err *e)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "test JSON: %s", je.text);
    memset(t, 0, sizeof *t);
    int rc = task_parse(j, "task.json", t, e);
    json_decref(j);
    return rc;
}

/* Replace the first occurrence of `from` in GOOD_TASK. */
static char *task_with(const char *from, const char *to)
{
    const char *p = strstr(GOOD_TASK, from);
    ck_assert_ptr_nonnull(p);
    return xasprintf("%.*s%s%s", (int)(p - GOOD_TASK), GOOD_TASK, to,
                     p + strlen(from));
}

static void expect_task_error(const char *from, const char *to,
                              const char *want1, const char *want2)
{
    char *text = task_with(from, to);
    bench_task t;
    bench_err e = {""};
    ck_assert_int_eq(parse_task_text(text, &t, &e), -1);
    ck_assert_msg(strstr(e.msg, "task.json") != NULL, "no file: %s", e.msg);
    ck_assert_msg(strstr(e.msg, want1) != NULL, "want '%s' in: %s", want1,
                  e.msg);
    ck_assert_msg(strstr(e.msg, want2) != NULL, "want '%s' in: %s", want2,
                  e.msg);
    ck_assert_msg(strstr(e.msg, "fix") != NULL, "no fix: %s", e.msg);
    task_free(&t);
    free(text);
}

START_TEST(task_good)
{
    bench_task t;
    bench_err e;
    ck_assert_int_eq(parse_task_text(GOOD_TASK, &t, &e), 0);
    ck_assert_str_eq(t.name, "t1");
    ck_assert_uint_eq(t.n_entrypoints, 2);
    ck_assert_str_eq(t.entrypoints[1], "pkg/b.py");
    ck_assert_str_eq(t.tests_mount, "/eval/tests");
    ck_assert_str_eq(t.report, ".bench/j.xml");
    ck_assert_double_eq(t.limits.timeout_sec, 30);
    ck_assert_str_eq(t.limits.memory, "512m");
    ck_assert_int_eq(t.limits.pids, 64);
    ck_assert_double_eq(t.limits.cpus, 2.0);
    ck_assert_uint_eq(t.limits.output_limit, 50000);
    ck_assert_uint_eq(t.n_env, 1);
    task_free(&t);
}
END_TEST

START_TEST(task_malformed)
{
    expect_task_error("\"language\": \"python\", ", "", "\"language\"",
                      "missing");
    expect_task_error("\"image\": \"img:latest\"", "\"image\": 5", "\"image\"",
                      "not an integer");
    expect_task_error("\"name\": \"t1\"", "\"name\": \"t 1\"", "\"name\"",
                      "letters");
    expect_task_error("[\"a.py\", \"pkg/b.py\"]", "[\"../a.py\"]",
                      "entrypoints[0]", "..");
    expect_task_error("[\"a.py\", \"pkg/b.py\"]", "[]", "entrypoints",
                      "empty array");
    expect_task_error("\"report\": \".bench/j.xml\"",
                      "\"report\": \"/abs.xml\"", "\"report\"", "relative");
    expect_task_error("\"timeout_sec\": 30", "\"timeout_sec\": -1",
                      "limits.timeout_sec", "> 0");
    expect_task_error("\"memory\": \"512m\"", "\"memory\": \"lots\"", "limits",
                      "libsandbox");
    expect_task_error("\"pids\": 64", "\"pids\": \"64\"", "limits.pids",
                      "not a string");
    expect_task_error("\"env\": [\"A=1\"]", "\"env\": [\"A\"]", "env[0]",
                      "NAME=VALUE");
    expect_task_error("\"env\": [\"A=1\"], ", "\"timout\": 3, ",
                      "unknown field \"timout\"", "spelling");
    expect_task_error("\"pids\": 64", "\"pids\": 64, \"mem\": \"1g\"",
                      "limits.mem", "known fields");
    expect_task_error(", \"limits\": {\"timeout_sec\": 30, \"memory\": "
                      "\"512m\", \"pids\": 64}",
                      "", "\"limits\"", "missing");
}
END_TEST

START_TEST(task_not_object)
{
    bench_task t;
    bench_err e;
    ck_assert_int_eq(parse_task_text("[1]", &t, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "JSON object"));
    task_free(&t);
}
END_TEST

START_TEST(task_load_files)
{
    char *dir = tmpdir_new();
    bench_err e;
    /* Scaffold, then load: a fresh task is valid. */
    ck_assert_int_eq(task_scaffold(dir, "demo", &e), 0);
    char *td = path_join(dir, "demo");
    bench_task t;
    ck_assert_msg(task_load(td, &t, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(t.name, "demo");
    ck_assert_ptr_nonnull(strstr(t.tests_dir, "/demo/tests"));
    task_free(&t);
    /* Scaffolding twice is refused. */
    ck_assert_int_eq(task_scaffold(dir, "demo", &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "already exists"));
    ck_assert_int_eq(task_scaffold(dir, "../x", &e), -1);
    /* Syntax error: file:line:col. */
    put(td, "task.json", "{\n  \"name\": \"demo\",\n  oops\n}\n");
    ck_assert_int_eq(task_load(td, &t, &e), -1);
    ck_assert_msg(strstr(e.msg, "task.json:3:") != NULL, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(e.msg, "not valid JSON"));
    /* A missing part names itself. */
    char *spec = path_join(td, "SPEC.md");
    unlink(spec);
    ck_assert_int_eq(task_load(td, &t, &e), -1);
    ck_assert_msg(strstr(e.msg, "SPEC.md: missing") != NULL, "%s", e.msg);
    ck_assert_int_eq(task_load("/nonexistent/task", &t, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "no such task directory"));
    free(spec);
    free(td);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- config.json ------------------------------------------------------- */

static int parse_config_text(const char *text, bench_config *c, bench_err *e)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "test JSON: %s", je.text);
    memset(c, 0, sizeof *c);
    int rc = config_parse(j, "config.json", c, e);
    json_decref(j);
    return rc;
}

START_TEST(config_good)
{
    bench_config c;
    bench_err e;
    ck_assert_msg(
        parse_config_text("{\"implementers\": [\"m1\", {\"name\": \"kimi\", "
                          "\"slug\": \"go/kimi-k2\"}], \"expert_judges\": "
                          "[\"judge\"], \"command\": [\"opencode\", \"run\", "
                          "\"--model\", \"{slug}\", \"{prompt}\", \"{{x}}\"], "
                          "\"timeout_sec\": 10, \"sandbox\": {\"image\": "
                          "\"agent:1\"}}",
                          &c, &e) == 0,
        "%s", e.msg);
    ck_assert_uint_eq(c.n_implementers, 2);
    ck_assert_str_eq(c.implementers[0].slug, "m1");
    ck_assert_str_eq(c.implementers[1].slug, "go/kimi-k2");
    ck_assert_uint_eq(c.n_judges, 1);
    ck_assert_uint_eq(c.n_command, 6);
    ck_assert_int_eq(c.sandboxed, 1);
    ck_assert_str_eq(c.sandbox_image, "agent:1");
    ck_assert_ptr_nonnull(config_find(&c, "kimi"));
    ck_assert_ptr_null(config_find(&c, "nobody"));
    config_free(&c);
}
END_TEST

static void expect_config_error(const char *text, const char *want1,
                                const char *want2)
{
    bench_config c;
    bench_err e = {""};
    ck_assert_int_eq(parse_config_text(text, &c, &e), -1);
    ck_assert_msg(strstr(e.msg, "config.json") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, want1) != NULL, "want '%s' in: %s", want1,
                  e.msg);
    ck_assert_msg(strstr(e.msg, want2) != NULL, "want '%s' in: %s", want2,
                  e.msg);
    ck_assert_msg(strstr(e.msg, "fix") != NULL, "no fix: %s", e.msg);
    config_free(&c);
}

START_TEST(config_malformed)
{
    expect_config_error("{\"command\": [\"x\"]}", "\"implementers\"",
                        "missing");
    expect_config_error("{\"implementers\": [], \"command\": [\"x\"]}",
                        "\"implementers\"", "non-empty");
    expect_config_error("{\"implementers\": [\"a\"]}", "\"command\"",
                        "missing");
    expect_config_error("{\"implementers\": [\"a\"], \"command\": \"x y\"}",
                        "\"command\"", "argv array");
    expect_config_error("{\"implementers\": [\"a\"], \"command\": "
                        "[\"x\", \"{modle}\"]}",
                        "command[1]", "unknown placeholder {modle}");
    expect_config_error("{\"implementers\": [\"a\"], \"command\": "
                        "[\"x\", \"{slug\"]}",
                        "command[1]", "unterminated");
    expect_config_error("{\"implementers\": [\"a\", \"a\"], \"command\": "
                        "[\"x\"]}",
                        "twice", "distinct");
    expect_config_error("{\"implementers\": [\"a/b\"], \"command\": "
                        "[\"x\"]}",
                        "implementers[0].name", "letters");
    expect_config_error("{\"implementers\": [\"a\"], \"expert_judges\": "
                        "[\"a\"], \"command\": [\"x\"]}",
                        "both", "own work");
    expect_config_error("{\"implementers\": [{\"name\": \"a\"}], "
                        "\"command\": [\"x\"]}",
                        "implementers[0]", "slug");
    expect_config_error("{\"implementers\": [\"a\"], \"command\": [\"x\"], "
                        "\"sandbox\": {\"network\": \"host\"}}",
                        "sandbox.image", "missing");
    expect_config_error("{\"implementers\": [\"a\"], \"command\": [\"x\"], "
                        "\"sandbox\": {\"image\": \"i\", \"network\": "
                        "\"host\"}}",
                        "sandbox.network", "bridge");
    expect_config_error("{\"implementers\": [\"a\"], \"command\": [\"x\"], "
                        "\"sandbox\": {\"image\": \"i\", \"enabled\": 1}}",
                        "sandbox.enabled", "true or false");
    expect_config_error("{\"implementers\": [\"a\"], \"command\": [\"x\"], "
                        "\"timeout_sec\": 0}",
                        "timeout_sec", "> 0");
    expect_config_error("{\"implementers\": [\"a\"], \"command\": [\"x\"], "
                        "\"harness\": \"opencode\"}",
                        "unknown field", "harness");
}
END_TEST

START_TEST(config_load_missing)
{
    bench_config c;
    bench_err e;
    ck_assert_int_eq(config_load("/nonexistent/config.json", &c, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "config.example.json"));
}
END_TEST

START_TEST(template)
{
    const char *keys[] = {"model", "workdir"};
    const char *vals[] = {"kimi", "/w d"};
    bench_err e;
    char *s = template_expand("--model={model} {{lit}} in {workdir}", keys,
                              vals, 2, &e);
    ck_assert_str_eq(s, "--model=kimi {lit} in /w d");
    free(s);
    s = template_expand("", keys, vals, 2, &e);
    ck_assert_str_eq(s, "");
    free(s);
    ck_assert_ptr_null(template_expand("{nope}", keys, vals, 2, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "{nope}"));
    ck_assert_ptr_null(template_expand("a}b", keys, vals, 2, &e));
    ck_assert_ptr_null(template_expand("{model", keys, vals, 2, &e));
}
END_TEST

/* ---- JUnit ------------------------------------------------------------- */

static void parse_ok(const char *xml, junit_report *r)
{
    bench_err e;
    ck_assert_msg(junit_parse_memory(xml, strlen(xml), r, &e) == 0, "%s",
                  e.msg);
}

START_TEST(junit_pytest)
{
    /* What pytest --junitxml writes (abridged). */
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
        "<testsuites><testsuite name=\"pytest\" errors=\"1\" failures=\"1\" "
        "skipped=\"1\" tests=\"4\" time=\"1.5\">"
        "<testcase classname=\"test_a\" name=\"test_pass\" time=\"0.25\"/>"
        "<testcase classname=\"test_a\" name=\"test_fail[x-1]\" time=\"1\">"
        "<failure message=\"AssertionError: assert 1 == 2\">trace</failure>"
        "</testcase>"
        "<testcase classname=\"test_a\" name=\"test_err\" time=\"0\">"
        "<error message=\"failed on setup\">E fixture</error></testcase>"
        "<testcase classname=\"test_a\" name=\"test_skip\" time=\"0\">"
        "<skipped type=\"pytest.skip\" message=\"no docker\">s</skipped>"
        "</testcase></testsuite></testsuites>";
    junit_report r;
    parse_ok(xml, &r);
    ck_assert_uint_eq(r.n_cases, 4);
    ck_assert_uint_eq(r.passed, 1);
    ck_assert_uint_eq(r.failed, 1);
    ck_assert_uint_eq(r.errors, 1);
    ck_assert_uint_eq(r.skipped, 1);
    ck_assert_str_eq(r.cases[0].id, "test_a::test_pass");
    ck_assert_int_eq(r.cases[0].verdict, TV_PASSED);
    ck_assert_double_eq_tol(r.cases[0].time_sec, 0.25, 1e-9);
    ck_assert_str_eq(r.cases[1].name, "test_fail[x-1]");
    ck_assert_int_eq(r.cases[1].verdict, TV_FAILED);
    ck_assert_str_eq(r.cases[1].message, "AssertionError: assert 1 == 2");
    ck_assert_int_eq(r.cases[2].verdict, TV_ERROR);
    ck_assert_int_eq(r.cases[3].verdict, TV_SKIPPED);
    ck_assert_str_eq(r.cases[3].message, "no docker");
    junit_free(&r);
}
END_TEST

START_TEST(junit_nested_and_single_suite)
{
    const char *nested =
        "<testsuites><testsuite name=\"outer\"><testsuite name=\"inner\">"
        "<testsuite name=\"deeper\"><testcase name=\"t1\"/></testsuite>"
        "<testcase name=\"t2\"><failure>line1\nline2</failure></testcase>"
        "</testsuite></testsuite><testsuite name=\"other\">"
        "<testcase name=\"t3\"><failure/><error message=\"teardown\"/>"
        "</testcase></testsuite></testsuites>";
    junit_report r;
    parse_ok(nested, &r);
    ck_assert_uint_eq(r.n_cases, 3);
    ck_assert_str_eq(r.cases[0].id, "t1");
    ck_assert_int_eq(r.cases[1].verdict, TV_FAILED);
    ck_assert_str_eq(r.cases[1].message, "line1");
    /* failure + error on one case: error wins */
    ck_assert_int_eq(r.cases[2].verdict, TV_ERROR);
    junit_free(&r);
    /* ctest / go-junit-report: a single <testsuite> root */
    parse_ok("<testsuite><testcase name=\"only\" classname=\"pkg\" "
             "time=\"x\"/></testsuite>",
             &r);
    ck_assert_uint_eq(r.n_cases, 1);
    ck_assert_str_eq(r.cases[0].id, "pkg::only");
    ck_assert_double_eq(r.cases[0].time_sec, 0.0);
    junit_free(&r);
    /* No tests at all is a valid, empty report. */
    parse_ok("<testsuites/>", &r);
    ck_assert_uint_eq(r.n_cases, 0);
    junit_free(&r);
}
END_TEST

static void parse_bad(const char *xml, size_t len, const char *want)
{
    junit_report r;
    bench_err e = {""};
    ck_assert_int_eq(junit_parse_memory(xml, len, &r, &e), -1);
    ck_assert_msg(strstr(e.msg, want) != NULL, "want '%s' in: %s", want, e.msg);
    ck_assert_uint_eq(r.n_cases, 0);
}

START_TEST(junit_garbage)
{
    parse_bad("", 0, "empty");
    parse_bad("  \n\t", 4, "empty");
    parse_bad("not xml at all", 14, "not well-formed");
    parse_bad("<testsuites><testcase name=\"a\">", 31, "not well-formed");
    parse_bad("<html><body/></html>", 20, "<html>");
    parse_bad("\0\0\0", 3, "not well-formed");
    /* An external entity is neither fetched nor expanded. */
    const char *xxe =
        "<?xml version=\"1.0\"?><!DOCTYPE t [<!ENTITY x SYSTEM "
        "\"file:///etc/passwd\">]><testsuites><testcase name=\"&x;\"/>"
        "</testsuites>";
    junit_report r;
    bench_err e;
    if (junit_parse_memory(xxe, strlen(xxe), &r, &e) == 0) {
        ck_assert_ptr_null(strstr(r.cases[0].name, "root:"));
        junit_free(&r);
    }
}
END_TEST

START_TEST(junit_file)
{
    char *dir = tmpdir_new();
    put(dir, "j.xml", "<testsuite><testcase name=\"a\"/></testsuite>");
    char *p = path_join(dir, "j.xml");
    junit_report r;
    bench_err e;
    ck_assert_int_eq(junit_parse_file(p, &r, &e), 0);
    ck_assert_uint_eq(r.passed, 1);
    junit_free(&r);
    char *q = path_join(dir, "missing.xml");
    ck_assert_int_eq(junit_parse_file(q, &r, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "missing.xml"));
    free(p);
    free(q);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- digest ------------------------------------------------------------ */

START_TEST(digest_known)
{
    char hex[65];
    ck_assert_int_eq(digest_bytes("abc", 3, hex), 0);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb4"
                          "10ff61f20015ad");
    ck_assert_int_eq(digest_bytes("", 0, hex), 0);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
                          "95991b7852b855");
    char *dir = tmpdir_new();
    put(dir, "f", "abc");
    char *p = path_join(dir, "f");
    bench_err e;
    char fh[65];
    ck_assert_int_eq(digest_file(p, fh, &e), 0);
    ck_assert_str_eq(fh, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb4"
                         "10ff61f20015ad");
    free(p);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(digest_trees)
{
    char *a = tmpdir_new(), *b = tmpdir_new();
    bench_err e;
    /* Same content written in a different order: same digest. */
    char *sa = path_join(a, "sub"), *sb = path_join(b, "sub");
    mkdir_p(sa, &e);
    mkdir_p(sb, &e);
    put(a, "x.py", "1");
    put(a, "sub/y.py", "2");
    put(b, "sub/y.py", "2");
    put(b, "x.py", "1");
    char ha[65], hb[65];
    ck_assert_int_eq(digest_tree(a, NULL, ha, &e), 0);
    ck_assert_int_eq(digest_tree(b, NULL, hb, &e), 0);
    ck_assert_str_eq(ha, hb);
    /* Content matters. */
    put(b, "x.py", "3");
    ck_assert_int_eq(digest_tree(b, NULL, hb, &e), 0);
    ck_assert_str_ne(ha, hb);
    /* Names matter. */
    put(b, "x.py", "1");
    char *o = path_join(b, "x.py"), *n = path_join(b, "z.py");
    ck_assert_int_eq(rename(o, n), 0);
    ck_assert_int_eq(digest_tree(b, NULL, hb, &e), 0);
    ck_assert_str_ne(ha, hb);
    /* Skipped top-level names do not count. */
    ck_assert_int_eq(rename(n, o), 0);
    char *cache = path_join(b, "__pycache__");
    mkdir_p(cache, &e);
    put(b, "__pycache__/x.pyc", "junk");
    static const char *const skip[] = {"__pycache__", NULL};
    ck_assert_int_eq(digest_tree(b, skip, hb, &e), 0);
    ck_assert_str_eq(ha, hb);
    ck_assert_int_eq(digest_tree("/nonexistent/dir", NULL, hb, &e), -1);
    free(cache);
    free(o);
    free(n);
    free(sa);
    free(sb);
    rm_rf(a);
    rm_rf(b);
    free(a);
    free(b);
}
END_TEST

/* ---- log --------------------------------------------------------------- */

static char *g_log;

static void *log_writer(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < 200; i++) {
        json_t *r =
            json_pack("{s:i, s:i, s:s}", "writer", (int)id, "i", i, "pad",
                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        bench_err e;
        ck_assert_int_eq(log_append(g_log, r, &e), 0);
        json_decref(r);
    }
    return NULL;
}

START_TEST(log_lines)
{
    char *dir = tmpdir_new();
    g_log = path_join(dir, "log.jsonl");
    bench_err e;
    json_t *r = json_pack("{s:s, s:s}", "a", "line\nbreak", "u", "\xc3\xa9");
    ck_assert_int_eq(log_append(g_log, r, &e), 0);
    ck_assert_int_eq(log_append(g_log, r, &e), 0);
    json_decref(r);
    char *data;
    size_t len;
    ck_assert_int_eq(read_file(g_log, &data, &len, &e), 0);
    /* canonical lines, chained: seq and the previous line's hash */
    char h1[65];
    const char *first = "{\"a\":\"line\\nbreak\",\"prev\":\""
                        "000000000000000000000000000000000000000000000000000"
                        "0000000000000\",\"seq\":1,\"u\":\"\xc3\xa9\"}";
    ck_assert_int_eq(audit_line_hash(first, strlen(first), h1), 0);
    char *want = xasprintf("%s\n{\"a\":\"line\\nbreak\",\"prev\":\"%s\","
                           "\"seq\":2,\"u\":\"\xc3\xa9\"}\n",
                           first, h1);
    ck_assert_str_eq(data, want);
    free(want);
    free(data);
    unlink(g_log);
    /* Concurrent writers: every line is one whole record. */
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, log_writer, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(read_file(g_log, &data, &len, &e), 0);
    int lines = 0;
    char *save = NULL;
    for (char *l = strtok_r(data, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(l, 0, NULL);
        ck_assert_msg(json_is_object(j), "torn line: %s", l);
        json_decref(j);
        lines++;
    }
    ck_assert_int_eq(lines, 800);
    free(data);
    /* ... and one unbroken chain: the lock serialised the writers */
    char **probs = NULL;
    size_t np = 0;
    uint64_t nrec = 0, head_seq = 0;
    char head[65];
    ck_assert_int_eq(
        audit_verify(g_log, &probs, &np, &nrec, &head_seq, head, &e), 0);
    ck_assert_msg(np == 0, "chain broken: %s", np ? probs[0] : "");
    ck_assert_uint_eq(head_seq, 800);
    free_strv(probs, np);
    ck_assert_int_eq(
        log_append("/nonexistent/dir/log.jsonl", r = json_object(), &e), -1);
    json_decref(r);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot open log"));
    free(g_log);
    rm_rf(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, task_good);
    tcase_add_test(tc, task_malformed);
    tcase_add_test(tc, task_not_object);
    tcase_add_test(tc, task_load_files);
    tcase_add_test(tc, config_good);
    tcase_add_test(tc, config_malformed);
    tcase_add_test(tc, config_load_missing);
    tcase_add_test(tc, template);
    suite_add_tcase(s, tc);
    tc = tcase_create("junit");
    tcase_add_test(tc, junit_pytest);
    tcase_add_test(tc, junit_nested_and_single_suite);
    tcase_add_test(tc, junit_garbage);
    tcase_add_test(tc, junit_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("digest_log");
    tcase_add_test(tc, digest_known);
    tcase_add_test(tc, digest_trees);
    tcase_add_test(tc, log_lines);
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
