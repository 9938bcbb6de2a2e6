/* SPDX-License-Identifier: MIT */
/* The warm pool (issue 10, item 4): `size` ready boxes for one template.
 *
 * Built only on the public box API (sandbox_box_create / exec / alive /
 * destroy / free) and the sbx_* helpers.  One pthread per pool, started by
 * sandbox_pool_create and joined by sandbox_pool_free, does all the slow
 * work off the callers' paths:
 *
 *   - it creates boxes until `size` are ready (one at a time);
 *   - it destroys the boxes sandbox_pool_run used (the caller does not wait
 *     for that), alternating with creation so neither starves;
 *   - while pooled runs execute and a box is still ready, it holds off for
 *     up to POOL_HOLDOFF_SEC after the latest run started, so its work does
 *     not compete with short runs (measured: a refill running alongside
 *     added ~1.7 ms to a 1.5 ms exec on 2 cores);
 *   - it discards ready boxes shortly before their lifetime or idle timeout
 *     would end them (see pool_expiry), and refills;
 *   - when a creation fails it records the error and backs off
 *     (POOL_BACKOFF_MIN doubling to POOL_BACKOFF_MAX) instead of retrying
 *     at once; while the last creation failed and no box is ready, run and
 *     take fail at once with that error (they never spin and never hang).
 *
 * Callers take the oldest ready box, check it is still alive (a box that
 * died while it waited -- killed, lifetime, idle -- is discarded, never
 * handed out), and wake the thread to refill.  Everything shared is under
 * one mutex; the slow calls (create, destroy, alive) run without it.  The
 * thread blocks every signal (no process-directed signal is delivered to
 * it); there is no global state: everything hangs off the pool.
 *
 * A box is created by the pool's thread.  Boxes handed out by take outlive
 * the pool (the caller owns them); that relies on the box not being tied to
 * the life of the thread that created it (box.c's business).
 *
 * sandbox_pool_run's result differs from sandbox_run's in the box-level
 * accounting only: peak_memory_bytes and cpu_sec are the box's at the end
 * of the exec (as sandbox_box_exec reports them: the run's own use plus the
 * box's init), and disk_bytes / disk_limit_hit (0) and image_id (NULL) are
 * not reported: the box's destroy, which reads them, runs after the call
 * returns (runtime, container_name, backend, host_root are the exec's).
 * With network = ALLOWLIST the box is destroyed on the caller's thread
 * instead, so net_attempts, net_log and image_id are the run's, as for
 * sandbox_run.  A template with a workspace
 * is refused: a ready box would see the workspace as it was when the box
 * was made, and its changes would reach the host after the call returned. */
#include "box.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#define SBX_POOL_MAGIC 0x73627870306f6c31ULL /* "sbxp0ol1" */
#define POOL_SIZE_MAX 256u
#define POOL_BACKOFF_MIN 0.1 /* seconds before the first retry */
#define POOL_BACKOFF_MAX 10.0
/* While pooled runs execute and a box is still ready, the thread holds off
 * this long after the latest run started: its creating and destroying
 * (clone, mounts, cgroup writes) would compete with short runs for the
 * CPU and the kernel's cgroup and mount locks. */
#define POOL_HOLDOFF_SEC 0.1

struct sandbox_pool {
    uint64_t magic;
    pthread_mutex_t mu;
    pthread_cond_t ready_cv; /* callers: a box is ready, an error, a stop */
    pthread_cond_t work_cv;  /* the thread: something to do */
    pthread_t thread;
    unsigned size;
    /* The template: a deep copy, owned (pool_tmpl_copy). */
    sandbox_opts tmpl;
    char **owned; /* every string and array the copy holds */
    size_t n_owned;
    double life_sec; /* the box lifetime the template gives */
    /* Ready boxes, oldest first, and when each was created. */
    sandbox_box **ready;
    double *born;
    unsigned n_ready;
    /* Used (or expired, or dead) boxes for the thread to destroy. */
    sandbox_box **dead;
    size_t n_dead, cap_dead;
    bool creating;
    bool stop;
    unsigned waiters;  /* callers waiting for a box */
    unsigned running;  /* pooled runs executing */
    double last_start; /* sbx_now() when the latest one started */
    /* The last creation failed: why, how often in a row, when to retry. */
    bool failing;
    sbx_err fail;
    unsigned failures;
    double retry_at;
};

