/* SPDX-License-Identifier: MIT */
/* sandbox_box_put / sandbox_box_get: a tar stream through the public
 * sandbox_box_exec, so they work the same on every backend.  The design and
 * the threat model are in boxcopy.h; in short, the box's `tar` is the box's
 * binary, so what it sends back is parsed by libarchive (a parser built for
 * hostile archives) and written by this file alone, beneath a fresh
 * directory, never through a link, all or nothing. */
#include "boxcopy.h"
#include "box.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#define COPY_IO_CHUNK 65536
#define COPY_MSG_TAIL 300 /* bytes of the box's stderr quoted in errors */

static unsigned long lim_entries(const sbx_copy_limits *l)
{
    return l != NULL && l->max_entries > 0 ? l->max_entries
                                           : SBX_COPY_MAX_ENTRIES;
}

static unsigned lim_depth(const sbx_copy_limits *l)
{
    return l != NULL && l->max_depth > 0 ? l->max_depth : SBX_COPY_MAX_DEPTH;
}

/* ---- paths ----------------------------------------------------------------
 */

int sbx_copy_box_path(const char *box_path, char *parent, size_t pn, char *name,
                      size_t nn, sbx_err *e)
{
    if (box_path == NULL || box_path[0] != '/')
        return sbx_fail(e, SANDBOX_EINVAL,
                        "box path '%s' is not absolute: give the full path "
                        "inside the box, e.g. /tmp/in",
                        box_path ? box_path : "(null)");
    size_t n = strlen(box_path);
    if (n >= SBX_COPY_MAX_PATH)
        return sbx_fail(e, SANDBOX_EINVAL, "box path is longer than %u bytes",
                        SBX_COPY_MAX_PATH);
    const char *last = NULL;
    for (const char *p = box_path + 1;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') ||
            (len == 2 && p[0] == '.' && p[1] == '.'))
            return sbx_fail(e, SANDBOX_EINVAL,
                            "box path '%s' has an empty, '.' or '..' "
                            "component: give a plain absolute path (no "
                            "'//', no trailing '/', no '.' or '..')",
                            box_path);
        last = p;
        if (end == NULL)
            break;
        p = end + 1;
    }
    size_t plen = (size_t)(last - box_path) - 1; /* without the last '/' */
    if (plen == 0)
        plen = 1; /* "/" */
    if (plen + 1 > pn || strlen(last) + 1 > nn)
        return sbx_fail(e, SANDBOX_EINVAL, "box path '%s' is too long",
                        box_path);
    memcpy(parent, box_path, plen);
    parent[plen] = '\0';
    memcpy(name, last, strlen(last) + 1);
    return 0;
}

static int refuse_box_link(const char *path, const char *what, sbx_err *e)
{
    char *bad = sbx_box_link_on_path(path);
    if (bad == NULL)
        return 0;
    int rc = sbx_fail(e, SANDBOX_EINVAL,
                      "%s '%s' passes through '%s', a symbolic link a box "
                      "left in a workspace: the library never follows "
                      "box-made links; give the real path (or remove the "
                      "link)",
                      what, path, bad);
    free(bad);
    return rc;
}

/* ---- put: the host tree as a tar stream ---------------------------------- */

typedef struct tw {
    struct archive *a;
    struct archive_entry *ent;
    sbx_err *e;
    unsigned long entries, max_entries;
    unsigned max_depth;
    int fd;
    int werr; /* errno of a failed write to fd */
    bool dry; /* check types and bounds only, write nothing */
    char path[SBX_COPY_MAX_PATH];
    char *buf;
} tw;

static la_ssize_t tw_write_cb(struct archive *a, void *ctx, const void *buf,
                              size_t n)
{
    tw *t = ctx;
    size_t done = 0;
    while (done < n) {
        ssize_t w =
            sbx_write_nosigpipe(t->fd, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            t->werr = errno;
            archive_set_error(a, errno, "write");
            return -1;
        }
        done += (size_t)w;
    }
    return (la_ssize_t)n;
}

static int tw_archive_fail(tw *t)
{
    if (t->werr != 0)
        return sbx_fail_errno(t->e, SANDBOX_EIO, t->werr,
                              "put: the box stopped reading the archive "
                              "(its tar failed or the box died)");
    return sbx_fail(t->e, SANDBOX_EIO, "put: writing the archive: %s",
                    archive_error_string(t->a) ? archive_error_string(t->a)
                                               : "unknown libarchive error");
}

static int tw_header(tw *t, const struct stat *st, mode_t type, mode_t perm,
                     int64_t size, const char *link)
{
    if (t->dry)
        return 0;
    archive_entry_clear(t->ent);
    archive_entry_set_pathname(t->ent, t->path);
    archive_entry_set_filetype(t->ent, type);
    archive_entry_set_perm(t->ent, perm);
    archive_entry_set_uid(t->ent, 0);
    archive_entry_set_gid(t->ent, 0);
    archive_entry_set_size(t->ent, size);
    archive_entry_set_mtime(t->ent, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    if (link != NULL)
        archive_entry_set_symlink(t->ent, link);
    if (archive_write_header(t->a, t->ent) != ARCHIVE_OK)
        return tw_archive_fail(t);
    return 0;
}

static int tw_file(tw *t, int fd, const struct stat *st)
{
    int rc = tw_header(t, st, AE_IFREG, st->st_mode & 0777, st->st_size, NULL);
    if (rc < 0 || t->dry)
        return rc;
    off_t left = st->st_size;
    while (left > 0) {
        size_t want = left < COPY_IO_CHUNK ? (size_t)left : COPY_IO_CHUNK;
        ssize_t r = read(fd, t->buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return sbx_fail_errno(t->e, SANDBOX_EIO, errno, "put: reading '%s'",
                                  t->path);
        if (r == 0) { /* it shrank while we read: zeros for the rest */
            memset(t->buf, 0, want);
            r = (ssize_t)want;
        }
        if (archive_write_data(t->a, t->buf, (size_t)r) < 0)
            return tw_archive_fail(t);
        left -= r;
    }
    return 0;
}

static int tw_walk(tw *t, int dirfd, const char *name, size_t plen,
                   unsigned depth);

static int tw_dir(tw *t, int fd, const struct stat *st, size_t plen,
                  unsigned depth)
{
    int rc = tw_header(t, st, AE_IFDIR, st->st_mode & 01777, 0, NULL);
    if (rc < 0)
        return rc;
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        int err = errno;
        if (dfd >= 0)
            close(dfd);
        return sbx_fail_errno(t->e, SANDBOX_EIO, err, "put: listing '%s'",
                              t->path);
    }
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = tw_walk(t, fd, de->d_name, plen, depth + 1);
    }
    closedir(d);
    return rc;
}

