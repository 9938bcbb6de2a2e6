/* SPDX-License-Identifier: MIT */
/* network = allowlist: what the relay + proxy path costs, side by side
 * with a direct loopback connection, in one run.
 *
 *   sandbox-netproxy-bench [ITERATIONS [MIB]]     (default 500, 1024)
 *
 * Everything is on 127.0.0.1 of the host: a server thread, the library's
 * proxy (sbx_proxy_start) and the in-box relay binary ($SANDBOX_NETRELAY)
 * run on the host, so the path is the box's path minus the namespace:
 *   client -TCP-> relay -Unix-> proxy -TCP-> server.
 * Time to first byte: connect, (CONNECT and its 200 through the proxy),
 * send one byte, receive one byte.  Throughput: MIB MiB from the server to
 * the client.  Goals (issue 11): TTFB within 2x of direct, throughput at
 * least 50% of direct. */
#include "net.h"
#include "perf_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int srv_fd, srv_port;

/* 'T': answer one byte.  'B' + 8-byte count: send that many bytes. */
static void *serve_one(void *arg)
{
    int c = (int)(intptr_t)arg;
    char op;
    if (recv(c, &op, 1, MSG_WAITALL) == 1) {
        if (op == 'T') {
            ssize_t w = send(c, "x", 1, MSG_NOSIGNAL);
            (void)w;
        } else if (op == 'B') {
            uint64_t n = 0;
            if (recv(c, &n, sizeof n, MSG_WAITALL) == (ssize_t)sizeof n) {
                static char buf[256 * 1024];
                while (n > 0) {
                    size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
                    ssize_t w = send(c, buf, k, MSG_NOSIGNAL);
                    if (w <= 0)
                        break;
                    n -= (uint64_t)w;
                }
            }
        }
    }
    close(c);
    return NULL;
}

static void *server(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0)
            continue;
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c);
        pthread_detach(t);
    }
    return NULL;
}

/* user+system CPU seconds of process pid so far. */
static double cpu_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    unsigned long ut = 0, st = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f,
               "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
               "%lu %lu",
               &ut, &st) != 2)
        ut = st = 0;
    fclose(f);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

/* Open a connection to the server, directly or through relay:proxy. */
static int open_path(int relay_port, const char *host)
{
    if (relay_port == 0)
        return tcp_connect(srv_port);
    int fd = tcp_connect(relay_port);
    char req[128], resp[256];
    int n = snprintf(req, sizeof req, "CONNECT %s:%d HTTP/1.1\r\n\r\n", host,
                     srv_port);
    if (send(fd, req, (size_t)n, 0) != n) {
        perror("send");
        exit(1);
    }
    /* Read exactly the 200 head (39 bytes). */
    if (recv(fd, resp, 39, MSG_WAITALL) != 39 ||
        memcmp(resp, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "proxy refused: %.39s\n", resp);
        exit(1);
    }
    return fd;
}

static double ttfb(int relay_port, const char *host)
{
    double t0 = perf_now();
    int fd = open_path(relay_port, host);
    char b;
    if (send(fd, "T", 1, 0) != 1 || recv(fd, &b, 1, MSG_WAITALL) != 1) {
        fprintf(stderr, "ttfb: no byte\n");
        exit(1);
    }
    double t = perf_now() - t0;
    close(fd);
    return t;
}

