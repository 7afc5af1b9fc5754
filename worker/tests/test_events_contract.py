"""The Python mirror of the worker protocol accepts exactly what the TypeScript zod schemas accept:
the shared fixtures (test/fixtures/worker-events.v1*.jsonl) are fed to both sides."""

from __future__ import annotations

import io
import json

import pytest
from conftest import REPO_ROOT

from tunekit_worker.events import EVENT_FIELDS, EventWriter, InvalidEvent, parse_event_line

FIXTURES = REPO_ROOT / "test" / "fixtures"
VALID_LINES = [line for line in (FIXTURES / "worker-events.v1.jsonl").read_text().splitlines() if line.strip()]
INVALID_LINES = [line for line in (FIXTURES / "worker-events.v1.invalid.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("line", VALID_LINES)
def test_accepts_every_valid_fixture_line(line: str) -> None:
    assert parse_event_line(line)["v"] == 1


@pytest.mark.parametrize("line", INVALID_LINES)
def test_rejects_every_invalid_fixture_line(line: str) -> None:
    with pytest.raises(InvalidEvent):
        parse_event_line(line)


def test_valid_fixtures_cover_every_event_type() -> None:
    assert {json.loads(line)["type"] for line in VALID_LINES} == set(EVENT_FIELDS)


def test_writer_emits_one_valid_line_per_event_and_refuses_bad_events() -> None:
    stream = io.StringIO()
    writer = EventWriter(stream)
    writer.emit("cancelled", step=3, checkpoint_path=None)
    writer.emit("log", level="info", message="hello")
    lines = stream.getvalue().splitlines()
    assert [parse_event_line(line)["type"] for line in lines] == ["cancelled", "log"]
    with pytest.raises(InvalidEvent, match="valid_loss"):
        writer.emit("eval", step=1, valid_loss=float("nan"), valid_mean_token_accuracy=0.5, full=True)
    assert len(stream.getvalue().splitlines()) == 2
