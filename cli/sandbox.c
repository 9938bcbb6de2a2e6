/* SPDX-License-Identifier: MIT */
/*
 * sandbox: the command-line face of libsandbox.
 *
 *   sandbox [OPTION ...] -- COMMAND [ARG ...]
 *   sandbox [OPTION ...] --argv -- PROGRAM [ARG ...]
 *   sandbox gc [--all] [--runtime R]
 *
 * Thin by design: parse options into a sandbox_opts, call sandbox_run(),
 * print the result.  Every check beyond number syntax is the library's
 * (sandbox_opts_validate).  The CLI's own additions are the default
 * workspace (the current directory), turning relative paths absolute, and
 * the signal handlers that feed opts.cancel_fd (self-pipe trick).
 *
 * Exit status: the command's; 124 on timeout; 125 when sandbox itself
 * failed; 128+N when interrupted by signal N (SIGINT 130, SIGTERM 143).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sandbox.h"

static const char usage_text[] =
    "Usage: sandbox [OPTION ...] -- COMMAND [ARG ...]\n"
    "       sandbox [OPTION ...] --argv -- PROGRAM [ARG ...]\n"
    "       sandbox gc [--all] [--runtime NAME|PATH]\n"
    "       sandbox box create|exec|cp|ls|rm ...   (sandbox box --help)\n"
    "\n"
    "Run COMMAND (the words after --, joined by single spaces, run as\n"
    "`sh -c`; with --argv, PROGRAM exec'd with each ARG as one argument,\n"
    "no shell) in a throw-away container and print:\n"
    "  exit=<n>\\n--- stdout ---\\n<stdout>--- stderr ---\\n<stderr>\n"
    "\n"
    "Options:\n"
    "  --image IMAGE          container image (default " SANDBOX_DEFAULT_IMAGE
    ")\n"
    "  --timeout SEC          wall-clock limit in seconds (default 60)\n"
    "  --network none|bridge|allowlist\n"
    "                         network mode (default none: loopback only;\n"
    "                         allowlist: only --allow destinations, through\n"
    "                         a proxy; every attempt recorded)\n"
    "  --allow HOST:PORT      allowed destination (repeatable; implies\n"
    "                         --network allowlist): host:port, *.domain:port,\n"
    "                         A.B.C.D[/len]:port, [v6[/len]]:port\n"
    "  --allow-file FILE      one destination per line (# comments)\n"
    "  --max-connections N    allowed connections per run (default: no cap)\n"
    "  --max-net-bytes N      bytes both ways per run (default: no cap)\n"
    "  --memory SIZE          memory limit, e.g. 512m, 2g "
    "(default " SANDBOX_DEFAULT_MEMORY ")\n"
    "  --disk-limit SIZE      cap on what the box can write (workspace, /tmp,\n"
    "                         ...), e.g. 512m, 4g "
    "(default " SANDBOX_DEFAULT_DISK_LIMIT ")\n"
    "  --pids N               process limit (default 512)\n"
    "  --cpus N               CPU limit (default 2.0, clamped to the host)\n"
    "  --workspace DIR        mounted read-write at /workspace (default: .)\n"
    "  --no-workspace         mount no workspace\n"
    "  --mount HOST:BOX[:ro|rw]  extra bind mount, read-only unless :rw\n"
    "                         (repeatable)\n"
    "  --env NAME=VALUE       set a variable in the box (repeatable); --env "
    "NAME\n"
    "                         passes NAME's value from this environment\n"
    "  --runtime NAME|PATH    podman, docker or a path (default: "
    "$" SANDBOX_RUNTIME_ENV ",\n"
    "                         else podman, else docker)\n"
    "  --output-limit BYTES   bytes kept per stream and text cap (default "
    "50000)\n"
    "  --stdin FILE|-         feed FILE (- : this stdin) to the command's "
    "stdin\n"
    "                         (default: /dev/null)\n"
    "  --argv                 run the words after -- as a program and its\n"
    "                         arguments, one word each, without a shell\n"
    "  --json                 print the whole result as JSON\n"
    "  -V, --version          print the CLI and library versions\n"
    "  -h, --help             print this help\n"
    "\n"
    "Exit status: the command's; 124 timeout; 125 sandbox failed;\n"
    "128+N interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP).\n";

const char *cli_help_hint = "sandbox --help";

/* A UTF-8 sequence at s (n bytes left): its length and code point, or 0
 * when it is not valid (overlong, surrogate, beyond U+10FFFF, cut). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || len > n)
        return 0;
    uint32_t c = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static void put_text(FILE *f, const char *s, int json);

void cli_put_text(FILE *f, const char *s)
{
    put_text(f, s, 0);
}

int cli_put_json(FILE *f, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    if (s == NULL)
        return -1;
    /* jansson escapes C0 and quotes; what it leaves raw (DEL, C1, bidi
     * controls) can only be inside strings, where \uNNNN means the same
     * character: the JSON is unchanged as data. */
    put_text(f, s, 1);
    free(s);
    return ferror(f) ? -1 : 0;
}