/* ---- the template ------------------------------------------------------ */

/* Remember p (may be NULL) as owned by the pool's template. */
static void *pool_keep(sandbox_pool *p, void *ptr)
{
    if (ptr != NULL)
        p->owned[p->n_owned++] = ptr;
    return ptr;
}

static int pool_dup(sandbox_pool *p, const char *s, const char **out)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    char *c = pool_keep(p, sbx_strdup(s));
    if (c == NULL)
        return SANDBOX_ENOMEM;
    *out = c;
    return 0;
}

/* A NULL-terminated copy of n strings (NULL when n is 0). */
static int pool_dup_list(sandbox_pool *p, const char *const *v, size_t n,
                         const char *const **out)
{
    *out = NULL;
    if (n == 0 || v == NULL)
        return 0;
    const char **c = pool_keep(p, calloc(n + 1, sizeof *c));
    if (c == NULL)
        return SANDBOX_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (pool_dup(p, v[i], &c[i]) < 0)
            return SANDBOX_ENOMEM;
    *out = c;
    return 0;
}

static int pool_dup_mounts(sandbox_pool *p, const sandbox_mount *m, size_t n,
                           const sandbox_mount **out)
{
    *out = NULL;
    if (n == 0 || m == NULL)
        return 0;
    sandbox_mount *c = pool_keep(p, calloc(n, sizeof *c));
    if (c == NULL)
        return SANDBOX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i].writable = m[i].writable;
        if (pool_dup(p, m[i].host, &c[i].host) < 0 ||
            pool_dup(p, m[i].box, &c[i].box) < 0)
            return SANDBOX_ENOMEM;
    }
    *out = c;
    return 0;
}

/* The template without what a box ignores (command, argv, stdin, tees,
 * callback, cancel_fd: they belong to each run's exec options), checked
 * like sandbox_opts_validate. */
static int pool_tmpl_check(const sandbox_opts *in, sandbox_opts *o, sbx_err *e)
{
    int rc = sbx_opts_normalize(in, o, e);
    if (rc < 0)
        return rc;
    o->command = "true"; /* ignored by boxes; validation wants one */
    o->argv = NULL;
    o->argc = 0;
    o->stdin_data = NULL;
    o->stdin_len = 0;
    o->stdin_fd = o->stdout_fd = o->stderr_fd = -1;
    o->on_output = NULL;
    o->on_output_ctx = NULL;
    o->cancel_fd = -1;
    if (o->workspace != NULL)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "a pool's template cannot have a workspace: its "
                        "boxes are made before the run (they would see the "
                        "workspace as it was then) and destroyed after it "
                        "(the changes would land later); use sandbox_run or "
                        "sandbox_box_create for a workspace");
    if ((rc = sbx_validate(o, e)) < 0)
        return rc;
    if (!isfinite(o->box_lifetime_sec) || o->box_lifetime_sec < 0 ||
        !isfinite(o->box_idle_sec) || o->box_idle_sec < 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "box_lifetime_sec and box_idle_sec must be finite and "
                        ">= 0 (0: the defaults)");
    return 0;
}

