/* SPDX-License-Identifier: MIT */
/* Boxes (issue 10): one box, many execs.  The pieces and who owns them:
 *
 *   box.c          the public handle (sandbox_box_*), its lifetime, idle
 *                  timeout and death reason, the one exit classifier, and
 *                  sandbox_run = create + exec + destroy
 *   execproto.c    the host side of the exec protocol with the box's init
 *                  (relay/boxinit.c, a static binary mounted read-only at
 *                  SBX_INIT_BOX_DIR and run as the box's PID 1 on every
 *                  backend), and the per-exec kill groups (cgroup v2 dirs
 *                  with cgroup.kill) that make an exec's timeout kill its
 *                  whole process tree whatever it does
 *   backend_native.c / backend_container.c   the operations table below
 *   boxcopy.c      put/get: a tar stream through an exec, read and
 *                  written on the host with libarchive (never following a
 *                  link, refusing '..', stripping setuid/setgid)
 *   pool.c         the warm pool
 *
 * Exec protocol in one paragraph: the init holds a SOCK_SEQPACKET control
 * socket to the owner (native: inherited fd; podman/docker: it connects to
 * a listening socket the owner made in a directory mounted at
 * SBX_INIT_BOX_DIR, and the owner accepts exactly one peer, the container's
 * init by SO_PEERCRED pid, then removes the socket).  Each exec is one
 * message carrying four fds (stdin, stdout, stderr, a per-exec status
 * socket); the init forks; the child reports itself on the status socket
 * (the owner reads its host pid from SCM_CREDENTIALS and moves it into the
 * exec's kill group), receives argv/env/cwd, and execs.  The init reaps it
 * and writes its wait status to the status socket.  The control socket's
 * EOF (the owner died) makes the init exit, which ends the box. */
#ifndef LIBSANDBOX_BOX_H
#define LIBSANDBOX_BOX_H

#include "guardian.h"
#include "internal.h"

#include <pthread.h>

/* Inside the box: the init binary and (containers) the control socket. */
#define SBX_INIT_BOX_DIR "/.sandbox"
#define SBX_INIT_NAME "init"
#define SBX_INIT_SOCK_NAME "ctl.sock"
/* Tests and uninstalled builds: the init binary's path. */
#define SBX_INIT_ENV "SANDBOX_INIT"
/* The cgroup v2 root of kill groups on a v1/hybrid host. */
#define SBX_KILLGROUP_V1_ROOT "/sys/fs/cgroup/unified/libsandbox"

#define SBX_BOX_MAGIC 0x73627862786f7831ULL /* "sbxbox1" */
#define SBX_BOX_LIFETIME_DEFAULT 3600.0

/* ---- execproto.c ------------------------------------------------------ */
/* Wire format: relay/boxinit_proto.h.  The init's argv is
 * {"init", "--fd", "N"} (native: N its end of sbx_xp_socketpair, CLOEXEC
 * cleared) or {"init", "--connect", SBX_INIT_BOX_DIR "/" SBX_INIT_SOCK_NAME}
 * (containers); it exits 125 on a bad argv or when it cannot connect
 * within 10 s, 0 when the owner closes the control socket. */

/* The static init binary to mount into boxes: $SANDBOX_INIT, else the
 * installed libexec path (as sbx_net_relay_path). */
SBX_HIDDEN bool sbx_init_path(char *buf, size_t n, sbx_err *e);

typedef struct sbx_xp {
    int ctl_fd;          /* SOCK_SEQPACKET to the init, -1: none */
    pid_t init_pid;      /* the init's host pid, -1 unknown */
    char kill_dir[512];  /* cgroup v2 dir holding this box's exec groups */
    unsigned next_id;    /* exec numbers (under the box's lock) */
    pthread_mutex_t *mu; /* the box's lock, for next_id */
} sbx_xp;

/* Zero xp: no control socket, no kill groups, next_id 0, mu as given
 * (NULL: the caller serialises execs). */
