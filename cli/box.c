/* SPDX-License-Identifier: MIT */
/*
 * sandbox box create|exec|cp|ls|rm: boxes that outlive the CLI.
 *
 * A library box dies with the process that created it, so `box create`
 * starts a keeper: a detached process (setsid, stdio on /dev/null, cwd /)
 * that calls sandbox_box_create, records the box in the registry and
 * serves requests on a Unix socket until the box's lifetime passes, the
 * box dies, or `box rm`.  Every other subcommand is a client of a keeper.
 *
 * Registry: $SANDBOX_BOX_REGISTRY, else /run/libsandbox/cli-boxes (root),
 * else $XDG_RUNTIME_DIR/libsandbox/cli-boxes; a directory owned by the
 * caller with mode 0700 on a path only root and the caller can change
 * (path_trusted; refused otherwise).  One directory per box,
 * named by its id, holding box.json (what `ls` shows) and sock.
 *
 * Protocol: SOCK_STREAM; each message is a 4-byte length (host order)
 * and that many bytes of JSON.  A request may carry fds (SCM_RIGHTS) on
 * its first bytes: exec passes its stdin (with --stdin) and its stdout
 * and stderr (unless --json), which the keeper hands to sandbox_box_exec
 * as stdin_fd/stdout_fd/stderr_fd, so output streams straight to the
 * client's fds.  One request at a time per connection; the connection is
 * the exec's cancel_fd, so a client that goes away (or shuts down its
 * write side on SIGINT) cancels its exec.  The keeper serves each
 * connection on its own thread and accepts only peers of its own uid
 * (SO_PEERCRED).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sandbox.h"

#define REGISTRY_ENV "SANDBOX_BOX_REGISTRY"
#define INFO_NAME "box.json"
#define SOCK_NAME "sock"
#define MAX_MSG (8u << 20) /* request/reply size cap */
#define MAX_CONN 256       /* concurrent connections per keeper */
#define DEFAULT_LIFETIME 3600.0
#define GC_GRACE_SEC 30.0    /* a live keeper this far past its expiry */
#define START_GRACE_SEC 60.0 /* an entry without box.json this old */

static const char box_usage[] =
    "Usage: sandbox box create [RUN OPTION ...] [--lifetime SEC] [--idle "
    "SEC]\n"
    "       sandbox box exec ID [--stdin FILE|-] [--env NAME=VALUE] [--cwd "
    "DIR]\n"
    "                        [--timeout SEC] [--output-limit BYTES] "
    "[--json]\n"
    "                        [--argv] -- COMMAND [ARG ...]\n"
    "       sandbox box cp SRC DST        (one of them ID:/box/path)\n"
    "       sandbox box ls [--json]\n"
    "       sandbox box rm ID ...\n"
    "\n"
    "A box that outlives the CLI: `create` starts a detached keeper that\n"
    "holds the box, prints its ID and returns; `exec` runs commands in it\n"
    "one after another (files and processes persist), streaming their\n"
    "output to this terminal; the box is destroyed by `rm`, after its\n"
    "lifetime (default 1h), after --idle SEC without an exec or cp, or\n"
    "when its keeper dies.  `sandbox gc` removes the entries of expired\n"
    "boxes and dead keepers.\n"
    "\n"
    "create takes the options of `sandbox --` (--image, --runtime, --memory,\n"
    "--pids, --cpus, --disk-limit, --network, --allow, --workspace, --mount,\n"
    "--env, --timeout: the default per-exec timeout, --output-limit) plus:\n"
    "  --lifetime SEC         destroy the box this long after creation "
    "(default 3600)\n"
    "  --idle SEC             ... or after this long with nothing running\n"
    "                         (default: never)\n"
    "  --json                 print the box's registry record, not its ID\n"
    "exec:\n"
    "  --stdin FILE|-         the command's stdin (default /dev/null)\n"
    "  --env NAME=VALUE       added to the box's environment (repeatable);\n"
    "                         --env NAME passes NAME's value from here\n"
    "  --cwd DIR              working directory in the box\n"
    "  --timeout SEC          this exec's limit (default: the box's), then "
    "124\n"
    "  --argv                 the words are the program and its arguments\n"
    "  --json                 no streaming: print the result as JSON\n"
    "\n"
    "ID may be any unique prefix.  Exit status of exec: the command's; 124\n"
    "timeout; 125 sandbox failed (unknown or dead box, ...); 128+N "
    "interrupted.\n"
    "Registry: $" REGISTRY_ENV ", else /run/libsandbox/cli-boxes (root),\n"
    "else $XDG_RUNTIME_DIR/libsandbox/cli-boxes.\n";

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* a/b into buf; -1 when it does not fit. */
static int path2(char *buf, size_t n, const char *a, const char *b)
{
    int l = snprintf(buf, n, "%s/%s", a, b);
    return l < 0 || (size_t)l >= n ? -1 : 0;
}

/* ---- the registry ------------------------------------------------------ */

static int registry_path(char *buf, size_t n)
{
    const char *env = getenv(REGISTRY_ENV), *xdg = getenv("XDG_RUNTIME_DIR");
    int len;
    if (env != NULL && *env) {
        if (env[0] != '/')
            return fail("$" REGISTRY_ENV " (%s) must be an absolute path", env),
                   -1;
        len = snprintf(buf, n, "%s", env);
    } else if (geteuid() == 0) {
        len = snprintf(buf, n, "/run/libsandbox/cli-boxes");
    } else if (xdg != NULL && xdg[0] == '/') {
        len = snprintf(buf, n, "%s/libsandbox/cli-boxes", xdg);
    } else {
        return fail("no place for the box registry: set XDG_RUNTIME_DIR "
                    "(a private per-user directory such as /run/user/%u) "
                    "or " REGISTRY_ENV,
                    (unsigned)getuid()),
               -1;
    }
    if (len < 0 || (size_t)len >= n)
        return fail("registry path too long"), -1;
    return 0;
}

/* mkdir -p: the last component made here gets mode 0700, parents 0711. */
static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (strlen(path) >= sizeof tmp)
        return fail("path too long: %s", path), -1;
    memcpy(tmp, path, strlen(path) + 1);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            /* Parents traversable (the library's /run/libsandbox/ws must
             * be reachable by box ids), the registry itself private. */
            if (mkdir(tmp, c == '\0' ? 0700 : 0711) < 0 && errno != EEXIST)
                return fail("cannot create %s: %s", tmp, strerror(errno)), -1;
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

/* May a directory hold a name we look up in the registry's path?  Only
 * root and we may change it: owned by one of us, and writable by no one
 * else unless sticky (then no one else can rename or remove what we own
 * in it, /tmp say). */
static int dir_trusted(const struct stat *st)
{
    return S_ISDIR(st->st_mode) &&
           (st->st_uid == 0 || st->st_uid == geteuid()) &&
           ((st->st_mode & 022) == 0 || (st->st_mode & S_ISVTX));
}

/* Every directory in which a lookup of path happens, the targets of its
 * symbolic links included, is trusted, and every link is root's or ours:
 * else another user could swap a component (the registry itself, a
 * parent, a link) for one of theirs between our checks and our use, and
 * have us read their records, connect to their socket and signal the
 * process they name.  A component that does not exist ends the walk (0):
 * it is made in a trusted directory.  0, or -1 with the error printed. */
