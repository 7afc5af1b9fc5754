"""`python -m tunekit_worker count-tokens MODEL DATA.jsonl [MAX_SEQ_LEN]`: the trained-token rule of
the worker applied to a dataset file, printed as one JSON object, so that `tunekit data stats`
(TypeScript) can be compared against the exact counts training will use."""

from __future__ import annotations

import json
import sys

from .examples import ExampleTokenizer, load_examples
from .job_spec import DataSpec, JobSpec, TrainingSpec
from .model_loading import load_tokenizer


def count_tokens(model: str, data_path: str, max_seq_len: int = 1_048_576) -> dict:
    spec = JobSpec(run_dir="/", model=model, data=DataSpec(train=data_path), training=TrainingSpec(epochs=1))
    tokenizer = load_tokenizer(spec)
    data_format, examples = load_examples(data_path, "data", "auto", ExampleTokenizer(tokenizer, max_seq_len))
    return {
        "format": data_format,
        "examples": len(examples),
        "tokens": sum(example.tokens_before_truncation for example in examples),
        "trained_tokens": sum(example.trained_before_truncation for example in examples),
        "trained_tokens_after_truncation": sum(example.trained_tokens for example in examples),
        "truncated_examples": sum(example.truncated for example in examples),
        "per_example": [{"tokens": example.tokens_before_truncation, "trained": example.trained_before_truncation} for example in examples],
    }


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m tunekit_worker count-tokens MODEL DATA.jsonl [MAX_SEQ_LEN]", file=sys.stderr)
        return 2
    max_seq_len = int(argv[2]) if len(argv) == 3 else 1_048_576
    print(json.dumps(count_tokens(argv[0], argv[1], max_seq_len)))
    return 0
