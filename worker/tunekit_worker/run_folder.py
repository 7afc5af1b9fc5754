"""The run folder a job's worker writes, version 1: its names and the one rule for a complete
checkpoint. The TypeScript side is src/spec/run-folder.ts; test/run-folder-contract.test.ts checks
that both sides agree.

    <run_dir>/job.json, events.jsonl, worker.log, event-journal.jsonl, owner.json,
    checkpoints/step-NNNNNN/ (trainer_state.json, optimizer.pt, scheduler.pt, rng.pt, *.safetensors),
    adapter/, merged/, export/, summary.json
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

JOB_FILE = "job.json"
EVENTS_FILE = "events.jsonl"
WORKER_LOG_FILE = "worker.log"
JOURNAL_FILE = "event-journal.jsonl"
RETIRED_JOURNAL_FILE = "event-journal.previous.jsonl"
OWNER_FILE = "owner.json"
SUMMARY_FILE = "summary.json"
# written by the cluster backend (src/providers/cluster): the ranks stop after a checkpoint when it exists
STOP_REQUEST_FILE = "stop-request.json"

CHECKPOINTS_DIR = "checkpoints"
ADAPTER_DIR = "adapter"
MERGED_DIR = "merged"
EXPORT_DIR = "export"

ADAPTER_CONFIG_FILE = "adapter_config.json"

# written into step-NNNNNN.tmp, trainer_state.json last, then the folder is renamed into place
TRAINER_STATE = "trainer_state.json"
OPTIMIZER_STATE = "optimizer.pt"
SCHEDULER_STATE = "scheduler.pt"
RNG_STATE = "rng.pt"
CHECKPOINT_FILES = (TRAINER_STATE, OPTIMIZER_STATE, SCHEDULER_STATE, RNG_STATE)
# written last, once the folder is in place and its files are fsynced: {"step": N, "files": {name: bytes}}.
# On shared storage (NFS, Lustre) a reader on another node may see the folder before its files; the
# marker says which files, at which sizes, make the checkpoint.
COMPLETE_MARKER = "checkpoint-complete.json"

_STEP_NAME = re.compile(r"^step-(\d+)$")


def checkpoint_folder_name(step: int) -> str:
    return f"step-{step:06d}"


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR / checkpoint_folder_name(step)


def checkpoint_step(name: str) -> int | None:
    """`step-000050` -> 50; None for anything else (`step-000050.tmp`)."""
    match = _STEP_NAME.match(name)
    return int(match.group(1)) if match else None


def _non_empty_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def completion_marker(path: Path, step: int) -> dict[str, Any]:
    """What COMPLETE_MARKER records for the checkpoint folder `path`: its step and every file's size."""
    files = {entry.name: entry.stat().st_size for entry in sorted(path.iterdir()) if entry.is_file() and entry.name != COMPLETE_MARKER}
    return {"step": step, "files": files}


def _marker_matches(path: Path, step: int) -> bool:
    marker = json.loads((path / COMPLETE_MARKER).read_text(encoding="utf-8"))
    if not isinstance(marker, dict) or marker.get("step") != step or not isinstance(marker.get("files"), dict):
        return False
    for name, size in marker["files"].items():
        if "/" in name or (path / name).stat().st_size != size:
            return False
    return True


def read_complete_checkpoint(path: str | Path, step: int) -> dict[str, Any] | None:
    """The one rule for a complete checkpoint: a folder `checkpoints/step-NNNNNN` (not a `.tmp`
    staging folder) with its completion marker (checkpoint-complete.json, written last, naming step
    NNNNNN and every file at its size), whose trainer_state.json reads back as JSON naming step
    NNNNNN, and whose optimizer, scheduler and RNG states and at least one safetensors file are
    present and not empty. Returns its trainer state, or None when `path` is not a complete
    checkpoint."""
    path = Path(path)
    try:
        if not path.is_dir() or not _marker_matches(path, step):
            return None
        if not all(_non_empty_file(path / name) for name in CHECKPOINT_FILES):
            return None
        if not any(_non_empty_file(file) for file in path.iterdir() if file.name.endswith(".safetensors")):
            return None
        state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable: not a checkpoint to resume from
    recorded = state.get("step") if isinstance(state, dict) else None
    if isinstance(recorded, bool) or not isinstance(recorded, (int, float)) or recorded != step:
        return None
    return state


def complete_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of the run folder's complete checkpoints, oldest first."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        step = checkpoint_step(entry.name)
        if step is not None and read_complete_checkpoint(entry, step) is not None:
            found.append((step, entry))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint (highest step), or None."""
    found = complete_checkpoints(run_dir)
    return found[-1][1] if found else None
