/* SPDX-License-Identifier: MIT */
/* network = allowlist: entry parsing and validation, the decisions, and
 * the proxy process run directly on the host against servers this test
 * starts on 127.0.0.1 (never any other address). */
#include "net.h"
#include "net_server.h"
#include "test_util.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

/* ---- parsing ------------------------------------------------------------ */

static void parse_ok(const char *entry, sbx_net_kind kind, unsigned port)
{
    sbx_net_rule r;
    sbx_err e = {0};
    ck_assert_msg(sbx_net_rule_parse(entry, "allow[0]", &r, &e) == 0,
                  "'%s' refused: %s", entry, e.msg);
    ck_assert_int_eq(r.kind, kind);
    ck_assert_uint_eq(r.port, port);
}

/* Refused, with a message naming the entry and containing `fix`. */
static void parse_bad(const char *entry, const char *fix)
{
    sbx_net_rule r;
    sbx_err e = {0};
    ck_assert_msg(sbx_net_rule_parse(entry, "allow[0]", &r, &e) ==
                      SANDBOX_EINVAL,
                  "'%s' accepted", entry);
    char quoted[400];
    snprintf(quoted, sizeof quoted, "'%s'", entry);
    ck_assert_msg(strstr(e.msg, quoted) != NULL,
                  "message does not name the entry: %s", e.msg);
    ck_assert_msg(strstr(e.msg, fix) != NULL, "'%s': message lacks '%s': %s",
                  entry, fix, e.msg);
}

START_TEST(test_parse_forms)
{
    parse_ok("example.com:443", SBX_NET_NAME, 443);
    parse_ok("API.Example.COM.:443", SBX_NET_NAME, 443);
    parse_ok("localhost:8080", SBX_NET_NAME, 8080);
    parse_ok("*.example.com:443", SBX_NET_SUFFIX, 443);
    parse_ok("1.2.3.4:80", SBX_NET_CIDR, 80);
    parse_ok("10.0.0.0/8:65535", SBX_NET_CIDR, 65535);
    parse_ok("[::1]:1", SBX_NET_CIDR, 1);
    parse_ok("[2001:db8::/32]:443", SBX_NET_CIDR, 443);
    parse_ok("[2001:db8::]/32:443", SBX_NET_CIDR, 443);
    parse_ok("0.0.0.0/0:443", SBX_NET_CIDR, 443);
    sbx_net_rule r;
    ck_assert_int_eq(sbx_net_rule_parse("API.Example.COM.:443", "x", &r, NULL),
                     0);
    ck_assert_str_eq(r.name, "api.example.com");
    ck_assert_int_eq(sbx_net_rule_parse("*.Example.com:443", "x", &r, NULL), 0);
    ck_assert_str_eq(r.name, "example.com");
    ck_assert_int_eq(sbx_net_rule_parse("10.0.0.0/8:80", "x", &r, NULL), 0);
    ck_assert_uint_eq(r.prefix, 8);
}
END_TEST

START_TEST(test_parse_errors)
{
    parse_bad("example.com", "missing :PORT");
    parse_bad("example.com:", "port is not a number");
    parse_bad("example.com:0", "between 1 and 65535");
    parse_bad("example.com:65536", "between 1 and 65535");
    parse_bad("example.com:99999999", "between 1 and 65535");
    parse_bad("example.com:http", "port is not a number");
    parse_bad("example.com:-1", "port is not a number");
    parse_bad("api.*.example.com:443", "only allowed as the whole first label");
    parse_bad("a*.example.com:443", "only allowed as the whole first label");
    parse_bad("example.*:443", "only allowed as the whole first label");
    parse_bad("*:443", "would allow every host");
    parse_bad("*.com:443", "top-level domain");
    parse_bad("https://example.com:443", "a URL is not a destination");
    parse_bad("exa mple.com:443", "white space");
    parse_bad("ex..ample.com:443", "empty label");
    parse_bad("-example.com:443", "starts or ends with '-'");
    parse_bad("exa$mple.com:443", "only letters, digits");
    parse_bad("1.2.3:443", "neither a host name nor a valid IPv4");
    parse_bad("300.1.1.1:443", "neither a host name nor a valid IPv4");
    parse_bad("::1:443", "needs brackets");
    parse_bad("[::1:443", "not closed");
    parse_bad("[::1]", "missing :PORT");
    parse_bad("[nothost]:443", "not an IPv6 address");
    parse_bad("10.1.2.3/8:443", "write the network, 10.0.0.0/8:443");
    parse_bad("10.0.0.0/33:443", "at most 32");
    parse_bad("[fd00::]/129:443", "at most 128");
    parse_bad("example.com/8:443", "needs an IP address");
    parse_bad(":443", "empty");
    parse_bad("", "empty entry");
}
END_TEST

