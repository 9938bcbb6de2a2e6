/* SPDX-License-Identifier: MIT */
/* The clone child: PID 1 of the box's pid namespace until it execs the
 * command.  System calls only (no malloc, no stdio): the caller may be
 * multi-threaded, and another thread may hold libc locks at clone time.
 *
 *   prologue   the parent's fds closed, signal mask empty and every
 *              disposition default, a new session (no controlling tty),
 *              umask 022, stdin /dev/null, stdout/stderr the pipes, every
 *              other fd close-on-exec
 *   wait       the parent has moved it into the cgroup (and, for an
 *              unprivileged caller, written the id maps of the user
 *              namespace it was cloned into)
 *   box        cgroup ns, hostname, mounts + pivot (mounts.c), lo up
 *   userns     root caller only: now, after the mounts made as host root,
 *              the user namespace the parent made (box 0 = the first
 *              subordinate id), entered with setns; the mount, pid, net,
 *              ipc and uts
 *              namespaces stay owned by the initial one, so the box has no
 *              capability over any of them
 *   lockdown   parent-death SIGKILL, RLIMIT_CORE 0, no capabilities,
 *              no_new_privs, seccomp, execve */
#include "../../relay/pathsearch.h"
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

const char *sbx_box_step_name(int step)
{
    static const char *const names[STEP_N] = {
        [STEP_SYNC] = "waiting for the parent",
        [STEP_IDS] = "setting user and group ids",
        [STEP_CGROUPNS] = "creating the cgroup namespace",
        [STEP_HOSTNAME] = "setting the hostname",
        [STEP_PRIVATE] = "making mounts private",
        [STEP_ROOT_BIND] = "binding the root filesystem",
        [STEP_PROC] = "mounting /proc",
        [STEP_PROC_RO] = "making /proc paths read-only",
        [STEP_SYS] = "mounting /sys",
        [STEP_DEV] = "populating /dev",
        [STEP_TMP] = "mounting /tmp",
        [STEP_WORKSPACE] = "binding the workspace",
        [STEP_MOUNTS] = "binding an extra mount",
        [STEP_ROOT_RO] = "making the root read-only",
        [STEP_PIVOT] = "pivoting into the root",
        [STEP_CHDIR] = "changing directory",
        [STEP_LOOPBACK] = "bringing up loopback",
        [STEP_CAPS] = "dropping capabilities",
        [STEP_NNP] = "setting no_new_privs",
        [STEP_SECCOMP] = "installing the seccomp filter",
        [STEP_EXEC] = "executing /bin/sh",
        [STEP_STDIO] = "setting up stdio",
        [STEP_SIGNALS] = "resetting signals",
        [STEP_SESSION] = "starting a new session",
        [STEP_USERNS] = "entering the user namespace",
        [STEP_PDEATHSIG] = "tying the box to its caller's life",
        [STEP_MASK] = "masking /proc and /sys paths",
    };
    return step > 0 && step < STEP_N && names[step] ? names[step] : "?";
}

void sbx_box_fail(const sbx_box *a, int step)
{
    int rec[2] = {step, errno};
    ssize_t n = write(a->err_fd, rec, sizeof rec);
    (void)n;
    _exit(127);
}

/* Every disposition default, the mask empty: a caller that ignores SIGPIPE
 * (Python) or blocks signals must not hand that to the box.  Dispositions
 * first, so nothing pending reaches one of the caller's handlers. */
static void reset_signals(const sbx_box *a)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* glibc's reserved ones: EINVAL */
    uint64_t none = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none) < 0)
        sbx_box_fail(a, STEP_SIGNALS);
}

/* fd 0 the stdin pipe or /dev/null, 1 and 2 the pipes, whatever numbers
 * they had. */
static void setup_stdio(const sbx_box *a)
{
    int in = a->in_r >= 0 ? a->in_r : open("/dev/null", O_RDONLY | O_CLOEXEC);
    int nul = a->out_w < 0 || a->err_w < 0
                  ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                  : -1;
    int out = a->out_w >= 0 ? a->out_w : nul,
        err = a->err_w >= 0 ? a->err_w : nul;
    int fds[3] = {in < 0 ? -1 : fcntl(in, F_DUPFD_CLOEXEC, 3),
                  out < 0 ? -1 : fcntl(out, F_DUPFD_CLOEXEC, 3),
                  err < 0 ? -1 : fcntl(err, F_DUPFD_CLOEXEC, 3)};
    for (int i = 0; i < 3; i++)
        if (fds[i] < 0 || dup2(fds[i], i) < 0)
            sbx_box_fail(a, STEP_STDIO);
    /* Every other fd, whoever opened it, closes at exec. */
    if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0)
        sbx_box_fail(a, STEP_STDIO);
}

/* Box init: fd 3 becomes the control socket just before exec, so no fd the
 * child still uses may be 3 (the child's copy of *a is its own). */
