"""The training recipe, top to bottom: spec -> data -> model -> loop -> outputs.

SFT (lora, qlora, full) and DPO (LoRA adapters against the base model). One optimizer step = one
global batch. The loss of a step is the summed loss over the whole global batch divided by the
number of its units (loss tokens for SFT, pairs for DPO), so gradient accumulation and any number of
processes give the same update as one big batch.

What differs between runs is chosen once, before the loop, and injected (as torchtune injects its
loss): the objective (objectives.py: SFT or DPO) gives the loss of a micro-batch, the topology
(topology.py: one process, DDP or FSDP) wraps the model and owns the collectives, gradient sync and
the gathered states a checkpoint needs. `Run.train` below is the loop itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import torch

from . import batches as batching
from .auto_hyperparameters import resolve_hyperparameters
from .checkpoint import (
    capture_rng_state,
    load_trainable_weights,
    load_training_state,
    read_trainer_state,
    save_checkpoint,
)
from .distributed import DistributedContext, context_from_environment, destroy_process_group, gather_objects, init_process_group
from .errors import BadConfig, Diverged, WorkerError
from .events import EventWriter, ExitCode
from .examples import ExampleTokenizer, TokenizedExample, load_examples
from .forkserver import worker_pid
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
from .objectives import MicroBatcher, Sums, choose_objective
from .run_folder import ADAPTER_DIR, MERGED_DIR, STOP_REQUEST_FILE, SUMMARY_FILE, checkpoint_folder_name, checkpoint_path
from .schedule import learning_rate_multiplier
from .topology import choose_topology

VALIDATION_SAMPLE = 256  # periodic evaluations use this many validation examples; the final one uses all


# ---- cancellation -----------------------------------------------------------------------------


class CancelRequest:
    """SIGTERM/SIGINT only set a flag; the loop finishes its optimizer step, checkpoints and exits 3.
    On a cluster the stop comes as a file instead (`<run_dir>/stop-request.json`, which the cluster
    backend writes on storage every rank reads): signals reach Ray Train's workers as a kill, and a
    train function that Ray runs in a thread cannot install handlers at all."""

    def __init__(self) -> None:
        self.requested = False
        self.stop_file: Path | None = None
        in_main_thread = threading.current_thread() is threading.main_thread()
        numbers = (signal.SIGTERM, signal.SIGINT) if in_main_thread else ()
        self.previous = {number: signal.signal(number, self._handle) for number in numbers}

    def _handle(self, signal_number: int, frame: Any) -> None:
        self.requested = True

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def watch(self, run_dir: str) -> None:
        self.stop_file = Path(run_dir) / STOP_REQUEST_FILE

    def asked(self) -> bool:
        """A signal arrived, or the stop request file exists (one stat per step)."""
        return self.requested or (self.stop_file is not None and self.stop_file.exists())


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
        self.is_peft = spec.training.method in ("lora", "qlora", "dpo")  # DPO trains LoRA adapters
        # one process, DDP or FSDP: chosen once; the loop calls its hooks (topology.py)
        self.topology = choose_topology(spec.training.distributed, context, self.device)

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
        self.data_format, self.train_examples = load_examples(spec.data.train, "data.train", spec.data.format, example_tokenizer)
        self.valid_examples: list[TokenizedExample] = []
        if spec.data.validation:
            _, self.valid_examples = load_examples(spec.data.validation, "data.validation", self.data_format, example_tokenizer)
        # SFT or DPO: chosen once; the loop asks it for the loss of a micro-batch (objectives.py)
        batcher = MicroBatcher(
            {"train": self.train_examples, "valid": self.valid_examples},
            spec.training.packing,
            self.tokenizer.pad_token_id,
            self.device,
        )
        self.objective = choose_objective(spec.training.method, self.data_format, batcher, self.autocast, spec.training.dpo_beta, spec.data.max_seq_len)

    def prepare_model(self) -> None:
        spec = self.spec
        torch.manual_seed(spec.training.seed)  # LoRA / head initialisation is the same on every rank
        model = load_model(spec, self.device, self.topology.weights_dtype(spec.training.method, self.precision))
        self.parameter_count = parameter_count(model)
        if self.is_peft:
            model = attach_lora(model, spec)
        self.objective.prepare(model)  # DPO's reference log-probabilities, from the base model
        if spec.resume_from:  # weights go in before any wrapping or sharding
            load_trainable_weights(model, spec.resume_from, is_peft=self.is_peft)
        self.model = model
        self.trainable_count = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
        self.train_model = self.topology.wrap(model)
        self.trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]

    def rank_passes(self, indices: list[int], examples: list[TokenizedExample]) -> Callable[[int], int]:
        """How many micro-batches rank `rank` runs for `indices` (for `topology.equalize_passes`)."""
        world_size = self.context.world_size
        return lambda rank: len(self.micro_batch_groups(batching.rank_share(indices, rank, world_size), examples))

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
            training.learning_rate_multiplier,
        )
        training.batch_size = resolved.batch_size
        training.micro_batch_size = resolved.micro_batch_size
        training.learning_rate = resolved.learning_rate
        training.learning_rate_multiplier = resolved.learning_rate_multiplier
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
        self.objective.check_trained_tokens(truncated)
        if truncated:
            self.events.log(
                "warn",
                f"{truncated} training examples are longer than `data.max_seq_len` ({self.spec.data.max_seq_len}) and were truncated",
            )

    # -- one optimizer step --

    def train_step(self, indices: list[int]) -> tuple[float, float, float | None, int]:
        context, topology = self.context, self.topology
        normalizer = max(self.objective.units(indices), 1) / context.world_size  # DDP and FSDP average gradients over ranks
        groups = self.micro_batch_groups(batching.rank_share(indices, context.rank, context.world_size), self.train_examples)
        # a rank with no example in a short last batch still runs a zero-weight pass to keep in step
        groups = topology.equalize_passes(groups, self.rank_passes(indices, self.train_examples), backward=True)
        sums = Sums()
        self.train_model.train()
        for position, group in enumerate(groups):
            with topology.gradient_sync(position == len(groups) - 1):  # reduce on the last micro-batch only
                if group:
                    loss_sum, group_sums = self.objective.loss(self.train_model, "train", group)
                    sums.add(group_sums)
                    scaled = loss_sum / normalizer
                else:
                    scaled = self.zero_weight_pass(self.train_model)
                self.scaler.scale(scaled).backward()
        total = sums.reduced(topology.all_reduce_sum)
        train_loss = total.loss / max(total.units, 1)
        if not math.isfinite(train_loss):
            raise Diverged(f"the training loss became {train_loss} at step {self.state.step + 1}", self.state.step + 1)
        self.scaler.unscale_(self.optimizer)
        grad_norm = topology.clip_gradients(self.trainable, self.spec.training.max_grad_norm)
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
        groups = self.topology.equalize_passes(groups, self.rank_passes(indices, self.valid_examples), backward=False)
        for group in groups:
            if not group:
                self.zero_weight_pass(self.model)
                continue
            sums.add(self.objective.loss(self.model, "valid", group)[1])
        total = sums.reduced(self.topology.all_reduce_sum)
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
        topology = self.topology
        rng_states = topology.gather_objects(capture_rng_state())
        path = checkpoint_path(self.spec.run_dir, self.state.step)
        model_state = topology.full_model_state(self.model)  # collective: every rank; None unless sharded
        optimizer_state = topology.optimizer_state(self.model, self.optimizer)
        if self.context.is_main:
            save_checkpoint(path, self.model, optimizer_state, self.scheduler, rng_states, self.trainer_state(), model_state)
            metrics = {**(self.state.history[-1] if self.state.history else {}), **self.state.last_eval}
            metrics = {key: value for key, value in metrics.items() if key.startswith(("train_", "valid_"))}
            self.events.emit("checkpoint", step=self.state.step, epoch=self.state.step / self.steps_per_epoch, path=str(path), metrics=metrics)
        topology.barrier()
        return str(path)

    def resume(self, path: str) -> None:
        saved = read_trainer_state(path)  # the weights were loaded in prepare_model
        load_optimizer = lambda state: self.topology.load_optimizer_state(self.model, self.optimizer, state)  # noqa: E731
        load_training_state(path, load_optimizer, self.scheduler, self.context.rank)
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
            adapter_path = run_dir / ADAPTER_DIR
            self.model.save_pretrained(adapter_path, safe_serialization=True, **extra)
            self.tokenizer.save_pretrained(adapter_path)
            if self.spec.training.merge:
                merged_path = run_dir / MERGED_DIR
                load_base = lambda: load_model(self.spec, torch.device("cpu"), weights_dtype(self.spec.training.method, self.precision))  # noqa: E731
                merged = self.topology.merged_model(self.model, str(adapter_path), load_base)
                merged.config.use_cache = True
                merged.save_pretrained(merged_path, safe_serialization=True)
                self.tokenizer.save_pretrained(merged_path)
        else:  # full fine-tuning: the trained model is the merged model
            merged_path = run_dir / MERGED_DIR
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
            if self.topology.any_rank(self.cancel.asked()):
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
        if self.state.step > 0 and (path is None or not path.endswith(checkpoint_folder_name(self.state.step))):
            path = self.save_checkpoint()
        self.events.emit("cancelled", step=self.state.step, checkpoint_path=path)
        return ExitCode.CANCELLED

    def finish(self) -> int:
        state = self.state
        if self.valid_examples:
            state.last_eval = self.evaluate(full=True)
        final_checkpoint = self.save_checkpoint()
        adapter_path = merged_path = None
        model_state = self.topology.full_model_state(self.model)  # collective: every rank; None unless sharded
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
            (Path(self.spec.run_dir) / SUMMARY_FILE).write_text(json.dumps(details, indent=2) + "\n")
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
    owns_process_group = not torch.distributed.is_initialized()  # Ray Train's group is Ray's to end
    init_process_group(context, run.device)
    try:
        Path(spec.run_dir).mkdir(parents=True, exist_ok=True)
        events.open_journal(spec.run_dir)  # every event from here on also lands in the run dir
        cancel.watch(spec.run_dir)
        here = {"rank": context.rank, "host": socket.gethostname(), "node_id": os.environ.get("TUNEKIT_NODE_ID") or None}
        events.emit(
            "started",
            run_dir=spec.run_dir,
            pid=worker_pid(),
            device=f"{run.device.type} ({run.precision})",
            world_size=context.world_size,
            resumed_from=spec.resume_from,
            nodes=gather_objects(here, context),  # collective: every rank says where it runs
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
        destroy_process_group(context, owned=owns_process_group)
