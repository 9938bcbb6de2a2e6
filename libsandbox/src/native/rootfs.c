/* SPDX-License-Identifier: MIT */
/* Root filesystems for the native backend.  An absolute directory is used
 * as is (read-only).  An image name is exported once from podman or docker
 * into a cache keyed by the image's ID:
 *
 *   <cache>/<id>/        the unpacked root (plus mount points we need)
 *   <cache>/refs/<name>  "<id>\n<stamp>\n": which ID a name meant, and the
 *                        runtime's image index (mtime, size) at that time
 *
 * While the index file is unchanged the ref is trusted and no runtime CLI
 * runs at all (that is what keeps a native run in milliseconds); when it
 * changes, `image inspect` is asked again.  Two runs racing to fill the
 * cache each unpack into a private temporary directory and rename(2) it
 * into place; the loser removes its copy. */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#define SBX_EXPORT_TIMEOUT_SEC 600.0

char *sbx_rootfs_cache_dir(void)
{
    const char *env = getenv("SANDBOX_CACHE_DIR");
    if (env != NULL && env[0] == '/')
        return sbx_asprintf("%s/rootfs", env);
    if (geteuid() == 0)
        return sbx_strdup("/var/cache/libsandbox/rootfs");
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return sbx_asprintf("%s/libsandbox/rootfs", xdg);
    const char *home = getenv("HOME");
    return sbx_asprintf("%s/.cache/libsandbox/rootfs", home ? home : "/tmp");
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/* The runtime's image index file, whose change invalidates refs. */
static const char *index_file(sbx_runtime_kind kind)
{
    return kind == SBX_RT_PODMAN
               ? "/var/lib/containers/storage/overlay-images/images.json"
               : "/var/lib/docker/image/overlay2/repositories.json";
}

static void index_stamp(sbx_runtime_kind kind, char *buf, size_t size)
{
    struct stat st;
    if (geteuid() != 0 || stat(index_file(kind), &st) < 0) {
        snprintf(buf, size, "none");
        return;
    }
    snprintf(buf, size, "%lld.%09ld:%lld", (long long)st.st_mtim.tv_sec,
             st.st_mtim.tv_nsec, (long long)st.st_size);
}

int sbx_rootfs_ref_name(const char *image, char *buf, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)image; *p; p++) {
        if (j + 4 > size)
            return -ENAMETOOLONG;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '.' || *p == '-') {
            buf[j++] = (char)*p;
        } else if (*p == '/' || *p == ':') {
            buf[j++] = *p == '/' ? '+' : '_';
        } else {
            buf[j++] = '%';
            buf[j++] = hex[*p >> 4];
            buf[j++] = hex[*p & 15];
        }
    }
    buf[j] = '\0';
    return 0;
}

/* refs/<runtime>@<escaped name>; NULL when the name is too long. */
static char *ref_path(const char *cache, const char *rt_path, const char *image)
{
    char name[200];
    const char *base = strrchr(rt_path, '/');
    if (sbx_rootfs_ref_name(image, name, sizeof name) < 0)
        return NULL;
    return sbx_asprintf("%s/refs/%.32s@%s", cache, base ? base + 1 : rt_path,
                        name);
}

static int run_tool(char *const argv[], char **out, sbx_err *e)
{
    int code = sbx_run_quiet(argv, SBX_EXPORT_TIMEOUT_SEC, out, 4096);
    if (code != 0) {
        if (out != NULL) {
            free(*out);
            *out = NULL;
        }
        return sbx_fail(e, SANDBOX_ERUNTIME, "'%s %s' failed (exit %d)",
                        argv[0], argv[1], code);
    }
    return 0;
}

/* Export image into cache/<id>; safe against concurrent fillers. */
static int export_image(const char *rt, const char *image, const char *cache,
                        const char *id, const char *final, sbx_err *e)
{
    uint8_t rnd[6];
    char tag[32];
    int rc;

    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "getrandom");
    snprintf(tag, sizeof tag, "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
    sbx_autofree char *tmp = sbx_asprintf("%s/.tmp-%.16s-%s", cache, id, tag);
    sbx_autofree char *tar =
        sbx_asprintf("%s/.tmp-%.16s-%s.tar", cache, id, tag);
    sbx_autofree char *name = sbx_asprintf("sandbox-export-%s", tag);
    sbx_autofree char *outarg = sbx_asprintf("--output=%s", tar);
    if (!tmp || !tar || !name || !outarg)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if (mkdir(tmp, 0755) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, errno, "mkdir %s", tmp);

    char *create[] = {(char *)rt, "create",      "--pull=never", "--name",
                      name,       (char *)image, "true",         NULL};
    char *export[] = {(char *)rt, "export", outarg, name, NULL};
    char *rm[] = {(char *)rt, "rm", "-f", name, NULL};
    char *untar[] = {"/bin/tar",          "-x", "-f", tar, "-C", tmp,
                     "--exclude=./dev/*", NULL};
    rc = run_tool(create, NULL, e);
    if (rc == 0)
        rc = run_tool(export, NULL, e);
    sbx_run_quiet(rm, 60, NULL, 0);
    if (rc == 0)
        rc = run_tool(untar, NULL, e);
    unlink(tar);
    /* Mount points the box needs, whatever the image has. */
    static const char *const points[] = {"proc", "sys", "dev", "tmp",
                                         "workspace"};
    for (size_t i = 0; rc == 0 && i < 5; i++)
        rc = sbx_rootfs_mount_point(tmp, points[i], true, false, e);
    if (rc == 0 && rename(tmp, final) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY)
            rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "rename %s", tmp);
        /* else another run filled it first: use theirs */
    }
    rm_rf(tmp);
    return rc;
}

