/* SPDX-License-Identifier: MIT */
/*
 * sign.c: signed scorecards (Ed25519 through OpenSSL's EVP: EVP_PKEY_ED25519,
 * EVP_DigestSign / EVP_DigestVerify; see docs/dependencies.md).
 *
 * A scorecard is one line: the canonical JSON (compact, keys sorted) of
 *   {"kind": "sandbox-bench-scorecard", ..., "signature": {"alg": "ed25519",
 *    "public_key": <hex of the 32-byte key>, "value": <hex of 64 bytes>}}
 * followed by one newline.  The signature covers the canonical JSON of the
 * same object without "signature".  verify insists that the file is
 * exactly that canonical line, so any changed byte -- inside a value, in
 * the layout, in the signature -- is rejected, and says which check failed.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define SIGN_KEY_FILE "scorecard-key.pem"
#define SIGN_PUB_FILE "scorecard-key.pub.pem"

static void hexify(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Strict lowercase hex of exactly n bytes. */
static int unhex(const char *s, unsigned char *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                         : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

static const char *ossl_why(void)
{
    static __thread char buf[256];
    unsigned long code = ERR_get_error();
    if (!code)
        return "no detail from OpenSSL";
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

int sign_keygen(const char *dir, char **priv_out, char **pub_out, bench_err *e)
{
    if (mkdir_p(dir, e) != 0)
        return -1;
    char *priv = path_join(dir, SIGN_KEY_FILE);
    char *pub = path_join(dir, SIGN_PUB_FILE);
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    int rc = -1, fd = -1;
    FILE *f = NULL;
    if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_keygen(ctx, &key) <= 0) {
        bench_seterr(e, "cannot generate an Ed25519 key: %s", ossl_why());
        goto out;
    }
    fd = open(priv, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        bench_seterr(e, "cannot create %s: %s%s", priv, strerror(errno),
                     errno == EEXIST ? "; fix: a key is already there -- "
                                       "keep it, or remove it to make a new one"
                                     : "");
        goto out;
    }
    fchmod(fd, 0600);
    f = fdopen(fd, "w");
    if (!f) {
        bench_seterr(e, "cannot write %s: %s", priv, strerror(errno));
        goto out;
    }
    fd = -1;
    if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1) {
        bench_seterr(e, "cannot write %s: %s", priv, ossl_why());
        goto out;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        bench_seterr(e, "cannot write %s: %s", priv, strerror(errno));
        goto out;
    }
    fclose(f);
    f = NULL;
    int pfd =
        open(pub, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    f = pfd >= 0 ? fdopen(pfd, "w") : NULL;
    if (!f) {
        if (pfd >= 0)
            close(pfd);
        bench_seterr(e, "cannot create %s: %s", pub, strerror(errno));
        goto out;
    }
    if (PEM_write_PUBKEY(f, key) != 1 || fflush(f) != 0) {
        bench_seterr(e, "cannot write %s: %s", pub, ossl_why());
        goto out;
    }
    rc = 0;
    if (priv_out) {
        *priv_out = priv;
        priv = NULL;
    }
    if (pub_out) {
        *pub_out = pub;
        pub = NULL;
    }
out:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    free(priv);
    free(pub);
    return rc;
}

static EVP_PKEY *load_key(const char *path, int private, bench_err *e)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        bench_seterr(e, "cannot open key %s: %s%s", path, strerror(errno),
                     errno == ENOENT ? "; fix: make one with `sandbox-bench "
                                       "key gen DIR`"
                                     : "");
        return NULL;
    }
    EVP_PKEY *k = private ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
                          : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) {
        bench_seterr(e,
                     "%s is not a PEM %s key: %s; fix: pass the %s written by "
                     "`sandbox-bench key gen`",
                     path, private ? "private" : "public", ossl_why(),
                     private ? SIGN_KEY_FILE : SIGN_PUB_FILE);
        return NULL;
    }
    if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        bench_seterr(e,
                     "%s is not an Ed25519 key; fix: use `sandbox-bench "
                     "key gen`",
                     path);
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

static int raw_pub_hex(EVP_PKEY *k, char hex[65])
{
    unsigned char raw[32];
    size_t n = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(k, raw, &n) != 1 || n != 32)
        return -1;
    hexify(raw, 32, hex);
    return 0;
}

int scorecard_sign(json_t *card, const char *key_path, char **text,
                   bench_err *e)
{
    EVP_PKEY *k = load_key(key_path, 1, e);
    if (!k)
        return -1;
    json_object_del(card, "signature");
    char *msg = json_dumps(card, JSON_COMPACT | JSON_SORT_KEYS);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t sl = sizeof sig;
    int rc = -1;
    char pub[65], sighex[129];
    if (!msg || !ctx || raw_pub_hex(k, pub) != 0 ||
        EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
        EVP_DigestSign(ctx, sig, &sl, (const unsigned char *)msg,
                       strlen(msg)) != 1 ||
        sl != 64) {
        bench_seterr(e, "cannot sign a scorecard with %s: %s", key_path,
                     ossl_why());
        goto out;
    }
    hexify(sig, 64, sighex);
    json_object_set_new(card, "signature",
                        json_pack("{s:s,s:s,s:s}", "alg", "ed25519",
                                  "public_key", pub, "value", sighex));
    char *line = json_dumps(card, JSON_COMPACT | JSON_SORT_KEYS);
    *text = xasprintf("%s\n", line);
    free(line);
    rc = 0;
out:
    free(msg);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return rc;
}

