/* SPDX-License-Identifier: MIT */
/*
 * task.c: the task file (task.json), the bench config (config.json) and the
 * `new-task` scaffold.  Every error names the file, the field and the fix.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sandbox.h>

/* Placeholders a command template may use (see implement.c). */
static const char *const TEMPLATE_KEYS[] = {
    "prompt_file", "spec_file",  "prompt",      "workdir", "model", "slug",
    "task",        "entrypoint", "entrypoints", "run_dir", NULL};

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int check_known(json_t *obj, const char *file, const char *where,
                       const char *const *known, bench_err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        for (size_t i = 0; known[i]; i++)
            if (!strcmp(known[i], key))
                ok = 1;
        if (!ok) {
            char list[512] = "";
            for (size_t i = 0; known[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, known[i], sizeof list - strlen(list) - 1);
            }
            bench_seterr(e,
                         "%s: unknown field \"%s%s\"; fix: remove it or "
                         "correct its spelling (known fields%s%s: %s)",
                         file, where, key, where[0] ? " of " : "",
                         where[0] ? where : "", list);
            return -1;
        }
    }
    return 0;
}

/* `field` is the name shown in errors ("limits.memory"); the key looked up
 * is its last component. */
static const char *key_of(const char *field)
{
    const char *dot = strrchr(field, '.');
    return dot ? dot + 1 : field;
}

static int get_string(json_t *obj, const char *file, const char *field,
                      const char *fix, int required, char **out, bench_err *e)
{
    json_t *v = json_object_get(obj, key_of(field));
    if (!v) {
        if (!required)
            return 0;
        bench_seterr(e, "%s: missing field \"%s\"; fix: %s", file, field, fix);
        return -1;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        bench_seterr(e,
                     "%s: field \"%s\" must be a non-empty string, not "
                     "%s; fix: %s",
                     file, field,
                     json_is_string(v) ? "an empty string" : json_kind(v), fix);
        return -1;
    }
    free(*out);
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int get_number(json_t *obj, const char *file, const char *field,
                      const char *fix, int required, double *out, bench_err *e)
{
    json_t *v = json_object_get(obj, key_of(field));
    if (!v) {
        if (!required)
            return 0;
        bench_seterr(e, "%s: missing field \"%s\"; fix: %s", file, field, fix);
        return -1;
    }
    if (!json_is_number(v) || json_number_value(v) <= 0) {
        bench_seterr(e,
                     "%s: field \"%s\" must be a number > 0, not %s; "
                     "fix: %s",
                     file, field,
                     json_is_number(v) ? "zero or negative" : json_kind(v),
                     fix);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int get_posint(json_t *obj, const char *file, const char *field,
                      const char *fix, long long *out, bench_err *e)
{
    json_t *v = json_object_get(obj, key_of(field));
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        bench_seterr(e,
                     "%s: field \"%s\" must be an integer > 0, not %s; "
                     "fix: %s",
                     file, field,
                     json_is_integer(v) ? "zero or negative" : json_kind(v),
                     fix);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* A path that must stay inside the directory it is relative to. */
static int safe_relpath(const char *p)
{
    if (!p[0] || p[0] == '/')
        return 0;
    const char *s = p;
    while (*s) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if ((n == 2 && !strncmp(s, "..", 2)) || n == 0)
            return 0;
        s += n + (slash ? 1 : 0);
    }
    return 1;
}

static int get_strv(json_t *v, const char *file, const char *field,
                    const char *fix, char ***out, size_t *n, bench_err *e)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        bench_seterr(e,
                     "%s: field \"%s\" must be a non-empty array of "
                     "strings, not %s; fix: %s",
                     file, field,
                     json_is_array(v) ? "an empty array" : json_kind(v), fix);
        return -1;
    }
    size_t cnt = json_array_size(v);
    char **s = xcalloc(cnt, sizeof *s);
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_string(x) || json_string_length(x) == 0) {
            bench_seterr(e,
                         "%s: field \"%s[%zu]\" must be a non-empty "
                         "string, not %s; fix: %s",
                         file, field, i,
                         json_is_string(x) ? "an empty string" : json_kind(x),
                         fix);
            free_strv(s, i);
            return -1;
        }
        s[i] = xstrdup(json_string_value(x));
    }
    *out = s;
    *n = cnt;
    return 0;
}

