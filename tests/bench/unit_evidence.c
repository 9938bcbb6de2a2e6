/* SPDX-License-Identifier: MIT */
/* Unit tests of the bench's evidence: the audit log's hash chain (a
 * changed, removed, inserted and reordered line are each found and named;
 * concurrent processes keep one chain), signed scorecards (a good card
 * verifies, every single flipped byte is rejected, another key is
 * rejected), safe capture (no symlink followed, no host byte copied,
 * .git refused, special files skipped, caps) and the replay diff. */
#include "bench.h"

#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/unit-evidence-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static void put(const char *path, const char *text)
{
    bench_err e;
    ck_assert_int_eq(write_file(path, text, strlen(text), &e), 0);
}

/* ---- the chain ---------------------------------------------------------- */

/* A log of n records; its lines in *lines (free_strv). */
static char *make_log(const char *dir, int n, char ***lines, size_t *nl)
{
    char *log = path_join(dir, "log.jsonl");
    unlink(log);
    bench_err e;
    for (int i = 0; i < n; i++) {
        json_t *r = json_pack("{s:s, s:i, s:s}", "kind", "evaluation", "n", i,
                              "candidate", "c");
        ck_assert_int_eq(audit_append(log, r, NULL, NULL, &e), 0);
        json_decref(r);
    }
    char *data;
    size_t len;
    ck_assert_int_eq(read_file(log, &data, &len, &e), 0);
    *lines = NULL;
    *nl = 0;
    char *save = NULL;
    for (char *l = strtok_r(data, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        *lines = xrealloc(*lines, (*nl + 1) * sizeof **lines);
        (*lines)[(*nl)++] = xstrdup(l);
    }
    free(data);
    return log;
}

static void dump(char **probs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  problem: %s\n", probs[i]);
}

/* Verify the lines given (joined with newlines); the problems (also on
 * stderr). */
static size_t verify_lines(char **lines, size_t n, char ***probs)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += strlen(lines[i]) + 1;
    char *buf = xcalloc(1, cap);
    for (size_t i = 0; i < n; i++) {
        strcat(buf, lines[i]);
        strcat(buf, "\n");
    }
    size_t np = 0;
    uint64_t nrec, head_seq;
    char head[65];
    audit_verify_buffer(buf, strlen(buf), probs, &np, &nrec, &head_seq, head);
    free(buf);
    dump(*probs, np);
    return np;
}

/* make_log's directory, log and lines, all gone. */
static void free_log(char *dir, char *log, char **lines, size_t n)
{
    free_strv(lines, n);
    free(log);
    rm_rf(dir);
    free(dir);
}

static int has(char **probs, size_t n, const char *a, const char *b)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(probs[i], a) && (!b || strstr(probs[i], b)))
            return 1;
    return 0;
}

/* verify_lines finds a problem naming a (and b, unless NULL); with only,
 * that one alone. */
static void assert_problem(char **lines, size_t n, bool only, const char *a,
                           const char *b)
{
    char **probs;
    size_t np = verify_lines(lines, n, &probs);
    if (only)
        ck_assert_uint_eq(np, 1);
    ck_assert_msg(has(probs, np, a, b), "no problem names '%s' / '%s'", a,
                  b ? b : "-");
    free_strv(probs, np);
}

START_TEST(chain_intact)
{
    char *dir = tmpdir_new();
    char **lines;
    size_t n;
    char *log = make_log(dir, 10, &lines, &n);
    ck_assert_uint_eq(n, 10);
    char **probs;
    size_t np = verify_lines(lines, n, &probs);
    ck_assert_uint_eq(np, 0);
    free_strv(probs, np);
    /* the file API agrees, and reports the head */
    bench_err e;
    uint64_t nrec, hs;
    char head[65], want[65];
    ck_assert_int_eq(audit_verify(log, &probs, &np, &nrec, &hs, head, &e), 0);
    ck_assert_uint_eq(hs, 10);
    audit_line_hash(lines[9], strlen(lines[9]), want);
    ck_assert_str_eq(head, want);
    free_strv(probs, np);
    free_log(dir, log, lines, n);
}
END_TEST

START_TEST(chain_changed_line)
{
    char *dir = tmpdir_new();
    char **lines;
    size_t n;
    char *log = make_log(dir, 10, &lines, &n);
    /* change line 4's content, keeping it canonical JSON */
    char *p = strstr(lines[3], "\"n\":3");
    ck_assert_ptr_nonnull(p);
    p[4] = '7';
    assert_problem(lines, n, true, "line 4 (seq 4): changed", "line 5");
    /* a sloppy edit (spaces) is caught on the line itself */
    free(lines[3]);
    lines[3] = xstrdup("{\"candidate\": \"c\"}");
    assert_problem(lines, n, false, "line 4:", "not a log record");
    free_log(dir, log, lines, n);
}
END_TEST

