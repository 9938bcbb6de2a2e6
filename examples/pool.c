/* SPDX-License-Identifier: MIT */
/* A warm pool: each command line argument runs in a fresh box taken from a
 * pool of ready ones, four at a time from four threads.
 *
 *   cc -std=c11 -D_GNU_SOURCE pool.c $(pkg-config --cflags --libs libsandbox) \
 *      -lpthread -o pool
 *   ./pool 'echo one' 'echo two' 'uname -a' 'ls /'                      */
#include <sandbox.h>

#include <pthread.h>
#include <stdio.h>

typedef struct job {
    sandbox_pool *pool;
    const char *command;
    int code;
} job;

static void *run_one(void *arg)
{
    job *j = arg;
    sandbox_exec_opts x;
    sandbox_result res;
    sandbox_exec_opts_init(&x, sizeof x);
    sandbox_result_init(&res, sizeof res);
    x.command = j->command;
    /* A ready box runs it and is destroyed in the background. */
    if (sandbox_pool_run(j->pool, &x, &res) < 0) {
        fprintf(stderr, "pool: %s: %s\n", j->command, res.message);
        j->code = 125;
    } else {
        printf("[%s] exit=%d in %.2f ms\n%s", j->command, res.exit_code,
               res.wall_sec * 1e3, res.out.data);
        j->code = res.exit_code;
    }
    sandbox_result_free(&res);
    return NULL;
}

int main(int argc, char **argv)
{
    sandbox_opts tmpl;
    sandbox_pool *pool;
    char *msg = NULL;

    sandbox_opts_init(&tmpl, sizeof tmpl);
    tmpl.image = "busybox:latest";
    if (sandbox_pool_create(&tmpl, 2, &pool, &msg) < 0) {
        fprintf(stderr, "pool: %s\n", msg);
        sandbox_free(msg);
        return 125;
    }
    int worst = 0;
    for (int i = 1; i < argc; i += 4) {
        job jobs[4];
        pthread_t t[4];
        int n = 0;
        for (; n < 4 && i + n < argc; n++) {
            jobs[n] = (job){pool, argv[i + n], 0};
            pthread_create(&t[n], NULL, run_one, &jobs[n]);
        }
        for (int k = 0; k < n; k++) {
            pthread_join(t[k], NULL);
            if (jobs[k].code > worst)
                worst = jobs[k].code;
        }
    }
    sandbox_pool_free(pool); /* ready boxes destroyed, thread joined */
    return worst;
}
