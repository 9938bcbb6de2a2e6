/* SPDX-License-Identifier: MIT */
/* The workspace: what the box sees at /workspace, capped, owned by the
 * box's root, and applied back to the host without trusting a single path
 * the box made.  docs/workspace.md has the design and its reasons.
 *
 *   /run/libsandbox/ws/<run name>/   0711 root (a box root may traverse)
 *       lock   flock(LOCK_EX) held by the run: a free lock means stale
 *       t/     tmpfs, size=disk_limit, nosuid, nodev, mode 0700
 *         u/   overlay upper (root chowned to the box's view of the owner)
 *         w/   overlay work
 *         l/   transient: the host workspace, idmapped and read-only
 *         c/   copy-mode only: the workspace copied in, chowned
 *       m/     overlay(lower=t/l or t/c, upper=t/u): bound at /workspace;
 *              mode 0000 underneath
 *
 * The box never writes a host inode: the lower layer is a read-only mount.
 * After the run, sbx_ws_finish walks the upper directory and applies it to
 * the host workspace relative to a directory fd opened before the box
 * started, one component at a time with O_NOFOLLOW, so nothing outside the
 * workspace is read or written whatever links the box (or anyone) planted. */
#include "internal.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 8
#endif

/* struct mount_attr of <linux/mount.h> (which clashes with glibc's). */
typedef struct ws_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
} ws_mount_attr;

#define WS_TMP_PREFIX ".sbx-ws-"

struct sbx_ws {
    char *dir; /* SBX_WS_RUN_DIR/<name> */
    char *host;
    int root_fd; /* the host workspace, opened before the box starts */
    int lock_fd;
    uid_t uid; /* the workspace's owner: what committed files get */
    gid_t gid;
    uint64_t limit;
    uint64_t copied_bytes; /* copy mode: the copy's share of the tmpfs */
    bool tmpfs_mounted, merged_mounted, copy_mode;
    char merged[4096];
};

/* ---- small helpers ------------------------------------------------------ */

static char *sub(const sbx_ws *w, const char *leaf)
{
    return sbx_asprintf("%s/%s", w->dir, leaf);
}

/* Take the lock of a run directory we just made.  Another caller's sweep
 * (sbx_ws_sweep_at) may hold it for a moment between our create and our
 * flock, to look at the directory and leave it: wait that out (bounded),
 * never fail the run for it. */
static int lock_new(int fd)
{
    for (int i = 0; i < 2000; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    errno = EWOULDBLOCK;
    return -1;
}

/* A directory component under parent: created with mode if missing, must
 * be a real directory owned by root and writable by nobody else. */
static int private_dir(int parent, const char *name, mode_t mode,
                       const char *shown, sbx_err *e)
{
    if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, errno,
                              "cannot create %s (the workspace staging "
                              "directory; the library needs root for it)",
                              shown);
    int fd =
        openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, err,
                              "%s is not a directory (a symlink?): remove it",
                              shown);
    }
    if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
        close(fd);
        return sbx_fail(e, SANDBOX_ERUNTIME,
                        "%s is owned by uid %ld with mode %04o: it must be "
                        "root's and writable only by root; remove it",
                        shown, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
    }
    /* A box root (an unprivileged host id) must be able to traverse the
     * path to its merged directory; nobody may list it. */
    if ((st.st_mode & 0111) != 0111 && fchmod(fd, 0711) < 0) {
        int err = errno;
        close(fd);
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, err, "chmod %s", shown);
    }
    return fd;
}

static int open_staging_root(sbx_err *e)
{
    sbx_autoclose int run = open("/run", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (run < 0)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, errno, "open /run");
    sbx_autoclose int lib =
        private_dir(run, "libsandbox", 0711, "/run/libsandbox", e);
    if (lib < 0)
        return lib;
    return private_dir(lib, "ws", 0711, SBX_WS_RUN_DIR, e);
}

static void append_message(sandbox_result *res, const char *add)
{
    if (res == NULL || add == NULL)
        return;
    const char *old = res->message;
    sbx_set_message(
        res, sbx_asprintf("%s%s%s", old ? old : "", old ? "; " : "", add));
}

/* ---- the user namespace an idmapped mount needs -------------------------- */

/* The holder only has to exist until the parent opened its namespace; the
 * parent then SIGKILLs it.  It must not wait on a pipe: a concurrent
 * thread's holder (or any fork) inherits the pipe's write end and the two
 * holders would wait for each other for ever. */
static int ns_child(void *varg)
{
    (void)varg;
    for (;;)
        pause();
    return 0;
}

/* How the box sees host ids: the workspace's owner is the box's root (so
 * the box may modify it), host root takes the owner's place, every other
 * id i < count is box id i.  start is where box id 0 is on the host. */
typedef struct ws_map {
    uint32_t start[2], owner[2], count; /* [0] uids, [1] gids */
} ws_map;

/* The host id (as the box's namespace names it, start + box id) that the
 * box sees for the on-disk id `id`. */
static uint32_t map_id(const ws_map *m, uint32_t id, int g)
{
    uint32_t o = m->owner[g], s = m->start[g];
    if (id >= m->count)
        id = 65534u % m->count; /* the box's nobody */
    if (id == o)
        return s;
    if (id == 0)
        return s + o;
    return s + id;
}

static bool map_is_identity(const ws_map *m)
{
    return m->start[0] == 0 && m->start[1] == 0 && m->owner[0] == 0 &&
           m->owner[1] == 0;
}

