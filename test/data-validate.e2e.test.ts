import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// End to end: the real CLI (dist/cli/main.js, built by `make build`) on real files.
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const fixtures = path.join(repoRoot, "test", "fixtures", "validate");
const folder = mkdtempSync(path.join(os.tmpdir(), "tunekit-validate-e2e-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const cliArgs = [path.join(repoRoot, "dist", "cli", "main.js")];

function tunekit(...args: string[]) {
  const result = spawnSync(process.execPath, [...cliArgs, ...args], { cwd: repoRoot, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("tunekit data validate", () => {
  it("exits 0 on a clean file and says OK", () => {
    const { status, stdout } = tunekit("data", "validate", path.join(fixtures, "clean-chat.jsonl"));
    expect(status).toBe(0);
    expect(stdout).toContain("chat format (detected from line 1), 12 lines, 12 examples (12 valid)");
    expect(stdout).toContain("OK: no errors");
  });

  it("exits 1 on errors and --json prints {ok, errors, warnings, stats}", () => {
    const file = path.join(folder, "bad.jsonl");
    const clean = readFileSync(path.join(fixtures, "clean-chat.jsonl"), "utf8").trimEnd().split("\n");
    writeFileSync(file, [...clean, '{"messages": [}', "", clean[0], '{"messages": [{"role": "user", "content": "Hi"}]}'].join("\n") + "\n");
    const { status, stdout } = tunekit("data", "validate", file, "--json");
    expect(status).toBe(1);
    const report = JSON.parse(stdout);
    expect(Object.keys(report).sort()).toEqual(["errors", "ok", "source_format", "stats", "warnings"]);
    expect(report.source_format).toBe("jsonl");
    expect(report.ok).toBe(false);
    expect(report.errors).toEqual([
      // every problem carries its fix in a field of its own (the --json contract)
      { line: 13, code: "invalid_json", message: expect.stringContaining("column 15"), column: 15, fix: expect.stringContaining("JSON object per line") },
      { line: 16, code: "example_missing_assistant_message", message: expect.any(String), fix: "add the assistant answer the model should learn" },
    ]);
    expect(report.warnings.map((problem: { line: number; code: string }) => [problem.line, problem.code])).toEqual([
      [14, "blank_line"],
      [15, "duplicate_example"],
      [16, "missing_system_message"],
    ]);
    expect(report.stats).toMatchObject({
      format: "chat",
      lines: 16,
      blank_lines: 1,
      examples: 15,
      valid_examples: 13,
      errors: 2,
      warnings: 3,
      bytes: readFileSync(file).length,
      codes: { invalid_json: 1, example_missing_assistant_message: 1, blank_line: 1, duplicate_example: 1, missing_system_message: 1 },
      duplicates: { exact: 1, near: 0 },
    });
  });

  it("says once that a CSV needs its columns mapped (exit 2), instead of an error per line, and validates it with --map", () => {
    const file = path.join(folder, "support.csv");
    writeFileSync(file, ["question,answer", ...Array.from({ length: 30 }, (_, index) => `"Question ${index}?","Answer ${index}."`)].join("\r\n") + "\r\n");
    // issue 13: every data command reads CSV through the one reader; without --map it is one line, exit 2
    const { status, stdout, stderr } = tunekit("data", "validate", file);
    expect(status).toBe(2);
    expect(stderr).toContain("this is CSV with the columns `question`, `answer`, not examples of a dataset format: map its columns with `--map`");
    expect(stderr).toContain("or convert it with `tunekit data convert`");
    expect(stdout + stderr).not.toContain("invalid_json");
    const mapped = tunekit("data", "validate", file, "--map", "question=user", "--map", "answer=assistant");
    expect(mapped.status).toBe(0);
    expect(mapped.stdout).toContain("30 examples (30 valid)");
  });

  it("--json lists every bad line of a fuzzed 10,000-line file, past the 1,000 a code the text report shows", () => {
    // a seeded generator: each line is a good example or one of seven known ways to break one
    let state = 20261202;
    const random = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    const good = (index: number) => ({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: `Question number ${index} about ${Math.floor(random() * 1e9)}?` },
        { role: "assistant", content: `Answer ${index}.` },
      ],
    });
    const breakers: Array<[string, (index: number) => string]> = [
      ["invalid_json", (index) => JSON.stringify(good(index)).slice(0, 20 + Math.floor(random() * 30))],
      ["data_type", (index) => JSON.stringify([index, "not an object"])],
      ["example_missing_assistant_message", (index) => JSON.stringify({ messages: good(index).messages.slice(0, 2) })],
      ["unrecognized_role", (index) => JSON.stringify({ messages: [...good(index).messages.slice(0, 2), { role: "robot", content: "x" }, good(index).messages[2]] })],
      ["empty_assistant_content", (index) => JSON.stringify({ messages: [...good(index).messages.slice(0, 2), { role: "assistant", content: "" }] })],
      ["message_missing_key", (index) => JSON.stringify({ messages: [...good(index).messages.slice(0, 2), { role: "assistant" }] })],
      ["invalid_weight", (index) => JSON.stringify({ messages: [...good(index).messages.slice(0, 2), { role: "assistant", content: "ok", weight: 2 }] })],
    ];
    const expected: Array<{ line: number; code: string }> = [];
    const lines: string[] = [];
    for (let index = 0; index < 10_000; index++) {
      const roll = random();
      // invalid JSON is the common case (about 3,500 lines: past the old 1,000 a code), then the rest
      const breaker = roll < 0.35 ? breakers[0] : roll < 0.6 ? breakers[1 + Math.floor(random() * 6)] : undefined;
      if (breaker) {
        lines.push(breaker[1](index));
        expected.push({ line: index + 1, code: breaker[0] });
      } else {
        lines.push(JSON.stringify(good(index)));
      }
    }
    const file = path.join(folder, "fuzzed.jsonl");
    writeFileSync(file, `${lines.join("\n")}\n`);
    const run = spawnSync(process.execPath, [...cliArgs, "data", "validate", file, "--json"], { cwd: repoRoot, encoding: "utf8", maxBuffer: 64 << 20 });
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as { errors: Array<{ line: number; code: string }>; stats: { codes: Record<string, number> } };
    const reported = new Set(report.errors.map((problem) => `${problem.line}:${problem.code}`));
    const missing = expected.filter((entry) => !reported.has(`${entry.line}:${entry.code}`));
    expect(
      missing,
      `bad lines not reported: ${missing
        .slice(0, 5)
        .map((entry) => `${entry.line} ${entry.code}`)
        .join(", ")}`,
    ).toEqual([]);
    expect(expected.filter((entry) => entry.code === "invalid_json").length).toBeGreaterThan(3000);
    // every counted error is listed, and only bad lines have errors
    for (const [code, count] of Object.entries(report.stats.codes)) {
      if (
        ["invalid_json", "data_type", "example_missing_assistant_message", "unrecognized_role", "empty_assistant_content", "message_missing_key", "invalid_weight"].includes(code)
      ) {
        expect(report.errors.filter((problem) => problem.code === code).length, code).toBe(count);
      }
    }
    const badLines = new Set(expected.map((entry) => entry.line));
    expect(report.errors.filter((problem) => problem.line !== null && !badLines.has(problem.line))).toEqual([]);
    // the text report summarises and says which flag lists them all
    const text = spawnSync(process.execPath, [...cliArgs, "data", "validate", file], { cwd: repoRoot, encoding: "utf8", maxBuffer: 64 << 20 });
    expect(text.stdout).toMatch(/invalid_json \(3,?\d{3}x\)/);
    expect(text.stdout).toContain("more (`--json` lists every one)");
  });

  it("groups human output by code with counts and the first lines", () => {
    const file = path.join(folder, "grouped.jsonl");
    writeFileSync(file, Array.from({ length: 20 }, (_, index) => `{"broken": ${index}`).join("\n") + "\n");
    const { status, stdout } = tunekit("data", "validate", file);
    expect(status).toBe(1);
    expect(stdout).toContain("invalid_json (20x) line is not valid JSON");
    expect(stdout).toContain("    line 1: the line is not valid JSON");
    expect(stdout).toContain("also lines 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 and 7 more");
    expect(stdout).toMatch(/FAILED: 20 errors/);
  });

  it("counts tokens with --model and checks the validation file", () => {
    const { status, stdout } = tunekit(
      "data",
      "validate",
      path.join(fixtures, "clean-chat.jsonl"),
      "--model",
      "gpt-4o-mini-2024-07-18",
      "--validation-file",
      path.join(fixtures, "train_validation_overlap.validation.jsonl"),
      "--json",
    );
    expect(status).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.stats.tokens).toMatchObject({ counted_examples: 12, context_length: expect.any(Number) });
    expect(report.stats.tokens.method).toContain("o200k_base");
    expect(report.stats.validation_overlap).toBe(1);
    expect(report.warnings).toEqual([expect.objectContaining({ line: 1, code: "train_validation_overlap" })]);
    expect(report.stats.validation.examples).toBe(2);
  });

  it("exits 2 on usage errors: missing file, bad --format", () => {
    const missing = tunekit("data", "validate", path.join(folder, "nope.jsonl"));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("does not exist");
    const badFormat = tunekit("data", "validate", path.join(fixtures, "clean-chat.jsonl"), "--format", "csv");
    expect(badFormat.status).toBe(2);
    expect(badFormat.stderr).toContain("--format");
    const json = tunekit("data", "validate", path.join(folder, "nope.jsonl"), "--json");
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout).error.code).toBe("file_not_found");
  });
});

