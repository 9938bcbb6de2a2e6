#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tear down the single-node cluster of scripts/slurm-up.sh: cancel every job,
# then stop slurmd, slurmctld and munged by their pidfiles (SIGTERM to all
# three at once, SIGKILL after 5 s).  Idempotent: with nothing running it says so and exits 0.
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

# SIGTERM to the three at once (each takes ~2 s to exit), then wait;
# SIGKILL whatever ignored it for 10 s.
names=() pids=()
for d in slurmd slurmctld munged; do
    pf=$RUN/$d.pid
    if alive "$pf"; then
        names+=("$d") pids+=("$(cat "$pf")")
        kill -TERM "$(cat "$pf")" 2>/dev/null || true
    fi
    rm -f "$pf"
done
for i in "${!pids[@]}"; do
    pid=${pids[$i]}
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "${names[$i]} ($pid) ignored SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    say "stopped ${names[$i]} ($pid)"
done
rm -f "$RUN/munge/munge.socket.2" "$RUN/munge/munge.socket.2.lock"
say "down"
