/* SPDX-License-Identifier: MIT */
/* Use the structured result instead of the text form: why the run ended,
 * both streams with their totals, truncation, timing, resources.
 *
 *   cc structured.c $(pkg-config --cflags --libs libsandbox) -o structured
 *   ./structured 'echo out; echo err >&2; exit 3' [IMAGE] [RUNTIME]        */
#include <sandbox.h>

#include <stdio.h>
#include <string.h>

/* One line per line of output, each ending in a newline whatever the
 * stream's last byte was; nothing after the byte count when it is empty. */
static void print_stream(const char *name, const sandbox_stream *s)
{
    printf("%-10s %zu of %llu bytes%s", name, s->len,
           (unsigned long long)s->total, s->truncated ? " (cut)" : "");
    if (s->len == 0 || s->data == NULL) {
        putchar('\n');
        return;
    }
    const char *p = s->data, *end = s->data + s->len;
    int first = 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        printf("%s%.*s\n", first ? ": " : "           ", (int)n, p);
        first = 0;
        p += n + (nl != NULL);
    }
}

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
    print_stream("stdout:", &r.out);
    print_stream("stderr:", &r.err);
    printf("wall:      %.3f s on %s as %s\n", r.wall_sec,
           r.runtime ? r.runtime : "-",
           r.container_name ? r.container_name : "-");
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
