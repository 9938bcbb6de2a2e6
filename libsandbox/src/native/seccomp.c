/* SPDX-License-Identifier: MIT */
/* The native backend's seccomp filter, built with libseccomp: allow by
 * default, fail with EPERM what container runtimes' default profiles
 * block (mount, ptrace, bpf, keyctl, kexec, modules, perf, namespaces,
 * clock and swap changes, ...).  It is compiled to classic BPF in the
 * parent, so the child only has to call prctl(). */
#include "native.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>

static const char *const denied[] = {
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "_sysctl",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
    "vm86",
    "vm86old",
    "adjtimex",
    "fanotify_init",
    "pidfd_getfd",
};

int sbx_seccomp_build(struct sock_fprog *prog, sbx_err *e)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc, fd = -1;

    memset(prog, 0, sizeof *prog);
    if (ctx == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "seccomp_init failed");
    /* Syscalls of other ABIs (i386, x32) kill the process: a classic way
     * around deny-lists. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    for (size_t i = 0; rc == 0 && i < sizeof denied / sizeof *denied; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR || nr < 0)
            continue; /* not on this architecture */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    /* clone with any namespace flag: EPERM.  clone3 passes its flags in
     * memory a filter cannot read, so it answers ENOSYS and libc falls back
     * to clone, which is checked. */
    const uint64_t ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                        CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                        CLONE_NEWCGROUP;
    if (rc == 0)
        /* One rule per flag: any one of them set means EPERM. */
        for (uint64_t bit = 1; rc == 0 && bit != 0 && bit <= ns; bit <<= 1)
            if (ns & bit)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
                                      SCMP_SYS(clone), 1,
                                      SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
    if (rc == 0) {
        int nr = seccomp_syscall_resolve_name("clone3");
        if (nr >= 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    }
    if (rc < 0) {
        seccomp_release(ctx);
        return sbx_fail_errno(e, SANDBOX_EIO, -rc,
                              "building the seccomp "
                              "filter");
    }
    /* libseccomp 2.5 exports BPF only to an fd: go through a memfd. */
    fd = memfd_create("sandbox-seccomp", MFD_CLOEXEC);
    if (fd < 0 || (rc = seccomp_export_bpf(ctx, fd)) < 0) {
        int err = fd < 0 ? errno : -rc;
        if (fd >= 0)
            close(fd);
        seccomp_release(ctx);
        return sbx_fail_errno(e, SANDBOX_EIO, err, "exporting seccomp BPF");
    }
    seccomp_release(ctx);
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0) {
        close(fd);
        return sbx_fail(e, SANDBOX_EIO, "seccomp BPF has a bad size");
    }
    struct sock_filter *f = malloc((size_t)size);
    if (f == NULL || pread(fd, f, (size_t)size, 0) != size) {
        free(f);
        close(fd);
        return sbx_fail(e, SANDBOX_EIO, "reading seccomp BPF");
    }
    close(fd);
    prog->filter = f;
    prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    return 0;
}
