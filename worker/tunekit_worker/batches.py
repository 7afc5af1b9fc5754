"""Global batches, each rank's share, micro-batches and the tensors fed to the model.

One optimizer step consumes one global batch of `batch_size` examples. The order of examples in an
epoch comes from a generator seeded with seed + epoch, so it does not depend on any other random
state (resume and multi-process runs see the same batches). Rank r of w takes examples r, r+w, ...
of every global batch, and groups its share into micro-batches by a budget: at most
`micro_batch_size` examples and, with packing, at most `max_seq_len` tokens.

With packing a micro-batch is ONE row: the examples concatenated, position_ids restarting at 0 at
each example, and no attention mask. transformers (masking_utils.find_packed_sequence_indices)
then builds a block-diagonal causal mask from the position_ids, so no token attends across
examples. Without packing a micro-batch is a right-padded 2D batch with an attention mask.

Targets are shifted inside each example: position j predicts token j + 1 of the same example when
that token is trained, and the last position of an example predicts nothing (-100). A trained
token at position 0 of an example (only possible for `text` data) cannot be predicted and does not
count in the loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from .examples import TokenizedExample

IGNORE_INDEX = -100


def epoch_order(num_examples: int, seed: int, epoch: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed + epoch)
    return torch.randperm(num_examples, generator=generator).tolist()


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return math.ceil(num_examples / batch_size)


def global_batch(order: list[int], batch_size: int, batch_index: int) -> list[int]:
    return order[batch_index * batch_size : (batch_index + 1) * batch_size]


def rank_share(indices: list[int], rank: int, world_size: int) -> list[int]:
    return indices[rank::world_size]


def loss_token_count(example: TokenizedExample) -> int:
    """Tokens that contribute to the loss: trained tokens that have a previous token."""
    return sum(example.trained_mask[1:])


def group_micro_batches(indices: list[int], examples: list[Any], micro_batch_size: int, token_budget: int | None) -> list[list[int]]:
    """Greedy grouping in order: a new micro-batch starts when the next example would exceed
    `micro_batch_size` examples or `token_budget` tokens (None: no token budget)."""
    groups: list[list[int]] = []
    current: list[int] = []
    current_tokens = 0
    for index in indices:
        length = examples[index].length
        too_many = len(current) >= micro_batch_size
        too_long = token_budget is not None and current and current_tokens + length > token_budget
        if current and (too_many or too_long):
            groups.append(current)
            current, current_tokens = [], 0
        current.append(index)
        current_tokens += length
    if current:
        groups.append(current)
    return groups


def shifted_targets(example: TokenizedExample) -> list[int]:
    ids, mask = example.input_ids, example.trained_mask
    return [ids[j + 1] if mask[j + 1] else IGNORE_INDEX for j in range(len(ids) - 1)] + [IGNORE_INDEX]


@dataclass
class MicroBatch:
    input_ids: torch.Tensor  # [rows, length]
    position_ids: torch.Tensor  # [rows, length]
    attention_mask: torch.Tensor | None  # None when packed: the mask comes from position_ids
    targets: torch.Tensor  # [rows, length], IGNORE_INDEX where nothing is trained
    examples: int
    segment_ids: torch.Tensor | None = None  # [rows, length]: which example each position belongs to (-1: padding)

    @property
    def loss_tokens(self) -> int:
        return int((self.targets != IGNORE_INDEX).sum())

    @property
    def tokens(self) -> int:
        if self.attention_mask is None:
            return self.input_ids.numel()
        return int(self.attention_mask.sum())

    def to(self, device: torch.device | str) -> MicroBatch:
        return MicroBatch(
            self.input_ids.to(device),
            self.position_ids.to(device),
            None if self.attention_mask is None else self.attention_mask.to(device),
            self.targets.to(device),
            self.examples,
            None if self.segment_ids is None else self.segment_ids.to(device),
        )


def pack(examples: list[TokenizedExample]) -> MicroBatch:
    input_ids: list[int] = []
    position_ids: list[int] = []
    targets: list[int] = []
    segment_ids: list[int] = []
    for number, example in enumerate(examples):
        input_ids += example.input_ids
        position_ids += range(len(example.input_ids))
        targets += shifted_targets(example)
        segment_ids += [number] * len(example.input_ids)
    return MicroBatch(
        torch.tensor([input_ids]),
        torch.tensor([position_ids]),
        None,
        torch.tensor([targets]),
        len(examples),
        torch.tensor([segment_ids]),
    )


def pad(examples: list[TokenizedExample], pad_token_id: int) -> MicroBatch:
    length = max(len(example.input_ids) for example in examples)
    input_ids = torch.full((len(examples), length), pad_token_id)
    targets = torch.full((len(examples), length), IGNORE_INDEX)
    attention_mask = torch.zeros((len(examples), length), dtype=torch.long)
    segment_ids = torch.full((len(examples), length), -1)
    for row, example in enumerate(examples):
        size = len(example.input_ids)
        input_ids[row, :size] = torch.tensor(example.input_ids)
        targets[row, :size] = torch.tensor(shifted_targets(example))
        attention_mask[row, :size] = 1
        segment_ids[row, :size] = row
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return MicroBatch(input_ids, position_ids, attention_mask, targets, len(examples), segment_ids)


def collate(examples: list[TokenizedExample], packing: bool, pad_token_id: int) -> MicroBatch:
    return pack(examples) if packing else pad(examples, pad_token_id)
