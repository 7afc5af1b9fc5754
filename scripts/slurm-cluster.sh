#!/usr/bin/env bash
# A real, local Slurm cluster for the Slurm backend's tests, bench and CI (test/slurm-backend.test.ts):
# munged, slurmctld and two slurmd nodes (tk1, tk2), each daemon in a network namespace of its own
# with its own hostname, joined to this machine by a bridge. Debian's slurm-wlm is not built with
# --enable-multiple-slurmd, and the two nodes must look like two machines (their own hostnames and
# addresses, so torchrun's rendezvous and gloo really cross a network), hence the namespaces.
#
#   bash scripts/slurm-cluster.sh start             start (idempotent); waits until both nodes are idle
#   bash scripts/slurm-cluster.sh stop              kill everything it started, remove the namespaces
#   bash scripts/slurm-cluster.sh kill-node tk2     SIGKILL a node's slurmd and every job process on it (a lost machine)
#   bash scripts/slurm-cluster.sh start-node tk2    start a node's slurmd again (it returns to service by itself)
#   bash scripts/slurm-cluster.sh env               `export SLURM_CONF=...` for the client commands (sbatch, squeue, ...)
#   bash scripts/slurm-cluster.sh ssh-options       the ssh arguments for the login node, one per line
#
# The controller's namespace doubles as the cluster's login node: an OpenSSH server on
# 10.77.0.2:22 that takes root with the key $DIR/ssh/id_ed25519 (execution.slurm.ssh: root@10.77.0.2).
#
# Needs root (network namespaces, a bridge, bind mounts) and the apt packages slurm-wlm, munge and openssh-server
# (installed when missing). State lives under $TUNEKIT_SLURM_DIR (default /tmp/tunekit-slurm).
# Network: bridge tkslurm0 10.77.0.1/24 on this machine; controller tkctl 10.77.0.2, nodes tk1
# 10.77.0.11 and tk2 10.77.0.12; inside every namespace the interface is called tk0 (one
# socket_ifname setting for all nodes). Nothing listens outside these namespaces but munged's
# unix socket.
set -euo pipefail

DIR="${TUNEKIT_SLURM_DIR:-/tmp/tunekit-slurm}"
CONF="$DIR/slurm.conf"
BRIDGE=tkslurm0
NET=10.77.0
NODES=(tk1 tk2)
START_TIMEOUT_S="${TUNEKIT_SLURM_START_TIMEOUT_S:-90}"

log() { echo "slurm-cluster: $*" >&2; }
die() {
  log "$*"
  exit 1
}

addr_of() {
  case "$1" in
    tkctl) echo "$NET.2" ;;
    tk1) echo "$NET.11" ;;
    tk2) echo "$NET.12" ;;
    *) die "unknown node '$1' (the nodes are ${NODES[*]})" ;;
  esac
}
netns_of() { echo "tkslurm-$1"; }

export SLURM_CONF="$CONF"

ensure_packages() {
  bash "$(dirname "${BASH_SOURCE[0]}")/install-cluster-packages.sh"
}

