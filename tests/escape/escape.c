/* SPDX-License-Identifier: MIT */
/* The escape suite (issue 14): attacks a box must hold, on every backend.
 *
 * SANDBOX_TEST_RUNTIME=native|podman|docker picks the backend (ctest runs
 * this binary once per backend: escape_native, escape_podman,
 * escape_docker); SANDBOX_TEST_IMAGE the image (default busybox:latest);
 * ESCAPE_PROBE the static probe binary (escape-probe, probe.c), which is
 * bind-mounted read-only at /escape in every box.
 *
 * Every attack has a class, a name, a probe run inside the box and, where
 * the effect would be on the host, a host-side check: the verdict is
 * LANDED if the box says so *or* the host sees it, never only on the
 * box's word that it held.  Every attack also has a CONTROL: the same
 * probe, run on the unsandboxed host in a "weakened box" (a forked child
 * in its own session with a pty as controlling terminal and private
 * mount and pid namespaces, nothing else: no user namespace, no seccomp,
 * capabilities kept) against harmless targets of the same kind (a private
 * mknod'd /dev/null, a scratch directory, a private pty), and it must
 * LAND there, or the probe proves nothing.  An attack whose control cannot
 * land on this host (the kernel lacks the feature, say) is reported N/A
 * and does not count.
 *
 * Probes that need the same kind of box run in one box, one verdict line
 * per attack (their effects are independent: every host-visible attack
 * has its own target).  The whole suite starts about a dozen boxes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sandbox.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* configuration                                                       */

static const char *backend(void)
{
    const char *r = getenv("SANDBOX_TEST_RUNTIME");
    return r && *r ? r : "podman";
}

static const char *image(void)
{
    const char *i = getenv("SANDBOX_TEST_IMAGE");
    return i && *i ? i : "busybox:latest";
}

static bool is_native(void)
{
    return strcmp(backend(), "native") == 0;
}

#define DISK_LIMIT "16m"
#define DISK_LIMIT_BYTES (16u << 20)
#define INJECT "ESCAPEDTTY"

/* ------------------------------------------------------------------ */
/* verdicts                                                            */

enum { V_NONE = 0, V_HELD, V_LANDED, V_ERROR };

static const char *vname(int v)
{
    return v == V_HELD     ? "HELD"
           : v == V_LANDED ? "LANDED"
           : v == V_ERROR  ? "ERROR"
                           : "NONE";
}

typedef struct outcome {
    int v;
    char why[600];
} outcome;

static void set_out(outcome *o, int v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_out(outcome *o, int v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    o->v = v;
    vsnprintf(o->why, sizeof o->why, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* the shared scene: directories, canaries, listeners                  */

static struct scene {
    char root[64];       /* /tmp/sbx-escape-XXXXXX (0755)               */
    char probe_dir[128]; /* holds escape-probe, mounted at /escape      */
    char ws[128];        /* the workspace of the main box               */
    char ws_disk[128];   /* the workspace of the disk box               */
    char ws_links[128];  /* the workspace of the hard-link box          */
    char victim[128], c_victim[128]; /* mounted at <ws>/escape-mnt       */
    char mnt[160], c_mnt[160];       /* ... there                         */
    bool mounted, c_mounted;
    char ro[128];          /* read-only extra mount at /data              */
    char canary[128];      /* a host file no box may read or write        */
    char link_canary[128]; /* a host file planted links point at        */
    char secret[64];       /* its content, also the leaked env variable    */
    char cwd_res[128];     /* the caller's cwd for the OOM box             */
    char shm[128];         /* /dev/shm/sbx-escape-<token>                  */
    char abs_name[64];     /* abstract unix socket the host listens on     */
    int port;              /* TCP port on 127.0.0.1 the host listens on    */
    char disk[64];         /* "maj,min" of the host's root disk            */
    /* control copies */
    char c_ws[128], c_ro[128], c_scratch[128], c_cwd[128];
    char c_ro2[128], c_vartmp[128], c_rootdir[128];
    char c_null[128], c_zero[128], c_full[128];
    int canary_fd, abs_fd, tcp_fd;
} S;

static void die(const char *what)
{
    fprintf(stderr, "escape: setup: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void mkdir_or_die(const char *p, mode_t m)
{
    if (mkdir(p, m) < 0 || chmod(p, m) < 0)
        die(p);
}

static void write_or_die(const char *p, const char *s)
{
    FILE *f = fopen(p, "w");
    if (!f || fputs(s, f) < 0 || fclose(f) != 0)
        die(p);
}

static void copy_or_die(const char *src, const char *dst)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 0755 '%s'", src, dst, dst);
    if (system(cmd) != 0)
        die(dst);
}

static void scene_setup(void)
{
    const char *probe = getenv("ESCAPE_PROBE");
    if (!probe || access(probe, X_OK) != 0) {
        fprintf(stderr,
                "escape: set ESCAPE_PROBE to the escape-probe binary\n");
        exit(2);
    }
    snprintf(S.root, sizeof S.root, "/tmp/sbx-escape-XXXXXX");
    if (!mkdtemp(S.root) || chmod(S.root, 0755) < 0)
        die("mkdtemp");
#define SUB(field, name)                                                       \
    do {                                                                       \
        snprintf(S.field, sizeof S.field, "%s/%s", S.root, name);              \
    } while (0)
    SUB(probe_dir, "probe");
    SUB(ws, "ws");
    SUB(ws_disk, "ws-disk");
    SUB(ws_links, "ws-links");
    SUB(victim, "mnt-victim");
    SUB(c_victim, "c-mnt-victim");
    SUB(ro, "ro");
    SUB(canary, "canary");
    SUB(link_canary, "link-canary");
    SUB(cwd_res, "cwd-res");
    SUB(c_ws, "c-ws");
    SUB(c_ro, "c-ro");
    SUB(c_scratch, "c-scratch");
    SUB(c_cwd, "c-cwd");
    SUB(c_ro2, "c-ro2");
    SUB(c_vartmp, "c-vartmp");
    SUB(c_rootdir, "c-root");
    SUB(c_null, "c-scratch/null");
    SUB(c_zero, "c-scratch/zero");
    SUB(c_full, "c-scratch/full");
    mkdir_or_die(S.probe_dir, 0755);
    mkdir_or_die(S.ws, 0755);
    mkdir_or_die(S.ws_disk, 0755);
    mkdir_or_die(S.ws_links, 0755);
    mkdir_or_die(S.ro, 0755);
    mkdir_or_die(S.cwd_res, 0755);
    mkdir_or_die(S.c_ws, 0755);
    mkdir_or_die(S.c_ro, 0755);
    mkdir_or_die(S.c_scratch, 0755);
    mkdir_or_die(S.c_cwd, 0755);
    mkdir_or_die(S.c_ro2, 0755);
    mkdir_or_die(S.c_vartmp, 0755);
    mkdir_or_die(S.c_rootdir, 0755);
    char p[300];
    snprintf(p, sizeof p, "%s/escape-probe", S.probe_dir);
    copy_or_die(probe, p);
    snprintf(S.secret, sizeof S.secret, "sbx-escape-secret-%ld-%ld",
             (long)getpid(), (long)time(NULL));
    write_or_die(S.canary, S.secret);
    write_or_die(S.link_canary, S.secret);
    chmod(S.canary, 0600);
    chmod(S.link_canary, 0600);
    snprintf(p, sizeof p, "%s/input", S.ro);
    write_or_die(p, "read-only input\n");
    snprintf(p, sizeof p, "%s/input", S.c_ro);
    write_or_die(p, "read-only input\n");
    /* private device nodes for the controls */
    if (mknod(S.c_null, S_IFCHR | 0666, makedev(1, 3)) < 0 ||
        mknod(S.c_zero, S_IFCHR | 0666, makedev(1, 5)) < 0 ||
        mknod(S.c_full, S_IFCHR | 0666, makedev(1, 7)) < 0)
        die("mknod");
    snprintf(S.shm, sizeof S.shm, "/dev/shm/sbx-escape-%ld", (long)getpid());
    write_or_die(S.shm, "host shm\n");
    /* a caller fd the box must not inherit */
    S.canary_fd = open(S.canary, O_RDONLY);
    if (S.canary_fd < 0)
        die("open canary");
    setenv("SBX_ESCAPE_HOST_SECRET", S.secret, 1);
    /* listeners on the host (loopback and abstract unix only) */
    snprintf(S.abs_name, sizeof S.abs_name, "sbx-escape-%ld", (long)getpid());
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    memcpy(su.sun_path + 1, S.abs_name, strlen(S.abs_name));
    S.abs_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (S.abs_fd < 0 ||
        bind(S.abs_fd, (struct sockaddr *)&su,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                         strlen(S.abs_name))) < 0 ||
        listen(S.abs_fd, 16) < 0)
        die("abstract socket");
    struct sockaddr_in si = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof si;
    S.tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (S.tcp_fd < 0 || bind(S.tcp_fd, (struct sockaddr *)&si, sizeof si) < 0 ||
        listen(S.tcp_fd, 16) < 0 ||
        getsockname(S.tcp_fd, (struct sockaddr *)&si, &sl) < 0)
        die("tcp listener");
    S.port = ntohs(si.sin_port);
    struct stat st;
    if (stat("/", &st) < 0)
        die("stat /");
    snprintf(S.disk, sizeof S.disk, "%u,%u", major(st.st_dev),
             minor(st.st_dev));
    /* Last, so that no die() above leaves a mount: a filesystem mounted
     * inside each workspace (a user's bind mount under the directory they
     * hand the box), holding a file the box never sees. */
    snprintf(S.mnt, sizeof S.mnt, "%s/escape-mnt", S.ws);
    snprintf(S.c_mnt, sizeof S.c_mnt, "%s/escape-mnt", S.c_ws);
    mkdir_or_die(S.victim, 0755);
    mkdir_or_die(S.c_victim, 0755);
    mkdir_or_die(S.mnt, 0755);
    mkdir_or_die(S.c_mnt, 0755);
    snprintf(p, sizeof p, "%s/keep", S.victim);
    write_or_die(p, "not the box's\n");
    snprintf(p, sizeof p, "%s/keep", S.c_victim);
    write_or_die(p, "not the box's\n");
    S.mounted = mount(S.victim, S.mnt, NULL, MS_BIND, NULL) == 0;
    S.c_mounted = mount(S.c_victim, S.c_mnt, NULL, MS_BIND, NULL) == 0;
}

static void scene_teardown(void)
{
    close(S.canary_fd);
    close(S.abs_fd);
    close(S.tcp_fd);
    unlink(S.shm);
    if (S.mounted)
        umount2(S.mnt, MNT_DETACH);
    if (S.c_mounted)
        umount2(S.c_mnt, MNT_DETACH);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", S.root);
    if (system(cmd) != 0)
        fprintf(stderr, "escape: could not remove %s\n", S.root);
}

/* ------------------------------------------------------------------ */
/* callers: a forked process that runs one box (or the weakened box)   */

enum {
    R_MAIN,
    R_READBACK,
    R_DISK,
    R_LINKS,
    R_RES,
    R_VIEW,
    R_KILL,
    R_TERM,
    R_DEADLINE,
    R_DAEMON,
    R_LIB
};

typedef struct call {
    /* in */
    bool weak;             /* the control: no library, a weakened box      */
    bool no_pidns;         /* ... without even a pid namespace             */
    const char *extra_box; /* a third mount of S.ro at this box path    */
    const char *image;     /* instead of image()                           */
    bool pty;              /* the caller gets a pty as controlling tty     */
    const char *cwd;       /* the caller's cwd                             */
    const char *path;      /* the caller's PATH                            */
    const char *workspace;
    const char *disk_limit;
    const char *memory;
    long pids;
    double timeout;
    bool cancel_pipe; /* cancel_fd from a pipe the parent holds       */
    char *command;    /* box command (sh -c) or the probe's argv line */
    /* out */
    pid_t pid;
    int cancel_w;
    char result_path[300];
    int rc, reason, exit_code, host_root, disk_hit, term_signal;
    char *out, *err, *msg, *injected;
    long tty_rdev;
} call;

typedef struct rhdr {
    int rc, reason, exit_code, host_root, disk_hit, term_signal;
    size_t lens[4];
} rhdr;

static void put_result(const char *path, rhdr *h, const char *s[4])
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    for (int i = 0; i < 4; i++)
        h->lens[i] = s[i] ? strlen(s[i]) : 0;
    if (write(fd, h, sizeof *h) < 0) {
        close(fd);
        return;
    }
    for (int i = 0; i < 4; i++)
        if (h->lens[i] && write(fd, s[i], h->lens[i]) < 0)
            break;
    close(fd);
}

/* the weakened box: private mount+pid namespaces, fresh /proc, the
 * control's read-only mount; then the probe runs as root with every
 * capability and no seccomp.  Its stdout is captured. */
static char *weak_box(const call *c, int *status)
{
    int p[2];
    if (pipe(p) < 0)
        return NULL;
    pid_t k = fork();
    if (k == 0) {
        close(p[0]);
        if (unshare(CLONE_NEWNS | (c->no_pidns ? 0 : CLONE_NEWPID)) < 0)
            _exit(120);
        pid_t g = fork();
        if (g < 0)
            _exit(121);
        if (g > 0) {
            int st = 0;
            waitpid(g, &st, 0);
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            (!c->no_pidns && mount("proc", "/proc", "proc", 0, NULL) < 0) ||
            mount(S.c_ro, S.c_ro, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, S.c_ro, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) <
                0)
            _exit(122);
        dup2(p[1], 1);
        close(p[1]);
        /* never the developer's terminal: TIOCSTI on fd 2 as root would
         * type into it */
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul >= 0)
            dup2(nul, 2);
        execl("/bin/sh", "sh", "-c", c->command, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && (r = read(p[0], buf + n, cap - n - 1)) > 0) {
        n += (size_t)r;
        if (cap - n < 4096) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    close(p[0]);
    waitpid(k, status, 0);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void caller_child(call *c, int cancel_r)
{
    int master = -1, slave = -1;
    if (c->pty) {
        setsid();
        master = posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
            _exit(110);
        slave = open(ptsname(master), O_RDWR);
        if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
            _exit(111);
        struct termios t;
        tcgetattr(slave, &t);
        t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 0;
        tcsetattr(slave, TCSANOW, &t);
        dup2(slave, 0);
    }
    if (!c->pty) {
        int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (nul >= 0)
            dup2(nul, 0);
    }
    if (c->cwd && chdir(c->cwd) < 0)
        _exit(112);
    if (c->path)
        setenv("PATH", c->path, 1);
    rhdr h = {0};
    const char *s[4] = {"", "", "", ""};
    char *weak_out = NULL;
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    if (c->weak) {
        int st = 0;
        weak_out = weak_box(c, &st);
        s[0] = weak_out ? weak_out : "";
        h.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        h.reason = SANDBOX_END_EXITED;
        h.host_root = -1;
    } else {
        sandbox_opts o;
        sandbox_opts_init(&o, sizeof o);
        o.command = c->command;
        o.image = c->image ? c->image : image();
        o.runtime = backend();
        o.timeout_sec = c->timeout > 0 ? c->timeout : 60;
        o.workspace = c->workspace;
        if (c->disk_limit)
            o.disk_limit = c->disk_limit;
        if (c->memory)
            o.memory = c->memory;
        if (c->pids)
            o.pids = c->pids;
        if (c->cancel_pipe)
            o.cancel_fd = cancel_r;
        sandbox_mount m[3] = {
            {.host = S.probe_dir, .box = "/escape", .writable = 0},
            {.host = S.ro, .box = "/data", .writable = 0},
            {.host = S.ro, .box = c->extra_box, .writable = 0},
        };
        o.mounts = m;
        o.n_mounts = c->extra_box ? 3 : 2;
        h.rc = sandbox_run(&o, &r);
        h.reason = r.reason;
        h.exit_code = r.exit_code;
        h.term_signal = r.term_signal;
        h.host_root = r.host_root;
        h.disk_hit = r.disk_limit_hit;
        s[0] = r.out.data;
        s[1] = r.err.data;
        s[2] = r.message;
    }
    char inj[256] = "";
    if (slave >= 0) {
        fcntl(slave, F_SETFL, O_NONBLOCK);
        ssize_t n = read(slave, inj, sizeof inj - 1);
        if (n > 0)
            inj[n] = '\0';
    }
    s[3] = inj;
    put_result(c->result_path, &h, s);
    _exit(0);
}

static int call_counter;

static void call_start(call *c)
{
    snprintf(c->result_path, sizeof c->result_path, "%s/result-%d", S.root,
             call_counter++);
    int cp[2] = {-1, -1};
    if (c->cancel_pipe && pipe(cp) < 0)
        die("pipe");
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0)
        die("fork");
    if (c->pid == 0) {
        if (cp[1] >= 0)
            close(cp[1]);
        caller_child(c, cp[0]);
    }
    if (cp[0] >= 0)
        close(cp[0]);
    c->cancel_w = cp[1];
}

static char *slurp(int fd, size_t n)
{
    char *s = calloc(1, n + 1);
    if (s && n && read(fd, s, n) != (ssize_t)n)
        s[0] = '\0';
    return s;
}

/* wait for the caller (SIGKILL after `limit` s); 0 if it left a result */
static int call_wait(call *c, double limit)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st = 0;
    for (;;) {
        pid_t w = waitpid(c->pid, &st, WNOHANG);
        if (w == c->pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) > limit) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &st, 0);
            break;
        }
        usleep(20000);
    }
    if (c->cancel_w >= 0)
        close(c->cancel_w);
    c->cancel_w = -1;
    int fd = open(c->result_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rhdr h;
    if (read(fd, &h, sizeof h) != sizeof h) {
        close(fd);
        return -1;
    }
    c->rc = h.rc;
    c->reason = h.reason;
    c->exit_code = h.exit_code;
    c->host_root = h.host_root;
    c->disk_hit = h.disk_hit;
    c->term_signal = h.term_signal;
    c->out = slurp(fd, h.lens[0]);
    c->err = slurp(fd, h.lens[1]);
    c->msg = slurp(fd, h.lens[2]);
    c->injected = slurp(fd, h.lens[3]);
    close(fd);
    return 0;
}