/* uid_map/gid_map text for map_id: "inside outside count" lines. */
static void map_lines(const ws_map *m, int g, char *buf, size_t n)
{
    uint32_t o = m->owner[g], s = m->start[g], c = m->count;
    size_t len = 0;
    if (o == 0) {
        snprintf(buf, n, "0 %lu %lu\n", (unsigned long)s, (unsigned long)c);
        return;
    }
    len += (size_t)snprintf(buf + len, n - len, "%lu %lu 1\n0 %lu 1\n",
                            (unsigned long)o, (unsigned long)s,
                            (unsigned long)(s + o));
    if (o > 1 && len < n)
        len += (size_t)snprintf(buf + len, n - len, "1 %lu %lu\n",
                                (unsigned long)(s + 1), (unsigned long)(o - 1));
    if (o + 1 < c && len < n)
        snprintf(buf + len, n - len, "%lu %lu %lu\n", (unsigned long)(o + 1),
                 (unsigned long)(s + o + 1), (unsigned long)(c - o - 1));
}

static int write_map(pid_t pid, const char *file, const ws_map *m, int g)
{
    char path[64], val[256];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
    map_lines(m, g, val, sizeof val);
    return sbx_write_file(path, val);
}

/* An fd of a user namespace whose ids map 0..count-1 to map's ranges. */
static int make_userns(const ws_map *map, sbx_err *e)
{
    /* No CLONE_VM, so the child runs on its own copy of this buffer. */
    _Alignas(16) char stack[8192];
    /* Exit signal 0: the caller gets no SIGCHLD for it.  No CLONE_VM
     * (valgrind cannot follow that); the child only pauses. */
    pid_t pid = clone(ns_child, stack + sizeof stack, CLONE_NEWUSER, NULL);
    int fd = -1, err = 0;
    if (pid < 0) {
        err = errno;
    } else {
        int rc = write_map(pid, "uid_map", map, 0);
        if (rc == 0)
            rc = write_map(pid, "gid_map", map, 1);
        if (rc == 0) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%ld/ns/user", (long)pid);
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                rc = -errno;
        }
        err = -rc;
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
            ;
    }
    if (fd < 0)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, err,
                              "cannot create the user namespace for the "
                              "workspace's idmapped mount");
    return fd;
}

/* Attach the host workspace read-only (idmapped when userns >= 0) at path. */
static int attach_lower(int root_fd, int userns, const char *path)
{
    int t = (int)syscall(SYS_open_tree, root_fd, "",
                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                             AT_RECURSIVE);
    if (t < 0)
        return -errno;
    ws_mount_attr ma = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                    MOUNT_ATTR_NODEV};
    if (userns >= 0) {
        ma.attr_set |= MOUNT_ATTR_IDMAP;
        ma.userns_fd = (uint64_t)userns;
    }
    int rc = 0;
    if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma,
                sizeof ma) < 0 ||
        syscall(SYS_move_mount, t, "", AT_FDCWD, path,
                MOVE_MOUNT_F_EMPTY_PATH) < 0)
        rc = -errno;
    close(t);
    return rc;
}

/* ---- walking trees without following links ------------------------------ */

typedef struct ws_walk {
    sbx_err *e;
    sbx_ws_stats *st;
    const ws_map *map; /* copy-in: owners are mapped */
    uid_t uid;         /* commit: every entry gets this owner */
    gid_t gid;
    bool dry; /* count and check bounds only */
    unsigned long entries;
    uint64_t limit; /* commit: data bytes the host may get (0: no cap) */
    uint64_t bytes; /* ... counted once per name, as the host pays them */
    unsigned seq;
    char path[SBX_WS_MAX_PATH];
    size_t plen;
} ws_walk;

static int push(ws_walk *w, const char *name)
{
    size_t n = strlen(name);
    if (w->plen + 1 + n >= sizeof w->path)
        return sbx_fail(w->e, SANDBOX_EIO,
                        "workspace: a path the box made is longer than %d "
                        "bytes ('%.200s/...'): nothing was copied back "
                        "(shorten it inside the box)",
                        SBX_WS_MAX_PATH, w->path);
    if (w->plen > 0)
        w->path[w->plen++] = '/';
    memcpy(w->path + w->plen, name, n + 1);
    w->plen += n;
    return 0;
}

static void pop(ws_walk *w, size_t len)
{
    w->plen = len;
    w->path[len] = '\0';
}

static int walk_fail(ws_walk *w, int err, const char *what)
{
    return sbx_fail_errno(w->e, SANDBOX_EIO, err,
                          "workspace: %s '%.300s' (the host workspace may "
                          "be partly updated)",
                          what, w->path[0] ? w->path : ".");
}

/* A fresh temporary name in dir for an atomic rename into place. */
static void temp_name(ws_walk *w, char *buf, size_t n)
{
    snprintf(buf, n, WS_TMP_PREFIX "%ld-%u", (long)getpid(), w->seq++);
}

/* The directory dir/name, never through a link and never across a mount
 * point: a filesystem mounted inside the host workspace is not the box's
 * (the overlay's lower layer shows the directory under it, empty), and a
 * box that deleted or filled that directory must not reach the mounted
 * one's files.  -EXDEV for a mount point. */
