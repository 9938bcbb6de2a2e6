/* SPDX-License-Identifier: MIT */
/* policy.c: the allow-list as a table, its OCI/docker JSON form (parsed
 * back with jansson and evaluated here, rule by rule, the way runc reads
 * it), and the profile file (path, reuse, tampering, concurrent writers). */
#include "internal.h"
#include "test_util.h"

#include <jansson.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <grp.h>
#include <sys/wait.h>
#ifdef SBX_TEST_SECCOMP
#include "native/native.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#endif

static json_t *profile(void)
{
    sbx_err e = {0};
    char *text = NULL;
    size_t len = 0;
    ck_assert_msg(sbx_policy_json(&text, &len, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(strlen(text), len);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(j != NULL, "profile is not JSON: %s at line %d", je.text,
                  je.line);
    free(text);
    return j;
}

static bool has_name(const json_t *entry, const char *name)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(entry, "names"), i, n)
    {
        if (strcmp(json_string_value(n), name) == 0)
            return true;
    }
    return false;
}

/* What a filter built from the profile answers for name(args): 0 allowed,
 * else the errno.  An entry matches when all its args hold. */
static int evaluate(const json_t *prof, const char *name, const uint64_t a[6])
{
    size_t i;
    json_t *entry;
    int result =
        (int)json_integer_value(json_object_get(prof, "defaultErrnoRet"));
    json_array_foreach(json_object_get(prof, "syscalls"), i, entry)
    {
        if (!has_name(entry, name))
            continue;
        bool match = true;
        size_t k;
        json_t *arg;
        json_array_foreach(json_object_get(entry, "args"), k, arg)
        {
            size_t idx =
                (size_t)json_integer_value(json_object_get(arg, "index"));
            uint64_t v =
                (uint64_t)json_integer_value(json_object_get(arg, "value"));
            uint64_t v2 =
                (uint64_t)json_integer_value(json_object_get(arg, "valueTwo"));
            const char *op = json_string_value(json_object_get(arg, "op"));
            ck_assert_uint_lt(idx, 6);
            if (strcmp(op, "SCMP_CMP_EQ") == 0)
                match = match && a[idx] == v;
            else if (strcmp(op, "SCMP_CMP_MASKED_EQ") == 0)
                match = match && (a[idx] & v) == v2;
            else
                ck_abort_msg("unexpected op %s", op);
        }
        if (!match)
            continue;
        const char *action =
            json_string_value(json_object_get(entry, "action"));
        if (strcmp(action, "SCMP_ACT_ALLOW") == 0)
            return 0;
        ck_assert_str_eq(action, "SCMP_ACT_ERRNO");
        return (int)json_integer_value(json_object_get(entry, "errnoRet"));
    }
    return result;
}

static int eval1(const json_t *p, const char *name, unsigned idx, uint64_t v)
{
    uint64_t a[6] = {0};
    a[idx] = v;
    return evaluate(p, name, a);
}

START_TEST(test_profile_header)
{
    json_t *p = profile();
    ck_assert_str_eq(json_string_value(json_object_get(p, "defaultAction")),
                     "SCMP_ACT_ERRNO");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "defaultErrnoRet")),
                     EPERM);
    json_t *arches = json_object_get(p, "architectures");
    ck_assert_uint_eq(json_array_size(arches), 1);
#if defined(__x86_64__)
    /* Only the native ABI: i386 and x32 fall to the bad-arch action. */
    ck_assert_str_eq(json_string_value(json_array_get(arches, 0)),
                     "SCMP_ARCH_X86_64");
#endif
    /* Every entry has names and an action; errno entries an errnoRet. */
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(p, "syscalls"), i, entry)
    {
        ck_assert(json_array_size(json_object_get(entry, "names")) > 0);
        const char *act = json_string_value(json_object_get(entry, "action"));
        ck_assert_ptr_nonnull(act);
        if (strcmp(act, "SCMP_ACT_ERRNO") == 0) {
            int er =
                (int)json_integer_value(json_object_get(entry, "errnoRet"));
            /* runc drops a rule whose action is the default one. */
            ck_assert_int_ne(er, EPERM);
            ck_assert_int_gt(er, 0);
        } else {
            ck_assert_str_eq(act, "SCMP_ACT_ALLOW");
        }
    }
    json_decref(p);
}
END_TEST

