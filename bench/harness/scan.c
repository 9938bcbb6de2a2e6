/* SPDX-License-Identifier: MIT */
/*
 * scan.c: static artifact scanning of a candidate's files for attempts at
 * the test runner.  The flags are evidence for the review (and, from tier
 * medium up, a tie-break in the ranking); they never decide a test.  Each
 * finding names the flag, the file and the line.
 *
 *   runner-module   a file named like a module the runner imports:
 *                   pytest.py, conftest.py, sitecustomize.py,
 *                   usercustomize.py, *.pth, or inside pytest/, _pytest/
 *   runner-import   imports the runner's internals: pytest, _pytest,
 *                   pluggy, junit*, the harness client (sbcall, serve)
 *   atexit          registers exit hooks (atexit)
 *   os-exit         ends the interpreter abruptly (os._exit)
 *   report-path     names the report: junit.xml, .bench/, /bench/report
 *   tests-path      names the hidden tests' mount (tests_mount) or the
 *                   harness's paths (/bench/runner, /bench/ipc)
 *   introspection   reaches into the caller: sys._getframe, inspect.stack,
 *                   gc.get_objects, sys.modules, builtins
 */
#include "bench.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_MAX_FILE (1u << 20) /* bytes of one file scanned */
#define SCAN_MAX_FINDINGS 200

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int has_component(const char *rel, const char *comp)
{
    size_t n = strlen(comp);
    for (const char *p = rel; (p = strstr(p, comp)) != NULL; p++) {
        int start = p == rel || p[-1] == '/';
        if (start && p[n] == '/')
            return 1;
    }
    return 0;
}

/* Is `word` in line as a whole identifier-ish token? */
static int has_word(const char *line, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = line; (p = strstr(p, word)) != NULL; p++) {
        int before =
            p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (before && after)
            return 1;
    }
    return 0;
}

static const char *import_target(const char *line)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!strncmp(p, "import ", 7))
        return p + 7;
    if (!strncmp(p, "from ", 5))
        return p + 5;
    return NULL;
}

static int runner_import(const char *line)
{
    static const char *const mods[] = {"pytest", "_pytest", "pluggy", "sbcall",
                                       "serve",  "callee",  NULL};
    const char *t = import_target(line);
    if (t) {
        for (size_t i = 0; mods[i]; i++) {
            size_t n = strlen(mods[i]);
            for (const char *p = t; *p && *p != '#'; p++) {
                if (!strncmp(p, mods[i], n) &&
                    (p == t || p[-1] == ' ' || p[-1] == ',') &&
                    !(isalnum((unsigned char)p[n]) || p[n] == '_'))
                    return 1;
            }
        }
        if (strstr(t, "junit"))
            return 1;
    }
    /* __import__("pytest"), importlib.import_module("_pytest.runner") */
    if (strstr(line, "import_module(") || strstr(line, "__import__(")) {
        for (size_t i = 0; mods[i]; i++) {
            char q1[32], q2[32];
            snprintf(q1, sizeof q1, "\"%s", mods[i]);
            snprintf(q2, sizeof q2, "'%s", mods[i]);
            if (strstr(line, q1) || strstr(line, q2))
                return 1;
        }
    }
    return strstr(line, "_pytest.") != NULL;
}

static void add(json_t *findings, const char *flag, const char *file,
                size_t line, const char *text, size_t len)
{
    if (json_array_size(findings) >= SCAN_MAX_FINDINGS)
        return;
    if (len > 160)
        len = 160;
    char *t = xasprintf("%.*s", (int)len, text);
    json_t *f = json_pack("{s:s, s:s, s:I}", "flag", flag, "file", file, "line",
                          (json_int_t)line);
    /* keep the snippet valid UTF-8 for JSON: drop what is not ASCII */
    for (char *p = t; *p; p++)
        if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
            *p = '?';
    json_object_set_new(f, "text", json_string(t));
    free(t);
    json_array_append_new(findings, f);
}

void scan_text(const char *file, const char *data, size_t len,
               const char *tests_mount, json_t *findings)
{
    size_t lineno = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = xasprintf("%.*s", (int)ll, p);
        lineno++;
        if (runner_import(line))
            add(findings, "runner-import", file, lineno, p, ll);
        if (has_word(line, "atexit"))
            add(findings, "atexit", file, lineno, p, ll);
        if (strstr(line, "os._exit") || strstr(line, "posix._exit"))
            add(findings, "os-exit", file, lineno, p, ll);
        if (strstr(line, "junit.xml") || strstr(line, "junitxml") ||
            strstr(line, ".bench/") || strstr(line, "/bench/report"))
            add(findings, "report-path", file, lineno, p, ll);
        if ((tests_mount && *tests_mount && strstr(line, tests_mount)) ||
            strstr(line, "/bench/runner") || strstr(line, "/bench/ipc") ||
            strstr(line, "/eval/"))
            add(findings, "tests-path", file, lineno, p, ll);
        if (strstr(line, "sys._getframe") || strstr(line, "inspect.stack") ||
            strstr(line, "gc.get_objects") || strstr(line, "sys.modules") ||
            has_word(line, "builtins") || has_word(line, "__builtins__"))
            add(findings, "introspection", file, lineno, p, ll);
        free(line);
        p = nl ? nl + 1 : end;
    }
}

int scan_candidate(const char *dir, const char *tests_mount, json_t **out,
                   bench_err *e)
{
    char **files = NULL;
    size_t n = 0;
    if (list_files(dir, NULL, &files, &n, e) != 0)
        return -1;
    json_t *findings = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *rel = files[i], *b = base_name(rel);
        if (!strcmp(b, "pytest.py") || !strcmp(b, "conftest.py") ||
            !strcmp(b, "sitecustomize.py") || !strcmp(b, "usercustomize.py") ||
            ends_with(b, ".pth") || has_component(rel, "pytest") ||
            has_component(rel, "_pytest") || !strcmp(b, "sbcall.py"))
            add(findings, "runner-module", rel, 0, b, strlen(b));
        char *full = path_join(dir, rel);
        char *data = NULL;
        size_t len = 0;
        bench_err e2;
        if (read_file(full, &data, &len, &e2) == 0) {
            if (len > SCAN_MAX_FILE)
                len = SCAN_MAX_FILE;
            if (!memchr(data, '\0', len))
                scan_text(rel, data, len, tests_mount, findings);
            free(data);
        }
        free(full);
    }
    free_strv(files, n);
    *out = findings;
    return 0;
}

json_t *scan_flags(json_t *findings)
{
    static const char *const order[] = {
        "runner-module", "runner-import", "atexit",        "os-exit",
        "report-path",   "tests-path",    "introspection", NULL};
    json_t *flags = json_array();
    for (size_t k = 0; order[k]; k++) {
        size_t i;
        json_t *f;
        json_array_foreach(findings, i, f)
        {
            if (!strcmp(json_string_value(json_object_get(f, "flag")),
                        order[k])) {
                json_array_append_new(flags, json_string(order[k]));
                break;
            }
        }
    }
    return flags;
}