static int path_trusted(const char *path)
{
    char cur[PATH_MAX] = "", rest[2 * PATH_MAX], link[PATH_MAX], cand[PATH_MAX];
    struct stat st;
    int links = 0;
    if (snprintf(rest, sizeof rest, "%s", path) >= (int)sizeof rest)
        return fail("path too long: %s", path), -1;
    if (lstat("/", &st) < 0 || !dir_trusted(&st))
        return fail("refusing the box registry %s: / is writable by others",
                    path),
               -1;
    char *p = rest;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            return 0;
        char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 1 && p[0] == '.') {
            p += len;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(cur, '/');
            if (slash != NULL)
                *slash = '\0';
            p += len;
            continue;
        }
        if (snprintf(cand, sizeof cand, "%s/%.*s", cur, (int)len, p) >=
            (int)sizeof cand)
            return fail("path too long: %s", path), -1;
        p += len;
        if (lstat(cand, &st) < 0) {
            if (errno == ENOENT)
                return 0;
            return fail("box registry %s: %s: %s", path, cand, strerror(errno)),
                   -1;
        }
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(cand, link, sizeof link - 1);
            if (st.st_uid != 0 && st.st_uid != geteuid())
                return fail("refusing the box registry %s: the symbolic link "
                            "%s on its way belongs to uid %u, who could point "
                            "it elsewhere",
                            path, cand, (unsigned)st.st_uid),
                       -1;
            if (n < 0 || ++links > 40)
                return fail("box registry %s: %s: %s", path, cand,
                            n < 0 ? strerror(errno) : "too many links"),
                       -1;
            link[n] = '\0';
            char tail[2 * PATH_MAX];
            if (snprintf(tail, sizeof tail, "%s/%s", link, p) >=
                (int)sizeof tail)
                return fail("path too long: %s", path), -1;
            memcpy(rest, tail, strlen(tail) + 1);
            p = rest;
            if (link[0] == '/')
                cur[0] = '\0';
            continue;
        }
        if (!dir_trusted(&st))
            return fail("refusing the box registry %s: %s on its way %s (uid "
                        "%u, mode %04o): another user could swap the "
                        "registry for theirs; put it in a directory only "
                        "root and uid %u can write",
                        path, cand,
                        S_ISDIR(st.st_mode) ? "is writable by others"
                                            : "is not a directory",
                        (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                        (unsigned)geteuid()),
                   -1;
        memcpy(cur, cand, strlen(cand) + 1);
    }
}

/* The registry must be ours alone: a directory (not a link) owned by the
 * caller, no access for group or others, on a path no one else can
 * change. */
static int registry_check(const char *path)
{
    struct stat st;
    if (path_trusted(path) < 0)
        return -1;
    if (lstat(path, &st) < 0)
        return fail("box registry %s: %s", path, strerror(errno)), -1;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0)
        return fail("refusing the box registry %s: it must be a directory "
                    "owned by uid %u with mode 0700 (it is %s, uid %u, mode "
                    "%04o); remove it or fix its owner and mode",
                    path, (unsigned)geteuid(),
                    S_ISDIR(st.st_mode) ? "a directory" : "not a directory",
                    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777)),
               -1;
    return 0;
}

/* 0 ready, 1 absent (create == 0), -1 error (printed). */
static int registry_open(char *buf, size_t n, int create)
{
    struct stat st;
    if (registry_path(buf, n) < 0)
        return -1;
    if (!create && lstat(buf, &st) < 0 && errno == ENOENT)
        return 1;
    /* Before mkdirs too: never make a directory where another user
     * points us. */
    if (create && (path_trusted(buf) < 0 || mkdirs(buf) < 0))
        return -1;
    return registry_check(buf);
}

static int valid_id(const char *s)
{
    return *s && strlen(s) <= 32 && strspn(s, "0123456789abcdef") == strlen(s);
}

struct entry {
    char id[40];
    char dir[PATH_MAX];
    json_t *info; /* box.json, or NULL (starting, or unreadable) */
};

static json_t *info_read(const char *dir)
{
    char p[PATH_MAX];
    if (path2(p, sizeof p, dir, INFO_NAME) < 0)
        return NULL;
    return json_load_file(p, 0, NULL);
}

/* Atomically: write a temporary file, rename it over box.json. */
static int info_write(const char *dir, json_t *info)
{
    char p[PATH_MAX], tmp[PATH_MAX];
    char tail[64];
    snprintf(tail, sizeof tail, "." INFO_NAME ".%ld", (long)getpid());
    if (path2(p, sizeof p, dir, INFO_NAME) < 0 ||
        path2(tmp, sizeof tmp, dir, tail) < 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = json_dumpfd(info, fd, JSON_INDENT(2));
    if (rc == 0 && write(fd, "\n", 1) != 1)
        rc = -1;
    if (close(fd) < 0 || rc < 0 || rename(tmp, p) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void entry_remove(const char *dir)
{
    char p[PATH_MAX];
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (path2(p, sizeof p, dir, de->d_name) == 0)
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static const char *jget_str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static double jget_num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* The process's start time (clock ticks after boot), 0 if it is gone or a
 * zombie: a pid and its start time name one process, reuse or not. */
static unsigned long long proc_start(pid_t pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%ld/stat", (long)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    if (s == NULL || s[1] != ' ' || s[2] == 'Z' || s[2] == 'X')
        return 0;
    s += 2; /* field 3, the state */
    for (int f = 3; f < 22 && s; f++) {
        s = strchr(s, ' ');
        if (s)
            s++;
    }
    return s ? strtoull(s, NULL, 10) : 0;
}

static pid_t info_pid(json_t *info)
{
    return (pid_t)json_integer_value(json_object_get(info, "keeper_pid"));
}

/* Is the keeper that wrote info still running (and the box not ended)? */
static int keeper_alive(json_t *info)
{
    if (info == NULL || jget_str(info, "ended_why") != NULL)
        return 0;
    pid_t pid = info_pid(info);
    json_int_t start =
        json_integer_value(json_object_get(info, "keeper_start"));
    return pid > 0 && start > 0 && proc_start(pid) == (unsigned long long)start;
}

/* Find ARG (an id or a unique prefix of one).  0, or EXIT_SANDBOX with the
 * error printed. */
static int entry_find(const char *reg, const char *arg, struct entry *e)
{
    memset(e, 0, sizeof *e);
    if (!valid_id(arg))
        return fail("'%s' is not a box id (ids are lower-case hex; "
                    "'sandbox box ls' lists them)",
                    arg),
               EXIT_SANDBOX;
    DIR *d = opendir(reg);
    if (d == NULL)
        return fail("no box '%s' (the registry %s cannot be read: %s)", arg,
                    reg, strerror(errno)),
               EXIT_SANDBOX;
    struct dirent *de;
    int found = 0;
    size_t al = strlen(arg);
    while ((de = readdir(d)) != NULL) {
        if (!valid_id(de->d_name) || strncmp(de->d_name, arg, al))
            continue;
        if (found++ == 0 || !strcmp(de->d_name, arg))
            memcpy(e->id, de->d_name, strlen(de->d_name) + 1); /* <= 32 */
        if (!strcmp(de->d_name, arg)) {
            found = 1;
            break;
        }
    }
    closedir(d);
    if (found == 0)
        return fail("no box '%s': 'sandbox box ls' lists the boxes there "
                    "are",
                    arg),
               EXIT_SANDBOX;
    if (found > 1)
        return fail("box id prefix '%s' is ambiguous: give more of the id",
                    arg),
               EXIT_SANDBOX;
    if (path2(e->dir, sizeof e->dir, reg, e->id) < 0)
        return fail("box registry path too long"), EXIT_SANDBOX;
    e->info = info_read(e->dir);
    return 0;
}

/* Why a box cannot be reached, for messages. */
static void entry_gone_why(const struct entry *e, char *buf, size_t n)
{
    const char *why = e->info ? jget_str(e->info, "ended_why") : NULL;
    if (why != NULL)
        snprintf(buf, n, "%s", why);
    else if (e->info != NULL && !keeper_alive(e->info))
        snprintf(buf, n,
                 "its keeper (pid %ld) died, and the box with it (the "
                 "library destroys a box whose owner dies)",
                 (long)info_pid(e->info));
    else if (e->info == NULL)
        snprintf(buf, n,
                 "it is still starting, or its keeper died while "
                 "starting it");
    else
        snprintf(buf, n, "its keeper does not answer");
}

/* ---- messages ---------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One message: length, JSON, and nfds fds on its first byte. */
static int send_msg(int fd, json_t *j, const int *fds, int nfds)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s == NULL)
        return -1;
    uint32_t len = (uint32_t)strlen(s);
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = &len, .iov_len = sizeof len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&u, 0, sizeof u);
        m.msg_control = u.buf;
        m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    ssize_t w;
    do
        w = sendmsg(fd, &m, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    int rc = -1;
    if (w >= 0 &&
        write_all(fd, (const char *)&len + w, sizeof len - (size_t)w) == 0 &&
        write_all(fd, s, len) == 0)
        rc = 0;
    free(s);
    return rc;
}

/* The next message (NULL at EOF or on error); fds it carried go to fds
 * (at most maxfds, the rest closed), their count to *nfds. */
static json_t *recv_msg(int fd, int *fds, int *nfds, int maxfds)
{
    uint32_t len;
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = &len, .iov_len = sizeof len};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    *nfds = 0;
    ssize_t r;
    do
        r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return NULL;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < n; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof f);
            if (*nfds < maxfds)
                fds[(*nfds)++] = f;
            else
                close(f);
        }
    }
    json_t *j = NULL;
    char *buf = NULL;
    if (read_all(fd, (char *)&len + r, sizeof len - (size_t)r) == 0 &&
        len <= MAX_MSG && (buf = malloc(len ? len : 1)) != NULL &&
        read_all(fd, buf, len) == 0)
        j = json_loadb(buf, len, 0, NULL);
    free(buf);
    if (j == NULL) {
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
    }
    return j;
}

