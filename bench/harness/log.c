/* SPDX-License-Identifier: MIT */
/*
 * log.c: the append-only JSON-lines log.  Each record is one line written
 * with a single write(2) on an O_APPEND descriptor, so concurrent writers
 * (threads or processes) never interleave inside a record.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int log_append(const char *path, json_t *record, bench_err *e)
{
    char *s = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s) {
        bench_seterr(e, "cannot serialise a log record for %s", path);
        return -1;
    }
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n++] = '\n';
    s[n] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        bench_seterr(e, "cannot open log %s: %s", path, strerror(errno));
        free(s);
        return -1;
    }
    ssize_t w;
    do {
        w = write(fd, s, n);
    } while (w < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    free(s);
    if (w < 0 || (size_t)w != n) {
        bench_seterr(e, "cannot append to log %s: %s", path,
                     w < 0 ? strerror(saved) : "short write");
        return -1;
    }
    return 0;
}
