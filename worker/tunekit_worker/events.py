"""Worker protocol v1: the Python mirror of `src/spec/worker-events.ts`.

The worker writes one JSON object per line on stdout (and nothing else); human logs go to stderr.
Each event type is described once here as a table of fields, and `validate_event` checks a parsed
line against it with the same rules as the zod schemas on the TypeScript side (unknown keys are
allowed, as zod's default object strips them; integers may be written as 3 or 3.0; NaN and
infinity are not numbers). The contract test feeds the shared fixtures to this function.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from . import run_folder

PROTOCOL_VERSION = 1


class ExitCode:
    """Exit codes are part of the contract (`WorkerExitCode` in worker-events.ts)."""

    DONE = 0
    FAILED = 1
    BAD_CONFIG = 2
    CANCELLED = 3
    DIVERGED = 4


# ---- field kinds ------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()


@dataclass(frozen=True)
class Field:
    """One field of an event: a check, a description of it for error messages, and flags."""

    check: Callable[[Any], str | None]
    optional: bool = False
    nullable: bool = False


def _kind(test: Callable[[Any], bool], expected: str) -> Callable[[Any], str | None]:
    return lambda value: None if test(value) else f"expected {expected}, got {json.dumps(value)}"


NUMBER = _kind(_is_number, "a finite number")
INT = _kind(_is_int, "an integer")
STRING = _kind(lambda value: isinstance(value, str), "a string")
BOOLEAN = _kind(lambda value: isinstance(value, bool), "a boolean")
UNKNOWN_RECORD = _kind(lambda value: isinstance(value, dict), "an object")
NUMBER_RECORD = _kind(
    lambda value: isinstance(value, dict) and all(_is_number(item) for item in value.values()),
    "an object of finite numbers",
)


def _int_at_least(minimum: int) -> Callable[[Any], str | None]:
    return _kind(lambda value: _is_int(value) and value >= minimum, f"an integer >= {minimum}")


def _literal_one_of(*choices: str) -> Callable[[Any], str | None]:
    return _kind(lambda value: value in choices, "one of " + ", ".join(choices))


def _object(fields: dict[str, Field]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"expected an object, got {json.dumps(value)}"
        problems = _check_fields(value, fields)
        return "; ".join(problems) if problems else None

    return check


def _list_of(item: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"expected a list, got {json.dumps(value)}"
        problems = [f"[{index}]: {problem}" for index, entry in enumerate(value) if (problem := item(entry))]
        return "; ".join(problems) if problems else None

    return check


SUMMARY_FIELDS = {
    "trained_tokens": Field(INT),
    "train_runtime_s": Field(NUMBER),
    "tokens_per_second": Field(NUMBER),
    "steps": Field(INT),
    "final_train_loss": Field(NUMBER, nullable=True),
    "final_valid_loss": Field(NUMBER, nullable=True),
    "final_valid_mean_token_accuracy": Field(NUMBER, nullable=True),
}

BASE_FIELDS = {
    "v": Field(_kind(lambda value: value == 1 and not isinstance(value, bool), "1")),
    "time": Field(NUMBER, optional=True),
}

EVENT_FIELDS: dict[str, dict[str, Field]] = {
    "started": {
        "run_dir": Field(STRING),
        "pid": Field(INT),
        "device": Field(STRING),
        "world_size": Field(_int_at_least(1)),
        "resumed_from": Field(STRING, nullable=True),
        "nodes": Field(
            _list_of(_object({"rank": Field(_int_at_least(0)), "host": Field(STRING), "node_id": Field(STRING, nullable=True)})),
            optional=True,
        ),
    },
    "config": {"resolved": Field(UNKNOWN_RECORD)},
    "data": {
        "train_examples": Field(INT),
        "valid_examples": Field(INT),
        "train_tokens": Field(INT),
        "trained_tokens": Field(INT),
        "truncated_examples": Field(INT),
        "sequences": Field(INT),
        "steps_per_epoch": Field(INT),
        "total_steps": Field(INT),
    },
    "metrics": {
        "step": Field(INT),
        "total_steps": Field(INT),
        "epoch": Field(NUMBER),
        "train_loss": Field(NUMBER),
        "train_mean_token_accuracy": Field(NUMBER),
        "learning_rate": Field(NUMBER),
        "grad_norm": Field(NUMBER, nullable=True),
        "tokens_per_second": Field(NUMBER),
        "trained_tokens_seen": Field(INT),
        "elapsed_s": Field(NUMBER),
    },
    "eval": {
        "step": Field(INT),
        "valid_loss": Field(NUMBER),
        "valid_mean_token_accuracy": Field(NUMBER),
        "full": Field(BOOLEAN),
    },
    "checkpoint": {
        "step": Field(INT),
        "epoch": Field(NUMBER),
        "path": Field(STRING),
        "metrics": Field(NUMBER_RECORD),
    },
    "log": {
        "level": Field(_literal_one_of("debug", "info", "warn", "error")),
        "message": Field(STRING),
    },
    "error": {
        "code": Field(STRING),
        "message": Field(STRING),
        "field": Field(STRING, optional=True),
    },
    "cancelled": {
        "step": Field(INT),
        "checkpoint_path": Field(STRING, nullable=True),
    },
    "done": {
        "adapter_path": Field(STRING, nullable=True),
        "merged_path": Field(STRING, nullable=True),
        "summary": Field(_object(SUMMARY_FIELDS)),
    },
}


def _check_fields(record: dict[str, Any], fields: dict[str, Field]) -> list[str]:
    problems = []
    for name, field in fields.items():
        if name not in record:
            if not field.optional:
                problems.append(f"`{name}` is missing")
            continue
        value = record[name]
        if value is None and field.nullable:
            continue
        problem = field.check(value)
        if problem:
            problems.append(f"`{name}`: {problem}")
    return problems


class InvalidEvent(ValueError):
    """A line that is not a valid v1 event; the message names every bad field."""


def validate_event(event: Any) -> dict[str, Any]:
    """Return the event when it is a valid v1 event; raise InvalidEvent naming every problem."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"an event is a JSON object, got {json.dumps(event)}")
    event_type = event.get("type")
    if event_type not in EVENT_FIELDS:
        raise InvalidEvent(f"`type` must be one of {', '.join(EVENT_FIELDS)}, got {json.dumps(event_type)}")
    problems = _check_fields(event, {**BASE_FIELDS, **EVENT_FIELDS[event_type]})
    if problems:
        raise InvalidEvent(f"invalid `{event_type}` event: " + "; ".join(problems))
    return event


