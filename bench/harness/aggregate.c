/* SPDX-License-Identifier: MIT */
/*
 * aggregate.c: a judging directory + its evaluation -> the review
 * document (review.json), which review.c renders as review.md and
 * review.svg.
 *
 * Determinism: every list is sorted by a stated key, every number is
 * rounded to 6 decimals, and nothing in the document comes from the clock
 * or from paths: the same inputs and seed give the same bytes.
 *
 * Tiers: a judge scoring its own model's candidate is "self"; implementers
 * are "peer", expert judges "expert".  Self scores appear in the detail,
 * the per-judge ranking and the self-bias check, and are never counted in
 * any aggregate (medians, hard-fail counts, verdict mode, agreement).
 */
#include "judging.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static json_t *num(double x)
{
    if (isnan(x))
        return json_null();
    double r = round(x * 1e6) / 1e6;
    if (r == 0)
        r = 0; /* no "-0.0" */
    return json_real(r);
}

static double jnum(json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

long count_loc(const char *dir)
{
    char **files = NULL;
    size_t nf = 0;
    bench_err ig;
    if (!dir || list_files(dir, NULL, &files, &nf, &ig) != 0)
        return -1;
    long loc = 0;
    for (size_t i = 0; i < nf; i++) {
        char *p = path_join(dir, files[i]);
        char *data = NULL;
        size_t len = 0;
        if (read_file(p, &data, &len, &ig) == 0 && !memchr(data, 0, len)) {
            char *save = NULL;
            for (char *l = strtok_r(data, "\n", &save); l;
                 l = strtok_r(NULL, "\n", &save)) {
                while (*l == ' ' || *l == '\t' || *l == '\r')
                    l++;
                if (!*l || *l == '#' || *l == ';' || !strncmp(l, "//", 2) ||
                    !strncmp(l, "--", 2))
                    continue;
                loc++;
            }
        }
        free(data);
        free(p);
    }
    free_strv(files, nf);
    return loc;
}

/* Tokens and cost out of a usage object, whatever the CLI called them. */
static void usage_figures(json_t *u, double *tokens, double *cost)
{
    *tokens = NAN;
    *cost = NAN;
    if (!json_is_object(u))
        return;
    json_t *inner = json_object_get(u, "usage");
    if (json_is_object(inner) && !json_object_get(u, "tokens_total"))
        u = json_is_object(inner) ? inner : u;
    *tokens = jnum(json_object_get(u, "tokens_total"));
    if (isnan(*tokens)) {
        double in = jnum(json_object_get(u, "input_tokens"));
        double out = jnum(json_object_get(u, "output_tokens"));
        if (!isnan(in) || !isnan(out))
            *tokens = (isnan(in) ? 0 : in) + (isnan(out) ? 0 : out);
    }
    *cost = jnum(json_object_get(u, "cost_usd"));
    if (isnan(*cost))
        *cost = jnum(json_object_get(u, "cost"));
}

static json_t *summary_json(const double *v, size_t n)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "n",
                     (json_int_t)stats_count(v, n), "min", num(stats_min(v, n)),
                     "max", num(stats_max(v, n)), "range",
                     num(stats_range(v, n)), "median", num(stats_median(v, n)),
                     "mean", num(stats_mean(v, n)), "stdev",
                     num(stats_stdev(v, n)));
}

/* One cell: judge j's scores of candidate i. */
typedef struct cell {
    const char *tier; /* self, peer, expert */
    char *label;      /* blinded label in that judge's packet */
    int valid;
    int pending; /* the judge wrote no score file at all */
    judge_scores s;
} cell;

typedef struct cand_row {
    const char *id;
    const char *model;
    json_t *eval; /* the evaluation's candidate entry (borrowed) */
    double pass_rate, mean_passed, combined, hf_frac;
    json_t *doc; /* the review entry */
} cand_row;

