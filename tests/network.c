/* SPDX-License-Identifier: MIT */
/* network = allowlist on a real backend (SANDBOX_TEST_RUNTIME=podman,
 * docker or native), with only servers this test starts on 127.0.0.1 of
 * the host and names from a hosts file of its own (SANDBOX_NET_TEST_HOSTS,
 * read by the proxy; the machine's /etc/hosts is never touched).  Inside
 * the box, bash's /dev/tcp speaks to the relay on 127.0.0.1:3128.  Raw
 * TCP/UDP to non-loopback addresses is only ever tried inside the box,
 * where there is no route: no packet can leave. */
#include "net_server.h"

#include <sandbox.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *runtime(void)
{
    const char *r = getenv("SANDBOX_TEST_RUNTIME");
    return r && *r ? r : "podman";
}

static ns_server srv;
static int other_port;
static char hosts_path[] = "/tmp/sbx-net-hosts-XXXXXX";
static char allow_buf[4][64];
static const char *allow[4];

/* The hosts file: made and removed in the runner process (an unchecked
 * fixture), so it goes away even when a test fails. */
static void hosts_setup(void)
{
    int fd = mkstemp(hosts_path);
    static const char hosts[] = "127.0.0.1 allowed.sandbox.test\n"
                                "127.0.0.2 denied.sandbox.test\n";
    if (fd < 0 || write(fd, hosts, sizeof hosts - 1) != sizeof hosts - 1)
        abort();
    close(fd);
    setenv("SANDBOX_NET_TEST_HOSTS", hosts_path, 1);
}

static void hosts_teardown(void)
{
    unlink(hosts_path);
}

static void setup(void)
{
    ck_assert_int_eq(ns_server_start(&srv), 0);
    other_port = ns_free_port();
    snprintf(allow_buf[0], 64, "localhost:%d", srv.port);
    snprintf(allow_buf[1], 64, "127.0.0.1:%d", srv.port);
    snprintf(allow_buf[2], 64, "[::1]:%d", srv.port);
    snprintf(allow_buf[3], 64, "*.sandbox.test:%d", srv.port);
    for (int i = 0; i < 4; i++)
        allow[i] = allow_buf[i];
}

static void teardown(void)
{
    ns_server_stop(&srv);
}

static void opts_for(sandbox_opts *o, const char *cmd)
{
    ck_assert_int_eq(sandbox_opts_init(o, sizeof *o), 0);
    o->command = cmd;
    o->image = "debian:stable-slim";
    o->runtime = runtime();
    o->timeout_sec = 60;
    o->network = SANDBOX_NETWORK_ALLOWLIST;
    o->allow = allow;
    o->n_allow = 4;
}

/* The proxy's private directories (none may be left after a run); with
 * names != NULL, their paths, one per line. */
static int net_dirs_list(char *names, size_t cap)
{
    const char *bases[3] = {"/run/libsandbox", getenv("XDG_RUNTIME_DIR"), NULL};
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/libsandbox-%ld", (long)getuid());
    bases[2] = tmp;
    int n = 0;
    if (names != NULL)
        names[0] = '\0';
    for (int i = 0; i < 3; i++) {
        char d[512];
        if (bases[i] == NULL)
            continue;
        snprintf(d, sizeof d, "%s%s", bases[i], i == 1 ? "/libsandbox" : "");
        DIR *dir = opendir(d);
        struct dirent *de;
        while (dir && (de = readdir(dir)) != NULL) {
            if (strncmp(de->d_name, "net-", 4) != 0)
                continue;
            n++;
            if (names != NULL)
                snprintf(names + strlen(names), cap - strlen(names), "%s/%s\n",
                         d, de->d_name);
        }
        if (dir)
            closedir(dir);
    }
    return n;
}

static int net_dirs(void)
{
    return net_dirs_list(NULL, 0);
}

