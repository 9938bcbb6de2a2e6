/* SPDX-License-Identifier: MIT */
/* sbx_plan_init + the runtime CLI argv (run, rm, kill, ps), with fake
 * podman/docker executables on a PATH built in a temp dir. */
#include "internal.h"
#include "test_util.h"

#include <limits.h>

static char *tmp, *bin, *podman, *docker;
static char label[64];

static void setup(void)
{
    tmp = tu_mkdtemp();
    bin = tu_path(tmp, "bin");
    ck_assert_int_eq(mkdir(bin, 0755), 0);
    podman = tu_install_fake(bin, "podman");
    docker = tu_install_fake(bin, "docker");
    ck_assert_int_eq(setenv("PATH", bin, 1), 0);
    unsetenv(SANDBOX_RUNTIME_ENV);
    snprintf(label, sizeof label, "--label=io.libsandbox.owner=%ld",
             (long)getpid());
}

static void teardown(void)
{
    free(bin);
    free(podman);
    free(docker);
    tu_rmtree(tmp);
}

static void base_opts(sandbox_opts *o, const char *cmd)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->command = cmd;
}

/* Plan + run argv; the caller frees both. */
static char **run_argv(const sandbox_opts *o, sbx_plan *plan)
{
    sbx_err e = {0};
    char **argv = NULL;
    int rc = sbx_plan_init(plan, o, &e);
    ck_assert_msg(rc == 0, "plan_init: %d %s", rc, e.msg);
    ck_assert_int_eq(sbx_build_run_argv(plan, &argv, &e), 0);
    ck_assert_ptr_nonnull(argv);
    return argv;
}

/* "--security-opt=seccomp=<path>": the shared profile, written once. */
static char seccomp_arg[4200];
static const char *expected_seccomp(void)
{
    sbx_err e = {0};
    char path[4096];
    ck_assert_msg(sbx_seccomp_profile_path(path, sizeof path, &e) == 0, "%s",
                  e.msg);
    ck_assert_ptr_nonnull(strstr(path, "/seccomp-"));
    snprintf(seccomp_arg, sizeof seccomp_arg, "--security-opt=seccomp=%s",
             path);
    return seccomp_arg;
}

static char *expected_cpus(double want)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1)
        online = 1;
    char *s = NULL;
    if (want > (double)online)
        ck_assert_int_ge(asprintf(&s, "%ld", online), 0);
    else
        ck_assert_int_ge(asprintf(&s, "%g", want), 0);
    return s;
}

START_TEST(test_defaults_argv)
{
    sandbox_opts o;
    sbx_plan p;
    base_opts(&o, "echo hi");
    char **argv = run_argv(&o, &p);
    char *cpus = expected_cpus(2.0);
    char cpus_arg[64], name_arg[96];
    snprintf(cpus_arg, sizeof cpus_arg, "--cpus=%s", cpus);
    snprintf(name_arg, sizeof name_arg, "--name=%s", p.name);

    ck_assert_str_eq(p.runtime_path, podman);
    ck_assert_int_eq(p.kind, SBX_RT_PODMAN);
    tu_assert_argv(
        argv, podman, "run", "--rm", "--pull=missing", "--network=none",
        "--memory=2g", "--pids-limit=512", cpus_arg, "--cap-drop=ALL",
        "--security-opt=no-new-privileges", expected_seccomp(), "--read-only",
        "--tmpfs=/tmp:rw,exec,nosuid,nodev,size=1073741824,"
        "mode=1777",
        "--tmpfs=/var/tmp:rw,exec,nosuid,nodev,size=1073741824,"
        "mode=1777",
        "--tmpfs=/run:rw,exec,nosuid,nodev,size=1073741824,mode=755",
        "--tmpfs=/root:rw,exec,nosuid,nodev,size=1073741824,"
        "mode=700",
        "--no-healthcheck", name_arg, label, "debian:stable-slim", "sh", "-c",
        "echo hi");
    free(cpus);
    sbx_argv_free(argv);
    sbx_plan_free(&p);
    ck_assert_ptr_null(p.runtime_path);
}
END_TEST