static int count_rule(const sbx_scmp_rule *r, void *ctx)
{
    (void)r;
    (*(size_t *)ctx)++;
    return 0;
}

START_TEST(test_json_has_every_rule)
{
    json_t *p = profile();
    size_t rules = 0, in_json = 0, i;
    json_t *entry;
    sbx_policy_foreach(count_rule, &rules);
    json_array_foreach(json_object_get(p, "syscalls"), i, entry)
    {
        in_json += json_array_size(json_object_get(entry, "names"));
    }
    ck_assert_uint_eq(in_json, rules);
    ck_assert_uint_gt(rules, 250);
    json_decref(p);
}
END_TEST

static const char *const forbidden[] = {
    "mount",
    "umount2",
    "pivot_root",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "perf_event_open",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "unshare",
    "setns",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "clock_settime",
    "clock_adjtime",
    "settimeofday",
    "adjtimex",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "syslog",
    "iopl",
    "ioperm",
    "fsopen",
    "fsmount",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "chroot",
    "sethostname",
    "modify_ldt",
    "kcmp",
    "pidfd_getfd",
    "quotactl",
    "lookup_dcookie",
    "vhangup",
    "socketcall",
    "uselib",
    "_sysctl",
    "process_madvise",
    "mbind",
    "set_mempolicy",
};

START_TEST(test_forbidden_absent)
{
    json_t *p = profile();
    uint64_t a[6] = {0};
    for (size_t i = 0; i < sizeof forbidden / sizeof *forbidden; i++)
        ck_assert_msg(evaluate(p, forbidden[i], a) == EPERM, "%s allowed",
                      forbidden[i]);
    /* A name the table never heard of: the default. */
    ck_assert_int_eq(evaluate(p, "made_up_2031", a), EPERM);
    /* Answered ENOSYS so libc falls back to the checked call. */
    ck_assert_int_eq(evaluate(p, "clone3", a), ENOSYS);
    ck_assert_int_eq(evaluate(p, "openat2", a), ENOSYS);
    /* What every libc needs. */
    static const char *const needed[] = {
        "read",       "write",      "execve",
        "exit_group", "mmap",       "rt_sigaction",
        "futex",      "rseq",       "set_robust_list",
        "wait4",      "pipe2",      "getrandom",
        "statx",      "faccessat2", "close_range",
        "setsid",     "prlimit64",  "newfstatat"};
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++)
        ck_assert_msg(evaluate(p, needed[i], a) == 0, "%s denied", needed[i]);
    json_decref(p);
}
END_TEST

START_TEST(test_socket_families)
{
    json_t *p = profile();
    for (uint64_t fam = 0; fam < 64; fam++) {
        /* Protocol 0 is NETLINK_ROUTE for netlink, the default elsewhere. */
        uint64_t a[6] = {fam, SOCK_STREAM, NETLINK_ROUTE, 0, 0, 0};
        bool want = fam == AF_UNIX || fam == AF_INET || fam == AF_INET6;
        ck_assert_msg((evaluate(p, "socket", a) == 0) ==
                          (want || fam == AF_NETLINK),
                      "family %d", (int)fam);
        a[2] = 15; /* NETLINK_KOBJECT_UEVENT */
        ck_assert_msg((evaluate(p, "socket", a) == 0) == want, "family %d",
                      (int)fam);
    }
    for (uint64_t fam = 0; fam < 64; fam++)
        ck_assert_int_eq(eval1(p, "socketpair", 0, fam),
                         fam == AF_UNIX ? 0 : EPERM);
    /* Netlink families other than route; high bits on the family. */
    uint64_t a[6] = {AF_NETLINK, SOCK_DGRAM, 15 /* KOBJECT_UEVENT */};
    ck_assert_int_eq(evaluate(p, "socket", a), EPERM);
    a[0] = AF_VSOCK | (1ULL << 32);
    ck_assert_int_eq(evaluate(p, "socket", a), EPERM);
    a[0] = AF_VSOCK;
    ck_assert_int_eq(evaluate(p, "socket", a), EPERM);
    json_decref(p);
}
END_TEST

