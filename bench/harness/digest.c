/* SPDX-License-Identifier: MIT */
/* digest.c: sha256 of bytes, files and directory trees (OpenSSL EVP). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

static void to_hex(const unsigned char *md, unsigned n, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n && i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

int digest_bytes(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
        return -1;
    to_hex(md, n, hex);
    return 0;
}

int digest_file(const char *path, char hex[65], bench_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bench_seterr(e, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        bench_seterr(e, "sha256 unavailable (OpenSSL)");
        EVP_MD_CTX_free(ctx);
        close(fd);
        return -1;
    }
    unsigned char buf[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            bench_seterr(e, "cannot read %s: %s", path, strerror(errno));
            rc = -1;
            break;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)r);
    }
    close(fd);
    if (rc == 0) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(ctx, md, &n);
        to_hex(md, n, hex);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

int digest_tree(const char *dir, const char *const *skip, char hex[65],
                bench_err *e)
{
    char **files = NULL;
    size_t n = 0;
    if (list_files(dir, skip, &files, &n, e) != 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        bench_seterr(e, "sha256 unavailable (OpenSSL)");
        EVP_MD_CTX_free(ctx);
        free_strv(files, n);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *p = path_join(dir, files[i]);
        char fh[65];
        rc = digest_file(p, fh, e);
        free(p);
        if (rc == 0) {
            EVP_DigestUpdate(ctx, files[i], strlen(files[i]) + 1);
            EVP_DigestUpdate(ctx, fh, 64);
            EVP_DigestUpdate(ctx, "\n", 1);
        }
    }
    if (rc == 0) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mn = 0;
        EVP_DigestFinal_ex(ctx, md, &mn);
        to_hex(md, mn, hex);
    }
    EVP_MD_CTX_free(ctx);
    free_strv(files, n);
    return rc;
}
