"""Tunekit's training worker against TRL's SFTTrainer, measured in the same run.

    .venv/bin/python bench/train/run.py [--steps 30] [--batch 8] [--max-seq-len 256] [--rank 16]
        [--device cpu|cuda] [--model-shape smollm2-135m|0.5b|1.5b] [--json OUT]

Three contestants, one after another, each in its own process: Tunekit's worker (its defaults:
packed rows, no gradient checkpointing), TRL SFTTrainer with its defaults, and TRL with its best
settings (padding_free, no gradient checkpointing). Same model and weights, same examples in the
same batches in the same order, same trained tokens, LoRA config, optimizer, learning rate schedule,
seed, sequence length, global batch and steps. Prints trained tokens/s, peak memory, final loss and
the ratios; checks that every contestant trained exactly the same tokens in every step.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "worker"))
sys.path.insert(0, str(HERE))

from flops import gpu_peak, matmul_parameter_count, training_flops  # noqa: E402
from prepare_model import build_random_model, prepare_model  # noqa: E402

CONTESTANTS = ("tunekit", "trl-default", "trl-best")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps (max_steps) for every contestant")
    parser.add_argument("--batch", type=int, default=8, help="global batch in examples (TRL: per-device batch, no accumulation)")
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank; alpha is 2 x rank, dropout 0, all linear layers")
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--model-shape",
        choices=("smollm2-135m", "0.5b", "1.5b"),
        default="smollm2-135m",
        help="smollm2-135m: the demo model's weights (from its GGUF); 0.5b/1.5b: a random-initialised Llama of that size",
    )
    parser.add_argument("--data", default=str(REPO / "examples" / "recipes" / "train.jsonl"), help="single-turn chat JSONL")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for every contestant (0: all cores)")
    parser.add_argument("--contestants", default=",".join(CONTESTANTS), help="comma-separated subset of " + ", ".join(CONTESTANTS))
    parser.add_argument("--peak-tflops", type=float, default=0.0, help="GPU dense bf16 peak for MFU when the GPU is not known")
    parser.add_argument("--json", dest="json_path", help="write every figure to this JSON file")
    parser.add_argument("--work-dir", help="keep specs, logs and run folders here (default: a temporary folder)")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: print the figures of the runs already in --work-dir (same other arguments)",
    )
    return parser.parse_args(argv)


# ---- environment --------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    import importlib.metadata as metadata

    found = {"python": platform.python_version()}
    for package in ("torch", "transformers", "peft", "trl", "datasets", "accelerate"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def machine(device: str) -> dict[str, Any]:
    import torch

    described: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }
    if device == "cuda":
        described["gpu"] = torch.cuda.get_device_name(0)
    return described


# ---- data ---------------------------------------------------------------------------------------


def tokenize_examples(model_dir: Path, data_path: str, max_seq_len: int) -> tuple[list[dict[str, Any]], list[Any]]:
    """The raw rows and Tunekit's own tokenization of them (ids + trained mask)."""
    from transformers import AutoTokenizer
    from tunekit_worker.examples import ExampleTokenizer, load_examples, read_jsonl

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = read_jsonl(data_path, "data")
    data_format, examples = load_examples(data_path, "data", "chat", ExampleTokenizer(tokenizer, max_seq_len))
    for number, row in enumerate(rows, start=1):
        roles = [message.get("role") for message in row["messages"]]
        if roles.count("assistant") != 1 or roles[-1] != "assistant":
            raise SystemExit(
                f"{data_path} example {number}: this bench gives TRL a prompt-completion dataset, so every example "
                "needs exactly one assistant message, the last one"
            )
    return rows, examples


def training_order(num_examples: int, batch: int, steps: int, seed: int) -> list[int]:
    """The examples Tunekit's worker trains on, in order (its batches.epoch_order, epoch by epoch)."""
    from tunekit_worker import batches

    needed = batch * steps
    if needed > num_examples and num_examples % batch:
        raise SystemExit(
            f"--steps {steps} x --batch {batch} runs past the end of an epoch of {num_examples} examples, whose last "
            "batch is short; use fewer steps or a batch that divides the example count"
        )
    order: list[int] = []
    epoch = 0
    while len(order) < needed:
        order += batches.epoch_order(num_examples, seed, epoch)
        epoch += 1
    return order[:needed]


