/* SPDX-License-Identifier: MIT */
/* Exec options of a one-shot run: a program and its arguments without a
 * shell (argv), this program's stdin forwarded to the box (stdin_fd), and
 * the box's output shown as it arrives (stdout_fd/stderr_fd tees) while a
 * callback counts the chunks.
 *
 *   cc stdio.c $(pkg-config --cflags --libs libsandbox) -o stdio
 *   printf 'b\na\n' | ./stdio native busybox:latest sort
 *   ./stdio podman busybox:latest sh -c 'echo one; sleep 1; echo two'  */
#include <sandbox.h>

#include <stdio.h>

typedef struct counts {
    size_t chunks[3], bytes[3];
} counts;

static void on_output(void *ctx, int stream, const char *data, size_t len)
{
    counts *c = ctx;
    (void)data; /* the tees already showed it */
    c->chunks[stream]++;
    c->bytes[stream] += len;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s RUNTIME IMAGE PROGRAM [ARG ...]\n", argv[0]);
        return 125;
    }
    sandbox_opts opts;
    sandbox_result res;
    counts c = {{0}, {0}};
    sandbox_opts_init(&opts, sizeof opts);
    sandbox_result_init(&res, sizeof res);
    opts.runtime = argv[1];
    opts.image = argv[2];
    opts.argv = (const char *const *)(argv + 3); /* each word one argument */
    opts.argc = (size_t)(argc - 3);
    opts.stdin_fd = 0;  /* read to EOF as the box consumes it */
    opts.stdout_fd = 1; /* live, never blocking the box */
    opts.stderr_fd = 2;
    opts.on_output = on_output;
    opts.on_output_ctx = &c;

    int rc = sandbox_run(&opts, &res);
    if (rc < 0) {
        fprintf(stderr, "stdio: %s\n", res.message);
        sandbox_result_free(&res);
        return 125;
    }
    fprintf(stderr,
            "[%s, exit %d, %.3f s; stdout %zu bytes in %zu chunks, stderr "
            "%zu in %zu%s%s]\n",
            sandbox_end_name(res.reason), res.exit_code, res.wall_sec,
            c.bytes[1], c.chunks[1], c.bytes[2], c.chunks[2],
            res.message ? "; " : "", res.message ? res.message : "");
    int code = res.exit_code;
    sandbox_result_free(&res);
    return code < 0 || code > 255 ? 125 : code;
}