/* One host entry dirfd/name, archived as t->path[0..plen) + "/" + name (or
 * as t->path itself at depth 0). */
static int tw_walk(tw *t, int dirfd, const char *name, size_t plen,
                   unsigned depth)
{
    if (depth > 0) {
        size_t n = strlen(name);
        if (plen + 1 + n >= sizeof t->path)
            return sbx_fail(t->e, SANDBOX_EINVAL,
                            "put: a path under '%.200s' is longer than %u "
                            "bytes",
                            t->path, SBX_COPY_MAX_PATH);
        t->path[plen] = '/';
        memcpy(t->path + plen + 1, name, n + 1);
        plen += 1 + n;
    }
    if (++t->entries > t->max_entries)
        return sbx_fail(t->e, SANDBOX_EINVAL,
                        "put: the tree has more than %lu entries: archive it "
                        "into one file first",
                        t->max_entries);
    if (depth >= t->max_depth)
        return sbx_fail(t->e, SANDBOX_EINVAL,
                        "put: the tree is nested deeper than %u levels at "
                        "'%.300s'",
                        t->max_depth, t->path);
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return sbx_fail_errno(t->e, SANDBOX_EINVAL, errno, "put: '%s'",
                              depth == 0 ? name : t->path);
    if (S_ISLNK(st.st_mode)) {
        char target[SBX_COPY_MAX_PATH];
        ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
        if (n < 0)
            return sbx_fail_errno(t->e, SANDBOX_EIO, errno,
                                  "put: reading the link '%s'", t->path);
        target[n] = '\0';
        return tw_header(t, &st, AE_IFLNK, 0777, 0, target);
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return sbx_fail(t->e, SANDBOX_EINVAL,
                        "put: '%s' is a %s: only regular files, directories "
                        "and symbolic links are copied (remove it or copy "
                        "around it)",
                        depth == 0 ? name : t->path,
                        S_ISFIFO(st.st_mode)   ? "fifo"
                        : S_ISSOCK(st.st_mode) ? "socket"
                                               : "device");
    /* O_NONBLOCK: an entry swapped for a fifo since fstatat cannot hang
     * us; O_NOFOLLOW: nor can one swapped for a link lead elsewhere. */
    int fd = openat(dirfd, name,
                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                        (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
    if (fd < 0)
        return sbx_fail_errno(t->e, SANDBOX_EIO, errno, "put: opening '%s'",
                              depth == 0 ? name : t->path);
    struct stat fst;
    int rc;
    if (fstat(fd, &fst) < 0 || (fst.st_mode & S_IFMT) != (st.st_mode & S_IFMT))
        rc = sbx_fail(t->e, SANDBOX_EIO,
                      "put: '%s' changed while it was copied; try again",
                      t->path);
    else if (S_ISDIR(fst.st_mode))
        rc = tw_dir(t, fd, &fst, plen, depth);
    else
        rc = tw_file(t, fd, &fst);
    close(fd);
    return rc;
}

static int tar_walk(int fd, int dirfd, const char *host_path, const char *top,
                    const sbx_copy_limits *lim, bool dry, int *werr, sbx_err *e)
{
    tw t = {.e = e,
            .fd = fd,
            .dry = dry,
            .max_entries = lim_entries(lim),
            .max_depth = lim_depth(lim)};
    size_t tl = strlen(top);
    if (tl == 0 || tl >= sizeof t.path)
        return sbx_fail(e, SANDBOX_EINVAL, "put: bad top-level name");
    memcpy(t.path, top, tl + 1);
    t.buf = malloc(COPY_IO_CHUNK);
    t.a = archive_write_new();
    t.ent = archive_entry_new();
    int rc = 0;
    if (t.buf == NULL || t.a == NULL || t.ent == NULL)
        rc = sbx_fail(e, SANDBOX_ENOMEM, "put: out of memory");
    if (rc == 0 && dry)
        rc = tw_walk(&t, dirfd, host_path, tl, 0);
    if (dry)
        goto out;
    /* GNU tar format: long names and link targets (././@LongLink) that both
     * GNU tar and busybox tar read; no compression. */
    if (rc == 0 &&
        (archive_write_set_format_gnutar(t.a) != ARCHIVE_OK ||
         archive_write_add_filter_none(t.a) != ARCHIVE_OK ||
         archive_write_set_bytes_in_last_block(t.a, 1) != ARCHIVE_OK ||
         archive_write_open(t.a, &t, NULL, tw_write_cb, NULL) != ARCHIVE_OK))
        rc = tw_archive_fail(&t);
    if (rc == 0)
        rc = tw_walk(&t, dirfd, host_path, tl, 0);
    if (rc == 0 && archive_write_close(t.a) != ARCHIVE_OK)
        rc = tw_archive_fail(&t);
out:
    if (werr != NULL)
        *werr = t.werr;
    if (t.a != NULL)
        archive_write_free(t.a);
    if (t.ent != NULL)
        archive_entry_free(t.ent);
    free(t.buf);
    return rc;
}

int sbx_copy_tar_write(int fd, const char *host_path, const char *top,
                       const sbx_copy_limits *lim, sbx_err *e)
{
    /* First a pass that writes nothing: a device deep in the tree is
     * refused before a byte reaches the box. */
    int rc = tar_walk(-1, AT_FDCWD, host_path, top, lim, true, NULL, e);
    return rc < 0 ? rc
                  : tar_walk(fd, AT_FDCWD, host_path, top, lim, false, NULL, e);
}

/* ---- get: the hostile stream, written beneath a fresh directory -------- */

/* dir/rel (relative, no "." or "..") as a directory, never through a
 * symlink, a magic link or a mount point, never above dir. */
static int open_beneath(int dir, const char *rel, int flags)
{
#ifdef SYS_openat2
    struct open_how how = {
        .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? 0600 : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    int fd = (int)syscall(SYS_openat2, dir, rel, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd >= 0 ? fd : -errno;
#endif
    /* No openat2 (before 5.6, or a seccomp filter): one component at a
     * time with O_NOFOLLOW; the caller's path has no ".." to climb. */
    char buf[SBX_COPY_MAX_PATH];
    size_t n = strlen(rel);
    if (n >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, rel, n + 1);
    int cur = fcntl(dir, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return -errno;
    char *p = buf;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash != NULL)
            *slash = '\0';
        int f = slash ? O_RDONLY | O_DIRECTORY : flags;
        int next = openat(cur, p, f | O_NOFOLLOW | O_CLOEXEC, 0600);
        int err = errno;
        close(cur);
        if (next < 0)
            return -err;
        cur = next;
        if (slash == NULL)
            return cur;
        p = slash + 1;
    }
}

typedef struct xdir {
    char *rel;
    mode_t mode;
    struct timespec mtime;
} xdir;

typedef struct xt {
    struct archive *a;
    sbx_err *e;
    int root; /* the fresh temporary directory */
    const char *top;
    unsigned long entries, max_entries;
    unsigned max_depth;
    uint64_t max_bytes, bytes; /* file sizes so far, apparent */
    bool mark_links;           /* root: mark symlinks as the box's */
    xdir *dirs;
    size_t n_dirs, cap_dirs;
    char *buf;
} xt;

/* An entry's name as the stream gives it -> "r" or "r/..." beneath the
 * temporary directory (the top-level name becomes "r"). */
static int map_name(xt *x, const char *p, const char *what, char *out, size_t n,
                    bool *is_dir_syntax)
{
    if (p == NULL || p[0] == '\0')
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: the box's archive has an entry %s without a "
                        "name: refused, nothing was written",
                        what);
    const char *orig = p;
    if (p[0] == '.' && p[1] == '/')
        p += 2;
    if (p[0] == '/')
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: the box's archive has an absolute %s '%.300s': "
                        "refused, nothing was written",
                        what, orig);
    size_t tl = strlen(x->top);
    if (strncmp(p, x->top, tl) != 0 || (p[tl] != '\0' && p[tl] != '/'))
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: the box's archive has a %s '%.300s' outside "
                        "'%s': refused, nothing was written",
                        what, orig, x->top);
    const char *rest = p + tl;
    *is_dir_syntax = false;
    unsigned depth = 1;
    for (const char *q = rest; *q == '/';) {
        const char *c = q + 1;
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 0 && end == NULL) { /* one trailing '/' */
            *is_dir_syntax = true;
            break;
        }
        if (len == 0 || (len == 1 && c[0] == '.') ||
            (len == 2 && c[0] == '.' && c[1] == '.'))
            return sbx_fail(x->e, SANDBOX_EIO,
                            "get: the box's archive has a %s '%.300s' with "
                            "an empty, '.' or '..' component: refused, "
                            "nothing was written",
                            what, orig);
        if (++depth > x->max_depth)
            return sbx_fail(x->e, SANDBOX_EIO,
                            "get: the box's tree is nested deeper than %u "
                            "levels: refused, nothing was written",
                            x->max_depth);
        if (end == NULL)
            break;
        q = end;
    }
    size_t rl = strlen(rest) - (*is_dir_syntax ? 1 : 0);
    if (1 + rl + 1 > n)
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: a path in the box's archive is longer than %zu "
                        "bytes: refused, nothing was written",
                        n);
    out[0] = 'r';
    memcpy(out + 1, rest, rl);
    out[1 + rl] = '\0';
    return 0;
}