SBX_HIDDEN void sbx_xp_init(sbx_xp *xp, pthread_mutex_t *mu);
/* Native: a socketpair; sv[1] goes to the init (as --fd N). */
SBX_HIDDEN int sbx_xp_socketpair(sbx_xp *xp, int *init_end, sbx_err *e);
/* Containers: listen on dir/SBX_INIT_SOCK_NAME (owned by the box's root,
 * host uid box_uid, connectable by any uid: the init runs as the image's
 * USER); accept exactly one peer whose SO_PEERCRED pid is expect_pid (0:
 * any PID 1 of a pid namespace below ours) and, if peer_ok is not NULL,
 * for which peer_ok(ctx, pid) is true, within timeout_sec; other peers
 * are closed and the wait goes on; unlink the socket. */
typedef bool (*sbx_xp_peer_fn)(void *ctx, pid_t pid);
SBX_HIDDEN int sbx_xp_listen(const char *dir, uid_t box_uid, gid_t box_gid,
                             int *lfd, sbx_err *e);
SBX_HIDDEN int sbx_xp_accept(sbx_xp *xp, int lfd, pid_t expect_pid,
                             sbx_xp_peer_fn peer_ok, void *ctx,
                             double timeout_sec, sbx_err *e);
/* The box's kill-group directory: on a cgroup v2 host under parent_v2 (the
 * box's cgroup), on v1/hybrid SBX_KILLGROUP_V1_ROOT/<box_name>. */
SBX_HIDDEN int sbx_xp_killgroups(sbx_xp *xp, const char *box_name,
                                 const char *parent_v2, sbx_err *e);

/* The kill groups of a box whose owner and guardian died together (nobody
 * closed them).  A live box's init sits in its kill-group root (v1/hybrid)
 * or in the box cgroup above execs/ (v2), so a directory with no process
 * in its subtree, older than min_age_sec, has no box: its exec-* groups,
 * its execs/ and itself are removed.  sbx_xp_sweep_dir does one such
 * directory (a v1/hybrid kill-group root, or a native box's v2 cgroup);
 * sbx_xp_killgroups_sweep every one under SBX_KILLGROUP_V1_ROOT. */
SBX_HIDDEN bool sbx_xp_sweep_dir(const char *dir, double min_age_sec);
SBX_HIDDEN unsigned sbx_xp_killgroups_sweep(double min_age_sec);

/* One exec, resolved by box.c. */
typedef struct sbx_xspec {
    char *const *argv;  /* NULL-terminated words */
    bool path_lookup;   /* argv[0] looked up in envp's PATH (argv mode) */
    char *const *envp;  /* the whole environment, NULL-terminated */
    const char *cwd;    /* absolute, in the box */
    double timeout_sec; /* > 0 */
    size_t output_limit;
    int cancel_fd;
    sbx_io *io; /* stdin feeding, tees, callback; NULL: none */
} sbx_xspec;

/* Run x through the init and capture it: cap gets the streams, the wait
 * status (exited/status), timed_out/cancelled (the exec's kill group was
 * killed) and wall_sec.  SANDBOX_EBOXDEAD when the init is gone. */
SBX_HIDDEN int sbx_xp_exec(sbx_xp *xp, const sbx_xspec *x, sbx_capture *cap,
                           sbx_err *e);
/* Kill every exec group (not the init), remove their directories. */
SBX_HIDDEN void sbx_xp_kill_all(sbx_xp *xp);
/* Close the control socket (the init then exits) and remove the kill
 * groups. */
SBX_HIDDEN void sbx_xp_close(sbx_xp *xp);
/* For a guardian whose caller died (async-signal-safe: a copy of
 * xp->kill_dir taken before the fork): kill every exec group through
 * kill_dir's cgroup.kill, wait (bounded) until they are empty, remove
 * them and, with remove_dir, kill_dir itself. */
SBX_HIDDEN void sbx_xp_reap_safe(const char *kill_dir, bool remove_dir);

/* ---- box.c: the handle and the operations table ----------------------- */

typedef struct sbx_box_state {
    bool alive;
    int reason;          /* sandbox_end when it ended (OOM, SIGNALED...) */
    uint64_t oom_kills;  /* box-wide so far */
    uint64_t peak_bytes; /* 0 unknown */
    double cpu_sec;      /* < 0 unknown */
    char why[256];       /* when !alive */
} sbx_box_state;

struct sandbox_box;

