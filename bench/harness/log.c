/* SPDX-License-Identifier: MIT */
/*
 * log.c: the append-only JSON-lines log, now a hash chain (audit.c): each
 * record gets "seq" and "prev", is written under an exclusive flock with
 * one write(2) and fsynced.
 */
#include "bench.h"

int log_append(const char *path, json_t *record, bench_err *e)
{
    return audit_append(path, record, NULL, NULL, e);
}