static int open_dir_here(int dir, const char *name)
{
#ifdef SYS_openat2
    struct open_how how = {
        .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
        .resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS |
                   RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
    };
    int fd = (int)syscall(SYS_openat2, dir, name, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd >= 0 ? fd : -errno;
#endif
    int nfd =
        openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nfd < 0)
        return -errno;
    /* STATX_ATTR_MOUNT_ROOT where the kernel has it (5.8); before, a
     * different st_dev (which also stops at a btrfs subvolume). */
    struct statx sx;
    struct stat pst, st;
    bool crossed;
    if (statx(nfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0 &&
        (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        crossed = (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    else
        crossed = fstat(dir, &pst) == 0 && fstat(nfd, &st) == 0 &&
                  pst.st_dev != st.st_dev;
    if (crossed) {
        close(nfd);
        return -EXDEV;
    }
    return nfd;
}

/* Remove dir/name whatever it is, never following a link: a directory is
 * emptied through fds opened with O_NOFOLLOW.  A mount point (at any
 * depth) is left with what holds it: -EXDEV once the rest is gone. */
static int remove_beneath(ws_walk *w, int dir, const char *name, int depth)
{
    if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    if (depth > SBX_WS_MAX_DEPTH * 4)
        return -ELOOP;
    int fd = open_dir_here(dir, name);
    if (fd < 0)
        return fd == -ENOENT ? 0 : fd;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int err = errno;
        close(fd);
        return -err;
    }
    int rc = 0, xdev = 0;
    rewinddir(d); /* a dup shares the offset of an earlier pass */
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = remove_beneath(w, dirfd(d), de->d_name, depth + 1);
        if (rc == -EXDEV) { /* a mount point below: its siblings still go */
            xdev = -EXDEV;
            rc = 0;
        }
    }
    closedir(d);
    if (rc == 0 && xdev == 0 && unlinkat(dir, name, AT_REMOVEDIR) < 0 &&
        errno != ENOENT)
        rc = -errno;
    return rc < 0 ? rc : xdev;
}

static int empty_dir(ws_walk *w, int fd)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (d == NULL) {
        int err = errno;
        if (dup_fd >= 0)
            close(dup_fd);
        return -err;
    }
    int rc = 0;
    rewinddir(d); /* a dup shares the offset of an earlier pass */
    int xdev = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = remove_beneath(w, fd, de->d_name, 0);
        if (rc == -EXDEV) {
            xdev = -EXDEV;
            rc = 0;
        }
    }
    closedir(d);
    return rc < 0 ? rc : xdev;
}

/* Put the temporary entry tmp in place of name, replacing whatever is
 * there (a directory is removed beneath dir first). */
static int install(ws_walk *w, int dir, const char *tmp, const char *name)
{
    if (renameat(dir, tmp, dir, name) == 0)
        return 0;
    int err = errno;
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
        int rc = remove_beneath(w, dir, name, 0);
        if (rc == 0 && renameat(dir, tmp, dir, name) == 0)
            return 0;
        err = rc < 0 ? -rc : errno;
    }
    unlinkat(dir, tmp, 0);
    return -err;
}

/* Copy [off, end) of in to the same offsets of out. */
static int copy_range(int in, int out, off_t off, off_t end)
{
    if (lseek(out, off, SEEK_SET) < 0)
        return -errno;
    while (off < end) {
        size_t want = (size_t)(end - off > (1 << 30) ? (1 << 30) : end - off);
        ssize_t n = sendfile(out, in, &off, want);
        if (n > 0)
            continue;
        if (n == 0)
            return 0; /* shrank under us */
        if (errno == EINTR)
            continue;
        if (errno != EINVAL && errno != ENOSYS)
            return -errno;
        /* No sendfile between these two: read and write. */
        char buf[65536];
        while (off < end) {
            size_t chunk = (size_t)(end - off) < sizeof buf
                               ? (size_t)(end - off)
                               : sizeof buf;
            ssize_t r = pread(in, buf, chunk, off);
            if (r == 0)
                return 0;
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -errno;
            for (ssize_t done = 0; done < r;) {
                ssize_t m = write(out, buf + done, (size_t)(r - done));
                if (m < 0 && errno == EINTR)
                    continue;
                if (m < 0)
                    return -errno;
                done += m;
            }
            off += r;
        }
    }
    return 0;
}

/* Copy in to out keeping holes: a sparse file the box made (truncate -s
 * 1T costs the tmpfs nothing) must not cost the host its apparent size. */
static int copy_fd(int in, int out, off_t size)
{
    off_t pos = 0;
    while (pos < size) {
        off_t data = lseek(in, pos, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            break; /* only a hole is left */
        if (data < 0) {
            /* No SEEK_DATA here: copy it all. */
            int rc = copy_range(in, out, pos, size);
            if (rc < 0)
                return rc;
            break;
        }
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0 || hole > size)
            hole = size;
        int rc = copy_range(in, out, data, hole);
        if (rc < 0)
            return rc;
        pos = hole;
    }
    return ftruncate(out, size) < 0 ? -errno : 0;
}

/* Copy the regular file sdir/name (already opened as in) to ddir/name via a
 * temporary name: owner uid:gid, permissions only (no setuid, setgid or
 * sticky bit), the source's times. */
static int put_file(ws_walk *w, int in, const struct stat *st, int ddir,
                    const char *name, uid_t uid, gid_t gid)
{
    char tmp[64];
    int out = -1;
    for (int tries = 0; out < 0 && tries < 100; tries++) {
        temp_name(w, tmp, sizeof tmp);
        out =
            openat(ddir, tmp,
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0 && errno != EEXIST)
            return -errno;
    }
    if (out < 0)
        return -EEXIST;
    int rc = copy_fd(in, out, st->st_size);
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (rc == 0 && fchown(out, uid, gid) < 0)
        rc = -errno;
    if (rc == 0 && fchmod(out, st->st_mode & 0777) < 0)
        rc = -errno;
    if (rc == 0 && futimens(out, ts) < 0)
        rc = -errno;
    if (close(out) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        unlinkat(ddir, tmp, 0);
        return rc;
    }
    return install(w, ddir, tmp, name);
}