static int entry_connect(const struct entry *e)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s/" SOCK_NAME, e->dir) >=
        (int)sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    /* The listener must be the keeper the record names, alive: nothing
     * (an exec's stdio, an rm) goes to a socket someone else bound. */
    struct ucred cr;
    socklen_t cl = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
        cr.uid != geteuid() || e->info == NULL || cr.pid != info_pid(e->info) ||
        !keeper_alive(e->info)) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

/* Connect to a box's keeper; on failure say why and return -1. */
static int box_connect(const struct entry *e)
{
    int fd = entry_connect(e);
    if (fd < 0) {
        char why[512];
        entry_gone_why(e, why, sizeof why);
        fail("box %s is gone: %s ('sandbox box rm %s' or 'sandbox gc' "
             "removes its entry)",
             e->id, why, e->id);
    }
    return fd;
}

/* ---- the keeper -------------------------------------------------------- */

struct keeper {
    sandbox_box *box;
    char dir[PATH_MAX];
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    json_t *info;
    double lifetime;
    double deadline; /* now_mono() */
    int lfd;
    int wake[2]; /* 'r' rm asked, 't' SIGTERM/SIGINT */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int conns[MAX_CONN]; /* -1: free slot */
    int nconn;
    int ended; /* box destroyed, entry updated or removed */
};

static int keeper_wake_fd = -1;

static void keeper_on_signal(int sig)
{
    int saved = errno;
    (void)sig;
    ssize_t n = write(keeper_wake_fd, "t", 1);
    (void)n;
    errno = saved;
}

struct conn {
    struct keeper *k;
    int fd, slot;
};

/* A message may quote what the box chose, invalid UTF-8 included: JSON
 * takes only UTF-8 (a failed pack dropped the reply, and the client said
 * the keeper went away), so it is repaired here; the client escapes
 * control characters when it prints it. */
static json_t *reply_error(int rc, const char *msg)
{
    char *text = NULL;
    if (msg == NULL)
        msg = sandbox_strerror(rc);
    if (sandbox_utf8_sanitize(msg, strlen(msg), &text, NULL) < 0)
        text = NULL;
    json_t *r = json_pack("{s:i, s:s}", "rc", rc, "message",
                          text ? text : sandbox_strerror(rc));
    sandbox_free(text);
    return r;
}

/* argv/env arrays of JSON strings, borrowed from req. */
static const char **str_array(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    const char **v = calloc(*n + 1, sizeof *v);
    for (size_t i = 0; v && i < *n; i++) {
        v[i] = json_string_value(json_array_get(a, i));
        if (v[i] == NULL) {
            free(v);
            return NULL;
        }
    }
    return v;
}

static json_t *do_exec(struct keeper *k, json_t *req, const int *fds, int nfds,
                       int conn)
{
    sandbox_exec_opts x;
    sandbox_result res;
    size_t nargv = 0, nenv = 0;
    const char **argv = NULL, **env = NULL;
    if (sandbox_exec_opts_init(&x, sizeof x) < 0 ||
        sandbox_result_init(&res, sizeof res) < 0)
        return reply_error(SANDBOX_EABI, "struct size mismatch");
    int has_stdin = json_is_true(json_object_get(req, "stdin"));
    int stream = json_is_true(json_object_get(req, "stream"));
    if (nfds != has_stdin + 2 * stream)
        return reply_error(SANDBOX_EINVAL, "exec request without its fds");
    int i = 0;
    if (has_stdin)
        x.stdin_fd = fds[i++];
    if (stream) {
        x.stdout_fd = fds[i++];
        x.stderr_fd = fds[i++];
    }
    x.command = jget_str(req, "command");
    json_t *ja = json_object_get(req, "argv");
    if (ja != NULL && (argv = str_array(ja, &nargv)) == NULL)
        return reply_error(SANDBOX_EINVAL, "argv: strings only");
    x.argv = argv;
    x.argc = nargv;
    if ((env = str_array(json_object_get(req, "env"), &nenv)) == NULL) {
        free(argv);
        return reply_error(SANDBOX_EINVAL, "env: strings only");
    }
    x.env = env;
    x.n_env = nenv;
    x.cwd = jget_str(req, "cwd");
    x.timeout_sec = jget_num(req, "timeout_sec");
    x.output_limit =
        (size_t)json_integer_value(json_object_get(req, "output_limit"));
    x.cancel_fd = conn; /* readable: the client left or cancelled */

    int rc = sandbox_box_exec(k->box, &x, &res);
    json_t *r =
        json_pack("{s:i, s:o}", "rc", rc, "result", cli_result_json(&res));
    if (rc < 0 && r != NULL) {
        json_t *m = reply_error(rc, res.message);
        json_object_set(r, "message", json_object_get(m, "message"));
        json_decref(m);
    }
    sandbox_result_free(&res);
    free(argv);
    free(env);
    return r;
}

static json_t *do_copy(struct keeper *k, json_t *req, int put)
{
    const char *host = jget_str(req, "host"), *boxp = jget_str(req, "box");
    char *msg = NULL;
    if (host == NULL || boxp == NULL)
        return reply_error(SANDBOX_EINVAL, "copy request without paths");
    int rc = put ? sandbox_box_put(k->box, host, boxp, &msg)
                 : sandbox_box_get(k->box, boxp, host, &msg);
    json_t *r = rc < 0 ? reply_error(rc, msg) : json_pack("{s:i}", "rc", 0);
    sandbox_free(msg);
    return r;
}

