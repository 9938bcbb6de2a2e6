/* SPDX-License-Identifier: MIT */
/* The host-side proxy of network = allowlist.
 *
 * sbx_proxy_start prepares everything in the calling process (private
 * directory, listening Unix socket, record file, lifeline pipe), then
 * forks.  The child is a single-threaded poll loop that speaks
 *   - HTTP CONNECT host:port           (tunnels, e.g. TLS)
 *   - plain HTTP with an absolute URI   (GET http://host:port/path ...)
 *   - SOCKS5 CONNECT, no authentication (ALL_PROXY=socks5h://...)
 * and for each request decides by the requested name and port, resolves
 * the name itself, checks every address (sbx_net_decide) and connects to
 * the addresses it checked, never resolving again.  One JSON line per
 * attempt goes to the record file.  It exits when the lifeline closes:
 * when the library stops it after the run, or when the caller dies.
 *
 * The child keeps to what is safe after fork in a multi-threaded caller
 * with glibc (malloc is fork-safe there); getaddrinfo reads only files and
 * DNS.  It touches no library state: everything it needs is on its stack
 * or allocated after the fork. */
#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SBX_LIBEXECDIR
#define SBX_LIBEXECDIR "/usr/local/libexec"
#endif

#define MAX_CONNS 256
#define HDR_MAX 8192
#define BUF_SIZE (128 * 1024)
#define PIPE_WANT (1024 * 1024)
#define MAX_ADDRS 8
#define LOG_CAP_DEFAULT (4u << 20)
#define CONNECT_TIMEOUT_SEC 10.0
#define HEADER_TIMEOUT_SEC 30.0
#define STOP_WAIT_SEC 2.0

enum { C_FREE = 0, C_HEADER, C_SOCKS_REQ, C_CONNECTING, C_TUNNEL };
enum { P_CONNECT = 1, P_HTTP, P_SOCKS5 };

typedef struct pbuf {
    char *d;
    size_t len, off;
} pbuf;

typedef struct conn {
    int state, proto;
    int cfd, ufd;
    char hdr[HDR_MAX];
    size_t hlen;
    pbuf c2u, u2c; /* client -> upstream, upstream -> client */
    /* Tunnel by splice(2) through a pipe per direction when there are
     * fds for them (else through c2u/u2c); c2u/u2c then hold only what
     * came with the request head. */
    int pc2u[2], pu2c[2];
    size_t in_c2u, in_u2c, pipe_cap;
    bool c_eof, u_eof, c_shut, u_shut;
    sbx_net_addr addrs[MAX_ADDRS];
    size_t n_addrs, next_addr;
    uint16_t port;
    char dest[300];
    char addr_txt[64];
    uint64_t up, down;
    double t0, deadline;
    struct timespec wall0;
    bool allowed;
    bool handed_over; /* cfd is the box's own TCP connection */
    char reason[400];
} conn;

typedef struct proxy_state {
    const sbx_netpolicy *policy;
    size_t max_conns, n_allowed;
    uint64_t max_bytes, bytes;
    const char *hosts_file;
    int lfd, life, logfd;
    size_t log_cap, log_len;
    conn *conns; /* MAX_CONNS */
} proxy_state;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the record ------------------------------------------------------- */

static size_t json_str(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap < 3)
        return 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 8 < cap;
         p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20 || *p >= 0x7f) {
            /* Box-chosen bytes: anything not printable ASCII is escaped,
             * so the record is valid JSON whatever was requested. */
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

static void record(proxy_state *ps, conn *c)
{
    static const char *const protos[] = {"?", "connect", "http", "socks5"};
    char line[2048], dest[700], reason[900], addr[140], when[40];
    struct tm tm;
    gmtime_r(&c->wall0.tv_sec, &tm);
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03ldZ", c->wall0.tv_nsec / 1000000);
    json_str(dest, sizeof dest, c->dest[0] ? c->dest : "?");
    json_str(reason, sizeof reason, c->reason);
    json_str(addr, sizeof addr, c->addr_txt);
    int n = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"proto\":\"%s\",\"dest\":%s,"
                     "\"addr\":%s,\"allowed\":%s,\"reason\":%s,"
                     "\"bytes_up\":%llu,\"bytes_down\":%llu,"
                     "\"duration_sec\":%.3f}\n",
                     when, protos[c->proto > 0 && c->proto < 4 ? c->proto : 0],
                     dest, addr, c->allowed ? "true" : "false", reason,
                     (unsigned long long)c->up, (unsigned long long)c->down,
                     now_mono() - c->t0);
    if (n <= 0 || (size_t)n >= sizeof line)
        return;
    if (ps->log_len + (size_t)n > ps->log_cap)
        return; /* the record is capped; the count in the result says so */
    if (write(ps->logfd, line, (size_t)n) == n)
        ps->log_len += (size_t)n;
}

/* ---- connections -------------------------------------------------------- */

static void conn_reset(conn *c)
{
    memset(c, 0, sizeof *c);
    c->cfd = c->ufd = -1;
    c->pc2u[0] = c->pc2u[1] = c->pu2c[0] = c->pu2c[1] = -1;
    c->state = C_FREE;
}

