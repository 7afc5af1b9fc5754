"""The training recipe, top to bottom: spec -> data -> model -> loop -> outputs.

SFT (lora, qlora, full) and DPO (LoRA adapters against the base model). One optimizer step = one
global batch. The loss of a step is the summed loss over the whole global batch divided by the
number of its units (loss tokens for SFT, pairs for DPO), so gradient accumulation and any number of
processes give the same update as one big batch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import torch
import torch.nn.functional as functional

from . import batches as batching
from .auto_hyperparameters import resolve_hyperparameters
from .checkpoint import (
    capture_rng_state,
    checkpoint_path,
    load_trainable_weights,
    load_training_state,
    read_trainer_state,
    save_checkpoint,
)
from .distributed import (
    DistributedContext,
    all_reduce_sum,
    any_rank,
    context_from_environment,
    destroy_process_group,
    full_model_state,
    full_optimizer_state,
    gather_objects,
    init_process_group,
    shard_model,
)
from .errors import BadConfig, Diverged, WorkerError
from .events import EventWriter, ExitCode
from .examples import ExampleTokenizer, PreferencePair, TokenizedExample, load_examples
from .job_spec import JobSpec, load_job_spec
from .model_loading import (
    attach_lora,
    cpu_threads,
    load_model,
    load_tokenizer,
    parameter_count,
    resolve_device,
    resolve_precision,
    weights_dtype,
)
from .schedule import learning_rate_multiplier

VALIDATION_SAMPLE = 256  # periodic evaluations use this many validation examples; the final one uses all


# ---- cancellation -----------------------------------------------------------------------------


class CancelRequest:
    """SIGTERM/SIGINT only set a flag; the loop finishes its optimizer step, checkpoints and exits 3."""

    def __init__(self) -> None:
        self.requested = False
        self.previous = {number: signal.signal(number, self._handle) for number in (signal.SIGTERM, signal.SIGINT)}

    def _handle(self, signal_number: int, frame: Any) -> None:
        self.requested = True

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


# ---- loss -------------------------------------------------------------------------------------




@dataclass
class Sums:
    """What a step or an evaluation adds up over its micro-batches (and then over ranks).

    loss: summed loss; units: what the loss is averaged over (loss tokens for SFT, pairs for DPO);
    correct / tokens: next-token accuracy (for DPO on the preferred answers); trained: trained tokens read.
    """

    loss: float = 0.0
    units: float = 0.0
    correct: float = 0.0
    tokens: float = 0.0
    trained: float = 0.0

    def add(self, other: "Sums") -> None:
        self.loss += other.loss
        self.units += other.units
        self.correct += other.correct
        self.tokens += other.tokens
        self.trained += other.trained

    def reduced(self, context: DistributedContext, device: torch.device) -> "Sums":
        return Sums(*all_reduce_sum([self.loss, self.units, self.correct, self.tokens, self.trained], context, device))


def trained_logits(model: Any, micro_batch: batching.MicroBatch, autocast: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits at trained positions only, their targets, and the boolean mask of those positions.

    The vocabulary projection is the largest matmul of a small model (SmolLM2-135M: 28M of its 135M
    parameters) and prompts are most of the tokens, so the lm_head and the loss run on the trained
    positions alone (transformers' `logits_to_keep` with a boolean mask). A model whose forward
    ignores the mask gets full logits, masked here: same result, no saving."""
    keep = micro_batch.targets != batching.IGNORE_INDEX
    with autocast():
        logits = model(
            input_ids=micro_batch.input_ids,
            position_ids=micro_batch.position_ids,
            attention_mask=micro_batch.attention_mask,
            use_cache=False,
            logits_to_keep=keep,
        ).logits
    logits = logits.float()
    if logits.dim() == 3:
        logits = logits[keep]
    return logits, micro_batch.targets[keep], keep


def forward_token_sums(model: Any, micro_batch: batching.MicroBatch, autocast: Any) -> tuple[torch.Tensor, int, int]:
    """Sum of the token losses (a tensor that can be backpropagated), correct predictions, tokens."""
    logits, targets, _ = trained_logits(model, micro_batch, autocast)
    loss_sum = functional.cross_entropy(logits, targets, reduction="sum")
    correct = int((logits.argmax(-1) == targets).sum())
    return loss_sum, correct, int(targets.numel())


