import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * `tunekit data split` through the real CLI, on the demo dataset; and the demo dataset itself:
 * its generator reproduces the committed files byte for byte, and no example is in two splits.
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const recipes = join(root, "examples", "recipes");
const scratch = mkdtempSync(join(tmpdir(), "tunekit-split-e2e-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, args, { cwd: scratch, encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const tunekit = (args: string[]) => run([join(root, "dist", "cli", "main.js"), ...args]);
const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);
const SPLITS = ["train", "validation", "test"] as const;

describe("examples/recipes demo dataset", () => {
  it("is reproduced byte for byte by its generator", () => {
    const outDir = join(scratch, "regenerated");
    const generated = run([join(recipes, "generate.mjs"), outDir]);
    expect(generated.code, generated.stderr).toBe(0);
    for (const name of SPLITS) {
      expect(readFileSync(join(outDir, `${name}.jsonl`)).equals(readFileSync(join(recipes, `${name}.jsonl`))), name).toBe(true);
    }
  });

  it("has at least 300/60/60 chat examples, no example (or recipe) in two splits, answers that are JSON arrays", () => {
    const splits = Object.fromEntries(SPLITS.map((name) => [name, lines(join(recipes, `${name}.jsonl`))])) as Record<(typeof SPLITS)[number], string[]>;
    expect(splits.train.length).toBeGreaterThanOrEqual(300);
    expect(splits.validation.length).toBeGreaterThanOrEqual(60);
    expect(splits.test.length).toBeGreaterThanOrEqual(60);
    const seen = new Map<string, string>();
    for (const name of SPLITS) {
      for (const line of splits[name]) {
        const messages = JSON.parse(line).messages as { role: string; content: string }[];
        expect(messages.map((message) => message.role)).toEqual(["system", "user", "assistant"]);
        const answer = JSON.parse(messages[2]?.content as string);
        expect(Array.isArray(answer) && answer.length >= 3 && answer.every((item: unknown) => typeof item === "string" && item === item.toLowerCase())).toBe(true);
        const recipe = messages[1]?.content as string;
        expect(seen.get(recipe), `recipe in ${seen.get(recipe)} and ${name}`).toBeUndefined();
        seen.set(recipe, name);
      }
    }
  });
});

describe("tunekit data split", () => {
  const all = join(root, "examples", "recipes", "train.jsonl");

  it("splits with exact ratios, disjoint outputs that cover the input, and byte-identical reruns (--json)", () => {
    const first = tunekit(["data", "split", all, "--validation", "0.1", "--test", "0.2", "--seed", "42", "--out-dir", join(scratch, "a"), "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({ examples: 320, groups: 320, seed: 42 });
    expect(report.splits.validation.examples).toBe(32);
    expect(report.splits.test.examples).toBe(64);
    expect(report.splits.train.examples).toBe(224);
    const outputs = SPLITS.map((name) => lines(join(scratch, "a", `train.${name}.jsonl`)));
    expect(outputs.map((output) => output.length)).toEqual([224, 32, 64]);
    const union = outputs.flat();
    expect(new Set(union).size).toBe(union.length);
    expect([...union].sort()).toEqual([...lines(all)].sort());

    const again = tunekit(["data", "split", all, "--validation", "0.1", "--test", "0.2", "--seed", "42", "--out-dir", join(scratch, "b")]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/validation +32 +10\.0 %/);
    for (const name of SPLITS) {
      expect(readFileSync(join(scratch, "b", `train.${name}.jsonl`)).equals(readFileSync(join(scratch, "a", `train.${name}.jsonl`)))).toBe(true);
    }

    const otherSeed = tunekit(["data", "split", all, "--validation", "0.1", "--test", "0.2", "--seed", "43", "--out-dir", join(scratch, "c")]);
    expect(otherSeed.code).toBe(0);
    expect(lines(join(scratch, "c", "train.test.jsonl"))).not.toEqual(outputs[2]);
  });

  it("exits 2 on usage errors", () => {
    expect(tunekit(["data", "split", all, "--validation", "abc", "--out-dir", join(scratch, "d")]).code).toBe(2);
    expect(tunekit(["data", "split", all, "--seed", "-1", "--out-dir", join(scratch, "d")]).code).toBe(2);
    const missing = tunekit(["data", "split", join(scratch, "missing.jsonl"), "--json"]);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error.code).toBe("file_not_found");
  });
});
