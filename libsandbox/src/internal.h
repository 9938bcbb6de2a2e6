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
#include <poll.h>
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
#define SBX_MAX_ARGV 65536
#define SBX_DISK_MIN (1ULL << 20) /* 1 MiB */
#define SBX_DISK_MAX (1ULL << 40) /* 1 TiB */

typedef enum sbx_runtime_kind {
    SBX_RT_PODMAN = 1,
    SBX_RT_DOCKER = 2,
    SBX_RT_NATIVE = 3, /* runtime_path is "native" */
} sbx_runtime_kind;

typedef void (*sandbox_output_fn)(void *ctx, int stream, const char *data,
                                  size_t len);

/* One extra bind mount of the plan (resolved, owned). */
typedef struct sbx_plan_mount {
    char *host; /* realpath of the host path */
    char *box;  /* absolute path in the box */
    bool writable;
} sbx_plan_mount;

/* A validated, resolved run: everything the backend needs, owned. */
typedef struct sbx_plan {
    char *runtime_path; /* absolute path of podman/docker */
    sbx_runtime_kind kind;
    const char *command;   /* borrowed from opts */
    const char *image;     /* borrowed */
    char *workspace;       /* realpath of opts->workspace or NULL */
    bool workspace_staged; /* workspace is a staged dir whose owners are
                              already the box's ids (workspace.c): bind it
                              as is, no idmap on top */
    int network;
    const char *memory;    /* borrowed, validated */
    uint64_t memory_bytes; /* parsed */
    double cpus_value;     /* clamped */
    long pids;
    char cpus[32]; /* formatted, clamped */
    double timeout_sec;
    size_t output_limit;
    sbx_plan_mount *mounts; /* n_mounts extra bind mounts (owned) */
    size_t n_mounts;
    const char *const *env; /* borrowed, validated */
    size_t n_env;
    int cancel_fd;
    uint64_t disk_limit_bytes; /* parsed disk_limit (default 1g) */
    char name[64];             /* unique container name */
    char label[64];            /* SANDBOX_LABEL=<pid> */
    /* Set by the container backend: podman's --uidmap/--gidmap range
     * (NULL: none; docker's remapping is the engine's). */
    const struct sbx_idmap *idmap;
    /* Exec options (issue 10), borrowed from opts and validated. */
    const char *const *argv; /* argc words, no shell; NULL: sh -c command */
    size_t argc;
    const void *stdin_data; /* with stdin_fd: see sbx_io */
    size_t stdin_len;
    int stdin_fd, stdout_fd, stderr_fd; /* -1: none */
    bool stdin_open; /* the box's stdin is fed (data or fd), not /dev/null */
    sandbox_output_fn on_output;
    void *on_output_ctx;
    struct sbx_io *io; /* set by sandbox_run for the backend's capture loop;
                          NULL: stdin /dev/null, no tee, no callback */
    /* network allowlist (net.h): borrowed, validated */
    const char *const *allow;
    size_t n_allow;
    size_t max_connections;
    uint64_t max_net_bytes;
    const struct sbx_netrun *net; /* set by the backend for allowlist */
    /* Boxes (issue 10): validated; 0 idle = never. */
    double box_lifetime_sec, box_idle_sec;
    /* sandbox_run's box: one exec, destroyed right after it.  No kill
     * groups: a timeout kills the box's init, and the pid namespace takes
     * every process of the exec with it (nothing can leave it). */
    bool one_shot;
    bool owned; /* sbx_plan_own ran: the borrowed fields are copies */
} sbx_plan;

/* Validate opts (nothing is touched on the host).  `online_cpus` is the
 * clamp for cpus (pass 0 to read it from the system). */
SBX_HIDDEN int sbx_validate(const sandbox_opts *opts, sbx_err *e);

/* Validate and resolve opts into plan (runtime found, workspace resolved,
 * name generated).  On failure plan holds nothing to free. */
SBX_HIDDEN int sbx_plan_init(sbx_plan *plan, const sandbox_opts *opts,
                             sbx_err *e);
