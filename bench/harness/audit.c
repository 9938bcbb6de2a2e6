/* SPDX-License-Identifier: MIT */
/*
 * audit.c: the tamper-evident log.  One canonical JSON object per line
 * (compact, keys sorted), each carrying
 *     "seq"   1, 2, 3, ... in file order
 *     "prev"  sha256 (hex) of the previous line's bytes, without its
 *             newline; 64 zeros for seq 1
 * Appending takes an exclusive flock(2) on the log, reads the last line
 * under the lock, writes the new line with one write(2) on an O_APPEND
 * descriptor, fsyncs and unlocks, so concurrent writers (threads or
 * processes) neither interleave nor fork the chain.
 *
 * audit_verify finds a changed, removed, inserted or reordered line and
 * names it.  What a chain cannot show: someone who rewrites a line AND
 * every line after it (there is no secret in a hash chain), or changes or
 * drops the last lines; the signed scorecards anchor those (each carries
 * the seq and hash of its evaluation's last log line).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUDIT_GENESIS                                                          \
    "0000000000000000000000000000000000000000000000000000000000000000"

static char *canonical(json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* The last line of fd (size bytes, ending in '\n') into *line. */
static int last_line(int fd, off_t size, char **line, size_t *len, bench_err *e,
                     const char *path)
{
    size_t cap = 4096;
    for (;;) {
        if ((off_t)cap > size)
            cap = (size_t)size;
        char *buf = xmalloc(cap + 1);
        off_t at = size - (off_t)cap;
        size_t got = 0;
        while (got < cap) {
            ssize_t r = pread(fd, buf + got, cap - got, at + (off_t)got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                bench_seterr(e, "cannot read log %s: %s", path,
                             r < 0 ? strerror(errno) : "short read");
                free(buf);
                return -1;
            }
            got += (size_t)r;
        }
        if (buf[cap - 1] != '\n') {
            bench_seterr(e,
                         "log %s ends in a partial record; fix: run "
                         "`sandbox-bench verify %s` and restore the log",
                         path, path);
            free(buf);
            return -1;
        }
        size_t i = cap - 1;
        while (i > 0 && buf[i - 1] != '\n')
            i--;
        if (i > 0 || (off_t)cap == size) {
            size_t n = cap - 1 - i;
            memmove(buf, buf + i, n);
            buf[n] = '\0';
            *line = buf;
            *len = n;
            return 0;
        }
        free(buf);
        cap *= 4;
    }
}

int audit_line_hash(const char *line, size_t len, char hex[65])
{
    return digest_bytes(line, len, hex);
}

int audit_append(const char *path, json_t *record, uint64_t *seq_out,
                 char hash_out[65], bench_err *e)
{
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        bench_seterr(e, "cannot open log %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    char *line = NULL, *s = NULL;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            bench_seterr(e, "cannot lock log %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        bench_seterr(e, "cannot stat log %s: %s", path, strerror(errno));
        goto out;
    }
    json_int_t seq = 1;
    char prev[65] = AUDIT_GENESIS;
    if (st.st_size > 0) {
        size_t len = 0;
        if (last_line(fd, st.st_size, &line, &len, e, path) != 0)
            goto out;
        json_t *last = json_loadb(line, len, 0, NULL);
        json_t *js = last ? json_object_get(last, "seq") : NULL;
        if (!json_is_integer(js) || json_integer_value(js) < 1) {
            json_decref(last);
            bench_seterr(e,
                         "log %s: the last line carries no \"seq\" (a log "
                         "from before the hash chain, or damaged); fix: "
                         "move it aside and start a new log",
                         path);
            goto out;
        }
        seq = json_integer_value(js) + 1;
        json_decref(last);
        audit_line_hash(line, len, prev);
    }
    json_object_set_new(record, "seq", json_integer(seq));
    json_object_set_new(record, "prev", json_string(prev));
    s = canonical(record);
    if (!s) {
        bench_seterr(e, "cannot serialise a log record for %s", path);
        goto out;
    }
    size_t n = strlen(s);
    char hex[65];
    audit_line_hash(s, n, hex);
    s = xrealloc(s, n + 2);
    s[n++] = '\n';
    s[n] = '\0';
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, s + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int saved = errno;
            if (ftruncate(fd, st.st_size) != 0) {
                /* the partial line stays; verify will name it */
            }
            bench_seterr(e, "cannot append to log %s: %s", path,
                         w < 0 ? strerror(saved) : "short write");
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        bench_seterr(e, "cannot fsync log %s: %s", path, strerror(errno));
        goto out;
    }
    if (seq_out)
        *seq_out = (uint64_t)seq;
    if (hash_out)
        memcpy(hash_out, hex, 65);
    rc = 0;