def write_trl_dataset(rows: list[dict[str, Any]], order: list[int], path: Path) -> None:
    """Conversational prompt-completion rows in training order: prompt = the messages before the
    assistant turn, completion = the assistant turn. TRL renders the prompt with
    add_generation_prompt=True and trains the rest, the same span as Tunekit's rule."""
    with path.open("w") as handle:
        for index in order:
            messages = [{"role": m["role"], "content": m["content"]} for m in rows[index]["messages"]]
            handle.write(json.dumps({"prompt": messages[:-1], "completion": messages[-1:]}) + "\n")


# ---- contestants --------------------------------------------------------------------------------


def tunekit_spec(args: argparse.Namespace, model_dir: Path, run_dir: Path, threads: int, num_examples: int) -> dict[str, Any]:
    return {
        "v": 1,
        "run_dir": str(run_dir),
        "model": str(model_dir),
        "data": {"train": str(Path(args.data).resolve()), "validation": None, "format": "chat", "chat_template": None, "max_seq_len": args.max_seq_len},
        "training": {
            "epochs": math.ceil(args.steps * args.batch / num_examples),
            "method": "lora",
            "batch_size": args.batch,
            "micro_batch_size": "auto",
            "learning_rate": args.learning_rate,
            "lr_scheduler": "cosine",
            "warmup_ratio": 0.0,
            "weight_decay": 0.0,
            "max_grad_norm": 1.0,
            "max_steps": args.steps,
            "seed": args.seed,
            "eval_every": args.steps + 1,
            "checkpoint_every": args.steps + 1,  # only the final checkpoint, written after the timed loop
            "lora": {"r": args.rank, "alpha": 2 * args.rank, "dropout": 0.0, "target_modules": "all-linear"},
            "precision": "fp32" if args.device == "cpu" else "auto",
            "device": args.device,
            "threads": threads,
        },
        "resume_from": None,
    }


def trl_config(args: argparse.Namespace, model_dir: Path, data_path: Path, output_dir: Path, threads: int, best: bool) -> dict[str, Any]:
    sft_config: dict[str, Any] = {
        "max_steps": args.steps,
        "per_device_train_batch_size": args.batch,
        "gradient_accumulation_steps": 1,
        "learning_rate": args.learning_rate,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "seed": args.seed,
        "max_length": args.max_seq_len,
        "logging_steps": 1,  # the loss of every step (TRL default 10)
        "train_sampling_strategy": "sequential",  # the dataset is written in Tunekit's batch order
    }
    if args.device == "cpu":
        sft_config["bf16"] = False  # fp32 on CPU (TRL defaults to bf16)
    if best:
        sft_config["padding_free"] = True
        sft_config["gradient_checkpointing"] = False
        # padding-free without packing does not truncate, and TRL refuses a max_length it would not enforce;
        # main() checks that no example is longer than --max-seq-len, so nothing needs truncating
        sft_config["max_length"] = None
    return {
        "model": str(model_dir),
        "data": str(data_path),
        "output_dir": str(output_dir),
        "device": args.device,
        "threads": threads,
        "seed": args.seed,
        # the worker keeps frozen weights in the training precision: fp32 on CPU, bf16 on CUDA
        "weights_dtype": "float32" if args.device == "cpu" else "bfloat16",
        "lora": {"r": args.rank, "alpha": 2 * args.rank, "dropout": 0.0, "target_modules": "all-linear"},
        "sft_config": sft_config,
    }


def run_child(
    kind: str, config: dict[str, Any], work: Path, name: str, reuse: bool = False
) -> tuple[dict[str, Any], int, float, Path]:
    """Run one contestant to completion; return its result file, peak RSS (wait4), wall time, stdout path."""
    config_path = work / f"{name}.config.json"
    result_path = work / f"{name}.result.json"
    stdout_path = work / f"{name}.stdout.jsonl"
    stderr_path = work / f"{name}.stderr.log"
    if reuse:
        result = json.loads(result_path.read_text())
        measured_path = work / f"{name}.measured.json"
        measured = json.loads(measured_path.read_text()) if measured_path.is_file() else {}
        return result, measured.get("peak_rss_bytes", result["max_rss_bytes_self"]), measured.get("wall_s", 0.0), stdout_path
    config_path.write_text(json.dumps(config, indent=2))
    environment = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    print(f"[bench] running {name} (log: {stderr_path})", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "contestant.py"), kind, str(config_path), str(result_path)],
            stdout=stdout,
            stderr=stderr,
            env=environment,
            cwd=str(REPO),
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if process.returncode != 0 or not result_path.is_file():
        tail = stderr_path.read_text()[-3000:]
        raise SystemExit(f"{name} failed with exit code {process.returncode}; end of {stderr_path}:\n{tail}")
    (work / f"{name}.measured.json").write_text(json.dumps({"peak_rss_bytes": usage.ru_maxrss * 1024, "wall_s": wall}))
    return json.loads(result_path.read_text()), usage.ru_maxrss * 1024, wall, stdout_path


