import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DistillProgress, progressPath, type RunSettings } from "./distill-progress.js";

// The files a kill -9 leaves at each point of a row's write, made for real, and what a resume makes of them.
const folder = mkdtempSync(join(tmpdir(), "tunekit-distill-progress-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const settings: RunSettings = { teacher: "teacher-model", temperature: 0, max_tokens: 16, seed: null, system: null };
let serial = 0;

function row(index: number): string {
  return JSON.stringify({
    messages: [
      { role: "user", content: `q${index}` },
      { role: "assistant", content: `a${index}` },
    ],
  });
}

/** A run that wrote `rows` rows whole, then stopped. */
async function written(rows: number): Promise<string> {
  const out = join(folder, `out-${(serial += 1)}.jsonl`);
  const progress = await DistillProgress.open(out, "/prompts.jsonl", settings);
  for (let index = 1; index <= rows; index++)
    progress.append(row(index), { row: index, line: index, prompt: `h${index}`, prompt_tokens: 3, completion_tokens: 2, finish_reason: "stop" });
  progress.close();
  return out;
}

describe("DistillProgress", () => {
  it("starts fresh, then resumes with the rows it wrote", async () => {
    const out = await written(3);
    expect(readFileSync(out, "utf8")).toBe(`${row(1)}\n${row(2)}\n${row(3)}\n`);
    const resumed = await DistillProgress.open(out, "/prompts.jsonl", settings);
    expect([...resumed.done.keys()]).toEqual([1, 2, 3]);
    expect(resumed.repairs).toEqual([]);
    resumed.append(row(4), { row: 4, prompt: "h4", prompt_tokens: null, completion_tokens: null, finish_reason: null });
    resumed.close();
    expect(readFileSync(progressPath(out), "utf8").trimEnd().split("\n")).toHaveLength(5);
  });

  it("killed during the OUT write: the partial line is cut", async () => {
    const out = await written(2);
    appendFileSync(out, row(3).slice(0, 20));
    const resumed = await DistillProgress.open(out, "/prompts.jsonl", settings);
    expect([...resumed.done.keys()]).toEqual([1, 2]);
    expect(readFileSync(out, "utf8")).toBe(`${row(1)}\n${row(2)}\n`);
    expect(resumed.repairs.join()).toMatch(/partial line/);
  });

  it("killed between the two writes: the unrecorded row goes, its prompt is asked again", async () => {
    const out = await written(2);
    appendFileSync(out, `${row(3)}\n`);
    const resumed = await DistillProgress.open(out, "/prompts.jsonl", settings);
    expect([...resumed.done.keys()]).toEqual([1, 2]);
    expect(readFileSync(out, "utf8")).toBe(`${row(1)}\n${row(2)}\n`);
    expect(resumed.repairs.join()).toMatch(/before recording it/);
  });

  it("killed during the progress write: the partial entry is cut and so is its row", async () => {
    const out = await written(2);
    appendFileSync(out, `${row(3)}\n`);
    appendFileSync(progressPath(out), '{"row":3,"line":3,"pro');
    const resumed = await DistillProgress.open(out, "/prompts.jsonl", settings);
    expect([...resumed.done.keys()]).toEqual([1, 2]);
    expect(readFileSync(out, "utf8")).toBe(`${row(1)}\n${row(2)}\n`);
    expect(readFileSync(progressPath(out), "utf8").trimEnd().split("\n")).toHaveLength(3);
    // and the next row goes on from there
    resumed.append(row(3), { row: 3, prompt: "h3", prompt_tokens: 1, completion_tokens: 1, finish_reason: "stop" });
    resumed.close();
    const again = await DistillProgress.open(out, "/prompts.jsonl", settings);
    expect([...again.done.keys()]).toEqual([1, 2, 3]);
    expect(again.repairs).toEqual([]);
  });

  it("killed before the first row: starts over", async () => {
    const out = join(folder, "first.jsonl");
    writeFileSync(out, row(1).slice(0, 10));
    const resumed = await DistillProgress.open(out, "/prompts.jsonl", settings);
    expect(resumed.done.size).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("");
  });

  it("refuses an OUT someone else wrote to, or other settings, and leaves the files as they are", async () => {
    const edited = await written(3);
    const lines = readFileSync(edited, "utf8").split("\n");
    lines[1] = row(99);
    writeFileSync(edited, lines.join("\n"));
    await expect(DistillProgress.open(edited, "/prompts.jsonl", settings)).rejects.toMatchObject({ code: "output_changed", line: 2 });

    const grown = await written(1);
    appendFileSync(grown, `${row(2)}\n${row(3)}\n`);
    await expect(DistillProgress.open(grown, "/prompts.jsonl", settings)).rejects.toMatchObject({ code: "output_changed" });
    expect(readFileSync(grown, "utf8").split("\n")).toHaveLength(4);

    const foreign = join(folder, "foreign.jsonl");
    writeFileSync(foreign, `${row(1)}\n`);
    await expect(DistillProgress.open(foreign, "/prompts.jsonl", settings)).rejects.toMatchObject({ code: "output_not_from_distill" });

    const other = await written(1);
    await expect(DistillProgress.open(other, "/prompts.jsonl", { ...settings, teacher: "another", max_tokens: 32 })).rejects.toThrow(
      /teacher "teacher-model" \(now "another"\), max_tokens 16 \(now 32\)/,
    );
  });

  it("an OUT deleted to start over takes its progress file with it", async () => {
    const out = await written(2);
    rmSync(out);
    const fresh = await DistillProgress.open(out, "/prompts.jsonl", settings);
    expect(fresh.done.size).toBe(0);
    expect(existsSync(progressPath(out))).toBe(false);
  });
});
