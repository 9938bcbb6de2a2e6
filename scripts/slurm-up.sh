#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bring up a single-node Slurm cluster on this machine, without systemd, for
# `sandbox-bench evaluate --executor slurm` (tests/bench/e2e_slurm.sh, the
# benchmark in bench/perf/slurm_vs_local.sh, trying it out):
#   1. installs slurmctld slurmd slurm-client munge (Debian's packages);
#   2. a munge key in the run directory; munged's socket directory 0755;
#   3. slurm.conf: the node line from `slurmd -C`, addresses on 127.0.0.1,
#      no accounting, SchedulerParameters=batch_sched_delay=0, proctrack/cgroup
#      (cgroup.conf beside it: cgroup/v1 on this host's hybrid layout, v2 on a
#      unified one), select/cons_tres so one array task runs per free CPU;
#   4. starts munged, slurmctld and slurmd with pidfiles and waits until the
#      node is `idle` (the whole word: `idle*` means not responding).
# Idempotent: run it again and it finds the daemons up and returns.  Undo with
# scripts/slurm-down.sh.  Run as root.
# Environment: SANDBOX_SLURM_RUN (default /run/libsandbox-slurm) holds the key,
# sockets, pidfiles, state, logs and the configs; /etc/slurm/slurm.conf is made
# a symlink to its slurm.conf so sbatch/squeue/scancel need no SLURM_CONF (an
# existing /etc/slurm/slurm.conf that is not ours is left alone: then export
# SLURM_CONF=$SANDBOX_SLURM_RUN/slurm.conf).
set -euo pipefail
RUN=${SANDBOX_SLURM_RUN:-/run/libsandbox-slurm}
say() { printf 'slurm-up: %s\n' "$*"; }
die() { printf 'slurm-up: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (the daemons and munged need it); fix: sudo $0"

alive() { # pidfile
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

# ---- 1. packages ----------------------------------------------------------
need=()
for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${need[@]}" >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; } ||
        die "apt-get install ${need[*]} failed; fix: check the Debian archive is reachable"
fi

install -d -m 0755 "$RUN" "$RUN/munge" "$RUN/ctld" "$RUN/spool"
CONF=$RUN/slurm.conf

# ---- 2. munge ---------------------------------------------------------------
if [[ ! -s $RUN/munge.key ]]; then
    (umask 077; dd if=/dev/urandom of="$RUN/munge.key" bs=1024 count=1 status=none)
fi
chmod 0600 "$RUN/munge.key"
chmod 0755 "$RUN/munge"
if ! alive "$RUN/munged.pid"; then
    rm -f "$RUN/munge/munge.socket.2" "$RUN/munge/munge.socket.2.lock"
    munged --force --key-file="$RUN/munge.key" --socket="$RUN/munge/munge.socket.2" \
        --pid-file="$RUN/munged.pid" --log-file="$RUN/munged.log" \
        --seed-file="$RUN/munged.seed" ||
        die "munged did not start; see $RUN/munged.log"
fi

# ---- 3. slurm.conf and cgroup.conf -------------------------------------------
node=$(slurmd -C | head -n1)
[[ $node == NodeName=* ]] || die "slurmd -C printed no node line: $node"
nodename=${node%% *}
nodename=${nodename#NodeName=}
if [[ $(stat -f -c %T /sys/fs/cgroup 2>/dev/null) == cgroup2fs ]]; then
    cgplugin=cgroup/v2
else
    cgplugin=cgroup/v1
fi
cat >"$CONF.new" <<EOF
# written by libsandbox scripts/slurm-up.sh: a single-node cluster on 127.0.0.1
ClusterName=sbench
SlurmctldHost=$nodename(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$RUN/munge/munge.socket.2
StateSaveLocation=$RUN/ctld
SlurmdSpoolDir=$RUN/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$RUN/slurmctld.log
SlurmdLogFile=$RUN/slurmd.log
# no accounting: no slurmdbd, no database
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# every process of a job is tracked (and killed) through its cgroup
ProctrackType=proctrack/cgroup
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MaxArraySize=1001
MinJobAge=300
KillWait=10
ReturnToService=2
SlurmdTimeout=60
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$nodename Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$RUN/cgroup.conf.new" <<EOF
# written by libsandbox scripts/slurm-up.sh
CgroupPlugin=$cgplugin
CgroupMountpoint=/sys/fs/cgroup
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
EOF
changed=0
for f in "$CONF" "$RUN/cgroup.conf"; do
    if ! cmp -s "$f.new" "$f"; then mv "$f.new" "$f"; changed=1; else rm -f "$f.new"; fi
done
if [[ -L /etc/slurm/slurm.conf || ! -e /etc/slurm/slurm.conf ]]; then
    mkdir -p /etc/slurm
    ln -sfn "$CONF" /etc/slurm/slurm.conf
    ln -sfn "$RUN/cgroup.conf" /etc/slurm/cgroup.conf 2>/dev/null || true
else
    say "/etc/slurm/slurm.conf is not ours: left alone; export SLURM_CONF=$CONF"
fi
export SLURM_CONF=$CONF

# ---- 4. daemons ---------------------------------------------------------------
if ((changed)) && alive "$RUN/slurmctld.pid"; then
    say "configuration changed: reconfiguring"
    scontrol reconfigure || true
fi
if ! alive "$RUN/slurmctld.pid"; then
    slurmctld -f "$CONF" -c -i || die "slurmctld did not start; see $RUN/slurmctld.log"
fi
if ! alive "$RUN/slurmd.pid"; then
    slurmd -f "$CONF" || die "slurmd did not start; see $RUN/slurmd.log"
fi
t0=$SECONDS
while :; do
    state=$(sinfo -h -n "$nodename" -o '%T' 2>/dev/null || true)
    if grep -qx idle <<<"$state"; then break; fi
    # a node left DOWN by an earlier unclean stop: bring it back
    if grep -qE '^(down|drained|drain)' <<<"$state"; then
        scontrol update NodeName="$nodename" State=RESUME 2>/dev/null || true
    fi
    if ((SECONDS - t0 > 60)); then
        die "node $nodename is '${state:-unknown}', not idle, after 60 s; see $RUN/slurmd.log and $RUN/slurmctld.log"
    fi
    sleep 0.2
done
say "up: node $nodename idle, partition debug; config $CONF (SLURM_CONF), logs in $RUN"