static void call_free(call *c)
{
    free(c->out);
    free(c->err);
    free(c->msg);
    free(c->injected);
    free(c->command);
    c->out = c->err = c->msg = c->injected = c->command = NULL;
}

/* ------------------------------------------------------------------ */
/* the attack table                                                    */

typedef struct attack attack;
typedef void (*host_fn)(const attack *a, bool ctl, const char *box_detail,
                        outcome *o);
typedef void (*prep_fn)(const attack *a, bool ctl);

struct attack {
    const char *cls;
    const char *name;
    int run;
    const char *fn;        /* probe function; NULL: no probe line         */
    const char *arg;       /* template: ${WS} ${RO} ${SCRATCH} ... below  */
    prep_fn prep;          /* host state before the run                   */
    host_fn host;          /* the host-side decision after the run        */
    const char *ctl_extra; /* an extra control step (fn=arg), e.g. the
                              naive host-side reader a link would fool   */
    int host_decides;      /* the box's word alone cannot make it LANDED  */
};

/* per-attack results */
typedef struct res {
    outcome box, ctl;
    char box_detail[600], ctl_detail[600];
    struct stat before[2];
} res;

#define MAX_ATTACKS 128
static res R[MAX_ATTACKS];
static const attack *A;
static size_t NA;

static size_t index_of(const attack *a)
{
    return (size_t)(a - A);
}

/* ${VAR} expansion; box and control values differ */
static void expand(const char *t, bool ctl, char *out, size_t cap)
{
    static const char *const vars[] = {
        "WS",      "RO",     "SCRATCH",  "NULL",   "ZERO", "FULL", "CANARY",
        "LCANARY", "SECRET", "SHM",      "ABS",    "PORT", "DISK", "WSD",
        "SHMDIR",  "RO2",    "HOSTFILE", "VARTMP", "ROOT"};
    char port[16];
    snprintf(port, sizeof port, "%d", S.port);
    char disk[200];
    snprintf(disk, sizeof disk, "%s,%s", ctl ? S.c_scratch : "/tmp", S.disk);
    const char *box[] = {"/workspace",
                         "/data",
                         "/tmp",
                         "/dev/null",
                         "/dev/zero",
                         "/dev/full",
                         S.canary,
                         S.link_canary,
                         S.secret,
                         S.shm,
                         S.abs_name,
                         port,
                         disk,
                         "/workspace",
                         "/dev/shm",
                         "/data",
                         "/escape/escape-probe",
                         "/var/tmp",
                         "/"};
    const char *con[] = {S.c_ws,   S.c_ro,     S.c_scratch, S.c_null,
                         S.c_zero, S.c_full,   S.canary,    S.link_canary,
                         S.secret, S.shm,      S.abs_name,  port,
                         disk,     S.c_ws,     "/dev/shm",  S.c_ro2,
                         S.canary, S.c_vartmp, S.c_rootdir};
    size_t n = 0;
    while (*t && n + 1 < cap) {
        if (t[0] == '$' && t[1] == '{') {
            const char *e = strchr(t, '}');
            size_t i = 0;
            for (; e && i < sizeof vars / sizeof *vars; i++)
                if (strlen(vars[i]) == (size_t)(e - t - 2) &&
                    strncmp(t + 2, vars[i], (size_t)(e - t - 2)) == 0)
                    break;
            if (e && i < sizeof vars / sizeof *vars) {
                const char *v = ctl ? con[i] : box[i];
                while (*v && n + 1 < cap)
                    out[n++] = *v++;
                t = e + 1;
                continue;
            }
        }
        out[n++] = *t++;
    }
    out[n] = '\0';
}

