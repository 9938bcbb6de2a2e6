/* SPDX-License-Identifier: MIT */
/* sandbox-overhead: what libsandbox costs on top of the runtime it drives.
 *
 *   sandbox-overhead [-n RUNS] [-r podman|docker] [-i IMAGE] [-c CLI]
 *
 * 1. Median wall time of `sandbox -- true` (the CLI, default
 *    ./build/cli/sandbox) against the raw `<rt> run ...` argv the library
 *    builds, interleaved run by run so drift hits both alike; also
 *    sandbox_run() called in-process.  Prints medians and ratios.
 * 2. The caller's peak RSS while a command prints 1 GiB through
 *    sandbox_run(): it must stay flat (the cap is kept, the rest counted). */
#include "perf_util.h"

#include <sandbox.h>

#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Run argv with output to /dev/null; return wall seconds or -1. */

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    int runs = 15, opt;
    const char *rt = "podman", *image = "busybox:latest";
    const char *cli = "./build/cli/sandbox";
    while ((opt = getopt(argc, argv, "n:r:i:c:")) != -1) {
        switch (opt) {
        case 'n': runs = atoi(optarg); break;
        case 'r': rt = optarg; break;
        case 'i': image = optarg; break;
        case 'c': cli = optarg; break;
        default:
            fprintf(stderr,
                    "usage: %s [-n RUNS] [-r RUNTIME] [-i IMAGE] "
                    "[-c CLI]\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 1000)
        runs = 15;
    double *raw = calloc((size_t)runs, sizeof *raw);
    double *viacli = calloc((size_t)runs, sizeof *viacli);
    double *lib = calloc((size_t)runs, sizeof *lib);
    if (!raw || !viacli || !lib)
        return 1;

    /* The raw command: exactly the flags the library passes (contract). */
    char *raw_argv[] = {(char *)rt,
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
    char *cli_argv[] = {(char *)cli, "--runtime",   (char *)rt,
                        "--image",   (char *)image, "--no-workspace",
                        "--",        "true",        NULL};

    sandbox_opts o;
    sandbox_result r;
    sandbox_opts_init(&o, sizeof o);
    sandbox_result_init(&r, sizeof r);
    o.command = "true";
    o.image = image;
    o.runtime = rt;

    /* One warm-up of each (image cache, runtime state). */
    perf_time_argv(raw_argv);
    perf_time_argv(cli_argv);
    for (int i = 0; i < runs; i++) {
        /* Rotate the order: a run can slow the next one (the runtime's
         * clean-up of the previous container still holds its locks). */
        for (int k = 0; k < 3; k++) {
            switch ((i + k) % 3) {
            case 0: raw[i] = perf_time_argv(raw_argv); break;
            case 1: viacli[i] = perf_time_argv(cli_argv); break;
            default: {
                double t0 = perf_now();
                int rc = sandbox_run(&o, &r);
                lib[i] = rc == 0 && r.exit_code == 0 ? perf_now() - t0 : -1;
                sandbox_result_free(&r);
            }
            }
        }
        if (raw[i] < 0 || viacli[i] < 0 || lib[i] < 0) {
            fprintf(stderr, "run %d failed (raw %.3f cli %.3f lib %.3f)\n", i,
                    raw[i], viacli[i], lib[i]);
            return 1;
        }
    }
    double mraw = perf_median(raw, runs), mcli = perf_median(viacli, runs),
           mlib = perf_median(lib, runs);
    printf("runtime %s, image %s, %d interleaved runs of `true`\n", rt, image,
           runs);
    printf("  raw `%s run ...`        median %7.1f ms\n", rt, mraw * 1e3);
    printf("  `sandbox -- true` (CLI)   median %7.1f ms  ratio %.3f\n",
           mcli * 1e3, mcli / mraw);
    printf("  sandbox_run() in-process  median %7.1f ms  ratio %.3f\n",
           mlib * 1e3, mlib / mraw);

    /* Throughput reference: the raw command printing 1 GiB to /dev/null. */
    char *raw_flood[sizeof raw_argv / sizeof *raw_argv];
    memcpy(raw_flood, raw_argv, sizeof raw_argv);
    raw_flood[13] = "head -c 1073741824 /dev/zero";
    double traw = perf_time_argv(raw_flood);
    printf("1 GiB of output, raw `%s run ...` > /dev/null: %.1f s\n", rt, traw);

    /* Peak RSS while the box prints 1 GiB. */
    long before = max_rss_kib();
    o.command = "head -c 1073741824 /dev/zero";
    o.timeout_sec = 300;
    double t0 = perf_now();
    int rc = sandbox_run(&o, &r);
    double t = perf_now() - t0;
    long after = max_rss_kib();
    printf("1 GiB of output through sandbox_run(): rc %d, reason %s, captured "
           "%zu of %llu bytes "
           "in %.1f s (%.0f MiB/s)\n",
           rc, sandbox_end_name(r.reason), r.out.len,
           (unsigned long long)r.out.total, t,
           (double)r.out.total / t / (1 << 20));
    printf("  caller peak RSS: %ld KiB before, %ld KiB after (+%ld KiB; "
           "naive buffering would need +1048576 KiB)\n",
           before, after, after - before);
    sandbox_result_free(&r);
    free(raw);
    free(viacli);
    free(lib);
    return 0;
}
