/* SPDX-License-Identifier: MIT */
/*
 * executor_slurm.c: `evaluate --executor slurm`.  The runs without a record
 * become one plan (plan.c) and ONE job array:
 *     sbatch --parsable --array=0-M%K --job-name=sandbox-bench-ID
 *            --output=EVAL_DIR/slurm/logs/%A_%a.out --chdir=EVAL_DIR/slurm
 *            [-p P] [-A A] [-t T] [WORD...] EVAL_DIR/slurm/task.sh
 * task.sh runs `sandbox-bench evaluate-one PLAN $SLURM_ARRAY_TASK_ID`.  The
 * submitter polls `squeue -r --states=all` (no accounting database needed),
 * reads each record as it appears, and when no task is left pending or
 * running hands every outcome back to evaluate.c.  A run whose task ended
 * without its record gets the task's Slurm state as its status
 * ("slurm:CANCELLED", "slurm:TIMEOUT", "slurm:FAILED", ...).  SIGINT/SIGTERM
 * on the submitter (slurm_interrupted) scancels the array.
 */
#include "executor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t slurm_interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    slurm_interrupted = 1;
}

int slurm_cli_setup(slurm_opts *so, char *self, size_t size)
{
    ssize_t sl = readlink("/proc/self/exe", self, size - 1);
    if (sl <= 0) {
        fprintf(stderr,
                "sandbox-bench: cannot find my own executable "
                "(/proc/self/exe): %s; fix: mount /proc\n",
                strerror(errno));
        return -1;
    }
    self[sl] = '\0';
    so->self = self;
    /* Ctrl-C (or SIGTERM) while waiting on the array: scancel it.  No
     * SA_RESTART: the poll's sleep ends at once. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

/* Run argv; stdout into *out, stderr into *err (both NUL-terminated, may be
 * NULL).  Returns the exit code, or -1 if it could not run. */
static int run_cmd(char *const argv[], const char *tmpdir, char **out,
                   char **err)
{
    char *op = xasprintf("%s/.cmd.%d.out", tmpdir, (int)getpid());
    char *ep = xasprintf("%s/.cmd.%d.err", tmpdir, (int)getpid());
    unlink(op);
    unlink(ep);
    proc_result r;
    bench_err e;
    int rc = proc_run(argv, NULL, op, ep, 120, &r, &e);
    size_t len;
    bench_err e2;
    if (out) {
        *out = NULL;
        if (read_file(op, out, &len, &e2) != 0)
            *out = xstrdup("");
    }
    if (err) {
        *err = NULL;
        if (read_file(ep, err, &len, &e2) != 0)
            *err = xstrdup(rc != 0 ? e.msg : "");
    }
    unlink(op);
    unlink(ep);
    free(op);
    free(ep);
    if (rc != 0)
        return -1;
    return r.exit_code;
}

static void chomp(char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* An executable named `name` on PATH, or NULL. */
static char *on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return NULL;
    char *copy = xstrdup(path);
    char *found = NULL;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d;
         d = strtok_r(NULL, ":", &save)) {
        char *p = path_join(*d ? d : ".", name);
        if (access(p, X_OK) == 0 && path_is_file(p)) {
            found = p;
            break;
        }
        free(p);
    }
    free(copy);
    return found;
}

static int is_terminal(const char *st)
{
    static const char *const live[] = {
        "PENDING",       "RUNNING",  "CONFIGURING", "COMPLETING",
        "SUSPENDED",     "REQUEUED", "RESIZING",    "SIGNALING",
        "STAGE_OUT",     "STOPPED",  "REQUEUE_FED", "REQUEUE_HOLD",
        "RESV_DEL_HOLD", NULL};
    for (size_t i = 0; live[i]; i++)
        if (!strcmp(st, live[i]))
            return 0;
    return 1;
}

/* The cluster's MaxArraySize (scontrol show config), or -1. */
static long max_array_size(const char *tmpdir)
{
    char *argv[] = {"scontrol", "show", "config", NULL};
    char *out = NULL;
    long v = -1;
    if (run_cmd(argv, tmpdir, &out, NULL) == 0) {
        const char *p = strstr(out, "MaxArraySize");
        if (p && (p = strchr(p, '=')) != NULL)
            v = strtol(p + 1, NULL, 10);
    }
    free(out);
    return v;
}

