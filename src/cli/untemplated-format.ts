import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DatasetFormat } from "../spec/dataset.js";
import { RUN_FILES } from "../spec/run-folder.js";

/**
 * Prompt-completion and text data train on raw text: the worker tokenizes `prompt + completion`
 * (or `text`) with no chat template, as OpenAI's legacy completions models did. Tunekit serves
 * chat completions only, and every engine wraps the request's messages in the model's chat
 * template, so the fine-tuned model is asked in a shape it never saw. We warn at both ends (train
 * and serve) and name the fix: train on chat data (the template is then used on both sides).
 */
export interface UntemplatedWarning {
  code: "trained_without_chat_template";
  format: DatasetFormat;
  message: string;
  fix: string;
}

const UNTEMPLATED: ReadonlySet<string> = new Set(["prompt-completion", "text"]);

function conversionFix(format: string, file: string | null): string {
  const source = file ?? "train.jsonl";
  return format === "prompt-completion"
    ? `train on chat data instead, so training and serving both use the chat template: \`tunekit data convert ${source} chat.jsonl --map prompt=user --map completion=assistant\`, then set \`data.train\` to it`
    : "train on chat data instead (messages with user and assistant turns), so training and serving both use the chat template";
}

/** The warning for a run about to train on `format` (null when the format uses the chat template). */
export function trainWarning(format: string, trainFile: string | null): UntemplatedWarning | null {
  if (!UNTEMPLATED.has(format)) return null;
  return {
    code: "trained_without_chat_template",
    format: format as DatasetFormat,
    message:
      `\`${format}\` data trains on the raw ${format === "text" ? "text" : "prompt followed by the completion"}, without the model's chat template, ` +
      "but `tunekit serve` and `tunekit server` answer chat completions only, which wrap the messages in the chat template: the fine-tuned model will be prompted in a shape it was not trained on",
    fix: conversionFix(format, trainFile),
  };
}

/** The warning for serving a run that trained on `format`. */
export function serveWarning(runDir: string, format: string, trainFile: string | null): UntemplatedWarning | null {
  if (!UNTEMPLATED.has(format)) return null;
  return {
    code: "trained_without_chat_template",
    format: format as DatasetFormat,
    message:
      `run \`${runDir}\` trained on \`${format}\` data without the chat template, but chat completions put every request through the template: ` +
      "answers may differ from what training taught (there is no /v1/completions endpoint for raw prompts)",
    fix: `${conversionFix(format, trainFile)}, and train again`,
  };
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The first record's format of a JSONL file (what `data.format: auto` resolves to), or null. */
export function firstRecordFormat(file: string): DatasetFormat | null {
  if (!existsSync(file)) return null;
  let text: string;
  try {
    text = readFileSync(file, "utf8").slice(0, 1 << 20);
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record === null || typeof record !== "object" || Array.isArray(record)) return null;
      if ("messages" in record) return "chat";
      if ("preferred_output" in record || "non_preferred_output" in record) return "preference";
      if ("prompt" in record && "completion" in record) return "prompt-completion";
      if ("text" in record) return "text";
      return null;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * The data format a run folder trained on: the worker's resolved config in summary.json, else
 * job.json's `data.format` (detected from its training file when `auto`).
 */
export function runDataFormat(runDir: string): { format: string; trainFile: string | null } | null {
  const summary = readJson(join(runDir, RUN_FILES.summary));
  const resolved = (summary?.resolved_config ?? null) as { data?: { format?: unknown; train?: unknown } } | null;
  const job = readJson(join(runDir, RUN_FILES.job)) as { data?: { format?: unknown; train?: unknown } } | null;
  const trainFile = typeof resolved?.data?.train === "string" ? resolved.data.train : typeof job?.data?.train === "string" ? job.data.train : null;
  for (const format of [resolved?.data?.format, job?.data?.format]) {
    if (typeof format === "string" && format !== "auto") return { format, trainFile };
  }
  const detected = trainFile ? firstRecordFormat(trainFile) : null;
  return detected ? { format: detected, trainFile } : null;
}