START_TEST(test_all_options_argv)
{
    char *ws = tu_path(tmp, "ws");
    char *link = tu_path(tmp, "wslink");
    char *data = tu_path(tmp, "data");
    char *file = tu_path(tmp, "file.txt");
    ck_assert_int_eq(mkdir(ws, 0755), 0);
    ck_assert_int_eq(mkdir(data, 0755), 0);
    ck_assert_int_eq(symlink(ws, link), 0);
    tu_write_file(file, "x", 0644);
    char *ws_real = realpath(ws, NULL);
    char *data_real = realpath(data, NULL);
    char *file_real = realpath(file, NULL);
    char *data_dotted = NULL;
    ck_assert_int_ge(asprintf(&data_dotted, "%s/../data", data), 0);

    sandbox_mount m[] = {{data, "/in", 0}, {file, "/etc/x.txt", 1}};
    const char *env[] = {"FOO=bar baz", "EMPTY="};
    sandbox_opts o;
    sbx_plan p;
    base_opts(&o, "make test");
    o.image = "alpine:3.20";
    o.workspace = link;
    o.network = SANDBOX_NETWORK_BRIDGE;
    o.memory = "512m";
    o.pids = 64;
    o.cpus = 0.5;
    o.mounts = m;
    o.n_mounts = 2;
    o.env = env;
    o.n_env = 2;
    o.runtime = "docker";
    o.disk_limit = "64m";
    char **argv = run_argv(&o, &p);

    char ws_arg[PATH_MAX + 32], m0[PATH_MAX + 32], m1[PATH_MAX + 32];
    char name_arg[96];
    snprintf(ws_arg, sizeof ws_arg, "%s:/workspace:rw", ws_real);
    snprintf(m0, sizeof m0, "%s:/in:ro", data_real);
    snprintf(m1, sizeof m1, "%s:/etc/x.txt:rw", file_real);
    snprintf(name_arg, sizeof name_arg, "--name=%s", p.name);
    ck_assert_str_eq(p.workspace, ws_real);
    ck_assert_int_eq(p.kind, SBX_RT_DOCKER);
    tu_assert_argv(
        argv, docker, "run", "--rm", "--pull=missing", "--network=bridge",
        "--memory=512m", "--pids-limit=64", "--cpus=0.5", "--cap-drop=ALL",
        "--security-opt=no-new-privileges", expected_seccomp(), "-v", ws_arg,
        "-w", "/workspace", "--read-only",
        "--tmpfs=/tmp:rw,exec,nosuid,nodev,size=67108864,mode=1777",
        "--tmpfs=/var/tmp:rw,exec,nosuid,nodev,size=67108864,mode=1777",
        "--tmpfs=/run:rw,exec,nosuid,nodev,size=67108864,mode=755",
        "--tmpfs=/root:rw,exec,nosuid,nodev,size=67108864,mode=700",
        "--no-healthcheck", name_arg, label, "-v", m0, "-v", m1,
        "--env=FOO=bar baz", "--env=EMPTY=", "alpine:3.20", "sh", "-c",
        "make test");
    sbx_argv_free(argv);
    sbx_plan_free(&p);
    free(ws);
    free(link);
    free(data);
    free(file);
    free(ws_real);
    free(data_real);
    free(file_real);
    free(data_dotted);
}
END_TEST

START_TEST(test_workspace_relative)
{
    char *ws = tu_path(tmp, "rel");
    ck_assert_int_eq(mkdir(ws, 0755), 0);
    char *ws_real = realpath(ws, NULL);
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmp), 0);

    sandbox_opts o;
    sbx_plan p;
    base_opts(&o, "pwd");
    o.workspace = "rel";
    char **argv = run_argv(&o, &p);
    ck_assert_str_eq(p.workspace, ws_real);
    size_t i = 0;
    while (argv[i] && strcmp(argv[i], "-v") != 0)
        i++;
    ck_assert_ptr_nonnull(argv[i]);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s:/workspace:rw", ws_real);
    ck_assert_str_eq(argv[i + 1], want);
    ck_assert_str_eq(argv[i + 2], "-w");
    ck_assert_str_eq(argv[i + 3], "/workspace");
    sbx_argv_free(argv);
    sbx_plan_free(&p);
    ck_assert_int_eq(chdir(cwd), 0);
    free(ws);
    free(ws_real);
}
END_TEST

START_TEST(test_command_one_argument)
{
    static const char *const cmds[] = {
        "echo 'single' \"double\"; ls && rm -rf / || true",
        "echo $(id) `whoami` $HOME ${PATH}",
        "line1\nline2\n\ttabbed",
        "  leading and trailing spaces  ",
        "-c",
        "--rm",
        "'\"\\",
        "x; exit 3 # comment",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        sandbox_opts o;
        sbx_plan p;
        base_opts(&o, cmds[i]);
        char **argv = run_argv(&o, &p);
        size_t n = tu_argc(argv);
        ck_assert_uint_ge(n, 4);
        ck_assert_str_eq(argv[n - 4], "debian:stable-slim");
        ck_assert_str_eq(argv[n - 3], "sh");
        ck_assert_str_eq(argv[n - 2], "-c");
        ck_assert_str_eq(argv[n - 1], cmds[i]);
        /* Nothing of the command leaked into other arguments. */
        for (size_t k = 0; k + 1 < n; k++)
            ck_assert_ptr_null(strstr(argv[k], "leading and"));
        sbx_argv_free(argv);
        sbx_plan_free(&p);
    }
}
END_TEST