/* host path of a box path under /workspace or /data */
static void host_path(const char *boxdir, bool ctl, const char *name, char *out,
                      size_t cap)
{
    const char *d = strcmp(boxdir, "WS") == 0    ? (ctl ? S.c_ws : S.ws)
                    : strcmp(boxdir, "WSD") == 0 ? (ctl ? S.c_ws : S.ws_disk)
                                                 : (ctl ? S.c_ro : S.ro);
    snprintf(out, cap, "%s/%s", d, name);
}

/* ---- host checks ---- */

static const char *node_of(const attack *a, bool ctl)
{
    if (strstr(a->arg, "${NULL}"))
        return ctl ? S.c_null : "/dev/null";
    if (strstr(a->arg, "${ZERO}"))
        return ctl ? S.c_zero : "/dev/zero";
    return ctl ? S.c_full : "/dev/full";
}

static void prep_node(const attack *a, bool ctl)
{
    stat(node_of(a, ctl), &R[index_of(a)].before[ctl]);
    usleep(20000); /* let the coarse clock tick past the snapshot */
}

static bool same_ts(struct timespec x, struct timespec y)
{
    return x.tv_sec == y.tv_sec && x.tv_nsec == y.tv_nsec;
}

static void host_node(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)d;
    struct stat now, *b = &R[index_of(a)].before[ctl];
    const char *p = node_of(a, ctl);
    if (stat(p, &now) < 0) {
        set_out(o, V_LANDED, "host %s is gone", p);
        return;
    }
    if (!same_ts(now.st_ctim, b->st_ctim) ||
        !same_ts(now.st_mtim, b->st_mtim) || now.st_mode != b->st_mode ||
        now.st_uid != b->st_uid)
        set_out(o, V_LANDED, "host %s changed (ctime %ld.%09ld -> %ld.%09ld)",
                p, (long)b->st_ctim.tv_sec, b->st_ctim.tv_nsec,
                (long)now.st_ctim.tv_sec, now.st_ctim.tv_nsec);
    else
        set_out(o, V_HELD, "host %s untouched", p);
}

static void host_secret_in_detail(const attack *a, bool ctl, const char *d,
                                  outcome *o)
{
    (void)a;
    (void)ctl;
    if (d && strstr(d, S.secret))
        set_out(o, V_LANDED, "the box read the host canary's secret");
    else
        set_out(o, V_HELD, "the secret did not reach the box");
}

static void host_canary_intact(const attack *a, bool ctl, const char *d,
                               outcome *o)
{
    (void)a;
    (void)ctl;
    (void)d;
    char buf[200] = "";
    FILE *f = fopen(S.canary, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    if (strcmp(buf, S.secret) != 0) {
        set_out(o, V_LANDED, "host canary modified: '%.60s'", buf);
        write_or_die(S.canary, S.secret); /* for the control */
    } else {
        set_out(o, V_HELD, "host canary intact");
    }
}

/* a file named by the arg's basename must not exist on the host */
static void host_absent(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)d;
    char p[400];
    const char *name =
        strcmp(a->fn, "remount-rw") == 0 ? "escape-remounted" : "escape-new";
    if (strcmp(a->fn, "remount-rw") == 0)
        host_path("RO", ctl, name, p, sizeof p);
    else
        snprintf(p, sizeof p, "%s/%s", ctl ? S.c_ro2 : S.ro, name);
    if (access(p, F_OK) == 0) {
        set_out(o, V_LANDED, "%s appeared on the host", p);
        unlink(p);
    } else {
        set_out(o, V_HELD, "the host's read-only directory is unchanged");
    }
}

static void ws_stat(bool ctl, const char *name, struct stat *st, int *ok)
{
    char p[400];
    host_path("WS", ctl, name, p, sizeof p);
    *ok = lstat(p, st) == 0;
}

static void host_mode_bits(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)d;
    const char *name = strcmp(a->fn, "setuid") == 0   ? "escape-suid"
                       : strcmp(a->fn, "setgid") == 0 ? "escape-sgid"
                                                      : "escape-suid-root";
    mode_t bit = strcmp(a->fn, "setgid") == 0 ? S_ISGID : S_ISUID;
    struct stat st;
    int ok;
    ws_stat(ctl, name, &st, &ok);
    if (!ok)
        set_out(o, V_HELD, "no %s on the host", name);
    else if ((st.st_mode & bit) &&
             (strcmp(a->fn, "setuid-root") != 0 || st.st_uid == 0))
        set_out(o, V_LANDED, "host %s has mode %o owner %u", name,
                st.st_mode & 07777, st.st_uid);
    else
        set_out(o, V_HELD, "host %s has mode %o owner %u", name,
                st.st_mode & 07777, st.st_uid);
}

static void host_owner(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)a;
    (void)d;
    struct stat st, wst;
    int ok;
    ws_stat(ctl, "escape-owned", &st, &ok);
    stat(ctl ? S.c_ws : S.ws, &wst);
    if (!ok)
        set_out(o, V_HELD, "no escape-owned on the host");
    else if (st.st_uid != getuid() && st.st_uid != wst.st_uid)
        set_out(o, V_LANDED, "host file owned by uid %u (caller %u)", st.st_uid,
                getuid());
    else
        set_out(o, V_HELD, "host file owned by uid %u", st.st_uid);
}

static void host_xattr(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)a;
    (void)d;
    char p[400], v[64];
    host_path("WS", ctl, "escape-caps", p, sizeof p);
    if (lgetxattr(p, "security.capability", v, sizeof v) > 0)
        set_out(o, V_LANDED, "host file carries security.capability");
    else
        set_out(o, V_HELD, "no file capability on the host");
}

static void host_devnode(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)a;
    (void)d;
    struct stat st;
    int ok;
    ws_stat(ctl, "escape-dev", &st, &ok);
    if (ok && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
        set_out(o, V_LANDED, "a device node %u:%u is in the host workspace",
                major(st.st_rdev), minor(st.st_rdev));
    else
        set_out(o, V_HELD, "no device node in the host workspace");
}

static void host_hardlink(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)a;
    (void)d;
    struct stat st;
    int ok;
    ws_stat(ctl, "escape-link", &st, &ok);
    if (ok && st.st_nlink > 1)
        set_out(o, V_LANDED, "the host workspace holds a hard link (nlink %lu)",
                (unsigned long)st.st_nlink);
    else
        set_out(o, V_HELD, "no hard link in the host workspace");
}

static void host_injected(const attack *a, bool ctl, const char *d, outcome *o);

/* The filesystem mounted at <ws>/escape-mnt: its file must survive and
 * nothing the box wrote may land in it. */
static void host_victim(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)a;
    (void)d;
    char keep[200], planted[200];
    const char *v = ctl ? S.c_victim : S.victim;
    snprintf(keep, sizeof keep, "%s/keep", v);
    snprintf(planted, sizeof planted, "%s/escape-planted", v);
    if (!(ctl ? S.c_mounted : S.mounted))
        set_out(o, V_ERROR, "could not bind-mount %s into the workspace", v);
    else if (access(keep, F_OK) != 0)
        set_out(o, V_LANDED,
                "a file of the filesystem mounted in the workspace is gone");
    else if (access(planted, F_OK) == 0)
        set_out(o, V_LANDED, "the box's file landed in the mounted filesystem");
    else
        set_out(o, V_HELD, "the mounted filesystem is untouched");
}

/* What the names in the host's escape-links directory cost its disk, each
 * name counted (as a commit-back that copies them would pay): more than
 * the cap is a landed attack.  HELD needs the box's word that it made the
 * links (a box that could not write proves nothing). */
static void host_link_fill(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)a;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/escape-links", ctl ? S.c_ws : S.ws_links);
    unsigned long long sum = 0;
    int names = 0;
    DIR *dd = opendir(dir);
    for (struct dirent *de; dd && (de = readdir(dd)) != NULL;) {
        struct stat st;
        if (de->d_name[0] == '.' ||
            fstatat(dirfd(dd), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        sum += (unsigned long long)st.st_blocks * 512u;
        names++;
    }
    if (dd)
        closedir(dd);
    if (sum > DISK_LIMIT_BYTES)
        set_out(o, V_LANDED,
                "%d names in the host workspace cost %llu bytes > %s", names,
                sum, DISK_LIMIT);
    else if (!d || !strstr(d, "links=") || strstr(d, "links=0 "))
        set_out(o, V_ERROR, "vacuous: the box made no links (%.300s)",
                d ? d : "no line");
    else
        set_out(o, V_HELD, "%d names, %llu bytes on the host (cap %s)", names,
                sum, DISK_LIMIT);
}

/* symlinks planted in the workspace: the host side must not follow them */
static void prep_link_canary(const attack *a, bool ctl)
{
    (void)a;
    (void)ctl;
    /* atime far older than mtime: any read moves it, even with relatime */
    struct timespec ts[2] = {{.tv_sec = 946684800}, {.tv_nsec = UTIME_OMIT}};
    utimensat(AT_FDCWD, S.link_canary, ts, 0);
    stat(S.link_canary, &R[index_of(a)].before[ctl]);
}

static void host_links(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)d;
    struct stat now, *b = &R[index_of(a)].before[ctl];
    stat(S.link_canary, &now);
    struct stat l1, l2;
    int ok1, ok2;
    ws_stat(ctl, "leak-canary", &l1, &ok1);
    ws_stat(ctl, "leak-shadow", &l2, &ok2);
    if (!same_ts(now.st_atim, b->st_atim))
        set_out(o, V_LANDED, "the host read the canary through the link");
    else if ((ok1 && S_ISREG(l1.st_mode)) || (ok2 && S_ISREG(l2.st_mode)))
        set_out(o, V_LANDED,
                "the host copied a link's target into the "
                "workspace");
    else if (!same_ts(now.st_mtim, b->st_mtim))
        set_out(o, V_LANDED, "the host wrote the canary through the link");
    else
        set_out(o, V_HELD, "links left as links, canary untouched");
}

static void hex32(const char *path, char *out, size_t cap)
{
    unsigned char b[32];
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    for (size_t i = 0; i < n && 2 * i + 3 <= cap; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void host_readback(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)ctl;
    char want[80], key[90];
    hex32(strstr(a->arg, "shadow") ? "/etc/shadow" : S.link_canary, want,
          sizeof want);
    snprintf(key, sizeof key, "hex=%s", want);
    if (*want && d && strstr(d, key) && strlen(strstr(d, key)) == strlen(key))
        set_out(o, V_LANDED, "the box read the host file through the link");
    else
        set_out(o, V_HELD, "what the box read is not the host file");
}

static void host_ws_size(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)a;
    (void)d;
    struct stat st;
    char p[400];
    host_path("WSD", ctl, "escape-fill", p, sizeof p);
    if (stat(p, &st) == 0 && (uint64_t)st.st_size > DISK_LIMIT_BYTES)
        set_out(o, V_LANDED, "host workspace file is %lld bytes > %s",
                (long long)st.st_size, DISK_LIMIT);
    else
        set_out(o, V_HELD, "host workspace file within the cap");
}

