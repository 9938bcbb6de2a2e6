/* SPDX-License-Identifier: MIT */
/* A tiny TCP server on 127.0.0.1 for the network tests (never any other
 * address).  Each connection: if the client sends something within 300 ms
 * the server answers "HTTP/1.0 200 OK\r\n\r\nGOT <first line>\n", else it
 * sends "HELLO <port>\n"; then it closes.  Runs in a thread. */
#ifndef LIBSANDBOX_NET_SERVER_H
#define LIBSANDBOX_NET_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ns_server {
    int fd;
    int port;
    int conns;
    volatile int stop;
    pthread_t th;
} ns_server;

static void *ns_server_main(void *arg)
{
    ns_server *s = arg;
    while (!s->stop) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        __atomic_add_fetch(&s->conns, 1, __ATOMIC_SEQ_CST);
        struct pollfd q = {c, POLLIN, 0};
        char buf[4096], out[4200];
        int n;
        if (poll(&q, 1, 300) > 0 &&
            (n = (int)recv(c, buf, sizeof buf - 1, 0)) > 0) {
            buf[n] = '\0';
            buf[strcspn(buf, "\r\n")] = '\0';
            n = snprintf(out, sizeof out, "HTTP/1.0 200 OK\r\n\r\nGOT %s\n",
                         buf);
        } else {
            n = snprintf(out, sizeof out, "HELLO %d\n", s->port);
        }
        ssize_t w = send(c, out, (size_t)n, MSG_NOSIGNAL);
        (void)w;
        close(c);
    }
    return NULL;
}

/* Start a server on 127.0.0.1:<free port>; 0 or -1. */
static inline int ns_server_start(ns_server *s)
{
    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(s->fd, 64) < 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &l) < 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, ns_server_main, s) == 0 ? 0 : -1;
}

static inline void ns_server_stop(ns_server *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* A port on 127.0.0.1 nobody listens on (bound, then closed). */
static inline int ns_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

#endif