static void check_cpus(double in, const char *want)
{
    sandbox_opts o;
    sbx_plan p;
    base_opts(&o, "true");
    o.cpus = in;
    char **argv = run_argv(&o, &p);
    ck_assert_msg(strcmp(p.cpus, want) == 0, "cpus %g: got '%s', want '%s'", in,
                  p.cpus, want);
    char arg[64];
    snprintf(arg, sizeof arg, "--cpus=%s", want);
    ck_assert_str_eq(argv[7], arg);
    sbx_argv_free(argv);
    sbx_plan_free(&p);
}

START_TEST(test_cpus_format_and_clamp)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    char on[32];
    snprintf(on, sizeof on, "%ld", online);
    check_cpus(0.5, "0.5");
    check_cpus(0.01, "0.01");
    check_cpus(0.25, "0.25");
    check_cpus(1, "1");
    if (online >= 2) {
        check_cpus(1.25, "1.25");
        check_cpus(2, "2");
        check_cpus(1.999, "2"); /* %.2f rounds, trailing zeros trimmed */
        check_cpus(1.5, "1.5");
    } else {
        check_cpus(1.25, "1");
        check_cpus(2, "1");
    }
    check_cpus(4096, on);
    check_cpus((double)online + 0.5, on);
    char *def = expected_cpus(SANDBOX_DEFAULT_CPUS);
    check_cpus(SANDBOX_DEFAULT_CPUS, def);
    free(def);
}
END_TEST

START_TEST(test_unique_names)
{
    enum { N = 200 };
    char names[N][64];
    for (int i = 0; i < N; i++) {
        sandbox_opts o;
        sbx_plan p;
        sbx_err e = {0};
        base_opts(&o, "true");
        ck_assert_int_eq(sbx_plan_init(&p, &o, &e), 0);
        ck_assert_uint_eq(strlen(p.name), 8 + 16);
        ck_assert_int_eq(strncmp(p.name, "sandbox-", 8), 0);
        ck_assert_uint_eq(strspn(p.name + 8, "0123456789abcdef"), 16);
        snprintf(names[i], sizeof names[i], "%s", p.name);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(names[i], names[j]);
        char want_label[64];
        snprintf(want_label, sizeof want_label, "io.libsandbox.owner=%ld",
                 (long)getpid());
        ck_assert_str_eq(p.label, want_label);
        sbx_plan_free(&p);
    }
}
END_TEST

START_TEST(test_plan_failure_frees)
{
    /* Runtime missing: plan_init fails after resolving the workspace and
     * mounts; nothing is left to free (ASan/valgrind would see it). */
    ck_assert_int_eq(setenv("PATH", tmp, 1), 0);
    sandbox_opts o;
    sbx_plan p;
    sbx_err e = {0};
    sandbox_mount m = {tmp, "/m", 0};
    base_opts(&o, "true");
    o.workspace = tmp;
    o.mounts = &m;
    o.n_mounts = 1;
    ck_assert_int_eq(sbx_plan_init(&p, &o, &e), SANDBOX_ENORUNTIME);
    ck_assert_ptr_null(p.runtime_path);
    ck_assert_ptr_null(p.workspace);
    ck_assert_ptr_null(p.mounts);
    sbx_plan_free(&p);
}
END_TEST

