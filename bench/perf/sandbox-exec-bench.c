/* SPDX-License-Identifier: MIT */
/* sandbox-exec-bench: what a command costs in a box, side by side.
 *
 *   sandbox-exec-bench [-n N] [-r RUNTIMES] [-i IMAGE]
 *
 * One run prints the medians (and their ratio to /bin/true on the host)
 * of: /bin/true by posix_spawn on the host; /bin/true exec'd in a live
 * native box (sandbox_box_exec); a pooled one-shot native run
 * (sandbox_pool_run); an unpooled native sandbox_run; bubblewrap
 * (`bwrap --unshare-all --die-with-parent --ro-bind / / /bin/true`); and
 * for podman and docker, exec in a live box against sandbox_run.  The
 * issue's goals are printed next to the numbers.
 *
 *   -n N          iterations of the fast ways (default 50); the container
 *                 ways run min(N, 15) times
 *   -r RUNTIMES   comma-separated subset of native,podman,docker (default
 *                 all three); a runtime whose box cannot be created is
 *                 skipped with a note
 *   -i IMAGE      image (default busybox:latest)
 *   -p MS         pause after each pooled run (default 30, see below)
 *
 * The fast ways are interleaved run by run, then the container ways (their
 * engines' background clean-up would land on the fast figures).  After
 * each pooled run the program pauses (-p) so the pool's thread
 * refills (and destroys the used box) before anything else is timed: the
 * figure is what a caller that does something between runs sees; a caller
 * issuing pooled runs back to back faster than boxes can be made is
 * limited by creation, i.e. by the unpooled figure. */
#include "perf_util.h"

#include <sandbox.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_PAUSE_MS 30 /* default of -p */
#define SLOW_RUNS_MAX 15

enum {
    W_TRUE,
    W_NATIVE_EXEC,
    W_NATIVE_POOL,
    W_NATIVE_RUN,
    W_BWRAP,
    W_PODMAN_EXEC,
    W_PODMAN_RUN,
    W_DOCKER_EXEC,
    W_DOCKER_RUN,
    N_WAYS
};

static const char *const way_name[N_WAYS] = {
    "/bin/true on the host (posix_spawn)",
    "native: exec in a live box",
    "native: pooled run (sandbox_pool_run)",
    "native: sandbox_run",
    "bubblewrap --unshare-all",
    "podman: exec in a live box",
    "podman: sandbox_run",
    "docker: exec in a live box",
    "docker: sandbox_run",
};

static const char *const way_runtime[N_WAYS] = {NULL,     "native", "native",
                                                "native", NULL,     "podman",
                                                "podman", "docker", "docker"};

typedef struct bench {
    const char *image;
    sandbox_box *box[N_WAYS]; /* the live box of each exec way */
    sandbox_pool *pool;
    bool on[N_WAYS];
    char note[N_WAYS][512];
    double *t[N_WAYS];
    int n[N_WAYS];      /* timings taken */
    int failed[N_WAYS]; /* runs that did not end in exit 0 */
    int pause_ms;       /* after each pooled run */
} bench;

static const char *const true_argv[] = {"/bin/true"};

static void opts_for(sandbox_opts *o, const char *runtime, const char *image)
{
    sandbox_opts_init(o, sizeof *o);
    o->image = image;
    o->runtime = runtime;
    o->argv = true_argv;
    o->argc = 1;
}

static void exec_for(sandbox_exec_opts *x)
{
    sandbox_exec_opts_init(x, sizeof *x);
    x->argv = true_argv;
    x->argc = 1;
}

static bool result_ok(int rc, const sandbox_result *r, char *why, size_t n)
{
    if (rc == 0 && r->reason == SANDBOX_END_EXITED && r->exit_code == 0)
        return true;
    snprintf(why, n, "rc %d (%s), %s, exit %d: %s", rc, sandbox_strerror(rc),
             sandbox_end_name(r->reason), r->exit_code,
             r->message ? r->message : "no message");
    return false;
}

