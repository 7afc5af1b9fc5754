import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { completeCheckpoints } from "../src/jobs/event-journal.js";
import { latestCheckpoint } from "../src/providers/local/run-directory.js";
import { CHECKPOINT_FILES, checkpointPath, COMPLETE_MARKER, completeCheckpointFolders, latestCompleteCheckpoint, RUN_FILES, RUN_FOLDERS } from "../src/spec/run-folder.js";
import { writeCompleteCheckpoint } from "./helpers/checkpoint-folder.js";

/**
 * The run folder is defined once on each side: src/spec/run-folder.ts and
 * worker/tunekit_worker/run_folder.py. Both must use the same names and give the same verdict on
 * which checkpoints are complete; recovery (completeCheckpoints) and `tunekit train --resume`
 * (latestCheckpoint) use the TypeScript rule, so they agree too.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const python = join(root, ".venv", "bin", "python");
const scratch = mkdtempSync(join(tmpdir(), "tunekit-run-folder-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const pythonScript = `
import json, sys
from tunekit_worker import run_folder as r
run_dir = sys.argv[1]
latest = r.latest_checkpoint(run_dir)
print(json.dumps({
    "complete": [[step, str(path)] for step, path in r.complete_checkpoints(run_dir)],
    "latest": None if latest is None else str(latest),
    "path_of_7": str(r.checkpoint_path(run_dir, 7)),
    "files": {"job": r.JOB_FILE, "events": r.EVENTS_FILE, "workerLog": r.WORKER_LOG_FILE, "journal": r.JOURNAL_FILE,
              "retiredJournal": r.RETIRED_JOURNAL_FILE, "owner": r.OWNER_FILE, "summary": r.SUMMARY_FILE,
              "stopRequest": r.STOP_REQUEST_FILE},
    "folders": {"checkpoints": r.CHECKPOINTS_DIR, "adapter": r.ADAPTER_DIR, "merged": r.MERGED_DIR, "export": r.EXPORT_DIR},
    "checkpoint_files": {"trainerState": r.TRAINER_STATE, "optimizer": r.OPTIMIZER_STATE, "scheduler": r.SCHEDULER_STATE, "rng": r.RNG_STATE},
    "complete_marker": r.COMPLETE_MARKER,
}))
`;

interface PythonSide {
  complete: Array<[number, string]>;
  latest: string | null;
  path_of_7: string;
  files: Record<string, string>;
  folders: Record<string, string>;
  checkpoint_files: Record<string, string>;
  complete_marker: string;
}

function pythonSide(runDir: string): PythonSide {
  const output = execFileSync(python, ["-c", pythonScript, runDir], { encoding: "utf8", env: { ...process.env, PYTHONPATH: join(root, "worker") } });
  return JSON.parse(output) as PythonSide;
}

/** complete checkpoints at steps 2 and 6; at 8..20 every way a checkpoint folder can fall short. */
function mixedRunFolder(): string {
  const runDir = join(scratch, "mixed");
  writeCompleteCheckpoint(checkpointPath(runDir, 2), 2, { metrics_history: [{ step: 2, train_loss: 1.5 }] });
  writeCompleteCheckpoint(checkpointPath(runDir, 6), 6, { metrics_history: [{ step: 6, train_loss: 1.25 }] });
  // incomplete: the staging folder of a checkpoint being written
  writeCompleteCheckpoint(`${checkpointPath(runDir, 8)}.tmp`, 8);
  // incomplete: no trainer_state.json (the marker, written last)
  unlinkSync(join(writeCompleteCheckpoint(checkpointPath(runDir, 10), 10), CHECKPOINT_FILES.trainerState));
  // incomplete: a state file missing
  unlinkSync(join(writeCompleteCheckpoint(checkpointPath(runDir, 12), 12), CHECKPOINT_FILES.optimizer));
  // corrupt: trainer_state.json cut short
  writeFileSync(join(writeCompleteCheckpoint(checkpointPath(runDir, 14), 14), CHECKPOINT_FILES.trainerState), '{"step": 14, "metr');
  // corrupt: trainer_state.json names another step
  writeFileSync(join(writeCompleteCheckpoint(checkpointPath(runDir, 16), 16), CHECKPOINT_FILES.trainerState), JSON.stringify({ step: 15 }));
  // corrupt: an empty RNG state and no weights
  writeFileSync(join(writeCompleteCheckpoint(checkpointPath(runDir, 18), 18), CHECKPOINT_FILES.rng), "");
  unlinkSync(join(writeCompleteCheckpoint(checkpointPath(runDir, 20), 20), "adapter_model.safetensors"));
  // incomplete: no completion marker (a crash right after the rename)
  unlinkSync(join(writeCompleteCheckpoint(checkpointPath(runDir, 24), 24), COMPLETE_MARKER));
  // incomplete: the marker names a weights file at another size (shared storage not yet caught up)
  writeFileSync(join(writeCompleteCheckpoint(checkpointPath(runDir, 26), 26), "adapter_model.safetensors"), "xy");
  // not checkpoints at all
  writeFileSync(join(runDir, RUN_FOLDERS.checkpoints, "step-000022"), "a file");
  mkdirSync(join(runDir, RUN_FOLDERS.checkpoints, "notes"));
  return runDir;
}

describe("the run folder contract", () => {
  it("both sides name the same files and folders", () => {
    const runDir = join(scratch, "names");
    const side = pythonSide(runDir);
    expect(side.files).toEqual(RUN_FILES);
    expect(side.folders).toEqual(RUN_FOLDERS);
    expect(side.checkpoint_files).toEqual(CHECKPOINT_FILES);
    expect(side.complete_marker).toBe(COMPLETE_MARKER);
    expect(side.path_of_7).toBe(checkpointPath(runDir, 7));
    expect(side.complete).toEqual([]);
    expect(side.latest).toBeNull();
  });

  it("both sides count only complete checkpoints: not a staging folder, a missing trainer state or completion marker, a file not at its marked size, a missing state, a cut or foreign trainer state, an empty file", () => {
    const runDir = mixedRunFolder();
    const expected: Array<[number, string]> = [
      [2, checkpointPath(runDir, 2)],
      [6, checkpointPath(runDir, 6)],
    ];
    expect(completeCheckpointFolders(runDir).map((found) => [found.step, found.path])).toEqual(expected);
    expect(pythonSide(runDir)).toMatchObject({ complete: expected, latest: checkpointPath(runDir, 6) });
    // recovery and `tunekit train --resume` follow the same rule
    expect(completeCheckpoints(runDir).map((found) => [found.step, found.path, found.metrics.train_loss])).toEqual([
      [2, checkpointPath(runDir, 2), 1.5],
      [6, checkpointPath(runDir, 6), 1.25],
    ]);
    expect(latestCheckpoint(runDir)).toBe(checkpointPath(runDir, 6));
    expect(latestCompleteCheckpoint(runDir)?.step).toBe(6);
  });
});
