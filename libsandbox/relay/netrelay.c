/* SPDX-License-Identifier: MIT */
/* sandbox-netrelay: the in-box half of network = allowlist.
 *
 *   sandbox-netrelay -p PORT -s SOCKET [-- COMMAND ARGS...]
 *
 * Listens on 127.0.0.1:PORT inside the box's network namespace (which has
 * only loopback) and forwards every connection, byte for byte, to the
 * host proxy's Unix socket SOCKET.  With a COMMAND it forks: the child
 * relays, the parent sets HTTP_PROXY, HTTPS_PROXY, ALL_PROXY (and the
 * lower-case forms) to http://127.0.0.1:PORT and execs COMMAND, so the
 * port is listening before the command starts.  The relay dies with the
 * command (PR_SET_PDEATHSIG) and with the box.  PORT 0 picks a free port
 * (exported as SANDBOX_NETRELAY_PORT).
 *
 * No policy lives here: the box controls this process.  Plain C and
 * libc only, so it links statically and runs in any image. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_PAIRS 256
#define BUF_SIZE (128 * 1024)

typedef struct side {
    int fd;
    char *buf; /* bytes read from this side, to write to the other */
    size_t len, off;
    bool eof, shut;
} side;

typedef struct pair {
    bool used;
    side s[2]; /* 0: the box's TCP client, 1: the proxy's Unix socket */
} pair;

static pair pairs[MAX_PAIRS];
static struct sockaddr_un proxy_addr;

static void die(const char *what)
{
    fprintf(stderr, "sandbox-netrelay: %s: %s\n", what, strerror(errno));
    exit(125);
}

static void pair_close(pair *p)
{
    for (int i = 0; i < 2; i++) {
        if (p->s[i].fd >= 0)
            close(p->s[i].fd);
        free(p->s[i].buf);
    }
    memset(p, 0, sizeof *p);
}

static void accept_one(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    pair *p = NULL;
    for (int i = 0; i < MAX_PAIRS; i++)
        if (!pairs[i].used) {
            p = &pairs[i];
            break;
        }
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p == NULL || u < 0 ||
        connect(u, (struct sockaddr *)&proxy_addr, sizeof proxy_addr) < 0) {
        static const char msg[] =
            "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n"
            "sandbox network: the host proxy is not reachable\n";
        ssize_t w = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL);
        (void)w;
        close(fd);
        if (u >= 0)
            close(u);
        return;
    }
    fcntl(u, F_SETFL, O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(p, 0, sizeof *p);
    p->used = true;
    p->s[0].fd = fd;
    p->s[1].fd = u;
    p->s[0].buf = malloc(BUF_SIZE);
    p->s[1].buf = malloc(BUF_SIZE);
    if (!p->s[0].buf || !p->s[1].buf)
        pair_close(p);
}

/* Read side i into its buffer, write the other side's buffer to it. */
static void pump(pair *p, int i, short re)
{
    side *me = &p->s[i], *other = &p->s[1 - i];
    if ((re & (POLLIN | POLLHUP | POLLERR)) && !me->eof && me->len < BUF_SIZE) {
        ssize_t r = recv(me->fd, me->buf + me->len, BUF_SIZE - me->len, 0);
        if (r > 0)
            me->len += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            me->eof = true;
    }
    if (other->off < other->len) {
        ssize_t w = send(me->fd, other->buf + other->off,
                         other->len - other->off, MSG_NOSIGNAL);
        if (w > 0) {
            other->off += (size_t)w;
            if (other->off == other->len)
                other->off = other->len = 0;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            me->eof = other->eof = true;
            other->off = other->len = 0;
        }
    }
}

static void relay_loop(int lfd)
{
    static struct pollfd pfd[1 + 2 * MAX_PAIRS];
    static int map[1 + 2 * MAX_PAIRS];
    for (;;) {
        nfds_t n = 0;
        pfd[n].fd = lfd;
        pfd[n].events = POLLIN;
        map[n++] = -1;
        for (int i = 0; i < MAX_PAIRS; i++) {
            pair *p = &pairs[i];
            if (!p->used)
                continue;
            for (int k = 0; k < 2; k++) {
                side *me = &p->s[k], *other = &p->s[1 - k];
                short ev = 0;
                if (!me->eof && me->len < BUF_SIZE)
                    ev |= POLLIN;
                if (other->len > other->off)
                    ev |= POLLOUT;
                pfd[n].fd = me->fd;
                pfd[n].events = ev;
                map[n++] = i * 2 + k;
            }
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (pfd[0].revents & POLLIN)
            accept_one(lfd);
        for (nfds_t k = 1; k < n; k++) {
            if (pfd[k].revents == 0)
                continue;
            pair *p = &pairs[map[k] / 2];
            if (p->used)
                pump(p, map[k] % 2, pfd[k].revents);
        }
        for (int i = 0; i < MAX_PAIRS; i++) {
            pair *p = &pairs[i];
            if (!p->used)
                continue;
            /* A side at EOF whose bytes are all written: half-close the
             * other side; both done: the pair is done. */
            for (int k = 0; k < 2; k++) {
                side *me = &p->s[k], *other = &p->s[1 - k];
                if (me->eof && me->len == 0 && !other->shut) {
                    shutdown(other->fd, SHUT_WR);
                    other->shut = true;
                }
            }
            if (p->s[0].shut && p->s[1].shut)
                pair_close(p);
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: sandbox-netrelay -p PORT -s SOCKET "
                    "[-- COMMAND ARGS...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long port = -1;
    const char *sock = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
            port = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            sock = argv[++i];
        else
            usage();
    }
    if (port < 0 || port > 65535 || sock == NULL)
        usage();
    if (strlen(sock) >= sizeof proxy_addr.sun_path) {
        errno = ENAMETOOLONG;
        die(sock);
    }
    proxy_addr.sun_family = AF_UNIX;
    strcpy(proxy_addr.sun_path, sock);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (lfd < 0)
        die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0)
        die("bind 127.0.0.1");
    if (listen(lfd, 128) < 0)
        die("listen");
    socklen_t sl = sizeof sin;
    if (getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0)
        die("getsockname");
    port = ntohs(sin.sin_port);
    signal(SIGPIPE, SIG_IGN);

    if (i >= argc) {
        relay_loop(lfd);
        return 0;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
            if (nul > 2)
                close(nul);
        }
        relay_loop(lfd);
        _exit(0);
    }
    close(lfd);
    signal(SIGPIPE, SIG_DFL);
    char url[64], num[16];
    snprintf(url, sizeof url, "http://127.0.0.1:%ld", port);
    snprintf(num, sizeof num, "%ld", port);
    static const char *const vars[] = {"HTTP_PROXY",  "HTTPS_PROXY",
                                       "ALL_PROXY",   "http_proxy",
                                       "https_proxy", "all_proxy"};
    for (size_t k = 0; k < sizeof vars / sizeof *vars; k++)
        setenv(vars[k], url, 1);
    setenv("SANDBOX_NETRELAY_PORT", num, 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "sandbox-netrelay: cannot run %s: %s\n", argv[i],
            strerror(errno));
    return 127;
}