/* One timing of way w; < 0 (and a note) when it failed. */
static double time_way(bench *b, int w)
{
    sandbox_result r;
    sandbox_exec_opts x;
    sandbox_opts o;
    int rc;
    double t0, t;
    char *const bwrap[] = {"bwrap",
                           "--unshare-all",
                           "--die-with-parent",
                           "--ro-bind",
                           "/",
                           "/",
                           "/bin/true",
                           NULL};
    char *const tru[] = {"/bin/true", NULL};

    switch (w) {
    case W_TRUE: return perf_time_argv(tru);
    case W_BWRAP: return perf_time_argv(bwrap);
    default: break;
    }
    sandbox_result_init(&r, sizeof r);
    exec_for(&x);
    opts_for(&o, way_runtime[w], b->image);
    t0 = perf_now();
    if (w == W_NATIVE_POOL)
        rc = sandbox_pool_run(b->pool, &x, &r);
    else if (b->box[w] != NULL)
        rc = sandbox_box_exec(b->box[w], &x, &r);
    else
        rc = sandbox_run(&o, &r);
    t = perf_now() - t0;
    if (!result_ok(rc, &r, b->note[w], sizeof b->note[w]))
        t = -1;
    sandbox_result_free(&r);
    if (w == W_NATIVE_POOL)
        usleep((useconds_t)b->pause_ms * 1000);
    return t;
}

static bool wanted(const char *runtimes, const char *rt)
{
    size_t n = strlen(rt);
    for (const char *p = runtimes; p != NULL && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, rt, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* Is `name` an executable on PATH? */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];
    if (path == NULL)
        path = "/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, name);
        if (len > 0 && access(buf, X_OK) == 0)
            return true;
        p += len + (p[len] == ':');
    }
    return false;
}

/* The live box of exec way w; when it cannot be made, w (and for an engine
 * its run way) is skipped with the reason. */
static void setup_box(bench *b, int w)
{
    sandbox_opts o;
    char *msg = NULL;
    opts_for(&o, way_runtime[w], b->image);
    if (sandbox_box_create(&o, &b->box[w], &msg) == 0)
        return;
    b->box[w] = NULL;
    b->on[w] = false;
    snprintf(b->note[w], sizeof b->note[w], "box creation failed: %s",
             msg ? msg : "?");
    if (w != W_NATIVE_EXEC) {
        b->on[w + 1] = false;
        snprintf(b->note[w + 1], sizeof b->note[w + 1],
                 "%s box creation failed (see above)", way_runtime[w]);
    }
    sandbox_free(msg);
}

static void setup(bench *b, const char *runtimes)
{
    for (int w = 0; w < N_WAYS; w++)
        b->on[w] = way_runtime[w] == NULL || wanted(runtimes, way_runtime[w]);
    if (!on_path("bwrap")) {
        b->on[W_BWRAP] = false;
        snprintf(b->note[W_BWRAP], sizeof b->note[W_BWRAP],
                 "bwrap is not installed (Debian: apt install bubblewrap)");
    }
    /* The engines' boxes are made when their phase starts (measure). */
    if (b->on[W_NATIVE_EXEC])
        setup_box(b, W_NATIVE_EXEC);
    if (b->on[W_NATIVE_POOL]) {
        sandbox_opts o;
        char *msg = NULL;
        opts_for(&o, "native", b->image);
        if (sandbox_pool_create(&o, 2, &b->pool, &msg) != 0) {
            b->on[W_NATIVE_POOL] = false;
            snprintf(b->note[W_NATIVE_POOL], sizeof b->note[W_NATIVE_POOL],
                     "pool creation failed: %s", msg ? msg : "?");
            sandbox_free(msg);
        }
    }
}

static bool is_slow(int w)
{
    return w >= W_PODMAN_EXEC;
}

/* Probe each way of a phase once; a way that fails is switched off. */
static void probe(bench *b, bool slow)
{
    for (int w = 0; w < N_WAYS; w++)
        if (b->on[w] && is_slow(w) == slow && time_way(b, w) < 0) {
            b->on[w] = false;
            if (b->note[w][0] == '\0')
                snprintf(b->note[w], sizeof b->note[w], "does not run here");
        }
}

/* The fast ways interleaved run by run, then the engines' ways (their
 * live boxes exist only during their phase, so the engines' own
 * background work does not land on the fast figures). */
