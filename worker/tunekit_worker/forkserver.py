"""A fork server for the worker's commands: torch, transformers and peft imported once.

A tiny job on a CPU spends most of its life importing libraries (about 3 s of torch, transformers
and peft on a 2-core machine, against a second of training). `tunekit server` starts one fork
server per Python environment:

    python -m tunekit_worker forkserver SOCKET

It imports the training stack, then forks one child per run. The supervisor still spawns the
usual `python -m tunekit_worker train SPEC.json` (or `serve`, `export`, `plan` ...), with
TUNEKIT_FORKSERVER=SOCKET in its environment: that process (the client, below) sends its stdin, stdout and stderr, its arguments,
its environment and its working folder over the socket and proxies the run. The child takes them
over, so its events reach the supervisor on the same pipe as before. The client forwards the
signals it gets (SIGTERM, SIGINT, SIGHUP) to the child and exits with the child's exit status,
signals included, so the supervisor cannot tell the two apart: cancel, pause, the /proc scan of
recovery and the exit-code table all see the process they spawned.

When the client dies without forwarding (SIGKILL), the server SIGKILLs the child: the run ends
exactly as if the worker itself had been killed. When the server dies, its children get SIGTERM
(PR_SET_PDEATHSIG) and stop like a cancelled run.

A run is forked only when every environment variable that the preloaded libraries read at import
time (HF_*, TRANSFORMERS_*, TORCH*, PYTORCH_*, CUDA_*, OMP_*, MKL_*, PYTHON*) equals
the server's (the thread counts and PYTHONUNBUFFERED are applied to the child instead), and the
worker's own source files are those it loaded; otherwise the server
refuses and the client runs the job itself, in its own process, as it would without a server.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

ENV_VAR = "TUNEKIT_FORKSERVER"
# the variables that the preloaded libraries read when they are imported
IMPORT_TIME_PREFIXES = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TORCH", "PYTORCH_", "CUDA_", "NVIDIA_", "OMP_", "MKL_", "PYTHON", "ACCELERATE_", "PEFT_")
# read after start-up, and applied to the child (its stdio is opened anew): no reason to refuse a run
# (OMP_NUM_THREADS and MKL_NUM_THREADS become torch.set_num_threads; TORCHINDUCTOR_CACHE_DIR is torch's
# own default, which a client forked from a Python that imported torch carries)
RUN_TIME_VARIABLES = ("PYTHONUNBUFFERED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCHINDUCTOR_CACHE_DIR")
MAX_MESSAGE = 1 << 20
# in a forked child: the pid of the client, the process the supervisor started and signals
_client_pid: int | None = None
# torch's intra-op threads for a client that sets neither OMP_NUM_THREADS nor MKL_NUM_THREADS
_default_threads = 1
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def worker_pid() -> int:
    """The pid the supervisor knows this run by (events name it): the client's when forked."""
    return _client_pid if _client_pid is not None else os.getpid()


def import_time_environment(environment: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in environment.items() if name.startswith(IMPORT_TIME_PREFIXES) and name not in RUN_TIME_VARIABLES}


def thread_setting(environment: dict[str, str] | os._Environ) -> int | None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = environment.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def source_fingerprint() -> list[list[object]]:
    """The Python and the worker's own modules as loaded (name, size, mtime): another venv or a
    changed file means a process of its own."""
    package = Path(__file__).resolve().parent
    return [[sys.prefix, sys.version], *([path.name, stat.st_size, stat.st_mtime_ns] for path in sorted(package.glob("*.py")) for stat in [path.stat()])]


# ---- the server ---------------------------------------------------------------------------------


def preload() -> None:
    """What every training run imports: paid once here instead of once per run."""
    import peft  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
    from transformers.models.llama import modeling_llama  # noqa: F401

    from . import train  # noqa: F401


def serve_forever(socket_path: str) -> int:
    """Accept runs until stdin closes (the supervisor's end of the pipe) or SIGTERM."""
    from .__main__ import stop_with_parent

    stop_with_parent()
    # the environment as started: importing torch adds variables of its own (TORCHINDUCTOR_CACHE_DIR)
    own_environment = import_time_environment(dict(os.environ))
    preload()
    global _default_threads
    import torch

    _default_threads = len(os.sched_getaffinity(0)) if thread_setting(os.environ) else torch.get_num_threads()
    fingerprint = source_fingerprint()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(64)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    children: dict[int, socket.socket] = {}  # child pid -> its client's connection
    print(json.dumps({"forkserver": "ready", "pid": os.getpid(), "socket": socket_path}), flush=True)
    try:
        while not stopping:
            watched = [listener, sys.stdin, *children.values()]
            readable, _, _ = select.select(watched, [], [], 0.05)
            if sys.stdin in readable and not sys.stdin.buffer.read1(4096):
                break  # the supervisor closed our stdin: it is shutting down
            if listener in readable:
                connection, _ = listener.accept()
                try:
                    child = accept_run(connection, own_environment, fingerprint, [listener, *children.values()])
                except Exception as error:  # one client's trouble never ends the server
                    print(f"forkserver: a request failed ({type(error).__name__}: {error})", file=sys.stderr, flush=True)
                    child = None
                if child is None:
                    connection.close()
                else:
                    children[child] = connection
            for pid, connection in list(children.items()):
                if connection in readable and not receive_quietly(connection):
                    # the client is gone without a word (SIGKILL): so is its run
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            reap(children)
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while children and time.monotonic() < deadline:
            reap(children)
            time.sleep(0.05)
    return 0