/* Processes running the in-box relay, anywhere on the host. */
static int relays(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char path[300], cmd[64] = "";
        if (atoi(de->d_name) <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            size_t k = fread(cmd, 1, sizeof cmd - 1, f);
            cmd[k] = '\0';
            fclose(f);
        }
        n += strcmp(cmd, "/run/sandbox-net/relay") == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static int run(sandbox_opts *o, sandbox_result *r)
{
    ck_assert_int_eq(sandbox_result_init(r, sizeof *r), 0);
    int before = net_dirs();
    int rc = sandbox_run(o, r);
    /* The proxy is gone with the run: reaped (no child left) and its
     * directory removed. */
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    ck_assert_int_le(net_dirs(), before);
    /* And the relay went with the box (containers: removed; native: its
     * pid namespace ended). */
    for (int i = 0; i < 100 && relays() > 0; i++)
        usleep(20000);
    ck_assert_int_eq(relays(), 0);
    return rc;
}

/* A bash script in the box: CONNECT through the relay. */
#define CONNECT_SH(target)                                                     \
    "exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'CONNECT " target               \
    " HTTP/1.1\\r\\n\\r\\n' >&3 && timeout 10 cat <&3; exec 3<&-; "

static char *bash(const char *script)
{
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s, "bash -c \"%s\"", script), 0);
    return s;
}

START_TEST(test_allowed_and_second_port)
{
    char script[1024], hello[32];
    snprintf(script, sizeof script,
             CONNECT_SH("localhost:%d") CONNECT_SH("localhost:%d"), srv.port,
             other_port);
    char *cmd = bash(script);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, cmd);
    ck_assert_int_eq(run(&o, &r), 0);
    snprintf(hello, sizeof hello, "HELLO %d", srv.port);
    ck_assert_msg(strstr(r.out.data, "200 Connection established") != NULL,
                  "out: %s err: %s", r.out.data, r.err.data);
    ck_assert_msg(strstr(r.out.data, hello) != NULL, "%s", r.out.data);
    ck_assert_ptr_nonnull(strstr(r.out.data, "403 Forbidden"));
    ck_assert_ptr_nonnull(strstr(r.out.data, "is not allowed for localhost"));
    ck_assert_int_eq(srv.conns, 1); /* the second never reached a server */
    ck_assert_uint_eq(r.net_attempts, 2);
    ck_assert_ptr_nonnull(r.net_log);
    char d1[64], d2[64];
    snprintf(d1, sizeof d1, "\"dest\":\"localhost:%d\"", srv.port);
    snprintf(d2, sizeof d2, "\"dest\":\"localhost:%d\"", other_port);
    ck_assert_ptr_nonnull(strstr(r.net_log, d1));
    ck_assert_ptr_nonnull(strstr(r.net_log, d2));
    ck_assert_ptr_nonnull(strstr(r.net_log, "\"allowed\":true"));
    ck_assert_ptr_nonnull(strstr(r.net_log, "\"allowed\":false"));
    sandbox_result_free(&r);
    free(cmd);
}
END_TEST