static void *conn_main(void *arg)
{
    struct conn *cn = arg;
    struct keeper *k = cn->k;
    int fds[3], nfds;
    json_t *req;
    while ((req = recv_msg(cn->fd, fds, &nfds, 3)) != NULL) {
        const char *op = jget_str(req, "op");
        json_t *reply;
        if (op && !strcmp(op, "exec")) {
            reply = do_exec(k, req, fds, nfds, cn->fd);
        } else if (op && (!strcmp(op, "put") || !strcmp(op, "get"))) {
            reply = do_copy(k, req, !strcmp(op, "put"));
        } else if (op && !strcmp(op, "rm")) {
            ssize_t w = write(k->wake[1], "r", 1);
            (void)w;
            pthread_mutex_lock(&k->mu);
            while (!k->ended)
                pthread_cond_wait(&k->cv, &k->mu);
            pthread_mutex_unlock(&k->mu);
            reply = json_pack("{s:i}", "rc", 0);
        } else {
            reply = reply_error(SANDBOX_EINVAL, "unknown request");
        }
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        int src = reply ? send_msg(cn->fd, reply, NULL, 0) : -1;
        json_decref(reply);
        json_decref(req);
        if (src < 0)
            break;
    }
    pthread_mutex_lock(&k->mu);
    k->conns[cn->slot] = -1;
    k->nconn--;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    close(cn->fd);
    free(cn);
    return NULL;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* Is the peer (pid, from SO_PEERCRED) in our user and mount namespaces?
 * A process of our uid in others is confined (its own view of the files,
 * capabilities over its namespace only): the keeper, resolving cp's host
 * paths in its own view with its own rights, would act beyond that. */
static int peer_same_ns(int fd, pid_t pid)
{
    static const char *const ns[] = {"user", "mnt"};
    int pfd = -1, ok = pid > 0;
    socklen_t l = sizeof pfd;
    /* The peer's pidfd (Linux 6.5): still alive after the checks, so the
     * /proc entry was the peer's and not a process that took its pid. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pfd, &l) < 0)
        pfd = -1;
    for (size_t i = 0; ok && i < sizeof ns / sizeof ns[0]; i++) {
        char mine[64], theirs[64];
        struct stat a, b;
        snprintf(mine, sizeof mine, "/proc/self/ns/%s", ns[i]);
        snprintf(theirs, sizeof theirs, "/proc/%ld/ns/%s", (long)pid, ns[i]);
        ok = stat(mine, &a) == 0 && stat(theirs, &b) == 0 &&
             a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    }
    if (ok && pfd >= 0 && syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0) < 0)
        ok = 0;
    if (pfd >= 0)
        close(pfd);
    return ok;
}

static void keeper_accept(struct keeper *k)
{
    int fd = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct ucred cr;
    socklen_t cl = sizeof cr;
    /* Only the keeper's own user: the keeper acts with its rights. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
        cr.uid != geteuid()) {
        close(fd);
        return;
    }
    if (!peer_same_ns(fd, cr.pid)) {
        /* Said, so the client need not guess; what it sent (an exec's
         * fds) is dropped unread with the connection. */
        json_t *r = reply_error(SANDBOX_EINVAL,
                                "this box's keeper serves only clients in its "
                                "own user and mount namespaces");
        if (r != NULL)
            send_msg(fd, r, NULL, 0);
        json_decref(r);
        close(fd);
        return;
    }
    struct conn *cn = malloc(sizeof *cn);
    pthread_mutex_lock(&k->mu);
    int slot = -1;
    for (int i = 0; cn && i < MAX_CONN && k->ended == 0; i++)
        if (k->conns[i] < 0) {
            slot = i;
            break;
        }
    if (slot < 0) {
        pthread_mutex_unlock(&k->mu);
        free(cn);
        close(fd);
        return;
    }
    cn->k = k;
    cn->fd = fd;
    cn->slot = slot;
    k->conns[slot] = fd;
    k->nconn++;
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, conn_main, cn) != 0) {
        k->conns[slot] = -1;
        k->nconn--;
        close(fd);
        free(cn);
    }
    pthread_attr_destroy(&at);
    pthread_mutex_unlock(&k->mu);
}

/* Serve until rm, a signal, the lifetime, or the box's death; fills why
 * and returns 1 when an rm asked for the end. */
static int keeper_serve(struct keeper *k, char *why, size_t n)
{
    for (;;) {
        double left = k->deadline - now_mono();
        if (left <= 0) {
            snprintf(why, n, "its lifetime (%g s) passed", k->lifetime);
            return 0;
        }
        struct pollfd p[2] = {{.fd = k->lfd, .events = POLLIN},
                              {.fd = k->wake[0], .events = POLLIN}};
        int ms = left < 1.0 ? (int)(left * 1000) + 1 : 1000;
        int pr = poll(p, 2, ms);
        if (pr < 0 && errno != EINTR) {
            snprintf(why, n, "its keeper failed: poll: %s", strerror(errno));
            return 0;
        }
        if (pr > 0 && (p[1].revents & POLLIN)) {
            char c = 0;
            if (read(k->wake[0], &c, 1) == 1 && c == 'r') {
                snprintf(why, n, "removed (sandbox box rm)");
                return 1;
            }
            snprintf(why, n,
                     "its keeper (pid %ld) was told to stop by a "
                     "signal",
                     (long)getpid());
            return 0;
        }
        if (pr > 0 && (p[0].revents & POLLIN))
            keeper_accept(k);
        char *bwhy = NULL;
        if (sandbox_box_alive(k->box, &bwhy) == 0) {
            snprintf(why, n, "%s", bwhy ? bwhy : "the box died");
            sandbox_free(bwhy);
            return 0;
        }
        sandbox_free(bwhy);
    }
}

static void keeper_end(struct keeper *k, int rm, const char *why)
{
    sandbox_result res;
    sandbox_result_init(&res, sizeof res);
    sandbox_box_destroy(k->box, &res); /* running execs end: EBOXDEAD */
    sandbox_result_free(&res);
    close(k->lfd);
    unlink(k->sock);
    if (rm) {
        entry_remove(k->dir);
    } else {
        json_object_set_new(k->info, "state", json_string("ended"));
        json_object_set_new(k->info, "ended", json_real(now_real()));
        json_object_set_new(k->info, "ended_why", json_string(why));
        info_write(k->dir, k->info);
    }
    pthread_mutex_lock(&k->mu);
    k->ended = 1;
    pthread_cond_broadcast(&k->cv);
    /* Let an rm's reply go out, then wake every other connection. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    while (k->nconn > 0 &&
           pthread_cond_timedwait(&k->cv, &k->mu, &ts) != ETIMEDOUT)
        ;
    for (int i = 0; i < MAX_CONN; i++)
        if (k->conns[i] >= 0)
            shutdown(k->conns[i], SHUT_RDWR);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    while (k->nconn > 0 &&
           pthread_cond_timedwait(&k->cv, &k->mu, &ts) != ETIMEDOUT)
        ;
    int idle = k->nconn == 0;
    pthread_mutex_unlock(&k->mu);
    if (idle) /* sandbox_box_free must not race another call */
        sandbox_box_free(k->box);
}

static int keeper_listen(struct keeper *k)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", k->sock);
    k->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (k->lfd < 0)
        return -1;
    if (bind(k->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        chmod(k->sock, 0600) < 0 || listen(k->lfd, 64) < 0) {
        close(k->lfd);
        return -1;
    }
    return 0;
}

/* The keeper process: never returns. status_fd gets "ok\n" once the box
 * is up, or "err RC\nMESSAGE". */
/* The process's command line (/proc/PID/cmdline, what any local user's
 * `ps` shows): the keeper lives as long as its box, and `box create`'s
 * words may carry --env values.  Noted by cli_box_main while argv is the
 * kernel's contiguous block, wiped by the keeper once the box holds its
 * options. */
static char *argv_area;
static size_t argv_area_len;

static void note_argv_area(int argc, char **argv)
{
    argv_area = NULL;
    argv_area_len = 0;
    if (argc < 1)
        return;
    char *end = argv[0];
    for (int i = 0; i < argc; i++) {
        if (argv[i] != end)
            return; /* not the kernel's layout: leave it */
        end += strlen(argv[i]) + 1;
    }
    argv_area = argv[0];
    argv_area_len = (size_t)(end - argv[0]);
}

/* "box" "keeper" ID, as far as it fits; the rest zeroes. */
static void wipe_argv_area(const char *id)
{
    if (argv_area == NULL)
        return;
    memset(argv_area, 0, argv_area_len);
    const char *words[] = {"box", "keeper", id};
    size_t at = 0;
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]) + 1;
        if (at + n > argv_area_len)
            break;
        memcpy(argv_area + at, words[i], n);
        at += n;
    }
}