static void put_text(FILE *f, const char *s, int json)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        uint32_t cp = 0;
        size_t len = p[0] < 0x80 ? 1 : utf8_seq(p, n, &cp);
        if (len == 1)
            cp = p[0];
        /* Printable text, newline and tab pass; C0 and C1 controls, DEL,
         * the bidirectional overrides and isolates (text that reorders
         * what follows it) and invalid bytes are shown escaped. */
        int bad = len == 0 || (cp < 0x20 && cp != '\n' && cp != '\t') ||
                  (cp >= 0x7f && cp <= 0x9f) ||
                  (cp >= 0x202a && cp <= 0x202e) ||
                  (cp >= 0x2066 && cp <= 0x2069) || cp == 0x061c ||
                  cp == 0x200e || cp == 0x200f;
        if (!bad) {
            fwrite(p, 1, len, f);
        } else if (json && len >= 1) {
            fprintf(f, "\\u%04x", (unsigned)cp);
        } else if (len <= 1) {
            fprintf(f, "\\x%02x", p[0]);
            len = 1;
        } else {
            fprintf(f, "\\u%04x", (unsigned)cp);
        }
        p += len;
        n -= len;
    }
}

/* Messages may quote what a box chose (a file name, a link's target, the
 * tail of its stderr): they reach the operator's terminal as text only. */
__attribute__((format(printf, 1, 0))) static void vmessage(const char *fmt,
                                                           va_list ap)
{
    char *s = NULL;
    fputs("sandbox: ", stderr);
    if (vasprintf(&s, fmt, ap) < 0) {
        fputs("(out of memory formatting a message)", stderr);
        return;
    }
    cli_put_text(stderr, s);
    free(s);
}

__attribute__((format(printf, 1, 2))) void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s'.\n", cli_help_hint);
}

__attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void unknown_option(char **argv)
{
    if (optopt)
        usage_error("unknown option '-%c'", optopt);
    else
        usage_error("unknown option '%s'", argv[optind - 1]);
}

/* Digits only (no sign, no spaces), the whole string, in range. */
int parse_ulong(const char *flag, const char *s, unsigned long long max,
                unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end || errno || v > max) {
        usage_error("invalid value '%s' for %s: expected a whole number%s", s,
                    flag, errno == ERANGE || v > max ? " (too large)" : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* A finite, non-negative decimal number such as 10, 2.5, .5 or 1e3. */
int parse_double(const char *flag, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '.') ||
        strspn(s, "0123456789.eE+-") != strlen(s) || *end || errno ||
        !isfinite(v)) {
        usage_error("invalid value '%s' for %s: expected a number", s, flag);
        return -1;
    }
    *out = v;
    return 0;
}

/* Self-pipe: the handler only records the signal and writes one byte. */
static volatile sig_atomic_t got_signal;
static int cancel_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (!got_signal)
        got_signal = sig;
    ssize_t n = write(cancel_pipe[1], "x", 1);
    (void)n;
    errno = saved;
}

