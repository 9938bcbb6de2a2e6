/* SPDX-License-Identifier: MIT */
/* The contract's text form: sbx_format_text, sandbox_format,
 * sandbox_utf8_sanitize, sbx_utf8_cut.  Expected UTF-8 repairs were computed
 * with python3 -c 'print(b"...".decode("utf-8","replace").encode())'. */
#include "internal.h"
#include "test_util.h"

#include <errno.h>
#include <limits.h>

#define FFFD "\xef\xbf\xbd"
#define MARKER SANDBOX_TRUNCATION_MARKER
#define MLEN (sizeof MARKER - 1)

/* Format and compare the whole text, length included (NULs allowed). */
static void check_text(int code, const char *out, size_t out_len,
                       const char *err, size_t err_len, size_t limit,
                       const char *want, size_t want_len)
{
    char *text = (char *)1;
    size_t len = 12345;
    int rc =
        sbx_format_text(code, out, out_len, err, err_len, limit, &text, &len);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(len == want_len && memcmp(text, want, want_len) == 0,
                  "got %zu bytes '%s', want %zu bytes '%s'", len, text,
                  want_len, want);
    ck_assert_int_eq(text[len], '\0');
    free(text);
}

#define CHECK_TEXT(code, out, err, want)                                       \
    check_text(code, out, sizeof out - 1, err, sizeof err - 1, 50000, want,    \
               sizeof want - 1)

/* ---- header and newline rules ----------------------------------------- */

START_TEST(test_empty)
{
    CHECK_TEXT(0, "", "", "exit=0\n--- stdout ---\n--- stderr ---\n");
    /* NULL data with zero length is fine too. */
    check_text(0, NULL, 0, NULL, 0, 50000,
               "exit=0\n--- stdout ---\n--- stderr ---\n", 37);
}
END_TEST

START_TEST(test_stdout_newline_added)
{
    CHECK_TEXT(0, "hi", "", "exit=0\n--- stdout ---\nhi\n--- stderr ---\n");
}
END_TEST

START_TEST(test_stdout_newline_kept)
{
    CHECK_TEXT(0, "hi\n", "", "exit=0\n--- stdout ---\nhi\n--- stderr ---\n");
    CHECK_TEXT(0, "\n", "", "exit=0\n--- stdout ---\n\n--- stderr ---\n");
}
END_TEST

START_TEST(test_stdout_double_newline)
{
    CHECK_TEXT(0, "hi\n\n", "",
               "exit=0\n--- stdout ---\nhi\n\n--- stderr ---\n");
}
END_TEST

START_TEST(test_stderr_as_is)
{
    CHECK_TEXT(1, "", "oops", "exit=1\n--- stdout ---\n--- stderr ---\noops");
    CHECK_TEXT(1, "", "oops\n",
               "exit=1\n--- stdout ---\n--- stderr ---\noops\n");
    CHECK_TEXT(2, "a", "b\n\n",
               "exit=2\n--- stdout ---\na\n--- stderr ---\nb\n\n");
}
END_TEST

START_TEST(test_exit_codes)
{
    CHECK_TEXT(-1, "", "", "exit=-1\n--- stdout ---\n--- stderr ---\n");
    CHECK_TEXT(124, "", "", "exit=124\n--- stdout ---\n--- stderr ---\n");
    CHECK_TEXT(255, "", "", "exit=255\n--- stdout ---\n--- stderr ---\n");
    CHECK_TEXT(INT_MAX, "", "",
               "exit=2147483647\n--- stdout ---\n--- stderr ---\n");
    CHECK_TEXT(INT_MIN, "", "",
               "exit=-2147483648\n--- stdout ---\n--- stderr ---\n");
}
END_TEST

START_TEST(test_nul_preserved)
{
    static const char out[] = "a\0b";
    static const char err[] = "\0";
    static const char want[] =
        "exit=0\n--- stdout ---\na\0b\n--- stderr ---\n\0";
    check_text(0, out, 3, err, 1, 50000, want, sizeof want - 1);
}
END_TEST

START_TEST(test_invalid_utf8_in_streams)
{
    /* stdout ending in an invalid byte still gets its newline. */
    CHECK_TEXT(0, "x\xff", "\xe2\x82",
               "exit=0\n--- stdout ---\nx" FFFD "\n--- stderr ---\n" FFFD);
    /* a valid multi-byte character passes through unchanged */
    CHECK_TEXT(0, "\xe2\x82\xac", "\xf0\x9f\x98\x80",
               "exit=0\n--- stdout ---\n\xe2\x82\xac\n--- stderr ---\n"
               "\xf0\x9f\x98\x80");
}
END_TEST

