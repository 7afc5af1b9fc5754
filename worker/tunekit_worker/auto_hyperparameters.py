"""`auto` hyperparameters, resolved once from the model's parameter count and the method.

The rule (also in worker/README.md):

| base model parameters | lora / qlora lr | full lr | batch_size cap |
| --------------------- | --------------- | ------- | -------------- |
| under 1B              | 2e-4            | 2e-5    | 16             |
| 1B to 10B             | 1e-4            | 1e-5    | 8              |
| above 10B             | 5e-5            | 5e-6    | 4              |

dpo (LoRA adapters) uses a tenth of the lora learning rate: 2e-5 / 1e-5 / 5e-6.

The table is auto_hyperparameters.json, which the TypeScript side reads too. `learning_rate_multiplier`
(the API's hyperparameter) scales this `auto` rate when `learning_rate` is `auto`; the resolved
multiplier is the learning rate over the `auto` rate, so multiplier x base = the rate used.

batch_size = min(cap, max(1, train_examples // 8)): at least ~8 optimizer steps per epoch on small
datasets. micro_batch_size = batch_size on CPU and with packing (a packed micro-batch is bounded by
max_seq_len tokens anyway); on CUDA without packing, min(batch_size, max(1, 16384 // max_seq_len)).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

BILLION = 1_000_000_000

_TABLE = json.loads((Path(__file__).with_name("auto_hyperparameters.json")).read_text())
SIZE_CLASSES = tuple(
    # (upper bound on parameters, adapter lr, full lr, batch size cap)
    (
        float("inf") if row["below_parameters"] is None else row["below_parameters"],
        row["adapter_learning_rate"],
        row["full_learning_rate"],
        row["batch_size_cap"],
    )
    for row in _TABLE["size_classes"]
)
DPO_LEARNING_RATE_DIVISOR = _TABLE["dpo_learning_rate_divisor"]


@dataclass
class ResolvedHyperparameters:
    batch_size: int
    micro_batch_size: int
    learning_rate: float
    learning_rate_multiplier: float = 1.0


def base_learning_rate(method: str, parameter_count: int) -> float:
    """The `auto` learning rate: what `learning_rate_multiplier` 1 means."""
    _, adapter_lr, full_lr, _ = next(row for row in SIZE_CLASSES if parameter_count < row[0])
    return {"full": full_lr, "dpo": adapter_lr / DPO_LEARNING_RATE_DIVISOR}.get(method, adapter_lr)


def resolve_hyperparameters(
    method: str,
    parameter_count: int,
    train_examples: int,
    batch_size: int | str,
    micro_batch_size: int | str,
    learning_rate: float | str,
    device_type: str,
    packing: bool,
    max_seq_len: int,
    learning_rate_multiplier: float | str = "auto",
) -> ResolvedHyperparameters:
    _, _, _, batch_cap = next(row for row in SIZE_CLASSES if parameter_count < row[0])
    base = base_learning_rate(method, parameter_count)
    if learning_rate == "auto":
        learning_rate = base if learning_rate_multiplier == "auto" else base * learning_rate_multiplier
    elif learning_rate_multiplier != "auto":  # an explicit learning rate wins; the multiplier reported is its own
        learning_rate_multiplier = "auto"
    multiplier = learning_rate / base if learning_rate_multiplier == "auto" else learning_rate_multiplier
    if batch_size == "auto":
        batch_size = min(batch_cap, max(1, train_examples // 8))
    if micro_batch_size == "auto":
        if device_type == "cpu" or packing:
            micro_batch_size = batch_size
        else:
            micro_batch_size = min(batch_size, max(1, 16384 // max_seq_len))
    micro_batch_size = min(micro_batch_size, batch_size)
    return ResolvedHyperparameters(int(batch_size), int(micro_batch_size), float(learning_rate), float(multiplier))
