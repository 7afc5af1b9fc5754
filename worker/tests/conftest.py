"""Shared fixtures: a tiny random Llama with a tiny BPE tokenizer and a ChatML template, built once
per test session in a temporary folder, and small datasets written as JSONL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = WORKER_ROOT.parent

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

COLORS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange"]
THINGS = ["apple", "sky", "grass", "banana", "coal", "snow", "plum", "carrot", "cherry", "ocean", "leaf", "lemon"]


def chat_examples(count: int, offset: int = 0) -> list[dict[str, Any]]:
    """A learnable toy task: the color of a thing, with a fixed system prompt."""
    examples = []
    for index in range(offset, offset + count):
        thing = THINGS[index % len(THINGS)]
        color = COLORS[(index * 7) % len(COLORS)]
        examples.append(
            {
                "messages": [
                    {"role": "system", "content": "You answer with one sentence."},
                    {"role": "user", "content": f"What color is the {thing}?"},
                    {"role": "assistant", "content": f"The {thing} is {color}."},
                ]
            }
        )
    return examples


def multi_turn_examples() -> list[dict[str, Any]]:
    """Examples where some assistant turns are not trained (weight 0)."""
    return [
        {
            "messages": [
                {"role": "user", "content": "Hello there"},
                {"role": "assistant", "content": "Hi, how can I help?", "weight": 0},
                {"role": "user", "content": "What color is the sky?"},
                {"role": "assistant", "content": "The sky is blue.", "weight": 1},
            ]
        },
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Name a fruit"}]},
                {"role": "assistant", "content": "An apple."},
                {"role": "user", "content": "Another one"},
                {"role": "assistant", "content": "A banana.", "weight": 0},
            ]
        },
    ]


def build_tiny_model(folder: Path, chat_template: str | None = CHATML_TEMPLATE) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    sentences = [json.dumps(example) + " user assistant system What color is the Hello there how can I help Be brief" for example in chat_examples(48) + multi_turn_examples()]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(sentences, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None)
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
        initializer_range=0.2,  # an lm_head able to move the logits, so LoRA on the layers can learn
    )
    import torch

    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def write_jsonl(path: Path, examples: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(example) + "\n" for example in examples))
    return path


@pytest.fixture
def chat_data(tmp_path) -> tuple[Path, Path]:
    return (
        write_jsonl(tmp_path / "train.jsonl", chat_examples(32)),
        write_jsonl(tmp_path / "valid.jsonl", chat_examples(8, offset=100)),
    )


def make_spec(model: Path | str, train: Path, run_dir: Path, validation: Path | None = None, **training: Any) -> dict:
    data = training.pop("data", {})
    return {
        "v": 1,
        "run_dir": str(run_dir),
        "model": str(model),
        "data": {
            "train": str(train),
            "validation": str(validation) if validation else None,
            "format": "auto",
            "chat_template": None,
            "max_seq_len": 128,
            **data,
        },
        "training": {
            "method": "lora",
            "epochs": 2,
            "batch_size": 8,
            "micro_batch_size": 4,
            "learning_rate": 5e-3,
            "lr_scheduler": "cosine",
            "warmup_ratio": 0.0,
            "weight_decay": 0.0,
            "max_grad_norm": 1.0,
            "max_steps": None,
            "packing": True,
            "seed": 7,
            "eval_every": 4,
            "checkpoint_every": 4,
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"},
            "precision": "auto",
            "device": "auto",
            "num_processes": 1,
            "distributed": "ddp",
            "merge": False,
            "trust_remote_code": False,
            "threads": 1,
            **training,
        },
        "resume_from": None,
    }


def worker_environment() -> dict[str, str]:
    environment = {**os.environ, "PYTHONPATH": str(WORKER_ROOT), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    if _forkserver_socket is not None:
        environment["TUNEKIT_FORKSERVER"] = _forkserver_socket
    return environment


_forkserver_socket: str | None = None


@pytest.fixture(scope="session", autouse=True)
def forkserver(tmp_path_factory):
    """One fork server for the session, as `tunekit server` runs one: the worker processes the tests
    spawn (`run_worker`, and every Popen given `worker_environment()`) fork from it instead of
    importing torch each (tests/test_forkserver.py checks that a forked run equals one in its own
    process). TUNEKIT_TEST_FORKSERVER=0 runs every worker in its own process instead."""
    global _forkserver_socket
    if os.environ.get("TUNEKIT_TEST_FORKSERVER") == "0":
        yield None
        return
    socket_path = str(tmp_path_factory.mktemp("forkserver") / "worker.sock")
    environment = {**os.environ, "PYTHONPATH": str(WORKER_ROOT), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    process, ready = start_forkserver(socket_path, environment)
    assert ready.get("forkserver") == "ready", "the fork server did not start"
    _forkserver_socket = socket_path
    yield socket_path
    _forkserver_socket = None
    process.stdin.close()
    process.wait(timeout=60)


def start_forkserver(socket_path: str, environment: dict[str, str]) -> tuple[subprocess.Popen, dict]:
    """`python -m tunekit_worker forkserver SOCKET`, and the line it prints once it is ready."""
    process = subprocess.Popen([sys.executable, "-m", "tunekit_worker", "forkserver", socket_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment, text=True)
    return process, json.loads(process.stdout.readline() or "{}")


def write_spec(spec: dict, path: Path) -> Path:
    path.write_text(json.dumps(spec))
    return path


def parse_events(stdout: str) -> list[dict[str, Any]]:
    from tunekit_worker.events import parse_event_line

    return [parse_event_line(line) for line in stdout.splitlines() if line.strip()]


def run_worker(spec: dict, spec_path: Path, timeout: float = 120) -> tuple[int, list[dict[str, Any]], str]:
    """Run `python -m tunekit_worker train SPEC.json` the way the supervisor does; every stdout line
    must be a valid v1 event."""
    write_spec(spec, spec_path)
    completed = subprocess.run(
        [sys.executable, "-m", "tunekit_worker", "train", str(spec_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=worker_environment(),
        cwd=spec_path.parent,
    )
    return completed.returncode, parse_events(completed.stdout), completed.stderr


def events_of(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == event_type]


def run_worker_in_process(spec: dict, spec_path: Path, capsys) -> tuple[int, list[dict[str, Any]]]:
    """The same entry point without a new Python process (seconds saved on imports), for tests that
    do not need process behaviour such as signals or exit codes seen by a parent."""
    from tunekit_worker.train import run_training

    write_spec(spec, spec_path)
    capsys.readouterr()
    exit_code = run_training(str(spec_path))
    return exit_code, parse_events(capsys.readouterr().out)


def preference_examples(count: int, offset: int = 0) -> list[dict[str, Any]]:
    """OpenAI's DPO shape: the right color is preferred over a wrong one."""
    examples = []
    for index in range(offset, offset + count):
        thing = THINGS[index % len(THINGS)]
        color = COLORS[(index * 7) % len(COLORS)]
        wrong = COLORS[(index * 7 + 3) % len(COLORS)]
        examples.append(
            {
                "input": {"messages": [{"role": "user", "content": f"What color is the {thing}?"}]},
                "preferred_output": [{"role": "assistant", "content": f"The {thing} is {color}."}],
                "non_preferred_output": [{"role": "assistant", "content": f"The {thing} is {wrong}."}],
            }
        )
    return examples
