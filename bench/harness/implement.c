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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

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

/*
 * Git, hardened.  Every call names the harness-owned git dir and work tree
 * explicitly (never discovered from a directory), runs with cwd at a
 * harness-owned directory, reads no system or global config, and turns off
 * everything a repository can make git execute: hooks, fsmonitor, the
 * untracked cache, external diff and textconv drivers.  Git never touches
 * a tree the model wrote: capture copies it first (capture_tree below).
 */
#define GIT_MAX_ARGS 48

static int git_x(const char *gitdir, const char *worktree, const char *index,
                 const char *cwd, char **out, bench_err *e,
                 const char *const *args)
{
    char *argv[GIT_MAX_ARGS + 32];
    char *gd = xasprintf("--git-dir=%s", gitdir);
    char *wt = worktree ? xasprintf("--work-tree=%s", worktree) : NULL;
    char *ix = index ? xasprintf("GIT_INDEX_FILE=%s", index) : NULL;
    size_t n = 0;
    argv[n++] = "env";
    static const char *const unset[] = {"GIT_DIR",
                                        "GIT_WORK_TREE",
                                        "GIT_INDEX_FILE",
                                        "GIT_CONFIG",
                                        "GIT_CONFIG_PARAMETERS",
                                        "GIT_CONFIG_COUNT",
                                        "GIT_EXEC_PATH",
                                        "GIT_EXTERNAL_DIFF",
                                        "GIT_SSH_COMMAND",
                                        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                                        NULL};
    for (size_t i = 0; unset[i]; i++) {
        argv[n++] = "-u";
        argv[n++] = (char *)unset[i];
    }
    argv[n++] = "GIT_CONFIG_NOSYSTEM=1";
    argv[n++] = "GIT_CONFIG_GLOBAL=/dev/null";
    argv[n++] = "GIT_TERMINAL_PROMPT=0";
    if (ix)
        argv[n++] = ix;
    argv[n++] = "git";
    argv[n++] = gd;
    if (wt)
        argv[n++] = wt;
    static const char *const cfg[] = {"core.fsmonitor=false",
                                      "core.hooksPath=/dev/null",
                                      "core.untrackedCache=false",
                                      "user.name=sandbox-bench",
                                      "user.email=sandbox-bench@localhost",
                                      "commit.gpgsign=false",
                                      "core.attributesFile=/dev/null",
                                      NULL};
    for (size_t i = 0; cfg[i]; i++) {
        argv[n++] = "-c";
        argv[n++] = (char *)cfg[i];
    }
    size_t first = n;
    for (size_t i = 0; i < GIT_MAX_ARGS && args[i]; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    proc_result r;
    char *errf = xasprintf("/tmp/sandbox-bench-git.%d.err", (int)getpid());
    unlink(errf);
    int rc = -1;
    char *o = NULL;
    if (out) {
        rc = proc_capture(argv, cwd, &o, &r, e);
    } else {
        rc = proc_run(argv, cwd, NULL, errf, 120, &r, e);
    }
    if (rc == 0 && (!r.exited || r.exit_code != 0)) {
        char *msg = NULL;
        size_t ml = 0;
        bench_err ig;
        if (read_file(errf, &msg, &ml, &ig) != 0)
            msg = xstrdup("");
        while (ml > 0 && msg[ml - 1] == '\n')
            msg[--ml] = '\0';
        bench_seterr(e, "git %s %s failed (exit %d) for %s: %s", argv[first],
                     argv[first + 1] ? argv[first + 1] : "", r.exit_code,
                     gitdir, msg);
        free(msg);
        rc = -1;
    }
    unlink(errf);
    free(errf);
    free(gd);
    free(wt);
    free(ix);
    if (rc == 0 && out)
        *out = o;
    else
        free(o);
    return rc;
}

/* git_x for the base repository r (git dir r/.git, work tree r). */
static int git_base(const char *r, char **out, bench_err *e,
                    const char *const *args)
{
    char *gd = path_join(r, ".git");
    int rc = git_x(gd, r, NULL, r, out, e, args);
    free(gd);
    return rc;
}

/* <out>/repos/<task>: a repository whose HEAD holds PROMPT.md + SPEC.md.
 * Harness-owned: no model ever sees it or any path inside it. */
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
    if (fresh) {
        const char *a[] = {"init", "-q", "-b", "main", NULL};
        if (git_base(r, NULL, e, a) != 0)
            goto fail;
    }
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
    const char *add[] = {"add", "--", "PROMPT.md", "SPEC.md", NULL};
    if (git_base(r, NULL, e, add) != 0)
        goto fail;
    const char *st[] = {"status", "--porcelain", NULL};
    char *status = NULL;
    if (git_base(r, &status, e, st) != 0)
        goto fail;
    int dirty = status[0] != '\0';
    free(status);
    const char *ci[] = {
        "commit", "-q", "--no-verify", "-m", "task: PROMPT.md and SPEC.md",
        NULL};
    if (dirty && git_base(r, NULL, e, ci) != 0)
        goto fail;
    const char *rp[] = {"rev-parse", "HEAD", NULL};
    char *head = NULL;
    if (git_base(r, &head, e, rp) != 0)
        goto fail;
    head[strcspn(head, "\n")] = '\0';
    *base_commit = head;
    *repo = r;
    return 0;
fail:
    free(r);
    return -1;
}

