/* SPDX-License-Identifier: MIT */
/* workspace.c without an engine: commit-back of hand-made overlay upper
 * directories (whiteouts by mknod, opaque directories by setxattr, setuid
 * files, symlinks out of the workspace, symlink swaps), each attack also
 * run against a naive follow-the-links copy to show that it lands there;
 * then prepare/finish on real mounts (tmpfs cap, idmapped lower, copy
 * mode, stale sweep).  Needs root for mknod, trusted.* xattrs and mounts;
 * skips otherwise. */
#include "internal.h"
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#define OWNER_UID 1234
#define OWNER_GID 5678

static bool is_root(void)
{
    return geteuid() == 0;
}

#define NEED_ROOT()                                                            \
    do {                                                                       \
        if (!is_root()) {                                                      \
            fprintf(stderr, "skipped: needs root\n");                          \
            return;                                                            \
        }                                                                      \
    } while (0)

/* ---- building upper directories by hand ---------------------------------- */

static char *mkpath(const char *dir, const char *rel)
{
    return tu_path(dir, rel);
}

static void mkdir_at(const char *dir, const char *rel, mode_t mode)
{
    char *p = mkpath(dir, rel);
    ck_assert_msg(mkdir(p, mode) == 0, "mkdir %s: %s", p, strerror(errno));
    ck_assert_int_eq(chmod(p, mode), 0);
    free(p);
}

static void file_at(const char *dir, const char *rel, const char *content,
                    mode_t mode)
{
    char *p = mkpath(dir, rel);
    tu_write_file(p, content, mode);
    free(p);
}

static void link_at(const char *dir, const char *rel, const char *target)
{
    char *p = mkpath(dir, rel);
    ck_assert_msg(symlink(target, p) == 0, "symlink %s: %s", p,
                  strerror(errno));
    free(p);
}

/* An overlayfs whiteout: a character device 0:0. */
static void whiteout_at(const char *dir, const char *rel)
{
    char *p = mkpath(dir, rel);
    ck_assert_msg(mknod(p, S_IFCHR | 0, makedev(0, 0)) == 0, "mknod %s: %s", p,
                  strerror(errno));
    free(p);
}

static void opaque_at(const char *dir, const char *rel)
{
    char *p = mkpath(dir, rel);
    ck_assert_msg(setxattr(p, "trusted.overlay.opaque", "y", 1, 0) == 0,
                  "setxattr %s: %s", p, strerror(errno));
    free(p);
}

