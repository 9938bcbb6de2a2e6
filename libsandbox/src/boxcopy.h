/* SPDX-License-Identifier: MIT */
/* put/get (boxcopy.c): the host-side halves, for the unit tests.
 *
 * put: a tar stream of a host file or tree is written with libarchive
 * (regular files, directories, symlinks as links; owner 0:0; permission
 * bits without setuid/setgid) and fed to `tar -x` inside the box through
 * sandbox_box_exec's stdin.  get: the box's `tar -c` (the box's binary:
 * hostile) is read into an unlinked temporary file on the host, capped in
 * size, parsed by libarchive and written by us, never by libarchive's disk
 * writer: every entry must lie under the top name (itself a file or a
 * directory, never a link: host_path must not point where the box chose),
 * no xattr or file capability is applied, every file is created
 * with O_EXCL beneath a fresh directory opened with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), no owner, no setuid/setgid, no
 * devices or fifos, hard links only to files extracted before; the result
 * is renamed into place (RENAME_NOREPLACE), so a failure leaves nothing. */
#ifndef LIBSANDBOX_BOXCOPY_H
#define LIBSANDBOX_BOXCOPY_H

#include "internal.h"

#define SBX_COPY_MAX_ENTRIES 65536u /* entries per put or get */
#define SBX_COPY_MAX_DEPTH 128u     /* path components */
#define SBX_COPY_MAX_PATH 4096u
#define SBX_COPY_TMP_PREFIX ".sbx-get-"
#define SBX_COPY_MAX_WMOUNTS 64u /* the opts limit on mounts */

typedef struct sbx_copy_limits {
    uint64_t max_bytes;        /* get: archive bytes and file sizes; 0 none */
    unsigned long max_entries; /* 0: SBX_COPY_MAX_ENTRIES */
    unsigned max_depth;        /* 0: SBX_COPY_MAX_DEPTH */
} sbx_copy_limits;

/* box_path: absolute, no ".", ".." or empty components, not "/".  Splits
 * it into parent ("/" for a top-level name) and name. */
SBX_HIDDEN int sbx_copy_box_path(const char *box_path, char *parent, size_t pn,
                                 char *name, size_t nn, sbx_err *e);

/* Write a tar stream of host_path (not followed if a link) to fd, its top
 * entry named top.  Refuses devices, fifos and sockets (naming them),
 * and trees over the limits. */
SBX_HIDDEN int sbx_copy_tar_write(int fd, const char *host_path,
                                  const char *top, const sbx_copy_limits *lim,
                                  sbx_err *e);

/* host_path must not exist, its parent must be a directory reached
 * through no box-made link.  On success *parent_fd is that directory
 * (O_DIRECTORY) and leaf its last component. */
SBX_HIDDEN int sbx_copy_host_dest(const char *host_path, int *parent_fd,
                                  char *leaf, size_t ln, sbx_err *e);

/* Extract the tar stream read from archive_fd (from its current offset),
 * whose entries must all be top or under top/, to host_path (see
 * sbx_copy_host_dest).  All or nothing. */
SBX_HIDDEN int sbx_copy_extract(int archive_fd, const char *top,
                                const char *host_path,
                                const sbx_copy_limits *lim, sbx_err *e);

#endif /* LIBSANDBOX_BOXCOPY_H */
