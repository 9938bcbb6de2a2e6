/* SPDX-License-Identifier: MIT */
/*
 * implement.c: the implement phase.  For one task and one model:
 *   1. a base repository <out>/repos/<task> whose commit holds only
 *      PROMPT.md and SPEC.md (never the hidden tests);
 *   2. a fresh worktree of it on branch run/<task>/<model>/<round>;
 *   3. the model command, expanded from the config's argv template and run
 *      with execvp (no host shell) -- or inside libsandbox with the worktree
 *      mounted at /workspace and bridge network;
 *   4. capture into <out>/runs/<task>/<model>/<round>/: files/, diff.patch,
 *      transcript.md (if any), model.stdout/.stderr, meta.json.
 */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sandbox.h>

char *template_expand(const char *word, const char *const *keys,
                      const char *const *values, size_t n, bench_err *e)
{
    size_t cap = strlen(word) + 64, len = 0;
    char *out = xmalloc(cap);
#define PUT(s, k)                                                              \
    do {                                                                       \
        size_t _k = (k);                                                       \
        while (len + _k + 1 > cap) {                                           \
            cap *= 2;                                                          \
            out = xrealloc(out, cap);                                          \
        }                                                                      \
        memcpy(out + len, (s), _k);                                            \
        len += _k;                                                             \
    } while (0)
    for (const char *p = word; *p;) {
        if (p[0] == '{' && p[1] == '{') {
            PUT("{", 1);
            p += 2;
        } else if (p[0] == '}' && p[1] == '}') {
            PUT("}", 1);
            p += 2;
        } else if (p[0] == '{') {
            const char *end = strchr(p, '}');
            if (!end) {
                bench_seterr(e,
                             "unterminated placeholder in \"%s\" (write "
                             "{{ for a literal brace)",
                             word);
                free(out);
                return NULL;
            }
            size_t kl = (size_t)(end - p - 1);
            size_t i;
            for (i = 0; i < n; i++)
                if (strlen(keys[i]) == kl && !strncmp(keys[i], p + 1, kl))
                    break;
            if (i == n) {
                bench_seterr(e, "unknown placeholder {%.*s} in \"%s\"", (int)kl,
                             p + 1, word);
                free(out);
                return NULL;
            }
            PUT(values[i], strlen(values[i]));
            p = end + 1;
        } else if (p[0] == '}') {
            bench_seterr(e,
                         "stray '}' in \"%s\" (write }} for a literal "
                         "brace)",
                         word);
            free(out);
            return NULL;
        } else {
            PUT(p, 1);
            p++;
        }
    }
#undef PUT
    out[len] = '\0';
    return out;
}

static int git(const char *cwd, bench_err *e, ...) __attribute__((sentinel));

/* Run `git -C cwd ARGS...` with a fixed identity; fail on non-zero exit. */
static int git(const char *cwd, bench_err *e, ...)
{
    char *argv[40];
    size_t n = 0;
    argv[n++] = "git";
    argv[n++] = "-C";
    argv[n++] = (char *)cwd;
    argv[n++] = "-c";
    argv[n++] = "user.name=sandbox-bench";
    argv[n++] = "-c";
    argv[n++] = "user.email=sandbox-bench@localhost";
    argv[n++] = "-c";
    argv[n++] = "commit.gpgsign=false";
    va_list ap;
    va_start(ap, e);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 39)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    proc_result r;
    char *errf = xasprintf("/tmp/sandbox-bench-git.%d.err", (int)getpid());
    unlink(errf);
    if (proc_run(argv, NULL, NULL, errf, 120, &r, e) != 0) {
        free(errf);
        return -1;
    }
    if (!r.exited || r.exit_code != 0) {
        char *msg = NULL;
        size_t ml = 0;
        bench_err ig;
        if (read_file(errf, &msg, &ml, &ig) != 0)
            msg = xstrdup("");
        while (ml > 0 && msg[ml - 1] == '\n')
            msg[--ml] = '\0';
        bench_seterr(e, "git %s %s failed (exit %d) in %s: %s", argv[9],
                     argv[10] ? argv[10] : "", r.exit_code, cwd, msg);
        free(msg);
        unlink(errf);
        free(errf);
        return -1;
    }
    unlink(errf);
    free(errf);
    return 0;
}