static const char *const TASK_FIELDS[] = {
    "name",         "language",    "entrypoints", "entrypoint", "image",
    "test_command", "tests_mount", "report",      "limits",     "env",
    "description",  "isolation",   "manifest",    NULL};
static const char *const LIMIT_FIELDS[] = {
    "timeout_sec",  "memory",      "pids", "cpus",
    "output_limit", "flood_bytes", NULL};

int task_parse(json_t *root, const char *file, bench_task *t, bench_err *e)
{
    if (!json_is_object(root)) {
        bench_seterr(e,
                     "%s: the top level must be a JSON object, not %s; "
                     "fix: start from `sandbox-bench new-task NAME`",
                     file, json_kind(root));
        return -1;
    }
    if (check_known(root, file, "", TASK_FIELDS, e) != 0)
        return -1;
    if (get_string(root, file, "name",
                   "set it to the task's directory "
                   "name, e.g. \"sandbox\"",
                   1, &t->name, e) != 0)
        return -1;
    if (!valid_name(t->name)) {
        bench_seterr(e,
                     "%s: field \"name\" is \"%s\"; fix: use only "
                     "letters, digits, '.', '_' and '-'",
                     file, t->name);
        return -1;
    }
    if (get_string(root, file, "language",
                   "name the language the "
                   "implementer must use, e.g. \"python\"",
                   1, &t->language, e) != 0)
        return -1;

    json_t *eps = json_object_get(root, "entrypoints");
    json_t *ep1 = json_object_get(root, "entrypoint");
    const char *epfix = "list the files the implementer must produce, "
                        "e.g. \"entrypoints\": [\"sandbox.py\"]";
    if (eps && ep1) {
        bench_seterr(e,
                     "%s: both \"entrypoint\" and \"entrypoints\" are "
                     "set; fix: keep only \"entrypoints\"",
                     file);
        return -1;
    }
    if (ep1) {
        if (!json_is_string(ep1) || json_string_length(ep1) == 0) {
            bench_seterr(e,
                         "%s: field \"entrypoint\" must be a non-empty "
                         "string, not %s; fix: %s",
                         file, json_kind(ep1), epfix);
            return -1;
        }
        t->entrypoints = xcalloc(1, sizeof *t->entrypoints);
        t->entrypoints[0] = xstrdup(json_string_value(ep1));
        t->n_entrypoints = 1;
    } else if (!eps) {
        bench_seterr(e, "%s: missing field \"entrypoints\"; fix: %s", file,
                     epfix);
        return -1;
    } else if (get_strv(eps, file, "entrypoints", epfix, &t->entrypoints,
                        &t->n_entrypoints, e) != 0) {
        return -1;
    }
    for (size_t i = 0; i < t->n_entrypoints; i++) {
        if (!safe_relpath(t->entrypoints[i])) {
            bench_seterr(e,
                         "%s: field \"entrypoints[%zu]\" is \"%s\"; fix: "
                         "use a relative path without \"..\", e.g. "
                         "\"sandbox.py\"",
                         file, i, t->entrypoints[i]);
            return -1;
        }
    }

    if (get_string(root, file, "image",
                   "name a local image holding the "
                   "test runner, e.g. \"libsandbox-python:latest\"",
                   1, &t->image, e) != 0)
        return -1;
    if (get_string(root, file, "test_command",
                   "give the command run as "
                   "`sh -c` in /workspace, e.g. \"python3 -m pytest -q "
                   "/eval/tests --junitxml=/workspace/.bench/junit.xml\"",
                   1, &t->test_command, e) != 0)
        return -1;
    t->tests_mount = xstrdup("/eval/tests");
    if (get_string(root, file, "tests_mount",
                   "give an absolute path such "
                   "as \"/eval/tests\"",
                   0, &t->tests_mount, e) != 0)
        return -1;
    if (t->tests_mount[0] != '/' || !strcmp(t->tests_mount, "/") ||
        !strncmp(t->tests_mount, "/workspace", 10)) {
        bench_seterr(e,
                     "%s: field \"tests_mount\" is \"%s\"; fix: use an "
                     "absolute path outside /workspace, e.g. \"/eval/tests\"",
                     file, t->tests_mount);
        return -1;
    }
    if (get_string(root, file, "report",
                   "give the JUnit XML path relative "
                   "to /workspace that test_command writes, e.g. "
                   "\".bench/junit.xml\"",
                   1, &t->report, e) != 0)
        return -1;
    if (!safe_relpath(t->report)) {
        bench_seterr(e,
                     "%s: field \"report\" is \"%s\"; fix: give a path "
                     "relative to /workspace without \"..\", e.g. "
                     "\".bench/junit.xml\"",
                     file, t->report);
        return -1;
    }

    t->isolation = xstrdup("single-box");
    if (get_string(root, file, "isolation",
                   "write \"two-box\" (the runner and the candidate in "
                   "separate boxes, see docs/bench.md) or \"single-box\"",
                   0, &t->isolation, e) != 0)
        return -1;
    if (strcmp(t->isolation, "two-box") && strcmp(t->isolation, "single-box")) {
        bench_seterr(e,
                     "%s: field \"isolation\" is \"%s\"; fix: write "
                     "\"two-box\" (the verdict outside the candidate's "
                     "reach) or \"single-box\" (trusted candidates only)",
                     file, t->isolation);
        return -1;
    }
    t->manifest = xstrdup("MANIFEST");
    if (get_string(root, file, "manifest",
                   "give the test-id list's path relative to tests/, "
                   "e.g. \"MANIFEST\"",
                   0, &t->manifest, e) != 0)
        return -1;
    if (!safe_relpath(t->manifest)) {
        bench_seterr(e,
                     "%s: field \"manifest\" is \"%s\"; fix: give a path "
                     "inside tests/, e.g. \"MANIFEST\"",
                     file, t->manifest);
        return -1;
    }

    json_t *env = json_object_get(root, "env");
    if (env) {
        const char *fix = "give a list of \"NAME=VALUE\" strings";
        if (get_strv(env, file, "env", fix, &t->env, &t->n_env, e) != 0)
            return -1;
        for (size_t i = 0; i < t->n_env; i++) {
            const char *eq = strchr(t->env[i], '=');
            if (!eq || eq == t->env[i]) {
                bench_seterr(e, "%s: field \"env[%zu]\" is \"%s\"; fix: %s",
                             file, i, t->env[i], fix);
                return -1;
            }
        }
    }

    /* limits */
    json_t *lim = json_object_get(root, "limits");
    if (!lim) {
        bench_seterr(e,
                     "%s: missing field \"limits\"; fix: add \"limits\": "
                     "{\"timeout_sec\": 300, \"memory\": \"1g\", \"pids\": "
                     "256}",
                     file);
        return -1;
    }
    if (!json_is_object(lim)) {
        bench_seterr(e,
                     "%s: field \"limits\" must be an object, not %s; "
                     "fix: \"limits\": {\"timeout_sec\": 300, \"memory\": "
                     "\"1g\", \"pids\": 256}",
                     file, json_kind(lim));
        return -1;
    }
    if (check_known(lim, file, "limits.", LIMIT_FIELDS, e) != 0)
        return -1;
    bench_limits *L = &t->limits;
    L->cpus = SANDBOX_DEFAULT_CPUS;
    L->output_limit = SANDBOX_DEFAULT_OUTPUT_LIMIT;
    L->flood_bytes = 16u << 20;
    if (get_number(lim, file, "limits.timeout_sec",
                   "give the wall-clock limit of "
                   "one test run in seconds, e.g. \"limits\": "
                   "{\"timeout_sec\": 300}",
                   1, &L->timeout_sec, e) != 0)
        return -1;
    if (get_string(lim, file, "limits.memory",
                   "give a size such as \"1g\" or "
                   "\"512m\" in \"limits\"",
                   1, &L->memory, e) != 0)
        return -1;
    long long pids = 0, ol = 0, fb = 0;
    if (!json_object_get(lim, "pids")) {
        bench_seterr(e,
                     "%s: missing field \"limits.pids\"; fix: add "
                     "\"pids\": 256 to \"limits\"",
                     file);
        return -1;
    }
    if (get_posint(lim, file, "limits.pids",
                   "give the process limit, "
                   "e.g. 256",
                   &pids, e) != 0)
        return -1;
    L->pids = (long)pids;
    if (get_number(lim, file, "limits.cpus", "give a CPU count such as 2.0", 0,
                   &L->cpus, e) != 0)
        return -1;
    if (get_posint(lim, file, "limits.output_limit",
                   "give the bytes of runner "
                   "output to keep, e.g. 50000",
                   &ol, e) != 0)
        return -1;
    if (ol)
        L->output_limit = (size_t)ol;
    if (get_posint(lim, file, "limits.flood_bytes",
                   "give the output size that "
                   "counts as a flood, e.g. 16777216",
                   &fb, e) != 0)
        return -1;
    if (fb)
        L->flood_bytes = (uint64_t)fb;

    /* Let libsandbox judge the limits it will apply. */
    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.command = t->test_command;
    o.image = t->image;
    o.memory = L->memory;
    o.pids = L->pids;
    o.timeout_sec = L->timeout_sec;
    o.cpus = L->cpus;
    char *msg = NULL;
    if (sandbox_opts_validate(&o, &msg) != 0) {
        bench_seterr(e,
                     "%s: \"limits\" rejected by libsandbox: %s; fix: "
                     "correct that value (memory like \"1g\", pids and "
                     "timeout_sec > 0)",
                     file, msg ? msg : "invalid");
        sandbox_free(msg);
        return -1;
    }
    return 0;
}

