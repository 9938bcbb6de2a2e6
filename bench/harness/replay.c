/* SPDX-License-Identifier: MIT */
/*
 * replay.c: `sandbox-bench replay RESULTS.json|EVAL_DIR`.  Re-runs an
 * evaluation from its record -- the same task directory, candidates,
 * repeat count, backend and seed -- after checking that what would run is
 * what ran: the suite digest, every candidate's digest and the image's
 * immutable ID (asked of libsandbox with one trivial run of the image on
 * the recorded backend).  Any change refuses the replay.  Then every
 * verdict is compared and each difference named.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#include <sandbox.h>

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void push(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = s;
}

static json_t *find_cand(json_t *doc, const char *label)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "candidates"), i, c)
    {
        const char *l = jstr(c, "label");
        if (l && !strcmp(l, label))
            return c;
    }
    return NULL;
}

int results_diff(json_t *was, json_t *now, char ***diffs, size_t *n)
{
    *diffs = NULL;
    *n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(was, "candidates"), i, c)
    {
        const char *label = jstr(c, "label");
        if (!label)
            continue;
        json_t *d = find_cand(now, label);
        if (!d) {
            push(diffs, n, xasprintf("%s: not in the replay", label));
            continue;
        }
        json_t *wt = json_object_get(c, "tests");
        json_t *nt = json_object_get(d, "tests");
        const char *id;
        json_t *tv;
        json_object_foreach(wt, id, tv)
        {
            json_t *nv = json_object_get(nt, id);
            char *a = json_dumps(json_object_get(tv, "verdicts"), JSON_COMPACT);
            char *b =
                nv ? json_dumps(json_object_get(nv, "verdicts"), JSON_COMPACT)
                   : xstrdup("(absent)");
            if (!a || !b || strcmp(a, b) != 0)
                push(diffs, n,
                     xasprintf("%s: test %s was %s, now %s", label, id,
                               a ? a : "?", b ? b : "?"));
            free(a);
            free(b);
        }
        json_object_foreach(nt, id, tv)
        {
            if (!json_object_get(wt, id))
                push(diffs, n,
                     xasprintf("%s: test %s appears only in the replay", label,
                               id));
        }
        json_t *wr = json_object_get(c, "runs"),
               *nr = json_object_get(d, "runs");
        for (size_t k = 0; k < json_array_size(wr); k++) {
            const char *ws = jstr(json_array_get(wr, k), "status");
            const char *ns = jstr(json_array_get(nr, k), "status");
            if (!ws || !ns || strcmp(ws, ns) != 0)
                push(diffs, n,
                     xasprintf("%s: run %zu status was %s, now %s", label,
                               k + 1, ws ? ws : "?", ns ? ns : "(absent)"));
        }
    }
    json_array_foreach(json_object_get(now, "candidates"), i, c)
    {
        const char *label = jstr(c, "label");
        if (label && !find_cand(was, label))
            push(diffs, n, xasprintf("%s: appears only in the replay", label));
    }
    return *n ? 1 : 0;
}

/* The image ID libsandbox reports for `image` on `runtime` now. */
static char *probe_image_id(const char *image, const char *runtime,
                            bench_err *e)
{
    sandbox_opts o;
    sandbox_result r;
    sandbox_opts_init(&o, sizeof o);
    sandbox_result_init(&r, sizeof r);
    o.command = "true";
    o.image = image;
    o.runtime = runtime;
    o.network = SANDBOX_NETWORK_NONE;
    o.timeout_sec = 120;
    int rc = sandbox_run(&o, &r);
    char *id = NULL;
    if (rc != 0)
        bench_seterr(e, "cannot run image %s on %s to read its ID: %s", image,
                     runtime ? runtime : "the default runtime",
                     r.message ? r.message : sandbox_strerror(rc));
    else if (!r.image_id)
        bench_seterr(e, "libsandbox reports no image ID for %s on %s", image,
                     runtime ? runtime : "the default runtime");
    else
        id = xstrdup(r.image_id);
    sandbox_result_free(&r);
    return id;
}

