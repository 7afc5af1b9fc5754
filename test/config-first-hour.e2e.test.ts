/**
 * A newcomer's first hour with the run config (issue 13): `config show` reads ./tunekit.yaml as
 * `train` does and checks, before any compute, what would stop a run (files, model, provider,
 * method), all at once; config and `--set` errors say how to write the value, sorted by line, each
 * with its own fix; a YAML error shows the line, the column and the line's text.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = resolve("dist/cli/main.js");
let scratch: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function tunekit(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((done) => {
    const env = {
      ...process.env,
      TUNEKIT_SERVER: "",
      TUNEKIT_API_KEY: "",
      OPENAI_API_KEY: "",
      AZURE_OPENAI_API_KEY: "",
      AZURE_OPENAI_ENDPOINT: "",
      HF_HOME: join(scratch, "hf"),
      HF_HUB_CACHE: "",
      ...options.env,
    };
    execFile(process.execPath, [CLI, ...args], { cwd: options.cwd ?? scratch, env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A project folder with a config, a chat training file and a tiny model folder. */
function project(name: string, yaml: string): string {
  const folder = join(scratch, name);
  mkdirSync(join(folder, "data"), { recursive: true });
  mkdirSync(join(folder, "models", "tiny"), { recursive: true });
  writeFileSync(join(folder, "models", "tiny", "config.json"), "{}\n");
  writeFileSync(
    join(folder, "data", "train.jsonl"),
    `${JSON.stringify({
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
      ],
    })}\n`,
  );
  writeFileSync(join(folder, "tunekit.yaml"), yaml);
  return folder;
}

