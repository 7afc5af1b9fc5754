"""The fork server (tunekit_worker/forkserver.py): a run forked from it is the same run, seen from
the supervisor, as one in its own process: events on the same stdout, the same exit status, the
same answer to SIGTERM; and a run it cannot take is run by the client itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import events_of, make_spec, parse_events, start_forkserver, write_spec

WORKER_ROOT = Path(__file__).resolve().parents[1]


def base_environment() -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if name != "TUNEKIT_FORKSERVER"}
    return {**environment, "PYTHONPATH": str(WORKER_ROOT), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    socket_path = str(tmp_path_factory.mktemp("forkserver") / "worker.sock")
    process, ready = start_forkserver(socket_path, base_environment())
    assert ready == {"forkserver": "ready", "pid": process.pid, "socket": socket_path}
    yield process, socket_path
    process.stdin.close()
    assert process.wait(timeout=30) == 0
    assert not os.path.exists(socket_path), "the server removes its socket when it ends"


def start_client(spec_path: Path, socket_path: str | None, **extra_environment: str) -> subprocess.Popen:
    environment = {**base_environment(), **extra_environment}
    if socket_path is not None:
        environment["TUNEKIT_FORKSERVER"] = socket_path
    return subprocess.Popen(
        [sys.executable, "-m", "tunekit_worker", "train", str(spec_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=spec_path.parent,
    )


def worker_children(server_pid: int) -> list[int]:
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_a_forked_run_equals_a_run_in_its_own_process(server, tiny_model, chat_data, tmp_path):
    process, socket_path = server
    train, valid = chat_data
    outcomes = {}
    for mode, socket in (("own process", None), ("forked", socket_path)):
        spec = make_spec(tiny_model, train, tmp_path / mode.replace(" ", "-"), valid, max_steps=4, device="cpu")
        client = start_client(write_spec(spec, tmp_path / f"{mode.replace(' ', '-')}.json"), socket)
        stdout, stderr = client.communicate(timeout=180)
        assert "running in this process" not in stderr
        outcomes[mode] = (client.returncode, parse_events(stdout))
    (own_code, own_events), (forked_code, forked_events) = outcomes["own process"], outcomes["forked"]
    assert own_code == forked_code == 0
    assert [event["type"] for event in forked_events] == [event["type"] for event in own_events]
    # the same seed, data and model: the same losses, step by step
    own_losses = [event["train_loss"] for event in events_of(own_events, "metrics")]
    forked_losses = [event["train_loss"] for event in events_of(forked_events, "metrics")]
    assert forked_losses == pytest.approx(own_losses, rel=1e-6)
    assert (tmp_path / "forked" / "adapter").is_dir()


def test_sigterm_to_the_client_cancels_the_forked_run_with_a_checkpoint(server, tiny_model, chat_data, tmp_path):
    process, socket_path = server
    train, _ = chat_data
    spec = make_spec(tiny_model, train, tmp_path / "run", max_steps=400, checkpoint_every=1000, device="cpu")
    client = start_client(write_spec(spec, tmp_path / "job.json"), socket_path)
    seen = []
    for line in client.stdout:
        seen.append(line)
        if json.loads(line)["type"] == "metrics":
            break
    assert len(worker_children(process.pid)) == 1, "the run is a child of the fork server"
    client.send_signal(signal.SIGTERM)
    rest, stderr = client.communicate(timeout=120)
    events = parse_events("".join(seen) + rest)
    (cancelled,) = events_of(events, "cancelled")
    assert Path(cancelled["checkpoint_path"]).is_dir()
    from tunekit_worker.events import ExitCode

    assert client.returncode == ExitCode.CANCELLED, stderr[-2000:]


def test_sigkill_of_the_client_kills_its_run(server, tiny_model, chat_data, tmp_path):
    process, socket_path = server
    train, _ = chat_data
    spec = make_spec(tiny_model, train, tmp_path / "run", max_steps=100_000, checkpoint_every=100_000, device="cpu")
    client = start_client(write_spec(spec, tmp_path / "job.json"), socket_path)
    for line in client.stdout:
        if json.loads(line)["type"] == "metrics":
            break
    (child,) = worker_children(process.pid)
    client.kill()
    assert client.wait(timeout=10) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while child in worker_children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child not in worker_children(process.pid), "a run whose client was killed is killed too"


def test_a_run_whose_import_time_environment_differs_runs_in_the_client(server, tiny_model, chat_data, tmp_path):
    process, socket_path = server
    train, _ = chat_data
    spec = make_spec(tiny_model, train, tmp_path / "run", max_steps=2, device="cpu")
    client = start_client(write_spec(spec, tmp_path / "job.json"), socket_path, HF_HUB_OFFLINE="1")
    stdout, stderr = client.communicate(timeout=180)
    assert "the fork server ran no child (import-time environment differs (HF_HUB_OFFLINE)); running in this process" in stderr
    assert client.returncode == 0
    assert events_of(parse_events(stdout), "done")


def test_no_server_at_the_socket_means_the_client_runs_the_job(tiny_model, chat_data, tmp_path):
    train, _ = chat_data
    spec = make_spec(tiny_model, train, tmp_path / "run", max_steps=2, device="cpu")
    client = start_client(write_spec(spec, tmp_path / "job.json"), str(tmp_path / "nobody.sock"))
    stdout, stderr = client.communicate(timeout=180)
    assert "is not answering" in stderr and "running in this process" in stderr
    assert client.returncode == 0
    assert events_of(parse_events(stdout), "done")


def test_which_environment_differences_refuse_a_run():
    from tunekit_worker.forkserver import import_time_environment, refusal, source_fingerprint, thread_setting

    server = {"PATH": "/usr/bin", "PYTHONPATH": "/w", "HF_HOME": "/hf"}
    own, fingerprint = import_time_environment(server), source_fingerprint()

    def request(**environment: str) -> dict:
        return {"argv": ["train", "job.json"], "cwd": "/", "env": {**server, **environment}, "fingerprint": fingerprint}

    # applied to the child (thread counts, unbuffered stdio) or torch's own default: forked
    assert refusal(request(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", TORCHINDUCTOR_CACHE_DIR="/tmp/x", PATH="/bin", JOB="7"), own, fingerprint) is None
    # read when the libraries are imported, or another sys.path: refused, with the names
    assert refusal(request(HF_HOME="/other", PYTHONPATH="/w:/tests"), own, fingerprint) == "import-time environment differs (HF_HOME, PYTHONPATH)"
    assert refusal({**request(), "fingerprint": [["/other-venv", "3.12"]]}, own, fingerprint).startswith("another Python")
    assert thread_setting({"OMP_NUM_THREADS": "2"}) == 2 and thread_setting({"MKL_NUM_THREADS": "3"}) == 3 and thread_setting({"OMP_NUM_THREADS": "x"}) is None


def test_a_client_that_vanishes_mid_handshake_leaves_the_server_serving(server, tiny_model, chat_data, tmp_path):
    import socket

    process, socket_path = server
    for attempt in range(6):
        # a request with its descriptors, and gone before the answer (a client killed while connecting)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as vanishing:
            vanishing.connect(socket_path)
            from tunekit_worker.forkserver import source_fingerprint

            # forked (a real request) or refused (another fingerprint): the answer finds nobody either way
            fingerprint = source_fingerprint() if attempt % 2 == 0 else None
            request = {"argv": ["count-tokens"], "env": base_environment(), "cwd": str(tmp_path), "pid": os.getpid(), "fingerprint": fingerprint}
            with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
                socket.send_fds(vanishing, [json.dumps(request).encode()], [null_in.fileno(), null_out.fileno(), null_out.fileno()])
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as garbage:
            garbage.connect(socket_path)
            garbage.send(b"not json")
    assert process.poll() is None, "the fork server is still running"
    train, _ = chat_data
    spec = make_spec(tiny_model, train, tmp_path / "run", max_steps=2, device="cpu")
    client = start_client(write_spec(spec, tmp_path / "job.json"), socket_path)
    stdout, stderr = client.communicate(timeout=180)
    assert client.returncode == 0 and "running in this process" not in stderr
    assert events_of(parse_events(stdout), "done")
