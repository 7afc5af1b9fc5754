"""The one rule for a complete checkpoint (run_folder.py; the same rule as src/spec/run-folder.ts,
checked across both sides by test/run-folder-contract.test.ts)."""

import json
from pathlib import Path

from tunekit_worker import run_folder


def write_checkpoint(path: Path, step: int) -> Path:
    path.mkdir(parents=True)
    states = (run_folder.OPTIMIZER_STATE, run_folder.SCHEDULER_STATE, run_folder.RNG_STATE)
    for name in ("adapter_model.safetensors", *states):
        (path / name).write_bytes(b"x")
    (path / run_folder.TRAINER_STATE).write_text(json.dumps({"step": step}))
    (path / run_folder.COMPLETE_MARKER).write_text(json.dumps(run_folder.completion_marker(path, step)))
    return path


def test_only_complete_checkpoints_count(tmp_path: Path) -> None:
    write_checkpoint(run_folder.checkpoint_path(tmp_path, 3), 3)
    write_checkpoint(run_folder.checkpoint_path(tmp_path, 5), 5)
    write_checkpoint(tmp_path / "checkpoints" / "step-000007.tmp", 7)

    def state_of(step: int) -> Path:
        return write_checkpoint(run_folder.checkpoint_path(tmp_path, step), step) / run_folder.TRAINER_STATE

    state_of(9).unlink()  # no trainer state
    (write_checkpoint(run_folder.checkpoint_path(tmp_path, 15), 15) / run_folder.COMPLETE_MARKER).unlink()  # no completion marker
    (write_checkpoint(run_folder.checkpoint_path(tmp_path, 17), 17) / "optimizer.pt").write_bytes(b"xy")  # not at its marked size
    state_of(11).write_text('{"step": 1')  # cut short
    state_of(13).write_text('{"step": 12}')  # another step
    assert run_folder.complete_checkpoints(tmp_path) == [
        (3, run_folder.checkpoint_path(tmp_path, 3)),
        (5, run_folder.checkpoint_path(tmp_path, 5)),
    ]
    assert run_folder.latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-000005"
    assert run_folder.latest_checkpoint(tmp_path / "nothing") is None
    assert run_folder.checkpoint_step("step-000050") == 50
    assert run_folder.checkpoint_step("step-000050.tmp") is None