START_TEST(test_clone_flags)
{
    json_t *p = profile();
    const uint64_t ns[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
                           CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
                           CLONE_NEWCGROUP};
    /* What glibc's fork() and pthread_create() pass. */
    const uint64_t fork_flags = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | 17;
    const uint64_t thread_flags = CLONE_VM | CLONE_FS | CLONE_FILES |
                                  CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                                  CLONE_SETTLS | CLONE_PARENT_SETTID |
                                  CLONE_CHILD_CLEARTID;
    ck_assert_int_eq(eval1(p, "clone", 0, fork_flags), 0);
    ck_assert_int_eq(eval1(p, "clone", 0, thread_flags), 0);
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        ck_assert_int_eq(eval1(p, "clone", 0, fork_flags | ns[i]), EPERM);
        ck_assert_int_eq(eval1(p, "clone", 0, ns[i] | (1ULL << 40)), EPERM);
    }
    json_decref(p);
}
END_TEST

/* The expansion of "low 32 bits not TIOCSTI/TIOCLINUX" is exact, whatever
 * the high bits (the kernel ignores them). */
START_TEST(test_ioctl_tty_injection)
{
    json_t *p = profile();
    const uint64_t highs[] = {0, 1ULL << 32, 0xffffffff00000000ULL,
                              0x8000000000000000ULL};
    for (size_t h = 0; h < sizeof highs / sizeof *highs; h++)
        for (uint64_t cmd = 0x5400; cmd < 0x5500; cmd++) {
            bool bad = cmd == TIOCSTI || cmd == TIOCLINUX;
            ck_assert_msg((eval1(p, "ioctl", 1, highs[h] | cmd) == 0) == !bad,
                          "ioctl 0x%llx", (unsigned long long)(highs[h] | cmd));
        }
    /* A sample of the whole 32-bit space, and common requests. */
    for (uint64_t cmd = 1; cmd < 0xffffffffULL; cmd = cmd * 3 + 7)
        ck_assert_int_eq(eval1(p, "ioctl", 1, cmd),
                         cmd == TIOCSTI || cmd == TIOCLINUX ? EPERM : 0);
    ck_assert_int_eq(eval1(p, "ioctl", 1, TCGETS), 0);
    ck_assert_int_eq(eval1(p, "ioctl", 1, TIOCGWINSZ), 0);
    ck_assert_int_eq(eval1(p, "ioctl", 1, FIONREAD), 0);
    /* musl sign-extends read-direction requests. */
    ck_assert_int_eq(eval1(p, "ioctl", 1, 0xffffffff80045430ULL), 0);
    json_decref(p);
}
END_TEST

START_TEST(test_setuid_modes)
{
    json_t *p = profile();
    static const struct {
        const char *name;
        unsigned idx;
    } calls[] = {{"chmod", 1}, {"fchmod", 1}, {"fchmodat", 2}, {"fchmodat2", 2},
                 {"creat", 1}, {"open", 2},   {"openat", 3}};
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++)
        for (uint64_t mode = 0; mode <= 07777; mode++) {
            bool bad = (mode & (S_ISUID | S_ISGID)) != 0;
            int want = bad ? EPERM : 0;
            ck_assert_msg(eval1(p, calls[i].name, calls[i].idx, mode) == want,
                          "%s mode %llo", calls[i].name,
                          (unsigned long long)mode);
            ck_assert_int_eq(
                eval1(p, calls[i].name, calls[i].idx, mode | (1ULL << 33)),
                want);
        }
    json_decref(p);
}
END_TEST

START_TEST(test_mknod_types)
{
    json_t *p = profile();
    const struct {
        uint64_t type;
        bool ok;
    } t[] = {{0, true},        {S_IFREG, true},  {S_IFIFO, true},
             {S_IFSOCK, true}, {S_IFCHR, false}, {S_IFBLK, false},
             {S_IFDIR, false}, {S_IFLNK, false}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        ck_assert_int_eq(eval1(p, "mknod", 1, t[i].type | 0644),
                         t[i].ok ? 0 : EPERM);
        ck_assert_int_eq(eval1(p, "mknodat", 2, t[i].type | 0644),
                         t[i].ok ? 0 : EPERM);
        ck_assert_int_eq(eval1(p, "mknodat", 2, t[i].type | 04755), EPERM);
    }
    json_decref(p);
}
END_TEST

