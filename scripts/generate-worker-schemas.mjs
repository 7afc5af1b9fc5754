// Writes the JSON Schema of the worker job spec, generated from the zod schema in
// src/core/worker-job-spec.ts, where the Python worker reads it (`make build` runs it after tsc; run it by
// hand after changing a default or a bound: `npx tsc -p tsconfig.json && node scripts/generate-worker-schemas.mjs`).
// test/worker-contract.test.ts fails while the committed file is stale.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { WORKER_JOB_SPEC_SCHEMA_PATH, workerJobSpecJsonSchema } = await import(pathToFileURL(resolve(root, "dist/core/worker-job-spec.js")).href);
const target = resolve(root, WORKER_JOB_SPEC_SCHEMA_PATH);
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, `${JSON.stringify(workerJobSpecJsonSchema(), null, 2)}\n`);
console.log(`wrote ${WORKER_JOB_SPEC_SCHEMA_PATH}`);
