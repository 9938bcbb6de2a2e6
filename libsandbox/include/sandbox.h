/* SPDX-License-Identifier: MIT */
/*
 * libsandbox: run one command in a throw-away, network-isolated,
 * resource-capped container and get back what it did.
 *
 * The whole public surface is this header.  The usage pattern is libcurl's:
 *
 *     sandbox_opts opts;
 *     sandbox_result res;
 *     sandbox_opts_init(&opts, sizeof opts);      // contract defaults
 *     sandbox_result_init(&res, sizeof res);
 *     opts.command = "echo hi";
 *     int rc = sandbox_run(&opts, &res);          // 0: it ran; <0: it did not
 *     ...read res...
 *     sandbox_result_free(&res);                  // always, whatever rc was
 *
 * Ownership: the library never keeps a pointer from sandbox_opts after
 * sandbox_run returns.  Every pointer inside sandbox_result is owned by the
 * result and released by sandbox_result_free().  Strings returned through
 * `char **` out-parameters are released with sandbox_free().
 *
 * Threads: every function is safe to call from several threads at once on
 * distinct opts/result objects.  The library keeps no global state, installs
 * no signal handlers, never writes to stdout/stderr and never exits.
 *
 * ABI: both structs begin with `struct_size`, which the init functions set
 * from the caller's sizeof.  New fields are only ever appended, so a program
 * built against an older header keeps working with a newer library.
 */
#ifndef LIBSANDBOX_SANDBOX_H
#define LIBSANDBOX_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(LIBSANDBOX_BUILDING)
#define SANDBOX_API __attribute__((visibility("default")))
#else
#define SANDBOX_API
#endif

#define SANDBOX_VERSION_MAJOR 0
#define SANDBOX_VERSION_MINOR 3
#define SANDBOX_VERSION_PATCH 0
#define SANDBOX_VERSION_STRING "0.3.0"

/* The contract's defaults (DESIGN.md section 1). */
#define SANDBOX_DEFAULT_IMAGE "debian:stable-slim"
#define SANDBOX_DEFAULT_TIMEOUT_SEC 60.0
#define SANDBOX_DEFAULT_MEMORY "2g"
#define SANDBOX_DEFAULT_PIDS 512
#define SANDBOX_DEFAULT_CPUS 2.0
#define SANDBOX_DEFAULT_OUTPUT_LIMIT 50000
#define SANDBOX_DEFAULT_DISK_LIMIT "1g"
/* Exit code reported when the wall-clock timeout fired (GNU timeout). */
#define SANDBOX_EXIT_TIMEOUT 124
/* Environment variable consulted when opts.runtime is NULL. */
#define SANDBOX_RUNTIME_ENV "SANDBOX_RUNTIME"
/* Label put on every container this library creates (value: owner pid). */
#define SANDBOX_LABEL "io.libsandbox.owner"

/* Error codes: every fallible function returns 0 or one of these. */
typedef enum sandbox_error {
    SANDBOX_OK = 0,
    SANDBOX_EINVAL = -1,     /* an option is invalid; nothing was run     */
    SANDBOX_ENORUNTIME = -2, /* neither podman nor docker could be found  */
    SANDBOX_ESPAWN = -3,     /* the runtime client could not be started   */
    SANDBOX_ENOMEM = -4,     /* out of memory in the calling process      */
    SANDBOX_EIO = -5,        /* a system call failed (pipe, poll, ...)    */
    SANDBOX_ERUNTIME = -6,   /* the runtime failed before the command ran */
    SANDBOX_EABI = -7,       /* struct_size not set by the init function  */
    SANDBOX_EBOXDEAD = -8,   /* the box is gone (destroyed, out of memory,
                                lifetime, idle, killed); message says why */
    SANDBOX_EBADBOX = -9,    /* not a box handle (NULL, foreign, freed)    */
} sandbox_error;

typedef enum sandbox_network {
    SANDBOX_NETWORK_NONE = 0,   /* only a loopback interface (default) */
    SANDBOX_NETWORK_BRIDGE = 1, /* the runtime's default bridge        */
    /* Only loopback in the box, plus a host-side proxy reached
     * through a Unix socket that connects to opts.allow's destinations
     * only (docs/network.md).  HTTP_PROXY/HTTPS_PROXY/ALL_PROXY point at
     * it inside the box; every attempt is recorded in res.net_log. */
    SANDBOX_NETWORK_ALLOWLIST = 2,
} sandbox_network;