def tunekit_steps(stdout_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events = [json.loads(line) for line in stdout_path.read_text().splitlines() if line.startswith("{")]
    steps, previous_tokens, config = [], 0, {}
    for event in events:
        if event["type"] == "config":
            config = event["resolved"]
        if event["type"] == "metrics":
            steps.append(
                {
                    "step": event["step"],
                    "elapsed_s": event["elapsed_s"],
                    "trained": event["trained_tokens_seen"] - previous_tokens,
                    "train_loss": event["train_loss"],
                    "tokens_per_second": event["tokens_per_second"],
                }
            )
            previous_tokens = event["trained_tokens_seen"]
    if not any(event["type"] == "done" for event in events):
        raise SystemExit(f"Tunekit's worker did not finish: no `done` event in {stdout_path}")
    return steps, config


# ---- report -------------------------------------------------------------------------------------


def expected_steps(examples: list[Any], order: list[int], batch: int) -> list[dict[str, int]]:
    from tunekit_worker import batches

    expected = []
    for start in range(0, len(order), batch):
        chosen = [examples[index] for index in order[start : start + batch]]
        expected.append(
            {
                "trained": sum(batches.loss_token_count(example) for example in chosen),
                "processed": sum(len(example.input_ids) for example in chosen),
            }
        )
    return expected


def model_shape(model_dir: Path) -> dict[str, int]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(model_dir))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return {
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "matmul_parameters": matmul_parameter_count(model),
        "layers": config.num_hidden_layers,
        "attention_width": config.num_attention_heads * head_dim,
    }


def describe_settings(name: str, settings: dict[str, Any], args: argparse.Namespace) -> dict[str, str]:
    """The contestants' settings in one vocabulary (TRL's raw resolved values go to the JSON)."""
    if name == "tunekit":
        return {
            "gradient checkpointing": "off",
            "batch layout": f"packed rows of at most {args.max_seq_len} tokens (position ids restart per example, "
            f"block-diagonal mask), at most {settings['micro_batch_size']} examples per forward",
            "optimizer": "torch.optim.AdamW (default foreach)",
            "precision": settings["precision"],
            "loss": "lm_head only at trained positions (logits_to_keep mask), fp32 cross_entropy(reduction=sum) / trained tokens of the global batch",
        }
    return {
        "gradient checkpointing": "on" if settings["gradient_checkpointing"] else "off",
        "batch layout": "padding-free: the batch flattened into one row (position ids restart per example)"
        if settings["padding_free_effective"]
        else "one right-padded row per example + attention mask",
        "optimizer": str(settings["optim"]).replace("OptimizerNames.", "").lower(),
        "precision": "bf16 autocast" if settings["bf16"] else "fp32",
        "loss": "fused LM head (chunked log-probs, no full logits) / trained tokens of the global batch",
    }


def median_step_rate(steps: list[dict[str, Any]]) -> float:
    import statistics

    rates, previous = [], 0.0
    for step in steps:
        rates.append(step["trained"] / max(step["elapsed_s"] - previous, 1e-9))
        previous = step["elapsed_s"]
    return statistics.median(rates)


def relative(a: float, b: float) -> float:
    return (a - b) / b


