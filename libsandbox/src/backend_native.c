/* SPDX-License-Identifier: MIT */
/* The native backend: the box built directly from Linux namespaces, no
 * daemon and no runtime CLI on the hot path.
 *
 * Parent (the calling thread)             Child (clone, PID 1 of a new pid ns)
 *   resolve the rootfs, create cgroup,
 *   compile seccomp, prepare every path
 *   clone(NEWNS|NEWPID|NEWNET|NEWIPC|  ->  wait on the sync pipe
 *         NEWUTS[|NEWUSER])
 *   [write uid/gid maps]
 *   move the child into the cgroup
 *   release the sync pipe              ->  cgroup ns, hostname, mounts,
 *                                          pivot_root, lo up, drop caps,
 *                                          no_new_privs, seccomp, execve
 *   read the error pipe: EOF = exec'd  <-  (or: which step failed, errno)
 *   capture loop (shared with the container backend); on deadline or
 *   cancel SIGKILL the pid-ns init (the kernel kills the rest) and the
 *   cgroup; read OOM/peak/cpu; remove the cgroup.
 *
 * The child runs only system calls (no malloc, no stdio): the caller may be
 * multi-threaded, and another thread may hold libc locks at clone time. */
#include "native/native.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define SBX_STACK_SIZE (256 * 1024)
#define SBX_MAX_BOX_MOUNTS (SBX_MAX_MOUNTS + 1)

/* What failed in the child, reported through the error pipe. */
enum child_step {
    STEP_SYNC = 1,
    STEP_IDS,
    STEP_CGROUPNS,
    STEP_HOSTNAME,
    STEP_PRIVATE,
    STEP_ROOT_BIND,
    STEP_PROC,
    STEP_PROC_RO,
    STEP_SYS,
    STEP_DEV,
    STEP_TMP,
    STEP_WORKSPACE,
    STEP_MOUNTS,
    STEP_ROOT_RO,
    STEP_PIVOT,
    STEP_CHDIR,
    STEP_LOOPBACK,
    STEP_CAPS,
    STEP_NNP,
    STEP_SECCOMP,
    STEP_EXEC,
    STEP_STDIO,
};

static const char *step_name(int step)
{
    static const char *const names[] = {
        "?",
        "waiting for the parent",
        "setting user and group ids",
        "creating the cgroup namespace",
        "setting the hostname",
        "making mounts private",
        "binding the root filesystem",
        "mounting /proc",
        "making /proc/sys read-only",
        "mounting /sys",
        "populating /dev",
        "mounting /tmp",
        "binding the workspace",
        "binding an extra mount",
        "making the root read-only",
        "pivoting into the root",
        "changing directory",
        "bringing up loopback",
        "dropping capabilities",
        "setting no_new_privs",
        "installing the seccomp filter",
        "executing /bin/sh",
        "setting up stdio",
    };
    return step > 0 && step < (int)(sizeof names / sizeof *names) ? names[step]
                                                                  : "?";
}

typedef struct box_mount {
    char *src; /* host path */
    char *dst; /* path under the new root (before pivot) */
    bool rw, file;
} box_mount;

typedef struct child_args {
    int sync_fd, err_fd, out_w, err_w;
    bool userns;
    const char *root, *proc, *proc_sys, *sys, *dev, *tmp, *tmp_opts;
    const char *workdir; /* inside, after pivot */
    char *dev_nodes[6], *dev_links[4], *dev_shm;
    char *proc_masks[4];
    box_mount mounts[SBX_MAX_BOX_MOUNTS];
    size_t n_mounts;
    struct sock_fprog *prog;
    char *const *argv, *const *envp;
} child_args;

static const char *const dev_node_names[6] = {"null",   "zero",    "full",
                                              "random", "urandom", "tty"};
static const char *const dev_link_names[4][2] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};
static const char *const proc_mask_names[4] = {"kcore", "keys", "timer_list",
                                               "sysrq-trigger"};

__attribute__((noreturn)) static void child_fail(const child_args *a, int step)
{
    int rec[2] = {step, errno};
    ssize_t n = write(a->err_fd, rec, sizeof rec);
    (void)n;
    _exit(127);
}