/* Why a run ended (isolate's meta vocabulary, as data). */
typedef enum sandbox_end {
    SANDBOX_END_NONE = 0,      /* result not filled (never returned by run) */
    SANDBOX_END_EXITED = 1,    /* the command exited; see exit_code         */
    SANDBOX_END_SIGNALED = 2,  /* killed by term_signal (exit 128+n)        */
    SANDBOX_END_TIMEOUT = 3,   /* wall-clock deadline; exit_code is 124     */
    SANDBOX_END_OOM = 4,       /* killed for exceeding the memory limit     */
    SANDBOX_END_CANCELLED = 5, /* opts.cancel_fd became readable            */
    SANDBOX_END_ERROR = 6,     /* could not start; see error and message    */
} sandbox_end;

/* One extra bind mount: host path -> box path, read-only unless writable. */
typedef struct sandbox_mount {
    const char *host; /* existing absolute host path (file or directory) */
    const char *box;  /* absolute path inside the box                     */
    int writable;     /* 0: read-only (default), 1: read-write            */
} sandbox_mount;

typedef struct sandbox_opts {
    size_t struct_size;    /* set by sandbox_opts_init()                   */
    const char *command;   /* run as `sh -c <command>` in the box; required
                              unless argv is set                         */
    const char *image;     /* default "debian:stable-slim"; with the native
                              runtime also an absolute rootfs directory     */
    const char *workspace; /* host dir mounted rw at /workspace; NULL: none */
    const char *runtime;   /* "podman", "docker", a path to either, or
                              "native" (namespaces, no daemon); NULL: detect */
    double timeout_sec;    /* wall clock, > 0; default 60                    */
    int network;           /* sandbox_network; default NONE                  */
    const char *memory;    /* "512m", "2g", ...; default "2g"                */
    long pids;             /* max processes in the box; default 512          */
    double cpus;           /* default 2.0; clamped to the host's CPU count   */
    size_t output_limit;   /* bytes kept per stream and text cap; 50000,
                              at least 64                                   */
    const sandbox_mount *mounts; /* n_mounts extra bind mounts               */
    size_t n_mounts;
    const char *const *env; /* n_env "NAME=VALUE" strings set in the box;   */
    size_t n_env;           /* nothing from the caller's environment leaks  */
    int cancel_fd;          /* -1 (default) or an fd: readable => cancel    */
    /* ---- 0.2.0 ---- */
    const char *disk_limit; /* cap on what the box can write to host-backed
                               storage (workspace, root layer, /tmp); size
                               as for memory; default "1g"               */
    /* ---- stdin, argv, streaming (issue 10) ---- */
    const char *const *argv; /* argc words exec'd directly, no shell (set
                                command NULL); argv[0] is looked up in the
                                box's PATH unless it contains a '/'      */
    size_t argc;
    const void *stdin_data; /* stdin_len bytes fed to the box's stdin    */
    size_t stdin_len;
    int stdin_fd;  /* -1 (default) or a readable fd the library reads to
                      EOF and forwards; neither: stdin is /dev/null      */
    int stdout_fd; /* -1 (default) or an fd every stdout byte is also
                      written to as it arrives (tee)                      */
    int stderr_fd; /* the same for stderr                                 */
    /* Optional: called on the calling thread as bytes arrive; stream is
     * 1 (stdout) or 2 (stderr); data is valid only during the call. */
    void (*on_output)(void *ctx, int stream, const char *data, size_t len);
    void *on_output_ctx;
    /* ---- network = SANDBOX_NETWORK_ALLOWLIST (issue 11) ---- */
    const char *const *allow; /* n_allow destinations: "host:port",
                                 "*.domain:port", "A.B.C.D[/len]:port",
                                 "[v6[/len]]:port"; at least one         */
    size_t n_allow;
    size_t max_connections; /* allowed connections per run; 0: no cap   */
    uint64_t max_net_bytes; /* bytes both ways per run; 0: no cap       */
    /* ---- boxes (sandbox_box_create, issue 10) ---- */
    double box_lifetime_sec; /* a box is destroyed this long after it was
                                created, whatever it is doing; default
                                3600, at most 7 days (sandbox_run: its
                                timeout plus a grace)                     */
    double box_idle_sec;     /* ... or after this long with no exec, put or
                                get running; 0 (default): never idle out  */
} sandbox_opts;