/* BOX: the box's own verdict line decides.  HOSTC: the host-side check
 * decides (the box's line is shown but may only describe the box's own
 * copy of a node or file).  EITHER: LANDED if either says so. */
#define BOX(f, a) f, a, NULL, NULL, NULL, 0
#define HOSTC(f, a, p, h) f, a, p, h, NULL, 1
#define EITHER(f, a, p, h) f, a, p, h, NULL, 0

static const attack attacks[] = {
    /* host fs */
    {"host-fs", "host-canary-read", R_MAIN,
     HOSTC("read", "${CANARY}", NULL, host_secret_in_detail)},
    {"host-fs", "host-canary-write", R_MAIN,
     HOSTC("write-file", "${CANARY}", NULL, host_canary_intact)},
    {"host-fs", "ro-mount-write", R_MAIN,
     HOSTC("create-in", "${RO2}", NULL, host_absent)},
    {"host-fs", "ro-mount-remount-rw", R_MAIN,
     HOSTC("remount-rw", "${RO}", NULL, host_absent)},
    {"host-fs", "inherited-caller-fd", R_MAIN, BOX("inherited-fd", "")},
    {"host-fs", "host-environment", R_MAIN, BOX("env", "${SECRET}")},
    {"host-fs", "host-dev-shm-visible", R_MAIN, BOX("exists", "${SHM}")},
    /* device nodes */
    {"devices", "chmod-dev-null", R_MAIN,
     HOSTC("chmod-same", "${NULL}", prep_node, host_node)},
    {"devices", "chown-dev-zero", R_MAIN,
     HOSTC("chown-same", "${ZERO}", prep_node, host_node)},
    {"devices", "touch-dev-full", R_MAIN,
     HOSTC("touch", "${FULL}", prep_node, host_node)},
    {"devices", "open-host-devices", R_MAIN,
     BOX("open-any", "/dev/mem,/dev/kmem,/dev/port,/dev/kmsg,/dev/vda,/dev/"
                     "sda,/dev/nvme0n1,/dev/console,/dev/tty0,/dev/net/tun,/"
                     "dev/fuse,/dev/loop-control,/dev/vsock,/dev/vhost-vsock")},
    {"devices", "mknod-char-device", R_MAIN, BOX("mknod-char", "${SCRATCH}")},
    {"devices", "mknod-host-disk-and-read", R_MAIN,
     BOX("mknod-disk", "${DISK}")},
    /* terminal */
    {"terminal", "open-dev-tty", R_MAIN, BOX("open-tty", "")},
    {"terminal", "tiocsti-into-caller", R_MAIN,
     HOSTC("tiocsti", INJECT, NULL, host_injected)},
    {"terminal", "seccomp-tiocsti", R_MAIN, BOX("seccomp-tiocsti", "")},
    {"terminal", "seccomp-tioclinux", R_MAIN, BOX("seccomp-tioclinux", "")},
    {"terminal", "same-session", R_MAIN, BOX("new-session", "")},
    {"terminal", "controlling-tty", R_MAIN, BOX("no-ctty", "")},
    {"terminal", "host-view-session", R_VIEW, BOX(NULL, "")},
    {"terminal", "host-view-ctty", R_VIEW, BOX(NULL, "")},
    /* privilege */
    {"privilege", "cap-eff-nonzero", R_MAIN, BOX("cap", "CapEff")},
    {"privilege", "cap-bnd-nonzero", R_MAIN, BOX("cap", "CapBnd")},
    {"privilege", "no-new-privs-off", R_MAIN, BOX("nnp", "")},
    {"privilege", "no-seccomp-filter", R_MAIN, BOX("seccomp-mode", "")},
    {"privilege", "uid0-is-host-uid0", R_MAIN, BOX("uid-map", "")},
    {"privilege", "host-view-uid0", R_VIEW, BOX(NULL, "")},
    {"privilege", "host-view-capeff", R_VIEW, BOX(NULL, "")},
    {"privilege", "host-view-nnp-seccomp", R_VIEW, BOX(NULL, "")},
    {"privilege", "result-host-root-honest", R_VIEW, BOX(NULL, "")},
    /* setuid / ownership */
    {"setuid", "setuid-file-in-workspace", R_MAIN,
     HOSTC("setuid", "${WS}", NULL, host_mode_bits)},
    {"setuid", "setgid-file-in-workspace", R_MAIN,
     HOSTC("setgid", "${WS}", NULL, host_mode_bits)},
    {"setuid", "setuid-root-owned-file", R_MAIN,
     HOSTC("setuid-root", "${WS}", NULL, host_mode_bits)},
    {"setuid", "chown-to-foreign-uid", R_MAIN,
     HOSTC("chown-other", "${WS}", NULL, host_owner)},
    {"setuid", "file-capability-xattr", R_MAIN,
     HOSTC("file-caps", "${WS}", NULL, host_xattr)},
    {"setuid", "device-node-in-workspace", R_MAIN,
     HOSTC("mknod-ws", "${WS}", NULL, host_devnode)},
    {"host-paths", "delete-through-workspace-mount", R_MAIN,
     HOSTC("mnt-clobber", "${WS}/escape-mnt", NULL, host_victim)},
    {"setuid", "hardlink-host-file", R_MAIN,
     HOSTC("hardlink", "${WS},${HOSTFILE}", NULL, host_hardlink)},
    /* seccomp / syscalls */
    {"seccomp", "mount-tmpfs", R_MAIN, BOX("mount-tmpfs", "${SCRATCH}")},
    {"seccomp", "unshare-newuser", R_MAIN, BOX("unshare-user", "")},
    {"seccomp", "userns-then-mount", R_MAIN, BOX("userns-mount", "${SCRATCH}")},
    {"seccomp", "clone-newuser", R_MAIN, BOX("clone-newuser", "")},
    {"seccomp", "ptrace-sibling", R_MAIN, BOX("ptrace", "")},
    {"seccomp", "process-vm-readv", R_MAIN, BOX("process-vm", "")},
    {"seccomp", "keyctl-add-key", R_MAIN, BOX("keyctl", "")},
    {"seccomp", "bpf-map-create", R_MAIN, BOX("bpf", "")},
    {"seccomp", "perf-event-open", R_MAIN, BOX("perf", "")},
    {"seccomp", "io-uring-setup", R_MAIN, BOX("io-uring", "")},
    {"seccomp", "userfaultfd", R_MAIN, BOX("userfaultfd", "")},
    {"seccomp", "open-by-handle-at", R_MAIN,
     BOX("open-by-handle", "/etc/passwd")},
    {"seccomp", "chroot", R_MAIN, BOX("chroot", "${SCRATCH}")},
    /* sockets / network */
    {"network", "socket-af-vsock", R_MAIN, BOX("vsock", "")},
    {"network", "socket-af-packet", R_MAIN, BOX("packet", "")},
    {"network", "socket-raw-icmp", R_MAIN, BOX("raw", "")},
    {"network", "socket-af-alg", R_MAIN, BOX("alg", "")},
    {"network", "netlink-route-dump", R_MAIN, BOX("netlink-dump", "")},
    {"network", "only-lo", R_MAIN, BOX("only-lo", "")},
    {"network", "no-route", R_MAIN, BOX("route", "198.51.100.1")},
    {"network", "no-dns", R_MAIN, BOX("dns", "")},
    {"network", "host-abstract-unix-socket", R_MAIN, BOX("abstract", "${ABS}")},
    {"network", "host-loopback-tcp", R_MAIN, BOX("loopback-tcp", "${PORT}")},
    {"network", "engine-socket", R_MAIN,
     BOX("unix-sockets",
         "/var/run/docker.sock,/run/docker.sock,/run/podman/podman.sock,/run/"
         "containerd/containerd.sock,/run/user/0/podman/podman.sock")},
    /* /proc and /sys */
    {"proc-sys", "write-sysrq-trigger", R_MAIN,
     BOX("proc-write", "/proc/sysrq-trigger")},
    {"proc-sys", "write-irq-smp-affinity", R_MAIN, BOX("irq-affinity", "")},
    {"proc-sys", "read-proc-kcore", R_MAIN, BOX("kcore", "")},
    {"proc-sys", "list-sys-firmware", R_MAIN,
     BOX("dir-nonempty", "/sys/firmware")},
    {"proc-sys", "write-core-pattern", R_MAIN,
     BOX("proc-write", "/proc/sys/kernel/core_pattern")},
    {"proc-sys", "write-sysfs-knob", R_MAIN,
     BOX("sys-write", "/sys/kernel/mm/ksm/run,/sys/kernel/profiling,/sys/"
                      "kernel/uevent_helper,/sys/power/pm_async")},
    {"proc-sys", "read-oci-masked-paths", R_MAIN,
     BOX("readable-any",
         "/proc/timer_list,/proc/keys,/proc/latency_stats,/proc/timer_stats,/"
         "proc/sched_debug,/proc/acpi,/proc/scsi")},
    {"proc-sys", "kallsyms-addresses", R_MAIN, BOX("kallsyms", "")},
    {"proc-sys", "read-kernel-log", R_MAIN, BOX("syslog", "")},
    /* resources */
    {"resources", "fork-bomb", R_RES, BOX("fork-bomb", "256")},
    {"resources", "memory-hog", R_RES, BOX("memory-hog", "512")},
    {"resources", "dev-shm-fill", R_RES, BOX("fill-rm", "${SHMDIR},96")},
    /* disk */
    {"disk", "fill-workspace", R_DISK,
     EITHER("fill", "${WSD},32", NULL, host_ws_size)},
    {"disk", "fill-tmp", R_DISK, BOX("fill-rm", "${SCRATCH},32")},
    {"disk", "fill-var-tmp", R_DISK, BOX("fill-rm", "${VARTMP},32")},
    {"disk", "fill-root", R_DISK, BOX("fill-any", "${ROOT},32")},
    {"disk", "disk-limit-hit-reported", R_DISK, BOX(NULL, "")},
    {"disk", "hardlink-amplify-commit", R_LINKS,
     HOSTC("link-fill", "${WSD},4,8", NULL, host_link_fill)},
    /* lifecycle */
    {"lifecycle", "caller-sigkill", R_KILL, BOX(NULL, "")},
    {"lifecycle", "caller-sigkill-cgroup-left", R_KILL, BOX(NULL, "")},
    {"lifecycle", "caller-sigterm", R_TERM, BOX(NULL, "")},
    {"lifecycle", "deadline-after-caller-death", R_DEADLINE, BOX(NULL, "")},
    {"lifecycle", "daemon-outlives-run", R_DAEMON, BOX(NULL, "")},
    /* runtime lookup */
    {"runtime-lookup", "path-empty-entry", R_LIB, BOX(NULL, "")},
    {"runtime-lookup", "path-dot-entry", R_LIB, BOX(NULL, ".")},
    {"runtime-lookup", "path-relative-entry", R_LIB, BOX(NULL, "bin")},
    /* host-side path handling */
    {"host-paths", "symlink-planted-in-workspace", R_MAIN, "symlink-plant",
     "${WS},${LCANARY}", prep_link_canary, host_links,
     "naive-follow=${WS}/leak-canary", 0},
    {"host-paths", "symlink-read-back-canary", R_READBACK,
     HOSTC("read-hex", "${WS}/leak-canary", NULL, host_readback)},
    {"host-paths", "symlink-read-back-shadow", R_READBACK,
     HOSTC("read-hex", "${WS}/leak-shadow", NULL, host_readback)},
    {"host-paths", "mount-box-path-dotdot", R_LIB, BOX(NULL, "")},
    {"host-paths", "mountpoint-symlink-in-image", R_LIB, BOX(NULL, "")},
    {"host-paths", "workspace-is-planted-symlink", R_LIB, BOX(NULL, "")},
    {"host-paths", "oom-file-in-caller-cwd", R_RES, BOX(NULL, "")},
};