START_TEST(chain_removed_line)
{
    char *dir = tmpdir_new();
    char **lines;
    size_t n;
    char *log = make_log(dir, 10, &lines, &n);
    free(lines[5]); /* seq 6 */
    memmove(&lines[5], &lines[6], 4 * sizeof *lines);
    n--;
    assert_problem(lines, n, true, "seq 6 is missing between line 5 and line 6",
                   "removed");
    /* removing the first line is named too */
    free(lines[0]);
    memmove(&lines[0], &lines[1], (n - 1) * sizeof *lines);
    n--;
    assert_problem(lines, n, false, "seq 1 is missing before line 1",
                   "removed");
    free_log(dir, log, lines, n);
}
END_TEST

START_TEST(chain_inserted_line)
{
    char *dir = tmpdir_new();
    char **lines;
    size_t n;
    char *log = make_log(dir, 10, &lines, &n);
    /* a forged record copied from line 3 and edited, put after line 7 */
    lines = xrealloc(lines, (n + 1) * sizeof *lines);
    memmove(&lines[8], &lines[7], 3 * sizeof *lines);
    lines[7] = xstrdup(lines[2]);
    n++;
    assert_problem(lines, n, true, "line 8: seq 3 repeats line 3", "inserted");
    /* a line that is no record at all */
    free(lines[7]);
    lines[7] = xstrdup("{\"kind\":\"evaluation\",\"passed\":43}");
    assert_problem(lines, n, false, "line 8:", "inserted");
    free_log(dir, log, lines, n);
}
END_TEST

START_TEST(chain_reordered_lines)
{
    char *dir = tmpdir_new();
    char **lines;
    size_t n;
    char *log = make_log(dir, 10, &lines, &n);
    char *x = lines[3]; /* swap seq 4 and seq 5 */
    lines[3] = lines[4];
    lines[4] = x;
    char **probs;
    size_t np = verify_lines(lines, n, &probs);
    ck_assert_uint_eq(np, 1);
    ck_assert(has(probs, np, "out of order: reordered", NULL));
    ck_assert(has(probs, np, "line 4 (seq 5)", NULL) ||
              has(probs, np, "line 5 (seq 4)", NULL));
    free_strv(probs, np);
    free_log(dir, log, lines, n);
}
END_TEST