/* 0: partition exists (or none asked); -1: e names the ones there are. */
static int check_partition(const char *part, const char *tmpdir, bench_err *e)
{
    if (!part)
        return 0;
    char *argv[] = {"sinfo", "-h", "-o", "%P", NULL};
    char *out = NULL, *err = NULL;
    int rc = run_cmd(argv, tmpdir, &out, &err);
    if (rc != 0) {
        chomp(err);
        bench_seterr(e,
                     "sinfo failed (%s): Slurm's controller does not answer; "
                     "fix: start the cluster (scripts/slurm-up.sh on one "
                     "machine) or set SLURM_CONF",
                     *err ? err : "no message");
        free(out);
        free(err);
        return -1;
    }
    int found = 0;
    char *list = xstrdup("");
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(l);
        if (n && l[n - 1] == '*')
            l[--n] = '\0';
        if (!strcmp(l, part))
            found = 1;
        char *nl = xasprintf("%s%s%s", list, *list ? ", " : "", l);
        free(list);
        list = nl;
    }
    if (!found)
        bench_seterr(e,
                     "--partition %s: the cluster has no such partition (it "
                     "has: %s); fix: pass one of those, or leave --partition "
                     "out for the default",
                     part, *list ? list : "none");
    free(list);
    free(out);
    free(err);
    return found ? 0 : -1;
}

static void progress(const eval_plan_view *v, size_t j, json_t *run,
                     size_t done, double t0)
{
    if (v->args->quiet)
        return;
    const char *st = json_string_value(json_object_get(run, "status"));
    const char *detail = json_string_value(json_object_get(run, "detail"));
    fprintf(stderr, "[evaluate %zu/%zu %.0fs] %s #%d: %s", done, v->n_jobs,
            now_mono() - t0, v->cands[v->jobs[j].cand].label, v->jobs[j].repeat,
            st ? st : "?");
    if (json_object_size(json_object_get(run, "tests")))
        fprintf(stderr, ", %lld/%zu passed",
                (long long)json_integer_value(json_object_get(run, "passed")),
                v->task->n_tests);
    fprintf(stderr, " (%.1f s)%s%s\n",
            json_number_value(json_object_get(run, "wall_sec")),
            detail ? ": " : "", detail ? detail : "");
}

/* A record into r's job: 1 loaded, 0 none, -1 bad (e). */
static int load_record(const eval_plan_view *v, eval_job_ref *r, json_t **runp,
                       bench_err *e)
{
    char *path = plan_record_path(v->eval_dir, r->cand, r->repeat);
    json_t *run = NULL;
    int got = record_read(path, v->cands[r->cand].label, &run, e);
    free(path);
    if (got == 1 && evaluate_job_load(r, v->task, run, e) != 0)
        got = -1;
    if (got == 1 && runp)
        *runp = run;
    else
        json_decref(run);
    return got;
}

/* The task script: runs evaluate-one; on SIGTERM passes it on, waits, and
 * reaps what a dead owner left (sandbox gc). */