static double throughput(int relay_port, uint64_t bytes)
{
    int fd = open_path(relay_port, "127.0.0.1");
    char req[9] = {'B'};
    memcpy(req + 1, &bytes, 8);
    double t0 = perf_now();
    if (send(fd, req, 9, 0) != 9)
        exit(1);
    static char buf[256 * 1024];
    uint64_t got = 0;
    ssize_t r;
    while (got < bytes && (r = recv(fd, buf, sizeof buf, 0)) > 0)
        got += (uint64_t)r;
    double t = perf_now() - t0;
    close(fd);
    if (got != bytes) {
        fprintf(stderr, "short transfer: %llu of %llu\n",
                (unsigned long long)got, (unsigned long long)bytes);
        exit(1);
    }
    return (double)bytes / t / (1 << 20);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 500;
    uint64_t mib = argc > 2 ? (uint64_t)atoi(argv[2]) : 1024;
    const char *relay = getenv(SBX_NET_RELAY_ENV);
    if (relay == NULL || iters < 1) {
        fprintf(stderr,
                "usage: " SBX_NET_RELAY_ENV "=path/to/sandbox-netrelay"
                " %s [ITERATIONS [MIB]]\n",
                argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (bind(srv_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(srv_fd, 128) < 0 ||
        getsockname(srv_fd, (struct sockaddr *)&a, &l) < 0) {
        perror("server");
        return 1;
    }
    srv_port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, server, NULL);

    char r1[64], r2[64];
    snprintf(r1, sizeof r1, "127.0.0.1:%d", srv_port);
    snprintf(r2, sizeof r2, "localhost:%d", srv_port);
    const char *const list[] = {r1, r2};
    sbx_netpolicy pol;
    sbx_err e = {0};
    sbx_proxy px;
    if (sbx_netpolicy_parse(&pol, list, 2, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    sbx_proxy_cfg cfg = {.policy = &pol};
    if (sbx_proxy_start(&cfg, &px, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int pp[2];
    if (pipe(pp) < 0)
        return 1;
    pid_t rpid = fork();
    if (rpid == 0) {
        dup2(pp[1], 1);
        execl(relay, relay, "-p", "0", "-s", px.sock, "--", "/bin/sh", "-c",
              "echo $SANDBOX_NETRELAY_PORT; exec sleep 100000", (char *)NULL);
        _exit(127);
    }
    close(pp[1]);
    char line[32] = "";
    if (read(pp[0], line, sizeof line - 1) <= 0)
        return 1;
    close(pp[0]);
    int relay_port = atoi(line);

    double *d = calloc((size_t)iters, sizeof *d);
    double *p = calloc((size_t)iters, sizeof *p);
    double *n = calloc((size_t)iters, sizeof *n);
    for (int i = 0; i < 20; i++) { /* warm up */
        ttfb(0, NULL);
        ttfb(relay_port, "127.0.0.1");
    }
    for (int i = 0; i < iters; i++) { /* interleaved: same conditions */
        d[i] = ttfb(0, NULL);
        p[i] = ttfb(relay_port, "127.0.0.1");
        n[i] = ttfb(relay_port, "localhost");
    }
    double dm = perf_median(d, iters), pm = perf_median(p, iters),
           nm = perf_median(n, iters);
    double dp95 = d[iters * 95 / 100], pp95 = p[iters * 95 / 100],
           np95 = n[iters * 95 / 100];
    printf("time to first byte, %d connections each (median / p95):\n", iters);
    printf("  direct loopback          %8.1f us / %8.1f us\n", dm * 1e6,
           dp95 * 1e6);
    printf("  relay+proxy, bare IP     %8.1f us / %8.1f us   %.2fx\n", pm * 1e6,
           pp95 * 1e6, pm / dm);
    printf("  relay+proxy, localhost   %8.1f us / %8.1f us   %.2fx  "
           "(getaddrinfo per request)\n",
           nm * 1e6, np95 * 1e6, nm / dm);

    uint64_t bytes = mib << 20;
    double td[3], tp[3], cpu = 0;
    for (int i = 0; i < 3; i++) {
        td[i] = throughput(0, bytes);
        double c0 = cpu_of(px.pid);
        tp[i] = throughput(relay_port, bytes);
        cpu += cpu_of(px.pid) - c0;
    }
    double tdm = perf_median(td, 3), tpm = perf_median(tp, 3);
    printf("throughput, %llu MiB server->client (median of 3):\n",
           (unsigned long long)mib);
    printf("  direct loopback          %8.0f MiB/s\n", tdm);
    printf("  relay+proxy              %8.0f MiB/s   %.0f%% of direct\n", tpm,
           100.0 * tpm / tdm);
    printf("  the proxy's own CPU      %8.2f s per GiB\n",
           cpu / 3.0 / ((double)mib / 1024.0));
    printf("goals: TTFB <= 2x: %s; throughput >= 50%%: %s\n",
           pm / dm <= 2.0 ? "met" : "NOT met",
           tpm / tdm >= 0.5 ? "met" : "NOT met");

    kill(rpid, SIGKILL);
    waitpid(rpid, NULL, 0);
    size_t attempts;
    sbx_proxy_stop(&px, &attempts, NULL);
    printf("proxy record: %zu attempts\n", attempts);
    sbx_netpolicy_free(&pol);
    free(d);
    free(p);
    free(n);
    return 0;
}