def parse_event_line(line: str) -> dict[str, Any]:
    """Parse and validate one stdout line of the worker."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidEvent(f"not JSON: {error}") from error
    return validate_event(event)


# ---- writing events ---------------------------------------------------------------------------


JOURNAL_FILE = run_folder.JOURNAL_FILE
"""The worker's own copy of every event it emits, in its run dir (run_folder.py; `RUN_FILES.journal`
in src/spec/run-folder.ts). The supervisor's copy of stdout dies with the supervisor; this one does
not, so a server that restarts after a crash reads what the worker did while nobody listened."""

# events after which the journal is fsynced: what a restarted server resumes from must be on disk
DURABLE_EVENTS = frozenset({"checkpoint", "cancelled", "done", "error"})


class EventJournal:
    """Appends events to a JSON Lines file: one line per event, flushed at once (a killed worker
    loses nothing it emitted), fsynced after checkpoint and final events (a machine that loses power
    keeps them). A write that fails (disk full) is reported once on stderr and journaling stops;
    training goes on."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.file: TextIO | None = open(self.path, "a", encoding="utf-8")
        try:
            # a line cut by a kill must not swallow the first line written now
            if self.file.tell() > 0:
                with open(self.path, "rb") as existing:
                    existing.seek(-1, os.SEEK_END)
                    if existing.read(1) != b"\n":
                        self.file.write("\n")
        except OSError:
            pass

    def append(self, event: dict[str, Any]) -> None:
        if self.file is None:
            return
        try:
            self.file.write(json.dumps(event, allow_nan=False) + "\n")
            self.file.flush()
            if event["type"] in DURABLE_EVENTS:
                os.fsync(self.file.fileno())
        except (OSError, ValueError) as error:
            self.close()
            try:
                print(f"[tunekit-worker] warn: event journal {self.path} disabled: {error}", file=sys.stderr, flush=True)
            except (BrokenPipeError, ValueError):
                pass

    def close(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass
            self.file = None


class EventWriter:
    """Writes validated events as JSON Lines on stdout, and to the run dir's journal once
    `open_journal` was called. Ranks other than 0 get a silent writer (`enabled=False`)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.stream_open = enabled
        self.journal: EventJournal | None = None

    def open_journal(self, run_dir: str | os.PathLike[str]) -> None:
        """Journal every later event in `<run_dir>/event-journal.jsonl` (main rank only)."""
        if self.enabled and self.journal is None:
            self.journal = EventJournal(os.path.join(os.fspath(run_dir), JOURNAL_FILE))

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()

    def emit(self, event_type: str, **fields: Any) -> dict[str, Any]:
        event = {"v": PROTOCOL_VERSION, "type": event_type, "time": round(time.time(), 3), **fields}
        validate_event(event)  # a bug here must never reach the supervisor as a malformed line
        if not self.enabled:
            return event
        if self.journal is not None:
            # journal first: when stdout is gone, the journal is how the event reaches the server
            self.journal.append(event)
        if self.stream_open:
            try:
                self.stream.write(json.dumps(event, allow_nan=False) + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                # the supervisor is gone (its end of the pipe closed): stop writing to it, keep
                # going so that the SIGTERM it left us (PR_SET_PDEATHSIG) can still end in a
                # checkpoint, which the journal records; stderr went with it, so later warnings
                # must not raise either
                self.stream_open = False
                sys.stderr = open(os.devnull, "w")
        return event

    def log(self, level: str, message: str) -> None:
        """A `log` event for the supervisor, mirrored on stderr for humans."""
        if self.stream_open:
            try:
                print(f"[tunekit-worker] {level}: {message}", file=sys.stderr, flush=True)
            except (BrokenPipeError, ValueError):
                pass
        self.emit("log", level=level, message=message)