static void host_injected(const attack *a, bool ctl, const char *d, outcome *o)
{
    (void)a;
    (void)ctl;
    /* d is the caller's pending tty input here */
    if (d && strstr(d, INJECT))
        set_out(o, V_LANDED, "'%s' arrived in the caller's terminal input",
                INJECT);
    else
        set_out(o, V_HELD, "nothing arrived in the caller's terminal");
}

/* ------------------------------------------------------------------ */
/* running the probe groups                                            */

static char *probe_command(int run, bool ctl)
{
    size_t cap = 65536, n = 0;
    char *cmd = malloc(cap);
    if (!cmd)
        die("malloc");
    char probe[300];
    if (ctl)
        snprintf(probe, sizeof probe, "%s/escape-probe", S.probe_dir);
    else
        snprintf(probe, sizeof probe, "/escape/escape-probe");
    n += (size_t)snprintf(cmd + n, cap - n, "'%s' run", probe);
    for (size_t i = 0; i < NA; i++) {
        const attack *a = &A[i];
        bool mine =
            ctl ? (a->run == R_MAIN || a->run == R_READBACK ||
                   a->run == R_DISK || a->run == R_LINKS || a->run == R_RES)
                : a->run == run;
        if (!mine || !a->fn)
            continue;
        char arg[1024];
        if (n + 2 * sizeof arg + 256 > cap) {
            errno = E2BIG;
            die("probe command");
        }
        expand(a->arg, ctl, arg, sizeof arg);
        n += (size_t)snprintf(cmd + n, cap - n, " '%s:%s=%s'", a->name, a->fn,
                              arg);
        if (ctl && a->ctl_extra) {
            expand(a->ctl_extra, ctl, arg, sizeof arg);
            n += (size_t)snprintf(cmd + n, cap - n, " 'x-%s:%s'", a->name, arg);
        }
    }
    if (ctl) /* what conmon did with the caller's cwd */
        n += (size_t)snprintf(cmd + n, cap - n, " 'x-oom:touch-rel=oom'");
    return cmd;
}

/* the probe's line for attack `name` in out, or NULL */
static const char *line_for(const char *out, const char *name, int *v)
{
    static char buf[700];
    char key[200];
    snprintf(key, sizeof key, "ESCAPE %s ", name);
    const char *p = out;
    while (p && (p = strstr(p, key)) != NULL) {
        if (p == out || p[-1] == '\n')
            break;
        p++;
    }
    if (!p)
        return NULL;
    p += strlen(key);
    size_t l = strcspn(p, "\n");
    snprintf(buf, sizeof buf, "%.*s", (int)l, p);
    *v = strncmp(buf, "LANDED", 6) == 0 ? V_LANDED
         : strncmp(buf, "HELD", 4) == 0 ? V_HELD
                                        : V_ERROR;
    return buf;
}

static void decide(const attack *a, bool ctl, const call *c, bool have)
{
    res *r = &R[index_of(a)];
    outcome *o = ctl ? &r->ctl : &r->box;
    char *detail = ctl ? r->ctl_detail : r->box_detail;
    if (!have) {
        set_out(o, V_ERROR, "the %s did not run: rc %d, %s %s",
                ctl ? "control" : "box", c->rc, c->msg ? c->msg : "",
                c->err ? c->err : "");
        return;
    }
    int v = V_NONE;
    const char *l = line_for(c->out ? c->out : "", a->name, &v);
    if (!l) {
        set_out(o, V_ERROR, "no verdict line; stdout: %.200s stderr: %.200s",
                c->out ? c->out : "", c->err ? c->err : "");
        return;
    }
    snprintf(detail, 600, "%.590s", l);
    outcome h = {V_NONE, ""};
    if (a->host)
        a->host(a, ctl, a->host == host_injected ? c->injected : l, &h);
    if (a->host_decides && v == V_LANDED && h.v == V_HELD)
        set_out(o, V_HELD, "host: %s (box, about its own copy: %s)", h.why, l);
    else if (v == V_LANDED || h.v == V_LANDED)
        set_out(o, V_LANDED, "box: %s%s%s", l,
                h.v == V_LANDED ? "; host: " : "",
                h.v == V_LANDED ? h.why : "");
    else if (v == V_ERROR)
        set_out(o, V_ERROR, "box: %s", l);
    else
        set_out(o, V_HELD, "box: %s%s%s", l, h.v ? "; host: " : "",
                h.v ? h.why : "");
}

static void prep_all(int run, bool ctl)
{
    for (size_t i = 0; i < NA; i++)
        if (A[i].prep && (ctl ? (A[i].run == R_MAIN || A[i].run == R_READBACK ||
                                 A[i].run == R_DISK || A[i].run == R_LINKS ||
                                 A[i].run == R_RES)
                              : A[i].run == run))
            A[i].prep(&A[i], ctl);
}

static void decide_all(int run, const call *c, bool have)
{
    for (size_t i = 0; i < NA; i++)
        if (A[i].run == run && A[i].fn)
            decide(&A[i], false, c, have);
}

static const attack *find(const char *name)
{
    for (size_t i = 0; i < NA; i++)
        if (strcmp(A[i].name, name) == 0)
            return &A[i];
    return NULL;
}

static outcome *box_of(const char *name)
{
    return &R[index_of(find(name))].box;
}
static outcome *ctl_of(const char *name)
{
    return &R[index_of(find(name))].ctl;
}

/* Whether the box could write its workspace at all (run by run): the
 * workspace attacks prove nothing otherwise. */
static bool ws_writable[R_LIB + 1];

static void run_probe_box(int run, call *c)
{
    prep_all(run, false);
    c->command = probe_command(run, false);
    if (c->workspace) {
        size_t l = strlen(c->command);
        char *m = realloc(c->command, l + 80);
        if (m) {
            snprintf(m + l, 80, " 'x-ws:mark=/workspace/escape-writable'");
            c->command = m;
        }
    }
    call_start(c);
    bool have = call_wait(c, 240) == 0;
    if (c->workspace) {
        char p[400];
        snprintf(p, sizeof p, "%s/escape-writable", c->workspace);
        ws_writable[run] = access(p, F_OK) == 0;
    }
    decide_all(run, c, have);
    /* a HELD that only means "the workspace is not writable" is vacuous */
    for (size_t i = 0; i < NA; i++) {
        const attack *a = &A[i];
        int wrun = a->run == R_READBACK ? R_MAIN : a->run;
        outcome *o = &R[i].box;
        /* R_LINKS: a commit refused whole is the defence; its host
         * check wants the box's word that the links were made instead */
        if (a->run == run && a->fn && o->v == V_HELD && run != R_LINKS &&

            (strstr(a->arg, "${WS}") || strstr(a->arg, "${WSD}")) &&
            !ws_writable[wrun]) {
            char why[600];
            snprintf(why, sizeof why, "%s", o->why);
            set_out(o, V_ERROR,
                    "vacuous: the box could not write its "
                    "workspace at all (%.500s)",
                    why);
        }
    }
}

/* ------------------------------------------------------------------ */
/* host view of a box process, found by its token                     */