SBX_HIDDEN void sbx_plan_free(sbx_plan *plan);
/* -1 is "none"; else fd must be open and not opened with access mode
 * `bad` (O_WRONLY for an input, O_RDONLY for an output): SANDBOX_EINVAL
 * naming `name` and what it must be (`need`). */
SBX_HIDDEN int sbx_validate_fd(int fd, const char *name, int bad,
                               const char *need, sbx_err *e);
#define SBX_BOX_LIFETIME_DEF 3600.0 /* box.h: SBX_BOX_LIFETIME_DEFAULT */

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
/* The same with stdin_fd as its stdin (-1: /dev/null). */
SBX_HIDDEN int sbx_spawn_io(char *const argv[], bool capture, const char *cwd,
                            int stdin_fd, sbx_child *c, sbx_err *e);
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
    struct sbx_io *io; /* NULL, or stdin feeding + streaming (io.c) */
    bool exited;       /* the child was reaped */
    bool lost;  /* ... by someone else: its status is unknown (an error) */
    int status; /* wait status when exited */
    double wall_sec;
} sbx_capture;

/* Hook called once when the deadline passes or cancel_fd fires, before
 * the child is reaped; it must make the child exit (kill the container). */
typedef void (*sbx_stop_fn)(void *ctx, sbx_child *c);

SBX_HIDDEN int sbx_capture_run(sbx_child *c, double timeout_sec, int cancel_fd,
                               sbx_stop_fn stop, void *ctx, sbx_capture *cap,
                               sbx_err *e);
/* The same for a child the caller cannot reap (a box init's exec: c->pid
 * -1): its end is a record on status_fd.  When status_fd is readable fn is
 * called: 0 not yet, 1 ended (fn set cap->status), -1 the record will
 * never come (status lost: SANDBOX_EBOXDEAD).  stop is called again every
 * SBX_STOP_GRACE_SEC until the record arrives, at most 3 times. */
typedef int (*sbx_status_fn)(void *ctx, sbx_capture *cap);
SBX_HIDDEN int sbx_capture_run_status(sbx_child *c, int status_fd,
                                      sbx_status_fn fn, void *fn_ctx,
                                      double timeout_sec, int cancel_fd,
                                      sbx_stop_fn stop, void *ctx,
                                      sbx_capture *cap, sbx_err *e);
SBX_HIDDEN void sbx_stream_free(sandbox_stream *s);
/* Append n bytes to s keeping at most cap; counts everything. */
SBX_HIDDEN int sbx_stream_append(sandbox_stream *s, size_t cap, const char *buf,
                                 size_t n);

/* ---- io.c: the box's stdin and output streaming (issue 10) -----------
 * Driven from the capture loop on the calling thread.  stdin: a pipe whose
 * write end is non-blocking and written only when poll says so (a box that
 * never reads cannot stall the loop); EPIPE stops the feeding, and SIGPIPE
 * is blocked around each write and a pending one consumed (libpq's
 * technique), so none reaches the caller.  Tees: the caller's fd written
 * without blocking (a socket with MSG_DONTWAIT, a pipe or tty through a
 * non-blocking reopen of /proc/self/fd/N, a regular file directly); what
 * cannot be written at once waits in a buffer of at most SBX_TEE_BUF bytes,
 * and a tee that falls further behind (or whose reader is gone) is dropped
 * with a note in the result's message: the box never waits for it. */
#define SBX_TEE_BUF (1u << 20)
#define SBX_TEE_FLUSH_SEC 1.0 /* after the end, for what a tee still owes */
#define SBX_IO_CHUNK 65536
#define SBX_IO_MAX_POLL 4 /* pollfds sbx_io_poll_add may add */

