"""The worker's event journal (<run_dir>/event-journal.jsonl): every event it emits is also appended
there, so that what it does after its supervisor died (SIGTERM from PR_SET_PDEATHSIG, checkpoint,
exit 3) still reaches a server that starts again."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import make_spec, worker_environment, write_spec

from tunekit_worker.events import JOURNAL_FILE, EventWriter, parse_event_line


def journal_events(run_dir: Path) -> list[dict]:
    return [parse_event_line(line) for line in (run_dir / JOURNAL_FILE).read_text().splitlines() if line.strip()]


class PipeThatBreaks(io.StringIO):
    """A stdout whose reader goes away after `lines` lines."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.lines_left = lines

    def write(self, text: str) -> int:
        if self.lines_left == 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.lines_left -= 1
        return super().write(text)


def test_every_event_goes_to_stdout_and_the_journal_and_the_journal_outlives_a_broken_pipe(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # the writer swaps stderr for devnull when the pipe breaks
    stream = PipeThatBreaks(lines=2)
    writer = EventWriter(stream)
    writer.emit("log", level="info", message="before the journal")  # not journaled: no run dir yet
    writer.open_journal(tmp_path)
    writer.emit(
        "metrics",
        step=1,
        total_steps=3,
        epoch=0.3,
        train_loss=2.5,
        train_mean_token_accuracy=0.1,
        learning_rate=1e-3,
        grad_norm=1.0,
        tokens_per_second=10.0,
        trained_tokens_seen=12,
        elapsed_s=0.5,
    )
    writer.emit("checkpoint", step=1, epoch=0.3, path=str(tmp_path / "checkpoints" / "step-000001"), metrics={"train_loss": 2.5})
    writer.emit("cancelled", step=1, checkpoint_path=str(tmp_path / "checkpoints" / "step-000001"))
    writer.close()

    stdout_types = [json.loads(line)["type"] for line in stream.getvalue().splitlines()]
    assert stdout_types == ["log", "metrics"]
    assert not writer.stream_open
    assert [event["type"] for event in journal_events(tmp_path)] == ["metrics", "checkpoint", "cancelled"]


def test_a_line_cut_by_a_kill_does_not_swallow_the_next_one(tmp_path) -> None:
    (tmp_path / JOURNAL_FILE).write_text('{"v":1,"type":"log","level":"info","message":"whole"}\n{"v":1,"type":"metr')
    writer = EventWriter(io.StringIO())
    writer.open_journal(tmp_path)
    writer.emit("log", level="info", message="after the cut")
    writer.close()
    lines = (tmp_path / JOURNAL_FILE).read_text().splitlines()
    assert lines[1] == '{"v":1,"type":"metr'
    assert json.loads(lines[2])["message"] == "after the cut"


def test_ranks_other_than_zero_write_no_journal(tmp_path) -> None:
    writer = EventWriter(io.StringIO(), enabled=False)
    writer.open_journal(tmp_path)
    writer.emit("log", level="info", message="rank 1")
    assert not (tmp_path / JOURNAL_FILE).exists()


# a supervisor that reads the worker's stdout until step 2, then dies by SIGKILL like a killed server
SUPERVISOR = """
import os, signal, subprocess, sys, json
worker = subprocess.Popen([sys.executable, "-m", "tunekit_worker", "train", sys.argv[1]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
print(worker.pid, flush=True)
for line in worker.stdout:
    if json.loads(line).get("type") == "metrics" and json.loads(line)["step"] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
"""


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie has exited; only its parent's wait is missing


def test_after_the_supervisor_is_killed_the_worker_checkpoints_exits_and_journals_it(tmp_path, chat_data, tiny_model) -> None:
    if not sys.platform.startswith("linux"):
        return  # PR_SET_PDEATHSIG is Linux only
    train, _ = chat_data
    run_dir = tmp_path / "run"
    spec = make_spec(tiny_model, train, run_dir, epochs=50, checkpoint_every=100, eval_every=100)
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(write_spec(spec, tmp_path / "job.json"))],
        stdout=subprocess.PIPE,
        text=True,
        env=worker_environment(),
    )
    worker_pid = int(supervisor.stdout.readline())
    supervisor.wait(timeout=120)
    assert supervisor.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 60
    while not process_gone(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(worker_pid), "the worker outlived its supervisor"

    events = journal_events(run_dir)
    types = [event["type"] for event in events]
    assert types[0] == "started" and events[0]["pid"] == worker_pid
    steps = [event["step"] for event in events if event["type"] == "metrics"]
    assert steps == list(range(1, len(steps) + 1)) and steps[-1] >= 2
    # what the worker did after nobody read its stdout: the checkpoint SIGTERM asked for, then `cancelled`
    assert types[-2:] == ["checkpoint", "cancelled"]
    cancelled = events[-1]
    assert cancelled["step"] == steps[-1]
    assert cancelled["checkpoint_path"] == events[-2]["path"] == str(run_dir / "checkpoints" / f"step-{steps[-1]:06d}")
    assert (Path(cancelled["checkpoint_path"]) / "trainer_state.json").exists()