/* Deep-copy every pointer of the checked template o into p->tmpl. */
static int pool_tmpl_copy(sandbox_pool *p, const sandbox_opts *o, sbx_err *e)
{
    size_t n = 8 + 2 * o->n_mounts + (o->n_env + 1) + (o->n_allow + 1);
    p->owned = calloc(n, sizeof *p->owned);
    if (p->owned == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    p->tmpl = *o;
    sandbox_opts *t = &p->tmpl;
    if (pool_dup(p, o->image, &t->image) < 0 ||
        pool_dup(p, o->runtime, &t->runtime) < 0 ||
        pool_dup(p, o->memory, &t->memory) < 0 ||
        pool_dup(p, o->disk_limit, &t->disk_limit) < 0 ||
        pool_dup_mounts(p, o->mounts, o->n_mounts, &t->mounts) < 0 ||
        pool_dup_list(p, o->env, o->n_env, &t->env) < 0 ||
        pool_dup_list(p, o->allow, o->n_allow, &t->allow) < 0)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    t->command = "true";
    return 0;
}

/* When a ready box born at `born` must no longer be handed out: before its
 * lifetime ends with room for one exec of the template's timeout (at most
 * half the lifetime), and before its idle timeout with a little room. */
static double pool_expiry(const sandbox_pool *p, double born)
{
    double life = p->life_sec;
    double margin = p->tmpl.timeout_sec + 1.0;
    if (margin > life / 2)
        margin = life / 2;
    double at = born + life - margin;
    double idle = p->tmpl.box_idle_sec;
    if (idle > 0) {
        double m = idle / 4 < 1.0 ? idle / 4 : 1.0;
        if (born + idle - m < at)
            at = born + idle - m;
    }
    return at;
}

/* ---- the shared state (p->mu held) ------------------------------------- */

/* Queue b for the thread to destroy; false (b untouched) when out of
 * memory, then the caller destroys it itself. */
static bool pool_retire_locked(sandbox_pool *p, sandbox_box *b)
{
    if (p->n_dead == p->cap_dead) {
        size_t cap = p->cap_dead ? p->cap_dead * 2 : 16;
        sandbox_box **d = realloc(p->dead, cap * sizeof *d);
        if (d == NULL)
            return false;
        p->dead = d;
        p->cap_dead = cap;
    }
    p->dead[p->n_dead++] = b;
    pthread_cond_signal(&p->work_cv);
    return true;
}

/* Remove and return the oldest ready box. */
static sandbox_box *pool_pop_locked(sandbox_pool *p, double *born)
{
    sandbox_box *b = p->ready[0];
    *born = p->born[0];
    p->n_ready--;
    memmove(p->ready, p->ready + 1, p->n_ready * sizeof *p->ready);
    memmove(p->born, p->born + 1, p->n_ready * sizeof *p->born);
    return b;
}

/* Move ready boxes past their expiry to the dead list; the earliest expiry
 * of those left (INFINITY: none). */
static double pool_expire_locked(sandbox_pool *p, double now)
{
    double next = INFINITY;
    unsigned keep = 0;
    for (unsigned i = 0; i < p->n_ready; i++) {
        double at = pool_expiry(p, p->born[i]);
        if (at <= now && pool_retire_locked(p, p->ready[i]))
            continue;
        if (at < next)
            next = at;
        p->ready[keep] = p->ready[i];
        p->born[keep] = p->born[i];
        keep++;
    }
    p->n_ready = keep;
    return next;
}

static void pool_fail_locked(sandbox_pool *p, const sbx_err *e)
{
    double backoff = POOL_BACKOFF_MIN;
    for (unsigned i = 0; i < p->failures && backoff < POOL_BACKOFF_MAX; i++)
        backoff *= 2;
    if (backoff > POOL_BACKOFF_MAX)
        backoff = POOL_BACKOFF_MAX;
    p->failures++;
    p->failing = true;
    p->fail = *e;
    p->retry_at = sbx_now() + backoff;
}

/* ---- the thread ---------------------------------------------------------- */

static void pool_create_one(sandbox_pool *p)
{
    sandbox_box *b = NULL;
    char *msg = NULL;
    p->creating = true;
    pthread_mutex_unlock(&p->mu);
    int rc = sandbox_box_create(&p->tmpl, &b, &msg);
    double now = sbx_now();
    pthread_mutex_lock(&p->mu);
    p->creating = false;
    if (rc == 0) {
        p->ready[p->n_ready] = b;
        p->born[p->n_ready] = now;
        p->n_ready++;
        p->failing = false;
        p->failures = 0;
    } else {
        sbx_err e = {0};
        sbx_fail(&e, rc, "%s", msg != NULL ? msg : sandbox_strerror(rc));
        pool_fail_locked(p, &e);
    }
    pthread_cond_broadcast(&p->ready_cv);
    sandbox_free(msg);
}

static void pool_destroy_one(sandbox_pool *p)
{
    sandbox_box *b = p->dead[--p->n_dead];
    pthread_mutex_unlock(&p->mu);
    sandbox_box_free(b);
    pthread_mutex_lock(&p->mu);
}

/* Sleep on work_cv until `until` (sbx_now() time; INFINITY: no limit). */
static void pool_wait_locked(sandbox_pool *p, double until)
{
    if (isinf(until)) {
        pthread_cond_wait(&p->work_cv, &p->mu);
        return;
    }
    double now = sbx_now();
    if (until <= now)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double d = until - now;
    ts.tv_sec += (time_t)d;
    ts.tv_nsec += (long)((d - (double)(time_t)d) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->work_cv, &p->mu, &ts);
}

static void *pool_main(void *arg)
{
    sandbox_pool *p = arg;
    bool created_last = false;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        double now = sbx_now();
        double next = pool_expire_locked(p, now);
        double quiet_until = p->last_start + POOL_HOLDOFF_SEC;
        bool quiet = p->running > 0 && p->waiters == 0 && now < quiet_until;
        bool short_of = p->n_ready < p->size;
        bool may_create = short_of && (!p->failing || now >= p->retry_at) &&
                          (!quiet || p->n_ready == 0);
        bool may_destroy = p->n_dead > 0 && (!quiet || p->n_dead >= p->size);
        if (may_destroy && (!may_create || created_last)) {
            pool_destroy_one(p);
            created_last = false;
        } else if (may_create) {
            pool_create_one(p);
            created_last = true;
        } else {
            if (short_of && p->failing && p->retry_at < next)
                next = p->retry_at;
            if (quiet && (short_of || p->n_dead > 0) && quiet_until < next)
                next = quiet_until;
            pool_wait_locked(p, next);
        }
    }
    /* Stopping: every box still here goes. */
    while (p->n_ready > 0) {
        double born;
        sandbox_box *b = pool_pop_locked(p, &born);
        if (!pool_retire_locked(p, b)) {
            pthread_mutex_unlock(&p->mu);
            sandbox_box_free(b);
            pthread_mutex_lock(&p->mu);
        }
    }
    while (p->n_dead > 0)
        pool_destroy_one(p);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- the public functions ------------------------------------------------ */

static void pool_release(sandbox_pool *p)
{
    for (size_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    free(p->owned);
    free(p->ready);
    free(p->born);
    free(p->dead);
    pthread_cond_destroy(&p->ready_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    p->magic = 0;
    free(p);
}

static int pool_sync_init(sandbox_pool *p, sbx_err *e)
{
    pthread_condattr_t ca;
    int err = pthread_mutex_init(&p->mu, NULL);
    if (err != 0)
        return sbx_fail_errno(e, SANDBOX_EIO, err, "pthread_mutex_init");
    if ((err = pthread_condattr_init(&ca)) == 0) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if ((err = pthread_cond_init(&p->work_cv, &ca)) == 0 &&
            (err = pthread_cond_init(&p->ready_cv, NULL)) != 0)
            pthread_cond_destroy(&p->work_cv);
        pthread_condattr_destroy(&ca);
    }
    if (err != 0) {
        pthread_mutex_destroy(&p->mu);
        return sbx_fail_errno(e, SANDBOX_EIO, err, "pthread_cond_init");
    }
    return 0;
}

/* The thread, started with every signal blocked (it inherits the mask). */
static int pool_start(sandbox_pool *p, sbx_err *e)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&p->thread, NULL, pool_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0)
        return sbx_fail_errno(e, SANDBOX_EIO, err,
                              "cannot start the pool's thread");
    return 0;
}