START_TEST(chain_concurrent_processes)
{
    /* no heap blocks across fork: valgrind checks each child's leaks */
    char dir[] = "/tmp/unit-evidence-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char log[sizeof dir + 16];
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            for (int i = 0; i < 50; i++) {
                bench_err e;
                json_t *r = json_pack("{s:i,s:i}", "writer", k, "i", i);
                if (audit_append(log, r, NULL, NULL, &e) != 0)
                    _exit(1);
                json_decref(r);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < 4; k++) {
        int st;
        ck_assert_int_eq(waitpid(kids[k], &st, 0), kids[k]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char **probs;
    size_t np;
    uint64_t nrec, hs;
    char head[65];
    bench_err e;
    ck_assert_int_eq(audit_verify(log, &probs, &np, &nrec, &hs, head, &e), 0);
    dump(probs, np);
    ck_assert_uint_eq(np, 0);
    ck_assert_uint_eq(nrec, 200);
    ck_assert_uint_eq(hs, 200);
    free_strv(probs, np);
    rm_rf(dir);
}
END_TEST

/* ---- scorecards --------------------------------------------------------- */

START_TEST(scorecard_sign_verify)
{
    char *dir = tmpdir_new();
    char *keys = path_join(dir, "keys");
    bench_err e;
    char *priv = NULL, *pub = NULL;
    ck_assert_int_eq(sign_keygen(keys, &priv, &pub, &e), 0);
    struct stat st;
    ck_assert_int_eq(stat(priv, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    /* a second keygen never overwrites the key */
    ck_assert_int_eq(sign_keygen(keys, NULL, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "already there"));

    json_t *card = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:f, s:i}, s:{s:s, s:I}}", "kind",
        "sandbox-bench-scorecard", "candidate", "model/r1", "candidate_sha256",
        "1a6a4188d0916b78df3a415f717723c40c192fe697c8a073486abf940d89c09e",
        "suite_sha256",
        "17995703c79473a450d466d13fb7ea1c951057caa62a47fbe6de0401fa2b1d27",
        "result", "pass_rate", 0.5, "tests_total", 43, "log", "head_sha256",
        "00ad1dce8f6710edcf5be8a214bc186c37dacb8bd78a9b873d88bded225b9fde",
        "head_seq", (json_int_t)12);
    char *text = NULL;
    ck_assert_int_eq(scorecard_sign(card, priv, &text, &e), 0);
    size_t len = strlen(text);
    ck_assert_int_eq(scorecard_verify(text, len, pub, &e), 0);

    /* every single flipped byte is rejected */
    char *copy = xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 7) { /* low and high bit */
            memcpy(copy, text, len + 1);
            copy[i] = (char)(copy[i] ^ (1 << bit));
            bench_err ve = {""};
            int rc = scorecard_verify(copy, len, pub, &ve);
            ck_assert_msg(rc != 0, "byte %zu bit %d flipped: accepted", i, bit);
            ck_assert_msg(strstr(ve.msg, "REJECTED") != NULL,
                          "byte %zu: unclear message: %s", i, ve.msg);
        }
    }
    /* a dropped or an added byte too */
    ck_assert_int_ne(scorecard_verify(text, len - 1, pub, &e), 0);
    char *longer = xasprintf("%s\n", text);
    ck_assert_int_ne(scorecard_verify(longer, len + 1, pub, &e), 0);
    free(longer);
    /* the weakened check (re-serialise, ignore layout) would accept a
     * changed byte: the strict canonical check is what catches it */
    {
        const char *p = strstr(text, "\"candidate\":");
        ck_assert_ptr_nonnull(p);
        size_t off = (size_t)(p - text) + strlen("\"candidate\":");
        char *spaced = xasprintf("%.*s %s", (int)off, text, text + off);
        json_t *j = json_loadb(spaced, strlen(spaced) - 1, 0, NULL);
        ck_assert_ptr_nonnull(j); /* still the same JSON ... */
        json_decref(j);
        ck_assert_int_ne(scorecard_verify(spaced, strlen(spaced), pub, &e),
                         0); /* ... but not the signed bytes */
        ck_assert_ptr_nonnull(strstr(e.msg, "canonical"));
        free(spaced);
    }
    /* another key */
    char *keys2 = path_join(dir, "keys2");
    char *pub2 = NULL;
    ck_assert_int_eq(sign_keygen(keys2, NULL, &pub2, &e), 0);
    ck_assert_int_ne(scorecard_verify(text, len, pub2, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "another key"));
    /* a file path */
    char *cp = path_join(dir, "card.json");
    put(cp, text);
    ck_assert_int_eq(scorecard_verify_file(cp, pub, &e), 0);
    free(cp);
    free(pub2);
    free(keys2);
    free(copy);
    free(text);
    json_decref(card);
    free(priv);
    free(pub);
    free(keys);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- capture ------------------------------------------------------------ */

static int tree_contains(const char *dir, const char *needle)
{
    char **files;
    size_t n;
    bench_err e;
    ck_assert_int_eq(list_files(dir, NULL, &files, &n, &e), 0);
    int hit = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = path_join(dir, files[i]);
        char *d;
        size_t l;
        if (read_file(p, &d, &l, &e) == 0) {
            if (memmem(d, l, needle, strlen(needle)))
                hit = 1;
            free(d);
        }
        free(p);
    }
    free_strv(files, n);
    return hit;
}

