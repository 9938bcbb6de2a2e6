/* SPDX-License-Identifier: MIT */
/* Built instead of the native backend when libseccomp is not available. */
#include "internal.h"

bool sbx_native_available(void)
{
    return false;
}

unsigned sbx_native_gc(void)
{
    return 0;
}

int sbx_native_cgroup_reap(const char *run_name)
{
    (void)run_name;
    return 0;
}

int sbx_native_run(const sbx_plan *plan, sandbox_result *res, sbx_err *e)
{
    (void)plan;
    (void)res;
    return sbx_fail(e, SANDBOX_ENORUNTIME,
                    "the native runtime is not built into this libsandbox");
}