/* Mount flags of an existing mount that a remount must keep (in a user
 * namespace the kernel refuses to clear locked ones). */
static unsigned long kept_flags(const char *path)
{
    struct statvfs sv;
    unsigned long f = 0;
    if (statvfs(path, &sv) < 0)
        return 0;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    return f;
}

static int bind_ro(const char *src, const char *dst, unsigned long extra)
{
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -1;
    return mount(NULL, dst, NULL,
                 MS_BIND | MS_REMOUNT | MS_RDONLY | extra | kept_flags(dst),
                 NULL);
}

static void setup_dev(const child_args *a)
{
    if (mount("tmpfs", a->dev, "tmpfs", MS_NOSUID | MS_NOEXEC,
              "mode=755,size=65536") < 0)
        child_fail(a, STEP_DEV);
    for (int i = 0; i < 6; i++) {
        char host[32] = "/dev/";
        strcat(host, dev_node_names[i]);
        int fd = open(a->dev_nodes[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            child_fail(a, STEP_DEV);
        close(fd);
        if (mount(host, a->dev_nodes[i], NULL, MS_BIND, NULL) < 0)
            child_fail(a, STEP_DEV);
    }
    for (int i = 0; i < 4; i++)
        if (symlink(dev_link_names[i][1], a->dev_links[i]) < 0)
            child_fail(a, STEP_DEV);
    if (mkdir(a->dev_shm, 01777) < 0 ||
        mount("tmpfs", a->dev_shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=1777,size=67108864") < 0)
        child_fail(a, STEP_DEV);
}

static void loopback_up(const child_args *a)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        child_fail(a, STEP_LOOPBACK);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        child_fail(a, STEP_LOOPBACK);
    close(s);
}

static void drop_caps(const child_args *a)
{
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail(a, STEP_CAPS);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
        errno != EINVAL)
        child_fail(a, STEP_CAPS);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) < 0)
        child_fail(a, STEP_CAPS);
}