/* Split rel into its parent directory, opened beneath x->root, and leaf. */
static int open_parent(xt *x, char *rel, const char **leaf, const char *orig)
{
    char *slash = strrchr(rel, '/');
    int fd;
    if (slash == NULL) {
        *leaf = rel;
        fd = fcntl(x->root, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            fd = -errno;
    } else {
        *slash = '\0';
        fd = open_beneath(x->root, rel, O_RDONLY | O_DIRECTORY);
        *slash = '/';
        *leaf = slash + 1;
    }
    if (fd < 0)
        return sbx_fail_errno(x->e, SANDBOX_EIO, -fd,
                              "get: the box's archive puts '%.300s' where "
                              "there is no directory it made before (or "
                              "through a link): refused, nothing was written",
                              orig);
    return fd;
}

static int x_exists(xt *x, int err, const char *orig)
{
    return sbx_fail_errno(x->e, SANDBOX_EIO, err,
                          "get: creating '%.300s' from the box's archive "
                          "(a name twice, or through a link?): refused, "
                          "nothing was written",
                          orig);
}

static int x_data(xt *x, int fd, const char *orig)
{
    for (;;) {
        const void *blk;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(x->a, &blk, &len, &off);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return sbx_fail(x->e, SANDBOX_EIO,
                            "get: reading '%.300s' from the box's archive: "
                            "%s: nothing was written",
                            orig, archive_error_string(x->a));
        if (off < 0 || (uint64_t)off + len > x->max_bytes)
            return sbx_fail(x->e, SANDBOX_EIO,
                            "get: '%.300s' in the box's archive is larger "
                            "than the cap of %llu bytes: nothing was written",
                            orig, (unsigned long long)x->max_bytes);
        for (size_t done = 0; done < len;) {
            ssize_t w = pwrite(fd, (const char *)blk + done, len - done,
                               (off_t)off + (off_t)done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return sbx_fail_errno(x->e, SANDBOX_EIO, errno,
                                      "get: writing '%.300s' on the host",
                                      orig);
            done += (size_t)w;
        }
    }
}

static int x_file(xt *x, struct archive_entry *ent, int pfd, const char *leaf,
                  const char *orig)
{
    int64_t size = archive_entry_size(ent);
    if (size < 0 || (uint64_t)size > x->max_bytes - x->bytes)
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: the files in the box's archive add up to more "
                        "than the cap of %llu bytes (the box's disk_limit): "
                        "nothing was written",
                        (unsigned long long)x->max_bytes);
    x->bytes += (uint64_t)size;
    int fd = openat(pfd, leaf,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return x_exists(x, errno, orig);
    int rc = x_data(x, fd, orig);
    const struct timespec ts[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT},
                                   {.tv_sec = archive_entry_mtime(ent),
                                    .tv_nsec = archive_entry_mtime_nsec(ent)}};
    if (rc == 0 && ftruncate(fd, (off_t)size) < 0)
        rc = sbx_fail_errno(x->e, SANDBOX_EIO, errno, "get: '%.300s'", orig);
    /* Permission bits only: no setuid, setgid or sticky bit, ever. */
    if (rc == 0 && fchmod(fd, archive_entry_perm(ent) & 0777) < 0)
        rc = sbx_fail_errno(x->e, SANDBOX_EIO, errno, "get: '%.300s'", orig);
    if (rc == 0)
        (void)futimens(fd, ts);
    close(fd);
    return rc;
}

static int x_hardlink(xt *x, const char *target, int pfd, const char *leaf,
                      const char *orig)
{
    char rel[SBX_COPY_MAX_PATH];
    bool dir_syntax;
    int rc =
        map_name(x, target, "hard link target", rel, sizeof rel, &dir_syntax);
    if (rc < 0)
        return rc;
    int fd = open_beneath(x->root, rel, O_PATH);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? -fd : errno;
        if (fd >= 0)
            close(fd);
        return sbx_fail_errno(x->e, SANDBOX_EIO, fd >= 0 ? EINVAL : err,
                              "get: the box's archive links '%.300s' to "
                              "'%.300s', which is not a regular file it "
                              "made before: refused, nothing was written",
                              orig, target);
    }
    char via[64];
    snprintf(via, sizeof via, "/proc/self/fd/%d", fd);
    rc = 0;
    if (linkat(AT_FDCWD, via, pfd, leaf, AT_SYMLINK_FOLLOW) < 0)
        rc = x_exists(x, errno, orig);
    close(fd);
    return rc;
}