static int token_pids(const char *token, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL && n < max) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char p[300], b[1024];
        snprintf(p, sizeof p, "/proc/%s/cmdline", de->d_name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t k = read(fd, b, sizeof b - 1);
        close(fd);
        if (k <= 0)
            continue;
        b[k] = '\0';
        /* argv: probe, "hold", token, secs */
        const char *a1 = b + strlen(b) + 1;
        if (a1 - b >= k || strcmp(a1, "hold") != 0)
            continue;
        const char *a2 = a1 + strlen(a1) + 1;
        if (a2 - b < k && strcmp(a2, token) == 0)
            out[n++] = (pid_t)atoi(de->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

static pid_t wait_token(const char *token, double secs)
{
    pid_t p = 0;
    for (int i = 0; i < (int)(secs * 20); i++) {
        if (token_pids(token, &p, 1) == 1)
            return p;
        usleep(50000);
    }
    return 0;
}

typedef struct view {
    long uid, sid, tty;
    unsigned long long capeff;
    int nnp, seccomp;
    char cgroups[8][256];
    int ncg;
    char cid[65]; /* the engine's container id, from the cgroup path */
} view;

/* the first run of 64 hex digits in s (podman's libpod-<id>, docker/<id>) */
static void container_id(const char *s, char out[65])
{
    for (const char *p = s; *p; p++) {
        size_t n = strspn(p, "0123456789abcdef");
        if (n >= 64) {
            memcpy(out, p, 64);
            out[64] = '\0';
            return;
        }
        p += n ? n - 1 : 0;
    }
}

static void read_view(pid_t pid, view *v)
{
    memset(v, 0, sizeof *v);
    v->uid = v->sid = -1;
    char p[64], b[8192];
    snprintf(p, sizeof p, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(p, "r");
    while (f && fgets(b, sizeof b, f)) {
        if (strncmp(b, "Uid:", 4) == 0)
            v->uid = strtol(b + 4, NULL, 10);
        else if (strncmp(b, "CapEff:", 7) == 0)
            v->capeff = strtoull(b + 7, NULL, 16);
        else if (strncmp(b, "NoNewPrivs:", 11) == 0)
            v->nnp = atoi(b + 11);
        else if (strncmp(b, "Seccomp:", 8) == 0)
            v->seccomp = atoi(b + 8);
    }
    if (f)
        fclose(f);
    snprintf(p, sizeof p, "/proc/%ld/stat", (long)pid);
    f = fopen(p, "r");
    if (f && fgets(b, sizeof b, f)) {
        char *q = strrchr(b, ')');
        long ppid, pgrp, sid, tty;
        char st;
        if (q && sscanf(q + 2, "%c %ld %ld %ld %ld", &st, &ppid, &pgrp, &sid,
                        &tty) == 5) {
            v->sid = sid;
            v->tty = tty;
        }
    }
    if (f)
        fclose(f);
    /* its cgroups that are not ours: they must go away with the box */
    char mine[8192] = "";
    f = fopen("/proc/self/cgroup", "r");
    size_t mn = f ? fread(mine, 1, sizeof mine - 1, f) : 0;
    mine[mn] = '\0';
    if (f)
        fclose(f);
    snprintf(p, sizeof p, "/proc/%ld/cgroup", (long)pid);
    f = fopen(p, "r");
    while (f && fgets(b, sizeof b, f) && v->ncg < 8) {
        b[strcspn(b, "\n")] = '\0';
        char line[8200];
        snprintf(line, sizeof line, "%s\n", b);
        if (strstr(mine, line))
            continue;
        char *c1 = strchr(b, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || strcmp(c2 + 1, "/") == 0)
            continue;
        *c2 = '\0';
        const char *ctrl = c1 + 1;
        if (strncmp(ctrl, "name=", 5) == 0)
            ctrl += 5;
        char *comma = strchr((char *)ctrl, ',');
        if (comma)
            *comma = '\0';
        if (!v->cid[0])
            container_id(c2 + 1, v->cid);
        snprintf(v->cgroups[v->ncg++], 256, "/sys/fs/cgroup/%.30s%.200s",
                 *ctrl ? ctrl : "", c2 + 1);
    }
    if (f)
        fclose(f);
}

static void kill_token(const char *token)
{
    pid_t p[64];
    int n = token_pids(token, p, 64);
    for (int i = 0; i < n; i++)
        kill(p[i], SIGKILL);
}

static int containers_of(pid_t owner)
{
    if (is_native())
        return 0;
    char cmd[300];
    snprintf(cmd, sizeof cmd,
             "%s ps -aq --filter label=%s=%ld 2>/dev/null | wc -l", backend(),
             SANDBOX_LABEL, (long)owner);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = 0;
        pclose(p);
    }
    return n;
}

static void remove_containers_of(pid_t owner)
{
    if (is_native())
        return;
    char cmd[400];
    snprintf(cmd, sizeof cmd,
             "ids=$(%s ps -aq --filter label=%s=%ld); [ -z \"$ids\" ] || %s rm "
             "-f $ids >/dev/null 2>&1",
             backend(), SANDBOX_LABEL, (long)owner, backend());
    if (system(cmd) != 0)
        fprintf(stderr, "escape: cleanup of %ld's containers failed\n",
                (long)owner);
}

/* whether the engine still lists container id (exists == 1) */
static int container_exists(const char *id)
{
    if (is_native() || !*id)
        return 0;
    char cmd[300];
    snprintf(cmd, sizeof cmd,
             "%s ps -aq --no-trunc --filter id=%s 2>/dev/null | wc -l",
             backend(), id);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = 0;
        pclose(p);
    }
    return n > 0;
}

static void remove_container(const char *id)
{
    if (is_native() || !*id || !container_exists(id))
        return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s rm -f %s >/dev/null 2>&1", backend(), id);
    if (system(cmd) != 0)
        fprintf(stderr, "escape: could not remove container %s\n", id);
}

static void rm_cgroups(const view *v)
{
    for (int i = 0; i < v->ncg; i++)
        if (strstr(v->cgroups[i], "libsandbox") ||
            strstr(v->cgroups[i], "sbx-escape-ctl"))
            for (int k = 0;
                 k < 40 && rmdir(v->cgroups[i]) < 0 && errno != ENOENT; k++)
                usleep(50000);
}

/* What is left of a box whose caller died: processes, containers,
 * cgroups.  "" if nothing. */
static void leftovers(const char *token, pid_t owner, const view *v, bool ctl,
                      char *out, size_t cap)
{
    /* processes and containers; cgroups are caller-sigkill-cgroup-left */
    pid_t p[8];
    out[0] = '\0';
    int n = token_pids(token, p, 8);
    if (n)
        snprintf(out, cap, "%d box process(es) alive", n);
    if (ctl)
        return;
    int k = containers_of(owner);
    if (!k)
        k = container_exists(v->cid);
    if (k) {
        size_t u = strlen(out);
        snprintf(out + u, cap - u, "%s%d container(s) of owner %ld",
                 u ? ", " : "", k, (long)owner);
    }
}

static const char *cgroup_left(const view *v)
{
    for (int i = 0; i < v->ncg; i++)
        if (access(v->cgroups[i], F_OK) == 0)
            return v->cgroups[i];
    return NULL;
}

/* The control's box gets a scratch cgroup nobody will remove (the
 * weakened box has none of its own). */
static void ctl_cgroup(pid_t box, view *v)
{
    char d[256], p[300];
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
        snprintf(d, sizeof d, "/sys/fs/cgroup/sbx-escape-ctl-%ld",
                 (long)getpid());
    else
        snprintf(d, sizeof d, "/sys/fs/cgroup/pids/sbx-escape-ctl-%ld",
                 (long)getpid());
    if (mkdir(d, 0755) < 0 && errno != EEXIST)
        return;
    snprintf(p, sizeof p, "%s/cgroup.procs", d);
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "%ld\n", (long)box);
        fclose(f);
    }
    if (v->ncg < 8)
        snprintf(v->cgroups[v->ncg++], 256, "%s", d);
}

/* ------------------------------------------------------------------ */
/* R_VIEW: inspect a running box from the host                         */

static void view_verdicts(bool ctl, const view *v, pid_t caller, int host_root,
                          bool got_result)
{
    outcome *(*of)(const char *) = ctl ? ctl_of : box_of;
    if (v->uid < 0) {
        const char *n[] = {"host-view-session",     "host-view-ctty",
                           "host-view-uid0",        "host-view-capeff",
                           "host-view-nnp-seccomp", "result-host-root-honest"};
        for (int i = 0; i < 6; i++)
            set_out(of(n[i]), V_ERROR, "the box process was never seen");
        return;
    }
    set_out(of("host-view-session"), v->sid == caller ? V_LANDED : V_HELD,
            "box session %ld, caller's %ld", v->sid, (long)caller);
    set_out(of("host-view-ctty"), v->tty ? V_LANDED : V_HELD, "box tty_nr %ld",
            v->tty);
    set_out(of("host-view-uid0"), v->uid == 0 ? V_LANDED : V_HELD,
            "box uid seen from the host: %ld", v->uid);
    set_out(of("host-view-capeff"), v->capeff ? V_LANDED : V_HELD,
            "host view CapEff %llx", v->capeff);
    set_out(of("host-view-nnp-seccomp"),
            (!v->nnp || v->seccomp != 2) ? V_LANDED : V_HELD,
            "host view NoNewPrivs %d Seccomp %d", v->nnp, v->seccomp);
    if (!got_result)
        set_out(of("result-host-root-honest"), V_ERROR, "no result");
    else if ((v->uid == 0) != (host_root == 1))
        set_out(of("result-host-root-honest"), V_LANDED,
                "host uid %ld but result.host_root %d", v->uid, host_root);
    else
        set_out(of("result-host-root-honest"), V_HELD,
                "host uid %ld, result.host_root %d", v->uid, host_root);
}

static void do_view(bool ctl)
{
    char token[64], cmd[400];
    snprintf(token, sizeof token, "view%s-%ld", ctl ? "c" : "", (long)getpid());
    if (ctl)
        snprintf(cmd, sizeof cmd, "'%s/escape-probe' hold %s 30", S.probe_dir,
                 token);
    else
        snprintf(cmd, sizeof cmd, "/escape/escape-probe hold %s 30", token);
    call c = {.weak = ctl,
              .pty = true,
              .cancel_pipe = !ctl,
              .timeout = 60,
              .command = strdup(cmd),
              .cancel_w = -1};
    call_start(&c);
    view v;
    memset(&v, 0, sizeof v);
    v.uid = -1;
    pid_t p = wait_token(token, 60);
    if (p)
        read_view(p, &v);
    if (ctl)
        kill_token(token);
    else if (c.cancel_w >= 0 && write(c.cancel_w, "x", 1) < 0)
        kill_token(token);
    bool got = call_wait(&c, 60) == 0;
    view_verdicts(ctl, &v, c.pid, ctl ? -1 : c.host_root, got);
    kill_token(token);
    if (!ctl) {
        remove_containers_of(c.pid);
        remove_container(v.cid);
    }
    call_free(&c);
}

/* ------------------------------------------------------------------ */
/* lifecycle: the caller dies; the box must follow within 5 s          */

typedef struct life {
    const char *name;
    int sig;
    double timeout, within;
    call c;
    char token[64];
    view v;
    pid_t box;
} life;

