/* SPDX-License-Identifier: MIT */
/* sandbox_box_put / sandbox_box_get against a real box on the backend
 * $SANDBOX_TEST_RUNTIME (podman, docker, native), with the busybox and the
 * Debian image (their tars differ): binary and tree round trips, refused
 * paths, and a box whose `tar` is replaced by a script that sends a
 * hostile stream, which must not write anything outside host_path.  The
 * hostile archive is crafted on the host with libarchive and put into the
 * box as a plain file. */
#include "box_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *const images[] = {"busybox:latest", "debian:stable-slim"};

/* A box whose PATH starts with /tmp/evil: what it puts there replaces any
 * command of the image (as a box that rewrites /bin/tar or /bin/sh would,
 * also on a read-only root).  Both `tar` and `sh` are replaced: busybox's
 * sh runs its own tar applet whatever PATH says. */
static const char *const evil_env[] = {
    "PATH=/tmp/evil:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:"
    "/bin"};

static sandbox_box *box_new_t(const char *img, const char *disk,
                              double timeout);

static sandbox_box *box_new(const char *img, const char *disk)
{
    return box_new_t(img, disk, 120);
}

static sandbox_box *box_new_t(const char *img, const char *disk, double timeout)
{
    sandbox_opts o;
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.env = evil_env;
    o.n_env = 1;
    o.image = img;
    o.runtime = bu_runtime();
    o.timeout_sec = timeout;
    if (disk != NULL)
        o.disk_limit = disk;
    return bu_box_create(&o);
}

/* root/shared, mode 0777 (whatever the umask): the box's writable mount. */
static char *shared_dir(const char *root)
{
    char *shared = tu_path(root, "shared");
    ck_assert_int_eq(mkdir(shared, 0777), 0);
    ck_assert_int_eq(chmod(shared, 0777), 0);
    return shared;
}

/* A box (the image's own PATH) with host directory shared mounted
 * writable at /data. */
static sandbox_box *box_new_mount(const char *img, const char *shared)
{
    sandbox_mount m = {.host = shared, .box = "/data", .writable = 1};
    sandbox_opts o;
    ck_assert_int_eq(sandbox_opts_init(&o, sizeof o), 0);
    o.image = img;
    o.runtime = bu_runtime();
    o.timeout_sec = 120;
    o.mounts = &m;
    o.n_mounts = 1;
    return bu_box_create(&o);
}

static char *root_dir(void)
{
    char *d = strdup("/tmp/sbx-boxcopy-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* The whole file at p, which must be there (NUL-terminated too). */
static unsigned char *read_all(const char *p, size_t *n)
{
    char *buf = tu_read_file(p, n);
    ck_assert_msg(buf != NULL, "%s: %s", p, strerror(errno));
    return (unsigned char *)buf;
}

static void write_all(const char *p, const void *data, size_t n, mode_t mode)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
    close(fd);
    ck_assert_int_eq(chmod(p, mode), 0);
}

static void assert_ok(int rc, char *msg, const char *what)
{
    ck_assert_msg(rc == 0, "%s: %d %s", what, rc, msg ? msg : "-");
    sandbox_free(msg);
}

/* A random 5 MiB file in and back out: bit-identical, mode kept. */
START_TEST(test_binary_round_trip)
{
    const char *img = images[_i];
    char *root = root_dir();
    char *in = tu_path(root, "in.bin"), *out = tu_path(root, "out.bin");
    size_t n = 5u << 20;
    unsigned char *data = malloc(n);
    for (size_t off = 0; off < n;)
        off += (size_t)getrandom(data + off, n - off, 0);
    write_all(in, data, n, 0640);
    sandbox_box *b = box_new(img, NULL);
    char *msg = NULL;
    assert_ok(sandbox_box_put(b, in, "/tmp/in.bin", &msg), msg, "put");
    char *o = NULL;
    ck_assert_int_eq(
        bu_sh(b, "wc -c < /tmp/in.bin; stat -c %a /tmp/in.bin", &o), 0);
    ck_assert_msg(strstr(o, "5242880") && strstr(o, "640"), "box sees %s", o);
    free(o);
    assert_ok(sandbox_box_get(b, "/tmp/in.bin", out, &msg), msg, "get");
    size_t m;
    unsigned char *back = read_all(out, &m);
    ck_assert_uint_eq(m, n);
    ck_assert_msg(memcmp(back, data, n) == 0, "get differs from put");
    struct stat st;
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0640);
    bu_box_end(b);
    free(back);
    free(data);
    free(in);
    free(out);
    tu_rmtree(root);
}
END_TEST