def main(argv: list[str]) -> int:
    args = parse_arguments(argv)
    chosen = [name.strip() for name in args.contestants.split(",") if name.strip()]
    if not chosen or any(name not in CONTESTANTS for name in chosen):
        raise SystemExit(f"--contestants must be a subset of {', '.join(CONTESTANTS)}")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: this machine has no CUDA device visible to torch (torch.cuda.is_available() is False)")
    threads = args.threads or os.cpu_count() or 1
    environment = {"versions": versions(), "machine": machine(args.device)}
    print("versions: " + ", ".join(f"{key} {value}" for key, value in environment["versions"].items()))
    print("machine:  " + ", ".join(f"{key} {value}" for key, value in environment["machine"].items()))

    base_dir = prepare_model()
    model_dir = base_dir if args.model_shape == "smollm2-135m" else build_random_model(args.model_shape, base_dir)
    shape = model_shape(model_dir)
    rows, examples = tokenize_examples(model_dir, args.data, args.max_seq_len)
    order = training_order(len(examples), args.batch, args.steps, args.seed)
    expected = expected_steps(examples, order, args.batch)
    if "trl-best" in chosen and any(examples[index].truncated for index in order):
        raise SystemExit(
            f"some examples are longer than --max-seq-len {args.max_seq_len}; TRL's padding_free without packing "
            "cannot truncate them, so trl-best would train other tokens: raise --max-seq-len"
        )

    if args.report_only and not args.work_dir:
        raise SystemExit("--report-only needs the --work-dir of a finished run")
    work = Path(args.work_dir).resolve() if args.work_dir else Path(tempfile.mkdtemp(prefix="tunekit-bench-train-"))
    work.mkdir(parents=True, exist_ok=True)
    trl_data = work / "trl-train.jsonl"
    write_trl_dataset(rows, order, trl_data)
    print(
        f"model:    {model_dir.name} ({shape['parameters'] / 1e6:.1f}M parameters), {args.device}, LoRA r={args.rank} "
        f"alpha={2 * args.rank} dropout 0 all-linear, {args.steps} steps x {args.batch} examples, max_seq_len "
        f"{args.max_seq_len}, lr {args.learning_rate} cosine no warmup, seed {args.seed}, {threads} threads"
    )
    print(f"data:     {args.data}: {len(examples)} examples, lengths {min(len(e.input_ids) for e in examples)}-"
          f"{max(len(e.input_ids) for e in examples)} tokens; work dir {work}")

    results: dict[str, dict[str, Any]] = {}
    for name in chosen:
        if name == "tunekit":
            config = tunekit_spec(args, model_dir, work / "tunekit-run", threads, len(examples))
            result, rss, wall, stdout_path = run_child("tunekit", config, work, name, args.report_only)
            steps, resolved = tunekit_steps(stdout_path)
            result["trainable_parameter_count"] = resolved.get("trainable_parameter_count")
            result["settings"] = {
                "gradient_checkpointing": False,
                "packing": resolved["training"]["packing"],
                "micro_batch_size": resolved["training"]["micro_batch_size"],
                "precision": resolved["training"]["precision"],
            }
        else:
            config = trl_config(args, model_dir, trl_data, work / f"{name}-out", threads, best=name == "trl-best")
            result, rss, wall, _ = run_child("trl", config, work, name, args.report_only)
            steps = result["steps"]
        results[name] = {**result, "steps": steps, "peak_rss_bytes": rss, "process_wall_s": wall}

    # ---- fairness: identical trained tokens, step by step ----
    problems = []
    for name, result in results.items():
        counts = [step["trained"] for step in result["steps"]]
        if counts != [step["trained"] for step in expected]:
            problems.append(f"{name} trained {counts} tokens per step, expected {[s['trained'] for s in expected]}")
        if "processed" in result["steps"][0] and [s["processed"] for s in result["steps"]] != [s["processed"] for s in expected]:
            problems.append(f"{name} processed a different number of non-padding tokens per step than expected")
    trained_total = sum(step["trained"] for step in expected)
    processed_total = sum(step["processed"] for step in expected)
    sequence_lengths = [len(examples[index].input_ids) for index in order]

    # ---- figures ----
    peak = None
    if args.device == "cuda":
        peak = args.peak_tflops * 1e12 if args.peak_tflops else gpu_peak(environment["machine"]["gpu"])
    rows_out = []
    for name, result in results.items():
        elapsed = result["steps"][-1]["elapsed_s"]
        lora_parameters = result.get("trainable_parameter_count") or 0
        flops = training_flops(
            sequence_lengths, shape["matmul_parameters"], lora_parameters, shape["layers"], shape["attention_width"], "lora"
        )
        figures = {
            "name": name,
            "trained_tokens": sum(step["trained"] for step in result["steps"]),
            "train_loop_s": elapsed,
            "trained_tokens_per_s": trained_total / elapsed,
            # without the first step (allocator and kernel warm-up)
            "steady_trained_tokens_per_s": (
                sum(step["trained"] for step in result["steps"][1:]) / (elapsed - result["steps"][0]["elapsed_s"])
                if len(result["steps"]) > 1
                else None
            ),
            # median over steps of (trained tokens of the step / its time): robust to other load on a shared machine
            "median_step_trained_tokens_per_s": median_step_rate(result["steps"]),
            "processed_tokens_per_s": processed_total / elapsed,
            "peak_rss_bytes": result["peak_rss_bytes"],
            "cuda_max_memory_allocated_bytes": result.get("cuda_max_memory_allocated_bytes"),
            "first_loss": result["steps"][0]["train_loss"],
            "final_loss": result["steps"][-1]["train_loss"],
            "model_tflops_per_s": flops / elapsed / 1e12,
            "mfu": flops / elapsed / peak if peak else None,
            "settings": result.get("settings", {}),
            "losses": [step["train_loss"] for step in result["steps"]],
        }
        rows_out.append(figures)

    print()
    memory_label = "peak CUDA alloc" if args.device == "cuda" else "peak RSS"
    header = f"{'contestant':<12} {'trained tok/s':>13} {'steps 2+':>9} {'median step':>11} {'all tok/s':>10} {'loop s':>8} {memory_label + ' MiB':>20} {'loss step 1':>11} {'final loss':>10} {'TFLOP/s':>8}"
    if peak:
        header += f" {'MFU':>6}"
    print(header)
    for figures in rows_out:
        memory = figures["cuda_max_memory_allocated_bytes"] if args.device == "cuda" else figures["peak_rss_bytes"]
        line = (
            f"{figures['name']:<12} {figures['trained_tokens_per_s']:>13.1f} {figures['steady_trained_tokens_per_s'] or 0:>9.1f} "
            f"{figures['median_step_trained_tokens_per_s']:>11.1f} "
            f"{figures['processed_tokens_per_s']:>10.1f} "
            f"{figures['train_loop_s']:>8.2f} {memory / 2**20:>20.0f} {figures['first_loss']:>11.4f} "
            f"{figures['final_loss']:>10.4f} {figures['model_tflops_per_s']:>8.3f}"
        )
        if peak:
            line += f" {figures['mfu'] * 100:>5.1f}%"
        print(line)
    print(
        f"\ntrained tokens (assistant tokens with a previous token), every contestant, every step: "
        f"{trained_total} in total ({'equal' if not problems else 'NOT EQUAL'}); non-padding tokens processed: {processed_total}"
    )
    for problem in problems:
        print("  MISMATCH: " + problem)

    by_name = {figures["name"]: figures for figures in rows_out}
    ratios: dict[str, float] = {}
    if "tunekit" in by_name:
        tunekit = by_name["tunekit"]
        memory_key = "cuda_max_memory_allocated_bytes" if args.device == "cuda" else "peak_rss_bytes"
        for peer in ("trl-default", "trl-best"):
            if peer in by_name:
                other = by_name[peer]
                ratios[f"tokens_per_s_tunekit_over_{peer}"] = tunekit["trained_tokens_per_s"] / other["trained_tokens_per_s"]
                ratios[f"median_step_tokens_per_s_tunekit_over_{peer}"] = (
                    tunekit["median_step_trained_tokens_per_s"] / other["median_step_trained_tokens_per_s"]
                )
                ratios[f"peak_memory_tunekit_over_{peer}"] = tunekit[memory_key] / other[memory_key]
                ratios[f"final_loss_relative_difference_vs_{peer}"] = relative(tunekit["final_loss"], other["final_loss"])
        print()
        for key, value in ratios.items():
            print(f"{key:<52} {value * 100:+.4f}%" if "difference" in key else f"{key:<52} {value:.2f}x")
        if "trl-default" in by_name:
            speed = ratios["tokens_per_s_tunekit_over_trl-default"]
            loss = abs(ratios["final_loss_relative_difference_vs_trl-default"])
            print(
                f"\ntargets vs TRL default: tokens/s >= 1.5x: {'met' if speed >= 1.5 else 'NOT met'} ({speed:.2f}x); "
                f"final loss within 2%: {'met' if loss <= 0.02 else 'NOT met'} ({loss * 100:.4f}%)"
            )

    print("\nsettings that differ between contestants (everything else is the same, as listed above):")
    described = {figures["name"]: describe_settings(figures["name"], figures["settings"], args) for figures in rows_out}
    for key in next(iter(described.values())):
        values = [described[name][key] for name in described]
        if len(set(values)) > 1:
            print(f"  {key}:")
            for name in described:
                print(f"    {name:<12} {described[name][key]}")
    print(f"\nload average at end: {[round(value, 2) for value in os.getloadavg()]}")
    flops_formula = "LoRA: 4N + 6*N_lora + 12*L*d*s per non-padding token (N = matmul weights incl. LM head; s = example length)"
    print(f"model FLOPs: {flops_formula}; N = {shape['matmul_parameters'] / 1e6:.1f}M, L = {shape['layers']}, d = {shape['attention_width']}")

    if args.json_path:
        report = {
            **environment,
            "arguments": vars(args),
            "model": {"folder": str(model_dir), **shape},
            "flops_formula": flops_formula,
            "gpu_peak_flops": peak,
            "trained_tokens": trained_total,
            "processed_tokens": processed_total,
            "token_counts_equal": not problems,
            "contestants": rows_out,
            "ratios": ratios,
            "load_average_at_end": list(os.getloadavg()),
        }
        Path(args.json_path).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
