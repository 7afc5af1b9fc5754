"""A bad job spec is rejected before any model loads: exit 2, one `error` event naming the field."""

from __future__ import annotations

import time

import pytest
from conftest import chat_examples, events_of, make_spec, run_worker, write_jsonl

from tunekit_worker.errors import BadConfig
from tunekit_worker.job_spec import parse_job_spec


@pytest.fixture
def train_file(tmp_path):
    return write_jsonl(tmp_path / "train.jsonl", chat_examples(4))


def test_bad_spec_exits_2_with_an_error_event_before_loading_the_model(tmp_path, train_file) -> None:
    # the model folder does not even exist: if anything tried to load it first we would see another error
    spec = make_spec(tmp_path / "missing-model", train_file, tmp_path / "run", method="qlora", device="cpu")
    started = time.time()
    exit_code, events, stderr = run_worker(spec, tmp_path / "spec.json")
    assert exit_code == 2
    assert [event["type"] for event in events] == ["error"]
    error = events[0]
    assert error["code"] == "bad_config" and error["field"] == "training.method"
    assert "`training.method`" in error["message"] and "`model`" in error["message"]  # every problem at once
    assert not (tmp_path / "run").exists()
    assert time.time() - started < 30


def test_qlora_on_cpu_is_rejected_with_a_fix(tmp_path, train_file, tiny_model) -> None:
    spec = make_spec(tiny_model, train_file, tmp_path / "run", method="qlora", device="cpu")
    exit_code, events, _ = run_worker(spec, tmp_path / "spec.json")
    assert exit_code == 2
    (error,) = events_of(events, "error")
    assert error["field"] == "training.method" and "use `lora`" in error["message"]


def test_chat_data_without_a_template_is_bad_config(tmp_path, train_file) -> None:
    from conftest import build_tiny_model

    model = build_tiny_model(tmp_path / "no-template", chat_template=None)
    exit_code, events, _ = run_worker(make_spec(model, train_file, tmp_path / "run"), tmp_path / "spec.json")
    assert exit_code == 2
    (error,) = events_of(events, "error")
    assert error["field"] == "data.chat_template"


def base_spec(tmp_path, train_file) -> dict:
    return make_spec("org/some-model", train_file, tmp_path / "run")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda spec: spec["training"].update(method="ppo"), "training.method"),
        (lambda spec: spec["training"].update(learning_rate=-1), "training.learning_rate"),
        (lambda spec: spec["training"].update(batch_size=2, micro_batch_size=4), "training.micro_batch_size"),
        (lambda spec: spec["training"].update(precision="fp16", device="cpu"), "training.precision"),
        (lambda spec: spec["training"].update(device="cuda"), "training.device"),
        (lambda spec: spec["training"].pop("epochs"), "training.epochs"),
        (lambda spec: spec["data"].update(train="/nowhere.jsonl"), "data.train"),
        (lambda spec: spec["data"].update(max_seq_len=8), "data.max_seq_len"),
        (lambda spec: spec["training"]["lora"].update(target_modules=[]), "training.lora.target_modules"),
        (lambda spec: spec.update(v=2), "v"),
        (lambda spec: spec.update(run_dir="relative/run"), "run_dir"),
        (lambda spec: spec.update(resume_from="/no/such/checkpoint"), "resume_from"),
        (lambda spec: spec["training"].update(method="dpo") or spec["data"].update(format="chat"), "data.format"),
        (lambda spec: spec["data"].update(format="preference"), "data.format"),
    ],
)
def test_each_problem_names_its_field(tmp_path, train_file, change, field) -> None:
    spec = base_spec(tmp_path, train_file)
    change(spec)
    with pytest.raises(BadConfig) as raised:
        parse_job_spec(spec, cuda_available=False)
    assert raised.value.field == field
    assert f"`{field}`" in raised.value.message


def test_a_valid_spec_parses_into_typed_dataclasses(tmp_path, train_file) -> None:
    spec = base_spec(tmp_path, train_file)
    spec["training"]["epochs"] = 3.0  # JSON numbers written as floats are still integers
    parsed = parse_job_spec(spec, cuda_available=False)
    assert parsed.training.epochs == 3 and isinstance(parsed.training.epochs, int)
    assert parsed.training.lora.r == 8
    assert parsed.data.train == str(train_file)


def test_resume_from_must_be_a_complete_checkpoint(tmp_path, train_file) -> None:
    """The one rule of run_folder.py: a step folder with its trainer state but without its completion marker or RNG state is refused."""
    checkpoint = tmp_path / "run" / "checkpoints" / "step-000004"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text('{"step": 4}')
    spec = base_spec(tmp_path, train_file)
    spec["resume_from"] = str(checkpoint)
    with pytest.raises(BadConfig) as raised:
        parse_job_spec(spec, cuda_available=False)
    assert raised.value.field == "resume_from"
    assert "not a complete checkpoint" in raised.value.message
