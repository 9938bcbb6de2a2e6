/* SPDX-License-Identifier: MIT */
/*
 * judge.c: the judge phase.
 *
 * For one evaluation of a task, every judge (the implementers as peers,
 * the config's expert judges as experts) gets its own packet:
 *
 *   OUT/judgments/<task>/<id>/
 *     judging.json        the run index: seed, evaluation, candidates
 *                         (model, run, digest), judges (tier, packet)
 *     pairings.json       judge -> candidate -> blinded label
 *     judges/<judge>/     run.json, stdout, stderr of the judge command
 *     packets/judge-NN/   THE PACKET: the only thing a judge sees
 *       PROMPT.md SPEC.md JUDGE_PROMPT.md JUDGE_RUBRIC.md README.md
 *       implementations/<L>/...   every candidate, blinded as A, B, C...
 *       output/                   empty: <L>_scores.json go here
 *
 * The labels are shuffled independently per judge by xoshiro256** seeded
 * from (seed, judge name), so one recorded seed reproduces every packet.
 * A packet never holds the hidden tests, their results, the mapping or a
 * model name: names and slugs in the candidates' files and paths are
 * replaced by "[model]".
 */
#include "judging.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <sandbox.h>

static const char *const JUDGE_KEYS[] = {
    "packet", "workdir", "output", "prompt", "prompt_file", "judge",
    "model",  "slug",    "task",   "labels", "judge_dir",   NULL};

char *blind_label(size_t i)
{
    char buf[16];
    size_t k = sizeof buf - 1;
    buf[k] = '\0';
    i++; /* bijective base 26: A..Z, AA.. */
    while (i > 0 && k > 0) {
        i--;
        buf[--k] = (char)('A' + i % 26);
        i /= 26;
    }
    return xstrdup(buf + k);
}

static int parse_cmd(json_t *v, const char *file, const char *field,
                     char ***out, size_t *n, bench_err *e)
{
    const char *fix = "give the judge command as an argv array, e.g. "
                      "[\"opencode\", \"run\", \"--dir\", \"{packet}\", "
                      "\"--model\", \"{slug}\", \"{prompt}\"] (placeholders: "
                      "{packet} {workdir} {output} {prompt} {prompt_file} "
                      "{judge} {model} {slug} {task} {labels} {judge_dir}), "
                      "or null to drive this judge by hand";
    if (!json_is_array(v) || json_array_size(v) == 0) {
        bench_seterr(e, "%s: field \"%s\" must be a non-empty array; fix: %s",
                     file, field, fix);
        return -1;
    }
    size_t cnt = json_array_size(v);
    char **s = xcalloc(cnt, sizeof *s);
    size_t nk = 0;
    while (JUDGE_KEYS[nk])
        nk++;
    const char **dummy = xcalloc(nk, sizeof *dummy);
    for (size_t i = 0; i < nk; i++)
        dummy[i] = "x";
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(v, i);
        bench_err te;
        char *chk = NULL;
        if (!json_is_string(x) || json_string_length(x) == 0) {
            bench_seterr(e,
                         "%s: field \"%s[%zu]\" must be a non-empty "
                         "string; fix: %s",
                         file, field, i, fix);
        } else if (!(chk = template_expand(json_string_value(x), JUDGE_KEYS,
                                           dummy, nk, &te))) {
            bench_seterr(e, "%s: field \"%s[%zu]\": %s; fix: %s", file, field,
                         i, te.msg, fix);
        }
        if (!chk) {
            free_strv(s, i);
            free(dummy);
            return -1;
        }
        free(chk);
        s[i] = xstrdup(json_string_value(x));
    }
    free(dummy);
    *out = s;
    *n = cnt;
    return 0;
}