static int write_task_script(const char *path, const char *self,
                             const char *plan, const char *runtime,
                             bench_err *e)
{
    /* the sandbox CLI beside us (installed) or in the build tree */
    char *dir = xstrdup(self);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    char *cli = path_join(dir, "sandbox");
    if (access(cli, X_OK) != 0) {
        free(cli);
        cli = path_join(dir, "../../cli/sandbox");
        char *abs = path_abs(cli);
        free(cli);
        cli = abs ? abs : xstrdup("");
    }
    free(dir);
    char *q_self = shell_quote(self), *q_plan = shell_quote(plan),
         *q_cli = shell_quote(cli), *q_rt = shell_quote(runtime ? runtime : "");
    char *text = xasprintf(
        "#!/bin/sh\n"
        "# sandbox-bench: one array task of an evaluation (generated; see\n"
        "# docs/scale-out.md).  On scancel or the time limit Slurm sends\n"
        "# SIGTERM: evaluate-one cancels its box through libsandbox and\n"
        "# exits without a record for the unfinished run; then `sandbox gc`\n"
        "# removes what an owner that died left behind.  Slurm's\n"
        "# proctrack/cgroup kills whatever is still in the job's cgroup.\n"
        "BENCH=%s\nPLAN=%s\nSANDBOX_CLI=%s\nRUNTIME=%s\n"
        "if [ ! -r \"$PLAN\" ]; then\n"
        "    echo \"sandbox-bench: $PLAN is not visible on $(hostname); fix: "
        "put --out on storage every node mounts at the same path\" >&2\n"
        "    exit 3\n"
        "fi\n"
        "[ -x \"$SANDBOX_CLI\" ] || SANDBOX_CLI=$(command -v sandbox || true)\n"
        "reap() {\n"
        "    [ -n \"$SANDBOX_CLI\" ] || return 0\n"
        "    if [ -n \"$RUNTIME\" ]; then \"$SANDBOX_CLI\" gc --runtime "
        "\"$RUNTIME\"; else \"$SANDBOX_CLI\" gc; fi >/dev/null 2>&1 || true\n"
        "}\n"
        "\"$BENCH\" evaluate-one \"$PLAN\" \"$SLURM_ARRAY_TASK_ID\" &\n"
        "child=$!\n"
        "trap 'kill -TERM $child 2>/dev/null; wait $child; reap; exit 143' "
        "TERM INT\n"
        "wait $child\n"
        "rc=$?\n"
        "[ $rc -eq 0 ] || reap\n"
        "exit $rc\n",
        q_self, q_plan, q_cli, q_rt);
    int rc = write_file(path, text, strlen(text), e);
    if (rc == 0 && chmod(path, 0755) != 0) {
        bench_seterr(e, "chmod %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(text);
    free(q_self);
    free(q_plan);
    free(q_cli);
    free(q_rt);
    free(cli);
    return rc;
}

typedef struct task_state {
    char state[32];
    char node[64];
} task_state;

/* Poll squeue once: fill st[] for job `jid`; *alive = tasks not ended;
 * returns how many tasks were listed (0: the job is gone), -1 on error. */
static long poll_squeue(const char *jid, const char *tmpdir, task_state *st,
                        size_t n_tasks, size_t *alive)
{
    char *argv[] = {"squeue",       "-h",       "-r",
                    "--states=all", "-j",       (char *)jid,
                    "-o",           "%i|%T|%N", NULL};
    char *out = NULL, *err = NULL;
    int rc = run_cmd(argv, tmpdir, &out, &err);
    long listed = 0;
    *alive = 0;
    if (rc != 0) {
        /* "Invalid job id specified": purged, so ended */
        long r = (err && strstr(err, "Invalid job id")) ? 0 : -1;
        free(out);
        free(err);
        return r;
    }
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char *us = strchr(l, '_');
        char *b1 = strchr(l, '|');
        if (!us || !b1 || us > b1)
            continue;
        char *b2 = strchr(b1 + 1, '|');
        if (!b2)
            continue;
        char *endp = NULL;
        unsigned long idx = strtoul(us + 1, &endp, 10);
        if (endp != b1 || idx >= n_tasks)
            continue;
        *b2 = '\0';
        snprintf(st[idx].state, sizeof st[idx].state, "%s", b1 + 1);
        snprintf(st[idx].node, sizeof st[idx].node, "%s", b2 + 1);
        listed++;
        if (!is_terminal(st[idx].state))
            (*alive)++;
    }
    free(out);
    free(err);
    return listed;
}

static void sleep_sec(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* a signal ends it early: fine */
}

int slurm_execute(const eval_plan_view *v, bench_err *e)
{
    const slurm_opts *so = v->args->slurm;
    const char *id = v->eval_id;
    char *sdir = path_join(v->eval_dir, "slurm");
    char *rdir = path_join(sdir, "records");
    char *ldir = path_join(sdir, "logs");
    char *plan_path = path_join(sdir, "plan.json");
    char *script = path_join(sdir, "task.sh");
    char *jid = NULL;
    task_state *st = NULL;
    eval_plan p;
    memset(&p, 0, sizeof p);
    int rc = -1;
    size_t n_done = 0, missing = 0;
    double t0 = now_mono();
    size_t *todo = xcalloc(v->n_jobs ? v->n_jobs : 1, sizeof *todo);
    size_t n_todo = 0;

    /* ---- bad input first: each error names its fix ---- */
    char *sb = on_path("sbatch");
    if (!sb) {
        bench_seterr(e, "--executor slurm: no `sbatch` on PATH; fix: install "
                        "Slurm's client (apt-get install slurm-client; "
                        "scripts/slurm-up.sh brings up a one-machine cluster), "
                        "add its directory to PATH, or use --executor local");
        goto bad;
    }
    free(sb);
    if (mkdir_p(rdir, e) != 0 || mkdir_p(ldir, e) != 0)
        goto out;
    if (check_partition(so->partition, sdir, e) != 0)
        goto bad;

    /* ---- what is there already, what is to do ---- */
    for (size_t j = 0; j < v->n_jobs; j++) {
        eval_job_ref *r = &v->jobs[j];
        char *path = plan_record_path(v->eval_dir, r->cand, r->repeat);
        if (!so->resume) {
            unlink(path);
        } else {
            bench_err re;
            int got = load_record(v, r, NULL, &re);
            if (got < 0) {
                bench_seterr(e, "--resume: %s", re.msg);
                free(path);
                goto out;
            }
            if (got == 1) {
                n_done++;
                char *mark = xasprintf("%s.logged", path);
                r->logged = path_is_file(mark);
                free(mark);
            }
        }
        if (!evaluate_job_status(r))
            todo[n_todo++] = j;
        free(path);
    }
    if (so->resume && !v->args->quiet)
        fprintf(stderr,
                "[evaluate] --resume: %zu of %zu runs have their record; "
                "%zu to run\n",
                n_done, v->n_jobs, n_todo);

    p.task_dir = xstrdup(v->task->dir);
    p.eval_dir = xstrdup(v->eval_dir);
    p.eval_id = xstrdup(id);
    p.runtime = v->args->runtime ? xstrdup(v->args->runtime) : NULL;
    p.seed = v->args->seed;
    p.keep_scratch = v->args->keep_scratch;
    p.per_task = so->per_task < 1 ? 1 : so->per_task;
    p.approve_file =
        v->args->approve_file ? path_abs(v->args->approve_file) : NULL;
    if (v->args->approve_file && !p.approve_file) /* evaluate.c says why */
        p.approve_file = xstrdup(v->args->approve_file);
    p.n_cands = v->n_cands;
    p.cands = xcalloc(v->n_cands ? v->n_cands : 1, sizeof *p.cands);
    p.tier = xcalloc(v->n_cands ? v->n_cands : 1, sizeof *p.tier);
    p.cand_sha = xcalloc(v->n_cands ? v->n_cands : 1, sizeof *p.cand_sha);
    for (size_t i = 0; i < v->n_cands; i++) {
        p.cands[i].label = xstrdup(v->cands[i].label);
        p.cands[i].dir = xstrdup(v->cands[i].dir);
        p.tier[i] = v->tier[i];
        p.cand_sha[i] = xstrdup(v->cand_sha[i]);
    }
    p.n_runs = n_todo;
    p.run_cand = xcalloc(n_todo ? n_todo : 1, sizeof *p.run_cand);
    p.run_repeat = xcalloc(n_todo ? n_todo : 1, sizeof *p.run_repeat);
    for (size_t k = 0; k < n_todo; k++) {
        p.run_cand[k] = v->jobs[todo[k]].cand;
        p.run_repeat[k] = v->jobs[todo[k]].repeat;
    }
    size_t n_tasks = plan_n_tasks(&p);
    if (n_tasks == 0) {
        rc = 0;
        goto merged;
    }
    long maxa = max_array_size(sdir);
    if (maxa < 0) {
        bench_seterr(e, "`scontrol show config` did not answer: Slurm's "
                        "controller is not reachable; fix: start the cluster "
                        "(scripts/slurm-up.sh on one machine) or set "
                        "SLURM_CONF to its slurm.conf");
        goto out;
    }
    if ((long)n_tasks > maxa) {
        size_t need = (n_todo + (size_t)maxa - 1) / (size_t)maxa;
        bench_seterr(e,
                     "the plan needs %zu array tasks (%zu runs, --per-task "
                     "%d) but the cluster's MaxArraySize is %ld; fix: "
                     "--per-task %zu or more, or raise MaxArraySize in "
                     "slurm.conf",
                     n_tasks, n_todo, p.per_task, maxa, need);
        goto bad;
    }
    if (plan_write(plan_path, &p, e) != 0 ||
        write_task_script(script, so->self, plan_path, v->args->runtime, e))
        goto out;

    /* ---- submit: one array ---- */
    {
        size_t na = 0;
        char **argv = xcalloc(16 + so->n_sbatch_args, sizeof *argv);
        int throttle = so->throttle > 0 ? so->throttle : (int)n_tasks;
        char *arr = xasprintf("--array=0-%zu%%%d", n_tasks - 1, throttle);
        char *name = xasprintf("--job-name=sandbox-bench-%s", id);
        char *outp = xasprintf("--output=%s/%%A_%%a.out", ldir);
        char *chd = xasprintf("--chdir=%s", sdir);
        argv[na++] = "sbatch";
        argv[na++] = "--parsable";
        argv[na++] = arr;
        argv[na++] = name;
        argv[na++] = outp;
        argv[na++] = chd;
        if (so->partition) {
            argv[na++] = "-p";
            argv[na++] = (char *)so->partition;
        }
        if (so->account) {
            argv[na++] = "-A";
            argv[na++] = (char *)so->account;
        }
        if (so->time_limit) {
            argv[na++] = "-t";
            argv[na++] = (char *)so->time_limit;
        }
        for (size_t i = 0; i < so->n_sbatch_args; i++)
            argv[na++] = (char *)so->sbatch_args[i];
        argv[na++] = script;
        char *out = NULL, *err = NULL;
        int src = run_cmd(argv, sdir, &out, &err);
        free(arr);
        free(name);
        free(outp);
        free(chd);
        free(argv);
        chomp(out);
        chomp(err);
        char *semi = strchr(out, ';');
        if (semi)
            *semi = '\0';
        if (src != 0 || !*out || strspn(out, "0123456789") != strlen(out)) {
            bench_seterr(e,
                         "sbatch refused the array (exit %d): %s; fix: check "
                         "--partition, --account, --time-limit and the "
                         "--sbatch-arg words against the cluster (sinfo, "
                         "scontrol show config)",
                         src, *err ? err : out);
            free(out);
            free(err);
            goto bad;
        }
        jid = xstrdup(out);
        free(out);
        free(err);
        char *jf = path_join(sdir, "jobid");
        bench_err je;
        write_file(jf, jid, strlen(jid), &je);
        free(jf);
        if (!v->args->quiet)
            fprintf(stderr,
                    "[evaluate] submitted array job %s: %zu task%s (%%%d at "
                    "once) for %zu run%s, --per-task %d%s%s; logs in %s\n",
                    jid, n_tasks, n_tasks == 1 ? "" : "s", throttle, n_todo,
                    n_todo == 1 ? "" : "s", p.per_task,
                    so->partition ? ", partition " : "",
                    so->partition ? so->partition : "", ldir);
    }

    /* ---- wait: poll squeue, read records as they land ---- */
    st = xcalloc(n_tasks, sizeof *st);
    int cancelled_by_us = 0, seen = 0, errors = 0;
    double cancel_t = 0;
    for (;;) {
        if (slurm_interrupted && !cancelled_by_us) {
            char *argv[] = {"scancel", jid, NULL};
            if (!v->args->quiet)
                fprintf(stderr, "[evaluate] interrupted: scancel %s\n", jid);
            run_cmd(argv, sdir, NULL, NULL);
            cancelled_by_us = 1;
            cancel_t = now_mono();
        }
        size_t alive = 0;
        long listed = poll_squeue(jid, sdir, st, n_tasks, &alive);
        if (listed < 0) {
            if (++errors > 20) {
                bench_seterr(e,
                             "squeue keeps failing for job %s; fix: check "
                             "the controller (scontrol ping); the array "
                             "may still run: scancel %s",
                             jid, jid);
                goto out;
            }
        } else {
            errors = 0;
        }
        if (listed > 0)
            seen = 1;
        for (size_t k = 0; k < n_todo; k++) {
            eval_job_ref *r = &v->jobs[todo[k]];
            if (evaluate_job_status(r))
                continue;
            bench_err re;
            json_t *run = NULL;
            int got = load_record(v, r, &run, &re);
            if (got == 1) {
                n_done++;
                progress(v, todo[k], run, n_done, t0);
                json_decref(run);
            } else if (got < 0) {
                fprintf(stderr, "sandbox-bench: %s\n", re.msg);
            }
        }
        if (listed == 0 && (seen || now_mono() - t0 > 30))
            break;
        if (listed > 0 && alive == 0)
            break;
        if (cancelled_by_us && now_mono() - cancel_t > 120) {
            bench_seterr(e,
                         "array job %s still has tasks 120 s after scancel; "
                         "fix: check the nodes (squeue -j %s, scontrol show "
                         "job %s)",
                         jid, jid, jid);
            goto out;
        }
        sleep_sec(0.5);
    }

    /* ---- runs without a record: their task's Slurm state ---- */
    {
        size_t no_log = 0, failed_tasks = 0;
        for (size_t k = 0; k < n_todo; k++) {
            eval_job_ref *r = &v->jobs[todo[k]];
            if (evaluate_job_status(r))
                continue;
            size_t ti = k / (size_t)p.per_task;
            const char *state = st[ti].state[0] ? st[ti].state : "UNKNOWN";
            char *log = xasprintf("%s/%s_%zu.out", ldir, jid, ti);
            /* a task that FAILED before writing its log could not open it:
             * the node does not see the output directory */
            int failed = !strcmp(state, "FAILED");
            int has_log = !failed || path_is_file(log);
            free(log);
            if (failed && k % (size_t)p.per_task == 0) {
                failed_tasks++;
                if (!has_log)
                    no_log++;
            }
            char *status = xasprintf("slurm:%s", state);
            char *detail = xasprintf(
                "array task %s_%zu ended %s%s%s before this run wrote its "
                "record%s; fix: `evaluate ... --executor slurm --resume --id "
                "%s` runs what is missing",
                jid, ti, state, st[ti].node[0] ? " on " : "", st[ti].node,
                has_log ? ""
                        : " (and left no log: can the node see the "
                          "output directory?)",
                id);
            evaluate_job_missing(r, v->eval_dir, v->cands[r->cand].label,
                                 status, detail);
            free(status);
            free(detail);
            missing++;
        }
        if (cancelled_by_us) {
            bench_seterr(e,
                         "interrupted: array job %s cancelled; %zu of %zu "
                         "runs have their record in %s; fix: rerun the same "
                         "command with --resume --id %s to finish",
                         jid, v->n_jobs - missing, v->n_jobs, rdir, id);
            goto out;
        }
        if (missing == n_todo && no_log == failed_tasks &&
            failed_tasks == n_tasks) {
            bench_seterr(e,
                         "array job %s: no task left a log in %s (state %s): "
                         "the nodes cannot see the output directory %s; fix: "
                         "put --out on storage shared by every node at the "
                         "same path (NFS, Lustre, CephFS...)",
                         jid, ldir, st[0].state[0] ? st[0].state : "UNKNOWN",
                         v->args->out_dir ? v->args->out_dir : v->eval_dir);
            goto bad;
        }
    }
merged:
    rc = 0;
    /* evaluate.c logs every run now; a record's mark keeps a later --resume
     * from logging it twice (runs without a record are logged each time,
     * with their Slurm state, and again once they are rerun) */
    for (size_t j = 0; j < v->n_jobs; j++) {
        const eval_job_ref *r = &v->jobs[j];
        const char *js = evaluate_job_status(r);
        if (r->logged || !js || !strncmp(js, "slurm:", 6))
            continue;
        char *path = plan_record_path(v->eval_dir, r->cand, r->repeat);
        char *mark = xasprintf("%s.logged", path);
        bench_err me;
        write_file(mark, "", 0, &me);
        free(mark);
        free(path);
    }
    if (so->missing)
        *so->missing = missing;
    goto out;
bad:
    if (so->bad_input)
        *so->bad_input = 1;
out:
    free(st);
    free(jid);
    free(todo);
    plan_free(&p);
    free(sdir);
    free(rdir);
    free(ldir);
    free(plan_path);
    free(script);
    return rc;
}