typedef struct sbx_tee {
    int fd;   /* where bytes go (the caller's, or own), -1: none/failed */
    int own;  /* our non-blocking reopen of the caller's fd, or -1 */
    int kind; /* how to write without blocking (io.c) */
    const char *name; /* "stdout_fd" / "stderr_fd" */
    char *buf;        /* pending bytes, at most SBX_TEE_BUF */
    size_t len;
    uint64_t sent;
} sbx_tee;

typedef struct sbx_io {
    int in_w; /* our end of the box's stdin pipe, -1: closed/none */
    const char *data;
    size_t len, off; /* stdin_data still to write */
    int src_fd;      /* stdin_fd: read to EOF, -1 none */
    bool src_eof;
    char *chunk; /* bytes read from src_fd, not yet written */
    size_t c_off, c_len;
    bool feeding;   /* the box's stdin is ours (data or fd) */
    sbx_tee tee[2]; /* [0] stdout, [1] stderr */
    sandbox_output_fn cb;
    void *ctx;
    char note[512]; /* what went wrong with a tee or stdin_fd, for res */
    int idx[SBX_IO_MAX_POLL]; /* sbx_io_poll_add's slots */
} sbx_io;

/* From the plan's fields; nothing opened but the tee reopens. */
SBX_HIDDEN int sbx_io_init(sbx_io *io, const sbx_plan *p, sbx_err *e);
/* The box's stdin: a pipe; *box_end is its read end (O_CLOEXEC), for the
 * backend to hand to the child and close.  -1 when stdin is /dev/null. */
SBX_HIDDEN int sbx_io_stdin_pipe(sbx_io *io, int *box_end, sbx_err *e);
/* The capture loop's hooks: add fds to poll (at most SBX_IO_MAX_POLL),
 * act on their revents, pass output on, stop feeding (the box ended or was
 * stopped), and flush what the tees still hold (bounded). */
SBX_HIDDEN int sbx_io_poll_add(sbx_io *io, struct pollfd *pf, int n);
SBX_HIDDEN void sbx_io_poll_done(sbx_io *io, const struct pollfd *pf);
SBX_HIDDEN void sbx_io_output(sbx_io *io, int stream, const char *buf,
                              size_t n);
SBX_HIDDEN void sbx_io_stop_feeding(sbx_io *io);
SBX_HIDDEN void sbx_io_flush(sbx_io *io, double seconds);
SBX_HIDDEN void sbx_io_free(sbx_io *io);
/* write(2) that never raises SIGPIPE in the caller (EPIPE instead). */
SBX_HIDDEN ssize_t sbx_write_nosigpipe(int fd, const void *buf, size_t n);

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

/* ---- policy.c: the one seccomp policy of every backend ---------------- */

/* An argument comparison, as libseccomp and OCI profiles spell it: EQ is
 * arg == value; MASKED_EQ is (arg & value) == value2. */
typedef enum sbx_cmp { SBX_CMP_EQ = 1, SBX_CMP_MASKED_EQ = 2 } sbx_cmp;
typedef struct sbx_scmp_arg {
    unsigned index; /* 0..5 */
    sbx_cmp op;
    uint64_t value, value2;
} sbx_scmp_arg;
/* One rule: the syscall `name` is allowed (errno_ret 0) or fails with
 * errno_ret, when all n_args comparisons hold (distinct indexes).  Rules
 * of one name are alternatives.  Everything no rule allows fails with
 * SBX_POLICY_DEFAULT_ERRNO. */
typedef struct sbx_scmp_rule {
    const char *name;
    int errno_ret;
    unsigned n_args;
    sbx_scmp_arg args[2];
} sbx_scmp_rule;
#define SBX_POLICY_DEFAULT_ERRNO 1 /* EPERM */

/* Call fn on every rule, in a fixed order; stops at (and returns) the first
 * nonzero return of fn. */