static int x_symlink(xt *x, const char *target, int pfd, const char *leaf,
                     const char *orig)
{
    if (target == NULL || strlen(target) >= SBX_COPY_MAX_PATH)
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: the link '%.300s' in the box's archive has no "
                        "or an overlong target: refused, nothing was written",
                        orig);
    if (symlinkat(target, pfd, leaf) < 0)
        return x_exists(x, errno, orig);
    if (x->mark_links) {
        /* As the workspace's commit-back does: the link is the box's, and
         * path handling on the host refuses to follow it later. */
        char via[SBX_COPY_MAX_PATH + 64];
        snprintf(via, sizeof via, "/proc/self/fd/%d/%s", pfd, leaf);
        (void)lsetxattr(via, SBX_WS_BOX_LINK_XATTR, "1", 1, 0);
    }
    return 0;
}

static int x_dir(xt *x, struct archive_entry *ent, int pfd, const char *leaf,
                 const char *rel, const char *orig)
{
    if (mkdirat(pfd, leaf, 0700) < 0)
        return x_exists(x, errno, orig);
    if (x->n_dirs == x->cap_dirs) {
        size_t cap = x->cap_dirs ? x->cap_dirs * 2 : 64;
        xdir *d = realloc(x->dirs, cap * sizeof *d);
        if (d == NULL)
            return sbx_fail(x->e, SANDBOX_ENOMEM, "get: out of memory");
        x->dirs = d;
        x->cap_dirs = cap;
    }
    char *copy = sbx_strdup(rel);
    if (copy == NULL)
        return sbx_fail(x->e, SANDBOX_ENOMEM, "get: out of memory");
    x->dirs[x->n_dirs++] =
        (xdir){.rel = copy,
               .mode = archive_entry_perm(ent) & 01777,
               .mtime = {.tv_sec = archive_entry_mtime(ent),
                         .tv_nsec = archive_entry_mtime_nsec(ent)}};
    return 0;
}

static int x_entry(xt *x, struct archive_entry *ent)
{
    const char *orig = archive_entry_pathname(ent);
    char rel[SBX_COPY_MAX_PATH];
    bool dir_syntax;
    if (++x->entries > x->max_entries)
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: the box's archive has more than %lu entries: "
                        "refused, nothing was written (archive the tree "
                        "into one file inside the box and get that)",
                        x->max_entries);
    int rc = map_name(x, orig, "entry", rel, sizeof rel, &dir_syntax);
    if (rc < 0)
        return rc;
    const char *hl = archive_entry_hardlink(ent);
    mode_t type = archive_entry_filetype(ent);
    if (hl == NULL && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: '%.300s' in the box's archive is a %s: only "
                        "regular files, directories and symbolic links are "
                        "copied: refused, nothing was written",
                        orig,
                        type == AE_IFIFO    ? "fifo"
                        : type == AE_IFSOCK ? "socket"
                        : type == AE_IFCHR || type == AE_IFBLK
                            ? "device"
                            : "special file");
    /* host_path itself a link whose target the box chose (/, the host's
     * /etc, the caller's home...) would send the caller's next read or
     * write of host_path there: the top is a file or a directory. */
    if (strcmp(rel, "r") == 0 && (hl != NULL || type == AE_IFLNK))
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: '%.300s' is a %s link in the box%s%.300s%s: "
                        "get never makes host_path itself a link the box "
                        "chose; get the link's target (or its directory) "
                        "instead: refused, nothing was written",
                        orig, hl != NULL ? "hard" : "symbolic",
                        hl == NULL ? " (to '" : "",
                        hl == NULL && archive_entry_symlink(ent)
                            ? archive_entry_symlink(ent)
                            : "",
                        hl == NULL ? "')" : "");
    if (dir_syntax && type != AE_IFDIR)
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: '%.300s' in the box's archive ends in '/' but "
                        "is not a directory: refused, nothing was written",
                        orig);
    const char *leaf;
    int pfd = open_parent(x, rel, &leaf, orig);
    if (pfd < 0)
        return pfd;
    if (hl != NULL)
        rc = x_hardlink(x, hl, pfd, leaf, orig);
    else if (type == AE_IFREG)
        rc = x_file(x, ent, pfd, leaf, orig);
    else if (type == AE_IFLNK)
        rc = x_symlink(x, archive_entry_symlink(ent), pfd, leaf, orig);
    else
        rc = x_dir(x, ent, pfd, leaf, rel, orig);
    close(pfd);
    return rc;
}

/* Directory modes last (a read-only directory still gets its files),
 * deepest first (their times survive their children's creation). */
