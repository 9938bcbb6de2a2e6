/* SPDX-License-Identifier: MIT */
/* Use the structured result instead of the text form: why the run ended,
 * both streams with their totals, truncation, timing, resources.
 *
 *   cc structured.c $(pkg-config --cflags --libs libsandbox) -o structured
 *   ./structured 'echo out; echo err >&2; exit 3' [IMAGE] [RUNTIME]        */
#include <sandbox.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    sandbox_opts o;
    sandbox_result r;
    const char *env[] = {"GREETING=hello"};

    sandbox_opts_init(&o, sizeof o);
    sandbox_result_init(&r, sizeof r);
    o.command =
        argc > 1 ? argv[1] : "echo \"$GREETING\"; echo oops >&2; exit 3";
    if (argc > 2)
        o.image = argv[2];
    if (argc > 3)
        o.runtime = argv[3];
    o.env = env;
    o.n_env = 1;
    o.timeout_sec = 20;
    o.memory = "256m";

    int rc = sandbox_run(&o, &r);
    printf("rc:        %d (%s)\n", rc, sandbox_strerror(rc));
    printf("reason:    %s\n", sandbox_end_name(r.reason));
    printf("exit code: %d\n", r.exit_code);
    if (r.term_signal)
        printf("signal:    %d\n", r.term_signal);
    printf("stdout:    %zu of %llu bytes%s: %s", r.out.len,
           (unsigned long long)r.out.total, r.out.truncated ? " (cut)" : "",
           r.out.data);
    printf("stderr:    %zu of %llu bytes%s: %s", r.err.len,
           (unsigned long long)r.err.total, r.err.truncated ? " (cut)" : "",
           r.err.data);
    printf("wall:      %.3f s on %s as %s\n", r.wall_sec, r.runtime,
           r.container_name);
    if (r.peak_memory_bytes)
        printf("memory:    peak %llu KiB\n",
               (unsigned long long)(r.peak_memory_bytes >> 10));
    if (r.cpu_sec >= 0)
        printf("cpu:       %.3f s\n", r.cpu_sec);
    if (r.message)
        printf("message:   %s\n", r.message);
    int code = rc < 0 ? 125 : r.exit_code;
    sandbox_result_free(&r);
    return code;
}
