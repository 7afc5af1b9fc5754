"""Resumable checkpoints: <run_dir>/checkpoints/step-000050/ holds the trainable weights (PEFT
adapter or full weights, safetensors), optimizer.pt, scheduler.pt, rng.pt (python, numpy, torch
and CUDA generator states of every rank) and trainer_state.json (step, data position, metrics
history, resolved config). A checkpoint is written to a temporary folder, trainer_state.json last,
and renamed into place; what counts as complete is run_folder.read_complete_checkpoint."""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy
import torch

from .run_folder import COMPLETE_MARKER, OPTIMIZER_STATE, RNG_STATE, SCHEDULER_STATE, TRAINER_STATE, completion_marker


def capture_rng_state() -> dict[str, Any]:
    """Plain Python values (lists of ints), so they travel through all_gather_object and load with
    torch.load(weights_only=True)."""
    kind, keys, position, has_gauss, cached_gaussian = numpy.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), position, has_gauss, cached_gaussian],
        "torch": torch.get_rng_state().tolist(),
        "cuda": [state.tolist() for state in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    numpy.random.set_state((kind, numpy.array(keys, dtype=numpy.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(item, dtype=torch.uint8) for item in state["cuda"]])


def save_checkpoint(
    path: Path,
    model: Any,
    optimizer_state: dict[str, Any],
    scheduler: Any,
    rng_states: list[dict[str, Any]],
    trainer_state: dict[str, Any],
    model_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """`model_state` is the gathered state dict of a sharded (FSDP) model; None saves the model's own."""
    staging = path.with_name(path.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    extra = {"state_dict": model_state} if model_state is not None else {}
    model.save_pretrained(staging, safe_serialization=True, **extra)
    torch.save(optimizer_state, staging / OPTIMIZER_STATE)
    torch.save(scheduler.state_dict(), staging / SCHEDULER_STATE)
    torch.save(rng_states, staging / RNG_STATE)
    (staging / TRAINER_STATE).write_text(json.dumps(trainer_state, indent=2) + "\n")
    for file in staging.iterdir():
        _fsync(file)
    shutil.rmtree(path, ignore_errors=True)
    staging.rename(path)
    # the completion marker last: the checkpoint counts (resume, retry, recovery) once it is there
    marker = path / COMPLETE_MARKER
    marker.write_text(json.dumps(completion_marker(path, trainer_state["step"])) + "\n")
    _fsync(marker)
    return path


def _fsync(file: Path) -> None:
    descriptor = os.open(file, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_trainer_state(path: str | Path) -> dict[str, Any]:
    return json.loads((Path(path) / TRAINER_STATE).read_text())


def load_trainable_weights(model: Any, path: str | Path, is_peft: bool) -> None:
    """Put the checkpoint's weights into an already built model (same architecture)."""
    from safetensors.torch import load_file

    path = Path(path)
    if is_peft:
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        result = set_peft_model_state_dict(model, load_peft_weights(str(path), device="cpu"))
        unexpected = list(getattr(result, "unexpected_keys", []) or [])
        if unexpected:
            raise RuntimeError(f"checkpoint {path} does not match the adapter: unexpected {unexpected[:5]}")
        return
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(path.glob("*.safetensors")):
        state.update(load_file(shard))
    result = model.load_state_dict(state, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    missing = [key for key in result.missing_keys if key not in tied and not key.endswith("lm_head.weight")]
    if result.unexpected_keys or missing:
        raise RuntimeError(f"checkpoint {path} does not match the model: missing {missing[:5]}, unexpected {result.unexpected_keys[:5]}")


def load_training_state(path: str | Path, load_optimizer: Callable[[dict[str, Any]], None], scheduler: Any, rank: int) -> None:
    """`load_optimizer` puts the saved (unsharded) optimizer state in (the topology's hook)."""
    path = Path(path)
    load_optimizer(torch.load(path / OPTIMIZER_STATE, weights_only=True))
    scheduler.load_state_dict(torch.load(path / SCHEDULER_STATE, weights_only=True))
    rng_states = torch.load(path / RNG_STATE, weights_only=True)
    restore_rng_state(rng_states[rank] if rank < len(rng_states) else rng_states[0])
