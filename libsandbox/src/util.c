/* SPDX-License-Identifier: MIT */
/* Small helpers: cleanup attributes, error objects, strings, clocks. */
#include "internal.h"

#include <errno.h>
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

__attribute__((format(printf, 4, 0))) static int
vfail(sbx_err *e, int code, int errnum, const char *fmt, va_list ap)
{
    if (e == NULL)
        return code;
    e->code = code;
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    if (n < 0)
        e->msg[0] = '\0';
    if (errnum != 0) {
        size_t used = strlen(e->msg);
        char buf[256];
        /* GNU strerror_r: thread-safe, may return a static string. */
        const char *s = strerror_r(errnum, buf, sizeof buf);
        snprintf(e->msg + used, sizeof e->msg - used, ": %s", s);
    }
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