void task_free(bench_task *t)
{
    if (!t)
        return;
    free(t->dir);
    free(t->name);
    free(t->language);
    free_strv(t->entrypoints, t->n_entrypoints);
    free(t->image);
    free(t->test_command);
    free(t->tests_dir);
    free(t->tests_mount);
    free(t->report);
    free(t->isolation);
    free(t->manifest);
    free_strv(t->tests, t->n_tests);
    free_strv(t->env, t->n_env);
    free(t->limits.memory);
    memset(t, 0, sizeof *t);
}

static const char *const TASK_FILES[] = {
    "PROMPT.md", "SPEC.md", "JUDGE_PROMPT.md", "JUDGE_RUBRIC.md", NULL};

int task_load(const char *dir, bench_task *t, bench_err *e)
{
    return task_load_opt(dir, 1, t, e);
}

int task_load_opt(const char *dir, int need_manifest, bench_task *t,
                  bench_err *e)
{
    memset(t, 0, sizeof *t);
    char *abs = path_abs(dir);
    if (!abs || !path_is_dir(abs)) {
        bench_seterr(e,
                     "%s: no such task directory; fix: pass the task's "
                     "directory (e.g. bench/tasks/sandbox) or create one "
                     "with `sandbox-bench new-task NAME`",
                     dir);
        free(abs);
        return -1;
    }
    for (size_t i = 0; TASK_FILES[i]; i++) {
        char *p = path_join(abs, TASK_FILES[i]);
        int ok = path_is_file(p);
        free(p);
        if (!ok) {
            bench_seterr(e,
                         "%s/%s: missing; fix: every task needs "
                         "PROMPT.md, SPEC.md, JUDGE_PROMPT.md, "
                         "JUDGE_RUBRIC.md, task.json and tests/",
                         abs, TASK_FILES[i]);
            free(abs);
            return -1;
        }
    }
    char *tests = path_join(abs, "tests");
    if (!path_is_dir(tests)) {
        bench_seterr(e,
                     "%s: missing; fix: put the hidden test suite in the "
                     "task's tests/ directory",
                     tests);
        free(tests);
        free(abs);
        return -1;
    }
    char *file = path_join(abs, "task.json");
    json_error_t je;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (!path_is_file(file))
            bench_seterr(e,
                         "%s: missing; fix: create it (see "
                         "`sandbox-bench new-task`)",
                         file);
        else
            bench_seterr(e,
                         "%s:%d:%d: not valid JSON: %s; fix: correct the "
                         "syntax there",
                         file, je.line, je.column, je.text);
        free(file);
        free(tests);
        free(abs);
        return -1;
    }
    int rc = task_parse(root, file, t, e);
    json_decref(root);
    free(file);
    if (rc != 0) {
        free(tests);
        free(abs);
        task_free(t);
        return -1;
    }
    t->dir = abs;
    t->tests_dir = tests;
    /* The trusted test list: denominators come from it alone. */
    if (!need_manifest)
        return 0;
    char *mpath = path_join(tests, t->manifest);
    rc = manifest_load(mpath, &t->tests, &t->n_tests, e);
    free(mpath);
    if (rc != 0) {
        task_free(t);
        return -1;
    }
    return 0;
}