/** Writes ~`megabytes` MB of distinct chat examples, in big writes (fast). */
async function writeBigFile(file: string, megabytes: number): Promise<number> {
  const out = createWriteStream(file);
  const topics = ["trains", "museums", "visas", "hiking", "currency", "weather", "ferries", "food"];
  let bytes = 0;
  let index = 0;
  while (bytes < megabytes * 1_000_000) {
    let block = "";
    for (let line = 0; line < 2000; line++, index++) {
      const topic = topics[index % topics.length];
      block += `{"messages": [{"role": "system", "content": "You are a travel assistant."}, {"role": "user", "content": "Question ${index} about ${topic}: what should a traveller know before the trip number ${index * 7}?"}, {"role": "assistant", "content": "Answer ${index}: about ${topic}, check the rules, book early, keep copies of documents and plan for delays of ${index % 90} minutes. Reference ${index.toString(36)}."}]}\n`;
    }
    bytes += Buffer.byteLength(block);
    if (!out.write(block)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return index;
}

/** Peak resident memory of a child process in KiB: /usr/bin/time when present, else VmHWM polled. */
async function runMeasuringPeak(args: string[]): Promise<{ status: number | null; stdout: string; peakKib: number }> {
  const timeBinary = "/usr/bin/time";
  const useTime = existsSync(timeBinary);
  const timeFile = path.join(folder, "time.txt");
  const child = useTime ? spawn(timeBinary, ["-f", "%M", "-o", timeFile, process.execPath, ...args], { cwd: repoRoot }) : spawn(process.execPath, args, { cwd: repoRoot });
  let stdout = "";
  child.stdout.on("data", (data) => (stdout += data));
  let polledPeak = 0;
  const poll = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      polledPeak = Math.max(polledPeak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // the process is gone
    }
  }, 50);
  const [status] = (await once(child, "close")) as [number | null];
  clearInterval(poll);
  const peakKib = useTime ? Number(readFileSync(timeFile, "utf8").trim().split("\n").pop()) : polledPeak;
  return { status, stdout, peakKib };
}