START_TEST(test_rm_kill_ps_argv)
{
    char **argv = NULL;
    sbx_err e = {0};
    ck_assert_int_eq(
        sbx_build_rm_argv("/x/podman", SBX_RT_PODMAN, "sb-1", &argv, &e), 0);
    tu_assert_argv(argv, "/x/podman", "rm", "-f", "--time=0", "--ignore",
                   "sb-1");
    sbx_argv_free(argv);
    ck_assert_int_eq(
        sbx_build_rm_argv("/x/docker", SBX_RT_DOCKER, "sb-1", &argv, &e), 0);
    tu_assert_argv(argv, "/x/docker", "rm", "-f", "sb-1");
    sbx_argv_free(argv);

    ck_assert_int_eq(
        sbx_build_ps_argv("/x/podman", SBX_RT_PODMAN, "sb-1", &argv, &e), 0);
    tu_assert_argv(argv, "/x/podman", "ps", "-a", "--no-trunc",
                   "--filter=name=sb-1", "--format={{.Names}}");
    sbx_argv_free(argv);
    ck_assert_int_eq(
        sbx_build_ps_argv("/x/docker", SBX_RT_DOCKER, "sb-1", &argv, &e), 0);
    tu_assert_argv(argv, "/x/docker", "ps", "-a", "--no-trunc",
                   "--filter=name=sb-1", "--format={{.Names}}");
    sbx_argv_free(argv);
    ck_assert_int_eq(
        sbx_build_ps_argv("/x/podman", SBX_RT_PODMAN, NULL, &argv, &e), 0);
    tu_assert_argv(argv, "/x/podman", "ps", "-a", "--no-trunc",
                   "--filter=label=io.libsandbox.owner",
                   "--format={{.Names}} {{index .Labels "
                   "\"io.libsandbox.owner\"}}");
    sbx_argv_free(argv);
    ck_assert_int_eq(
        sbx_build_ps_argv("/x/docker", SBX_RT_DOCKER, NULL, &argv, &e), 0);
    tu_assert_argv(argv, "/x/docker", "ps", "-a", "--no-trunc",
                   "--filter=label=io.libsandbox.owner",
                   "--format={{.Names}} {{.Label \"io.libsandbox.owner\"}}");
    sbx_argv_free(argv);

    ck_assert_int_eq(
        sbx_build_exists_argv("/x/podman", SBX_RT_PODMAN, "sb-1", &argv, &e),
        0);
    tu_assert_argv(argv, "/x/podman", "container", "exists", "sb-1");
    sbx_argv_free(argv);
    ck_assert_int_eq(
        sbx_build_exists_argv("/x/docker", SBX_RT_DOCKER, "sb-1", &argv, &e),
        0);
    tu_assert_argv(argv, "/x/docker", "container", "inspect",
                   "--format={{.Id}}", "sb-1");
    sbx_argv_free(argv);

    sbx_argv_free(NULL);
}
END_TEST

/* Box root is never host root: the backend's id map becomes --uidmap and
 * --gidmap right after the contract's flags. */
START_TEST(test_idmap_argv)
{
    sandbox_opts o;
    sbx_plan p;
    base_opts(&o, "id");
    o.disk_limit = "1m";
    sbx_idmap map = {.uid_start = 100000, .gid_start = 200000, .count = 65536};
    sbx_err e = {0};
    ck_assert_int_eq(sbx_plan_init(&p, &o, &e), 0);
    p.idmap = &map;
    char **argv = NULL;
    ck_assert_int_eq(sbx_build_run_argv(&p, &argv, &e), 0);
    size_t i = 0;
    while (argv[i] && strcmp(argv[i], "--security-opt=no-new-privileges"))
        i++;
    ck_assert_ptr_nonnull(argv[i]);
    ck_assert(strncmp(argv[i + 1], "--security-opt=seccomp=", 23) == 0);
    ck_assert_str_eq(argv[i + 2], "--uidmap=0:100000:65536");
    ck_assert_str_eq(argv[i + 3], "--gidmap=0:200000:65536");
    ck_assert_str_eq(argv[i + 4], "--read-only");
    ck_assert_str_eq(
        argv[i + 5],
        "--tmpfs=/tmp:rw,exec,nosuid,nodev,size=1048576,mode=1777");
    sbx_argv_free(argv);
    sbx_plan_free(&p);
}
END_TEST

/* Box paths (and every other path field) with '..', '.' or '//'
 * components are refused with a message saying which. */