/* ---- config.json ------------------------------------------------------- */

static const char *const CONFIG_FIELDS[] = {"implementers", "expert_judges",
                                            "command",      "timeout_sec",
                                            "usage_file",   "transcript",
                                            "sandbox",      "judge_command",
                                            "network",      NULL};
static const char *const SANDBOX_FIELDS[] = {"enabled", "image", "network",
                                             "memory",  "pids",  NULL};

static int parse_models(json_t *v, const char *file, const char *field,
                        int required, bench_model **out, size_t *n,
                        bench_err *e)
{
    const char *fix = "list models as {\"name\": \"kimi\", \"slug\": "
                      "\"provider/model-id\"} objects (or plain name "
                      "strings when name and slug are the same)";
    if (!v) {
        if (!required)
            return 0;
        bench_seterr(e, "%s: missing field \"%s\"; fix: %s", file, field, fix);
        return -1;
    }
    if (!json_is_array(v) || (required && json_array_size(v) == 0)) {
        bench_seterr(e, "%s: field \"%s\" must be a%s array, not %s; fix: %s",
                     file, field, required ? " non-empty" : "n",
                     json_is_array(v) ? "an empty array" : json_kind(v), fix);
        return -1;
    }
    size_t cnt = json_array_size(v);
    bench_model *m = xcalloc(cnt, sizeof *m);
    *out = m;
    *n = 0;
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(v, i);
        if (json_is_string(x)) {
            m[i].name = xstrdup(json_string_value(x));
            m[i].slug = xstrdup(json_string_value(x));
        } else if (json_is_object(x)) {
            json_t *nm = json_object_get(x, "name");
            json_t *sl = json_object_get(x, "slug");
            if (!json_is_string(nm) || !json_is_string(sl)) {
                bench_seterr(e,
                             "%s: field \"%s[%zu]\" needs string \"name\" "
                             "and \"slug\"; fix: %s",
                             file, field, i, fix);
                *n = i;
                return -1;
            }
            m[i].name = xstrdup(json_string_value(nm));
            m[i].slug = xstrdup(json_string_value(sl));
            json_t *rk = json_object_get(x, "risk");
            if (rk) {
                const char *r = json_string_value(rk);
                if (!r || risk_tier_parse(r) < 0) {
                    bench_seterr(e,
                                 "%s: field \"%s[%zu].risk\" must be "
                                 "\"low\", \"medium\" or \"high\"; fix: "
                                 "give the model's risk tier (docs/bench.md, "
                                 "\"Risk tiers\")",
                                 file, field, i);
                    *n = i + 1;
                    return -1;
                }
                m[i].risk = xstrdup(r);
            }
        } else {
            bench_seterr(e, "%s: field \"%s[%zu]\" is %s; fix: %s", file, field,
                         i, json_kind(x), fix);
            *n = i;
            return -1;
        }
        *n = i + 1;
        if (!valid_name(m[i].name)) {
            bench_seterr(e,
                         "%s: field \"%s[%zu].name\" is \"%s\"; fix: use "
                         "only letters, digits, '.', '_' and '-' (it becomes "
                         "a directory name)",
                         file, field, i, m[i].name);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(m[j].name, m[i].name)) {
                bench_seterr(e,
                             "%s: field \"%s\" names \"%s\" twice; fix: "
                             "give every model a distinct name",
                             file, field, m[i].name);
                return -1;
            }
        }
    }
    return 0;
}