int judge_config(const bench_config *c, judge_cmd **out, size_t *n,
                 bench_err *e)
{
    const char *file = c->path ? c->path : "config";
    char **top = NULL;
    size_t ntop = 0;
    json_t *raw = c->raw;
    json_t *jt = raw ? json_object_get(raw, "judge_command") : NULL;
    if (jt && !json_is_null(jt) &&
        parse_cmd(jt, file, "judge_command", &top, &ntop, e) != 0)
        return -1;
    size_t total = c->n_implementers + c->n_judges;
    judge_cmd *j = xcalloc(total, sizeof *j);
    int rc = 0;
    for (size_t i = 0; i < total && rc == 0; i++) {
        int peer = i < c->n_implementers;
        size_t k = peer ? i : i - c->n_implementers;
        const bench_model *m = peer ? &c->implementers[k] : &c->judges[k];
        const char *list = peer ? "implementers" : "expert_judges";
        j[i].name = xstrdup(m->name);
        j[i].slug = xstrdup(m->slug);
        j[i].tier = peer ? "peer" : "expert";
        json_t *obj =
            raw ? json_array_get(json_object_get(raw, list), k) : NULL;
        json_t *own =
            json_is_object(obj) ? json_object_get(obj, "judge_command") : NULL;
        if (own && json_is_null(own))
            continue; /* by hand */
        if (own) {
            char *field = xasprintf("%s[%zu].judge_command", list, k);
            rc = parse_cmd(own, file, field, &j[i].command, &j[i].n_command, e);
            free(field);
        } else if (top) {
            j[i].command = xcalloc(ntop, sizeof *j[i].command);
            for (size_t w = 0; w < ntop; w++)
                j[i].command[w] = xstrdup(top[w]);
            j[i].n_command = ntop;
        }
    }
    free_strv(top, ntop);
    if (rc != 0) {
        judge_cmds_free(j, total);
        return -1;
    }
    *out = j;
    *n = total;
    return 0;
}

void judge_cmds_free(judge_cmd *j, size_t n)
{
    for (size_t i = 0; i < n && j; i++) {
        free(j[i].name);
        free(j[i].slug);
        free_strv(j[i].command, j[i].n_command);
    }
    free(j);
}

char *newest_dir_with(const char *root, const char *file)
{
    DIR *d = opendir(root);
    if (!d)
        return NULL;
    char *best = NULL, *best_key = NULL;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *dir = path_join(root, de->d_name);
        char *f = path_join(dir, file);
        json_t *j = path_is_file(f) ? json_load_file(f, 0, NULL) : NULL;
        if (j) {
            const char *ts =
                json_string_value(json_object_get(j, "created_at"));
            if (!ts)
                ts = json_string_value(json_object_get(j, "finished_at"));
            char *key = xasprintf("%s\t%s", ts ? ts : "", de->d_name);
            if (!best_key || strcmp(key, best_key) > 0) {
                free(best_key);
                free(best);
                best_key = key;
                best = xstrdup(dir);
            } else {
                free(key);
            }
            json_decref(j);
        }
        free(f);
        free(dir);
    }
    closedir(d);
    free(best_key);
    return best;
}

/* ---- blinding ---------------------------------------------------------- */

typedef struct name_set {
    char **v;
    size_t n;
} name_set;

static void names_add(name_set *s, const char *name)
{
    if (!name || strlen(name) < 3)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (!strcasecmp(s->v[i], name))
            return;
    s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = xstrdup(name);
}

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Replace every whole-word, case-insensitive mention of a model name or
 * slug with "[model]".  Returns a new buffer; *hits counts replacements. */
static char *redact(const char *s, size_t len, const name_set *names,
                    size_t *out_len, size_t *hits)
{
    size_t cap = len + 64, n = 0;
    char *o = xmalloc(cap);
    for (size_t i = 0; i < len;) {
        size_t m = 0;
        if (i == 0 || !is_word(s[i - 1])) {
            for (size_t k = 0; k < names->n && !m; k++) {
                size_t l = strlen(names->v[k]);
                if (i + l <= len && !strncasecmp(s + i, names->v[k], l) &&
                    (i + l == len || !is_word(s[i + l])))
                    m = l;
            }
        }
        if (n + 8 >= cap) {
            cap = cap * 2 + 8;
            o = xrealloc(o, cap);
        }
        if (m) {
            memcpy(o + n, "[model]", 7);
            n += 7;
            i += m;
            (*hits)++;
        } else {
            o[n++] = s[i++];
        }
    }
    o[n] = '\0';
    *out_len = n;
    return o;
}

