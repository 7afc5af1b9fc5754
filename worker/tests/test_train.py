"""End-to-end runs of `python -m tunekit_worker train SPEC.json` on a tiny random Llama."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import torch
from conftest import (
    chat_examples,
    events_of,
    make_spec,
    multi_turn_examples,
    parse_events,
    run_worker_in_process,
    worker_environment,
    write_jsonl,
    write_spec,
)
from safetensors.torch import load_file


def losses(events) -> list[float]:
    return [event["train_loss"] for event in events_of(events, "metrics")]


def test_lora_run_learns_and_writes_every_output(tmp_path, chat_data, tiny_model, capsys) -> None:
    train, valid = chat_data
    run_dir = tmp_path / "run"
    spec = make_spec(tiny_model, train, run_dir, valid, epochs=5, learning_rate=3e-2, merge=True)
    exit_code, events = run_worker_in_process(spec, tmp_path / "spec.json", capsys)
    assert exit_code == 0
    types = [event["type"] for event in events]
    assert types[:3] == ["started", "config", "data"] and types[-1] == "done"
    curve = losses(events)
    assert len(curve) == 20 == events_of(events, "data")[0]["total_steps"]
    assert sum(curve[-4:]) / 4 < 0.95 * sum(curve[:4]) / 4
    evals = events_of(events, "eval")
    assert evals[-1]["full"] and evals[-1]["valid_loss"] < evals[0]["valid_loss"]

    resolved = events_of(events, "config")[0]["resolved"]
    assert resolved["training"]["precision"] == "fp32" and resolved["data"]["format"] == "chat"

    checkpoint = run_dir / "checkpoints" / "step-000004"
    for name in ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt", "rng.pt", "trainer_state.json"):
        assert (checkpoint / name).is_file(), name
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["step"] == 4 and state["data_position"] == {"epoch": 1, "batch_in_epoch": 0}
    assert [entry["train_loss"] for entry in state["metrics_history"]] == curve[:4]

    done = events_of(events, "done")[0]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 20 and summary["final_train_loss"] == curve[-1]
    assert done["summary"]["trained_tokens"] == 5 * events_of(events, "data")[0]["trained_tokens"]

    # the adapter loads with peft, and the merged model equals base + adapter
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert (run_dir / "adapter" / "tokenizer.json").is_file()
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), done["adapter_path"]).eval()
    merged = AutoModelForCausalLM.from_pretrained(done["merged_path"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(done["merged_path"])
    ids = tokenizer("What color is the sky?", return_tensors="pt").input_ids
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, tuned(ids).logits, atol=1e-4, rtol=1e-4)


def test_full_fine_tuning_learns_and_writes_loadable_weights(tmp_path, chat_data, tiny_model, capsys) -> None:
    train, valid = chat_data
    spec = make_spec(tiny_model, train, tmp_path / "run", valid, method="full", epochs=3, learning_rate=3e-3)
    exit_code, events = run_worker_in_process(spec, tmp_path / "spec.json", capsys)
    assert exit_code == 0
    curve = losses(events)
    assert curve[-1] < 0.9 * curve[0]
    done = events_of(events, "done")[0]
    assert done["adapter_path"] is None
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(done["merged_path"]).config.num_hidden_layers == 2


def test_packing_and_padding_give_the_same_loss_curve(tmp_path, chat_data, tiny_model, capsys) -> None:
    train, _ = chat_data
    curves = []
    for packing in (True, False):
        spec = make_spec(tiny_model, train, tmp_path / f"run-{packing}", packing=packing, epochs=1, micro_batch_size=3)
        exit_code, events = run_worker_in_process(spec, tmp_path / f"spec-{packing}.json", capsys)
        assert exit_code == 0
        curves.append(losses(events))
    assert curves[0] == pytest.approx(curves[1], rel=1e-5)


def test_data_event_reports_the_trained_token_rule(tmp_path, tiny_model, capsys) -> None:
    from transformers import AutoTokenizer

    examples = chat_examples(6) + multi_turn_examples()
    train = write_jsonl(tmp_path / "train.jsonl", examples)
    exit_code, events = run_worker_in_process(make_spec(tiny_model, train, tmp_path / "run", max_steps=1), tmp_path / "spec.json", capsys)
    assert exit_code == 0
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    expected = sum(  # ChatML: content + <|im_end|> + newline for each trained assistant turn
        len(tokenizer(message["content"] if isinstance(message["content"], str) else "", add_special_tokens=False)["input_ids"]) + 2
        for example in examples
        for message in example["messages"]
        if message["role"] == "assistant" and message.get("weight", 1) != 0
    )
    data = events_of(events, "data")[0]
    assert data["trained_tokens"] == expected
    assert data["train_examples"] == 8 and data["truncated_examples"] == 0


def test_no_trained_token_left_after_truncation_is_bad_config(tmp_path, chat_data, tiny_model, capsys) -> None:
    train, _ = chat_data
    spec = make_spec(tiny_model, train, tmp_path / "run", data={"max_seq_len": 16})
    exit_code, events = run_worker_in_process(spec, tmp_path / "spec.json", capsys)
    assert exit_code == 2
    (error,) = events_of(events, "error")
    assert error["code"] == "bad_config" and error["field"] == "data.max_seq_len"
    assert "`data.max_seq_len`" in error["message"]
    assert not events_of(events, "done")


def test_nan_loss_exits_4_without_writing_an_adapter(tmp_path, chat_data, tiny_model, capsys) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    broken = tmp_path / "broken-model"
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight[0, 0] = float("inf")
    model.save_pretrained(broken)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(broken)
    train, _ = chat_data
    exit_code, events = run_worker_in_process(make_spec(broken, train, tmp_path / "run"), tmp_path / "spec.json", capsys)
    assert exit_code == 4
    (error,) = events_of(events, "error")
    assert error["code"] == "nan_loss" and "step 1" in error["message"]
    assert not events_of(events, "done") and not (tmp_path / "run" / "adapter").exists()


def test_sigterm_checkpoints_exits_3_and_resume_is_exact(tmp_path, chat_data, tiny_model, capsys) -> None:
    train, valid = chat_data
    # dropout on, so the restored random state matters; 40 steps, SIGTERM as soon as step 3 is reported
    settings = dict(epochs=10, learning_rate=1e-2, warmup_ratio=0.1, checkpoint_every=100, eval_every=7)
    settings["lora"] = {"r": 8, "alpha": 16, "dropout": 0.1, "target_modules": "all-linear"}

    exit_code, full_events = run_worker_in_process(make_spec(tiny_model, train, tmp_path / "full", valid, **settings), tmp_path / "full.json", capsys)
    assert exit_code == 0

    spec = make_spec(tiny_model, train, tmp_path / "stopped", valid, **settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "tunekit_worker", "train", str(write_spec(spec, tmp_path / "stopped.json"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=worker_environment(),
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        event = json.loads(line)
        if event["type"] == "metrics" and event["step"] == 3:
            process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    stderr = process.stderr.read()
    assert process.returncode == 3, stderr
    first_events = parse_events("".join(lines))
    (cancelled,) = events_of(first_events, "cancelled")
    stopped_at = cancelled["step"]
    assert 3 <= stopped_at < 40
    assert cancelled["checkpoint_path"].endswith(f"step-{stopped_at:06d}")
    assert not events_of(first_events, "done")

    spec["resume_from"] = cancelled["checkpoint_path"]
    exit_code, resumed_events = run_worker_in_process(spec, tmp_path / "resumed.json", capsys)
    assert exit_code == 0
    assert events_of(resumed_events, "started")[0]["resumed_from"] == cancelled["checkpoint_path"]
    assert [event["step"] for event in events_of(resumed_events, "metrics")][0] == stopped_at + 1

    stitched = losses(first_events)[:stopped_at] + losses(resumed_events)
    assert stitched == pytest.approx(losses(full_events), rel=1e-6, abs=1e-7)
    valid_full = [event["valid_loss"] for event in events_of(full_events, "eval")]
    valid_resumed = [event["valid_loss"] for event in events_of(first_events + resumed_events, "eval")]
    assert valid_resumed == pytest.approx(valid_full, rel=1e-6)
    final_full = load_file(tmp_path / "full" / "adapter" / "adapter_model.safetensors")
    final_resumed = load_file(tmp_path / "stopped" / "adapter" / "adapter_model.safetensors")
    assert final_full.keys() == final_resumed.keys()
    for name, tensor in final_full.items():
        torch.testing.assert_close(final_resumed[name], tensor, atol=1e-6, rtol=1e-5)