static void free_models(bench_model *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].name);
        free(m[i].slug);
        free(m[i].risk);
    }
    free(m);
}

/* "network": {"allow": ["api.example.com:443", ...]}: the model boxes
 * (implementers, judges) get network allowlist with these destinations
 * (docs/network.md); entries are checked here, before anything runs. */
static int config_parse_network(json_t *root, const char *file, bench_config *c,
                                bench_err *e)
{
    const char *fix = "write \"network\": {\"allow\": "
                      "[\"api.example.com:443\"]}";
    json_t *net = json_object_get(root, "network");
    if (!net)
        return 0;
    json_t *allow = json_is_object(net) ? json_object_get(net, "allow") : NULL;
    if (!allow || !json_is_array(allow) || json_object_size(net) != 1) {
        bench_seterr(e,
                     "%s: field \"network\" must be an object with one "
                     "array \"allow\"; fix: %s",
                     file, fix);
        return -1;
    }
    size_t n = json_array_size(allow);
    c->net_allow = xcalloc(n + 1, sizeof *c->net_allow);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(allow, i);
        if (!json_is_string(v)) {
            bench_seterr(e, "%s: network.allow[%zu] must be a string; fix: %s",
                         file, i, fix);
            return -1;
        }
        c->net_allow[c->n_net_allow++] = xstrdup(json_string_value(v));
    }
    sandbox_opts o;
    char *msg = NULL;
    sandbox_opts_init(&o, sizeof o);
    o.command = "true";
    o.network = SANDBOX_NETWORK_ALLOWLIST;
    o.allow = (const char *const *)c->net_allow;
    o.n_allow = c->n_net_allow;
    if (sandbox_opts_validate(&o, &msg) < 0) {
        bench_seterr(e, "%s: \"network\": %s", file, msg ? msg : "invalid");
        sandbox_free(msg);
        return -1;
    }
    c->sandbox_network = SANDBOX_NETWORK_ALLOWLIST;
    return 0;
}

