#!/usr/bin/env bash
# A single-node SLURM on this machine, from Debian's packages, for the tests and for trying
# the slurm profile by hand: munged, MariaDB, slurmdbd, slurmctld and slurmd, with job
# accounting (sacct works).
#
#   scripts/slurm-local.sh start    start what is not running, wait until the node is idle
#   scripts/slurm-local.sh stop     cancel jobs, stop every daemon started here
#   scripts/slurm-local.sh status   what runs (exit 0 when all of it does, 3 otherwise)
#
# Everything (configs, keys, database, spool, logs, sockets, pid files) lives in one state
# folder, $LIGHTR1_SLURM_DIR (default /tmp/lightr1-slurm; keep it short: unix socket paths
# are limited to 107 bytes). Nothing is exported or written elsewhere: `start` prints, on
# stdout, the two lines a shell needs to use the cluster (eval "$(scripts/slurm-local.sh start)"):
#   export SLURM_CONF=<dir>/etc/slurm.conf
#   export PATH=<dir>/bin:$PATH
# <dir>/bin holds an `srun` that sets SLURM_CONF first: Snakemake's job step
# (snakemake-executor-plugin-slurm-jobstep) drops every SLURM_* variable, SLURM_CONF
# included, before it calls `srun` inside the job, and srun would otherwise look for
# /etc/slurm/slurm.conf.
#
# Ports: slurmctld $LIGHTR1_SLURM_PORT (default 6817), slurmd +1, slurmdbd +2 (the daemons
# bind all interfaces, munge authenticates every message; clients use 127.0.0.1). MariaDB
# listens on a unix socket in the state folder only. Runs as root (SlurmUser=root).
# Packages: scripts/system-packages.sh slurm.
set -euo pipefail

DIR="${LIGHTR1_SLURM_DIR:-/tmp/lightr1-slurm}"
PORT="${LIGHTR1_SLURM_PORT:-6817}"
TIMEOUT="${LIGHTR1_SLURM_TIMEOUT:-60}"
CLUSTER=lightr1
ACCOUNT=lightr1
PARTITION=debug

ETC="$DIR/etc"
RUN="$DIR/run"
LOG="$DIR/log"
export PATH="/usr/sbin:/sbin:$PATH"
# Our own calls of the SLURM tools use this config; daemons get it explicitly.
export SLURM_CONF="$ETC/slurm.conf"
# slurmdbd reaches MariaDB through its unix socket (libmariadb honours MYSQL_UNIX_PORT).
export MYSQL_UNIX_PORT="$RUN/mysqld.sock"

# daemon name -> pid file, log file, the process name in /proc/PID/comm
declare -A PIDFILE=(
    [munged]="$RUN/munged.pid" [mariadbd]="$RUN/mysqld.pid" [slurmdbd]="$RUN/slurmdbd.pid"
    [slurmctld]="$RUN/slurmctld.pid" [slurmd]="$RUN/slurmd.pid")
declare -A LOGFILE=(
    [munged]="$LOG/munged.log" [mariadbd]="$LOG/mariadbd.log" [slurmdbd]="$LOG/slurmdbd.log"
    [slurmctld]="$LOG/slurmctld.log" [slurmd]="$LOG/slurmd.log")
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; stop goes backwards
# (each runs in the foreground of its own session, LOG/NAME.out holds what it prints)

say() { echo "slurm-local: $*" >&2; }
die() { say "$*"; exit 1; }

