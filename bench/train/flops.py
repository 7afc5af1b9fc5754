"""Model FLOPs of a training run, for MFU.

Per token of a sequence of length s, with N = parameters that take part in matmuls (every Linear,
including the LM head; with tied embeddings that is the embedding matrix once), L layers and
d = heads x head_dim:

- full fine-tuning: 6N + 12·L·d·s (PaLM appendix B / nanoGPT: 2N forward, 4N backward; attention
  scores and values 4·L·d·s forward, twice that backward, causal mask not discounted)
- LoRA: 4N + 6·N_lora + 12·L·d·s. Frozen weights get no weight-gradient matmul, so 2N forward + 2N
  for the input gradients; the adapters are trained in full (6 per parameter); attention has no
  weights, so its backward is unchanged.

Only useful work counts: padding tokens are not counted, each example uses its own length s.
"""

from __future__ import annotations

from typing import Any

# dense bf16 peak without sparsity, in FLOP/s
GPU_PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12}


def matmul_parameter_count(model: Any) -> int:
    """Weights of every nn.Linear of the base model (LoRA layers excluded), counting a tied LM head once."""
    import torch

    seen: set[int] = set()
    total = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and "lora_" not in name:
            weight = module.weight
            if id(weight) not in seen:
                seen.add(id(weight))
                total += weight.numel()
    return total


def training_flops(
    sequence_lengths: list[int], matmul_parameters: int, lora_parameters: int, layers: int, attention_width: int, method: str
) -> float:
    per_token = 4 * matmul_parameters + 6 * lora_parameters if method == "lora" else 6 * matmul_parameters
    tokens = sum(sequence_lengths)
    attention = 12 * layers * attention_width * sum(length * length for length in sequence_lengths)
    return per_token * tokens + attention


def gpu_peak(device_name: str) -> float | None:
    for key, peak in GPU_PEAK_BF16.items():
        if key in device_name:
            return peak
    return None
