/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the text formatter and UTF-8 repair.
 * Invariants: never fails on any bytes, output is valid UTF-8 (checked by
 * re-sanitizing: a second pass must change nothing), never longer than the
 * limit, and a cut output ends with the marker. */
#include "internal.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t limit = 64 + (size_t)data[0] * 16;
    size_t split = data[1] % (size - 1);
    int code = (int8_t)data[2];
    const char *body = (const char *)data + 2;
    size_t blen = size - 2;
    char *text = NULL, *again = NULL;
    size_t len = 0, alen = 0;
    if (sbx_format_text(code, body, split, body + split, blen - split, limit,
                        &text, &len) != 0)
        __builtin_trap();
    if (len > limit)
        __builtin_trap();
    if (sandbox_utf8_sanitize(text, len, &again, &alen) != 0 || alen != len ||
        memcmp(text, again, len) != 0)
        __builtin_trap(); /* output was not valid UTF-8 */
    sandbox_free(text);
    sandbox_free(again);
    return 0;
}
