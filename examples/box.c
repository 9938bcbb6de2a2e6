/* SPDX-License-Identifier: MIT */
/* One box, many commands: state persists between execs, an exec's timeout
 * kills only that exec, files go in and come out.
 *
 *   cc box.c $(pkg-config --cflags --libs libsandbox) -o box
 *   ./box native busybox:latest
 *   ./box podman debian:stable-slim                                      */
#include <sandbox.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int show(const char *what, int rc, const sandbox_result *res)
{
    printf("%-22s rc=%d %s exit=%d out=%.*s", what, rc,
           sandbox_end_name(res->reason), res->exit_code, (int)res->out.len,
           res->out.data ? res->out.data : "");
    if (res->out.len == 0 || res->out.data[res->out.len - 1] != '\n')
        putchar('\n');
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s RUNTIME IMAGE\n", argv[0]);
        return 125;
    }
    sandbox_opts opts;
    sandbox_exec_opts x;
    sandbox_result res;
    sandbox_box *box = NULL;
    char *msg = NULL;
    sandbox_opts_init(&opts, sizeof opts);
    sandbox_result_init(&res, sizeof res);
    opts.runtime = argv[1];
    opts.image = argv[2];
    opts.memory = "256m";
    opts.box_lifetime_sec = 300; /* gone after 5 minutes whatever happens */
    if (sandbox_box_create(&opts, &box, &msg) < 0) {
        fprintf(stderr, "box: %s\n", msg);
        sandbox_free(msg);
        return 125;
    }
    printf("box %s\n", sandbox_box_name(box));

    sandbox_exec_opts_init(&x, sizeof x);
    x.command = "echo state > /tmp/kept";
    show("write /tmp/kept", sandbox_box_exec(box, &x, &res), &res);
    x.command = "cat /tmp/kept";
    show("read it back", sandbox_box_exec(box, &x, &res), &res);

    /* The exec's whole tree dies at its timeout; the box lives on. */
    x.command = "sleep 100 & sleep 100";
    x.timeout_sec = 0.5;
    show("timed out exec", sandbox_box_exec(box, &x, &res), &res);
    x.timeout_sec = 0;
    x.command = "ps 2>/dev/null | grep -c '[s]leep 100' || true";
    show("sleepers left", sandbox_box_exec(box, &x, &res), &res);

    /* Files in and out. */
    char in[] = "/tmp/box-example-XXXXXX";
    int fd = mkstemp(in);
    if (fd >= 0) {
        dprintf(fd, "hello from the host\n");
        close(fd);
        char out[64];
        snprintf(out, sizeof out, "%s.back", in);
        if (sandbox_box_put(box, in, "/tmp/in.txt", &msg) < 0 ||
            sandbox_box_get(box, "/tmp/in.txt", out, &msg) < 0) {
            fprintf(stderr, "copy: %s\n", msg);
            sandbox_free(msg);
            msg = NULL;
        } else {
            printf("put + get round trip: ok (%s)\n", out);
            unlink(out);
        }
        unlink(in);
    }

    sandbox_box_destroy(box, &res); /* box-level costs */
    printf("box peak memory %llu bytes, cpu %.3f s\n",
           (unsigned long long)res.peak_memory_bytes, res.cpu_sec);
    x.command = "true";
    int rc = sandbox_box_exec(box, &x, &res); /* a clear error, not a crash */
    printf("exec after destroy: %s (%s)\n", sandbox_strerror(rc), res.message);
    sandbox_box_free(box);
    sandbox_result_free(&res);
    return 0;
}
