/* SPDX-License-Identifier: MIT */
/* util.c: paths, files, time and errors for the bench harness. */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void bench_seterr(bench_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("sandbox-bench: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) {
        fputs("sandbox-bench: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("sandbox-bench: out of memory\n", stderr);
        abort();
    }
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    char *s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la > 0 && a[la - 1] == '/')
        return xasprintf("%s%s", a, b);
    return xasprintf("%s/%s", a, b);
}

char *path_abs(const char *p)
{
    char buf[PATH_MAX];
    if (!realpath(p, buf))
        return NULL;
    return xstrdup(buf);
}

int mkdir_p(const char *path, bench_err *e)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            bench_seterr(e, "cannot create directory %s: %s", p,
                         strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        bench_seterr(e, "cannot create directory %s: %s", p, strerror(errno));
        free(p);
        return -1;
    }
    free(p);
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

int path_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int path_is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int read_file(const char *path, char **data, size_t *len, bench_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bench_seterr(e, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 8192, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            bench_seterr(e, "cannot read %s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return 0;
}

int write_file(const char *path, const void *data, size_t len, bench_err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        bench_seterr(e, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            bench_seterr(e, "cannot write %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0) {
        bench_seterr(e, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int copy_file(const char *src, const char *dst, bench_err *e)
{
    char *data;
    size_t len;
    struct stat st;
    if (stat(src, &st) != 0) {
        bench_seterr(e, "cannot stat %s: %s", src, strerror(errno));
        return -1;
    }
    if (read_file(src, &data, &len, e) != 0)
        return -1;
    int rc = write_file(dst, data, len, e);
    free(data);
    if (rc == 0 && chmod(dst, st.st_mode & 0777) != 0) {
        bench_seterr(e, "cannot chmod %s: %s", dst, strerror(errno));
        return -1;
    }
    return rc;
}

int copy_tree(const char *src, const char *dst, bench_err *e)
{
    if (mkdir_p(dst, e) != 0)
        return -1;
    DIR *d = opendir(src);
    if (!d) {
        bench_seterr(e, "cannot open directory %s: %s", src, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *s = path_join(src, de->d_name);
        char *t = path_join(dst, de->d_name);
        struct stat st;
        /* lstat: a symlink is never followed (it could name any host
         * file); it is left out of the copy. */
        if (lstat(s, &st) == 0 && S_ISDIR(st.st_mode))
            rc = copy_tree(s, t, e);
        else if (lstat(s, &st) == 0 && S_ISREG(st.st_mode))
            rc = copy_file(s, t, e);
        free(s);
        free(t);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_rec(const char *root, const char *rel, const char *const *skip,
                    char ***v, size_t *n, size_t *cap, bench_err *e)
{
    char *dir = rel[0] ? path_join(root, rel) : xstrdup(root);
    DIR *d = opendir(dir);
    if (!d) {
        bench_seterr(e, "cannot open directory %s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        int skipped = 0;
        for (size_t i = 0; !rel[0] && skip && skip[i]; i++)
            if (!strcmp(skip[i], de->d_name))
                skipped = 1;
        if (skipped)
            continue;
        char *r =
            rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        char *full = path_join(root, r);
        struct stat st;
        if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = list_rec(root, r, skip, v, n, cap, e);
            free(r);
        } else if (lstat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *v = xrealloc(*v, *cap * sizeof **v);
            }
            (*v)[(*n)++] = r;
        } else {
            free(r);
        }
        free(full);
    }
    closedir(d);
    free(dir);
    return rc;
}

int list_files(const char *dir, const char *const *skip, char ***out, size_t *n,
               bench_err *e)
{
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    if (list_rec(dir, "", skip, &v, &cnt, &cap, e) != 0) {
        free_strv(v, cnt);
        return -1;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_str);
    *out = v;
    *n = cnt;
    return 0;
}

void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *iso_time(double t)
{
    time_t s = (time_t)t;
    int ms = (int)((t - (double)s) * 1000.0);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return xasprintf("%s.%03dZ", buf, ms);
}

char *utc_date(void)
{
    time_t s = time(NULL);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return xstrdup(buf);
}

int valid_name(const char *s)
{
    if (!s || !*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int json_write_file(const char *path, json_t *j, bench_err *e)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!s) {
        bench_seterr(e, "cannot serialise JSON for %s", path);
        return -1;
    }
    size_t n = strlen(s);
    char *t = xasprintf("%s\n", s);
    free(s);
    int rc = write_file(path, t, n + 1, e);
    free(t);
    return rc;
}

char *shell_quote(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = xmalloc(n + 1), *o = q;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = '\0';
    return q;
}

/* Command-line helpers shared by every subcommand. */

int cli_parse_count(const char *flag, const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 1000 || s[0] == '+' ||
        s[0] == '-') {
        fprintf(stderr,
                "sandbox-bench: %s \"%s\": fix: give a whole number "
                "from 1 to 1000\n",
                flag, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* --out made absolute (created if missing). */
char *cli_out_dir(const char *out)
{
    bench_err e;
    if (mkdir_p(out, &e) != 0) {
        fprintf(stderr, "sandbox-bench: --out: %s\n", e.msg);
        return NULL;
    }
    return path_abs(out);
}