/* Copy a candidate's files into dst, redacting names in paths and text. */
static int copy_blinded(const char *src, const char *dst, const name_set *names,
                        size_t *hits, bench_err *e)
{
    char **files = NULL;
    size_t nf = 0;
    if (list_files(src, NULL, &files, &nf, e) != 0)
        return -1;
    int rc = mkdir_p(dst, e);
    for (size_t i = 0; i < nf && rc == 0; i++) {
        size_t pl;
        char *rel = redact(files[i], strlen(files[i]), names, &pl, hits);
        for (char *p = rel; *p; p++)
            if (*p == '[' || *p == ']')
                *p = '_';
        char *from = path_join(src, files[i]);
        char *to = path_join(dst, rel);
        char *slash = strrchr(to, '/');
        *slash = '\0';
        rc = mkdir_p(to, e);
        *slash = '/';
        char *data = NULL;
        size_t len = 0;
        if (rc == 0)
            rc = read_file(from, &data, &len, e);
        if (rc == 0) {
            if (memchr(data, '\0', len)) { /* binary: as is */
                rc = write_file(to, data, len, e);
            } else {
                size_t ol;
                char *red = redact(data, len, names, &ol, hits);
                rc = write_file(to, red, ol, e);
                free(red);
            }
        }
        free(data);
        free(from);
        free(to);
        free(rel);
    }
    free_strv(files, nf);
    return rc;
}

/* ---- the phase --------------------------------------------------------- */

typedef struct cand_info {
    char *id;    /* the evaluation's label: "model/round" or a fixture */
    char *model; /* the implementer, or the label for fixtures */
    char *dir;
    const char *sha256;
    char *run_dir; /* holds meta.json, or NULL */
} cand_info;

typedef struct judge_job {
    const judge_cmd *jc;
    size_t index;
    char *packet;    /* host path */
    char *judge_dir; /* judges/<name> */
    char *labels;    /* "A B C" */
    int sandboxed;
    int failed;
} judge_job;

typedef struct drive_ctx {
    const bench_task *t;
    const bench_config *c;
    judge_job *jobs;
    size_t n;
    size_t next;
    int quiet;
    pthread_mutex_t lock;
} drive_ctx;

static const char JUDGE_INSTRUCTION[] =
    "Read README.md, JUDGE_PROMPT.md, JUDGE_RUBRIC.md, SPEC.md and PROMPT.md "
    "in this directory. Review every implementation under implementations/ "
    "(labels: %s). For each label L write output/L_rubric.md and "
    "output/L_scores.json exactly as JUDGE_PROMPT.md specifies. Write "
    "nothing anywhere else. This is a static review: do not run the code.";

