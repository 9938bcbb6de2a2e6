/* SPDX-License-Identifier: MIT */
/* Evaluate every script in a directory inside the sandbox and print a
 * table: name, reason, exit code, wall time, output size.
 *
 *   cc eval_dir.c $(pkg-config --cflags --libs libsandbox) -o eval_dir
 *   ./eval_dir DIR [IMAGE]
 *
 * Each script is mounted read-only at /scripts/<name> and run with
 * `sh /scripts/<name>`, with no network, the default limits and a 10 s
 * timeout.  Exit status: 0 if every script exited 0, 1 otherwise. */
#include <sandbox.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [IMAGE]\n", argv[0]);
        return 2;
    }
    char dir[PATH_MAX];
    if (realpath(argv[1], dir) == NULL) {
        perror(argv[1]);
        return 2;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return 2;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256)
        if (de->d_name[0] != '.')
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);

    sandbox_mount m = {.host = dir, .box = "/scripts", .writable = 0};
    int all_ok = 1;
    printf("%-24s %-9s %5s %9s %9s\n", "script", "reason", "exit", "wall(s)",
           "stdout(B)");
    for (size_t i = 0; i < n; i++) {
        sandbox_opts o;
        sandbox_result r;
        char cmd[512];
        sandbox_opts_init(&o, sizeof o);
        sandbox_result_init(&r, sizeof r);
        snprintf(cmd, sizeof cmd, "sh /scripts/%s", names[i]);
        o.command = cmd;
        o.mounts = &m;
        o.n_mounts = 1;
        o.timeout_sec = 10;
        if (argc > 2)
            o.image = argv[2];
        int rc = sandbox_run(&o, &r);
        printf("%-24s %-9s %5d %9.2f %9llu%s\n", names[i],
               sandbox_end_name(r.reason), r.exit_code, r.wall_sec,
               (unsigned long long)r.out.total, r.out.truncated ? "+" : "");
        if (rc < 0)
            printf("  %s\n", r.message);
        all_ok &= rc == 0 && r.reason == SANDBOX_END_EXITED && r.exit_code == 0;
        sandbox_result_free(&r);
        free(names[i]);
    }
    return all_ok ? 0 : 1;
}