START_TEST(test_personality)
{
    json_t *p = profile();
    const uint64_t ok[] = {0, 8, 0x20000, 0x20008, 0xffffffff};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        ck_assert_int_eq(eval1(p, "personality", 0, ok[i]), 0);
    ck_assert_int_eq(eval1(p, "personality", 0, 0x0040000), EPERM);
    ck_assert_int_eq(eval1(p, "personality", 0, 0x0400000), EPERM);
    json_decref(p);
}
END_TEST

#ifdef SBX_TEST_SECCOMP
/* Every name resolves on x86_64 (libseccomp's own table): none of the
 * allow-list is silently lost there. */
START_TEST(test_names_resolve_x86_64)
{
    json_t *p = profile();
    size_t i, k;
    json_t *entry, *n;
    json_array_foreach(json_object_get(p, "syscalls"), i, entry)
    {
        json_array_foreach(json_object_get(entry, "names"), k, n)
        {
            const char *name = json_string_value(n);
            int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name);
            ck_assert_msg(nr >= 0, "%s does not resolve on x86_64 (%d)", name,
                          nr);
        }
    }
    json_decref(p);
#if defined(__x86_64__)
    char buf[1024];
    ck_assert_msg(sbx_seccomp_unresolved(buf, sizeof buf) == 0,
                  "unresolved: %s", buf);
#endif
}
END_TEST
#endif

#ifdef SBX_TEST_SECCOMP
/* The compiled filter: the cache holds exactly what libseccomp compiles,
 * and a damaged, foreign or symlinked cache file is never used. */
static char *cache_file(void)
{
    sbx_err e = {0};
    char dir[4096], name[64];
    int dfd = sbx_policy_dir(dir, sizeof dir, &e);
    ck_assert_int_ge(dfd, 0);
    close(dfd);
    sbx_seccomp_cache_name(name, sizeof name);
    return tu_path(dir, name);
}

static void assert_build_is_compile(void)
{
    sbx_err e = {0};
    struct sock_fprog a, b;
    ck_assert_msg(sbx_seccomp_compile(&a, &e) == 0, "%s", e.msg);
    ck_assert_msg(sbx_seccomp_build(&b, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.filter, b.filter, a.len * sizeof *a.filter) == 0);
    free(a.filter);
    free(b.filter);
}

/* Valgrind does not emulate seccomp(2), so libseccomp sees API level 1 and
 * refuses SCMP_ACT_KILL_PROCESS: the compiling tests run without it. */
#define SKIP_UNDER_VALGRIND()                                                  \
    do {                                                                       \
        if (tu_under_valgrind())                                               \
            return;                                                            \
    } while (0)