def accept_run(connection: socket.socket, own_environment: dict[str, str], fingerprint: list[list[object]], others: list[socket.socket]) -> int | None:
    """Read one run request; fork its child, or refuse it (the client then runs the job itself)."""
    try:
        message, fds, _, _ = socket.recv_fds(connection, MAX_MESSAGE, 3)
        request = json.loads(message)
    except (OSError, ValueError) as error:
        print(f"forkserver: unreadable request ({error})", file=sys.stderr, flush=True)
        return None
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            send(connection, {"refused": "the request did not carry stdin, stdout and stderr"})
        return None
    reason = refusal(request, own_environment, fingerprint)
    if reason is not None:
        for fd in fds:
            os.close(fd)
        print(f"forkserver: ran no child for {' '.join(map(str, request.get('argv', [])))[:200]}: {reason}", file=sys.stderr, flush=True)
        with contextlib.suppress(OSError):
            send(connection, {"refused": reason})
        return None
    pid = os.fork()
    if pid == 0:
        for other in [connection, *others]:
            other.close()
        run_child(request, fds)  # never returns
    for fd in fds:
        os.close(fd)
    try:
        send(connection, {"pid": pid})
    except OSError:
        # the client died before it learnt the pid (killed while connecting): so does its run
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None
    print(json.dumps({"forked": pid, "command": str(request["argv"][0]) if request["argv"] else None}), flush=True)
    return pid


def refusal(request: dict, own_environment: dict[str, str], fingerprint: list[list[object]]) -> str | None:
    environment = request.get("env")
    if not isinstance(environment, dict) or not isinstance(request.get("argv"), list) or not isinstance(request.get("cwd"), str):
        return "the request needs argv, env and cwd"
    theirs = import_time_environment(environment)
    if theirs != own_environment:
        differing = sorted(name for name in set(theirs) | set(own_environment) if theirs.get(name) != own_environment.get(name))
        return f"import-time environment differs ({', '.join(differing)})"
    if request.get("fingerprint") != fingerprint:
        return "another Python, or the worker's source files changed since the fork server loaded them"
    return None


def run_child(request: dict, fds: list[int]) -> None:
    """In the forked child: become the client's process (stdio, environment, folder), then run."""
    global _client_pid
    code = 1
    try:
        _client_pid = int(request["pid"]) if isinstance(request.get("pid"), int) else None
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # fds 0-2 live as long as the process
        unbuffered = bool(request["env"].get("PYTHONUNBUFFERED"))
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1 if unbuffered else -1)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)
        if unbuffered:
            sys.stdout.reconfigure(write_through=True)
            sys.stderr.reconfigure(write_through=True)
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.pop(ENV_VAR, None)  # the child runs the job itself
        os.chdir(request["cwd"])
        import torch

        torch.set_num_threads(thread_setting(request["env"]) or _default_threads)
        sys.argv = ["tunekit_worker", *request["argv"]]
        from .__main__ import main

        code = main(request["argv"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # the child must never return into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BrokenPipeError, ValueError, OSError):
                stream.flush()
        os._exit(code)


def reap(children: dict[int, socket.socket]) -> None:
    """Collect ended children and tell each client how its run ended."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is None:
            continue
        ended = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.waitstatus_to_exitcode(status)}
        with contextlib.suppress(OSError):
            send(connection, ended)
        connection.close()


def receive_quietly(connection: socket.socket) -> bytes:
    """What a client sent; empty once it is gone (closed or reset)."""
    try:
        return connection.recv(16)
    except OSError:
        return b""


def send(connection: socket.socket, message: dict) -> None:
    connection.send(json.dumps(message).encode())


# ---- the client ---------------------------------------------------------------------------------


def run_through_server(socket_path: str, argv: list[str]) -> int | None:
    """Run `argv` in a child of the fork server and proxy it; None when the server is not there or
    refuses (then the caller runs the job in this process)."""
    child: int | None = None
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if child is None:
            pending.append(signum)  # the child is not there yet: it gets the signal once it is
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(socket_path)
        request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "pid": os.getpid(), "fingerprint": source_fingerprint()}
        socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
        first = json.loads(connection.recv(MAX_MESSAGE) or b"{}")
    except (OSError, ValueError) as error:
        connection.close()
        restore_signals(previous, pending)
        print(f"note: the fork server at {socket_path} is not answering ({error}); running in this process", file=sys.stderr, flush=True)
        return None
    if "pid" not in first:
        connection.close()
        restore_signals(previous, pending)
        print(f"note: the fork server ran no child ({first.get('refused', 'no reason given')}); running in this process", file=sys.stderr, flush=True)
        return None
    child = int(first["pid"])
    for signum in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)
    while True:
        try:
            message = connection.recv(MAX_MESSAGE)
            break
        except InterruptedError:
            continue
    ended = json.loads(message) if message else {}
    if "signal" in ended:
        signal.signal(ended["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), ended["signal"])
        time.sleep(1)  # the signal ends us here
    if "exit" in ended:
        return int(ended["exit"])
    print("worker: the fork server ended before the run did", file=sys.stderr, flush=True)
    return 1


def restore_signals(previous: dict, pending: list[int]) -> None:
    """Back to the handlers from before the handshake; a signal that came during it is raised now."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    for signum in pending:
        os.kill(os.getpid(), signum)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tunekit_worker forkserver SOCKET", file=sys.stderr)
        return 2
    return serve_forever(argv[0])
