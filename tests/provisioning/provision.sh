#!/usr/bin/env bash
# provision.sh — install (if missing), start (if down) and check the real servers that
# nubis' integration and fault tests use, on loopback only.
#
# Contract:
#   * Idempotent: when every server is already up it changes nothing and takes < 3 s.
#   * Installs with apt only packages that are missing (apt-get update once, and only
#     when something must be installed); package scripts are kept from starting daemons
#     (policy-rc.d returns 101 while apt runs); this script starts them itself.
#   * Prints one line per server: "NAME: up (how)", "NAME: started (how)" or
#     "NAME: ERROR: reason". Exits 0 when all selected servers run, otherwise non-zero
#     with a last line "provision: FAILED: ..." naming what could not be made to run.
#   * Writes the facts tests need to $NUBIS_SERVERS_DIR/servers.env (KEY=value lines,
#     shell-sourceable; default dir /var/tmp/nubis-servers), read by
#     tests/fixtures/real_servers.py.
#
# Usage: tests/provisioning/provision.sh [--no-install] [--only NAME[,NAME...]] [--help]
#   NAMEs: zookeeper memcached libvirt rabbitmq postgresql mariadb redis
#   --no-install   never call apt; a missing package is an error for that server.
#   --only LIST    handle only these servers (the env file is still written in full).
# Environment: NUBIS_SERVERS_DIR (state dir), NUBIS_PROVISION_TIMEOUT (seconds to wait
#   for each server to answer, default 60).

set -euo pipefail

ALL_SERVERS=(zookeeper memcached libvirt rabbitmq postgresql mariadb redis)
STATE_DIR=${NUBIS_SERVERS_DIR:-/var/tmp/nubis-servers}
WAIT_TIMEOUT=${NUBIS_PROVISION_TIMEOUT:-60}
ENV_FILE=$STATE_DIR/servers.env

ZK_DIR=$STATE_DIR/zookeeper
ZK_CFG=$ZK_DIR/zoo.cfg
ZK_PIDFILE=$ZK_DIR/data/zookeeper_server.pid  # zkServer.sh keeps it in dataDir
ZK_SERVER_SH=/usr/share/zookeeper/bin/zkServer.sh
ZK_PORT=2181
ZK_LOG_DIR=/var/log/zookeeper  # fixed by Debian's zkEnv.sh
MC_DIR=$STATE_DIR/memcached
MC_PIDFILE=$MC_DIR/memcached.pid
MC_LOG=$MC_DIR/memcached.log
MC_PORT=11211
LIBVIRT_URI=qemu:///system
LIBVIRT_SOCK=/run/libvirt/libvirt-sock
LOG_DIR=$STATE_DIR/log

declare -A PACKAGES=(
    [zookeeper]="zookeeperd"
    [memcached]="memcached"
    [libvirt]="libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils libvirt-dev pkg-config"
)

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
}

