"""Reference token counts from transformers, for test/token-parity.test.ts.

Reads a JSON request on stdin and prints a JSON answer on stdout:
  {"action": "build-tiny-tokenizer", "dir": DIR}
      trains a tiny byte-level BPE tokenizer with the `tokenizers` library and saves a
      transformers folder (tokenizer.json, tokenizer_config.json with a ChatML template,
      config.json with max_position_embeddings) into DIR.
  {"action": "spans", "dir": DIR, "gguf_file": NAME or null, "examples": [...], "build": false}
      (with "build": true, first builds the tiny tokenizer into DIR as above) loads
      AutoTokenizer.from_pretrained(DIR, gguf_file=NAME) and applies the trained-token rule (the
      same rule as src/data/tokens/trained-token-spans.ts) to each example, printing
      {"results": [{"ids": [...], "spans": [[start, end], ...]} or {"error": "..."}],
       "worker": [{"ids": [...], "trained": N} or {"error": "..."}]}
      where "worker" comes from the training worker's own ExampleTokenizer
      (worker/tunekit_worker/examples.py), so the test also checks the real worker code.
"""
import json
import os
import sys


def build_tiny_tokenizer(directory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [
        "The quick brown fox jumps over the lazy dog.",
        "You are a helpful assistant. What is the capital of France? Paris is the capital.",
        "system user assistant tool hello world, how are you today? I am fine, thank you!",
        "Count: one two three four five six seven eight nine ten 12345 67890",
    ] * 20
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    chatml = (
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    fast.chat_template = chatml
    os.makedirs(directory, exist_ok=True)
    fast.save_pretrained(directory)
    config_path = os.path.join(directory, "tokenizer_config.json")
    with open(config_path) as handle:
        config = json.load(handle)
    # keep the template inside tokenizer_config.json (older transformers layout) as well
    config["chat_template"] = chatml
    with open(config_path, "w") as handle:
        json.dump(config, handle)
    jinja_path = os.path.join(directory, "chat_template.jinja")
    if os.path.exists(jinja_path):
        os.remove(jinja_path)
    with open(os.path.join(directory, "config.json"), "w") as handle:
        json.dump({"model_type": "llama", "max_position_embeddings": 256}, handle)
    return {"dir": directory, "vocab_size": tokenizer.get_vocab_size()}


def render(tokenizer, messages, tools, add_generation_prompt):
    text = tokenizer.apply_chat_template(
        messages, tools=tools or None, add_generation_prompt=add_generation_prompt, tokenize=False
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def normalize(messages):
    normalized = []
    for message in messages:
        copy = {key: value for key, value in message.items() if key != "weight"}
        if isinstance(copy.get("content"), list):
            copy["content"] = "".join(
                part.get("text", "") for part in copy["content"] if isinstance(part, dict) and part.get("type") == "text"
            )
        normalized.append(copy)
    return normalized


def spans(tokenizer, example):
    eos = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
    if "messages" in example:
        messages, tools = normalize(example["messages"]), example.get("tools")
        ids = render(tokenizer, messages, tools, False)
        result = []
        for index, message in enumerate(example["messages"]):
            if message["role"] != "assistant" or message.get("weight", 1) == 0:
                continue
            prefix = render(tokenizer, messages[:index], tools, True)
            through = render(tokenizer, messages[: index + 1], tools, False)
            bounds = []
            for tokens in (prefix, through):
                common = 0
                while common < min(len(tokens), len(ids)) and tokens[common] == ids[common]:
                    common += 1
                # only the last token may differ (a BPE merge across the boundary)
                if common < len(tokens) - 1:
                    raise ValueError(f"token-prefix property fails at message {index}")
                bounds.append(common)
            result.append([bounds[0], max(bounds[0], bounds[1])])
        return {"ids": ids, "spans": result}
    if "prompt" in example:
        prompt = tokenizer(example["prompt"], add_special_tokens=False)["input_ids"]
        completion = tokenizer(example["completion"], add_special_tokens=False)["input_ids"]
        ids = prompt + completion + eos
        return {"ids": ids, "spans": [[len(prompt), len(ids)]]}
    ids = tokenizer(example["text"], add_special_tokens=False)["input_ids"] + eos
    return {"ids": ids, "spans": [[0, len(ids)]]}


def spans_or_error(tokenizer, example):
    try:
        return spans(tokenizer, example)
    except ValueError as error:
        return {"error": str(error)}


def worker_counts(tokenizer, examples):
    """The same examples through the training worker's own ExampleTokenizer."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "worker"))
    from tunekit_worker.errors import WorkerError
    from tunekit_worker.examples import ExampleTokenizer, detect_format

    example_tokenizer = ExampleTokenizer(tokenizer, max_seq_len=1 << 30)
    counts = []
    for index, example in enumerate(examples):
        try:
            tokenized = example_tokenizer(example, detect_format(example), where=f"example {index + 1}")
            counts.append({"ids": tokenized.input_ids, "trained": tokenized.trained_tokens})
        except WorkerError as error:
            counts.append({"error": error.message})
    return counts


def main():
    request = json.load(sys.stdin)
    if request["action"] == "build-tiny-tokenizer":
        answer = build_tiny_tokenizer(request["dir"])
    elif request["action"] == "spans":
        from transformers import AutoTokenizer

        if request.get("build"):
            build_tiny_tokenizer(request["dir"])
        kwargs = {"gguf_file": request["gguf_file"]} if request.get("gguf_file") else {}
        tokenizer = AutoTokenizer.from_pretrained(request["dir"], **kwargs)
        answer = {
            "results": [spans_or_error(tokenizer, example) for example in request["examples"]],
            "worker": worker_counts(tokenizer, request["examples"]),
        }
    else:
        raise SystemExit(f"unknown action {request['action']!r}")
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
