/* SPDX-License-Identifier: MIT */
/* Helpers shared by the benchmark programs: a monotonic clock, medians,
 * and timing a command with its output discarded. */
#ifndef LIBSANDBOX_PERF_UTIL_H
#define LIBSANDBOX_PERF_UTIL_H

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static inline double perf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int perf_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static inline double perf_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, perf_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Run argv (PATH searched) with stdout/stderr to /dev/null; wall seconds,
 * or -1 when it could not run or did not exit 0. */
static inline double perf_time_argv(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 01, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 01, 0);
    pid_t pid;
    double t0 = perf_now();
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    double t = perf_now() - t0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : -1;
}

#endif
