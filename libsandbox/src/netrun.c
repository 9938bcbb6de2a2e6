/* SPDX-License-Identifier: MIT */
/* A run's network plumbing, shared by the backends so that each of them
 * needs only a few lines:
 *
 *   allowlist (every backend): sbx_netrun_start() starts the host proxy;
 *     the backend mounts n.px.sockdir at SBX_NET_BOX_DIR (read-only) and
 *     n.relay onto SBX_NET_BOX_DIR/relay (read-only), keeps the box's
 *     network namespace with loopback only, and runs n.argv (sh -c
 *     SBX_NET_WRAPPER sh COMMAND) instead of sh -c COMMAND;
 *     sbx_netrun_finish() stops the proxy and puts the record in res.
 *   bridge (native): sbx_netrun_attach() gives the box's network namespace
 *     a tap device with slirp4netns (user-mode NAT, no host privileges),
 *     before the box is released; finish stops it. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int sbx_netrun_start(const sbx_plan *p, sbx_netrun *n, sbx_err *e)
{
    memset(n, 0, sizeof *n);
    n->px.pid = n->slirp_pid = -1;
    n->px.life_fd = n->px.log_fd = n->slirp_exit_fd = -1;
    n->network = p->network;
    if (p->network != SANDBOX_NETWORK_ALLOWLIST)
        return 0;
    if (!sbx_net_relay_path(n->relay, sizeof n->relay, e))
        return e ? e->code : SANDBOX_ERUNTIME;
    sbx_netpolicy pol;
    int rc = sbx_netpolicy_parse(&pol, p->allow, p->n_allow, e);
    if (rc < 0)
        return rc;
    const char *hosts = getenv(SBX_NET_HOSTS_ENV);
    sbx_proxy_cfg cfg = {.policy = &pol,
                         .max_connections = p->max_connections,
                         .max_bytes = p->max_net_bytes,
                         .hosts_file = hosts && hosts[0] ? hosts : NULL};
    rc = sbx_proxy_start(&cfg, &n->px, e);
    sbx_netpolicy_free(&pol);
    if (rc < 0)
        return rc;
    n->active = true;
    size_t words = p->argv != NULL ? p->argc : 1;
    n->argv = calloc(words + 7, sizeof *n->argv);
    if (n->argv == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    size_t k = 0;
    if (p->argv != NULL) { /* argv mode: no shell, the relay execs it */
        static const char *const relay[] = {
            SBX_NET_BOX_DIR "/" SBX_NET_RELAY_NAME, "-p", "3128", "-s",
            SBX_NET_BOX_DIR "/" SBX_NET_SOCK_NAME,  "--"};
        for (size_t i = 0; i < 6; i++)
            n->argv[k++] = (char *)relay[i];
        for (size_t i = 0; i < p->argc; i++)
            n->argv[k++] = (char *)p->argv[i];
    } else {
        n->argv[k++] = "sh";
        n->argv[k++] = "-c";
        n->argv[k++] = SBX_NET_WRAPPER;
        n->argv[k++] = "sh";
        n->argv[k++] = (char *)p->command;
    }
    n->argv[k] = NULL;
    return 0;
}

static bool find_exe(const char *name, char *buf, size_t n)
{
    const char *path = getenv("PATH");
    char def[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    if (path == NULL || path[0] == '\0')
        path = def;
    for (const char *p = path; *p;) {
        size_t l = strcspn(p, ":");
        if (l > 0 && snprintf(buf, n, "%.*s/%s", (int)l, p, name) < (int)n &&
            access(buf, X_OK) == 0)
            return true;
        p += l + (p[l] == ':');
    }
    return false;
}

int sbx_netrun_attach(sbx_netrun *n, pid_t box, sbx_err *e)
{
    if (n->network != SANDBOX_NETWORK_BRIDGE)
        return 0;
    char exe[4096], pidtxt[32];
    if (!find_exe("slirp4netns", exe, sizeof exe))
        return sbx_fail(e, SANDBOX_ERUNTIME,
                        "network bridge on the native runtime needs "
                        "slirp4netns on PATH (apt install slirp4netns)");
    int ready[2] = {-1, -1}, ex[2] = {-1, -1};
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
        int rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "pipe2");
        for (int i = 0; i < 2; i++) {
            if (ready[i] >= 0)
                close(ready[i]);
            if (ex[i] >= 0)
                close(ex[i]);
        }
        return rc;
    }
    snprintf(pidtxt, sizeof pidtxt, "%ld", (long)box);
    /* --ready-fd=3: it writes "1" when the tap is configured; --exit-fd=4:
     * it exits when we close (or lose) the other end. */
    char *argv[] = {exe,
                    "--configure",
                    "--mtu=65520",
                    "--disable-host-loopback",
                    "--ready-fd=3",
                    "--exit-fd=4",
                    pidtxt,
                    "tap0",
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, ready[1], 3);
    posix_spawn_file_actions_adddup2(&fa, ex[0], 4);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int src = posix_spawn(&pid, exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(ready[1]);
    close(ex[0]);
    if (src != 0) {
        close(ready[0]);
        close(ex[1]);
        return sbx_fail_errno(e, SANDBOX_ESPAWN, src, "cannot start %s", exe);
    }
    n->slirp_pid = pid;
    n->slirp_exit_fd = ex[1];
    struct pollfd pf = {ready[0], POLLIN, 0};
    char b = 0;
    int pr = poll(&pf, 1, 10000);
    ssize_t got = pr > 0 ? read(ready[0], &b, 1) : -1;
    close(ready[0]);
    if (got != 1)
        return sbx_fail(e, SANDBOX_ERUNTIME,
                        "slirp4netns did not configure the box's network "
                        "within 10 s (is /dev/net/tun available?)");
    return 0;
}

void sbx_netrun_finish(sbx_netrun *n, sandbox_result *res)
{
    if (n->slirp_exit_fd >= 0) {
        close(n->slirp_exit_fd);
        n->slirp_exit_fd = -1;
    }
    if (n->slirp_pid > 0) {
        double end = sbx_now() + 2.0;
        while (waitpid(n->slirp_pid, NULL, WNOHANG) == 0) {
            if (sbx_now() > end) {
                kill(n->slirp_pid, SIGKILL);
                waitpid(n->slirp_pid, NULL, 0);
                break;
            }
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        n->slirp_pid = -1;
    }
    free(n->argv);
    n->argv = NULL;
    if (!n->active)
        return;
    size_t attempts = 0;
    char *log = NULL;
    sbx_proxy_stop(&n->px, &attempts, &log);
    if (res != NULL && SBX_HAS(res, net_log)) {
        free(res->net_log);
        res->net_attempts = attempts;
        res->net_log = log;
        log = NULL;
    }
    free(log);
    n->active = false;
}