typedef int (*sbx_policy_fn)(const sbx_scmp_rule *r, void *ctx);
SBX_HIDDEN int sbx_policy_foreach(sbx_policy_fn fn, void *ctx);
/* The policy as an OCI/docker seccomp profile (malloc'd JSON text). */
SBX_HIDDEN int sbx_policy_json(char **json, size_t *len, sbx_err *e);
/* Write the profile (once per content) where only the caller can change
 * it and put its absolute path in buf: /run/libsandbox/seccomp-<hash>.json
 * for root, $XDG_RUNTIME_DIR/libsandbox/... or /tmp/libsandbox-<uid>/...
 * for others (docs/seccomp.md). */
SBX_HIDDEN int sbx_seccomp_profile_path(char *buf, size_t n, sbx_err *e);
/* The private directory of the profile (and the native backend's compiled
 * filter): /run/libsandbox (root), $XDG_RUNTIME_DIR/libsandbox or
 * /tmp/libsandbox-<uid>; created if missing, refused unless it is a real
 * directory owned by the caller that others cannot write.  Returns an
 * O_DIRECTORY fd and writes its path into path. */
SBX_HIDDEN int sbx_policy_dir(char *path, size_t n, sbx_err *e);
/* Read dfd/name (at most cap bytes) when it is a regular file (not a
 * symlink) owned by the caller that others cannot write; 0 or -1. */
SBX_HIDDEN int sbx_policy_read(int dfd, const char *name, void *buf, size_t cap,
                               size_t *len);
/* Atomically publish data as dfd/name, mode 0644 (O_EXCL temporary, then
 * rename over the name, which never follows a symlink); 0 or -errno. */
SBX_HIDDEN int sbx_policy_publish(int dfd, const char *name, const void *data,
                                  size_t len);
#define SBX_FNV_INIT 0xcbf29ce484222325ULL
SBX_HIDDEN uint64_t sbx_fnv1a64(uint64_t h, const void *p, size_t n);
/* Native backend only (native/seccomp.c): the policy's names libseccomp
 * cannot resolve on this architecture, comma-separated (they stay denied);
 * returns how many. */
SBX_HIDDEN size_t sbx_seccomp_unresolved(char *buf, size_t n);

/* ---- backends: each fills res (streams, wall time, reason, code) ------ */
SBX_HIDDEN int sbx_container_run(const sbx_plan *plan, sandbox_result *res,
                                 sbx_err *e);
/* Sweep what killed native runs left (stale cgroups); returns a count. */
SBX_HIDDEN unsigned sbx_native_gc(void);
/* Kill what is left of native run `run_name` (plan->name, "sandbox-...")
 * and remove its cgroup in every hierarchy: for a guardian that saw the
 * caller die.  0 (also when nothing was there), -EBUSY when a directory
 * would not go, -EINVAL for a name that is not a run's. */
SBX_HIDDEN int sbx_native_cgroup_reap(const char *run_name);
/* Is the native backend compiled in? */
SBX_HIDDEN bool sbx_native_available(void);
/* image_id.c: set res->image_id after a run (NULL when unknown). */
SBX_HIDDEN void sbx_fill_image_id(const sbx_plan *plan, sandbox_result *res);
/* podman/docker: start `image inspect` before the run, so it costs no wall
 * time and names the image as the run starts (c->pid -1 for native).
 * finish reads it into res->image_id when keep (the run succeeded),
 * falling back to sbx_fill_image_id; it always reaps the child. */
SBX_HIDDEN int sbx_image_id_start(const sbx_plan *plan, sbx_child *c);
SBX_HIDDEN void sbx_image_id_finish(sbx_child *c, const sbx_plan *plan,
                                    sandbox_result *res, bool keep);
/* Set res->message (takes ownership of msg; NULL allowed). */
/* Takes msg (may be NULL); stores it escaped as sbx_safe_text does. */
SBX_HIDDEN void sbx_set_message(sandbox_result *res, char *msg);
/* res as a failed call: reason ERROR, error e->code, exit_code -1, the
 * message e's (escaped), out/err "" when unset.  Returns e->code. */