START_TEST(test_policy_list)
{
    sbx_netpolicy p;
    sbx_err e = {0};
    ck_assert_int_eq(sbx_netpolicy_parse(&p, NULL, 0, &e), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "empty allow-list"));
    const char *const list[] = {"a.example:1", "b.example:0"};
    ck_assert_int_eq(sbx_netpolicy_parse(&p, list, 2, &e), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "allow[1] 'b.example:0'"));
    ck_assert_ptr_null(p.rules);

    /* Through the public validation, before anything runs. */
    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.command = "true";
    o.network = SANDBOX_NETWORK_ALLOWLIST;
    char *msg = NULL;
    ck_assert_int_eq(sandbox_opts_validate(&o, &msg), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "empty allow-list"));
    sandbox_free(msg);
    const char *const bad[] = {"api.*.example.com:443"};
    o.allow = bad;
    o.n_allow = 1;
    ck_assert_int_eq(sandbox_opts_validate(&o, &msg), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "allow[0] 'api.*.example.com:443'"));
    sandbox_free(msg);
    const char *const good[] = {"api.example.com:443"};
    o.allow = good;
    ck_assert_int_eq(sandbox_opts_validate(&o, &msg), 0);
    o.network = SANDBOX_NETWORK_NONE;
    ck_assert_int_eq(sandbox_opts_validate(&o, &msg), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "network allowlist only"));
    sandbox_free(msg);
}
END_TEST

/* ---- decisions ---------------------------------------------------------- */

static sbx_netpolicy pol(const char *const *l, size_t n)
{
    sbx_netpolicy p;
    sbx_err e = {0};
    ck_assert_msg(sbx_netpolicy_parse(&p, l, n, &e) == 0, "%s", e.msg);
    return p;
}

static sbx_net_addr ip(const char *s)
{
    sbx_net_addr a;
    ck_assert(sbx_net_parse_ip(s, &a));
    return a;
}

START_TEST(test_special_addresses)
{
    static const char *const special[] = {"127.0.0.1",
                                          "127.9.9.9",
                                          "10.1.2.3",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "169.254.169.254",
                                          "100.64.0.1",
                                          "0.0.0.0",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "::1",
                                          "::",
                                          "fe80::1",
                                          "fd00::1",
                                          "fc00::1",
                                          "ff02::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.0.0.1",
                                          "64:ff9b::a00:1",
                                          "2002:7f00:1::1",
                                          "::127.0.0.1"};
    static const char *const public[] = {"1.1.1.1", "8.8.8.8", "172.32.0.1",
                                         "2606:4700::1111", "::ffff:1.1.1.1"};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++) {
        sbx_net_addr a = ip(special[i]);
        ck_assert_msg(sbx_net_special(&a) != NULL, "%s not special",
                      special[i]);
    }
    for (size_t i = 0; i < sizeof public / sizeof *public; i++) {
        sbx_net_addr a = ip(public[i]);
        ck_assert_msg(sbx_net_special(&a) == NULL, "%s special: %s", public[i],
                      sbx_net_special(&a));
    }
}
END_TEST

