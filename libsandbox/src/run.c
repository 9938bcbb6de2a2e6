/* SPDX-License-Identifier: MIT */
/* sandbox_run: options -> validated plan -> backend -> result. */
#include "box.h"

#include <string.h>

void sbx_set_message(sandbox_result *res, char *msg)
{
    free(res->message);
    /* It may quote the box (sbx_safe_text); on ENOMEM the raw text is
     * dropped, never kept. */
    res->message = sbx_safe_dup(msg);
    free(msg);
}

static int ensure_data(sandbox_stream *s)
{
    if (s->data == NULL) {
        s->data = calloc(1, 1);
        if (s->data == NULL)
            return SANDBOX_ENOMEM;
    }
    return 0;
}

int sbx_fail_result(sandbox_result *res, const sbx_err *e)
{
    res->reason = SANDBOX_END_ERROR;
    res->error = e->code;
    res->exit_code = -1;
    sbx_set_message(res,
                    sbx_strdup(e->msg[0] ? e->msg : sandbox_strerror(e->code)));
    ensure_data(&res->out);
    ensure_data(&res->err);
    return e->code;
}

/* What went wrong with a tee or stdin_fd (io.c) joins the message. */
static void add_io_note(sandbox_result *res, const sbx_io *io)
{
    if (io->note[0] == '\0')
        return;
    char *m = res->message ? sbx_asprintf("%s; %s", res->message, io->note)
                           : sbx_strdup(io->note);
    if (m != NULL)
        sbx_set_message(res, m);
}

int sandbox_run(const sandbox_opts *opts, sandbox_result *res)
{
    sbx_err e = {0};
    sbx_plan plan;
    sbx_io io;
    int rc;

    if (res == NULL)
        return SANDBOX_EINVAL;
    if (res->struct_size < SBX_RESULT_MIN_SIZE)
        return SANDBOX_EABI;
    sandbox_result_free(res);

    if ((rc = sbx_plan_init(&plan, opts, &e)) < 0)
        return sbx_fail_result(res, &e);
    if ((rc = sbx_io_init(&io, &plan, &e)) < 0) {
        sbx_plan_free(&plan);
        return sbx_fail_result(res, &e);
    }
    plan.io = &io;
    res->runtime = sbx_strdup(plan.runtime_path);
    res->container_name = sbx_strdup(plan.name);
    if (SBX_HAS(res, backend))
        res->backend = sbx_strdup(plan.kind == SBX_RT_NATIVE   ? "native"
                                  : plan.kind == SBX_RT_PODMAN ? "podman"
                                                               : "docker");
    if (res->runtime == NULL || res->container_name == NULL)
        rc = sbx_fail(&e, SANDBOX_ENOMEM, "out of memory");
    else if (plan.kind == SBX_RT_NATIVE)
        rc = sbx_box_run(&plan, res, &e); /* plan moved into the box */
    else {
        sbx_child inspect;
        sbx_image_id_start(&plan, &inspect);
        rc = sbx_container_run(&plan, res, &e);
        sbx_image_id_finish(&inspect, &plan, res, rc == 0);
    }
    if (rc == 0 && (ensure_data(&res->out) < 0 || ensure_data(&res->err) < 0))
        rc = sbx_fail(&e, SANDBOX_ENOMEM, "out of memory");
    if (rc == 0)
        add_io_note(res, &io);
    sbx_io_free(&io);
    sbx_plan_free(&plan);
    return rc < 0 ? sbx_fail_result(res, &e) : 0;
}

void sandbox_result_free(sandbox_result *res)
{
    if (res == NULL || res->struct_size < SBX_RESULT_MIN_SIZE)
        return;
    size_t size = res->struct_size;
    sbx_stream_free(&res->out);
    sbx_stream_free(&res->err);
    free(res->runtime);
    free(res->container_name);
    free(res->message);
    if (SBX_HAS(res, image_id))
        free(res->image_id);
    if (SBX_HAS(res, backend))
        free(res->backend);
    if (SBX_HAS(res, net_log))
        free(res->net_log);
    sandbox_result_init(res, size);
}