SBX_HIDDEN int sbx_fail_result(sandbox_result *res, const sbx_err *e);
/* Text for a person: control characters (C0 with newline, DEL, C1),
 * bidirectional overrides and bytes that are not UTF-8 written as \xNN or
 * \uNNNN, the rest kept; out (n bytes, NUL-terminated, cut at a whole
 * piece) and its length.  sbx_safe_dup: the same, malloc'd (NULL: NULL or
 * out of memory).  Every sbx_err message and result message goes
 * through it: they may quote the box. */
SBX_HIDDEN size_t sbx_safe_text(char *out, size_t n, const char *in);
SBX_HIDDEN char *sbx_safe_dup(const char *in);

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

/* ---- workspace.c: the capped, id-mapped workspace ----------------------
 * Per run, under SBX_WS_RUN_DIR/<plan->name>: a tmpfs of disk_limit
 * (nosuid, nodev) holding an overlay's upper and work directories, the host
 * workspace as its read-only (idmapped) lower layer, and the merged
 * directory the backend binds at /workspace.  After the run the upper
 * directory is applied to the host workspace without following any link.
 *
 * Backend hook (one per backend):
 *     sbx_ws *ws = NULL;
 *     if ((rc = sbx_ws_prepare(plan, map, &ws, e)) < 0) return rc;
 *     ...bind sbx_ws_source(ws) (or plan->workspace when ws is NULL)...
 *     rc = sbx_ws_finish(ws, res, rc, e);   // after timeout/cancel/OOM too
 * map: how box ids appear on the host (box id i is host id start+i), or
 * NULL when the box's ids are the host's (no user namespace). */
#define SBX_WS_RUN_DIR "/run/libsandbox/ws"
#define SBX_WS_MAX_ENTRIES (1u << 20) /* also caps the tmpfs's inodes */
#define SBX_WS_MIN_INODES 1024u /* tmpfs inodes: disk_limit/4096, >= this */
#define SBX_WS_MAX_DEPTH 128
#define SBX_WS_MAX_PATH 4096
#define SBX_WS_FORCE_COPY 1u /* tests: skip the idmapped mount */
/* On every symlink the commit-back makes (value "1"): a box made it. */
#define SBX_WS_BOX_LINK_XATTR "trusted.libsandbox.box"

typedef struct sbx_ws sbx_ws;

typedef struct sbx_ws_stats {
    uint64_t files, dirs, symlinks, deleted, skipped, bytes;
    uint64_t mounts; /* entries at or under a host mount point: left */
} sbx_ws_stats;

/* Stage plan->workspace (NULL workspace: *out = NULL, returns 0).  Needs
 * root; SANDBOX_ERUNTIME naming the fix otherwise.  Falls back to copying
 * the workspace into the tmpfs (owners mapped) when idmapped mounts are
 * unavailable; SANDBOX_EINVAL when it does not fit in disk_limit. */
SBX_HIDDEN int sbx_ws_prepare(const sbx_plan *p, const sbx_idmap *map,
                              sbx_ws **out, sbx_err *e);
SBX_HIDDEN int sbx_ws_prepare_flags(const sbx_plan *p, const sbx_idmap *map,
                                    unsigned flags, sbx_ws **out, sbx_err *e);
/* For a guardian whose caller died: detach the staged workspace's mounts
 * (merged is sbx_ws_source()'s path).  Async-signal-safe (umount2 only);
 * the empty run directory is swept later by sbx_ws_sweep. */
SBX_HIDDEN void sbx_ws_detach_safe(const char *merged);
/* The directory to bind at /workspace (NULL for a NULL ws). */
SBX_HIDDEN const char *sbx_ws_source(const sbx_ws *w);
SBX_HIDDEN bool sbx_ws_copy_mode(const sbx_ws *w);
/* Report disk_bytes/disk_limit_hit, commit the box's changes, unmount,
 * remove the staging directory, free w (NULL: returns run_rc).  Returns
 * run_rc when it is < 0 (e keeps the run's error; a commit failure is
 * appended to res->message), else 0 or the commit's error in e. */
SBX_HIDDEN int sbx_ws_finish(sbx_ws *w, sandbox_result *res, int run_rc,
                             sbx_err *e);