static int pool_new(const sandbox_opts *tmpl, unsigned size, sandbox_pool **out,
                    sbx_err *e)
{
    sandbox_opts o;
    int rc;
    if (size == 0 || size > POOL_SIZE_MAX)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "pool size %u is out of range: 1 to %u ready boxes",
                        size, POOL_SIZE_MAX);
    if ((rc = pool_tmpl_check(tmpl, &o, e)) < 0)
        return rc;
    sandbox_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    if ((rc = pool_sync_init(p, e)) < 0) {
        free(p);
        return rc;
    }
    p->magic = SBX_POOL_MAGIC;
    p->size = size;
    p->ready = calloc(size, sizeof *p->ready);
    p->born = calloc(size, sizeof *p->born);
    if (p->ready == NULL || p->born == NULL)
        rc = sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    else
        rc = pool_tmpl_copy(p, &o, e);
    p->life_sec = p->tmpl.box_lifetime_sec > 0 ? p->tmpl.box_lifetime_sec
                                               : SBX_BOX_LIFETIME_DEFAULT;
    if (rc == 0)
        rc = pool_start(p, e);
    if (rc < 0) {
        pool_release(p);
        return rc;
    }
    *out = p;
    return 0;
}

int sandbox_pool_create(const sandbox_opts *tmpl, unsigned size,
                        sandbox_pool **pool, char **msg)
{
    sbx_err e = {0};
    if (msg != NULL)
        *msg = NULL;
    if (pool == NULL) {
        sbx_fail(&e, SANDBOX_EINVAL, "pool (the out-parameter) is NULL");
        sbx_err_out(&e, msg);
        return e.code;
    }
    *pool = NULL;
    int rc = pool_new(tmpl, size, pool, &e);
    if (rc < 0)
        sbx_err_out(&e, msg);
    return rc;
}

