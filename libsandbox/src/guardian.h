/* SPDX-License-Identifier: MIT */
/* The guardian: a small process that outlives its caller just long enough
 * to clean up after it.
 *
 * The library forks it (sbx_guardian_start) before a box starts.  It keeps
 * only one end of a socketpair and a pidfd of the caller, and fires when
 *   - the caller dies, by any signal including SIGKILL (the pidfd becomes
 *     readable, the socket reads EOF), or
 *   - the deadline passes while the caller lives on (stopped, stuck),
 * then SIGKILLs the processes handed to it (sbx_guardian_watch), runs the
 * prepared cleanup argv until it succeeds and, if given, until the "gone"
 * argv says the thing is gone, calls the optional callback, and exits.
 * On a normal end the library releases it (sbx_guardian_release): one byte
 * on the socket makes it exit at once without cleaning up, and the library
 * reaps it (no zombie, no stray process).
 *
 * Everything the guardian uses is prepared before fork(): it runs only
 * async-signal-safe calls (poll, recvmsg, clock_gettime, _Fork, execve,
 * waitpid, nanosleep, kill, close, dup2, open, sigaction, _exit).  It holds
 * no fd of the caller's but its two (stdin/stdout/stderr are /dev/null:
 * never the caller's pipes), runs in its own session with cwd "/", default
 * signal dispositions and an empty signal mask.
 *
 * The callback (fn) runs in the guardian, i.e. in a forked copy of a
 * possibly multi-threaded caller: it must obey the rules of a signal
 * handler -- async-signal-safe functions only (signal-safety(7)): no
 * malloc/free, no stdio, no locks, no sbx_* helpers; only data prepared
 * before sbx_guardian_start (its `arg` points into the guardian's copy of
 * the caller's memory, frozen at fork time). */
#ifndef LIBSANDBOX_GUARDIAN_H
#define LIBSANDBOX_GUARDIAN_H

#include "internal.h"

/* Seconds after the deadline the guardian waits before it cleans up
 * itself (the library's own deadline handling normally got there first). */
#define SBX_GUARDIAN_GRACE_SEC 2.0
/* Each cleanup command may take this long before it is SIGKILLed. */
#define SBX_GUARDIAN_CALL_SEC 10.0
/* Cleanup attempts, 250 ms apart, before the guardian gives up. */
#define SBX_GUARDIAN_TRIES 6
/* Processes sbx_guardian_watch can hand over. */
#define SBX_GUARDIAN_MAX_WATCH 4

typedef void (*sbx_guardian_fn)(void *arg);

typedef struct sbx_guardian {
    pid_t pid; /* the guardian process, or -1 */
    int fd;    /* the library's end of the lifeline socket, or -1 */
} sbx_guardian;

/* What the guardian's exit status says (sbx_guardian_release returns it). */
enum {
    SBX_GUARDIAN_RELEASED = 0, /* released before it fired */
    SBX_GUARDIAN_FIRED = 1,    /* it fired (deadline) and cleaned up */
    SBX_GUARDIAN_FAILED = 2,   /* it fired but the cleanup did not verify */
};

/* Start a guardian for the calling process.
 *   deadline_monotonic: sbx_now() time after which it cleans up even if the
 *       caller is alive (0: only on the caller's death).  The grace
 *       SBX_GUARDIAN_GRACE_SEC is NOT added here: pass what you want.
 *   cleanup_argv: NULL (then fn does the whole cleanup and must be set),
 *       or NULL-terminated, argv[0] an absolute path; run with
 *       stdin/stdout/stderr on /dev/null, cwd "/", the caller's environment
 *       as it was at start.  Retried until it exits 0.
 *   gone_argv: optional (NULL); after each cleanup run, it must exit
 *       non-zero for the cleanup to count as done ("exists" semantics:
 *       `podman container exists NAME`, `docker container inspect NAME`).
 *   fn, fn_arg: optional callback run last, see the rules above.
 * The argv arrays and fn_arg must stay valid in the caller only until this
 * returns (the guardian has its own copy). */
SBX_HIDDEN int sbx_guardian_start(sbx_guardian *g, double deadline_monotonic,
                                  char *const cleanup_argv[],
                                  char *const gone_argv[], sbx_guardian_fn fn,
                                  void *fn_arg, sbx_err *e);

/* The same for a box: with idle_sec > 0 it also fires once the box has
 * been idle that long (idle from the start, and from each
 * sbx_guardian_activity(g, false) until the next (g, true)), i.e. at
 * min(deadline, last idle + idle_sec). */
SBX_HIDDEN int
sbx_guardian_start_idle(sbx_guardian *g, double deadline_monotonic,
                        double idle_sec, char *const cleanup_argv[],
                        char *const gone_argv[], sbx_guardian_fn fn,
                        void *fn_arg, sbx_err *e);
/* The box became busy (an exec/put/get started while none ran) or idle
 * (the last one ended).  Best effort, never blocks for long. */
SBX_HIDDEN void sbx_guardian_activity(sbx_guardian *g, bool busy);

/* Hand the guardian a pidfd of a process to SIGKILL before it cleans up
 * (the runtime client: so it cannot create or start anything more).  The
 * caller keeps its own pidfd.  Best effort: 0 or a sandbox_error. */
SBX_HIDDEN int sbx_guardian_watch(sbx_guardian *g, int pidfd, sbx_err *e);

/* Normal end: tell the guardian to exit without cleaning up, close the
 * socket and reap it.  Returns SBX_GUARDIAN_RELEASED, or _FIRED/_FAILED
 * when it had already fired.  A guardian never started (pid -1) is 0. */
SBX_HIDDEN int sbx_guardian_release(sbx_guardian *g);

#endif /* LIBSANDBOX_GUARDIAN_H */