static int install_cancel(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    if (pipe2(cancel_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        /* A signal ignored on entry (nohup, background job) stays ignored. */
        if (sigaction(sigs[i], NULL, &old) < 0)
            return -1;
        if (old.sa_handler != SIG_IGN && sigaction(sigs[i], &sa, NULL) < 0)
            return -1;
    }
    return 0;
}

/* For box exec: the handlers above; returns the pipe's read end or -1. */
int cli_install_cancel(void)
{
    return install_cancel() < 0 ? -1 : cancel_pipe[0];
}

int cli_got_signal(void)
{
    return got_signal;
}

void cli_close_cancel(void)
{
    if (cancel_pipe[0] >= 0) {
        close(cancel_pipe[0]);
        close(cancel_pipe[1]);
        cancel_pipe[0] = cancel_pipe[1] = -1;
    }
}

/* A string (a message may quote a box's bytes: repaired to UTF-8, or the
 * whole result would fail to pack), or null. */
static json_t *jstr(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_string(s);
    char *text = NULL;
    if (j == NULL && sandbox_utf8_sanitize(s, strlen(s), &text, NULL) == 0)
        j = json_string(text);
    sandbox_free(text);
    return j ? j : json_string("");
}

static json_t *jstream(const sandbox_stream *st)
{
    char *text = NULL;
    size_t len = 0;
    json_t *v = NULL;
    if (st->data && sandbox_utf8_sanitize(st->data, st->len, &text, &len) == 0)
        v = json_stringn(text, len);
    sandbox_free(text);
    return v ? v : json_string("");
}

/* The result as JSON (everything `--json` prints but the options). */
json_t *cli_result_json(const sandbox_result *r)
{
    json_t *root = json_pack(
        "{s:o, s:i, s:i, s:o, s:o, s:I, s:b, s:o, s:I,"
        " s:b, s:f, s:o, s:o, s:o, s:s}",
        "reason", jstr(sandbox_end_name(r->reason)), "exit_code", r->exit_code,
        "term_signal", r->term_signal, "error",
        r->error ? json_string(sandbox_strerror(r->error)) : json_null(),
        "stdout", jstream(&r->out), "stdout_bytes", (json_int_t)r->out.total,
        "stdout_truncated", r->out.truncated, "stderr", jstream(&r->err),
        "stderr_bytes", (json_int_t)r->err.total, "stderr_truncated",
        r->err.truncated, "wall_sec", r->wall_sec, "runtime", jstr(r->runtime),
        "container_name", jstr(r->container_name), "message", jstr(r->message),
        "version", sandbox_version());
    /* Resource costs, where the backend measures them (native: cgroups). */
    if (root != NULL) {
        json_object_set_new(root, "peak_memory_bytes",
                            r->peak_memory_bytes
                                ? json_integer((json_int_t)r->peak_memory_bytes)
                                : json_null());
        json_object_set_new(root, "cpu_sec",
                            r->cpu_sec >= 0 ? json_real(r->cpu_sec)
                                            : json_null());
        /* The connection record of network allowlist: one object per
         * attempt, parsed back from the library's JSON lines. */
        json_t *net = json_array();
        for (const char *l = r->net_log; l && *l;) {
            const char *nl = strchr(l, '\n');
            size_t len = nl ? (size_t)(nl - l) : strlen(l);
            json_t *v = json_loadb(l, len, 0, NULL);
            if (v != NULL)
                json_array_append_new(net, v);
            l += len + (nl != NULL);
        }
        /* What ran and how it was confined (issue 9, 14). */
        json_object_set_new(root, "image_id", jstr(r->image_id));
        json_object_set_new(root, "backend", jstr(r->backend));
        json_object_set_new(root, "host_root",
                            r->host_root < 0 ? json_null()
                                             : json_boolean(r->host_root));
        json_object_set_new(root, "disk_limit_hit",
                            json_boolean(r->disk_limit_hit));
        json_object_set_new(root, "disk_bytes",
                            r->disk_bytes
                                ? json_integer((json_int_t)r->disk_bytes)
                                : json_null());
        json_object_set_new(root, "net_attempts",
                            json_integer((json_int_t)r->net_attempts));
        json_object_set_new(root, "net_log", net);
    }
    return root;
}

static int print_json(const sandbox_opts *o, const sandbox_result *r)
{
    json_t *root = cli_result_json(r);
    json_t *env = json_array(), *mounts = json_array(), *words = json_null();
    if (o->argv != NULL) {
        words = json_array();
        for (size_t i = 0; i < o->argc; i++)
            json_array_append_new(words, json_string(o->argv[i]));
    }
    for (size_t i = 0; i < o->n_env; i++)
        json_array_append_new(env, json_string(o->env[i]));
    for (size_t i = 0; i < o->n_mounts; i++)
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "host",
                                                o->mounts[i].host, "box",
                                                o->mounts[i].box, "writable",
                                                o->mounts[i].writable));
    json_t *opts = json_pack(
        "{s:o, s:o, s:o, s:o, s:f, s:s, s:o, s:I, s:f, s:o,"
        " s:I, s:o, s:o}",
        "command", jstr(o->command), "argv", words, "image", jstr(o->image),
        "workspace", jstr(o->workspace), "timeout_sec", o->timeout_sec,
        "network", o->network == SANDBOX_NETWORK_BRIDGE ? "bridge" : "none",
        "memory", jstr(o->memory), "pids", (json_int_t)o->pids, "cpus", o->cpus,
        "runtime", jstr(o->runtime), "output_limit",
        (json_int_t)o->output_limit, "env", env, "mounts", mounts);
    if (opts != NULL)
        json_object_set_new(opts, "disk_limit", jstr(o->disk_limit));
    if (opts != NULL && o->network == SANDBOX_NETWORK_ALLOWLIST) {
        json_t *allow = json_array();
        for (size_t i = 0; i < o->n_allow; i++)
            json_array_append_new(allow, json_string(o->allow[i]));
        json_object_set_new(opts, "network", json_string("allowlist"));
        json_object_set_new(opts, "allow", allow);
        json_object_set_new(opts, "max_connections",
                            json_integer((json_int_t)o->max_connections));
        json_object_set_new(opts, "max_net_bytes",
                            json_integer((json_int_t)o->max_net_bytes));
    }
    if (root != NULL && opts != NULL)
        json_object_set_new(root, "options", opts);
    else
        json_decref(opts);
    int rc = -1;
    if (root && cli_put_json(stdout, root) == 0 && fputc('\n', stdout) != EOF)
        rc = 0;
    json_decref(root);
    return rc;
}

