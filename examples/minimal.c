/* SPDX-License-Identifier: MIT */
/* The smallest useful libsandbox program: run one command, print the
 * contract's text form, exit with the command's code.
 *
 *   cc minimal.c $(pkg-config --cflags --libs libsandbox) -o minimal
 *   ./minimal 'echo hello from the box'                                  */
#include <sandbox.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    sandbox_opts opts;
    sandbox_result res;
    char *text = NULL;
    size_t len = 0;

    sandbox_opts_init(&opts, sizeof opts);
    sandbox_result_init(&res, sizeof res);
    opts.command = argc > 1 ? argv[1] : "echo hello from the box";
    if (argc > 2)
        opts.image = argv[2];

    int rc = sandbox_run(&opts, &res);
    if (rc < 0) {
        fprintf(stderr, "minimal: %s\n", res.message);
        sandbox_result_free(&res);
        return 125;
    }
    if (sandbox_format(&res, 0, &text, &len) == 0)
        fwrite(text, 1, len, stdout);
    int code = res.exit_code;
    sandbox_free(text);
    sandbox_result_free(&res);
    return code;
}
