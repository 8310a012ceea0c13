#!/usr/bin/env bash
# Starts the one-node Slurm cluster tests/slurm.rs submits job arrays to:
# Debian's slurmctld, slurmd and munge, no systemd. Idempotent: every step
# checks first and does only what is missing; exits non-zero when the
# cluster cannot be had here (not root, no apt), and the tests then skip.
set -euo pipefail

say() { echo "slurm-setup: $*" >&2; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "slurm is not installed and cannot be installed here (needs root and apt)"
        exit 1
    fi
    say "installing slurmctld slurmd munge slurm-client"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd munge slurm-client >/dev/null
fi

node=$(hostname -s)
cpus=$(nproc)
conf=/etc/slurm/slurm.conf
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
if ! grep -q "NodeName=$node " "$conf" 2>/dev/null; then
    say "writing $conf for node $node ($cpus CPUs)"
    cat >"$conf" <<CONF
# One-node test cluster (tests/slurm-setup.sh).
ClusterName=plinth-test
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/lib/slurm/slurmd
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MaxArraySize=1001
NodeName=$node CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
fi

# munge: a key, and the daemon running as its own user.
if [ ! -s /etc/munge/munge.key ]; then
    say "making a munge key"
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.25; done
fi

pgrep -x slurmctld >/dev/null || { say "starting slurmctld"; slurmctld; }
pgrep -x slurmd >/dev/null || { say "starting slurmd"; slurmd; }

for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        say "cluster up: $(sinfo -h -o '%N %T %c CPUs')"
        exit 0
    fi
    # A node that came back after a restart is marked down until resumed.
    scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
    sleep 0.5
done
say "the node never became idle: $(sinfo 2>&1 | tail -2)"
exit 1