static void do_lifecycle(bool ctl)
{
    life L[3] = {
        {.name = "caller-sigkill", .sig = SIGKILL, .timeout = 60, .within = 5},
        {.name = "caller-sigterm", .sig = SIGTERM, .timeout = 60, .within = 5},
        {.name = "deadline-after-caller-death",
         .sig = SIGKILL,
         .timeout = 2,
         .within = 4},
    };
    outcome *(*of)(const char *) = ctl ? ctl_of : box_of;
    for (int i = 0; i < 3; i++) {
        char cmd[400];
        snprintf(L[i].token, sizeof L[i].token, "life%d%s-%ld", i,
                 ctl ? "c" : "", (long)getpid());
        if (ctl)
            snprintf(cmd, sizeof cmd, "'%s/escape-probe' hold %s 60",
                     S.probe_dir, L[i].token);
        else
            snprintf(cmd, sizeof cmd, "/escape/escape-probe hold %s 60",
                     L[i].token);
        L[i].c = (call){.weak = ctl,
                        .timeout = L[i].timeout,
                        .command = strdup(cmd),
                        .cancel_w = -1};
        call_start(&L[i].c);
    }
    for (int i = 0; i < 3; i++) {
        L[i].box = wait_token(L[i].token, 60);
        if (L[i].box)
            read_view(L[i].box, &L[i].v);
        if (ctl && i == 0 && L[i].box)
            ctl_cgroup(L[i].box, &L[i].v);
        kill(L[i].c.pid, L[i].sig);
        waitpid(L[i].c.pid, NULL, 0);
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool done[3] = {false, false, false};
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        double el = (double)(t.tv_sec - t0.tv_sec) +
                    (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        int open_ = 0;
        for (int i = 0; i < 3; i++) {
            if (done[i])
                continue;
            if (!L[i].box) {
                set_out(of(L[i].name), V_ERROR, "the box never started");
                done[i] = true;
                continue;
            }
            char left[400];
            leftovers(L[i].token, L[i].c.pid, &L[i].v, ctl, left, sizeof left);
            if (!*left) {
                set_out(of(L[i].name), V_HELD,
                        "box gone %.1f s after the "
                        "caller's death",
                        el);
                done[i] = true;
            } else if (el >= L[i].within) {
                set_out(of(L[i].name), V_LANDED,
                        "%.1f s after the caller "
                        "died (signal %d): %s",
                        el, L[i].sig, left);
                done[i] = true;
            } else {
                open_++;
            }
        }
        if (!open_)
            break;
        usleep(250000);
    }
    /* the SIGKILLed caller's box: its cgroups too, within the same 5 s */
    outcome *cg = of("caller-sigkill-cgroup-left");
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        double el = (double)(t.tv_sec - t0.tv_sec) +
                    (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        const char *left = cgroup_left(&L[0].v);
        if (!L[0].box) {
            set_out(cg, V_ERROR, "the box never started");
            break;
        }
        if (!left) {
            set_out(cg, V_HELD,
                    "no cgroup of the box %.1f s after the "
                    "caller's death",
                    el);
            break;
        }
        if (el >= 5) {
            set_out(cg, V_LANDED, "%.1f s after the caller died: %s is left",
                    el, left);
            break;
        }
        usleep(250000);
    }
    for (int i = 0; i < 3; i++) {
        kill_token(L[i].token);
        if (!ctl) {
            remove_containers_of(L[i].c.pid);
            remove_container(L[i].v.cid);
        }
        rm_cgroups(&L[i].v);
        free(L[i].c.command);
    }
}

static void do_daemon(bool ctl)
{
    char token[64], cmd[400];
    snprintf(token, sizeof token, "daemon%s-%ld", ctl ? "c" : "",
             (long)getpid());
    if (ctl)
        snprintf(cmd, sizeof cmd, "'%s/escape-probe' daemon %s 60", S.probe_dir,
                 token);
    else
        snprintf(cmd, sizeof cmd, "/escape/escape-probe daemon %s 60", token);
    call c = {.weak = ctl,
              .no_pidns = ctl,
              .timeout = 30,
              .command = strdup(cmd),
              .cancel_w = -1};
    call_start(&c);
    bool got = call_wait(&c, 60) == 0;
    usleep(1000000);
    pid_t p[4];
    int n = token_pids(token, p, 4);
    outcome *o =
        ctl ? ctl_of("daemon-outlives-run") : box_of("daemon-outlives-run");
    if (!got)
        set_out(o, V_ERROR, "the run did not finish");
    else if (n)
        set_out(o, V_LANDED,
                "a setsid daemon of the box is alive after the "
                "run returned (pid %ld)",
                (long)p[0]);
    else
        set_out(o, V_HELD, "nothing of the box outlived the run");
    kill_token(token);
    if (!ctl)
        remove_containers_of(c.pid);
    call_free(&c);
}

/* ------------------------------------------------------------------ */
/* library-level attacks: runtime lookup, box paths                   */

static void plant(const char *dir, const char *sentinel)
{
    char p[600], body[600];
    snprintf(body, sizeof body, "#!/bin/sh\ntouch '%s'\nexit 1\n", sentinel);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/podman", dir);
    write_or_die(p, body);
    chmod(p, 0755);
    snprintf(p, sizeof p, "%s/docker", dir);
    write_or_die(p, body);
    chmod(p, 0755);
}

static void do_lookup(const attack *a, bool ctl)
{
    /* arg: "" empty entry, "." or "bin" */
    char dir[300], where[400], sentinel[400], path[600], msgbuf[400] = "";
    snprintf(dir, sizeof dir, "%s/lookup-%s%s", S.root, a->name,
             ctl ? "-c" : "");
    mkdir(dir, 0755);
    snprintf(sentinel, sizeof sentinel, "%s/RAN-ON-HOST", dir);
    snprintf(where, sizeof where, "%s%s%s", dir, *a->arg == 'b' ? "/" : "",
             *a->arg == 'b' ? "bin" : "");
    plant(where, sentinel);
    snprintf(path, sizeof path,
             "%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:"
             "/usr/bin:/sbin:/bin",
             *a->arg == '.'   ? "."
             : *a->arg == 'b' ? "bin"
                              : "");
    outcome *o = ctl ? &R[index_of(a)].ctl : &R[index_of(a)].box;
    int pp[2];
    if (pipe(pp) < 0)
        die("pipe");
    pid_t k = fork();
    if (k == 0) {
        close(pp[0]);
        if (chdir(dir) < 0)
            _exit(1);
        setenv("PATH", path, 1);
        const char *name = is_native() ? "podman" : backend();
        if (ctl) {
            /* the naive lookup: execvp searches "" and "." as cwd */
            pid_t g = fork();
            if (g == 0) {
                execlp(name, name, "--version", (char *)NULL);
                _exit(127);
            }
            waitpid(g, NULL, 0);
            _exit(0);
        }
        char *found = NULL, *msg = NULL;
        sandbox_find_runtime(is_native() ? NULL : backend(), &found, &msg);
        dprintf(pp[1], "%s", found ? found : "");
        sandbox_free(found);
        sandbox_free(msg);
        sandbox_opts op;
        sandbox_result r;
        sandbox_opts_init(&op, sizeof op);
        sandbox_result_init(&r, sizeof r);
        op.command = "true";
        op.image = image();
        op.runtime = backend();
        op.timeout_sec = 30;
        sandbox_run(&op, &r);
        sandbox_result_free(&r);
        _exit(0);
    }
    close(pp[1]);
    ssize_t n = read(pp[0], msgbuf, sizeof msgbuf - 1);
    msgbuf[n > 0 ? n : 0] = '\0';
    close(pp[0]);
    waitpid(k, NULL, 0);
    bool ran = access(sentinel, F_OK) == 0;
    bool bad_find =
        *msgbuf && (msgbuf[0] != '/' || strncmp(msgbuf, dir, strlen(dir)) == 0);
    if (ran || bad_find)
        set_out(o, V_LANDED, "%s%s%s",
                ran ? "the planted runtime ran on the host" : "",
                ran && bad_find ? "; " : "",
                bad_find ? "lookup resolved to the planted runtime" : "");
    else
        set_out(o, V_HELD, "lookup found %s; nothing planted ran",
                *msgbuf ? msgbuf : "(none)");
}

static void do_dotdot(bool ctl)
{
    call c = {.command = strdup("true"),
              .cancel_w = -1,
              .timeout = 30,
              .extra_box = ctl ? "/data2" : "/data/../etc"};
    call_start(&c);
    bool got = call_wait(&c, 60) == 0;
    outcome *o =
        ctl ? ctl_of("mount-box-path-dotdot") : box_of("mount-box-path-dotdot");
    if (!got)
        set_out(o, V_ERROR, "no result");
    else if (c.rc == SANDBOX_EINVAL)
        set_out(o, V_HELD, "refused: %.200s", c.msg ? c.msg : "");
    else
        set_out(o, V_LANDED,
                "box path '%s' not refused by the library (rc %d%s%.160s)",
                c.extra_box, c.rc, c.rc ? ": " : "",
                c.rc && c.msg ? c.msg : "");
    call_free(&c);
}

/* An image whose /mnt is an absolute symlink to a host directory, and a
 * mount at /mnt/sub: the library must not create the mount point on the
 * host through the link (native: when it adds mount points to its cached
 * export). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* A box plants /workspace/out -> a host directory; the caller's next run
 * takes <workspace>/out as its workspace (a per-task output directory the
 * previous box made, say).  The library must not hand the box the link's
 * target: read its root-only file, write into it through the commit.  The
 * control is the naive host side: a path resolved through its links. */
static void do_ws_symlink(bool ctl)
{
    char base[300], target[300], link[400], secret[400], planted[400];
    snprintf(base, sizeof base, "%s/ws-sym%s", S.root, ctl ? "-c" : "");
    snprintf(target, sizeof target, "%s/ws-sym-target%s", S.root,
             ctl ? "-c" : "");
    snprintf(link, sizeof link, "%s/out", base);
    snprintf(secret, sizeof secret, "%s/escape-secret", target);
    snprintf(planted, sizeof planted, "%s/escape-planted", target);
    mkdir_or_die(base, 0755);
    mkdir_or_die(target, 0700);
    write_or_die(secret, S.secret);
    chmod(secret, 0600);
    outcome *o = ctl ? ctl_of("workspace-is-planted-symlink")
                     : box_of("workspace-is-planted-symlink");
    if (ctl) {
        if (symlink(target, link) < 0)
            die("symlink");
        char *r = realpath(link, NULL);
        if (r && strcmp(r, target) == 0)
            set_out(o, V_LANDED, "the naive resolution of %s is %s", link, r);
        else
            set_out(o, V_HELD, "the link did not resolve to its target");
        free(r);
        return;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ln -s '%s' /workspace/out", target);
    call plant = {.command = strdup(cmd),
                  .workspace = base,
                  .cancel_w = -1,
                  .timeout = 30};
    call_start(&plant);
    bool got = call_wait(&plant, 60) == 0;
    struct stat st;
    if (!got || lstat(link, &st) < 0 || !S_ISLNK(st.st_mode)) {
        set_out(o, V_ERROR, "vacuous: the first box planted no link (%.200s)",
                got && plant.msg ? plant.msg : "no result");
        call_free(&plant);
        return;
    }
    call_free(&plant);
    call use = {.command = strdup("cat /workspace/escape-secret; : > "
                                  "/workspace/escape-planted"),
                .workspace = link,
                .cancel_w = -1,
                .timeout = 30};
    call_start(&use);
    got = call_wait(&use, 60) == 0;
    if (!got)
        set_out(o, V_ERROR, "the second run left no result");
    else if ((use.out && strstr(use.out, S.secret)) ||
             access(planted, F_OK) == 0)
        set_out(o, V_LANDED,
                "the box got the link's target as its workspace (%s%s)",
                use.out && strstr(use.out, S.secret) ? "read its secret" : "",
                access(planted, F_OK) == 0 ? ", wrote into it" : "");
    else
        set_out(o, V_HELD, "target untouched (rc %d%s%.200s)", use.rc,
                use.msg ? ": " : "", use.msg ? use.msg : "");
    call_free(&use);
}

static void do_mountpoint_symlink(bool ctl)
{
    char victim[300], rootfs[300], tag[128], sub[400];
    snprintf(victim, sizeof victim, "%s/victim%s", S.root, ctl ? "-c" : "");
    snprintf(rootfs, sizeof rootfs, "%s/img%s", S.root, ctl ? "-c" : "");
    snprintf(sub, sizeof sub, "%s/sub", victim);
    mkdir_or_die(victim, 0755);
    mkdir_or_die(rootfs, 0755);
    char p[400];
    snprintf(p, sizeof p, "%s/mnt", rootfs);
    if (symlink(victim, p) < 0)
        die("symlink");
    outcome *o = ctl ? ctl_of("mountpoint-symlink-in-image")
                     : box_of("mountpoint-symlink-in-image");
    if (ctl) {
        /* what a naive host side does with a box path: mkdir -p under the
         * root filesystem, following its links */
        sh("mkdir -p '%s/mnt/sub'", rootfs);
    } else {
        snprintf(tag, sizeof tag, "localhost/sbx-escape-symlink:%ld",
                 (long)getpid());
        int ok = sh("mkdir -p '%s/bin' && cp '%s/escape-probe' '%s/bin/sh' && "
                    "tar -C '%s' -cf '%s.tar' . && "
                    "{ podman import -q '%s.tar' '%s' >/dev/null 2>&1; "
                    "docker import '%s.tar' '%s' >/dev/null 2>&1; true; }",
                    rootfs, S.probe_dir, rootfs, rootfs, rootfs, rootfs, tag,
                    rootfs, tag) == 0;
        char id[128] = "";
        FILE *f = popen("podman images -q --no-trunc --filter "
                        "reference=localhost/sbx-escape-symlink 2>/dev/null",
                        "r");
        if (f) {
            if (!fgets(id, sizeof id, f))
                id[0] = '\0';
            pclose(f);
        }
        id[strcspn(id, "\n")] = '\0';
        call c = {.command = strdup("true"),
                  .cancel_w = -1,
                  .timeout = 30,
                  .image = tag,
                  .extra_box = "/mnt/sub"};
        if (ok) {
            call_start(&c);
            call_wait(&c, 60);
        }
        if (!ok)
            set_out(o, V_ERROR, "could not import the crafted image");
        else if (access(sub, F_OK) == 0)
            set_out(o, V_LANDED,
                    "the host got %s (the library followed the "
                    "image's link; rc %d)",
                    sub, c.rc);
        else
            set_out(o, V_HELD,
                    "the host directory the link points at is "
                    "untouched (rc %d)",
                    c.rc);
        call_free(&c);
        sh("podman rmi -f '%s' >/dev/null 2>&1; docker rmi -f '%s' >/dev/null "
           "2>&1; true",
           tag, tag);
        /* the native export of it (the library caches it by image id) */
        const char *hex = strncmp(id, "sha256:", 7) == 0 ? id + 7 : id;
        if (is_native() && strlen(hex) == 64 &&
            strspn(hex, "0123456789abcdef") == 64)
            sh("rm -rf /var/cache/libsandbox/rootfs/%s; rm -f "
               "/var/cache/libsandbox/rootfs/refs/*sbx-escape-symlink*",
               hex);
        return;
    }
    if (access(sub, F_OK) == 0)
        set_out(o, V_LANDED, "the naive mkdir -p created %s", sub);
    else
        set_out(o, V_HELD, "nothing followed the link");
}

static void check_dir_empty(const char *dir, outcome *o)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char names[300] = "";
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            size_t u = strlen(names);
            snprintf(names + u, sizeof names - u, " %.60s", de->d_name);
        }
    if (d)
        closedir(d);
    if (*names)
        set_out(o, V_LANDED, "the caller's cwd got:%s", names);
    else
        set_out(o, V_HELD, "the caller's cwd is untouched");
}