START_TEST(test_decisions)
{
    const char *const l[] = {"api.example.com:443", "*.cdn.example:443",
                             "localhost:8080",      "127.0.0.1:8080",
                             "203.0.113.0/24:22",   "[2001:db8::]/32:443"};
    sbx_netpolicy p = pol(l, 6);
    char why[400];
    sbx_net_addr pub = ip("93.184.216.34"), lo = ip("127.0.0.1"),
                 lo2 = ip("127.0.0.2"), lan = ip("192.168.0.10"),
                 meta = ip("169.254.169.254");

    /* By name, resolving to a public address. */
    ck_assert(sbx_net_decide(&p, "api.example.com", 443, &pub, 1, why, 400));
    ck_assert(sbx_net_decide(&p, "API.EXAMPLE.COM.", 443, &pub, 1, why, 400));
    ck_assert(!sbx_net_decide(&p, "api.example.com", 80, &pub, 1, why, 400));
    ck_assert_ptr_nonnull(strstr(why, "port 80 is not allowed"));
    ck_assert(!sbx_net_decide(&p, "evil.example.com", 443, &pub, 1, why, 400));
    ck_assert_ptr_nonnull(strstr(why, "not in the allow-list"));
    /* Suffix rules: below the domain, not the domain itself. */
    ck_assert(sbx_net_decide(&p, "a.cdn.example", 443, &pub, 1, why, 400));
    ck_assert(sbx_net_decide(&p, "a.b.cdn.example", 443, &pub, 1, why, 400));
    ck_assert(!sbx_net_decide(&p, "cdn.example", 443, &pub, 1, why, 400));
    ck_assert(!sbx_net_decide(&p, "xcdn.example", 443, &pub, 1, why, 400));

    /* An allowed name resolving (or rebinding) into the host or the LAN. */
    ck_assert(!sbx_net_decide(&p, "api.example.com", 443, &lan, 1, why, 400));
    ck_assert_ptr_nonnull(strstr(why, "192.168.0.10, a private address"));
    ck_assert(!sbx_net_decide(&p, "api.example.com", 443, &meta, 1, why, 400));
    ck_assert_ptr_nonnull(strstr(why, "link-local"));
    /* Every address must pass, not just the first. */
    sbx_net_addr mixed[2] = {pub, lo};
    ck_assert(!sbx_net_decide(&p, "api.example.com", 443, mixed, 2, why, 400));
    ck_assert_ptr_nonnull(strstr(why, "loopback"));
    /* localhost:8080 is reachable only because 127.0.0.1:8080 is listed. */
    ck_assert(sbx_net_decide(&p, "localhost", 8080, &lo, 1, why, 400));
    ck_assert(!sbx_net_decide(&p, "localhost", 8080, &lo2, 1, why, 400));
    ck_assert(!sbx_net_decide(&p, "localhost", 8081, &lo, 1, why, 400));

    /* Bare IPs: IP rules only. */
    ck_assert(sbx_net_decide(&p, "203.0.113.7", 22, NULL, 0, why, 400));
    ck_assert(!sbx_net_decide(&p, "203.0.113.7", 443, NULL, 0, why, 400));
    ck_assert(!sbx_net_decide(&p, "93.184.216.34", 443, NULL, 0, why, 400));
    ck_assert_ptr_nonnull(strstr(why, "bare IP address"));
    ck_assert(sbx_net_decide(&p, "2001:db8::5", 443, NULL, 0, why, 400));
    ck_assert(sbx_net_decide(&p, "[2001:db8::5]", 443, NULL, 0, why, 400));
    ck_assert(sbx_net_decide(&p, "::ffff:127.0.0.1", 8080, NULL, 0, why, 400));
    ck_assert(!sbx_net_decide(&p, "::ffff:127.0.0.1", 8081, NULL, 0, why, 400));
    /* Garbage names never match. */
    ck_assert(
        !sbx_net_decide(&p, "api.example.com\r\nX", 443, &pub, 1, why, 400));
    ck_assert(!sbx_net_decide(&p, "", 443, &pub, 1, why, 400));
    sbx_netpolicy_free(&p);
}
END_TEST

/* ---- the proxy, on the host ------------------------------------------- */

static ns_server srv;
static int closed_port;
static char *hosts_dir, *hosts_file;

static void proxy_setup(void)
{
    ck_assert_int_eq(ns_server_start(&srv), 0);
    closed_port = ns_free_port();
    hosts_dir = tu_mkdtemp();
    hosts_file = tu_path(hosts_dir, "hosts");
    /* The test's own names: never the machine's /etc/hosts. */
    tu_write_file(hosts_file,
                  "127.0.0.1 allowed.sandbox.test\n"
                  "127.0.0.2 denied.sandbox.test\n"
                  "127.0.0.1 rebind.sandbox.test\n"
                  "10.0.0.1 rebind.sandbox.test\n",
                  0644);
}

static void proxy_teardown(void)
{
    ns_server_stop(&srv);
    free(hosts_file);
    tu_rmtree(hosts_dir);
}