static void keeper_main(struct cli *c, struct keeper *k, int status_fd)
{
    char why[600];
    FILE *st = fdopen(status_fd, "w");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (st == NULL || pipe2(k->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
        pthread_mutex_init(&k->mu, NULL) != 0 ||
        pthread_cond_init(&k->cv, NULL) != 0)
        _exit(1);
    keeper_wake_fd = k->wake[1];
    sa.sa_handler = keeper_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (int i = 0; i < MAX_CONN; i++)
        k->conns[i] = -1;

    /* Known at once, so gc sees a live keeper while the box starts. */
    json_object_set_new(k->info, "keeper_pid", json_integer(getpid()));
    json_object_set_new(k->info, "keeper_start",
                        json_integer((json_int_t)proc_start(getpid())));
    if (info_write(k->dir, k->info) < 0 || keeper_listen(k) < 0) {
        fprintf(st, "err %d\ncannot set up the box's registry entry %s: %s",
                SANDBOX_EIO, k->dir, strerror(errno));
        fclose(st);
        entry_remove(k->dir);
        _exit(1);
    }
    char *msg = NULL;
    int rc = sandbox_box_create(&c->opts, &k->box, &msg);
    if (rc < 0) {
        fprintf(st, "err %d\n%s", rc, msg ? msg : sandbox_strerror(rc));
        fclose(st);
        close(k->lfd);
        entry_remove(k->dir);
        _exit(1);
    }
    sandbox_free(msg);
    /* The box has its options now; what pointed into argv is not used
     * again (k->info holds copies). */
    wipe_argv_area(json_string_value(json_object_get(k->info, "id")));
    json_object_set_new(k->info, "name", json_string(sandbox_box_name(k->box)));
    json_object_set_new(k->info, "state", json_string("running"));
    info_write(k->dir, k->info);
    fputs("ok\n", st);
    fclose(st);

    int rm = keeper_serve(k, why, sizeof why);
    keeper_end(k, rm, why);
    json_decref(k->info);
    _exit(0);
}

/* ---- create ------------------------------------------------------------ */

static const char create_help[] =
    "Usage: sandbox box create [OPTION ...] [--lifetime SEC] [--idle SEC]\n"
    "Start a box that outlives this command and print its ID.  OPTIONs are\n"
    "those of `sandbox --` (see sandbox --help); --timeout is the default\n"
    "limit of each exec; --stdin and --argv belong to `box exec`.\n";

/* The backend the library will pick, for the registry ("native",
 * "podman", "docker", or the client's file name). */
static char *guess_backend(const char *runtime)
{
    char *path = NULL, *msg = NULL;
    if (runtime == NULL)
        runtime = getenv(SANDBOX_RUNTIME_ENV);
    if (runtime != NULL && !*runtime)
        runtime = NULL;
    int rc = sandbox_find_runtime(runtime, &path, &msg);
    sandbox_free(msg);
    if (rc < 0 || path == NULL) {
        sandbox_free(path);
        return strdup("unknown");
    }
    const char *base = strrchr(path, '/');
    char *r = strdup(base ? base + 1 : path);
    sandbox_free(path);
    return r;
}

static int new_id(char *buf, size_t n)
{
    unsigned char b[6];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return -1;
    snprintf(buf, n, "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
             b[5]);
    return 0;
}

/* Take --lifetime/--idle out of argv (they are not run options). */
static int take_box_opts(int *argc, char **argv, double *lifetime, double *idle)
{
    int o = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *v = NULL;
        double *dst = NULL;
        const char *flag = NULL;
        if (!strcmp(a, "--")) {
            while (i < *argc)
                argv[o++] = argv[i++];
            break;
        }
        if (!strncmp(a, "--lifetime", 10) && (a[10] == '\0' || a[10] == '='))
            dst = lifetime, flag = "--lifetime", v = a[10] ? a + 11 : NULL;
        else if (!strncmp(a, "--idle", 6) && (a[6] == '\0' || a[6] == '='))
            dst = idle, flag = "--idle", v = a[6] ? a + 7 : NULL;
        if (dst == NULL) {
            argv[o++] = argv[i];
            continue;
        }
        if (v == NULL) {
            if (i + 1 >= *argc)
                return usage_error("option '%s' needs a value", flag), -1;
            v = argv[++i];
        }
        if (parse_double(flag, v, dst) < 0)
            return -1;
    }
    argv[o] = NULL;
    *argc = o;
    return 0;
}

static int box_create(int argc, char **argv)
{
    struct cli c;
    struct keeper k;
    char reg[PATH_MAX], id[16];
    double lifetime = DEFAULT_LIFETIME, idle = 0;
    int status = cli_init(&c, argc);
    memset(&k, 0, sizeof k);
    if (status != 0)
        goto out;
    status = EXIT_SANDBOX;
    if (take_box_opts(&argc, argv, &lifetime, &idle) < 0)
        goto out;
    c.box_create = 1;
    c.help = create_help;
    int prc = cli_parse_args(&c, argc, argv);
    if (prc >= 0) {
        status = prc;
        goto out;
    }
    if (c.argv_mode || c.stdin_file >= 0 || c.opts.stdin_fd >= 0) {
        usage_error("--stdin and --argv are options of 'sandbox box exec'");
        goto out;
    }
    if (lifetime <= 0) {
        usage_error("--lifetime must be more than 0 seconds");
        goto out;
    }
    c.opts.box_lifetime_sec = lifetime;
    c.opts.box_idle_sec = idle;
    if ((status = cli_validate(&c)) != 0)
        goto out;
    status = EXIT_SANDBOX;
    if (registry_open(reg, sizeof reg, 1) < 0 || new_id(id, sizeof id) < 0)
        goto out;
    if (path2(k.dir, sizeof k.dir, reg, id) < 0 ||
        (size_t)snprintf(k.sock, sizeof k.sock, "%s/" SOCK_NAME, k.dir) >=
            sizeof k.sock) {
        fail("the box registry path %s is too long for a socket path; set "
             "$" REGISTRY_ENV " to a shorter one",
             reg);
        goto out;
    }
    if (mkdir(k.dir, 0700) < 0) {
        fail("cannot create %s: %s", k.dir, strerror(errno));
        goto out;
    }
    char *backend = guess_backend(c.opts.runtime);
    double created = now_real();
    k.lifetime = lifetime;
    k.deadline = now_mono() + lifetime;
    k.info = json_pack(
        "{s:s, s:n, s:s, s:s, s:f, s:f, s:f, s:f, s:i, s:s, s:o}", "id", id,
        "name", "backend", backend ? backend : "unknown", "image",
        c.opts.image ? c.opts.image : SANDBOX_DEFAULT_IMAGE, "created", created,
        "lifetime_sec", lifetime, "expires", created + lifetime, "idle_sec",
        idle, "uid", (int)geteuid(), "state", "starting", "workspace",
        c.opts.workspace ? json_string(c.opts.workspace) : json_null());
    free(backend);
    int sp[2];
    if (k.info == NULL || pipe2(sp, O_CLOEXEC) < 0) {
        fail("cannot start the keeper: %s", strerror(errno));
        rmdir(k.dir);
        goto out;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        /* Detach: a new session, then a grandchild that is no session
         * leader and not our child, stdio on /dev/null, cwd /, and no fd
         * of ours (a `$(sandbox box create)` must not wait for it). */
        close(sp[0]);
        if (setsid() < 0)
            _exit(1);
        pid_t g = fork();
        if (g != 0)
            _exit(g < 0);
        int nul = open("/dev/null", O_RDWR);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 ||
            dup2(nul, 2) < 0 || dup2(sp[1], 3) < 0)
            _exit(1);
        close_range(4, ~0U, 0);
        /* Not inherited by what the library starts (the guardian, an
         * engine client): only the keeper's exit or "ok" ends create. */
        if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
            _exit(1);
        if (chdir("/") < 0)
            _exit(1);
        keeper_main(&c, &k, 3);
    }
    close(sp[1]);
    if (child < 0) {
        close(sp[0]);
        fail("cannot start the keeper: %s", strerror(errno));
        rmdir(k.dir);
        goto out;
    }
    waitpid(child, NULL, 0);
    char buf[8192];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 &&
           ((r = read(sp[0], buf + len, sizeof buf - 1 - len)) > 0 ||
            (r < 0 && errno == EINTR)))
        if (r > 0)
            len += (size_t)r;
    close(sp[0]);
    buf[len] = '\0';
    if (!strncmp(buf, "ok\n", 3)) {
        status = 0;
        json_t *info = c.json ? info_read(k.dir) : NULL;
        if (info != NULL) {
            cli_put_json(stdout, info);
            putchar('\n');
            json_decref(info);
        } else {
            printf("%s\n", id);
        }
        if (fflush(stdout) != 0)
            status = EXIT_SANDBOX;
    } else if (!strncmp(buf, "err ", 4)) {
        const char *nl = strchr(buf, '\n');
        fail("cannot create the box: %s", nl ? nl + 1 : buf);
    } else {
        fail("the box keeper died while starting the box");
        entry_remove(k.dir);
    }
