"""The Ray backend's job entrypoint: Ray Train runs the worker's training loop on N workers.

    python -m tunekit_worker ray-train SPEC.json --num-workers 2 --cpus-per-worker 1
        [--gpus-per-worker 0] [--placement-strategy STRICT_SPREAD]

Tunekit submits this command through the Ray Jobs API (src/providers/ray/ray-engine.ts). It runs
as the job's driver; `TorchTrainer` places one worker per ScalingConfig slot, sets up the torch
process group (gloo on CPU, NCCL with GPUs; GLOO_SOCKET_IFNAME/NCCL_SOCKET_IFNAME come from the
job's runtime env) and calls `train_loop` on every worker. The loop is the same `run_training`
torchrun calls, told its rank through the usual environment variables, so one recipe serves a
laptop, a torchrun node and a Ray cluster.

Ray's own retries stay off (FailureConfig(max_failures=0)): when a node is lost the attempt fails,
and Tunekit's server starts the next attempt from the newest marked checkpoint, which it knows
from the run folder on shared storage. The driver exits with rank 0's exit code (passed in a
file next to the job spec: Ray Train keeps only metrics reported with a checkpoint).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def train_loop(config: dict) -> None:
    """One Ray Train worker: rank layout into the environment, then the ordinary training recipe."""
    import ray
    import ray.train

    context = ray.train.get_context()
    os.environ["RANK"] = str(context.get_world_rank())
    os.environ["LOCAL_RANK"] = str(context.get_local_rank())
    os.environ["WORLD_SIZE"] = str(context.get_world_size())
    os.environ["LOCAL_WORLD_SIZE"] = str(context.get_local_world_size())
    os.environ["TUNEKIT_NODE_ID"] = ray.get_runtime_context().get_node_id()

    from .train import run_training

    code = run_training(config["spec"])
    if context.get_world_rank() == 0:
        # the driver exits with rank 0's code (a cancelled run is 3, not a failure of Ray's)
        Path(config["exit_file"]).write_text(f"{code}\n")
    if code != 0:
        raise SystemExit(code)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tunekit_worker ray-train")
    parser.add_argument("spec")
    parser.add_argument("--num-workers", type=int, required=True)
    parser.add_argument("--cpus-per-worker", type=float, default=1.0)
    parser.add_argument("--gpus-per-worker", type=float, default=0.0)
    parser.add_argument("--placement-strategy", default="SPREAD", choices=["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"])
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    from .events import EventWriter, ExitCode

    arguments = parse_arguments(argv)
    try:
        import ray
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer
    except ImportError as error:
        message = f"Ray Train is not installed for {sys.executable} ({error}); install ray[default,train] on the cluster's nodes"
        EventWriter().emit("error", code="bad_config", message=message, field="execution.ray.python")
        return ExitCode.BAD_CONFIG

    spec = Path(arguments.spec).resolve()  # <run_dir>/job.json, on storage every node reads
    use_gpu = arguments.gpus_per_worker > 0
    resources = {"CPU": arguments.cpus_per_worker}
    if use_gpu:
        resources["GPU"] = arguments.gpus_per_worker
    exit_file = spec.parent / "ray" / f"exit-code-{os.getpid()}-{time.time_ns()}"
    exit_file.parent.mkdir(parents=True, exist_ok=True)
    ray.init(address="auto", log_to_driver=True)
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={"spec": str(spec), "exit_file": str(exit_file)},
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=arguments.num_workers,
            use_gpu=use_gpu,
            resources_per_worker=resources,
            placement_strategy=arguments.placement_strategy,
        ),
        run_config=RunConfig(
            name="ray-train",
            storage_path=str(spec.parent / "ray"),
            failure_config=FailureConfig(max_failures=0),
        ),
    )
    try:
        trainer.fit()
    except Exception as error:  # TrainingFailedError: a worker exited non-zero, raised, or its node was lost
        print(f"tunekit: Ray Train ended with an error: {error}", file=sys.stderr)
    try:
        return int(exit_file.read_text().strip())
    except (OSError, ValueError):
        return ExitCode.FAILED  # rank 0 never finished: a lost node, a killed rank
    finally:
        exit_file.unlink(missing_ok=True)