static int child_main(void *arg)
{
    const child_args *a = arg;
    char byte;

    /* stdio first, so nothing the box does can reach the caller's fds. */
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(a->out_w, 1) < 0 ||
        dup2(a->err_w, 2) < 0)
        child_fail(a, STEP_STDIO);
    /* Every other fd, whoever opened it, closes at exec. */
    if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
        child_fail(a, STEP_STDIO);

    if (read(a->sync_fd, &byte, 1) != 1)
        child_fail(a, STEP_SYNC);
    /* Raw system calls: glibc's set*id wrappers broadcast to every thread
     * the caller had, which do not exist in this child, and would hang. */
    if (a->userns && (syscall(SYS_setresgid, 0, 0, 0) < 0 ||
                      syscall(SYS_setresuid, 0, 0, 0) < 0))
        child_fail(a, STEP_IDS);
    if (!a->userns && syscall(SYS_setgroups, 0, NULL) < 0)
        child_fail(a, STEP_IDS);
    if (unshare(CLONE_NEWCGROUP) < 0)
        child_fail(a, STEP_CGROUPNS);
    if (sethostname("sandbox", 7) < 0)
        child_fail(a, STEP_HOSTNAME);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail(a, STEP_PRIVATE);
    if (mount(a->root, a->root, NULL, MS_BIND | MS_REC, NULL) < 0)
        child_fail(a, STEP_ROOT_BIND);

    if (mount("proc", a->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
        0)
        child_fail(a, STEP_PROC);
    if (bind_ro(a->proc_sys, a->proc_sys, 0) < 0)
        child_fail(a, STEP_PROC_RO);
    for (int i = 0; i < 4; i++)
        if (access(a->proc_masks[i], F_OK) == 0 &&
            mount("/dev/null", a->proc_masks[i], NULL, MS_BIND, NULL) < 0)
            child_fail(a, STEP_PROC_RO);
    if (mount("sysfs", a->sys, "sysfs",
              MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        child_fail(a, STEP_SYS);
    setup_dev(a);
    if (mount("tmpfs", a->tmp, "tmpfs", MS_NOSUID | MS_NODEV, a->tmp_opts) < 0)
        child_fail(a, STEP_TMP);
    for (size_t i = 0; i < a->n_mounts; i++) {
        const box_mount *m = &a->mounts[i];
        int step = i == 0 && strcmp(a->workdir, "/workspace") == 0
                       ? STEP_WORKSPACE
                       : STEP_MOUNTS;
        if (m->rw) {
            if (mount(m->src, m->dst, NULL, MS_BIND | MS_REC, NULL) < 0 ||
                mount(NULL, m->dst, NULL,
                      MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV |
                          kept_flags(m->dst),
                      NULL) < 0)
                child_fail(a, step);
        } else if (bind_ro(m->src, m->dst, MS_NOSUID | MS_NODEV) < 0) {
            child_fail(a, step);
        }
    }
    if (mount(NULL, a->root, NULL,
              MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
                  kept_flags(a->root),
              NULL) < 0)
        child_fail(a, STEP_ROOT_RO);
    if (chdir(a->root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0)
        child_fail(a, STEP_PIVOT);
    if (chdir(a->workdir) < 0)
        child_fail(a, STEP_CHDIR);
    loopback_up(a);

    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    drop_caps(a);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(a, STEP_NNP);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, a->prog) < 0)
        child_fail(a, STEP_SECCOMP);
    execve("/bin/sh", a->argv, a->envp);
    child_fail(a, STEP_EXEC);
}

/* ---- parent side ------------------------------------------------------ */

typedef struct native_run {
    child_args a;
    char *rootfs;
    char *paths[32]; /* owned strings referenced from a */
    size_t n_paths;
    char **envp;
    char *argv[4];
    struct sock_fprog prog;
    sbx_cgroup cg;
    bool have_cg;
    bool own_rootfs; /* rootfs is our cache's export, not the caller's */
    int rootfs_lock; /* held shared while the box may use the export */
    char tmp_opts[64];
} native_run;

static char *own(native_run *r, char *s)
{
    if (s != NULL && r->n_paths < sizeof r->paths / sizeof *r->paths)
        r->paths[r->n_paths++] = s;
    else if (s != NULL) {
        free(s);
        return NULL;
    }
    return s;
}

static void native_run_free(native_run *r)
{
    for (size_t i = 0; i < r->n_paths; i++)
        free(r->paths[i]);
    for (int i = 0; i < 6; i++)
        free(r->a.dev_nodes[i]);
    for (int i = 0; i < 4; i++) {
        free(r->a.dev_links[i]);
        free(r->a.proc_masks[i]);
    }
    free(r->a.dev_shm);
    for (size_t i = 0; i < r->a.n_mounts; i++) {
        free(r->a.mounts[i].src);
        free(r->a.mounts[i].dst);
    }
    if (r->envp != NULL)
        for (char **p = r->envp; *p; p++)
            free(*p);
    free(r->envp);
    free(r->prog.filter);
    free(r->rootfs);
    sbx_closep(&r->rootfs_lock);
    if (r->have_cg)
        sbx_cgroup_destroy(&r->cg);
}

/* The box's environment: a fixed PATH and HOME, then opts.env. */
static int build_env(native_run *r, const sbx_plan *p, sbx_err *e)
{
    r->envp = calloc(p->n_env + 4, sizeof(char *));
    if (r->envp == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    size_t n = 0;
    r->envp[n++] = sbx_strdup(
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    r->envp[n++] = sbx_strdup("HOME=/root");
    r->envp[n++] = sbx_strdup("HOSTNAME=sandbox");
    for (size_t i = 0; i < p->n_env; i++)
        r->envp[n++] = sbx_strdup(p->env[i]);
    for (size_t i = 0; i < n; i++)
        if (r->envp[i] == NULL)
            return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    return 0;
}

static int add_mount(native_run *r, const char *src, const char *box, bool rw,
                     sbx_err *e)
{
    struct stat st;
    box_mount *m = &r->a.mounts[r->a.n_mounts];
    if (r->a.n_mounts >= SBX_MAX_BOX_MOUNTS)
        return sbx_fail(e, SANDBOX_EINVAL, "too many mounts");
    m->src = sbx_strdup(src);
    m->dst = sbx_asprintf("%s%s", r->rootfs, box);
    m->rw = rw;
    r->a.n_mounts++;
    if (m->src == NULL || m->dst == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if (stat(src, &st) < 0)
        return sbx_fail_errno(e, SANDBOX_EINVAL, errno, "mount source %s", src);
    m->file = !S_ISDIR(st.st_mode);
    if (stat(m->dst, &st) == 0)
        return 0;
    if (r->own_rootfs) {
        /* Our cache's copy: an empty mount point may be added. */
        int fd = -1;
        if (m->file)
            fd = open(m->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if ((m->file && fd >= 0) ||
            (!m->file && sbx_mkdir_p(m->dst, 0755) == 0)) {
            if (fd >= 0)
                close(fd);
            return 0;
        }
    }
    return sbx_fail(e, SANDBOX_EINVAL,
                    "mount point %s does not exist in the root filesystem %s, "
                    "and the native runtime keeps the root read-only: create "
                    "it in the image (an empty %s)",
                    box, r->rootfs, m->file ? "file" : "directory");
}

static int prepare(native_run *r, const sbx_plan *p, sbx_err *e)
{
    int rc;
    child_args *a = &r->a;

    if ((rc = sbx_rootfs_resolve(p->image, &r->rootfs, &r->rootfs_lock, e)) < 0)
        return rc;
    r->own_rootfs = p->image[0] != '/';
    a->root = r->rootfs;
    a->proc = own(r, sbx_asprintf("%s/proc", r->rootfs));
    a->proc_sys = own(r, sbx_asprintf("%s/proc/sys", r->rootfs));
    a->sys = own(r, sbx_asprintf("%s/sys", r->rootfs));
    a->dev = own(r, sbx_asprintf("%s/dev", r->rootfs));
    a->tmp = own(r, sbx_asprintf("%s/tmp", r->rootfs));
    if (!a->proc || !a->proc_sys || !a->sys || !a->dev || !a->tmp)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    for (int i = 0; i < 6; i++)
        a->dev_nodes[i] = sbx_asprintf("%s/%s", a->dev, dev_node_names[i]);
    for (int i = 0; i < 4; i++) {
        a->dev_links[i] = sbx_asprintf("%s/%s", a->dev, dev_link_names[i][0]);
        a->proc_masks[i] = sbx_asprintf("%s/%s", a->proc, proc_mask_names[i]);
    }
    a->dev_shm = sbx_asprintf("%s/shm", a->dev);
    for (int i = 0; i < 6; i++)
        if (a->dev_nodes[i] == NULL)
            return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    for (int i = 0; i < 4; i++)
        if (a->dev_links[i] == NULL || a->proc_masks[i] == NULL)
            return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if (a->dev_shm == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    static const char *const needed[] = {"proc", "sys", "dev", "tmp"};
    for (size_t i = 0; i < 4; i++) {
        struct stat st;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", r->rootfs, needed[i]);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            return sbx_fail(e, SANDBOX_EINVAL,
                            "the root filesystem %s has no /%s directory: the "
                            "native runtime needs empty /proc, /sys, /dev and "
                            "/tmp directories to mount on",
                            r->rootfs, needed[i]);
    }
    /* /tmp: a tmpfs capped at the memory limit (its pages count against the
     * memory cgroup as well). */
    snprintf(r->tmp_opts, sizeof r->tmp_opts, "mode=1777,size=%llu",
             (unsigned long long)p->memory_bytes);
    a->tmp_opts = r->tmp_opts;
    a->workdir = "/";
    if (p->workspace != NULL) {
        if ((rc = add_mount(r, p->workspace, "/workspace", true, e)) < 0)
            return rc;
        a->workdir = "/workspace";
    }
    for (char **m = p->mount_args; m && *m; m++) {
        /* "host:box:ro|rw" as built by sbx_plan_init (validated: no ':'
         * inside the paths). */
        char host[4096], box[4096], mode[8];
        if (sscanf(*m, "%4095[^:]:%4095[^:]:%7s", host, box, mode) != 3)
            return sbx_fail(e, SANDBOX_EINVAL, "bad mount '%s'", *m);
        if ((rc = add_mount(r, host, box, strcmp(mode, "rw") == 0, e)) < 0)
            return rc;
    }
    if ((rc = build_env(r, p, e)) < 0)
        return rc;
    r->argv[0] = "sh";
    r->argv[1] = "-c";
    r->argv[2] = (char *)p->command;
    r->argv[3] = NULL;
    a->argv = r->argv;
    a->envp = r->envp;
    if ((rc = sbx_seccomp_build(&r->prog, e)) < 0)
        return rc;
    a->prog = &r->prog;
    a->userns = geteuid() != 0;
    if ((rc = sbx_cgroup_create(&r->cg, p, e)) < 0)
        return rc;
    r->have_cg = true;
    return 0;
}

static int write_proc(pid_t pid, const char *file, const char *val)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
    return sbx_write_file(path, val);
}

typedef struct native_stop {
    native_run *r;
    pid_t init;
} native_stop;

static void stop_native(void *vctx, sbx_child *c)
{
    native_stop *s = vctx;
    (void)c;
    /* SIGKILL to the pid namespace's init takes every process in it down;
     * the cgroup catches anything that escaped the namespace. */
    if (s->init > 0)
        kill(s->init, SIGKILL);
    sbx_cgroup_kill(&s->r->cg);
}

bool sbx_native_available(void)
{
    return true;
}

unsigned sbx_native_gc(void)
{
    return sbx_cgroup_sweep(10.0) + sbx_rootfs_sweep();
}

static int native_run_box(const sbx_plan *p, sandbox_result *res, sbx_err *e)
{
    native_run r;
    int out[2] = {-1, -1}, err[2] = {-1, -1}, sync[2] = {-1, -1},
        epipe[2] = {-1, -1};
    void *stack = MAP_FAILED;
    pid_t pid = -1;
    int rc;

    memset(&r, 0, sizeof r);
    r.rootfs_lock = -1;
    if ((rc = prepare(&r, p, e)) < 0)
        goto out;
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        pipe2(sync, O_CLOEXEC) < 0 || pipe2(epipe, O_CLOEXEC) < 0) {
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "pipe2");
        goto out;
    }
    r.a.sync_fd = sync[0];
    r.a.err_fd = epipe[1];
    r.a.out_w = out[1];
    r.a.err_w = err[1];
    stack = mmap(NULL, SBX_STACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        rc = sbx_fail_errno(e, SANDBOX_ENOMEM, errno, "mmap");
        goto out;
    }
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                CLONE_NEWUTS | SIGCHLD;
    if (r.a.userns)
        flags |= CLONE_NEWUSER;
    double t0 = sbx_now();
    pid = clone(child_main, (char *)stack + SBX_STACK_SIZE, flags, &r.a);
    if (pid < 0) {
        rc = sbx_fail_errno(e, SANDBOX_ESPAWN, errno,
                            "cannot create the box's namespaces%s",
                            r.a.userns ? " (unprivileged user namespaces may "
                                         "be disabled: sysctl "
                                         "kernel.unprivileged_userns_clone)"
                                       : "");
        goto out;
    }
    sbx_closep(&sync[0]);
    sbx_closep(&epipe[1]);
    sbx_closep(&out[1]);
    sbx_closep(&err[1]);
    if (r.a.userns) {
        char map[64];
        snprintf(map, sizeof map, "0 %ld 1\n", (long)geteuid());
        int wrc = write_proc(pid, "setgroups", "deny");
        if (wrc == 0)
            wrc = write_proc(pid, "uid_map", map);
        snprintf(map, sizeof map, "0 %ld 1\n", (long)getegid());
        if (wrc == 0)
            wrc = write_proc(pid, "gid_map", map);
        if (wrc < 0) {
            rc = sbx_fail_errno(e, SANDBOX_ESPAWN, -wrc,
                                "cannot write the user namespace's id maps");
            goto kill_child;
        }
    }
    if ((rc = sbx_cgroup_add(&r.cg, pid, e)) < 0)
        goto kill_child;
    if (write(sync[1], "x", 1) != 1) {
        rc = sbx_fail_errno(e, SANDBOX_ESPAWN, errno, "releasing the box");
        goto kill_child;
    }
    sbx_closep(&sync[1]);

    /* EOF: the child exec'd /bin/sh.  A record: which step failed. */
    int rec[2];
    ssize_t n;
    do
        n = read(epipe[0], rec, sizeof rec);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof rec) {
        errno = rec[1];
        rc = sbx_fail_errno(
            e, rec[0] == STEP_EXEC ? SANDBOX_ERUNTIME : SANDBOX_ESPAWN, rec[1],
            "the native box could not start: %s%s%s", step_name(rec[0]),
            rec[0] == STEP_EXEC ? " in " : "",
            rec[0] == STEP_EXEC ? r.rootfs : "");
        goto kill_child;
    }

    sbx_child c = {.pid = pid, .pidfd = -1, .out_fd = out[0], .err_fd = err[0]};
    out[0] = err[0] = -1;
#ifdef SYS_pidfd_open
    c.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    fcntl(c.out_fd, F_SETFL, O_NONBLOCK);
    fcntl(c.err_fd, F_SETFL, O_NONBLOCK);
    sbx_capture cap = {.cap = p->output_limit};
    native_stop ns = {.r = &r, .init = pid};
    rc = sbx_capture_run(&c, p->timeout_sec - (sbx_now() - t0), p->cancel_fd,
                         stop_native, &ns, &cap, e);
    pid = -1; /* reaped by the capture loop */
    sbx_child_close(&c);
    res->out = cap.out;
    res->err = cap.err;
    res->wall_sec = sbx_now() - t0;
    sbx_cg_stats st;
    sbx_cgroup_stats(&r.cg, &st);
    res->peak_memory_bytes = st.peak_bytes;
    res->cpu_sec = st.cpu_sec;
    if (rc < 0)
        goto out;

    if (cap.timed_out) {
        res->reason = SANDBOX_END_TIMEOUT;
        res->exit_code = SANDBOX_EXIT_TIMEOUT;
        sbx_set_message(res, sbx_asprintf("timed out after %g s; the box was "
                                          "killed",
                                          p->timeout_sec));
    } else if (cap.cancelled) {
        res->reason = SANDBOX_END_CANCELLED;
        res->exit_code = 130;
        sbx_set_message(res, sbx_strdup("cancelled; the box was killed"));
    } else {
        int code = WIFEXITED(cap.status) ? WEXITSTATUS(cap.status)
                                         : 128 + WTERMSIG(cap.status);
        res->exit_code = code;
        if (st.oom_kills > 0) {
            res->reason = SANDBOX_END_OOM;
            res->term_signal = SIGKILL;
            sbx_set_message(
                res, sbx_asprintf("out of memory: the kernel killed %llu "
                                  "process(es) at the %s memory limit",
                                  (unsigned long long)st.oom_kills, p->memory));
        } else if (code > 128 && code < 128 + 65) {
            res->reason = SANDBOX_END_SIGNALED;
            res->term_signal = code - 128;
            sbx_set_message(res, sbx_asprintf("killed by signal %d (exit %d)",
                                              code - 128, code));
        } else {
            res->reason = SANDBOX_END_EXITED;
            if (code != 0)
                sbx_set_message(res, sbx_asprintf("exited with code %d", code));
        }
    }
    rc = 0;
    goto out;

kill_child:
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
out:
    for (int i = 0; i < 2; i++) {
        sbx_closep(&out[i]);
        sbx_closep(&err[i]);
        sbx_closep(&sync[i]);
        sbx_closep(&epipe[i]);
    }
    if (stack != MAP_FAILED)
        munmap(stack, SBX_STACK_SIZE);
    native_run_free(&r);
    return rc;
}

/* The workspace hook: /workspace is the capped overlay (workspace.c). */
int sbx_native_run(const sbx_plan *p, sandbox_result *res, sbx_err *e)
{
    sbx_ws *ws = NULL;
    sbx_plan wp = *p;
    int rc = sbx_ws_prepare(p, NULL, &ws, e);
    if (rc < 0)
        return rc;
    if (ws != NULL)
        wp.workspace = (char *)sbx_ws_source(ws);
    return sbx_ws_finish(ws, res, native_run_box(&wp, res, e), e);
}