typedef struct sbx_box_ops {
    const char *name; /* "native", "podman", "docker" */
    /* Start the box from b->plan: init running, b->xp connected with its
     * kill groups, a guardian started (b->guard) that removes everything
     * on the owner's death or at b->deadline; b->impl set. */
    int (*create)(struct sandbox_box *b, sbx_err *e);
    /* Alive? And the box-wide accounting. */
    int (*inspect)(struct sandbox_box *b, sbx_box_state *st);
    /* Stop it, remove everything, fill res's box-level fields (NULL ok),
     * commit the workspace back; b->impl freed. */
    int (*destroy)(struct sandbox_box *b, sandbox_result *res, sbx_err *e);
} sbx_box_ops;

SBX_HIDDEN extern const sbx_box_ops sbx_native_box_ops;
SBX_HIDDEN extern const sbx_box_ops sbx_container_box_ops;

struct sandbox_box {
    uint64_t magic; /* SBX_BOX_MAGIC while the handle is valid */
    pthread_mutex_t mu;
    sbx_plan plan; /* owned deep copy (sbx_plan_own) */
    const sbx_box_ops *ops;
    void *impl; /* backend state */
    sbx_xp xp;
    sbx_guardian guard;
    double t_created, t_active, deadline; /* sbx_now() */
    unsigned busy;                        /* execs/puts/gets running */
    bool destroyed;                       /* sandbox_box_destroy ran */
    char why[512];                        /* why it is gone, once it is */
    /* ---- box.c's, appended ---- */
    pthread_cond_t cv; /* busy dropped to 0 (destroy waits for it) */
    int dead_reason;   /* sandbox_end of the box's end, once gone */
    char **base_env;   /* NULL-terminated environment every exec starts
                          from (create may set it: a container's image
                          env; NULL: PATH, HOME, HOSTNAME defaults), then
                          plan.env, then the exec's env; owned, freed
                          with the handle */
};

/* Deep-copy every field plan borrows from opts (strings, env, argv, allow)
 * so the plan outlives the caller's opts. */
SBX_HIDDEN int sbx_plan_own(sbx_plan *plan, sbx_err *e);
/* Internal create on a validated plan (owned by sbx_plan_own, or borrowing
 * from opts that outlive the box).  *plan is moved into the box (zeroed
 * here, success or not). */
SBX_HIDDEN int sbx_box_create_plan(sbx_plan *plan, sandbox_box **box,
                                   sbx_err *e);
/* sandbox_run on a box: create from *plan (moved, as above), run the
 * plan's command/argv with plan->io, destroy; res gets the exec's streams
 * and end, and the box-level peak/cpu/disk/net/image_id. */
SBX_HIDDEN int sbx_box_run(sbx_plan *plan, sandbox_result *res, sbx_err *e);

/* Mark an activity (exec, put, get) on the box: SANDBOX_EBOXDEAD (with why
 * in e) when it is gone, else busy++ (the idle clock stops).  end: busy--.
 * For boxcopy.c. */
SBX_HIDDEN int sbx_box_begin(sandbox_box *b, sbx_err *e);
SBX_HIDDEN void sbx_box_end(sandbox_box *b);
/* Is box a live handle (magic)?  SANDBOX_EBADBOX in e when not. */
SBX_HIDDEN int sbx_box_check(const sandbox_box *b, sbx_err *e);

/* ---- the one exit classifier (every backend) ------------------------- */
typedef struct sbx_exit_ctx {
    double timeout_sec;   /* for the timeout message */
    const char *memory;   /* the limit as given, for the OOM message */
    uint64_t oom_kills;   /* kernel OOM kills during this run/exec, if known */
    int oom;              /* engines: 1 the engine reported an OOM kill,
                             -1 inferred (137 and no record), 0 decide from
                             oom_kills and the code (native) */
    const char *oom_note; /* engines: how the OOM was known (message), or
                             NULL */
    const char *killed;   /* what a timeout/cancel killed: "the box was
                             killed" (one-shot), "its processes were killed
                             and the box lives on" (exec) */
} sbx_exit_ctx;

/* Fill res->reason/exit_code/term_signal/message from cap (timed_out,
 * cancelled, status) and x: TIMEOUT (124), CANCELLED (130), OOM when the
 * OOM kill is what ended it (a SIGKILL / 137 with oom_kills > 0, or x->oom
 * != 0 and code 137), SIGNALED (code 128+n or a signal status), EXITED. */
SBX_HIDDEN void sbx_classify(sandbox_result *res, const sbx_capture *cap,
                             const sbx_exit_ctx *x);

#endif /* LIBSANDBOX_BOX_H */
