/* SPDX-License-Identifier: MIT */
/* Small helpers: cleanup attributes, error objects, strings, clocks. */
#include "internal.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void sbx_freep(void *p)
{
    free(*(void **)p);
}

void sbx_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
        *fd = -1;
    }
}

/* ---- text that may quote the box -----------------------------------------
 * Messages quote names and output the box chose (a link target, a file
 * name, the tail of its stderr); a caller that prints one must not have the
 * box act on its terminal.  Control characters (C0 including newline, DEL,
 * C1), bidirectional overrides and isolates, and bytes that are not valid
 * UTF-8 are written as \xNN / \uNNNN; everything else is kept. */

/* Length of the valid UTF-8 sequence at s (n bytes left) and its code
 * point, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    if (s[0] < 0xc2 || s[0] > 0xf4 || len > n)
        return 0;
    unsigned c = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static bool shown_escaped(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f ||
           cp == 0x061c;
}

size_t sbx_safe_text(char *out, size_t n, const char *in)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t len = strlen(in), o = 0;
    for (size_t i = 0; i < len;) {
        char piece[8];
        size_t pl;
        unsigned cp = 0;
        size_t ul = s[i] >= 0x80 ? utf8_seq(s + i, len - i, &cp) : 0;
        if (s[i] >= 0x20 && s[i] != 0x7f && s[i] < 0x80) {
            piece[0] = (char)s[i];
            pl = 1;
            i++;
        } else if (ul > 0 && !shown_escaped(cp)) {
            memcpy(piece, s + i, ul);
            pl = ul;
            i += ul;
        } else if (ul > 0) {
            pl = (size_t)snprintf(piece, sizeof piece, "\\u%04x", cp);
            i += ul;
        } else {
            pl = (size_t)snprintf(piece, sizeof piece, "\\x%02x", s[i]);
            i++;
        }
        if (o + pl + 1 > n)
            break;
        memcpy(out + o, piece, pl);
        o += pl;
    }
    if (n > 0)
        out[o < n ? o : n - 1] = '\0';
    return o;
}

char *sbx_safe_dup(const char *in)
{
    if (in == NULL)
        return NULL;
    size_t n = strlen(in) * 6 + 1; /* worst case: every byte \u00NN-sized */
    char *out = malloc(n);
    if (out != NULL)
        sbx_safe_text(out, n, in);
    return out;
}

__attribute__((format(printf, 4, 0))) static int
vfail(sbx_err *e, int code, int errnum, const char *fmt, va_list ap)
{
    if (e == NULL)
        return code;
    e->code = code;
    char raw[sizeof e->msg];
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    if (n < 0)
        raw[0] = '\0';
    if (errnum != 0) {
        size_t used = strlen(raw);
        char buf[256];
        /* GNU strerror_r: thread-safe, may return a static string. */
        const char *s = strerror_r(errnum, buf, sizeof buf);
        snprintf(raw + used, sizeof raw - used, ": %s", s);
    }
    sbx_safe_text(e->msg, sizeof e->msg, raw);
    return code;
}

int sbx_fail(sbx_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(e, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int sbx_fail_errno(sbx_err *e, int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(e, code, errnum, fmt, ap);
    va_end(ap);
    return code;
}

void sbx_err_out(const sbx_err *e, char **msg)
{
    if (msg != NULL)
        *msg = sbx_strdup(e->msg[0] ? e->msg : sandbox_strerror(e->code));
}

double sbx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *sbx_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

char *sbx_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

long sbx_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

void sandbox_free(void *p)
{
    free(p);
}

const char *sandbox_strerror(int code)
{
    switch (code) {
    case SANDBOX_OK: return "success";
    case SANDBOX_EINVAL: return "invalid option";
    case SANDBOX_ENORUNTIME:
        return "no container runtime found (install podman or docker)";
    case SANDBOX_ESPAWN: return "could not start the container runtime";
    case SANDBOX_ENOMEM: return "out of memory";
    case SANDBOX_EIO: return "system call failed";
    case SANDBOX_ERUNTIME:
        return "the container runtime failed before the command ran";
    case SANDBOX_EABI:
        return "struct_size not set: call "
               "sandbox_opts_init/sandbox_result_init";
    case SANDBOX_EBOXDEAD:
        return "the box is gone (destroyed, out of memory, lifetime, idle or "
               "killed)";
    case SANDBOX_EBADBOX: return "not a box handle (NULL, foreign or freed)";
    default: return "unknown error";
    }
}

const char *sandbox_end_name(int reason)
{
    switch (reason) {
    case SANDBOX_END_EXITED: return "exited";
    case SANDBOX_END_SIGNALED: return "signaled";
    case SANDBOX_END_TIMEOUT: return "timeout";
    case SANDBOX_END_OOM: return "oom";
    case SANDBOX_END_CANCELLED: return "cancelled";
    case SANDBOX_END_ERROR: return "error";
    default: return "none";
    }
}

const char *sandbox_version(void)
{
    return SANDBOX_VERSION_STRING;
}

int sandbox_version_number(void)
{
    return SANDBOX_VERSION_MAJOR * 10000 + SANDBOX_VERSION_MINOR * 100 +
           SANDBOX_VERSION_PATCH;
}

int sbx_mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int sbx_write_file(const char *path, const char *val)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, val, strlen(val));
    int err = n < 0 ? errno : 0;
    close(fd);
    return n < 0 ? -err : 0;
}