static void free_fd3(sbx_box *a)
{
    int *used[] = {&a->sync_fd, &a->err_fd, &a->userns_fd, &a->ctl_fd};
    for (size_t i = 0; i < sizeof used / sizeof *used; i++)
        if (*used[i] == 3) {
            int fd = fcntl(3, F_DUPFD_CLOEXEC, 4);
            if (fd < 0)
                sbx_box_fail(a, STEP_STDIO);
            *used[i] = fd; /* fd 3 itself closes at exec or is replaced */
        }
}

/* The control socket as fd 3, inherited by the command. */
static void pass_ctl(const sbx_box *a)
{
    if (a->ctl_fd < 0)
        return;
    if (a->ctl_fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup3(a->ctl_fd, 3, 0) < 0)
        sbx_box_fail(a, STEP_STDIO);
}

static void prologue(sbx_box *a)
{
    for (int i = 0; i < 5; i++)
        if (a->parent_fds[i] >= 0)
            close(a->parent_fds[i]);
    if (a->ctl_fd >= 0)
        free_fd3(a);
    reset_signals(a);
    if (setsid() < 0)
        sbx_box_fail(a, STEP_SESSION);
    umask(022);
    setup_stdio(a);
}

static void wait_parent(const sbx_box *a)
{
    char byte;
    ssize_t n;
    do
        n = recv(a->sync_fd, &byte, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
        if (n == 0)
            errno = EPIPE;
        sbx_box_fail(a, STEP_SYNC);
    }
}

/* Raw system calls: glibc's set*id wrappers broadcast to every thread the
 * caller had, which do not exist in this child, and would hang. */
static void set_ids(const sbx_box *a)
{
    if (a->drop_groups && syscall(SYS_setgroups, 0, NULL) < 0)
        sbx_box_fail(a, STEP_IDS);
    if (syscall(SYS_setresgid, 0, 0, 0) < 0 ||
        syscall(SYS_setresuid, 0, 0, 0) < 0)
        sbx_box_fail(a, STEP_IDS);
}

/* Root caller: the user namespace (made by the parent, maps written) is
 * entered after the mounts, made as host root. */
static void enter_userns(const sbx_box *a)
{
    if (setns(a->userns_fd, CLONE_NEWUSER) < 0)
        sbx_box_fail(a, STEP_USERNS);
    set_ids(a);
}

/* SIGKILL when the caller dies (set after the last credential change,
 * which would clear it).  If the caller died before, its end of the sync
 * socket is closed already: a peek reads EOF. */
static void die_with_parent(const sbx_box *a)
{
    char byte;
    if (!a->no_pdeathsig && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        sbx_box_fail(a, STEP_PDEATHSIG);
    if (recv(a->sync_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
        _exit(127);
}

static void loopback_up(const sbx_box *a)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        sbx_box_fail(a, STEP_LOOPBACK);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        sbx_box_fail(a, STEP_LOOPBACK);
    close(s);
}

static void drop_caps(const sbx_box *a)
{
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            sbx_box_fail(a, STEP_CAPS);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
        errno != EINVAL)
        sbx_box_fail(a, STEP_CAPS);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) < 0)
        sbx_box_fail(a, STEP_CAPS);
}

static void lockdown(const sbx_box *a)
{
    struct rlimit core = {0, 0};
    die_with_parent(a);
    setrlimit(RLIMIT_CORE, &core);
    drop_caps(a);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        sbx_box_fail(a, STEP_NNP);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, a->prog) < 0)
        sbx_box_fail(a, STEP_SECCOMP);
}

/* argv mode: execve argv[0] as is when it holds a '/', else each entry of
 * the box's PATH in turn (execvpe's rules without its shell fallback, as
 * the OCI runtimes do; glibc's execvpe would search the caller's PATH).
 * A stack buffer: no allocation here. */
static void exec_argv(const sbx_box *a)
{
    sbx_exec_in_path(a->path, a->argv, a->envp);
}

int sbx_box_main(void *arg)
{
    sbx_box *a = arg; /* the child's own copy (no CLONE_VM) */
    prologue(a);
    wait_parent(a);
    if (!a->late_userns)
        set_ids(a);
    if (unshare(CLONE_NEWCGROUP) < 0)
        sbx_box_fail(a, STEP_CGROUPNS);
    if (sethostname("sandbox", 7) < 0)
        sbx_box_fail(a, STEP_HOSTNAME);
    sbx_box_mount_all(a);
    loopback_up(a);
    if (a->late_userns)
        enter_userns(a);
    lockdown(a);
    pass_ctl(a);
    if (a->path != NULL)
        exec_argv(a);
    else
        execve("/bin/sh", a->argv, a->envp);
    sbx_box_fail(a, STEP_EXEC);
}
