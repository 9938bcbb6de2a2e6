/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests: temp dirs, files, fd counting, the fake
 * runtime.  Everything is static inline so a test that uses only part of it
 * does not trip -Wunused-function. */
#ifndef LIBSANDBOX_TEST_UTIL_H
#define LIBSANDBOX_TEST_UTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set (to anything) by the valgrind ctest. */
static inline bool tu_under_valgrind(void)
{
    return getenv("SANDBOX_TEST_VALGRIND") != NULL;
}

/* Wall-clock bounds get slack under valgrind. */
static inline double tu_slack(void)
{
    return tu_under_valgrind() ? 4.0 : 1.0;
}

/* Per-tcase root for temp dirs.  Made and removed by an *unchecked* fixture
 * (it runs in the runner process), so the dirs go away even when a test
 * fails before its checked teardown. */
static char *tu_root;

/* A fresh directory under tu_root (or /tmp); abort the test on failure. */
static inline char *tu_mkdtemp(void)
{
    char *d = NULL;
    ck_assert_int_ge(
        asprintf(&d, "%s/sbx-unit-XXXXXX", tu_root != NULL ? tu_root : "/tmp"),
        0);
    ck_assert_msg(mkdtemp(d) != NULL, "mkdtemp: %s", strerror(errno));
    return d;
}

static inline int tu_rm_cb(const char *path, const struct stat *st, int flag,
                           struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* rm -rf dir, then free it. */
static inline void tu_rmtree(char *dir)
{
    if (dir == NULL)
        return;
    nftw(dir, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static inline void tu_root_setup(void)
{
    tu_root = NULL;
    tu_root = tu_mkdtemp();
}

static inline void tu_root_teardown(void)
{
    tu_rmtree(tu_root);
    tu_root = NULL;
}

/* Join dir and name into a malloc'd path. */
static inline char *tu_path(const char *dir, const char *name)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

static inline void tu_write_file(const char *path, const char *content,
                                 mode_t mode)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    fputs(content, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* Whole file as a NUL-terminated string (NULL if it does not exist). */
static inline char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* Number of entries in /proc/self/fd (the directory's own fd excluded). */
static inline int tu_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

/* A trivial executable script at dir/name. */
static inline void tu_make_exe(const char *dir, const char *name, mode_t mode)
{
    char *p = tu_path(dir, name);
    tu_write_file(p, "#!/bin/sh\nexit 0\n", mode);
    free(p);
}

#ifdef FAKE_RUNTIME_SCRIPT
/* Copy tests/fake-runtime/fake-runtime.sh to dir/name, executable. */
static inline char *tu_install_fake(const char *dir, const char *name)
{
    char *src = tu_read_file(FAKE_RUNTIME_SCRIPT, NULL);
    ck_assert_msg(src != NULL, "cannot read %s", FAKE_RUNTIME_SCRIPT);
    char *p = tu_path(dir, name);
    tu_write_file(p, src, 0755);
    free(src);
    return p;
}
#endif

/* Split a fake-runtime log into invocations (one per line) and arguments
 * (each terminated by \037).  Returns the number of lines; *lines[i] is a
 * NULL-terminated argv, all owned by the caller (free with tu_log_free). */
static inline size_t tu_log_parse(const char *log, char ****lines)
{
    size_t nl = 0;
    char ***v = NULL;
    const char *p = log;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '\n');
        /* Arguments may contain newlines: a line ends at "\037\n". */
        while (end != NULL && end > p && end[-1] != '\037')
            end = strchr(end + 1, '\n');
        if (end == NULL)
            end = p + strlen(p);
        char **argv = NULL;
        size_t na = 0;
        const char *a = p;
        while (a < end) {
            const char *us = memchr(a, '\037', (size_t)(end - a));
            if (us == NULL)
                us = end;
            argv = realloc(argv, (na + 2) * sizeof *argv);
            argv[na++] = strndup(a, (size_t)(us - a));
            argv[na] = NULL;
            a = us + 1;
        }
        v = realloc(v, (nl + 2) * sizeof *v);
        v[nl++] = argv;
        v[nl] = NULL;
        p = *end ? end + 1 : end;
    }
    *lines = v;
    return nl;
}

static inline void tu_log_free(char ***lines)
{
    if (lines == NULL)
        return;
    for (char ***l = lines; *l; l++) {
        for (char **a = *l; *a; a++)
            free(*a);
        free(*l);
    }
    free(lines);
}

static inline size_t tu_argc(char *const *argv)
{
    size_t n = 0;
    while (argv != NULL && argv[n] != NULL)
        n++;
    return n;
}

/* Compare a whole argv with an expected NULL-terminated vector. */
#define tu_assert_argv(got, ...)                                               \
    do {                                                                       \
        const char *const tu_exp_[] = {__VA_ARGS__, NULL};                     \
        size_t tu_i_ = 0;                                                      \
        for (; tu_exp_[tu_i_] != NULL; tu_i_++) {                              \
            ck_assert_msg((got)[tu_i_] != NULL,                                \
                          "argv too short: missing [%zu] '%s'", tu_i_,         \
                          tu_exp_[tu_i_]);                                     \
            ck_assert_msg(strcmp((got)[tu_i_], tu_exp_[tu_i_]) == 0,           \
                          "argv[%zu]: got '%s', want '%s'", tu_i_,             \
                          (got)[tu_i_], tu_exp_[tu_i_]);                       \
        }                                                                      \
        ck_assert_msg((got)[tu_i_] == NULL, "argv too long: extra [%zu] '%s'", \
                      tu_i_, (got)[tu_i_]);                                    \
    } while (0)

/* Run a suite; CK_FORK etc. are honoured from the environment. */
static inline int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* LIBSANDBOX_TEST_UTIL_H */