out:
    free(line);
    free(s);
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

/* ---- verify ------------------------------------------------------------ */
typedef struct vline {
    size_t lineno; /* 1-based */
    const char *text;
    size_t len;
    int ok;        /* a record with seq and prev */
    int canonical; /* bytes == canonical form */
    json_int_t seq;
    char prev[65];
    char hash[65];
} vline;

static void add_problem(char ***v, size_t *n, char *msg)
{
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = msg;
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

int audit_verify_buffer(const char *data, size_t size, char ***problems,
                        size_t *n_problems, uint64_t *n_records,
                        uint64_t *head_seq, char head[65])
{
    *problems = NULL;
    *n_problems = 0;
    /* split */
    size_t nl = 0, cap = 0;
    vline *L = NULL;
    for (size_t i = 0; i < size;) {
        const char *end = memchr(data + i, '\n', size - i);
        size_t len = end ? (size_t)(end - (data + i)) : size - i;
        if (nl == cap) {
            cap = cap ? cap * 2 : 64;
            L = xrealloc(L, cap * sizeof *L);
        }
        vline *v = &L[nl++];
        memset(v, 0, sizeof *v);
        v->lineno = nl;
        v->text = data + i;
        v->len = len;
        if (!end)
            add_problem(problems, n_problems,
                        xasprintf("line %zu: no final newline: a partial or "
                                  "appended-by-hand record",
                                  nl));
        i += len + (end ? 1 : 0);
    }
    for (size_t i = 0; i < nl; i++) {
        vline *v = &L[i];
        audit_line_hash(v->text, v->len, v->hash);
        json_t *j = json_loadb(v->text, v->len, JSON_REJECT_DUPLICATES, NULL);
        json_t *js = j ? json_object_get(j, "seq") : NULL;
        const char *pv =
            j ? json_string_value(json_object_get(j, "prev")) : NULL;
        if (json_is_object(j) && json_is_integer(js) &&
            json_integer_value(js) >= 1 && is_hex64(pv)) {
            v->ok = 1;
            v->seq = json_integer_value(js);
            memcpy(v->prev, pv, 65);
            char *c = canonical(j);
            v->canonical =
                c && strlen(c) == v->len && memcmp(c, v->text, v->len) == 0;
            free(c);
        }
        json_decref(j);
        if (!v->ok)
            add_problem(problems, n_problems,
                        xasprintf("line %zu: not a log record (no valid "
                                  "\"seq\"/\"prev\", or not JSON): changed "
                                  "or inserted",
                                  v->lineno));
        else if (!v->canonical)
            add_problem(problems, n_problems,
                        xasprintf("line %zu (seq %lld): changed: not the "
                                  "canonical form the harness writes",
                                  v->lineno, (long long)v->seq));
    }
    /* Longest strictly increasing run of seqs (patience sorting). */
    size_t *idx = xcalloc(nl + 1, sizeof *idx); /* ok lines, file order */
    size_t no = 0;
    for (size_t i = 0; i < nl; i++)
        if (L[i].ok)
            idx[no++] = i;
    size_t *tails = xcalloc(no + 1, sizeof *tails); /* into idx */
    size_t *pred = xcalloc(no + 1, sizeof *pred);
    size_t len = 0;
    for (size_t k = 0; k < no; k++) {
        json_int_t s = L[idx[k]].seq;
        size_t lo = 0, hi = len;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (L[idx[tails[mid]]].seq < s)
                lo = mid + 1;
            else
                hi = mid;
        }
        pred[k] = lo > 0 ? tails[lo - 1] : (size_t)-1;
        tails[lo] = k;
        if (lo == len)
            len++;
    }
    char *in_lis = xcalloc(nl + 1, 1);
    if (len > 0)
        for (size_t k = tails[len - 1]; k != (size_t)-1; k = pred[k])
            in_lis[idx[k]] = 1;
    json_int_t maxseq = 0;
    for (size_t i = 0; i < nl; i++)
        if (L[i].ok && L[i].seq > maxseq)
            maxseq = L[i].seq;
    /* seq -> line (LIS lines first, then out-of-order ones filling gaps) */
    size_t span = maxseq > (json_int_t)(nl * 4 + 16)
                      ? nl * 4 + 16
                      : (size_t)maxseq;         /* guard absurd seqs */
    size_t *at = xcalloc(span + 2, sizeof *at); /* 0: none, else line+1 */
    for (size_t i = 0; i < nl; i++)
        if (in_lis[i] && L[i].seq <= (json_int_t)span)
            at[L[i].seq] = i + 1;
    for (size_t i = 0; i < nl; i++) {
        if (!L[i].ok || in_lis[i])
            continue;
        json_int_t s = L[i].seq;
        if (s > (json_int_t)span) {
            add_problem(problems, n_problems,
                        xasprintf("line %zu: seq %lld is far beyond the "
                                  "log's length: inserted",
                                  L[i].lineno, (long long)s));
        } else if (at[s]) {
            add_problem(problems, n_problems,
                        xasprintf("line %zu: seq %lld repeats line %zu: an "
                                  "inserted (or duplicated) line",
                                  L[i].lineno, (long long)s,
                                  L[at[s] - 1].lineno));
        } else {
            at[s] = i + 1;
            size_t before = 0;
            for (json_int_t q = s - 1; q >= 1 && !before; q--)
                before = at[q];
            add_problem(problems, n_problems,
                        before
                            ? xasprintf("line %zu (seq %lld): out of order: "
                                        "reordered (it belongs after line %zu)",
                                        L[i].lineno, (long long)s,
                                        L[before - 1].lineno)
                            : xasprintf("line %zu (seq %lld): out of order: "
                                        "reordered (it belongs at the start)",
                                        L[i].lineno, (long long)s));
        }
    }
    /* gaps: removed records */
    for (json_int_t s = 1; s <= (json_int_t)span; s++) {
        if (at[s])
            continue;
        json_int_t t = s;
        while (t + 1 <= (json_int_t)span && !at[t + 1])
            t++;
        size_t b = s > 1 ? at[s - 1] : 0;
        size_t a = t + 1 <= (json_int_t)span ? at[t + 1] : 0;
        char where[96];
        if (b && a)
            snprintf(where, sizeof where, "between line %zu and line %zu",
                     L[b - 1].lineno, L[a - 1].lineno);
        else if (a)
            snprintf(where, sizeof where, "before line %zu", L[a - 1].lineno);
        else
            snprintf(where, sizeof where, "at the end");
        add_problem(problems, n_problems,
                    s == t ? xasprintf("seq %lld is missing %s: a line was "
                                       "removed",
                                       (long long)s, where)
                           : xasprintf("seq %lld..%lld are missing %s: lines "
                                       "were removed",
                                       (long long)s, (long long)t, where));
        s = t;
    }
    /* the chain itself */
    for (json_int_t s = 1; s <= (json_int_t)span; s++) {
        if (!at[s])
            continue;
        const vline *v = &L[at[s] - 1];
        if (s == 1) {
            if (strcmp(v->prev, AUDIT_GENESIS) != 0)
                add_problem(problems, n_problems,
                            xasprintf("line %zu (seq 1): changed: its prev "
                                      "is not the genesis hash",
                                      v->lineno));
            continue;
        }
        if (!at[s - 1])
            continue;
        const vline *p = &L[at[s - 1] - 1];
        if (strcmp(v->prev, p->hash) != 0)
            add_problem(problems, n_problems,
                        xasprintf("line %zu (seq %lld): changed: it hashes to "
                                  "%.12s..., but line %zu (seq %lld) records "
                                  "prev %.12s...",
                                  p->lineno, (long long)p->seq, p->hash,
                                  v->lineno, (long long)v->seq, v->prev));
    }
    *n_records = nl;
    *head_seq = 0;
    strcpy(head, AUDIT_GENESIS);
    for (size_t i = 0; i < nl; i++)
        if (L[i].ok && (uint64_t)L[i].seq >= *head_seq) {
            *head_seq = (uint64_t)L[i].seq;
            memcpy(head, L[i].hash, 65);
        }
    free(at);
    free(in_lis);
    free(tails);
    free(pred);
    free(idx);
    free(L);
    return (int)(*n_problems > 0);
}

int audit_verify(const char *path, char ***problems, size_t *n_problems,
                 uint64_t *n_records, uint64_t *head_seq, char head[65],
                 bench_err *e)
{
    char *data = NULL;
    size_t len = 0;
    if (read_file(path, &data, &len, e) != 0)
        return -1;
    int rc = audit_verify_buffer(data, len, problems, n_problems, n_records,
                                 head_seq, head);
    free(data);
    return rc;
}
