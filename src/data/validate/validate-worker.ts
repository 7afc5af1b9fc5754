import { parentPort, workerData } from "node:worker_threads";
import { decodeLineChunk, type LineChunk } from "../read-lines.js";
import type { DatasetFormat } from "../../spec/dataset.js";
import type { ExampleTokenCounter } from "../token-counter.js";
import { transferablesOf, validateBatch } from "./validate-batch.js";
import { loadCounterLazily } from "./load-counter-lazily.js";

/**
 * Worker thread of validateFile: decodes chunks of lines, validates them and counts tokens, and
 * sends back packed BatchResults. Messages: in {id, chunk}; out {type: "ready", method,
 * contextLength} once, then {type: "result", id, result} per chunk, or {type: "fatal", error}.
 */
export interface WorkerSetup {
  format: DatasetFormat | null;
  formatSource: string;
  model: string | null;
  fingerprints: boolean;
  prompts: boolean;
  everyProblem: boolean;
}

const setup = workerData as WorkerSetup;
const port = parentPort;
if (port === null) throw new Error("validate-worker.js must run as a worker thread");

function serializeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const fields = error as Error & { kind?: string; code?: string; fix?: string; field?: string };
    return { message: error.message, kind: fields.kind, code: fields.code, fix: fields.fix, field: fields.field };
  }
  return { message: String(error) };
}

let counter: ExampleTokenCounter | null = null;
try {
  if (setup.model !== null) counter = await loadCounterLazily(setup.model);
  port.postMessage({ type: "ready", method: counter?.method ?? null, contextLength: counter?.contextLength ?? null });
} catch (error) {
  port.postMessage({ type: "fatal", error: serializeError(error) });
}

const context = { format: setup.format, formatSource: setup.formatSource, counter, fingerprints: setup.fingerprints, prompts: setup.prompts, everyProblem: setup.everyProblem };
port.on("message", (message: { id: number; chunk: LineChunk }) => {
  try {
    const result = validateBatch(decodeLineChunk(message.chunk), context);
    port.postMessage({ type: "result", id: message.id, result }, transferablesOf(result));
  } catch (error) {
    port.postMessage({ type: "fatal", error: serializeError(error) });
  }
});