static bool exists(const char *dir, const char *rel)
{
    char *p = mkpath(dir, rel);
    struct stat st;
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static struct stat lstat_at(const char *dir, const char *rel)
{
    char *p = mkpath(dir, rel);
    struct stat st;
    ck_assert_msg(lstat(p, &st) == 0, "lstat %s: %s", p, strerror(errno));
    free(p);
    return st;
}

static char *read_at(const char *dir, const char *rel)
{
    char *p = mkpath(dir, rel);
    char *s = tu_read_file(p, NULL);
    free(p);
    return s;
}

static void assert_content(const char *dir, const char *rel, const char *want)
{
    char *s = read_at(dir, rel);
    ck_assert_msg(s != NULL, "%s/%s missing", dir, rel);
    ck_assert_str_eq(s, want);
    free(s);
}

static int commit(const char *upper, const char *ws, sbx_ws_stats *st,
                  sbx_err *e)
{
    int u = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int w = open(ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(u, 0);
    ck_assert_int_ge(w, 0);
    sbx_ws_stats dummy;
    memset(&dummy, 0, sizeof dummy);
    int rc = sbx_ws_commit(u, w, OWNER_UID, OWNER_GID, st ? st : &dummy, e);
    close(u);
    close(w);
    return rc;
}

/* The control: what a naive commit (paths, following links, as `cp -r`
 * or a Python shutil loop would do) makes of the same upper directory. */
static void naive_commit(const char *upper, const char *ws)
{
    DIR *d = opendir(upper);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *s = mkpath(upper, de->d_name), *t = mkpath(ws, de->d_name);
        struct stat st;
        ck_assert_int_eq(lstat(s, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            mkdir(t, 0755); /* exists through the link: fine */
            naive_commit(s, t);
        } else if (S_ISREG(st.st_mode)) {
            char *c = tu_read_file(s, NULL);
            FILE *f = fopen(t, "w"); /* follows a planted link */
            if (f != NULL) {
                fputs(c, f);
                fclose(f);
            }
            free(c);
        }
        free(s);
        free(t);
    }
    closedir(d);
}

typedef struct env {
    char *root, *upper, *ws, *victim;
} env;

static void env_make(env *v)
{
    v->root = tu_mkdtemp();
    v->upper = tu_path(v->root, "upper");
    v->ws = tu_path(v->root, "ws");
    v->victim = tu_path(v->root, "victim");
    ck_assert_int_eq(mkdir(v->upper, 0755), 0);
    ck_assert_int_eq(mkdir(v->ws, 0755), 0);
    ck_assert_int_eq(mkdir(v->victim, 0755), 0);
    file_at(v->victim, "precious", "precious\n", 0644);
}

static void env_free(env *v)
{
    free(v->upper);
    free(v->ws);
    free(v->victim);
    tu_rmtree(v->root);
}

/* ---- commit-back ------------------------------------------------------------
 */

START_TEST(test_commit_basic)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    /* Host: keep, modify, gone, olddir/{a,b}, opq/{old1,old2}. */
    file_at(v.ws, "keep", "keep\n", 0644);
    file_at(v.ws, "modify", "old\n", 0644);
    file_at(v.ws, "gone", "gone\n", 0644);
    mkdir_at(v.ws, "olddir", 0755);
    file_at(v.ws, "olddir/a", "a\n", 0644);
    mkdir_at(v.ws, "olddir/deep", 0755);
    file_at(v.ws, "olddir/deep/b", "b\n", 0644);
    mkdir_at(v.ws, "opq", 0755);
    file_at(v.ws, "opq/old1", "1\n", 0644);
    /* Upper: modify changed, new file, new dir, two whiteouts, opaque. */
    file_at(v.upper, "modify", "new\n", 0640);
    file_at(v.upper, "fresh", "fresh\n", 0600);
    mkdir_at(v.upper, "newdir", 0750);
    file_at(v.upper, "newdir/x", "x\n", 0644);
    whiteout_at(v.upper, "gone");
    whiteout_at(v.upper, "olddir");
    mkdir_at(v.upper, "opq", 0755);
    opaque_at(v.upper, "opq");
    file_at(v.upper, "opq/only", "only\n", 0644);

    sbx_err e = {0};
    sbx_ws_stats st;
    memset(&st, 0, sizeof st);
    ck_assert_msg(commit(v.upper, v.ws, &st, &e) == 0, "%s", e.msg);
    assert_content(v.ws, "keep", "keep\n");
    assert_content(v.ws, "modify", "new\n");
    assert_content(v.ws, "fresh", "fresh\n");
    assert_content(v.ws, "newdir/x", "x\n");
    assert_content(v.ws, "opq/only", "only\n");
    ck_assert(!exists(v.ws, "gone"));
    ck_assert(!exists(v.ws, "olddir"));
    ck_assert(!exists(v.ws, "opq/old1"));
    ck_assert_int_eq(lstat_at(v.ws, "modify").st_mode & 07777, 0640);
    ck_assert_int_eq(lstat_at(v.ws, "fresh").st_mode & 07777, 0600);
    ck_assert_int_eq(lstat_at(v.ws, "newdir").st_mode & 07777, 0750);
    ck_assert_int_eq(lstat_at(v.ws, "fresh").st_uid, OWNER_UID);
    ck_assert_int_eq(lstat_at(v.ws, "newdir").st_gid, OWNER_GID);
    ck_assert_uint_eq(st.files, 4);
    ck_assert_uint_eq(st.dirs, 1);
    ck_assert_uint_eq(st.deleted, 2);
    /* No temporary names left behind. */
    DIR *d = opendir(v.ws);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        ck_assert_msg(strncmp(de->d_name, ".sbx-ws-", 8) != 0, "left %s",
                      de->d_name);
    closedir(d);
    env_free(&v);
}
END_TEST

START_TEST(test_commit_strips_setuid)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    file_at(v.upper, "sh", "#!/bin/sh\n", 0755);
    char *p = tu_path(v.upper, "sh");
    /* As the box leaves it: owned by its root, setuid. */
    ck_assert_int_eq(chown(p, 100000, 100000), 0);
    ck_assert_int_eq(chmod(p, 04755), 0);
    free(p);
    file_at(v.upper, "sg", "x", 02755);
    mkdir_at(v.upper, "sgdir", 03777);
    sbx_err e = {0};
    ck_assert_msg(commit(v.upper, v.ws, NULL, &e) == 0, "%s", e.msg);
    struct stat st = lstat_at(v.ws, "sh");
    ck_assert_int_eq(st.st_mode & 07777, 0755);
    ck_assert_int_eq(st.st_uid, OWNER_UID);
    ck_assert_int_eq(st.st_gid, OWNER_GID);
    ck_assert_int_eq(lstat_at(v.ws, "sg").st_mode & 07777, 0755);
    ck_assert_int_eq(lstat_at(v.ws, "sgdir").st_mode & 07777, 0777);
    env_free(&v);
}
END_TEST

START_TEST(test_commit_symlink_to_passwd)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    struct stat before, after;
    ck_assert_int_eq(stat("/etc/passwd", &before), 0);
    link_at(v.upper, "pw", "/etc/passwd");
    /* A link into the victim, then a file of the same name as a host link
     * to the victim's file. */
    char *vp = tu_path(v.victim, "precious");
    link_at(v.ws, "out", vp);
    file_at(v.upper, "out", "pwned\n", 0644);
    sbx_err e = {0};
    ck_assert_msg(commit(v.upper, v.ws, NULL, &e) == 0, "%s", e.msg);
    struct stat l = lstat_at(v.ws, "pw");
    ck_assert(S_ISLNK(l.st_mode));
    ck_assert_int_eq(l.st_uid, OWNER_UID);
    char target[256];
    char *lp = tu_path(v.ws, "pw");
    ssize_t n = readlink(lp, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, "/etc/passwd");
    ck_assert_int_eq(stat("/etc/passwd", &after), 0);
    ck_assert_int_eq(before.st_mtime, after.st_mtime);
    ck_assert_int_eq(before.st_ctime, after.st_ctime);
    ck_assert_int_eq(before.st_size, after.st_size);
    /* The host link was replaced, not followed. */
    ck_assert(S_ISREG(lstat_at(v.ws, "out").st_mode));
    assert_content(v.victim, "precious", "precious\n");
    assert_content(v.ws, "out", "pwned\n");

    /* Control: the naive commit writes through the host's link. */
    unlink(lp);
    char *op = tu_path(v.ws, "out");
    unlink(op);
    link_at(v.ws, "out", vp);
    naive_commit(v.upper, v.ws);
    assert_content(v.victim, "precious", "pwned\n");
    free(op);
    free(lp);
    free(vp);
    env_free(&v);
}
END_TEST