int scorecard_verify(const char *data, size_t len, const char *pub_path,
                     bench_err *e)
{
    if (len == 0 || data[len - 1] != '\n' ||
        memchr(data, '\n', len - 1) != NULL) {
        bench_seterr(e, "REJECTED: not one line ending in a newline (the "
                        "card was changed)");
        return -1;
    }
    json_error_t je;
    json_t *card = json_loadb(data, len - 1, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(card)) {
        bench_seterr(e,
                     "REJECTED: not a JSON object (%s at byte %d): the "
                     "card was changed",
                     je.text, je.position);
        json_decref(card);
        return -1;
    }
    int rc = -1;
    EVP_PKEY *k = NULL;
    EVP_MD_CTX *ctx = NULL;
    char *canon = json_dumps(card, JSON_COMPACT | JSON_SORT_KEYS);
    char *msg = NULL;
    if (!canon || strlen(canon) != len - 1 ||
        memcmp(canon, data, len - 1) != 0) {
        size_t i = 0;
        while (canon && i < len - 1 && canon[i] == data[i])
            i++;
        bench_seterr(e,
                     "REJECTED: not in canonical form (byte %zu differs): "
                     "the card was changed after signing",
                     i);
        goto out;
    }
    if (strcmp(json_string_value(json_object_get(card, "kind"))
                   ? json_string_value(json_object_get(card, "kind"))
                   : "",
               "sandbox-bench-scorecard") != 0) {
        bench_seterr(e, "REJECTED: \"kind\" is not sandbox-bench-scorecard");
        goto out;
    }
    json_t *sg = json_object_get(card, "signature");
    const char *alg = json_string_value(json_object_get(sg, "alg"));
    const char *pk = json_string_value(json_object_get(sg, "public_key"));
    const char *val = json_string_value(json_object_get(sg, "value"));
    unsigned char sig[64], raw[32];
    if (!alg || strcmp(alg, "ed25519") != 0 || unhex(pk, raw, 32) != 0 ||
        unhex(val, sig, 64) != 0) {
        bench_seterr(e, "REJECTED: the \"signature\" object is malformed "
                        "(alg ed25519, public_key 64 and value 128 lowercase "
                        "hex digits)");
        goto out;
    }
    k = load_key(pub_path, 0, e);
    if (!k)
        goto out;
    char want[65];
    if (raw_pub_hex(k, want) != 0 || strcmp(want, pk) != 0) {
        bench_seterr(e,
                     "REJECTED: signed by another key (card %.16s..., %s "
                     "is %.16s...)",
                     pk, pub_path, want);
        goto out;
    }
    json_t *body = json_deep_copy(card);
    json_object_del(body, "signature");
    msg = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    ctx = EVP_MD_CTX_new();
    if (!msg || !ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) != 1) {
        bench_seterr(e, "cannot verify: %s", ossl_why());
        goto out;
    }
    if (EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg,
                         strlen(msg)) != 1) {
        ERR_clear_error();
        bench_seterr(e, "REJECTED: the Ed25519 signature does not match: the "
                        "card was changed after signing");
        goto out;
    }
    rc = 0;
out:
    free(canon);
    free(msg);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    json_decref(card);
    return rc;
}

int scorecard_verify_file(const char *path, const char *pub_path, bench_err *e)
{
    char *data = NULL;
    size_t len = 0;
    if (read_file(path, &data, &len, e) != 0)
        return -1;
    int rc = scorecard_verify(data, len, pub_path, e);
    free(data);
    return rc;
}

/* sha256 over the hashes of the log lines of one candidate's runs in one
 * evaluation, in log order; *count gets how many. */
