import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CHECKPOINT_FILES, COMPLETE_MARKER, completionMarker } from "../../src/spec/run-folder.js";

/** A checkpoint folder that passes the completeness rule of src/spec/run-folder.ts (tiny stand-in files). */
export function writeCompleteCheckpoint(path: string, step: number, state: Record<string, unknown> = {}): string {
  mkdirSync(path, { recursive: true });
  for (const file of ["adapter_model.safetensors", CHECKPOINT_FILES.optimizer, CHECKPOINT_FILES.scheduler, CHECKPOINT_FILES.rng]) writeFileSync(join(path, file), "x");
  writeFileSync(join(path, CHECKPOINT_FILES.trainerState), JSON.stringify({ step, ...state }));
  writeFileSync(join(path, COMPLETE_MARKER), JSON.stringify(completionMarker(path, step)));
  return path;
}
