/* SPDX-License-Identifier: MIT */
/*
 * scores.c: strict validation of one judge's <label>_scores.json.
 *
 * Every problem is reported (not just the first) with the judge, the label
 * and the field; a file with any problem counts as "no valid scores".
 * Booleans are not numbers, 7.0 is not an integer, and a field that is
 * missing, unknown or out of range is an error.
 */
#include "judging.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const VERDICT_NAMES[] = {"ship-with-cleanup", "rewrite", "unusable",
                                     NULL};
const char *const QUALITY_KEYS[] = {"clarity", "conciseness", "error_handling",
                                    "comments", NULL};

static const char *const SCORE_FIELDS[] = {
    "hard_fail",        "hard_fail_reasons",
    "spec_compliance",  "spec_compliance_notes",
    "code_quality",     "verdict",
    "one_line_summary", NULL};

void problems_add(problem_list *pl, const char *judge, const char *label,
                  const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pl->v = xrealloc(pl->v, (pl->n + 1) * sizeof *pl->v);
    score_problem *p = &pl->v[pl->n++];
    p->judge = xstrdup(judge ? judge : "-");
    p->label = xstrdup(label ? label : "-");
    p->field = xstrdup(field ? field : "-");
    p->message = xstrdup(buf);
}

void problems_free(problem_list *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        free(pl->v[i].judge);
        free(pl->v[i].label);
        free(pl->v[i].field);
        free(pl->v[i].message);
    }
    free(pl->v);
    pl->v = NULL;
    pl->n = 0;
}

static const char *kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction part";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* An integer in [lo, hi]; booleans and reals are rejected. */
static int get_int(json_t *obj, const char *key, const char *field, int lo,
                   int hi, const char *judge, const char *label,
                   problem_list *pl, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        problems_add(pl, judge, label, field,
                     "missing; fix: add \"%s\": an integer from %d to %d", key,
                     lo, hi);
        return -1;
    }
    if (!json_is_integer(v)) {
        problems_add(pl, judge, label, field,
                     "is %s, not an integer; fix: write a whole number "
                     "from %d to %d",
                     kind(v), lo, hi);
        return -1;
    }
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        problems_add(pl, judge, label, field,
                     "is %lld, out of range; fix: use %d to %d", (long long)x,
                     lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int get_strings(json_t *obj, const char *key, const char *judge,
                       const char *label, problem_list *pl)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        problems_add(pl, judge, label, key,
                     "missing; fix: add \"%s\": [] (a list of strings)", key);
        return -1;
    }
    if (!json_is_array(v)) {
        problems_add(pl, judge, label, key,
                     "is %s, not an array; fix: a list of strings", kind(v));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_string(x)) {
            char f[64];
            snprintf(f, sizeof f, "%s[%zu]", key, i);
            problems_add(pl, judge, label, f,
                         "is %s, not a string; fix: write each item as a "
                         "string",
                         kind(x));
            rc = -1;
        }
    }
    return rc;
}

static int one_of(const char *s, const char *const *set)
{
    for (int i = 0; set[i]; i++)
        if (!strcmp(s, set[i]))
            return i;
    return -1;
}

static void unknown_fields(json_t *obj, const char *const *known,
                           const char *prefix, const char *judge,
                           const char *label, problem_list *pl)
{
    /* Sorted, so the problems come out in a stable order. */
    size_t n = json_object_size(obj), k = 0;
    const char **keys = xcalloc(n ? n : 1, sizeof *keys);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (one_of(key, known) < 0)
            keys[k++] = key;
    }
    for (size_t i = 0; i + 1 < k; i++)
        for (size_t j = i + 1; j < k; j++)
            if (strcmp(keys[i], keys[j]) > 0) {
                const char *t = keys[i];
                keys[i] = keys[j];
                keys[j] = t;
            }
    for (size_t i = 0; i < k; i++) {
        char f[256];
        snprintf(f, sizeof f, "%s%s", prefix, keys[i]);
        problems_add(pl, judge, label, f,
                     "unknown field; fix: remove it (the shape is fixed, "
                     "see JUDGE_PROMPT.md)");
    }
    free(keys);
}

