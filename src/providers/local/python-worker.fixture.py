"""A protocol fixture for python-worker.test.ts: a tiny process that speaks worker protocol v1
the way the real worker does (events on stdout, logs on stderr, contract exit codes) so the
supervisor's outcome mapping is tested against real child processes. Not a training engine.

usage: python python-worker.fixture.py MODE SPEC_PATH
"""
import json
import os
import signal
import sys
import time

mode, spec_path = sys.argv[1], sys.argv[2]
spec = json.load(open(spec_path))
run_dir = spec["run_dir"]


def emit(event):
    event = {"v": 1, "time": time.time(), **event}
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


emit({"type": "started", "run_dir": run_dir, "pid": os.getpid(), "device": "cpu", "world_size": 1, "resumed_from": spec.get("resume_from")})
log("fixture worker starting in mode " + mode)

if mode == "done":
    emit({"type": "metrics", "step": 1, "total_steps": 1, "epoch": 1.0, "train_loss": 1.5, "train_mean_token_accuracy": 0.5,
          "learning_rate": 0.001, "grad_norm": 0.9, "tokens_per_second": 100.0, "trained_tokens_seen": 64, "elapsed_s": 0.1})
    emit({"type": "done", "adapter_path": os.path.join(run_dir, "adapter"), "merged_path": None,
          "summary": {"trained_tokens": 64, "train_runtime_s": 0.1, "tokens_per_second": 640.0, "steps": 1,
                      "final_train_loss": 1.5, "final_valid_loss": None, "final_valid_mean_token_accuracy": None}})
    sys.exit(0)
if mode == "done-then-killed":
    emit({"type": "done", "adapter_path": os.path.join(run_dir, "adapter"), "merged_path": None,
          "summary": {"trained_tokens": 64, "train_runtime_s": 0.1, "tokens_per_second": 640.0, "steps": 1,
                      "final_train_loss": 1.5, "final_valid_loss": None, "final_valid_mean_token_accuracy": None}})
    os.kill(os.getpid(), signal.SIGSEGV)
if mode == "exit0-without-done":
    sys.exit(0)
if mode == "failed":
    log("Traceback (most recent call last):\nRuntimeError: something broke")
    sys.exit(1)
if mode == "bad_config":
    emit({"type": "error", "code": "bad_config", "message": "`model` is not a model folder", "field": "model"})
    sys.exit(2)
if mode == "diverged":
    emit({"type": "error", "code": "nan_loss", "message": "loss became NaN at step 3"})
    sys.exit(4)
if mode == "malformed":
    sys.stdout.write("this is not json\n")
    sys.stdout.write('{"v":1,"type":"metrics","step":"one"}\n')
    sys.stdout.flush()
    emit({"type": "log", "level": "info", "message": "still alive"})
    sys.exit(1)
if mode == "sigkill":
    for index in range(80):
        log(f"stderr line {index}")
    log("about to die")
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "cancellable":
    # the real worker's cancel path: on SIGTERM write a checkpoint, report it, exit 3
    def on_term(signum, frame):
        checkpoint = os.path.join(run_dir, "checkpoints", "step-000002")
        os.makedirs(checkpoint, exist_ok=True)
        emit({"type": "checkpoint", "step": 2, "epoch": 0.5, "path": checkpoint, "metrics": {"train_loss": 1.25}})
        emit({"type": "cancelled", "step": 2, "checkpoint_path": checkpoint})
        sys.exit(3)
    signal.signal(signal.SIGTERM, on_term)
    emit({"type": "log", "level": "info", "message": "ready"})
    while True:
        time.sleep(0.05)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    emit({"type": "log", "level": "info", "message": "ready"})
    while True:
        time.sleep(0.05)
log("unknown mode " + mode)
sys.exit(1)