static void drive_one(drive_ctx *cx, judge_job *jb)
{
    const judge_cmd *jc = jb->jc;
    const bench_config *c = cx->c;
    bench_err e;
    e.msg[0] = '\0';
    const char *pk = jb->sandboxed ? "/workspace" : jb->packet;
    char *output = path_join(pk, "output");
    char *prompt_file = path_join(pk, "JUDGE_PROMPT.md");
    char *prompt = xasprintf(JUDGE_INSTRUCTION, jb->labels);
    const char *vals[] = {pk,          pk,         output,       prompt,
                          prompt_file, jc->name,   jc->name,     jc->slug,
                          cx->t->name, jb->labels, jb->judge_dir};
    size_t nk = sizeof vals / sizeof vals[0];
    char **argv = xcalloc(jc->n_command + 1, sizeof *argv);
    json_t *jargv = json_array();
    int bad = 0;
    for (size_t i = 0; i < jc->n_command && !bad; i++) {
        argv[i] = template_expand(jc->command[i], JUDGE_KEYS, vals, nk, &e);
        if (!argv[i])
            bad = 1;
        else
            json_array_append_new(jargv, json_string(argv[i]));
    }
    free(output);
    free(prompt_file);
    free(prompt);
    char *started = iso_time(now_wall());
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:s}", "judge",
                            jc->name, "slug", jc->slug, "tier", jc->tier,
                            "packet", jb->packet, "command", jargv, "sandboxed",
                            jb->sandboxed, "started_at", started);
    free(started);
    char *out_path = path_join(jb->judge_dir, "stdout");
    char *err_path = path_join(jb->judge_dir, "stderr");
    proc_result pr;
    memset(&pr, 0, sizeof pr);
    int ran = -1;
    if (!bad) {
        if (!cx->quiet) {
            pthread_mutex_lock(&cx->lock);
            fprintf(stderr, "[judge] %s (%s): running %s%s\n", jc->name,
                    jc->tier, argv[0],
                    jb->sandboxed ? " (inside libsandbox)" : "");
            pthread_mutex_unlock(&cx->lock);
        }
        ran =
            command_run_recorded(argv, jc->n_command, c, jb->sandboxed,
                                 jb->packet, out_path, err_path, rec, &pr, &e);
    } else {
        /* Never ran: the record still carries the same fields. */
        char *ended = iso_time(now_wall());
        json_object_set_new(rec, "ended_at", json_string(ended));
        free(ended);
        json_object_set_new(rec, "exit_code", json_integer(pr.exit_code));
        json_object_set_new(rec, "timed_out", json_boolean(pr.timed_out));
        json_object_set_new(rec, "wall_sec", json_real(pr.wall_sec));
    }
    json_t *usage = NULL;
    if (c->usage_file) {
        char *up = path_join(jb->packet, c->usage_file);
        usage = json_load_file(up, 0, NULL);
        if (usage && !json_is_object(usage)) {
            json_decref(usage);
            usage = NULL;
        }
        unlink(up);
        free(up);
    }
    if (!usage && ran == 0)
        usage = usage_from_stdout(out_path);
    json_object_set_new(rec, "usage", usage ? usage : json_null());
    const char *status = bad || ran != 0 ? "could-not-run"
                         : pr.timed_out  ? "timeout"
                         : pr.exit_code  ? "command-failed"
                                         : "ok";
    json_object_set_new(rec, "status", json_string(status));
    if (bad || ran != 0)
        json_object_set_new(rec, "error", json_string(e.msg));
    char *rp = path_join(jb->judge_dir, "run.json");
    bench_err ig;
    json_write_file(rp, rec, &ig);
    free(rp);
    jb->failed = strcmp(status, "ok") != 0;
    if (!cx->quiet) {
        pthread_mutex_lock(&cx->lock);
        fprintf(stderr, "[judge] %s (%s): %s (exit %d, %.1f s)%s%s\n", jc->name,
                jc->tier, status, pr.exit_code, pr.wall_sec,
                jb->failed && e.msg[0] ? ": " : "",
                jb->failed && e.msg[0] ? e.msg : "");
        pthread_mutex_unlock(&cx->lock);
    }
    json_decref(rec);
    free(out_path);
    free(err_path);
    free_strv(argv, jc->n_command);
}

static void *drive_worker(void *arg)
{
    drive_ctx *cx = arg;
    for (;;) {
        pthread_mutex_lock(&cx->lock);
        size_t i = cx->next < cx->n ? cx->next++ : cx->n;
        pthread_mutex_unlock(&cx->lock);
        if (i >= cx->n)
            return NULL;
        drive_one(cx, &cx->jobs[i]);
    }
}

static char *default_id(void)
{
    char *iso = iso_time(now_wall());
    char compact[32];
    size_t k = 0;
    for (const char *p = iso; *p && *p != '.' && k < sizeof compact - 1; p++)
        if (*p != '-' && *p != ':')
            compact[k++] = *p;
    compact[k] = '\0';
    free(iso);
    return xasprintf("%sZ-%d", compact, (int)getpid());
}

static int cmp_cand(const void *a, const void *b)
{
    return strcmp(((const cand_info *)a)->id, ((const cand_info *)b)->id);
}

static int write_text(const char *dir, const char *name, const char *text,
                      bench_err *e)
{
    char *p = path_join(dir, name);
    int rc = write_file(p, text, strlen(text), e);
    free(p);
    return rc;
}