int scores_parse(json_t *root, const char *judge, const char *label,
                 judge_scores *s, problem_list *pl)
{
    size_t before = pl->n;
    if (!json_is_object(root)) {
        problems_add(pl, judge, label, "(file)",
                     "the top level is %s, not an object; fix: write the "
                     "object shown in JUDGE_PROMPT.md",
                     kind(root));
        return -1;
    }
    unknown_fields(root, SCORE_FIELDS, "", judge, label, pl);
    judge_scores r;
    memset(&r, 0, sizeof r);

    json_t *hf = json_object_get(root, "hard_fail");
    if (!hf)
        problems_add(pl, judge, label, "hard_fail",
                     "missing; fix: add \"hard_fail\": \"pass\" or \"fail\"");
    else if (!json_is_string(hf) || (strcmp(json_string_value(hf), "pass") &&
                                     strcmp(json_string_value(hf), "fail")))
        problems_add(pl, judge, label, "hard_fail",
                     "is %s%s%s; fix: write \"pass\" or \"fail\"",
                     json_is_string(hf) ? "\"" : kind(hf),
                     json_is_string(hf) ? json_string_value(hf) : "",
                     json_is_string(hf) ? "\"" : "");
    else
        r.hard_fail = !strcmp(json_string_value(hf), "fail");

    if (get_strings(root, "hard_fail_reasons", judge, label, pl) == 0 && hf &&
        json_is_string(hf) && r.hard_fail &&
        json_array_size(json_object_get(root, "hard_fail_reasons")) == 0)
        problems_add(pl, judge, label, "hard_fail_reasons",
                     "is empty although hard_fail is \"fail\"; fix: list "
                     "the reasons (with line numbers)");
    get_int(root, "spec_compliance", "spec_compliance", 0, 10, judge, label, pl,
            &r.spec);
    get_strings(root, "spec_compliance_notes", judge, label, pl);

    json_t *cq = json_object_get(root, "code_quality");
    if (!cq) {
        problems_add(pl, judge, label, "code_quality",
                     "missing; fix: add \"code_quality\": {\"clarity\", "
                     "\"conciseness\", \"error_handling\", \"comments\"}, "
                     "0-5 each");
    } else if (!json_is_object(cq)) {
        problems_add(pl, judge, label, "code_quality",
                     "is %s, not an object; fix: {\"clarity\": 0-5, "
                     "\"conciseness\": 0-5, \"error_handling\": 0-5, "
                     "\"comments\": 0-5}",
                     kind(cq));
    } else {
        unknown_fields(cq, QUALITY_KEYS, "code_quality.", judge, label, pl);
        for (int i = 0; QUALITY_KEYS[i]; i++) {
            char f[64];
            snprintf(f, sizeof f, "code_quality.%s", QUALITY_KEYS[i]);
            if (get_int(cq, QUALITY_KEYS[i], f, 0, 5, judge, label, pl,
                        &r.quality[i]) == 0)
                r.quality_total += r.quality[i];
        }
    }

    json_t *vd = json_object_get(root, "verdict");
    if (!vd)
        problems_add(pl, judge, label, "verdict",
                     "missing; fix: add \"verdict\": \"ship-with-cleanup\", "
                     "\"rewrite\" or \"unusable\"");
    else if (!json_is_string(vd) ||
             (r.verdict = one_of(json_string_value(vd), VERDICT_NAMES)) < 0)
        problems_add(pl, judge, label, "verdict",
                     "is %s%s%s; fix: write \"ship-with-cleanup\", "
                     "\"rewrite\" or \"unusable\"",
                     json_is_string(vd) ? "\"" : kind(vd),
                     json_is_string(vd) ? json_string_value(vd) : "",
                     json_is_string(vd) ? "\"" : "");

    json_t *sm = json_object_get(root, "one_line_summary");
    if (!sm)
        problems_add(pl, judge, label, "one_line_summary",
                     "missing; fix: add one sentence");
    else if (!json_is_string(sm) || json_string_length(sm) == 0)
        problems_add(pl, judge, label, "one_line_summary",
                     "is %s; fix: write one non-empty sentence",
                     json_is_string(sm) ? "empty" : kind(sm));

    if (pl->n != before)
        return -1;
    r.hard_fail_reasons =
        json_incref(json_object_get(root, "hard_fail_reasons"));
    r.spec_notes = json_incref(json_object_get(root, "spec_compliance_notes"));
    r.summary = xstrdup(json_string_value(sm));
    *s = r;
    return 0;
}

int scores_load(const char *path, const char *judge, const char *label,
                judge_scores *s, problem_list *pl)
{
    if (!path_is_file(path)) {
        problems_add(pl, judge, label, "(file)",
                     "%s_scores.json is missing; fix: the judge must write "
                     "it into output/",
                     label);
        return -1;
    }
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        problems_add(pl, judge, label, "(file)",
                     "not valid JSON at line %d, column %d: %s; fix: write "
                     "one JSON object",
                     je.line, je.column, je.text);
        return -1;
    }
    int rc = scores_parse(root, judge, label, s, pl);
    json_decref(root);
    return rc;
}

void scores_free(judge_scores *s)
{
    json_decref(s->hard_fail_reasons);
    json_decref(s->spec_notes);
    free(s->summary);
    memset(s, 0, sizeof *s);
}

void scores_unknown_labels(const char *dir, const char *judge,
                           char *const *labels, size_t n, problem_list *pl)
{
    char **files = NULL;
    size_t nf = 0;
    bench_err ig;
    if (!path_is_dir(dir) || list_files(dir, NULL, &files, &nf, &ig) != 0)
        return;
    static const char suffix[] = "_scores.json";
    for (size_t i = 0; i < nf; i++) {
        size_t l = strlen(files[i]), sl = sizeof suffix - 1;
        if (l < sl || strcmp(files[i] + l - sl, suffix))
            continue;
        char *lab = xasprintf("%.*s", (int)(l - sl), files[i]);
        int known = 0;
        for (size_t k = 0; k < n; k++)
            if (!strcmp(labels[k], lab))
                known = 1;
        if (!known)
            problems_add(pl, judge, lab, "(file)",
                         "%s is not a label of this packet; fix: score only "
                         "the labels listed in README.md",
                         files[i]);
        free(lab);
    }
    free_strv(files, nf);
}