/* Apply an overlay upper directory to the directory root_fd: regular files
 * and symlinks written under temporary names and renamed, owned uid:gid,
 * permission bits only; whiteouts and opaque directories delete; fifos,
 * sockets and devices skipped (counted).  Never follows a link, never
 * crosses into a filesystem mounted inside the workspace (left, counted),
 * leaves root_fd.  Bounds (entries, depth, path length) are checked before
 * anything is written. */
SBX_HIDDEN int sbx_ws_commit(int upper_fd, int root_fd, uid_t uid, gid_t gid,
                             sbx_ws_stats *st, sbx_err *e);
/* The same, refused whole (SANDBOX_EIO) when the data it would write to
 * the host, counted once per name (allocated blocks), exceeds limit (0:
 * no cap): hard links made in the box's tmpfs cost nothing there but a
 * full copy each here. */
SBX_HIDDEN int sbx_ws_commit_capped(int upper_fd, int root_fd, uid_t uid,
                                    gid_t gid, uint64_t limit, sbx_ws_stats *st,
                                    sbx_err *e);
/* Remove staging directories whose run is gone (lock free): unmounted,
 * their writes dropped.  Returns how many. */
SBX_HIDDEN unsigned sbx_ws_sweep(void);
SBX_HIDDEN unsigned sbx_ws_sweep_at(int base_fd);
/* The map a container engine applies to plan's box, when known (0), else
 * -1 (box ids are host ids): podman from the --uidmap/--gidmap in the run
 * argv ("0:START:COUNT", one range), docker from dockremap's subordinate
 * range when dockerd keeps /var/lib/docker/<uid>.<gid> (userns-remap). */
SBX_HIDDEN int sbx_ws_engine_map(const sbx_plan *p, sbx_idmap *map);

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

/* ---- container boxes (backend_container_box.c, issue 10) --------------- */
/* `<rt> run -d ...` for a long-lived box: the run argv's limits, hardening,
 * mounts and network without --rm and without a command; init_dir (the
 * control socket's directory, holding an empty stub file SBX_INIT_NAME)
 * bound read-only at SBX_INIT_BOX_DIR, init_path on the stub, and
 * SBX_INIT_BOX_DIR/SBX_INIT_NAME init_argv... as the box's PID 1 (behind
 * the relay for network = allowlist). */
SBX_HIDDEN int sbx_build_create_argv(const sbx_plan *p, const char *init_dir,
                                     const char *init_path,
                                     char *const *init_argv, char ***argv,
                                     sbx_err *e);
/* Remove the container by name until the runtime no longer lists it (a few
 * tries, each call bounded).  true when it is verifiably gone. */
SBX_HIDDEN bool sbx_container_remove(const char *rt, sbx_runtime_kind kind,
                                     const char *name);
/* Remove the control directories (and podman cwds) container boxes of dead
 * owners left when their guardian died too; returns how many. */
SBX_HIDDEN unsigned sbx_cbox_gc(void);

/* podman, rootful: the caller's subordinate range for --uidmap/--gidmap
 * (*use false when rootless: podman maps box root to the caller). */
SBX_HIDDEN int sbx_podman_idmap(struct sbx_idmap *map, bool *use, sbx_err *e);
/* docker: `docker info` started beside the run client; finish says whether
 * box root is host root: 0 remapped, 1 not, -1 cannot tell (reaps c). */
SBX_HIDDEN int sbx_docker_info_start(const sbx_plan *plan, sbx_child *c);
SBX_HIDDEN int sbx_docker_info_finish(sbx_child *c);

/* ---- opts.c: box-made links (boxcopy.c too) --------------------------- */
/* The first symlink marked SBX_WS_BOX_LINK_XATTR that resolving path
 * passes through (malloc'd), or NULL. */
SBX_HIDDEN char *sbx_box_link_on_path(const char *path);

#endif /* LIBSANDBOX_INTERNAL_H */
