"""Packing never attends across examples: the logits of an example inside a packed row equal its
logits alone, for the attention implementations the worker uses on CPU (sdpa) and eager."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tunekit_worker.batches import group_micro_batches, pack, pad
from tunekit_worker.examples import TokenizedExample


def random_model(attention: str) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        initializer_range=0.5,  # large weights: attention patterns are sharp, leaks would show
        attn_implementation=attention,
    )
    return LlamaForCausalLM(config).eval()


def examples(lengths: list[int]) -> list[TokenizedExample]:
    generator = torch.Generator().manual_seed(1)
    made = []
    for length in lengths:
        ids = torch.randint(0, 97, (length,), generator=generator).tolist()
        made.append(TokenizedExample(ids, [True] * length, length, length))
    return made


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_logits_inside_a_packed_row_equal_logits_alone(attention: str) -> None:
    model = random_model(attention)
    parts = examples([7, 1, 12, 5])
    row = pack(parts)
    assert row.position_ids[0].tolist() == [*range(7), 0, *range(12), *range(5)]
    with torch.no_grad():
        packed_logits = model(input_ids=row.input_ids, position_ids=row.position_ids, use_cache=False).logits[0]
        start = 0
        for part in parts:
            alone = model(input_ids=torch.tensor([part.input_ids]), use_cache=False).logits[0]
            inside = packed_logits[start : start + len(part.input_ids)]
            torch.testing.assert_close(inside, alone, atol=1e-5, rtol=1e-5)
            start += len(part.input_ids)

        # the check can fail: the same row with continuing positions attends across examples
        leaky = model(input_ids=row.input_ids, use_cache=False).logits[0]
        last = parts[-1]
        alone = model(input_ids=torch.tensor([last.input_ids]), use_cache=False).logits[0]
        assert (leaky[-len(last.input_ids) :] - alone).abs().max() > 1e-2


def test_padded_batch_matches_examples_alone() -> None:
    model = random_model("sdpa")
    parts = examples([9, 4])
    batch = pad(parts, pad_token_id=0)
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids, position_ids=batch.position_ids, attention_mask=batch.attention_mask, use_cache=False).logits
        for row, part in enumerate(parts):
            alone = model(input_ids=torch.tensor([part.input_ids]), use_cache=False).logits[0]
            torch.testing.assert_close(logits[row, : len(part.input_ids)], alone, atol=1e-5, rtol=1e-5)


def test_targets_never_cross_example_boundaries() -> None:
    parts = examples([3, 4])
    row = pack(parts)
    targets = row.targets[0].tolist()
    assert targets[:3] == [*parts[0].input_ids[1:], -100]
    assert targets[3:] == [*parts[1].input_ids[1:], -100]


def test_micro_batches_respect_the_example_and_token_budgets() -> None:
    parts = examples([10, 10, 10, 30, 5, 5])
    indices = list(range(len(parts)))
    assert group_micro_batches(indices, parts, micro_batch_size=2, token_budget=None) == [[0, 1], [2, 3], [4, 5]]
    assert group_micro_batches(indices, parts, micro_batch_size=6, token_budget=32) == [[0, 1, 2], [3], [4, 5]]
    # an example longer than the budget still gets a micro-batch of its own
    assert group_micro_batches([3], parts, micro_batch_size=4, token_budget=16) == [[3]]
