/* SPDX-License-Identifier: MIT */
/* The native backend's seccomp filter: the shared allow-list of policy.c
 * compiled with libseccomp (default action EPERM).  It is compiled to
 * classic BPF in the parent, so the clone child only calls prctl(). */
#include "native.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

typedef struct add_ctx {
    scmp_filter_ctx ctx;
    uint32_t max_nr;    /* highest syscall number of the policy */
    const char *failed; /* the rule libseccomp refused */
} add_ctx;

/* The policy's name on this architecture, or -1 when libseccomp does not
 * know it (or it does not exist here): such a syscall is simply never
 * allowed. */
static int resolve(const char *name)
{
    int nr = seccomp_syscall_resolve_name(name);
    return nr == __NR_SCMP_ERROR || nr < 0 ? -1 : nr;
}

static int add_rule(const sbx_scmp_rule *r, void *vctx)
{
    add_ctx *c = vctx;
    struct scmp_arg_cmp cmp[2];
    int nr = resolve(r->name);
    if (nr < 0)
        return 0;
    if ((uint32_t)nr > c->max_nr)
        c->max_nr = (uint32_t)nr;
    for (unsigned i = 0; i < r->n_args && i < 2; i++) {
        cmp[i].arg = r->args[i].index;
        cmp[i].op = r->args[i].op == SBX_CMP_MASKED_EQ ? SCMP_CMP_MASKED_EQ
                                                       : SCMP_CMP_EQ;
        cmp[i].datum_a = r->args[i].value;
        cmp[i].datum_b = r->args[i].value2;
    }
    uint32_t action = r->errno_ret != 0 ? SCMP_ACT_ERRNO((uint32_t)r->errno_ret)
                                        : SCMP_ACT_ALLOW;
    int rc = seccomp_rule_add_array(c->ctx, action, nr, r->n_args, cmp);
    if (rc < 0)
        c->failed = r->name;
    return rc;
}

typedef struct unresolved_ctx {
    char *buf;
    size_t n, len, count;
    const char *last;
} unresolved_ctx;

static int note_unresolved(const sbx_scmp_rule *r, void *vctx)
{
    unresolved_ctx *u = vctx;
    if (resolve(r->name) >= 0 ||
        (u->last != NULL && strcmp(u->last, r->name) == 0))
        return 0;
    u->last = r->name;
    u->count++;
    if (u->buf != NULL && u->len < u->n) {
        int w = snprintf(u->buf + u->len, u->n - u->len, "%s%s",
                         u->count > 1 ? "," : "", r->name);
        if (w > 0)
            u->len += (size_t)w < u->n - u->len ? (size_t)w : u->n - u->len;
    }
    return 0;
}

size_t sbx_seccomp_unresolved(char *buf, size_t n)
{
    unresolved_ctx u = {buf, n, 0, 0, NULL};
    if (buf != NULL && n > 0)
        buf[0] = '\0';
    sbx_policy_foreach(note_unresolved, &u);
    return u.count;
}

/* Syscalls numbered above every syscall of the policy answer ENOSYS
 * instead of EPERM, as runc's filter does for the podman and docker
 * backends: libc treats ENOSYS as "old kernel" and falls back.  A prefix
 * of six instructions before libseccomp's program (whose jumps are
 * relative, so it is unchanged); other ABIs (x32: bit 30 of the number,
 * i386: another arch) go straight to libseccomp, which kills them. */
#define SBX_X32_BIT 0x40000000u
#define SBX_ENOSYS_STUB 6

static void enosys_stub(struct sock_filter *f, uint32_t arch, uint32_t max_nr)
{
    const struct sock_filter stub[SBX_ENOSYS_STUB] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SBX_X32_BIT, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, max_nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & 0xffff)),
    };
    memcpy(f, stub, sizeof stub);
}

int sbx_seccomp_compile(struct sock_fprog *prog, sbx_err *e)
{
    add_ctx c = {seccomp_init(SCMP_ACT_ERRNO(SBX_POLICY_DEFAULT_ERRNO)), 0,
                 NULL};
    int rc, fd = -1;

    memset(prog, 0, sizeof *prog);
    if (c.ctx == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "seccomp_init failed");
    /* Syscalls of other ABIs (i386, x32) kill the process. */
    rc =
        seccomp_attr_set(c.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    /* A binary tree over syscall numbers instead of a linear chain: an
     * allow-list of ~300 names would otherwise cost every syscall. */
    if (rc == 0)
        (void)seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc == 0)
        rc = sbx_policy_foreach(add_rule, &c);
    if (rc < 0) {
        seccomp_release(c.ctx);
        return sbx_fail_errno(e, SANDBOX_EIO, -rc,
                              "building the seccomp filter (rule for %s; is "
                              "libseccomp >= 2.5 installed?)",
                              c.failed ? c.failed : "its attributes");
    }
    /* libseccomp 2.5 exports BPF only to an fd: go through a memfd. */
    fd = memfd_create("sandbox-seccomp", MFD_CLOEXEC);
    if (fd < 0 || (rc = seccomp_export_bpf(c.ctx, fd)) < 0) {
        int err = fd < 0 ? errno : -rc;
        if (fd >= 0)
            close(fd);
        seccomp_release(c.ctx);
        return sbx_fail_errno(e, SANDBOX_EIO, err, "exporting seccomp BPF");
    }
    seccomp_release(c.ctx);
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) + SBX_ENOSYS_STUB >
            BPF_MAXINSNS) {
        close(fd);
        return sbx_fail(e, SANDBOX_EIO, "seccomp BPF has a bad size");
    }
    size_t n = (size_t)size / sizeof(struct sock_filter);
    struct sock_filter *f = calloc(n + SBX_ENOSYS_STUB, sizeof *f);
    if (f == NULL || pread(fd, f + SBX_ENOSYS_STUB, (size_t)size, 0) != size) {
        free(f);
        close(fd);
        return sbx_fail(e, SANDBOX_EIO, "reading seccomp BPF");
    }
    close(fd);
    enosys_stub(f, seccomp_arch_native(), c.max_nr);
    prog->filter = f;
    prog->len = (unsigned short)(n + SBX_ENOSYS_STUB);
    return 0;
}