static char *git_out(const char *cwd, const char *const *args, bench_err *e)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = "git";
    argv[n++] = "-C";
    argv[n++] = (char *)cwd;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    char *out = NULL;
    proc_result r;
    if (proc_capture(argv, NULL, &out, &r, e) != 0)
        return NULL;
    if (!r.exited || r.exit_code != 0) {
        bench_seterr(e, "git %s failed (exit %d) in %s", args[0], r.exit_code,
                     cwd);
        free(out);
        return NULL;
    }
    return out;
}

/* <out>/repos/<task>: a repository whose HEAD holds PROMPT.md + SPEC.md. */
static int base_repo(const bench_task *t, const char *out_dir, char **repo,
                     char **base_commit, bench_err *e)
{
    char *repos = path_join(out_dir, "repos");
    char *r = path_join(repos, t->name);
    free(repos);
    char *gitdir = path_join(r, ".git");
    int fresh = !path_is_dir(gitdir);
    free(gitdir);
    if (mkdir_p(r, e) != 0)
        goto fail;
    if (fresh && git(r, e, "init", "-q", "-b", "main", (char *)NULL) != 0)
        goto fail;
    const char *files[] = {"PROMPT.md", "SPEC.md"};
    for (size_t i = 0; i < 2; i++) {
        char *s = path_join(t->dir, files[i]);
        char *d = path_join(r, files[i]);
        int rc = copy_file(s, d, e);
        free(s);
        free(d);
        if (rc != 0)
            goto fail;
    }
    if (git(r, e, "add", "PROMPT.md", "SPEC.md", (char *)NULL) != 0)
        goto fail;
    const char *st[] = {"status", "--porcelain", NULL};
    char *status = git_out(r, st, e);
    if (!status)
        goto fail;
    int dirty = status[0] != '\0';
    free(status);
    if (dirty && git(r, e, "commit", "-q", "-m", "task: PROMPT.md and SPEC.md",
                     (char *)NULL) != 0)
        goto fail;
    const char *rp[] = {"rev-parse", "HEAD", NULL};
    char *head = git_out(r, rp, e);
    if (!head)
        goto fail;
    head[strcspn(head, "\n")] = '\0';
    *base_commit = head;
    *repo = r;
    return 0;
fail:
    free(r);
    return -1;
}

static char *pick_round(const char *model_dir, const char *round)
{
    if (round)
        return xstrdup(round);
    char *date = utc_date();
    char *cand = xstrdup(date);
    for (int k = 2;; k++) {
        char *p = path_join(model_dir, cand);
        int taken = path_is_dir(p);
        free(p);
        if (!taken)
            break;
        free(cand);
        cand = xasprintf("%s-r%d", date, k);
    }
    free(date);
    return cand;
}

/* The last stdout line that is a JSON object naming a cost or token
 * figure, as many agent CLIs print at the end. */
json_t *usage_from_stdout(const char *path)
{
    char *data;
    size_t len;
    bench_err ig;
    if (read_file(path, &data, &len, &ig) != 0)
        return NULL;
    json_t *found = NULL;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '{')
            continue;
        json_t *j = json_loads(line, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            continue;
        }
        static const char *const keys[] = {"cost_usd",
                                           "tokens_total",
                                           "input_tokens",
                                           "output_tokens",
                                           "cost",
                                           "usage",
                                           NULL};
        int hit = 0;
        for (size_t i = 0; keys[i]; i++)
            if (json_object_get(j, keys[i]))
                hit = 1;
        if (hit) {
            json_decref(found);
            found = j;
        } else {
            json_decref(j);
        }
    }
    free(data);
    return found;
}

