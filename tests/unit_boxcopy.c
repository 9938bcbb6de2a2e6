/* SPDX-License-Identifier: MIT */
/* put/get's host-side halves (boxcopy.c): the tar stream put writes, and
 * the extraction of a hostile stream get reads.  Every attack archive is
 * crafted here with libarchive; a control extracts the same archive with
 * the host's GNU tar as root to show that the attack is real. */
#include "boxcopy.h"
#include "test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

/* One crafted entry. */
typedef struct centry {
    const char *path;
    mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO */
    mode_t perm;
    const char *data;     /* regular files */
    const char *symlink;  /* AE_IFLNK */
    const char *hardlink; /* a hard link entry to this name */
    int64_t size;         /* -1: strlen(data) */
} centry;

static void craft_add(struct archive *a, const centry *c)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, c->path);
    archive_entry_set_filetype(e, c->type);
    archive_entry_set_perm(e, c->perm);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_mtime(e, 1700000000, 0);
    size_t dl = c->data ? strlen(c->data) : 0;
    archive_entry_set_size(e, c->type == AE_IFREG && c->hardlink == NULL
                                  ? (c->size >= 0 ? c->size : (int64_t)dl)
                                  : 0);
    if (c->symlink)
        archive_entry_set_symlink(e, c->symlink);
    if (c->hardlink)
        archive_entry_set_hardlink(e, c->hardlink);
    if (c->type == AE_IFCHR)
        archive_entry_set_rdev(e, makedev(1, 3));
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    if (dl > 0)
        ck_assert_int_eq(archive_write_data(a, c->data, dl), (la_ssize_t)dl);
    archive_entry_free(e);
}

/* Write entries to path as a pax archive. */
static void craft(const char *path, const centry *es, size_t n)
{
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++)
        craft_add(a, &es[i]);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* Entries of dir (not . and ..). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The layout every extraction test uses:
 *   root/a.tar   the archive        root/p/       host_path's parent
 *   root/o/      "outside": a directory an attack aims at           */
typedef struct lay {
    char *root, *tar, *p, *o, *dest;
} lay;

static void lay_init(lay *l)
{
    l->root = tu_mkdtemp();
    l->tar = tu_path(l->root, "a.tar");
    l->p = tu_path(l->root, "p");
    l->o = tu_path(l->root, "o");
    l->dest = tu_path(l->p, "out");
    ck_assert_int_eq(mkdir(l->p, 0755), 0);
    ck_assert_int_eq(mkdir(l->o, 0755), 0);
}

static void lay_free(lay *l)
{
    free(l->tar);
    free(l->p);
    free(l->o);
    free(l->dest);
    tu_rmtree(l->root);
}