START_TEST(test_dotted_paths_rejected)
{
    static const char *const bad_box[] = {"/a/../etc", "/a/./b", "/a//b",
                                          "/..",       "/.",     "//a"};
    for (size_t i = 0; i < sizeof bad_box / sizeof *bad_box; i++) {
        sandbox_mount m = {tmp, bad_box[i], 0};
        sandbox_opts o;
        base_opts(&o, "true");
        o.mounts = &m;
        o.n_mounts = 1;
        char *msg = NULL;
        ck_assert_int_eq(sandbox_opts_validate(&o, &msg), SANDBOX_EINVAL);
        ck_assert_msg(msg && strstr(msg, bad_box[i]) &&
                          (strstr(msg, "'..'") || strstr(msg, "'//'")),
                      "%s: %s", bad_box[i], msg ? msg : "(null)");
        sandbox_free(msg);
    }
    /* A trailing slash is fine, and so are names merely starting with a
     * dot. */
    static const char *const good_box[] = {"/a/", "/.cache", "/a/..b/c"};
    for (size_t i = 0; i < sizeof good_box / sizeof *good_box; i++) {
        sandbox_mount m = {tmp, good_box[i], 0};
        sandbox_opts o;
        base_opts(&o, "true");
        o.mounts = &m;
        o.n_mounts = 1;
        ck_assert_int_eq(sandbox_opts_validate(&o, NULL), 0);
    }
    /* Host paths and the native image directory too. */
    char *dotted = NULL;
    ck_assert_int_ge(asprintf(&dotted, "%s/../%s", tmp, strrchr(tmp, '/') + 1),
                     0);
    sandbox_mount m = {dotted, "/m", 0};
    sandbox_opts o;
    base_opts(&o, "true");
    o.mounts = &m;
    o.n_mounts = 1;
    ck_assert_int_eq(sandbox_opts_validate(&o, NULL), SANDBOX_EINVAL);
    base_opts(&o, "true");
    o.workspace = dotted;
    ck_assert_int_eq(sandbox_opts_validate(&o, NULL), SANDBOX_EINVAL);
    base_opts(&o, "true");
    o.image = dotted;
    char *msg = NULL;
    ck_assert_int_eq(sandbox_opts_validate(&o, &msg), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "image directory"));
    sandbox_free(msg);
    free(dotted);
}
END_TEST

/* A box's `run -d`: the run argv's flags word for word, minus --rm, plus
 * the control directory and the init on its stub, the init as command. */
START_TEST(test_create_argv)
{
    sandbox_opts o;
    sbx_plan p;
    sbx_err e = {0};
    base_opts(&o, ":");
    o.runtime = "podman";
    char **run = run_argv(&o, &p);
    char *init_argv[] = {"--connect", "/.sandbox/ctl.sock", NULL};
    char **cr = NULL;
    ck_assert_int_eq(sbx_build_create_argv(&p, "/tmp/d", "/x/sandbox-init",
                                           init_argv, &cr, &e),
                     0);
    size_t nr = 0, nc = 0;
    while (run[nr])
        nr++;
    while (cr[nc])
        nc++;
    ck_assert_str_eq(cr[1], "run");
    ck_assert_str_eq(cr[2], "-d");
    ck_assert_str_eq(run[2], "--rm");
    /* run: ... IMAGE sh -c CMD;
     * create: ... -v DIR -v INIT IMAGE INIT ARGS */
    ck_assert_uint_eq(nc, nr + 4);
    for (size_t i = 3; i < nr - 4; i++)
        ck_assert_str_eq(cr[i], run[i]);
    ck_assert_str_eq(cr[nr - 4], "-v");
    ck_assert_str_eq(cr[nr - 3], "/tmp/d:/.sandbox:ro");
    ck_assert_str_eq(cr[nr - 2], "-v");
    ck_assert_str_eq(cr[nr - 1], "/x/sandbox-init:/.sandbox/init:ro");
    ck_assert_str_eq(cr[nr], run[nr - 4]); /* the image */
    ck_assert_str_eq(cr[nr + 1], "/.sandbox/init");
    ck_assert_str_eq(cr[nr + 2], "--connect");
    ck_assert_str_eq(cr[nr + 3], "/.sandbox/ctl.sock");
    /* Neither the one-shot box nor the long-lived one runs the image's
     * HEALTHCHECK. */
    bool hr = false, hc = false;
    for (size_t i = 0; i < nr; i++)
        hr = hr || strcmp(run[i], "--no-healthcheck") == 0;
    for (size_t i = 0; i < nc; i++)
        hc = hc || strcmp(cr[i], "--no-healthcheck") == 0;
    ck_assert(hr && hc);
    for (size_t i = 0; i < nc; i++)
        ck_assert_str_ne(cr[i], "--rm");
    sbx_argv_free(run);
    sbx_argv_free(cr);
    sbx_plan_free(&p);
}
END_TEST

static Suite *argv_suite(void)
{
    Suite *s = suite_create("argv");
    TCase *tc = tcase_create("run");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, tu_root_setup, tu_root_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults_argv);
    tcase_add_test(tc, test_all_options_argv);
    tcase_add_test(tc, test_workspace_relative);
    tcase_add_test(tc, test_command_one_argument);
    tcase_add_test(tc, test_cpus_format_and_clamp);
    tcase_add_test(tc, test_unique_names);
    tcase_add_test(tc, test_plan_failure_frees);
    tcase_add_test(tc, test_rm_kill_ps_argv);
    tcase_add_test(tc, test_idmap_argv);
    tcase_add_test(tc, test_dotted_paths_rejected);
    tcase_add_test(tc, test_create_argv);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(argv_suite());
}
