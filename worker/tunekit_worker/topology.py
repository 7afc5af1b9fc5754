"""How a run spreads over processes, chosen once before the loop: one process, DDP or FSDP.

Every topology offers the same hooks to the recipe in train.py: the weights' dtype, `wrap` (the
model the loop trains), `gradient_sync` (around the forward and backward of a micro-batch),
`equalize_passes`, `clip_gradients`, the collectives (`all_reduce_sum`, `any_rank`,
`gather_objects`, `barrier`) and what a checkpoint or the outputs need (`full_model_state`,
`optimizer_state`, `load_optimizer_state`, `merged_model`). With one process they do nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import torch

from .distributed import (
    DistributedContext,
    all_reduce_sum,
    any_rank,
    full_model_state,
    full_optimizer_state,
    gather_objects,
    load_full_optimizer_state,
    shard_model,
)
from .model_loading import weights_dtype


class Topology(Protocol):
    def weights_dtype(self, method: str, precision: str) -> torch.dtype: ...

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module the loop runs forward and backward through (after weights are loaded)."""

    def gradient_sync(self, enabled: bool) -> Any:
        """Context around a micro-batch: gradients are reduced across ranks only when `enabled`."""

    def equalize_passes(self, groups: list[list[int]], passes_of_rank: Callable[[int], int], backward: bool) -> list[list[int]]:
        """Pad this rank's micro-batches with zero-weight passes ([]) where the others need them."""

    def clip_gradients(self, parameters: list[torch.nn.Parameter], max_norm: float) -> float: ...

    def all_reduce_sum(self, values: list[float]) -> list[float]: ...

    def any_rank(self, flag: bool) -> bool: ...

    def gather_objects(self, value: Any) -> list[Any]: ...

    def barrier(self) -> None: ...

    def full_model_state(self, model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
        """The gathered state dict of a sharded model (collective: every rank); None when the
        model's own state dict is whole."""

    def optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]: ...

    def load_optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None: ...

    def merged_model(self, model: Any, adapter_path: str, load_base: Callable[[], Any]) -> Any:
        """Base weights with the trained adapter merged in (rank 0, after the adapter is saved)."""


def _clip(parameters: list[torch.nn.Parameter], max_norm: float) -> float:
    return float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))


class SingleProcess:
    """One process: the model trains as it is."""

    def weights_dtype(self, method: str, precision: str) -> torch.dtype:
        return weights_dtype(method, precision)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def gradient_sync(self, enabled: bool) -> Any:
        return contextlib.nullcontext()

    def equalize_passes(self, groups: list[list[int]], passes_of_rank: Callable[[int], int], backward: bool) -> list[list[int]]:
        return [[]] if backward and not groups else groups  # one pass at least, so the step has gradients

    def clip_gradients(self, parameters: list[torch.nn.Parameter], max_norm: float) -> float:
        return _clip(parameters, max_norm)

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        return values

    def any_rank(self, flag: bool) -> bool:
        return flag

    def gather_objects(self, value: Any) -> list[Any]:
        return [value]

    def barrier(self) -> None:
        pass

    def full_model_state(self, model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
        return None

    def optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state)

    def merged_model(self, model: Any, adapter_path: str, load_base: Callable[[], Any]) -> Any:
        return model.merge_and_unload()


class DataParallel:
    """DDP under torchrun: every rank holds the whole model and trains on its share of each global
    batch; gradients are summed across ranks on the last micro-batch of a step."""

    def __init__(self, context: DistributedContext, device: torch.device) -> None:
        self.context = context
        self.device = device
        self.wrapped: Any = None

    def weights_dtype(self, method: str, precision: str) -> torch.dtype:
        return weights_dtype(method, precision)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        self.wrapped = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
        return self.wrapped

    def gradient_sync(self, enabled: bool) -> Any:
        return contextlib.nullcontext() if enabled else self.wrapped.no_sync()

    def equalize_passes(self, groups: list[list[int]], passes_of_rank: Callable[[int], int], backward: bool) -> list[list[int]]:
        return [[]] if backward and not groups else groups  # every rank joins the gradient all-reduce

    def clip_gradients(self, parameters: list[torch.nn.Parameter], max_norm: float) -> float:
        return _clip(parameters, max_norm)

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        return all_reduce_sum(values, self.context, self.device)

    def any_rank(self, flag: bool) -> bool:
        return any_rank(flag, self.context, self.device)

    def gather_objects(self, value: Any) -> list[Any]:
        return gather_objects(value, self.context)

    def barrier(self) -> None:
        torch.distributed.barrier()

    def full_model_state(self, model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
        return None

    def optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state)

    def merged_model(self, model: Any, adapter_path: str, load_base: Callable[[], Any]) -> Any:
        return model.merge_and_unload()


class FullySharded:
    """FSDP2 (fully_shard) under torchrun: every transformer block is sharded across the ranks,
    which gather each layer's weights in every forward, so every rank runs the same passes."""

    def __init__(self, context: DistributedContext, device: torch.device) -> None:
        self.context = context
        self.device = device
        self.model: Any = None

    def weights_dtype(self, method: str, precision: str) -> torch.dtype:
        # FSDP shards parameters of one dtype per block: keep fp32 weights there and compute under autocast
        return torch.float32

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        shard_model(model, self.device, self.context)  # in place; parameters become DTensor shards
        self.model = model
        return model

    def gradient_sync(self, enabled: bool) -> Any:
        self.model.set_requires_gradient_sync(enabled)
        return contextlib.nullcontext()

    def equalize_passes(self, groups: list[list[int]], passes_of_rank: Callable[[int], int], backward: bool) -> list[list[int]]:
        passes = max([1] + [passes_of_rank(rank) for rank in range(self.context.world_size)])
        return groups + [[]] * (passes - len(groups))

    def clip_gradients(self, parameters: list[torch.nn.Parameter], max_norm: float) -> float:
        norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
        return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        return all_reduce_sum(values, self.context, self.device)

    def any_rank(self, flag: bool) -> bool:
        return any_rank(flag, self.context, self.device)

    def gather_objects(self, value: Any) -> list[Any]:
        return gather_objects(value, self.context)

    def barrier(self) -> None:
        torch.distributed.barrier()

    def full_model_state(self, model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
        return full_model_state(model)

    def optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return full_optimizer_state(model, optimizer)

    def load_optimizer_state(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        load_full_optimizer_state(model, optimizer, state)

    def merged_model(self, model: Any, adapter_path: str, load_base: Callable[[], Any]) -> Any:
        # a sharded model cannot merge in place: merge base + saved adapter on this rank
        from peft import PeftModel

        return PeftModel.from_pretrained(load_base(), adapter_path).merge_and_unload()


def choose_topology(distributed: str, context: DistributedContext, device: torch.device) -> Topology:
    """`training.distributed` applies under torchrun only; one process is always SingleProcess."""
    if not context.enabled:
        return SingleProcess()
    if distributed == "fsdp":
        return FullySharded(context, device)
    return DataParallel(context, device)