static int put_symlink(ws_walk *w, int sdir, const char *name,
                       const struct stat *st, int ddir, uid_t uid, gid_t gid)
{
    char target[SBX_WS_MAX_PATH], tmp[64];
    if (st->st_size < 0 || st->st_size >= (off_t)sizeof target)
        return -ENAMETOOLONG;
    ssize_t n = readlinkat(sdir, name, target, sizeof target - 1);
    if (n < 0)
        return -errno;
    target[n] = '\0';
    int rc = -EEXIST;
    for (int tries = 0; rc == -EEXIST && tries < 100; tries++) {
        temp_name(w, tmp, sizeof tmp);
        rc = symlinkat(target, ddir, tmp) == 0 ? 0 : -errno;
    }
    if (rc < 0)
        return rc;
    if (fchownat(ddir, tmp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = -errno;
        unlinkat(ddir, tmp, 0);
        return rc;
    }
    /* Marked as the box's (a trusted.* xattr: only host root can set or
     * remove it), so that path handling on the host can refuse to follow
     * it later (a caller handing <workspace>/out, which the box made a link
     * to /etc, to its next run).  Best effort: a filesystem without xattrs
     * on links keeps the link unmarked. */
    char via[96];
    snprintf(via, sizeof via, "/proc/self/fd/%d/%s", ddir, tmp);
    (void)lsetxattr(via, SBX_WS_BOX_LINK_XATTR, "1", 1, 0);
    return install(w, ddir, tmp, name);
}

/* Open (creating or replacing as needed) the real directory ddir/name.
 * -EXDEV: a mount point, left alone. */
static int open_dest_dir(ws_walk *w, int ddir, const char *name, mode_t mode,
                         uid_t uid, gid_t gid, bool opaque)
{
    int fd = open_dir_here(ddir, name);
    if (fd == -EXDEV)
        return fd;
    if (fd < 0 && fd != -ENOENT) {
        /* A symlink, a file, ...: replaced, never followed. */
        int rc = remove_beneath(w, ddir, name, 0);
        if (rc < 0)
            return rc;
    }
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        int rc = opaque ? empty_dir(w, fd) : 0;
        if (rc == -EXDEV) { /* a mount point inside stays */
            if (w->st != NULL)
                w->st->mounts++;
            rc = 0;
        }
        /* The box's permission bits; the host's own setgid/sticky kept. */
        mode_t want = (st.st_mode & (S_ISGID | S_ISVTX)) | (mode & 0777);
        if (rc == 0 && (st.st_mode & 07777) != want && fchmod(fd, want) < 0)
            rc = -errno;
        if (rc < 0) {
            close(fd);
            return rc;
        }
        return fd;
    }
    if (mkdirat(ddir, name, 0700) < 0)
        return -errno;
    fd = open_dir_here(ddir, name);
    if (fd < 0)
        return fd;
    if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode & 0777) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    if (w->st != NULL)
        w->st->dirs++;
    return fd;
}

static bool is_opaque(int fd)
{
    char v[4];
    ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof v);
    return n == 1 && v[0] == 'y';
}

typedef enum walk_mode { WALK_COMMIT, WALK_COPY_IN } walk_mode;

/* Apply the entries of sdir to ddir.  Commit: sdir is an overlay upper
 * directory (whiteouts delete, opaque directories replace).  Copy-in:
 * sdir is the host workspace and ddir the tmpfs copy. */
static int walk(ws_walk *w, walk_mode mode, int sdir, int ddir, int depth)
{
    if (depth > SBX_WS_MAX_DEPTH)
        return sbx_fail(w->e, SANDBOX_EIO,
                        "workspace: nested deeper than %d directories, at "
                        "'%.300s': nothing was copied %s",
                        SBX_WS_MAX_DEPTH, w->path,
                        mode == WALK_COMMIT ? "back" : "in");
    int dfd = fcntl(sdir, F_DUPFD_CLOEXEC, 0);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        int err = errno;
        if (dfd >= 0)
            close(dfd);
        return walk_fail(w, err, "cannot read directory");
    }
    int rc = 0;
    rewinddir(d); /* a dup shares the offset of an earlier pass */
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        size_t saved = w->plen;
        if ((rc = push(w, name)) < 0)
            break;
        if (++w->entries > SBX_WS_MAX_ENTRIES) {
            rc = sbx_fail(w->e, SANDBOX_EIO,
                          "workspace: more than %u entries: nothing was "
                          "copied %s",
                          SBX_WS_MAX_ENTRIES,
                          mode == WALK_COMMIT ? "back" : "in");
            break;
        }
        struct stat st;
        if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = walk_fail(w, errno, "cannot stat");
            break;
        }
        uid_t uid = w->uid;
        gid_t gid = w->gid;
        if (mode == WALK_COPY_IN) {
            uid = map_id(w->map, (uint32_t)st.st_uid, 0);
            gid = map_id(w->map, (uint32_t)st.st_gid, 1);
        }
        int r = 0;
        if (S_ISCHR(st.st_mode) && st.st_rdev == 0 && mode == WALK_COMMIT) {
            if (!w->dry) {
                r = remove_beneath(w, ddir, name, 0);
                if (r == 0 && w->st)
                    w->st->deleted++;
                if (r == -EXDEV) { /* a mount point (or one below) stays */
                    r = 0;
                    if (w->st)
                        w->st->mounts++;
                }
            }
        } else if (S_ISREG(st.st_mode)) {
            /* Every name becomes its own host file: a hard link costs the
             * tmpfs nothing, but each of its names costs the host the
             * whole file.  Allocated blocks, as copy_fd keeps holes (a
             * sparse file costs the host what it costs the tmpfs). */
            w->bytes += (uint64_t)st.st_blocks * 512u;
            if (w->dry && w->limit > 0 && w->bytes > w->limit) {
                rc = sbx_fail(w->e, SANDBOX_EIO,
                              "workspace: the box's files would take more "
                              "than disk_limit (%llu bytes) on the host, "
                              "counted once per name (hard links are copied "
                              "as separate files), at '%.300s': nothing was "
                              "copied back (raise disk_limit)",
                              (unsigned long long)w->limit, w->path);
                break;
            }
            if (!w->dry) {
                /* O_NONBLOCK: a fifo swapped in since the fstatat (the
                 * host workspace, in copy mode, is anyone's to change)
                 * must not hang the run; fstat below refuses it. */
                int in = openat(sdir, name,
                                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                                    O_NONBLOCK);
                struct stat ist;
                if (in < 0 || fstat(in, &ist) < 0 || !S_ISREG(ist.st_mode))
                    r = in < 0 ? -errno : -EINVAL;
                else
                    r = put_file(w, in, &ist, ddir, name, uid, gid);
                if (in >= 0)
                    close(in);
                if (r == 0 && w->st) {
                    w->st->files++;
                    w->st->bytes += (uint64_t)ist.st_size;
                }
            }
        } else if (S_ISLNK(st.st_mode)) {
            if (!w->dry) {
                r = put_symlink(w, sdir, name, &st, ddir, uid, gid);
                if (r == 0 && w->st)
                    w->st->symlinks++;
            }
        } else if (S_ISDIR(st.st_mode)) {
            int s = openat(sdir, name,
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s < 0) {
                rc = walk_fail(w, errno, "cannot open directory");
                break;
            }
            int dd = -1;
            if (!w->dry) {
                bool opaque = mode == WALK_COMMIT && is_opaque(s);
                dd = open_dest_dir(w, ddir, name, st.st_mode, uid, gid, opaque);
                if (dd == -EXDEV) {
                    /* A filesystem mounted in the host workspace: what the
                     * box put there is not copied back. */
                    if (w->st)
                        w->st->mounts++;
                    close(s);
                    pop(w, saved);
                    continue;
                }
                if (dd < 0)
                    r = dd;
            }
            if (r == 0)
                rc = walk(w, mode, s, w->dry ? -1 : dd, depth + 1);
            close(s);
            if (dd >= 0)
                close(dd);
        } else if (w->st != NULL && !w->dry) {
            /* fifo, socket, device node: never recreated. */
            w->st->skipped++;
        }
        if (r < 0 && rc == 0) {
            rc = walk_fail(w, -r,
                           mode == WALK_COMMIT ? "cannot copy back"
                                               : "cannot copy in");
            if (mode == WALK_COPY_IN && r == -ENOSPC)
                rc = sbx_fail(w->e, SANDBOX_EINVAL,
                              "workspace: the workspace does not fit in "
                              "disk_limit (copy mode, at '%.300s'): raise "
                              "disk_limit or use a filesystem that supports "
                              "idmapped mounts",
                              w->path);
        }
        pop(w, saved);
    }
    closedir(d);
    return rc;
}