START_TEST(capture_no_symlink_followed)
{
    char *dir = tmpdir_new();
    char *secret = path_join(dir, "secret.txt");
    put(secret, "HOST-SECRET-7f3a\n");
    char *wt = path_join(dir, "wt");
    bench_err e;
    ck_assert_int_eq(mkdir_p(wt, &e), 0);
    char *p;
    p = path_join(wt, "ok.py");
    put(p, "print('hi')\n");
    free(p);
    p = path_join(wt, "link");
    ck_assert_int_eq(symlink(secret, p), 0);
    free(p);
    p = path_join(wt, "hostdir");
    ck_assert_int_eq(symlink(dir, p), 0);
    free(p);
    p = path_join(wt, ".git");
    ck_assert_int_eq(mkdir_p(p, &e), 0);
    char *cfg = path_join(p, "config");
    put(cfg, "[core]\n\tfsmonitor = touch /tmp/pwned\n");
    free(cfg);
    free(p);
    p = path_join(wt, "fifo");
    ck_assert_int_eq(mkfifo(p, 0644), 0);
    free(p);
    p = path_join(wt, "big.bin");
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    put(p, big);
    free(p);
    p = path_join(wt, "PROMPT.md");
    put(p, "the prompt\n");
    free(p);

    /* without the protection: the old copy (stat + read) follows the link */
    {
        char *lp = path_join(wt, "link");
        char *d;
        size_t l;
        ck_assert_int_eq(read_file(lp, &d, &l, &e), 0);
        ck_assert_ptr_nonnull(strstr(d, "HOST-SECRET"));
        free(d);
        free(lp);
    }

    char *dst = path_join(dir, "files");
    capture_limits lim = {4096, 1 << 20, 100};
    const char *skip[] = {"PROMPT.md", NULL};
    json_t *rep = NULL;
    int too_large = 0;
    ck_assert_int_eq(capture_tree(wt, dst, &lim, skip, &rep, &too_large, &e),
                     0);
    char *s = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(stderr, "capture: %s\n", s);
    ck_assert(!tree_contains(dst, "HOST-SECRET"));
    ck_assert(!strstr(s, "HOST-SECRET"));
    ck_assert_ptr_nonnull(strstr(s, "{\"path\":\"link\",\"target\":\""));
    ck_assert_ptr_nonnull(strstr(s, "\"path\":\"hostdir\""));
    ck_assert_ptr_nonnull(strstr(s, "\"refused\":[{\"path\":\".git\""));
    ck_assert_ptr_nonnull(strstr(s, "\"path\":\"fifo\""));
    ck_assert_ptr_nonnull(strstr(s, "per-file cap"));
    ck_assert_int_eq(too_large, 1);
    p = path_join(dst, "ok.py");
    ck_assert(path_is_file(p));
    free(p);
    p = path_join(dst, "PROMPT.md");
    ck_assert(!path_is_file(p));
    free(p);
    p = path_join(dst, ".git");
    struct stat st;
    ck_assert_int_ne(lstat(p, &st), 0);
    free(p);
    p = path_join(dst, "link");
    ck_assert_int_ne(lstat(p, &st), 0);
    free(p);
    free(s);
    json_decref(rep);

    /* read_beneath: a symlink anywhere on the path is refused */
    char *d = NULL;
    size_t l = 0;
    ck_assert_int_eq(read_beneath(wt, "link", 1 << 20, &d, &l, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "never followed"));
    ck_assert_int_eq(
        read_beneath(wt, "hostdir/secret.txt", 1 << 20, &d, &l, &e), -1);
    ck_assert_int_eq(read_beneath(wt, "../secret.txt", 1 << 20, &d, &l, &e),
                     -1);
    ck_assert_int_eq(read_beneath(wt, "nope.md", 1 << 20, &d, &l, &e), 1);
    ck_assert_int_eq(read_beneath(wt, "big.bin", 100, &d, &l, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "cap"));
    ck_assert_int_eq(read_beneath(wt, "ok.py", 100, &d, &l, &e), 0);
    ck_assert_str_eq(d, "print('hi')\n");
    free(d);

    /* copy_tree (evaluate's scratch copy) leaves symlinks out too */
    char *scratch = path_join(dir, "scratch");
    ck_assert_int_eq(copy_tree(wt, scratch, &e), 0);
    p = path_join(scratch, "link");
    ck_assert_int_ne(lstat(p, &st), 0);
    free(p);
    free(scratch);
    free(dst);
    free(wt);
    free(secret);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- replay diff -------------------------------------------------------- */

START_TEST(replay_diff_names_verdicts)
{
    const char *a =
        "{\"candidates\":[{\"label\":\"m/r1\",\"tests\":{\"t::a\":{"
        "\"verdicts\":[\"passed\"]},\"t::b\":{\"verdicts\":[\"failed\"]}},"
        "\"runs\":[{\"status\":\"completed\"}]}]}";
    const char *b =
        "{\"candidates\":[{\"label\":\"m/r1\",\"tests\":{\"t::a\":{"
        "\"verdicts\":[\"passed\"]},\"t::b\":{\"verdicts\":[\"passed\"]}},"
        "\"runs\":[{\"status\":\"completed\"}]}]}";
    json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
    char **d;
    size_t n;
    ck_assert_int_eq(results_diff(ja, ja, &d, &n), 0);
    ck_assert_uint_eq(n, 0);
    free_strv(d, n);
    ck_assert_int_eq(results_diff(ja, jb, &d, &n), 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(d[0], "m/r1: test t::b was"));
    free_strv(d, n);
    json_decref(ja);
    json_decref(jb);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("evidence");
    TCase *tc = tcase_create("chain");
    tcase_add_test(tc, chain_intact);
    tcase_add_test(tc, chain_changed_line);
    tcase_add_test(tc, chain_removed_line);
    tcase_add_test(tc, chain_inserted_line);
    tcase_add_test(tc, chain_reordered_lines);
    tcase_add_test(tc, chain_concurrent_processes);
    suite_add_tcase(s, tc);
    tc = tcase_create("sign");
    tcase_add_test(tc, scorecard_sign_verify);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("capture");
    tcase_add_test(tc, capture_no_symlink_followed);
    tcase_add_test(tc, replay_diff_names_verdicts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
