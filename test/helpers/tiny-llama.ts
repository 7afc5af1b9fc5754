import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

/** The `tunekit setup` venv and the worker package, as the e2e tests use them. */
export const python = resolve(".venv/bin/python");
export const workerRoot = resolve("worker");
/** false on a checkout without the venv: tests that train skip instead of failing on set-up */
export const haveWorker = existsSync(python) && existsSync(join(workerRoot, "tunekit_worker", "train.py"));

/** The folder, set by test/global-setup.ts for one `vitest run`, where the tiny Llama is built once. */
export const TINY_LLAMA_SHARED_VARIABLE = "TUNEKIT_TEST_TINY_LLAMA_SHARED";

function buildInto(folder: string): void {
  execFileSync(
    python,
    [
      "-c",
      "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); from conftest import build_tiny_model; build_tiny_model(Path(sys.argv[2]))",
      join(workerRoot, "tests"),
      folder,
    ],
    { stdio: "ignore" },
  );
}

/**
 * A tiny random Llama + byte-level BPE tokenizer in `folder`, built the way the worker's own tests
 * build it (worker/tests/conftest.py `build_tiny_model`, seeded, so every build is the same model).
 * Under vitest the first call of the run builds it and later calls copy that build (each file gets a
 * folder of its own); elsewhere (bench/) it is built in place. Returns the folder.
 */
export function buildTinyLlama(folder: string): string {
  const shared = process.env[TINY_LLAMA_SHARED_VARIABLE];
  if (!shared || !existsSync(shared)) {
    buildInto(folder);
    return folder;
  }
  const built = join(shared, "tiny-llama");
  if (!existsSync(built)) {
    const building = mkdtempSync(join(shared, "building-"));
    buildInto(join(building, "tiny-llama"));
    try {
      renameSync(join(building, "tiny-llama"), built);
    } catch {
      // a file running at the same time built it first: the same model, so use that one
    }
    rmSync(building, { recursive: true, force: true });
  }
  cpSync(built, folder, { recursive: true });
  return folder;
}