int sbx_ws_commit(int upper_fd, int root_fd, uid_t uid, gid_t gid,
                  sbx_ws_stats *st, sbx_err *e)
{
    return sbx_ws_commit_capped(upper_fd, root_fd, uid, gid, 0, st, e);
}

int sbx_ws_commit_capped(int upper_fd, int root_fd, uid_t uid, gid_t gid,
                         uint64_t limit, sbx_ws_stats *st, sbx_err *e)
{
    ws_walk w;
    memset(&w, 0, sizeof w);
    w.e = e;
    w.uid = uid;
    w.gid = gid;
    w.limit = limit;
    /* First the bounds, so that a tree the box made too big or too deep is
     * refused whole rather than half applied. */
    w.dry = true;
    int rc = walk(&w, WALK_COMMIT, upper_fd, -1, 0);
    if (rc < 0)
        return rc;
    memset(&w, 0, sizeof w);
    w.e = e;
    w.uid = uid;
    w.gid = gid;
    w.st = st;
    /* Temporary names differ between concurrent commits. */
    if (getrandom(&w.seq, sizeof w.seq, 0) != (ssize_t)sizeof w.seq)
        w.seq = (unsigned)time(NULL);
    return walk(&w, WALK_COMMIT, upper_fd, root_fd, 0);
}

/* ---- prepare / finish -----------------------------------------------------
 */

