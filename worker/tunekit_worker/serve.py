"""A long-lived generation process for HF-format models (transformers + peft), spoken to in JSON Lines.

    python -m tunekit_worker serve

stdin, one object a line:
    {"type": "generate", "id": "r1", "model": DIR_OR_HUB_ID, "adapter": PEFT_DIR|null, "messages": [...],
     "max_tokens": N|null, "temperature": 0.0, "top_p": 1.0, "seed": N|null, "stop": ["..."],
     "response_format": {"type": "text"} | {"type": "json_object"} | {"type": "json_schema", "name": "...", "schema": {...}}}
    {"type": "cancel", "id": "r1"}
stdout, one object a line:
    {"id": "r1", "type": "text", "text": "..."}            decoded text as it is produced
    {"id": "r1", "type": "done", "text": FULL, "finish_reason": "stop"|"length", "prompt_tokens": N, "completion_tokens": N}
    {"id": "r1", "type": "error", "code": "...", "message": "...", "field": "..."}

Requests run one at a time in arrival order; a cancel (read by a reader thread) stops its request
before the next token. Generation stops at the model's end-of-turn tokens (generate.end_of_turn_ids).
A JSON response format constrains decoding (json_constraint.py): only tokens that keep the text a
valid JSON prefix are picked, and end of turn only once the object is closed. A schema outside the
enforced subset is an error with field `response_format`.
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
from .json_constraint import START, State, TokenConstraint, UnsupportedSchema, rules_of, token_constraint

_write_lock = threading.Lock()
UNSUPPORTED_MESSAGE = (
    "`response_format.json_schema.schema` is outside what the python engine enforces ({problem}); it enforces an object "
    "schema built from `type`, string `enum`, `properties`, `required`, `additionalProperties` (true/false) and `items`, at any depth. "
    'Simplify the schema, use `{{"type": "json_object"}}`, or serve a GGUF with the node-llama-cpp engine (`--engine llama-cpp`) for full JSON Schema'
)


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


def choose_constrained(
    logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator, constraint: TokenConstraint, state: State, banned: frozenset[int]
) -> int | None:
    """`choose` over the tokens the constraint allows (None when none is allowed). Greedy looks at the
    most likely tokens first and only builds the full mask when none of them fits."""
    if temperature <= 0:
        for token in torch.topk(logits, min(64, logits.shape[0])).indices.tolist():
            if constraint.allows(state, token, banned):
                return token
    allowed = [token for token in constraint.allowed(state) if token not in banned and token < logits.shape[0]]
    if not allowed:
        return None
    index = torch.tensor(allowed)
    masked = torch.full_like(logits, float("-inf"))
    masked[index] = logits[index]
    return choose(masked, temperature, top_p, generator)


class ConstrainedText:
    """The recognizer state of the decoded answer, kept in step with the decoder's text (which can
    revise its last characters when a multi-byte character completes)."""

    def __init__(self, constraint: TokenConstraint):
        self.constraint = constraint
        self.text = ""
        self.state: State = START

    def accept(self, text: str) -> bool:
        recognizer = self.constraint.recognizer
        state = recognizer.advance(self.state, text[len(self.text) :]) if text.startswith(self.text) else recognizer.advance(START, text)
        if state is None:
            return False
        self.text, self.state = text, state
        return True


def next_token(logits: torch.Tensor, request: dict[str, Any], generator: torch.Generator, tokenizer: Any, generated: list[int], constrained: ConstrainedText | None) -> int | None:
    temperature, top_p = float(request.get("temperature") or 0), float(request.get("top_p") or 1)
    if constrained is None:
        return choose(logits, temperature, top_p, generator)
    banned: set[int] = set()
    while True:
        token = choose_constrained(logits, temperature, top_p, generator, constrained.constraint, constrained.state, frozenset(banned))
        if token is None or token in constrained.constraint.end_ids:
            return token
        # the token's own text was checked; the decoder's text in context decides (leading spaces, bytes)
        if constrained.accept(tokenizer.decode(generated + [token], skip_special_tokens=True)):
            return token
        banned.add(token)


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
    rules = rules_of(request.get("response_format"))  # an unsupported schema fails before any model loads
    tokenizer, model = models.get(request["model"], request.get("adapter"))
    prompt = tokenizer.apply_chat_template(request["messages"], add_generation_prompt=True, tokenize=False)
    input_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    limit = getattr(model.config, "max_position_embeddings", 2048) - input_ids.shape[1]
    max_tokens = min(request.get("max_tokens") or limit, limit)
    stops = set(end_of_turn_ids(tokenizer))
    stop_strings = [text for text in request.get("stop") or [] if text]
    generator = torch.Generator().manual_seed(request.get("seed") or 0)
    constrained = ConstrainedText(token_constraint(tokenizer, sorted(stops), rules, model.config.vocab_size)) if rules is not None else None
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
        token = next_token(output.logits[0, -1].float(), request, generator, tokenizer, generated, constrained)
        if token is None or token in stops:
            finish_reason = "stop"
            break
        generated.append(token)
        # a constrained step already decoded exactly this (next_token -> ConstrainedText.accept)
        text = constrained.text if constrained is not None else tokenizer.decode(generated, skip_special_tokens=True)
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
        except UnsupportedSchema as error:
            send(
                {"id": request.get("id"), "type": "error", "code": "unsupported_response_format", "message": UNSUPPORTED_MESSAGE.format(problem=error), "field": "response_format"}
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            send(
                {
                    "id": request.get("id"),
                    "type": "error",
                    "code": "bad_request" if isinstance(error, (KeyError, TypeError)) else "model_load_failed",
                    "message": f"{type(error).__name__}: {error}",
                    "field": "model",
                }
            )
        except Exception as error:
            send({"id": request.get("id"), "type": "error", "code": "internal", "message": f"{type(error).__name__}: {error}"})
        finally:
            cancelled.discard(request.get("id"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