int model_run_sandboxed(char **argv, size_t argc, const bench_config *c,
                        const char *wt, const char *out_path,
                        const char *err_path, proc_result *pr, char **why,
                        bench_err *e)
{
    /* The words are quoted for the shell *inside* the box only. */
    size_t cap = 1, len = 0;
    char *cmd = xcalloc(1, 1);
    for (size_t i = 0; i < argc; i++) {
        char *q = shell_quote(argv[i]);
        size_t ql = strlen(q);
        cap = len + ql + 2;
        cmd = xrealloc(cmd, cap);
        if (i)
            cmd[len++] = ' ';
        memcpy(cmd + len, q, ql + 1);
        len += ql;
        free(q);
    }
    sandbox_opts o;
    sandbox_result res;
    sandbox_opts_init(&o, sizeof o);
    sandbox_result_init(&res, sizeof res);
    o.command = cmd;
    o.image = c->sandbox_image;
    o.workspace = wt;
    o.network = c->sandbox_network;
    o.timeout_sec = c->timeout_sec;
    o.memory = c->sandbox_memory;
    o.pids = c->sandbox_pids;
    o.output_limit = 8u << 20;
    int rc = sandbox_run(&o, &res);
    free(cmd);
    memset(pr, 0, sizeof *pr);
    pr->wall_sec = res.wall_sec;
    pr->exit_code = res.exit_code;
    pr->exited = res.reason == SANDBOX_END_EXITED;
    pr->timed_out = res.reason == SANDBOX_END_TIMEOUT;
    pr->signal = res.term_signal;
    *why = xstrdup(sandbox_end_name(res.reason));
    if (write_file(out_path, res.out.data, res.out.len, e) != 0 ||
        write_file(err_path, res.err.data, res.err.len, e) != 0) {
        sandbox_result_free(&res);
        return -1;
    }
    if (rc != 0) {
        bench_seterr(e, "the model command could not run in the sandbox: %s",
                     res.message ? res.message : sandbox_strerror(rc));
        sandbox_result_free(&res);
        return -1;
    }
    sandbox_result_free(&res);
    return 0;
}

int command_run_recorded(char **argv, size_t argc, const bench_config *c,
                         int sandboxed, const char *dir, const char *out_path,
                         const char *err_path, json_t *rec, proc_result *out,
                         bench_err *e)
{
    proc_result pr;
    char *how = NULL;
    int ran;
    memset(&pr, 0, sizeof pr);
    if (sandboxed)
        ran = model_run_sandboxed(argv, argc, c, dir, out_path, err_path, &pr,
                                  &how, e);
    else
        ran = proc_run(argv, dir, out_path, err_path, c->timeout_sec, &pr, e);
    *out = pr;
    char *ended = iso_time(now_wall());
    json_object_set_new(rec, "ended_at", json_string(ended));
    free(ended);
    json_object_set_new(rec, "exit_code", json_integer(pr.exit_code));
    json_object_set_new(rec, "timed_out", json_boolean(pr.timed_out));
    json_object_set_new(rec, "wall_sec", json_real(pr.wall_sec));
    if (how)
        json_object_set_new(rec, "sandbox_end", json_string(how));
    free(how);
    return ran;
}