static void ws_teardown(sbx_ws *w)
{
    static const char *const leaves[] = {"m", "t/l", "t"};
    bool left = false;
    for (size_t i = 0; i < 3; i++) {
        sbx_autofree char *p = sub(w, leaves[i]);
        if (p == NULL) {
            left = true;
            continue;
        }
        /* Detach: the overlay is busy until the engine lets go of it. */
        while (umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            ;
        if (rmdir(p) < 0 && errno != ENOENT)
            left = true;
    }
    /* The lock goes last: a directory still holding a mount keeps it, so
     * that the next sweep sees a free lock and tries again at once. */
    sbx_autofree char *lock = sub(w, "lock");
    if (!left && lock != NULL)
        unlink(lock);
    rmdir(w->dir);
    w->tmpfs_mounted = w->merged_mounted = false;
}

static void ws_free(sbx_ws *w)
{
    if (w == NULL)
        return;
    if (w->dir != NULL)
        ws_teardown(w);
    sbx_closep(&w->root_fd);
    sbx_closep(&w->lock_fd);
    free(w->dir);
    free(w->host);
    free(w);
}

static int mkdir_in(const sbx_ws *w, const char *leaf, mode_t mode, sbx_err *e)
{
    sbx_autofree char *p = sub(w, leaf);
    if (p == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, errno, "mkdir %s", p);
    return 0;
}

/* Copy mode: the workspace copied into t/c with owners mapped. */
static int copy_in(sbx_ws *w, const ws_map *map, sbx_err *e)
{
    int rc = mkdir_in(w, "t/c", 0755, e);
    if (rc < 0)
        return rc;
    sbx_autofree char *c = sub(w, "t/c");
    sbx_autoclose int cfd =
        c ? open(c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (cfd < 0)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, errno, "open %s", c);
    struct stat st;
    if (fstat(w->root_fd, &st) < 0 ||
        fchown(cfd, map_id(map, (uint32_t)st.st_uid, 0),
               map_id(map, (uint32_t)st.st_gid, 1)) < 0 ||
        fchmod(cfd, st.st_mode & 0777) < 0)
        return sbx_fail_errno(e, SANDBOX_ERUNTIME, errno, "chown %s", c);
    ws_walk ww;
    memset(&ww, 0, sizeof ww);
    ww.e = e;
    ww.map = map;
    sbx_ws_stats cs = {0};
    ww.st = &cs;
    if ((rc = walk(&ww, WALK_COPY_IN, w->root_fd, cfd, 0)) < 0)
        return rc;
    struct statfs sf;
    if (statfs(c, &sf) == 0)
        w->copied_bytes = (uint64_t)(sf.f_blocks - sf.f_bfree) * sf.f_bsize;
    return 0;
}

/* 0 or -errno. */
static int mount_overlay(sbx_ws *w, const char *lower)
{
    /* redirect_dir, metacopy and index off: every change is a plain entry
     * of the upper directory (a renamed directory is copied, a chmod'd
     * file is copied whole), which is all sbx_ws_commit understands. */
    sbx_autofree char *opts = sbx_asprintf(
        "lowerdir=%s/%s,upperdir=%s/t/u,workdir=%s/t/w,redirect_dir=off,"
        "metacopy=off,index=off",
        w->dir, lower, w->dir, w->dir);
    if (opts == NULL)
        return -ENOMEM;
    if (mount("overlay", w->merged, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
        return -errno;
    w->merged_mounted = true;
    return 0;
}

/* The workspace directory by the path sbx_plan_init resolved (realpath:
 * no links in it).  A link found now was swapped in since: refused. */
static int open_workspace(const char *path)
{
#ifdef SYS_openat2
    struct open_how how = {
        .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd;
#endif
    return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int sbx_ws_prepare_flags(const sbx_plan *p, const sbx_idmap *map,
                         unsigned flags, sbx_ws **out, sbx_err *e)
{
    *out = NULL;
    if (p->workspace == NULL)
        return 0;
    if (geteuid() != 0)
        return sbx_fail(
            e, SANDBOX_ERUNTIME,
            "a workspace needs root: its disk cap (a tmpfs of disk_limit), "
            "read-only lower layer and owner mapping are mounts only root "
            "can make; run as root, or pass no workspace and copy files "
            "in and out in the command (docs/workspace.md)");
    if (map != NULL && map->count == 0)
        return sbx_fail(e, SANDBOX_EINVAL, "empty id map for the workspace");

    sbx_ws *w = calloc(1, sizeof *w);
    if (w == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    w->root_fd = w->lock_fd = -1;
    w->limit = p->disk_limit_bytes ? p->disk_limit_bytes : (1ULL << 30);
    int rc;
    sbx_autoclose int base = -1;
    sbx_autoclose int userns = -1;
    sbx_autofree char *lock = NULL, *t = NULL, *topts = NULL, *u = NULL;

    /* The host workspace, fixed now: later renames of its path do not
     * redirect the commit. */
    w->root_fd = open_workspace(p->workspace);
    struct stat rst;
    if (w->root_fd < 0 || fstat(w->root_fd, &rst) < 0) {
        if (errno == ELOOP) {
            rc = sbx_fail(e, SANDBOX_EINVAL,
                          "workspace '%s' now has a symbolic link in its "
                          "path (it had none when the run was planned): "
                          "refusing it; pass the real directory",
                          p->workspace);
            goto fail;
        }
        rc = sbx_fail_errno(e, SANDBOX_EINVAL, errno, "workspace '%s'",
                            p->workspace);
        goto fail;
    }
    w->uid = rst.st_uid;
    w->gid = rst.st_gid;
    w->host = sbx_strdup(p->workspace);
    ws_map wm = {.start = {map ? map->uid_start : 0, map ? map->gid_start : 0},
                 .owner = {(uint32_t)rst.st_uid, (uint32_t)rst.st_gid},
                 .count = map ? map->count : 65536};
    if (rst.st_uid >= wm.count || rst.st_gid >= wm.count) {
        rc = sbx_fail(e, SANDBOX_EINVAL,
                      "workspace '%s' is owned by %ld:%ld, outside the box's "
                      "%lu ids: chown it to a user and group below %lu",
                      p->workspace, (long)rst.st_uid, (long)rst.st_gid,
                      (unsigned long)wm.count, (unsigned long)wm.count);
        goto fail;
    }

    if ((base = open_staging_root(e)) < 0) {
        rc = base;
        goto fail;
    }
    sbx_ws_sweep_at(base);
    w->dir = sbx_asprintf(SBX_WS_RUN_DIR "/%s", p->name);
    if (w->host == NULL || w->dir == NULL) {
        rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(w->merged, sizeof w->merged, "%s/m", w->dir);
    if (mkdirat(base, p->name, 0711) < 0) {
        int err = errno;
        free(w->dir);
        w->dir = NULL; /* not ours: never remove it */
        rc = sbx_fail_errno(e, SANDBOX_ERUNTIME, err, "mkdir %s/%s",
                            SBX_WS_RUN_DIR, p->name);
        goto fail;
    }
    if ((lock = sub(w, "lock")) != NULL)
        w->lock_fd = open(
            lock, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (w->lock_fd < 0 || lock_new(w->lock_fd) < 0) {
        rc = sbx_fail_errno(e, SANDBOX_ERUNTIME, errno, "lock %s", w->dir);
        goto fail;
    }
    /* m is mode 0000 under the overlay: an engine that cannot see our
     * mount (another mount namespace, no propagation) binds the bare
     * directory, and the box gets EACCES rather than an uncapped disk. */
    if ((rc = mkdir_in(w, "t", 0700, e)) < 0 ||
        (rc = mkdir_in(w, "m", 0, e)) < 0)
        goto fail;

    t = sub(w, "t");
    /* Every entry costs a block of the cap, as it would cost the host's
     * disk an inode and a directory entry once committed: a million empty
     * files do not fit in a 1 MiB limit. */
    uint64_t inodes = w->limit / 4096;
    if (inodes < SBX_WS_MIN_INODES)
        inodes = SBX_WS_MIN_INODES;
    if (inodes > SBX_WS_MAX_ENTRIES)
        inodes = SBX_WS_MAX_ENTRIES;
    topts =
        sbx_asprintf("size=%llu,nr_inodes=%llu,mode=0700,uid=0,gid=0",
                     (unsigned long long)w->limit, (unsigned long long)inodes);
    if (t == NULL || topts == NULL) {
        rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
        goto fail;
    }
    if (mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, topts) < 0) {
        rc = sbx_fail_errno(e, SANDBOX_ERUNTIME, errno,
                            "cannot mount the workspace's tmpfs (disk_limit) "
                            "on %s",
                            t);
        goto fail;
    }
    w->tmpfs_mounted = true;
    if ((rc = mkdir_in(w, "t/u", 0755, e)) < 0 ||
        (rc = mkdir_in(w, "t/w", 0700, e)) < 0)
        goto fail;
    /* The merged root takes the upper root's owner and mode: the box's
     * view of the workspace's own. */
    u = sub(w, "t/u");
    if (u == NULL ||
        chown(u, map_id(&wm, (uint32_t)rst.st_uid, 0),
              map_id(&wm, (uint32_t)rst.st_gid, 1)) < 0 ||
        chmod(u, rst.st_mode & 01777) < 0) {
        rc = sbx_fail_errno(e, SANDBOX_ERUNTIME, errno, "chown %s", u);
        goto fail;
    }

    int orc = -EINVAL;
    if (!(flags & SBX_WS_FORCE_COPY)) {
        if (!map_is_identity(&wm) && (userns = make_userns(&wm, e)) < 0) {
            rc = userns;
            goto fail;
        }
        sbx_autofree char *l = sub(w, "t/l");
        if ((rc = mkdir_in(w, "t/l", 0700, e)) < 0)
            goto fail;
        orc = attach_lower(w->root_fd, userns, l);
        if (orc == 0)
            orc = mount_overlay(w, "t/l");
        /* The overlay holds its own clone of the lower mount. */
        if (l != NULL) {
            while (umount2(l, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
                ;
            rmdir(l);
        }
    }
    if (orc < 0) {
        /* No idmapped mounts here (old kernel, a filesystem without
         * FS_ALLOW_IDMAP, an overlay refusing an idmapped layer): copy. */
        if ((rc = copy_in(w, &wm, e)) < 0)
            goto fail;
        w->copy_mode = true;
        if ((orc = mount_overlay(w, "t/c")) < 0) {
            rc = sbx_fail_errno(e, SANDBOX_ERUNTIME, -orc,
                                "cannot mount the workspace overlay on %s "
                                "(the kernel needs overlayfs)",
                                w->merged);
            goto fail;
        }
    }
    *out = w;
    return 0;
fail:
    ws_free(w);
    return rc;
}

int sbx_ws_prepare(const sbx_plan *p, const sbx_idmap *map, sbx_ws **out,
                   sbx_err *e)
{
    return sbx_ws_prepare_flags(p, map, 0, out, e);
}

const char *sbx_ws_source(const sbx_ws *w)
{
    return w != NULL ? w->merged : NULL;
}

bool sbx_ws_copy_mode(const sbx_ws *w)
{
    return w != NULL && w->copy_mode;
}

int sbx_ws_finish(sbx_ws *w, sandbox_result *res, int run_rc, sbx_err *e)
{
    if (w == NULL)
        return run_rc;
    sbx_err own = {0};
    sbx_err *fe = run_rc < 0 ? &own : e; /* keep the run's error */
    int rc = 0;

    /* The cap: what the box left, and whether it ran out. */
    sbx_autofree char *t = sub(w, "t");
    struct statfs sf;
    if (t != NULL && w->tmpfs_mounted && statfs(t, &sf) == 0) {
        uint64_t used = (uint64_t)(sf.f_blocks - sf.f_bfree) * sf.f_bsize;
        used = used > w->copied_bytes ? used - w->copied_bytes : 0;
        bool hit = sf.f_bavail <= 1 || sf.f_ffree <= 1;
        if (res != NULL && SBX_HAS(res, disk_bytes))
            res->disk_bytes = used;
        if (res != NULL && SBX_HAS(res, disk_limit_hit))
            res->disk_limit_hit = hit;
        if (hit) {
            char buf[160];
            snprintf(buf, sizeof buf,
                     "workspace: disk_limit of %llu bytes reached (writes "
                     "past it failed with ENOSPC in the box)",
                     (unsigned long long)w->limit);
            append_message(res, buf);
        }
    }
    /* Nothing can write through the overlay any more. */
    if (w->merged_mounted) {
        while (umount2(w->merged, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            ;
        w->merged_mounted = false;
    }
    sbx_autofree char *u = sub(w, "t/u");
    sbx_autoclose int ufd =
        u ? open(u, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    sbx_ws_stats st = {0};
    if (ufd < 0)
        rc = sbx_fail_errno(fe, SANDBOX_EIO, errno,
                            "workspace: cannot open the upper directory; "
                            "nothing was copied back");
    else
        rc = sbx_ws_commit_capped(ufd, w->root_fd, w->uid, w->gid, w->limit,
                                  &st, fe);
    if (st.skipped > 0) {
        char buf[160];
        snprintf(buf, sizeof buf,
                 "workspace: %llu fifo(s), socket(s) or device node(s) the "
                 "box made were not copied back",
                 (unsigned long long)st.skipped);
        append_message(res, buf);
    }
    if (st.mounts > 0) {
        char buf[200];
        snprintf(buf, sizeof buf,
                 "workspace: %llu entr%s at or under a mount point inside "
                 "the host workspace were left alone (the box saw the "
                 "directory under the mount, not the mounted files)",
                 (unsigned long long)st.mounts, st.mounts == 1 ? "y" : "ies");
        append_message(res, buf);
    }
    if (rc < 0 && run_rc < 0)
        append_message(res, own.msg);
    ws_free(w);
    return run_rc < 0 ? run_rc : rc;
}

/* ---- stale staging directories --------------------------------------------
 */

unsigned sbx_ws_sweep_at(int base)
{
    int dfd = fcntl(base, F_DUPFD_CLOEXEC, 0);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        if (dfd >= 0)
            close(dfd);
        return 0;
    }
    unsigned n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strncmp(de->d_name, "sandbox-", 8) != 0 ||
            strchr(de->d_name, '/') != NULL)
            continue;
        sbx_autoclose int rd = openat(
            base, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rd < 0)
            continue;
        sbx_autoclose int lk =
            openat(rd, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (lk >= 0 && flock(lk, LOCK_EX | LOCK_NB) < 0)
            continue; /* a live run */
        /* A run makes t/ only once it holds its lock.  A directory whose
         * lock we hold and which has t/ is therefore a dead run.  One
         * without a lock file, or without t/, may be a run between its
         * mkdir and its flock: it is left until it is old.  (Without a
         * lock file we hold nothing, so t/ proves nothing: the run may have
         * made its lock, taken it and made t/ since our openat.) */
        struct stat st;
        if ((lk < 0 || faccessat(rd, "t", F_OK, AT_SYMLINK_NOFOLLOW) < 0) &&
            (fstat(rd, &st) < 0 || time(NULL) - st.st_mtime < 60))
            continue;
        sbx_ws tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.dir = sbx_asprintf(SBX_WS_RUN_DIR "/%s", de->d_name);
        if (tmp.dir == NULL)
            continue;
        /* The box's writes of a run whose caller died are dropped. */
        ws_teardown(&tmp);
        if (faccessat(base, de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            n++;
        free(tmp.dir);
    }
    closedir(d);
    return n;
}

unsigned sbx_ws_sweep(void)
{
    if (geteuid() != 0)
        return 0;
    sbx_autoclose int base =
        open(SBX_WS_RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return base >= 0 ? sbx_ws_sweep_at(base) : 0;
}

/* ---- how the engine maps the box's ids --------------------------------- */

/* The first "user:start:count" line of file for user with >= 65536 ids. */
static int subid_line(const char *file, const char *user, uint32_t *start,
                      uint32_t *count)
{
    FILE *f = fopen(file, "re");
    if (f == NULL)
        return -1;
    char line[256];
    int rc = -1;
    size_t n = strlen(user);
    while (rc < 0 && fgets(line, sizeof line, f) != NULL) {
        unsigned long s, c;
        if (strncmp(line, user, n) == 0 && line[n] == ':' &&
            sscanf(line + n + 1, "%lu:%lu", &s, &c) == 2 && c >= 65536 &&
            s > 0 && s + c <= UINT32_MAX) {
            *start = (uint32_t)s;
            *count = 65536;
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* "0:START:COUNT" -> start, count. */
static int parse_map_arg(const char *v, uint32_t *start, uint32_t *count)
{
    unsigned long s, c;
    char tail;
    if (v == NULL || sscanf(v, "0:%lu:%lu%c", &s, &c, &tail) != 2 || c == 0 ||
        c > 65536 || s + c > UINT32_MAX)
        return -1;
    *start = (uint32_t)s;
    *count = (uint32_t)c;
    return 0;
}

/* The --uidmap/--gidmap the container CLI will get, if any. */
static int map_from_argv(const sbx_plan *p, sbx_idmap *map)
{
    char **argv = NULL;
    if (sbx_build_run_argv(p, &argv, NULL) < 0)
        return -1;
    bool have_u = false, have_g = false;
    uint32_t uc = 0, gc = 0;
    int rc = 0;
    for (char **a = argv; *a != NULL && rc == 0; a++) {
        bool u = strncmp(*a, "--uidmap", 8) == 0;
        bool g = strncmp(*a, "--gidmap", 8) == 0;
        if (!u && !g)
            continue;
        const char *v = (*a)[8] == '=' ? *a + 9 : (*a)[8] == '\0' ? a[1] : NULL;
        uint32_t *start = u ? &map->uid_start : &map->gid_start;
        if ((u && have_u) || (g && have_g) ||
            parse_map_arg(v, start, u ? &uc : &gc) < 0)
            rc = -1; /* several ranges: not the one-range map we model */
        have_u |= u;
        have_g |= g;
    }
    sbx_argv_free(argv);
    if (rc < 0 || !have_u)
        return -1;
    if (!have_g) {
        map->gid_start = map->uid_start;
        gc = uc;
    }
    map->count = uc < gc ? uc : gc;
    return 0;
}

int sbx_ws_engine_map(const sbx_plan *p, sbx_idmap *map)
{
    /* podman: whatever --uidmap/--gidmap argv.c gives it. */
    if (p->kind == SBX_RT_PODMAN)
        return map_from_argv(p, map);
    /* docker: dockerd with --userns-remap=default maps the box to
     * dockremap's range and keeps its data under /var/lib/docker/<u>.<g>
     * (a stop-gap until the backend reports the engine's own mapping). */
    if (p->kind != SBX_RT_DOCKER)
        return -1;
    uint32_t c2 = 0;
    if (subid_line(SBX_SUBUID_FILE, "dockremap", &map->uid_start, &map->count) <
            0 ||
        subid_line(SBX_SUBGID_FILE, "dockremap", &map->gid_start, &c2) < 0)
        return -1;
    char dir[64];
    struct stat st;
    snprintf(dir, sizeof dir, "/var/lib/docker/%lu.%lu",
             (unsigned long)map->uid_start, (unsigned long)map->gid_start);
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

void sbx_ws_detach_safe(const char *merged)
{
    /* merged is <run dir>/m; the tmpfs is <run dir>/t. */
    char t[4096];
    size_t n = strlen(merged);
    while (umount2(merged, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        ;
    if (n < 2 || n >= sizeof t || merged[n - 1] != 'm' || merged[n - 2] != '/')
        return;
    memcpy(t, merged, n + 1);
    t[n - 1] = 't';
    while (umount2(t, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        ;
}
