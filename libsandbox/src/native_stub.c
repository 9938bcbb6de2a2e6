/* SPDX-License-Identifier: MIT */
/* Built instead of the native backend when libseccomp is not available. */
#include "box.h"

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

static int stub_create(sandbox_box *b, sbx_err *e)
{
    (void)b;
    return sbx_fail(e, SANDBOX_ENORUNTIME,
                    "the native runtime is not built into this libsandbox");
}

static int stub_inspect(sandbox_box *b, sbx_box_state *st)
{
    (void)b;
    st->alive = false;
    return 0;
}

static int stub_destroy(sandbox_box *b, sandbox_result *res, sbx_err *e)
{
    (void)b;
    (void)res;
    (void)e;
    return 0;
}

const sbx_box_ops sbx_native_box_ops = {
    .name = "native",
    .create = stub_create,
    .inspect = stub_inspect,
    .destroy = stub_destroy,
};