/* One captured stream.  data holds at most output_limit bytes (plus a NUL
 * terminator that is not counted in len); total counts every byte the
 * command wrote, including the ones dropped. */
typedef struct sandbox_stream {
    char *data;     /* owned by the result; never NULL after a run */
    size_t len;     /* bytes in data                               */
    uint64_t total; /* bytes produced                              */
    int truncated;  /* 1 if total > len                            */
} sandbox_stream;

typedef struct sandbox_result {
    size_t struct_size;   /* set by sandbox_result_init()                   */
    int reason;           /* sandbox_end                                    */
    int exit_code;        /* the command's code; 124 timeout; -1 if none    */
    int term_signal;      /* signal number when SIGNALED or OOM, else 0     */
    int error;            /* sandbox_error when reason == ERROR, else 0     */
    sandbox_stream out;   /* stdout                                         */
    sandbox_stream err;   /* stderr                                         */
    double wall_sec;      /* wall time from spawn to reap                   */
    char *runtime;        /* absolute path of the runtime used, or NULL     */
    char *container_name; /* the --name given to the container, or NULL     */
    char *message;        /* human explanation when not EXITED 0, or NULL   */
    uint64_t peak_memory_bytes; /* box's peak memory use; 0 if unknown      */
    double cpu_sec;             /* box's user+system CPU time; <0 unknown   */
    /* ---- 0.2.0 ---- */
    char *image_id; /* immutable identity of what ran: the engine's image ID
                       (podman/docker) or "sha256:<digest>" of the native
                       rootfs export; NULL if unknown. Owned by the result */
    char *backend;  /* "podman", "docker" or "native"; NULL before a run   */
    int host_root;  /* 1: the box's uid 0 was host uid 0; 0: it was mapped
                       to an unprivileged host id; -1: unknown            */
    int disk_limit_hit;  /* 1 if a write failed because of disk_limit      */
    uint64_t disk_bytes; /* bytes the box left in capped storage; 0 unknown */
    /* ---- network allowlist (issue 11) ---- */
    size_t net_attempts; /* connection attempts the proxy saw (allowlist) */
    char *net_log;       /* one JSON object per attempt and line: time, proto,
                            dest, addr, allowed, reason, bytes_up, bytes_down,
                            duration_sec; NULL when none.  Owned by the result */
} sandbox_result;

/* Fill opts with the contract's defaults.  size must be sizeof(*opts) as the
 * caller sees it.  Returns 0 or SANDBOX_EABI. */
SANDBOX_API int sandbox_opts_init(sandbox_opts *opts, size_t size);

/* Zero a result and record its size.  Returns 0 or SANDBOX_EABI. */
SANDBOX_API int sandbox_result_init(sandbox_result *res, size_t size);

/* Check opts without running anything.  On error, if msg is not NULL,
 * *msg receives an explanation to release with sandbox_free(). */
SANDBOX_API int sandbox_opts_validate(const sandbox_opts *opts, char **msg);

/* Run opts->command (or opts->argv) in a fresh container.  res must have been
 * initialised with sandbox_result_init() (a previous result is freed first).
 * Returns 0 when the command ran to an end (see res->reason: exited,
 * signalled, timed out, out of memory, cancelled), or a negative
 * sandbox_error when it could not run; then res->reason is
 * SANDBOX_END_ERROR and res->message says why. */
SANDBOX_API int sandbox_run(const sandbox_opts *opts, sandbox_result *res);

/* Release everything res owns and re-initialise it.  NULL is a no-op. */
SANDBOX_API void sandbox_result_free(sandbox_result *res);

/* Render the contract's text form:
 *   exit=<n>\n--- stdout ---\n<stdout>[\n]--- stderr ---\n<stderr>
 * invalid UTF-8 replaced by U+FFFD, cut to at most `limit` bytes (0 means
 * res's output limit default, 50000) on a character boundary, ending with
 * SANDBOX_TRUNCATION_MARKER when cut (the marker counts toward the limit).
 * *text is NUL-terminated, *len (if not NULL) excludes the NUL; release
 * *text with sandbox_free(). */
#define SANDBOX_TRUNCATION_MARKER "\n... [truncated]\n"
SANDBOX_API int sandbox_format(const sandbox_result *res, size_t limit,
                               char **text, size_t *len);