/* One judge's packet; fills its row of pairings. */
static int build_packet(const bench_task *t, const judge_cmd *jc,
                        const char *packet, const cand_info *cands, size_t nc,
                        uint64_t seed, const name_set *names, json_t *pairs,
                        char **labels_out, bench_err *e)
{
    if (mkdir_p(packet, e) != 0)
        return -1;
    static const char *const files[] = {
        "PROMPT.md", "SPEC.md", "JUDGE_PROMPT.md", "JUDGE_RUBRIC.md", NULL};
    for (size_t i = 0; files[i]; i++) {
        char *s = path_join(t->dir, files[i]);
        char *d = path_join(packet, files[i]);
        int rc = copy_file(s, d, e);
        free(s);
        free(d);
        if (rc != 0)
            return -1;
    }
    size_t *idx = xcalloc(nc, sizeof *idx);
    for (size_t i = 0; i < nc; i++)
        idx[i] = i;
    bench_rng r;
    rng_seed(&r, seed, jc->name);
    rng_shuffle(&r, idx, nc);
    json_t *row = json_object();
    size_t cap = 4096, len = 0;
    char *readme = xmalloc(cap);
    char *labels = xcalloc(1, 4 * nc + 1);
    len = (size_t)snprintf(readme, cap,
                           "# Judging packet\n\nYou review %zu blinded "
                           "implementation%s of SPEC.md. Labels are "
                           "arbitrary and say nothing about who wrote "
                           "what.\n\n| label | files |\n| --- | --- |\n",
                           nc, nc == 1 ? "" : "s");
    int rc = 0;
    for (size_t p = 0; p < nc && rc == 0; p++) {
        const cand_info *ci = &cands[idx[p]];
        char *L = blind_label(p);
        json_object_set_new(row, ci->id, json_string(L));
        if (p)
            strcat(labels, " ");
        strcat(labels, L);
        char *impl = xasprintf("%s/implementations/%s", packet, L);
        size_t hits = 0;
        rc = copy_blinded(ci->dir, impl, names, &hits, e);
        char **fl = NULL;
        size_t nf = 0;
        if (rc == 0)
            rc = list_files(impl, NULL, &fl, &nf, e);
        char *line = xasprintf("| %s |", L);
        for (size_t k = 0; k < nf; k++) {
            char *more = xasprintf("%s%s implementations/%s/%s", line,
                                   k ? "," : "", L, fl[k]);
            free(line);
            line = more;
        }
        size_t ll = strlen(line);
        while (len + ll + 2 > cap) {
            cap *= 2;
            readme = xrealloc(readme, cap);
        }
        memcpy(readme + len, line, ll);
        len += ll;
        readme[len++] = '\n';
        readme[len] = '\0';
        free(line);
        free_strv(fl, nf);
        free(impl);
        free(L);
    }
    free(idx);
    if (rc == 0) {
        char *tail = xasprintf(
            "%s\nRead JUDGE_PROMPT.md and JUDGE_RUBRIC.md. For every label "
            "L above, write\n`output/L_rubric.md` (the rubric, filled) and "
            "`output/L_scores.json` (the\nexact shape in JUDGE_PROMPT.md). "
            "Write nothing else, and nowhere else.\n",
            readme);
        rc = write_text(packet, "README.md", tail, e);
        free(tail);
    }
    free(readme);
    char *out = path_join(packet, "output");
    if (rc == 0)
        rc = mkdir_p(out, e);
    free(out);
    json_object_set_new(pairs, jc->name, row);
    *labels_out = labels;
    return rc;
}

