#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tear down the single-node cluster of scripts/slurm-up.sh: cancel every job,
# then stop slurmd, slurmctld and munged by their pidfiles (SIGTERM, then
# SIGKILL after 10 s).  Idempotent: with nothing running it says so and exits 0.
# The key, configs and logs stay in the run directory for the next slurm-up.sh.
set -euo pipefail
RUN=${SANDBOX_SLURM_RUN:-/run/libsandbox-slurm}
say() { printf 'slurm-down: %s\n' "$*"; }
[[ $(id -u) -eq 0 ]] || { echo "slurm-down: run as root; fix: sudo $0" >&2; exit 1; }
[[ -f $RUN/slurm.conf ]] && export SLURM_CONF=$RUN/slurm.conf

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if alive "$RUN/slurmctld.pid"; then
    jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u || true)
    if [[ -n $jobs ]]; then
        say "cancelling $(wc -w <<<"$jobs") job(s)"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        # let slurmd deliver the signals and the tasks' traps run
        for _ in $(seq 50); do
            [[ -z $(squeue -h -t R,CG,PD,S -o '%A' 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
fi

stop() { # name pidfile
    local name=$1 pf=$2 pid
    if ! alive "$pf"; then
        rm -f "$pf"
        return
    fi
    pid=$(cat "$pf")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$pf"
    say "stopped $name ($pid)"
}
stop slurmd "$RUN/slurmd.pid"
stop slurmctld "$RUN/slurmctld.pid"
stop munged "$RUN/munged.pid"
rm -f "$RUN/munge/munge.socket.2" "$RUN/munge/munge.socket.2.lock"
say "down"