static void measure(bench *b, int runs)
{
    for (int w = 0; w < N_WAYS; w++)
        b->t[w] = calloc((size_t)runs, sizeof(double));
    int slow_runs = runs < SLOW_RUNS_MAX ? runs : SLOW_RUNS_MAX;
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 1) {
            if (b->on[W_PODMAN_EXEC])
                setup_box(b, W_PODMAN_EXEC);
            if (b->on[W_DOCKER_EXEC])
                setup_box(b, W_DOCKER_EXEC);
        }
        probe(b, phase == 1);
        for (int i = 0; i < (phase ? slow_runs : runs); i++)
            for (int k = 0; k < N_WAYS; k++) {
                int w = (i + k) % N_WAYS;
                if (!b->on[w] || is_slow(w) != (phase == 1))
                    continue;
                double t = time_way(b, w);
                if (t < 0) {
                    /* Counted and left out; a way failing half its runs
                     * is dropped. */
                    fprintf(stderr, "%s failed on run %d: %s\n", way_name[w], i,
                            b->note[w]);
                    if (++b->failed[w] * 2 > (phase ? slow_runs : runs))
                        b->on[w] = false;
                    continue;
                }
                b->t[w][b->n[w]++] = t;
            }
    }
}

static void goal(char *buf, size_t n, double v, double limit, const char *what)
{
    snprintf(buf, n, "goal <= %s: %s", what, v <= limit ? "met" : "MISSED");
}

static void report(bench *b, int runs)
{
    double med[N_WAYS] = {0};
    for (int w = 0; w < N_WAYS; w++)
        if (b->on[w] && b->n[w] > 0)
            med[w] = perf_median(b->t[w], b->n[w]);
    printf("sandbox-exec-bench: /bin/true, image %s; medians of %d runs "
           "(podman/docker: %d)\n",
           b->image, runs, runs < SLOW_RUNS_MAX ? runs : SLOW_RUNS_MAX);
    printf("  %-40s %10s %12s  %s\n", "way", "median ms", "x /bin/true",
           "goal");
    for (int w = 0; w < N_WAYS; w++) {
        if (!b->on[w] || b->n[w] == 0) {
            printf("  %-40s %10s %12s  skipped: %s\n", way_name[w], "-", "-",
                   b->note[w][0] ? b->note[w] : "not selected (-r)");
            continue;
        }
        char g[192] = "";
        double x = med[W_TRUE] > 0 ? med[w] / med[W_TRUE] : 0;
        if (w == W_NATIVE_EXEC || w == W_NATIVE_POOL)
            goal(g, sizeof g, x, 2.0, "2x /bin/true");
        if ((w == W_PODMAN_EXEC || w == W_DOCKER_EXEC) && b->on[w + 1] &&
            med[w + 1] > 0) {
            double rel = med[w] / med[w + 1];
            char tmp[96];
            goal(tmp, sizeof tmp, rel, 0.5, "0.5x its run");
            snprintf(g, sizeof g, "%s (%.2fx)", tmp, rel);
        }
        if (b->failed[w] > 0) {
            size_t l = strlen(g);
            snprintf(g + l, sizeof g - l, "%s[%d failed runs left out]",
                     l ? " " : "", b->failed[w]);
        }
        printf("  %-40s %10.2f %12.2f  %s\n", way_name[w], med[w] * 1e3, x, g);
    }
}

static void teardown(bench *b)
{
    for (int w = 0; w < N_WAYS; w++) {
        if (b->box[w] != NULL)
            sandbox_box_free(b->box[w]);
        free(b->t[w]);
    }
    sandbox_pool_free(b->pool);
}

int main(int argc, char **argv)
{
    int runs = 50, opt;
    const char *runtimes = "native,podman,docker";
    bench b;
    memset(&b, 0, sizeof b);
    b.image = "busybox:latest";
    b.pause_ms = POOL_PAUSE_MS;
    while ((opt = getopt(argc, argv, "n:r:i:p:h")) != -1) {
        if (opt == 'n')
            runs = atoi(optarg);
        else if (opt == 'r')
            runtimes = optarg;
        else if (opt == 'i')
            b.image = optarg;
        else if (opt == 'p')
            b.pause_ms = atoi(optarg);
        else {
            fprintf(stderr,
                    "usage: %s [-n N] [-r native,podman,docker] [-i IMAGE] [-p "
                    "MS]\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 100000) {
        fprintf(stderr, "-n: 1 to 100000 iterations\n");
        return 2;
    }
    setup(&b, runtimes);
    measure(&b, runs);
    report(&b, runs);
    teardown(&b);
    return 0;
}
