/* SPDX-License-Identifier: MIT */
/* network = allowlist: the allow-list (netpolicy.c) and the host-side
 * proxy a run's box reaches through a Unix socket (proxy.c).  See
 * docs/network.md for the design and its threat model. */
#ifndef LIBSANDBOX_NET_H
#define LIBSANDBOX_NET_H

#include "internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SBX_NET_MAX_RULES 1024
#define SBX_NET_NAME_MAX 253
/* Where the box sees the proxy's socket directory, the socket, the relay. */
#define SBX_NET_BOX_DIR "/run/sandbox-net"
#define SBX_NET_SOCK_NAME "proxy.sock"
#define SBX_NET_RELAY_NAME "relay"
#define SBX_NET_RELAY_PORT 3128
/* Environment variable naming the relay binary (tests, uninstalled use);
 * else SBX_LIBEXECDIR "/sandbox-netrelay". */
#define SBX_NET_RELAY_ENV "SANDBOX_NETRELAY"
/* Test-only: a hosts(5) file the proxy consults before getaddrinfo. */
#define SBX_NET_HOSTS_ENV "SANDBOX_NET_TEST_HOSTS"

typedef enum sbx_net_kind {
    SBX_NET_NAME = 1,   /* example.com:443: that name exactly     */
    SBX_NET_SUFFIX = 2, /* *.example.com:443: any name below it   */
    SBX_NET_CIDR = 3,   /* 10.0.0.0/8:80, [fd00::/8]:80, 1.2.3.4:443 */
} sbx_net_kind;

typedef struct sbx_net_addr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t a[16];
} sbx_net_addr;

typedef struct sbx_net_rule {
    sbx_net_kind kind;
    uint16_t port;
    char name[SBX_NET_NAME_MAX + 1]; /* lower case, no "*." or final dot */
    sbx_net_addr net;                /* CIDR: the network, masked */
    unsigned prefix;                 /* CIDR: prefix length */
} sbx_net_rule;

typedef struct sbx_netpolicy {
    sbx_net_rule *rules;
    size_t n;
} sbx_netpolicy;

/* Parse one entry.  On error the message names the entry and the fix;
 * `what` labels it ("allow[3]"). */
SBX_HIDDEN int sbx_net_rule_parse(const char *entry, const char *what,
                                  sbx_net_rule *r, sbx_err *e);
/* Parse every entry (n >= 1: an empty list is an error). */
SBX_HIDDEN int sbx_netpolicy_parse(sbx_netpolicy *p, const char *const *entries,
                                   size_t n, sbx_err *e);
SBX_HIDDEN void sbx_netpolicy_free(sbx_netpolicy *p);

/* An IP literal ("1.2.3.4", "::1", "[::1]")? */
SBX_HIDDEN bool sbx_net_parse_ip(const char *s, sbx_net_addr *out);
SBX_HIDDEN void sbx_net_addr_str(const sbx_net_addr *a, char *buf, size_t n);
/* The class of an address a name rule must not reach without an IP rule
 * ("loopback", "private", "link-local", ...), or NULL for a public one. */
SBX_HIDDEN const char *sbx_net_special(const sbx_net_addr *a);
/* Does an IP rule allow addr:port? */
SBX_HIDDEN bool sbx_netpolicy_ip_allowed(const sbx_netpolicy *p,
                                         const sbx_net_addr *a, uint16_t port);
/* Does a name rule allow name:port (name as requested; case and a final
 * dot are ignored)?  When not, *why says which rule is missing. */
SBX_HIDDEN bool sbx_netpolicy_name_allowed(const sbx_netpolicy *p,
                                           const char *name, uint16_t port,
                                           char *why, size_t n);
/* The whole decision for a request of host:port whose resolution gave
 * addrs (for an IP literal: the one address).  Every address must pass.
 * true: allowed; false: *why says why not. */
SBX_HIDDEN bool sbx_net_decide(const sbx_netpolicy *p, const char *host,
                               uint16_t port, const sbx_net_addr *addrs,
                               size_t n_addrs, char *why, size_t n);

/* ---- proxy.c ---------------------------------------------------------- */

