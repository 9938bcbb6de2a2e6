/* SPDX-License-Identifier: MIT */
/* Container boxes against the one-shot run, on podman and docker:
 *
 *   sandbox-container-box-bench [-n N] [-i IMAGE] [RUNTIME...]
 *
 * For each runtime (default: podman docker), N times (default 11): a
 * one-shot sandbox_run of /bin/true (argv mode), then sandbox_box_create,
 * sandbox_box_exec of /bin/true, the engine's own `exec NAME /bin/true`
 * in the same box (for reference), sandbox_box_destroy; prints the
 * medians (ms) side by side, and create+exec+destroy as one figure. */
#include "perf_util.h"
#include "sandbox.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_N 101

static int one(const char *rt, const char *image, double *run, double *create,
               double *exec, double *engine_exec, double *destroy)
{
    static const char *const words[] = {"/bin/true"};
    sandbox_opts o;
    sandbox_result r;
    sandbox_opts_init(&o, sizeof o);
    o.runtime = rt;
    o.image = image;
    o.argv = words;
    o.argc = 1;
    sandbox_result_init(&r, sizeof r);
    double t0 = perf_now();
    int rc = sandbox_run(&o, &r);
    *run = perf_now() - t0;
    if (rc != 0 || r.exit_code != 0) {
        fprintf(stderr, "%s run: %s\n", rt, r.message ? r.message : "?");
        sandbox_result_free(&r);
        return -1;
    }
    sandbox_result_free(&r);

    o.argv = NULL;
    o.argc = 0;
    sandbox_box *b = NULL;
    char *msg = NULL;
    t0 = perf_now();
    rc = sandbox_box_create(&o, &b, &msg);
    *create = perf_now() - t0;
    if (rc != 0) {
        fprintf(stderr, "%s create: %s\n", rt, msg ? msg : "?");
        sandbox_free(msg);
        return -1;
    }
    sandbox_exec_opts x;
    sandbox_exec_opts_init(&x, sizeof x);
    x.argv = words;
    x.argc = 1;
    t0 = perf_now();
    rc = sandbox_box_exec(b, &x, &r);
    *exec = perf_now() - t0;
    if (rc != 0 || r.exit_code != 0)
        fprintf(stderr, "%s exec: %s\n", rt, r.message ? r.message : "?");
    sandbox_result_free(&r);
    /* For reference: the engine's own exec of the same in the same box. */
    char *eargv[] = {(char *)rt, "exec", (char *)sandbox_box_name(b),
                     "/bin/true", NULL};
    *engine_exec = perf_time_argv(eargv);
    t0 = perf_now();
    int drc = sandbox_box_destroy(b, NULL);
    *destroy = perf_now() - t0;
    sandbox_box_free(b);
    return rc == 0 && drc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int n = 11, opt;
    const char *image = "busybox";
    while ((opt = getopt(argc, argv, "n:i:")) != -1) {
        if (opt == 'n')
            n = atoi(optarg);
        else if (opt == 'i')
            image = optarg;
        else
            return 2;
    }
    if (n < 1 || n > MAX_N)
        return 2;
    const char *defaults[] = {"podman", "docker"};
    const char **rts = optind < argc ? (const char **)argv + optind : defaults;
    int n_rts = optind < argc ? argc - optind : 2;
    printf("medians of %d, ms, image %s\n", n, image);
    printf("%-8s %10s %10s %10s %12s %10s %12s\n", "runtime", "run", "create",
           "exec", "engine-exec", "destroy", "c+e+d");
    for (int k = 0; k < n_rts; k++) {
        double run[MAX_N], cr[MAX_N], ex[MAX_N], ee[MAX_N], de[MAX_N],
            sum[MAX_N];
        for (int i = 0; i < n; i++) {
            if (one(rts[k], image, &run[i], &cr[i], &ex[i], &ee[i], &de[i]) < 0)
                return 1;
            sum[i] = cr[i] + ex[i] + de[i];
        }
        printf("%-8s %10.1f %10.1f %10.2f %12.1f %10.1f %12.1f\n", rts[k],
               1e3 * perf_median(run, n), 1e3 * perf_median(cr, n),
               1e3 * perf_median(ex, n), 1e3 * perf_median(ee, n),
               1e3 * perf_median(de, n), 1e3 * perf_median(sum, n));
    }
    return 0;
}
