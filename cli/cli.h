/* SPDX-License-Identifier: MIT */
/* What cli/sandbox.c (one-shot runs, gc) and cli/box.c (sandbox box ...)
 * share: message helpers, strict number parsing, the run options parser
 * and the result's JSON form. */
#ifndef SANDBOX_CLI_H
#define SANDBOX_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "sandbox.h"

#define EXIT_SANDBOX 125 /* sandbox itself failed (usage, option, runtime) */

/* Everything the run options parser allocates, released in one place. */
struct cli {
    sandbox_opts opts;
    sandbox_result res;
    char *command, *workspace, *text;
    const char **env;
    char **env_bufs; /* --env NAME: "NAME=<its value here>", owned */
    size_t n_env_bufs;
    sandbox_mount *mounts;
    char **mount_bufs; /* one realpath'd host and one copy per mount */
    size_t n_bufs;
    int json;
    int argv_mode;     /* --argv: the words are the argv, not joined */
    int stdin_file;    /* --stdin FILE: the fd opened, else -1 */
    char **allow;      /* --allow / --allow-file entries, owned */
    char **allow_from; /* where each came from, for error messages */
    size_t n_allow, cap_allow;
    int network_set;
    int box_create;   /* `box create`: no command, opts.command "true" */
    const char *help; /* -h text instead of the run usage, or NULL */
};

/* usage_error's second line: "Try '<cli_help_hint>'." */
extern const char *cli_help_hint;
__attribute__((format(printf, 1, 2))) void usage_error(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...);
void unknown_option(char **argv);
/* s on f as text: control characters (ESC, CR, C1, bidi overrides...) and
 * invalid UTF-8 escaped as \xNN / \uNNNN, so that nothing a box chose
 * acts on the operator's terminal.  Newline and tab pass. */
void cli_put_text(FILE *f, const char *s);
/* j as indented JSON on f, the same characters escaped as \uNNNN (valid
 * JSON, the same data).  0 or -1. */
int cli_put_json(FILE *f, json_t *j);
/* --env's word: NAME=VALUE as given, or NAME alone for NAME's value in
 * this process's environment (kept off the command line, where any local
 * user's `ps` reads it).  Malloc'd; NULL (the usage error printed) when
 * NAME is not set or memory ran out. */
char *cli_env_word(const char *arg);
int parse_ulong(const char *flag, const char *s, unsigned long long max,
                unsigned long long *out);
int parse_double(const char *flag, const char *s, double *out);

/* cli_init: 0 or an exit status; cli_release always. */
int cli_init(struct cli *c, int argc);
void cli_release(struct cli *c);
/* -1 to go on, or an exit status (0 after --help). */
int cli_parse_args(struct cli *c, int argc, char **argv);
/* 0, or EXIT_SANDBOX with the library's message printed. */
int cli_validate(struct cli *c);

/* SIGINT/SIGTERM/SIGHUP to a self-pipe; its read end, or -1. */
int cli_install_cancel(void);
int cli_got_signal(void);
void cli_close_cancel(void);

/* Everything `sandbox --json` prints but "options" (a new reference). */
json_t *cli_result_json(const sandbox_result *r);

/* cli/box.c */
int cli_box_main(int argc, char **argv);
/* Sweep the CLI box registry (expired, dead keepers; all: every box);
 * *removed entries.  0, or -1 with the message printed. */
int cli_box_gc(const char *runtime, int all, unsigned *removed);

#endif