static void conn_close(proxy_state *ps, conn *c)
{
    if (c->state == C_FREE)
        return;
    record(ps, c);
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->ufd >= 0)
        close(c->ufd);
    for (int i = 0; i < 2; i++) {
        if (c->pc2u[i] >= 0)
            close(c->pc2u[i]);
        if (c->pu2c[i] >= 0)
            close(c->pu2c[i]);
    }
    free(c->c2u.d);
    free(c->u2c.d);
    conn_reset(c);
}

static void send_all(int fd, const char *s, size_t n)
{
    /* Replies are small and the socket is fresh: it nearly always takes
     * them at once; else a short blocking write. */
    ssize_t w0 = send(fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w0 == (ssize_t)n)
        return;
    if (w0 > 0) {
        s += w0;
        n -= (size_t)w0;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        s += w;
        n -= (size_t)w;
    }
    fcntl(fd, F_SETFL, fl);
}

static void deny(proxy_state *ps, conn *c, int http_code, int socks_code,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void deny(proxy_state *ps, conn *c, int http_code, int socks_code,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof c->reason, fmt, ap);
    va_end(ap);
    c->allowed = false;
    if (c->proto == P_SOCKS5) {
        unsigned char rep[10] = {5, (unsigned char)socks_code, 0, 1};
        send_all(c->cfd, (const char *)rep, sizeof rep);
    } else {
        char msg[1024];
        const char *text = http_code == 403   ? "Forbidden"
                           : http_code == 400 ? "Bad Request"
                           : http_code == 502 ? "Bad Gateway"
                           : http_code == 504 ? "Gateway Timeout"
                                              : "Error";
        int n = snprintf(msg, sizeof msg,
                         "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                         "Connection: close\r\nX-Sandbox-Network: denied\r\n"
                         "\r\nsandbox network: %s\n",
                         http_code, text, c->reason);
        if (n > 0)
            send_all(c->cfd, msg,
                     (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    }
    conn_close(ps, c);
}

/* The test-only resolver override: "ADDR name..." lines, as hosts(5). */
static size_t hosts_lookup(const char *file, const char *name,
                           sbx_net_addr *out, size_t max)
{
    FILE *f = fopen(file, "re");
    char line[1024];
    size_t n = 0;
    if (f == NULL)
        return 0;
    while (n < max && fgets(line, sizeof line, f) != NULL) {
        char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
        sbx_net_addr a;
        if (tok == NULL || tok[0] == '#' || !sbx_net_parse_ip(tok, &a))
            continue;
        while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL)
            if (strcasecmp(tok, name) == 0) {
                out[n++] = a;
                break;
            }
    }
    fclose(f);
    return n;
}

static size_t resolve(proxy_state *ps, const char *name, sbx_net_addr *out,
                      size_t max, char *err, size_t errn)
{
    if (ps->hosts_file != NULL) {
        size_t n = hosts_lookup(ps->hosts_file, name, out, max);
        if (n > 0)
            return n;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errn, "%.200s does not resolve: %s", name,
                 gai_strerror(rc));
        return 0;
    }
    size_t n = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        sbx_net_addr a;
        memset(&a, 0, sizeof a);
        if (ai->ai_family == AF_INET) {
            a.family = AF_INET;
            memcpy(a.a, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6) {
            a.family = AF_INET6;
            memcpy(a.a, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            if (out[i].family == a.family && memcmp(out[i].a, a.a, 16) == 0)
                dup = true;
        if (!dup)
            out[n++] = a;
    }
    freeaddrinfo(res);
    if (n == 0)
        snprintf(err, errn, "%.200s has no IPv4 or IPv6 address", name);
    return n;
}

static void on_connected(proxy_state *ps, conn *c);

/* Start a non-blocking connect to the next checked address. */
static void connect_next(proxy_state *ps, conn *c)
{
    while (c->next_addr < c->n_addrs) {
        const sbx_net_addr *a = &c->addrs[c->next_addr++];
        struct sockaddr_storage ss;
        socklen_t sl;
        memset(&ss, 0, sizeof ss);
        if (a->family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            s4->sin_port = htons(c->port);
            memcpy(&s4->sin_addr, a->a, 4);
            sl = sizeof *s4;
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(c->port);
            memcpy(&s6->sin6_addr, a->a, 16);
            sl = sizeof *s6;
        }
        sbx_net_addr_str(a, c->addr_txt, sizeof c->addr_txt);
        int fd =
            socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&ss, sl) == 0 ||
            errno == EINPROGRESS) {
            c->ufd = fd;
            c->state = C_CONNECTING;
            c->deadline = now_mono() + CONNECT_TIMEOUT_SEC;
            /* Loopback and LAN connects are often done already: skip a
             * round of the loop (on_connected checks SO_ERROR). */
            struct pollfd pf = {fd, POLLOUT, 0};
            if (poll(&pf, 1, 0) == 1)
                on_connected(ps, c);
            return;
        }
        snprintf(c->reason, sizeof c->reason, "connect to %s failed: %s",
                 c->addr_txt, strerror(errno));
        close(fd);
    }
    c->allowed = true; /* the policy allowed it; the network did not */
    int code = 502;
    if (c->reason[0] == '\0')
        snprintf(c->reason, sizeof c->reason, "connect failed");
    /* deny() records allowed=false; keep the decision visible instead. */
    char why[sizeof c->reason];
    memcpy(why, c->reason, sizeof why);
    deny(ps, c, code, 5, "allowed, but %.370s", why);
}

