"""What a run minimises, chosen once before the loop (as torchtune injects its loss): SFT or DPO.

An objective turns a micro-batch (example indices of a split) into the summed loss to backpropagate
and the `Sums` the step reports. SFT: token cross-entropy summed over trained tokens. DPO: per pair
-logsigmoid(beta * ((chosen - chosen_ref) - (rejected - rejected_ref))), summed over pairs, where each
term is the summed log-probability of an answer's trained tokens and the reference is the base model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as functional

from . import batches as batching
from .errors import BadConfig
from .examples import PreferencePair

Autocast = Callable[[], Any]


@dataclass
class Sums:
    """What a step or an evaluation adds up over its micro-batches (and then over ranks).

    loss: summed loss; units: what the loss is averaged over (loss tokens for SFT, pairs for DPO);
    correct / tokens: next-token accuracy (for DPO on the preferred answers); trained: trained tokens read.
    """

    loss: float = 0.0
    units: float = 0.0
    correct: float = 0.0
    tokens: float = 0.0
    trained: float = 0.0

    def add(self, other: Sums) -> None:
        self.loss += other.loss
        self.units += other.units
        self.correct += other.correct
        self.tokens += other.tokens
        self.trained += other.trained

    def reduced(self, all_reduce_sum: Callable[[list[float]], list[float]]) -> Sums:
        return Sums(*all_reduce_sum([self.loss, self.units, self.correct, self.tokens, self.trained]))


def trained_logits(model: Any, micro_batch: batching.MicroBatch, autocast: Autocast) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits at trained positions only, their targets, and the boolean mask of those positions.

    The vocabulary projection is the largest matmul of a small model (SmolLM2-135M: 28M of its 135M
    parameters) and prompts are most of the tokens, so the lm_head and the loss run on the trained
    positions alone (transformers' `logits_to_keep` with a boolean mask). A model whose forward
    ignores the mask gets full logits, masked here: same result, no saving."""
    keep = micro_batch.targets != batching.IGNORE_INDEX
    with autocast():
        logits = model(
            input_ids=micro_batch.input_ids,
            position_ids=micro_batch.position_ids,
            attention_mask=micro_batch.attention_mask,
            use_cache=False,
            logits_to_keep=keep,
        ).logits
    logits = logits.float()
    if logits.dim() == 3:
        logits = logits[keep]
    return logits, micro_batch.targets[keep], keep


def forward_token_sums(model: Any, micro_batch: batching.MicroBatch, autocast: Autocast) -> tuple[torch.Tensor, int, int]:
    """Sum of the token losses (a tensor that can be backpropagated), correct predictions, tokens."""
    logits, targets, _ = trained_logits(model, micro_batch, autocast)
    loss_sum = functional.cross_entropy(logits, targets, reduction="sum")
    correct = int((logits.argmax(-1) == targets).sum())
    return loss_sum, correct, int(targets.numel())


