/* SPDX-License-Identifier: MIT */
/* libFuzzer target: sandbox_box_get's extraction of the box's tar stream
 * (boxcopy.c), the one input a hostile box fully controls.
 * Invariants, whatever the bytes: nothing appears outside host_path's
 * directory; that directory holds nothing (refused) or exactly host_path
 * (accepted, no temporary left); what was written has no setuid/setgid
 * bit and no device, fifo or socket. */
#include "boxcopy.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64], parent[96], dest[128];

static int entries(const char *dir)
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

static int check_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)p;
    (void)f;
    (void)w;
    if (st->st_mode & (S_ISUID | S_ISGID))
        __builtin_trap();
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode))
        __builtin_trap();
    return 0;
}

static int rm_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st;
    (void)f;
    (void)w;
    if (S_ISDIR(st->st_mode))
        chmod(p, 0700);
    return remove(p);
}

static void cleanup(void)
{
    rmdir(parent);
    rmdir(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (base[0] == '\0') {
        snprintf(base, sizeof base, "/tmp/fuzz-boxcopy-%ld", (long)getpid());
        snprintf(parent, sizeof parent, "%s/p", base);
        snprintf(dest, sizeof dest, "%s/out", parent);
        if (mkdir(base, 0700) < 0 || mkdir(parent, 0700) < 0)
            __builtin_trap();
        atexit(cleanup);
    }
    int fd = memfd_create("fuzz-tar", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size ||
        lseek(fd, 0, SEEK_SET) != 0)
        __builtin_trap();
    sbx_copy_limits lim = {
        .max_bytes = 1 << 20, .max_entries = 256, .max_depth = 16};
    sbx_err e = {0};
    int rc = sbx_copy_extract(fd, "top", dest, &lim, &e);
    close(fd);
    if (entries(base) != 1 || entries(parent) != (rc == 0 ? 1 : 0))
        __builtin_trap();
    if (rc == 0) {
        nftw(dest, check_cb, 16, FTW_PHYS);
        /* chmod directories back first: a 0000 one is still removable */
        nftw(dest, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        if (entries(parent) != 0)
            __builtin_trap();
    }
    return 0;
}