static int write_ref(const char *path, const char *id, const char *stamp)
{
    sbx_autofree char *tmp = sbx_asprintf("%s.%ld", path, (long)getpid());
    if (tmp == NULL)
        return -1;
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return -1;
    fprintf(f, "%s\n%s\n", id, stamp);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Hold <cache>/<id>.lock shared for as long as a box may use <cache>/<id>:
 * sbx_rootfs_sweep() deletes only what it can lock exclusively. */
static int lock_shared(const char *cache, const char *id)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.lock", cache, id);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_SH) < 0)
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    return fd;
}

/* Fast path: the ref is current (the runtime's index unchanged since it
 * was written) and its export is there.  0 with *dir and *lock_fd set. */
static int from_ref(const char *cache, const char *ref, const char *stamp,
                    char **dir, int *lock_fd)
{
    char line_id[160] = {0}, line_stamp[96] = {0};
    struct stat st;
    FILE *f = fopen(ref, "re");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%159s %95s", line_id, line_stamp) != 2)
        line_id[0] = '\0';
    fclose(f);
    if (!line_id[0] || strcmp(stamp, "none") == 0 ||
        strcmp(stamp, line_stamp) != 0 ||
        strspn(line_id, "0123456789abcdef") != strlen(line_id))
        return -1;
    *lock_fd = lock_shared(cache, line_id);
    *dir = sbx_asprintf("%s/%s", cache, line_id);
    if (*lock_fd >= 0 && *dir != NULL && stat(*dir, &st) == 0)
        return 0;
    free(*dir);
    *dir = NULL;
    sbx_closep(lock_fd);
    return -1;
}

/* Ask the runtime which ID the name means now (hex, no "sha256:"). */
static int inspect_id(const char *rt, const char *image, char **id, sbx_err *e)
{
    char *inspect[] = {(char *)rt, "image",       "inspect", "--format",
                       "{{.Id}}",  (char *)image, NULL};
    sbx_autofree char *out = NULL;
    if (sbx_run_quiet(inspect, 60, &out, 4096) != 0 || out == NULL)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "image '%s' is not in %s's local storage: build or "
                        "pull it first (the native runtime never pulls)",
                        image, rt);
    char *p = strncmp(out, "sha256:", 7) == 0 ? out + 7 : out;
    p[strcspn(p, " \r\n")] = '\0';
    if (*p == '\0' || strspn(p, "0123456789abcdef") != strlen(p))
        return sbx_fail(e, SANDBOX_ERUNTIME,
                        "'%s image inspect' printed an unexpected ID '%s'", rt,
                        p);
    *id = sbx_strdup(p);
    return *id ? 0 : sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
}

/* Slow path: the current ID's export, made if missing, and the ref
 * rewritten. */