static int log_records_digest(const char *log_path, const char *eval_id,
                              const char *label, char hex[65], int *count)
{
    char *data = NULL;
    size_t len = 0;
    bench_err ig;
    *count = 0;
    if (read_file(log_path, &data, &len, &ig) != 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < len;) {
        const char *end = memchr(data + i, '\n', len - i);
        size_t ll = end ? (size_t)(end - (data + i)) : len - i;
        json_t *j = json_loadb(data + i, ll, 0, NULL);
        const char *ev = json_string_value(json_object_get(j, "eval_id"));
        const char *cl = json_string_value(json_object_get(j, "candidate"));
        const char *kd = json_string_value(json_object_get(j, "kind"));
        if (ev && cl && kd && !strcmp(kd, "evaluation") &&
            !strcmp(ev, eval_id) && !strcmp(cl, label)) {
            char h[65];
            audit_line_hash(data + i, ll, h);
            EVP_DigestUpdate(ctx, h, 64);
            EVP_DigestUpdate(ctx, "\n", 1);
            (*count)++;
        }
        json_decref(j);
        i += ll + 1;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mn = 0;
    EVP_DigestFinal_ex(ctx, md, &mn);
    EVP_MD_CTX_free(ctx);
    hexify(md, 32, hex);
    free(data);
    return 0;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int scorecards_write(json_t *results, const char *eval_dir,
                     const char *log_path, const char *key_path, bench_err *e)
{
    char *dir = path_join(eval_dir, "scorecards");
    if (mkdir_p(dir, e) != 0) {
        free(dir);
        return -1;
    }
    char **probs = NULL;
    size_t np = 0;
    uint64_t nrec = 0, head_seq = 0;
    char head[65];
    if (audit_verify(log_path, &probs, &np, &nrec, &head_seq, head, e) < 0) {
        free(dir);
        return -1;
    }
    free_strv(probs, np);
    if (np) {
        bench_seterr(e,
                     "%s fails its own chain check (%zu problem%s); fix: "
                     "run `sandbox-bench verify %s` -- no scorecard is "
                     "signed over a damaged log",
                     log_path, np, np == 1 ? "" : "s", log_path);
        free(dir);
        return -1;
    }
    json_t *cands = json_object_get(results, "candidates");
    json_t *cj;
    size_t i;
    int rc = 0;
    json_t *cards = json_array();
    json_array_foreach(cands, i, cj)
    {
        const char *label = jstr(cj, "label");
        char lh[65];
        int count = 0;
        log_records_digest(log_path, jstr(results, "eval_id"), label, lh,
                           &count);
        json_t *card = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, "
            "s:O, s:{s:s, s:i, s:s, s:I, s:s}}",
            "kind", "sandbox-bench-scorecard", "harness_version", BENCH_VERSION,
            "task", jstr(results, "task"), "eval_id", jstr(results, "eval_id"),
            "candidate", label, "candidate_sha256",
            json_object_get(cj, "sha256"), "suite_sha256",
            json_object_get(results, "suite_sha256"), "task_sha256",
            json_object_get(results, "task_sha256")
                ? json_object_get(results, "task_sha256")
                : json_null(),
            "image_id",
            json_object_get(results, "image_id")
                ? json_object_get(results, "image_id")
                : json_null(),
            "backend",
            json_object_get(results, "backend")
                ? json_object_get(results, "backend")
                : json_null(),
            "libsandbox", json_object_get(results, "libsandbox"), "seed",
            json_object_get(results, "seed") ? json_object_get(results, "seed")
                                             : json_null(),
            "result", json_object_get(cj, "summary"), "log", "records_sha256",
            lh, "records", count, "head_sha256", head, "head_seq",
            (json_int_t)head_seq, "file", "log.jsonl");
        if (!card) {
            bench_seterr(e, "internal: cannot build the scorecard of %s",
                         label);
            rc = -1;
            break;
        }
        char *text = NULL;
        if (scorecard_sign(card, key_path, &text, e) != 0) {
            json_decref(card);
            rc = -1;
            break;
        }
        char *fn = xstrdup(label);
        for (char *p = fn; *p; p++)
            if (*p == '/' || !valid_name((char[]){*p, 0}))
                *p = '_';
        char *path = xasprintf("%s/%s.json", dir, fn);
        free(fn);
        rc = write_file(path, text, strlen(text), e);
        char ch[65];
        digest_bytes(text, strlen(text), ch);
        json_array_append_new(cards,
                              json_pack("{s:s,s:s,s:s}", "candidate", label,
                                        "path", path, "sha256", ch));
        /* the card's digest goes into the chain too */
        json_t *rec =
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", "scorecard",
                      "eval_id", jstr(results, "eval_id"), "candidate", label,
                      "card_sha256", ch, "time", "");
        static const char *const prov[] = {
            "image_id",    "backend", "libsandbox", "suite_sha256",
            "task_sha256", "seed",    "task",       NULL};
        for (size_t k = 0; prov[k]; k++) {
            json_t *v = json_object_get(results, prov[k]);
            json_object_set(rec, prov[k], v ? v : json_null());
        }
        char *ts = iso_time(now_wall());
        json_object_set_new(rec, "time", json_string(ts));
        free(ts);
        if (rc == 0)
            rc = audit_append(log_path, rec, NULL, NULL, e);
        json_decref(rec);
        free(path);
        free(text);
        json_decref(card);
        if (rc != 0)
            break;
    }
    if (rc == 0)
        json_object_set_new(results, "scorecards", cards);
    else
        json_decref(cards);
    free(dir);
    return rc;
}