/**
 * The compiled CLI when it is there and newer than the validator's sources (`make test` builds it
 * first): that is what users run, while tsx adds its own ~20 MB and compiles on the fly. Else tsx.
 */
function cliForMemory(): { args: string[]; name: string } {
  const compiled = path.join(repoRoot, "dist", "cli", "main.js");
  const compiledValidator = path.join(repoRoot, "dist", "data", "validate", "validate-file.js");
  const sources = ["src/data/validate/validate-file.ts", "src/data/validate/validation-state.ts", "src/data/read-lines.ts"].map((file) => path.join(repoRoot, file));
  const fresh = existsSync(compiled) && existsSync(compiledValidator) && sources.every((source) => statSync(source).mtimeMs <= statSync(compiledValidator).mtimeMs);
  return fresh ? { args: [compiled], name: "dist/cli/main.js" } : { args: cliArgs, name: "tsx src/cli/main.ts" };
}

describe("tunekit data validate with worker threads", () => {
  // worker threads run the compiled worker: this needs dist/ built from the current sources
  it.skipIf(cliForMemory().name !== "dist/cli/main.js")("reports exactly what one thread reports (order, lines, counts)", () => {
    const parts = readdirSync(fixtures)
      // the fixtures of whole-file problems (binary, empty, a JSON array) would make the mix one of them
      .filter((name) => name.endsWith(".jsonl") && !["binary_file.jsonl", "empty_file.jsonl", "needs_conversion.jsonl"].includes(name))
      .sort()
      .map((name) => readFileSync(path.join(fixtures, name)));
    const file = path.join(folder, "mixed.jsonl");
    writeFileSync(file, Buffer.concat(Array.from({ length: 300 }, () => parts).flat()));
    const run = (threads: string) =>
      spawnSync(process.execPath, [path.join(repoRoot, "dist", "cli", "main.js"), "data", "validate", file, "--json", "--threads", threads], {
        encoding: "utf8",
        maxBuffer: 64 << 20,
      });
    const single = run("0");
    const parallel = run("2");
    expect(single.status).toBe(1);
    expect(parallel.status).toBe(1);
    const report = JSON.parse(single.stdout);
    expect(report.stats.lines).toBeGreaterThan(3000);
    expect(report.stats.codes.duplicate_example).toBeGreaterThan(1000);
    expect(parallel.stdout).toBe(single.stdout);
  });
});

describe("tunekit data validate on a multi-hundred-MB file", () => {
  it("streams ~300 MB with peak RSS under 300 MB and exact line numbers", async () => {
    const file = path.join(folder, "big.jsonl");
    const examples = await writeBigFile(file, 300);
    // one broken line at the very end: the line number must be exact after ~1M lines
    writeFileSync(file, '{"messages": [\n', { flag: "a" });
    const cli = cliForMemory();
    const { status, stdout, peakKib } = await runMeasuringPeak([...cli.args, "data", "validate", file, "--json"]);
    rmSync(file, { force: true });
    expect(status).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.stats.examples).toBe(examples + 1);
    expect(report.stats.bytes).toBeGreaterThan(300_000_000);
    expect(report.errors).toEqual([expect.objectContaining({ line: examples + 1, code: "invalid_json" })]);
    expect(report.stats.duplicates.exact).toBe(0);
    console.log(`${cli.name} validated ${examples} examples (${(report.stats.bytes / 1e6).toFixed(0)} MB): peak RSS ${(peakKib / 1024).toFixed(0)} MiB`);
    expect(peakKib / 1024).toBeLessThan(300);
  }, 240_000);
});