alive() {  # a process, and not a zombie
    [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

pid_of() {  # the live pid of a daemon started here, or nothing
    local name=$1 pid
    [ -s "${PIDFILE[$name]}" ] || return 1
    pid=$(tr -dc 0-9 < "${PIDFILE[$name]}")
    [ -n "$pid" ] && alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
    echo "$pid"
}
running() { pid_of "$1" >/dev/null; }

fail() {  # fail NAME WHY: stop with the daemon's log tail
    local name=$1 file; shift
    say "$name: $*"
    file=${LOGFILE[$name]}
    [ -s "$file" ] || file="$LOG/$name.out"  # what it printed before its log was open
    if [ -s "$file" ]; then
        say "last lines of $file:"
        tail -n 20 "$file" | sed 's/^/    /' >&2
    fi
    say "what did start keeps running: scripts/slurm-local.sh stop cleans up"
    exit 1
}

launch() {  # launch NAME COMMAND...: run a daemon in the foreground of its own session
    # (no fork of its own, so its pid is known at once; its own session, so a Ctrl-C or a
    # killed caller does not take it down). Its stdout/stderr go to LOG/NAME.out.
    local name=$1 pid; shift
    setsid "$@" </dev/null >>"$LOG/$name.out" 2>&1 &
    pid=$!
    echo "$pid" > "${PIDFILE[$name]}"
    for _ in $(seq 1 50); do  # until setsid has become the daemon (or it is gone)
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && return 0
        alive "$pid" || return 0
        sleep 0.1
    done
}

wait_for() {  # wait_for NAME WHAT COMMAND...: poll COMMAND until it succeeds or TIMEOUT
    local name=$1 what=$2; shift 2
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        running "$name" || fail "$name" "exited before $what"
        [ $SECONDS -lt $deadline ] || fail "$name" "not $what within ${TIMEOUT}s"
        sleep 0.5
    done
}

need() {
    local missing=()
    for command in munged mungekey mariadbd mariadb-install-db mariadb slurmdbd slurmctld slurmd sbatch sacctmgr; do
        command -v "$command" >/dev/null 2>&1 || missing+=("$command")
    done
    [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run scripts/system-packages.sh slurm"
    [ "$(id -u)" -eq 0 ] || die "runs as root (SlurmUser=root, slurmd launches jobs)"
}

write_configs() {
    local host cpus sockets cores threads memory
    host=$(hostname -s)
    # The node as slurmd sees it: CPUs, layout, memory.
    local line
    line=$(slurmd -C | head -n 1)
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$line")
    sockets=$(sed -n 's/.* SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$line")
    cores=$(sed -n 's/.* CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$line")
    threads=$(sed -n 's/.* ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$line")
    memory=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$line")
    if [ -z "$cpus" ] || [ -z "$memory" ]; then die "cannot read the node from 'slurmd -C': $line"; fi

    : > "$ETC/plugstack.conf"  # no SPANK plugins (not the system's /etc/slurm/plugstack.conf)
    cat > "$ETC/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a single-node cluster in $DIR.
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$RUN/munge.socket
CredType=cred/munge
PlugStackConfig=$ETC/plugstack.conf
StateSaveLocation=$DIR/spool/slurmctld
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
# No cgroups here: processes are tracked by parentage, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
# The munge socket for talking to slurmdbd (AuthInfo covers the rest).
AccountingStoragePass=$RUN/munge.socket
# sacct shows the comment (Snakemake's rule name) only when it is stored.
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
# Short timeouts: a test cluster that starts and stops fast.
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
KillWait=5
Waittime=0
MinJobAge=300
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$memory State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

    [ -s "$ETC/dbpass" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$ETC/dbpass")
    (umask 077; cat > "$ETC/slurmdbd.conf" <<EOF
# Written by scripts/slurm-local.sh.
AuthType=auth/munge
AuthInfo=socket=$RUN/munge.socket
DbdHost=$host
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$(cat "$ETC/dbpass")
StorageLoc=slurm_acct_db
EOF
    )
    chmod 600 "$ETC/slurmdbd.conf"  # slurmdbd insists: owned by SlurmUser (root), mode 600

    mkdir -p "$DIR/bin"
    cat > "$DIR/bin/srun" <<EOF
#!/bin/sh
# Written by scripts/slurm-local.sh: Snakemake's job step calls srun without SLURM_CONF.
SLURM_CONF="\${SLURM_CONF:-$ETC/slurm.conf}" exec /usr/bin/srun "\$@"
EOF
    chmod 755 "$DIR/bin/srun"
}

start_munged() {
    running munged && return
    [ -s "$DIR/munge/munge.key" ] || mungekey --create --keyfile="$DIR/munge/munge.key"
    rm -f "$RUN/munge.socket" "$RUN/munge.socket.lock"
    launch munged munged --foreground --socket="$RUN/munge.socket" --key-file="$DIR/munge/munge.key" \
        --pid-file="${PIDFILE[munged]}" --log-file="${LOGFILE[munged]}" --seed-file="$DIR/munge/munged.seed"
    wait_for munged "answering" sh -c "munge --socket='$RUN/munge.socket' -n | unmunge --socket='$RUN/munge.socket'"
}

# Small: a few hundred jobs' records, not a site's (the redo log defaults to 96 MB).
MARIADB_SIZES=(--innodb-buffer-pool-size=128M --innodb-log-file-size=16M)

sql() { mariadb --no-defaults --socket="$RUN/mysqld.sock" -u root; }  # SQL on stdin

start_mariadbd() {
    running mariadbd && return
    if [ ! -d "$DIR/mysql/mysql" ]; then
        rm -rf "$DIR/mysql"
        mariadb-install-db --no-defaults --user=root --datadir="$DIR/mysql" "${MARIADB_SIZES[@]}" \
            --auth-root-authentication-method=socket --skip-test-db >>"${LOGFILE[mariadbd]}" 2>&1 \
            || fail mariadbd "mariadb-install-db failed"
    fi
    rm -f "$RUN/mysqld.sock"
    launch mariadbd mariadbd --no-defaults --user=root --datadir="$DIR/mysql" \
        --socket="$RUN/mysqld.sock" --pid-file="${PIDFILE[mariadbd]}" --skip-networking \
        --log-error="${LOGFILE[mariadbd]}" --skip-log-bin "${MARIADB_SIZES[@]}" --innodb-lock-wait-timeout=900
    wait_for mariadbd "answering" sh -c "echo 'SELECT 1' | mariadb --no-defaults --socket='$RUN/mysqld.sock' -u root"
    sql <<EOF || fail mariadbd "cannot create slurm_acct_db and its user"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$(cat "$ETC/dbpass")';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

start_slurmdbd() {
    running slurmdbd && return
    launch slurmdbd slurmdbd -D  # reads slurmdbd.conf next to $SLURM_CONF
    wait_for slurmdbd "answering sacctmgr" sacctmgr -n list cluster
    if [ -z "$(sacctmgr -n -P list cluster "$CLUSTER" format=cluster)" ]; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null || fail slurmdbd "sacctmgr add cluster failed"
    fi
}

start_slurmctld() {
    running slurmctld && return
    launch slurmctld slurmctld -D -f "$ETC/slurm.conf"
    wait_for slurmctld "answering" scontrol ping
    # Jobs in its saved state outlived a crash (stop cancels them all): they go, not rerun.
    local stale
    stale=$(squeue -h -o %i 2>/dev/null || true)
    if [ -n "$stale" ]; then
        # shellcheck disable=SC2086
        scancel $stale 2>/dev/null || true
        say "cancelled jobs left from before: $(tr '\n' ' ' <<<"$stale")"
    fi
}

node_up() {  # the node registered and takes jobs (idle, or busy with some)
    case "$(sinfo -h -N -p "$PARTITION" -o %T 2>/dev/null | head -n 1)" in
        idle | mixed | allocated) return 0 ;;
        *) return 1 ;;
    esac
}

start_slurmd() {
    if ! running slurmd; then
        launch slurmd slurmd -D -f "$ETC/slurm.conf"
    fi
    local deadline=$((SECONDS + TIMEOUT))
    until node_up; do
        running slurmd || fail slurmd "exited before the node came up"
        [ $SECONDS -lt $deadline ] || fail slurmd "node not idle within ${TIMEOUT}s (sinfo: $(sinfo -h -N -o '%N %T %E' 2>&1))"
        sleep 0.5
    done
}

add_associations() {  # the account and root as its user, so jobs are accounted to it
    if [ -z "$(sacctmgr -n -P list account "$ACCOUNT" format=account)" ]; then
        sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description=lightr1 organization=lightr1 >/dev/null \
            || fail slurmdbd "sacctmgr add account failed"
    fi
    if [ -z "$(sacctmgr -n -P list user root format=user)" ] || \
       ! sacctmgr -n -P list association user=root format=account | grep -qx "$ACCOUNT"; then
        sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER" >/dev/null \
            || fail slurmdbd "sacctmgr add user failed"
    fi
    if [ "$(sacctmgr -n -P list user root format=defaultaccount)" != "$ACCOUNT" ]; then
        sacctmgr -i modify user root set defaultaccount="$ACCOUNT" >/dev/null || true
    fi
}

print_env() {
    echo "export SLURM_CONF=$ETC/slurm.conf"
    echo "export PATH=$DIR/bin:\$PATH"
}

all_running() {
    local name
    for name in "${DAEMONS[@]}"; do running "$name" || return 1; done
}

cmd_start() {
    need
    if all_running && node_up; then
        say "already running in $DIR"
        print_env
        return
    fi
    local started=$SECONDS
    mkdir -p "$DIR" "$ETC" "$RUN" "$LOG" "$DIR/spool/slurmctld" "$DIR/spool/slurmd" "$DIR/bin"
    mkdir -p "$DIR/munge" && chmod 700 "$DIR/munge"
    chmod 755 "$DIR" "$RUN"
    # Fresh configs unless a SLURM daemon is still up on the current ones.
    if ! running slurmdbd && ! running slurmctld && ! running slurmd; then
        write_configs
    fi
    start_munged
    start_mariadbd
    start_slurmdbd
    start_slurmctld
    start_slurmd
    add_associations
    say "running in $DIR ($((SECONDS - started))s): $(sinfo -h -N -o '%N %T %c CPUs %m MB')"
    print_env
}

stop_pids() {  # stop_pids GRACE PID...: TERM them all, wait up to GRACE s, KILL what is left
    local grace=$1 pid left=(); shift
    local deadline=$((SECONDS + grace))
    kill -TERM "$@" 2>/dev/null || true
    while true; do
        left=()
        for pid in "$@"; do alive "$pid" && left+=("$pid"); done
        [ ${#left[@]} -eq 0 ] && return 0
        [ $SECONDS -lt $deadline ] || break
        sleep 0.2
    done
    say "pid ${left[*]} still there after TERM and ${grace}s: killing"
    kill -KILL "${left[@]}" 2>/dev/null || true
}

stop_daemons() {  # stop_daemons NAME...: stop these together
    local name pid pids=() names=()
    for name in "$@"; do
        if pid=$(pid_of "$name"); then pids+=("$pid"); names+=("$name"); fi
    done
    if [ ${#pids[@]} -gt 0 ]; then
        stop_pids "$TIMEOUT" "${pids[@]}"
        say "stopped ${names[*]}"
    fi
    for name in "$@"; do rm -f "${PIDFILE[$name]}"; done
}

leftovers() {  # live processes of this cluster's jobs: its slurmstepds (they hold files in
    # DIR open), job scripts (in DIR's spool), and everything below them
    local pid roots=() all
    for pid in $(pgrep -x slurmstepd 2>/dev/null || true); do
        alive "$pid" && find "/proc/$pid/fd" -lname "$DIR/*" 2>/dev/null | grep -q . && roots+=("$pid")
    done
    for pid in $(pgrep -f -- "$DIR/spool/slurmd/job" 2>/dev/null || true); do
        alive "$pid" && roots+=("$pid")
    done
    [ ${#roots[@]} -gt 0 ] || return 0
    all=" ${roots[*]} "
    local grown=1 child parent
    while [ $grown -eq 1 ]; do  # close over children
        grown=0
        while read -r child parent; do
            if [[ "$all" == *" $parent "* && "$all" != *" $child "* ]] && alive "$child"; then
                all+="$child "; grown=1
            fi
        done < <(ps -e -o pid=,ppid=)
    done
    echo "${all# }"
}

cmd_stop() {
    if running slurmctld; then
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            local deadline=$((SECONDS + 30))
            while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
            say "cancelled jobs $(tr '\n' ' ' <<<"$jobs")"
        fi
    fi
    # slurmctld hands its last records to slurmdbd, which writes them to MariaDB
    stop_daemons slurmd slurmctld
    stop_daemons slurmdbd
    stop_daemons mariadbd munged
    local left
    left=$(leftovers)
    if [ -n "$left" ]; then
        # a slurmstepd ignores TERM; what ran under it gets 5 s
        # shellcheck disable=SC2086
        stop_pids 5 $left
        say "stopped leftover job processes: $left"
    fi
    rm -f "$RUN/munge.socket" "$RUN/munge.socket.lock" "$RUN/mysqld.sock"
}

cmd_status() {
    local name pid ok=0
    for name in "${DAEMONS[@]}"; do
        if pid=$(pid_of "$name"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: stopped"; ok=3
        fi
    done
    if running slurmctld; then
        sinfo -N -o '%N %P %T %c %m' || ok=3
        print_env
    fi
    return $ok
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status   (state in \$LIGHTR1_SLURM_DIR, default /tmp/lightr1-slurm)" >&2; exit 2 ;;
esac
