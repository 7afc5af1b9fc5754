"""A long-lived generation process for HF-format models (transformers + peft), spoken to in JSON Lines.

    python -m tunekit_worker serve

stdin, one object a line:
    {"type": "generate", "id": "r1", "model": DIR_OR_HUB_ID, "adapter": PEFT_DIR|null, "messages": [...],
     "max_tokens": N|null, "temperature": 0.0, "top_p": 1.0, "seed": N|null, "stop": ["..."]}
    {"type": "cancel", "id": "r1"}
stdout, one object a line:
    {"id": "r1", "type": "text", "text": "..."}            decoded text as it is produced
    {"id": "r1", "type": "done", "text": FULL, "finish_reason": "stop"|"length", "prompt_tokens": N, "completion_tokens": N}
    {"id": "r1", "type": "error", "code": "...", "message": "...", "field": "..."}

Requests run one at a time in arrival order; a cancel (read by a reader thread) stops its request
before the next token. Generation stops at the model's end-of-turn tokens (generate.end_of_turn_ids).
Models and adapters stay loaded (the last 4 (model, adapter) pairs).
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections import OrderedDict
from typing import Any

import torch

from .generate import end_of_turn_ids, load_for_generation

_write_lock = threading.Lock()


def send(message: dict[str, Any]) -> None:
    with _write_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


class Models:
    def __init__(self, capacity: int = 4):
        self.capacity = capacity
        self.loaded: OrderedDict[tuple[str, str | None], tuple[Any, Any]] = OrderedDict()

    def get(self, model: str, adapter: str | None) -> tuple[Any, Any]:
        key = (model, adapter)
        if key not in self.loaded:
            self.loaded[key] = load_for_generation(model, adapter)
            while len(self.loaded) > self.capacity:
                self.loaded.popitem(last=False)
        self.loaded.move_to_end(key)
        return self.loaded[key]


def choose(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> int:
    if temperature <= 0:
        return int(torch.argmax(logits))
    probabilities = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1:
        sorted_probabilities, order = torch.sort(probabilities, descending=True)
        keep = torch.cumsum(sorted_probabilities, dim=-1) - sorted_probabilities < top_p
        probabilities = torch.zeros_like(probabilities).scatter(0, order[keep], sorted_probabilities[keep])
    return int(torch.multinomial(probabilities, 1, generator=generator))


def held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters could be the start of a stop string (not sent yet)."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


@torch.no_grad()
def run_request(models: Models, request: dict[str, Any], cancelled: set[str]) -> None:
    request_id = request["id"]
    tokenizer, model = models.get(request["model"], request.get("adapter"))
    prompt = tokenizer.apply_chat_template(request["messages"], add_generation_prompt=True, tokenize=False)
    input_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    limit = getattr(model.config, "max_position_embeddings", 2048) - input_ids.shape[1]
    max_tokens = min(request.get("max_tokens") or limit, limit)
    stops = set(end_of_turn_ids(tokenizer))
    stop_strings = [text for text in request.get("stop") or [] if text]
    generator = torch.Generator().manual_seed(request.get("seed") or 0)
    generated: list[int] = []
    sent = ""
    finish_reason = "length"
    cut = -1
    past = None
    step_input = input_ids
    while len(generated) < max_tokens:
        if request_id in cancelled:
            finish_reason = "stop"
            break
        output = model(input_ids=step_input, past_key_values=past, use_cache=True)
        past = output.past_key_values
        token = choose(output.logits[0, -1].float(), float(request.get("temperature") or 0), float(request.get("top_p") or 1), generator)
        if token in stops:
            finish_reason = "stop"
            break
        generated.append(token)
        text = tokenizer.decode(generated, skip_special_tokens=True)
        cut = min((text.find(stop) for stop in stop_strings if stop in text), default=-1)
        if cut != -1:
            text = text[:cut]
            finish_reason = "stop"
        if text.endswith("\ufffd") and cut == -1:  # half a multi-byte character: wait for the rest
            step_input = torch.tensor([[token]])
            continue
        ready = text if cut != -1 else text[: len(text) - held_back(text, stop_strings)]
        if len(ready) > len(sent) and ready.startswith(sent):
            send({"id": request_id, "type": "text", "text": ready[len(sent) :]})
            sent = ready
        if cut != -1:
            break
        step_input = torch.tensor([[token]])
    if cut == -1:  # flush what was held back (a partial character, a possible stop string start)
        text = tokenizer.decode(generated, skip_special_tokens=True)
        cut = min((text.find(stop) for stop in stop_strings if stop in text), default=-1)
        text = text[:cut] if cut != -1 else text
        if len(text) > len(sent) and text.startswith(sent):
            send({"id": request_id, "type": "text", "text": text[len(sent) :]})
            sent = text
    send({"id": request_id, "type": "done", "text": sent, "finish_reason": finish_reason, "prompt_tokens": int(input_ids.shape[1]), "completion_tokens": len(generated)})


def main(argv: list[str]) -> int:
    requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
    cancelled: set[str] = set()

    def read() -> None:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError as error:
                send({"id": None, "type": "error", "code": "bad_request", "message": f"not JSON: {error}"})
                continue
            if message.get("type") == "cancel":
                cancelled.add(message.get("id"))
            else:
                requests.put(message)
        requests.put(None)

    threading.Thread(target=read, daemon=True).start()
    models = Models()
    while True:
        request = requests.get()
        if request is None:
            return 0
        if request.get("id") in cancelled:
            send({"id": request["id"], "type": "done", "text": "", "finish_reason": "stop", "prompt_tokens": 0, "completion_tokens": 0})
            continue
        try:
            run_request(models, request, cancelled)
        except (OSError, ValueError, KeyError, TypeError) as error:
            send({"id": request.get("id"), "type": "error", "code": "bad_request" if isinstance(error, (KeyError, TypeError)) else "model_load_failed", "message": f"{type(error).__name__}: {error}", "field": "model"})
        except Exception as error:  # noqa: BLE001 - one failed request must not end the server
            send({"id": request.get("id"), "type": "error", "code": "internal", "message": f"{type(error).__name__}: {error}"})
        finally:
            cancelled.discard(request.get("id"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
