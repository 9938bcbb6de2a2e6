/* SPDX-License-Identifier: MIT */
/* The box's user namespace, parent side.  The box's root is never host
 * root: a root caller maps box ids 0..n-1 to its subordinate range
 * (/etc/subuid, /etc/subgid), and without one the run fails with the fix;
 * an unprivileged caller maps its own uid and gid to 0 (the only mapping
 * the kernel lets it write, with setgroups denied). */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <string.h>

int sbx_userns_plan(sbx_userns *u, sbx_err *e)
{
    memset(u, 0, sizeof *u);
    if (geteuid() == 0) {
        sbx_idmap m;
        int rc = sbx_subid_range(&m, e);
        if (rc < 0)
            return rc;
        snprintf(u->uid_map, sizeof u->uid_map, "0 %lu %lu\n",
                 (unsigned long)m.uid_start, (unsigned long)m.count);
        snprintf(u->gid_map, sizeof u->gid_map, "0 %lu %lu\n",
                 (unsigned long)m.gid_start, (unsigned long)m.count);
        u->late = true;
        return 0;
    }
    snprintf(u->uid_map, sizeof u->uid_map, "0 %ld 1\n", (long)geteuid());
    snprintf(u->gid_map, sizeof u->gid_map, "0 %ld 1\n", (long)getegid());
    u->deny_setgroups = true;
    return 0;
}

static int write_proc(pid_t pid, const char *file, const char *val)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
    return sbx_write_file(path, val);
}

int sbx_userns_write(const sbx_userns *u, pid_t pid, sbx_err *e)
{
    int rc = 0;
    if (u->deny_setgroups)
        rc = write_proc(pid, "setgroups", "deny");
    if (rc == 0)
        rc = write_proc(pid, "uid_map", u->uid_map);
    if (rc == 0)
        rc = write_proc(pid, "gid_map", u->gid_map);
    if (rc < 0)
        return sbx_fail_errno(e, SANDBOX_ESPAWN, -rc,
                              "cannot write the box's user namespace id maps "
                              "(uid %.*s, gid %.*s)",
                              (int)strcspn(u->uid_map, "\n"), u->uid_map,
                              (int)strcspn(u->gid_map, "\n"), u->gid_map);
    return 0;
}

/* The holder of the new user namespace: it shares our memory (CLONE_VM:
 * nothing is copied) and only waits, with raw system calls, to be killed:
 * every signal blocked (none of the caller's handlers can run here), and
 * SIGKILLed with its caller should that die first. */
static int hold(void *arg)
{
    uint64_t all = ~(uint64_t)0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof all);
    syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (syscall(SYS_getppid) != (long)(intptr_t)arg)
        syscall(SYS_exit, 0);
    for (;;)
        syscall(SYS_pause);
    return 0;
}

int sbx_userns_open(const sbx_userns *u, void *stack, size_t stack_size,
                    int *fd, sbx_err *e)
{
    *fd = -1;
    pid_t pid =
        clone(hold, (char *)stack + stack_size,
              CLONE_NEWUSER | CLONE_VM | SIGCHLD, (void *)(intptr_t)getpid());
    if (pid < 0)
        return sbx_fail_errno(e, SANDBOX_ESPAWN, errno,
                              "cannot create the box's user namespace (the "
                              "kernel needs CONFIG_USER_NS, and sysctl "
                              "user.max_user_namespaces above 0)");
    char path[64];
    int rc = sbx_userns_write(u, pid, e);
    if (rc == 0) {
        snprintf(path, sizeof path, "/proc/%ld/ns/user", (long)pid);
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd < 0)
            rc = sbx_fail_errno(e, SANDBOX_ESPAWN, errno, "open %s", path);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return rc;
}