def sequence_log_probs(model: Any, micro_batch: batching.MicroBatch, autocast: Autocast) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per example of the micro-batch: summed log-probability of its trained tokens, correct
    next-token predictions among them, and their number."""
    logits, targets, keep = trained_logits(model, micro_batch, autocast)
    token_log_probs = -functional.cross_entropy(logits, targets, reduction="none")
    hits = (logits.argmax(-1) == targets).float()
    segments = micro_batch.segment_ids.clamp(min=0)[keep]
    zeros = torch.zeros(micro_batch.examples, device=logits.device)
    return (
        zeros.index_add(0, segments, token_log_probs),
        zeros.index_add(0, segments, hits),
        zeros.index_add(0, segments, torch.ones_like(hits)),
    )


@dataclass
class MicroBatcher:
    """Collates example indices of a split into one micro-batch on the training device."""

    splits: dict[str, list[Any]]  # "train" and "valid" examples
    packing: bool
    pad_token_id: int
    device: torch.device

    def examples(self, split: str, group: list[int]) -> batching.MicroBatch:
        examples = self.splits[split]
        return batching.collate([examples[index] for index in group], self.packing, self.pad_token_id).to(self.device)

    def pairs(self, group: list[int], pairs: list[PreferencePair]) -> batching.MicroBatch:
        """Preferred answers first, then the non-preferred ones, in one micro-batch."""
        sequences = [pairs[index].chosen for index in group] + [pairs[index].rejected for index in group]
        return batching.collate(sequences, self.packing, self.pad_token_id).to(self.device)


class Objective(Protocol):
    def prepare(self, model: Any) -> None:
        """Called once with the fresh (unwrapped, not yet resumed) model."""

    def units(self, indices: list[int]) -> int:
        """What the loss of a global batch of training examples is averaged over."""

    def loss(self, model: Any, split: str, group: list[int]) -> tuple[torch.Tensor, Sums]:
        """The summed loss of one micro-batch (to backpropagate) and its sums."""

    def check_trained_tokens(self, truncated: int) -> None:
        """Refuse training data that leaves nothing to learn from."""


class SupervisedObjective:
    """SFT (lora, qlora, full): token cross-entropy summed over trained tokens."""

    def __init__(self, batcher: MicroBatcher, autocast: Autocast) -> None:
        self.batcher = batcher
        self.autocast = autocast

    def prepare(self, model: Any) -> None:
        pass

    def units(self, indices: list[int]) -> int:
        train = self.batcher.splits["train"]
        return sum(batching.loss_token_count(train[index]) for index in indices)

    def loss(self, model: Any, split: str, group: list[int]) -> tuple[torch.Tensor, Sums]:
        loss_sum, correct, tokens = forward_token_sums(model, self.batcher.examples(split, group), self.autocast)
        return loss_sum, Sums(loss_sum.item(), tokens, correct, tokens, tokens)

    def check_trained_tokens(self, truncated: int) -> None:
        if sum(example.trained_tokens for example in self.batcher.splits["train"]) == 0:
            raise BadConfig(
                "no training example has a trained token left (no assistant turn with weight 1, or every "
                "one was cut off by truncation); raise `data.max_seq_len` or check the data with "
                "`tunekit data stats`",
                field="data.max_seq_len" if truncated else "data.train",
            )


class PreferenceObjective:
    """DPO on preference pairs: LoRA adapters against the base model, whose log-probabilities of
    every pair (the reference) are computed once, before training."""

    def __init__(self, batcher: MicroBatcher, autocast: Autocast, beta: float, max_seq_len: int) -> None:
        self.batcher = batcher
        self.autocast = autocast
        self.beta = beta  # strength of the pull toward the reference model (training.dpo_beta, TRL's default 0.1)
        self.max_seq_len = max_seq_len
        self.reference: dict[str, torch.Tensor] = {}

    def prepare(self, model: Any) -> None:
        # fresh adapters are zero, so this is the base model: DPO's reference
        self.reference = {split: self.reference_log_probs(model, pairs) for split, pairs in self.batcher.splits.items()}

    @torch.no_grad()
    def reference_log_probs(self, model: Any, pairs: list[PreferencePair]) -> torch.Tensor:
        """[pairs, 2]: log-probability of the preferred and the non-preferred answer under `model`."""
        model.eval()
        result = torch.zeros(len(pairs), 2)
        budget = self.max_seq_len if self.batcher.packing else None
        for group in batching.group_micro_batches(list(range(len(pairs))), pairs, 8, budget):
            log_probs, _, _ = sequence_log_probs(model, self.batcher.pairs(group, pairs), self.autocast)
            result[group] = log_probs.view(2, len(group)).t().cpu()
        return result

    def units(self, indices: list[int]) -> int:
        return len(indices)

    def loss(self, model: Any, split: str, group: list[int]) -> tuple[torch.Tensor, Sums]:
        count = len(group)
        pairs = self.batcher.splits[split]
        log_probs, correct, tokens = sequence_log_probs(model, self.batcher.pairs(group, pairs), self.autocast)
        reference = self.reference[split][group].to(log_probs.device)
        margin = (log_probs[:count] - reference[:, 0]) - (log_probs[count:] - reference[:, 1])
        loss_sum = -functional.logsigmoid(self.beta * margin).sum()
        sums = Sums(loss_sum.item(), count, float(correct[:count].sum()), float(tokens[:count].sum()), float(tokens.sum()))
        return loss_sum, sums

    def check_trained_tokens(self, truncated: int) -> None:
        pass


def choose_objective(method: str, data_format: str, batcher: MicroBatcher, autocast: Autocast, dpo_beta: float, max_seq_len: int) -> Objective:
    """DPO for `training.method: dpo`, SFT otherwise; the data must be of the objective's kind."""
    dpo = method == "dpo"
    if dpo != (data_format == "preference"):
        raise BadConfig(
            f"`training.method: {method}` cannot train on `{data_format}` data: DPO needs preference pairs and preference pairs need DPO",
            field="data.format" if dpo else "training.method",
        )
    if dpo:
        return PreferenceObjective(batcher, autocast, dpo_beta, max_seq_len)
    return SupervisedObjective(batcher, autocast)
