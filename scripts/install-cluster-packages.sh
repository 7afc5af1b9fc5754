#!/usr/bin/env bash
# Debian's packages for the Slurm backend's tests and bench (scripts/slurm-cluster.sh): slurm-wlm,
# munge, and openssh-server for the cluster's login node. Installs what is missing, as root or with
# sudo. While apt runs, policy-rc.d refuses every service start: the packages' own daemons (an
# sshd on every address, a system munged and slurmd) are not wanted; the cluster script starts its own.
set -euo pipefail
have() { command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null && [ -x /usr/sbin/sshd ]; }
have && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  made_policy=1
fi
trap '[ "$made_policy" = 1 ] && $sudo rm -f "$policy"' EXIT
echo "installing slurm-wlm, munge and openssh-server with apt" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge openssh-server >/dev/null
