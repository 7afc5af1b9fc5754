"""`python -m tunekit_worker plan SPEC.json`: what a run would do, from the run's own code, without training."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import events_of, make_spec, run_worker_in_process, worker_environment, write_spec


def plan_of(spec: dict, path) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "tunekit_worker", "plan", str(write_spec(spec, path))],
        capture_output=True,
        text=True,
        env=worker_environment(),
        timeout=120,
    )
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def test_plan_equals_what_the_run_then_does(tmp_path, chat_data, tiny_model, capsys) -> None:
    train, valid = chat_data
    spec = make_spec(tiny_model, train, tmp_path / "run", valid, epochs=2)
    code, plan = plan_of(spec, tmp_path / "plan.json")
    assert code == 0
    assert not (tmp_path / "run").exists()  # nothing written, nothing trained

    exit_code, events = run_worker_in_process(spec, tmp_path / "spec.json", capsys)
    assert exit_code == 0
    data = events_of(events, "data")[0]
    resolved = events_of(events, "config")[0]["resolved"]
    for key in ("train_examples", "valid_examples", "train_tokens", "trained_tokens", "truncated_examples", "sequences", "steps_per_epoch", "total_steps"):
        assert plan[key] == data[key], key
    assert plan["parameter_count"] == resolved["parameter_count"]
    assert plan["trainable_parameter_count"] == resolved["trainable_parameter_count"]
    for key in ("batch_size", "micro_batch_size", "learning_rate", "method", "device", "precision"):
        assert plan["resolved"][key] == resolved["training"][key], key
    assert len(events_of(events, "metrics")) == plan["total_steps"]


def test_plan_estimates_memory_and_counts_full_fine_tuning_as_all_parameters(tmp_path, chat_data, tiny_model) -> None:
    train, _ = chat_data
    code, lora = plan_of(make_spec(tiny_model, train, tmp_path / "a", max_steps=3), tmp_path / "lora.json")
    _, full = plan_of(make_spec(tiny_model, train, tmp_path / "b", method="full", max_steps=3), tmp_path / "full.json")
    assert code == 0 and lora["total_steps"] == 3
    assert full["trainable_parameter_count"] == full["parameter_count"] > lora["trainable_parameter_count"] > 0
    memory = lora["memory"]
    assert memory["device"] == "cpu" and memory["peak_bytes"] == memory["weights_bytes"] + memory["optimizer_bytes"] + memory["activation_bytes"]
    # full fine-tuning keeps a gradient and two AdamW moments for every weight
    assert full["memory"]["optimizer_bytes"] == 16 * full["parameter_count"]


def test_plan_refuses_what_the_run_refuses(tmp_path, tiny_model) -> None:
    missing = make_spec(tiny_model, tmp_path / "nope.jsonl", tmp_path / "run")
    result = subprocess.run(
        [sys.executable, "-m", "tunekit_worker", "plan", str(write_spec(missing, tmp_path / "spec.json"))], capture_output=True, text=True, env=worker_environment(), timeout=120
    )
    assert result.returncode == 2
    error = json.loads(result.stdout.strip().splitlines()[-1])
    assert error["type"] == "error" and error["field"] == "data.train"