/* Copy n bytes of s replacing invalid UTF-8 with U+FFFD, the same repair
 * sandbox_format() applies (for callers producing JSON, say).  *out is
 * NUL-terminated; release it with sandbox_free(). */
SANDBOX_API int sandbox_utf8_sanitize(const char *s, size_t n, char **out,
                                      size_t *out_len);

/* Find the runtime the library would use for `runtime` (NULL: detect).
 * *path receives its absolute path (release with sandbox_free()). */
SANDBOX_API int sandbox_find_runtime(const char *runtime, char **path,
                                     char **msg);

/* Remove containers left behind by this library (label SANDBOX_LABEL).
 * Containers whose owner process is still alive are kept unless `all` is
 * non-zero.  *removed (if not NULL) receives how many were removed. */
SANDBOX_API int sandbox_gc(const char *runtime, int all, unsigned *removed,
                           char **msg);

/* ---- boxes: one box, many commands (issue 10) -------------------------
 *
 *     sandbox_box *box;
 *     sandbox_opts o;  sandbox_opts_init(&o, sizeof o);  o.image = "busybox";
 *     if (sandbox_box_create(&o, &box, &msg) < 0) ...      // box running
 *     sandbox_exec_opts x;  sandbox_exec_opts_init(&x, sizeof x);
 *     x.command = "echo hi > /tmp/f";   sandbox_box_exec(box, &x, &res);
 *     x.command = "cat /tmp/f";         sandbox_box_exec(box, &x, &res);
 *     sandbox_box_put(box, "/host/in", "/tmp/in", &msg);
 *     sandbox_box_get(box, "/tmp/out", "/host/out", &msg);
 *     sandbox_box_destroy(box, &res);   // box gone; box-level costs in res
 *     sandbox_box_free(box);            // the handle itself
 *
 * A box is created from sandbox_opts (image, limits, network, mounts,
 * workspace, env; command/argv/stdin fields are ignored).  Its limits
 * (memory, pids, cpus, disk, network) hold across all its execs, and
 * everything an exec writes persists for the next one.  The box dies with
 * its owner process (by any signal, SIGKILL included), at
 * opts.box_lifetime_sec, after opts.box_idle_sec without activity, or on
 * sandbox_box_destroy, whichever comes first.  A workspace's changes reach
 * the host when the box is destroyed (never while it lives, and not at all
 * when its owner died).
 *
 * Ownership: the caller owns the handle and must release it with
 * sandbox_box_free() exactly once; after that the pointer is invalid.
 * Threads: exec, put, get, status and destroy may be called from several
 * threads at once on one box (execs run concurrently); sandbox_box_free
 * must not race with any other call on the same box. */
typedef struct sandbox_box sandbox_box;

/* One command in a box.  Every pointer is borrowed for the call only. */
typedef struct sandbox_exec_opts {
    size_t struct_size;      /* set by sandbox_exec_opts_init()         */
    const char *command;     /* `sh -c <command>`, or (NULL) argv:      */
    const char *const *argv; /* argc words exec'd directly, argv[0]     */
    size_t argc;             /* looked up in the box's PATH unless it
                                contains a '/'                          */
    const char *const *env;  /* n_env "NAME=VALUE" added to (and
                                overriding) the box's environment       */
    size_t n_env;
    const char *cwd;        /* absolute path in the box; NULL: the
                               box's (/workspace with a workspace, else /) */
    double timeout_sec;     /* > 0; 0 (default): the box's timeout_sec.
                               On expiry the exec's whole process tree is
                               killed (exit 124) and the box lives on    */
    size_t output_limit;    /* 0 (default): the box's output_limit      */
    const void *stdin_data; /* as in sandbox_opts                       */
    size_t stdin_len;
    int stdin_fd;             /* -1 (default)                             */
    int stdout_fd, stderr_fd; /* -1 (default): tees as in sandbox_opts    */
    void (*on_output)(void *ctx, int stream, const char *data, size_t len);
    void *on_output_ctx; /* optional, as in sandbox_opts             */
    int cancel_fd;       /* -1 (default); readable: kill this exec   */
} sandbox_exec_opts;

/* Defaults: nothing to run, every fd -1, timeouts and limits the box's.
 * Returns 0 or SANDBOX_EABI. */