/* A tree with relative and absolute symlinks, a setuid file, an empty dir. */
START_TEST(test_tree_round_trip)
{
    const char *img = images[_i];
    char *root = root_dir();
    char *src = tu_path(root, "src"), *dst = tu_path(root, "dst");
    ck_assert_int_eq(mkdir(src, 0755), 0);
    char *sub = tu_path(src, "sub"), *empty = tu_path(src, "empty");
    ck_assert_int_eq(mkdir(sub, 0750), 0);
    ck_assert_int_eq(mkdir(empty, 0700), 0);
    char *f = tu_path(sub, "f.txt"), *su = tu_path(src, "su");
    write_all(f, "hello\n", 6, 0644);
    write_all(su, "#!/bin/sh\n", 10, 04755);
    char *rel = tu_path(src, "rel"), *abs = tu_path(src, "abs");
    ck_assert_int_eq(symlink("sub/f.txt", rel), 0);
    ck_assert_int_eq(symlink("/etc/shadow", abs), 0);
    sandbox_box *b = box_new(img, NULL);
    char *msg = NULL;
    assert_ok(sandbox_box_put(b, src, "/tmp/tree", &msg), msg, "put");
    char *o = NULL;
    ck_assert_int_eq(bu_sh(b,
                           "cat /tmp/tree/rel; readlink /tmp/tree/abs; "
                           "stat -c %a /tmp/tree/su /tmp/tree/sub; "
                           "[ -d /tmp/tree/empty ] && echo empty-ok",
                           &o),
                     0);
    ck_assert_msg(strstr(o, "hello\n/etc/shadow\n755\n750\nempty-ok") != NULL,
                  "box sees: %s", o);
    free(o);
    assert_ok(sandbox_box_get(b, "/tmp/tree", dst, &msg), msg, "get");
    char t[64] = {0};
    char *drel = tu_path(dst, "rel"), *dabs = tu_path(dst, "abs"),
         *df = tu_path(dst, "sub/f.txt"), *dsu = tu_path(dst, "su");
    ck_assert_int_eq(readlink(drel, t, sizeof t - 1), 9);
    ck_assert_str_eq(t, "sub/f.txt");
    memset(t, 0, sizeof t);
    ck_assert_int_eq(readlink(dabs, t, sizeof t - 1), 11);
    ck_assert_str_eq(t, "/etc/shadow");
    size_t n;
    unsigned char *c = read_all(df, &n);
    ck_assert_uint_eq(n, 6);
    ck_assert(memcmp(c, "hello\n", 6) == 0);
    struct stat st;
    ck_assert_int_eq(lstat(dsu, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0755);
    if (geteuid() == 0) /* box-made links are marked on the host */
        ck_assert_int_ge(lgetxattr(dabs, "trusted.libsandbox.box", NULL, 0), 0);
    bu_box_end(b);
    free(c);
    free(drel);
    free(dabs);
    free(df);
    free(dsu);
    free(rel);
    free(abs);
    free(f);
    free(su);
    free(sub);
    free(empty);
    free(src);
    free(dst);
    tu_rmtree(root);
}
END_TEST

START_TEST(test_refusals)
{
    char *root = root_dir();
    char *in = tu_path(root, "in"), *out = tu_path(root, "out");
    write_all(in, "x", 1, 0644);
    sandbox_box *b = box_new(images[0], NULL);
    const char *bad[] = {"/tmp/../etc/x", "tmp/x",   "/tmp/./x",
                         "//tmp/x",       "/tmp/x/", "/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *msg = NULL;
        ck_assert_int_eq(sandbox_box_put(b, in, bad[i], &msg), SANDBOX_EINVAL);
        ck_assert_ptr_nonnull(msg);
        sandbox_free(msg);
        msg = NULL;
        ck_assert_int_eq(sandbox_box_get(b, bad[i], out, &msg), SANDBOX_EINVAL);
        sandbox_free(msg);
    }
    /* Existing destinations, both ways: refused, untouched. */
    char *msg = NULL;
    ck_assert_int_eq(sandbox_box_put(b, in, "/etc/passwd", &msg),
                     SANDBOX_EINVAL);
    ck_assert_msg(strstr(msg, "already exists") != NULL, "%s", msg);
    sandbox_free(msg);
    char *o = NULL;
    ck_assert_int_eq(bu_sh(b, "grep -c root /etc/passwd", &o), 0);
    free(o);
    ck_assert_int_eq(sandbox_box_get(b, "/etc/passwd", in, &msg),
                     SANDBOX_EINVAL);
    ck_assert_msg(strstr(msg, "already exists") != NULL, "%s", msg);
    sandbox_free(msg);
    size_t n;
    unsigned char *c = read_all(in, &n);
    ck_assert(n == 1 && c[0] == 'x');
    free(c);
    /* Missing things. */
    ck_assert_int_eq(sandbox_box_get(b, "/nonexistent", out, &msg),
                     SANDBOX_EINVAL);
    sandbox_free(msg);
    char *nodir = tu_path(root, "no/such/dir");
    ck_assert_int_eq(sandbox_box_get(b, "/etc/passwd", nodir, &msg),
                     SANDBOX_EINVAL);
    sandbox_free(msg);
    ck_assert_int_eq(sandbox_box_put(b, nodir, "/tmp/y", &msg), SANDBOX_EINVAL);
    sandbox_free(msg);
    ck_assert_int_eq(sandbox_box_put(b, in, "/no/such/parent", &msg),
                     SANDBOX_EINVAL);
    sandbox_free(msg);
    ck_assert_int_eq(count_entries(root), 1); /* only "in" */
    /* A host path through a link a box made (marked as the workspace's
     * commit-back marks them): refused both ways. */
    if (geteuid() == 0) {
        char *lnk = tu_path(root, "boxlink");
        ck_assert_int_eq(symlink(root, lnk), 0);
        ck_assert_int_eq(lsetxattr(lnk, "trusted.libsandbox.box", "1", 1, 0),
                         0);
        char *via = tu_path(lnk, "in"), *via_out = tu_path(lnk, "new");
        ck_assert_int_eq(sandbox_box_put(b, via, "/tmp/z", &msg),
                         SANDBOX_EINVAL);
        ck_assert_msg(strstr(msg, "box") != NULL, "%s", msg);
        sandbox_free(msg);
        ck_assert_int_eq(sandbox_box_get(b, "/etc/passwd", via_out, &msg),
                         SANDBOX_EINVAL);
        sandbox_free(msg);
        ck_assert_int_eq(count_entries(root), 2);
        free(via);
        free(via_out);
        free(lnk);
    }
    bu_box_end(b);
    /* Not a box. */
    ck_assert_int_eq(sandbox_box_put(NULL, in, "/tmp/x", &msg),
                     SANDBOX_EBADBOX);
    sandbox_free(msg);
    ck_assert_int_eq(sandbox_box_get(NULL, "/tmp/x", out, &msg),
                     SANDBOX_EBADBOX);
    sandbox_free(msg);
    free(nodir);
    free(in);
    free(out);
    tu_rmtree(root);
}
END_TEST

static void add(struct archive *a, const char *path, mode_t type, mode_t perm,
                const char *data, const char *link)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    size_t n = data ? strlen(data) : 0;
    archive_entry_set_size(e, (la_int64_t)n);
    if (link != NULL)
        archive_entry_set_symlink(e, link);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    if (n > 0)
        ck_assert_int_eq(archive_write_data(a, data, n), (la_ssize_t)n);
    archive_entry_free(e);
}