out:
    json_decref(k.info);
    cli_release(&c);
    return status;
}

/* ---- exec -------------------------------------------------------------- */

/* A JSON string of s, or NULL with a usage error naming what: the
 * protocol is JSON, so words must be UTF-8. */
static json_t *jword(const char *s, const char *what)
{
    json_t *j = json_string(s);
    if (j == NULL)
        usage_error("%s '%s' is not valid UTF-8 (box exec passes text only)",
                    what, s);
    return j;
}

enum {
    X_STDIN = 300,
    X_ENV,
    X_CWD,
    X_TIMEOUT,
    X_ARGV,
    X_JSON,
    X_OUTPUT_LIMIT,
    X_HELP
};

static int box_exec(int argc, char **argv)
{
    static const struct option lo[] = {
        {"stdin", required_argument, NULL, X_STDIN},
        {"env", required_argument, NULL, X_ENV},
        {"cwd", required_argument, NULL, X_CWD},
        {"timeout", required_argument, NULL, X_TIMEOUT},
        {"argv", no_argument, NULL, X_ARGV},
        {"json", no_argument, NULL, X_JSON},
        {"output-limit", required_argument, NULL, X_OUTPUT_LIMIT},
        {"help", no_argument, NULL, X_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *stdin_path = NULL, *cwd = NULL, *idarg = NULL;
    double timeout = 0;
    unsigned long long outlim = 0;
    int argv_mode = 0, json = 0, ch, dd = 1, status = EXIT_SANDBOX;
    int stdin_fd = -1, sock = -1, cancel = -1;
    json_t *env = json_array(), *req = NULL, *reply = NULL;
    struct entry e = {0};

    while (dd < argc && strcmp(argv[dd], "--"))
        dd++;
    while ((ch = getopt_long(dd, argv, ":h", lo, NULL)) != -1) {
        switch (ch) {
        case X_STDIN: stdin_path = optarg; break;
        case X_ENV: {
            char *w = cli_env_word(optarg);
            json_t *j = w != NULL ? jword(w, "--env") : NULL;
            free(w);
            if (j == NULL || json_array_append_new(env, j) < 0)
                goto out;
            break;
        }
        case X_CWD: cwd = optarg; break;
        case X_ARGV: argv_mode = 1; break;
        case X_JSON: json = 1; break;
        case X_TIMEOUT:
            if (parse_double("--timeout", optarg, &timeout) < 0)
                goto out;
            break;
        case X_OUTPUT_LIMIT:
            if (parse_ulong("--output-limit", optarg, SIZE_MAX, &outlim) < 0)
                goto out;
            break;
        case 'h':
        case X_HELP:
            fputs(box_usage, stdout);
            status = 0;
            goto out;
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
            goto out;
        default: unknown_option(argv); goto out;
        }
    }
    for (int i = optind; i < dd; i++) {
        if (idarg != NULL) {
            usage_error("unexpected argument '%s': put the command after --",
                        argv[i]);
            goto out;
        }
        idarg = argv[i];
    }
    if (idarg == NULL) {
        usage_error("box exec: which box? 'sandbox box exec ID -- COMMAND'");
        goto out;
    }
    if (dd >= argc - 1) {
        usage_error("no command given: put the command after --");
        goto out;
    }
    char reg[PATH_MAX];
    int ro = registry_open(reg, sizeof reg, 0);
    if (ro != 0) {
        if (ro > 0)
            fail("no box '%s': there are no boxes ('sandbox box create' "
                 "makes one)",
                 idarg);
        goto out;
    }
    if ((status = entry_find(reg, idarg, &e)) != 0)
        goto out;
    status = EXIT_SANDBOX;
    if (stdin_path != NULL && strcmp(stdin_path, "-")) {
        if ((stdin_fd = open(stdin_path, O_RDONLY | O_CLOEXEC)) < 0) {
            fail("--stdin %s: %s", stdin_path, strerror(errno));
            goto out;
        }
    } else if (stdin_path != NULL) {
        stdin_fd = STDIN_FILENO;
    }
    req = json_pack("{s:s, s:O, s:f, s:I, s:b, s:b}", "op", "exec", "env", env,
                    "timeout_sec", timeout, "output_limit",
                    (json_int_t)(outlim ? outlim : (json ? 0 : 64)), "stdin",
                    stdin_fd >= 0, "stream", !json);
    if (req == NULL) {
        fail("out of memory");
        goto out;
    }
    if (cwd != NULL && json_object_set_new(req, "cwd", jword(cwd, "--cwd")) < 0)
        goto out;
    if (argv_mode) {
        json_t *a = json_array();
        json_object_set_new(req, "argv", a);
        for (int i = dd + 1; i < argc; i++)
            if (json_array_append_new(a, jword(argv[i], "argument")) < 0)
                goto out;
    } else {
        size_t len = 1;
        for (int i = dd + 1; i < argc; i++)
            len += strlen(argv[i]) + 1;
        char *cmd = calloc(1, len);
        for (int i = dd + 1; cmd && i < argc; i++) {
            if (i > dd + 1)
                strcat(cmd, " ");
            strcat(cmd, argv[i]);
        }
        int bad = !cmd || json_object_set_new(req, "command",
                                              jword(cmd, "command")) < 0;
        free(cmd);
        if (bad)
            goto out;
    }
    if ((sock = box_connect(&e)) < 0)
        goto out;
    int fds[3], nfds = 0;
    if (stdin_fd >= 0)
        fds[nfds++] = stdin_fd;
    if (!json) {
        fds[nfds++] = STDOUT_FILENO;
        fds[nfds++] = STDERR_FILENO;
    }
    cancel = cli_install_cancel();
    if (send_msg(sock, req, fds, nfds) < 0) {
        /* A keeper that refuses us answers and closes at once: its
         * answer may be waiting. */
        int saved = errno, rn0;
        reply = recv_msg(sock, NULL, &rn0, 0);
        if (reply != NULL && jget_str(reply, "message") != NULL) {
            fail("box %s: %s", e.id, jget_str(reply, "message"));
        } else {
            fail("box %s: cannot send the request to its keeper: %s", e.id,
                 strerror(saved));
        }
        goto out;
    }
    /* Wait for the reply; a signal shuts our write side, which the
     * keeper sees as the exec's cancel_fd turning readable. */
    for (int shut = 0;;) {
        struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
                              {.fd = cancel, .events = POLLIN}};
        int pr = poll(p, shut || cancel < 0 ? 1 : 2, -1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            break;
        if (p[0].revents)
            break;
        if (!shut && (p[1].revents & POLLIN)) {
            shutdown(sock, SHUT_WR);
            shut = 1;
        }
    }
    int rfds[1], rn;
    reply = recv_msg(sock, rfds, &rn, 0);
    if (reply == NULL) {
        char why[512];
        json_decref(e.info);
        e.info = info_read(e.dir);
        entry_gone_why(&e, why, sizeof why);
        fail("box %s: its keeper went away during the exec: %s", e.id, why);
        goto out;
    }
    int rc = (int)json_integer_value(json_object_get(reply, "rc"));
    json_t *res = json_object_get(reply, "result");
    const char *msg = jget_str(reply, "message");
    const char *reason = res ? jget_str(res, "reason") : NULL;
    int code =
        res ? (int)json_integer_value(json_object_get(res, "exit_code")) : -1;
    int sig = cli_got_signal();
    int cancelled = reason && !strcmp(reason, "cancelled");
    if (cancelled && sig && res)
        json_object_set_new(res, "exit_code", json_integer(code = 128 + sig));
    if (json) {
        json_t *out = res ? json_copy(res) : json_object();
        json_object_set_new(out, "box", json_string(e.id));
        json_object_set_new(
            out, "options",
            json_pack("{s:O, s:O, s:O, s:O, s:f, s:b}", "command",
                      json_object_get(req, "command")
                          ? json_object_get(req, "command")
                          : json_null(),
                      "argv",
                      json_object_get(req, "argv")
                          ? json_object_get(req, "argv")
                          : json_null(),
                      "env", env, "cwd",
                      cwd ? json_object_get(req, "cwd") : json_null(),
                      "timeout_sec", timeout, "stdin", stdin_fd >= 0));
        if (rc < 0 && msg)
            json_object_set_new(out, "message", json_string(msg));
        cli_put_json(stdout, out);
        putchar('\n');
        json_decref(out);
    }
    if (rc < 0) {
        fail("box %s: %s", e.id, msg ? msg : sandbox_strerror(rc));
        goto out;
    }
    if (!json && reason && strcmp(reason, "exited") && !cancelled) {
        const char *m = jget_str(res, "message");
        if (m != NULL)
            fail("%s", m);
    }
    if (fflush(stdout) != 0)
        goto out;
    if (cancelled)
        status = sig ? 128 + sig : EXIT_SANDBOX;
    else if (code < 0 || code > 255)
        status = EXIT_SANDBOX;
    else
        status = code;
out:
    if (stdin_fd > STDIN_FILENO)
        close(stdin_fd);
    if (sock >= 0)
        close(sock);
    json_decref(reply);
    json_decref(req);
    json_decref(env);
    json_decref(e.info);
    cli_close_cancel();
    return status;
}

/* ---- cp ---------------------------------------------------------------- */

/* "ID:/path" -> 1 with the id cut out; else 0. */
static int box_side(const char *arg, char *id, size_t n, const char **path)
{
    const char *colon = strchr(arg, ':');
    if (colon == NULL || colon == arg || (size_t)(colon - arg) >= n)
        return 0;
    memcpy(id, arg, (size_t)(colon - arg));
    id[colon - arg] = '\0';
    if (!valid_id(id))
        return 0;
    *path = colon + 1;
    return 1;
}

static char *absolute(const char *p)
{
    if (p[0] == '/')
        return strdup(p);
    char *cwd = getcwd(NULL, 0), *r = NULL;
    if (cwd != NULL && asprintf(&r, "%s/%s", cwd, p) < 0)
        r = NULL;
    free(cwd);
    return r;
}

static int box_cp(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return fputs(box_usage, stdout), 0;
    if (argc != 3) {
        usage_error("box cp takes two paths: SRC DST, one of them "
                    "ID:/box/path");
        return EXIT_SANDBOX;
    }
    char sid[40], did[40];
    const char *sp = NULL, *dp = NULL;
    int sbox = box_side(argv[1], sid, sizeof sid, &sp);
    int dbox = box_side(argv[2], did, sizeof did, &dp);
    if (sbox == dbox) {
        usage_error("box cp: exactly one of SRC and DST must be ID:/box/path "
                    "(a host path with a colon: write it as ./name)");
        return EXIT_SANDBOX;
    }
    char reg[PATH_MAX];
    struct entry e;
    int ro = registry_open(reg, sizeof reg, 0);
    if (ro != 0) {
        if (ro > 0)
            fail("no box '%s': there are no boxes", sbox ? sid : did);
        return EXIT_SANDBOX;
    }
    int status = entry_find(reg, sbox ? sid : did, &e);
    if (status != 0)
        return status;
    status = EXIT_SANDBOX;
    char *host = absolute(sbox ? argv[2] : argv[1]);
    json_t *req = host
                      ? json_pack("{s:s, s:s, s:s}", "op", sbox ? "get" : "put",
                                  "host", host, "box", sbox ? sp : dp)
                      : NULL;
    json_t *reply = NULL;
    int sock = -1, n;
    if (req == NULL) {
        fail("out of memory");
    } else if ((sock = box_connect(&e)) >= 0) {
        /* The reply even if the send failed: a keeper that refuses us
         * answers and closes at once. */
        (void)send_msg(sock, req, NULL, 0);
        if ((reply = recv_msg(sock, NULL, &n, 0)) == NULL) {
            fail("box %s: its keeper went away during the copy", e.id);
        } else if (json_integer_value(json_object_get(reply, "rc")) < 0) {
            fail("box %s: %s", e.id, jget_str(reply, "message"));
        } else {
            status = 0;
        }
    }
    if (sock >= 0)
        close(sock);
    free(host);
    json_decref(req);
    json_decref(reply);
    json_decref(e.info);
    return status;
}

/* ---- ls, rm, gc -------------------------------------------------------- */

static void fmt_dur(char *buf, size_t n, double s)
{
    if (s < 0)
        s = 0;
    long v = (long)s;
    if (v < 120)
        snprintf(buf, n, "%lds", v);
    else if (v < 7200)
        snprintf(buf, n, "%ldm", v / 60);
    else if (v < 172800)
        snprintf(buf, n, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else
        snprintf(buf, n, "%ldd", v / 86400);
}

static int cmp_created(const void *a, const void *b)
{
    double x = jget_num(*(json_t *const *)a, "created");
    double y = jget_num(*(json_t *const *)b, "created");
    return (x > y) - (x < y);
}

/* Every entry's record, with "alive" and "status" added. */
static json_t *list_entries(const char *reg)
{
    json_t *all = json_array();
    DIR *d = opendir(reg);
    if (d == NULL)
        return all;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!valid_id(de->d_name))
            continue;
        char dir[PATH_MAX];
        if (path2(dir, sizeof dir, reg, de->d_name) < 0)
            continue;
        json_t *info = info_read(dir);
        if (info == NULL)
            info =
                json_pack("{s:s, s:s}", "id", de->d_name, "state", "starting");
        int alive = keeper_alive(info);
        const char *why = jget_str(info, "ended_why");
        json_object_set_new(info, "id", json_string(de->d_name));
        json_object_set_new(info, "alive", json_boolean(alive));
        json_object_set_new(info, "status",
                            json_string(alive ? jget_str(info, "state")
                                        : why ? "ended"
                                              : "dead"));
        json_array_append_new(all, info);
    }
    closedir(d);
    size_t n = json_array_size(all);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (v != NULL) {
        for (size_t i = 0; i < n; i++)
            v[i] = json_incref(json_array_get(all, i));
        qsort(v, n, sizeof *v, cmp_created);
        json_array_clear(all);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(all, v[i]);
        free(v);
    }
    return all;
}

static int box_ls(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            return fputs(box_usage, stdout), 0;
        } else {
            usage_error("unexpected argument '%s' for box ls", argv[i]);
            return EXIT_SANDBOX;
        }
    }
    char reg[PATH_MAX];
    int ro = registry_open(reg, sizeof reg, 0);
    if (ro < 0)
        return EXIT_SANDBOX;
    json_t *all = ro ? json_array() : list_entries(reg);
    double now = now_real();
    size_t i;
    json_t *b;
    if (json) {
        json_array_foreach(all, i, b)
        {
            json_object_set_new(b, "age_sec",
                                json_real(now - jget_num(b, "created")));
            json_object_set_new(b, "expires_in_sec",
                                json_real(jget_num(b, "expires") - now));
        }
        cli_put_json(stdout, all);
        putchar('\n');
    } else {
        printf("%-12s  %-7s  %-24s  %-6s  %-7s  %s\n", "ID", "BACKEND", "IMAGE",
               "AGE", "EXPIRES", "STATUS");
        json_array_foreach(all, i, b)
        {
            char age[32], exp[32];
            const char *why = jget_str(b, "ended_why");
            fmt_dur(age, sizeof age, now - jget_num(b, "created"));
            fmt_dur(exp, sizeof exp, jget_num(b, "expires") - now);
            /* Text only, whatever a record holds. */
            char *line = NULL;
            if (asprintf(&line, "%-12s  %-7s  %-24s  %-6s  %-7s  %s%s%s\n",
                         jget_str(b, "id"),
                         jget_str(b, "backend") ? jget_str(b, "backend") : "-",
                         jget_str(b, "image") ? jget_str(b, "image") : "-", age,
                         json_is_true(json_object_get(b, "alive")) ? exp : "-",
                         jget_str(b, "status"), why ? ": " : "",
                         why ? why : "") >= 0) {
                cli_put_text(stdout, line);
                free(line);
            }
        }
    }
    json_decref(all);
    return fflush(stdout) == 0 ? 0 : EXIT_SANDBOX;
}