/* ---- the compiled filter, cached next to the profile ------------------
 * libseccomp needs about a millisecond to compile ~300 syscalls and their
 * argument rules, which is a fifth of a native run's start-up.  The BPF is
 * a pure function of the policy, the numbers libseccomp resolves its
 * names to, libseccomp's version and the architecture, so it is kept in the
 * profile's private directory (sbx_policy_dir: only the caller can write it;
 * the box never sees it), named after that key, with a header that must match
 * before it is used. Any doubt (missing, foreign owner, wrong size, key or
 * checksum) means compiling again; failing to store it is not an error. */
#define SBX_BPF_FORMAT 1u /* bump whenever the filter is built differently */
#define SBX_BPF_MAGIC "SBXBPF01"

typedef struct bpf_header {
    char magic[8];
    uint64_t key;
    uint32_t count, check;
} bpf_header;

static int hash_rule(const sbx_scmp_rule *r, void *ctx)
{
    uint64_t *h = ctx;
    /* The number libseccomp resolves the name to is part of the key: a
     * patched libseccomp of the same version may know more names. */
    uint64_t v[3 + 4 * 2] = {(uint64_t)r->errno_ret, r->n_args,
                             (uint64_t)(int64_t)resolve(r->name)};
    for (unsigned i = 0; i < r->n_args && i < 2; i++) {
        v[3 + 4 * i] = r->args[i].index;
        v[4 + 4 * i] = (uint64_t)r->args[i].op;
        v[5 + 4 * i] = r->args[i].value;
        v[6 + 4 * i] = r->args[i].value2;
    }
    *h = sbx_fnv1a64(*h, r->name, strlen(r->name) + 1);
    *h = sbx_fnv1a64(*h, v, sizeof v);
    return 0;
}

static uint64_t filter_key(void)
{
    const struct scmp_version *ver = seccomp_version();
    uint64_t h = SBX_FNV_INIT;
    uint32_t v[6] = {SBX_BPF_FORMAT,       seccomp_arch_native(),
                     ver ? ver->major : 0, ver ? ver->minor : 0,
                     ver ? ver->micro : 0, SBX_POLICY_DEFAULT_ERRNO};
    h = sbx_fnv1a64(h, v, sizeof v);
    sbx_policy_foreach(hash_rule, &h);
    return h;
}

static uint32_t filter_check(const struct sock_filter *f, size_t n)
{
    return (uint32_t)sbx_fnv1a64(SBX_FNV_INIT, f, n * sizeof *f);
}

static int load_cached(int dfd, const char *name, uint64_t key,
                       struct sock_fprog *prog)
{
    const size_t cap = sizeof(bpf_header) + BPF_MAXINSNS * 8;
    sbx_autofree char *buf = malloc(cap);
    size_t len = 0;
    bpf_header h;
    if (buf == NULL || sbx_policy_read(dfd, name, buf, cap, &len) < 0 ||
        len < sizeof h)
        return -1;
    memcpy(&h, buf, sizeof h);
    size_t n = h.count;
    if (memcmp(h.magic, SBX_BPF_MAGIC, 8) != 0 || h.key != key || n == 0 ||
        n > BPF_MAXINSNS || len != sizeof h + n * sizeof(struct sock_filter))
        return -1;
    struct sock_filter *f = malloc(n * sizeof *f);
    if (f == NULL)
        return -1;
    memcpy(f, buf + sizeof h, n * sizeof *f);
    if (filter_check(f, n) != h.check) {
        free(f);
        return -1;
    }
    prog->filter = f;
    prog->len = (unsigned short)n;
    return 0;
}

static void store_cached(int dfd, const char *name, uint64_t key,
                         const struct sock_fprog *prog)
{
    size_t body = (size_t)prog->len * sizeof *prog->filter;
    bpf_header h = {.key = key, .count = prog->len};
    memcpy(h.magic, SBX_BPF_MAGIC, 8);
    h.check = filter_check(prog->filter, prog->len);
    sbx_autofree char *buf = malloc(sizeof h + body);
    if (buf == NULL)
        return;
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, prog->filter, body);
    (void)sbx_policy_publish(dfd, name, buf, sizeof h + body);
}

uint64_t sbx_seccomp_cache_name(char *name, size_t n)
{
    uint64_t key = filter_key();
    snprintf(name, n, "filter-%016llx.bpf", (unsigned long long)key);
    return key;
}

int sbx_seccomp_build(struct sock_fprog *prog, sbx_err *e)
{
    char dir[4096], name[64];
    sbx_err ignored = {0};
    uint64_t key = sbx_seccomp_cache_name(name, sizeof name);
    memset(prog, 0, sizeof *prog);
    sbx_autoclose int dfd = sbx_policy_dir(dir, sizeof dir, &ignored);
    if (dfd >= 0 && load_cached(dfd, name, key, prog) == 0)
        return 0;
    int rc = sbx_seccomp_compile(prog, e);
    if (rc == 0 && dfd >= 0)
        store_cached(dfd, name, key, prog);
    return rc;
}