static int x_dir_modes(xt *x)
{
    for (size_t i = x->n_dirs; i-- > 0;) {
        const xdir *d = &x->dirs[i];
        int fd = open_beneath(x->root, d->rel, O_RDONLY | O_DIRECTORY);
        if (fd < 0)
            return sbx_fail_errno(x->e, SANDBOX_EIO, -fd, "get: '%.300s'",
                                  d->rel);
        const struct timespec ts[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT},
                                       d->mtime};
        int rc = 0;
        if (fchmod(fd, d->mode) < 0)
            rc = sbx_fail_errno(x->e, SANDBOX_EIO, errno, "get: '%.300s'",
                                d->rel);
        (void)futimens(fd, ts);
        close(fd);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int x_all(xt *x, int archive_fd)
{
    if (archive_read_support_format_tar(x->a) != ARCHIVE_OK ||
        archive_read_support_filter_none(x->a) != ARCHIVE_OK ||
        archive_read_open_fd(x->a, archive_fd, COPY_IO_CHUNK) != ARCHIVE_OK)
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: the box's tar did not send a tar archive (%s): "
                        "nothing was written",
                        archive_error_string(x->a) ? archive_error_string(x->a)
                                                   : "empty");
    struct archive_entry *ent;
    for (;;) {
        int r = archive_read_next_header(x->a, &ent);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return sbx_fail(x->e, SANDBOX_EIO,
                            "get: the box's archive is malformed (%s): "
                            "nothing was written",
                            archive_error_string(x->a));
        int rc = x_entry(x, ent);
        if (rc < 0)
            return rc;
    }
    if (x->entries == 0)
        return sbx_fail(x->e, SANDBOX_EIO,
                        "get: the box's archive is empty: nothing was "
                        "written");
    return x_dir_modes(x);
}

/* rm -rf dir/name beneath dir, never following a link. */
static void remove_tree(int dir, const char *name, unsigned depth)
{
    if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
        return;
    if (depth > SBX_COPY_MAX_DEPTH + 2)
        return;
    int fd = open_beneath(dir, name, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return;
    (void)fchmod(fd, 0700);
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        remove_tree(dirfd(d), de->d_name, depth + 1);
    }
    closedir(d);
    (void)unlinkat(dir, name, AT_REMOVEDIR);
}

static void split_host(const char *host_path, char *parent, size_t pn,
                       const char **leaf)
{
    const char *slash = strrchr(host_path, '/');
    if (slash == NULL) {
        snprintf(parent, pn, ".");
        *leaf = host_path;
    } else if (slash == host_path) {
        snprintf(parent, pn, "/");
        *leaf = slash + 1;
    } else {
        snprintf(parent, pn, "%.*s", (int)(slash - host_path), host_path);
        *leaf = slash + 1;
    }
}

/* The box's writable bind mounts: host directories it can change while
 * the owner works (a staged workspace is not one: its links are marked
 * when they come back). */
typedef struct wguard {
    dev_t dev[SBX_COPY_MAX_WMOUNTS];
    ino_t ino[SBX_COPY_MAX_WMOUNTS];
    const char *src[SBX_COPY_MAX_WMOUNTS];
    size_t n;
} wguard;

/* Is dirfd (a directory) at or under one of g's directories?  Walks up by
 * "..": an answer about the directory itself, whatever path led to it. */
static const char *in_wguard(const wguard *g, int dirfd)
{
    if (g == NULL || g->n == 0)
        return NULL;
    int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    const char *hit = NULL;
    for (unsigned up = 0; cur >= 0 && hit == NULL && up < 4096; up++) {
        struct stat st;
        if (fstat(cur, &st) < 0)
            break;
        for (size_t i = 0; i < g->n && hit == NULL; i++)
            if (st.st_dev == g->dev[i] && st.st_ino == g->ino[i])
                hit = g->src[i];
        int next = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat nst;
        bool top = next < 0 || fstat(next, &nst) < 0 ||
                   (nst.st_dev == st.st_dev && nst.st_ino == st.st_ino);
        close(cur);
        cur = next;
        if (top)
            break;
    }
    if (cur >= 0)
        close(cur);
    return hit;
}

/* open(path, O_DIRECTORY), resolved one component at a time through fds,
 * following symbolic links (the caller's own) except one that lies in a
 * directory the box can write (g): the box may have made it, or may swap
 * a directory for it while we resolve, to send the write elsewhere. */