/* The box swaps its tar for a script: a hostile stream (an escape through
 * a link to the host directory, '..', an absolute path), then an endless
 * one.  Nothing lands outside host_path; nothing at host_path either. */
START_TEST(test_hostile_tar)
{
    const char *img = images[_i];
    char *root = root_dir();
    char *evil = tu_path(root, "evil.tar"), *p = tu_path(root, "p"),
         *victim = tu_path(root, "victim"), *out = tu_path(p, "out");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(mkdir(victim, 0755), 0);
    char *abs = tu_path(victim, "abs");
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, evil), ARCHIVE_OK);
    add(a, "./f/", AE_IFDIR, 0755, NULL, NULL);
    add(a, "./f/ok", AE_IFREG, 0644, "fine\n", NULL);
    add(a, "./f/l", AE_IFLNK, 0777, NULL, victim);
    add(a, "./f/l/escaped", AE_IFREG, 04755, "pwned\n", NULL);
    add(a, "./f/../../victim/dotdot", AE_IFREG, 0644, "pwned\n", NULL);
    add(a, abs, AE_IFREG, 0644, "pwned\n", NULL);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    sandbox_box *b = box_new(img, "64m");
    char *msg = NULL;
    assert_ok(sandbox_box_put(b, evil, "/tmp/evil.tar", &msg), msg, "put");
    ck_assert_int_eq(bu_sh(b,
                           "mkdir -p /tmp/f /tmp/evil && cd /tmp/evil && "
                           "printf '#!/bin/sh\\ncat /tmp/evil.tar\\n' > tar && "
                           "cp tar sh && chmod 755 tar sh",
                           NULL),
                     0);
    ck_assert_int_ne(sandbox_box_get(b, "/tmp/f", out, &msg), 0);
    ck_assert_ptr_nonnull(msg);
    sandbox_free(msg);
    ck_assert_int_eq(count_entries(victim), 0);
    ck_assert_int_eq(count_entries(p), 0);
    ck_assert_int_eq(count_entries(root), 3); /* evil.tar, p, victim */
    /* Endless: cut at the cap (disk_limit 64m plus headers). */
    ck_assert_int_eq(bu_sh(b,
                           "cd /tmp/evil && printf '#!/bin/sh\\nexec cat "
                           "/dev/zero\\n' > tar && cp tar sh",
                           NULL),
                     0);
    ck_assert_int_eq(sandbox_box_get(b, "/tmp/f", out, &msg), SANDBOX_EIO);
    ck_assert_msg(strstr(msg, "more than") != NULL, "%s", msg);
    sandbox_free(msg);
    ck_assert_int_eq(count_entries(p), 0);
    /* No tar at all (exit 127, "not found"): the message says so. */
    ck_assert_int_eq(bu_sh(b,
                           "cd /tmp/evil && printf '#!/bin/sh\\n"
                           "exit 127\\n' > tar && cp tar sh",
                           NULL),
                     0);
    ck_assert_int_eq(sandbox_box_get(b, "/tmp/f", out, &msg), SANDBOX_EIO);
    ck_assert_msg(strstr(msg, "no `tar`") != NULL, "%s", msg);
    sandbox_free(msg);
    /* The box lives on: an exec after both. */
    ck_assert_int_eq(bu_sh(b, "true", NULL), 0);
    bu_box_end(b);
    /* The control: the same stream through a naive extractor (libarchive's
     * disk writer without its SECURE_* flags) lands outside. */
    char *ctl = tu_path(root, "ctl");
    ck_assert_int_eq(mkdir(ctl, 0755), 0);
    ck_assert_int_eq(chdir(ctl), 0);
    struct archive *r = archive_read_new(), *w = archive_write_disk_new();
    archive_read_support_format_tar(r);
    ck_assert_int_eq(archive_read_open_filename(r, evil, 10240), ARCHIVE_OK);
    archive_write_disk_set_options(w, 0);
    struct archive_entry *ent;
    while (archive_read_next_header(r, &ent) == ARCHIVE_OK) {
        if (archive_write_header(w, ent) != ARCHIVE_OK)
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
    ck_assert_int_eq(chdir("/"), 0);
    ck_assert_msg(count_entries(victim) >= 1,
                  "the naive extractor wrote nothing outside: control broken");
    free(ctl);
    free(abs);
    free(evil);
    free(p);
    free(victim);
    free(out);
    tu_rmtree(root);
}
END_TEST

