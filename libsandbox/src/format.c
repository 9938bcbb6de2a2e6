/* SPDX-License-Identifier: MIT */
/* The contract's text form: UTF-8 repair, header rules, safe truncation. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

static int buf_reserve(sbx_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return SANDBOX_ENOMEM;
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return SANDBOX_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sbx_buf_put(sbx_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Length of the valid prefix of the sequence starting at s[0] (1..4), and
 * whether it is complete: Unicode's "maximal subpart" rule, which is what
 * Python's bytes.decode("utf-8", "replace") follows. */
static size_t utf8_seq(const unsigned char *s, size_t n, bool *complete)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;

    *complete = true;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *complete = false;
        return 1;
    }
    size_t i = 1;
    for (; i < need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *complete = false;
            return i;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need;
}

int sbx_buf_put_utf8(sbx_buf *b, const char *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0;
    while (i < n) {
        /* Copy the longest run of valid bytes in one go. */
        size_t start = i;
        bool complete = true;
        size_t k = 0;
        while (i < n) {
            k = utf8_seq(s + i, n - i, &complete);
            if (!complete)
                break;
            i += k;
        }
        int rc = sbx_buf_put(b, s + start, i - start);
        if (rc < 0)
            return rc;
        if (i < n) {
            rc = sbx_buf_put(b, REPLACEMENT, 3);
            if (rc < 0)
                return rc;
            i += k;
        }
    }
    return 0;
}

size_t sbx_utf8_cut(const char *s, size_t len, size_t limit)
{
    if (limit >= len)
        return len;
    size_t k = limit;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

int sbx_format_text(int exit_code, const char *out, size_t out_len,
                    const char *err, size_t err_len, size_t limit, char **text,
                    size_t *len)
{
    sbx_buf b = {0};
    char head[64];
    int rc;
    const size_t mlen = sizeof SANDBOX_TRUNCATION_MARKER - 1;

    *text = NULL;
    if (len != NULL)
        *len = 0;
    if (limit < mlen + 1)
        return SANDBOX_EINVAL;

    int hn =
        snprintf(head, sizeof head, "exit=%d\n--- stdout ---\n", exit_code);
    rc = sbx_buf_put(&b, head, (size_t)hn);
    if (rc == 0 && out_len > 0)
        rc = sbx_buf_put_utf8(&b, out, out_len);
    if (rc == 0 && out_len > 0 && out[out_len - 1] != '\n')
        rc = sbx_buf_put(&b, "\n", 1);
    if (rc == 0)
        rc = sbx_buf_put(&b, "--- stderr ---\n", 15);
    if (rc == 0 && err_len > 0)
        rc = sbx_buf_put_utf8(&b, err, err_len);
    if (rc < 0) {
        free(b.data);
        return rc;
    }
    if (b.len > limit) {
        b.len = sbx_utf8_cut(b.data, b.len, limit - mlen);
        rc = sbx_buf_put(&b, SANDBOX_TRUNCATION_MARKER, mlen);
        if (rc < 0) {
            free(b.data);
            return rc;
        }
    }
    *text = b.data;
    if (len != NULL)
        *len = b.len;
    return 0;
}

int sandbox_format(const sandbox_result *res, size_t limit, char **text,
                   size_t *len)
{
    if (text == NULL)
        return SANDBOX_EINVAL;
    *text = NULL;
    if (res == NULL)
        return SANDBOX_EINVAL;
    if (res->struct_size < SBX_RESULT_MIN_SIZE)
        return SANDBOX_EABI;
    if (limit == 0)
        limit = SANDBOX_DEFAULT_OUTPUT_LIMIT;
    return sbx_format_text(res->exit_code, res->out.data, res->out.len,
                           res->err.data, res->err.len, limit, text, len);
}

int sandbox_utf8_sanitize(const char *s, size_t n, char **out, size_t *out_len)
{
    if (out == NULL || (s == NULL && n > 0))
        return SANDBOX_EINVAL;
    sbx_buf b = {0};
    int rc = sbx_buf_put(&b, "", 0);
    if (rc == 0)
        rc = sbx_buf_put_utf8(&b, s, n);
    if (rc < 0) {
        free(b.data);
        *out = NULL;
        return rc;
    }
    *out = b.data;
    if (out_len != NULL)
        *out_len = b.len;
    return 0;
}