/* Decide host:port for c; on allow start connecting. */
static void decide(proxy_state *ps, conn *c, const char *host, uint16_t port)
{
    char why[400];
    snprintf(c->dest, sizeof c->dest, "%s%s%s:%u", strchr(host, ':') ? "[" : "",
             host, strchr(host, ':') ? "]" : "", (unsigned)port);
    c->port = port;
    if (ps->max_conns > 0 && ps->n_allowed >= ps->max_conns) {
        deny(ps, c, 403, 2,
             "the run's connection cap (%zu) is reached; raise "
             "max_connections to allow more",
             ps->max_conns);
        return;
    }
    if (ps->max_bytes > 0 && ps->bytes >= ps->max_bytes) {
        deny(ps, c, 403, 2,
             "the run's byte cap (%llu) is reached; raise max_net_bytes",
             (unsigned long long)ps->max_bytes);
        return;
    }
    sbx_net_addr lit;
    c->n_addrs = 0;
    if (sbx_net_parse_ip(host, &lit)) {
        c->addrs[0] = lit;
        c->n_addrs = 1;
    } else {
        char lname[SBX_NET_NAME_MAX + 2];
        /* The name rule first: an unlisted name is never even resolved. */
        if (!sbx_netpolicy_name_allowed(ps->policy, host, port, why,
                                        sizeof why)) {
            deny(ps, c, 403, 2, "%s", why);
            return;
        }
        snprintf(lname, sizeof lname, "%s", host);
        c->n_addrs = resolve(ps, lname, c->addrs, MAX_ADDRS, why, sizeof why);
        if (c->n_addrs == 0) {
            deny(ps, c, 502, 4, "%s", why);
            return;
        }
    }
    if (!sbx_net_decide(ps->policy, host, port, c->addrs, c->n_addrs, why,
                        sizeof why)) {
        if (c->n_addrs == 1 || sbx_net_parse_ip(host, &lit))
            sbx_net_addr_str(&c->addrs[0], c->addr_txt, sizeof c->addr_txt);
        deny(ps, c, 403, 2, "%s", why);
        return;
    }
    snprintf(c->reason, sizeof c->reason, "%s", why);
    c->allowed = true;
    ps->n_allowed++;
    c->next_addr = 0;
    connect_next(ps, c);
}

