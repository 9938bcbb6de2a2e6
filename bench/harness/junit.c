/* SPDX-License-Identifier: MIT */
/*
 * junit.c: read a JUnit XML report (pytest --junitxml, ctest
 * --output-junit, go-junit-report, ...) into per-test verdicts with
 * libxml2.  Every <testcase> anywhere under <testsuites>/<testsuite> counts,
 * however deeply suites nest.  No network, no entity expansion.
 */
#include "bench.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

const char *test_verdict_name(int v)
{
    switch (v) {
    case TV_PASSED: return "passed";
    case TV_FAILED: return "failed";
    case TV_ERROR: return "error";
    case TV_SKIPPED: return "skipped";
    case TV_UNVERIFIED: return "unverified";
    default: return "missing";
    }
}

void junit_global_init(void)
{
    xmlInitParser();
}

void junit_global_cleanup(void)
{
    xmlCleanupParser();
}

static int is_elem(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static char *attr(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = xstrdup((const char *)v);
    xmlFree(v);
    return s;
}

/* The message of a <failure>/<error>/<skipped>: its attribute, else the
 * first line of its text; at most 300 bytes, cut on a UTF-8 boundary. */
static char *outcome_message(xmlNode *n)
{
    char *m = attr(n, "message");
    if (!m || !*m) {
        free(m);
        xmlChar *t = xmlNodeGetContent(n);
        m = xstrdup(t ? (const char *)t : "");
        xmlFree(t);
        while (m[0] == '\n')
            memmove(m, m + 1, strlen(m));
        char *nl = strchr(m, '\n');
        if (nl)
            *nl = '\0';
    }
    size_t len = strlen(m);
    if (len > 300) {
        size_t cut = 300;
        while (cut > 0 && ((unsigned char)m[cut] & 0xC0) == 0x80)
            cut--;
        m[cut] = '\0';
    }
    return m;
}

static void add_case(junit_report *r, xmlNode *tc, size_t *cap)
{
    if (r->n_cases == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        r->cases = xrealloc(r->cases, *cap * sizeof *r->cases);
    }
    junit_case *c = &r->cases[r->n_cases++];
    memset(c, 0, sizeof *c);
    c->name = attr(tc, "name");
    if (!c->name)
        c->name = xstrdup("(unnamed)");
    c->classname = attr(tc, "classname");
    if (c->classname && *c->classname)
        c->id = xasprintf("%s::%s", c->classname, c->name);
    else
        c->id = xstrdup(c->name);
    char *t = attr(tc, "time");
    c->time_sec = t ? strtod(t, NULL) : 0.0;
    free(t);
    c->verdict = TV_PASSED;
    for (xmlNode *k = tc->children; k; k = k->next) {
        int v = -1;
        if (is_elem(k, "failure"))
            v = TV_FAILED;
        else if (is_elem(k, "error"))
            v = TV_ERROR;
        else if (is_elem(k, "skipped"))
            v = TV_SKIPPED;
        /* error beats failure beats skipped (pytest can emit a failure and
         * a teardown error on one case). */
        if (v < 0)
            continue;
        int rank_new = v == TV_ERROR ? 3 : v == TV_FAILED ? 2 : 1;
        int rank_old = c->verdict == TV_ERROR     ? 3
                       : c->verdict == TV_FAILED  ? 2
                       : c->verdict == TV_SKIPPED ? 1
                                                  : 0;
        if (rank_new > rank_old) {
            c->verdict = v;
            free(c->message);
            c->message = outcome_message(k);
        }
    }
    switch (c->verdict) {
    case TV_PASSED: r->passed++; break;
    case TV_FAILED: r->failed++; break;
    case TV_ERROR: r->errors++; break;
    default: r->skipped++; break;
    }
}

static void walk(junit_report *r, xmlNode *n, size_t *cap)
{
    for (; n; n = n->next) {
        if (is_elem(n, "testcase"))
            add_case(r, n, cap);
        else if (n->type == XML_ELEMENT_NODE)
            walk(r, n->children, cap);
    }
}

int junit_parse_memory(const char *data, size_t len, junit_report *r,
                       bench_err *e)
{
    memset(r, 0, sizeof *r);
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' ||
                       data[i] == '\r'))
        i++;
    if (i == len) {
        bench_seterr(e, "the JUnit report is empty");
        return -1;
    }
    if (len > INT_MAX) {
        bench_seterr(e, "the JUnit report is too large (%zu bytes)", len);
        return -1;
    }
    xmlParserCtxtPtr ctx = xmlNewParserCtxt();
    if (!ctx) {
        bench_seterr(e, "libxml2: cannot allocate a parser");
        return -1;
    }
    xmlDocPtr doc = xmlCtxtReadMemory(ctx, data, (int)len, "junit.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR |
                                          XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *xe = xmlCtxtGetLastError(ctx);
        char msg[256] = "unknown error";
        if (xe && xe->message) {
            snprintf(msg, sizeof msg, "%s", xe->message);
            size_t m = strlen(msg);
            while (m > 0 && msg[m - 1] == '\n')
                msg[--m] = '\0';
        }
        bench_seterr(e,
                     "the JUnit report is not well-formed XML (line %d: "
                     "%s)",
                     xe ? xe->line : 0, msg);
        xmlFreeParserCtxt(ctx);
        return -1;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root ||
        (!is_elem(root, "testsuites") && !is_elem(root, "testsuite"))) {
        bench_seterr(e,
                     "the report is XML but not JUnit: its root element "
                     "is <%s>, not <testsuites> or <testsuite>",
                     root ? (const char *)root->name : "(none)");
        xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctx);
        return -1;
    }
    size_t cap = 0;
    walk(r, root->children, &cap);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctx);
    return 0;
}