START_TEST(test_denied_name_and_resolution)
{
    char script[1024];
    snprintf(script, sizeof script,
             CONNECT_SH("evil.example:443") CONNECT_SH("denied.sandbox.test:%d")
                 CONNECT_SH("allowed.sandbox.test:%d"),
             srv.port, srv.port);
    char *cmd = bash(script);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, cmd);
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(strstr(r.out.data, "evil.example:443 is not in the "
                                     "allow-list") != NULL,
                  "out: %s err: %s", r.out.data, r.err.data);
    ck_assert_ptr_nonnull(strstr(r.out.data, "127.0.0.2, a loopback address"));
    ck_assert_ptr_nonnull(strstr(r.out.data, "HELLO"));
    ck_assert_uint_eq(r.net_attempts, 3);
    ck_assert_ptr_nonnull(strstr(r.net_log, "\"dest\":\"evil.example:443\","
                                            "\"addr\":\"\",\"allowed\":false"));
    ck_assert_ptr_nonnull(strstr(r.net_log, "\"addr\":\"127.0.0.2\","
                                            "\"allowed\":false"));
    sandbox_result_free(&r);

    /* Weakened on purpose: the whole loopback network by an IP rule.  Now
     * the same name gets through to 127.0.0.2 (nothing listens there:
     * "connect ... failed", not a refusal): the resolution check is what
     * stopped it above. */
    char wide[64];
    snprintf(wide, sizeof wide, "127.0.0.0/8:%d", srv.port);
    const char *weak[] = {allow_buf[3], wide};
    o.allow = weak;
    o.n_allow = 2;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(strstr(r.out.data, "allowed, but connect to 127.0.0.2") !=
                      NULL,
                  "%s", r.out.data);
    sandbox_result_free(&r);
    free(cmd);
}
END_TEST

/* Around the proxy: no route for TCP or UDP, no resolver; the same TCP
 * connect to the host's server succeeds on the host itself. */
START_TEST(test_no_bypass)
{
    char script[1024];
    snprintf(script, sizeof script,
             "echo > /dev/tcp/127.0.0.1/%d && echo HOST-REACHED; "
             "echo > /dev/tcp/10.0.0.1/80 || echo TCP-NOROUTE; "
             "echo x > /dev/udp/10.0.0.1/53 || echo UDP-NOROUTE; "
             "getent hosts allowed.sandbox.test || echo NO-RESOLVER; "
             "cat /proc/net/route | wc -l; ls /sys/class/net",
             srv.port);
    char *cmd = bash(script);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, cmd);
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(strstr(r.out.data, "HOST-REACHED") == NULL, "%s", r.out.data);
    ck_assert_ptr_nonnull(strstr(r.out.data, "TCP-NOROUTE"));
    ck_assert_ptr_nonnull(strstr(r.out.data, "UDP-NOROUTE"));
    ck_assert_ptr_nonnull(strstr(r.out.data, "NO-RESOLVER"));
    ck_assert_ptr_nonnull(strstr(r.err.data, "Network is unreachable"));
    /* Only lo; the route table has its header line only. */
    ck_assert_msg(strstr(r.out.data, "\n1\nlo\n") != NULL, "%s", r.out.data);
    ck_assert_int_eq(srv.conns, 0);
    sandbox_result_free(&r);
    free(cmd);
    /* The same connect, unsandboxed, lands. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
}
END_TEST

/* The proxy variables reach real clients: Python's urllib honours
 * http_proxy (plain HTTP, absolute URI) by itself. */
START_TEST(test_proxy_env_plain_http)
{
    if (system("podman image exists libsandbox-python 2>/dev/null") != 0 &&
        strcmp(runtime(), "docker") != 0)
        return;
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import urllib.request as u; "
             "print(u.urlopen('http://localhost:%d/via-proxy').read())\"",
             srv.port);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, cmd);
    o.image = "libsandbox-python";
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(strstr(r.out.data, "GOT GET /via-proxy HTTP/1.1") != NULL,
                  "out: %s err: %s", r.out.data, r.err.data);
    ck_assert_ptr_nonnull(strstr(r.net_log, "\"proto\":\"http\""));
    sandbox_result_free(&r);
}
END_TEST

START_TEST(test_timeout_stops_proxy)
{
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "sleep 30");
    o.timeout_sec = 2;
    ck_assert_int_eq(run(&o, &r), 0); /* asserts no child, no directory */
    ck_assert_int_eq(r.reason, SANDBOX_END_TIMEOUT);
    sandbox_result_free(&r);
}
END_TEST