/* Run sh -c cmd in the box with its stdout written to host file path. */
static int sh_to_file(sandbox_box *b, const char *cmd, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    sandbox_exec_opts x;
    ck_assert_int_eq(sandbox_exec_opts_init(&x, sizeof x), 0);
    x.command = cmd;
    x.stdout_fd = fd;
    sandbox_result r;
    ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
    int rc = sandbox_box_exec(b, &x, &r);
    close(fd);
    ck_assert_msg(rc == 0 && r.reason == SANDBOX_END_EXITED, "exec '%s'", cmd);
    int code = r.exit_code;
    sandbox_result_free(&r);
    return code;
}

static char *slurp(const char *p)
{
    size_t n;
    return (char *)read_all(p, &n);
}

/* get where the box made box_path, or a parent of it, a symbolic link:
 * to "/", to the host's own path for a directory the caller holds (what
 * the box can read in this test's source), relative links climbing up.
 * Control: the box's real `tar -c` stream, extracted by the host's GNU
 * tar (a naive get), leaves host_path a link through which the caller
 * reads the host's secret file.  Ours: the link at the top is refused;
 * through a link in a parent the box's own view is read, never the
 * host's. */
START_TEST(test_get_box_links)
{
    const char *img = images[_i];
    char *root = root_dir();
    char *victim = tu_path(root, "victim"), *p = tu_path(root, "p"),
         *ctl = tu_path(root, "ctl");
    ck_assert_int_eq(mkdir(victim, 0755), 0);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(mkdir(ctl, 0755), 0);
    char *secret = tu_path(victim, "secret");
    write_all(secret, "host-secret\n", 12, 0600);
    sandbox_box *b = box_new(img, NULL);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "ln -s / /tmp/rootlink && ln -s '%s' /tmp/hostlike && "
             "ln -s ../../../../../../.. /tmp/up && "
             "ln -s '%s' /tmp/hostdir && echo box-passwd > /tmp/mine",
             victim, victim);
    ck_assert_int_eq(bu_sh(b, cmd, NULL), 0);
    /* Control: a naive get of /tmp/hostlike. */
    char *stream = tu_path(root, "stream.tar");
    ck_assert_int_eq(sh_to_file(b, "tar -c -f - -C /tmp ./hostlike", stream),
                     0);
    char *x = NULL;
    ck_assert_int_ge(
        asprintf(&x, "tar -x -f '%s' -C '%s' 2>/dev/null", stream, ctl), 0);
    ck_assert_int_eq(system(x), 0);
    free(x);
    char *through = tu_path(ctl, "hostlike/secret");
    char *got = slurp(through);
    ck_assert_msg(strcmp(got, "host-secret\n") == 0,
                  "control: the naive get did not reach the host's file");
    free(got);
    free(through);
    /* Ours. */
    const char *links[] = {"/tmp/rootlink", "/tmp/hostlike", "/tmp/up"};
    for (size_t i = 0; i < 3; i++) {
        char *out = tu_path(p, "out"), *msg = NULL;
        ck_assert_int_eq(sandbox_box_get(b, links[i], out, &msg), SANDBOX_EIO);
        ck_assert_msg(strstr(msg, "symbolic link") != NULL, "%s: %s", links[i],
                      msg);
        sandbox_free(msg);
        ck_assert_int_eq(count_entries(p), 0);
        free(out);
    }
    /* Through a parent link: the box's own files or nothing, never the
     * host's. */
    char bp[1024];
    snprintf(bp, sizeof bp, "/tmp/hostdir/secret");
    char *out = tu_path(p, "viahost"), *msg = NULL;
    int rc = sandbox_box_get(b, bp, out, &msg);
    if (rc == 0) {
        char *c = slurp(out);
        ck_assert_msg(strcmp(c, "host-secret\n") != 0,
                      "get read the host's file through the box's link");
        free(c);
    }
    sandbox_free(msg);
    msg = NULL;
    free(out);
    out = tu_path(p, "viaroot");
    rc = sandbox_box_get(b, "/tmp/rootlink/tmp/mine", out, &msg);
    assert_ok(rc, msg, "get through a parent link to /");
    msg = NULL;
    char *c = slurp(out);
    ck_assert_str_eq(c, "box-passwd\n");
    free(c);
    free(out);
    out = tu_path(p, "viaup");
    rc = sandbox_box_get(b, "/tmp/up/tmp/mine", out, &msg);
    assert_ok(rc, msg, "get through a parent link climbing up");
    c = slurp(out);
    ck_assert_str_eq(c, "box-passwd\n");
    free(c);
    free(out);
    ck_assert_int_eq(count_entries(victim), 1);
    bu_box_end(b);
    free(stream);
    free(secret);
    free(victim);
    free(p);
    free(ctl);
    tu_rmtree(root);
}
END_TEST