static int run_gc(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"all", no_argument, NULL, 'a'},
        {"runtime", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *runtime = NULL;
    int all = 0, c;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': all = 1; break;
        case 'r': runtime = optarg; break;
        case 'h':
            fputs(
                "Usage: sandbox gc [--all] [--runtime NAME|PATH]\n"
                "Remove containers left behind by sandbox (label " SANDBOX_LABEL
                ") whose owner\nprocess is gone; with --all, "
                "every one of them.  Also remove the registry\n"
                "entries of CLI boxes (sandbox box) that expired or whose "
                "keeper died\n(--all: every CLI box, live ones destroyed "
                "first).\n",
                stdout);
            return 0;
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
            return EXIT_SANDBOX;
        default: unknown_option(argv); return EXIT_SANDBOX;
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument '%s' for gc", argv[optind]);
        return EXIT_SANDBOX;
    }
    unsigned removed = 0, boxes = 0;
    char *msg = NULL;
    /* CLI boxes first: what a swept box left is then the library's. */
    int brc = cli_box_gc(runtime, all, &boxes);
    int rc = sandbox_gc(runtime, all, &removed, &msg);
    if (rc < 0)
        fail("gc failed: %s", msg ? msg : sandbox_strerror(rc));
    else
        printf("removed %u container%s\n", removed, removed == 1 ? "" : "s");
    if (brc == 0)
        printf("removed %u box entr%s\n", boxes, boxes == 1 ? "y" : "ies");
    sandbox_free(msg);
    return rc < 0 || brc < 0 ? EXIT_SANDBOX : 0;
}