/* Children of pid that run this very executable (the proxy is a fork). */
static int forked_children(pid_t pid, pid_t *out, int max)
{
    char path[64], self[4096], exe[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    int k = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL && k < max) {
        pid_t p = (pid_t)atoi(de->d_name);
        if (p <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", p);
        FILE *f = fopen(path, "r");
        int ppid = 0;
        if (f && fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
            ppid = 0;
        if (f)
            fclose(f);
        snprintf(path, sizeof path, "/proc/%d/exe", p);
        ssize_t m = readlink(path, exe, sizeof exe - 1);
        if (ppid == pid && m > 0) {
            exe[m] = '\0';
            if (strcmp(exe, self) == 0)
                out[k++] = p;
        }
    }
    if (d)
        closedir(d);
    return k;
}

START_TEST(test_caller_death_stops_proxy)
{
    static char before[8192], after[8192];
    net_dirs_list(before, sizeof before);
    pid_t caller = fork();
    if (caller == 0) {
        sandbox_opts o;
        sandbox_result r;
        opts_for(&o, "sleep 20");
        sandbox_result_init(&r, sizeof r);
        sandbox_run(&o, &r);
        _exit(0);
    }
    pid_t kids[8];
    int n = 0;
    for (int i = 0; i < 300 && n == 0; i++) {
        usleep(10000);
        n = forked_children(caller, kids, 8);
    }
    ck_assert_msg(n > 0, "no proxy process seen under the caller");
    /* The relay runs while the box does (so relays() can see one). */
    bool seen = false;
    for (int i = 0; i < 300 && !seen; i++) {
        seen = relays() > 0;
        usleep(10000);
    }
    ck_assert_msg(seen, "no relay seen in the running box");
    kill(caller, SIGKILL);
    waitpid(caller, NULL, 0);
    bool gone = false;
    for (int i = 0; i < 300 && !gone; i++) {
        gone = true;
        for (int k = 0; k < n; k++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d", kids[k]);
            if (access(path, F_OK) == 0) {
                char st[64];
                snprintf(path, sizeof path, "/proc/%d/stat", kids[k]);
                FILE *f = fopen(path, "r");
                char state = 'R';
                if (f && fscanf(f, "%*d (%*[^)]) %c", &state) == 1 &&
                    state != 'Z')
                    gone = false;
                if (f)
                    fclose(f);
                (void)st;
            }
        }
        usleep(10000);
    }
    ck_assert_msg(gone, "the proxy outlived its caller");
    /* What the dead caller's box left (containers keep running until
     * swept; the relay in it has no proxy left to reach). */
    /* The dead caller's proxy directory: left, then swept by gc. */
    net_dirs_list(after, sizeof after);
    char ours[600] = "";
    for (char *l = after, *nl; *l; l = nl + 1) {
        nl = strchr(l, '\n');
        *nl = '\0';
        if (strstr(before, l) == NULL)
            snprintf(ours, sizeof ours, "%.500s", l);
    }
    ck_assert_msg(ours[0] != '\0', "no directory of the dead proxy");
    unsigned removed = 0;
    ck_assert_int_eq(sandbox_gc(runtime(), 0, &removed, NULL), 0);
    ck_assert_uint_ge(removed, 1);
    ck_assert_msg(access(ours, F_OK) < 0, "%s survived sandbox_gc", ours);
}
END_TEST

/* 64 MiB from a host server, through relay and proxy, byte-exact, and the
 * record counts them. */
static void *bulk_server(void *arg)
{
    int lfd = *(int *)arg;
    int c = accept(lfd, NULL, NULL);
    if (c >= 0) {
        static char buf[1 << 16];
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (char)('a' + i % 26);
        for (int i = 0; i < 1024; i++)
            if (send(c, buf, sizeof buf, MSG_NOSIGNAL) != (ssize_t)sizeof buf)
                break;
        close(c);
    }
    return NULL;
}

START_TEST(test_bulk_transfer)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(lfd, 4), 0);
    getsockname(lfd, (struct sockaddr *)&a, &l);
    int port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, bulk_server, &lfd);
    char rule[64], script[512];
    snprintf(rule, sizeof rule, "127.0.0.1:%d", port);
    const char *one[] = {rule};
    snprintf(script, sizeof script,
             "exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'CONNECT "
             "127.0.0.1:%d HTTP/1.1\\r\\n\\r\\n' >&3 && "
             "head -c 39 <&3 >/dev/null && wc -c <&3",
             port);
    char *cmd = bash(script);
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, cmd);
    o.allow = one;
    o.n_allow = 1;
    ck_assert_int_eq(run(&o, &r), 0);
    pthread_join(th, NULL);
    close(lfd);
    ck_assert_msg(strstr(r.out.data, "67108864") != NULL, "out: %s err: %s",
                  r.out.data, r.err.data);
    ck_assert_ptr_nonnull(strstr(r.net_log, "\"bytes_down\":67108864"));
    sandbox_result_free(&r);
    free(cmd);
}
END_TEST

