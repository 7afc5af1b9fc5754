"""`auto` hyperparameters, resolved once from the model's parameter count and the method.

The rule (also in worker/README.md):

| base model parameters | lora / qlora lr | full lr | batch_size cap |
| --------------------- | --------------- | ------- | -------------- |
| under 1B              | 2e-4            | 2e-5    | 16             |
| 1B to 10B             | 1e-4            | 1e-5    | 8              |
| above 10B             | 5e-5            | 5e-6    | 4              |

dpo (LoRA adapters) uses a tenth of the lora learning rate: 2e-5 / 1e-5 / 5e-6.

batch_size = min(cap, max(1, train_examples // 8)): at least ~8 optimizer steps per epoch on small
datasets. micro_batch_size = batch_size on CPU and with packing (a packed micro-batch is bounded by
max_seq_len tokens anyway); on CUDA without packing, min(batch_size, max(1, 16384 // max_seq_len)).
"""

from __future__ import annotations

from dataclasses import dataclass

BILLION = 1_000_000_000

SIZE_CLASSES = (
    # (upper bound on parameters, adapter lr, full lr, batch size cap)
    (1 * BILLION, 2e-4, 2e-5, 16),
    (10 * BILLION, 1e-4, 1e-5, 8),
    (float("inf"), 5e-5, 5e-6, 4),
)


@dataclass
class ResolvedHyperparameters:
    batch_size: int
    micro_batch_size: int
    learning_rate: float


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
) -> ResolvedHyperparameters:
    _, adapter_lr, full_lr, batch_cap = next(row for row in SIZE_CLASSES if parameter_count < row[0])
    if learning_rate == "auto":
        learning_rate = {"full": full_lr, "dpo": adapter_lr / 10}.get(method, adapter_lr)
    if batch_size == "auto":
        batch_size = min(batch_cap, max(1, train_examples // 8))
    if micro_batch_size == "auto":
        if device_type == "cpu" or packing:
            micro_batch_size = batch_size
        else:
            micro_batch_size = min(batch_size, max(1, 16384 // max_seq_len))
    micro_batch_size = min(micro_batch_size, batch_size)
    return ResolvedHyperparameters(int(batch_size), int(micro_batch_size), float(learning_rate))