/* "host:port" or "[v6]:port" into host and port. */
static bool split_hostport(const char *s, char *host, size_t hn, uint16_t *port,
                           uint16_t defport)
{
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || (size_t)(close - s) >= hn)
            return false;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] != '\0' && colon == NULL)
            return false;
    } else {
        colon = strrchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (n == 0 || n >= hn || (colon && strchr(s, ':') != colon))
            return false;
        memcpy(host, s, n);
        host[n] = '\0';
    }
    if (colon == NULL) {
        if (defport == 0)
            return false;
        *port = defport;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || !isdigit((unsigned char)colon[1]) ||
        v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool pbuf_alloc(pbuf *b)
{
    b->d = malloc(BUF_SIZE);
    b->len = b->off = 0;
    return b->d != NULL;
}

/* A complete HTTP request head is in c->hdr. */
static void handle_http(proxy_state *ps, conn *c, size_t head_len)
{
    char method[32], target[4096], version[16], host[320];
    uint16_t port = 0;
    char *eol = memchr(c->hdr, '\n', head_len);
    size_t ll = (size_t)(eol - c->hdr);
    char line[4200];
    if (ll >= sizeof line) {
        c->proto = P_HTTP;
        deny(ps, c, 400, 1, "request line too long");
        return;
    }
    memcpy(line, c->hdr, ll);
    line[ll] = '\0';
    if (ll > 0 && line[ll - 1] == '\r')
        line[ll - 1] = '\0';
    if (sscanf(line, "%31s %4095s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        c->proto = P_HTTP;
        snprintf(c->dest, sizeof c->dest, "%.200s", line);
        deny(ps, c, 400, 1,
             "not an HTTP proxy request: use CONNECT host:port or an "
             "absolute http:// URI");
        return;
    }
    if (!pbuf_alloc(&c->c2u) || !pbuf_alloc(&c->u2c)) {
        deny(ps, c, 502, 1, "out of memory");
        return;
    }
    size_t rest = c->hlen - head_len; /* bytes after the head */
    if (strcasecmp(method, "CONNECT") == 0) {
        c->proto = P_CONNECT;
        if (!split_hostport(target, host, sizeof host, &port, 0)) {
            snprintf(c->dest, sizeof c->dest, "%.200s", target);
            deny(ps, c, 400, 1, "CONNECT needs host:port, got '%.200s'",
                 target);
            return;
        }
        /* Anything the client sent after the head goes through once the
         * tunnel is up. */
        memcpy(c->c2u.d, c->hdr + head_len, rest);
        c->c2u.len = rest;
        decide(ps, c, host, port);
        return;
    }
    c->proto = P_HTTP;
    if (strncasecmp(target, "http://", 7) != 0) {
        snprintf(c->dest, sizeof c->dest, "%.200s", target);
        deny(ps, c, 400, 1,
             "plain HTTP through the proxy needs an absolute http:// URI; "
             "use CONNECT for https");
        return;
    }
    const char *auth = target + 7;
    size_t al = strcspn(auth, "/?#");
    char authority[320];
    if (al == 0 || al >= sizeof authority || memchr(auth, '@', al) != NULL) {
        snprintf(c->dest, sizeof c->dest, "%.200s", target);
        deny(ps, c, 400, 1, "bad authority in '%.200s'", target);
        return;
    }
    memcpy(authority, auth, al);
    authority[al] = '\0';
    if (!split_hostport(authority, host, sizeof host, &port, 80)) {
        snprintf(c->dest, sizeof c->dest, "%.200s", authority);
        deny(ps, c, 400, 1, "bad host:port in '%.200s'", target);
        return;
    }
    const char *path = auth[al] == '/' ? auth + al : "/";
    /* Origin form: METHOD /path HTTP/1.x, then the rest as sent. */
    int n = snprintf(c->c2u.d, BUF_SIZE, "%s %s%s %s\r\n", method, path,
                     auth[al] == '?' ? auth + al : "", version);
    if (n < 0 || (size_t)n + (c->hlen - ll - 1) > BUF_SIZE) {
        deny(ps, c, 400, 1, "request too large");
        return;
    }
    memcpy(c->c2u.d + n, eol + 1, c->hlen - ll - 1);
    c->c2u.len = (size_t)n + (c->hlen - ll - 1);
    decide(ps, c, host, port);
}

/* SOCKS5: greeting (05 n methods) then request (05 01 00 atyp addr port). */
static void handle_socks(proxy_state *ps, conn *c)
{
    c->proto = P_SOCKS5;
    if (c->state == C_HEADER) {
        if (c->hlen < 2 || c->hlen < 2u + (unsigned char)c->hdr[1])
            return; /* need more */
        size_t greet = 2u + (unsigned char)c->hdr[1];
        bool noauth = false;
        for (size_t i = 2; i < greet; i++)
            if (c->hdr[i] == 0)
                noauth = true;
        if (!noauth) {
            send_all(c->cfd, "\x05\xff", 2);
            snprintf(c->reason, sizeof c->reason,
                     "SOCKS5 without the no-authentication method");
            conn_close(ps, c);
            return;
        }
        send_all(c->cfd, "\x05\x00", 2);
        memmove(c->hdr, c->hdr + greet, c->hlen - greet);
        c->hlen -= greet;
        c->state = C_SOCKS_REQ;
    }
    if (c->hlen < 5)
        return;
    const unsigned char *h = (const unsigned char *)c->hdr;
    size_t need;
    if (h[3] == 1)
        need = 4 + 4 + 2;
    else if (h[3] == 4)
        need = 4 + 16 + 2;
    else if (h[3] == 3)
        need = 4 + 1 + h[4] + 2;
    else {
        deny(ps, c, 400, 8, "SOCKS5 address type %u is not supported", h[3]);
        return;
    }
    if (c->hlen < need)
        return;
    if (h[0] != 5 || h[1] != 1) {
        deny(ps, c, 400, 7,
             "only SOCKS5 CONNECT is supported (no BIND, no "
             "UDP ASSOCIATE)");
        return;
    }
    char host[300];
    sbx_net_addr a;
    memset(&a, 0, sizeof a);
    if (h[3] == 1) {
        a.family = AF_INET;
        memcpy(a.a, h + 4, 4);
        sbx_net_addr_str(&a, host, sizeof host);
    } else if (h[3] == 4) {
        a.family = AF_INET6;
        memcpy(a.a, h + 4, 16);
        sbx_net_addr_str(&a, host, sizeof host);
    } else {
        memcpy(host, h + 5, h[4]);
        host[h[4]] = '\0';
        if (strlen(host) != h[4]) {
            deny(ps, c, 400, 1, "NUL in the SOCKS5 host name");
            return;
        }
    }
    uint16_t port = (uint16_t)(h[need - 2] << 8 | h[need - 1]);
    if (!pbuf_alloc(&c->c2u) || !pbuf_alloc(&c->u2c)) {
        deny(ps, c, 502, 1, "out of memory");
        return;
    }
    memcpy(c->c2u.d, c->hdr + need, c->hlen - need);
    c->c2u.len = c->hlen - need;
    if (port == 0) {
        if (snprintf(c->dest, sizeof c->dest, "%s:0", host) >=
            (int)sizeof c->dest)
            c->dest[sizeof c->dest - 1] = '\0'; /* cut: only a log field */
        deny(ps, c, 400, 2, "port 0");
        return;
    }
    decide(ps, c, host, port);
}

/* The relay hands over the box's TCP connection itself: one NUL byte
 * with the socket as SCM_RIGHTS, so the bytes cross one hop, not two.
 * Only a connected stream socket is taken; anything else is refused.
 * Returns 1 when c->cfd was replaced, 0 for ordinary data, -1 when c was
 * closed. */
static int take_passed_fd(proxy_state *ps, conn *c, ssize_t *got)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct iovec iov = {c->hdr, sizeof c->hdr};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    /* More fds than one are closed by the kernel (MSG_CTRUNC). */
    *got = recvmsg(c->cfd, &m, MSG_CMSG_CLOEXEC);
    int fd = -1;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); *got > 0 && h != NULL;
         h = CMSG_NXTHDR(&m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
            h->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(h), sizeof fd);
    if (*got <= 0 || c->hdr[0] != '\0') {
        if (fd >= 0)
            close(fd); /* not the hand-over: ignore what came along */
        return 0;
    }
    struct stat st;
    int type = 0;
    socklen_t tl = sizeof type;
    if (fd < 0 || *got != 1 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        type != SOCK_STREAM) {
        if (fd >= 0)
            close(fd);
        c->proto = P_HTTP;
        deny(ps, c, 400, 1, "bad connection hand-over from the relay");
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    close(c->cfd);
    c->cfd = fd;
    c->hlen = 0;
    return 1;
}

static void on_header_data(proxy_state *ps, conn *c)
{
    ssize_t r;
    if (c->hlen == 0 && !c->handed_over) {
        int t = take_passed_fd(ps, c, &r);
        if (t < 0)
            return;
        if (t > 0) {
            c->handed_over = true;
            return; /* the request comes on the new fd */
        }
    } else {
        r = recv(c->cfd, c->hdr + c->hlen, sizeof c->hdr - c->hlen, 0);
    }
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        snprintf(c->reason, sizeof c->reason,
                 "the client closed before a complete request");
        conn_close(ps, c);
        return;
    }
    c->hlen += (size_t)r;
    if (c->state == C_SOCKS_REQ || (unsigned char)c->hdr[0] == 5) {
        handle_socks(ps, c);
        return;
    }
    /* The end of the head: CRLF CRLF (or LF LF). */
    for (size_t i = 0; i + 1 < c->hlen; i++) {
        size_t end = 0;
        if (i + 3 < c->hlen && memcmp(c->hdr + i, "\r\n\r\n", 4) == 0)
            end = i + 4;
        else if (memcmp(c->hdr + i, "\n\n", 2) == 0)
            end = i + 2;
        if (end) {
            handle_http(ps, c, end);
            return;
        }
    }
    if (c->hlen == sizeof c->hdr) {
        c->proto = P_HTTP;
        deny(ps, c, 400, 1, "request head longer than %d bytes", HDR_MAX);
    }
}

