/* SPDX-License-Identifier: MIT */
/* Runtime detection: sbx_find_runtime driven with PATHs built in a temp dir
 * (it is pure apart from access(2)), and sandbox_find_runtime through the
 * real environment. */
#include "internal.h"
#include "test_util.h"

#include <limits.h>

static char *tmp, *both, *ponly, *donly, *none, *noexec;

static void setup(void)
{
    tmp = tu_mkdtemp();
    both = tu_path(tmp, "both");
    ponly = tu_path(tmp, "ponly");
    donly = tu_path(tmp, "donly");
    none = tu_path(tmp, "none");
    noexec = tu_path(tmp, "noexec");
    const char *dirs[] = {both, ponly, donly, none, noexec};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(mkdir(dirs[i], 0755), 0);
    tu_make_exe(both, "podman", 0755);
    tu_make_exe(both, "docker", 0755);
    tu_make_exe(ponly, "podman", 0755);
    tu_make_exe(donly, "docker", 0755);
    tu_make_exe(none, "runc", 0755);
    tu_make_exe(noexec, "podman", 0644); /* not executable: skipped */
    char *dir_named_podman = tu_path(none, "podman"); /* a directory */
    ck_assert_int_eq(mkdir(dir_named_podman, 0755), 0);
    free(dir_named_podman);
}

static void teardown(void)
{
    free(both);
    free(ponly);
    free(donly);
    free(none);
    free(noexec);
    tu_rmtree(tmp);
}

/* Find with (want, env, path); expect success with dir/name and kind. */
static void expect_found(const char *want, const char *env, const char *path,
                         const char *want_path, sbx_runtime_kind want_kind)
{
    char *got = NULL;
    sbx_runtime_kind kind = 0;
    sbx_err e = {0};
    int rc = sbx_find_runtime(want, env, path, &got, &kind, &e);
    ck_assert_msg(rc == 0, "find(%s, %s, %s): %d %s", want ? want : "NULL",
                  env ? env : "NULL", path, rc, e.msg);
    ck_assert_str_eq(got, want_path);
    ck_assert_int_eq(kind, want_kind);
    free(got);
}

static void expect_fail(const char *want, const char *env, const char *path,
                        int code, const char *needle, const char *needle2)
{
    char *got = (char *)1;
    sbx_runtime_kind kind = 0;
    sbx_err e = {0};
    int rc = sbx_find_runtime(want, env, path, &got, &kind, &e);
    ck_assert_msg(rc == code, "find(%s, %s, %s): got %d, want %d (%s)",
                  want ? want : "NULL", env ? env : "NULL", path, rc, code,
                  e.msg);
    ck_assert_ptr_null(got);
    ck_assert_int_eq(e.code, code);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "'%s' lacks '%s'", e.msg,
                  needle);
    if (needle2 != NULL)
        ck_assert_msg(strstr(e.msg, needle2) != NULL, "'%s' lacks '%s'", e.msg,
                      needle2);
}

START_TEST(test_order)
{
    char *bp = tu_path(both, "podman"), *bd = tu_path(both, "docker");
    char *pp = tu_path(ponly, "podman"), *dd = tu_path(donly, "docker");
    /* podman beats docker */
    expect_found(NULL, NULL, both, bp, SBX_RT_PODMAN);
    /* ... even when docker comes first on PATH */
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s:%s", donly, ponly), 0);
    expect_found(NULL, NULL, path, pp, SBX_RT_PODMAN);
    free(path);
    /* env beats PATH order */
    expect_found(NULL, "docker", both, bd, SBX_RT_DOCKER);
    /* explicit option beats env */
    expect_found("podman", "docker", both, bp, SBX_RT_PODMAN);
    expect_found("docker", "podman", both, bd, SBX_RT_DOCKER);
    /* an empty env value means unset */
    expect_found(NULL, "", both, bp, SBX_RT_PODMAN);
    free(bp);
    free(bd);
    free(pp);
    free(dd);
}
END_TEST

