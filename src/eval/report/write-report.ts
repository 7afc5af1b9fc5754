import { mkdir, writeFile } from "node:fs/promises";
import { snakeKeys } from "../../core/json-style.js";
import path from "node:path";
import type { EvalReport } from "../run-eval.js";
import { renderHtml, renderMarkdown } from "./render-report.js";

/** Write report.json, report.md and report.html into `dir`; returns the three paths. */
export async function writeReport(report: EvalReport, dir: string): Promise<{ json: string; markdown: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const files = { json: path.join(dir, "report.json"), markdown: path.join(dir, "report.md"), html: path.join(dir, "report.html") };
  await writeFile(files.json, `${JSON.stringify(snakeKeys(report), null, 2)}\n`);
  await writeFile(files.markdown, renderMarkdown(report));
  await writeFile(files.html, renderHtml(report));
  return files;
}
