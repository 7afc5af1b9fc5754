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
# Installed on 2026-12-02 (Python 3.11.7, or $PYTHON; about 2 min per venv on 2 cores; 3.0 and 2.1 GiB):
#   autotrain:    autotrain-advanced 0.8.36, torch 2.13.0+cpu, fastapi 0.115.6, uvicorn 0.34.0,
#                 transformers 4.48.0, huggingface-hub 0.27.0; torchvision removed (see below)
#   llamafactory: llamafactory 0.9.5, torch 2.13.0+cpu, gradio 5.50.0, fastapi 0.163.2,
#                 uvicorn 0.54.0, transformers 5.6.0, huggingface_hub 1.33.0, torchaudio 2.11.1
#                 (Python part only); torchvision removed (see below)
# Full lists: $PEERS_DIR/<peer>/freeze.txt.
set -euo pipefail

peers_dir="${PEERS_DIR:-/tmp/tunekit-web-peers}"
python="${PYTHON:-python3}"
torch_pin="torch==2.13.0"
mkdir -p "$peers_dir"
constraints="$peers_dir/constraints.txt"
echo "$torch_pin" >"$constraints"

# PyPI's torchvision and torchaudio wheels for Linux are CUDA builds: their C extensions need
# libtorch_cuda.so / libc10_cuda.so, which the CPU torch lacks, so `import transformers` dies with
# "operator torchvision::nms does not exist" and `import torchaudio` with "libc10_cuda.so: cannot open
# shared object file". No CPU build of either is reachable here. The UIs need neither extension:
# torchvision goes (transformers then treats it as absent), torchaudio keeps its Python part only
# (llamafactory imports it at start-up).
drop_cuda_only_extensions() {
  local venv="$1" site
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  if [[ -d "$site/torchvision" ]] && ! "$venv/bin/python" -c "import torchvision" 2>/dev/null; then
    echo "== $(basename "$venv"): uninstalling torchvision (CUDA build, cannot load with CPU torch)"
    "$venv/bin/pip" uninstall --yes --quiet torchvision
  fi
  if [[ -d "$site/torchaudio" ]] && ! "$venv/bin/python" -c "import torchaudio" 2>/dev/null; then
    echo "== $(basename "$venv"): removing torchaudio's CUDA-only libraries (its Python part stays)"
    rm -f "$site"/torchaudio/lib/*.so
    "$venv/bin/python" -c "import torchaudio"
  fi
}

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
  drop_cuda_only_extensions "$venv"
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