write_files() {
  mkdir -p "$DIR/munge" "$DIR/ctld/state" "$DIR/ctld/log"
  chmod 700 "$DIR/munge"
  for node in "${NODES[@]}"; do mkdir -p "$DIR/$node/spool"; done
  if [ ! -s "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge/munge.key"
  fi
  # every namespace sees these names (bind-mounted over /etc/hosts there): torchrun and srun resolve them
  {
    echo "127.0.0.1 localhost"
    echo "$(addr_of tkctl) tkctl"
    for node in "${NODES[@]}"; do echo "$(addr_of "$node") $node"; done
  } >"$DIR/hosts"
  cat >"$CONF.new" <<EOF
# written by scripts/slurm-cluster.sh
ClusterName=tunekit
SlurmctldHost=tkctl($(addr_of tkctl))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$DIR/ctld/state
SlurmctldPidFile=$DIR/ctld/slurmctld.pid
SlurmctldLogFile=$DIR/ctld/log/slurmctld.log
SlurmdSpoolDir=$DIR/%n/spool
SlurmdPidFile=$DIR/%n/slurmd.pid
SlurmdLogFile=$DIR/%n/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
PlugStackConfig=$DIR/plugstack.conf
SwitchType=switch/none
ReturnToService=2
SlurmdTimeout=10
SlurmctldTimeout=10
MessageTimeout=5
InactiveLimit=0
KillWait=5
MinJobAge=20
Waittime=0
SchedulerType=sched/backfill
NodeName=tk1 NodeHostname=tk1 NodeAddr=$(addr_of tk1) CPUs=2 RealMemory=1000 State=UNKNOWN
NodeName=tk2 NodeHostname=tk2 NodeAddr=$(addr_of tk2) CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=tunekit Nodes=tk1,tk2 Default=YES MaxTime=INFINITE State=UP
EOF
  # slurmd 22.05 loads a cgroup plugin even with proctrack/linuxproc and task/none; v1 only reads the mounts
  # (v2 without systemd in a container: IgnoreSystemd, so slurmd makes its cgroup itself)
  local plugin=cgroup/v1 v2_only=""
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    plugin=cgroup/v2
    v2_only="IgnoreSystemd=yes"
  fi
  cat >"$DIR/cgroup.conf.new" <<EOF
CgroupPlugin=$plugin
$v2_only
CgroupMountpoint=/sys/fs/cgroup
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
EOF
  # no SPANK plugins (the system's plugstack.conf is not for this cluster)
  : >"$DIR/plugstack.conf"
  write_ssh_files
}

# the login node's sshd: its host key, the client key it takes for root, its config
write_ssh_files() {
  mkdir -p "$DIR/ssh"
  chmod 700 "$DIR/ssh"
  [ -s "$DIR/ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -C tunekit-login-host -f "$DIR/ssh/host_ed25519"
  [ -s "$DIR/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -C tunekit-slurm-client -f "$DIR/ssh/id_ed25519"
  cp "$DIR/ssh/id_ed25519.pub" "$DIR/ssh/authorized_keys"
  echo "$(addr_of tkctl) $(cut -d' ' -f1,2 "$DIR/ssh/host_ed25519.pub")" >"$DIR/ssh/known_hosts"
  cat >"$DIR/ssh/sshd_config" <<EOF
ListenAddress $(addr_of tkctl):22
HostKey $DIR/ssh/host_ed25519
PidFile $DIR/ssh/sshd.pid
AuthorizedKeysFile $DIR/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
EOF
}

# what `ssh` needs to reach the login node with that key (execution.slurm.ssh_options)
ssh_options() {
  printf '%s\n' -i "$DIR/ssh/id_ed25519" -o IdentitiesOnly=yes -o "UserKnownHostsFile=$DIR/ssh/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=5
}

start_login() {
  pid_alive "$DIR/ssh/sshd.pid" && return
  mkdir -p /run/sshd
  in_node tkctl /usr/sbin/sshd -f "$DIR/ssh/sshd_config" -E "$DIR/ssh/sshd.log"
}

# a namespace with its end of a veth pair called tk0, the other end on the bridge
ensure_netns() {
  local name="$1" ns host_end
  ns="$(netns_of "$name")"
  host_end="tks-$name"
  ip netns list | grep -qw "^$ns" || ip netns add "$ns"
  if ! ip link show "$host_end" >/dev/null 2>&1; then
    ip netns exec "$ns" ip link del tk0 2>/dev/null || true
    ip link add "$host_end" type veth peer name tk0 netns "$ns"
    ip link set "$host_end" master "$BRIDGE"
    ip link set "$host_end" up
    ip netns exec "$ns" ip addr add "$(addr_of "$name")/24" dev tk0
    ip netns exec "$ns" ip link set tk0 up
    ip netns exec "$ns" ip link set lo up
  fi
}

ensure_network() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  ensure_netns tkctl
  for node in "${NODES[@]}"; do ensure_netns "$node"; done
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# run a command in a node's namespaces: its network, its own hostname, its own /etc/hosts
in_node() {
  local name="$1"
  shift
  ip netns exec "$(netns_of "$name")" unshare --uts --mount --propagation private \
    sh -c 'hostname "$0" && mount --bind "$1" /etc/hosts && shift && exec "$@"' "$name" "$DIR/hosts" "$@"
}

start_munge() {
  pid_alive "$DIR/munge/munged.pid" && return
  munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed"
}

start_ctld() {
  pid_alive "$DIR/ctld/slurmctld.pid" && return
  in_node tkctl slurmctld -f "$CONF"
}

start_node() {
  local name="$1"
  addr_of "$name" >/dev/null
  pid_alive "$DIR/$name/slurmd.pid" && return
  rm -f "$DIR/$name/slurmd.pid"
  in_node "$name" slurmd -f "$CONF" -N "$name"
}

log_tails() {
  for file in "$DIR/munge/munged.log" "$DIR/ctld/log/slurmctld.log" "$DIR/tk1/slurmd.log" "$DIR/tk2/slurmd.log"; do
    [ -f "$file" ] && {
      echo "--- $file" >&2
      tail -n 15 "$file" >&2
    }
  done
  return 0
}

# both nodes (or the ones named) idle in sinfo
wait_idle() {
  local deadline=$((SECONDS + START_TIMEOUT_S)) states
  while :; do
    states="$(sinfo -h -N -p tunekit -o '%N %t' 2>/dev/null | sort -u || true)"
    local all=1
    for node in "$@"; do echo "$states" | grep -Eq "^$node idle$" || all=0; done
    [ "$all" = 1 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      log "the nodes $* are not idle after ${START_TIMEOUT_S}s; sinfo says: ${states:-nothing (slurmctld unreachable)}"
      log_tails
      exit 1
    fi
    # a node that was marked down while its slurmd was away comes back on registration (ReturnToService=2);
    # resume one that is still down with its slurmd running
    for node in "$@"; do
      if echo "$states" | grep -Eq "^$node (down|drain|drng|fail)" && pid_alive "$DIR/$node/slurmd.pid"; then
        scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
      fi
    done
    sleep 1
  done
}

# the daemons read their config once: a cluster started from other files is started again
install_conf() {
  local changed=0
  for file in "$CONF" "$DIR/cgroup.conf"; do
    cmp -s "$file.new" "$file" || changed=1
  done
  if [ "$changed" = 1 ] && { pid_alive "$DIR/ctld/slurmctld.pid" || pid_alive "$DIR/tk1/slurmd.pid" || pid_alive "$DIR/tk2/slurmd.pid"; }; then
    log "the cluster's config changed: restarting it"
    cmd_stop
  fi
  for file in "$CONF" "$DIR/cgroup.conf"; do mv -f "$file.new" "$file"; done
}

cmd_start() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, a bridge, bind mounts)"
  ensure_packages
  write_files
  install_conf
  ensure_network
  start_munge
  start_ctld
  for node in "${NODES[@]}"; do start_node "$node"; done
  start_login
  wait_idle "${NODES[@]}"
  log "up: partition tunekit with ${NODES[*]} idle, login node root@$(addr_of tkctl); $(cmd_env)"
}

kill_pidfile() {
  if [ -s "$1" ]; then kill -9 "$(cat "$1")" 2>/dev/null || true; fi
  rm -f "$1"
}

# every process of a node: its slurmd, slurmstepd and the job's processes (they all live in its namespace)
kill_netns_processes() {
  local ns="$1" pids
  ip netns list | grep -qw "^$ns" || return 0
  for _ in 1 2 3 4 5; do
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.2
  done
}

cmd_kill_node() {
  local name="${1:?kill-node needs a node name (${NODES[*]})}"
  addr_of "$name" >/dev/null
  kill_netns_processes "$(netns_of "$name")"
  rm -f "$DIR/$name/slurmd.pid"
  log "killed $name (slurmd and every process on it)"
}

cmd_start_node() {
  local name="${1:?start-node needs a node name (${NODES[*]})}"
  addr_of "$name" >/dev/null
  start_node "$name"
  wait_idle "$name"
  log "$name is back and idle"
}

cmd_stop() {
  for name in "${NODES[@]}" tkctl; do kill_netns_processes "$(netns_of "$name")"; done
  for name in "${NODES[@]}"; do rm -f "$DIR/$name/slurmd.pid"; done
  rm -f "$DIR/ctld/slurmctld.pid" "$DIR/ssh/sshd.pid"
  kill_pidfile "$DIR/munge/munged.pid"
  for name in "${NODES[@]}" tkctl; do
    ip link del "tks-$name" 2>/dev/null || true
    ip netns del "$(netns_of "$name")" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  # the controller's saved state would bring back old jobs on the next start
  rm -rf "$DIR/ctld/state"
  log "stopped"
}

cmd_env() { echo "export SLURM_CONF=$CONF"; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  kill-node) cmd_kill_node "${2:-}" ;;
  start-node) cmd_start_node "${2:-}" ;;
  env) cmd_env ;;
  ssh-options) ssh_options ;;
  *) die "usage: $0 start|stop|kill-node NAME|start-node NAME|env|ssh-options" ;;
esac
