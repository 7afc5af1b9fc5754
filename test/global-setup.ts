import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TINY_LLAMA_SHARED_VARIABLE } from "./helpers/tiny-llama.js";

/**
 * One folder per `vitest run` where the first test file that asks for the tiny Llama builds it and
 * the others copy it (test/helpers/tiny-llama.ts): 19 builds of ~5 s (Python + torch import) became
 * one. Set here, before the workers start, so that every worker inherits it; removed at the end.
 */
export function setup(): () => void {
  const folder = mkdtempSync(join(tmpdir(), "tunekit-test-shared-"));
  process.env[TINY_LLAMA_SHARED_VARIABLE] = folder;
  return () => rmSync(folder, { recursive: true, force: true });
}
