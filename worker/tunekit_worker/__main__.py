"""Entry points (PYTHONPATH=<repo>/worker):

python -m tunekit_worker train SPEC.json
python -m tunekit_worker count-tokens MODEL DATA.jsonl [MAX_SEQ_LEN]
python -m tunekit_worker generate MODEL DATA.jsonl [--adapter DIR] [--limit N]
python -m tunekit_worker export RUN_DIR --format hf|gguf|ollama --out DIR [--quant f16]
python -m tunekit_worker convert-gguf MODEL OUT.gguf [--quant f32]
python -m tunekit_worker serve            (JSON Lines requests on stdin)
python -m tunekit_worker ray-train SPEC.json --num-workers N ...  (a Ray job's driver: ray_train.py)
python -m tunekit_worker plan SPEC.json   (data, resolved hyperparameters, steps, memory: no training)
python -m tunekit_worker forkserver SOCKET (torch and transformers imported once; every command above
                                          forks from it when TUNEKIT_FORKSERVER=SOCKET: forkserver.py)
"""

from __future__ import annotations

import os
import sys

USAGE = "usage: python -m tunekit_worker train SPEC.json | count-tokens MODEL DATA.jsonl [MAX_SEQ_LEN]"


def main(argv: list[str]) -> int:
    socket_path = os.environ.get("TUNEKIT_FORKSERVER")
    # through the fork server when there is one (forkserver.py); the ranks of a torchrun launch and a
    # Ray Train driver (whose ranks are Ray's actors) stay processes of their own
    own_process = argv[:1] in (["forkserver"], ["ray-train"]) or "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ
    if socket_path and not own_process:
        if argv[:1] == ["train"]:
            stop_with_parent()
        from .forkserver import run_through_server

        code = run_through_server(socket_path, argv)
        if code is not None:
            exit_now(code)
    if len(argv) >= 1 and argv[0] == "generate":
        from .generate import main as generate_main

        return generate_main(argv[1:])
    if len(argv) >= 1 and argv[0] in ("export", "convert-gguf"):
        from .export import convert_main, export_main

        return (export_main if argv[0] == "export" else convert_main)(argv[1:])
    if len(argv) >= 1 and argv[0] == "serve":
        from .serve import main as serve_main

        return serve_main(argv[1:])
    if len(argv) >= 1 and argv[0] == "plan":
        from .plan import main as plan_main

        return plan_main(argv[1:])
    if len(argv) >= 1 and argv[0] == "ray-train":
        from .ray_train import main as ray_train_main

        return ray_train_main(argv[1:])
    if len(argv) >= 1 and argv[0] == "forkserver":
        from .forkserver import main as forkserver_main

        return forkserver_main(argv[1:])
    if len(argv) >= 1 and argv[0] == "count-tokens":
        from .count_tokens import main as count_tokens_main

        return count_tokens_main(argv[1:])
    if len(argv) != 2 or argv[0] != "train":
        from .events import EventWriter, ExitCode

        EventWriter().emit("error", code="bad_config", message=f"bad arguments {argv}; {USAGE}", field="argv")
        print(USAGE, file=sys.stderr)
        return ExitCode.BAD_CONFIG
    stop_with_parent()
    from .train import run_training

    code = run_training(argv[1])
    exit_now(code)
    return code  # not reached


def exit_now(code: int) -> None:
    """End the process without Python's shutdown: with torch and transformers loaded, tearing down
    modules takes ~0.8 s, a third of a tiny job's life. Everything is already written: the outputs
    and checkpoints are closed, the event journal fsynced; only stdio buffers need a flush."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass
    os._exit(code)


def stop_with_parent() -> None:
    """Ask Linux to send SIGTERM when the supervisor dies (even by SIGKILL): the worker then writes a
    checkpoint and exits like a cancelled run instead of training on as an orphan."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    parent = os.getppid()
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