int config_parse(json_t *root, const char *file, bench_config *c, bench_err *e)
{
    if (!json_is_object(root)) {
        bench_seterr(e,
                     "%s: the top level must be a JSON object, not %s; "
                     "fix: start from bench/config.example.json",
                     file, json_kind(root));
        return -1;
    }
    if (check_known(root, file, "", CONFIG_FIELDS, e) != 0)
        return -1;
    json_decref(c->raw);
    c->raw = json_incref(root);
    if (parse_models(json_object_get(root, "implementers"), file,
                     "implementers", 1, &c->implementers, &c->n_implementers,
                     e) != 0)
        return -1;
    if (parse_models(json_object_get(root, "expert_judges"), file,
                     "expert_judges", 0, &c->judges, &c->n_judges, e) != 0)
        return -1;
    for (size_t i = 0; i < c->n_judges; i++) {
        for (size_t j = 0; j < c->n_implementers; j++) {
            if (!strcmp(c->judges[i].name, c->implementers[j].name)) {
                bench_seterr(e,
                             "%s: \"%s\" is in both \"implementers\" and "
                             "\"expert_judges\"; fix: an expert judge must "
                             "not judge its own work, remove it from one "
                             "list",
                             file, c->judges[i].name);
                return -1;
            }
        }
    }
    json_t *cmd = json_object_get(root, "command");
    const char *cfix = "give the model command as an argv array, e.g. "
                       "[\"opencode\", \"run\", \"--model\", \"{slug}\", "
                       "\"{prompt}\"] (placeholders: {prompt_file} "
                       "{spec_file} {prompt} {workdir} {model} {slug} {task} "
                       "{entrypoint} {entrypoints} {run_dir})";
    if (!cmd) {
        bench_seterr(e, "%s: missing field \"command\"; fix: %s", file, cfix);
        return -1;
    }
    if (get_strv(cmd, file, "command", cfix, &c->command, &c->n_command, e) !=
        0)
        return -1;
    /* Every placeholder must be known: expand with dummy values. */
    size_t nk = 0;
    while (TEMPLATE_KEYS[nk])
        nk++;
    const char **vals = xcalloc(nk, sizeof *vals);
    for (size_t i = 0; i < nk; i++)
        vals[i] = "x";
    for (size_t i = 0; i < c->n_command; i++) {
        bench_err te;
        char *s = template_expand(c->command[i], TEMPLATE_KEYS, vals, nk, &te);
        if (!s) {
            bench_seterr(e, "%s: field \"command[%zu]\": %s; fix: %s", file, i,
                         te.msg, cfix);
            free(vals);
            return -1;
        }
        free(s);
    }
    free(vals);
    c->timeout_sec = 3600;
    if (get_number(root, file, "timeout_sec",
                   "give the model command's "
                   "wall-clock limit in seconds, e.g. 3600",
                   0, &c->timeout_sec, e) != 0)
        return -1;
    if (get_string(root, file, "usage_file",
                   "name a JSON file the command "
                   "leaves in the worktree, e.g. \"usage.json\"",
                   0, &c->usage_file, e) != 0)
        return -1;
    if (get_string(root, file, "transcript",
                   "name the transcript file the "
                   "command leaves in the worktree, e.g. \"transcript.md\"",
                   0, &c->transcript, e) != 0)
        return -1;
    if (c->usage_file && !safe_relpath(c->usage_file)) {
        bench_seterr(e,
                     "%s: field \"usage_file\" is \"%s\"; fix: give a "
                     "path relative to the worktree",
                     file, c->usage_file);
        return -1;
    }
    if (c->transcript && !safe_relpath(c->transcript)) {
        bench_seterr(e,
                     "%s: field \"transcript\" is \"%s\"; fix: give a "
                     "path relative to the worktree",
                     file, c->transcript);
        return -1;
    }
    c->sandbox_network = SANDBOX_NETWORK_BRIDGE;
    c->sandbox_pids = 1024;
    json_t *sb = json_object_get(root, "sandbox");
    if (sb) {
        if (!json_is_object(sb)) {
            bench_seterr(e,
                         "%s: field \"sandbox\" must be an object, not "
                         "%s; fix: \"sandbox\": {\"enabled\": true, "
                         "\"image\": \"my-agent-image\"}",
                         file, json_kind(sb));
            return -1;
        }
        if (check_known(sb, file, "sandbox.", SANDBOX_FIELDS, e) != 0)
            return -1;
        json_t *en = json_object_get(sb, "enabled");
        if (en && !json_is_boolean(en)) {
            bench_seterr(e,
                         "%s: field \"sandbox.enabled\" must be true or "
                         "false, not %s; fix: write true or false",
                         file, json_kind(en));
            return -1;
        }
        c->sandboxed = en ? json_is_true(en) : 1;
        if (get_string(sb, file, "sandbox.image",
                       "name the image holding the model "
                       "CLI, e.g. \"my-agent:latest\"",
                       c->sandboxed, &c->sandbox_image, e) != 0)
            return -1;
        char *net = NULL;
        if (get_string(sb, file, "sandbox.network",
                       "use \"bridge\" or \"none\"", 0, &net, e) != 0)
            return -1;
        if (net) {
            if (!strcmp(net, "bridge")) {
                c->sandbox_network = SANDBOX_NETWORK_BRIDGE;
            } else if (!strcmp(net, "none")) {
                c->sandbox_network = SANDBOX_NETWORK_NONE;
            } else {
                bench_seterr(e,
                             "%s: field \"sandbox.network\" is \"%s\"; "
                             "fix: use \"bridge\" (a model API needs it) or "
                             "\"none\"",
                             file, net);
                free(net);
                return -1;
            }
            free(net);
        }
        c->sandbox_memory = xstrdup("4g");
        if (get_string(sb, file, "sandbox.memory", "give a size such as \"4g\"",
                       0, &c->sandbox_memory, e) != 0)
            return -1;
        long long p = 0;
        if (get_posint(sb, file, "sandbox.pids",
                       "give a process limit, e.g. 1024", &p, e) != 0)
            return -1;
        if (p)
            c->sandbox_pids = (long)p;
    }
    return config_parse_network(root, file, c, e);
}