static int extract(const lay *l, const sbx_copy_limits *lim, sbx_err *e)
{
    int fd = open(l->tar, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    int rc = sbx_copy_extract(fd, "top", l->dest, lim, e);
    close(fd);
    return rc;
}

/* The attack was refused and left nothing anywhere: not in host_path's
 * directory (no result, no temporary), not outside, not above. */
static void assert_refused_clean(const lay *l, int rc, const sbx_err *e,
                                 const char *want)
{
    ck_assert_msg(rc < 0, "the crafted archive was accepted");
    ck_assert_msg(strstr(e->msg, want) != NULL, "message '%s' lacks '%s'",
                  e->msg, want);
    ck_assert_int_eq(count_entries(l->p), 0);
    ck_assert_int_eq(count_entries(l->o), 0);
    ck_assert_int_eq(count_entries(l->root), 3); /* a.tar, p, o */
}

/* ---- box paths ------------------------------------------------------------
 */

START_TEST(test_box_path)
{
    char par[4096], name[4096];
    sbx_err e = {0};
    ck_assert_int_eq(
        sbx_copy_box_path("/tmp/in", par, sizeof par, name, sizeof name, &e),
        0);
    ck_assert_str_eq(par, "/tmp");
    ck_assert_str_eq(name, "in");
    ck_assert_int_eq(
        sbx_copy_box_path("/x", par, sizeof par, name, sizeof name, &e), 0);
    ck_assert_str_eq(par, "/");
    ck_assert_str_eq(name, "x");
    const char *bad[] = {"tmp/x", "/",      "/tmp/../etc", "/tmp/./x",
                         "//x",   "/tmp/",  "/tmp//x",     "/..",
                         "",      "/a/b/.", "/a/..",       NULL};
    for (size_t i = 0; bad[i]; i++) {
        e.msg[0] = '\0';
        ck_assert_msg(sbx_copy_box_path(bad[i], par, sizeof par, name,
                                        sizeof name, &e) == SANDBOX_EINVAL,
                      "'%s' accepted", bad[i]);
        ck_assert(e.msg[0] != '\0');
    }
    ck_assert_int_eq(
        sbx_copy_box_path(NULL, par, sizeof par, name, sizeof name, &e),
        SANDBOX_EINVAL);
}
END_TEST

/* ---- put: the stream we write ------------------------------------------- */

static void make_tree(const char *src)
{
    ck_assert_int_eq(mkdir(src, 0750), 0);
    char *f = tu_path(src, "bin");
    tu_write_file(f, "#!/bin/sh\necho hi\n", 0755);
    ck_assert_int_eq(chmod(f, 04755 | S_ISGID), 0); /* setuid + setgid */
    free(f);
    char *sub = tu_path(src, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    char *g = tu_path(sub, "data");
    tu_write_file(g, "payload\n", 0640);
    free(g);
    free(sub);
    char *l = tu_path(src, "link");
    ck_assert_int_eq(symlink("/etc/passwd", l), 0);
    free(l);
    char *r = tu_path(src, "rel");
    ck_assert_int_eq(symlink("sub/data", r), 0);
    free(r);
}

/* Our stream, extracted by the host's GNU tar as root (which keeps owners
 * and setuid bits when the archive has them): owner 0, no setuid/setgid,
 * links as links. */
START_TEST(test_put_stream_gnu_tar)
{
    char *root = tu_mkdtemp();
    char *src = tu_path(root, "src"), *tar = tu_path(root, "s.tar");
    char *dst = tu_path(root, "dst");
    make_tree(src);
    ck_assert_int_eq(mkdir(dst, 0755), 0);
    int fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    sbx_err e = {0};
    ck_assert_msg(sbx_copy_tar_write(fd, src, "new", NULL, &e) == 0, "%s",
                  e.msg);
    close(fd);
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "tar -x -f '%s' -C '%s'", tar, dst), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    struct stat st;
    char *nb = tu_path(dst, "new/bin");
    ck_assert_int_eq(lstat(nb, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0755);
    ck_assert_int_eq(st.st_uid, 0);
    char *nd = tu_path(dst, "new/sub/data");
    char *c = tu_read_file(nd, NULL);
    ck_assert_str_eq(c, "payload\n");
    ck_assert_int_eq(lstat(nd, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0640);
    char *nl = tu_path(dst, "new/link");
    char t[64] = {0};
    ck_assert_int_eq(readlink(nl, t, sizeof t - 1), 11);
    ck_assert_str_eq(t, "/etc/passwd");
    char *nn = tu_path(dst, "new");
    ck_assert_int_eq(lstat(nn, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0750);
    free(c);
    free(nb);
    free(nd);
    free(nl);
    free(nn);
    free(src);
    free(tar);
    free(dst);
    tu_rmtree(root);
}
END_TEST

/* A fifo in the tree: refused, naming it, before a byte is written. */
START_TEST(test_put_refuses_fifo)
{
    char *root = tu_mkdtemp();
    char *src = tu_path(root, "src"), *tar = tu_path(root, "s.tar");
    make_tree(src);
    char *ff = tu_path(src, "sub/fifo");
    ck_assert_int_eq(mkfifo(ff, 0644), 0);
    int fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    sbx_err e = {0};
    ck_assert_int_eq(sbx_copy_tar_write(fd, src, "new", NULL, &e),
                     SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "fifo"));
    ck_assert_ptr_nonnull(strstr(e.msg, "new/sub/fifo"));
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    close(fd);
    free(ff);
    free(src);
    free(tar);
    tu_rmtree(root);
}
END_TEST

/* put's stream through get's extractor: the host-only round trip. */
START_TEST(test_round_trip_host)
{
    lay l;
    lay_init(&l);
    char *src = tu_path(l.root, "src");
    make_tree(src);
    int fd = open(l.tar, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    sbx_err e = {0};
    ck_assert_msg(sbx_copy_tar_write(fd, src, "top", NULL, &e) == 0, "%s",
                  e.msg);
    close(fd);
    ck_assert_msg(extract(&l, NULL, &e) == 0, "%s", e.msg);
    char *d = tu_path(l.dest, "sub/data");
    char *c = tu_read_file(d, NULL);
    ck_assert_str_eq(c, "payload\n");
    struct stat st;
    char *b = tu_path(l.dest, "bin");
    ck_assert_int_eq(lstat(b, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0755);
    ck_assert_int_eq(lstat(l.dest, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0750);
    char *lk = tu_path(l.dest, "link");
    ck_assert_int_eq(lstat(lk, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    if (geteuid() == 0) { /* marked as the box's, so never followed later */
        ck_assert_int_ge(lgetxattr(lk, SBX_WS_BOX_LINK_XATTR, NULL, 0), 0);
        char *through = tu_path(l.dest, "link");
        char *bad = sbx_box_link_on_path(through);
        ck_assert_ptr_nonnull(bad);
        free(bad);
        free(through);
    }
    ck_assert_int_eq(count_entries(l.p), 1); /* out, no temporary left */
    /* Existing destination: refused, untouched. */
    e.msg[0] = '\0';
    ck_assert_int_eq(extract(&l, NULL, &e), SANDBOX_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "already exists"));
    ck_assert_int_eq(count_entries(l.p), 1);
    free(c);
    free(d);
    free(b);
    free(lk);
    free(src);
    lay_free(&l);
}
END_TEST

/* ---- get: hostile streams -------------------------------------------------
 */

START_TEST(test_dotdot)
{
    const centry cases[][2] = {
        {{"../x", AE_IFREG, 0644, "pwned", NULL, NULL, -1}},
        {{"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
         {"top/../../x", AE_IFREG, 0644, "pwned", NULL, NULL, -1}},
        {{"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
         {"top/a/../../../o/x", AE_IFREG, 0644, "pwned", NULL, NULL, -1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lay l;
        lay_init(&l);
        craft(l.tar, cases[i], cases[i][1].path ? 2 : 1);
        sbx_err e = {0};
        int rc = extract(&l, NULL, &e);
        assert_refused_clean(&l, rc, &e, i == 0 ? "outside" : "'..'");
        lay_free(&l);
    }
}
END_TEST

START_TEST(test_absolute)
{
    lay l;
    lay_init(&l);
    char *abs = tu_path(l.o, "abs");
    const centry c[] = {{"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
                        {abs, AE_IFREG, 0644, "pwned", NULL, NULL, -1}};
    craft(l.tar, c, 2);
    sbx_err e = {0};
    assert_refused_clean(&l, extract(&l, NULL, &e), &e, "absolute");
    free(abs);
    lay_free(&l);
}
END_TEST

/* A link to outside, then a file through it. */
START_TEST(test_symlink_then_file)
{
    lay l;
    lay_init(&l);
    const centry c[] = {
        {"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
        {"top/l", AE_IFLNK, 0777, NULL, l.o, NULL, -1},
        {"top/l/evil", AE_IFREG, 0644, "pwned", NULL, NULL, -1}};
    craft(l.tar, c, 3);
    sbx_err e = {0};
    assert_refused_clean(&l, extract(&l, NULL, &e), &e, "top/l/evil");
    /* The top itself a link, then a file under it. */
    const centry d[] = {{"top", AE_IFLNK, 0777, NULL, l.o, NULL, -1},
                        {"top/evil", AE_IFREG, 0644, "pwned", NULL, NULL, -1}};
    craft(l.tar, d, 2);
    assert_refused_clean(&l, extract(&l, NULL, &e), &e, "symbolic link");
    /* A link, then a file of the same name (write through the link). */
    char *victim = tu_path(l.root, "victim");
    tu_write_file(victim, "safe", 0644);
    const centry f[] = {{"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
                        {"top/v", AE_IFLNK, 0777, NULL, victim, NULL, -1},
                        {"top/v", AE_IFREG, 0644, "pwned", NULL, NULL, -1}};
    craft(l.tar, f, 3);
    int rc = extract(&l, NULL, &e);
    ck_assert_int_lt(rc, 0);
    char *v = tu_read_file(victim, NULL);
    ck_assert_str_eq(v, "safe");
    ck_assert_int_eq(count_entries(l.p), 0);
    free(v);
    unlink(victim);
    free(victim);
    lay_free(&l);
}
END_TEST

START_TEST(test_setuid_neutralised)
{
    lay l;
    lay_init(&l);
    const centry c[] = {
        {"top/", AE_IFDIR, 02755 | S_ISUID, NULL, NULL, NULL, -1},
        {"top/su", AE_IFREG, 06755, "#!/bin/sh\nid\n", NULL, NULL, -1}};
    craft(l.tar, c, 2);
    sbx_err e = {0};
    ck_assert_msg(extract(&l, NULL, &e) == 0, "%s", e.msg);
    struct stat st;
    char *su = tu_path(l.dest, "su");
    ck_assert_int_eq(lstat(su, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0755);
    ck_assert_int_eq(st.st_uid, geteuid());
    ck_assert_int_eq(lstat(l.dest, &st), 0);
    ck_assert_int_eq(st.st_mode & 07000, 0);
    free(su);
    lay_free(&l);
}
END_TEST

START_TEST(test_device_fifo)
{
    const mode_t types[] = {AE_IFCHR, AE_IFIFO};
    for (size_t i = 0; i < 2; i++) {
        lay l;
        lay_init(&l);
        const centry c[] = {{"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
                            {"top/d", types[i], 0666, NULL, NULL, NULL, -1}};
        craft(l.tar, c, 2);
        sbx_err e = {0};
        assert_refused_clean(&l, extract(&l, NULL, &e), &e,
                             i == 0 ? "device" : "fifo");
        lay_free(&l);
    }
}
END_TEST

START_TEST(test_hardlinks)
{
    const char *targets[] = {"/etc/passwd", "../etc/passwd", "top/../../a.tar",
                             "etc/passwd", "top/missing"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        lay l;
        lay_init(&l);
        const centry c[] = {
            {"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
            {"top/h", AE_IFREG, 0644, NULL, NULL, targets[i], -1}};
        craft(l.tar, c, 2);
        sbx_err e = {0};
        int rc = extract(&l, NULL, &e);
        ck_assert_msg(rc < 0, "hard link to '%s' accepted", targets[i]);
        ck_assert_int_eq(count_entries(l.p), 0);
        lay_free(&l);
    }
    /* /etc/passwd keeps one name per link it had: no new link appeared. */
    struct stat st;
    ck_assert_int_eq(stat("/etc/passwd", &st), 0);
    ck_assert_int_eq(st.st_nlink, 1);
    /* Within the tree: fine. */
    lay l;
    lay_init(&l);
    const centry ok[] = {{"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
                         {"top/f", AE_IFREG, 0644, "shared", NULL, NULL, -1},
                         {"top/h", AE_IFREG, 0644, NULL, NULL, "top/f", -1}};
    craft(l.tar, ok, 3);
    sbx_err e = {0};
    ck_assert_msg(extract(&l, NULL, &e) == 0, "%s", e.msg);
    char *h = tu_path(l.dest, "h");
    char *c = tu_read_file(h, NULL);
    ck_assert_str_eq(c, "shared");
    free(c);
    free(h);
    lay_free(&l);
}
END_TEST

START_TEST(test_outside_top_and_twice)
{
    lay l;
    lay_init(&l);
    const centry c[] = {{"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
                        {"other", AE_IFREG, 0644, "x", NULL, NULL, -1}};
    craft(l.tar, c, 2);
    sbx_err e = {0};
    assert_refused_clean(&l, extract(&l, NULL, &e), &e, "outside");
    const centry d[] = {{"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
                        {"top/f", AE_IFREG, 0644, "a", NULL, NULL, -1},
                        {"top/f", AE_IFREG, 0644, "b", NULL, NULL, -1}};
    craft(l.tar, d, 3);
    assert_refused_clean(&l, extract(&l, NULL, &e), &e, "twice");
    /* Not a tar at all. */
    tu_write_file(l.tar, "garbage, not an archive\n", 0644);
    assert_refused_clean(&l, extract(&l, NULL, &e), &e, "nothing");
    lay_free(&l);
}
END_TEST

START_TEST(test_many_entries)
{
    lay l;
    lay_init(&l);
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, l.tar), ARCHIVE_OK);
    centry top = {"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1};
    craft_add(a, &top);
    char name[64];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "top/f%d", i);
        centry f = {name, AE_IFREG, 0644, NULL, NULL, NULL, -1};
        craft_add(a, &f);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    sbx_err e = {0};
    assert_refused_clean(&l, extract(&l, NULL, &e), &e, "entries");
    lay_free(&l);
}
END_TEST

START_TEST(test_size_and_depth_caps)
{
    lay l;
    lay_init(&l);
    /* A header claiming 1 TiB (sparse-like: nothing behind it). */
    const centry c[] = {
        {"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
        {"top/big", AE_IFREG, 0644, NULL, NULL, NULL, (int64_t)1 << 40}};
    /* Into a small memory buffer: libarchive's padding of the missing
     * terabyte fails there instead of filling a disk. */
    static char mem[1 << 16];
    size_t used = 0;
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, mem, sizeof mem, &used),
                     ARCHIVE_OK);
    craft_add(a, &c[0]);
    craft_add(a, &c[1]);
    archive_write_free(a); /* cut short: no data at all */
    ck_assert_uint_gt(used, 0);
    ck_assert_uint_le(used, sizeof mem);
    int fd = open(l.tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_eq(write(fd, mem, used), (ssize_t)used);
    close(fd);
    sbx_copy_limits lim = {.max_bytes = 1 << 20};
    sbx_err e = {0};
    assert_refused_clean(&l, extract(&l, &lim, &e), &e, "cap");
    /* Deeper than the depth cap. */
    char deep[4096] = "top";
    centry ds[200];
    static char paths[200][600];
    size_t n = 0;
    for (unsigned i = 0; i < 150; i++) {
        ck_assert_int_lt(snprintf(paths[n], sizeof paths[n], "%.590s/", deep),
                         (int)sizeof paths[n]);
        ds[n] = (centry){paths[n], AE_IFDIR, 0755, NULL, NULL, NULL, -1};
        n++;
        strcat(deep, "/d");
        if (strlen(deep) > 500)
            break;
    }
    craft(l.tar, ds, n);
    sbx_copy_limits dl = {.max_depth = 100};
    assert_refused_clean(&l, extract(&l, &dl, &e), &e, "deeper");
    lay_free(&l);
}
END_TEST

/* The top itself a link the box chose (to "/", to a host-looking path, to
 * the caller's own directory): host_path would become a door to wherever
 * the box pointed it.  Control: GNU tar makes that link, and reading
 * through it reads the host's files.  Ours: refused, nothing written. */
START_TEST(test_top_is_link)
{
    const char *targets[] = {"/", NULL /* l.o */, "../o", "/etc"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        lay l;
        lay_init(&l);
        char *secret = tu_path(l.o, "secret");
        tu_write_file(secret, "host-secret", 0600);
        const char *t = targets[i] ? targets[i] : l.o;
        const centry c[] = {{"./top", AE_IFLNK, 0777, NULL, t, NULL, -1}};
        craft(l.tar, c, 1);
        /* Control: GNU tar into p/ (as a naive get would) lands it. */
        char *cmd = NULL;
        ck_assert_int_ge(asprintf(&cmd, "tar -x -f '%s' -C '%s'", l.tar, l.p),
                         0);
        ck_assert_int_eq(system(cmd), 0);
        free(cmd);
        char *via = tu_path(l.p, "top");
        struct stat st;
        ck_assert_int_eq(lstat(via, &st), 0);
        ck_assert_msg(S_ISLNK(st.st_mode), "control: GNU tar made no link");
        if (targets[i] == NULL || strcmp(targets[i], "../o") == 0) {
            char *through = tu_path(via, "secret");
            char *got = tu_read_file(through, NULL);
            ck_assert_msg(got && strcmp(got, "host-secret") == 0,
                          "control: the link did not reach the host file");
            free(got);
            free(through);
        }
        ck_assert_int_eq(unlink(via), 0);
        free(via);
        /* Ours. */
        sbx_err e = {0};
        int rc = extract(&l, NULL, &e);
        ck_assert_msg(rc < 0, "a top-level link to '%s' was accepted", t);
        ck_assert_msg(strstr(e.msg, "symbolic link") != NULL, "%s", e.msg);
        ck_assert_int_eq(count_entries(l.p), 0);
        ck_assert_int_eq(count_entries(l.o), 1); /* secret */
        ck_assert_int_eq(count_entries(l.root), 3);
        free(secret);
        lay_free(&l);
    }
    /* A top-level hard link (to anything) is refused too. */
    lay l;
    lay_init(&l);
    const centry h[] = {{"top", AE_IFREG, 0644, NULL, NULL, "/etc/passwd", -1}};
    craft(l.tar, h, 1);
    sbx_err e = {0};
    assert_refused_clean(&l, extract(&l, NULL, &e), &e, "link");
    lay_free(&l);
}
END_TEST

/* File capabilities and other extended attributes in the stream
 * (SCHILY.xattr.* pax records): a file that gains CAP_SYS_ADMIN, or a
 * forged trusted.libsandbox.box mark.  Control: libarchive's disk writer
 * with ARCHIVE_EXTRACT_XATTR (what `bsdtar --xattrs` / `tar --xattrs` do)
 * as root puts security.capability on the host file.  Ours: no xattr at
 * all on what it writes. */
static void craft_xattrs(const char *path)
{
    /* struct vfs_cap_data, revision 2, effective: CAP_SYS_ADMIN (21). */
    const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02,
                                   0x00, 0x00, 0x20, 0x00};
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format_pax(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    const char *names[] = {"top/", "top/capped", "top/marked"};
    for (int i = 0; i < 3; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, i == 0 ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, 0755);
        archive_entry_set_size(e, i == 0 ? 0 : 3);
        archive_entry_set_mtime(e, 1700000000, 0);
        archive_entry_xattr_add_entry(e, "security.capability", cap,
                                      sizeof cap);
        archive_entry_xattr_add_entry(e, "trusted.libsandbox.box", "1", 1);
        archive_entry_xattr_add_entry(e, "user.evil", "1", 1);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        if (i > 0)
            ck_assert_int_eq(archive_write_data(a, "id\n", 3), 3);
        archive_entry_free(e);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

START_TEST(test_xattrs_caps)
{
    lay l;
    lay_init(&l);
    craft_xattrs(l.tar);
    if (geteuid() == 0) {
        /* Control: a naive extractor that keeps xattrs, into o/. */
        char *cwd = getcwd(NULL, 0);
        ck_assert_int_eq(chdir(l.o), 0);
        struct archive *r = archive_read_new(), *w = archive_write_disk_new();
        archive_read_support_format_tar(r);
        ck_assert_int_eq(archive_read_open_filename(r, l.tar, 10240),
                         ARCHIVE_OK);
        archive_write_disk_set_options(w, ARCHIVE_EXTRACT_XATTR |
                                              ARCHIVE_EXTRACT_PERM);
        struct archive_entry *ent;
        while (archive_read_next_header(r, &ent) == ARCHIVE_OK) {
            if (archive_write_header(w, ent) < ARCHIVE_WARN)
                continue;
            const void *blk;
            size_t len;
            la_int64_t off;
            while (archive_read_data_block(r, &blk, &len, &off) == ARCHIVE_OK)
                archive_write_data_block(w, blk, len, off);
            archive_write_finish_entry(w);
        }
        archive_read_free(r);
        archive_write_free(w);
        ck_assert_int_eq(chdir(cwd), 0);
        free(cwd);
        char *capped = tu_path(l.o, "top/capped");
        ck_assert_msg(getxattr(capped, "security.capability", NULL, 0) > 0,
                      "control: the naive extractor set no file capability "
                      "(%s): control broken",
                      strerror(errno));
        free(capped);
        char *top = tu_path(l.o, "top");
        tu_rmtree(top);
    }
    sbx_err e = {0};
    ck_assert_msg(extract(&l, NULL, &e) == 0, "%s", e.msg);
    const char *names[] = {"", "/capped", "/marked"};
    for (int i = 0; i < 3; i++) {
        char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s%s", l.dest, names[i]), 0);
        char list[256];
        ssize_t n = llistxattr(p, list, sizeof list);
        ck_assert_msg(n == 0, "'%s' got %zd bytes of xattr names (%s)", p, n,
                      n > 0 ? list : strerror(errno));
        char *bad = sbx_box_link_on_path(p);
        ck_assert_ptr_null(bad);
        free(p);
    }
    lay_free(&l);
}
END_TEST

/* The control: the same crafted archive extracted by plain GNU tar as root
 * (its defaults: owners and modes kept, devices made) lands the attack. */
START_TEST(test_control_gnu_tar_lands)
{
    if (geteuid() != 0) {
        fprintf(stderr, "control skipped: not root\n");
        return;
    }
    lay l;
    lay_init(&l);
    const centry c[] = {
        {"top/", AE_IFDIR, 0755, NULL, NULL, NULL, -1},
        {"top/su", AE_IFREG, 04755, "#!/bin/sh\nid\n", NULL, NULL, -1},
        {"top/d", AE_IFCHR, 0666, NULL, NULL, NULL, -1}};
    craft(l.tar, c, 3);
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "tar -x -f '%s' -C '%s'", l.tar, l.o), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    struct stat st;
    char *su = tu_path(l.o, "top/su"), *d = tu_path(l.o, "top/d");
    ck_assert_int_eq(lstat(su, &st), 0);
    ck_assert_msg((st.st_mode & S_ISUID) && st.st_uid == 0,
                  "GNU tar did not make a setuid-root file: control broken");
    ck_assert_int_eq(lstat(d, &st), 0);
    ck_assert_msg(S_ISCHR(st.st_mode), "GNU tar made no device node");
    /* ... and ours on the same archive: refused (the device), nothing. */
    sbx_err e = {0};
    int rc = extract(&l, NULL, &e);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_eq(count_entries(l.p), 0);
    free(su);
    free(d);
    lay_free(&l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("boxcopy");
    TCase *c = tcase_create("boxcopy");
    tcase_add_unchecked_fixture(c, tu_root_setup, tu_root_teardown);
    tcase_set_timeout(c, 120);
    tcase_add_test(c, test_box_path);
    tcase_add_test(c, test_put_stream_gnu_tar);
    tcase_add_test(c, test_put_refuses_fifo);
    tcase_add_test(c, test_round_trip_host);
    tcase_add_test(c, test_dotdot);
    tcase_add_test(c, test_absolute);
    tcase_add_test(c, test_symlink_then_file);
    tcase_add_test(c, test_setuid_neutralised);
    tcase_add_test(c, test_device_fifo);
    tcase_add_test(c, test_hardlinks);
    tcase_add_test(c, test_outside_top_and_twice);
    tcase_add_test(c, test_many_entries);
    tcase_add_test(c, test_size_and_depth_caps);
    tcase_add_test(c, test_control_gnu_tar_lands);
    tcase_add_test(c, test_top_is_link);
    tcase_add_test(c, test_xattrs_caps);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