/* put where the box made a link in box_path: to the host path of a
 * directory the caller holds, to /proc/1/root, climbing with ../..
 * Control: the same `tar -x -C` that put runs, resolved with the host's
 * view (a put that wrote on the box's behalf, or a backend sharing the
 * host's /tmp), writes into the victim directory.  Ours: the box's tar
 * resolves the link in the box's view, with the box's rights: the host's
 * directory is untouched. */
START_TEST(test_put_box_links)
{
    const char *img = images[_i];
    char *root = root_dir();
    char *victim = tu_path(root, "victim"), *in = tu_path(root, "in"),
         *ctl = tu_path(root, "ctl");
    ck_assert_int_eq(mkdir(victim, 0755), 0);
    ck_assert_int_eq(mkdir(ctl, 0755), 0);
    write_all(in, "pwned\n", 6, 0644);
    /* Control on the host. */
    char *hl = tu_path(ctl, "hl"), *tarf = tu_path(root, "in.tar");
    ck_assert_int_eq(symlink(victim, hl), 0);
    char *x = NULL;
    ck_assert_int_ge(asprintf(&x,
                              "tar -c -f '%s' -C '%s' in && tar -x -o -f "
                              "'%s' -C '%s'",
                              tarf, root, tarf, hl),
                     0);
    ck_assert_int_eq(system(x), 0);
    free(x);
    ck_assert_msg(count_entries(victim) == 1,
                  "control: tar -x through the link did not land");
    char *landed = tu_path(victim, "in");
    ck_assert_int_eq(unlink(landed), 0);
    free(landed);
    sandbox_box *b = box_new(img, NULL);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "ln -s '%s' /tmp/hl && ln -s /proc/1/root /tmp/p1 && "
             "ln -s ../../../../../.. /tmp/up && mkdir -p /tmp/d && "
             "ln -s '%s' /tmp/d/hl",
             victim, victim);
    ck_assert_int_eq(bu_sh(b, cmd, NULL), 0);
    char bp[2048];
    const char *paths[] = {"/tmp/hl/new", "/tmp/d/hl/new", NULL, NULL};
    char up[2048], p1[2048];
    snprintf(up, sizeof up, "/tmp/up%s/new", victim);
    snprintf(p1, sizeof p1, "/tmp/p1%s/new", victim);
    paths[2] = up;
    paths[3] = p1;
    for (size_t i = 0; i < 4; i++) {
        char *msg = NULL;
        int rc = sandbox_box_put(b, in, paths[i], &msg);
        ck_assert_int_eq(count_entries(victim), 0);
        if (rc == 0) { /* then it is in the box's view */
            snprintf(bp, sizeof bp, "cat '%s'", paths[i]);
            char *o = NULL;
            ck_assert_int_eq(bu_sh(b, bp, &o), 0);
            ck_assert_str_eq(o, "pwned\n");
            free(o);
        }
        sandbox_free(msg);
    }
    /* /proc/1/root is the init's (not dumpable: the box cannot even
     * resolve it); through the box's own "/" it lands in the box. */
    char *msg = NULL;
    int rc = sandbox_box_put(b, in, "/tmp/p1/tmp/viap1", &msg);
    ck_assert_msg(rc == SANDBOX_EINVAL, "put through /proc/1/root: %d %s", rc,
                  msg ? msg : "-");
    sandbox_free(msg);
    msg = NULL;
    rc = sandbox_box_put(b, in, "/tmp/up/tmp/viaup", &msg);
    assert_ok(rc, msg, "put through a link climbing up");
    char *o = NULL;
    ck_assert_int_eq(bu_sh(b, "cat /tmp/viaup", &o), 0);
    ck_assert_str_eq(o, "pwned\n");
    free(o);
    ck_assert_int_eq(count_entries(victim), 0);
    bu_box_end(b);
    free(hl);
    free(tarf);
    free(in);
    free(victim);
    free(ctl);
    tu_rmtree(root);
}
END_TEST

/* The box's tar never finishes: it sleeps, or sends half an archive and
 * keeps its stdout open, or exits while a child holds stdout.  Control:
 * the same script as a plain exec is still running at its timeout (it
 * never ends by itself).  Ours: get ends by the box's timeout_sec with a
 * clear error, nothing written, the box still usable. */