int config_load(const char *path, bench_config *c, bench_err *e)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (!path_is_file(path))
            bench_seterr(e,
                         "%s: no such config file; fix: copy "
                         "bench/config.example.json there and edit it, or "
                         "pass --config PATH",
                         path);
        else
            bench_seterr(e,
                         "%s:%d:%d: not valid JSON: %s; fix: correct the "
                         "syntax there",
                         path, je.line, je.column, je.text);
        return -1;
    }
    int rc = config_parse(root, path, c, e);
    json_decref(root);
    if (rc != 0) {
        config_free(c);
        return -1;
    }
    c->path = xstrdup(path);
    return 0;
}

void config_free(bench_config *c)
{
    if (!c)
        return;
    free(c->path);
    free_models(c->implementers, c->n_implementers);
    free_models(c->judges, c->n_judges);
    free_strv(c->command, c->n_command);
    free(c->usage_file);
    free(c->transcript);
    free(c->sandbox_image);
    free(c->sandbox_memory);
    free_strv(c->net_allow, c->n_net_allow);
    json_decref(c->raw);
    memset(c, 0, sizeof *c);
}

const bench_model *config_find(const bench_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_implementers; i++)
        if (!strcmp(c->implementers[i].name, name))
            return &c->implementers[i];
    return NULL;
}

/* ---- new-task ---------------------------------------------------------- */

