"""`python -m tunekit_worker plan SPEC.json`: what training this job spec would do, without training.

The same steps a run takes, up to the first optimizer step: the data is read and tokenized
(Run.prepare_data), `auto` hyperparameters and the step count are resolved (Run.resolve), and the
forward passes of an epoch are counted (Run.data_summary). The model is built on the meta device,
so its parameter count (and, for LoRA, the adapters' count) costs no memory. Prints one JSON object
on stdout; exit 2 with an `error` event for a spec the run would refuse too.

The memory figure is an estimate of the peak, not a measurement:
  weights (in the training dtype; QLoRA stores 4 bits a weight)
  + trainable parameters x 16 bytes (fp32 master copy, gradient, two AdamW moments)
  + activations kept for the backward pass: per token and layer about (6 x hidden + 3 x ffn) values
    (norm inputs, q/k/v/o, the MLP's gate, up and activation) in the compute dtype
  + logits of a micro-batch (fp32 logits, log-softmax and gradient: 3 x vocab values a token).
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any

import torch

from .distributed import DistributedContext
from .errors import WorkerError
from .events import EventWriter
from .job_spec import load_job_spec
from .model_loading import _source, attach_lora
from .train import Run

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


def meta_model(run: Run) -> Any:
    """The model's modules and shapes without its weights."""
    from transformers import AutoConfig, AutoModelForCausalLM

    name, extra = _source(run.spec.model)
    config = AutoConfig.from_pretrained(name, trust_remote_code=run.spec.training.trust_remote_code, **extra)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=run.spec.training.trust_remote_code)
    return model, config


def estimate_memory(run: Run, config: Any, parameters: int, trainable: int) -> dict[str, Any]:
    training, data = run.spec.training, run.spec.data
    text = getattr(config, "text_config", None) or config
    hidden = int(getattr(text, "hidden_size", 0) or 0)
    ffn = int(getattr(text, "intermediate_size", 0) or 4 * hidden)
    layers = int(getattr(text, "num_hidden_layers", 0) or 0)
    vocab = int(getattr(text, "vocab_size", 0) or 0)
    compute_bytes = DTYPE_BYTES[run.precision]
    if training.method == "qlora":
        weights = parameters // 2
    elif training.method == "full":
        weights = parameters * 4
    else:
        weights = parameters * compute_bytes
    optimizer = trainable * 16
    tokens = data.max_seq_len if training.packing else training.micro_batch_size * data.max_seq_len
    activations = tokens * layers * (6 * hidden + 3 * ffn) * compute_bytes
    logits = tokens * vocab * 4 * 3
    total = weights + optimizer + activations + logits
    available = None
    if run.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(run.device)
        available = int(free)
    return {
        "device": run.device.type,
        "precision": run.precision,
        "peak_bytes": int(total),
        "weights_bytes": int(weights),
        "optimizer_bytes": int(optimizer),
        "activation_bytes": int(activations + logits),
        "available_bytes": available,
        "basis": "estimate: weights + 16 bytes a trainable parameter + saved activations and logits of one micro-batch",
    }


def plan(spec_path: str) -> dict[str, Any]:
    spec = load_job_spec(spec_path)
    context = DistributedContext(rank=0, local_rank=0, world_size=spec.training.num_processes, local_world_size=spec.training.num_processes)
    # no CancelRequest: a plan stops at SIGTERM like any short command
    run = Run(spec, context, EventWriter(enabled=False), SimpleNamespace(requested=False))
    run.prepare_data()
    model, config = meta_model(run)
    run.parameter_count = sum(parameter.numel() for parameter in model.parameters())
    if run.is_peft:
        model = attach_lora(model, spec)
    run.trainable_count = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    if not run.is_peft:
        run.trainable_count = run.parameter_count
    run.resolve()
    training = spec.training
    return {
        "v": 1,
        "parameter_count": run.parameter_count,
        "trainable_parameter_count": run.trainable_count,
        "format": run.data_format,
        **run.data_summary(),
        "epochs": training.epochs,
        "max_steps": training.max_steps,
        "resolved": {
            "method": training.method,
            "batch_size": training.batch_size,
            "micro_batch_size": training.micro_batch_size,
            "learning_rate": training.learning_rate,
            "max_seq_len": spec.data.max_seq_len,
            "packing": training.packing,
            "device": training.device,
            "precision": training.precision,
            "num_processes": training.num_processes,
        },
        "memory": estimate_memory(run, config, run.parameter_count, run.trainable_count),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tunekit_worker plan SPEC.json", file=sys.stderr)
        return 2
    events = EventWriter()
    try:
        result = plan(argv[0])
    except WorkerError as error:
        events.emit("error", code=error.code, message=error.message, **({"field": error.field} if error.field else {}))
        return error.exit_code
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0