/* ---- capture: walking a tree the model wrote ---------------------------
 * Every entry is opened relative to its parent directory's fd with
 * O_NOFOLLOW, so a symlink (or a directory swapped for one) is never
 * followed and nothing outside the worktree is read.  Symlinks are
 * recorded as symlinks (their target text), special files are skipped,
 * .git anywhere is refused, and sizes are capped. */
typedef struct capture_state {
    uint64_t max_file, max_total;
    size_t max_entries;
    uint64_t total;
    size_t entries;
    int too_large;
    const char *const *skip; /* relative paths not captured */
    json_t *files;           /* [{path, sha256, size}] */
    json_t *symlinks;        /* [{path, target}] */
    json_t *skipped;         /* [{path, why}] */
    json_t *refused;         /* [{path, why}] */
} capture_state;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cap_skip(capture_state *cs, json_t *arr, const char *rel,
                     const char *why)
{
    json_array_append_new(arr, json_pack("{s:s,s:s}", "path", rel, "why", why));
    (void)cs;
}

/* Copy the regular file at srcfd/name into dstfd/name (at most max bytes),
 * hashing it; *size gets the bytes copied.  -1 with e set on I/O errors. */
static int capture_file(int srcfd, int dstfd, const char *name,
                        const struct stat *lst, uint64_t max, char hex[65],
                        uint64_t *size, int *over, bench_err *e)
{
    *over = 0;
    int in = openat(srcfd, name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (in < 0) {
        bench_seterr(e, "cannot open %s: %s", name, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_ino != lst->st_ino || st.st_dev != lst->st_dev) {
        close(in);
        bench_seterr(e, "%s changed while it was captured", name);
        return -1;
    }
    mode_t mode = (st.st_mode & 0111) ? 0755 : 0644;
    int out =
        openat(dstfd, name,
               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (out < 0) {
        bench_seterr(e, "cannot create the copy of %s: %s", name,
                     strerror(errno));
        close(in);
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    unsigned char buf[65536];
    uint64_t got = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            bench_seterr(e, "cannot read %s: %s", name, strerror(errno));
            rc = -1;
            break;
        }
        if (r == 0)
            break;
        if (got + (uint64_t)r > max) { /* grew past the cap */
            *over = 1;
            break;
        }
        got += (uint64_t)r;
        EVP_DigestUpdate(ctx, buf, (size_t)r);
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                bench_seterr(e, "cannot write the copy of %s: %s", name,
                             strerror(errno));
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mn = 0;
    EVP_DigestFinal_ex(ctx, md, &mn);
    EVP_MD_CTX_free(ctx);
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    close(in);
    if (close(out) != 0 && rc == 0) {
        bench_seterr(e, "cannot write the copy of %s: %s", name,
                     strerror(errno));
        rc = -1;
    }
    if (rc != 0 || *over)
        unlinkat(dstfd, name, 0);
    *size = got;
    return rc;
}

static int capture_dir(int srcfd, int dstfd, const char *rel, int depth,
                       capture_state *cs, bench_err *e)
{
    int dfd = dup(srcfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        bench_seterr(e, "cannot read directory %s: %s", rel[0] ? rel : ".",
                     strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[nn++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (nn > 1)
        qsort(names, nn, sizeof *names, cmp_name);
    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        const char *name = names[i];
        char *r = rel[0] ? xasprintf("%s/%s", rel, name) : xstrdup(name);
        int skip = 0;
        for (size_t k = 0; cs->skip && cs->skip[k]; k++)
            if (!strcmp(cs->skip[k], r))
                skip = 1;
        struct stat st;
        if (skip) {
            /* harness-read or task files: not part of the candidate */
        } else if (!strcmp(name, ".git")) {
            cap_skip(cs, cs->refused, r,
                     "a .git the model wrote is never used (git config, "
                     "hooks and fsmonitor are the harness's alone)");
        } else if (++cs->entries > cs->max_entries) {
            cs->too_large = 1;
            cap_skip(cs, cs->skipped, r, "more entries than the capture cap");
        } else if (fstatat(srcfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            cap_skip(cs, cs->skipped, r, "vanished while it was captured");
        } else if (S_ISLNK(st.st_mode)) {
            char target[4097];
            ssize_t tl = readlinkat(srcfd, name, target, sizeof target - 1);
            if (tl < 0) {
                cap_skip(cs, cs->skipped, r, "unreadable symlink");
            } else {
                target[tl] = '\0';
                json_array_append_new(
                    cs->symlinks,
                    json_pack("{s:s,s:s}", "path", r, "target", target));
            }
        } else if (S_ISDIR(st.st_mode)) {
            if (depth >= 64) {
                cs->too_large = 1;
                cap_skip(cs, cs->skipped, r, "nested deeper than 64 levels");
            } else {
                int s2 =
                    openat(srcfd, name,
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int d2 = -1;
                if (s2 >= 0 &&
                    (mkdirat(dstfd, name, 0755) == 0 || errno == EEXIST))
                    d2 =
                        openat(dstfd, name,
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (s2 < 0 || d2 < 0) {
                    bench_seterr(e, "cannot capture directory %s: %s", r,
                                 strerror(errno));
                    rc = -1;
                } else {
                    rc = capture_dir(s2, d2, r, depth + 1, cs, e);
                }
                if (s2 >= 0)
                    close(s2);
                if (d2 >= 0)
                    close(d2);
            }
        } else if (S_ISREG(st.st_mode)) {
            uint64_t sz = (uint64_t)st.st_size;
            if (sz > cs->max_file) {
                cs->too_large = 1;
                char *why = xasprintf("%llu bytes, over the %llu-byte "
                                      "per-file cap",
                                      (unsigned long long)sz,
                                      (unsigned long long)cs->max_file);
                cap_skip(cs, cs->skipped, r, why);
                free(why);
            } else if (cs->total + sz > cs->max_total) {
                cs->too_large = 1;
                char *why = xasprintf("%llu bytes, past the %llu-byte total "
                                      "cap",
                                      (unsigned long long)sz,
                                      (unsigned long long)cs->max_total);
                cap_skip(cs, cs->skipped, r, why);
                free(why);
            } else {
                char hex[65];
                uint64_t got = 0;
                int over = 0;
                uint64_t room = cs->max_total - cs->total;
                rc = capture_file(srcfd, dstfd, name, &st,
                                  room < cs->max_file ? room : cs->max_file,
                                  hex, &got, &over, e);
                if (rc == 0 && over) {
                    cs->too_large = 1;
                    cap_skip(cs, cs->skipped, r,
                             "grew past the size cap while it was captured");
                } else if (rc == 0) {
                    cs->total += got;
                    json_array_append_new(cs->files,
                                          json_pack("{s:s,s:s,s:I}", "path", r,
                                                    "sha256", hex, "size",
                                                    (json_int_t)got));
                }
            }
        } else {
            cap_skip(cs, cs->skipped, r,
                     "special file (fifo, socket or device): not captured");
        }
        free(r);
    }
    free_strv(names, nn);
    return rc;
}

int capture_tree(const char *src, const char *dst, const capture_limits *lim,
                 const char *const *skip, json_t **report, int *too_large,
                 bench_err *e)
{
    capture_state cs;
    memset(&cs, 0, sizeof cs);
    cs.max_file = lim && lim->max_file_bytes ? lim->max_file_bytes
                                             : CAPTURE_MAX_FILE_BYTES;
    cs.max_total = lim && lim->max_total_bytes ? lim->max_total_bytes
                                               : CAPTURE_MAX_TOTAL_BYTES;
    cs.max_entries =
        lim && lim->max_entries ? lim->max_entries : CAPTURE_MAX_ENTRIES;
    cs.skip = skip;
    cs.files = json_array();
    cs.symlinks = json_array();
    cs.skipped = json_array();
    cs.refused = json_array();
    int rc = -1;
    int sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        bench_seterr(e, "cannot open the worktree %s: %s", src,
                     strerror(errno));
        goto out;
    }
    if (mkdir_p(dst, e) != 0) {
        close(sfd);
        goto out;
    }
    int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        bench_seterr(e, "cannot open %s: %s", dst, strerror(errno));
        close(sfd);
        goto out;
    }
    rc = capture_dir(sfd, dfd, "", 0, &cs, e);
    close(sfd);
    close(dfd);
out:
    *report = json_pack("{s:o,s:o,s:o,s:o,s:I,s:I,s:I}", "files", cs.files,
                        "symlinks", cs.symlinks, "skipped", cs.skipped,
                        "refused", cs.refused, "bytes", (json_int_t)cs.total,
                        "max_file_bytes", (json_int_t)cs.max_file,
                        "max_total_bytes", (json_int_t)cs.max_total);
    *too_large = cs.too_large;
    return rc;
}

int read_beneath(const char *root, const char *rel, size_t max, char **data,
                 size_t *len, bench_err *e)
{
    *data = NULL;
    *len = 0;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        bench_seterr(e, "cannot open %s: %s", root, strerror(errno));
        return -1;
    }
    char *copy = xstrdup(rel);
    char *save = NULL;
    char *part = strtok_r(copy, "/", &save);
    int rc = -1;
    while (part) {
        char *next = strtok_r(NULL, "/", &save);
        if (!strcmp(part, "..") || !strcmp(part, ".")) {
            bench_seterr(e, "%s: '%s' may not appear in the path", rel, part);
            break;
        }
        struct stat pst;
        if (!next && fstatat(fd, part, &pst, AT_SYMLINK_NOFOLLOW) == 0 &&
            !S_ISREG(pst.st_mode)) {
            bench_seterr(e, "%s: not a regular file%s", rel,
                         S_ISLNK(pst.st_mode) ? " (a symlink: never followed)"
                                              : "");
            break;
        }
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                    (next ? O_DIRECTORY : O_NONBLOCK);
        int nfd = openat(fd, part, flags);
        if (nfd < 0 && errno == ENOENT) {
            bench_seterr(e, "%s: not there", rel);
            rc = 1;
            break;
        }
        if (nfd < 0) {
            bench_seterr(e, "%s: %s%s", rel, strerror(errno),
                         errno == ELOOP ? " (a symlink: never followed)" : "");
            break;
        }
        close(fd);
        fd = nfd;
        if (!next) {
            struct stat st;
            if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                bench_seterr(e, "%s: not a regular file", rel);
                break;
            }
            if ((uint64_t)st.st_size > max) {
                bench_seterr(e,
                             "%s: %llu bytes, over the %zu-byte cap; not "
                             "kept",
                             rel, (unsigned long long)st.st_size, max);
                break;
            }
            size_t cap = (size_t)st.st_size + 1, n = 0;
            char *buf = xmalloc(cap + 1);
            for (;;) {
                ssize_t r = read(fd, buf + n, cap - n);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    break;
                n += (size_t)r;
                if (n > max || n >= cap)
                    break;
            }
            if (n > max) {
                free(buf);
                bench_seterr(e, "%s: grew past the %zu-byte cap; not kept", rel,
                             max);
                break;
            }
            buf[n] = '\0';
            *data = buf;
            *len = n;
            rc = 0;
        }
        part = next;
    }
    close(fd);
    free(copy);
    return rc;
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

static int run_sandboxed(char **argv, size_t argc, const bench_config *c,
                         const char *wt, const char *out_path,
                         const char *err_path, proc_result *pr, char **why,
                         json_t *rec, bench_err *e);

int model_run_sandboxed(char **argv, size_t argc, const bench_config *c,
                        const char *wt, const char *out_path,
                        const char *err_path, proc_result *pr, char **why,
                        bench_err *e)
{
    return run_sandboxed(argv, argc, c, wt, out_path, err_path, pr, why, NULL,
                         e);
}

/* model_run_sandboxed; rec (may be NULL) gets the box's image_id and
 * backend as sandbox_image_id / sandbox_backend. */
static int run_sandboxed(char **argv, size_t argc, const bench_config *c,
                         const char *wt, const char *out_path,
                         const char *err_path, proc_result *pr, char **why,
                         json_t *rec, bench_err *e)
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
    o.allow = (const char *const *)c->net_allow;
    o.n_allow = c->n_net_allow;
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
    if (rec) {
        json_object_set_new(rec, "sandbox_image_id",
                            res.image_id ? json_string(res.image_id)
                                         : json_null());
        json_object_set_new(rec, "sandbox_backend",
                            res.backend ? json_string(res.backend)
                                        : json_null());
    }
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
        ran = run_sandboxed(argv, argc, c, dir, out_path, err_path, &pr, &how,
                            rec, e);
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

/* Record the captured tree in the base repository on `branch`: a private
 * index, files added from the harness-made copy (only regular files and
 * directories), symlinks entered as symlinks from their recorded target
 * text, then write-tree / commit-tree / update-ref -- no hook can run.
 * *diff gets `git diff base commit`. */
static int capture_commit(const char *repo, const char *base,
                          const char *branch, const char *files_dir,
                          const char *run_dir, json_t *symlinks,
                          char **commit_out, char **diff, bench_err *e)
{
    char *gd = path_join(repo, ".git");
    char *index = path_join(run_dir, ".capture-index");
    char *tmp = path_join(run_dir, ".capture-link");
    char *tree = NULL, *commit = NULL;
    int rc = -1;
    unlink(index);
    const char *rt[] = {"read-tree", base, NULL};
    if (git_x(gd, files_dir, index, files_dir, NULL, e, rt) != 0)
        goto out;
    const char *add[] = {"add", "-f", "--ignore-removal", "--", ".", NULL};
    if (git_x(gd, files_dir, index, files_dir, NULL, e, add) != 0)
        goto out;
    size_t i;
    json_t *l;
    json_array_foreach(symlinks, i, l)
    {
        const char *target = json_string_value(json_object_get(l, "target"));
        const char *path = json_string_value(json_object_get(l, "path"));
        char *blob = NULL;
        if (write_file(tmp, target, strlen(target), e) != 0)
            goto out;
        const char *ho[] = {"hash-object", "-w", "--no-filters",
                            "--",          tmp,  NULL};
        if (git_x(gd, NULL, index, files_dir, &blob, e, ho) != 0)
            goto out;
        blob[strcspn(blob, "\n")] = '\0';
        char *ci = xasprintf("120000,%s,%s", blob, path);
        free(blob);
        const char *ui[] = {"update-index", "--add", "--cacheinfo", ci, NULL};
        int urc = git_x(gd, files_dir, index, files_dir, NULL, e, ui);
        free(ci);
        if (urc != 0)
            goto out;
    }
    const char *wt[] = {"write-tree", NULL};
    if (git_x(gd, NULL, index, files_dir, &tree, e, wt) != 0)
        goto out;
    tree[strcspn(tree, "\n")] = '\0';
    const char *ct[] = {"commit-tree", tree, "-p",
                        base,          "-m", "capture: the model's work",
                        NULL};
    if (git_x(gd, NULL, NULL, files_dir, &commit, e, ct) != 0)
        goto out;
    commit[strcspn(commit, "\n")] = '\0';
    char *ref = xasprintf("refs/heads/%s", branch);
    const char *ur[] = {"update-ref", ref, commit, NULL};
    int urc = git_x(gd, NULL, NULL, files_dir, NULL, e, ur);
    free(ref);
    if (urc != 0)
        goto out;
    const char *df[] = {"diff",          "--binary",   "--no-ext-diff",
                        "--no-textconv", "--no-color", base,
                        commit,          NULL};
    if (git_x(gd, NULL, NULL, files_dir, diff, e, df) != 0)
        goto out;
    *commit_out = commit;
    commit = NULL;
    rc = 0;
out:
    unlink(index);
    unlink(tmp);
    free(gd);
    free(index);
    free(tmp);
    free(tree);
    free(commit);
    return rc;
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

    if (!sandboxed && a->sandboxed != 0) {
        bench_seterr(e,
                     "%s: the model command would run on the host, where it "
                     "can read the hidden tests (%s) and every file you can; "
                     "fix: configure \"sandbox\": {\"enabled\": true, "
                     "\"image\": ...} or pass --sandboxed, or pass --host "
                     "to accept that risk",
                     c->path ? c->path : "config", t->tests_dir);
        return -1;
    }
    if (sandboxed && !c->sandbox_image) {
        bench_seterr(e,
                     "%s: --sandboxed needs \"sandbox\": {\"image\": ...}"
                     "; fix: name the image that holds the model CLI",
                     c->path ? c->path : "config");
        return -1;
    }
    if (!sandboxed) /* always, even with --quiet */
        fprintf(stderr,
                "sandbox-bench: WARNING: --host: %s runs on the host as "
                "you; it can read the hidden tests in %s and any file you "
                "can, and its scores prove nothing\n",
                m->name, t->tests_dir);
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
    /* The worktree is a plain directory: no .git, nothing of the base
     * repository; the model sees PROMPT.md and SPEC.md only. */
    rm_rf(wt);
    if (mkdir_p(wt, e) != 0)
        goto out;
    {
        const char *tf[] = {"PROMPT.md", "SPEC.md"};
        for (size_t i = 0; i < 2; i++) {
            char *s = path_join(t->dir, tf[i]);
            char *d = path_join(wt, tf[i]);
            int crc = copy_file(s, d, e);
            free(s);
            free(d);
            if (crc != 0)
                goto out;
        }
    }

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
    meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, "
                     "s:s, s:s}",
                     "task", t->name, "model", m->name, "slug", m->slug,
                     "round", round, "branch", branch, "worktree", wt,
                     "base_commit", base, "started_at", started_s, "command",
                     jargv, "sandboxed", sandboxed, "harness_version",
                     BENCH_VERSION, "libsandbox", sandbox_version());
    free(started_s);
    char *meta_path = path_join(run_dir, "meta.json");
    json_write_file(meta_path, meta, e);
    if (!a->quiet)
        fprintf(stderr, "[implement] %s/%s round %s: running %s%s\n", t->name,
                m->name, round, argv[0],
                sandboxed ? " (inside libsandbox)" : " (ON THE HOST)");

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
        rm_rf(wt);
        free(out_path);
        free(err_path);
        free(meta_path);
        free(eps);
        goto out;
    }

    /* Usage figures: the configured file wins, else stdout's JSON line.
     * Both it and the transcript are read beneath the worktree with
     * O_NOFOLLOW on every component and a size cap. */
    json_t *usage = NULL;
    if (c->usage_file) {
        char *ud = NULL;
        size_t ul = 0;
        bench_err ue;
        int urc = read_beneath(wt, c->usage_file, CAPTURE_MAX_USAGE_BYTES, &ud,
                               &ul, &ue);
        if (urc == 0) {
            usage = json_loadb(ud, ul, 0, NULL);
            if (usage && !json_is_object(usage)) {
                json_decref(usage);
                usage = NULL;
            }
        } else if (urc < 0) {
            json_object_set_new(meta, "usage_file_refused",
                                json_string(ue.msg));
        }
        free(ud);
    }
    if (!usage)
        usage = usage_from_stdout(out_path);
    json_object_set_new(meta, "usage", usage ? usage : json_null());

    /* Transcript: the configured file, else the command's stdout. */
    if (c->transcript) {
        char *td = NULL;
        size_t tl = 0;
        bench_err te;
        int trc = read_beneath(wt, c->transcript, CAPTURE_MAX_TRANSCRIPT_BYTES,
                               &td, &tl, &te);
        if (trc == 0) {
            char *tr_dst = path_join(run_dir, "transcript.md");
            if (write_file(tr_dst, td, tl, &te) == 0)
                json_object_set_new(meta, "transcript",
                                    json_string("transcript.md"));
            free(tr_dst);
        } else if (trc < 0) {
            json_object_set_new(meta, "transcript_refused",
                                json_string(te.msg));
        }
        free(td);
    }
    if (!json_object_get(meta, "transcript"))
        json_object_set_new(meta, "transcript", json_string("model.stdout"));

    /* Capture: every file the model left, copied by capture_tree (never
     * by git, never following a symlink), then recorded on the branch. */
    files_dir = path_join(run_dir, "files");
    const char *skip[5] = {"PROMPT.md", "SPEC.md", NULL, NULL, NULL};
    {
        size_t k = 2;
        if (c->usage_file)
            skip[k++] = c->usage_file;
        if (c->transcript)
            skip[k++] = c->transcript;
    }
    json_t *crep = NULL;
    int too_large = 0;
    int crc = capture_tree(wt, files_dir, &a->caps, skip, &crep, &too_large, e);
    json_object_set(meta, "files", json_object_get(crep, "files"));
    json_object_set(meta, "symlinks", json_object_get(crep, "symlinks"));
    json_object_set(meta, "refused", json_object_get(crep, "refused"));
    json_object_del(crep, "files");
    json_object_del(crep, "symlinks");
    json_object_del(crep, "refused");
    json_object_set_new(meta, "capture", crep);
    rm_rf(wt); /* the model's tree is gone; only the copy is used */
    json_object_del(meta, "worktree");
    if (crc != 0)
        goto capture_fail;
    size_t nref = json_array_size(json_object_get(meta, "refused"));
    if (nref && !a->quiet)
        fprintf(stderr,
                "sandbox-bench: %s/%s round %s: refused %zu path%s the model "
                "planted (.git): never used, see meta.json \"refused\"\n",
                t->name, m->name, round, nref, nref == 1 ? "" : "s");
    char *diff = NULL, *commit = NULL;
    if (capture_commit(repo, base, branch, files_dir, run_dir,
                       json_object_get(meta, "symlinks"), &commit, &diff,
                       e) != 0)
        goto capture_fail;
    json_object_set_new(meta, "capture_commit", json_string(commit));
    free(commit);
    char *diff_path = path_join(run_dir, "diff.patch");
    int wrc = write_file(diff_path, diff, strlen(diff), e);
    free(diff_path);
    free(diff);
    if (wrc != 0)
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
                         : too_large                ? "capture-too-large"
                         : json_array_size(missing) ? "missing-entrypoints"
                         : pr.exit_code != 0        ? "command-failed"
                                                    : "ok";
    json_object_set_new(meta, "missing_entrypoints", missing);
    json_object_set_new(meta, "status", json_string(status));
    if (json_write_file(meta_path, meta, e) != 0)
        goto capture_fail;
    /* The capture, anchored in the audit log: a later edit of files/ or
     * meta.json no longer matches a chained record. */
    {
        static const char *const sk[] = {"__pycache__", ".pytest_cache", NULL};
        char suite[65] = "", task_sha[65] = "";
        bench_err de;
        digest_tree(t->tests_dir, sk, suite, &de);
        digest_tree(t->dir, sk, task_sha, &de);
        char mh[65] = "";
        digest_file(meta_path, mh, &de);
        char *ts = iso_time(now_wall());
        json_t *rec = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, "
            "s:s, s:n}",
            "kind", "implement", "time", ts, "task", t->name, "model", m->name,
            "round", round, "status", status, "candidate_sha256", hex,
            "meta_sha256", mh, "capture_commit",
            json_string_value(json_object_get(meta, "capture_commit")),
            "sandboxed", sandboxed, "libsandbox", sandbox_version(),
            "suite_sha256", suite, "task_sha256", task_sha, "seed");
        free(ts);
        json_t *iid = json_object_get(meta, "sandbox_image_id");
        json_t *be = json_object_get(meta, "sandbox_backend");
        json_object_set(rec, "image_id", iid ? iid : json_null());
        json_object_set_new(rec, "backend",
                            be ? json_incref(be) : json_string("host"));
        char *log_path = path_join(a->out_dir, "log.jsonl");
        bench_err le;
        if (!rec || log_append(log_path, rec, &le) != 0)
            fprintf(stderr, "sandbox-bench: %s\n",
                    rec ? le.msg : "internal: implement log record");
        free(log_path);
        json_decref(rec);
    }
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