static void on_connected(proxy_state *ps, conn *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        err = errno;
    if (err != 0) {
        snprintf(c->reason, sizeof c->reason, "connect to %s failed: %s",
                 c->addr_txt, strerror(err));
        close(c->ufd);
        c->ufd = -1;
        connect_next(ps, c);
        return;
    }
    if (c->proto == P_CONNECT)
        send_all(c->cfd, "HTTP/1.1 200 Connection established\r\n\r\n", 39);
    else if (c->proto == P_SOCKS5) {
        unsigned char rep[10] = {5, 0, 0, 1};
        send_all(c->cfd, (const char *)rep, sizeof rep);
    }
    c->state = C_TUNNEL;
    if (pipe2(c->pc2u, O_CLOEXEC | O_NONBLOCK) == 0 &&
        pipe2(c->pu2c, O_CLOEXEC | O_NONBLOCK) == 0) {
        fcntl(c->pc2u[1], F_SETPIPE_SZ, PIPE_WANT);
        fcntl(c->pu2c[1], F_SETPIPE_SZ, PIPE_WANT);
        int a = fcntl(c->pc2u[1], F_GETPIPE_SZ),
            b = fcntl(c->pu2c[1], F_GETPIPE_SZ);
        c->pipe_cap = (size_t)(a < b ? a : b);
    } else {
        for (int i = 0; i < 2; i++) { /* out of fds: the buffer path */
            if (c->pc2u[i] >= 0)
                close(c->pc2u[i]);
            c->pc2u[i] = -1;
        }
    }
}

