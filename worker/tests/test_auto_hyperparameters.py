"""`auto` hyperparameters resolve as worker/README.md documents."""

from __future__ import annotations

import pytest

from tunekit_worker.auto_hyperparameters import resolve_hyperparameters
from tunekit_worker.schedule import learning_rate_multiplier


def resolve(method="lora", parameters=135_000_000, examples=1000, device="cpu", packing=True, **given):
    values = {"batch_size": "auto", "micro_batch_size": "auto", "learning_rate": "auto", "learning_rate_multiplier": "auto", **given}
    return resolve_hyperparameters(
        method,
        parameters,
        examples,
        values["batch_size"],
        values["micro_batch_size"],
        values["learning_rate"],
        device,
        packing,
        1024,
        values["learning_rate_multiplier"],
    )


@pytest.mark.parametrize(
    ("method", "parameters", "learning_rate", "batch_size"),
    [
        ("lora", 135_000_000, 2e-4, 16),
        ("qlora", 7_000_000_000, 1e-4, 8),
        ("lora", 70_000_000_000, 5e-5, 4),
        ("full", 135_000_000, 2e-5, 16),
        ("full", 3_000_000_000, 1e-5, 8),
        ("full", 13_000_000_000, 5e-6, 4),
        ("dpo", 135_000_000, 2e-5, 16),
        ("dpo", 7_000_000_000, 1e-5, 8),
    ],
)
def test_learning_rate_and_batch_size_follow_model_size(method, parameters, learning_rate, batch_size) -> None:
    resolved = resolve(method, parameters)
    assert resolved.learning_rate == learning_rate
    assert resolved.batch_size == batch_size


def test_batch_size_is_capped_by_dataset_size() -> None:
    assert resolve(examples=40).batch_size == 5
    assert resolve(examples=3).batch_size == 1


def test_micro_batch_size_is_the_batch_on_cpu_and_bounded_by_memory_on_cuda_without_packing() -> None:
    assert resolve(device="cpu").micro_batch_size == 16
    assert resolve(device="cuda", packing=True).micro_batch_size == 16
    assert resolve(device="cuda", packing=False, batch_size=64).micro_batch_size == 16  # 16384 // 1024


def test_explicit_values_are_kept() -> None:
    resolved = resolve(batch_size=6, micro_batch_size=2, learning_rate=0.01)
    assert (resolved.batch_size, resolved.micro_batch_size, resolved.learning_rate) == (6, 2, 0.01)


def test_schedules_warm_up_then_decay_to_zero() -> None:
    total, warmup = 100, 10
    cosine = [learning_rate_multiplier(step, warmup, total, "cosine") for step in range(total + 1)]
    assert cosine[0] == pytest.approx(1 / 11) and cosine[warmup] == 1.0
    assert cosine[55] == pytest.approx(0.5) and cosine[total] == pytest.approx(0.0)
    assert learning_rate_multiplier(55, warmup, total, "linear") == pytest.approx(0.5)
    assert learning_rate_multiplier(90, warmup, total, "constant") == 1.0


@pytest.mark.parametrize(
    ("method", "parameters", "multiplier", "learning_rate"),
    [("lora", 135_000_000, 2.0, 4e-4), ("dpo", 7_000_000_000, 2.0, 2e-5), ("full", 13_000_000_000, 0.5, 2.5e-6)],
)
def test_the_multiplier_scales_the_auto_learning_rate_of_the_method_and_size(method, parameters, multiplier, learning_rate) -> None:
    resolved = resolve(method, parameters, learning_rate_multiplier=multiplier)
    assert resolved.learning_rate == pytest.approx(learning_rate)
    assert resolved.learning_rate_multiplier == multiplier
    assert resolve(method, parameters).learning_rate_multiplier == 1.0


def test_an_explicit_learning_rate_wins_and_reports_its_own_multiplier() -> None:
    resolved = resolve("lora", 3_000_000_000, learning_rate=5e-4, learning_rate_multiplier=2.0)
    assert resolved.learning_rate == 5e-4
    assert resolved.learning_rate_multiplier == pytest.approx(5.0)  # over the 1e-4 of a 3B model
