/* SPDX-License-Identifier: MIT */
/* libFuzzer target: size parsing and option validation with hostile
 * strings.  Invariants: no crash, sizes round-trip for plain integers,
 * validation never accepts an image that starts with '-'. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    uint64_t bytes;
    if (sbx_parse_size(s, &bytes) == 0) {
        /* A bare integer must parse to itself. */
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == '\0' && s[0] >= '0' && s[0] <= '9' && v != bytes)
            __builtin_trap();
    }
    sandbox_opts o;
    sandbox_opts_init(&o, sizeof o);
    o.command = s;
    o.image = s;
    o.memory = s;
    char *msg = NULL;
    int rc = sandbox_opts_validate(&o, &msg);
    if (rc == 0 && s[0] == '-')
        __builtin_trap();
    if (rc != 0 && msg == NULL)
        __builtin_trap(); /* every error carries a message */
    sandbox_free(msg);
    free(s);
    return 0;
}