typedef struct sbx_proxy_cfg {
    const sbx_netpolicy *policy; /* borrowed until sbx_proxy_start returns */
    size_t max_connections;      /* allowed connections per run; 0: no cap */
    uint64_t max_bytes;          /* bytes both ways per run; 0: no cap     */
    const char *hosts_file;      /* test-only resolver override, or NULL   */
    size_t log_cap;              /* bytes of record kept; 0: 4 MiB         */
} sbx_proxy_cfg;

typedef struct sbx_proxy {
    pid_t pid;            /* the proxy process, or -1                       */
    int life_fd;          /* write end of its lifeline: closing it stops it */
    int log_fd;           /* the record (JSON lines), read after it stops   */
    char dir[200];        /* private 0700 directory                         */
    char sockdir[240];    /* dir/s: mounted into the box at SBX_NET_BOX_DIR */
    char sock[280];       /* sockdir/proxy.sock                           */
    char relay_stub[280]; /* sockdir/relay: mount point for the relay  */
} sbx_proxy;

/* Start a proxy for one run.  Everything is prepared before the fork;
 * the child runs only the proxy loop and exits when the lifeline closes
 * (the caller stopped it or died).  px->pid is -1 on failure. */
SBX_HIDDEN int sbx_proxy_start(const sbx_proxy_cfg *cfg, sbx_proxy *px,
                               sbx_err *e);
/* Stop it (bounded wait, then SIGKILL), take the record, remove the
 * directory.  *log (may be NULL) receives the JSON lines (malloc'd, or
 * NULL when empty), *attempts their number.  Safe on a failed start. */
SBX_HIDDEN void sbx_proxy_stop(sbx_proxy *px, size_t *attempts, char **log);
/* Remove the directories of proxies that are gone (their caller died);
 * returns how many.  Called by sandbox_gc(). */
SBX_HIDDEN unsigned sbx_net_gc(void);
/* The relay binary to mount into the box ($SANDBOX_NETRELAY or the
 * installed one); false when it is missing (with a message). */
SBX_HIDDEN bool sbx_net_relay_path(char *buf, size_t n, sbx_err *e);
/* The box's `sh -c` script that starts the relay and then runs
 * "$1" (the command) with the proxy variables set. */
#define SBX_NET_WRAPPER                                                        \
    "exec " SBX_NET_BOX_DIR "/" SBX_NET_RELAY_NAME                             \
    " -p 3128 -s " SBX_NET_BOX_DIR "/" SBX_NET_SOCK_NAME                       \
    " -- /bin/sh -c \"$1\""

/* ---- netrun.c: what a backend calls ---------------------------------- */

typedef struct sbx_netrun {
    bool active;      /* allowlist: the proxy runs                        */
    sbx_proxy px;     /* mount px.sockdir at SBX_NET_BOX_DIR (ro)          */
    char relay[4096]; /* mount onto SBX_NET_BOX_DIR "/" SBX_NET_RELAY_NAME */
    /* The box's argv: sh -c SBX_NET_WRAPPER sh COMMAND, or in argv mode
     * SBX_NET_BOX_DIR/relay -p 3128 -s SOCK -- ARGV... (NULL-terminated,
     * owned; the strings are borrowed from the plan or static). */
    char **argv;
    int network;     /* the plan's sandbox_network                        */
    pid_t slirp_pid; /* native bridge: slirp4netns, or -1                 */
    int slirp_exit_fd;
} sbx_netrun;

/* Before the box: start the proxy when p->network is allowlist (else only
 * initialise n).  Always pair with sbx_netrun_finish. */
SBX_HIDDEN int sbx_netrun_start(const sbx_plan *p, sbx_netrun *n, sbx_err *e);
/* Native bridge: after clone, before the box is released, give its network
 * namespace (of pid `box`) a slirp4netns tap.  No-op for other modes. */
SBX_HIDDEN int sbx_netrun_attach(sbx_netrun *n, pid_t box, sbx_err *e);
/* After the run (also on error paths): stop the proxy and slirp4netns, put
 * net_attempts/net_log into res (when res is not NULL and has them). */
SBX_HIDDEN void sbx_netrun_finish(sbx_netrun *n, sandbox_result *res);

#endif /* LIBSANDBOX_NET_H */