START_TEST(test_single)
{
    char *pp = tu_path(ponly, "podman"), *dd = tu_path(donly, "docker");
    expect_found(NULL, NULL, ponly, pp, SBX_RT_PODMAN);
    expect_found(NULL, NULL, donly, dd, SBX_RT_DOCKER);
    /* first match along PATH wins for the same name */
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s:%s", ponly, both), 0);
    expect_found(NULL, NULL, path, pp, SBX_RT_PODMAN);
    free(path);
    free(pp);
    free(dd);
}
END_TEST

START_TEST(test_neither)
{
    expect_fail(NULL, NULL, none, SANDBOX_ENORUNTIME, "podman", "docker");
    expect_fail(NULL, NULL, "", SANDBOX_ENORUNTIME, "podman", "docker");
    /* env names one that is not there */
    expect_fail(NULL, "docker", ponly, SANDBOX_ENORUNTIME, "docker",
                SANDBOX_RUNTIME_ENV);
    expect_fail("podman", NULL, donly, SANDBOX_ENORUNTIME, "podman", NULL);

    /* The public wrapper: message out-param, same code. */
    ck_assert_int_eq(setenv("PATH", none, 1), 0);
    unsetenv(SANDBOX_RUNTIME_ENV);
    char *p = (char *)1, *msg = NULL;
    ck_assert_int_eq(sandbox_find_runtime(NULL, &p, &msg), SANDBOX_ENORUNTIME);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "podman"));
    ck_assert_ptr_nonnull(strstr(msg, "docker"));
    sandbox_free(msg);
}
END_TEST

START_TEST(test_non_executable_skipped)
{
    char *dd = tu_path(donly, "docker");
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s:%s", noexec, donly), 0);
    expect_found(NULL, NULL, path, dd, SBX_RT_DOCKER);
    free(path);
    /* a directory named podman is not a runtime either */
    ck_assert_int_ge(asprintf(&path, "%s:%s", none, donly), 0);
    expect_found(NULL, NULL, path, dd, SBX_RT_DOCKER);
    free(path);
    expect_fail(NULL, NULL, noexec, SANDBOX_ENORUNTIME, "podman", "docker");
    free(dd);
}
END_TEST

START_TEST(test_explicit_path)
{
    char *pp = tu_path(ponly, "podman");
    char *np = tu_path(noexec, "podman");
    char *dirp = tu_path(none, "podman");
    /* an absolute path is taken as is (PATH not consulted) */
    expect_found(pp, NULL, none, pp, SBX_RT_PODMAN);
    expect_found(NULL, pp, none, pp, SBX_RT_PODMAN); /* via env */
    /* a path whose basename contains the runtime name */
    char *remote = tu_path(both, "podman-remote");
    tu_write_file(remote, "#!/bin/sh\n", 0755);
    expect_found(remote, NULL, none, remote, SBX_RT_PODMAN);
    free(remote);
    /* relative paths with a slash are made absolute */
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmp), 0);
    char *real = realpath(pp, NULL);
    expect_found("./ponly/podman", NULL, none, real, SBX_RT_PODMAN);
    ck_assert_int_eq(chdir(cwd), 0);
    free(real);
    /* not executable, missing, a directory: errors naming the path */
    expect_fail(np, NULL, both, SANDBOX_ENORUNTIME, np, "executable");
    expect_fail("/nonexistent/podman", NULL, both, SANDBOX_ENORUNTIME,
                "/nonexistent/podman", NULL);
    expect_fail(dirp, NULL, both, SANDBOX_ENORUNTIME, dirp, NULL);
    free(pp);
    free(np);
    free(dirp);
}
END_TEST

START_TEST(test_unknown_runtime)
{
    char *rp = tu_path(none, "runc");
    expect_fail("runc", NULL, none, SANDBOX_EINVAL, "unknown runtime", "runc");
    expect_fail(rp, NULL, none, SANDBOX_EINVAL, "unknown runtime", NULL);
    expect_fail("/bin/true", NULL, both, SANDBOX_EINVAL, "unknown runtime",
                "/bin/true");
    /* only the basename counts: a "podman" directory does not bless it */
    expect_fail("/opt/podman/bin/crun", NULL, both, SANDBOX_EINVAL,
                "unknown runtime", NULL);
    /* via the environment the message says where it came from */
    expect_fail(NULL, "runc", both, SANDBOX_EINVAL, "unknown runtime",
                SANDBOX_RUNTIME_ENV);
    free(rp);
}
END_TEST

