#!/usr/bin/env bash
# A real two-node Ray cluster on this machine, for the Ray backend's tests and bench/distributed:
# a head node and a second node, one CPU each, every port distinct, on loopback addresses of their
# own (head 127.0.0.2, second node 127.0.0.3; the Jobs API on 127.0.0.1). Ray replaces a bootstrap
# address of 127.0.0.1 by the machine's outward IP, which the nodes must not use here.
#
#   scripts/ray-cluster.sh start         start both nodes (idempotent), wait until both are alive
#   scripts/ray-cluster.sh stop          stop both nodes and everything they started
#   scripts/ray-cluster.sh kill-worker   SIGKILL the second node's raylet and its workers (a lost machine)
#   scripts/ray-cluster.sh start-worker  start the second node again
#   scripts/ray-cluster.sh env           print RAY_ADDRESS (the Jobs API) for a shell
#
# TUNEKIT_RAY_DIR (default /tmp/tunekit-ray) holds the session and logs; TUNEKIT_RAY_PYTHON the
# interpreter that has ray (default: this checkout's .venv). RAY_AUTH_MODE=token with RAY_AUTH_TOKEN
# starts it with token auth. TUNEKIT_RAY_DASHBOARD_PORT (8265) and
# TUNEKIT_RAY_GCS_PORT (6390) move the head's ports.
set -euo pipefail
cd "$(dirname "$0")/.."

state=${TUNEKIT_RAY_DIR:-/tmp/tunekit-ray}
python=${TUNEKIT_RAY_PYTHON:-$PWD/.venv/bin/python}
ray_bin="$(dirname "$python")/ray"
dashboard_port=${TUNEKIT_RAY_DASHBOARD_PORT:-8265}
gcs_port=${TUNEKIT_RAY_GCS_PORT:-6390}
address="http://127.0.0.1:${dashboard_port}"
# the second node's ports (the head takes Ray's defaults next to its GCS port)
worker_node_manager_port=$((gcs_port + 11))
mkdir -p "$state"

# Ray's usage stats would try to reach the internet; the machine has no route there anyway
export RAY_USAGE_STATS_ENABLED=0
# a test run's fork server belongs to that run, not to the cluster's nodes
unset TUNEKIT_FORKSERVER
# the second node's raylet: the one whose node manager port is ours
worker_pids() { pgrep -f -- "--node_manager_port=${worker_node_manager_port}( |$)" || true; }

# a cluster with token auth (RAY_AUTH_MODE=token RAY_AUTH_TOKEN=... in the environment of `start`)
auth=()
[ -n "${RAY_AUTH_TOKEN:-}" ] && auth=(-H "Authorization: Bearer ${RAY_AUTH_TOKEN}")

wait_nodes() {
  local want=$1 deadline=$((SECONDS + 120)) alive=0
  while ((SECONDS < deadline)); do
    alive=$(curl -fsS "${auth[@]}" "${address}/api/v0/nodes?limit=100" 2>/dev/null | "$python" -c 'import json,sys; print(sum(n["state"]=="ALIVE" for n in json.load(sys.stdin)["data"]["result"]["result"]))' 2>/dev/null || echo 0)
    [ "$alive" -ge "$want" ] && return 0
    sleep 1
  done
  echo "ray-cluster: $alive of $want nodes alive after 120 s; logs under $state/session_latest/logs" >&2
  return 1
}

start_worker() {
  if [ -n "$(worker_pids)" ]; then return 0; fi
  "$ray_bin" start --address="127.0.0.2:${gcs_port}" --node-ip-address=127.0.0.3 --num-cpus=1 --num-gpus=0 \
    --resources='{"tunekit_worker_node": 1}' \
    --node-manager-port="$worker_node_manager_port" --object-manager-port=$((gcs_port + 12)) \
    --metrics-export-port=$((gcs_port + 13)) --dashboard-agent-listen-port=$((gcs_port + 14)) \
    --dashboard-agent-grpc-port=$((gcs_port + 15)) --runtime-env-agent-port=$((gcs_port + 16)) \
    --min-worker-port=$((gcs_port + 1000)) --max-worker-port=$((gcs_port + 1499)) \
    --disable-usage-stats >"$state/worker-start.log" 2>&1 || { cat "$state/worker-start.log" >&2; return 1; }
}

case "${1:-}" in
  start)
    if [ ! -x "$ray_bin" ]; then
      echo "ray-cluster: $ray_bin not found; run \`node dist/cli/main.js setup --dev\` (it installs ray from worker/requirements-dev.txt)" >&2
      exit 1
    fi
    if ! curl -sS -o /dev/null "${address}/api/version" 2>/dev/null; then
      "$ray_bin" start --head --node-ip-address=127.0.0.2 --port="$gcs_port" --num-cpus=1 --num-gpus=0 \
        --dashboard-host=127.0.0.1 --dashboard-port="$dashboard_port" --include-dashboard=true \
        --node-manager-port=$((gcs_port + 1)) --object-manager-port=$((gcs_port + 2)) \
        --metrics-export-port=$((gcs_port + 3)) --dashboard-agent-listen-port=$((gcs_port + 4)) \
        --dashboard-agent-grpc-port=$((gcs_port + 5)) --runtime-env-agent-port=$((gcs_port + 6)) \
        --ray-client-server-port=$((gcs_port + 7)) \
        --min-worker-port=$((gcs_port + 500)) --max-worker-port=$((gcs_port + 999)) \
        --temp-dir="$state" --disable-usage-stats >"$state/head-start.log" 2>&1 || { cat "$state/head-start.log" >&2; exit 1; }
    fi
    start_worker
    wait_nodes 2
    echo "ray-cluster: 2 nodes alive; Jobs API at ${address}"
    ;;
  stop)
    "$ray_bin" stop --force >/dev/null 2>&1 || true
    ;;
  kill-worker)
    pids=$(worker_pids)
    [ -n "$pids" ] || { echo "ray-cluster: the second node is not running" >&2; exit 1; }
    # the raylet's workers (the training ranks placed there) die with it, as on a lost machine
    children=$(for pid in $pids; do pgrep -P "$pid" || true; done)
    kill -9 $pids $children 2>/dev/null || true
    ;;
  start-worker)
    start_worker
    wait_nodes 2
    ;;
  env)
    echo "export RAY_ADDRESS=${address}"
    ;;
  *)
    echo "usage: scripts/ray-cluster.sh start|stop|kill-worker|start-worker|env" >&2
    exit 2
    ;;
esac