static int cmp_rank(const void *a, const void *b)
{
    const cand_row *x = a, *y = b;
    if (x->pass_rate != y->pass_rate)
        return x->pass_rate > y->pass_rate ? -1 : 1;
    if (x->combined != y->combined)
        return x->combined > y->combined ? -1 : 1;
    if (x->hf_frac != y->hf_frac)
        return x->hf_frac < y->hf_frac ? -1 : 1;
    return strcmp(x->id, y->id);
}

typedef struct judge_rank_item {
    const char *id;
    double spec, quality;
    int self;
} judge_rank_item;

static int cmp_judge_rank(const void *a, const void *b)
{
    const judge_rank_item *x = a, *y = b;
    if (x->spec != y->spec)
        return x->spec > y->spec ? -1 : 1;
    if (x->quality != y->quality)
        return x->quality > y->quality ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int cmp_problem(const void *a, const void *b)
{
    const score_problem *x = a, *y = b;
    int c = strcmp(x->judge, y->judge);
    if (!c)
        c = strcmp(x->label, y->label);
    if (!c)
        c = strcmp(x->field, y->field);
    if (!c)
        c = strcmp(x->message, y->message);
    return c;
}

static json_t *load_json(const char *dir, const char *name, bench_err *e)
{
    char *p = path_join(dir, name);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j)
        bench_seterr(e,
                     "%s: %s; fix: pass a judging directory written by "
                     "`sandbox-bench judge`",
                     p, je.text);
    free(p);
    return j;
}

