/* SPDX-License-Identifier: MIT */
/*
 * review.c: the review document (aggregate.c) rendered as review.md and a
 * scoreboard chart, review.svg, that the Markdown embeds.  Pure functions
 * of the document: fixed number formats, no clock, no paths.
 */
#include "judging.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if (b->n + (size_t)k + 1 > b->cap) {
        b->cap = (b->n + (size_t)k + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

/* A number in a fixed format, or "-" when missing.  Returns a static
 * slot out of a small ring so several fit in one sb_add. */
static const char *fnum(json_t *v, const char *fmt)
{
    static char ring[16][48];
    static int next;
    char *o = ring[next++ % 16];
    if (!json_is_number(v)) {
        strcpy(o, "-");
        return o;
    }
    double x = json_number_value(v);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(o, 48, fmt, x); /* fmt: one of this file's literals */
#pragma GCC diagnostic pop
    if (!strcmp(o, "-0.0") || !strcmp(o, "-0"))
        memmove(o, o + 1, strlen(o));
    if (!strcmp(o, "+-0.0") || !strcmp(o, "-0.0"))
        strcpy(o, "0.0");
    return o;
}

/* A rate in [0, 1] as a percentage with one decimal, or "-". */
static const char *fpct(json_t *v)
{
    static char ring[8][48];
    static int next;
    char *o = ring[next++ % 8];
    if (!json_is_number(v))
        strcpy(o, "-");
    else
        snprintf(o, 48, "%.1f", json_number_value(v) * 100.0);
    return o;
}

static json_t *get2(json_t *o, const char *a, const char *b)
{
    return json_object_get(json_object_get(o, a), b);
}

/* Markdown table cell text: no pipes, no newlines, at most max bytes
 * (cut on a UTF-8 character boundary). */
static char *cell_text(const char *s, size_t max)
{
    if (!s)
        return xstrdup("");
    size_t n = strlen(s), cut = n;
    if (n > max) {
        cut = max;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    char *o = xmalloc(cut * 2 + 8), *p = o;
    for (size_t i = 0; i < cut; i++) {
        if (s[i] == '|') {
            *p++ = '\\';
            *p++ = '|';
        } else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
            *p++ = ' ';
        } else {
            *p++ = s[i];
        }
    }
    if (cut < n) {
        memcpy(p, "...", 3);
        p += 3;
    }
    *p = '\0';
    return o;
}

static const char *str(json_t *v, const char *dflt)
{
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static void section_scoreboard(sbuf *b, json_t *doc)
{
    json_t *cands = json_object_get(doc, "candidates");
    sb_add(b, "## Scoreboard\n\n![Scoreboard: hidden-test pass rate, spec "
              "and quality medians](review.svg)\n\n");
    sb_add(b, "| rank | implementation | hard fail | spec median all / "
              "expert / peer | quality median all / expert / peer | hidden "
              "tests passed | pass rate | flaky | verdict mode |\n");
    sb_add(b, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | "
              "--- |\n");
    size_t i;
    json_t *c;
    json_array_foreach(cands, i, c)
    {
        json_t *t = json_object_get(c, "tests");
        json_t *v = json_object_get(c, "verdict");
        json_int_t of = json_integer_value(get2(c, "hard_fail", "of"));
        char hf[64], vm[128];
        if (of)
            snprintf(
                hf, sizeof hf, "%lld/%lld",
                (long long)json_integer_value(get2(c, "hard_fail", "fail")),
                (long long)of);
        else
            snprintf(hf, sizeof hf, "no valid scores");
        if (json_is_string(json_object_get(v, "mode")))
            snprintf(vm, sizeof vm, "%s (%lld/%lld%s)",
                     json_string_value(json_object_get(v, "mode")),
                     (long long)json_integer_value(json_object_get(v, "count")),
                     (long long)json_integer_value(json_object_get(v, "of")),
                     json_is_true(json_object_get(v, "tie")) ? ", tie" : "");
        else
            snprintf(vm, sizeof vm, "-");
        size_t nflaky = json_array_size(json_object_get(t, "flaky"));
        sb_add(b,
               "| %lld | %s | %s | %s / %s / %s | %s / %s / %s | %s/%s "
               "(mean %s) | %s%% over %lld run%s | %zu | %s |\n",
               (long long)json_integer_value(json_object_get(c, "rank")),
               str(json_object_get(c, "id"), "?"), hf,
               fnum(get2(c, "spec", "all"), "%.1f"),
               fnum(get2(c, "spec", "expert"), "%.1f"),
               fnum(get2(c, "spec", "peer"), "%.1f"),
               fnum(get2(c, "quality", "all"), "%.1f"),
               fnum(get2(c, "quality", "expert"), "%.1f"),
               fnum(get2(c, "quality", "peer"), "%.1f"),
               fnum(json_object_get(t, "always_passed"), "%.0f"),
               fnum(json_object_get(t, "total"), "%.0f"),
               fnum(json_object_get(t, "mean_passed"), "%.1f"),
               fpct(json_object_get(t, "pass_rate")),
               (long long)json_integer_value(json_object_get(t, "repeat")),
               json_integer_value(json_object_get(t, "repeat")) == 1 ? "" : "s",
               nflaky, vm);
    }
    sb_add(b, "\nRanked by hidden-test pass rate (mean over runs), then the "
              "judges' combined median (spec/10 + quality/20), then fewer "
              "hard fails, then name. Spec is 0-10, quality 0-20 (four "
              "items, 0-5 each). Self scores are not counted.\n\n");
}

static void section_rankings(sbuf *b, json_t *doc)
{
    sb_add(b, "## Per-judge ranking\n\nEach judge's own order (by its spec "
              "score, then quality, then name); `(self)` marks its own "
              "model's implementation.\n\n");
    size_t i, k;
    json_t *r, *o;
    json_array_foreach(json_object_get(doc, "per_judge_ranking"), i, r)
    {
        json_t *order = json_object_get(r, "order");
        sb_add(b, "- **%s** (%s):", str(json_object_get(r, "judge"), "?"),
               str(json_object_get(r, "tier"), "?"));
        if (json_array_size(order) == 0)
            sb_add(b, " no valid scores");
        json_array_foreach(order, k, o)
        {
            sb_add(b, "%s %zu. %s (%lld, %lld/20)%s", k ? " ·" : "", k + 1,
                   str(json_object_get(o, "id"), "?"),
                   (long long)json_integer_value(json_object_get(o, "spec")),
                   (long long)json_integer_value(json_object_get(o, "quality")),
                   json_is_true(json_object_get(o, "self")) ? " (self)" : "");
        }
        sb_add(b, "\n");
    }
    sb_add(b, "\n");
}

static void section_bias(sbuf *b, json_t *doc)
{
    json_t *bias = json_object_get(doc, "self_bias");
    sb_add(b, "## Self-bias check\n\nA judge's score of its own model's "
              "implementation minus the peer median for it (peers only, "
              "self excluded). Positive: the judge favours itself.\n\n");
    if (json_array_size(bias) == 0) {
        sb_add(b, "No judge scored its own work.\n\n");
        return;
    }
    sb_add(b, "| judge | own implementation | self spec | peer median | "
              "Δ spec | self quality | peer median | Δ quality |\n| --- | "
              "--- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    size_t i;
    json_t *x;
    json_array_foreach(bias, i, x)
    {
        sb_add(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
               str(json_object_get(x, "judge"), "?"),
               str(json_object_get(x, "id"), "?"),
               fnum(json_object_get(x, "self_spec"), "%.0f"),
               fnum(json_object_get(x, "peer_spec"), "%.1f"),
               fnum(json_object_get(x, "delta_spec"), "%+.1f"),
               fnum(json_object_get(x, "self_quality"), "%.0f"),
               fnum(json_object_get(x, "peer_quality"), "%.1f"),
               fnum(json_object_get(x, "delta_quality"), "%+.1f"));
    }
    sb_add(b, "\n");
}

static void section_peer_expert(sbuf *b, json_t *doc)
{
    sb_add(b, "## Peer vs expert\n\nΔ = peer median minus expert median "
              "for the same implementation (self excluded). Positive: the "
              "peers are more generous than the experts.\n\n");
    if (json_integer_value(json_object_get(doc, "expert_judges")) == 0) {
        sb_add(b, "No expert judges are configured.\n\n");
        return;
    }
    sb_add(b, "| implementation | spec peer | spec expert | Δ spec | quality "
              "peer | quality expert | Δ quality |\n| --- | ---: | ---: | "
              "---: | ---: | ---: | ---: |\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "candidates"), i, c)
    {
        sb_add(b, "| %s | %s | %s | %s | %s | %s | %s |\n",
               str(json_object_get(c, "id"), "?"),
               fnum(get2(c, "spec", "peer"), "%.1f"),
               fnum(get2(c, "spec", "expert"), "%.1f"),
               fnum(get2(c, "peer_minus_expert", "spec"), "%+.1f"),
               fnum(get2(c, "quality", "peer"), "%.1f"),
               fnum(get2(c, "quality", "expert"), "%.1f"),
               fnum(get2(c, "peer_minus_expert", "quality"), "%+.1f"));
    }
    json_t *pe = json_object_get(doc, "peer_minus_expert");
    sb_add(b,
           "\nMean Δ over implementations: spec %s (n=%lld), quality %s "
           "(n=%lld).\n\n",
           fnum(json_object_get(pe, "spec_mean"), "%+.2f"),
           (long long)json_integer_value(json_object_get(pe, "spec_n")),
           fnum(json_object_get(pe, "quality_mean"), "%+.2f"),
           (long long)json_integer_value(json_object_get(pe, "quality_n")));
}

static void section_agreement(sbuf *b, json_t *doc)
{
    sb_add(b, "## Inter-judge agreement\n\nSpread of the non-self scores "
              "each implementation received (stdev: sample, n-1; needs two "
              "scores).\n\n| implementation | judges | spec min | max | "
              "range | stdev | quality min | max | range | stdev |\n| --- "
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
              "---: |\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "candidates"), i, c)
    {
        json_t *s = get2(c, "agreement", "spec");
        json_t *q = get2(c, "agreement", "quality");
        sb_add(b, "| %s | %lld | %s | %s | %s | %s | %s | %s | %s | %s |\n",
               str(json_object_get(c, "id"), "?"),
               (long long)json_integer_value(json_object_get(s, "n")),
               fnum(json_object_get(s, "min"), "%.0f"),
               fnum(json_object_get(s, "max"), "%.0f"),
               fnum(json_object_get(s, "range"), "%.0f"),
               fnum(json_object_get(s, "stdev"), "%.2f"),
               fnum(json_object_get(q, "min"), "%.0f"),
               fnum(json_object_get(q, "max"), "%.0f"),
               fnum(json_object_get(q, "range"), "%.0f"),
               fnum(json_object_get(q, "stdev"), "%.2f"));
    }
    sb_add(b, "\n### Agreement with the hidden tests\n\nFor each judge, "
              "every pair of implementations it scored (self excluded) "
              "whose mean hidden-test passes differ is compared: the judge "
              "agrees when its spec score ranks the pair the same way, a "
              "spec tie counts half. Rate = (agree + ties/2) / "
              "pairs.\n\n| judge | tier | pairs | agree | ties | disagree | "
              "rate |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    json_t *a;
    json_array_foreach(json_object_get(doc, "test_agreement"), i, a)
    {
        json_t *rate = json_object_get(a, "rate");
        sb_add(b, "| %s | %s | %lld | %lld | %lld | %lld | %s%s |\n",
               str(json_object_get(a, "judge"), "?"),
               str(json_object_get(a, "tier"), "?"),
               (long long)json_integer_value(json_object_get(a, "pairs")),
               (long long)json_integer_value(json_object_get(a, "agree")),
               (long long)json_integer_value(json_object_get(a, "ties")),
               (long long)json_integer_value(json_object_get(a, "disagree")),
               fpct(rate), json_is_number(rate) ? "%" : "");
    }
    json_t *ov = json_object_get(doc, "test_agreement_overall");
    sb_add(b, "\nOverall: %s%s over %lld pairs.\n\n",
           fpct(json_object_get(ov, "rate")),
           json_is_number(json_object_get(ov, "rate")) ? "%" : "",
           (long long)json_integer_value(json_object_get(ov, "pairs")));
}

static void section_detail(sbuf *b, json_t *doc)
{
    sb_add(b, "## Per-implementation detail\n\n");
    size_t i, k;
    json_t *c, *r;
    json_array_foreach(json_object_get(doc, "candidates"), i, c)
    {
        sb_add(b, "### %lld. %s\n\n",
               (long long)json_integer_value(json_object_get(c, "rank")),
               str(json_object_get(c, "id"), "?"));
        sb_add(b, "| judge | tier | label | hard fail | spec /10 | quality "
                  "/20 (clarity, conciseness, errors, comments) | verdict "
                  "| summary |\n| --- | --- | --- | --- | ---: | ---: | --- "
                  "| --- |\n");
        json_array_foreach(json_object_get(c, "judges"), k, r)
        {
            const char *j = str(json_object_get(r, "judge"), "?");
            const char *tier = str(json_object_get(r, "tier"), "?");
            const char *L = str(json_object_get(r, "label"), "?");
            if (json_is_true(json_object_get(r, "pending"))) {
                sb_add(b, "| %s | %s | %s | no scores yet | - | - | - | - |\n",
                       j, tier, L);
                continue;
            }
            if (!json_is_true(json_object_get(r, "valid"))) {
                sb_add(b,
                       "| %s | %s | %s | no valid scores | - | - | - | "
                       "- |\n",
                       j, tier, L);
                continue;
            }
            json_t *p = json_object_get(r, "quality_parts");
            char *sum = cell_text(str(json_object_get(r, "summary"), ""), 120);
            sb_add(
                b,
                "| %s | %s | %s | %s | %lld | %lld (%lld, %lld, "
                "%lld, %lld) | %s | %s |\n",
                j, tier, L, str(json_object_get(r, "hard_fail"), "?"),
                (long long)json_integer_value(json_object_get(r, "spec")),
                (long long)json_integer_value(json_object_get(r, "quality")),
                (long long)json_integer_value(json_object_get(p, "clarity")),
                (long long)json_integer_value(
                    json_object_get(p, "conciseness")),
                (long long)json_integer_value(
                    json_object_get(p, "error_handling")),
                (long long)json_integer_value(json_object_get(p, "comments")),
                str(json_object_get(r, "verdict"), "?"), sum);
            free(sum);
        }
        int header = 0;
        json_array_foreach(json_object_get(c, "judges"), k, r)
        {
            json_t *reasons = json_object_get(r, "hard_fail_reasons");
            size_t m;
            json_t *x;
            json_array_foreach(reasons, m, x)
            {
                if (!header) {
                    sb_add(b, "\nHard-fail reasons:\n\n");
                    header = 1;
                }
                char *t = cell_text(json_string_value(x), 200);
                sb_add(b, "- %s: %s\n", str(json_object_get(r, "judge"), "?"),
                       t);
                free(t);
            }
        }
        json_t *t = json_object_get(c, "tests");
        sb_add(b, "\nHidden tests (%lld run%s; statuses:",
               (long long)json_integer_value(json_object_get(t, "repeat")),
               json_integer_value(json_object_get(t, "repeat")) == 1 ? ""
                                                                     : "s");
        const char *key;
        json_t *v;
        int any = 0;
        json_object_foreach(json_object_get(t, "statuses"), key, v)
        {
            sb_add(b, "%s %s x%lld", any ? "," : "", key,
                   (long long)json_integer_value(v));
            any = 1;
        }
        sb_add(b, "%s)", any ? "" : " none");
        json_t *flags = json_object_get(t, "scan_flags");
        if (json_array_size(flags)) {
            sb_add(b, "; scan flags (runner tampering):");
            size_t fi;
            json_t *fv;
            json_array_foreach(flags, fi, fv)
            {
                sb_add(b, "%s %s", fi ? "," : "", json_string_value(fv));
            }
        }
        sb_add(b, ":\n\n| test | verdict per run | pass rate |\n| --- | "
                  "--- | ---: |\n");
        json_array_foreach(json_object_get(c, "hidden_tests"), k, r)
        {
            sbuf vb = {NULL, 0, 0};
            size_t m;
            json_t *x;
            json_array_foreach(json_object_get(r, "verdicts"), m, x)
            {
                sb_add(&vb, "%s%s", m ? ", " : "", str(x, "?"));
            }
            char *id = cell_text(str(json_object_get(r, "id"), "?"), 300);
            sb_add(b, "| %s | %s%s | %s%% |\n", id, vb.s ? vb.s : "",
                   json_is_true(json_object_get(r, "flaky")) ? " (flaky)" : "",
                   fpct(json_object_get(r, "pass_rate")));
            free(id);
            free(vb.s);
        }
        json_t *fl = json_object_get(t, "flaky");
        if (json_array_size(fl)) {
            sb_add(b, "\nFlaky (passed in some runs, not all):");
            size_t m;
            json_t *x;
            json_array_foreach(fl, m, x)
            {
                sb_add(b, "%s %s", m ? "," : "", str(x, "?"));
            }
            sb_add(b, "\n");
        }
        sb_add(b, "\n");
    }
}

static void section_cost(sbuf *b, json_t *doc)
{
    sb_add(b, "## Cost and efficiency\n\nFigures of the implement run "
              "(model wall time, tokens and cost as the model command "
              "reported them); LOC counts non-blank lines that are not only "
              "a comment; cost per passing test = cost / mean tests "
              "passed.\n\n| implementation | slug | LOC | wall time | "
              "tokens | cost (USD) | tests passed (mean) | cost per passing "
              "test |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | "
              "---: |\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "candidates"), i, c)
    {
        json_t *k = json_object_get(c, "cost");
        sb_add(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
               str(json_object_get(c, "id"), "?"),
               str(json_object_get(k, "slug"), "-"),
               fnum(json_object_get(k, "loc"), "%.0f"),
               fnum(json_object_get(k, "wall_sec"), "%.1f s"),
               fnum(json_object_get(k, "tokens"), "%.0f"),
               fnum(json_object_get(k, "cost_usd"), "%.4f"),
               fnum(get2(c, "tests", "mean_passed"), "%.1f"),
               fnum(json_object_get(k, "cost_per_passing_test"), "%.5f"));
    }
    sb_add(b, "\n### Judging cost\n\n| judge | tier | status | wall time | "
              "tokens | cost (USD) | valid score files |\n| --- | --- | --- | "
              "---: | ---: | ---: | ---: |\n");
    json_t *j;
    json_array_foreach(json_object_get(doc, "judges"), i, j)
    {
        sb_add(
            b, "| %s | %s | %s | %s s | %s | %s | %lld/%lld |\n",
            str(json_object_get(j, "name"), "?"),
            str(json_object_get(j, "tier"), "?"),
            str(json_object_get(j, "status"), "?"),
            fnum(json_object_get(j, "wall_sec"), "%.0f"),
            fnum(json_object_get(j, "tokens"), "%.0f"),
            fnum(json_object_get(j, "cost_usd"), "%.4f"),
            (long long)json_integer_value(json_object_get(j, "valid_scores")),
            (long long)json_integer_value(json_object_get(j, "labels")));
    }
    sb_add(b, "\n");
}

static void section_problems(sbuf *b, json_t *doc)
{
    json_t *pr = json_object_get(doc, "problems");
    sb_add(b, "## Score-file problems\n\n");
    if (json_array_size(pr) == 0) {
        sb_add(b, "Every score file that was written is valid.\n\n");
        return;
    }
    sb_add(b, "A file with any problem counts as \"no valid scores\" for "
              "that judge and implementation.\n\n| judge | label | "
              "implementation | field | problem |\n| --- | --- | --- | --- | "
              "--- |\n");
    size_t i;
    json_t *p;
    json_array_foreach(pr, i, p)
    {
        char *m = cell_text(str(json_object_get(p, "message"), ""), 300);
        char *f = cell_text(str(json_object_get(p, "field"), ""), 80);
        sb_add(b, "| %s | %s | %s | %s | %s |\n",
               str(json_object_get(p, "judge"), "?"),
               str(json_object_get(p, "label"), "?"),
               str(json_object_get(p, "candidate"), "-"), f, m);
        free(m);
        free(f);
    }
    sb_add(b, "\n");
}

char *review_markdown(json_t *doc)
{
    sbuf b = {NULL, 0, 0};
    json_t *cands = json_object_get(doc, "candidates");
    sb_add(&b, "# Review: %s\n\n", str(json_object_get(doc, "task"), "?"));
    sb_add(&b,
           "Evaluation `%s`: %zu implementation%s, %s hidden tests, %lld "
           "run%s each. Judges: %lld peer, %lld expert. Blinding seed "
           "%lld.\n\n",
           str(json_object_get(doc, "eval_id"), "?"), json_array_size(cands),
           json_array_size(cands) == 1 ? "" : "s",
           fnum(json_object_get(doc, "tests_total"), "%.0f"),
           (long long)json_integer_value(json_object_get(doc, "repeat")),
           json_integer_value(json_object_get(doc, "repeat")) == 1 ? "" : "s",
           (long long)json_integer_value(json_object_get(doc, "peer_judges")),
           (long long)json_integer_value(json_object_get(doc, "expert_judges")),
           (long long)json_integer_value(json_object_get(doc, "seed")));
    json_t *pend = json_object_get(doc, "pending");
    if (json_array_size(pend)) {
        sb_add(&b, "> **Note:** %zu judge%s produced no scores yet:",
               json_array_size(pend), json_array_size(pend) == 1 ? "" : "s");
        size_t i;
        json_t *x;
        json_array_foreach(pend, i, x)
        {
            sb_add(&b, "%s %s", i ? "," : "", str(x, "?"));
        }
        sb_add(&b, ".\n\n");
    }
    size_t np = json_array_size(json_object_get(doc, "problems"));
    if (np)
        sb_add(&b,
               "> **Note:** %zu problem%s in the judges' score files "
               "(see \"Score-file problems\").\n\n",
               np, np == 1 ? "" : "s");
    section_scoreboard(&b, doc);
    section_rankings(&b, doc);
    section_bias(&b, doc);
    section_peer_expert(&b, doc);
    section_agreement(&b, doc);
    section_detail(&b, doc);
    section_cost(&b, doc);
    section_problems(&b, doc);
    return b.s;
}

static char *xml_text(const char *s)
{
    sbuf b = {NULL, 0, 0};
    sb_add(&b, "%s", "");
    for (; s && *s; s++) {
        switch (*s) {
        case '<': sb_add(&b, "&lt;"); break;
        case '>': sb_add(&b, "&gt;"); break;
        case '&': sb_add(&b, "&amp;"); break;
        case '"': sb_add(&b, "&quot;"); break;
        default: sb_add(&b, "%c", *s);
        }
    }
    return b.s;
}

char *review_svg(json_t *doc)
{
    json_t *cands = json_object_get(doc, "candidates");
    size_t n = json_array_size(cands);
    const int label_w = 220, bar_w = 400, bar_h = 12, row_h = 3 * 12 + 18;
    const int top = 40, width = label_w + bar_w + 80;
    int height = top + (int)n * row_h + 30;
    static const char *const names[] = {
        "hidden tests passed", "spec median (/10)", "quality median (/20)"};
    static const char *const colors[] = {"#2f6fb0", "#3a9a5b", "#d08a2c"};
    sbuf b = {NULL, 0, 0};
    sb_add(&b,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
           "height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
           "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
           width, height);
    for (int k = 0; k < 3; k++) {
        int x = 10 + k * 200;
        sb_add(&b,
               "<rect x=\"%d\" y=\"10\" width=\"12\" height=\"12\" "
               "fill=\"%s\"/><text x=\"%d\" y=\"21\">%s</text>\n",
               x, colors[k], x + 16, names[k]);
    }
    size_t i;
    json_t *c;
    json_array_foreach(cands, i, c)
    {
        int y = top + (int)i * row_h;
        char *id = xml_text(str(json_object_get(c, "id"), "?"));
        sb_add(&b, "<text x=\"10\" y=\"%d\">%lld. %s</text>\n", y + 22,
               (long long)json_integer_value(json_object_get(c, "rank")), id);
        free(id);
        double v[3];
        json_t *pr = get2(c, "tests", "pass_rate");
        json_t *sp = get2(c, "spec", "all");
        json_t *q = get2(c, "quality", "all");
        v[0] = json_is_number(pr) ? json_number_value(pr) : NAN;
        v[1] = json_is_number(sp) ? json_number_value(sp) / 10.0 : NAN;
        v[2] = json_is_number(q) ? json_number_value(q) / 20.0 : NAN;
        for (int k = 0; k < 3; k++) {
            int by = y + 4 + k * bar_h;
            int w = isnan(v[k]) ? 0 : (int)lround(v[k] * bar_w);
            sb_add(&b,
                   "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                   "fill=\"#eeeeee\"/><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                   "height=\"%d\" fill=\"%s\"/>",
                   label_w, by, bar_w, bar_h - 2, label_w, by, w, bar_h - 2,
                   colors[k]);
            if (isnan(v[k]))
                sb_add(&b,
                       "<text x=\"%d\" y=\"%d\" font-size=\"10\">no "
                       "data</text>\n",
                       label_w + bar_w + 6, by + 9);
            else
                sb_add(&b,
                       "<text x=\"%d\" y=\"%d\" "
                       "font-size=\"10\">%.0f%%</text>\n",
                       label_w + bar_w + 6, by + 9, v[k] * 100.0);
        }
    }
    sb_add(&b, "</svg>\n");
    return b.s;
}
