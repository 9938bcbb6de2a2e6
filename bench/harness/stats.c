/* SPDX-License-Identifier: MIT */
/*
 * stats.c: the review's statistics.  NaN marks a missing value (a judge
 * with no valid scores, a figure nobody reported) and is skipped.
 */
#include "judging.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The non-missing values, sorted; *k gets their count. */
static double *present_sorted(const double *v, size_t n, size_t *k)
{
    double *w = xcalloc(n ? n : 1, sizeof *w);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            w[m++] = v[i];
    if (m > 1)
        qsort(w, m, sizeof *w, cmp_double);
    *k = m;
    return w;
}

size_t stats_count(const double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            k++;
    return k;
}

double stats_median(const double *v, size_t n)
{
    size_t k;
    double *w = present_sorted(v, n, &k);
    double m = NAN;
    if (k % 2 == 1)
        m = w[k / 2];
    else if (k > 0)
        m = (w[k / 2 - 1] + w[k / 2]) / 2.0;
    free(w);
    return m;
}

double stats_mean(const double *v, size_t n)
{
    size_t k;
    double *w = present_sorted(v, n, &k);
    double s = 0;
    for (size_t i = 0; i < k; i++)
        s += w[i];
    free(w);
    return k ? s / (double)k : NAN;
}

double stats_stdev(const double *v, size_t n)
{
    size_t k;
    double *w = present_sorted(v, n, &k);
    double sd = NAN;
    if (k >= 2) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < k; i++)
            mean += w[i];
        mean /= (double)k;
        for (size_t i = 0; i < k; i++)
            ss += (w[i] - mean) * (w[i] - mean);
        sd = sqrt(ss / (double)(k - 1));
    }
    free(w);
    return sd;
}

double stats_min(const double *v, size_t n)
{
    size_t k;
    double *w = present_sorted(v, n, &k);
    double m = k ? w[0] : NAN;
    free(w);
    return m;
}

double stats_max(const double *v, size_t n)
{
    size_t k;
    double *w = present_sorted(v, n, &k);
    double m = k ? w[k - 1] : NAN;
    free(w);
    return m;
}

double stats_range(const double *v, size_t n)
{
    return stats_max(v, n) - stats_min(v, n);
}

/* Position of s in order (values not there come after all of them). */
static size_t order_pos(const char *const *order, const char *s)
{
    size_t i = 0;
    for (; order && order[i]; i++)
        if (!strcmp(order[i], s))
            return i;
    return i;
}

/* 1 when a should win a tie against b. */
static int tie_first(const char *const *order, const char *a, const char *b)
{
    size_t pa = order_pos(order, a), pb = order_pos(order, b);
    if (pa != pb)
        return pa < pb;
    return strcmp(a, b) < 0;
}

const char *stats_mode(const char *const *v, size_t n, const char *const *order,
                       int *count, int *tie)
{
    const char *best = NULL;
    int best_n = 0, is_tie = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i])
            continue;
        int c = 0;
        for (size_t j = 0; j < n; j++)
            if (v[j] && !strcmp(v[i], v[j]))
                c++;
        if (!best || c > best_n) {
            best = v[i];
            best_n = c;
            is_tie = 0;
        } else if (c == best_n && strcmp(best, v[i])) {
            is_tie = 1;
            if (tie_first(order, v[i], best))
                best = v[i];
        }
    }
    if (count)
        *count = best_n;
    if (tie)
        *tie = is_tie;
    return best;
}
