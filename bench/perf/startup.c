/* SPDX-License-Identifier: MIT */
/* sandbox-startup: the cost of one isolated `true`, side by side.
 *
 *   sandbox-startup [-n RUNS] [-i IMAGE]
 *
 * Interleaves, run by run: sandbox_run() on the native backend, the
 * `sandbox --runtime native` CLI, bubblewrap (--unshare-all on the same
 * root filesystem the native backend uses), raw `podman run` and raw
 * `docker run` with the contract's flags, and plain /bin/true.  Prints the
 * median of each and its ratio to the native backend.  Engines that are
 * missing are skipped. */
#include "perf_util.h"

#include <sandbox.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { NATIVE_LIB, NATIVE_CLI, BWRAP, PODMAN, DOCKER, TRUE_, N_WAYS };
static const char *const way_name[N_WAYS] = {
    "native sandbox_run()", "native `sandbox` CLI", "bubblewrap",
    "podman run",           "docker run",           "/bin/true"};

int main(int argc, char **argv)
{
    int runs = 30, opt;
    const char *image = "busybox:latest";
    const char *cli = "./build/cli/sandbox";
    while ((opt = getopt(argc, argv, "n:i:c:")) != -1) {
        if (opt == 'n')
            runs = atoi(optarg);
        else if (opt == 'i')
            image = optarg;
        else if (opt == 'c')
            cli = optarg;
        else
            return 2;
    }
    if (runs < 1 || runs > 10000)
        runs = 30;

    /* One native run first: it fills the rootfs cache, and tells us the
     * root bubblewrap should use, so both start from the same tree. */
    sandbox_opts o;
    sandbox_result r;
    sandbox_opts_init(&o, sizeof o);
    sandbox_result_init(&r, sizeof r);
    o.command = "true";
    o.image = image;
    o.runtime = "native";
    if (sandbox_run(&o, &r) != 0 || r.exit_code != 0) {
        fprintf(stderr, "native run failed: %s\n", r.message);
        return 1;
    }
    sandbox_result_free(&r);
    char root[4096] = "";
    o.command = "true";
    /* The cache layout is documented: ask the shell where busybox lives. */
    FILE *p = popen("d=/var/cache/libsandbox/rootfs; "
                    "id=$(head -n1 \"$d\"/refs/*@busybox_latest 2>/dev/null);"
                    " echo \"$d/$id\"",
                    "r");
    if (p != NULL) {
        if (fgets(root, sizeof root, p) == NULL)
            root[0] = '\0';
        root[strcspn(root, "\n")] = '\0';
        pclose(p);
    }

    char *bwrap[] = {"bwrap",
                     "--unshare-all",
                     "--die-with-parent",
                     "--ro-bind",
                     root,
                     "/",
                     "--proc",
                     "/proc",
                     "--dev",
                     "/dev",
                     "--tmpfs",
                     "/tmp",
                     "--cap-drop",
                     "ALL",
                     "--new-session",
                     "sh",
                     "-c",
                     "true",
                     NULL};
    char *podman[] = {"podman",
                      "run",
                      "--rm",
                      "--pull=missing",
                      "--network=none",
                      "--memory=2g",
                      "--pids-limit=512",
                      "--cpus=2",
                      "--cap-drop=ALL",
                      "--security-opt=no-new-privileges",
                      (char *)image,
                      "sh",
                      "-c",
                      "true",
                      NULL};
    char *docker[sizeof podman / sizeof *podman];
    memcpy(docker, podman, sizeof podman);
    docker[0] = "docker";
    char *ncli[] = {(char *)cli, "--runtime",   "native",
                    "--image",   (char *)image, "--no-workspace",
                    "--",        "true",        NULL};
    char *tru[] = {"/bin/true", NULL};
    char *const *argvs[N_WAYS] = {NULL, ncli, bwrap, podman, docker, tru};

    double *t[N_WAYS];
    int ok[N_WAYS];
    for (int w = 0; w < N_WAYS; w++) {
        t[w] = calloc((size_t)runs, sizeof(double));
        /* Probe each way once; skip the ones that do not work here. */
        ok[w] = w == NATIVE_LIB || perf_time_argv(argvs[w]) >= 0;
        if (!ok[w])
            fprintf(stderr, "skipping %s: it does not run here\n", way_name[w]);
    }
    /* Two phases: the fast ways interleaved with each other, then the
     * container engines (30x slower, fewer runs).  Mixing them would let
     * the engines' background clean-up (conmon, dockerd) that goes on
     * after `run` returns land on the fast measurements. */
    int slow_runs = runs < 15 ? runs : 15;
    for (int phase = 0; phase < 2; phase++)
        for (int i = 0; i < (phase ? slow_runs : runs); i++) {
            for (int k = 0; k < N_WAYS; k++) {
                int w = (i + k) % N_WAYS;
                bool slow = w == PODMAN || w == DOCKER;
                if (!ok[w] || slow != (phase == 1))
                    continue;
                if (w == NATIVE_LIB) {
                    double t0 = perf_now();
                    int rc = sandbox_run(&o, &r);
                    t[w][i] =
                        rc == 0 && r.exit_code == 0 ? perf_now() - t0 : -1;
                    sandbox_result_free(&r);
                } else {
                    t[w][i] = perf_time_argv(argvs[w]);
                }
                if (t[w][i] < 0) {
                    fprintf(stderr, "%s failed on run %d\n", way_name[w], i);
                    return 1;
                }
            }
        }
    double med[N_WAYS];
    for (int w = 0; w < N_WAYS; w++) {
        int n = (w == PODMAN || w == DOCKER) ? slow_runs : runs;
        med[w] = perf_median(t[w], n);
    }
    printf("startup of an isolated `true` (image %s; %d runs, %d for "
           "podman/docker; medians)\n",
           image, runs, slow_runs);
    printf("  %-24s %10s %16s\n", "way", "median ms", "x native lib");
    for (int w = 0; w < N_WAYS; w++) {
        if (!ok[w])
            continue;
        printf("  %-24s %10.2f %16.2f\n", way_name[w], med[w] * 1e3,
               med[w] / med[NATIVE_LIB]);
    }
    for (int w = 0; w < N_WAYS; w++)
        free(t[w]);
    return 0;
}