static bool pool_valid(const sandbox_pool *p)
{
    return p != NULL && p->magic == SBX_POOL_MAGIC;
}

/* Wait for the oldest ready box (p->mu held); an error when the last
 * creation failed and nothing is ready, or when the pool is stopping. */
static int pool_wait_box_locked(sandbox_pool *p, sandbox_box **b, bool run,
                                sbx_err *e)
{
    for (;;) {
        if (p->stop)
            return sbx_fail(e, SANDBOX_EINVAL,
                            "the pool is being freed: no more boxes");
        pool_expire_locked(p, sbx_now());
        if (p->n_ready > 0) {
            double born;
            *b = pool_pop_locked(p, &born);
            if (run) { /* before the thread looks: it holds off */
                p->running++;
                p->last_start = sbx_now();
            }
            pthread_cond_signal(&p->work_cv);
            return 0;
        }
        if (p->failing && !p->creating)
            return sbx_fail(e, p->fail.code,
                            "the pool has no ready box: creating one failed "
                            "%u time(s) in a row, retrying in the background: "
                            "%s",
                            p->failures, p->fail.msg);
        pthread_cond_signal(&p->work_cv);
        p->waiters++;
        pthread_cond_wait(&p->ready_cv, &p->mu);
        p->waiters--;
    }
}

/* A pooled run (run) or a take is over with box `used` (NULL: none left
 * to retire): the thread may go on. */
static void pool_done(sandbox_pool *p, sandbox_box *used, bool run)
{
    pthread_mutex_lock(&p->mu);
    if (run)
        p->running--;
    bool queued = used == NULL || pool_retire_locked(p, used);
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    if (!queued)
        sandbox_box_free(used);
}

/* A live box for the caller (counted as a running pooled run when run):
 * boxes that died while they waited are discarded (destroyed by the
 * thread). */