int junit_parse_file(const char *path, junit_report *r, bench_err *e)
{
    char *data;
    size_t len;
    memset(r, 0, sizeof *r);
    if (read_file(path, &data, &len, e) != 0)
        return -1;
    int rc = junit_parse_memory(data, len, r, e);
    free(data);
    return rc;
}

void junit_free(junit_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_cases; i++) {
        free(r->cases[i].id);
        free(r->cases[i].name);
        free(r->cases[i].classname);
        free(r->cases[i].message);
    }
    free(r->cases);
    memset(r, 0, sizeof *r);
}

/* ---- the trusted test list ---------------------------------------------- */

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int manifest_parse(const char *data, const char *file, char ***ids, size_t *n,
                   bench_err *e)
{
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    const char *p = data;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *b = p, *end = p + len;
        while (b < end && (*b == ' ' || *b == '\t' || *b == '\r'))
            b++;
        while (end > b &&
               (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            end--;
        if (end > b && *b != '#') {
            if (cnt == cap) {
                cap = cap ? cap * 2 : 64;
                v = xrealloc(v, cap * sizeof *v);
            }
            v[cnt++] = xasprintf("%.*s", (int)(end - b), b);
        }
        p = nl ? nl + 1 : p + len;
    }
    if (cnt == 0) {
        bench_seterr(e,
                     "%s: lists no test ids; fix: one JUnit id "
                     "(classname::name) per line, as `sandbox-bench "
                     "manifest` prints them",
                     file);
        free(v);
        return -1;
    }
    qsort(v, cnt, sizeof *v, cmp_strp);
    for (size_t i = 1; i < cnt; i++) {
        if (!strcmp(v[i - 1], v[i])) {
            bench_seterr(e, "%s: lists \"%s\" twice; fix: list every id once",
                         file, v[i]);
            free_strv(v, cnt);
            return -1;
        }
    }
    *ids = v;
    *n = cnt;
    return 0;
}

int manifest_load(const char *path, char ***ids, size_t *n, bench_err *e)
{
    char *data = NULL;
    size_t len = 0;
    if (!path_is_file(path)) {
        bench_seterr(e,
                     "%s: missing; fix: commit the suite's test ids, one per "
                     "line (`sandbox-bench manifest --task DIR > %s` collects "
                     "them with no candidate)",
                     path, path);
        return -1;
    }
    if (read_file(path, &data, &len, e) != 0)
        return -1;
    int rc = manifest_parse(data, path, ids, n, e);
    free(data);
    return rc;
}

static void strv_push(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = s;
}

static const char *id_base(const char *id)
{
    const char *b = id, *p;
    while ((p = strstr(b, "::")) != NULL)
        b = p + 2;
    return b;
}

static int find_id(char *const *ids, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ids[mid], id);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void manifest_verify(char *const *ids, size_t n, const junit_report *r,
                     manifest_check *mc)
{
    memset(mc, 0, sizeof *mc);
    mc->verdict = xcalloc(n ? n : 1, sizeof *mc->verdict);
    mc->message = xcalloc(n ? n : 1, sizeof *mc->message);
    mc->match = xcalloc(n ? n : 1, sizeof *mc->match);
    unsigned *seen = xcalloc(n ? n : 1, sizeof *seen);
    char **extra = NULL;
    size_t n_extra = 0;
    for (size_t k = 0; k < r->n_cases; k++) {
        const junit_case *c = &r->cases[k];
        int i = find_id(ids, n, c->id);
        if (i < 0) {
            int dup = 0;
            for (size_t j = 0; j < n_extra; j++)
                if (!strcmp(extra[j], c->id))
                    dup = 1;
            if (!dup)
                strv_push(&extra, &n_extra, xstrdup(c->id));
            continue;
        }
        if (seen[i]++ == 0) {
            mc->verdict[i] = c->verdict;
            mc->message[i] = c->message;
            mc->match[i] = c;
        }
    }
    int *renamed_m = xcalloc(n ? n : 1, sizeof *renamed_m);
    for (size_t j = 0; j < n_extra; j++) {
        /* An extra id standing in for a missing one of the same test name
         * (another class or module, or another case) is a rename. */
        int hit = -1;
        for (size_t i = 0; i < n && hit < 0; i++)
            if (!seen[i] && !renamed_m[i] &&
                !strcasecmp(id_base(ids[i]), id_base(extra[j])))
                hit = (int)i;
        if (hit >= 0) {
            renamed_m[hit] = 1;
            strv_push(&mc->renamed, &mc->n_renamed,
                      xasprintf("%s -> %s", ids[hit], extra[j]));
            free(extra[j]);
        } else {
            strv_push(&mc->extra, &mc->n_extra, extra[j]);
        }
    }
    free(extra);
    for (size_t i = 0; i < n; i++) {
        if (seen[i] > 1) {
            strv_push(&mc->duplicate, &mc->n_duplicate,
                      xasprintf("%s (x%u)", ids[i], seen[i]));
            mc->verdict[i] = TV_UNVERIFIED;
            mc->message[i] = "unverified: the report lists this test more "
                             "than once";
            mc->match[i] = NULL;
        } else if (renamed_m[i]) {
            mc->verdict[i] = TV_UNVERIFIED;
            mc->message[i] = "unverified: the report renamed this test";
            mc->match[i] = NULL;
        } else if (!seen[i]) {
            strv_push(&mc->missing, &mc->n_missing, xstrdup(ids[i]));
            mc->verdict[i] = TV_MISSING;
            mc->message[i] = NULL;
        }
    }
    free(seen);
    free(renamed_m);
    mc->ok =
        !mc->n_missing && !mc->n_extra && !mc->n_duplicate && !mc->n_renamed;
}

static void list_part(char *buf, size_t sz, const char *what, char **v,
                      size_t n)
{
    if (!n)
        return;
    size_t len = strlen(buf);
    snprintf(buf + len, sz - len, "%s%zu %s (", len ? "; " : "", n, what);
    for (size_t i = 0; i < n && i < 3; i++) {
        len = strlen(buf);
        snprintf(buf + len, sz - len, "%s%s", i ? ", " : "", v[i]);
    }
    len = strlen(buf);
    if (n > 3)
        snprintf(buf + len, sz - len, ", +%zu more)", n - 3);
    else
        snprintf(buf + len, sz - len, ")");
}

char *manifest_problems(const manifest_check *mc)
{
    if (mc->ok)
        return NULL;
    char buf[1536] = "";
    list_part(buf, sizeof buf, "missing", mc->missing, mc->n_missing);
    list_part(buf, sizeof buf, "extra", mc->extra, mc->n_extra);
    list_part(buf, sizeof buf, "duplicate", mc->duplicate, mc->n_duplicate);
    list_part(buf, sizeof buf, "renamed", mc->renamed, mc->n_renamed);
    return xasprintf("the report does not match the suite's manifest: %s; "
                     "those tests earn nothing",
                     buf);
}

void manifest_check_free(manifest_check *mc)
{
    free_strv(mc->missing, mc->n_missing);
    free_strv(mc->extra, mc->n_extra);
    free_strv(mc->duplicate, mc->n_duplicate);
    free_strv(mc->renamed, mc->n_renamed);
    free(mc->verdict);
    free(mc->message);
    free(mc->match);
    memset(mc, 0, sizeof *mc);
}
