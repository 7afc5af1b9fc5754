"""Two processes on gloo (torchrun) train on shares of the same global batches and produce the same
loss curve and weights as one process."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import events_of, make_spec, parse_events, run_worker_in_process, worker_environment, write_spec
from safetensors.torch import load_file


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_on_gloo_match_one_process(tmp_path, chat_data, tiny_model, strategy, capsys) -> None:
    train, valid = chat_data
    # batch 8 over 30 examples leaves a short last batch (6), micro-batches of 3 force accumulation
    settings = dict(epochs=2, batch_size=8, micro_batch_size=3, learning_rate=1e-2, eval_every=2)
    train_lines = train.read_text().splitlines()[:30]
    train.write_text("\n".join(train_lines) + "\n")

    exit_code, single = run_worker_in_process(make_spec(tiny_model, train, tmp_path / "one", valid, **settings), tmp_path / "one.json", capsys)
    assert exit_code == 0

    spec_path = write_spec(make_spec(tiny_model, train, tmp_path / "two", valid, num_processes=2, distributed=strategy, merge=True, **settings), tmp_path / "two.json")
    completed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "tunekit_worker", "train", str(spec_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=worker_environment(),
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    double = parse_events(completed.stdout)  # only rank 0 writes events
    assert events_of(double, "started")[0]["world_size"] == 2
    assert len(events_of(double, "done")) == 1

    single_losses = [event["train_loss"] for event in events_of(single, "metrics")]
    double_losses = [event["train_loss"] for event in events_of(double, "metrics")]
    assert len(single_losses) == 8
    assert double_losses == pytest.approx(single_losses, rel=1e-5)
    assert [event["trained_tokens_seen"] for event in events_of(double, "metrics")] == [event["trained_tokens_seen"] for event in events_of(single, "metrics")]
    valid_single = [event["valid_loss"] for event in events_of(single, "eval")]
    valid_double = [event["valid_loss"] for event in events_of(double, "eval")]
    assert valid_double == pytest.approx(valid_single, rel=1e-5)
    one = load_file(tmp_path / "one" / "adapter" / "adapter_model.safetensors")
    two = load_file(tmp_path / "two" / "adapter" / "adapter_model.safetensors")
    assert one.keys() == two.keys()
    for name, tensor in one.items():
        torch.testing.assert_close(two[name], tensor, atol=1e-5, rtol=1e-4)
    assert (tmp_path / "two" / "merged" / "model.safetensors").is_file()