def sequence_log_probs(
    model: Any, micro_batch: batching.MicroBatch, autocast: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per example of the micro-batch: summed log-probability of its trained tokens, correct
    next-token predictions among them, and their number."""
    logits, targets, keep = trained_logits(model, micro_batch, autocast)
    token_log_probs = -functional.cross_entropy(logits, targets, reduction="none")
    hits = (logits.argmax(-1) == targets).float()
    segments = micro_batch.segment_ids.clamp(min=0)[keep]
    zeros = torch.zeros(micro_batch.examples, device=logits.device)
    return (
        zeros.index_add(0, segments, token_log_probs),
        zeros.index_add(0, segments, hits),
        zeros.index_add(0, segments, torch.ones_like(hits)),
    )


# ---- the run ----------------------------------------------------------------------------------


@dataclass
class TrainingState:
    """Everything about progress that a checkpoint must carry besides tensors."""

    step: int = 0
    epoch: int = 0  # epoch of the next global batch
    batch_in_epoch: int = 0  # index of the next global batch within that epoch
    trained_tokens_seen: int = 0
    elapsed_s: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    last_eval: dict[str, float] = field(default_factory=dict)


class Run:
    def __init__(self, spec: JobSpec, context: DistributedContext, events: EventWriter, cancel: CancelRequest) -> None:
        self.spec = spec
        self.context = context
        self.events = events
        self.cancel = cancel
        self.device = resolve_device(spec.training.device, context.local_rank)
        self.precision = resolve_precision(spec.training.precision, self.device)
        self.is_dpo = spec.training.method == "dpo"
        self.is_peft = spec.training.method in ("lora", "qlora", "dpo")  # DPO trains LoRA adapters
        self.fsdp = context.enabled and spec.training.distributed == "fsdp"

    # -- setup --

    def autocast(self) -> Any:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def prepare_data(self) -> None:
        spec = self.spec
        self.tokenizer = load_tokenizer(spec)
        example_tokenizer = ExampleTokenizer(self.tokenizer, spec.data.max_seq_len, spec.data.chat_template)
        self.data_format, self.train_examples = load_examples(
            spec.data.train, "data.train", spec.data.format, example_tokenizer
        )
        self.valid_examples: list[TokenizedExample] = []
        if spec.data.validation:
            _, self.valid_examples = load_examples(
                spec.data.validation, "data.validation", self.data_format, example_tokenizer
            )
        if self.is_dpo != (self.data_format == "preference"):
            raise BadConfig(
                f"`training.method: {spec.training.method}` cannot train on `{self.data_format}` data: DPO needs "
                "preference pairs and preference pairs need DPO",
                field="data.format" if self.is_dpo else "training.method",
            )

    def prepare_model(self) -> None:
        spec = self.spec
        torch.manual_seed(spec.training.seed)  # LoRA / head initialisation is the same on every rank
        # FSDP shards parameters of one dtype per block: keep fp32 weights there and compute under autocast
        dtype = torch.float32 if self.fsdp else weights_dtype(spec.training.method, self.precision)
        model = load_model(spec, self.device, dtype)
        self.parameter_count = parameter_count(model)
        if self.is_peft:
            model = attach_lora(model, spec)
        if self.is_dpo:  # fresh adapters are zero, so this is the base model: DPO's reference
            self.reference = {
                "train": self.reference_log_probs(model, self.train_examples),
                "valid": self.reference_log_probs(model, self.valid_examples),
            }
        if spec.resume_from:  # weights go in before any wrapping or sharding
            load_trainable_weights(model, spec.resume_from, is_peft=self.is_peft)
        self.model = model
        self.trainable_count = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
        if self.fsdp:
            shard_model(model, self.device, self.context)  # in place; parameters become DTensor shards
            self.train_model = model
        elif self.context.enabled:
            self.train_model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        else:
            self.train_model = model
        self.trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]

    def gradient_sync(self, enabled: bool) -> Any:
        """Gradients are reduced across ranks only on the last micro-batch of a step."""
        if self.fsdp:
            self.train_model.set_requires_gradient_sync(enabled)
        elif self.context.enabled and not enabled:
            return self.train_model.no_sync()
        return contextlib.nullcontext()

    def equalize_passes(self, groups: list[list[int]], indices: list[int], examples: list[TokenizedExample]) -> list[list[int]]:
        """Every rank must run the same number of passes: FSDP gathers each layer's weights in every
        forward. Ranks with fewer micro-batches run zero-weight passes ([]); one pass at least."""
        passes = 1
        if self.fsdp:
            for rank in range(self.context.world_size):
                share = batching.rank_share(indices, rank, self.context.world_size)
                passes = max(passes, len(self.micro_batch_groups(share, examples)))
        return groups + [[]] * (passes - len(groups))

    @torch.no_grad()
    def reference_log_probs(self, model: Any, pairs: list[PreferencePair]) -> torch.Tensor:
        """[pairs, 2]: log-probability of the preferred and the non-preferred answer under `model`."""
        model.eval()
        result = torch.zeros(len(pairs), 2)
        budget = self.spec.data.max_seq_len if self.spec.training.packing else None
        for group in batching.group_micro_batches(list(range(len(pairs))), pairs, 8, budget):
            log_probs, _, _ = sequence_log_probs(model, self.collate_pairs(group, pairs), self.autocast)
            result[group] = log_probs.view(2, len(group)).t().cpu()
        return result

    def collate_pairs(self, group: list[int], pairs: list[PreferencePair]) -> batching.MicroBatch:
        """Preferred answers first, then the non-preferred ones, in one micro-batch."""
        sequences = [pairs[index].chosen for index in group] + [pairs[index].rejected for index in group]
        micro_batch = batching.collate(sequences, self.spec.training.packing, self.tokenizer.pad_token_id)
        return micro_batch.to(self.device)

    def micro_batch_loss(self, model: Any, group: list[int], split: str) -> tuple[torch.Tensor, Sums]:
        """The summed loss of one micro-batch (to backpropagate) and its sums.

        SFT: token cross-entropy summed over trained tokens. DPO: per pair
        -logsigmoid(beta * ((chosen - chosen_ref) - (rejected - rejected_ref))), summed over pairs,
        where each term is the summed log-probability of an answer's trained tokens."""
        examples = self.train_examples if split == "train" else self.valid_examples
        if not self.is_dpo:
            loss_sum, correct, tokens = forward_token_sums(model, self.collate(group, examples), self.autocast)
            return loss_sum, Sums(loss_sum.item(), tokens, correct, tokens, tokens)
        count = len(group)
        log_probs, correct, tokens = sequence_log_probs(model, self.collate_pairs(group, examples), self.autocast)
        reference = self.reference[split][group].to(log_probs.device)
        margin = (log_probs[:count] - reference[:, 0]) - (log_probs[count:] - reference[:, 1])
        # beta: strength of the pull toward the reference model (training.dpo_beta, TRL's default 0.1)
        loss_sum = -functional.logsigmoid(self.spec.training.dpo_beta * margin).sum()
        sums = Sums(loss_sum.item(), count, float(correct[:count].sum()), float(tokens[:count].sum()), float(tokens.sum()))
        return loss_sum, sums

    def zero_weight_pass(self, model: Any) -> torch.Tensor:
        dummy = torch.tensor([[self.tokenizer.eos_token_id]], device=self.device)
        with self.autocast():
            return model(input_ids=dummy, use_cache=False).logits.float().sum() * 0.0

    def resolve(self) -> None:
        spec, training = self.spec, self.spec.training
        resolved = resolve_hyperparameters(
            training.method,
            self.parameter_count,
            len(self.train_examples),
            training.batch_size,
            training.micro_batch_size,
            training.learning_rate,
            self.device.type,
            training.packing,
            spec.data.max_seq_len,
        )
        training.batch_size = resolved.batch_size
        training.micro_batch_size = resolved.micro_batch_size
        training.learning_rate = resolved.learning_rate
        training.precision = self.precision
        training.device = self.device.type
        spec.data.format = self.data_format
        self.steps_per_epoch = batching.steps_per_epoch(len(self.train_examples), training.batch_size)
        self.total_steps = training.max_steps or self.steps_per_epoch * training.epochs
        self.resolved = {
            **spec.to_dict(),
            "parameter_count": self.parameter_count,
            "trainable_parameter_count": self.trainable_count,
            "world_size": self.context.world_size,
        }

    def build_optimizer(self) -> None:
        training = self.spec.training
        # weight decay on matrices only: biases and norm scales are left alone
        groups = [
            {"params": [p for p in self.trainable if p.dim() >= 2], "weight_decay": training.weight_decay},
            {"params": [p for p in self.trainable if p.dim() < 2], "weight_decay": 0.0},
        ]
        groups = [group for group in groups if group["params"]]
        self.optimizer = torch.optim.AdamW(groups, lr=training.learning_rate, betas=(0.9, 0.999))
        warmup_steps = math.ceil(training.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: learning_rate_multiplier(step, warmup_steps, self.total_steps, training.lr_scheduler),
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")

    def micro_batch_groups(self, indices: list[int], examples: list[TokenizedExample]) -> list[list[int]]:
        training = self.spec.training
        budget = self.spec.data.max_seq_len if training.packing else None
        return batching.group_micro_batches(indices, examples, training.micro_batch_size, budget)

    def collate(self, indices: list[int], examples: list[TokenizedExample]) -> batching.MicroBatch:
        micro_batch = batching.collate(
            [examples[index] for index in indices], self.spec.training.packing, self.tokenizer.pad_token_id
        )
        return micro_batch.to(self.device)

    def data_summary(self) -> dict[str, int]:
        """The `data` event's fields: examples, tokens, truncation, and the forward passes (packed
        sequences, or examples without packing) of one epoch in the first epoch's order."""
        training = self.spec.training
        order = batching.epoch_order(len(self.train_examples), training.seed, 0)
        sequences = 0
        for batch_index in range(self.steps_per_epoch):
            indices = batching.global_batch(order, training.batch_size, batch_index)
            for rank in range(self.context.world_size):
                share = batching.rank_share(indices, rank, self.context.world_size)
                sequences += len(self.micro_batch_groups(share, self.train_examples))
        return {
            "train_examples": len(self.train_examples),
            "valid_examples": len(self.valid_examples),
            "train_tokens": sum(example.tokens_before_truncation for example in self.train_examples),
            "trained_tokens": sum(example.trained_tokens for example in self.train_examples),
            "truncated_examples": sum(example.truncated for example in self.train_examples),
            "sequences": sequences,
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
        }

    def emit_data_event(self) -> None:
        self.events.emit("data", **self.data_summary())
        truncated = sum(example.truncated for example in self.train_examples)
        if not self.is_dpo and sum(example.trained_tokens for example in self.train_examples) == 0:
            raise BadConfig(
                "no training example has a trained token left (no assistant turn with weight 1, or every "
                "one was cut off by truncation); raise `data.max_seq_len` or check the data with "
                "`tunekit data stats`",
                field="data.max_seq_len" if truncated else "data.train",
            )
        if truncated:
            self.events.log(
                "warn",
                f"{truncated} training examples are longer than `data.max_seq_len` "
                f"({self.spec.data.max_seq_len}) and were truncated",
            )

    # -- one optimizer step --

    def train_step(self, indices: list[int]) -> tuple[float, float, float | None, int]:
        context = self.context
        if self.is_dpo:
            units = len(indices)
        else:
            units = sum(batching.loss_token_count(self.train_examples[index]) for index in indices)
        normalizer = max(units, 1) / context.world_size  # DDP and FSDP average gradients over ranks
        groups = self.micro_batch_groups(batching.rank_share(indices, context.rank, context.world_size), self.train_examples)
        # a rank with no example in a short last batch still runs a zero-weight pass to keep in step
        groups = self.equalize_passes(groups, indices, self.train_examples)
        sums = Sums()
        self.train_model.train()
        for position, group in enumerate(groups):
            with self.gradient_sync(position == len(groups) - 1):
                if group:
                    loss_sum, group_sums = self.micro_batch_loss(self.train_model, group, "train")
                    sums.add(group_sums)
                    scaled = loss_sum / normalizer
                else:
                    scaled = self.zero_weight_pass(self.train_model)
                self.scaler.scale(scaled).backward()
        total = sums.reduced(context, self.device)
        train_loss = total.loss / max(total.units, 1)
        if not math.isfinite(train_loss):
            raise Diverged(f"the training loss became {train_loss} at step {self.state.step + 1}", self.state.step + 1)
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.trainable, self.spec.training.max_grad_norm)
        grad_norm = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
        if not math.isfinite(grad_norm) and self.precision != "fp16":
            raise Diverged(f"the gradient norm became {grad_norm} at step {self.state.step + 1}", self.state.step + 1)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        accuracy = total.correct / max(total.tokens, 1)
        return train_loss, accuracy, grad_norm if math.isfinite(grad_norm) else None, int(total.trained)

    # -- evaluation --

    @torch.no_grad()
    def evaluate(self, full: bool) -> dict[str, float]:
        context = self.context
        indices = list(range(len(self.valid_examples)))
        if not full:
            indices = indices[:VALIDATION_SAMPLE]
        share = batching.rank_share(indices, context.rank, context.world_size)
        sums = Sums()
        self.model.eval()
        groups = self.micro_batch_groups(share, self.valid_examples)
        if self.fsdp:
            groups = self.equalize_passes(groups, indices, self.valid_examples)
        for group in groups:
            if not group:
                self.zero_weight_pass(self.model)
                continue
            sums.add(self.micro_batch_loss(self.model, group, "valid")[1])
        total = sums.reduced(context, self.device)
        metrics = {
            "valid_loss": total.loss / max(total.units, 1),
            "valid_mean_token_accuracy": total.correct / max(total.tokens, 1),
        }
        self.events.emit("eval", step=self.state.step, full=full, **metrics)
        return metrics

    # -- checkpoints --

    def trainer_state(self) -> dict[str, Any]:
        state = self.state
        return {
            "step": state.step,
            "epoch": state.step / self.steps_per_epoch,
            "data_position": {"epoch": state.epoch, "batch_in_epoch": state.batch_in_epoch},
            "trained_tokens_seen": state.trained_tokens_seen,
            "elapsed_s": state.elapsed_s,
            "total_steps": self.total_steps,
            "metrics_history": state.history,
            "last_eval": state.last_eval,
            "resolved_config": self.resolved,
        }

    def save_checkpoint(self) -> str:
        rng_states = gather_objects(capture_rng_state(), self.context)
        path = checkpoint_path(self.spec.run_dir, self.state.step)
        model_state = full_model_state(self.model) if self.fsdp else None  # collective: every rank
        optimizer_state = full_optimizer_state(self.model, self.optimizer) if self.fsdp else self.optimizer.state_dict()
        if self.context.is_main:
            save_checkpoint(
                path, self.model, optimizer_state, self.scheduler, rng_states, self.trainer_state(), model_state
            )
            metrics = {**(self.state.history[-1] if self.state.history else {}), **self.state.last_eval}
            metrics = {key: value for key, value in metrics.items() if key.startswith(("train_", "valid_"))}
            self.events.emit(
                "checkpoint", step=self.state.step, epoch=self.state.step / self.steps_per_epoch, path=str(path), metrics=metrics
            )
        if self.context.enabled:
            torch.distributed.barrier()
        return str(path)

    def resume(self, path: str) -> None:
        saved = read_trainer_state(path)  # the weights were loaded in prepare_model
        load_training_state(path, self.model if self.fsdp else None, self.optimizer, self.scheduler, self.context.rank)
        self.state = TrainingState(
            step=saved["step"],
            epoch=saved["data_position"]["epoch"],
            batch_in_epoch=saved["data_position"]["batch_in_epoch"],
            trained_tokens_seen=saved["trained_tokens_seen"],
            elapsed_s=saved["elapsed_s"],
            history=saved["metrics_history"],
            last_eval=saved.get("last_eval", {}),
        )
        before = {key: value for key, value in saved["resolved_config"].items() if key != "resume_from"}
        now = {key: value for key, value in self.resolved.items() if key != "resume_from"}
        if before != now:
            self.events.log("warn", f"resuming {path} with a different config than it was written with")
        self.events.log("info", f"resumed from {path} at step {self.state.step}")

    # -- outputs --

    def write_outputs(self, model_state: dict[str, torch.Tensor] | None) -> tuple[str | None, str | None]:
        """Rank 0 only. `model_state` is the gathered full state dict of a sharded (FSDP) model."""
        run_dir = Path(self.spec.run_dir)
        adapter_path = merged_path = None
        extra = {"state_dict": model_state} if model_state is not None else {}
        if self.is_peft:
            adapter_path = run_dir / "adapter"
            self.model.save_pretrained(adapter_path, safe_serialization=True, **extra)
            self.tokenizer.save_pretrained(adapter_path)
            if self.spec.training.merge:
                merged_path = run_dir / "merged"
                if self.fsdp:  # a sharded model cannot merge in place: merge base + saved adapter on this rank
                    from peft import PeftModel

                    base = load_model(self.spec, torch.device("cpu"), weights_dtype(self.spec.training.method, self.precision))
                    merged = PeftModel.from_pretrained(base, str(adapter_path)).merge_and_unload()
                else:
                    merged = self.model.merge_and_unload()
                merged.config.use_cache = True
                merged.save_pretrained(merged_path, safe_serialization=True)
                self.tokenizer.save_pretrained(merged_path)
        else:  # full fine-tuning: the trained model is the merged model
            merged_path = run_dir / "merged"
            self.model.config.use_cache = True
            self.model.save_pretrained(merged_path, safe_serialization=True, **extra)
            self.tokenizer.save_pretrained(merged_path)
        return (str(adapter_path) if adapter_path else None, str(merged_path) if merged_path else None)

    # -- the loop --

    def train(self) -> int:
        spec, training, context, events = self.spec, self.spec.training, self.context, self.events
        self.prepare_data()
        self.prepare_model()
        self.resolve()
        self.build_optimizer()
        self.state = TrainingState()
        if spec.resume_from:
            self.resume(spec.resume_from)
        else:  # the random state of training itself (dropout) differs per rank; a resume restores it instead
            torch.manual_seed(training.seed + context.rank)
            random.seed(training.seed + context.rank)
            numpy.random.seed(training.seed + context.rank)
        events.emit("config", resolved=self.resolved)
        self.emit_data_event()
        events.log(
            "info",
            f"{self.parameter_count:,} parameters, {self.trainable_count:,} trainable ({training.method}), "
            f"{self.device} {self.precision}, {context.world_size} process(es), {self.total_steps} steps",
        )

        state = self.state
        session_start = time.time()
        elapsed_before = state.elapsed_s
        tokens_at_start = state.trained_tokens_seen
        last_checkpoint: str | None = None
        order = batching.epoch_order(len(self.train_examples), training.seed, state.epoch)
        while state.step < self.total_steps:
            if any_rank(self.cancel.requested, context, self.device):
                return self.stop_cancelled(last_checkpoint)
            indices = batching.global_batch(order, training.batch_size, state.batch_in_epoch)
            learning_rate = self.optimizer.param_groups[0]["lr"]
            train_loss, accuracy, grad_norm, tokens = self.train_step(indices)
            state.step += 1
            state.batch_in_epoch += 1
            state.trained_tokens_seen += tokens
            state.elapsed_s = elapsed_before + time.time() - session_start
            metrics = {
                "step": state.step,
                "train_loss": train_loss,
                "train_mean_token_accuracy": accuracy,
                "learning_rate": learning_rate,
            }
            state.history.append(metrics)
            events.emit(
                "metrics",
                total_steps=self.total_steps,
                epoch=state.step / self.steps_per_epoch,
                grad_norm=grad_norm,
                tokens_per_second=(state.trained_tokens_seen - tokens_at_start) / max(time.time() - session_start, 1e-9),
                trained_tokens_seen=state.trained_tokens_seen,
                elapsed_s=state.elapsed_s,
                **metrics,
            )
            epoch_ended = state.batch_in_epoch == self.steps_per_epoch
            if epoch_ended:
                state.epoch += 1
                state.batch_in_epoch = 0
                order = batching.epoch_order(len(self.train_examples), training.seed, state.epoch)
            finished = state.step == self.total_steps
            if self.valid_examples and state.step % training.eval_every == 0 and not finished:
                state.last_eval = self.evaluate(full=False)
            if not finished and (epoch_ended or state.step % training.checkpoint_every == 0):
                last_checkpoint = self.save_checkpoint()
        return self.finish()  # a stop request that arrives during the last step still gets the finished run

    def stop_cancelled(self, last_checkpoint: str | None) -> int:
        path = last_checkpoint
        if self.state.step > 0 and (path is None or not path.endswith(f"step-{self.state.step:06d}")):
            path = self.save_checkpoint()
        self.events.emit("cancelled", step=self.state.step, checkpoint_path=path)
        return ExitCode.CANCELLED

    def finish(self) -> int:
        state = self.state
        if self.valid_examples:
            state.last_eval = self.evaluate(full=True)
        final_checkpoint = self.save_checkpoint()
        adapter_path = merged_path = None
        model_state = full_model_state(self.model) if self.fsdp else None  # collective: every rank
        if self.context.is_main:
            adapter_path, merged_path = self.write_outputs(model_state)
        summary = {
            "trained_tokens": state.trained_tokens_seen,
            "train_runtime_s": state.elapsed_s,
            "tokens_per_second": state.trained_tokens_seen / max(state.elapsed_s, 1e-9),
            "steps": state.step,
            "final_train_loss": state.history[-1]["train_loss"] if state.history else None,
            "final_valid_loss": state.last_eval.get("valid_loss"),
            "final_valid_mean_token_accuracy": state.last_eval.get("valid_mean_token_accuracy"),
        }
        if self.context.is_main:
            details = {
                **summary,
                "final_train_mean_token_accuracy": state.history[-1]["train_mean_token_accuracy"] if state.history else None,
                "adapter_path": adapter_path,
                "merged_path": merged_path,
                "final_checkpoint": final_checkpoint,
                "resolved_config": self.resolved,
            }
            (Path(self.spec.run_dir) / "summary.json").write_text(json.dumps(details, indent=2) + "\n")
        self.events.emit("done", adapter_path=adapter_path, merged_path=merged_path, summary=summary)
        return ExitCode.DONE


# ---- entry point --------------------------------------------------------------------------------


def _report(events: EventWriter, error: WorkerError) -> int:
    fields = {"field": error.field} if error.field else {}
    events.emit("error", code=error.code, message=error.message, **fields)
    print(f"[tunekit-worker] error ({error.code}): {error.message}", file=sys.stderr, flush=True)
    return error.exit_code


def run_training(spec_path: str) -> int:
    cancel = CancelRequest()
    try:
        return _run_training(spec_path, cancel)
    finally:
        cancel.restore()


def _run_training(spec_path: str, cancel: CancelRequest) -> int:
    context = context_from_environment()
    events = EventWriter(enabled=context.is_main)
    try:
        spec = load_job_spec(spec_path)
    except BadConfig as error:
        return _report(events, error)
    run = Run(spec, context, events, cancel)
    torch.set_num_threads(cpu_threads(spec.training.threads, context.local_world_size))
    init_process_group(context, run.device)
    try:
        Path(spec.run_dir).mkdir(parents=True, exist_ok=True)
        events.open_journal(spec.run_dir)  # every event from here on also lands in the run dir
        events.emit(
            "started",
            run_dir=spec.run_dir,
            pid=os.getpid(),
            device=f"{run.device.type} ({run.precision})",
            world_size=context.world_size,
            resumed_from=spec.resume_from,
        )
        return run.train()
    except WorkerError as error:
        return _report(events, error)
    except torch.OutOfMemoryError as error:
        return _report(events, WorkerError("out_of_memory", f"out of memory: {error}; lower `training.micro_batch_size` or `data.max_seq_len`"))
    except Exception as error:  # anything else is a bug or an environment problem: say so, with the traceback
        traceback.print_exc()
        return _report(events, WorkerError("internal", f"{type(error).__name__}: {error}"))
    finally:
        events.close()
        destroy_process_group(context)