START_TEST(test_commit_symlink_swap)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    /* The host's workspace subdirectory was swapped for a link out (by an
     * earlier box, or during the run); the upper has a directory of that
     * name, opaque (box: rm sub; mkdir sub) and not (host changed it). */
    link_at(v.ws, "sub", v.victim);
    link_at(v.ws, "sub2", v.victim);
    mkdir_at(v.upper, "sub", 0755);
    opaque_at(v.upper, "sub");
    file_at(v.upper, "sub/pwn", "pwn\n", 0644);
    mkdir_at(v.upper, "sub2", 0755);
    file_at(v.upper, "sub2/pwn2", "pwn2\n", 0644);
    sbx_err e = {0};
    ck_assert_msg(commit(v.upper, v.ws, NULL, &e) == 0, "%s", e.msg);
    ck_assert(!exists(v.victim, "pwn"));
    ck_assert(!exists(v.victim, "pwn2"));
    assert_content(v.victim, "precious", "precious\n");
    ck_assert(S_ISDIR(lstat_at(v.ws, "sub").st_mode));
    assert_content(v.ws, "sub/pwn", "pwn\n");
    assert_content(v.ws, "sub2/pwn2", "pwn2\n");

    /* Control. */
    env w;
    env_make(&w);
    link_at(w.ws, "sub", w.victim);
    naive_commit(v.upper, w.ws);
    ck_assert(exists(w.victim, "pwn"));
    env_free(&w);
    env_free(&v);
}
END_TEST

/* The control for deletions: a path-based recursive delete that trusts
 * stat(2), as `rm -rf link/` or shutil.rmtree on an old Python would. */
static void naive_rm(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d != NULL && (de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                char *p = tu_path(path, de->d_name);
                naive_rm(p);
                free(p);
            }
        }
        if (d != NULL)
            closedir(d);
        rmdir(path);
    }
    unlink(path);
}

START_TEST(test_commit_whiteout_of_link)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    link_at(v.ws, "link", v.victim);
    whiteout_at(v.upper, "link");
    /* And an opaque directory over a host link: emptying must not reach
     * through it either. */
    link_at(v.ws, "link2", v.victim);
    mkdir_at(v.upper, "link2", 0755);
    opaque_at(v.upper, "link2");
    sbx_err e = {0};
    ck_assert_msg(commit(v.upper, v.ws, NULL, &e) == 0, "%s", e.msg);
    ck_assert(!exists(v.ws, "link"));
    ck_assert(S_ISDIR(lstat_at(v.ws, "link2").st_mode));
    assert_content(v.victim, "precious", "precious\n");

    char *lp = tu_path(v.ws, "link");
    link_at(v.ws, "link", v.victim);
    naive_rm(lp);
    ck_assert(!exists(v.victim, "precious"));
    free(lp);
    env_free(&v);
}
END_TEST

START_TEST(test_commit_type_changes)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    mkdir_at(v.ws, "was_dir", 0755);
    file_at(v.ws, "was_dir/inner", "i\n", 0644);
    file_at(v.ws, "was_file", "f\n", 0644);
    mkdir_at(v.ws, "was_dir2", 0755);
    file_at(v.upper, "was_dir", "now a file\n", 0644);
    mkdir_at(v.upper, "was_file", 0755);
    opaque_at(v.upper, "was_file");
    file_at(v.upper, "was_file/x", "x\n", 0644);
    link_at(v.upper, "was_dir2", "elsewhere");
    sbx_err e = {0};
    ck_assert_msg(commit(v.upper, v.ws, NULL, &e) == 0, "%s", e.msg);
    assert_content(v.ws, "was_dir", "now a file\n");
    assert_content(v.ws, "was_file/x", "x\n");
    ck_assert(S_ISLNK(lstat_at(v.ws, "was_dir2").st_mode));
    /* a box-made link carries the mark host path handling can refuse */
    char *lp = tu_path(v.ws, "was_dir2");
    char mark[4] = {0};
    ck_assert_int_eq(lgetxattr(lp, SBX_WS_BOX_LINK_XATTR, mark, sizeof mark),
                     1);
    ck_assert_str_eq(mark, "1");
    free(lp);
    env_free(&v);
}
END_TEST

START_TEST(test_commit_keeps_holes)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    /* 1 GiB apparent, one block of data at each end. */
    char *p = tu_path(v.upper, "sparse");
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "head", 4, 0), 4);
    ck_assert_int_eq(pwrite(fd, "tail", 4, (1 << 30) - 4), 4);
    close(fd);
    free(p);
    sbx_err e = {0};
    ck_assert_msg(commit(v.upper, v.ws, NULL, &e) == 0, "%s", e.msg);
    struct stat st = lstat_at(v.ws, "sparse");
    ck_assert_int_eq(st.st_size, 1 << 30);
    ck_assert_int_lt(st.st_blocks * 512, 1 << 20);
    p = tu_path(v.ws, "sparse");
    fd = open(p, O_RDONLY);
    char buf[5] = {0};
    ck_assert_int_eq(pread(fd, buf, 4, 0), 4);
    ck_assert_str_eq(buf, "head");
    ck_assert_int_eq(pread(fd, buf, 4, (1 << 30) - 4), 4);
    ck_assert_str_eq(buf, "tail");
    ck_assert_int_eq(pread(fd, buf, 4, 1 << 29), 4);
    ck_assert_int_eq(memcmp(buf, "\0\0\0\0", 4), 0);
    close(fd);
    free(p);
    env_free(&v);
}
END_TEST