START_TEST(test_get_never_ends)
{
    const char *img = images[_i];
    char *root = root_dir();
    char *p = tu_path(root, "p"), *out = tu_path(p, "out");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    const double tmo = 3;
    sandbox_box *b = box_new_t(img, NULL, tmo);
    ck_assert_int_eq(bu_sh(b,
                           "mkdir -p /tmp/evil /tmp/f && echo x > /tmp/f/a && "
                           "tar -c -f /tmp/half.tar -C /tmp ./f",
                           NULL),
                     0);
    const char *scripts[] = {
        "exec sleep 600",
        "head -c 1024 /tmp/half.tar; exec sleep 600",
        "cat /tmp/half.tar; sleep 600 & exit 0",
    };
    for (size_t i = 0; i < 3; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "cd /tmp/evil && printf '#!/bin/sh\\n%s\\n' > tar && "
                 "cp tar sh && chmod 755 tar sh",
                 scripts[i]);
        /* The real sh writes the script; from now on sh is the box's. */
        ck_assert_int_eq(bu_sh(b, cmd, NULL), 0);
        /* Control: the script as a plain exec never ends by itself. */
        if (i < 2) {
            sandbox_exec_opts x;
            ck_assert_int_eq(sandbox_exec_opts_init(&x, sizeof x), 0);
            const char *argv[] = {"tar"};
            x.argv = argv;
            x.argc = 1;
            x.timeout_sec = 1;
            sandbox_result r;
            ck_assert_int_eq(sandbox_result_init(&r, sizeof r), 0);
            ck_assert_int_eq(sandbox_box_exec(b, &x, &r), 0);
            ck_assert_msg(r.reason == SANDBOX_END_TIMEOUT,
                          "control: '%s' ended by itself (%s)", scripts[i],
                          sandbox_end_name(r.reason));
            sandbox_result_free(&r);
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        char *msg = NULL;
        int rc = sandbox_box_get(b, "/tmp/f", out, &msg);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double took = (double)(t1.tv_sec - t0.tv_sec) +
                      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        ck_assert_msg(took < tmo + 10, "get took %.1f s", took);
        if (i < 2) {
            ck_assert_int_eq(rc, SANDBOX_EIO);
            ck_assert_msg(strstr(msg, "did not finish") != NULL, "%s", msg);
            ck_assert_int_eq(count_entries(p), 0);
        } else if (rc == 0) { /* a whole archive, then the tar exited */
            ck_assert_int_eq(count_entries(p), 1);
            char *a = tu_path(out, "a");
            char *c = slurp(a);
            ck_assert_str_eq(c, "x\n");
            free(c);
            free(a);
            tu_rmtree(strdup(out));
        } else {
            ck_assert_int_eq(count_entries(p), 0);
        }
        sandbox_free(msg);
        /* Back to the image's sh (not found in /tmp/evil: PATH goes on). */
        ck_assert_int_eq(bu_sh(b, "rm -f /tmp/evil/sh /tmp/evil/tar", NULL), 0);
    }
    ck_assert_int_eq(bu_sh(b, "true", NULL), 0);
    bu_box_end(b);
    free(out);
    free(p);
    tu_rmtree(root);
}
END_TEST

/* host_path in a host directory the box has as a writable mount: the box
 * makes a link there (to a directory of the caller's, climbing out with
 * ../, several levels down) and waits for the owner to get into it.
 * Control: a plain host write to that host_path lands in the victim
 * directory.  Ours: refused, naming the link; a path with no link in the
 * mount (or through the caller's own link outside it) still works. */
START_TEST(test_get_writable_mount_link)
{
    const char *img = images[_i];
    char *root = root_dir();
    char *shared = shared_dir(root), *victim = tu_path(root, "victim");
    ck_assert_int_eq(mkdir(victim, 0755), 0);
    sandbox_box *b = box_new_mount(img, shared);
    char *msg = NULL;
    int rc;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "echo boxdata > /tmp/f && mkdir /data/real /data/a && "
             "ln -s '%s' /data/out && ln -s ../victim /data/rel && "
             "ln -s '%s' /data/a/b",
             victim, victim);
    ck_assert_int_eq(bu_sh(b, cmd, NULL), 0);
    /* Control: what a naive host write to those paths does. */
    const char *via[] = {"out", "rel", "a/b"};
    for (size_t i = 0; i < 3; i++) {
        char *dir = tu_path(shared, via[i]);
        char *f = tu_path(dir, "ctl");
        write_all(f, "x", 1, 0644);
        ck_assert_msg(count_entries(victim) == 1,
                      "control: a write to %s did not land in the victim", f);
        char *landed = tu_path(victim, "ctl");
        ck_assert_int_eq(unlink(landed), 0);
        free(landed);
        free(f);
        /* Ours. */
        char *hp = tu_path(dir, "result");
        rc = sandbox_box_get(b, "/tmp/f", hp, &msg);
        ck_assert_msg(rc == SANDBOX_EINVAL, "get to %s: %d %s", hp, rc,
                      msg ? msg : "-");
        ck_assert_msg(strstr(msg, "writable") != NULL, "%s", msg);
        sandbox_free(msg);
        msg = NULL;
        ck_assert_int_eq(count_entries(victim), 0);
        free(hp);
        free(dir);
    }
    /* No link in the mount: fine, also through the caller's own link. */
    char *alias = tu_path(root, "alias");
    ck_assert_int_eq(symlink(shared, alias), 0);
    const char *ok[] = {"shared/real/r1", "shared/r2", "alias/real/r3"};
    for (size_t i = 0; i < 3; i++) {
        char *hp = tu_path(root, ok[i]);
        rc = sandbox_box_get(b, "/tmp/f", hp, &msg);
        assert_ok(rc, msg, ok[i]);
        msg = NULL;
        char *c = slurp(hp);
        ck_assert_str_eq(c, "boxdata\n");
        free(c);
        free(hp);
    }
    ck_assert_int_eq(count_entries(victim), 0);
    bu_box_end(b);
    free(alias);
    free(shared);
    free(victim);
    tu_rmtree(root);
}
END_TEST