interface ShowJson {
  ok: boolean;
  file: string;
  problems: Array<{ code: string; field: string; line?: number; message: string; fix: string }>;
  config: Record<string, unknown>;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "tunekit-config-first-hour-"));
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("`config show` reads ./tunekit.yaml and checks what can be checked before any compute", () => {
  it("reads ./tunekit.yaml when -c is omitted, and passes a config that would train", async () => {
    const folder = project("good", "model: ./models/tiny\ndata:\n  train: data/train.jsonl\ntraining:\n  epochs: 2\n");
    const shown = await tunekit(["config", "show"], { cwd: folder });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("model: ./models/tiny");
    expect(shown.stdout).toContain("epochs: 2");
    expect(shown.stderr).toContain("the data files exist, the model is reachable");
    const json = JSON.parse((await tunekit(["config", "show", "--json"], { cwd: folder })).stdout) as ShowJson;
    expect(json).toMatchObject({ ok: true, problems: [], file: join(folder, "tunekit.yaml") });
    expect((json.config.training as Record<string, unknown>).epochs).toBe(2);
  });

  it("with no ./tunekit.yaml says so (exit 2) and how to get one, instead of showing defaults", async () => {
    const empty = join(scratch, "empty");
    mkdirSync(empty);
    const shown = await tunekit(["config", "show"], { cwd: empty });
    expect(shown.code).toBe(2);
    expect(shown.stderr).toContain(`no tunekit.yaml in ${empty}`);
    expect(shown.stderr).toContain("tunekit init");
    const defaults = await tunekit(["config", "show", "--defaults"], { cwd: empty });
    expect(defaults.code).toBe(0);
    expect(defaults.stdout).toContain("method: lora");
  });

  it("reports every problem at once (exit 1): missing data files with the file that is there, a model folder without a model, a Hub id with no local copy", async () => {
    const folder = project("missing", "model: ./models/nothing-here\ndata:\n  train: data/all.train.jsonl\n  validation: data/all.validation.jsonl\n");
    writeFileSync(join(folder, "data", "all.valid.jsonl"), "{}\n");
    const shown = await tunekit(["config", "show"], { cwd: folder });
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain("tunekit.yaml has 3 problems that would stop `tunekit train`");
    expect(shown.stderr).toContain("tunekit.yaml line 1: `model`: `");
    expect(shown.stderr).toContain("nothing-here`: no such file or folder");
    expect(shown.stderr).toContain("tunekit.yaml line 3: `data.train` is `data/all.train.jsonl`: no such file");
    expect(shown.stderr).toContain("point `data.train` at one of the files in data/: `data/all.valid.jsonl`");
    expect(shown.stderr).toContain("tunekit.yaml line 4: `data.validation`");
    // the config is still printed, on stdout
    expect(shown.stdout).toContain("model: ./models/nothing-here");

    const json = JSON.parse((await tunekit(["config", "show", "--json"], { cwd: folder })).stdout) as ShowJson;
    expect(json.ok).toBe(false);
    expect(json.problems.map((problem) => [problem.field, problem.line, problem.code])).toEqual([
      ["model", 1, "model_not_found"],
      ["data.train", 3, "data_not_found"],
      ["data.validation", 4, "data_not_found"],
    ]);
    for (const problem of json.problems) expect(problem.fix.length).toBeGreaterThan(10);

    const unchecked = await tunekit(["config", "show", "--no-check"], { cwd: folder });
    expect(unchecked.code, unchecked.stderr).toBe(0);
    expect(unchecked.stderr).toBe("");

    const empty = await tunekit(["config", "show", "--set", "model=./data"], { cwd: folder });
    expect(empty.stderr).toContain("is a folder without a model in it");

    const hub = await tunekit(["config", "show", "--set", "model=HuggingFaceTB/SmolLM2-135M-Instruct", "--set", "data.train=data/train.jsonl", "--set", "data.validation=null"], {
      cwd: folder,
    });
    expect(hub.code).toBe(1);
    expect(hub.stderr).toContain("is a Hugging Face Hub id with no local copy");
    expect(hub.stderr).toContain("set `model: ./models/SmolLM2-135M-Instruct`");
    // a copy in the HF cache is reachable
    mkdirSync(join(scratch, "hf", "hub", "models--HuggingFaceTB--SmolLM2-135M-Instruct", "snapshots", "abc"), { recursive: true });
    const cached = await tunekit(
      ["config", "show", "--set", "model=HuggingFaceTB/SmolLM2-135M-Instruct", "--set", "data.train=data/train.jsonl", "--set", "data.validation=null"],
      { cwd: folder },
    );
    expect(cached.code, cached.stderr).toBe(0);
  });

  it("`init --model gpt-4o-mini-2024-07-18` writes `provider: openai`, and a hosted model under `provider: local` is named", async () => {
    const folder = join(scratch, "hosted");
    mkdirSync(join(folder, "data"), { recursive: true });
    writeFileSync(
      join(folder, "data", "train.jsonl"),
      `${JSON.stringify({
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
        ],
      })}\n`,
    );
    const init = await tunekit(["init", "--model", "gpt-4o-mini-2024-07-18", "--train", "data/train.jsonl"], { cwd: folder });
    expect(init.code, init.stderr).toBe(0);
    expect(readFileSync(join(folder, "tunekit.yaml"), "utf8")).toMatch(/^provider: openai$/m);
    expect(init.stdout).toContain("provider: openai");

    const withKey = await tunekit(["config", "show"], { cwd: folder, env: { OPENAI_API_KEY: "sk-test" } });
    expect(withKey.code, withKey.stderr).toBe(0);
    const withoutKey = await tunekit(["config", "show"], { cwd: folder });
    expect(withoutKey.code).toBe(1);
    expect(withoutKey.stderr).toContain("reads its API key from OPENAI_API_KEY, which is not set");

    const local = await tunekit(["config", "show", "--set", "provider=local"], { cwd: folder });
    expect(local.code).toBe(1);
    expect(local.stderr).toContain("`model` `gpt-4o-mini-2024-07-18` is a hosted OpenAI model, but `provider` is `local`");
    expect(local.stderr).toContain("set `provider: openai`");

    const misspelled = await tunekit(["config", "show", "--set", "model=gpt-4o-mni"], { cwd: folder, env: { OPENAI_API_KEY: "sk-test" } });
    expect(misspelled.code).toBe(1);
    expect(misspelled.stderr).toContain("Did you mean `gpt-4o-mini`?");

    const localModel = await tunekit(["config", "show", "--set", "model=./my-model"], { cwd: folder, env: { OPENAI_API_KEY: "sk-test" } });
    expect(localModel.code).toBe(1);
    expect(localModel.stderr).toContain("`provider` is `openai`, which fine-tunes hosted models only");
    expect(localModel.stderr).toContain("set `provider: local`");
  });

  it("`provider: azure` needs an endpoint; qlora needs CUDA and a local model; dpo needs preference data", async () => {
    const folder = project("agree", "provider: azure\nmodel: gpt-4o-mini-2024-07-18\ntraining:\n  method: qlora\nazure:\n  api_version: 2024-10-21\n");
    const azure = JSON.parse((await tunekit(["config", "show", "--json"], { cwd: folder, env: { AZURE_OPENAI_API_KEY: "k" } })).stdout) as ShowJson;
    expect(azure.ok).toBe(false);
    const byCode = new Map(azure.problems.map((problem) => [problem.code, problem]));
    expect(byCode.get("missing_endpoint")).toMatchObject({ field: "azure.endpoint", line: 5 });
    expect(byCode.get("missing_endpoint")!.message).toContain("`provider: azure` needs the resource endpoint");
    expect(byCode.get("missing_endpoint")!.fix).toContain("azure.endpoint: https://<your-resource>.openai.azure.com");
    expect(byCode.get("method_provider_mismatch")!.message).toContain("`training.method: qlora` runs on Tunekit's local worker only");
    const schemeless = await tunekit(["config", "show", "--set", "azure.endpoint=my-resource.openai.azure.com"], { cwd: folder, env: { AZURE_OPENAI_API_KEY: "k" } });
    expect(schemeless.stderr).toContain("write `https://my-resource.openai.azure.com`");

    const cpu = await tunekit(["config", "show", "--set", "provider=local", "--set", "model=./models/tiny", "--set", "training.device=cpu"], { cwd: folder });
    expect(cpu.code).toBe(1);
    expect(cpu.stderr).toContain("`training.method: qlora` needs a CUDA GPU (4-bit bitsandbytes kernels), but `training.device` is `cpu`");
    const machine = await tunekit(["config", "show", "--set", "provider=local", "--set", "model=./models/tiny"], { cwd: folder, env: { CUDA_VISIBLE_DEVICES: "" } });
    expect(machine.code).toBe(1);
    expect(machine.stderr).toContain('`training.method: qlora` needs a CUDA GPU, and CUDA_VISIBLE_DEVICES="" hides every GPU');
    if (!existsSync("/dev/nvidia0")) {
      const here = await tunekit(["config", "show", "--set", "provider=local", "--set", "model=./models/tiny"], { cwd: folder, env: { PATH: "/usr/bin:/bin" } });
      expect(here.stderr).toContain("this machine has no NVIDIA GPU (no /dev/nvidia0 and no `nvidia-smi` on PATH)");
    }

    const dpo = await tunekit(["config", "show", "--set", "provider=local", "--set", "model=./models/tiny", "--set", "training.method=dpo"], { cwd: folder });
    expect(dpo.code).toBe(1);
    expect(dpo.stderr).toContain("`training.method: dpo` needs preference pairs, but the first record of `data/train.jsonl` is a chat example");
    writeFileSync(join(folder, "data", "trl.jsonl"), `${JSON.stringify({ prompt: "q", chosen: "good", rejected: "bad" })}\n`);
    const trl = await tunekit(["config", "show", "--set", "provider=local", "--set", "model=./models/tiny", "--set", "training.method=dpo", "--set", "data.train=data/trl.jsonl"], {
      cwd: folder,
    });
    expect(trl.stderr).toContain("is a TRL-style pair (`prompt`, `chosen`, `rejected`)");
    expect(trl.stderr).toContain("tunekit data convert data/trl.jsonl");
    writeFileSync(
      join(folder, "data", "pairs.jsonl"),
      `${JSON.stringify({ input: { messages: [{ role: "user", content: "q" }] }, preferred_output: [{ role: "assistant", content: "good" }], non_preferred_output: [{ role: "assistant", content: "bad" }] })}\n`,
    );
    const pairs = await tunekit(
      ["config", "show", "--set", "provider=local", "--set", "model=./models/tiny", "--set", "training.method=dpo", "--set", "data.train=data/pairs.jsonl"],
      { cwd: folder },
    );
    expect(pairs.code, pairs.stderr).toBe(0);
  });
});