enum {
    OPT_IMAGE = 256,
    OPT_TIMEOUT,
    OPT_NETWORK,
    OPT_MEMORY,
    OPT_DISK_LIMIT,
    OPT_PIDS,
    OPT_CPUS,
    OPT_WORKSPACE,
    OPT_NO_WORKSPACE,
    OPT_JSON,
    OPT_RUNTIME,
    OPT_OUTPUT_LIMIT,
    OPT_ENV,
    OPT_MOUNT,
    OPT_STDIN,
    OPT_ARGV,
    OPT_ALLOW,
    OPT_ALLOW_FILE,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_NET_BYTES,
    OPT_VERSION,
    OPT_HELP
};

static const struct option run_longopts[] = {
    {"image", required_argument, NULL, OPT_IMAGE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"disk-limit", required_argument, NULL, OPT_DISK_LIMIT},
    {"pids", required_argument, NULL, OPT_PIDS},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"workspace", required_argument, NULL, OPT_WORKSPACE},
    {"no-workspace", no_argument, NULL, OPT_NO_WORKSPACE},
    {"json", no_argument, NULL, OPT_JSON},
    {"runtime", required_argument, NULL, OPT_RUNTIME},
    {"output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT},
    {"env", required_argument, NULL, OPT_ENV},
    {"mount", required_argument, NULL, OPT_MOUNT},
    {"stdin", required_argument, NULL, OPT_STDIN},
    {"argv", no_argument, NULL, OPT_ARGV},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"allow-file", required_argument, NULL, OPT_ALLOW_FILE},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-net-bytes", required_argument, NULL, OPT_MAX_NET_BYTES},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int push_allow(struct cli *c, const char *entry, const char *from)
{
    if (c->n_allow == c->cap_allow) {
        size_t cap = c->cap_allow ? 2 * c->cap_allow : 16;
        char **a = realloc(c->allow, cap * sizeof *a);
        if (!a)
            return fail("out of memory"), -1;
        c->allow = a;
        char **f = realloc(c->allow_from, cap * sizeof *f);
        if (!f)
            return fail("out of memory"), -1;
        c->allow_from = f;
        c->cap_allow = cap;
    }
    c->allow[c->n_allow] = strdup(entry);
    c->allow_from[c->n_allow] = from ? strdup(from) : NULL;
    if (!c->allow[c->n_allow] || (from && !c->allow_from[c->n_allow])) {
        free(c->allow[c->n_allow]);
        free(c->allow_from[c->n_allow]);
        return fail("out of memory"), -1;
    }
    c->n_allow++;
    return 0;
}