/* Move bytes from fd into b; false on EOF or error. */
static int fill(int fd, pbuf *b)
{
    if (b->len == BUF_SIZE)
        return 1;
    ssize_t r = recv(fd, b->d + b->len, BUF_SIZE - b->len, 0);
    if (r > 0) {
        b->len += (size_t)r;
        return 1;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 1;
    return 0;
}

static ssize_t drain(int fd, pbuf *b)
{
    if (b->off == b->len)
        return 0;
    ssize_t w = send(fd, b->d + b->off, b->len - b->off, MSG_NOSIGNAL);
    if (w < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    b->off += (size_t)w;
    if (b->off == b->len)
        b->off = b->len = 0;
    return w;
}

/* One direction: read src (when readable) into the pipe (or b), then
 * write what is pending to dst, the head's bytes in b first.  Returns the
 * bytes written to dst, or -1 when dst failed. */
static ssize_t move_dir(int src, int dst, pbuf *b, const int p[2],
                        size_t *inpipe, size_t cap, bool *eof, bool readable)
{
    if (readable && !*eof) {
        if (p[0] < 0) {
            if (!fill(src, b))
                *eof = true;
        } else if (*inpipe < cap) {
            ssize_t r = splice(src, NULL, p[1], NULL, cap - *inpipe,
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (r > 0)
                *inpipe += (size_t)r;
            else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                *eof = true;
        }
    }
    ssize_t total = drain(dst, b);
    if (total < 0)
        return -1;
    if (b->len == 0 && *inpipe > 0) {
        ssize_t w = splice(p[0], NULL, dst, NULL, *inpipe,
                           SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (w > 0) {
            *inpipe -= (size_t)w;
            total += w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        }
    }
    return total;
}

static void tunnel_io(proxy_state *ps, conn *c, short cre, short ure)
{
    const short rd = POLLIN | POLLHUP | POLLERR;
    ssize_t w = move_dir(c->cfd, c->ufd, &c->c2u, c->pc2u, &c->in_c2u,
                         c->pipe_cap, &c->c_eof, (cre & rd) != 0);
    if (w < 0) {
        snprintf(c->reason + strlen(c->reason),
                 sizeof c->reason - strlen(c->reason),
                 "; upstream write failed");
        conn_close(ps, c);
        return;
    }
    c->up += (uint64_t)w;
    ps->bytes += (uint64_t)w;
    w = move_dir(c->ufd, c->cfd, &c->u2c, c->pu2c, &c->in_u2c, c->pipe_cap,
                 &c->u_eof, (ure & rd) != 0);
    if (w < 0) {
        conn_close(ps, c);
        return;
    }
    c->down += (uint64_t)w;
    ps->bytes += (uint64_t)w;
    if (c->c_eof && c->c2u.len == 0 && c->in_c2u == 0 && !c->u_shut) {
        shutdown(c->ufd, SHUT_WR);
        c->u_shut = true;
    }
    if (c->u_eof && c->u2c.len == 0 && c->in_u2c == 0 && !c->c_shut) {
        shutdown(c->cfd, SHUT_WR);
        c->c_shut = true;
    }
    if (c->u_shut && c->c_shut)
        conn_close(ps, c);
    else if (ps->max_bytes > 0 && ps->bytes > ps->max_bytes) {
        snprintf(c->reason + strlen(c->reason),
                 sizeof c->reason - strlen(c->reason),
                 "; cut: the run's byte cap (%llu) was reached",
                 (unsigned long long)ps->max_bytes);
        conn_close(ps, c);
    }
}

static void accept_one(proxy_state *ps)
{
    int fd = accept4(ps->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    conn *c = NULL;
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (ps->conns[i].state == C_FREE) {
            c = &ps->conns[i];
            break;
        }
    if (c == NULL) {
        send_all(fd,
                 "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                 "\r\nsandbox network: too many open connections\n",
                 95);
        close(fd);
        return;
    }
    conn_reset(c);
    c->cfd = fd;
    c->state = C_HEADER;
    c->t0 = now_mono();
    c->deadline = c->t0 + HEADER_TIMEOUT_SEC;
    clock_gettime(CLOCK_REALTIME, &c->wall0);
}

static int proxy_loop(proxy_state *ps)
{
    struct pollfd pfd[2 + 2 * MAX_CONNS];
    int map[2 + 2 * MAX_CONNS];
    for (;;) {
        nfds_t n = 0;
        pfd[n].fd = ps->life;
        pfd[n].events = POLLIN;
        map[n++] = -1;
        pfd[n].fd = ps->lfd;
        pfd[n].events = POLLIN;
        map[n++] = -1;
        double now = now_mono(), next = now + 1.0;
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = &ps->conns[i];
            if (c->state == C_FREE)
                continue;
            if (c->state != C_TUNNEL && now > c->deadline) {
                if (c->state == C_CONNECTING)
                    deny(ps, c, 504, 4, "connect to %s timed out", c->addr_txt);
                else
                    deny(ps, c, 400, 1, "no complete request in %g s",
                         HEADER_TIMEOUT_SEC);
                continue;
            }
            if (c->state != C_TUNNEL && c->deadline < next)
                next = c->deadline;
            short ce = 0, ue = 0;
            if (c->state == C_HEADER || c->state == C_SOCKS_REQ)
                ce = POLLIN;
            else if (c->state == C_CONNECTING)
                ue = POLLOUT;
            else {
                bool sp = c->pc2u[0] >= 0;
                if (!c->c_eof &&
                    (sp ? c->in_c2u < c->pipe_cap : c->c2u.len < BUF_SIZE))
                    ce |= POLLIN;
                if (c->u2c.len > 0 || c->in_u2c > 0)
                    ce |= POLLOUT;
                if (!c->u_eof &&
                    (sp ? c->in_u2c < c->pipe_cap : c->u2c.len < BUF_SIZE))
                    ue |= POLLIN;
                if (c->c2u.len > 0 || c->in_c2u > 0)
                    ue |= POLLOUT;
            }
            pfd[n].fd = c->cfd;
            pfd[n].events = ce;
            map[n++] = i;
            if (c->ufd >= 0) {
                pfd[n].fd = c->ufd;
                pfd[n].events = ue;
                map[n++] = i | 0x10000;
            }
        }
        int ms = (int)((next - now) * 1000) + 1;
        int r = poll(pfd, n, ms);
        if (r < 0 && errno != EINTR)
            return 1;
        if (r <= 0)
            continue;
        if (pfd[0].revents)
            return 0; /* the lifeline closed: the run is over */
        if (pfd[1].revents & POLLIN)
            accept_one(ps);
        /* Gather each connection's events, then act once per connection. */
        short cre[MAX_CONNS], ure[MAX_CONNS];
        memset(cre, 0, sizeof cre);
        memset(ure, 0, sizeof ure);
        for (nfds_t k = 2; k < n; k++) {
            if (map[k] & 0x10000)
                ure[map[k] & 0xffff] = pfd[k].revents;
            else
                cre[map[k]] = pfd[k].revents;
        }
        for (int i = 0; i < MAX_CONNS; i++) {
            conn *c = &ps->conns[i];
            if (c->state == C_FREE || (cre[i] == 0 && ure[i] == 0))
                continue;
            if (c->state == C_HEADER || c->state == C_SOCKS_REQ) {
                if (cre[i])
                    on_header_data(ps, c);
            } else if (c->state == C_CONNECTING) {
                if (ure[i])
                    on_connected(ps, c);
                if (c->state == C_TUNNEL && c->c2u.len > 0)
                    tunnel_io(ps, c, 0, 0);
            } else {
                tunnel_io(ps, c, cre[i], ure[i]);
            }
        }
    }
}

__attribute__((noreturn)) static void proxy_child(proxy_state *ps)
{
    /* Only the three fds it needs: 3 listen, 4 lifeline, 5 record. */
    int fds[3] = {ps->lfd, ps->life, ps->logfd};
    for (int i = 0; i < 3; i++) {
        int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 64);
        if (d < 0)
            _exit(1);
        fds[i] = d;
    }
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
    }
    for (int i = 0; i < 3; i++)
        if (dup3(fds[i], 3 + i, O_CLOEXEC) < 0)
            _exit(1);
    syscall(SYS_close_range, 6, ~0U, 0);
    ps->lfd = 3;
    ps->life = 4;
    ps->logfd = 5;
    /* The caller's thread gone is the caller gone, too. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    ps->conns = calloc(MAX_CONNS, sizeof *ps->conns);
    if (ps->conns == NULL)
        _exit(1);
    for (int i = 0; i < MAX_CONNS; i++)
        conn_reset(&ps->conns[i]);
    int rc = proxy_loop(ps);
    for (int i = 0; i < MAX_CONNS; i++) {
        conn *c = &ps->conns[i];
        if (c->state != C_FREE && c->reason[0] == '\0')
            snprintf(c->reason, sizeof c->reason, "the run ended");
        if (c->state == C_TUNNEL)
            snprintf(c->reason + strlen(c->reason),
                     sizeof c->reason - strlen(c->reason),
                     "; open when the run ended");
        conn_close(ps, c);
    }
    _exit(rc);
}

bool sbx_net_relay_path(char *buf, size_t n, sbx_err *e)
{
    const char *env = secure_getenv(SBX_NET_RELAY_ENV);
    const char *path = env && env[0] ? env : SBX_LIBEXECDIR "/sandbox-netrelay";
    if (snprintf(buf, n, "%s", path) >= (int)n)
        return sbx_fail(e, SANDBOX_EINVAL, "relay path too long") && false;
    if (access(buf, X_OK) < 0) {
        sbx_fail_errno(e, SANDBOX_ERUNTIME, errno,
                       "network allowlist needs the in-box relay %s "
                       "(install libsandbox fully, or set " SBX_NET_RELAY_ENV
                       " to the sandbox-netrelay binary)",
                       buf);
        return false;
    }
    return true;
}

static void remove_dir(sbx_proxy *px)
{
    if (px->sock[0])
        unlink(px->sock);
    if (px->relay_stub[0])
        unlink(px->relay_stub);
    if (px->sockdir[0])
        rmdir(px->sockdir);
    if (px->dir[0]) {
        char p[300];
        snprintf(p, sizeof p, "%s/log", px->dir);
        unlink(p);
        rmdir(px->dir);
    }
}

int sbx_proxy_start(const sbx_proxy_cfg *cfg, sbx_proxy *px, sbx_err *e)
{
    char base[4096];
    int rc, life[2] = {-1, -1};
    memset(px, 0, sizeof *px);
    px->pid = -1;
    px->life_fd = px->log_fd = -1;
    int lfd = -1;

    int bfd = sbx_policy_dir(base, sizeof base, e);
    if (bfd < 0)
        return bfd;
    close(bfd);
    if (snprintf(px->dir, sizeof px->dir, "%s/net-XXXXXX", base) >=
        (int)sizeof px->dir)
        return sbx_fail(e, SANDBOX_EIO,
                        "the runtime directory %s is too long for a Unix "
                        "socket path",
                        base);
    if (mkdtemp(px->dir) == NULL) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "mkdtemp %s", px->dir);
        px->dir[0] = '\0';
        return rc;
    }
    /* dir is 0700: nobody else on the host reaches the socket.  dir/s is
     * what the box gets (a bind mount skips dir's permission check), 0755
     * so a box whose root is an unprivileged host uid can enter it. */
    snprintf(px->sockdir, sizeof px->sockdir, "%s/s", px->dir);
    snprintf(px->sock, sizeof px->sock, "%s/" SBX_NET_SOCK_NAME, px->sockdir);
    if (mkdir(px->sockdir, 0755) < 0 || chmod(px->sockdir, 0755) < 0) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "mkdir %s", px->sockdir);
        px->sockdir[0] = '\0';
        goto fail;
    }
    snprintf(px->relay_stub, sizeof px->relay_stub, "%s/" SBX_NET_RELAY_NAME,
             px->sockdir);
    int stub =
        open(px->relay_stub, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (stub < 0) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "create %s", px->relay_stub);
        px->relay_stub[0] = '\0';
        goto fail;
    }
    close(stub);

    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(px->sock) >= sizeof sun.sun_path) {
        rc = sbx_fail(e, SANDBOX_EIO, "socket path %s is too long", px->sock);
        goto fail;
    }
    strcpy(sun.sun_path, px->sock);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
        chmod(px->sock, 0666) < 0 || listen(lfd, 128) < 0) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "proxy socket %s", px->sock);
        goto fail;
    }
    char logp[300];
    snprintf(logp, sizeof logp, "%s/log", px->dir);
    px->log_fd =
        open(logp, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (px->log_fd < 0) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "record file %s", logp);
        goto fail;
    }
    /* Held (shared open file description) while this process or the proxy
     * lives: sbx_net_gc() sweeps only directories whose lock is free. */
    if (flock(px->log_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "lock %s", logp);
        goto fail;
    }
    if (pipe2(life, O_CLOEXEC) < 0) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "pipe2");
        goto fail;
    }
    proxy_state ps = {
        .policy = cfg->policy,
        .max_conns = cfg->max_connections,
        .max_bytes = cfg->max_bytes,
        .hosts_file = cfg->hosts_file,
        .lfd = lfd,
        .life = life[0],
        .logfd = px->log_fd,
        .log_cap = cfg->log_cap ? cfg->log_cap : LOG_CAP_DEFAULT,
    };
    /* The policy is read by the child from its copy of our memory; the
     * caller may free its own after we return. */
    pid_t pid = fork();
    if (pid < 0) {
        rc = sbx_fail_errno(e, SANDBOX_ESPAWN, errno,
                            "cannot start the network proxy");
        goto fail;
    }
    if (pid == 0)
        proxy_child(&ps);
    px->pid = pid;
    close(life[0]);
    px->life_fd = life[1];
    close(lfd);
    return 0;