/* argv mode (no shell: the relay execs the words) and stdin, through the
 * relay, unchanged. */
START_TEST(test_argv_mode_and_stdin)
{
    char script[512];
    snprintf(script, sizeof script,
             "cat; echo \" $HTTPS_PROXY\"; " CONNECT_SH("localhost:%d"),
             srv.port);
    const char *words[] = {"bash", "-c", script};
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, NULL);
    o.argv = words;
    o.argc = 3;
    o.stdin_data = "from-stdin";
    o.stdin_len = 10;
    ck_assert_int_eq(run(&o, &r), 0);
    ck_assert_msg(strstr(r.out.data, "from-stdin http://127.0.0.1:3128") !=
                      NULL,
                  "out: %s err: %s", r.out.data, r.err.data);
    ck_assert_ptr_nonnull(strstr(r.out.data, "HELLO"));
    ck_assert_uint_eq(r.net_attempts, 1);
    sandbox_result_free(&r);
}
END_TEST

/* Native bridge (slirp4netns): checked by looking inside the box only --
 * its interfaces and routes; nothing is sent. */
START_TEST(test_native_bridge_interfaces)
{
    if (strcmp(runtime(), "native") != 0)
        return;
    sandbox_opts o;
    sandbox_result r;
    opts_for(&o, "ls /sys/class/net; cat /proc/net/route; "
                 "cat /sys/class/net/tap0/operstate /sys/class/net/tap0/mtu");
    o.network = SANDBOX_NETWORK_BRIDGE;
    o.allow = NULL;
    o.n_allow = 0;
    ck_assert_int_eq(run(&o, &r), 0); /* also: slirp4netns reaped */
    ck_assert_msg(r.exit_code == 0, "out: %s err: %s msg: %s", r.out.data,
                  r.err.data, r.message ? r.message : "");
    ck_assert_ptr_nonnull(strstr(r.out.data, "lo\ntap0\n"));
    /* The default route (destination 00000000) via 10.0.2.2 (0202000A). */
    ck_assert_msg(strstr(r.out.data, "tap0\t00000000\t0202000A") != NULL, "%s",
                  r.out.data);
    ck_assert_ptr_nonnull(strstr(r.out.data, "65520"));
    sandbox_result_free(&r);
}
END_TEST

static Suite *network_suite(void)
{
    Suite *s = suite_create("network");
    TCase *tc = tcase_create(runtime());
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, hosts_setup, hosts_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_allowed_and_second_port);
    tcase_add_test(tc, test_denied_name_and_resolution);
    tcase_add_test(tc, test_no_bypass);
    tcase_add_test(tc, test_proxy_env_plain_http);
    tcase_add_test(tc, test_timeout_stops_proxy);
    tcase_add_test(tc, test_caller_death_stops_proxy);
    tcase_add_test(tc, test_native_bridge_interfaces);
    tcase_add_test(tc, test_bulk_transfer);
    tcase_add_test(tc, test_argv_mode_and_stdin);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(network_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
