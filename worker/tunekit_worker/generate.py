"""Greedy answers from a base model, optionally with a LoRA adapter, for chat examples.

    python -m tunekit_worker generate MODEL DATA.jsonl [--adapter DIR] [--limit N] [--max-new-tokens N]

Prints one JSON object per example on stdout: the index, the reference assistant answer, the
generated answer, prompt/completion token counts and the generation time. Used by the demo to show
answers before and after fine-tuning; the OpenAI-compatible serving engines live in src/serve.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch

from .model_loading import _source


def load_for_generation(model: str, adapter: str | None) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name, extra = _source(model)
    tokenizer = AutoTokenizer.from_pretrained(adapter or name, **({} if adapter else extra))
    base = AutoModelForCausalLM.from_pretrained(name, dtype=torch.float32, **extra)
    if adapter:
        from peft import PeftModel

        base = PeftModel.from_pretrained(base, adapter)
    base.eval()
    return tokenizer, base


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """Stop at the model's own end of turn (ChatML <|im_end|>, Llama 3 <|eot_id|>, ...) and at eos."""
    ids = {tokenizer.eos_token_id}
    for token in ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return sorted(i for i in ids if i is not None)


@torch.no_grad()
def generate(tokenizer: Any, model: Any, messages: list[dict[str, Any]], max_new_tokens: int) -> tuple[str, int, int]:
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    input_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    output = model.generate(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=end_of_turn_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
    )
    completion = output[0, input_ids.shape[1] :]
    text = tokenizer.decode(completion, skip_special_tokens=True).strip()
    return text, int(input_ids.shape[1]), int(completion.shape[0])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tunekit_worker generate")
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tokenizer, model = load_for_generation(args.model, args.adapter)
    with open(args.data, encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if index >= args.limit:
                break
            messages = json.loads(line)["messages"]
            prompt_messages = [m for m in messages if m["role"] != "assistant"]
            reference = next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), None)
            started = time.perf_counter()
            text, prompt_tokens, completion_tokens = generate(tokenizer, model, prompt_messages, args.max_new_tokens)
            record = {
                "index": index,
                "user": next((m["content"] for m in prompt_messages if m["role"] == "user"), ""),
                "reference": reference,
                "output": text,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "seconds": round(time.perf_counter() - started, 3),
            }
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
