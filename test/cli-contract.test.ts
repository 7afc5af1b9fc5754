/**
 * The CLI's contract, for every command at once (issue 13, "One JSON and exit-code contract"):
 * help that marks required options, states the exit statuses, writes defaults one way and points at
 * no source file; a JSON Schema in schemas/cli for every command that has `--json`, with snake_case
 * fields; usage errors as JSON too; and the fast commands' real output checked against the schemas.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../src/cli/main.js";
import { SCHEMA_DIR, expectJsonOutput, schemaNames } from "./helpers/cli-json-contract.js";

const CLI = resolve("dist/cli/main.js");
let scratch: string;

function tunekit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: scratch, env: { ...process.env, TUNEKIT_SERVER: "", TUNEKIT_API_KEY: "", HF_HOME: join(scratch, "hf") }, timeout: 60_000 },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

interface Leaf {
  name: string;
  command: Command;
}

function leaves(command: Command, path: string[] = []): Leaf[] {
  if (command.commands.length === 0) return path.length === 0 ? [] : [{ name: path.join(" "), command }];
  return command.commands.flatMap((sub) => leaves(sub, [...path, sub.name()]));
}

const program = buildProgram();
const commands = leaves(program);
/** commands whose --json prints something that is not a report: the JSON Schema itself */
const NO_REPORT_SCHEMA = new Set(["config schema"]);

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "tunekit-cli-contract-"));
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("help", () => {
  it("covers every command with a description", () => {
    expect(commands.length).toBeGreaterThan(30);
    for (const { name, command } of commands) expect(command.description(), name).not.toBe("");
  });

  it("marks required options, states the exit statuses, and points at no source file", () => {
    for (const { name, command } of commands) {
      for (const option of command.options) if (option.mandatory) expect(option.description, `${name} ${option.flags}`).toMatch(/\(required\)$/);
      const help = captureHelp(command);
      expect(help, name).not.toMatch(/\bsrc\/[a-z]/);
      expect(help, name).toMatch(/Exit status|exits? (with )?[0-2]|exit status/i);
    }
  });

  it("writes defaults one way: commander's `(default: X)`", () => {
    const offending: string[] = [];
    for (const { name, command } of commands) {
      for (const option of command.options) {
        if (/\(defaults? (?!:)|[,;] defaults?\b[^)]*\)/.test(option.description)) offending.push(`${name} ${option.flags}: ${option.description}`);
      }
    }
    expect(offending).toEqual([]);
  });
});

