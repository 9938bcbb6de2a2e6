/* SPDX-License-Identifier: MIT */
/* sandbox-netrelay: the in-box half of network = allowlist.
 *
 *   sandbox-netrelay -p PORT -s SOCKET [-- COMMAND ARGS...]
 *
 * Listens on 127.0.0.1:PORT inside the box's network namespace (which has
 * only loopback) and hands every connection it accepts to the host
 * proxy's Unix socket SOCKET (the socket itself, as SCM_RIGHTS): the proxy
 * then talks to the box's client directly.  With a COMMAND it forks: the child
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

static struct sockaddr_un proxy_addr;

static void die(const char *what)
{
    fprintf(stderr, "sandbox-netrelay: %s: %s\n", what, strerror(errno));
    exit(125);
}

/* Hand one accepted connection to the proxy: a NUL byte carrying the
 * socket (SCM_RIGHTS).  The proxy then reads and writes the box's TCP
 * connection itself, so no byte crosses this process. */
static void hand_over(int fd)
{
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    if (u < 0 ||
        connect(u, (struct sockaddr *)&proxy_addr, sizeof proxy_addr) < 0 ||
        sendmsg(u, &m, MSG_NOSIGNAL) != 1) {
        static const char msg[] =
            "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n"
            "sandbox network: the host proxy is not reachable\n";
        ssize_t w = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    if (u >= 0)
        close(u);
    close(fd);
}

static void relay_loop(int lfd)
{
    for (;;) {
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            _exit(1);
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        hand_over(fd);
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