describe("config and `--set` errors say how to write the value", () => {
  it("a YAML config: quote a number-looking string, write a list, enum choices, bounds; sorted by line, each with its own fix (exit 2)", async () => {
    const folder = project(
      "values",
      [
        "model: ./models/tiny", // 1
        "output:", // 2
        "  suffix: 2024", // 3
        "training:", // 4
        "  method: sft", // 5
        "  lr_scheduler: cosin", // 6
        "  lora:", // 7
        "    r: 0", // 8
        "    target_modules: q_proj, v_proj", // 9
        "trainig:", // 10
        "  epochs: 3", // 11
        "data:", // 12
        "  max_seq_len: lots", // 13
      ].join("\n"),
    );
    const shown = await tunekit(["config", "show"], { cwd: folder });
    expect(shown.code).toBe(2);
    const lines = shown.stderr.split("\n");
    const problemLines = lines.filter((line) => line.startsWith("  - "));
    expect(problemLines.map((line) => Number(/line (\d+)/.exec(line)?.[1]))).toEqual([3, 5, 6, 8, 9, 10, 13]);
    const fixOf = (field: string) => lines[lines.findIndex((line) => line.startsWith("  - ") && line.includes(`\`${field}\``)) + 1]!;
    expect(shown.stderr).toContain("`output.suffix` takes text, but YAML reads 2024 as a number.");
    expect(fixOf("output.suffix")).toBe('    fix: put it in quotes: `suffix: "2024"`');
    expect(shown.stderr).toContain('`training.method` is "sft", which is not one of `lora`, `qlora`, `full`, `dpo`.');
    expect(fixOf("training.method")).toBe("    fix: write one of them, e.g. `method: lora`");
    expect(shown.stderr).toContain("Did you mean `cosine`?");
    expect(shown.stderr).toContain("`training.lora.r` is 0, out of bounds: it takes a whole number from 1 to 1024.");
    expect(fixOf("training.lora.r")).toBe("    fix: write a value in range, e.g. `r: 16` (the default)");
    expect(shown.stderr).toContain('`training.lora.target_modules` is a list, but "q_proj, v_proj" is one piece of text.');
    expect(fixOf("training.lora.target_modules")).toContain("`target_modules: [q_proj, v_proj]`");
    expect(fixOf("trainig")).toBe("    fix: rename it to `training`");
    expect(fixOf("data.max_seq_len")).toBe("    fix: write a number without quotes, e.g. `max_seq_len: 1024` (the default)");
    expect(shown.stderr).not.toContain("correct the fields above");

    const json = JSON.parse((await tunekit(["config", "show", "--json"], { cwd: folder })).stdout) as {
      error: { code: string; problems: Array<{ field: string; fix: string; line: number }> };
    };
    expect(json.error.code).toBe("invalid_config");
    expect(json.error.problems.map((problem) => problem.line)).toEqual([3, 5, 6, 8, 9, 10, 13]);
    for (const problem of json.error.problems) expect(problem.fix).toMatch(/`/);
  });

  it("`--set`: text that looks like a number stays text, `a,b` and `[a, b]` are lists, and errors show the flag to write", async () => {
    const folder = project("flags", "model: ./models/tiny\n");
    const shown = await tunekit(
      ["config", "show", "--set", "output.suffix=2024", "--set", "training.lora.target_modules=q_proj,v_proj", "--set", "eval.metrics=[token-f1, rouge-l]"],
      { cwd: folder },
    );
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('suffix: "2024"');
    expect(shown.stdout).toMatch(/target_modules:\n\s+- q_proj\n\s+- v_proj/);
    expect(shown.stdout).toMatch(/metrics:\n\s+- token-f1\n\s+- rouge-l/);

    const bad = await tunekit(
      ["config", "show", "--set", "eval.metrics=token-f1,rougel", "--set", "training.epochs=0", "--set", "trainng.seed=3", "--set", "training.method=sft"],
      { cwd: folder },
    );
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain("Did you mean `rouge-l`?");
    expect(bad.stderr).toContain("fix: write `--set 'eval.metrics=[token-f1, rouge-l]'`");
    expect(bad.stderr).toContain("`training.epochs` (from `--set`) is 0, out of bounds: it takes `auto` or a whole number from 1 to 100.");
    expect(bad.stderr).toContain("fix: write a value in range, e.g. `--set training.epochs=1`");
    expect(bad.stderr).toContain("fix: write `--set training.seed=3`");
    expect(bad.stderr).toContain("fix: write one of them, e.g. `--set training.method=lora`");

    const unclosed = await tunekit(["config", "show", "--set", "training.lora.target_modules=[q_proj"], { cwd: folder });
    expect(unclosed.code).toBe(2);
    expect(unclosed.stderr).toContain("the value `[q_proj` cannot be read");
    expect(unclosed.stderr).toContain("--set 'training.lora.target_modules=[a, b]'");
    const noEquals = await tunekit(["config", "show", "--set", "training.epochs"], { cwd: folder });
    expect(noEquals.code).toBe(2);
    expect(noEquals.stderr).toContain("is not of the form key.path=value");
  });

  it("a YAML syntax error shows the line, the column, the line's text, and where an unclosed bracket opened", async () => {
    const folder = project("syntax", "model: ./models/tiny\ntraining: {epochs: 3\ndata:\n  train: data/train.jsonl\n");
    const shown = await tunekit(["config", "show"], { cwd: folder });
    expect(shown.code).toBe(2);
    expect(shown.stderr).toContain("tunekit.yaml is not valid YAML (line 3)");
    expect(shown.stderr).toContain("tunekit.yaml line 3: column 1:");
    expect(shown.stderr).toContain("the line reads `data:`");
    expect(shown.stderr).toContain("(the `{` opened on line 2, `training: {epochs: 3`, is not closed)");
    writeFileSync(join(folder, "tunekit.yaml"), "model: ./models/tiny\ndata:\n\ttrain: data/train.jsonl\n");
    const tab = await tunekit(["config", "show", "--json"], { cwd: folder });
    expect(tab.code).toBe(2);
    const problem = (JSON.parse(tab.stdout) as { error: { problems: Array<Record<string, unknown>> } }).error.problems[0]!;
    expect(problem).toMatchObject({ code: "invalid_yaml", line: 3, column: 1 });
    expect(problem.fix).toBe("indent with spaces: YAML does not allow tabs");
    // train reads the same file the same way
    const train = await tunekit(["train"], { cwd: folder });
    expect(train.code).toBe(2);
    expect(train.stderr).toContain("Tabs are not allowed as indentation");
  });

  it("raw Node errors stay sentences: `config show -c <dir>` and `init -o missing/dir/x.yaml`", async () => {
    const folder = project("node-errors", "model: ./models/tiny\n");
    const directory = await tunekit(["config", "show", "-c", "data"], { cwd: folder });
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain("config `data` is a directory, not a file");
    expect(directory.stderr).not.toContain("EISDIR");
    const init = await tunekit(["init", "-o", "missing/dir/x.yaml"], { cwd: folder });
    expect(init.code, init.stderr).toBe(0);
    expect(existsSync(join(folder, "missing", "dir", "x.yaml"))).toBe(true);
    const again = await tunekit(["init", "-o", "missing/dir/x.yaml"], { cwd: folder });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
  });
});