/* ------------------------------------------------------------------ */
/* everything, once per backend                                        */

static int demonstrable;

/* ESCAPE_DEBUG=1: time every step on stderr */
static void step(const char *what)
{
    static struct timespec last;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (getenv("ESCAPE_DEBUG") && last.tv_sec)
        fprintf(stderr, "escape: %-22s %.2f s\n", what,
                (double)(t.tv_sec - last.tv_sec) +
                    (double)(t.tv_nsec - last.tv_nsec) / 1e9);
    last = t;
}

/* The checks run from the library's side, against the box (ctl false) or
 * the weakened control box (ctl true; each step's name ends in -ctl). */
static void do_lib_checks(bool ctl)
{
    do_view(ctl);
    step(ctl ? "do_view-ctl" : "do_view");
    do_lifecycle(ctl);
    step(ctl ? "do_lifecycle-ctl" : "do_lifecycle");
    do_daemon(ctl);
    step(ctl ? "do_daemon-ctl" : "do_daemon");
    for (size_t i = 0; i < NA; i++)
        if (A[i].run == R_LIB && strncmp(A[i].name, "path-", 5) == 0)
            do_lookup(&A[i], ctl);
    do_dotdot(ctl);
    do_mountpoint_symlink(ctl);
    do_ws_symlink(ctl);
    step(ctl ? "do_dotdot-ctl" : "do_dotdot");
}

static void run_everything(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    step("start");
    /* the boxes */
    call main_c = {.pty = true, .workspace = S.ws, .cancel_w = -1};
    run_probe_box(R_MAIN, &main_c);
    step("run_probe_box R_MAIN");
    const attack *tty = find("tiocsti-into-caller");
    (void)tty;
    call rb = {.workspace = S.ws, .cancel_w = -1};
    run_probe_box(R_READBACK, &rb);
    step("run_probe_box R_READBACK");
    call disk = {
        .workspace = S.ws_disk, .disk_limit = DISK_LIMIT, .cancel_w = -1};
    run_probe_box(R_DISK, &disk);
    step("run_probe_box R_DISK");
    {
        outcome *o = box_of("disk-limit-hit-reported");
        /* the cap must have fired if a fill got ENOSPC or wrote past it */
        bool fired = false;
        static const char *const fills[] = {"fill-workspace", "fill-tmp",
                                            "fill-var-tmp", "fill-root"};
        for (size_t k = 0; k < 4 && disk.out; k++) {
            int v = V_NONE;
            const char *l = line_for(disk.out, fills[k], &v);
            fired |= l && (v == V_LANDED || strstr(l, "No space left"));
        }
        if (disk.out == NULL)
            set_out(o, V_ERROR, "the disk box did not run");
        else if (!fired)
            set_out(o, V_ERROR,
                    "vacuous: no fill reached the cap (all "
                    "refused for other reasons)");
        else if (disk.disk_hit != 1)
            set_out(o, V_LANDED, "writes past %s but result.disk_limit_hit=%d",
                    DISK_LIMIT, disk.disk_hit);
        else
            set_out(o, V_HELD, "result.disk_limit_hit=1");
    }
    call links = {
        .workspace = S.ws_links, .disk_limit = DISK_LIMIT, .cancel_w = -1};
    run_probe_box(R_LINKS, &links);
    step("run_probe_box R_LINKS");
    call resc = {
        .cwd = S.cwd_res, .memory = "128m", .pids = 64, .cancel_w = -1};
    run_probe_box(R_RES, &resc);
    step("run_probe_box R_RES");
    check_dir_empty(S.cwd_res, box_of("oom-file-in-caller-cwd"));
    do_lib_checks(false);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double box_s = (double)(t1.tv_sec - t0.tv_sec);

    /* the controls: the same probes in the weakened box on the host */
    prep_all(-1, true);
    call cc = {.weak = true, .pty = true, .cwd = S.c_cwd, .cancel_w = -1};
    cc.command = probe_command(-1, true);
    call_start(&cc);
    bool have = call_wait(&cc, 240) == 0;
    step("control main");
    for (size_t i = 0; i < NA; i++)
        if (A[i].fn && A[i].run != R_LIB)
            decide(&A[i], true, &cc, have);
    {
        outcome *o = ctl_of("disk-limit-hit-reported");
        /* the weakened box reports no cap: the check must call that LANDED */
        set_out(o, cc.disk_hit != 1 ? V_LANDED : V_HELD,
                "weakened box: disk_limit_hit=%d", cc.disk_hit);
    }
    check_dir_empty(S.c_cwd, ctl_of("oom-file-in-caller-cwd"));
    do_lib_checks(true);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* the report */
    int landed = 0, na = 0, err = 0;
    FILE *rep = NULL;
    const char *rp = getenv("ESCAPE_REPORT");
    if (rp && *rp)
        rep = fopen(rp, "a");
    for (size_t i = 0; i < NA; i++) {
        res *r = &R[i];
        const char *tag = r->ctl.v != V_LANDED ? "N/A" : vname(r->box.v);
        if (r->ctl.v == V_LANDED)
            demonstrable++;
        else
            na++;
        landed += r->ctl.v == V_LANDED && r->box.v == V_LANDED;
        err += r->box.v == V_ERROR;
        printf("escape %-6s %-14s %-30s %-6s (control %s)\n    box: %s\n    "
               "control: %s\n",
               backend(), A[i].cls, A[i].name, tag, vname(r->ctl.v), r->box.why,
               r->ctl.why);
        if (rep)
            fprintf(rep, "%s\t%s\t%s\t%s\t%s\t%s\n", backend(), A[i].cls,
                    A[i].name, tag, vname(r->ctl.v), r->box.why);
    }
    if (rep)
        fclose(rep);
    printf("escape %s: %zu attacks, %d demonstrable (control landed), %d "
           "LANDED in the box, %d N/A on this host, %d errors; boxes %.0f s, "
           "controls %.0f s\n",
           backend(), NA, demonstrable, landed, na, err, box_s,
           (double)(t0.tv_sec - t1.tv_sec));
    fflush(stdout);
    call_free(&main_c);
    call_free(&rb);
    call_free(&disk);
    call_free(&links);
    call_free(&resc);
    call_free(&cc);
}

/* Known gaps: attacks that still land on a backend for a reason outside
 * what the library controls, each documented in docs/threat-model.md.  The
 * verdict is still printed (and reported as GAP); the test does not fail on
 * them, and fails if any other attack lands. */
static const struct {
    const char *backend, *name, *why;
} GAPS[] = {
    {"podman", "touch-dev-full",
     "runc binds the host's /dev nodes into a user-namespaced container "
     "after every user mount, so -v/--device cannot make them read-only; "
     "the box can set their times to now (as any local user can), never "
     "their mode or owner"},
    {"docker", "touch-dev-full", "as podman (runc)"},
};

static const char *known_gap(const attack *a)
{
    for (size_t i = 0; i < sizeof GAPS / sizeof *GAPS; i++)
        if (strcmp(GAPS[i].backend, backend()) == 0 &&
            strcmp(GAPS[i].name, a->name) == 0)
            return GAPS[i].why;
    return NULL;
}

START_TEST(test_attack)
{
    const attack *a = &A[_i];
    const res *r = &R[_i];
    const char *gap = known_gap(a);
    if (gap != NULL && r->box.v == V_LANDED) {
        printf("escape %s %s/%s: KNOWN GAP (docs/threat-model.md): %s\n",
               backend(), a->cls, a->name, gap);
        return;
    }
    if (r->ctl.v == V_HELD)
        return; /* N/A here: the control cannot land on this host */
    ck_assert_msg(r->ctl.v == V_LANDED,
                  "%s/%s: the control did not run, so the probe proves "
                  "nothing: %s",
                  a->cls, a->name, r->ctl.why);
    ck_assert_msg(r->box.v == V_HELD, "%s/%s %s on %s: %s", a->cls, a->name,
                  vname(r->box.v), backend(), r->box.why);
}
END_TEST

START_TEST(test_enough_attacks)
{
    ck_assert_msg(demonstrable >= 40,
                  "only %d attacks have a control that lands here",
                  demonstrable);
}
END_TEST

int main(void)
{
    A = attacks;
    NA = sizeof attacks / sizeof *attacks;
    if (NA > MAX_ATTACKS)
        return 2;
    if (geteuid() != 0) {
        /* the controls mknod device nodes and unshare namespaces */
        fprintf(stderr, "escape: skipped: run as root (the controls need "
                        "mknod and namespaces)\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    scene_setup();
    run_everything();
    Suite *s = suite_create("escape");
    TCase *tc = tcase_create(backend());
    tcase_add_loop_test(tc, test_attack, 0, (int)NA);
    tcase_add_test(tc, test_enough_attacks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    scene_teardown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
