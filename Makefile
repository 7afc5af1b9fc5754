# Tunekit's two entry points from a fresh clone:
#   make demo   set everything up, then run the demo (dataset toolkit -> train -> serve -> eval)
#   make test   set everything up, then run every test suite
# Everything the project needs is installed from its own files; nothing by hand.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
# node-llama-cpp's prebuilt llama.cpp builds: the CPU one for this machine only, unless asked for
# more: `make deps CUDA=1` (NVIDIA GPUs), `make deps VULKAN=1` (LLAMA_GPU=cuda,vulkan for both)
empty :=
comma := ,
LLAMA_GPU ?= $(subst $(empty) $(empty),$(comma),$(strip $(if $(filter-out 0,$(CUDA)),cuda) $(if $(filter-out 0,$(VULKAN)),vulkan)))
NPM_STAMP := node_modules/.install-stamp$(if $(LLAMA_GPU),-$(subst $(comma),-,$(LLAMA_GPU)))
VENV_STAMP := $(VENV)/.install-stamp

.PHONY: demo test deps build venv test-ts test-py bench-data clean chromium slurm format lint

deps: $(NPM_STAMP) build venv

# `npm install --no-save` with the committed lock rather than `npm ci`: npm 11 leaves the other
# platforms' optional node-llama-cpp binaries out of the lock and `npm ci` then refuses it as out of
# sync. --no-save installs exactly the locked versions and never rewrites the lock.
# --omit=optional leaves out every platform build, and the command names the ones this machine
# needs (scripts/platform-packages.mjs reads them from the lock): without it the CUDA, Vulkan and ARM
# builds of node-llama-cpp took 640 of node_modules' 950 MB. gitRelease.bundle is llama.cpp's source
# (34 MB), read only to build llama.cpp, which Tunekit never does (prebuilt builds, `build: "never"`);
# better-sqlite3 keeps only its compiled addon (the SQLite sources and object files are 25 MB).
$(NPM_STAMP): package.json package-lock.json
	NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-save --no-audit --no-fund --loglevel=error --omit=optional \
	  $$(LLAMA_GPU=$(LLAMA_GPU) node scripts/platform-packages.mjs)
	rm -f node_modules/node-llama-cpp/llama/gitRelease.bundle
	rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/build/Release/obj node_modules/better-sqlite3/build/Release/obj.target node_modules/better-sqlite3/build/Release/sqlite3.a
	touch $@

# the CLI and server (tsc -> dist/; the worker job spec's JSON Schema from zod), then the web UI (Vite -> dist/web/, served by `tunekit server` at /)
build: $(NPM_STAMP)
	npx tsc -p tsconfig.json
	node scripts/generate-worker-schemas.mjs
	npx vite build --config src/web/vite.config.ts
	mkdir -p .tunekit

venv: $(VENV_STAMP)

$(VENV_STAMP): worker/requirements-torch.txt worker/requirements.txt worker/requirements-nodeps.txt worker/requirements-dev.txt | build
	node dist/cli/main.js setup --dev

demo: deps
	bash scripts/demo.sh

test: deps chromium slurm
	bash scripts/run-tests.sh

# Debian's chromium for the HTML report test (test/report-html.test.ts, test/eval-e2e.test.ts drive it
# through playwright-core; never a downloaded browser). Needs root (or sudo) and apt.
chromium:
	@command -v chromium >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; else sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; fi; }

# Debian's slurm-wlm, munge and openssh-server for the Slurm backend's tests (test/slurm-backend.test.ts
# starts a two-node cluster and its login node with scripts/slurm-cluster.sh; the Ray backend's cluster
# comes from the venv's ray)
slurm:
	@bash scripts/install-cluster-packages.sh

# what `make test` checks first (Prettier, ESLint, ruff), and the one command that fixes the formatting
lint: deps
	npx prettier --check --log-level warn .
	npx eslint .
	$(VENV)/bin/ruff check worker
	$(VENV)/bin/ruff format --check worker

format: deps
	npx prettier --write --log-level warn .
	$(VENV)/bin/ruff check --fix worker
	$(VENV)/bin/ruff format worker

bench-data: deps
	node bench/data/run.mjs

clean:
	rm -rf dist node_modules $(VENV)