static int pool_get(sandbox_pool *p, sandbox_box **out, bool run, sbx_err *e)
{
    for (;;) {
        sandbox_box *b = NULL;
        pthread_mutex_lock(&p->mu);
        int rc = pool_wait_box_locked(p, &b, run, e);
        pthread_mutex_unlock(&p->mu);
        if (rc < 0)
            return rc;
        if (sandbox_box_alive(b, NULL) == 1) {
            *out = b;
            return 0;
        }
        pool_done(p, b, run);
    }
}

int sandbox_pool_take(sandbox_pool *pool, sandbox_box **box, char **msg)
{
    sbx_err e = {0};
    int rc;
    if (msg != NULL)
        *msg = NULL;
    if (box == NULL)
        rc = sbx_fail(&e, SANDBOX_EINVAL, "box (the out-parameter) is NULL");
    else if ((*box = NULL), !pool_valid(pool))
        rc = sbx_fail(&e, SANDBOX_EINVAL,
                      "not a pool: pass the handle sandbox_pool_create "
                      "returned, before sandbox_pool_free");
    else
        rc = pool_get(pool, box, false, &e);
    if (rc < 0)
        sbx_err_out(&e, msg);
    return rc;
}

/* network = ALLOWLIST: destroy b here and give res the run's net record. */
static void pool_destroy_into(sandbox_box *b, sandbox_result *res)
{
    sandbox_result d;
    sandbox_result_init(&d, sizeof d);
    sandbox_box_destroy(b, &d);
    sandbox_box_free(b);
    if (SBX_HAS(res, net_log)) {
        res->net_attempts = d.net_attempts;
        free(res->net_log);
        res->net_log = d.net_log;
        d.net_log = NULL;
    }
    if (SBX_HAS(res, disk_bytes)) {
        res->disk_limit_hit = d.disk_limit_hit;
        res->disk_bytes = d.disk_bytes;
    }
    if (SBX_HAS(res, image_id) && res->image_id == NULL) {
        res->image_id = d.image_id;
        d.image_id = NULL;
    }
    if (d.peak_memory_bytes > res->peak_memory_bytes)
        res->peak_memory_bytes = d.peak_memory_bytes;
    if (d.cpu_sec > res->cpu_sec)
        res->cpu_sec = d.cpu_sec;
    sandbox_result_free(&d);
}

int sandbox_pool_run(sandbox_pool *pool, const sandbox_exec_opts *x,
                     sandbox_result *res)
{
    sbx_err e = {0};
    sandbox_box *b = NULL;
    if (res == NULL)
        return SANDBOX_EINVAL;
    if (res->struct_size < SBX_RESULT_MIN_SIZE)
        return SANDBOX_EABI;
    sandbox_result_free(res);
    if (!pool_valid(pool))
        return sbx_fail_result(
            res, &(sbx_err){.code = SANDBOX_EINVAL,
                            .msg = "not a pool: pass the handle "
                                   "sandbox_pool_create returned, before "
                                   "sandbox_pool_free"});
    if (pool_get(pool, &b, true, &e) < 0)
        return sbx_fail_result(res, &e);
    int rc = sandbox_box_exec(b, x, res);
    if ((res->out.data == NULL && (res->out.data = calloc(1, 1)) == NULL) ||
        (res->err.data == NULL && (res->err.data = calloc(1, 1)) == NULL))
        rc = sbx_fail_result(
            res, &(sbx_err){.code = SANDBOX_ENOMEM, .msg = "out of memory"});
    if (res->container_name == NULL)
        res->container_name = sbx_strdup(sandbox_box_name(b));
    if (pool->tmpl.network == SANDBOX_NETWORK_ALLOWLIST) {
        pool_destroy_into(b, res);
        b = NULL;
    }
    pool_done(pool, b, true);
    return rc;
}

void sandbox_pool_free(sandbox_pool *pool)
{
    if (!pool_valid(pool))
        return;
    pthread_mutex_lock(&pool->mu);
    pool->stop = true;
    pthread_cond_signal(&pool->work_cv);
    pthread_cond_broadcast(&pool->ready_cv);
    pthread_mutex_unlock(&pool->mu);
    pthread_join(pool->thread, NULL);
    pool_release(pool);
}
