"""One contestant of the training bench, run in its own process by run.py (never in parallel), so
that peak memory is measured per run.

    python bench/train/contestant.py tunekit SPEC.json RESULT.json    # Tunekit's worker, unchanged
    python bench/train/contestant.py trl CONFIG.json RESULT.json      # TRL's SFTTrainer

`tunekit` runs exactly what `python -m tunekit_worker train SPEC.json` runs (its JSON Lines events go
to stdout, which run.py captures); this wrapper only adds the peak CUDA memory afterwards, which the
worker does not report. `trl` builds the model the same way the worker does (seed, then
from_pretrained, then get_peft_model with the same LoraConfig), so both start from identical
weights, then trains with SFTTrainer, counting trained (label) tokens and timing each step.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def peak_memory(device: str) -> dict[str, Any]:
    import torch

    peak = {"max_rss_bytes_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if device == "cuda":
        peak["cuda_max_memory_allocated_bytes"] = torch.cuda.max_memory_allocated()
    return peak


def run_tunekit(spec_path: str, result_path: str) -> int:
    sys.path.insert(0, str(REPO / "worker"))
    from tunekit_worker.train import run_training

    spec = json.loads(Path(spec_path).read_text())
    exit_code = run_training(spec_path)
    sys.stdout.flush()
    Path(result_path).write_text(json.dumps({"exit_code": exit_code, **peak_memory(spec["training"]["device"])}))
    return exit_code


def run_trl(config_path: str, result_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    import torch

    torch.set_num_threads(config["threads"])  # the same thread count the worker uses (training.threads)
    import datasets
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    device = config["device"]
    tokenizer = AutoTokenizer.from_pretrained(config["model"])
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    # the worker's model_loading.load_model + attach_lora, step for step
    torch.manual_seed(config["seed"])
    model = AutoModelForCausalLM.from_pretrained(
        config["model"], dtype=getattr(torch, config["weights_dtype"]), attn_implementation="sdpa"
    )
    model.to(device)
    model.config.use_cache = False
    lora = config["lora"]
    model = get_peft_model(
        model,
        LoraConfig(
            r=lora["r"],
            lora_alpha=lora["alpha"],
            lora_dropout=lora["dropout"],
            target_modules=lora["target_modules"],
            task_type="CAUSAL_LM",
        ),
    )

    rows = [json.loads(line) for line in Path(config["data"]).read_text().splitlines() if line.strip()]
    dataset = datasets.Dataset.from_list(rows)
    arguments = SFTConfig(
        output_dir=config["output_dir"],
        report_to="none",
        save_strategy="no",
        use_cpu=device == "cpu",
        **config["sft_config"],
    )

    steps: list[dict[str, Any]] = []

    class CountingTrainer(SFTTrainer):
        """SFTTrainer unchanged, except that it counts the tokens each micro-batch trains on."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs["labels"]
            trained = int((labels[:, 1:] != -100).sum())  # the model shifts labels: position j predicts j + 1
            if "attention_mask" in inputs:
                processed = int(inputs["attention_mask"].sum())
                slots = inputs["input_ids"].numel()
            else:  # padding-free: one row, no padding
                processed = slots = inputs["input_ids"].numel()
            self.token_counts["trained"] += trained
            self.token_counts["processed"] += processed
            self.token_counts["slots"] += slots
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    class StepTimer(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if device == "cuda":
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if device == "cuda":
                torch.cuda.synchronize()
            steps.append(
                {"step": state.global_step, "elapsed_s": time.perf_counter() - self.start, **trainer.token_counts}
            )
            trainer.token_counts = {"trained": 0, "processed": 0, "slots": 0}

    trainer = CountingTrainer(
        model=model, args=arguments, train_dataset=dataset, processing_class=tokenizer, callbacks=[StepTimer()]
    )
    trainer.token_counts = {"trained": 0, "processed": 0, "slots": 0}
    trainer.train()
    losses = {entry["step"]: entry["loss"] for entry in trainer.state.log_history if "loss" in entry}
    for step in steps:
        step["train_loss"] = losses.get(step["step"])
    resolved = trainer.args
    settings = {
        name: getattr(resolved, name)
        for name in (
            "gradient_checkpointing",
            "padding_free",
            "packing",
            "bf16",
            "optim",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "max_length",
            "completion_only_loss",
            "train_sampling_strategy",
            "dataloader_num_workers",
            "torch_compile",
            "use_liger_kernel",
            "logging_steps",
        )
        if hasattr(resolved, name)
    }
    settings["padding_free_effective"] = trainer.padding_free
    settings["optim"] = str(settings.get("optim"))
    result = {
        "exit_code": 0,
        "steps": steps,
        "settings": settings,
        "trainable_parameter_count": sum(p.numel() for p in model.parameters() if p.requires_grad),
        **peak_memory(device),
    }
    Path(result_path).write_text(json.dumps(result, default=str))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("tunekit", "trl"):
        print("usage: contestant.py tunekit|trl CONFIG.json RESULT.json", file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return run_tunekit(argv[1], argv[2]) if argv[0] == "tunekit" else run_trl(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