/* The mirror image for put: the box makes a link in a writable mount
 * pointing at a host directory with the caller's secrets; a put of a
 * host_path through it would copy them into the box.  Control: a plain
 * host read through the link gets the secret. */
START_TEST(test_put_writable_mount_link)
{
    const char *img = images[_i];
    char *root = root_dir();
    char *shared = shared_dir(root), *secret = tu_path(root, "secret");
    ck_assert_int_eq(mkdir(secret, 0700), 0);
    char *key = tu_path(secret, "key");
    write_all(key, "hostsecret\n", 11, 0600);
    sandbox_box *b = box_new_mount(img, shared);
    char *msg = NULL;
    int rc;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir /data/real && echo mine > /data/real/f && "
             "ln -s '%s' /data/in && ln -s ../secret /data/rel",
             secret);
    ck_assert_int_eq(bu_sh(b, cmd, NULL), 0);
    /* "in/": a trailing '/' makes a plain host read follow the link too. */
    const char *via[] = {"in/key", "rel/key", "in/"};
    for (size_t i = 0; i < 3; i++) {
        char *hp = tu_path(shared, via[i]);
        char *kp = i == 2 ? tu_path(hp, "key") : strdup(hp);
        char *c = slurp(kp); /* control */
        free(kp);
        ck_assert_msg(strcmp(c, "hostsecret\n") == 0,
                      "control: %s does not reach the secret", hp);
        free(c);
        char bp[64];
        snprintf(bp, sizeof bp, "/tmp/leak%zu", i);
        rc = sandbox_box_put(b, hp, bp, &msg);
        ck_assert_msg(rc == SANDBOX_EINVAL, "put of %s: %d %s", hp, rc,
                      msg ? msg : "-");
        ck_assert_msg(strstr(msg, "writable") != NULL, "%s", msg);
        sandbox_free(msg);
        msg = NULL;
        snprintf(cmd, sizeof cmd, "test ! -e %s", bp);
        ck_assert_int_eq(bu_sh(b, cmd, NULL), 0);
        free(hp);
    }
    /* No link on the way: fine. */
    char *ok = tu_path(shared, "real/f");
    rc = sandbox_box_put(b, ok, "/tmp/mine", &msg);
    assert_ok(rc, msg, "put of real/f");
    msg = NULL;
    bu_box_end(b);
    free(ok);
    free(key);
    free(shared);
    free(secret);
    tu_rmtree(root);
}
END_TEST

/* host_path "link/" where link is the caller's own link to a directory:
 * the directory's tree goes in (as a trailing '/' means to the kernel);
 * "link" without it: the link itself, as documented. */
START_TEST(test_put_slash_link)
{
    char *root = root_dir();
    char *real = tu_path(root, "real"), *lnk = tu_path(root, "lnk");
    ck_assert_int_eq(mkdir(real, 0755), 0);
    char *f = tu_path(real, "f");
    write_all(f, "via\n", 4, 0644);
    ck_assert_int_eq(symlink("real", lnk), 0);
    char *lslash = NULL;
    ck_assert_int_ge(asprintf(&lslash, "%s/", lnk), 0);
    sandbox_box *b = box_new(images[0], NULL);
    char *msg = NULL;
    assert_ok(sandbox_box_put(b, lnk, "/tmp/asl", &msg), msg, "put link");
    msg = NULL;
    assert_ok(sandbox_box_put(b, lslash, "/tmp/dsl", &msg), msg, "put link/");
    char *o = NULL;
    ck_assert_int_eq(
        bu_sh(b,
              "readlink /tmp/asl; [ -L /tmp/dsl ] && echo IS-LINK; "
              "cat /tmp/dsl/f",
              &o),
        0);
    ck_assert_msg(strcmp(o, "real\nvia\n") == 0, "box sees: %s", o);
    free(o);
    bu_box_end(b);
    free(lslash);
    free(f);
    free(real);
    free(lnk);
    tu_rmtree(root);
}
END_TEST

