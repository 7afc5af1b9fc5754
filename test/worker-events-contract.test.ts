import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { WorkerExitCode, parseWorkerEvent, workerEventSchema } from "../src/spec/worker-events.js";

/**
 * The worker protocol is defined twice: zod in src/spec/worker-events.ts and its Python mirror in
 * worker/tunekit_worker/events.py. Both sides must give the same verdict on every fixture line.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const validFixture = join(root, "test", "fixtures", "worker-events.v1.jsonl");
const invalidFixture = join(root, "test", "fixtures", "worker-events.v1.invalid.jsonl");
const python = join(root, ".venv", "bin", "python");

function lines(path: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "");
}

function typescriptVerdict(line: string): boolean {
  try {
    parseWorkerEvent(line);
    return true;
  } catch {
    return false;
  }
}

const pythonScript = `
import json, sys
from tunekit_worker.events import EVENT_FIELDS, ExitCode, InvalidEvent, parse_event_line
verdicts = {}
for path in sys.argv[1:]:
    result = []
    for line in open(path, encoding="utf-8").read().split("\\n"):
        if not line.strip():
            continue
        try:
            parse_event_line(line)
            result.append(True)
        except InvalidEvent:
            result.append(False)
    verdicts[path] = result
exit_codes = {name: getattr(ExitCode, name) for name in ("DONE", "FAILED", "BAD_CONFIG", "CANCELLED", "DIVERGED")}
print(json.dumps({"verdicts": verdicts, "fields": {name: sorted(fields) for name, fields in EVENT_FIELDS.items()}, "exit_codes": exit_codes}))
`;

interface PythonSide {
  verdicts: Record<string, boolean[]>;
  fields: Record<string, string[]>;
  exit_codes: Record<string, number>;
}

function pythonVerdicts(): PythonSide {
  const output = execFileSync(python, ["-c", pythonScript, validFixture, invalidFixture], {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: join(root, "worker") },
  });
  return JSON.parse(output) as PythonSide;
}

const eventTypes = workerEventSchema.options.map((option) => option.shape.type.value);

describe("worker protocol v1 contract", () => {
  it("the valid fixture has at least one line per event type and TypeScript accepts every line", () => {
    const valid = lines(validFixture);
    const types = new Set(valid.map((line) => (JSON.parse(line) as { type: string }).type));
    expect([...types].sort()).toEqual([...eventTypes].sort());
    expect(valid.filter((line) => !typescriptVerdict(line))).toEqual([]);
  });

  it("TypeScript rejects every line of the invalid fixture", () => {
    const invalid = lines(invalidFixture);
    expect(invalid.length).toBeGreaterThanOrEqual(10);
    expect(invalid.filter((line) => typescriptVerdict(line))).toEqual([]);
  });

  it("the Python mirror gives the same verdict as TypeScript on every line of both fixtures", () => {
    expect(existsSync(python), `${python} missing: run \`tunekit setup --dev\``).toBe(true);
    const { verdicts } = pythonVerdicts();
    for (const path of [validFixture, invalidFixture]) {
      const fixtureLines = lines(path);
      const disagreements = fixtureLines
        .map((line, index) => ({ line, typescript: typescriptVerdict(line), python: verdicts[path]![index] }))
        .filter((entry) => entry.typescript !== entry.python);
      expect(disagreements).toEqual([]);
      expect(verdicts[path]).toHaveLength(fixtureLines.length);
    }
  });

  it("both sides define the same event types with the same fields", () => {
    const { fields } = pythonVerdicts();
    const typescriptFields = Object.fromEntries(
      workerEventSchema.options.map((option) => [
        option.shape.type.value,
        Object.keys(option.shape)
          .filter((key) => !["v", "time", "type"].includes(key))
          .sort(),
      ]),
    );
    expect(fields).toEqual(typescriptFields);
  });

  it("both sides use the same exit codes", () => {
    const { exit_codes: exitCodes } = pythonVerdicts();
    expect(exitCodes).toEqual({
      DONE: WorkerExitCode.done,
      FAILED: WorkerExitCode.failed,
      BAD_CONFIG: WorkerExitCode.badConfig,
      CANCELLED: WorkerExitCode.cancelled,
      DIVERGED: WorkerExitCode.diverged,
    });
  });
});
