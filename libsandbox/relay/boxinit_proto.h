/* SPDX-License-Identifier: MIT */
/* The wire format between the owner (src/execproto.c) and the box's init
 * (relay/boxinit.c).  Shared by both; plain C, no library headers.
 *
 * Control socket (SOCK_SEQPACKET, owner -> init): one message per exec,
 * exactly sizeof(sbxi_ctl) bytes of data plus SCM_RIGHTS of 4 fds, in this
 * order: stdin, stdout, stderr, status.  Anything else is dropped (its fds
 * closed).  EOF: the owner is gone; the init kills its execs and exits.
 *
 * Status socket (SOCK_STREAM, one per exec; the owner's end has
 * SO_PASSCRED) carries fixed 16-byte records, sbxi_rec:
 *   child -> owner  READY  {a = pid in the box}, with SCM_CREDENTIALS (the
 *                   owner reads the child's pid in its own namespace)
 *   owner -> child  a spec: u32 length L (<= SBXI_SPEC_MAX), then L bytes:
 *                   u32 flags, u32 argc, u32 envc, then 1 + argc + envc
 *                   NUL-terminated strings (cwd, argv..., envp...); then
 *                   one byte SBXI_GO once the child is in its kill group
 *   child -> owner  ERROR  {a = errno, b = step} when it cannot exec
 *                   (then it exits 127)
 *   init  -> owner  WAIT   {a = wait status} when the init reaped it;
 *                   the init then closes its end.  EOF before WAIT: the
 *                   init died (the box is gone). */
#ifndef LIBSANDBOX_BOXINIT_PROTO_H
#define LIBSANDBOX_BOXINIT_PROTO_H

#include <stdint.h>

#define SBXI_MAGIC 0x49584253u /* "SBXI" */
#define SBXI_VERSION 1u
#define SBXI_NFDS 4
#define SBXI_SPEC_MAX (16u << 20)
#define SBXI_GO 'G'
#define SBXI_FLAG_PATH_LOOKUP 1u
/* The init's exit codes: 0 the owner hung up (EOF on the control socket),
 * 124 the control socket failed otherwise, 125 it could not start. */
#define SBXI_EXIT_HANGUP 0
#define SBXI_EXIT_CTL_ERROR 124

typedef struct sbxi_ctl {
    uint32_t magic;   /* SBXI_MAGIC */
    uint32_t version; /* SBXI_VERSION */
    uint64_t id;      /* the owner's exec number (diagnostics only) */
} sbxi_ctl;

enum { SBXI_READY = 1, SBXI_ERROR = 2, SBXI_WAIT = 3 };

typedef struct sbxi_rec {
    uint32_t magic; /* SBXI_MAGIC */
    uint32_t type;  /* SBXI_READY / SBXI_ERROR / SBXI_WAIT */
    int32_t a, b;
} sbxi_rec;

/* ERROR steps */
enum {
    SBXI_STEP_FORK = 1, /* the init could not fork (sent by the init) */
    SBXI_STEP_SPEC,     /* the spec was short, malformed or too big */
    SBXI_STEP_STDIO,    /* dup2 of the stdio fds */
    SBXI_STEP_CWD,      /* chdir */
    SBXI_STEP_EXEC,     /* execve */
};

#endif /* LIBSANDBOX_BOXINIT_PROTO_H */