static int commit_capped(const char *upper, const char *ws, uint64_t limit,
                         sbx_ws_stats *st, sbx_err *e)
{
    int u = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int w = open(ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(u, 0);
    ck_assert_int_ge(w, 0);
    int rc = sbx_ws_commit_capped(u, w, OWNER_UID, OWNER_GID, limit, st, e);
    close(u);
    close(w);
    return rc;
}

/* Hard links cost the tmpfs one file and the host one copy per name: the
 * capped commit refuses the tree whole; the uncapped one (the control)
 * writes ten times the data. */
START_TEST(test_commit_capped_hardlinks)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    static char block[65536];
    memset(block, 'h', sizeof block);
    char *f = tu_path(v.upper, "f");
    int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
    close(fd);
    for (int i = 0; i < 9; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        char *l = tu_path(v.upper, name);
        ck_assert_int_eq(link(f, l), 0);
        free(l);
    }
    free(f);
    sbx_err e = {0};
    sbx_ws_stats st = {0};
    ck_assert_int_lt(commit_capped(v.upper, v.ws, 256 * 1024, &st, &e), 0);
    ck_assert_msg(strstr(e.msg, "disk_limit") != NULL, "%s", e.msg);
    ck_assert(!exists(v.ws, "f"));
    ck_assert_uint_eq(st.files, 0);
    /* 10 names x 64 KiB fit in 1 MiB */
    sbx_err e2 = {0};
    ck_assert_msg(commit_capped(v.upper, v.ws, 1 << 20, &st, &e2) == 0, "%s",
                  e2.msg);
    ck_assert_uint_eq(st.files, 10);
    ck_assert_int_eq(lstat_at(v.ws, "l8").st_nlink, 1);
    env_free(&v);
}
END_TEST

START_TEST(test_commit_skips_specials)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    char *p = tu_path(v.upper, "fifo");
    ck_assert_int_eq(mkfifo(p, 0644), 0);
    free(p);
    p = tu_path(v.upper, "null");
    ck_assert_int_eq(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
    free(p);
    p = tu_path(v.upper, "sda");
    ck_assert_int_eq(mknod(p, S_IFBLK | 0666, makedev(8, 0)), 0);
    free(p);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock", v.upper);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);
    sbx_err e = {0};
    sbx_ws_stats st;
    memset(&st, 0, sizeof st);
    ck_assert_msg(commit(v.upper, v.ws, &st, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(st.skipped, 4);
    ck_assert(!exists(v.ws, "fifo"));
    ck_assert(!exists(v.ws, "null"));
    ck_assert(!exists(v.ws, "sda"));
    ck_assert(!exists(v.ws, "sock"));
    env_free(&v);
}
END_TEST

START_TEST(test_commit_bounds)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    file_at(v.upper, "aaa-first", "first\n", 0644);
    char *p = sbx_strdup(v.upper);
    for (int i = 0; i < SBX_WS_MAX_DEPTH + 2; i++) {
        char *q = tu_path(p, "d");
        ck_assert_int_eq(mkdir(q, 0755), 0);
        free(p);
        p = q;
    }
    free(p);
    sbx_err e = {0};
    ck_assert_int_lt(commit(v.upper, v.ws, NULL, &e), 0);
    ck_assert_msg(strstr(e.msg, "deeper") != NULL, "%s", e.msg);
    /* Refused whole: nothing was written. */
    ck_assert(!exists(v.ws, "aaa-first"));
    ck_assert(!exists(v.ws, "d"));

    /* Path length: 17 names of 255 bytes. */
    env w;
    env_make(&w);
    char name[256];
    memset(name, 'n', 255);
    name[255] = '\0';
    int fd = open(w.upper, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 17; i++) {
        ck_assert_int_eq(mkdirat(fd, name, 0755), 0);
        int nfd = openat(fd, name, O_RDONLY | O_DIRECTORY);
        ck_assert_int_ge(nfd, 0);
        close(fd);
        fd = nfd;
    }
    close(fd);
    memset(&e, 0, sizeof e);
    ck_assert_int_lt(commit(w.upper, w.ws, NULL, &e), 0);
    ck_assert_msg(strstr(e.msg, "longer than") != NULL, "%s", e.msg);
    ck_assert(!exists(w.ws, name));
    /* nftw cannot remove paths past PATH_MAX: undo it fd by fd. */
    int fds[18];
    fds[0] = open(w.upper, O_RDONLY | O_DIRECTORY);
    for (int i = 1; i < 18; i++)
        fds[i] = openat(fds[i - 1], name, O_RDONLY | O_DIRECTORY);
    close(fds[17]);
    for (int i = 16; i >= 0; i--) {
        ck_assert_int_eq(unlinkat(fds[i], name, AT_REMOVEDIR), 0);
        close(fds[i]);
    }
    env_free(&w);
    env_free(&v);
}
END_TEST

/* ---- prepare / finish on real mounts
 * ----------------------------------------- */

static void plan_for(sbx_plan *p, const char *ws, uint64_t limit)
{
    memset(p, 0, sizeof *p);
    p->workspace = (char *)ws;
    p->disk_limit_bytes = limit;
    unsigned r = (unsigned)getpid() ^ (unsigned)random();
    snprintf(p->name, sizeof p->name, "sandbox-unit%08x%04x", r,
             (unsigned)(random() & 0xffff));
}

static bool staged(const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, SBX_WS_RUN_DIR "/%s", name);
    return lstat(path, &st) == 0;
}

