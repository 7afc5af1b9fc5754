#!/usr/bin/env bash
# Installs the peer web UIs that bench/web compares Tunekit's UI against, one virtualenv each,
# outside the repo tree: ${PEERS_DIR:-/tmp/tunekit-web-peers}/autotrain and .../llamafactory.
# Each venv gets torch==2.13.0 first (the CPU build on this machine's disk), then the peer with a
# constraints file that holds torch there, so no dependency can pull a different torch.
# A venv that finished before (marker file .complete) is skipped; delete the folder to redo it.
#
#   bash bench/web/setup-peers.sh            # both peers
#   bash bench/web/setup-peers.sh autotrain  # one peer
#
# Installed (Python 3.11.7, pip's resolver, PyPI as of this writing):
#   autotrain:    autotrain-advanced 0.8.36, torch 2.13.0+cpu, fastapi 0.115.6, uvicorn 0.34.0,
#                 transformers 4.48.0, huggingface-hub 0.27.0 (full list: autotrain/freeze.txt)
#   llamafactory: llamafactory 0.9.5, torch 2.13.0+cpu, gradio 5.50.0, transformers 4.57.6,
#                 torchvision 0.28.0, torchaudio 2.11.1 (full list: llamafactory/freeze.txt)
set -euo pipefail

peers_dir="${PEERS_DIR:-/tmp/tunekit-web-peers}"
python="${PYTHON:-python3}"
torch_pin="torch==2.13.0"
mkdir -p "$peers_dir"
constraints="$peers_dir/constraints.txt"
echo "$torch_pin" >"$constraints"

install_peer() {
  local name="$1" package="$2" command_name="$3"
  local venv="$peers_dir/$name"
  if [[ -f "$venv/.complete" ]]; then
    echo "== $name: already installed in $venv"
    return
  fi
  echo "== $name: installing $package into $venv"
  local started=$SECONDS
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install "$torch_pin"
  "$venv/bin/pip" install -c "$constraints" "$package"
  "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 'torch ' + torch.__version__ + ' replaced 2.13.0')"
  test -x "$venv/bin/$command_name"
  "$venv/bin/pip" freeze >"$venv/freeze.txt"
  touch "$venv/.complete"
  echo "== $name: done in $((SECONDS - started)) s"
}

selected="${1:-all}"
if [[ "$selected" == all || "$selected" == autotrain ]]; then
  install_peer autotrain "autotrain-advanced==0.8.36" autotrain
fi
if [[ "$selected" == all || "$selected" == llamafactory ]]; then
  install_peer llamafactory "llamafactory==0.9.5" llamafactory-cli
fi