int judge_run(const bench_task *t, const bench_config *c, const judge_args *a,
              char **judging_dir, bench_err *e)
{
    int rc = -1;
    judge_cmd *jcs = NULL;
    size_t nj = 0;
    cand_info *cands = NULL;
    size_t nc = 0;
    json_t *results = NULL, *index = NULL, *pairs = NULL;
    char *eval_dir = NULL, *id = NULL, *dir = NULL;
    judge_job *jobs = NULL;
    name_set names = {NULL, 0};

    if (judge_config(c, &jcs, &nj, e) != 0)
        return -1;
    if (a->eval_dir) {
        eval_dir = path_abs(a->eval_dir);
    } else {
        char *root = xasprintf("%s/evals/%s", a->out_dir, t->name);
        eval_dir = newest_dir_with(root, "results.json");
        free(root);
    }
    if (!eval_dir) {
        bench_seterr(e,
                     "no evaluation of task %s%s%s; fix: run `sandbox-bench "
                     "evaluate` first or pass --eval EVAL_DIR",
                     t->name, a->eval_dir ? " at " : "",
                     a->eval_dir ? a->eval_dir : "");
        goto out;
    }
    char *rpath = path_join(eval_dir, "results.json");
    json_error_t je;
    results = json_load_file(rpath, 0, &je);
    if (!results || !json_is_array(json_object_get(results, "candidates"))) {
        bench_seterr(e,
                     "%s: %s; fix: pass an evaluation directory written "
                     "by `sandbox-bench evaluate`",
                     rpath, results ? "not a results document" : je.text);
        free(rpath);
        goto out;
    }
    free(rpath);
    const char *rtask = json_string_value(json_object_get(results, "task"));
    if (!rtask || strcmp(rtask, t->name)) {
        bench_seterr(e,
                     "%s evaluates task \"%s\", not \"%s\"; fix: pass an "
                     "evaluation of this task",
                     eval_dir, rtask ? rtask : "?", t->name);
        goto out;
    }
    json_t *jc = json_object_get(results, "candidates");
    nc = json_array_size(jc);
    if (nc == 0) {
        bench_seterr(e, "%s: no candidates were evaluated", eval_dir);
        goto out;
    }
    cands = xcalloc(nc, sizeof *cands);
    for (size_t i = 0; i < nc; i++) {
        json_t *x = json_array_get(jc, i);
        const char *label = json_string_value(json_object_get(x, "label"));
        const char *d = json_string_value(json_object_get(x, "dir"));
        if (!label || !d) {
            bench_seterr(e, "%s: candidate %zu has no label or dir", eval_dir,
                         i);
            goto out;
        }
        cands[i].id = xstrdup(label);
        cands[i].dir = xstrdup(d);
        cands[i].sha256 = json_string_value(json_object_get(x, "sha256"));
        /* A captured run: <run>/files next to <run>/meta.json. */
        const char *base = strrchr(d, '/');
        json_t *meta = NULL;
        if (base && !strcmp(base + 1, "files")) {
            char *rd = xasprintf("%.*s", (int)(base - d), d);
            char *mp = path_join(rd, "meta.json");
            meta = json_load_file(mp, 0, NULL);
            free(mp);
            if (meta)
                cands[i].run_dir = rd;
            else
                free(rd);
        }
        const char *mm = json_string_value(json_object_get(meta, "model"));
        cands[i].model = xstrdup(mm ? mm : label);
        json_decref(meta);
    }
    qsort(cands, nc, sizeof *cands, cmp_cand);

    for (size_t i = 0; i < c->n_implementers; i++) {
        names_add(&names, c->implementers[i].name);
        names_add(&names, c->implementers[i].slug);
        const char *sl = strrchr(c->implementers[i].slug, '/');
        names_add(&names, sl ? sl + 1 : NULL);
    }
    for (size_t i = 0; i < c->n_judges; i++) {
        names_add(&names, c->judges[i].name);
        names_add(&names, c->judges[i].slug);
        const char *sl = strrchr(c->judges[i].slug, '/');
        names_add(&names, sl ? sl + 1 : NULL);
    }
    for (size_t i = 0; i < nc; i++)
        names_add(&names, cands[i].model);

    id = a->id ? xstrdup(a->id) : default_id();
    dir = xasprintf("%s/judgments/%s/%s", a->out_dir, t->name, id);
    if (path_is_dir(dir)) {
        bench_seterr(e, "%s: already exists; fix: choose another --id", dir);
        goto out;
    }
    uint64_t seed = a->seed;
    if (!a->seed_set) {
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
            seed = (uint64_t)now_wall() ^ ((uint64_t)getpid() << 32);
        seed &= 0x7fffffffffffffffull; /* fits a JSON integer */
    }
    int sandboxed = a->sandboxed >= 0 ? a->sandboxed : c->sandboxed;
    if (sandboxed && !c->sandbox_image) {
        bench_seterr(e,
                     "%s: --sandboxed needs \"sandbox\": {\"image\": ...}; "
                     "fix: name the image that holds the judge CLI",
                     c->path ? c->path : "config");
        goto out;
    }

    pairs = json_object();
    jobs = xcalloc(nj, sizeof *jobs);
    json_t *jjudges = json_array();
    for (size_t k = 0; k < nj; k++) {
        char *rel = xasprintf("packets/judge-%02zu", k + 1);
        jobs[k].jc = &jcs[k];
        jobs[k].index = k;
        jobs[k].packet = path_join(dir, rel);
        jobs[k].judge_dir = xasprintf("%s/judges/%s", dir, jcs[k].name);
        jobs[k].sandboxed = sandboxed;
        if (build_packet(t, &jcs[k], jobs[k].packet, cands, nc, seed, &names,
                         pairs, &jobs[k].labels, e) != 0 ||
            mkdir_p(jobs[k].judge_dir, e) != 0) {
            free(rel);
            json_decref(jjudges);
            goto out;
        }
        json_t *cmd = json_null();
        if (jcs[k].command) {
            cmd = json_array();
            for (size_t w = 0; w < jcs[k].n_command; w++)
                json_array_append_new(cmd, json_string(jcs[k].command[w]));
        }
        json_array_append_new(
            jjudges, json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", jcs[k].name,
                               "slug", jcs[k].slug, "tier", jcs[k].tier,
                               "packet", rel, "command", cmd));
        free(rel);
    }
    json_t *jcands = json_array();
    for (size_t i = 0; i < nc; i++) {
        json_t *x = json_pack("{s:s, s:s, s:s}", "id", cands[i].id, "model",
                              cands[i].model, "dir", cands[i].dir);
        json_object_set_new(x, "sha256",
                            cands[i].sha256 ? json_string(cands[i].sha256)
                                            : json_null());
        json_object_set_new(x, "run_dir",
                            cands[i].run_dir ? json_string(cands[i].run_dir)
                                             : json_null());
        json_array_append_new(jcands, x);
    }
    char *created = iso_time(now_wall());
    index = json_pack(
        "{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:b, s:s}", "kind",
        "sandbox-bench-judging", "task", t->name, "id", id, "seed",
        (json_int_t)seed, "eval_dir", eval_dir, "eval_id",
        json_string_value(json_object_get(results, "eval_id"))
            ? json_string_value(json_object_get(results, "eval_id"))
            : "",
        "created_at", created, "candidates", jcands, "judges", jjudges,
        "sandboxed", sandboxed, "harness_version", BENCH_VERSION);
    free(created);
    char *ip = path_join(dir, "judging.json");
    char *pp = path_join(dir, "pairings.json");
    int wrc = json_write_file(ip, index, e);
    if (wrc == 0)
        wrc = json_write_file(pp, pairs, e);
    free(ip);
    free(pp);
    if (wrc != 0)
        goto out;
    if (!a->quiet)
        fprintf(stderr,
                "[judge] %zu packet%s, %zu candidate%s, seed %llu: "
                "%s\n",
                nj, nj == 1 ? "" : "s", nc, nc == 1 ? "" : "s",
                (unsigned long long)seed, dir);

    rc = 0;
    /* Drive the judges that have a command; list the others. */
    drive_ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.t = t;
    cx.c = c;
    cx.quiet = a->quiet;
    pthread_mutex_init(&cx.lock, NULL);
    judge_job *todo = xcalloc(nj, sizeof *todo);
    size_t nt = 0;
    for (size_t k = 0; k < nj; k++)
        if (jcs[k].command && a->drive)
            todo[nt++] = jobs[k];
    cx.jobs = todo;
    cx.n = nt;
    int threads = a->jobs > 0 ? a->jobs : 1;
    if ((size_t)threads > nt)
        threads = (int)nt;
    pthread_t *th = xcalloc((size_t)threads + 1, sizeof *th);
    int started = 0;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, drive_worker, &cx) == 0)
            started++;
    if (started == 0 && nt > 0)
        drive_worker(&cx);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&cx.lock);
    for (size_t k = 0; k < nt; k++)
        if (todo[k].failed)
            rc = 1;
    free(todo);
    for (size_t k = 0; k < nj; k++) {
        if (jcs[k].command && a->drive)
            continue;
        printf("manual: judge %s (%s): give it %s and have it write "
               "<L>_scores.json for labels %s into %s/output\n",
               jcs[k].name, jcs[k].tier, jobs[k].packet, jobs[k].labels,
               jobs[k].packet);
    }
    *judging_dir = xstrdup(dir);
out:
    for (size_t k = 0; jobs && k < nj; k++) {
        free(jobs[k].packet);
        free(jobs[k].judge_dir);
        free(jobs[k].labels);
    }
    free(jobs);
    for (size_t i = 0; cands && i < nc; i++) {
        free(cands[i].id);
        free(cands[i].model);
        free(cands[i].dir);
        free(cands[i].run_dir);
    }
    free(cands);
    free_strv(names.v, names.n);
    judge_cmds_free(jcs, nj);
    json_decref(results);
    json_decref(index);
    json_decref(pairs);
    free(eval_dir);
    free(id);
    free(dir);
    return rc;
}