/* Wait (up to sec) for a process that is not our child to end (pfd: its
 * pidfd, or -1). */
static void wait_gone(pid_t pid, int pfd, double sec)
{
    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        poll(&p, 1, (int)(sec * 1000));
    }
    /* Then until its parent (init) has reaped it, so that no zombie is
     * seen after rm returns. */
    for (double end = now_mono() + 2.0; kill(pid, 0) == 0 && now_mono() < end;)
        usleep(10000);
}

/* Destroy a live entry's box through its keeper, or kill the keeper; then
 * remove the entry.  0, or -1 with the error printed. */
static int entry_destroy(struct entry *e)
{
    int rc = 0;
    /* A pidfd taken before the record is checked names the keeper for
     * good: a signal through it never reaches a process that took the
     * pid after the keeper ended. */
    pid_t pid = e->info ? info_pid(e->info) : 0;
    int pfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    if (pfd >= 0 && keeper_alive(e->info)) {
        int sock = entry_connect(e), n;
        int stranger = sock < 0 && errno == EPERM;
        json_t *req = json_pack("{s:s}", "op", "rm"), *reply = NULL;
        /* The reply even if the send failed: a keeper that refuses us
         * answers and closes at once (it must not be taken for one that
         * does not answer). */
        if (sock >= 0) {
            (void)send_msg(sock, req, NULL, 0);
            reply = recv_msg(sock, NULL, &n, 0);
        }
        if (sock >= 0)
            close(sock);
        if (stranger) {
            /* Someone else listens on the box's socket: the process the
             * record names may be no keeper at all.  Not signalled. */
            fail("box %s: its socket is not held by its keeper (pid %ld): "
                 "the entry is removed, that process is left alone",
                 e->id, (long)pid);
            json_decref(req);
            close(pfd);
            entry_remove(e->dir);
            return -1;
        }
        if (reply == NULL) {
            /* A keeper that does not answer: the library's guardian
             * destroys the box once its owner is gone. */
            syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
        } else if (json_integer_value(json_object_get(reply, "rc")) < 0) {
            /* It answered no (a client it does not serve): its box and
             * entry stay. */
            const char *m = jget_str(reply, "message");
            fail("box %s: %s", e->id, m ? m : "its keeper refused");
            json_decref(req);
            json_decref(reply);
            close(pfd);
            return -1;
        }
        json_decref(req);
        json_decref(reply);
        wait_gone(pid, pfd, 30);
        if (keeper_alive(e->info)) {
            /* The entry stays: the box may live on, and rm or gc can try
             * again. */
            fail("box %s: its keeper (pid %ld) would not stop", e->id,
                 (long)pid);
            close(pfd);
            return -1;
        }
    }
    if (pfd >= 0)
        close(pfd);
    entry_remove(e->dir);
    return rc;
}

