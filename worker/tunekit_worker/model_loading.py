"""Loading the base model and tokenizer the real way (local folder, .gguf file or hub id) and
attaching LoRA adapters with peft."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .errors import BadConfig, WorkerError
from .job_spec import JobSpec


def _source(model: str) -> tuple[str, dict[str, Any]]:
    """from_pretrained's first argument and extra kwargs: a .gguf file loads through gguf_file=."""
    path = Path(model).expanduser()
    if model.endswith(".gguf"):
        return str(path.parent), {"gguf_file": path.name}
    return (str(path) if path.exists() else model), {}


def quiet_progress_bars() -> None:
    """No tqdm bars on stderr: the supervisor keeps stderr's tail for error reports."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def load_tokenizer(spec: JobSpec) -> Any:
    from transformers import AutoTokenizer

    quiet_progress_bars()

    name, extra = _source(spec.model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=spec.training.trust_remote_code, **extra)
    except (OSError, ValueError) as error:
        raise WorkerError("model_load_failed", f"cannot load the tokenizer of `model` {spec.model}: {error}", "model") from error
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if spec.data.chat_template:
        tokenizer.chat_template = spec.data.chat_template
    return tokenizer


def load_model(spec: JobSpec, device: torch.device, dtype: torch.dtype) -> Any:
    from transformers import AutoModelForCausalLM

    name, extra = _source(spec.model)
    kwargs: dict[str, Any] = {
        "trust_remote_code": spec.training.trust_remote_code,
        "dtype": dtype,
        "attn_implementation": "sdpa",
        **extra,
    }
    if spec.training.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": device}
    try:
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as error:
        raise WorkerError("model_load_failed", f"cannot load `model` {spec.model}: {error}", "model") from error
    if spec.training.method != "qlora":
        model.to(device)
    model.config.use_cache = False
    return model


def parameter_count(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def attach_lora(model: Any, spec: JobSpec) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    lora = spec.training.lora
    if spec.training.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as error:
        raise BadConfig(f"cannot attach LoRA adapters: {error}", field="training.lora.target_modules") from None


def resolve_device(requested: str, local_rank: int) -> torch.device:
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


def resolve_precision(requested: str, device: torch.device) -> str:
    if requested != "auto":
        return requested
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def weights_dtype(method: str, precision: str) -> torch.dtype:
    """Frozen base weights of adapter methods live in the training precision; full fine-tuning keeps
    fp32 master weights and uses autocast."""
    if method == "full" or precision == "fp32":
        return torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float16


def cpu_threads(requested: int, local_world_size: int) -> int:
    return requested or max(1, (os.cpu_count() or 1) // local_world_size)