int aggregate_build(const char *judging_dir, json_t **review, bench_err *e)
{
    json_t *index = load_json(judging_dir, "judging.json", e);
    if (!index)
        return -1;
    json_t *pairs = load_json(judging_dir, "pairings.json", e);
    if (!pairs) {
        json_decref(index);
        return -1;
    }
    const char *eval_dir =
        json_string_value(json_object_get(index, "eval_dir"));
    json_t *results = eval_dir ? load_json(eval_dir, "results.json", e) : NULL;
    if (!results) {
        if (!eval_dir)
            bench_seterr(e, "%s/judging.json: no \"eval_dir\"", judging_dir);
        json_decref(index);
        json_decref(pairs);
        return -1;
    }
    json_t *jcands = json_object_get(index, "candidates");
    json_t *jjudges = json_object_get(index, "judges");
    size_t nc = json_array_size(jcands), nj = json_array_size(jjudges);
    json_t *ecands = json_object_get(results, "candidates");
    problem_list pl = {NULL, 0};

    cand_row *rows = xcalloc(nc ? nc : 1, sizeof *rows);
    for (size_t i = 0; i < nc; i++) {
        json_t *c = json_array_get(jcands, i);
        rows[i].id = json_string_value(json_object_get(c, "id"));
        rows[i].model = json_string_value(json_object_get(c, "model"));
        for (size_t k = 0; k < json_array_size(ecands); k++) {
            json_t *x = json_array_get(ecands, k);
            const char *l = json_string_value(json_object_get(x, "label"));
            if (l && rows[i].id && !strcmp(l, rows[i].id))
                rows[i].eval = x;
        }
    }

    /* Read every cell. */
    cell *cells = xcalloc((nc ? nc : 1) * (nj ? nj : 1), sizeof *cells);
    json_t *jpending = json_array();
    json_t *jjudge_out = json_array();
    for (size_t j = 0; j < nj; j++) {
        json_t *jj = json_array_get(jjudges, j);
        const char *jname = json_string_value(json_object_get(jj, "name"));
        const char *tier = json_string_value(json_object_get(jj, "tier"));
        const char *packet = json_string_value(json_object_get(jj, "packet"));
        char *pdir =
            xasprintf("%s/%s/output", judging_dir, packet ? packet : "?");
        char **labels = xcalloc(nc ? nc : 1, sizeof *labels);
        json_t *row = json_object_get(pairs, jname);
        char **present = NULL;
        size_t npresent = 0;
        bench_err ig;
        if (path_is_dir(pdir))
            list_files(pdir, NULL, &present, &npresent, &ig);
        int any = 0;
        for (size_t k = 0; k < npresent; k++)
            if (strstr(present[k], "_scores.json"))
                any = 1;
        free_strv(present, npresent);
        size_t nvalid = 0;
        for (size_t i = 0; i < nc; i++) {
            cell *cl = &cells[i * nj + j];
            const char *L = json_string_value(json_object_get(row, rows[i].id));
            labels[i] = xstrdup(L ? L : "?");
            cl->label = xstrdup(labels[i]);
            cl->tier =
                rows[i].model && !strcmp(rows[i].model, jname) ? "self" : tier;
            cl->pending = !any;
            if (!any)
                continue;
            char *f = xasprintf("%s/%s_scores.json", pdir, labels[i]);
            cl->valid = scores_load(f, jname, labels[i], &cl->s, &pl) == 0;
            nvalid += (size_t)cl->valid;
            free(f);
        }
        if (any)
            scores_unknown_labels(pdir, jname, labels, nc, &pl);
        else
            json_array_append_new(jpending, json_string(jname));
        free_strv(labels, nc);
        free(pdir);
        /* The judge's own run record, if it was driven. */
        char *rp = xasprintf("%s/judges/%s/run.json", judging_dir, jname);
        json_t *run = path_is_file(rp) ? json_load_file(rp, 0, NULL) : NULL;
        free(rp);
        double tokens, cost;
        usage_figures(json_object_get(run, "usage"), &tokens, &cost);
        const char *st = json_string_value(json_object_get(run, "status"));
        json_array_append_new(
            jjudge_out,
            json_pack("{s:s, s:s, s:o, s:s, s:O, s:o, s:o, s:o, s:I, s:I, "
                      "s:b}",
                      "name", jname, "tier", tier, "slug",
                      json_incref(json_object_get(jj, "slug")), "status",
                      st ? st
                         : (json_is_null(json_object_get(jj, "command"))
                                ? "manual"
                                : "not-run"),
                      "exit_code",
                      json_object_get(run, "exit_code")
                          ? json_object_get(run, "exit_code")
                          : json_null(),
                      "wall_sec", num(jnum(json_object_get(run, "wall_sec"))),
                      "tokens", num(tokens), "cost_usd", num(cost),
                      "valid_scores", (json_int_t)nvalid, "labels",
                      (json_int_t)nc, "produced_output", any));
        json_decref(run);
    }

    /* Per candidate. */
    double *sp_all = xcalloc(nj ? nj : 1, sizeof(double));
    double *sp_exp = xcalloc(nj ? nj : 1, sizeof(double));
    double *sp_peer = xcalloc(nj ? nj : 1, sizeof(double));
    double *q_all = xcalloc(nj ? nj : 1, sizeof(double));
    double *q_exp = xcalloc(nj ? nj : 1, sizeof(double));
    double *q_peer = xcalloc(nj ? nj : 1, sizeof(double));
    const char **verd = xcalloc(nj ? nj : 1, sizeof(char *));
    double tests_total =
        (double)json_array_size(json_object_get(results, "tests"));
    json_int_t repeat = json_integer_value(json_object_get(results, "repeat"));
    for (size_t i = 0; i < nc; i++) {
        cand_row *r = &rows[i];
        int hf = 0, hf_n = 0;
        for (size_t j = 0; j < nj; j++) {
            cell *cl = &cells[i * nj + j];
            sp_all[j] = sp_exp[j] = sp_peer[j] = NAN;
            q_all[j] = q_exp[j] = q_peer[j] = NAN;
            verd[j] = NULL;
            if (!cl->valid || !strcmp(cl->tier, "self"))
                continue;
            double s = cl->s.spec, q = cl->s.quality_total;
            sp_all[j] = s;
            q_all[j] = q;
            if (!strcmp(cl->tier, "expert")) {
                sp_exp[j] = s;
                q_exp[j] = q;
            } else {
                sp_peer[j] = s;
                q_peer[j] = q;
            }
            verd[j] = VERDICT_NAMES[cl->s.verdict];
            hf += cl->s.hard_fail;
            hf_n++;
        }
        int vcount = 0, vtie = 0;
        static const char *const vorder[] = {"unusable", "rewrite",
                                             "ship-with-cleanup", NULL};
        const char *vmode = stats_mode(verd, nj, vorder, &vcount, &vtie);
        json_t *summ = json_object_get(r->eval, "summary");
        r->mean_passed = jnum(json_object_get(summ, "mean_passed"));
        r->pass_rate = jnum(json_object_get(summ, "pass_rate"));
        if (isnan(r->pass_rate))
            r->pass_rate = -1;
        double sm = stats_median(sp_all, nj), qm = stats_median(q_all, nj);
        r->combined = isnan(sm) ? -1 : sm / 10.0 + (isnan(qm) ? 0 : qm / 20);
        r->hf_frac = hf_n ? (double)hf / hf_n : 2;
        double dsp = stats_median(sp_peer, nj) - stats_median(sp_exp, nj);
        double dq = stats_median(q_peer, nj) - stats_median(q_exp, nj);

        /* Hidden tests, one row each, sorted by id. */
        json_t *htests = json_array();
        json_t *et = json_object_get(r->eval, "tests");
        json_t *ids = json_object_get(results, "tests");
        for (size_t k = 0; k < json_array_size(ids); k++) {
            const char *tid = json_string_value(json_array_get(ids, k));
            json_t *x = json_object_get(et, tid);
            if (!x)
                continue;
            json_array_append_new(
                htests,
                json_pack("{s:s, s:O, s:O, s:O, s:o, s:O}", "id", tid,
                          "verdicts", json_object_get(x, "verdicts"), "passed",
                          json_object_get(x, "passed"), "runs",
                          json_object_get(x, "runs"), "pass_rate",
                          num(jnum(json_object_get(x, "pass_rate"))), "flaky",
                          json_object_get(x, "flaky")));
        }
        /* Each judge's row, by judge name. */
        json_t *jrows = json_array();
        for (size_t j = 0; j < nj; j++) {
            cell *cl = &cells[i * nj + j];
            const char *jname = json_string_value(
                json_object_get(json_array_get(jjudges, j), "name"));
            json_t *x = json_pack("{s:s, s:s, s:s, s:b, s:b}", "judge", jname,
                                  "tier", cl->tier, "label", cl->label, "valid",
                                  cl->valid, "pending", cl->pending);
            if (cl->valid) {
                json_t *parts = json_object();
                for (int q = 0; QUALITY_KEYS[q]; q++)
                    json_object_set_new(parts, QUALITY_KEYS[q],
                                        json_integer(cl->s.quality[q]));
                json_object_set_new(
                    x, "hard_fail",
                    json_string(cl->s.hard_fail ? "fail" : "pass"));
                json_object_set_new(x, "hard_fail_reasons",
                                    json_incref(cl->s.hard_fail_reasons));
                json_object_set_new(x, "spec", json_integer(cl->s.spec));
                json_object_set_new(x, "quality",
                                    json_integer(cl->s.quality_total));
                json_object_set_new(x, "quality_parts", parts);
                json_object_set_new(x, "verdict",
                                    json_string(VERDICT_NAMES[cl->s.verdict]));
                json_object_set_new(x, "summary", json_string(cl->s.summary));
            }
            json_array_append_new(jrows, x);
        }
        /* Cost and efficiency of the implement run. */
        json_t *jc = json_array_get(jcands, i);
        const char *run_dir = json_string_value(json_object_get(jc, "run_dir"));
        json_t *meta = NULL;
        if (run_dir) {
            char *mp = path_join(run_dir, "meta.json");
            meta = json_load_file(mp, 0, NULL);
            free(mp);
        }
        double tokens, cost;
        usage_figures(json_object_get(meta, "usage"), &tokens, &cost);
        long loc = count_loc(json_string_value(json_object_get(jc, "dir")));
        double cppt =
            !isnan(cost) && r->mean_passed > 0 ? cost / r->mean_passed : NAN;
        json_t *cost_j = json_pack(
            "{s:o, s:o, s:o, s:o, s:o, s:O}", "wall_sec",
            num(jnum(json_object_get(meta, "wall_sec"))), "tokens", num(tokens),
            "cost_usd", num(cost), "loc",
            loc >= 0 ? json_integer(loc) : json_null(), "cost_per_passing_test",
            num(cppt), "slug",
            json_object_get(meta, "slug") ? json_object_get(meta, "slug")
                                          : json_null());
        json_decref(meta);

        json_t *tests_j = json_pack(
            "{s:o, s:O, s:o, s:o, s:I, s:O, s:O}", "total", num(tests_total),
            "always_passed",
            json_object_get(summ, "tests_always_passed")
                ? json_object_get(summ, "tests_always_passed")
                : json_null(),
            "mean_passed", num(r->mean_passed), "pass_rate",
            num(r->pass_rate < 0 ? NAN : r->pass_rate), "repeat",
            (json_int_t)repeat, "flaky",
            json_object_get(summ, "flaky") ? json_object_get(summ, "flaky")
                                           : json_null(),
            "statuses",
            json_object_get(summ, "statuses")
                ? json_object_get(summ, "statuses")
                : json_null());
        /* the evaluation's static scan: what the code tried on the runner */
        json_object_set(tests_j, "scan_flags",
                        json_object_get(summ, "flags")
                            ? json_object_get(summ, "flags")
                            : json_null());
        r->doc = json_pack(
            "{s:s, s:s, s:{s:i, s:i}, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, "
            "s:{s:o, s:i, s:i, s:b}, s:o, s:{s:o, s:o}, s:{s:o, s:o}, s:o, "
            "s:o, s:o}",
            "id", r->id, "model", r->model ? r->model : r->id, "hard_fail",
            "fail", hf, "of", hf_n, "spec", "all", num(sm), "expert",
            num(stats_median(sp_exp, nj)), "peer",
            num(stats_median(sp_peer, nj)), "quality", "all", num(qm), "expert",
            num(stats_median(q_exp, nj)), "peer", num(stats_median(q_peer, nj)),
            "verdict", "mode", vmode ? json_string(vmode) : json_null(),
            "count", vcount, "of", hf_n, "tie", vtie, "tests", tests_j,
            "agreement", "spec", summary_json(sp_all, nj), "quality",
            summary_json(q_all, nj), "peer_minus_expert", "spec", num(dsp),
            "quality", num(dq), "cost", cost_j, "judges", jrows, "hidden_tests",
            htests);
    }

    /* Rank, then emit candidates in rank order. */
    cand_row *ranked = xcalloc(nc ? nc : 1, sizeof *ranked);
    memcpy(ranked, rows, nc * sizeof *rows);
    qsort(ranked, nc, sizeof *ranked, cmp_rank);
    json_t *jout = json_array();
    double dsum_s = 0, dsum_q = 0;
    int dn_s = 0, dn_q = 0;
    for (size_t i = 0; i < nc; i++) {
        json_object_set_new(ranked[i].doc, "rank", json_integer((int)i + 1));
        json_t *d = json_object_get(ranked[i].doc, "peer_minus_expert");
        double ds = jnum(json_object_get(d, "spec"));
        double dq = jnum(json_object_get(d, "quality"));
        if (!isnan(ds)) {
            dsum_s += ds;
            dn_s++;
        }
        if (!isnan(dq)) {
            dsum_q += dq;
            dn_q++;
        }
        json_array_append_new(jout, ranked[i].doc);
    }

    /* Per-judge ranking and agreement with the hidden tests. */
    json_t *jrank = json_array();
    json_t *jagree = json_array();
    double all_agree = 0;
    int all_pairs = 0;
    judge_rank_item *items = xcalloc(nc ? nc : 1, sizeof *items);
    for (size_t j = 0; j < nj; j++) {
        json_t *jj = json_array_get(jjudges, j);
        size_t ni = 0;
        for (size_t i = 0; i < nc; i++) {
            cell *cl = &cells[i * nj + j];
            if (!cl->valid)
                continue;
            items[ni].id = rows[i].id;
            items[ni].spec = cl->s.spec;
            items[ni].quality = cl->s.quality_total;
            items[ni].self = !strcmp(cl->tier, "self");
            ni++;
        }
        qsort(items, ni, sizeof *items, cmp_judge_rank);
        json_t *order = json_array();
        for (size_t k = 0; k < ni; k++)
            json_array_append_new(
                order, json_pack("{s:s, s:i, s:i, s:b}", "id", items[k].id,
                                 "spec", (int)items[k].spec, "quality",
                                 (int)items[k].quality, "self", items[k].self));
        json_array_append_new(
            jrank,
            json_pack("{s:O, s:O, s:o}", "judge", json_object_get(jj, "name"),
                      "tier", json_object_get(jj, "tier"), "order", order));
        /* Pairs of non-self candidates whose hidden-test results differ. */
        int pairs_n = 0, agree = 0, ties = 0;
        for (size_t x = 0; x < nc; x++) {
            for (size_t y = x + 1; y < nc; y++) {
                cell *cx = &cells[x * nj + j], *cy = &cells[y * nj + j];
                if (!cx->valid || !cy->valid || !strcmp(cx->tier, "self") ||
                    !strcmp(cy->tier, "self"))
                    continue;
                double tx = rows[x].mean_passed, ty = rows[y].mean_passed;
                if (isnan(tx) || isnan(ty) || tx == ty)
                    continue;
                pairs_n++;
                int ds = cx->s.spec - cy->s.spec;
                if (ds == 0)
                    ties++;
                else if ((ds > 0) == (tx > ty))
                    agree++;
            }
        }
        double rate = pairs_n ? (agree + 0.5 * ties) / pairs_n : NAN;
        if (pairs_n) {
            all_agree += agree + 0.5 * ties;
            all_pairs += pairs_n;
        }
        json_array_append_new(
            jagree, json_pack("{s:O, s:O, s:i, s:i, s:i, s:i, s:o}", "judge",
                              json_object_get(jj, "name"), "tier",
                              json_object_get(jj, "tier"), "pairs", pairs_n,
                              "agree", agree, "ties", ties, "disagree",
                              pairs_n - agree - ties, "rate", num(rate)));
    }
    free(items);

    /* Self-bias: a judge's score of its own model minus the peer median. */
    json_t *jbias = json_array();
    for (size_t j = 0; j < nj; j++) {
        for (size_t i = 0; i < nc; i++) {
            cell *cl = &cells[i * nj + j];
            if (strcmp(cl->tier, "self"))
                continue;
            json_t *d = rows[i].doc;
            double ps =
                jnum(json_object_get(json_object_get(d, "spec"), "peer"));
            double pq =
                jnum(json_object_get(json_object_get(d, "quality"), "peer"));
            double ss = cl->valid ? cl->s.spec : NAN;
            double sq = cl->valid ? cl->s.quality_total : NAN;
            json_array_append_new(
                jbias,
                json_pack("{s:O, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "judge",
                          json_object_get(json_array_get(jjudges, j), "name"),
                          "id", rows[i].id, "self_spec", num(ss), "peer_spec",
                          num(ps), "delta_spec", num(ss - ps), "self_quality",
                          num(sq), "peer_quality", num(pq), "delta_quality",
                          num(sq - pq)));
        }
    }

    /* Problems, sorted; each names the candidate behind the label. */
    if (pl.n > 1)
        qsort(pl.v, pl.n, sizeof *pl.v, cmp_problem);
    json_t *jprob = json_array();
    for (size_t k = 0; k < pl.n; k++) {
        const char *cid = NULL;
        json_t *row = json_object_get(pairs, pl.v[k].judge);
        const char *key;
        json_t *v;
        json_object_foreach(row, key, v)
        {
            if (!strcmp(json_string_value(v), pl.v[k].label))
                cid = key;
        }
        json_array_append_new(
            jprob, json_pack("{s:s, s:s, s:o, s:s, s:s}", "judge",
                             pl.v[k].judge, "label", pl.v[k].label, "candidate",
                             cid ? json_string(cid) : json_null(), "field",
                             pl.v[k].field, "message", pl.v[k].message));
    }

    int n_exp = 0, n_peer = 0;
    for (size_t j = 0; j < nj; j++) {
        const char *tier = json_string_value(
            json_object_get(json_array_get(jjudges, j), "tier"));
        if (tier && !strcmp(tier, "expert"))
            n_exp++;
        else
            n_peer++;
    }
    json_t *doc = json_pack(
        "{s:s, s:O, s:O, s:O, s:I, s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:o, "
        "s:o, s:o, s:{s:o, s:o, s:i, s:i}, s:{s:o, s:i}}",
        "kind", "sandbox-bench-review", "task", json_object_get(index, "task"),
        "eval_id", json_object_get(index, "eval_id"), "seed",
        json_object_get(index, "seed"), "repeat", (json_int_t)repeat,
        "tests_total", num(tests_total), "expert_judges", n_exp, "peer_judges",
        n_peer, "judges", jjudge_out, "pending", jpending, "candidates", jout,
        "per_judge_ranking", jrank, "self_bias", jbias, "test_agreement",
        jagree, "problems", jprob, "peer_minus_expert", "spec_mean",
        num(dn_s ? dsum_s / dn_s : NAN), "quality_mean",
        num(dn_q ? dsum_q / dn_q : NAN), "spec_n", dn_s, "quality_n", dn_q,
        "test_agreement_overall", "rate",
        num(all_pairs ? all_agree / all_pairs : NAN), "pairs", all_pairs);

    for (size_t k = 0; k < nc * nj; k++) {
        free(cells[k].label);
        if (cells[k].valid)
            scores_free(&cells[k].s);
    }
    free(cells);
    free(rows);
    free(ranked);
    free(sp_all);
    free(sp_exp);
    free(sp_peer);
    free(q_all);
    free(q_exp);
    free(q_peer);
    free(verd);
    problems_free(&pl);
    json_decref(index);
    json_decref(pairs);
    json_decref(results);
    if (!doc) {
        bench_seterr(e, "%s: could not build the review document", judging_dir);
        return -1;
    }
    *review = doc;
    return 0;
}

int aggregate_write(const char *judging_dir, json_t **review, bench_err *e)
{
    json_t *doc = NULL;
    if (aggregate_build(judging_dir, &doc, e) != 0)
        return -1;
    char *jp = path_join(judging_dir, "review.json");
    char *mp = path_join(judging_dir, "review.md");
    char *sp = path_join(judging_dir, "review.svg");
    char *md = review_markdown(doc);
    char *svg = review_svg(doc);
    int rc = json_write_file(jp, doc, e);
    if (rc == 0)
        rc = write_file(mp, md, strlen(md), e);
    if (rc == 0)
        rc = write_file(sp, svg, strlen(svg), e);
    free(md);
    free(svg);
    free(jp);
    free(mp);
    free(sp);
    if (rc != 0 || !review)
        json_decref(doc);
    else
        *review = doc;
    return rc;
}
