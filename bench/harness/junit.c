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

#include <libxml/parser.h>
#include <libxml/tree.h>

const char *test_verdict_name(int v)
{
    switch (v) {
    case TV_PASSED: return "passed";
    case TV_FAILED: return "failed";
    case TV_ERROR: return "error";
    case TV_SKIPPED: return "skipped";
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