/* Drop (or restore) CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from this
 * thread's effective set: root then meets directory modes like anyone. */
static void dac_caps(bool on)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    ck_assert_int_eq(syscall(SYS_capget, &h, d), 0);
    unsigned m = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH);
    if (on)
        d[0].effective |= m & d[0].permitted;
    else
        d[0].effective &= ~m;
    ck_assert_int_eq(syscall(SYS_capset, &h, d), 0);
}

/* A readable file in a directory the caller may search but not list
 * (mode 0111): put needs only what a read of the file needs. */
START_TEST(test_put_search_only_parent)
{
    char *root = root_dir();
    char *xo = tu_path(root, "xo");
    ck_assert_int_eq(mkdir(xo, 0755), 0);
    char *f = tu_path(xo, "f");
    write_all(f, "searchable\n", 11, 0644);
    ck_assert_int_eq(chmod(xo, 0111), 0);
    sandbox_box *b = box_new(images[0], NULL);
    if (geteuid() == 0)
        dac_caps(false);
    /* Control: the directory cannot be opened for reading, the file can. */
    int dfd = open(xo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int derr = errno;
    if (dfd >= 0)
        close(dfd);
    ck_assert_msg(dfd < 0 && derr == EACCES, "control: %s opened", xo);
    char *c = slurp(f);
    ck_assert_str_eq(c, "searchable\n");
    free(c);
    char *msg = NULL;
    int rc = sandbox_box_put(b, f, "/tmp/so", &msg);
    if (geteuid() == 0)
        dac_caps(true);
    assert_ok(rc, msg, "put from a search-only directory");
    char *o = NULL;
    ck_assert_int_eq(bu_sh(b, "cat /tmp/so", &o), 0);
    ck_assert_str_eq(o, "searchable\n");
    free(o);
    bu_box_end(b);
    ck_assert_int_eq(chmod(xo, 0755), 0);
    free(f);
    free(xo);
    tu_rmtree(root);
}
END_TEST

typedef struct conc {
    sandbox_box *b;
    const char *root;
    int id;
    int fails;
    char why[512];
} conc;

static void *conc_thread(void *arg)
{
    conc *c = arg;
    for (int i = 0; i < 3 && c->fails == 0; i++) {
        size_t n = 256u << 10;
        unsigned char *data = malloc(n);
        for (size_t off = 0; off < n;)
            off += (size_t)getrandom(data + off, n - off, 0);
        char in[512], out[512], bp[64];
        snprintf(in, sizeof in, "%s/in-%d-%d", c->root, c->id, i);
        snprintf(out, sizeof out, "%s/out-%d-%d", c->root, c->id, i);
        snprintf(bp, sizeof bp, "/tmp/c-%d-%d", c->id, i);
        int fd = open(in, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, data, n) != (ssize_t)n)
            c->fails++;
        if (fd >= 0)
            close(fd);
        char *msg = NULL;
        int rc = sandbox_box_put(c->b, in, bp, &msg);
        if (rc == 0)
            rc = sandbox_box_get(c->b, bp, out, &msg);
        if (rc != 0) {
            c->fails++;
            snprintf(c->why, sizeof c->why, "%s: %d %s", bp, rc,
                     msg ? msg : "-");
        } else {
            FILE *f = fopen(out, "rb");
            unsigned char *back = malloc(n + 1);
            size_t m = f ? fread(back, 1, n + 1, f) : 0;
            if (f)
                fclose(f);
            if (m != n || memcmp(back, data, n) != 0) {
                c->fails++;
                snprintf(c->why, sizeof c->why, "%s: round trip differs", bp);
            }
            free(back);
        }
        sandbox_free(msg);
        free(data);
    }
    return NULL;
}

/* 4 threads putting and getting their own files through one box at once:
 * every round trip intact (no crossed streams). */
START_TEST(test_concurrent)
{
    char *root = root_dir();
    sandbox_box *b = box_new(images[0], NULL);
    conc cs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = (conc){.b = b, .root = root, .id = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, conc_thread, &cs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(cs[i].fails == 0, "thread %d: %s", i, cs[i].why);
    bu_box_end(b);
    tu_rmtree(root);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("box_copy");
    TCase *c = tcase_create(bu_runtime());
    tcase_set_timeout(c, 600);
    tcase_add_loop_test(c, test_binary_round_trip, 0, 2);
    tcase_add_loop_test(c, test_tree_round_trip, 0, 2);
    tcase_add_test(c, test_refusals);
    tcase_add_loop_test(c, test_hostile_tar, 0, 2);
    tcase_add_test(c, test_concurrent);
    tcase_add_loop_test(c, test_get_box_links, 0, 2);
    tcase_add_loop_test(c, test_put_box_links, 0, 2);
    tcase_add_loop_test(c, test_get_never_ends, 0, 2);
    tcase_add_loop_test(c, test_get_writable_mount_link, 0, 2);
    tcase_add_loop_test(c, test_put_writable_mount_link, 0, 2);
    tcase_add_test(c, test_put_slash_link);
    tcase_add_test(c, test_put_search_only_parent);
    suite_add_tcase(s, c);
    return tu_run(s);
}
