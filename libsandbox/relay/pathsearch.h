/* SPDX-License-Identifier: MIT */
/* execvpe's PATH search without its allocation or its fallback to sh:
 * shared by the box's init (relay/boxinit.c) and the native backend's
 * child (src/native/child.c), both after fork, so a stack buffer only. */
#ifndef SBX_PATHSEARCH_H
#define SBX_PATHSEARCH_H

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Exec argv[0] as execve would when it names a path; else each entry of
 * path ("a:b:c"; an empty entry is "."; NULL: none) in turn.  Returns
 * only on failure, errno ENOENT or the first other error met (EACCES...). */
static inline void sbx_exec_in_path(const char *path, char *const argv[],
                                    char *const envp[])
{
    const char *prog = argv[0];
    if (strchr(prog, '/') != NULL) {
        execve(prog, argv, envp);
        return;
    }
    char buf[4096];
    size_t plen = strlen(prog);
    int saved = ENOENT;
    for (const char *d = path; d != NULL;) {
        const char *end = strchr(d, ':');
        size_t dlen = end ? (size_t)(end - d) : strlen(d);
        if (dlen == 0) {
            buf[0] = '.';
            dlen = 1;
        } else if (dlen < sizeof buf) {
            memcpy(buf, d, dlen);
        }
        if (dlen + 1 + plen + 1 <= sizeof buf) {
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, prog, plen + 1);
            execve(buf, argv, envp);
            if (errno != ENOENT && errno != ENOTDIR)
                saved = errno; /* EACCES and the like: remember, go on */
        }
        d = end ? end + 1 : NULL;
    }
    errno = saved;
}

#endif