static int box_rm(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return fputs(box_usage, stdout), 0;
    if (argc < 2) {
        usage_error("box rm: which box? 'sandbox box rm ID ...'");
        return EXIT_SANDBOX;
    }
    char reg[PATH_MAX];
    int ro = registry_open(reg, sizeof reg, 0), status = 0;
    if (ro != 0) {
        if (ro > 0)
            fail("no box '%s': there are no boxes", argv[1]);
        return EXIT_SANDBOX;
    }
    for (int i = 1; i < argc; i++) {
        struct entry e;
        if (entry_find(reg, argv[i], &e) != 0) {
            status = EXIT_SANDBOX;
            continue;
        }
        if (entry_destroy(&e) == 0)
            printf("%s\n", e.id);
        else
            status = EXIT_SANDBOX;
        json_decref(e.info);
    }
    return fflush(stdout) == 0 ? status : EXIT_SANDBOX;
}

int cli_box_gc(const char *runtime, int all, unsigned *removed)
{
    char reg[PATH_MAX], backends[8][32];
    int nb = 0, rc = 0;
    *removed = 0;
    /* No registry can exist (not root, no XDG_RUNTIME_DIR): nothing to
     * sweep, and no reason to fail the container sweep. */
    const char *env = getenv(REGISTRY_ENV), *xdg = getenv("XDG_RUNTIME_DIR");
    if ((env == NULL || !*env) && geteuid() != 0 && (xdg == NULL || !*xdg))
        return 0;
    int ro = registry_open(reg, sizeof reg, 0);
    if (ro != 0)
        return ro > 0 ? 0 : -1;
    DIR *d = opendir(reg);
    if (d == NULL)
        return fail("box registry %s: %s", reg, strerror(errno)), -1;
    double now = now_real();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct entry e;
        struct stat st;
        if (!valid_id(de->d_name))
            continue;
        memset(&e, 0, sizeof e);
        memcpy(e.id, de->d_name, strlen(de->d_name) + 1); /* <= 32 */
        if (path2(e.dir, sizeof e.dir, reg, de->d_name) < 0)
            continue;
        e.info = info_read(e.dir);
        int sweep;
        if (e.info == NULL) /* a keeper still starting, or one that died */
            sweep = all || (stat(e.dir, &st) == 0 &&
                            now - (double)st.st_mtime > START_GRACE_SEC);
        else
            sweep = all || !keeper_alive(e.info) ||
                    now > jget_num(e.info, "expires") + GC_GRACE_SEC;
        if (sweep) {
            const char *b = e.info ? jget_str(e.info, "backend") : NULL;
            int seen = 0;
            for (int i = 0; b && i < nb; i++)
                seen |= !strcmp(backends[i], b);
            if (b && !seen && nb < 8)
                snprintf(backends[nb++], sizeof backends[0], "%s", b);
            if (entry_destroy(&e) == 0)
                (*removed)++;
            else
                rc = -1;
        }
        json_decref(e.info);
    }
    closedir(d);
    /* What the swept boxes' backends left (the run's own sandbox_gc covers
     * `runtime`). */
    char *mine = runtime ? NULL : guess_backend(NULL);
    for (int i = 0; i < nb; i++) {
        if (!strcmp(backends[i], "unknown") ||
            !strcmp(backends[i], runtime ? runtime
                                 : mine  ? mine
                                         : ""))
            continue;
        unsigned n = 0;
        char *msg = NULL;
        sandbox_gc(backends[i], 0, &n, &msg);
        sandbox_free(msg);
    }
    free(mine);
    return rc;
}

int cli_box_main(int argc, char **argv)
{
    optind = 0; /* a fresh getopt for the subcommand */
    cli_help_hint = "sandbox box --help";
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(box_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_SANDBOX : 0;
    }
    note_argv_area(argc, argv);
    const char *sub = argv[1];
    if (!strcmp(sub, "create"))
        return box_create(argc - 1, argv + 1);
    if (!strcmp(sub, "exec"))
        return box_exec(argc - 1, argv + 1);
    if (!strcmp(sub, "cp"))
        return box_cp(argc - 1, argv + 1);
    if (!strcmp(sub, "ls"))
        return box_ls(argc - 1, argv + 1);
    if (!strcmp(sub, "rm"))
        return box_rm(argc - 1, argv + 1);
    usage_error("unknown box command '%s': create, exec, cp, ls or rm", sub);
    return EXIT_SANDBOX;
}