START_TEST(test_filter_cache)
{
    SKIP_UNDER_VALGRIND();
    /* Start from no cache file. */
    char *f = cache_file();
    unlink(f);
    assert_build_is_compile(); /* compiled, stored */
    struct stat st;
    ck_assert_int_eq(lstat(f, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    assert_build_is_compile(); /* loaded */

    /* One instruction changed: the checksum refuses it. */
    size_t len = 0;
    char *data = tu_read_file(f, &len);
    ck_assert_uint_gt(len, 64);
    data[len - 9] ^= 0x01;
    FILE *w = fopen(f, "w");
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(fwrite(data, 1, len, w), len);
    ck_assert_int_eq(fclose(w), 0);
    free(data);
    assert_build_is_compile();

    /* Someone else's file, or group-writable: not used, replaced. */
    ck_assert_int_eq(chown(f, 65534, 65534), 0);
    assert_build_is_compile();
    ck_assert_int_eq(stat(f, &st), 0);
    ck_assert_uint_eq(st.st_uid, geteuid());
    ck_assert_int_eq(chmod(f, 0666), 0);
    assert_build_is_compile();
    ck_assert_int_eq(stat(f, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);

    /* A symlink at the name is not followed. */
    char *dir = tu_mkdtemp();
    char *target = tu_path(dir, "target");
    tu_write_file(target, "untouched", 0644);
    ck_assert_int_eq(unlink(f), 0);
    ck_assert_int_eq(symlink(target, f), 0);
    assert_build_is_compile();
    ck_assert_int_eq(lstat(f, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    char *t = tu_read_file(target, NULL);
    ck_assert_str_eq(t, "untouched");
    free(t);
    free(target);
    tu_rmtree(dir);
    free(f);
}
END_TEST

static int max_rule(const sbx_scmp_rule *r, void *ctx)
{
    int nr = seccomp_syscall_resolve_name(r->name);
    if (nr > *(int *)ctx)
        *(int *)ctx = nr;
    return 0;
}

/* The prefix answers ENOSYS only above the table's highest number, for the
 * native arch, and leaves x32 numbers to libseccomp. */
START_TEST(test_filter_enosys_prefix)
{
    SKIP_UNDER_VALGRIND();
    sbx_err e = {0};
    struct sock_fprog p;
    ck_assert_int_eq(sbx_seccomp_compile(&p, &e), 0);
    ck_assert_uint_gt(p.len, 6);
    ck_assert_uint_eq(p.filter[1].k, seccomp_arch_native());
    ck_assert_uint_eq(p.filter[3].k, 0x40000000u);
    /* The highest number of the table (x86_64: fchmodat2, 452). */
    int max_nr = -1;
    sbx_policy_foreach(max_rule, &max_nr);
    ck_assert_int_gt(max_nr, 400);
    ck_assert_uint_eq(p.filter[4].k, (uint32_t)max_nr);
    ck_assert_uint_eq(p.filter[5].k, SECCOMP_RET_ERRNO | ENOSYS);
    free(p.filter);
}
END_TEST

#endif

/* ---- the profile file ---------------------------------------------------- */

static char *policy_text(size_t *len)
{
    sbx_err e = {0};
    char *t = NULL;
    ck_assert_int_eq(sbx_policy_json(&t, len, &e), 0);
    return t;
}

static void assert_profile_file(const char *path)
{
    size_t len = 0, flen = 0;
    char *want = policy_text(&len);
    char *got = tu_read_file(path, &flen);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(flen, len);
    ck_assert(memcmp(got, want, len) == 0);
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_uid, geteuid());
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    free(want);
    free(got);
}

START_TEST(test_profile_path)
{
    sbx_err e = {0};
    char a[4096], b[4096];
    ck_assert_msg(sbx_seccomp_profile_path(a, sizeof a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(sbx_seccomp_profile_path(b, sizeof b, &e), 0);
    ck_assert_str_eq(a, b);
    ck_assert(a[0] == '/');
    ck_assert_ptr_nonnull(strstr(a, "/seccomp-"));
    if (geteuid() == 0)
        ck_assert(strncmp(a, "/run/libsandbox/seccomp-", 24) == 0);
    assert_profile_file(a);
    /* The directory: ours, a real directory, not writable by others. */
    char *slash = strrchr(a, '/');
    *slash = '\0';
    struct stat st;
    ck_assert_int_eq(lstat(a, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_uint_eq(st.st_uid, geteuid());
    ck_assert_int_eq(st.st_mode & 022, 0);
    /* Too small a buffer: an error, not a truncated path. */
    ck_assert_int_lt(sbx_seccomp_profile_path(b, 8, &e), 0);
}
END_TEST

/* A changed or replaced file is rewritten, and a symlink planted at its
 * name is replaced, not followed. */
START_TEST(test_profile_tampered)
{
    sbx_err e = {0};
    char path[4096];
    ck_assert_int_eq(sbx_seccomp_profile_path(path, sizeof path, &e), 0);
    tu_write_file(path, "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}", 0644);
    ck_assert_int_eq(sbx_seccomp_profile_path(path, sizeof path, &e), 0);
    assert_profile_file(path);

    char *dir = tu_mkdtemp();
    char *target = tu_path(dir, "target");
    tu_write_file(target, "untouched", 0644);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_int_eq(sbx_seccomp_profile_path(path, sizeof path, &e), 0);
    assert_profile_file(path);
    char *t = tu_read_file(target, NULL);
    ck_assert_str_eq(t, "untouched");
    free(t);
    free(target);
    tu_rmtree(dir);
}
END_TEST

/* Concurrent callers (first use on a fresh machine): all succeed, one
 * complete file, no temporary left. */
START_TEST(test_profile_concurrent)
{
    sbx_err e = {0};
    char path[4096];
    ck_assert_int_eq(sbx_seccomp_profile_path(path, sizeof path, &e), 0);
    unlink(path);
    pid_t kids[6];
    for (int i = 0; i < 6; i++) {
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) {
            char p[4096];
            sbx_err ce = {0};
            for (int k = 0; k < 30; k++)
                if (sbx_seccomp_profile_path(p, sizeof p, &ce) != 0 ||
                    strcmp(p, path) != 0)
                    _exit(1);
            _exit(0);
        }
    }
    for (int i = 0; i < 6; i++) {
        int st = 0;
        ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_profile_file(path);
    *strrchr(path, '/') = '\0';
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        ck_assert_msg(strstr(de->d_name, ".tmp") == NULL, "left: %s",
                      de->d_name);
    closedir(d);
}
END_TEST

/* A caller that is not root (run as root: a child drops to nobody):
 * $XDG_RUNTIME_DIR/libsandbox when that is private, else
 * /tmp/libsandbox-<uid>; a directory another user made there is refused
 * with the fix in the message. */
#define NOBODY 65534

static void as_nobody(const char *xdg, const char *want_prefix, bool ok)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char p[4096];
        sbx_err e = {0};
        if (xdg != NULL)
            setenv("XDG_RUNTIME_DIR", xdg, 1);
        else
            unsetenv("XDG_RUNTIME_DIR");
        if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
            _exit(3);
        int rc = sbx_seccomp_profile_path(p, sizeof p, &e);
        if (!ok)
            _exit(rc < 0 && strstr(e.msg, "XDG_RUNTIME_DIR") != NULL ? 0 : 4);
        if (rc != 0 || strncmp(p, want_prefix, strlen(want_prefix)) != 0 ||
            access(p, R_OK) != 0)
            _exit(5);
        _exit(0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "nobody, XDG_RUNTIME_DIR=%s: status %d", xdg ? xdg : "-",
                  WEXITSTATUS(st));
}

START_TEST(test_profile_unprivileged)
{
    if (geteuid() != 0)
        return; /* needs root to become another user */
    char xdg[] = "/tmp/sbx-xdg-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(xdg));
    ck_assert_int_eq(chown(xdg, NOBODY, NOBODY), 0);
    char want[160];
    snprintf(want, sizeof want, "%s/libsandbox/seccomp-", xdg);
    as_nobody(xdg, want, true);
    /* A group/other-accessible XDG_RUNTIME_DIR is not used. */
    ck_assert_int_eq(chmod(xdg, 0755), 0);
    char tmpdir[64];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/libsandbox-%d", NOBODY);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(want, sizeof want, "%s/seccomp-", tmpdir);
    as_nobody(xdg, want, true);
    as_nobody(NULL, want, true);
    /* Someone else's directory at that name is refused. */
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(mkdir(tmpdir, 0777), 0);
    ck_assert_int_eq(chmod(tmpdir, 0777), 0);
    as_nobody(NULL, NULL, false);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", xdg);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("table");
    /* test_setuid_modes walks every mode bit pattern of seven calls through
     * the JSON (57k evaluations): seconds under ASan on a loaded machine. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_profile_header);
    tcase_add_test(tc, test_json_has_every_rule);
    tcase_add_test(tc, test_forbidden_absent);
    tcase_add_test(tc, test_socket_families);
    tcase_add_test(tc, test_clone_flags);
    tcase_add_test(tc, test_ioctl_tty_injection);
    tcase_add_test(tc, test_setuid_modes);
    tcase_add_test(tc, test_mknod_types);
    tcase_add_test(tc, test_personality);
#ifdef SBX_TEST_SECCOMP
    tcase_add_test(tc, test_names_resolve_x86_64);
    tcase_add_test(tc, test_filter_enosys_prefix);
#endif
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("file");
    tcase_add_unchecked_fixture(tf, tu_root_setup, tu_root_teardown);
    tcase_add_test(tf, test_profile_path);
    tcase_add_test(tf, test_profile_tampered);
    tcase_add_test(tf, test_profile_concurrent);
    tcase_add_test(tf, test_profile_unprivileged);
#ifdef SBX_TEST_SECCOMP
    tcase_add_test(tf, test_filter_cache);
#endif
    suite_add_tcase(s, tf);
    return tu_run(s);
}