static int from_runtime(const char *rt, const char *image, const char *cache,
                        const char *ref, const char *stamp, char **dir,
                        int *lock_fd, sbx_err *e)
{
    struct stat st;
    sbx_autofree char *id = NULL;
    int rc = inspect_id(rt, image, &id, e);
    if (rc < 0)
        return rc;
    *dir = sbx_asprintf("%s/%s", cache, id);
    if (*dir == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if ((*lock_fd = lock_shared(cache, id)) < 0)
        rc = sbx_fail_errno(e, SANDBOX_EIO, errno, "locking %s/%s.lock", cache,
                            id);
    else if (stat(*dir, &st) < 0)
        rc = export_image(rt, image, cache, id, *dir, e);
    if (rc < 0) {
        free(*dir);
        *dir = NULL;
        sbx_closep(lock_fd);
        return rc;
    }
    write_ref(ref, id, stamp); /* best effort: only a cache */
    return 0;
}

int sbx_rootfs_resolve(const char *image, char **dir, int *lock_fd, sbx_err *e)
{
    char stamp[96];
    sbx_runtime_kind kind;
    int rc;

    *dir = NULL;
    *lock_fd = -1;
    if (image[0] == '/') {
        *dir = realpath(image, NULL);
        if (*dir == NULL)
            return sbx_fail_errno(e, SANDBOX_EINVAL, errno, "image '%s'",
                                  image);
        return 0;
    }
    sbx_autofree char *cache = sbx_rootfs_cache_dir();
    sbx_autofree char *rt = NULL;
    if (cache == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if ((rc = sbx_find_runtime(NULL, NULL, getenv("PATH"), &rt, &kind, e)) < 0)
        return sbx_fail(e, SANDBOX_ENORUNTIME,
                        "image '%s' is a name, and the native runtime needs "
                        "podman or docker to export it once (neither is on "
                        "PATH); give a root filesystem directory instead",
                        image);
    sbx_autofree char *refs = sbx_asprintf("%s/refs", cache);
    sbx_autofree char *ref = ref_path(cache, rt, image);
    if (refs == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if (ref == NULL)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "image name '%.64s...' is too long for the native "
                        "runtime's rootfs cache (at most 190 bytes once "
                        "escaped): use a shorter tag or the image ID",
                        image);
    if ((rc = sbx_mkdir_p(refs, 0700)) < 0)
        return sbx_fail_errno(e, SANDBOX_EIO, -rc,
                              "cannot create the rootfs cache %s", refs);
    index_stamp(kind, stamp, sizeof stamp);
    if (from_ref(cache, ref, stamp, dir, lock_fd) == 0)
        return 0;
    return from_runtime(rt, image, cache, ref, stamp, dir, lock_fd, e);
}

/* Is `id` the target of some ref file? */
static bool referenced(const char *refs, const char *id)
{
    DIR *d = opendir(refs);
    struct dirent *de;
    bool found = false;
    if (d == NULL)
        return true; /* cannot tell: keep */
    while (!found && (de = readdir(d)) != NULL) {
        char path[4096], line[160];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", refs, de->d_name);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        found = fgets(line, sizeof line, f) != NULL &&
                strncmp(line, id, strlen(id)) == 0 &&
                (line[strlen(id)] == '\n' || line[strlen(id)] == '\0');
        fclose(f);
    }
    closedir(d);
    return found;
}

unsigned sbx_rootfs_sweep(void)
{
    sbx_autofree char *cache = sbx_rootfs_cache_dir();
    sbx_autofree char *refs = cache ? sbx_asprintf("%s/refs", cache) : NULL;
    unsigned removed = 0;
    DIR *d = cache ? opendir(cache) : NULL;
    struct dirent *de;
    time_t now = time(NULL);
    if (d == NULL || refs == NULL) {
        if (d != NULL)
            closedir(d);
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", cache, de->d_name);
        if (strncmp(de->d_name, ".tmp-", 5) == 0) {
            /* An export that died half-way, an hour ago or more. */
            if (lstat(path, &st) == 0 && difftime(now, st.st_mtime) > 3600) {
                if (S_ISDIR(st.st_mode))
                    rm_rf(path);
                else
                    unlink(path);
                removed++;
            }
            continue;
        }
        size_t n = strlen(de->d_name);
        if (n < 12 || strspn(de->d_name, "0123456789abcdef") != n ||
            referenced(refs, de->d_name))
            continue;
        /* No name points at this ID any more; delete it unless a box is
         * using it (it holds the lock shared). */
        char lock[4200];
        snprintf(lock, sizeof lock, "%s.lock", path);
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            !referenced(refs, de->d_name)) {
            rm_rf(path);
            removed++;
        }
        close(fd);
    }
    closedir(d);
    return removed;
}

/* Open component `name` of a mount point under dir (creating it first when
 * asked), refusing symlinks.  A descriptor, or -errno. */
static int open_component(int dir, const char *name, bool create, bool file)
{
    int fd;
    if (file) {
        int flags = O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
        fd = create ? openat(dir, name, O_WRONLY | O_CREAT | flags, 0644)
                    : openat(dir, name, O_PATH | flags);
    } else {
        if (create && mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
            return -errno;
        fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode) ||
        (file && S_ISDIR(st.st_mode))) {
        int err = S_ISLNK(st.st_mode) ? ELOOP : EISDIR;
        close(fd);
        return -err;
    }
    return fd;
}

int sbx_rootfs_mount_point(const char *root, const char *box_path, bool create,
                           bool file, sbx_err *e)
{
    char buf[4096], *save = NULL;
    if (snprintf(buf, sizeof buf, "%s", box_path) >= (int)sizeof buf)
        return sbx_fail(e, SANDBOX_EINVAL, "box path %.64s... is too long",
                        box_path);
    sbx_autoclose int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return sbx_fail_errno(e, SANDBOX_EINVAL, errno, "root filesystem %s",
                              root);
    char *comp = strtok_r(buf, "/", &save);
    while (comp != NULL) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "box path %s has a '.' or '..' component: give "
                            "a plain absolute path",
                            box_path);
        int fd = open_component(dir, comp, create, file && next == NULL);
        if (fd == -ENOENT)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "mount point %s does not exist in the root "
                            "filesystem %s, and the native runtime keeps the "
                            "root read-only: create it in the image (an "
                            "empty %s)",
                            box_path, root, file ? "file" : "directory");
        if (fd == -ELOOP || fd == -ENOTDIR)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "mount point %s: '%s' is a symbolic link or not "
                            "a directory in the root filesystem %s, and the "
                            "native runtime follows no link inside an image: "
                            "mount on a real directory",
                            box_path, comp, root);
        if (fd < 0)
            return sbx_fail_errno(e, SANDBOX_EIO, -fd, "mount point %s in %s",
                                  box_path, root);
        close(dir);
        dir = fd;
        comp = next;
    }
    return 0;
}