/* Mounts whose mount point contains name (/proc/self/mountinfo). */
static int mounts_under(const char *name)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, name) != NULL;
    fclose(f);
    return n;
}

/* A filesystem mounted inside the host workspace is not the box's: the
 * overlay showed it the directory under the mount.  A whiteout or an
 * opaque directory there must not reach the mounted files; the naive
 * rm -rf (the control) does. */
START_TEST(test_commit_stops_at_mount_point)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    mkdir_at(v.ws, "mnt", 0755);
    mkdir_at(v.ws, "d", 0755);
    mkdir_at(v.ws, "d/sub", 0755);
    file_at(v.ws, "d/other", "o\n", 0644);
    char *mnt = tu_path(v.ws, "mnt");
    char *sub = tu_path(v.ws, "d/sub");
    ck_assert_int_eq(mount(v.victim, mnt, NULL, MS_BIND, NULL), 0);
    ck_assert_int_eq(mount(v.victim, sub, NULL, MS_BIND, NULL), 0);
    whiteout_at(v.upper, "mnt");
    whiteout_at(v.upper, "d");
    sbx_err e = {0};
    sbx_ws_stats st = {0};
    ck_assert_msg(commit(v.upper, v.ws, &st, &e) == 0, "%s", e.msg);
    assert_content(v.victim, "precious", "precious\n");
    ck_assert(!exists(v.ws, "d/other")); /* the rest of d still goes */
    ck_assert_uint_eq(st.mounts, 2);
    /* a directory the box made over it, with a file */
    tu_rmtree(strdup(v.upper));
    ck_assert_int_eq(mkdir(v.upper, 0755), 0);
    mkdir_at(v.upper, "mnt", 0755);
    opaque_at(v.upper, "mnt");
    file_at(v.upper, "mnt/planted", "p\n", 0644);
    memset(&st, 0, sizeof st);
    ck_assert_msg(commit(v.upper, v.ws, &st, &e) == 0, "%s", e.msg);
    ck_assert(!exists(v.victim, "planted"));
    assert_content(v.victim, "precious", "precious\n");
    ck_assert_uint_eq(st.mounts, 1);
    /* the control */
    naive_rm(mnt);
    ck_assert(!exists(v.victim, "precious"));
    umount2(mnt, MNT_DETACH);
    umount2(sub, MNT_DETACH);
    free(mnt);
    free(sub);
    env_free(&v);
}
END_TEST

START_TEST(test_prepare_finish_mapped)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    ck_assert_int_eq(chown(v.ws, 1000, 1000), 0);
    file_at(v.ws, "mine", "mine\n", 0644);
    char *mp = tu_path(v.ws, "mine");
    ck_assert_int_eq(chown(mp, 1000, 1000), 0);
    file_at(v.ws, "roots", "root's\n", 0644);
    sbx_plan p;
    plan_for(&p, v.ws, 8 << 20);
    sbx_idmap map = {100000, 100000, 65536};
    sbx_ws *w = NULL;
    sbx_err e = {0};
    ck_assert_msg(sbx_ws_prepare(&p, &map, &w, &e) == 0, "%s", e.msg);
    ck_assert(!sbx_ws_copy_mode(w));
    ck_assert(staged(p.name));
    const char *m = sbx_ws_source(w);
    /* The owner is the box's root, host root its uid 1000. */
    struct stat st = lstat_at(m, "mine");
    ck_assert_int_eq(st.st_uid, 100000);
    ck_assert_int_eq(lstat_at(m, "roots").st_uid, 101000);
    ck_assert_int_eq(lstat_at(m, ".").st_uid, 100000);
    /* Writes go to the tmpfs, not the host, until finish. */
    file_at(m, "mine", "changed\n", 0644);
    file_at(m, "new", "new\n", 04755);
    assert_content(v.ws, "mine", "mine\n");
    ck_assert(!exists(v.ws, "new"));
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    ck_assert_msg(sbx_ws_finish(w, &r, 0, &e) == 0, "%s", e.msg);
    assert_content(v.ws, "mine", "changed\n");
    st = lstat_at(v.ws, "new");
    ck_assert_int_eq(st.st_mode & 07777, 0755);
    ck_assert_int_eq(st.st_uid, 1000);
    ck_assert_int_eq(r.disk_limit_hit, 0);
    ck_assert_uint_gt(r.disk_bytes, 0);
    ck_assert(!staged(p.name));
    ck_assert_int_eq(mounts_under(p.name), 0);
    sandbox_result_free(&r);
    free(mp);
    env_free(&v);
}
END_TEST

