"""The job spec (`src/core/worker-job-spec.ts`, WorkerJobSpec v1) as typed dataclasses.

`parse_job_spec` turns the JSON the supervisor wrote into a JobSpec and checks everything that can
be checked without loading a model: types and ranges, methods this worker runs, files that must
exist, CUDA-only settings on a machine without CUDA. Every problem is reported at once, in one
BadConfig naming the first field.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import BadConfig
from .run_folder import TRAINER_STATE, checkpoint_step, read_complete_checkpoint

Auto = Literal["auto"]


@dataclass
class LoraSpec:
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


@dataclass
class TrainingSpec:
    epochs: int
    method: str = "lora"
    batch_size: int | Auto = "auto"
    micro_batch_size: int | Auto = "auto"
    learning_rate: float | Auto = "auto"
    learning_rate_multiplier: float | Auto = "auto"  # scales the `auto` learning rate (auto_hyperparameters.py)
    dpo_beta: float = 0.1
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int | None = None
    packing: bool = True
    seed: int = 42
    eval_every: int = 50
    checkpoint_every: int = 100
    lora: LoraSpec = field(default_factory=LoraSpec)
    precision: str = "auto"
    device: str = "auto"
    num_processes: int = 1
    distributed: str = "ddp"
    merge: bool = False
    trust_remote_code: bool = False
    threads: int = 0


@dataclass
class DataSpec:
    train: str
    validation: str | None = None
    format: str = "auto"
    chat_template: str | None = None
    max_seq_len: int = 1024


@dataclass
class JobSpec:
    run_dir: str
    model: str
    data: DataSpec
    training: TrainingSpec
    resume_from: str | None = None
    v: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---- parsing ----------------------------------------------------------------------------------

ALL_METHODS = ("lora", "qlora", "full", "dpo")
FORMATS = ("auto", "chat", "prompt-completion", "preference", "text")


class _Problems:
    """Collects every problem so the user fixes them all in one go."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field_name: str, message: str) -> None:
        self.items.append((field_name, message))

    def raise_if_any(self) -> None:
        if self.items:
            message = "; ".join(f"`{name}`: {text}" for name, text in self.items)
            raise BadConfig(f"invalid job spec: {message}", field=self.items[0][0])


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Reader:
    """Reads typed fields out of one JSON object, recording problems under `prefix.name`."""

    def __init__(self, record: Any, prefix: str, problems: _Problems) -> None:
        self.record = record if isinstance(record, dict) else {}
        self.prefix = prefix
        self.problems = problems
        if not isinstance(record, dict):
            problems.add(prefix, f"must be an object, got {json.dumps(record)}")

    def _name(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def get(self, name: str, default: Any, check, expected: str, allow_auto: bool = False, nullable: bool = False):
        if name not in self.record:
            return default
        value = self.record[name]
        if (allow_auto and value == "auto") or (nullable and value is None):
            return value
        if check(value):
            return int(value) if getattr(check, "integer", False) else value
        self.problems.add(self._name(name), f"must be {expected}, got {json.dumps(value)}")
        return default


def _int_in(low: int, high: int | None = None):
    def check(value: Any) -> bool:
        return _is_int(value) and value >= low and (high is None or value <= high)

    check.integer = True  # read back as int even when written 3.0
    return check


def _number_in(low: float, high: float | None = None, exclusive_low: bool = False):
    def check(value: Any) -> bool:
        if not _is_number(value):
            return False
        above = value > low if exclusive_low else value >= low
        return above and (high is None or value <= high)

    return check


def _one_of(*choices: str):
    return lambda value: value in choices


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def parse_job_spec(raw: Any, check_files: bool = True, cuda_available: bool | None = None) -> JobSpec:
    """Parse and validate a job spec; raise BadConfig listing every problem."""
    problems = _Problems()
    top = _Reader(raw, "", problems)
    if top.record.get("v") != 1:
        problems.add("v", f"this worker speaks job spec version 1, got {json.dumps(top.record.get('v'))}")
    run_dir = top.get("run_dir", None, _is_str, "an absolute folder path")
    model = top.get("model", None, lambda value: _is_str(value) and value != "", "a model folder, .gguf file or hub id")
    resume_from = top.get("resume_from", None, _is_str, "a checkpoint folder or null", nullable=True)
    for required in ("run_dir", "model", "data", "training"):
        if required not in top.record:
            problems.add(required, "is missing")

    data_reader = _Reader(top.record.get("data", {}), "data", problems)
    data = DataSpec(
        train=data_reader.get("train", None, _is_str, "a file path"),
        validation=data_reader.get("validation", None, _is_str, "a file path or null", nullable=True),
        format=data_reader.get("format", "auto", _one_of(*FORMATS), "one of " + ", ".join(FORMATS)),
        chat_template=data_reader.get("chat_template", None, _is_str, "a Jinja template or null", nullable=True),
        max_seq_len=data_reader.get("max_seq_len", 1024, _int_in(16, 1_048_576), "an integer in 16..1048576"),
    )
    if "train" not in data_reader.record:
        problems.add("data.train", "is missing")

    reader = _Reader(top.record.get("training", {}), "training", problems)
    lora_reader = _Reader(reader.record.get("lora", {}), "training.lora", problems)
    target_modules = lora_reader.get(
        "target_modules",
        "all-linear",
        lambda value: value == "all-linear" or (isinstance(value, list) and len(value) > 0 and all(_is_str(item) and item for item in value)),
        '"all-linear" or a list of module names',
    )
    lora = LoraSpec(
        r=lora_reader.get("r", 16, _int_in(1, 1024), "an integer in 1..1024"),
        alpha=lora_reader.get("alpha", 32.0, _number_in(0, exclusive_low=True), "a positive number"),
        dropout=lora_reader.get("dropout", 0.05, _number_in(0, 1), "a number in 0..1"),
        target_modules=target_modules,
    )
    training = TrainingSpec(
        method=reader.get("method", "lora", _one_of(*ALL_METHODS), "one of " + ", ".join(ALL_METHODS)),
        epochs=reader.get("epochs", 1, _int_in(1, 100), "an integer in 1..100 (the supervisor resolves `auto`)"),
        batch_size=reader.get("batch_size", "auto", _int_in(1, 4096), "an integer in 1..4096 or auto", allow_auto=True),
        micro_batch_size=reader.get("micro_batch_size", "auto", _int_in(1, 4096), "an integer in 1..4096 or auto", allow_auto=True),
        learning_rate=reader.get("learning_rate", "auto", _number_in(0, 1, exclusive_low=True), "a number in (0, 1] or auto", allow_auto=True),
        learning_rate_multiplier=reader.get(
            "learning_rate_multiplier",
            "auto",
            _number_in(0, 100, exclusive_low=True),
            "a number in (0, 100] or auto",
            allow_auto=True,
        ),
        dpo_beta=reader.get("dpo_beta", 0.1, _number_in(0, 10, exclusive_low=True), "a number in (0, 10]"),
        lr_scheduler=reader.get("lr_scheduler", "cosine", _one_of("cosine", "linear", "constant"), "cosine, linear or constant"),
        warmup_ratio=reader.get("warmup_ratio", 0.03, _number_in(0, 0.5), "a number in 0..0.5"),
        weight_decay=reader.get("weight_decay", 0.0, _number_in(0, 1), "a number in 0..1"),
        max_grad_norm=reader.get("max_grad_norm", 1.0, _number_in(0, exclusive_low=True), "a positive number"),
        max_steps=reader.get("max_steps", None, _int_in(1), "a positive integer or null", nullable=True),
        packing=reader.get("packing", True, _is_bool, "true or false"),
        seed=reader.get("seed", 42, _int_in(0), "a non-negative integer"),
        eval_every=reader.get("eval_every", 50, _int_in(1), "a positive integer"),
        checkpoint_every=reader.get("checkpoint_every", 100, _int_in(1), "a positive integer"),
        lora=lora,
        precision=reader.get("precision", "auto", _one_of("auto", "fp32", "bf16", "fp16"), "auto, fp32, bf16 or fp16"),
        device=reader.get("device", "auto", _one_of("auto", "cpu", "cuda"), "auto, cpu or cuda"),
        num_processes=reader.get("num_processes", 1, _int_in(1, 1024), "an integer in 1..1024"),
        distributed=reader.get("distributed", "ddp", _one_of("ddp", "fsdp"), "ddp or fsdp"),
        merge=reader.get("merge", False, _is_bool, "true or false"),
        trust_remote_code=reader.get("trust_remote_code", False, _is_bool, "true or false"),
        threads=reader.get("threads", 0, _int_in(0), "a non-negative integer"),
    )
    if "epochs" not in reader.record:
        problems.add("training.epochs", "is missing (the supervisor resolves `auto` epochs before launch)")
    problems.raise_if_any()

    spec = JobSpec(run_dir=run_dir, model=model, data=data, training=training, resume_from=resume_from)
    _check_runnable(spec, problems, check_files, cuda_available)
    problems.raise_if_any()
    return spec


def looks_like_local_path(model: str) -> bool:
    """A hub id is `name` or `org/name`; anything else (absolute, ./, ~, .gguf, existing) is a path."""
    return os.path.isabs(model) or model.startswith((".", "~")) or model.endswith(".gguf") or model.count("/") > 1 or os.path.exists(model)


def _check_runnable(spec: JobSpec, problems: _Problems, check_files: bool, cuda_available: bool | None) -> None:
    training = spec.training
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    if training.method == "dpo" and spec.data.format not in ("auto", "preference"):
        problems.add("data.format", f"`dpo` trains on preference pairs, not `{spec.data.format}` data")
    if spec.data.format == "preference" and training.method != "dpo":
        problems.add("data.format", "preference data trains with `training.method: dpo`")
    if training.device == "cuda" and not cuda_available:
        problems.add("training.device", "`cuda` was requested but this machine has no CUDA device; use `auto` or `cpu`")
    uses_cuda = training.device == "cuda" or (training.device == "auto" and cuda_available)
    if training.method == "qlora":
        if not uses_cuda:
            problems.add(
                "training.method",
                "`qlora` quantizes the base model to 4 bits with bitsandbytes, which needs a CUDA GPU; this run is on CPU: use `lora` instead",
            )
        else:
            try:
                import bitsandbytes  # noqa: F401
            except ImportError:
                problems.add("training.method", "`qlora` needs the bitsandbytes package: pip install bitsandbytes")
    if training.precision == "fp16" and not uses_cuda:
        problems.add("training.precision", "`fp16` training needs a CUDA GPU; use `fp32` or `bf16` on CPU")
    if training.distributed == "fsdp" and training.method == "qlora":
        problems.add("training.distributed", "`fsdp` with `qlora` is not supported by the local worker; use `ddp`")
    if isinstance(training.batch_size, int) and isinstance(training.micro_batch_size, int):
        if training.micro_batch_size > training.batch_size:
            problems.add(
                "training.micro_batch_size",
                f"{training.micro_batch_size} is larger than `training.batch_size` ({training.batch_size}); lower it or set it to auto",
            )
    if not spec.run_dir or not os.path.isabs(spec.run_dir):
        problems.add("run_dir", f"must be an absolute path, got {json.dumps(spec.run_dir)}")
    if not check_files:
        return
    if not os.path.isfile(spec.data.train):
        problems.add("data.train", f"file not found: {spec.data.train}")
    if spec.data.validation is not None and not os.path.isfile(spec.data.validation):
        problems.add("data.validation", f"file not found: {spec.data.validation}")
    if looks_like_local_path(spec.model):
        model_path = Path(spec.model).expanduser()
        if not model_path.exists():
            problems.add("model", f"not found: {spec.model} (a model folder, a .gguf file or a hub id)")
        elif model_path.is_dir() and not (model_path / "config.json").is_file():
            problems.add("model", f"{spec.model} has no config.json; point `model` at a Hugging Face model folder")
    if spec.resume_from is not None:
        resume = Path(spec.resume_from)
        step = checkpoint_step(resume.name)
        if not (resume / TRAINER_STATE).is_file():
            problems.add("resume_from", f"{spec.resume_from} is not a checkpoint folder (no trainer_state.json)")
        elif step is not None and read_complete_checkpoint(resume, step) is None:
            problems.add("resume_from", f"{spec.resume_from} is not a complete checkpoint (see run_folder.py); resume from an earlier one")


def load_job_spec(path: str) -> JobSpec:
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except FileNotFoundError:
        raise BadConfig(f"job spec file not found: {path}", field="spec") from None
    except json.JSONDecodeError as error:
        raise BadConfig(f"job spec {path} is not valid JSON: {error}", field="spec") from None
    return parse_job_spec(raw)
