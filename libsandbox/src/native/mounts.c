/* SPDX-License-Identifier: MIT */
/* The box's mounts, made by the clone child: system calls only, no malloc.
 *
 * Every mount point inside the root filesystem is opened with openat2(2)
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, relative to the root (or to a mount
 * made just before), and mounted on through its descriptor: nothing an
 * image holds (a symlink, a '..') can move a mount outside the box's root.
 * Bind mounts use the new mount API (open_tree, mount_setattr, move_mount)
 * on those descriptors.  For a root caller the root filesystem, the
 * workspace and the extra mounts are idmapped through the box's user
 * namespace: files owned by host uid n appear owned by box uid n (so the
 * caller's files are the box root's, and what the box root writes in the
 * workspace is the caller's on the host).
 *
 * /proc and /sys follow the OCI runtime-spec defaults as runc and crun set
 * them (plus /proc/interrupts, as moby): 12 masked paths (a file: /dev/null
 * bound on it; a directory: an empty read-only tmpfs) and 5 read-only ones.
 * /dev is a tmpfs with five nodes bound read-only from the host (so no box can
 * change a host inode's mode, owner or times: EROFS first, EPERM anyway) and no
 * tty. */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define BOX_RESOLVE                                                            \
    (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* runc's and crun's defaults, plus /proc/interrupts as moby's default
 * profile masks it now (interrupt counts are a side channel). */
static const char *const masked_paths[] = {
    "proc/acpi",       "proc/asound",      "proc/interrupts",
    "proc/kcore",      "proc/keys",        "proc/latency_stats",
    "proc/timer_list", "proc/timer_stats", "proc/sched_debug",
    "proc/scsi",       "sys/firmware",     "sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger",
};
/* {host node, name in the box's /dev}: no tty, no console, no pts. */
static const char *const dev_nodes[][2] = {
    {"/dev/null", "null"},       {"/dev/zero", "zero"},
    {"/dev/full", "full"},       {"/dev/random", "random"},
    {"/dev/urandom", "urandom"},
};
static const char *const dev_links[][2] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};

#define N_OF(a) (sizeof(a) / sizeof *(a))

static void close_keep_errno(int fd)
{
    int err = errno;
    if (fd >= 0)
        close(fd);
    errno = err;
}

/* An O_PATH descriptor of rel under dirfd that never leaves dirfd and
 * follows no symlink. */
static int beneath(int dirfd, const char *rel)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = BOX_RESOLVE};
    while (*rel == '/')
        rel++;
    return (int)syscall(SYS_openat2, dirfd, *rel ? rel : ".", &how, sizeof how);
}

/* "/proc/self/fd/N": a mount(2) target that is exactly that descriptor. */
static const char *fd_path(int fd, char buf[32])
{
    char digits[12];
    int n = 0;
    unsigned v = (unsigned)fd;
    memcpy(buf, "/proc/self/fd/", 14);
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (int i = 0; i < n; i++)
        buf[14 + i] = digits[n - 1 - i];
    buf[14 + n] = '\0';
    return buf;
}

/* A new filesystem of `type` on rel under dirfd. */
static int mount_fs(int dirfd, const char *rel, const char *type,
                    unsigned long flags, const char *data)
{
    char buf[32];
    int fd = beneath(dirfd, rel);
    if (fd < 0)
        return -1;
    int rc = mount(type, fd_path(fd, buf), type, flags, data);
    close_keep_errno(fd);
    return rc;
}

/* Set attrs on a detached tree, idmapped through userns_fd when it is not
 * -1 (the caller's ids shown as the box's).  A filesystem that cannot be
 * idmapped gets a plain bind: the box then sees the files as nobody's,
 * which is never more than it would have. */
static int set_attrs(int tree, uint64_t attrs, int userns_fd)
{
    struct mount_attr attr = {.attr_set = attrs};
    if (userns_fd >= 0) {
        attr.attr_set |= MOUNT_ATTR_IDMAP;
        attr.userns_fd = (uint64_t)userns_fd;
        if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                          sizeof attr) == 0)
            return 0;
        attr.attr_set = attrs;
        attr.userns_fd = 0;
    }
    return mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                         sizeof attr);
}

/* Bind the tree at (srcdir, src) -- src "" means srcdir itself -- onto the
 * descriptor dst, with the MOUNT_ATTR_* bits in attrs set recursively. */