int replay_run(const replay_args *a, char ***diffs, size_t *n_diffs,
               char **replay_dir, bench_err *e)
{
    *diffs = NULL;
    *n_diffs = 0;
    *replay_dir = NULL;
    char *path = path_is_dir(a->record) ? path_join(a->record, "results.json")
                                        : xstrdup(a->record);
    json_error_t je;
    json_t *was = json_load_file(path, 0, &je);
    int rc = -1;
    bench_task t;
    int have_task = 0;
    candidate *cands = NULL;
    size_t n = 0;
    json_t *now = NULL;
    char *out_dir = NULL, *id = NULL, *cur_id = NULL;
    if (!was || !json_is_array(json_object_get(was, "candidates"))) {
        bench_seterr(e,
                     "%s: %s; fix: pass the results.json written by "
                     "`sandbox-bench evaluate` (or its directory)",
                     path, was ? "not a results document" : je.text);
        goto out;
    }
    const char *task_dir = jstr(was, "task_dir");
    const char *suite = jstr(was, "suite_sha256");
    const char *image_id = jstr(was, "image_id");
    const char *backend = jstr(was, "backend");
    const char *eval_id = jstr(was, "eval_id");
    if (!task_dir || !suite || !eval_id) {
        bench_seterr(e,
                     "%s: no task_dir/suite_sha256/eval_id: recorded by a "
                     "harness before replay existed; it cannot be replayed",
                     path);
        rc = 2;
        goto out;
    }
    if (!image_id || !backend) {
        bench_seterr(e,
                     "REFUSED: %s records no image_id (a directory rootfs, "
                     "runs that disagreed on the image, or an engine that "
                     "did not say): what ran cannot be pinned, so it is "
                     "not replayed",
                     path);
        rc = 2;
        goto out;
    }
    if (task_load(task_dir, &t, e) != 0) {
        rc = 2;
        goto out;
    }
    have_task = 1;
    char suite_now[65];
    static const char *const skip[] = {"__pycache__", ".pytest_cache", NULL};
    if (digest_tree(t.tests_dir, skip, suite_now, e) != 0)
        goto out;
    if (strcmp(suite_now, suite) != 0) {
        bench_seterr(e,
                     "REFUSED: the suite changed: %s was sha256 %s, is now "
                     "%s; fix: restore the tests the evaluation ran",
                     t.tests_dir, suite, suite_now);
        rc = 2;
        goto out;
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(was, "candidates"), i, c)
    {
        const char *label = jstr(c, "label");
        const char *dir = jstr(c, "dir");
        const char *sha = jstr(c, "sha256");
        char hex[65];
        bench_err de;
        if (!label || !dir || !sha || !path_is_dir(dir) ||
            digest_tree(dir, NULL, hex, &de) != 0 || strcmp(hex, sha) != 0) {
            bench_seterr(e,
                         "REFUSED: candidate %s changed or is gone (%s; "
                         "recorded sha256 %s)",
                         label ? label : "?", dir ? dir : "?", sha ? sha : "?");
            rc = 2;
            goto out;
        }
        cands = xrealloc(cands, (n + 1) * sizeof *cands);
        cands[n].label = xstrdup(label);
        cands[n].dir = xstrdup(dir);
        n++;
    }
    const char *runtime = jstr(was, "runtime");
    if (!runtime)
        runtime = backend;
    cur_id = probe_image_id(t.image, runtime, e);
    if (!cur_id) {
        rc = 2;
        goto out;
    }
    if (strcmp(cur_id, image_id) != 0) {
        bench_seterr(e,
                     "REFUSED: image %s changed: the evaluation ran %s, %s "
                     "now means %s; fix: restore that image (or tag it "
                     "back) to replay",
                     t.image, image_id, t.image, cur_id);
        rc = 2;
        goto out;
    }
    /* <out>/evals/<task>/<id>/results.json -> <out> */
    char *rp = path_abs(path);
    if (!rp) {
        bench_seterr(e, "%s: cannot resolve its path", path);
        goto out;
    }
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(rp, '/');
        if (slash && slash != rp)
            *slash = '\0';
    }
    out_dir = rp;
    for (int k = 1;; k++) {
        free(id);
        id = xasprintf("%s-replay%d", eval_id, k);
        char *d = xasprintf("%s/evals/%s/%s", out_dir, t.name, id);
        int taken = path_is_dir(d);
        free(d);
        if (!taken)
            break;
    }
    evaluate_args ea;
    memset(&ea, 0, sizeof ea);
    ea.out_dir = out_dir;
    json_t *jr = json_object_get(was, "repeat");
    json_t *jj = json_object_get(was, "jobs");
    ea.repeat = json_is_integer(jr) ? (int)json_integer_value(jr) : 1;
    ea.jobs = a->jobs > 0           ? a->jobs
              : json_is_integer(jj) ? (int)json_integer_value(jj)
                                    : 1;
    ea.runtime = runtime;
    ea.eval_id = id;
    ea.quiet = a->quiet;
    json_t *js = json_object_get(was, "seed");
    ea.seed = json_is_integer(js) ? json_integer_value(js) : 0;
    char *edir = NULL;
    if (evaluate_all(&t, cands, n, &ea, &now, &edir, e) != 0)
        goto out;
    *replay_dir = edir;
    const char *ran = jstr(now, "image_id");
    if (ran && strcmp(ran, image_id) != 0) {
        char *m = xasprintf("the replay ran image %s, not the recorded %s", ran,
                            image_id);
        *diffs = xrealloc(*diffs, (*n_diffs + 1) * sizeof **diffs);
        (*diffs)[(*n_diffs)++] = m;
    }
    char **d2 = NULL;
    size_t nd2 = 0;
    results_diff(was, now, &d2, &nd2);
    for (size_t k = 0; k < nd2; k++) {
        *diffs = xrealloc(*diffs, (*n_diffs + 1) * sizeof **diffs);
        (*diffs)[(*n_diffs)++] = d2[k];
    }
    free(d2);
    rc = *n_diffs ? 1 : 0;
out:
    json_decref(was);
    json_decref(now);
    if (have_task)
        task_free(&t);
    candidates_free(cands, n);
    free(out_dir);
    free(id);
    free(cur_id);
    free(path);
    return rc;
}