static const char SCAFFOLD_TASK_JSON[] =
    "{\n"
    "  \"name\": \"%s\",\n"
    "  \"description\": \"One line: what the implementer builds.\",\n"
    "  \"language\": \"python\",\n"
    "  \"entrypoints\": [\"solution.py\"],\n"
    "  \"image\": \"libsandbox-python:latest\",\n"
    "  \"isolation\": \"two-box\",\n"
    "  \"test_command\": \"python3 -m pytest -q -p no:cacheprovider "
    "-o junit_family=xunit1 /eval/tests "
    "--junitxml=/workspace/.bench/junit.xml\",\n"
    "  \"tests_mount\": \"/eval/tests\",\n"
    "  \"report\": \".bench/junit.xml\",\n"
    "  \"env\": [\"PYTHONDONTWRITEBYTECODE=1\", \"HOME=/tmp\"],\n"
    "  \"limits\": {\"timeout_sec\": 300, \"memory\": \"1g\", \"pids\": 256, "
    "\"cpus\": 2.0}\n"
    "}\n";

static const char SCAFFOLD_CONFTEST[] =
    "# Hidden tests run in the RUNNER box; the candidate is in another box\n"
    "# and is reached only through sbcall (docs/bench.md, \"Writing a\n"
    "# suite\").  This directory is never visible to the candidate.\n";

static const char SCAFFOLD_TEST[] =
    "import sbcall\n"
    "\n"
    "\n"
    "def test_main_returns_zero():\n"
    "    assert sbcall.call(\"solution.main\", []) == 0\n";

static const char SCAFFOLD_MANIFEST[] =
    "# The suite's test ids (JUnit classname::name), one per line.  Only\n"
    "# these count; regenerate with `sandbox-bench manifest --task DIR`\n# (it "
    "collects them with no candidate).\n"
    "test_solution::test_main_returns_zero\n";

int task_scaffold(const char *tasks_root, const char *name, bench_err *e)
{
    if (!valid_name(name)) {
        bench_seterr(e,
                     "new-task: \"%s\" is not a valid task name; fix: use "
                     "only letters, digits, '.', '_' and '-'",
                     name);
        return -1;
    }
    char *dir = path_join(tasks_root, name);
    struct stat st;
    if (stat(dir, &st) == 0) {
        bench_seterr(e,
                     "%s: already exists; fix: choose another name or "
                     "remove it",
                     dir);
        free(dir);
        return -1;
    }
    char *tests = path_join(dir, "tests");
    int rc = mkdir_p(tests, e);
    struct {
        const char *rel;
        char *text;
    } files[] = {
        {"PROMPT.md", xasprintf("# Task: %s\n\nImplement `solution.py` as "
                                "specified in SPEC.md. Use only the "
                                "standard library.\n",
                                name)},
        {"SPEC.md", xasprintf("# %s: specification\n\nThe frozen contract: "
                              "every name, default, output byte and error "
                              "the hidden tests check.\n",
                              name)},
        {"JUDGE_PROMPT.md", xasprintf("# Judging %s\n\nYou review blinded "
                                      "implementations (A, B, C, ...) "
                                      "against SPEC.md. Fill JUDGE_RUBRIC.md "
                                      "once per implementation.\n",
                                      name)},
        {"JUDGE_RUBRIC.md", xasprintf("# Rubric: %s\n\n- Hard fail "
                                      "(pass/fail, reasons):\n- Spec "
                                      "compliance (0-10):\n- Code quality "
                                      "(clarity, conciseness, error "
                                      "handling, comments; 0-5 each):\n- "
                                      "Verdict (ship-with-cleanup / rewrite "
                                      "/ unusable):\n- One-line summary:\n",
                                      name)},
        {"task.json", xasprintf(SCAFFOLD_TASK_JSON, name)},
        {"tests/conftest.py", xstrdup(SCAFFOLD_CONFTEST)},
        {"tests/test_solution.py", xstrdup(SCAFFOLD_TEST)},
        {"tests/MANIFEST", xstrdup(SCAFFOLD_MANIFEST)},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (rc == 0) {
            char *p = path_join(dir, files[i].rel);
            rc = write_file(p, files[i].text, strlen(files[i].text), e);
            free(p);
        }
        free(files[i].text);
    }
    free(tests);
    free(dir);
    return rc;
}