START_TEST(test_public_wrapper)
{
    char *bd = tu_path(both, "docker");
    ck_assert_int_eq(setenv("PATH", both, 1), 0);
    ck_assert_int_eq(setenv(SANDBOX_RUNTIME_ENV, "docker", 1), 0);
    char *p = NULL, *msg = (char *)1;
    ck_assert_int_eq(sandbox_find_runtime(NULL, &p, &msg), 0);
    ck_assert_ptr_null(msg);
    ck_assert_str_eq(p, bd);
    sandbox_free(p);
    ck_assert_int_eq(sandbox_find_runtime("podman", &p, NULL), 0);
    ck_assert_ptr_nonnull(strstr(p, "/both/podman"));
    sandbox_free(p);
    unsetenv(SANDBOX_RUNTIME_ENV);
    ck_assert_int_eq(sandbox_find_runtime(NULL, NULL, NULL), SANDBOX_EINVAL);
    free(bd);
}
END_TEST

/* A box can write the CLI's default workspace, the current directory: a
 * planted ./podman must never be found through an empty or relative PATH
 * entry.  The control shows the attack lands with execvp's rules (sh). */
START_TEST(test_relative_path_entries_ignored)
{
    char *cwd = tu_path(tmp, "cwd");
    ck_assert_int_eq(mkdir(cwd, 0755), 0);
    char *marker = tu_path(tmp, "planted-ran");
    char *script = NULL;
    ck_assert_int_ge(asprintf(&script, "#!/bin/sh\n: > '%s'\nexit 0\n", marker),
                     0);
    char *planted = tu_path(cwd, "podman");
    tu_write_file(planted, script, 0755);
    char *rel = tu_path(cwd, "bin");
    ck_assert_int_eq(mkdir(rel, 0755), 0);
    tu_make_exe(rel, "docker", 0755);
    char old[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(old, sizeof old));
    ck_assert_int_eq(chdir(cwd), 0);

    /* Control: a shell follows the empty entry to ./podman. */
    ck_assert_int_eq(system("PATH=: podman"), 0);
    ck_assert_int_eq(access(marker, F_OK), 0);
    ck_assert_int_eq(unlink(marker), 0);

    /* The library: "", "." and "bin" are skipped, /usr/bin is searched. */
    expect_fail(NULL, NULL, ":.:bin::", SANDBOX_ENORUNTIME, "neither", NULL);
    expect_fail("podman", NULL, ":.:bin", SANDBOX_ENORUNTIME, "not found",
                NULL);
    if (access("/usr/bin/podman", X_OK) == 0)
        expect_found(NULL, NULL, ":/usr/bin", "/usr/bin/podman", SBX_RT_PODMAN);
    char *ponly_podman = tu_path(ponly, "podman");
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, ":bin:%s", ponly), 0);
    expect_found(NULL, NULL, path, ponly_podman, SBX_RT_PODMAN);
    free(path);
    /* A whole run with PATH=":" never executes the planted file. */
    ck_assert_int_eq(setenv("PATH", ":", 1), 0);
    unsetenv(SANDBOX_RUNTIME_ENV);
    sandbox_opts o;
    sandbox_result r;
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    o.command = "true";
    ck_assert_int_eq(sandbox_run(&o, &r), SANDBOX_ENORUNTIME);
    sandbox_result_free(&r);
    ck_assert_int_ne(access(marker, F_OK), 0);

    ck_assert_int_eq(chdir(old), 0);
    free(ponly_podman);
    free(rel);
    free(planted);
    free(script);
    free(marker);
    free(cwd);
}
END_TEST

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("find");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, tu_root_setup, tu_root_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_single);
    tcase_add_test(tc, test_neither);
    tcase_add_test(tc, test_non_executable_skipped);
    tcase_add_test(tc, test_explicit_path);
    tcase_add_test(tc, test_unknown_runtime);
    tcase_add_test(tc, test_public_wrapper);
    tcase_add_test(tc, test_relative_path_entries_ignored);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(runtime_suite());
}
