/**
 * A newcomer's first hour (issue 13): the CLI run as a user runs it, with the inputs that sent
 * people in circles, each answered with the real cause, the path or flag, a fix, and the exit code
 * of the contract (1 problems found, 2 usage or input error).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";

const CLI = resolve("dist/cli/main.js");
let scratch: string;
let server: RunningServer;

function tunekit(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: scratch, env: { ...process.env, TUNEKIT_SERVER: "", TUNEKIT_API_KEY: "", HF_HOME: join(scratch, "hf"), ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "tunekit-first-hour-"));
  mkdirSync(join(scratch, "data"));
  writeFileSync(
    join(scratch, "support.jsonl"),
    `${JSON.stringify({
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
      ],
    })}\n`,
  );
  writeFileSync(join(scratch, "junk.jsonl"), `${Array.from({ length: 40 }, (_, index) => JSON.stringify({ question: `q${index}` })).join("\n")}\n`);
  server = await startServer({ port: 0, dataDir: join(scratch, "server"), models: [], maxConcurrentJobs: 0, webRoot: null });
});

afterAll(async () => {
  await server?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("a model that is not there is refused before anything starts", () => {
  it("`serve ./nope.gguf`: no such file, with the path, and no `hf download` of a path", async () => {
    const result = await tunekit(["serve", "./nope.gguf", "--port", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("`./nope.gguf`: no such file or folder");
    expect(result.stderr).toContain(join(scratch, "nope.gguf"));
    expect(result.stderr).not.toContain("hf download");
  });

  it("`server --model ./models/x.gguf` does not start", async () => {
    const result = await tunekit(["server", "--port", "0", "--data-dir", join(scratch, "s1"), "--model", "./models/x.gguf"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("`--model ./models/x.gguf`: no such file or folder");
  });

  it("a hub id with no local copy is refused with the offline reason and the download to run elsewhere", async () => {
    const result = await tunekit(["serve", "HuggingFaceTB/SmolLM2-135M-Instruct", "--port", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("is a Hugging Face Hub id with no local copy");
    expect(result.stderr).toContain("hf download HuggingFaceTB/SmolLM2-135M-Instruct --local-dir ./models/SmolLM2-135M-Instruct");
  });

  it("`serve <dataset file>` and `serve <folder without a model>` name what they are", async () => {
    const dataset = await tunekit(["serve", "support.jsonl", "--port", "0"]);
    expect(dataset.code).toBe(2);
    expect(dataset.stderr).toContain("`support.jsonl` is a dataset file, not a model");
    expect(dataset.stderr).not.toMatch(/transformers|Traceback/);
    const folder = await tunekit(["serve", "data", "--port", "0"]);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain("`data` is a folder without a model in it");
  });
});

describe("the real cause, not a neighbouring one", () => {
  it("a directory where a file goes: `files upload`, `estimate`, `data stats`", async () => {
    // an upload takes one file; the data commands also read dataset folders, and say this one holds none
    const cases: Array<[string[], string]> = [
      [["files", "upload", "data", "--server", server.url], "`data` is a directory, not a file"],
      [["estimate", "data", "-m", "gpt-4o-mini"], "`data` is a folder without a dataset in it"],
      [["data", "stats", "data", "-m", "gpt-4o-mini"], "`data` is a folder without a dataset in it"],
    ];
    for (const [args, cause] of cases) {
      const result = await tunekit(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toContain(cause);
      expect(result.stderr, args.join(" ")).not.toMatch(/unreachable|no such file/);
    }
  });

  it("`files list` without a key says the key is missing; a wrong key says it is wrong", async () => {
    const missing = await tunekit(["files", "list", "--server", server.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("needs an API key, and none was given");
    const wrong = await tunekit(["files", "list", "--server", server.url, "--api-key", "tk-wrong"]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("incorrect API key");
  });

  it("a server URL without a scheme is named as such, with the URL to write", async () => {
    const result = await tunekit(["files", "list", "--server", "localhost:8000"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("`--server localhost:8000` has no scheme");
    expect(result.stderr).toContain("http://localhost:8000");
  });

  it("`deploy --provider gcp` is an unknown provider, not a Tunekit-server remark", async () => {
    const result = await tunekit(["deploy", "--provider", "gcp", "--model", "x"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown `--provider gcp`");
    expect(result.stderr).not.toContain("Tunekit server");
  });

  it("`data stats` on a file with no usable example exits 1 with one line, not one per example", async () => {
    const result = await tunekit(["data", "stats", "junk.jsonl", "-m", "gpt-4o-mini"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(2);
    expect(result.stderr).toContain("`junk.jsonl` has no usable example: all 40 line(s) were skipped (line 1:");
  });

  it("`tunekit` alone prints its help on stdout and exits 0", async () => {
    const result = await tunekit([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: tunekit");
    expect(result.stdout).toContain("migrate");
  });
});

describe("flags mean what they say", () => {
  it("`convert` and `split` refuse to overwrite their outputs without --force", async () => {
    writeFileSync(join(scratch, "rows.csv"), `question,answer\n${Array.from({ length: 12 }, (_, index) => `q${index},a${index}`).join("\n")}\n`);
    const args = ["data", "convert", "rows.csv", "all.jsonl", "--map", "question=user", "--map", "answer=assistant"];
    expect((await tunekit(args)).code).toBe(0);
    const again = await tunekit(args);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("`all.jsonl` already exists");
    expect(again.stderr).toContain("--force");
    expect((await tunekit([...args, "--force"])).code).toBe(0);

    const split = ["data", "split", "all.jsonl", "--validation", "0.2", "--test", "0"];
    expect((await tunekit(split)).code).toBe(0);
    const splitAgain = await tunekit(split);
    expect(splitAgain.code).toBe(2);
    expect(splitAgain.stderr).toMatch(/`all\.train\.jsonl`, `all\.validation\.jsonl` already exist/);
    expect((await tunekit([...split, "--force"])).code).toBe(0);
  });

  it("`assess --set k=v FILE` keeps FILE as the training file (the option is repeatable, not variadic)", async () => {
    const result = await tunekit(["assess", "--set", "eval.limit=2", "support.jsonl", "-c", "missing.yaml"]);
    expect(result.stderr).not.toContain("missing required argument");
    expect(result.code).toBe(2);
  });

  it("`jobs create --method` takes the API's methods and refuses anything else; --beta needs dpo", async () => {
    const bogus = await tunekit(["jobs", "create", "--model", "m", "--training-file", "file-x", "--method", "reinforcement", "--server", server.url]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain("unknown `--method reinforcement`");
    const beta = await tunekit(["jobs", "create", "--model", "m", "--training-file", "file-x", "--beta", "0.2", "--server", server.url]);
    expect(beta.code).toBe(2);
    expect(beta.stderr).toContain("`--beta` is DPO's");
    const help = await tunekit(["jobs", "create", "--help"]);
    for (const flag of ["--batch-size", "--learning-rate-multiplier", "--beta", "--seed", "--suffix", "--validation-file", "--metadata"]) expect(help.stdout).toContain(flag);
  });
});

describe("raw Node errors become sentences", () => {
  it("`-c <dir>`, `init -o missing/dir/x.yaml`, `--port 99999`, `--limit abc`", async () => {
    const directory = await tunekit(["train", "-c", "data"]);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain("config `data` is a directory, not a file");
    expect(directory.stderr).not.toContain("EISDIR");

    const init = await tunekit(["init", "-o", "missing/dir/x.yaml"]);
    expect(init.code, init.stderr).toBe(0);
    expect(readFileSync(join(scratch, "missing", "dir", "x.yaml"), "utf8")).toContain("model:");

    const port = await tunekit(["server", "--port", "99999", "--data-dir", join(scratch, "s2")]);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain("`--port` must be at most 65535");

    const limit = await tunekit(["jobs", "list", "--limit", "abc", "--server", server.url]);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain("`--limit` must be a whole number from 1 to 100, got `abc`");
  });

  it("a hosted model the price table does not know gets one warning with the nearest name", async () => {
    const misspelled = await tunekit(["estimate", "support.jsonl", "-m", "gpt-4o-mni"]);
    expect(misspelled.code).toBe(0);
    expect(misspelled.stdout).toContain("warning: `gpt-4o-mni` is not in the price table's fine-tunable models");
    expect(misspelled.stdout).toContain("Did you mean `gpt-4o-mini`?");
    const stats = await tunekit(["data", "stats", "support.jsonl", "-m", "gpt-5"]);
    expect(stats.stderr.match(/warning: `gpt-5` is not in the price table/g)).toHaveLength(1);
  });
});