START_TEST(test_disk_limit)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    sbx_plan p;
    plan_for(&p, v.ws, 4 << 20);
    sbx_ws *w = NULL;
    sbx_err e = {0};
    ck_assert_msg(sbx_ws_prepare(&p, NULL, &w, &e) == 0, "%s", e.msg);
    char *big = tu_path(sbx_ws_source(w), "big");
    int fd = open(big, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    static char buf[65536];
    ssize_t n = 0;
    int err = 0;
    for (int i = 0; i < 256; i++) { /* 16 MiB */
        n = write(fd, buf, sizeof buf);
        if (n < 0) {
            err = errno;
            break;
        }
    }
    close(fd);
    ck_assert_int_eq(err, ENOSPC);
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    ck_assert_msg(sbx_ws_finish(w, &r, 0, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(r.disk_limit_hit, 1);
    ck_assert_uint_ge(r.disk_bytes, 3 << 20);
    ck_assert_ptr_nonnull(r.message);
    ck_assert_msg(strstr(r.message, "disk_limit") != NULL, "%s", r.message);
    struct stat st = lstat_at(v.ws, "big");
    ck_assert_int_le(st.st_size, 4 << 20);
    sandbox_result_free(&r);
    free(big);

    /* Entries count too: 4 MiB buys 1024 inodes, not a million. */
    plan_for(&p, v.ws, 4 << 20);
    ck_assert_msg(sbx_ws_prepare(&p, NULL, &w, &e) == 0, "%s", e.msg);
    int made = 0;
    err = 0;
    for (int i = 0; i < 4096; i++, made++) {
        char name[64];
        snprintf(name, sizeof name, "%s/e%d", sbx_ws_source(w), i);
        fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            err = errno;
            break;
        }
        close(fd);
    }
    ck_assert_int_eq(err, ENOSPC);
    ck_assert_int_le(made, SBX_WS_MIN_INODES);
    sandbox_result_init(&r, sizeof r);
    ck_assert_msg(sbx_ws_finish(w, &r, 0, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(r.disk_limit_hit, 1);
    sandbox_result_free(&r);
    env_free(&v);
}
END_TEST

START_TEST(test_copy_mode)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    ck_assert_int_eq(chown(v.ws, 1000, 1000), 0);
    file_at(v.ws, "a", "a\n", 04755);
    link_at(v.ws, "l", "/etc/shadow");
    sbx_plan p;
    plan_for(&p, v.ws, 8 << 20);
    sbx_idmap map = {100000, 100000, 65536};
    sbx_ws *w = NULL;
    sbx_err e = {0};
    ck_assert_msg(sbx_ws_prepare_flags(&p, &map, SBX_WS_FORCE_COPY, &w, &e) ==
                      0,
                  "%s", e.msg);
    ck_assert(sbx_ws_copy_mode(w));
    const char *m = sbx_ws_source(w);
    ck_assert_int_eq(lstat_at(m, ".").st_uid, 100000);
    ck_assert_int_eq(lstat_at(m, "a").st_uid, 101000); /* host root's */
    ck_assert_int_eq(lstat_at(m, "a").st_mode & 07777, 0755);
    ck_assert(S_ISLNK(lstat_at(m, "l").st_mode));
    file_at(m, "b", "b\n", 0644);
    char *ap = tu_path(m, "a");
    ck_assert_int_eq(unlink(ap), 0);
    free(ap);
    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    ck_assert_msg(sbx_ws_finish(w, &r, 0, &e) == 0, "%s", e.msg);
    assert_content(v.ws, "b", "b\n");
    ck_assert(!exists(v.ws, "a"));
    ck_assert_uint_lt(r.disk_bytes, 1 << 20); /* the copy is not counted */
    ck_assert(!staged(p.name));
    sandbox_result_free(&r);

    /* Bigger than disk_limit: refused, naming the fix. */
    char *hp = tu_path(v.ws, "huge");
    int hfd = open(hp, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(hfd, 0);
    static char data[1 << 20];
    memset(data, 'x', sizeof data);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(write(hfd, data, sizeof data), sizeof data);
    close(hfd);
    free(hp);
    plan_for(&p, v.ws, 2 << 20);
    ck_assert_int_eq(sbx_ws_prepare_flags(&p, &map, SBX_WS_FORCE_COPY, &w, &e),
                     SANDBOX_EINVAL);
    ck_assert_msg(strstr(e.msg, "disk_limit") != NULL, "%s", e.msg);
    ck_assert(!staged(p.name));
    ck_assert_int_eq(mounts_under(p.name), 0);
    env_free(&v);
}
END_TEST

START_TEST(test_fallback_on_overlay_workspace)
{
    NEED_ROOT();
    /* A workspace that is itself an overlayfs (a caller inside a
     * container) cannot be idmapped here: the copy fallback is taken on
     * its own, and the run still works. */
    env v;
    env_make(&v);
    char *l = tu_path(v.root, "ol"), *u = tu_path(v.root, "ou"),
         *wk = tu_path(v.root, "ow"), *opts = NULL;
    ck_assert_int_eq(mkdir(l, 0755), 0);
    ck_assert_int_eq(mkdir(u, 0755), 0);
    ck_assert_int_eq(mkdir(wk, 0755), 0);
    file_at(l, "f", "lower\n", 0644);
    ck_assert_int_ge(
        asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", l, u, wk), 0);
    ck_assert_msg(mount("overlay", v.ws, "overlay", 0, opts) == 0,
                  "mount overlay: %s", strerror(errno));
    ck_assert_int_eq(chown(v.ws, 1000, 1000), 0);
    sbx_plan p;
    plan_for(&p, v.ws, 8 << 20);
    sbx_idmap map = {100000, 100000, 65536};
    sbx_ws *w = NULL;
    sbx_err e = {0};
    int rc = sbx_ws_prepare(&p, &map, &w, &e);
    if (rc == 0) {
        bool copied = sbx_ws_copy_mode(w);
        file_at(sbx_ws_source(w), "g", "new\n", 0644);
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        rc = sbx_ws_finish(w, &r, 0, &e);
        sandbox_result_free(&r);
        char *got = rc == 0 ? read_at(v.ws, "g") : NULL;
        if (rc == 0 && (got == NULL || strcmp(got, "new\n") != 0))
            rc = sbx_fail(&e, SANDBOX_EIO, "g not committed");
        free(got);
        /* Either way it must work; say which path this kernel took. */
        fprintf(stderr, "overlayfs workspace: %s\n",
                copied ? "copy mode" : "idmapped");
    }
    umount2(v.ws, MNT_DETACH);
    ck_assert_msg(rc == 0, "%s", e.msg);
    free(opts);
    free(l);
    free(u);
    free(wk);
    env_free(&v);
}
END_TEST

START_TEST(test_sweep_stale)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    sbx_plan p;
    plan_for(&p, v.ws, 4 << 20);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sbx_ws *w = NULL;
        sbx_err e = {0};
        _exit(sbx_ws_prepare(&p, NULL, &w, &e) == 0 ? 0 : 1);
        /* killed caller: no finish */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert(staged(p.name));
    ck_assert_int_gt(mounts_under(p.name), 0);
    ck_assert_uint_ge(sbx_ws_sweep(), 1);
    ck_assert(!staged(p.name));
    ck_assert_int_eq(mounts_under(p.name), 0);
    env_free(&v);
}
END_TEST

/* Every run sweeps the stale directories of others: a sweep that looks at
 * a run's directory between the run's create of its lock and its flock
 * holds the lock for a moment.  The run must wait that out, not fail
 * ("lock …: Resource temporarily unavailable", seen in the Slurm e2e run
 * with several concurrent runs).  Control: the sweeper really does take
 * free locks (a directory whose lock nobody holds is swept). */
START_TEST(test_sweep_races_prepare)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    pid_t sweeper = fork();
    ck_assert_int_ge(sweeper, 0);
    if (sweeper == 0) {
        for (;;)
            sbx_ws_sweep();
    }
    int failed = 0;
    char first[1100] = "";
    for (int i = 0; i < 150; i++) {
        sbx_plan p;
        plan_for(&p, v.ws, 1 << 20);
        sbx_ws *w = NULL;
        sbx_err e = {0};
        if (sbx_ws_prepare(&p, NULL, &w, &e) < 0) {
            if (failed++ == 0)
                snprintf(first, sizeof first, "%s", e.msg);
            continue;
        }
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        ck_assert_msg(sbx_ws_finish(w, &r, 0, &e) == 0, "%s", e.msg);
        sandbox_result_free(&r);
    }
    /* control: a dead caller's run is swept by the running sweeper */
    sbx_plan p;
    plan_for(&p, v.ws, 1 << 20);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sbx_ws *w = NULL;
        sbx_err e = {0};
        _exit(sbx_ws_prepare(&p, NULL, &w, &e) == 0 ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    for (int i = 0; i < 500 && staged(p.name); i++)
        usleep(10000);
    kill(sweeper, SIGKILL);
    waitpid(sweeper, NULL, 0);
    ck_assert_msg(!staged(p.name), "control: the sweeper swept nothing");
    ck_assert_msg(failed == 0, "%d of 150 prepares failed, first: %s", failed,
                  first);
    env_free(&v);
}
END_TEST

/* The sweep's race, made still: a run has made its directory, its lock
 * and t/ between the sweep's look for a lock file (none yet) and its look
 * for t/.  Holding no lock, the sweep must not take t/ as proof of a dead
 * run while the directory is young.  Control: the same directory, old, is
 * swept (a run that died before making its lock file). */
START_TEST(test_sweep_unlocked_young_left)
{
    NEED_ROOT();
    ck_assert(mkdir("/run/libsandbox", 0711) == 0 || errno == EEXIST);
    ck_assert(mkdir(SBX_WS_RUN_DIR, 0711) == 0 || errno == EEXIST);
    char name[64], dir[128], t[160];
    snprintf(name, sizeof name, "sandbox-unitsweep%ld", (long)getpid());
    snprintf(dir, sizeof dir, SBX_WS_RUN_DIR "/%s", name);
    snprintf(t, sizeof t, "%s/t", dir);
    ck_assert_int_eq(mkdir(dir, 0711), 0);
    ck_assert_int_eq(mkdir(t, 0700), 0);
    sbx_ws_sweep();
    ck_assert_msg(staged(name),
                  "a young run directory without a lock was swept");
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, dir, old, 0), 0);
    sbx_ws_sweep();
    bool swept = !staged(name);
    if (!swept) {
        rmdir(t);
        rmdir(dir);
    }
    ck_assert_msg(swept, "control: an old one without a lock was not swept");
}
END_TEST

START_TEST(test_swapped_path_refused)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    /* Planned as root/ws; by prepare time 'ws' sits behind a link. */
    char *real = tu_path(v.root, "real");
    char *lnk = tu_path(v.root, "lnk");
    ck_assert_int_eq(rename(v.ws, real), 0);
    ck_assert_int_eq(mkdir(v.ws, 0755), 0);
    ck_assert_int_eq(symlink(real, lnk), 0);
    char *via = tu_path(lnk, "x");
    ck_assert_int_eq(mkdir(via, 0755), 0);
    sbx_plan p;
    plan_for(&p, via, 4 << 20);
    sbx_ws *w = NULL;
    sbx_err e = {0};
    ck_assert_int_eq(sbx_ws_prepare(&p, NULL, &w, &e), SANDBOX_EINVAL);
    ck_assert_msg(strstr(e.msg, "symbolic link") != NULL, "%s", e.msg);
    ck_assert(!staged(p.name));
    free(via);
    free(lnk);
    free(real);
    env_free(&v);
}
END_TEST

