import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { describeBackendConformance } from "./helpers/execution-backend-conformance.js";

// The local backend against the same conformance suite the Ray and Slurm backends pass
// (test/ray-backend.test.ts, test/slurm-backend.test.ts): the real worker on this machine.
const scratch = mkdtempSync(join(tmpdir(), "tunekit-local-conformance-"));
const backend = new LocalExecutionBackend();
afterAll(async () => {
  await backend.close();
  rmSync(scratch, { recursive: true, force: true });
});

describeBackendConformance("local", () => ({ backend, name: "local", processes: 1, scratch, refused: [] }));
