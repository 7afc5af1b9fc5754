import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, describe, expect, it } from "vitest";

/** `tunekit data convert` through the real CLI (dist/cli/main.js, built by `make build`): exit codes, --json, files. */
const root = fileURLToPath(new URL("..", import.meta.url));
const fixtures = join(root, "test", "fixtures", "convert");
const scratch = mkdtempSync(join(tmpdir(), "tunekit-convert-e2e-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tunekit(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(root, "dist", "cli", "main.js"), ...args], {
    cwd: scratch,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("tunekit data convert", () => {
  it("exits 0 and writes chat JSONL when every row converts (parquet, --from from the extension)", () => {
    const input = join(scratch, "faq.parquet");
    parquetWriteFile({
      filename: input,
      columnData: [
        { name: "q", data: ["How do I reset my password?", "Where is my invoice?"], type: "STRING" },
        { name: "a", data: ["Use the reset link on the sign-in page.", "Under Billing > Invoices."], type: "STRING" },
      ],
    });
    const output = join(scratch, "faq.jsonl");
    const run = tunekit(["data", "convert", input, output, "--map", "q=prompt", "--map", "a=completion", "--system", "You are support."]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("wrote 2 examples");
    expect(readFileSync(output, "utf8")).toBe(
      [
        '{"messages":[{"role":"system","content":"You are support."},{"role":"user","content":"How do I reset my password?"},{"role":"assistant","content":"Use the reset link on the sign-in page."}]}',
        '{"messages":[{"role":"system","content":"You are support."},{"role":"user","content":"Where is my invoice?"},{"role":"assistant","content":"Under Billing > Invoices."}]}',
        "",
      ].join("\n"),
    );
  });

  it("exits 1 when rows are skipped; --json prints {written, skipped, problems} with line, column and fix", () => {
    const output = join(scratch, "qa.jsonl");
    const run = tunekit(["data", "convert", join(fixtures, "qa.csv"), output, "--map", "question=user", "--map", "answer=assistant", "--json"]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ written: 4, skipped: 1, from: "csv" });
    expect(report.problems).toEqual([
      { row: 4, line: 6, column: "answer", field: "assistant", code: "empty_value", message: expect.stringContaining("line 6"), fix: expect.any(String) },
    ]);
    expect(readFileSync(output, "utf8").trimEnd().split("\n")).toHaveLength(4);
  });

  it("prints skipped rows with their fix on stderr in human mode", () => {
    const run = tunekit(["data", "convert", join(fixtures, "sharegpt.jsonl"), join(scratch, "sharegpt-out.jsonl"), "--from", "sharegpt"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("line 3: `conversations[1].from` is `narrator`");
    expect(run.stderr).toContain("fix: use one of human");
    expect(run.stdout).toContain("wrote 3 examples");
  });

  it("converts Alpaca records with the input after the instruction", () => {
    const output = join(scratch, "alpaca-out.jsonl");
    const run = tunekit(["data", "convert", join(fixtures, "alpaca.json"), output, "--from", "alpaca", "--json"]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ written: 3, skipped: 1, container: "json" });
    const first = JSON.parse(readFileSync(output, "utf8").split("\n")[0] as string);
    expect(first.messages[0]).toEqual({ role: "user", content: "Translate the sentence to French.\n\nThe cat sleeps." });
  });

  it("exits 2 on usage errors, with the error envelope under --json", () => {
    const unknownFormat = tunekit(["data", "convert", join(fixtures, "qa.csv"), join(scratch, "x.jsonl"), "--from", "xlsx", "--json"]);
    expect(unknownFormat.code).toBe(2);
    expect(JSON.parse(unknownFormat.stdout).error).toMatchObject({ kind: "usage", code: "unknown_format", field: "--from" });

    const badMap = tunekit(["data", "convert", join(fixtures, "qa.csv"), join(scratch, "x.jsonl"), "--map", "question=bot"]);
    expect(badMap.code).toBe(2);
    expect(badMap.stderr).toContain("`bot`");

    const unmapped = tunekit(["data", "convert", join(fixtures, "qa.csv"), join(scratch, "x.jsonl")]);
    expect(unmapped.code).toBe(2);
    expect(unmapped.stderr).toContain("columns: `question`, `answer`, `category`");

    const missingArgument = tunekit(["data", "convert", join(fixtures, "qa.csv")]);
    expect(missingArgument.code).toBe(2);
  });
});