START_TEST(test_not_root_refused)
{
    NEED_ROOT();
    env v;
    env_make(&v);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sbx_plan p;
        plan_for(&p, v.ws, 4 << 20);
        sbx_ws *w = NULL;
        sbx_err e = {0};
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        int rc = sbx_ws_prepare(&p, NULL, &w, &e);
        _exit(rc == SANDBOX_ERUNTIME && strstr(e.msg, "run as root") ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    env_free(&v);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("workspace");
    TCase *c = tcase_create("commit");
    tcase_add_unchecked_fixture(c, tu_root_setup, tu_root_teardown);
    tcase_add_test(c, test_commit_basic);
    tcase_add_test(c, test_commit_strips_setuid);
    tcase_add_test(c, test_commit_symlink_to_passwd);
    tcase_add_test(c, test_commit_symlink_swap);
    tcase_add_test(c, test_commit_whiteout_of_link);
    tcase_add_test(c, test_commit_type_changes);
    tcase_add_test(c, test_commit_keeps_holes);
    tcase_add_test(c, test_commit_skips_specials);
    tcase_add_test(c, test_commit_bounds);
    tcase_add_test(c, test_commit_capped_hardlinks);
    suite_add_tcase(s, c);
    /* valgrind 3.19 knows neither open_tree nor mount_setattr. */
    if (tu_under_valgrind())
        return s;
    TCase *m = tcase_create("mounts");
    tcase_add_unchecked_fixture(m, tu_root_setup, tu_root_teardown);
    tcase_set_timeout(m, 60);
    tcase_add_test(m, test_commit_stops_at_mount_point);
    tcase_add_test(m, test_prepare_finish_mapped);
    tcase_add_test(m, test_disk_limit);
    tcase_add_test(m, test_copy_mode);
    tcase_add_test(m, test_fallback_on_overlay_workspace);
    tcase_add_test(m, test_sweep_stale);
    tcase_add_test(m, test_sweep_races_prepare);
    tcase_add_test(m, test_sweep_unlocked_young_left);
    tcase_add_test(m, test_not_root_refused);
    tcase_add_test(m, test_swapped_path_refused);
    suite_add_tcase(s, m);
    return s;
}

static int touch_cb(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_F && S_ISREG(st->st_mode)) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0 || write(fd, "x", 1) != 1)
            return -1;
        close(fd);
    }
    return 0;
}