/* One destination per line; blank lines and # comments skipped. */
static int read_allow_file(struct cli *c, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return fail("--allow-file %s: %s", path, strerror(errno)), -1;
    char line[1024], from[1200];
    int rc = 0;
    for (unsigned no = 1; fgets(line, sizeof line, f); no++) {
        char *p = line, *end;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strlen(p);
        while (end > p && strchr(" \t\r\n", end[-1]))
            *--end = '\0';
        if (!*p)
            continue;
        snprintf(from, sizeof from, "%s line %u", path, no);
        if ((rc = push_allow(c, p, from)) < 0)
            break;
    }
    if (ferror(f)) {
        fail("--allow-file %s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

/* HOST:BOX[:ro|rw]; HOST is made absolute (it must exist). */
static int add_mount(struct cli *c, const char *spec)
{
    char *copy = strdup(spec), *box, *mode;
    if (!copy)
        return fail("out of memory"), -1;
    c->mount_bufs[c->n_bufs++] = copy;
    box = strchr(copy, ':');
    mode = box ? strrchr(box + 1, ':') : NULL;
    if (!box || box == copy || !box[1]) {
        usage_error("invalid value '%s' for --mount: expected HOST:BOX[:ro|rw]",
                    spec);
        return -1;
    }
    *box++ = '\0';
    int writable = 0;
    if (mode) {
        if (strcmp(mode + 1, "rw") && strcmp(mode + 1, "ro")) {
            usage_error("invalid mode '%s' in --mount '%s': expected ro or rw",
                        mode + 1, spec);
            return -1;
        }
        writable = !strcmp(mode + 1, "rw");
        *mode = '\0';
    }
    if (!*box) {
        usage_error("invalid value '%s' for --mount: empty box path", spec);
        return -1;
    }
    char *host = realpath(copy, NULL);
    if (!host)
        return fail("--mount %s: %s", copy, strerror(errno)), -1;
    c->mount_bufs[c->n_bufs++] = host;
    sandbox_mount *m = &c->mounts[c->opts.n_mounts++];
    m->host = host;
    m->box = box;
    m->writable = writable;
    return 0;
}

static char *join_words(char **words, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(words[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < n; i++) {
        size_t w = strlen(words[i]);
        if (i)
            *p++ = ' ';
        memcpy(p, words[i], w);
        p += w;
    }
    *p = '\0';
    return s;
}

/* Fill c->opts from argv.  Returns -1 to go on, or an exit status. */
int cli_parse_args(struct cli *c, int argc, char **argv)
{
    sandbox_opts *o = &c->opts;
    const char *ws = NULL;
    int no_ws = 0, dd = 1, ch;
    unsigned long long n;

    /* Options end at the first "--"; getopt never sees the command. */
    while (dd < argc && strcmp(argv[dd], "--"))
        dd++;
    if (c->box_create && dd < argc) {
        usage_error("box create takes no command: run it with "
                    "'sandbox box exec ID -- COMMAND'");
        return EXIT_SANDBOX;
    }
    while ((ch = getopt_long(dd, argv, "+:hV", run_longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_IMAGE: o->image = optarg; break;
        case OPT_MEMORY: o->memory = optarg; break;
        case OPT_DISK_LIMIT: o->disk_limit = optarg; break;
        case OPT_RUNTIME: o->runtime = optarg; break;
        case OPT_ENV:
            if ((c->env_bufs[c->n_env_bufs] = cli_env_word(optarg)) == NULL)
                return EXIT_SANDBOX;
            c->env[o->n_env++] = c->env_bufs[c->n_env_bufs++];
            break;
        case OPT_JSON: c->json = 1; break;
        case OPT_WORKSPACE:
            ws = optarg;
            no_ws = 0;
            break;
        case OPT_NO_WORKSPACE:
            ws = NULL;
            no_ws = 1;
            break;
        case OPT_TIMEOUT:
            if (parse_double("--timeout", optarg, &o->timeout_sec) < 0)
                return EXIT_SANDBOX;
            break;
        case OPT_CPUS:
            if (parse_double("--cpus", optarg, &o->cpus) < 0)
                return EXIT_SANDBOX;
            break;
        case OPT_PIDS:
            if (parse_ulong("--pids", optarg, LONG_MAX, &n) < 0)
                return EXIT_SANDBOX;
            o->pids = (long)n;
            break;
        case OPT_OUTPUT_LIMIT:
            if (parse_ulong("--output-limit", optarg, SIZE_MAX, &n) < 0)
                return EXIT_SANDBOX;
            o->output_limit = (size_t)n;
            break;
        case OPT_NETWORK:
            c->network_set = 1;
            if (!strcmp(optarg, "none"))
                o->network = SANDBOX_NETWORK_NONE;
            else if (!strcmp(optarg, "bridge"))
                o->network = SANDBOX_NETWORK_BRIDGE;
            else if (!strcmp(optarg, "allowlist"))
                o->network = SANDBOX_NETWORK_ALLOWLIST;
            else
                return usage_error("invalid value '%s' for --network: expected "
                                   "none, bridge or allowlist",
                                   optarg),
                       EXIT_SANDBOX;
            break;
        case OPT_ALLOW:
            if (push_allow(c, optarg, NULL) < 0)
                return EXIT_SANDBOX;
            break;
        case OPT_ALLOW_FILE:
            if (read_allow_file(c, optarg) < 0)
                return EXIT_SANDBOX;
            break;
        case OPT_MAX_CONNECTIONS:
            if (parse_ulong("--max-connections", optarg, SIZE_MAX, &n) < 0)
                return EXIT_SANDBOX;
            o->max_connections = (size_t)n;
            break;
        case OPT_MAX_NET_BYTES:
            if (parse_ulong("--max-net-bytes", optarg, UINT64_MAX, &n) < 0)
                return EXIT_SANDBOX;
            o->max_net_bytes = (uint64_t)n;
            break;
        case OPT_MOUNT:
            if (add_mount(c, optarg) < 0)
                return EXIT_SANDBOX;
            break;
        case OPT_ARGV: c->argv_mode = 1; break;
        case OPT_STDIN:
            if (c->stdin_file >= 0)
                close(c->stdin_file);
            c->stdin_file = -1;
            if (!strcmp(optarg, "-")) {
                o->stdin_fd = STDIN_FILENO;
            } else if ((c->stdin_file = open(optarg, O_RDONLY | O_CLOEXEC)) <
                       0) {
                return fail("--stdin %s: %s", optarg, strerror(errno)),
                       EXIT_SANDBOX;
            } else {
                o->stdin_fd = c->stdin_file;
            }
            break;
        case 'V':
        case OPT_VERSION:
            printf("sandbox %s (libsandbox %s)\n", SANDBOX_VERSION_STRING,
                   sandbox_version());
            return 0;
        case 'h':
        case OPT_HELP: fputs(c->help ? c->help : usage_text, stdout); return 0;
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
            return EXIT_SANDBOX;
        default: unknown_option(argv); return EXIT_SANDBOX;
        }
    }
    if (optind < dd) {
        usage_error("unexpected argument '%s': put the command after --",
                    argv[optind]);
        return EXIT_SANDBOX;
    }
    if (c->box_create) {
        /* Validated with a stand-in command (the box runs none). */
        o->command = "true";
    } else if (dd >= argc - 1) {
        usage_error("no command given: put the command after --");
        return EXIT_SANDBOX;
    } else if (c->argv_mode) {
        o->argv = (const char *const *)(argv + dd + 1);
        o->argc = (size_t)(argc - dd - 1);
    } else {
        if (!(c->command = join_words(argv + dd + 1, argc - dd - 1)))
            return fail("out of memory"), EXIT_SANDBOX;
        o->command = c->command;
    }
    o->env = c->env;
    o->allow = (const char *const *)c->allow;
    o->n_allow = c->n_allow;
    /* --allow without --network means the allow-list. */
    if (c->n_allow > 0 && !c->network_set)
        o->network = SANDBOX_NETWORK_ALLOWLIST;
    o->mounts = c->mounts;
    if (!no_ws) {
        c->workspace = ws ? realpath(ws, NULL) : getcwd(NULL, 0);
        if (!c->workspace)
            return fail("workspace %s: %s", ws ? ws : "(current directory)",
                        strerror(errno)),
                   EXIT_SANDBOX;
        o->workspace = c->workspace;
    }
    return -1;
}

/* sandbox_opts_validate, its message on stderr; 0 or an exit status. */
int cli_validate(struct cli *c)
{
    char *msg = NULL;
    int rc = sandbox_opts_validate(&c->opts, &msg);
    if (rc < 0) {
        /* "allow[N] ..." names the entry; say where it came from. */
        size_t idx;
        int used = 0;
        if (msg && sscanf(msg, "allow[%zu]%n", &idx, &used) == 1 && used &&
            idx < c->n_allow && c->allow_from[idx]) {
            usage_error("%s (%s)", msg, c->allow_from[idx]);
            sandbox_free(msg);
            return EXIT_SANDBOX;
        }
        usage_error("%s", msg ? msg : sandbox_strerror(rc));
        sandbox_free(msg);
        return EXIT_SANDBOX;
    }
    return 0;
}

static int run(struct cli *c)
{
    sandbox_opts *o = &c->opts;
    int rc = cli_validate(c);
    if (rc != 0)
        return rc;
    if (install_cancel() < 0)
        return fail("cannot set up signal handling: %s", strerror(errno)),
               EXIT_SANDBOX;
    o->cancel_fd = cancel_pipe[0];

    rc = sandbox_run(o, &c->res);
    if (rc < 0)
        fail("%s", c->res.message ? c->res.message : sandbox_strerror(rc));

    /* The library reports 130 for any cancellation; the CLI knows which
     * signal it was, so the printed exit= matches the CLI's own status. */
    if (rc == 0 && c->res.reason == SANDBOX_END_CANCELLED && got_signal)
        c->res.exit_code = 128 + got_signal;

    int wrc = 0;
    if (c->json) {
        wrc = print_json(o, &c->res);
    } else if (rc == 0) {
        size_t len = 0;
        int frc = sandbox_format(&c->res, o->output_limit, &c->text, &len);
        if (frc < 0)
            return fail("cannot format the result: %s", sandbox_strerror(frc)),
                   EXIT_SANDBOX;
        if (fwrite(c->text, 1, len, stdout) != len)
            wrc = -1;
    }
    if (fflush(stdout) != 0 || wrc < 0)
        return fail("cannot write the result: %s", strerror(errno)),
               EXIT_SANDBOX;
    if (rc < 0)
        return EXIT_SANDBOX;
    if (c->res.reason == SANDBOX_END_CANCELLED)
        return got_signal ? 128 + got_signal : EXIT_SANDBOX;
    if (c->res.exit_code < 0 || c->res.exit_code > 255)
        return EXIT_SANDBOX;
    return c->res.exit_code;
}

/* 0, or an exit status (the message printed). */
char *cli_env_word(const char *arg)
{
    char *w = NULL;
    if (strchr(arg, '=') != NULL) {
        w = strdup(arg);
    } else {
        const char *v = arg[0] ? getenv(arg) : NULL;
        if (v == NULL) {
            usage_error("--env %s: %s is not set here (give NAME=VALUE, or "
                        "export NAME to pass its value)",
                        arg, arg[0] ? arg : "the name");
            return NULL;
        }
        if (asprintf(&w, "%s=%s", arg, v) < 0)
            w = NULL;
    }
    if (w == NULL)
        fail("out of memory");
    return w;
}

int cli_init(struct cli *c, int argc)
{
    memset(c, 0, sizeof *c);
    c->stdin_file = -1;
    if (sandbox_opts_init(&c->opts, sizeof c->opts) < 0 ||
        sandbox_result_init(&c->res, sizeof c->res) < 0) {
        fail("libsandbox rejected the struct sizes (ABI mismatch)");
        return EXIT_SANDBOX;
    }
    size_t cap = (size_t)argc + 1;
    c->env = calloc(cap, sizeof *c->env);
    c->env_bufs = calloc(cap, sizeof *c->env_bufs);
    c->mounts = calloc(cap, sizeof *c->mounts);
    c->mount_bufs = calloc(2 * cap, sizeof *c->mount_bufs);
    if (!c->env || !c->env_bufs || !c->mounts || !c->mount_bufs) {
        fail("out of memory");
        return EXIT_SANDBOX;
    }
    return 0;
}

void cli_release(struct cli *c)
{
    sandbox_result_free(&c->res);
    sandbox_free(c->text);
    for (size_t i = 0; i < c->n_bufs; i++)
        free(c->mount_bufs[i]);
    free(c->mount_bufs);
    free(c->mounts);
    free(c->env);
    for (size_t i = 0; i < c->n_env_bufs; i++)
        free(c->env_bufs[i]);
    free(c->env_bufs);
    for (size_t i = 0; i < c->n_allow; i++) {
        free(c->allow[i]);
        free(c->allow_from[i]);
    }
    free(c->allow);
    free(c->allow_from);
    free(c->workspace);
    free(c->command);
    if (c->stdin_file >= 0)
        close(c->stdin_file);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "gc"))
        return run_gc(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "box"))
        return cli_box_main(argc - 1, argv + 1);

    struct cli c;
    int status = cli_init(&c, argc);
    if (status == 0 && (status = cli_parse_args(&c, argc, argv)) < 0)
        status = run(&c);
    cli_release(&c);
    cli_close_cancel();
    return status;
}
