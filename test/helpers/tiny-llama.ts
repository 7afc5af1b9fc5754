import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** The `tunekit setup` venv and the worker package, as the e2e tests use them. */
export const python = resolve(".venv/bin/python");
export const workerRoot = resolve("worker");
/** false on a checkout without the venv: tests that train skip instead of failing on set-up */
export const haveWorker = existsSync(python) && existsSync(join(workerRoot, "tunekit_worker", "train.py"));

/**
 * A tiny random Llama + byte-level BPE tokenizer in `folder`, built the way the worker's own tests
 * build it (worker/tests/conftest.py `build_tiny_model`). Returns the folder.
 */
export function buildTinyLlama(folder: string): string {
  execFileSync(python, ["-c", "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); from conftest import build_tiny_model; build_tiny_model(Path(sys.argv[2]))", join(workerRoot, "tests"), folder], { stdio: "ignore" });
  return folder;
}