/* unit_workspace --cost DIR N [copy|touch]: the added cost of a workspace
 * per run, prepare + finish (copy: in copy mode; touch: after appending a
 * byte to every file through the merged view, not timed, so finish
 * commits them all), as docs/workspace.md reports it. */
static int cost(const char *dir, int n, const char *how)
{
    bool copy = how != NULL && strcmp(how, "copy") == 0;
    bool touch = how != NULL && strcmp(how, "touch") == 0;
    sbx_idmap map = {100000, 100000, 65536};
    double *ts = calloc((size_t)n, sizeof *ts), total = 0;
    for (int i = 0; i < n && ts != NULL; i++) {
        sbx_plan p;
        plan_for(&p, dir, 1ULL << 30);
        sbx_err e = {0};
        sbx_ws *w = NULL;
        sandbox_result r;
        sandbox_result_init(&r, sizeof r);
        double t0 = sbx_now();
        int rc = sbx_ws_prepare_flags(&p, &map, copy ? SBX_WS_FORCE_COPY : 0,
                                      &w, &e);
        if (rc == 0 && touch) {
            double t1 = sbx_now();
            if (nftw(sbx_ws_source(w), touch_cb, 16, FTW_PHYS) != 0)
                fprintf(stderr, "touch failed\n");
            t0 += sbx_now() - t1;
        }
        if (rc < 0 || sbx_ws_finish(w, &r, 0, &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            free(ts);
            return 1;
        }
        ts[i] = sbx_now() - t0;
        total += ts[i];
        sandbox_result_free(&r);
    }
    if (ts == NULL)
        return 1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (ts[j] < ts[i]) {
                double x = ts[i];
                ts[i] = ts[j];
                ts[j] = x;
            }
    printf("%s%s: %d runs, median %.2f ms, mean %.2f ms, best %.2f ms\n", dir,
           copy    ? " (copy mode)"
           : touch ? " (every file changed)"
                   : "",
           n, ts[n / 2] * 1e3, total / n * 1e3, ts[0] * 1e3);
    free(ts);
    return 0;
}

int main(int argc, char **argv)
{
    srandom((unsigned)getpid());
    if (argc >= 4 && strcmp(argv[1], "--cost") == 0 && atoi(argv[3]) > 0)
        return cost(argv[2], atoi(argv[3]), argc > 4 ? argv[4] : NULL);
    return tu_run(suite());
}