SANDBOX_API int sandbox_exec_opts_init(sandbox_exec_opts *x, size_t size);

/* Start a box.  On success *box is a running box the caller owns.  On
 * failure *box is NULL, nothing is left on the host, and *msg (if msg is
 * not NULL) says why (release with sandbox_free()). */
SANDBOX_API int sandbox_box_create(const sandbox_opts *opts, sandbox_box **box,
                                   char **msg);

/* Run one command in the box and wait for it.  res as for sandbox_run
 * (reason, exit_code, streams, wall_sec, message; peak_memory_bytes and
 * cpu_sec are the box's so far).  Returns 0 when the command ran to an
 * end, else a sandbox_error (SANDBOX_EBOXDEAD when the box is gone, with
 * why in res->message). */
SANDBOX_API int sandbox_box_exec(sandbox_box *box, const sandbox_exec_opts *x,
                                 sandbox_result *res);

/* Copy a host file or directory tree into the box at box_path (which must
 * not exist; its parent must), or the box's box_path out to host_path
 * (which must not exist; its parent must).  Regular files, directories and
 * symlinks only (a symlink is copied as a link, never followed); modes are
 * kept without setuid/setgid bits; the host side is written by the caller's
 * uid, never through a link the box made.  box_path is absolute, without
 * "." or ".." components.  Needs `tar` in the box's image. */
SANDBOX_API int sandbox_box_put(sandbox_box *box, const char *host_path,
                                const char *box_path, char **msg);
SANDBOX_API int sandbox_box_get(sandbox_box *box, const char *box_path,
                                const char *host_path, char **msg);

/* 1 while the box runs, 0 once it is gone (then *why, if not NULL, says
 * why: release with sandbox_free()), or a negative sandbox_error. */
SANDBOX_API int sandbox_box_alive(sandbox_box *box, char **why);

/* The box's name (its container name, or the native box's cgroup name):
 * a static string valid until sandbox_box_free(). */
SANDBOX_API const char *sandbox_box_name(const sandbox_box *box);

/* Stop the box and everything in it, commit its workspace back, remove
 * all it left.  res (may be NULL) receives the box-level accounting:
 * reason (why it ended), peak_memory_bytes, cpu_sec, disk_*, net_*.
 * Running execs end with SANDBOX_EBOXDEAD.  Destroying a box twice is 0. */
SANDBOX_API int sandbox_box_destroy(sandbox_box *box, sandbox_result *res);

/* Destroy the box if it still runs and release the handle.  NULL: no-op. */
SANDBOX_API void sandbox_box_free(sandbox_box *box);

/* ---- a warm pool: N ready boxes for one options template --------------
 * Explicit and caller-owned.  The pool keeps `size` boxes created from a
 * copy of tmpl ready, refilled by one background thread the pool owns.
 * Thread-safe: any number of threads may call run/take on one pool. */
typedef struct sandbox_pool sandbox_pool;

SANDBOX_API int sandbox_pool_create(const sandbox_opts *tmpl, unsigned size,
                                    sandbox_pool **pool, char **msg);
/* One-shot: a ready box runs x (as sandbox_box_exec) and is destroyed in
 * the background; the result is as sandbox_run's. */
SANDBOX_API int sandbox_pool_run(sandbox_pool *pool, const sandbox_exec_opts *x,
                                 sandbox_result *res);
/* Hand a ready box to the caller, who then owns it (sandbox_box_free). */
SANDBOX_API int sandbox_pool_take(sandbox_pool *pool, sandbox_box **box,
                                  char **msg);
/* Stop refilling, destroy the ready boxes, join the thread, free. */
SANDBOX_API void sandbox_pool_free(sandbox_pool *pool);

/* A static, human-readable description of an error code. */
SANDBOX_API const char *sandbox_strerror(int code);

/* Names for sandbox_end values: "exited", "signaled", "timeout", "oom",
 * "cancelled", "error" (static strings). */
SANDBOX_API const char *sandbox_end_name(int reason);

/* The library's version as "MAJOR.MINOR.PATCH" (static string) and as
 * MAJOR*10000 + MINOR*100 + PATCH. */
SANDBOX_API const char *sandbox_version(void);
SANDBOX_API int sandbox_version_number(void);

/* Release a string returned by the library.  NULL is a no-op. */
SANDBOX_API void sandbox_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* LIBSANDBOX_SANDBOX_H */