/* ---- UTF-8 repair (Python's errors="replace") ------------------------- */

static void check_sanitize(const char *in, size_t n, const char *want,
                           size_t want_len)
{
    char *out = NULL;
    size_t len = 999;
    ck_assert_int_eq(sandbox_utf8_sanitize(in, n, &out, &len), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(len == want_len && memcmp(out, want, len) == 0,
                  "sanitize: got %zu bytes, want %zu", len, want_len);
    ck_assert_int_eq(out[len], '\0');
    sandbox_free(out);

    /* The internal appender agrees, and appends. */
    sbx_buf b = {0};
    ck_assert_int_eq(sbx_buf_put(&b, "<", 1), 0);
    ck_assert_int_eq(sbx_buf_put_utf8(&b, in, n), 0);
    ck_assert_uint_eq(b.len, want_len + 1);
    ck_assert_int_eq(memcmp(b.data + 1, want, want_len), 0);
    free(b.data);
}

#define SAN(in, want) check_sanitize(in, sizeof in - 1, want, sizeof want - 1)

START_TEST(test_utf8_cases)
{
    SAN("", "");
    SAN("plain ascii", "plain ascii");
    SAN("\xe2\x82\xac", "\xe2\x82\xac");          /* U+20AC */
    SAN("\xe2\x82", FFFD);                        /* truncated 3 */
    SAN("\xff\xfe", FFFD FFFD);                   /* never valid */
    SAN("\xc0\xaf", FFFD FFFD);                   /* overlong */
    SAN("\xe0\x80\x80", FFFD FFFD FFFD);          /* overlong 3 */
    SAN("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD); /* overlong 4 */
    SAN("\xed\xa0\x80", FFFD FFFD FFFD);          /* surrogate */
    SAN("\xed\x9f\xbf", "\xed\x9f\xbf");          /* U+D7FF ok */
    SAN("ab\xf0\x9f\x98", "ab" FFFD);             /* truncated 4 */
    SAN("\xf0\x9f\x98"
        "a",
        FFFD "a");
    SAN("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");  /* U+10FFFF */
    SAN("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* > U+10FFFF */
    SAN("\xf5\x80", FFFD FFFD);
    SAN("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD);
    SAN("\x80", FFFD); /* lone cont. */
    SAN("a\x80\xbf"
        "b",
        "a" FFFD FFFD "b");
    SAN("\xc2", FFFD);
    SAN("\xc2"
        "A",
        FFFD "A");
    SAN("\xe2(\xa1", FFFD "(" FFFD);
    SAN("\xe1\x80\xe1\x80\x80", FFFD "\xe1\x80\x80");
    SAN("a\0b", "a\0b"); /* NUL kept */
}
END_TEST

START_TEST(test_sanitize_args)
{
    char *out = (char *)1;
    size_t len = 7;
    ck_assert_int_eq(sandbox_utf8_sanitize(NULL, 0, &out, &len), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(len, 0);
    sandbox_free(out);
    ck_assert_int_eq(sandbox_utf8_sanitize(NULL, 3, &out, &len),
                     SANDBOX_EINVAL);
    ck_assert_int_eq(sandbox_utf8_sanitize("x", 1, NULL, &len), SANDBOX_EINVAL);
    /* out_len may be NULL */
    ck_assert_int_eq(sandbox_utf8_sanitize("\xff", 1, &out, NULL), 0);
    ck_assert_str_eq(out, FFFD);
    sandbox_free(out);
}
END_TEST

/* ---- sbx_utf8_cut ------------------------------------------------------ */

START_TEST(test_utf8_cut)
{
    const char *s = "a\xe2\x82\xac"
                    "b"; /* a € b: boundaries 0 1 4 5 */
    ck_assert_uint_eq(sbx_utf8_cut(s, 5, 0), 0);
    ck_assert_uint_eq(sbx_utf8_cut(s, 5, 1), 1);
    ck_assert_uint_eq(sbx_utf8_cut(s, 5, 2), 1);
    ck_assert_uint_eq(sbx_utf8_cut(s, 5, 3), 1);
    ck_assert_uint_eq(sbx_utf8_cut(s, 5, 4), 4);
    ck_assert_uint_eq(sbx_utf8_cut(s, 5, 5), 5);
    ck_assert_uint_eq(sbx_utf8_cut(s, 5, 6), 5);
    ck_assert_uint_eq(sbx_utf8_cut(s, 5, SIZE_MAX), 5);

    const char *e = "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"; /* two emoji */
    ck_assert_uint_eq(sbx_utf8_cut(e, 8, 1), 0);
    ck_assert_uint_eq(sbx_utf8_cut(e, 8, 2), 0);
    ck_assert_uint_eq(sbx_utf8_cut(e, 8, 3), 0);
    ck_assert_uint_eq(sbx_utf8_cut(e, 8, 4), 4);
    ck_assert_uint_eq(sbx_utf8_cut(e, 8, 5), 4);
    ck_assert_uint_eq(sbx_utf8_cut(e, 8, 7), 4);
    ck_assert_uint_eq(sbx_utf8_cut(e, 8, 8), 8);

    const char *c2 = "\xc3\xa9\xc3\xa9"; /* é é */
    ck_assert_uint_eq(sbx_utf8_cut(c2, 4, 1), 0);
    ck_assert_uint_eq(sbx_utf8_cut(c2, 4, 2), 2);
    ck_assert_uint_eq(sbx_utf8_cut(c2, 4, 3), 2);

    ck_assert_uint_eq(sbx_utf8_cut("", 0, 0), 0);
    ck_assert_uint_eq(sbx_utf8_cut("", 0, 10), 0);
    ck_assert_uint_eq(sbx_utf8_cut("abc", 3, 2), 2);
    /* A NUL is a character boundary like any ASCII byte. */
    ck_assert_uint_eq(sbx_utf8_cut("a\0\xc3\xa9", 4, 3), 2);
}
END_TEST

/* ---- truncation -------------------------------------------------------- */

static size_t full_len(const char *out, size_t on, const char *err, size_t en)
{
    char *t = NULL;
    size_t len = 0;
    ck_assert_int_eq(sbx_format_text(0, out, on, err, en, SIZE_MAX, &t, &len),
                     0);
    free(t);
    return len;
}

START_TEST(test_exactly_at_limit)
{
    const char *want = "exit=0\n--- stdout ---\nhello\n--- stderr ---\nbye";
    size_t n = strlen(want);
    ck_assert_uint_eq(full_len("hello", 5, "bye", 3), n);
    check_text(0, "hello", 5, "bye", 3, n, want, n);
    check_text(0, "hello", 5, "bye", 3, n + 1, want, n);
}
END_TEST

START_TEST(test_one_over_limit)
{
    const char *full = "exit=0\n--- stdout ---\nhello\n--- stderr ---\nbye";
    size_t n = strlen(full);
    char *t = NULL;
    size_t len = 0;
    ck_assert_int_eq(sbx_format_text(0, "hello", 5, "bye", 3, n - 1, &t, &len),
                     0);
    ck_assert_uint_le(len, n - 1);
    ck_assert_uint_eq(len, n - 1); /* all ASCII: cut exactly at limit-mlen */
    ck_assert_int_eq(memcmp(t, full, len - MLEN), 0);
    ck_assert_str_eq(t + len - MLEN, MARKER);
    ck_assert_uint_eq(strlen(t), len);
    free(t);
}
END_TEST

START_TEST(test_limit_too_small)
{
    char *t = (char *)1;
    size_t len = 5;
    ck_assert_int_eq(sbx_format_text(0, "", 0, "", 0, MLEN, &t, &len),
                     SANDBOX_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(sbx_format_text(0, "", 0, "", 0, 0, &t, &len),
                     SANDBOX_EINVAL);
    ck_assert_int_eq(sbx_format_text(0, "", 0, "", 0, 1, &t, NULL),
                     SANDBOX_EINVAL);
    /* The smallest usable limit: one byte plus the marker. */
    ck_assert_int_eq(sbx_format_text(0, "", 0, "", 0, MLEN + 1, &t, &len), 0);
    ck_assert_uint_eq(len, MLEN + 1);
    ck_assert_str_eq(t, "e" MARKER);
    free(t);
}
END_TEST

/* Byte offsets where a character starts in the fully formatted text, plus
 * the end: a cut is legal exactly there. */
static bool is_boundary(const char *t, size_t len, size_t k)
{
    return k == len || ((unsigned char)t[k] & 0xC0) != 0x80;
}

/* Streams of 3- and 4-byte characters with every possible misalignment
 * against every limit around the boundary. */
START_TEST(test_truncation_multibyte_sweep)
{
    static const char *const chars[] = {"\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        "\xc3\xa9"};
    for (size_t ci = 0; ci < 3; ci++) {
        size_t cl = strlen(chars[ci]);
        for (size_t pad = 0; pad < 4; pad++) {
            char out[1024];
            size_t on = 0;
            for (size_t i = 0; i < pad; i++)
                out[on++] = 'x';
            while (on + cl <= 300) {
                memcpy(out + on, chars[ci], cl);
                on += cl;
            }
            for (int in_err = 0; in_err < 2; in_err++) {
                const char *o = in_err ? "" : out;
                size_t olen = in_err ? 0 : on;
                const char *er = in_err ? out : "";
                size_t elen = in_err ? on : 0;
                char *full = NULL;
                size_t flen = 0;
                ck_assert_int_eq(sbx_format_text(0, o, olen, er, elen, SIZE_MAX,
                                                 &full, &flen),
                                 0);
                for (size_t limit = 150; limit <= flen + 2; limit++) {
                    char *t = NULL;
                    size_t len = 0;
                    ck_assert_int_eq(
                        sbx_format_text(0, o, olen, er, elen, limit, &t, &len),
                        0);
                    ck_assert_uint_eq(strlen(t), len);
                    if (limit >= flen) {
                        ck_assert_uint_eq(len, flen);
                        ck_assert_int_eq(memcmp(t, full, flen), 0);
                        free(t);
                        continue;
                    }
                    ck_assert_msg(len <= limit, "len %zu > limit %zu", len,
                                  limit);
                    ck_assert_uint_ge(len, MLEN);
                    ck_assert_str_eq(t + len - MLEN, MARKER);
                    size_t body = len - MLEN;
                    /* A prefix of the full text, cut on a boundary ... */
                    ck_assert_int_eq(memcmp(t, full, body), 0);
                    ck_assert_msg(is_boundary(full, flen, body),
                                  "char %zu pad %zu limit %zu: cut at %zu "
                                  "splits a character",
                                  ci, pad, limit, body);
                    /* ... and the longest such prefix that fits. */
                    for (size_t k = body + 1; k <= limit - MLEN; k++)
                        ck_assert_msg(!is_boundary(full, flen, k),
                                      "limit %zu: cut at %zu but %zu fits",
                                      limit, body, k);
                    free(t);
                }
                free(full);
            }
        }
    }
}
END_TEST

START_TEST(test_truncation_big_default)
{
    /* 60000 'a' in stdout: default 50000 limit through sandbox_format. */
    sandbox_result res;
    ck_assert_int_eq(sandbox_result_init(&res, sizeof res), 0);
    res.exit_code = 3;
    res.out.len = 60000;
    res.out.data = malloc(res.out.len + 1);
    memset(res.out.data, 'a', res.out.len);
    res.out.data[res.out.len] = '\0';
    res.err.data = strdup("E");
    res.err.len = 1;
    char *t = NULL;
    size_t len = 0;
    ck_assert_int_eq(sandbox_format(&res, 0, &t, &len), 0);
    ck_assert_uint_eq(len, 50000);
    ck_assert_int_eq(strncmp(t, "exit=3\n--- stdout ---\naaaa", 26), 0);
    ck_assert_str_eq(t + len - MLEN, MARKER);
    ck_assert_ptr_null(strstr(t, "--- stderr ---"));
    sandbox_free(t);

    ck_assert_int_eq(sandbox_format(&res, 100, &t, NULL), 0);
    ck_assert_uint_eq(strlen(t), 100);
    sandbox_free(t);
    sandbox_result_free(&res);
}
END_TEST

START_TEST(test_sandbox_format_api)
{
    sandbox_result res;
    char *t = (char *)1;
    size_t len = 0;
    ck_assert_int_eq(sandbox_result_init(&res, sizeof res), 0);
    /* A fresh result: exit_code -1, no data. */
    ck_assert_int_eq(sandbox_format(&res, 0, &t, &len), 0);
    ck_assert_str_eq(t, "exit=-1\n--- stdout ---\n--- stderr ---\n");
    ck_assert_uint_eq(len, strlen(t));
    sandbox_free(t);

    res.exit_code = 0;
    res.out.data = strdup("\xff"
                          "ok");
    res.out.len = 3;
    res.err.data = strdup("warn\xc0");
    res.err.len = 5;
    ck_assert_int_eq(sandbox_format(&res, 0, &t, NULL), 0);
    ck_assert_str_eq(t, "exit=0\n--- stdout ---\n" FFFD "ok\n--- stderr ---\n"
                        "warn" FFFD);
    sandbox_free(t);

    ck_assert_int_eq(sandbox_format(&res, 5, &t, NULL), SANDBOX_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(sandbox_format(NULL, 0, &t, NULL), SANDBOX_EINVAL);
    ck_assert_int_eq(sandbox_format(&res, 0, NULL, NULL), SANDBOX_EINVAL);
    size_t saved = res.struct_size;
    res.struct_size = 0;
    ck_assert_int_eq(sandbox_format(&res, 0, &t, NULL), SANDBOX_EABI);
    res.struct_size = saved;
    sandbox_result_free(&res);
}
END_TEST

/* Messages may quote the box (a link target, a file name, its stderr): a
 * caller printing one must not have the box act on its terminal.  The raw
 * text, as a naive message would carry it, does hold the escapes (the
 * control); through sbx_fail and sbx_set_message none is left. */
START_TEST(test_messages_terminal_safe)
{
    const char *evil = "a\x1b]0;pwned\x07 b\x1b[2J\r\n\xc2\x9b"
                       "31m \xe2\x80\xae"
                       "cod.exe \xff\xc0\xaf ok \xc3\xa9";
    const char *want = "a\\x1b]0;pwned\\x07 b\\x1b[2J\\x0d\\x0a\\u009b"
                       "31m \\u202e"
                       "cod.exe \\xff\\xc0\\xaf ok \xc3\xa9";
    char naive[256];
    snprintf(naive, sizeof naive, "cannot get %s", evil);
    ck_assert_ptr_nonnull(strchr(naive, '\x1b')); /* the control */

    sbx_err e = {0};
    ck_assert_int_eq(sbx_fail(&e, SANDBOX_EIO, "cannot get %s", evil),
                     SANDBOX_EIO);
    char expect[512];
    snprintf(expect, sizeof expect, "cannot get %s", want);
    ck_assert_str_eq(e.msg, expect);
    sbx_fail_errno(&e, SANDBOX_EIO, ENOENT, "%s", "\x1b[1m");
    ck_assert_str_eq(e.msg, "\\x1b[1m: No such file or directory");

    sandbox_result r;
    sandbox_result_init(&r, sizeof r);
    sbx_set_message(&r, sbx_asprintf("ended: %s", evil));
    snprintf(expect, sizeof expect, "ended: %s", want);
    ck_assert_str_eq(r.message, expect);
    sandbox_result_free(&r);

    /* cut at a whole piece, never inside an escape or a character */
    char small[8];
    ck_assert_uint_eq(sbx_safe_text(small, sizeof small, "ab\x1b\x1b"), 6);
    ck_assert_str_eq(small, "ab\\x1b");
    ck_assert_uint_eq(sbx_safe_text(small, sizeof small, "abcde\xc3\xa9z"), 7);
    ck_assert_str_eq(small, "abcde\xc3\xa9");
}
END_TEST

static Suite *format_suite(void)
{
    Suite *s = suite_create("format");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_stdout_newline_added);
    tcase_add_test(tc, test_stdout_newline_kept);
    tcase_add_test(tc, test_stdout_double_newline);
    tcase_add_test(tc, test_stderr_as_is);
    tcase_add_test(tc, test_exit_codes);
    tcase_add_test(tc, test_nul_preserved);
    tcase_add_test(tc, test_invalid_utf8_in_streams);
    tcase_add_test(tc, test_sandbox_format_api);
    suite_add_tcase(s, tc);

    tc = tcase_create("utf8");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_utf8_cases);
    tcase_add_test(tc, test_sanitize_args);
    tcase_add_test(tc, test_utf8_cut);
    tcase_add_test(tc, test_messages_terminal_safe);
    suite_add_tcase(s, tc);

    tc = tcase_create("truncation");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_exactly_at_limit);
    tcase_add_test(tc, test_one_over_limit);
    tcase_add_test(tc, test_limit_too_small);
    tcase_add_test(tc, test_truncation_multibyte_sweep);
    tcase_add_test(tc, test_truncation_big_default);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(format_suite());
}