static int bind_onto(int srcdir, const char *src, int dst, uint64_t attrs,
                     int userns_fd)
{
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE;
    int tree = (int)open_tree(srcdir, src, flags | (*src ? 0 : AT_EMPTY_PATH));
    int rc = -1;
    if (tree >= 0 && set_attrs(tree, attrs, userns_fd) == 0 &&
        move_mount(tree, "", dst, "",
                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0)
        rc = 0;
    close_keep_errno(tree);
    return rc;
}

/* Bind a host path onto rel under dirfd. */
static int bind_host(const char *host, int dirfd, const char *rel,
                     uint64_t attrs, int userns_fd)
{
    int dst = beneath(dirfd, rel);
    if (dst < 0)
        return -1;
    int rc = bind_onto(AT_FDCWD, host, dst, attrs, userns_fd);
    close_keep_errno(dst);
    return rc;
}

/* The root filesystem bound on itself (pivot_root needs a mount); returns
 * a descriptor of the new mount's root. */
static int bind_root(const sbx_box *a)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        sbx_box_fail(a, STEP_PRIVATE);
    int tree = (int)open_tree(
        AT_FDCWD, a->root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0 || set_attrs(tree, 0, a->userns_fd) < 0 ||
        move_mount(tree, "", AT_FDCWD, a->root, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        sbx_box_fail(a, STEP_ROOT_BIND);
    return tree; /* now the attached mount's root */
}

/* Mask rel: a file gets /dev/null bound on it, a directory an empty
 * read-only tmpfs (one for all of them: *empty holds the first, later ones
 * are binds of it, cheaper than a superblock each). */
static int mask_one(int rootfd, const char *rel, int *empty)
{
    struct stat st;
    char buf[32];
    int fd = beneath(rootfd, rel);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = fstat(fd, &st);
    uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    if (rc == 0 && S_ISDIR(st.st_mode) && *empty >= 0) {
        rc = bind_onto(*empty, "", fd, ro | MOUNT_ATTR_NODEV, -1);
    } else if (rc == 0 && S_ISDIR(st.st_mode)) {
        rc = mount("tmpfs", fd_path(fd, buf), "tmpfs",
                   MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "mode=555,size=4k");
        if (rc == 0)
            *empty = beneath(rootfd, rel); /* the new tmpfs's root */
    } else if (rc == 0) {
        rc = bind_onto(AT_FDCWD, "/dev/null", fd, ro, -1);
    }
    close_keep_errno(fd);
    return rc;
}

static int readonly_one(int rootfd, const char *rel)
{
    int fd = beneath(rootfd, rel);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = bind_onto(fd, "", fd,
                       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                           MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                       -1);
    close_keep_errno(fd);
    return rc;
}

/* /proc and /sys of the box's namespaces, masked as the OCI defaults. */
static void mount_proc_sys(const sbx_box *a, int rootfd)
{
    if (mount_fs(rootfd, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 NULL) < 0)
        sbx_box_fail(a, STEP_PROC);
    if (mount_fs(rootfd, "sys", "sysfs",
                 MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        sbx_box_fail(a, STEP_SYS);
    for (size_t i = 0; i < N_OF(readonly_paths); i++)
        if (readonly_one(rootfd, readonly_paths[i]) < 0)
            sbx_box_fail(a, STEP_PROC_RO);
    int empty = -1;
    for (size_t i = 0; i < N_OF(masked_paths); i++)
        if (mask_one(rootfd, masked_paths[i], &empty) < 0)
            sbx_box_fail(a, STEP_MASK);
    if (empty >= 0)
        close(empty);
}

static void mount_dev(const sbx_box *a, int rootfd)
{
    if (mount_fs(rootfd, "dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
                 "mode=755,size=65536") < 0)
        sbx_box_fail(a, STEP_DEV);
    int dev = beneath(rootfd, "dev");
    if (dev < 0)
        sbx_box_fail(a, STEP_DEV);
    for (size_t i = 0; i < N_OF(dev_nodes); i++) {
        int fd =
            openat(dev, dev_nodes[i][1],
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0)
            sbx_box_fail(a, STEP_DEV);
        close(fd);
        if (bind_host(dev_nodes[i][0], dev, dev_nodes[i][1],
                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                      -1) < 0)
            sbx_box_fail(a, STEP_DEV);
    }
    for (size_t i = 0; i < N_OF(dev_links); i++)
        if (symlinkat(dev_links[i][1], dev, dev_links[i][0]) < 0)
            sbx_box_fail(a, STEP_DEV);
    if (mkdirat(dev, "shm", 01777) < 0 ||
        mount_fs(dev, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "mode=1777,size=67108864") < 0)
        sbx_box_fail(a, STEP_DEV);
    close(dev);
}

/* The workspace (mounts[0] when there is one) and the extra mounts, in
 * order, so a later mount may sit inside an earlier one. */
static void mount_binds(const sbx_box *a, int rootfd)
{
    for (size_t i = 0; i < a->n_mounts; i++) {
        const sbx_box_mount *m = &a->mounts[i];
        uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        if (!m->rw)
            attrs |= MOUNT_ATTR_RDONLY;
        if (bind_host(m->src, rootfd, m->dst, attrs,
                      m->no_idmap ? -1 : a->userns_fd) < 0)
            sbx_box_fail(a, m->step);
    }
}

void sbx_box_mount_all(const sbx_box *a)
{
    int rootfd = bind_root(a);
    mount_proc_sys(a, rootfd);
    mount_dev(a, rootfd);
    if (mount_fs(rootfd, "tmp", "tmpfs", MS_NOSUID | MS_NODEV, a->tmp_opts) < 0)
        sbx_box_fail(a, STEP_TMP);
    mount_binds(a, rootfd);
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                        MOUNT_ATTR_NODEV};
    if (mount_setattr(rootfd, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0)
        sbx_box_fail(a, STEP_ROOT_RO);
    if (fchdir(rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        sbx_box_fail(a, STEP_PIVOT);
    close(rootfd);
    if (chdir(a->workdir) < 0)
        sbx_box_fail(a, STEP_CHDIR);
}
