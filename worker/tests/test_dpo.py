"""DPO on preference pairs: LoRA adapters trained against the base model as the reference."""

from __future__ import annotations

import math

import pytest
from conftest import events_of, make_spec, preference_examples, run_worker_in_process, write_jsonl


def test_dpo_starts_at_log_2_and_learns_the_preference(tmp_path, tiny_model, capsys) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", preference_examples(24))
    valid = write_jsonl(tmp_path / "valid.jsonl", preference_examples(8, offset=50))
    spec = make_spec(tiny_model, train, tmp_path / "run", valid, method="dpo", epochs=4, learning_rate=2e-2, eval_every=3)
    exit_code, events = run_worker_in_process(spec, tmp_path / "spec.json", capsys)
    assert exit_code == 0, events_of(events, "error")
    assert events_of(events, "config")[0]["resolved"]["data"]["format"] == "preference"
    losses = [event["train_loss"] for event in events_of(events, "metrics")]
    # fresh adapters are zero: the policy equals the reference, every margin is 0, the loss is log 2
    assert losses[0] == pytest.approx(math.log(2), abs=1e-6)
    assert losses[-1] < 0.5 * math.log(2)
    evals = events_of(events, "eval")
    assert evals[-1]["full"] and evals[-1]["valid_loss"] < evals[0]["valid_loss"]
    data = events_of(events, "data")[0]
    assert data["train_examples"] == 24 and data["trained_tokens"] > 0
    assert events_of(events, "done")[0]["adapter_path"].endswith("adapter")


def test_dpo_resume_reproduces_the_run(tmp_path, tiny_model, capsys) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", preference_examples(16))
    settings = dict(method="dpo", epochs=2, learning_rate=1e-2, checkpoint_every=3, warmup_ratio=0.0)
    exit_code, full = run_worker_in_process(make_spec(tiny_model, train, tmp_path / "full", **settings), tmp_path / "a.json", capsys)
    assert exit_code == 0
    checkpoint = next(event["path"] for event in events_of(full, "checkpoint") if event["step"] == 3)
    resumed_spec = make_spec(tiny_model, train, tmp_path / "resumed", **settings)
    resumed_spec["resume_from"] = checkpoint
    exit_code, resumed = run_worker_in_process(resumed_spec, tmp_path / "b.json", capsys)
    assert exit_code == 0
    full_losses = [event["train_loss"] for event in events_of(full, "metrics")]
    resumed_losses = [event["train_loss"] for event in events_of(resumed, "metrics")]
    assert resumed_losses == pytest.approx(full_losses[3:], rel=1e-6)


def test_dpo_beta_comes_from_the_spec(tmp_path, tiny_model, capsys) -> None:
    """`training.dpo_beta` scales the margin inside the loss: after the same first step, a larger beta gives a lower loss."""
    train = write_jsonl(tmp_path / "train.jsonl", preference_examples(16))
    second_losses = []
    for beta in (0.1, 1.0):
        spec = make_spec(tiny_model, train, tmp_path / f"run-{beta}", method="dpo", max_steps=2, learning_rate=2e-2, dpo_beta=beta)
        exit_code, events = run_worker_in_process(spec, tmp_path / f"spec-{beta}.json", capsys)
        assert exit_code == 0, events_of(events, "error")
        losses = [event["train_loss"] for event in events_of(events, "metrics")]
        assert losses[0] == pytest.approx(math.log(2), abs=1e-6)
        assert events_of(events, "config")[0]["resolved"]["training"]["dpo_beta"] == beta
        second_losses.append(losses[1])
    # same data, same seed: the second loss differs only through beta (the margins count beta times)
    assert abs(second_losses[1] - second_losses[0]) > 1e-3
