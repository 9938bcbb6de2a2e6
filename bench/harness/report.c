/* SPDX-License-Identifier: MIT */
/*
 * report.c: the ranking table of one evaluation (results.json).  Rank by
 * mean tests passed per run, then by tests that passed on every run, then
 * (from risk tier medium up) by fewer runner-tampering flags, then by
 * label.  A loser's row names its failing tests and its scan flags: they
 * name its flaws and what it tried.  Costs are always printed.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static int cmp_cand(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    json_t *sa = json_object_get(a, "summary");
    json_t *sb = json_object_get(b, "summary");
    double ma = num(sa, "mean_passed"), mb = num(sb, "mean_passed");
    if (ma != mb)
        return ma > mb ? -1 : 1;
    double aa = num(sa, "tests_always_passed");
    double ab = num(sb, "tests_always_passed");
    if (aa != ab)
        return aa > ab ? -1 : 1;
    double fa = num(sa, "rank_flags"), fb = num(sb, "rank_flags");
    if (fa != fb)
        return fa < fb ? -1 : 1;
    return strcmp(json_string_value(json_object_get(a, "label")),
                  json_string_value(json_object_get(b, "label")));
}

static void status_text(json_t *statuses, char *buf, size_t sz)
{
    buf[0] = '\0';
    const char *key;
    json_t *v;
    size_t n = json_object_size(statuses);
    json_object_foreach(statuses, key, v)
    {
        size_t len = strlen(buf);
        if (n == 1)
            snprintf(buf + len, sz - len, "%s", key);
        else
            snprintf(buf + len, sz - len, "%s%s x%lld", len ? ", " : "", key,
                     (long long)json_integer_value(v));
    }
}

void report_print(FILE *f, json_t *results, int verbose)
{
    json_t *cands = json_object_get(results, "candidates");
    size_t n = json_array_size(cands);
    json_t **v = xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(cands, i);
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_cand);
    size_t ntests = json_array_size(json_object_get(results, "tests"));
    int repeat = (int)json_integer_value(json_object_get(results, "repeat"));
    fprintf(f,
            "task %s, evaluation %s: %zu candidate%s, %zu test%s, %d "
            "run%s each\n",
            json_string_value(json_object_get(results, "task")),
            json_string_value(json_object_get(results, "eval_id")), n,
            n == 1 ? "" : "s", ntests, ntests == 1 ? "" : "s", repeat,
            repeat == 1 ? "" : "s");
    fprintf(f, "image %s, suite sha256 %.16s\n\n",
            json_string_value(json_object_get(results, "image")),
            json_string_value(json_object_get(results, "suite_sha256")));
    size_t wl = strlen("candidate");
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(json_string_value(json_object_get(v[i], "label")));
        if (l > wl)
            wl = l;
    }
    fprintf(f, "%-4s  %-*s  %-9s  %-6s  %-5s  %-14s  %-6s  %-14s  %s\n", "rank",
            (int)wl, "candidate", "passed", "rate", "flaky", "status", "risk",
            "flags", "failing tests");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_object_get(v[i], "summary");
        char passed[32], rate[16], st[128];
        double mp = num(s, "mean_passed");
        if (repeat > 1)
            snprintf(passed, sizeof passed, "%.1f/%zu", mp, ntests);
        else
            snprintf(passed, sizeof passed, "%.0f/%zu", mp, ntests);
        snprintf(rate, sizeof rate, "%.0f%%", 100.0 * num(s, "pass_rate"));
        status_text(json_object_get(s, "statuses"), st, sizeof st);
        json_t *failing = json_object_get(s, "failing");
        size_t nf = json_array_size(failing);
        char fl[256] = "";
        json_t *flags = json_object_get(s, "flags");
        for (size_t k = 0; k < json_array_size(flags); k++) {
            size_t len = strlen(fl);
            snprintf(fl + len, sizeof fl - len, "%s%s", k ? "," : "",
                     json_string_value(json_array_get(flags, k)));
        }
        const char *risk = json_string_value(json_object_get(s, "risk"));
        fprintf(f, "%-4zu  %-*s  %-9s  %-6s  %-5zu  %-14s  %-6s  %-14s  ",
                i + 1, (int)wl,
                json_string_value(json_object_get(v[i], "label")), passed, rate,
                json_array_size(json_object_get(s, "flaky")), st,
                risk ? risk : "-", fl[0] ? fl : "-");
        if (nf == 0)
            fputs("-", f);
        size_t show = verbose ? nf : (nf > 6 ? 5 : nf);
        for (size_t k = 0; k < show; k++)
            fprintf(f, "%s%s", k ? ", " : "",
                    json_string_value(json_array_get(failing, k)));
        if (show < nf)
            fprintf(f, ", ... (+%zu more)", nf - show);
        fputc('\n', f);
    }
    /* Costs, whatever the tier: both boxes, summed over the runs. */
    fputs("\ncosts (all runs, both boxes):\n", f);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_object_get(json_object_get(v[i], "summary"), "costs");
        char mem[32] = "not measured", cpu[32] = "not measured";
        if (num(c, "peak_memory_bytes") > 0)
            snprintf(mem, sizeof mem, "%.1f MiB",
                     num(c, "peak_memory_bytes") / (1 << 20));
        if (json_is_number(json_object_get(c, "cpu_sec")))
            snprintf(cpu, sizeof cpu, "%.1f s", num(c, "cpu_sec"));
        fprintf(f, "  %-*s  wall %.1f s, peak memory %s, cpu %s\n", (int)wl,
                json_string_value(json_object_get(v[i], "label")),
                num(c, "wall_sec"), mem, cpu);
    }
    /* Notes: run-level problems and flaky tests. */
    int header = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *runs = json_object_get(v[i], "runs");
        for (size_t r = 0; r < json_array_size(runs); r++) {
            json_t *run = json_array_get(runs, r);
            const char *detail =
                json_string_value(json_object_get(run, "detail"));
            if (!detail)
                continue;
            if (!header) {
                fputs("\nnotes:\n", f);
                header = 1;
            }
            fprintf(
                f, "  %s run %lld: %s: %s\n",
                json_string_value(json_object_get(v[i], "label")),
                (long long)json_integer_value(json_object_get(run, "repeat")),
                json_string_value(json_object_get(run, "status")), detail);
        }
        json_t *findings =
            json_object_get(json_object_get(v[i], "scan"), "findings");
        size_t nfind = json_array_size(findings);
        size_t showf = verbose ? nfind : (nfind > 4 ? 3 : nfind);
        for (size_t k = 0; k < showf; k++) {
            json_t *fd = json_array_get(findings, k);
            if (!header) {
                fputs("\nnotes:\n", f);
                header = 1;
            }
            fprintf(f, "  %s: flag %s at %s:%lld: %s\n",
                    json_string_value(json_object_get(v[i], "label")),
                    json_string_value(json_object_get(fd, "flag")),
                    json_string_value(json_object_get(fd, "file")),
                    (long long)json_integer_value(json_object_get(fd, "line")),
                    json_string_value(json_object_get(fd, "text")));
        }
        if (showf < nfind)
            fprintf(f, "  %s: ... %zu more findings (report --verbose)\n",
                    json_string_value(json_object_get(v[i], "label")),
                    nfind - showf);
        json_t *flaky =
            json_object_get(json_object_get(v[i], "summary"), "flaky");
        for (size_t k = 0; k < json_array_size(flaky); k++) {
            if (!header) {
                fputs("\nnotes:\n", f);
                header = 1;
            }
            fprintf(f, "  %s: flaky test %s\n",
                    json_string_value(json_object_get(v[i], "label")),
                    json_string_value(json_array_get(flaky, k)));
        }
    }
    if (verbose) {
        for (size_t i = 0; i < n; i++) {
            json_t *tests = json_object_get(v[i], "tests");
            const char *key;
            json_t *tj;
            int any = 0;
            json_object_foreach(tests, key, tj)
            {
                json_t *msg = json_object_get(tj, "message");
                if (!msg)
                    continue;
                if (!any)
                    fprintf(f, "\n%s:\n",
                            json_string_value(json_object_get(v[i], "label")));
                any = 1;
                fprintf(f, "  %s: %s\n",
                        json_string_value(json_object_get(tj, "name")),
                        json_string_value(msg));
            }
        }
    }
    free(v);
}