INSTALL=1
ONLY=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-install) INSTALL=0 ;;
        --only) [[ $# -ge 2 ]] || { echo "provision: --only needs NAME[,NAME]" >&2; exit 2; }
                ONLY=$2; shift ;;
        --only=*) ONLY=${1#--only=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "provision: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

SELECTED=()
if [[ -z "$ONLY" ]]; then
    SELECTED=("${ALL_SERVERS[@]}")
else
    IFS=',' read -r -a wanted <<<"$ONLY"
    for name in "${wanted[@]}"; do
        if [[ " ${ALL_SERVERS[*]} " != *" $name "* ]]; then
            echo "provision: unknown server '$name' (known: ${ALL_SERVERS[*]})" >&2
            exit 2
        fi
        SELECTED+=("$name")
    done
fi

FAILED=()
fail() {  # fail NAME REASON — report one server as not running
    echo "$1: ERROR: $2"
    FAILED+=("$1")
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

port_open() {  # port_open PORT — true when something accepts TCP on 127.0.0.1:PORT
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

wait_for() {  # wait_for SECONDS CMD... — poll CMD every 0.1 s until it succeeds or time runs out
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

daemon() {  # daemon LOG CMD... — run CMD detached from this script's stdio and session
    local log=$1; shift
    setsid -w "$@" </dev/null >>"$log" 2>&1
}

pid_alive() {  # pid_alive PID — true when PID runs and is no zombie (PID 1 here reaps none)
    [[ $1 =~ ^[0-9]+$ && $(ps -o stat= -p "$1" 2>/dev/null) == [^ZX]* ]]
}

running() {  # running NAME — true when a live (non-zombie) process is named NAME
    local pid
    for pid in $(pgrep -x "$1"); do
        pid_alive "$pid" && return 0
    done
    return 1
}

pkg_installed() {  # pkg_installed PKG... — true when every PKG is installed
    local status
    status=$(dpkg-query -W -f='${db:Status-Status}\n' "$@" 2>/dev/null || true)
    [[ $(grep -c '^installed$' <<<"$status") -eq $# ]]
}

mkdir -p "$STATE_DIR" "$LOG_DIR"

# ---------------------------------------------------------------- install what is missing
MISSING_PKGS=()
declare -A NOT_INSTALLED=()
for name in "${SELECTED[@]}"; do
    [[ -n "${PACKAGES[$name]:-}" ]] || continue
    for pkg in ${PACKAGES[$name]}; do
        if ! pkg_installed "$pkg"; then
            MISSING_PKGS+=("$pkg")
            NOT_INSTALLED[$name]+="$pkg "
        fi
    done
done

POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=$POLICY.nubis-provision
restore_policy() {
    if [[ -e $POLICY_BACKUP ]]; then mv -f "$POLICY_BACKUP" "$POLICY"; else rm -f "$POLICY"; fi
}

if [[ ${#MISSING_PKGS[@]} -gt 0 ]]; then
    if [[ $INSTALL -eq 0 ]]; then
        for name in "${SELECTED[@]}"; do
            [[ -n "${NOT_INSTALLED[$name]:-}" ]] || continue
            fail "$name" "not installed (${NOT_INSTALLED[$name]% }); run without --no-install"
        done
    else
        t0=$(now)
        # Keep package maintainer scripts from starting daemons (no systemd here; we
        # start what we need below, bound to loopback).
        [[ -e $POLICY ]] && cp -p "$POLICY" "$POLICY_BACKUP"
        trap restore_policy EXIT
        trap 'restore_policy; exit 130' INT TERM
        printf '#!/bin/sh\n# written by nubis tests/provisioning/provision.sh during apt-get\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
        apt_log=$LOG_DIR/apt.log
        export DEBIAN_FRONTEND=noninteractive
        local_apt=(-o DPkg::Lock::Timeout=120)  # wait for another apt instead of failing
        if ! apt-get "${local_apt[@]}" update -q >"$apt_log" 2>&1 ||
           ! apt-get "${local_apt[@]}" install -y -q --no-install-recommends \
               -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
               "${MISSING_PKGS[@]}" >>"$apt_log" 2>&1; then
            restore_policy; trap - EXIT INT TERM
            for name in "${SELECTED[@]}"; do
                [[ -n "${NOT_INSTALLED[$name]:-}" ]] || continue
                fail "$name" "apt-get install ${NOT_INSTALLED[$name]% } failed; see $apt_log"
            done
        else
            restore_policy; trap - EXIT INT TERM
            echo "install: ${MISSING_PKGS[*]} ($(since "$t0"))"
            NOT_INSTALLED=()
        fi
    fi
fi

# ---------------------------------------------------------------- servers
selected() { [[ " ${SELECTED[*]} " == *" $1 "* ]]; }
skip_failed() { [[ " ${FAILED[*]:-} " == *" $1 "* ]]; }

write_if_changed() {  # write_if_changed FILE — replace FILE with stdin only if it differs
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    cat >"$tmp"
    if [[ -f $1 ]] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

zk_ruok() {  # zk_ruok — print ZooKeeper's reply to "ruok" (empty when 4lw is disabled)
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT; printf ruok >&3; \
        IFS= read -r -t 2 reply <&3; printf %s \"\$reply\"" 2>/dev/null || true
}

provision_zookeeper() {
    mkdir -p "$ZK_DIR/data"
    # tickTime=500 allows session timeouts down to 1 s for fault tests.
    write_if_changed "$ZK_CFG" <<EOF
# written by nubis tests/provisioning/provision.sh
tickTime=500
initLimit=10
syncLimit=5
minSessionTimeout=1000
maxSessionTimeout=30000
dataDir=$ZK_DIR/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat
EOF
    if port_open "$ZK_PORT"; then
        local reply; reply=$(zk_ruok)
        echo "zookeeper: up (127.0.0.1:$ZK_PORT${reply:+, $reply})"
        return
    fi
    [[ -x $ZK_SERVER_SH ]] || { fail zookeeper "$ZK_SERVER_SH missing; install zookeeperd"; return; }
    local t0; t0=$(now)
    # zkServer.sh refuses to start while its pid file names a process, even a zombie.
    if [[ -f $ZK_PIDFILE ]] && ! pid_alive "$(cat "$ZK_PIDFILE")"; then rm -f "$ZK_PIDFILE"; fi
    if ! daemon "$LOG_DIR/zkServer.out" "$ZK_SERVER_SH" start "$ZK_CFG"; then
        fail zookeeper "zkServer.sh start $ZK_CFG failed; see $LOG_DIR/zkServer.out and $ZK_LOG_DIR/"
        return
    fi
    if wait_for "$WAIT_TIMEOUT" port_open "$ZK_PORT"; then
        echo "zookeeper: started (127.0.0.1:$ZK_PORT, $(zk_ruok), $(since "$t0"))"
    else
        fail zookeeper "not listening on 127.0.0.1:$ZK_PORT after ${WAIT_TIMEOUT}s; see $ZK_LOG_DIR/"
    fi
}

provision_memcached() {
    mkdir -p "$MC_DIR"
    if port_open "$MC_PORT"; then
        echo "memcached: up (127.0.0.1:$MC_PORT)"
        return
    fi
    command -v memcached >/dev/null || { fail memcached "memcached binary missing; install memcached"; return; }
    local t0; t0=$(now)
    rm -f "$MC_PIDFILE"
    if ! daemon "$MC_LOG" memcached -d -u root -l 127.0.0.1 -p "$MC_PORT" -U 0 -P "$MC_PIDFILE"; then
        fail memcached "memcached -d failed; see $MC_LOG"
        return
    fi
    if wait_for "$WAIT_TIMEOUT" port_open "$MC_PORT"; then
        echo "memcached: started (127.0.0.1:$MC_PORT, pid $(cat "$MC_PIDFILE" 2>/dev/null), $(since "$t0"))"
    else
        fail memcached "not listening on 127.0.0.1:$MC_PORT after ${WAIT_TIMEOUT}s; see $MC_LOG"
    fi
}

virsh_ok() { timeout 30 virsh -q -c "$LIBVIRT_URI" version >/dev/null 2>&1; }

provision_libvirt() {
    local how=() t0; t0=$(now)
    command -v libvirtd >/dev/null || { fail libvirt "libvirtd missing; install libvirt-daemon-system"; return; }
    if ! running virtlogd; then
        daemon "$LOG_DIR/virtlogd.out" virtlogd -d || { fail libvirt "virtlogd -d failed"; return; }
        how+=("virtlogd started")
    fi
    if [[ -S $LIBVIRT_SOCK ]] && running libvirtd; then
        :
    else
        # The packaged "default" NAT network (192.168.122.0/24) must not come up:
        # tests use loopback only.
        rm -f /etc/libvirt/qemu/networks/autostart/default.xml
        daemon "$LOG_DIR/libvirtd.out" libvirtd -d || { fail libvirt "libvirtd -d failed; see $LOG_DIR/libvirtd.out"; return; }
        how+=("libvirtd started")
    fi
    # The first qemu:///system connection probes QEMU capabilities (~8 s, cached after).
    if ! wait_for "$WAIT_TIMEOUT" virsh_ok; then
        fail libvirt "virsh -c $LIBVIRT_URI version does not answer after ${WAIT_TIMEOUT}s; see /var/log/libvirt/ and $LOG_DIR/libvirtd.out"
        return
    fi
    local kvm="no usable /dev/kvm, guests use TCG type='qemu'"
    [[ $KVM == yes ]] && kvm="/dev/kvm usable$KVM_NOTE"
    if [[ ${#how[@]} -eq 0 ]]; then
        echo "libvirt: up ($LIBVIRT_URI, $kvm)"
    else
        echo "libvirt: started ($(printf '%s, ' "${how[@]}")$LIBVIRT_URI, $kvm, $(since "$t0"))"
    fi
}

provision_rabbitmq() {
    if port_open 5672; then echo "rabbitmq: up (127.0.0.1:5672)"; return; fi
    command -v rabbitmqctl >/dev/null || { fail rabbitmq "rabbitmqctl missing; RabbitMQ is not installed"; return; }
    local t0 how; t0=$(now)
    if timeout 15 rabbitmqctl -q ping >/dev/null 2>&1; then
        # The node runs but its app was stopped (e.g. by a fault test's stop_app).
        how="start_app"
        timeout 60 rabbitmqctl -q start_app >>"$LOG_DIR/rabbitmq.out" 2>&1 ||
            { fail rabbitmq "rabbitmqctl start_app failed; see $LOG_DIR/rabbitmq.out"; return; }
    else
        how="rabbitmq-server -detached"
        daemon "$LOG_DIR/rabbitmq.out" rabbitmq-server -detached ||
            { fail rabbitmq "rabbitmq-server -detached failed; see $LOG_DIR/rabbitmq.out"; return; }
        timeout "$WAIT_TIMEOUT" rabbitmqctl -q await_startup >>"$LOG_DIR/rabbitmq.out" 2>&1 ||
            { fail rabbitmq "rabbitmqctl await_startup failed; see $LOG_DIR/rabbitmq.out"; return; }
    fi
    if wait_for "$WAIT_TIMEOUT" port_open 5672; then
        echo "rabbitmq: started ($how, $(since "$t0"))"
    else
        fail rabbitmq "not listening on 127.0.0.1:5672 after ${WAIT_TIMEOUT}s; see /var/log/rabbitmq/"
    fi
}

provision_postgresql() {
    if port_open 5432; then echo "postgresql: up (127.0.0.1:5432)"; return; fi
    command -v pg_ctlcluster >/dev/null || { fail postgresql "pg_ctlcluster missing; PostgreSQL is not installed"; return; }
    local t0 ver; t0=$(now)
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    [[ -n $ver ]] || { fail postgresql "no cluster under /etc/postgresql"; return; }
    daemon "$LOG_DIR/postgresql.out" pg_ctlcluster --skip-systemctl-redirect "$ver" main start ||
        { fail postgresql "pg_ctlcluster $ver main start failed; see $LOG_DIR/postgresql.out"; return; }
    if wait_for "$WAIT_TIMEOUT" port_open 5432; then
        echo "postgresql: started (cluster $ver/main, $(since "$t0"))"
    else
        fail postgresql "not listening on 127.0.0.1:5432 after ${WAIT_TIMEOUT}s; see /var/log/postgresql/"
    fi
}

provision_mariadb() {
    if port_open 3306; then echo "mariadb: up (127.0.0.1:3306)"; return; fi
    [[ -x /usr/sbin/mariadbd ]] || { fail mariadb "/usr/sbin/mariadbd missing; MariaDB is not installed"; return; }
    local t0; t0=$(now)
    install -d -o mysql -g mysql /run/mysqld 2>/dev/null || mkdir -p /run/mysqld
    daemon "$LOG_DIR/mariadb.out" start-stop-daemon --start --oknodo --background \
        --exec /usr/sbin/mariadbd ||
        { fail mariadb "start-stop-daemon mariadbd failed; see $LOG_DIR/mariadb.out"; return; }
    if wait_for "$WAIT_TIMEOUT" port_open 3306; then
        echo "mariadb: started ($(since "$t0"))"
    else
        fail mariadb "not listening on 127.0.0.1:3306 after ${WAIT_TIMEOUT}s; see /var/log/mysql/"
    fi
}

provision_redis() {
    if port_open 6379; then echo "redis: up (127.0.0.1:6379)"; return; fi
    command -v redis-server >/dev/null || { fail redis "redis-server missing; Redis is not installed"; return; }
    local t0; t0=$(now)
    mkdir -p /var/lib/redis /var/log/redis
    daemon "$LOG_DIR/redis.out" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
        --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
        { fail redis "redis-server failed; see /var/log/redis/ci.log"; return; }
    if wait_for "$WAIT_TIMEOUT" port_open 6379; then
        echo "redis: started ($(since "$t0"))"
    else
        fail redis "not listening on 127.0.0.1:6379 after ${WAIT_TIMEOUT}s; see /var/log/redis/ci.log"
    fi
}

# /dev/kvm: without udev it stays root:root 0600, so QEMU (run as libvirt-qemu) cannot use
# it and libvirt re-probes QEMU capabilities (~4 s) on every call. Apply udev's rule.
kvm_group_rw() {  # true when /dev/kvm is group kvm with group read+write
    [[ $(stat -c %G /dev/kvm) == kvm ]] && (( (8#$(stat -c %a /dev/kvm) & 8#060) == 8#060 ))
}
KVM=no
KVM_NOTE=""
if [[ -c /dev/kvm ]]; then
    if getent group kvm >/dev/null && ! kvm_group_rw &&
       chgrp kvm /dev/kvm 2>/dev/null && chmod 0660 /dev/kvm 2>/dev/null; then
        KVM_NOTE=", /dev/kvm set to root:kvm 0660"
    fi
    kvm_group_rw && KVM=yes
fi

for name in "${ALL_SERVERS[@]}"; do
    selected "$name" || continue
    skip_failed "$name" && continue
    "provision_$name"
done

DOMAIN_TYPE=qemu
[[ $KVM == yes ]] && DOMAIN_TYPE=kvm
write_if_changed "$ENV_FILE" <<EOF
# written by nubis tests/provisioning/provision.sh; read by tests/fixtures/real_servers.py
NUBIS_SERVERS_DIR=$STATE_DIR
NUBIS_ZK_HOSTS=127.0.0.1:$ZK_PORT
NUBIS_ZK_CFG=$ZK_CFG
NUBIS_ZK_SERVER_SH=$ZK_SERVER_SH
NUBIS_ZK_PIDFILE=$ZK_PIDFILE
NUBIS_ZK_LOG_DIR=$ZK_LOG_DIR
NUBIS_MEMCACHED_SERVERS=127.0.0.1:$MC_PORT
NUBIS_MEMCACHED_PIDFILE=$MC_PIDFILE
NUBIS_MEMCACHED_LOG=$MC_LOG
NUBIS_LIBVIRT_URI=$LIBVIRT_URI
NUBIS_KVM=$KVM
NUBIS_LIBVIRT_DOMAIN_TYPE=$DOMAIN_TYPE
NUBIS_RABBIT_URL=rabbit://guest:guest@127.0.0.1:5672/
NUBIS_POSTGRESQL_URL=postgresql+psycopg2://root@127.0.0.1:5432/test
NUBIS_MYSQL_URL=mysql+pymysql://root@127.0.0.1:3306/test
NUBIS_REDIS_URL=redis://127.0.0.1:6379/0
EOF

if [[ ${#FAILED[@]} -gt 0 ]]; then
    echo "provision: FAILED: ${FAILED[*]} not running (see the ERROR lines above)"
    exit 1
fi