static int unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(path), sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Send req through the proxy, return everything it answered (malloc'd). */
static char *through(const sbx_proxy *px, const void *req, size_t n)
{
    int fd = unix_connect(px->sock);
    ck_assert_int_eq(send(fd, req, n, MSG_NOSIGNAL), (ssize_t)n);
    char *out = calloc(1, 65536);
    size_t len = 0;
    ssize_t r;
    while (len < 65535 && (r = recv(fd, out + len, 65535 - len, 0)) > 0)
        len += (size_t)r;
    close(fd);
    return out;
}

static char *req(const sbx_proxy *px, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *req(const sbx_proxy *px, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return through(px, buf, (size_t)n);
}

static void start(sbx_proxy *px, sbx_netpolicy *p, const char *const *l,
                  size_t n, size_t max_conns)
{
    *p = pol(l, n);
    sbx_proxy_cfg cfg = {
        .policy = p, .max_connections = max_conns, .hosts_file = hosts_file};
    sbx_err e = {0};
    ck_assert_msg(sbx_proxy_start(&cfg, px, &e) == 0, "%s", e.msg);
    struct stat st;
    ck_assert_int_eq(stat(px->dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
}

START_TEST(test_proxy_connect_and_deny)
{
    char a1[64], a2[64], a3[64];
    snprintf(a1, sizeof a1, "localhost:%d", srv.port);
    snprintf(a2, sizeof a2, "127.0.0.1:%d", srv.port);
    snprintf(a3, sizeof a3, "*.sandbox.test:%d", srv.port);
    const char *const l[] = {a1, a2, a3};
    sbx_proxy px;
    sbx_netpolicy p;
    start(&px, &p, l, 3, 0);
    int fds0 = tu_count_fds();

    /* Allowed: localhost:PORT, through CONNECT. */
    char *r =
        req(&px, "CONNECT localhost:%d HTTP/1.1\r\nHost: x\r\n\r\n", srv.port);
    ck_assert_msg(strstr(r, "200 Connection established") != NULL, "%s", r);
    char hello[32];
    snprintf(hello, sizeof hello, "HELLO %d", srv.port);
    ck_assert_msg(strstr(r, hello) != NULL, "%s", r);
    free(r);
    /* Plain HTTP with an absolute URI: rewritten to origin form. */
    r = req(&px, "GET http://localhost:%d/path?q=1 HTTP/1.0\r\n\r\n", srv.port);
    ck_assert_msg(strstr(r, "GOT GET /path?q=1 HTTP/1.0") != NULL, "%s", r);
    free(r);
    /* SOCKS5 with a name. */
    unsigned char s5[64] = {5, 1, 0, 5, 1, 0, 3, 9};
    memcpy(s5 + 8, "localhost", 9);
    s5[17] = (unsigned char)(srv.port >> 8);
    s5[18] = (unsigned char)(srv.port & 0xff);
    r = through(&px, s5, 19);
    ck_assert_msg(strstr(r + 12, hello) != NULL, "socks5: %s", r + 12);
    free(r);
    /* A second port on the same host: refused. */
    r = req(&px, "CONNECT localhost:%d HTTP/1.1\r\n\r\n", closed_port);
    ck_assert_msg(strstr(r, "403 Forbidden") != NULL, "%s", r);
    ck_assert_ptr_nonnull(strstr(r, "is not allowed for localhost"));
    free(r);
    /* A denied name: clear refusal. */
    r = req(&px, "CONNECT evil.example:443 HTTP/1.1\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(r, "403 Forbidden"));
    ck_assert_ptr_nonnull(strstr(r, "evil.example:443 is not in the "
                                    "allow-list"));
    free(r);
    /* An allowed name whose resolution is denied (127.0.0.2: loopback,
     * which no IP rule names). */
    r = req(&px, "CONNECT denied.sandbox.test:%d HTTP/1.1\r\n\r\n", srv.port);
    ck_assert_msg(strstr(r, "403") != NULL, "%s", r);
    ck_assert_ptr_nonnull(strstr(r, "127.0.0.2, a loopback address"));
    free(r);
    /* A name with one good and one private address: refused. */
    r = req(&px, "CONNECT rebind.sandbox.test:%d HTTP/1.1\r\n\r\n", srv.port);
    ck_assert_ptr_nonnull(strstr(r, "10.0.0.1, a private address"));
    free(r);
    /* allowed.sandbox.test resolves to 127.0.0.1 only: allowed. */
    r = req(&px, "CONNECT allowed.sandbox.test:%d HTTP/1.1\r\n\r\n", srv.port);
    ck_assert_msg(strstr(r, hello) != NULL, "%s", r);
    free(r);
    /* Bare IP: allowed by the IP rule; another bare IP is not. */
    r = req(&px, "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", srv.port);
    ck_assert_ptr_nonnull(strstr(r, hello));
    free(r);
    r = req(&px, "CONNECT 127.0.0.3:%d HTTP/1.1\r\n\r\n", srv.port);
    ck_assert_ptr_nonnull(strstr(r, "bare IP address"));
    free(r);
    /* Junk. */
    r = req(&px, "HELLO\r\n\r\n");
    ck_assert_ptr_nonnull(strstr(r, "400 Bad Request"));
    free(r);

    size_t attempts = 0;
    char *log = NULL;
    pid_t pid = px.pid;
    sbx_proxy_stop(&px, &attempts, &log);
    ck_assert_int_eq(kill(pid, 0), -1); /* reaped: gone */
    ck_assert_int_eq(access(px.dir[0] ? px.dir : "/nonexistent", F_OK), -1);
    ck_assert_uint_eq(attempts, 11);
    ck_assert_ptr_nonnull(log);
    /* Every attempt, with its decision and bytes. */
    ck_assert_ptr_nonnull(strstr(log, "\"proto\":\"socks5\""));
    ck_assert_ptr_nonnull(strstr(log, "\"dest\":\"evil.example:443\""));
    ck_assert_ptr_nonnull(strstr(log, "\"dest\":\"denied.sandbox.test:"));
    ck_assert_ptr_nonnull(strstr(log, "\"allowed\":false"));
    ck_assert_ptr_nonnull(
        strstr(log, "\"addr\":\"127.0.0.1\",\"allowed\":true"));
    ck_assert_ptr_nonnull(strstr(log, "\"bytes_down\":"));
    ck_assert_ptr_null(strstr(log, "\"bytes_down\":0,\"duration_sec\":0.000}"
                                   "\n{\"time\":\"x"));
    ck_assert_int_eq(tu_count_fds(), fds0 - 2); /* life + record closed */
    free(log);
    sbx_netpolicy_free(&p);
}
END_TEST

START_TEST(test_proxy_caps_and_death)
{
    char a1[64];
    snprintf(a1, sizeof a1, "127.0.0.1:%d", srv.port);
    const char *const l[] = {a1};
    sbx_proxy px;
    sbx_netpolicy p;
    start(&px, &p, l, 1, 1);
    char *r = req(&px, "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", srv.port);
    ck_assert_ptr_nonnull(strstr(r, "HELLO"));
    free(r);
    r = req(&px, "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", srv.port);
    ck_assert_ptr_nonnull(strstr(r, "connection cap (1)"));
    free(r);
    size_t attempts;
    sbx_proxy_stop(&px, &attempts, NULL);
    ck_assert_uint_eq(attempts, 2);

    /* The caller's death: a child starts a proxy and is SIGKILLed; the
     * proxy notices its lifeline close and exits. */
    int pp[2];
    ck_assert_int_eq(pipe(pp), 0);
    pid_t caller = fork();
    if (caller == 0) {
        sbx_proxy q;
        sbx_proxy_cfg cfg = {.policy = &p};
        if (sbx_proxy_start(&cfg, &q, NULL) < 0)
            _exit(1);
        ssize_t w = write(pp[1], &q, sizeof q);
        (void)w;
        pause();
        _exit(0);
    }
    close(pp[1]);
    sbx_proxy q;
    ck_assert_int_eq(read(pp[0], &q, sizeof q), (ssize_t)sizeof q);
    close(pp[0]);
    ck_assert_int_eq(kill(q.pid, 0), 0);
    kill(caller, SIGKILL);
    waitpid(caller, NULL, 0);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) {
        /* Not our child: it is reparented; gone when kill fails. */
        gone = kill(q.pid, 0) < 0;
        usleep(10000);
    }
    ck_assert_msg(gone, "the proxy outlived its caller");
    /* What a dead caller leaves: the directory (sandbox gc's job). */
    q.pid = -1;
    q.life_fd = q.log_fd = -1;
    sbx_proxy_stop(&q, NULL, NULL);
    sbx_netpolicy_free(&p);
}
END_TEST

/* The relay's hand-over (a NUL byte carrying a socket): anything but a
 * stream socket is refused, and a stream socket is served. */
static int pass_fd(const char *sock, int fd)
{
    int u = unix_connect(sock);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    memset(&c, 0, sizeof c);
    char nul = '\0';
    struct iovec iov = {&nul, 1};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = c.buf,
                       .msg_controllen = sizeof c.buf};
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof fd);
    ck_assert_int_eq(sendmsg(u, &m, 0), 1);
    return u;
}

START_TEST(test_proxy_hand_over)
{
    char a1[64];
    snprintf(a1, sizeof a1, "127.0.0.1:%d", srv.port);
    const char *const l[] = {a1};
    sbx_proxy px;
    sbx_netpolicy p;
    start(&px, &p, l, 1, 0);
    /* A pipe is not a connection. */
    int pp[2];
    ck_assert_int_eq(pipe(pp), 0);
    int u = pass_fd(px.sock, pp[0]);
    char out[512] = "";
    ck_assert_int_gt(recv(u, out, sizeof out - 1, MSG_WAITALL), 0);
    ck_assert_msg(strstr(out, "bad connection hand-over") != NULL, "%s", out);
    close(u);
    close(pp[0]);
    close(pp[1]);
    /* A socket pair end is: the request comes on it, so does the answer. */
    int sp[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    u = pass_fd(px.sock, sp[1]);
    close(sp[1]);
    close(u);
    char rq[128];
    int n = snprintf(rq, sizeof rq, "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n",
                     srv.port);
    ck_assert_int_eq(send(sp[0], rq, (size_t)n, 0), n);
    struct timeval tv = {10, 0};
    setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t len = 0;
    ssize_t r;
    memset(out, 0, sizeof out);
    while ((r = recv(sp[0], out + len, sizeof out - 1 - len, 0)) > 0)
        len += (size_t)r;
    close(sp[0]);
    ck_assert_msg(strstr(out, "HELLO") != NULL, "%s", out);
    size_t attempts;
    sbx_proxy_stop(&px, &attempts, NULL);
    ck_assert_uint_eq(attempts, 2);
    sbx_netpolicy_free(&p);
}
END_TEST

/* The same requests against a deliberately weakened list (the whole
 * loopback network allowed by an IP rule): the resolution check is what
 * refused them above. */
START_TEST(test_proxy_weakened)
{
    char a1[64], a2[64];
    snprintf(a1, sizeof a1, "*.sandbox.test:%d", srv.port);
    snprintf(a2, sizeof a2, "127.0.0.0/8:%d", srv.port);
    const char *const l[] = {a1, a2};
    sbx_proxy px;
    sbx_netpolicy p;
    start(&px, &p, l, 2, 0);
    char *r =
        req(&px, "CONNECT denied.sandbox.test:%d HTTP/1.1\r\n\r\n", srv.port);
    /* Allowed now: it reaches 127.0.0.2, where nothing listens. */
    ck_assert_msg(strstr(r, "403") == NULL, "%s", r);
    ck_assert_ptr_nonnull(strstr(r, "allowed, but connect to 127.0.0.2"));
    free(r);
    char *log = NULL;
    sbx_proxy_stop(&px, NULL, &log);
    ck_assert_ptr_nonnull(strstr(log, "\"addr\":\"127.0.0.2\""));
    free(log);
    sbx_netpolicy_free(&p);
}
END_TEST

/* The relay binary on the host: 127.0.0.1:<port> -> the proxy's socket. */
START_TEST(test_relay_on_host)
{
    const char *relay = getenv(SBX_NET_RELAY_ENV);
    ck_assert_msg(relay != NULL, SBX_NET_RELAY_ENV " is not set");
    char a1[64], a2[64];
    snprintf(a1, sizeof a1, "localhost:%d", srv.port);
    snprintf(a2, sizeof a2, "127.0.0.1:%d", srv.port);
    const char *const l[] = {a1, a2};
    sbx_proxy px;
    sbx_netpolicy p;
    start(&px, &p, l, 2, 0);
    int pp[2];
    ck_assert_int_eq(pipe(pp), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pp[1], 1);
        execl(relay, relay, "-p", "0", "-s", px.sock, "--", "/bin/sh", "-c",
              "echo $SANDBOX_NETRELAY_PORT $HTTPS_PROXY; exec sleep 30",
              (char *)NULL);
        _exit(127);
    }
    close(pp[1]);
    char line[128] = "";
    ssize_t n = read(pp[0], line, sizeof line - 1);
    close(pp[0]);
    ck_assert_int_gt(n, 0);
    int port = atoi(line);
    ck_assert_int_gt(port, 0);
    ck_assert_ptr_nonnull(strstr(line, "http://127.0.0.1:"));

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char rq[128], out[4096] = "";
    int rn = snprintf(rq, sizeof rq, "CONNECT localhost:%d HTTP/1.1\r\n\r\n",
                      srv.port);
    ck_assert_int_eq(send(fd, rq, (size_t)rn, 0), rn);
    size_t len = 0;
    ssize_t r;
    while ((r = recv(fd, out + len, sizeof out - 1 - len, 0)) > 0)
        len += (size_t)r;
    close(fd);
    ck_assert_msg(strstr(out, "HELLO") != NULL, "%s", out);
    /* The relay dies with its command. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    size_t attempts;
    sbx_proxy_stop(&px, &attempts, NULL);
    ck_assert_uint_eq(attempts, 1);
    sbx_netpolicy_free(&p);
}
END_TEST

/* The container argv for allowlist: no network, the socket directory and
 * the relay read-only, the command behind the relay wrapper as "$1". */
START_TEST(test_container_argv)
{
    if (access("/usr/bin/podman", X_OK) != 0)
        return;
    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.command = "echo 'a b'";
    o.runtime = "podman";
    o.network = SANDBOX_NETWORK_ALLOWLIST;
    const char *const l[] = {"api.example.com:443"};
    o.allow = l;
    o.n_allow = 1;
    sbx_plan plan;
    sbx_err e = {0};
    ck_assert_msg(sbx_plan_init(&plan, &o, &e) == 0, "%s", e.msg);
    char **argv = NULL;
    /* No proxy: refused, never a box with a dangling wrapper. */
    ck_assert_int_eq(sbx_build_run_argv(&plan, &argv, &e), SANDBOX_EINVAL);
    sbx_netrun n;
    memset(&n, 0, sizeof n);
    n.active = true;
    char *words[] = {"sh", "-c", SBX_NET_WRAPPER, "sh", "echo 'a b'", NULL};
    n.argv = words;
    snprintf(n.px.sockdir, sizeof n.px.sockdir, "/run/libsandbox/net-x/s");
    snprintf(n.relay, sizeof n.relay, "/usr/libexec/sandbox-netrelay");
    plan.net = &n;
    ck_assert_int_eq(sbx_build_run_argv(&plan, &argv, &e), 0);
    size_t k = 0;
    bool none = false, sock = false, relay = false;
    for (; argv[k]; k++) {
        none |= strcmp(argv[k], "--network=none") == 0;
        sock |=
            strcmp(argv[k], "/run/libsandbox/net-x/s:/run/sandbox-net:ro") == 0;
        relay |= strcmp(argv[k], "/usr/libexec/sandbox-netrelay:/run/"
                                 "sandbox-net/relay:ro") == 0;
    }
    ck_assert(none && sock && relay);
    ck_assert_uint_ge(k, 5);
    ck_assert_str_eq(argv[k - 5], "sh");
    ck_assert_str_eq(argv[k - 4], "-c");
    ck_assert_str_eq(argv[k - 3], SBX_NET_WRAPPER);
    ck_assert_str_eq(argv[k - 2], "sh");
    ck_assert_str_eq(argv[k - 1], "echo 'a b'");
    sbx_argv_free(argv);
    sbx_plan_free(&plan);
}
END_TEST

static Suite *netpolicy_suite(void)
{
    Suite *s = suite_create("netpolicy");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_forms);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_policy_list);
    tcase_add_test(tc, test_special_addresses);
    tcase_add_test(tc, test_decisions);
    tcase_add_test(tc, test_container_argv);
    suite_add_tcase(s, tc);
    tc = tcase_create("proxy");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, tu_root_setup, tu_root_teardown);
    tcase_add_checked_fixture(tc, proxy_setup, proxy_teardown);
    tcase_add_test(tc, test_proxy_connect_and_deny);
    tcase_add_test(tc, test_proxy_caps_and_death);
    tcase_add_test(tc, test_proxy_weakened);
    tcase_add_test(tc, test_proxy_hand_over);
    tcase_add_test(tc, test_relay_on_host);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(netpolicy_suite());
}