function captureHelp(command: Command): string {
  let text = "";
  command.configureOutput({ writeOut: (chunk) => (text += chunk), writeErr: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

describe("JSON schemas", () => {
  it("every command with --json has a schema in schemas/cli, and every schema names a command", () => {
    const withJson = commands.filter(({ command }) => command.options.some((option) => option.long === "--json")).map(({ name }) => name);
    expect(withJson.length).toBeGreaterThan(20);
    const files = new Set(schemaNames());
    const missing = withJson.filter((name) => !NO_REPORT_SCHEMA.has(name) && !files.has(name.replaceAll(" ", "-")));
    expect(missing, "commands with --json and no schema").toEqual([]);
    const known = new Set([...withJson.map((name) => name.replaceAll(" ", "-")), "error"]);
    expect(
      [...files].filter((file) => !known.has(file)),
      "schemas of no command",
    ).toEqual([]);
  });

  it("use one key style, snake_case, as the API does", () => {
    const bad: string[] = [];
    // walks schema positions only: a field that is itself called `properties` (an Azure deployment has one) is a name
    const walk = (schema: unknown, where: string): void => {
      if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return;
      const node = schema as Record<string, unknown>;
      for (const [name, property] of Object.entries((node.properties as Record<string, unknown> | undefined) ?? {})) {
        if (!/^[a-z][a-z0-9_]*$/.test(name)) bad.push(`${where}.${name}`);
        walk(property, `${where}.${name}`);
      }
      walk(node.items, `${where}[]`);
      walk(node.additionalProperties, `${where}{}`);
      for (const keyword of ["oneOf", "anyOf", "allOf"])
        for (const [index, branch] of ((node[keyword] as unknown[] | undefined) ?? []).entries()) walk(branch, `${where}/${keyword}/${index}`);
    };
    for (const name of schemaNames()) walk(JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.schema.json`), "utf8")), name);
    expect(bad).toEqual([]);
  });
});

describe("usage errors with --json are JSON on stdout, exit 2", () => {
  it("an unknown option", async () => {
    const result = await tunekit(["data", "validate", "x.jsonl", "--json", "--bogus"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("");
    const body = expectJsonOutput<{ error: { code: string; message: string; fix: string } }>("error", result.stdout);
    expect(body.error.code).toBe("unknown_option");
    expect(body.error.message).toContain("--bogus");
    expect(body.error.fix).toContain("tunekit data validate --help");
  });

  it("a missing argument and a missing file", async () => {
    const missingArgument = await tunekit(["data", "validate", "--json"]);
    expect(missingArgument.code).toBe(2);
    expect(expectJsonOutput<{ error: { code: string } }>("error", missingArgument.stdout).error.code).toBe("missing_argument");
    const missingFile = await tunekit(["data", "validate", "nope.jsonl", "--json"]);
    expect(missingFile.code).toBe(2);
    expect(expectJsonOutput<{ error: { file?: string; fix?: string } }>("error", missingFile.stdout).error.fix).toBeTruthy();
  });
});

describe("the fast commands' output matches their schemas", () => {
  const chat = (user: string, assistant: string) =>
    JSON.stringify({
      messages: [
        { role: "system", content: "You answer briefly." },
        { role: "user", content: user },
        { role: "assistant", content: assistant },
      ],
    });

  beforeAll(() => {
    const lines = Array.from({ length: 24 }, (_, index) => chat(`question ${index} about the order`, `answer ${index}: it ships tomorrow`));
    lines.push(lines[0]!, "{not json");
    writeFileSync(join(scratch, "train.jsonl"), `${lines.join("\n")}\n`);
    writeFileSync(join(scratch, "rows.csv"), 'question,answer\nWhere is my order?,It ships tomorrow.\n"Can I pay, later?",Yes.\n');
  });

  it("init, config show", async () => {
    expect((await tunekit(["init", "--model", "gpt-4o-mini-2024-07-18", "--train", "train.jsonl", "--json"])).code).toBe(0);
    const init = await tunekit(["init", "--model", "./tiny", "--train", "train.jsonl", "-o", "local.yaml", "--json"]);
    expectJsonOutput("init", init.stdout);
    const show = await tunekit(["config", "show", "-c", "local.yaml", "--json"]);
    expectJsonOutput("config-show", show.stdout);
  });

  it("data validate, stats, convert, split, fix and estimate", async () => {
    const validate = await tunekit(["data", "validate", "train.jsonl", "--json"]);
    expect(validate.code).toBe(1);
    expectJsonOutput("data-validate", validate.stdout);
    const stats = await tunekit(["data", "stats", "train.jsonl", "--model", "gpt-4o-mini-2024-07-18", "--json"]);
    expectJsonOutput("data-stats", stats.stdout);
    const convert = await tunekit(["data", "convert", "rows.csv", "rows.jsonl", "--map", "question=user", "--map", "answer=assistant", "--json"]);
    expect(convert.code).toBe(0);
    expectJsonOutput("data-convert", convert.stdout);
    const fix = await tunekit(["data", "fix", "train.jsonl", "clean.jsonl", "--json"]);
    expect(fix.code).toBe(0);
    expectJsonOutput("data-fix", fix.stdout);
    const split = await tunekit(["data", "split", "clean.jsonl", "--validation", "0.2", "--seed", "1", "--json"]);
    expect(split.code).toBe(0);
    expectJsonOutput("data-split", split.stdout);
    const estimate = await tunekit(["estimate", "clean.jsonl", "--model", "gpt-4o-mini-2024-07-18", "--json"]);
    expect(estimate.code).toBe(0);
    const body = expectJsonOutput<Record<string, unknown>>("estimate", estimate.stdout);
    expect(JSON.stringify(body)).not.toMatch(/"[a-z]+[A-Z]\w*":/);
  });

  it("keys create, list and revoke; models", async () => {
    const dataDir = join(scratch, "server-data");
    const create = await tunekit(["keys", "create", "--project", "team", "--data-dir", dataDir, "--json"]);
    expect(create.code).toBe(0);
    const created = expectJsonOutput<{ id?: string; prefix?: string }>("keys-create", create.stdout);
    const list = await tunekit(["keys", "list", "--data-dir", dataDir, "--json"]);
    expectJsonOutput("keys-list", list.stdout);
    const id = created.id ?? created.prefix;
    const revoke = await tunekit(["keys", "revoke", String(id), "--data-dir", dataDir, "--json"]);
    expectJsonOutput("keys-revoke", revoke.stdout);
    const models = await tunekit(["models", "--json"]);
    expect(models.code).toBe(0);
    expectJsonOutput("models", models.stdout);
    const setup = await tunekit(["setup", "--json"]);
    expect(setup.code, setup.stderr).toBe(0);
    expectJsonOutput("setup", setup.stdout);
  });

  it("serve prints its address and models, then serves", async () => {
    const listed = expectJsonOutput<{ bundled: { path: string | null } }>("models", (await tunekit(["models", "--json"])).stdout);
    const model = listed.bundled.path;
    expect(model && existsSync(model), "the bundled model is installed by the set-up").toBeTruthy();
    const child = spawn(process.execPath, [CLI, "serve", model!, "--port", "0", "--json"], { cwd: scratch, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      const deadline = Date.now() + 60_000;
      while (!output.includes("\n}") && Date.now() < deadline && child.exitCode === null) await new Promise((done) => setTimeout(done, 100));
      const served = expectJsonOutput<{ url: string }>("serve", output);
      const answer = await fetch(`${served.url}/v1/models`);
      expect(answer.status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      await new Promise((done) => child.once("exit", done));
    }
  }, 90_000);
});

describe("no silent caps", () => {
  it("convert lists the skipped rows up to --max-problems, says how many it left out and how to see them all", async () => {
    const rows = ["question,answer", "Where is it?,Here.", ...Array.from({ length: 30 }, (_, index) => `Question ${index}?,`)];
    writeFileSync(join(scratch, "gaps.csv"), `${rows.join("\n")}\n`);
    const capped = await tunekit(["data", "convert", "gaps.csv", "gaps.jsonl", "--map", "question=user", "--map", "answer=assistant", "--max-problems", "5", "--json"]);
    expect(capped.code).toBe(1);
    const report = expectJsonOutput<{ problems: unknown[]; problems_omitted: number; skipped: number }>("data-convert", capped.stdout);
    expect(report).toMatchObject({ skipped: 30, problems_omitted: 25 });
    expect(report.problems).toHaveLength(5);
    const human = await tunekit(["data", "convert", "gaps.csv", "gaps.jsonl", "--map", "question=user", "--map", "answer=assistant", "--max-problems", "5", "--force"]);
    expect(human.stderr).toContain("--json lists 5 of the 30; add --max-problems 0 to list every one");
    const all = await tunekit(["data", "convert", "gaps.csv", "gaps.jsonl", "--map", "question=user", "--map", "answer=assistant", "--max-problems", "0", "--force", "--json"]);
    expect(expectJsonOutput<{ problems: unknown[]; problems_omitted: number }>("data-convert", all.stdout)).toMatchObject({ problems_omitted: 0 });
  });
});