static int open_dir_guarded(const char *path, const wguard *g, const char *hp,
                            const char *op, int oflag, sbx_err *e)
{
    if (g == NULL || g->n == 0) {
        int fd = open(path, oflag | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return sbx_fail_errno(e, SANDBOX_EINVAL, errno,
                                  "%s: the parent of host path '%s' must be "
                                  "an existing directory",
                                  op, hp);
        return fd;
    }
    char rest[2 * SBX_COPY_MAX_PATH + 2], comp[SBX_COPY_MAX_PATH];
    if (strlen(path) >= sizeof rest / 2)
        return sbx_fail(e, SANDBOX_EINVAL, "%s: host path is too long", op);
    snprintf(rest, sizeof rest, "%s", path);
    int cur =
        open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int links = 0, rc = 0;
    size_t pos = 0;
    while (cur >= 0 && rc == 0) {
        while (rest[pos] == '/')
            pos++;
        if (rest[pos] == '\0')
            break;
        size_t len = strcspn(rest + pos, "/");
        memcpy(comp, rest + pos, len);
        comp[len] = '\0';
        pos += len;
        if (strcmp(comp, ".") == 0)
            continue;
        int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (next < 0 || fstat(next, &st) < 0) {
            rc = sbx_fail_errno(e, SANDBOX_EINVAL, errno,
                                "%s: the parent of host path '%s' must be "
                                "an existing directory",
                                op, hp);
        } else if (S_ISLNK(st.st_mode)) {
            const char *src = in_wguard(g, cur);
            char target[SBX_COPY_MAX_PATH];
            ssize_t tn = readlinkat(next, "", target, sizeof target - 1);
            if (src != NULL)
                rc = sbx_fail(e, SANDBOX_EINVAL,
                              "%s: host path '%s' passes through the "
                              "symbolic link '%s' inside '%s', which the box "
                              "can write (a writable mount): the box may "
                              "have made it; give a path that does not pass "
                              "through a link in that directory",
                              op, hp, comp, src);
            else if (tn < 0 || ++links > 40 ||
                     (size_t)tn + strlen(rest + pos) + 2 > sizeof rest / 2)
                rc = sbx_fail_errno(e, SANDBOX_EINVAL, tn < 0 ? errno : ELOOP,
                                    "%s: resolving host path '%s'", op, hp);
            else {
                target[tn] = '\0';
                size_t tl = strlen(rest + pos);
                memmove(rest + tn, rest + pos, tl + 1);
                memcpy(rest, target, (size_t)tn);
                pos = 0;
                if (target[0] == '/') {
                    close(cur);
                    cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                }
            }
            close(next);
            continue;
        } else if (!S_ISDIR(st.st_mode)) {
            rc = sbx_fail_errno(e, SANDBOX_EINVAL, ENOTDIR,
                                "%s: the parent of host path '%s' must be "
                                "an existing directory",
                                op, hp);
        }
        if (next >= 0 && rc < 0)
            close(next);
        if (rc < 0)
            break;
        close(cur);
        cur = next;
    }
    if (cur < 0 && rc == 0)
        rc =
            sbx_fail_errno(e, SANDBOX_EIO, errno, "%s: resolving '%s'", op, hp);
    if (rc < 0) {
        if (cur >= 0)
            close(cur);
        return rc;
    }
    if (oflag == O_PATH)
        return cur;
    int fd = openat(cur, ".", oflag | O_DIRECTORY | O_CLOEXEC);
    int err = errno;
    close(cur);
    if (fd < 0)
        return sbx_fail_errno(e, SANDBOX_EINVAL, err,
                              "%s: the parent of host path '%s'", op, hp);
    return fd;
}

/* The box's writable bind mounts, for open_dir_guarded. */
static void wguard_fill(const sandbox_box *box, wguard *g)
{
    g->n = 0;
    for (size_t i = 0; i < box->plan.n_mounts && g->n < SBX_COPY_MAX_WMOUNTS;
         i++) {
        const sbx_plan_mount *m = &box->plan.mounts[i];
        struct stat st;
        if (!m->writable || m->host == NULL || stat(m->host, &st) < 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        g->dev[g->n] = st.st_dev;
        g->ino[g->n] = st.st_ino;
        g->src[g->n++] = m->host;
    }
}

static int host_dest(const char *host_path, const wguard *g, int *parent_fd,
                     char *leaf, size_t ln, sbx_err *e)
{
    *parent_fd = -1;
    if (host_path == NULL || host_path[0] == '\0')
        return sbx_fail(e, SANDBOX_EINVAL, "get: host path is empty");
    size_t n = strlen(host_path);
    if (n >= SBX_COPY_MAX_PATH)
        return sbx_fail(e, SANDBOX_EINVAL, "get: host path is too long");
    if (host_path[n - 1] == '/')
        return sbx_fail(e, SANDBOX_EINVAL,
                        "get: host path '%s' ends in '/': name the new entry "
                        "itself, e.g. /tmp/out",
                        host_path);
    char parent[SBX_COPY_MAX_PATH];
    const char *lf;
    split_host(host_path, parent, sizeof parent, &lf);
    if (strcmp(lf, ".") == 0 || strcmp(lf, "..") == 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "get: host path '%s' must name a new entry", host_path);
    int rc = refuse_box_link(host_path, "get: host path", e);
    if (rc < 0)
        return rc;
    struct stat st;
    if (lstat(host_path, &st) == 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "get: host path '%s' already exists: get never "
                        "replaces anything; remove it or pick a new name",
                        host_path);
    if (errno != ENOENT)
        return sbx_fail_errno(e, SANDBOX_EINVAL, errno, "get: host path '%s'",
                              host_path);
    int fd = open_dir_guarded(parent, g, host_path, "get", O_RDONLY, e);
    if (fd < 0)
        return fd;
    if (strlen(lf) + 1 > ln) {
        close(fd);
        return sbx_fail(e, SANDBOX_EINVAL, "get: host path is too long");
    }
    memcpy(leaf, lf, strlen(lf) + 1);
    *parent_fd = fd;
    return 0;
}

int sbx_copy_host_dest(const char *host_path, int *parent_fd, char *leaf,
                       size_t ln, sbx_err *e)
{
    return host_dest(host_path, NULL, parent_fd, leaf, ln, e);
}

/* A fresh private directory in pfd; its name in buf. */
static int make_temp_dir(int pfd, char *buf, size_t n, sbx_err *e)
{
    for (int tries = 0; tries < 100; tries++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r ^= (uint64_t)(uintptr_t)buf ^ (uint64_t)tries;
        snprintf(buf, n, SBX_COPY_TMP_PREFIX "%ld-%016llx", (long)getpid(),
                 (unsigned long long)r);
        if (mkdirat(pfd, buf, 0700) == 0) {
            int fd = open_beneath(pfd, buf, O_RDONLY | O_DIRECTORY);
            if (fd >= 0)
                return fd;
            (void)unlinkat(pfd, buf, AT_REMOVEDIR);
            return sbx_fail_errno(e, SANDBOX_EIO, -fd,
                                  "get: opening a temporary directory");
        }
        if (errno != EEXIST)
            return sbx_fail_errno(e, SANDBOX_EIO, errno,
                                  "get: creating a temporary directory next "
                                  "to the host path (is its directory "
                                  "writable?)");
    }
    return sbx_fail(e, SANDBOX_EIO, "get: no free temporary name");
}

/* Extract into pfd/leaf (host_path, for messages). */
static int extract_at(int archive_fd, const char *top, int pfd,
                      const char *leaf, const char *host_path,
                      const sbx_copy_limits *lim, sbx_err *e)
{
    char tmp[96];
    int rc = 0;
    xt x = {.e = e,
            .top = top,
            .max_entries = lim_entries(lim),
            .max_depth = lim_depth(lim),
            .max_bytes =
                lim != NULL && lim->max_bytes > 0 ? lim->max_bytes : UINT64_MAX,
            .mark_links = geteuid() == 0};
    x.root = make_temp_dir(pfd, tmp, sizeof tmp, e);
    if (x.root < 0)
        return x.root;
    x.a = archive_read_new();
    if (x.a == NULL)
        rc = sbx_fail(e, SANDBOX_ENOMEM, "get: out of memory");
    if (rc == 0)
        rc = x_all(&x, archive_fd);
    if (rc == 0 && renameat2(x.root, "r", pfd, leaf, RENAME_NOREPLACE) < 0)
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno,
                            "get: moving the copy to '%s' (did something "
                            "create it meanwhile?)",
                            host_path);
    if (rc < 0)
        remove_tree(x.root, "r", 0);
    close(x.root);
    (void)unlinkat(pfd, tmp, AT_REMOVEDIR);
    if (x.a != NULL)
        archive_read_free(x.a);
    for (size_t i = 0; i < x.n_dirs; i++)
        free(x.dirs[i].rel);
    free(x.dirs);
    return rc;
}

int sbx_copy_extract(int archive_fd, const char *top, const char *host_path,
                     const sbx_copy_limits *lim, sbx_err *e)
{
    char leaf[SBX_COPY_MAX_PATH];
    sbx_autoclose int pfd = -1;
    int rc = sbx_copy_host_dest(host_path, &pfd, leaf, sizeof leaf, e);
    return rc < 0 ? rc
                  : extract_at(archive_fd, top, pfd, leaf, host_path, lim, e);
}

/* ---- the public calls: the exec halves --------------------------------- */

static int check_box(sandbox_box *box, sbx_err *e)
{
    if (box == NULL || box->magic != SBX_BOX_MAGIC)
        return sbx_fail(e, SANDBOX_EBADBOX,
                        "not a box handle (NULL, destroyed and freed, or "
                        "not from sandbox_box_create)");
    return 0;
}

/* The box's stderr, for a message. */
static const char *tail(const sandbox_result *r)
{
    if (r->err.data == NULL || r->err.len == 0)
        return "";
    return r->err.len > COPY_MSG_TAIL ? r->err.data + r->err.len - COPY_MSG_TAIL
                                      : r->err.data;
}

static int exec_failed(const char *op, const sandbox_result *r, int rc,
                       sbx_err *e)
{
    if (rc < 0)
        return sbx_fail(e, rc, "%s: %s", op,
                        r->message ? r->message : sandbox_strerror(rc));
    if (r->reason == SANDBOX_END_TIMEOUT)
        return sbx_fail(e, SANDBOX_EIO,
                        "%s: the box's tar did not finish within the box's "
                        "timeout_sec: nothing was copied",
                        op);
    if (r->reason == SANDBOX_END_EXITED && r->exit_code == 127)
        return sbx_fail(e, SANDBOX_EIO,
                        "%s: the box has no `tar` (or no `sh`) on its PATH: "
                        "put and get need both in the image (%.*s)",
                        op, COPY_MSG_TAIL, tail(r));
    return sbx_fail(
        e, SANDBOX_EIO, "%s: the box's tar failed (%s, exit %d): %.*s", op,
        sandbox_end_name(r->reason), r->exit_code, COPY_MSG_TAIL, tail(r));
}

/* After a put whose stream was cut: the box's tar may have taken what it
 * got for a whole archive. */
static void put_cleanup(sandbox_box *box, const char *box_path)
{
    const char *argv[] = {"rm", "-rf", "--", box_path};
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.argv = argv;
    x.argc = 4;
    x.output_limit = 4096;
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    (void)sandbox_box_exec(box, &x, &r);
    sandbox_result_free(&r);
}

typedef struct put_feed {
    int fd;
    int dirfd;              /* host_path's parent, resolved once */
    const char *leaf, *top; /* host_path's last component in dirfd */
    int rc;
    int werr; /* the box stopped reading (EPIPE): its side failed */
    sbx_err e;
} put_feed;

static void *put_thread(void *arg)
{
    put_feed *f = arg;
    f->rc = tar_walk(f->fd, f->dirfd, f->leaf, f->top, NULL, false, &f->werr,
                     &f->e);
    close(f->fd);
    f->fd = -1;
    return NULL;
}

/* Exit codes of the scripts below. */
#define COPY_EXIT_EXISTS 17
#define COPY_EXIT_NOPARENT 18
#define COPY_EXIT_MISSING 19

static int do_put(sandbox_box *box, const char *host_path, const char *box_path,
                  sbx_err *e)
{
    char parent[SBX_COPY_MAX_PATH], name[SBX_COPY_MAX_PATH];
    int rc = check_box(box, e);
    if (rc == 0)
        rc = sbx_copy_box_path(box_path, parent, sizeof parent, name,
                               sizeof name, e);
    if (rc < 0)
        return rc;
    if (host_path == NULL || host_path[0] == '\0')
        return sbx_fail(e, SANDBOX_EINVAL, "put: host path is empty");
    if ((rc = refuse_box_link(host_path, "put: host path", e)) < 0)
        return rc;
    /* host_path's parent resolved once, through fds, never through a link
     * inside a directory the box can write (a writable mount): the box may
     * have made one there to have us read, say, the caller's keys into it.
     * Both walks start from that fd. */
    size_t hl = strlen(host_path);
    if (hl >= SBX_COPY_MAX_PATH)
        return sbx_fail(e, SANDBOX_EINVAL, "put: host path is too long");
    char hp[SBX_COPY_MAX_PATH], hparent[SBX_COPY_MAX_PATH];
    memcpy(hp, host_path, hl + 1);
    bool slash = hl > 1 && hp[hl - 1] == '/';
    while (hl > 1 && hp[hl - 1] == '/')
        hp[--hl] = '\0';
    const char *leaf = ".";
    if (slash) /* "dir/": the directory itself (a link to one followed,
                * as the kernel would), resolved with the same guard */
        memcpy(hparent, hp, hl + 1);
    else
        split_host(hp, hparent, sizeof hparent, &leaf);
    if (leaf[0] == '\0')
        leaf = "."; /* "/" */
    wguard g;
    wguard_fill(box, &g);
    /* O_PATH: the parent needs search permission only, as lstat did. */
    sbx_autoclose int pfd =
        open_dir_guarded(hparent, &g, host_path, "put", O_PATH, e);
    if (pfd < 0)
        return pfd;
    struct stat st;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return sbx_fail_errno(e, SANDBOX_EINVAL, errno, "put: host path '%s'",
                              host_path);
    if ((rc = tar_walk(-1, pfd, leaf, name, NULL, true, NULL, e)) < 0)
        return rc;
    int pv[2];
    if (pipe2(pv, O_CLOEXEC) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "put: pipe");
    put_feed f = {.fd = pv[1], .dirfd = pfd, .leaf = leaf, .top = name};
    pthread_t th;
    int perr = pthread_create(&th, NULL, put_thread, &f);
    if (perr != 0) {
        close(pv[0]);
        close(pv[1]);
        return sbx_fail_errno(e, SANDBOX_EIO, perr, "put: pthread_create");
    }
    const char *argv[] = {
        "sh",
        "-c",
        "if [ -e \"$1\" ] || [ -L \"$1\" ]; then echo \"$1 exists\" >&2; "
        "exit 17; fi; "
        "[ -d \"$2\" ] || { echo \"$2 is not a directory\" >&2; exit 18; }; "
        "tar -x -o -f - -C \"$2\" || { r=$?; rm -rf -- \"$1\"; exit $r; }",
        "sbx-put",
        box_path,
        parent};
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.argv = argv;
    x.argc = sizeof argv / sizeof argv[0];
    x.stdin_fd = pv[0];
    x.output_limit = 4096;
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    rc = sandbox_box_exec(box, &x, &r);
    close(pv[0]); /* a writer still blocked gets EPIPE */
    pthread_join(th, NULL);
    bool exited = rc == 0 && r.reason == SANDBOX_END_EXITED;
    int code = r.exit_code;
    if (exited && code == 0 && f.rc == 0)
        rc = 0;
    else if (exited && code == COPY_EXIT_EXISTS)
        rc = sbx_fail(e, SANDBOX_EINVAL,
                      "put: '%s' already exists in the box: put never "
                      "replaces anything; pick a new path or remove it",
                      box_path);
    else if (exited && code == COPY_EXIT_NOPARENT)
        rc = sbx_fail(e, SANDBOX_EINVAL,
                      "put: '%s' is not a directory in the box: create the "
                      "parent first",
                      parent);
    else if (f.rc < 0 && f.werr == 0)
        rc = sbx_fail(e, f.rc, "%s", f.e.msg); /* our side failed first */
    else
        rc = exec_failed("put", &r, rc, e);
    sandbox_result_free(&r);
    if (rc < 0 && exited && code == 0)
        put_cleanup(box, box_path); /* tar took a cut stream as whole */
    return rc;
}

int sandbox_box_put(sandbox_box *box, const char *host_path,
                    const char *box_path, char **msg)
{
    sbx_err e = {0};
    if (msg != NULL)
        *msg = NULL;
    int rc = do_put(box, host_path, box_path, &e);
    if (rc < 0)
        sbx_err_out(&e, msg);
    return rc;
}

typedef struct get_sink {
    int fd, cancel_w;
    uint64_t n, cap;
    bool over;
    int werr;
} get_sink;

static void get_output(void *ctx, int stream, const char *data, size_t len)
{
    get_sink *s = ctx;
    if (stream != 1 || s->over || s->werr != 0)
        return;
    if (len > s->cap - s->n) {
        s->over = true;
        (void)sbx_write_nosigpipe(s->cancel_w, "x", 1);
        return;
    }
    for (size_t done = 0; done < len;) {
        ssize_t w = write(s->fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            s->werr = errno;
            (void)sbx_write_nosigpipe(s->cancel_w, "x", 1);
            return;
        }
        done += (size_t)w;
    }
    s->n += len;
}

/* An unlinked file next to host_path for the box's stream. */
static int temp_file(int pfd, sbx_err *e)
{
    int fd = openat(pfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char name[64];
    for (int tries = 0; tries < 100; tries++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint64_t)tries * 0x9e3779b97f4a7c15ULL ^ (uint64_t)sbx_now();
        snprintf(name, sizeof name, SBX_COPY_TMP_PREFIX "%ld-%016llx.tar",
                 (long)getpid(), (unsigned long long)r);
        fd = openat(pfd, name,
                    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            (void)unlinkat(pfd, name, 0);
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    return sbx_fail_errno(e, SANDBOX_EIO, errno,
                          "get: creating a temporary file next to the host "
                          "path (is its directory writable?)");
}

static int do_get(sandbox_box *box, const char *box_path, const char *host_path,
                  sbx_err *e)
{
    char parent[SBX_COPY_MAX_PATH], name[SBX_COPY_MAX_PATH];
    char leaf[SBX_COPY_MAX_PATH], member[SBX_COPY_MAX_PATH + 2];
    int rc = check_box(box, e);
    if (rc == 0)
        rc = sbx_copy_box_path(box_path, parent, sizeof parent, name,
                               sizeof name, e);
    if (rc < 0)
        return rc;
    wguard g;
    wguard_fill(box, &g);
    sbx_autoclose int pfd = -1;
    if ((rc = host_dest(host_path, &g, &pfd, leaf, sizeof leaf, e)) < 0)
        return rc;
    sbx_autoclose int tfd = temp_file(pfd, e);
    if (tfd < 0)
        return tfd;
    int cv[2];
    if (pipe2(cv, O_CLOEXEC | O_NONBLOCK) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "get: pipe");
    /* The cap: the box's disk_limit (what it can have written) plus room
     * for tar's headers. */
    uint64_t limit =
        box->plan.disk_limit_bytes ? box->plan.disk_limit_bytes : (1ULL << 30);
    get_sink s = {
        .fd = tfd, .cancel_w = cv[1], .cap = limit + limit / 16 + (1u << 20)};
    snprintf(member, sizeof member, "./%s", name);
    const char *argv[] = {
        "sh",
        "-c",
        "[ -e \"$1\" ] || [ -L \"$1\" ] || { echo \"$1: no such file or "
        "directory\" >&2; exit 19; }; exec tar -c -f - -C \"$2\" \"$3\"",
        "sbx-get",
        box_path,
        parent,
        member};
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.argv = argv;
    x.argc = sizeof argv / sizeof argv[0];
    x.output_limit = 4096;
    x.on_output = get_output;
    x.on_output_ctx = &s;
    x.cancel_fd = cv[0];
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    rc = sandbox_box_exec(box, &x, &r);
    close(cv[0]);
    close(cv[1]);
    if (s.over)
        rc = sbx_fail(e, SANDBOX_EIO,
                      "get: the box sent more than %llu bytes for '%s' (the "
                      "box's disk_limit plus headers): refused, nothing was "
                      "written",
                      (unsigned long long)s.cap, box_path);
    else if (s.werr != 0)
        rc = sbx_fail_errno(e, SANDBOX_EIO, s.werr,
                            "get: writing the box's archive to a temporary "
                            "file next to '%s'",
                            host_path);
    else if (rc == 0 && r.reason == SANDBOX_END_EXITED &&
             r.exit_code == COPY_EXIT_MISSING)
        rc = sbx_fail(e, SANDBOX_EINVAL, "get: '%s' does not exist in the box",
                      box_path);
    else if (rc < 0 || r.reason != SANDBOX_END_EXITED || r.exit_code != 0)
        rc = exec_failed("get", &r, rc, e);
    sandbox_result_free(&r);
    if (rc < 0)
        return rc;
    if (lseek(tfd, 0, SEEK_SET) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "get: lseek");
    sbx_copy_limits lim = {.max_bytes = s.cap};
    return extract_at(tfd, name, pfd, leaf, host_path, &lim, e);
}

int sandbox_box_get(sandbox_box *box, const char *box_path,
                    const char *host_path, char **msg)
{
    sbx_err e = {0};
    if (msg != NULL)
        *msg = NULL;
    int rc = do_get(box, box_path, host_path, &e);
    if (rc < 0)
        sbx_err_out(&e, msg);
    return rc;
}
