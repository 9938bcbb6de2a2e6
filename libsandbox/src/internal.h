/* SPDX-License-Identifier: MIT */
/* Private declarations shared by the library's sources and its unit tests.
 * Nothing here is exported from libsandbox.so (hidden visibility); the unit
 * tests link the static archive. */
#ifndef LIBSANDBOX_INTERNAL_H
#define LIBSANDBOX_INTERNAL_H

#include "sandbox.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define SBX_HIDDEN __attribute__((visibility("hidden")))

/* Cleanup helpers in bubblewrap's style: error paths cannot leak. */
SBX_HIDDEN void sbx_freep(void *p);
SBX_HIDDEN void sbx_closep(int *fd);
#define sbx_autofree __attribute__((cleanup(sbx_freep)))
#define sbx_autoclose __attribute__((cleanup(sbx_closep)))

/* An error object (crun's design-docs/error_handling.md, simplified): a code
 * from sandbox_error and a message a person can act on. */
typedef struct sbx_err {
    int code;
    char msg[1024];
} sbx_err;

/* Set e (if not NULL) and return code.  The format is printf's. */
SBX_HIDDEN int sbx_fail(sbx_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, appending ": <strerror(errnum)>". */
SBX_HIDDEN int sbx_fail_errno(sbx_err *e, int code, int errnum, const char *fmt,
                              ...) __attribute__((format(printf, 4, 5)));
/* Copy e's message into a malloc'd string for a char **msg out-param. */
SBX_HIDDEN void sbx_err_out(const sbx_err *e, char **msg);

/* The sizes of sandbox_opts / sandbox_result in version 0.1.0: callers
 * built against any later header pass at least this much. */
#define SBX_OPTS_MIN_SIZE (offsetof(sandbox_opts, cancel_fd) + sizeof(int))
#define SBX_RESULT_MIN_SIZE (offsetof(sandbox_result, cpu_sec) + sizeof(double))
/* Does a caller-sized struct s include `field`?  Fields appended after
 * 0.1.0 are only read or written when this holds. */
#define SBX_HAS(s, field)                                                      \
    ((s)->struct_size >= offsetof(__typeof__(*(s)), field) + sizeof((s)->field))

/* ---- opts.c: defaults, validation, size parsing ---------------------- */

/* Parse a memory size the way podman and docker do: digits with an
 * optional fraction, then an optional unit b/k/m/g/t (case-insensitive)
 * optionally followed by "b" or "ib".  No sign, no spaces, no overflow. */
SBX_HIDDEN int sbx_parse_size(const char *s, uint64_t *bytes);

#define SBX_MEMORY_MIN (6ULL << 20) /* docker refuses less than 6 MiB */
#define SBX_MEMORY_MAX (1ULL << 40) /* 1 TiB: anything above is a typo */
#define SBX_PIDS_MAX 4194304L       /* the kernel's pid_max ceiling    */
#define SBX_CPUS_MIN 0.01
#define SBX_TIMEOUT_MAX (7.0 * 86400.0)
#define SBX_OUTPUT_LIMIT_MIN 64
#define SBX_OUTPUT_LIMIT_MAX ((size_t)1 << 30)
#define SBX_MAX_MOUNTS 64
#define SBX_MAX_ENV 256
#define SBX_DISK_MIN (1ULL << 20) /* 1 MiB */
#define SBX_DISK_MAX (1ULL << 40) /* 1 TiB */

typedef enum sbx_runtime_kind {
    SBX_RT_PODMAN = 1,
    SBX_RT_DOCKER = 2,
    SBX_RT_NATIVE = 3, /* runtime_path is "native" */
} sbx_runtime_kind;

/* A validated, resolved run: everything the backend needs, owned. */
typedef struct sbx_plan {
    char *runtime_path; /* absolute path of podman/docker */
    sbx_runtime_kind kind;
    const char *command; /* borrowed from opts */
    const char *image;   /* borrowed */
    char *workspace;     /* realpath of opts->workspace or NULL */
    int network;
    const char *memory;    /* borrowed, validated */
    uint64_t memory_bytes; /* parsed */
    double cpus_value;     /* clamped */
    long pids;
    char cpus[32]; /* formatted, clamped */
    double timeout_sec;
    size_t output_limit;
    char **mount_args;      /* NULL-terminated "host:box:ro|rw" */
    const char *const *env; /* borrowed, validated */
    size_t n_env;
    int cancel_fd;
    uint64_t disk_limit_bytes; /* parsed disk_limit (default 1g) */
    char name[64];             /* unique container name */
    char label[64];            /* SANDBOX_LABEL=<pid> */
    /* Set by the container backend: podman's --uidmap/--gidmap range
     * (NULL: none; docker's remapping is the engine's). */
    const struct sbx_idmap *idmap;
} sbx_plan;

/* Validate opts (nothing is touched on the host).  `online_cpus` is the
 * clamp for cpus (pass 0 to read it from the system). */
SBX_HIDDEN int sbx_validate(const sandbox_opts *opts, sbx_err *e);

/* Validate and resolve opts into plan (runtime found, workspace resolved,
 * name generated).  On failure plan holds nothing to free. */
SBX_HIDDEN int sbx_plan_init(sbx_plan *plan, const sandbox_opts *opts,
                             sbx_err *e);
SBX_HIDDEN void sbx_plan_free(sbx_plan *plan);

/* Copy of opts upgraded to the library's struct size (missing fields take
 * their defaults).  Returns SANDBOX_EABI for an unset struct_size. */
SBX_HIDDEN int sbx_opts_normalize(const sandbox_opts *in, sandbox_opts *out,
                                  sbx_err *e);

/* ---- runtime.c: finding podman/docker ------------------------------- */

/* Resolve `want` (NULL: $SANDBOX_RUNTIME, then podman, then docker on
 * path_env).  `env_value` is the value of SANDBOX_RUNTIME (may be NULL),
 * `path_env` the PATH to search (NULL: confstr default).  Pure apart from
 * access(2), so tests can drive it. */
SBX_HIDDEN int sbx_find_runtime(const char *want, const char *env_value,
                                const char *path_env, char **path,
                                sbx_runtime_kind *kind, sbx_err *e);

/* ---- argv.c: the container CLI's argv, nothing else ----------------- */

/* Build `<rt> run ...` for plan.  *argv is NULL-terminated; free it with
 * sbx_argv_free(). */
SBX_HIDDEN int sbx_build_run_argv(const sbx_plan *plan, char ***argv,
                                  sbx_err *e);
/* `<rt> rm -f <name>` (podman: --time=0, so no 10 s stop grace). */
SBX_HIDDEN int sbx_build_rm_argv(const char *runtime_path, sbx_runtime_kind k,
                                 const char *name, char ***argv, sbx_err *e);
/* `<rt> ps -a`: one container by exact name (name != NULL), or every
 * container carrying SANDBOX_LABEL as "<name> <owner pid>" lines. */
SBX_HIDDEN int sbx_build_ps_argv(const char *runtime_path, sbx_runtime_kind k,
                                 const char *name, char ***argv, sbx_err *e);
/* `<rt> container exists|inspect <name>`: exits 0 while the container
 * exists, non-zero once it is gone (the guardian's check). */
SBX_HIDDEN int sbx_build_exists_argv(const char *runtime_path,
                                     sbx_runtime_kind k, const char *name,
                                     char ***argv, sbx_err *e);
SBX_HIDDEN void sbx_argv_free(char **argv);

/* ---- spawn.c: posix_spawn with pipes, own process group ------------ */

typedef struct sbx_child {
    pid_t pid;
    int pidfd;  /* -1 if pidfd_open is unavailable */
    int out_fd; /* read end of the child's stdout, or -1 */
    int err_fd; /* read end of the child's stderr, or -1 */
} sbx_child;

/* Start argv[0] with stdin from /dev/null, stdout/stderr to pipes (or to
 * /dev/null when capture is false), every other fd closed, default signal
 * dispositions, an empty signal mask, in a new process group. */
SBX_HIDDEN int sbx_spawn(char *const argv[], bool capture, sbx_child *c,
                         sbx_err *e);
/* The same with a given working directory (sbx_spawn uses "/"). */
SBX_HIDDEN int sbx_spawn_in(char *const argv[], bool capture, const char *cwd,
                            sbx_child *c, sbx_err *e);
/* Wait for the child; *status gets the wait status. */
SBX_HIDDEN int sbx_reap(sbx_child *c, int *status);
SBX_HIDDEN void sbx_child_close(sbx_child *c);
/* Run argv to completion with output discarded, at most timeout_sec;
 * returns its exit code (or -1 when it could not run or timed out). */
SBX_HIDDEN int sbx_run_quiet(char *const argv[], double timeout_sec, char **out,
                             size_t out_cap);

/* ---- capture.c: the poll loop --------------------------------------- */

typedef struct sbx_capture {
    sandbox_stream out;
    sandbox_stream err;
    size_t cap; /* bytes kept per stream */
    bool timed_out;
    bool cancelled;
    bool exited; /* the child was reaped */
    bool lost;   /* ... by someone else: its status is unknown (an error) */
    int status;  /* wait status when exited */
    double wall_sec;
} sbx_capture;

/* Hook called once when the deadline passes or cancel_fd fires, before
 * the child is reaped; it must make the child exit (kill the container). */
typedef void (*sbx_stop_fn)(void *ctx, sbx_child *c);

SBX_HIDDEN int sbx_capture_run(sbx_child *c, double timeout_sec, int cancel_fd,
                               sbx_stop_fn stop, void *ctx, sbx_capture *cap,
                               sbx_err *e);
SBX_HIDDEN void sbx_stream_free(sandbox_stream *s);
/* Append n bytes to s keeping at most cap; counts everything. */
SBX_HIDDEN int sbx_stream_append(sandbox_stream *s, size_t cap, const char *buf,
                                 size_t n);

/* ---- format.c: the contract's text form ----------------------------- */

/* Append src[0..n) to a growing buffer replacing invalid UTF-8 with
 * U+FFFD (one per maximal invalid subpart, as Python's errors="replace"). */
typedef struct sbx_buf {
    char *data;
    size_t len, cap;
} sbx_buf;
SBX_HIDDEN int sbx_buf_put(sbx_buf *b, const void *p, size_t n);
SBX_HIDDEN int sbx_buf_put_utf8(sbx_buf *b, const char *src, size_t n);
/* Largest k <= limit such that s[0..k) does not end inside a character. */
SBX_HIDDEN size_t sbx_utf8_cut(const char *s, size_t len, size_t limit);
SBX_HIDDEN int sbx_format_text(int exit_code, const char *out, size_t out_len,
                               const char *err, size_t err_len, size_t limit,
                               char **text, size_t *len);

/* ---- backends: each fills res (streams, wall time, reason, code) ------ */
SBX_HIDDEN int sbx_container_run(const sbx_plan *plan, sandbox_result *res,
                                 sbx_err *e);
SBX_HIDDEN int sbx_native_run(const sbx_plan *plan, sandbox_result *res,
                              sbx_err *e);
/* Sweep what killed native runs left (stale cgroups); returns a count. */
SBX_HIDDEN unsigned sbx_native_gc(void);
/* Is the native backend compiled in? */
SBX_HIDDEN bool sbx_native_available(void);
/* Set res->message (takes ownership of msg; NULL allowed). */
SBX_HIDDEN void sbx_set_message(sandbox_result *res, char *msg);

/* ---- subid.c: subordinate id ranges --------------------------------- */

#define SBX_SUBUID_FILE "/etc/subuid"
#define SBX_SUBGID_FILE "/etc/subgid"
#define SBX_SUBID_MIN 65536u /* a box needs uids 0..65535 */

/* The host ids a box maps to: box id i <-> host uid_start+i / gid_start+i
 * for 0 <= i < count. */
typedef struct sbx_idmap {
    uint32_t uid_start, gid_start, count;
} sbx_idmap;

/* The calling user's subordinate range (by name or uid, first line with at
 * least SBX_SUBID_MIN ids; count is capped at 65536).  SANDBOX_ERUNTIME
 * with a message naming the fix when there is none. */
SBX_HIDDEN int sbx_subid_range(sbx_idmap *map, sbx_err *e);

/* ---- util.c ----------------------------------------------------------- */
SBX_HIDDEN double sbx_now(void); /* CLOCK_MONOTONIC seconds */
SBX_HIDDEN char *sbx_strdup(const char *s);
SBX_HIDDEN char *sbx_asprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
SBX_HIDDEN long sbx_online_cpus(void);
/* mkdir -p; 0 or -errno. */
SBX_HIDDEN int sbx_mkdir_p(const char *path, mode_t mode);
/* Write val to an existing file (cgroup and /proc knobs); 0 or -errno. */
SBX_HIDDEN int sbx_write_file(const char *path, const char *val);

#endif /* LIBSANDBOX_INTERNAL_H */