int implement_run(const bench_task *t, const bench_config *c,
                  const bench_model *m, const implement_args *a,
                  char **run_dir_out, bench_err *e)
{
    int rc = -1;
    char *repo = NULL, *base = NULL, *round = NULL, *run_dir = NULL;
    char *wt = NULL, *branch = NULL, *model_dir = NULL, *files_dir = NULL;
    char **argv = NULL;
    json_t *meta = NULL;
    int sandboxed = a->sandboxed >= 0 ? a->sandboxed : c->sandboxed;

    if (sandboxed && !c->sandbox_image) {
        bench_seterr(e,
                     "%s: --sandboxed needs \"sandbox\": {\"image\": ...}"
                     "; fix: name the image that holds the model CLI",
                     c->path ? c->path : "config");
        return -1;
    }
    if (base_repo(t, a->out_dir, &repo, &base, e) != 0)
        goto out;
    char *runs = xasprintf("%s/runs/%s/%s", a->out_dir, t->name, m->name);
    model_dir = runs;
    round = pick_round(model_dir, a->round);
    if (!valid_name(round)) {
        bench_seterr(e,
                     "--round \"%s\": fix: use only letters, digits, "
                     "'.', '_' and '-'",
                     round);
        goto out;
    }
    run_dir = path_join(model_dir, round);
    if (path_is_dir(run_dir)) {
        bench_seterr(e, "%s: already exists; fix: choose another --round",
                     run_dir);
        goto out;
    }
    if (mkdir_p(run_dir, e) != 0)
        goto out;
    char *wts = path_join(a->out_dir, "worktrees");
    if (mkdir_p(wts, e) != 0) {
        free(wts);
        goto out;
    }
    char *wtname = xasprintf("%s-%s-%s", t->name, m->name, round);
    wt = path_join(wts, wtname); /* out_dir is absolute (main.c) */
    free(wtname);
    free(wts);
    branch = xasprintf("run/%s/%s/%s", t->name, m->name, round);
    rm_rf(wt);
    if (git(repo, e, "worktree", "prune", (char *)NULL) != 0 ||
        git(repo, e, "worktree", "add", "-q", "-b", branch, wt, base,
            (char *)NULL) != 0)
        goto out;

    /* Expand the command template. */
    char *prompt_file = path_join(sandboxed ? "/workspace" : wt, "PROMPT.md");
    char *spec_file = path_join(sandboxed ? "/workspace" : wt, "SPEC.md");
    size_t eplen = 1;
    for (size_t i = 0; i < t->n_entrypoints; i++)
        eplen += strlen(t->entrypoints[i]) + 1;
    char *eps = xcalloc(1, eplen);
    for (size_t i = 0; i < t->n_entrypoints; i++) {
        if (i)
            strcat(eps, " ");
        strcat(eps, t->entrypoints[i]);
    }
    char *prompt = xasprintf(
        "Read PROMPT.md and SPEC.md in this directory and implement %s as "
        "they specify. Work only in this directory. Stop when the file%s "
        "exist%s and your own smoke check passes.",
        eps, t->n_entrypoints > 1 ? "s" : "", t->n_entrypoints > 1 ? "" : "s");
    const char *keys[] = {"prompt_file", "spec_file", "prompt", "workdir",
                          "model",       "slug",      "task",   "entrypoint",
                          "entrypoints", "run_dir"};
    const char *vals[] = {
        prompt_file, spec_file, prompt,  sandboxed ? "/workspace" : wt,
        m->name,     m->slug,   t->name, t->entrypoints[0],
        eps,         run_dir};
    argv = xcalloc(c->n_command + 1, sizeof *argv);
    json_t *jargv = json_array();
    int bad = 0;
    for (size_t i = 0; i < c->n_command && !bad; i++) {
        argv[i] = template_expand(c->command[i], keys, vals, 10, e);
        if (!argv[i])
            bad = 1;
        else
            json_array_append_new(jargv, json_string(argv[i]));
    }
    free(prompt_file);
    free(spec_file);
    free(prompt);
    if (bad) {
        json_decref(jargv);
        free(eps);
        goto out;
    }

    double started = now_wall();
    char *started_s = iso_time(started);
    meta =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, "
                  "s:s}",
                  "task", t->name, "model", m->name, "slug", m->slug, "round",
                  round, "branch", branch, "worktree", wt, "base_commit", base,
                  "started_at", started_s, "command", jargv, "sandboxed",
                  sandboxed, "harness_version", BENCH_VERSION);
    free(started_s);
    char *meta_path = path_join(run_dir, "meta.json");
    json_write_file(meta_path, meta, e);
    if (!a->quiet)
        fprintf(stderr, "[implement] %s/%s round %s: running %s%s\n", t->name,
                m->name, round, argv[0],
                sandboxed ? " (inside libsandbox)" : "");

    char *out_path = path_join(run_dir, "model.stdout");
    char *err_path = path_join(run_dir, "model.stderr");
    proc_result pr;
    int ran = command_run_recorded(argv, c->n_command, c, sandboxed, wt,
                                   out_path, err_path, meta, &pr, e);
    if (ran != 0) {
        json_object_set_new(meta, "status", json_string("could-not-run"));
        json_object_set_new(meta, "error", json_string(e->msg));
        bench_err ig;
        json_write_file(meta_path, meta, &ig);
        free(out_path);
        free(err_path);
        free(meta_path);
        free(eps);
        goto out;
    }

    /* Usage figures: the configured file wins, else stdout's JSON line. */
    json_t *usage = NULL;
    if (c->usage_file) {
        char *up = path_join(wt, c->usage_file);
        usage = json_load_file(up, 0, NULL);
        if (usage && !json_is_object(usage)) {
            json_decref(usage);
            usage = NULL;
        }
        unlink(up);
        free(up);
    }
    if (!usage)
        usage = usage_from_stdout(out_path);
    json_object_set_new(meta, "usage", usage ? usage : json_null());

    /* Transcript: the configured file, else the command's stdout. */
    char *tr_dst = path_join(run_dir, "transcript.md");
    if (c->transcript) {
        char *tp = path_join(wt, c->transcript);
        bench_err ig;
        if (path_is_file(tp) && copy_file(tp, tr_dst, &ig) == 0) {
            json_object_set_new(meta, "transcript",
                                json_string("transcript.md"));
            unlink(tp);
        }
        free(tp);
    }
    if (!json_object_get(meta, "transcript"))
        json_object_set_new(meta, "transcript", json_string("model.stdout"));
    free(tr_dst);

    /* Capture: everything the model changed relative to the base commit. */
    if (git(wt, e, "add", "-A", (char *)NULL) != 0)
        goto capture_fail;
    const char *diff_args[] = {"diff",
                               "--cached",
                               "--binary",
                               base,
                               "--",
                               ".",
                               ":(exclude)PROMPT.md",
                               ":(exclude)SPEC.md",
                               NULL};
    char *diff = git_out(wt, diff_args, e);
    if (!diff)
        goto capture_fail;
    char *diff_path = path_join(run_dir, "diff.patch");
    int wrc = write_file(diff_path, diff, strlen(diff), e);
    free(diff_path);
    free(diff);
    if (wrc != 0)
        goto capture_fail;
    const char *names_args[] = {
        "diff", "--cached", "--name-only",         "--diff-filter=ACMR", base,
        "--",   ".",        ":(exclude)PROMPT.md", ":(exclude)SPEC.md",  NULL};
    char *names = git_out(wt, names_args, e);
    if (!names)
        goto capture_fail;
    files_dir = path_join(run_dir, "files");
    if (mkdir_p(files_dir, e) != 0) {
        free(names);
        goto capture_fail;
    }
    json_t *jfiles = json_array();
    char *save = NULL;
    int cerr = 0;
    for (char *line = strtok_r(names, "\n", &save); line && !cerr;
         line = strtok_r(NULL, "\n", &save)) {
        char *src = path_join(wt, line);
        char *dst = path_join(files_dir, line);
        char *slash = strrchr(dst, '/');
        *slash = '\0';
        cerr = mkdir_p(dst, e);
        *slash = '/';
        if (!cerr)
            cerr = copy_file(src, dst, e);
        char hex[65] = "";
        if (!cerr)
            cerr = digest_file(dst, hex, e);
        if (!cerr)
            json_array_append_new(
                jfiles, json_pack("{s:s,s:s}", "path", line, "sha256", hex));
        free(src);
        free(dst);
    }
    free(names);
    json_object_set_new(meta, "files", jfiles);
    if (cerr)
        goto capture_fail;
    json_t *missing = json_array();
    for (size_t i = 0; i < t->n_entrypoints; i++) {
        char *p = path_join(files_dir, t->entrypoints[i]);
        if (!path_is_file(p))
            json_array_append_new(missing, json_string(t->entrypoints[i]));
        free(p);
    }
    char hex[65];
    if (digest_tree(files_dir, NULL, hex, e) != 0) {
        json_decref(missing);
        goto capture_fail;
    }
    json_object_set_new(meta, "candidate_sha256", json_string(hex));
    const char *status = pr.timed_out               ? "timeout"
                         : json_array_size(missing) ? "missing-entrypoints"
                         : pr.exit_code != 0        ? "command-failed"
                                                    : "ok";
    json_object_set_new(meta, "missing_entrypoints", missing);
    json_object_set_new(meta, "status", json_string(status));
    /* Keep the model's work on its branch, then drop the worktree. */
    if (git(wt, e, "commit", "-q", "--allow-empty", "-m",
            "capture: the model's work", (char *)NULL) != 0)
        goto capture_fail;
    {
        const char *rp[] = {"rev-parse", "HEAD", NULL};
        char *head = git_out(wt, rp, e);
        if (head) {
            head[strcspn(head, "\n")] = '\0';
            json_object_set_new(meta, "capture_commit", json_string(head));
            free(head);
        }
    }
    if (git(repo, e, "worktree", "remove", "--force", wt, (char *)NULL) != 0)
        goto capture_fail;
    json_object_del(meta, "worktree");
    if (json_write_file(meta_path, meta, e) != 0)
        goto capture_fail;
    if (!a->quiet)
        fprintf(stderr,
                "[implement] %s/%s round %s: %s (exit %d, %.1f s) "
                "-> %s\n",
                t->name, m->name, round, status, pr.exit_code, pr.wall_sec,
                run_dir);
    *run_dir_out = xstrdup(run_dir);
    rc = 0;
    free(out_path);
    free(err_path);
    free(meta_path);
    free(eps);
    goto out;
capture_fail:
    json_object_set_new(meta, "status", json_string("capture-failed"));
    json_object_set_new(meta, "error", json_string(e->msg));
    {
        bench_err ig;
        json_write_file(meta_path, meta, &ig);
    }
    free(out_path);
    free(err_path);
    free(meta_path);
    free(eps);
out:
    if (argv)
        free_strv(argv, c->n_command);
    json_decref(meta);
    free(repo);
    free(base);
    free(round);
    free(run_dir);
    free(wt);
    free(branch);
    free(model_dir);
    free(files_dir);
    return rc;
}