fail:
    if (lfd >= 0)
        close(lfd);
    for (int i = 0; i < 2; i++)
        if (life[i] >= 0)
            close(life[i]);
    if (px->log_fd >= 0)
        close(px->log_fd);
    px->log_fd = -1;
    remove_dir(px);
    return rc;
}

void sbx_proxy_stop(sbx_proxy *px, size_t *attempts, char **log)
{
    if (attempts != NULL)
        *attempts = 0;
    if (log != NULL)
        *log = NULL;
    if (px->life_fd >= 0) {
        close(px->life_fd);
        px->life_fd = -1;
    }
    if (px->pid > 0) {
        double end = sbx_now() + STOP_WAIT_SEC;
        int st;
        for (;;) {
            pid_t r = waitpid(px->pid, &st, WNOHANG);
            if (r == px->pid || (r < 0 && errno != EINTR))
                break;
            if (sbx_now() > end) {
                kill(px->pid, SIGKILL);
                while (waitpid(px->pid, &st, 0) < 0 && errno == EINTR)
                    ;
                break;
            }
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        px->pid = -1;
    }
    if (px->log_fd >= 0) {
        struct stat st;
        if (fstat(px->log_fd, &st) == 0 && st.st_size > 0 &&
            (uint64_t)st.st_size < (64u << 20)) {
            char *buf = malloc((size_t)st.st_size + 1);
            ssize_t got =
                buf ? pread(px->log_fd, buf, (size_t)st.st_size, 0) : -1;
            if (got > 0) {
                buf[got] = '\0';
                size_t lines = 0;
                for (ssize_t i = 0; i < got; i++)
                    lines += buf[i] == '\n';
                if (attempts != NULL)
                    *attempts = lines;
                if (log != NULL) {
                    *log = buf;
                    buf = NULL;
                }
            }
            free(buf);
        }
        close(px->log_fd);
        px->log_fd = -1;
    }
    remove_dir(px);
    memset(px->dir, 0, sizeof px->dir);
    px->sock[0] = px->sockdir[0] = px->relay_stub[0] = '\0';
}

unsigned sbx_net_gc(void)
{
    char base[4096];
    unsigned n = 0;
    int bfd = sbx_policy_dir(base, sizeof base, NULL);
    if (bfd < 0)
        return 0;
    DIR *d = fdopendir(bfd);
    if (d == NULL) {
        close(bfd);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "net-", 4) != 0 || strlen(de->d_name) > 16)
            continue;
        sbx_proxy px;
        memset(&px, 0, sizeof px);
        if (strlen(base) + 18 > sizeof px.dir)
            break;
        if (snprintf(px.dir, sizeof px.dir, "%.180s/%s", base, de->d_name) >=
            (int)sizeof px.dir)
            continue;
        char logp[300];
        snprintf(logp, sizeof logp, "%s/log", px.dir);
        struct stat st;
        if (lstat(px.dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        int fd = open(logp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
            close(fd); /* a live run's proxy */
            continue;
        }
        /* No log yet: a run between mkdtemp and its lock, unless old. */
        if (fd < 0 && st.st_mtime > time(NULL) - 60)
            continue;
        if (fd >= 0)
            close(fd);
        snprintf(px.sockdir, sizeof px.sockdir, "%s/s", px.dir);
        snprintf(px.sock, sizeof px.sock, "%s/" SBX_NET_SOCK_NAME, px.sockdir);
        snprintf(px.relay_stub, sizeof px.relay_stub, "%s/" SBX_NET_RELAY_NAME,
                 px.sockdir);
        remove_dir(&px);
        n += access(px.dir, F_OK) < 0;
    }
    closedir(d);
    return n;
}
