import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { evalEndpointSchema } from "../../core/config-schema.js";
import { TunekitError, type ProblemDetail } from "../../core/errors.js";
import { severityOf } from "../../data/validate/problem-codes.js";
import { validateLine } from "../../data/validate/validate-line.js";
import type { EndpointConfig } from "../chat-client.js";
import { hostedTokenPrice, resolveHosting, type TokenPrice } from "../cost-model.js";
import { AdaptiveLimit } from "./adaptive-limit.js";
import { openPromptSource, type DistillPrompt, type PromptProblem } from "./distill-prompts.js";
import { DistillProgress, progressPath, type ProgressEntry, type RunSettings } from "./distill-progress.js";
import { classifyFailure, createTeacherClient, type TeacherAnswer, type TeacherFailure } from "./teacher-client.js";

/**
 * `tunekit data distill`: a teacher model behind any OpenAI-compatible endpoint answers the
 * prompts of a file, and the answers become chat training data (`{"messages": [...]}` a line),
 * each row checked by the toolkit's line validator before it is written. Resumable at any instant
 * (distill-progress.ts), bounded and adaptive concurrency (adaptive-limit.ts), 429 Retry-After
 * honoured, the teacher's token use and cost recorded.
 */
export interface DistillOptions {
  teacher: string;
  prompts: string;
  output: string;
  /** source format of the prompts (default: by extension) */
  from?: string;
  /** `column=user|system` entries for tabular prompts */
  map?: readonly string[];
  /** OpenAI-compatible base URL; default https://api.openai.com/v1 */
  baseUrl?: string | null;
  api?: "openai" | "azure";
  /** environment variable holding the key; default OPENAI_API_KEY (AZURE_OPENAI_API_KEY for azure) */
  apiKeyEnv?: string;
  azureApiVersion?: string;
  /** requests in flight at most (default 4) */
  concurrency?: number;
  maxTokens?: number;
  /** default 0 */
  temperature?: number;
  seed?: number;
  /** system message prepended to prompts without one */
  system?: string;
  /** price per 1M prompt / completion tokens; default: the shipped inference price table, for hosted OpenAI models */
  priceInput?: number;
  priceOutput?: number;
  /** retries of one prompt after a 429, a 5xx, a timeout or a dropped connection (default 8) */
  maxRetries?: number;
  /** per request, default 300 s */
  timeoutMs?: number;
  /** stop: no new requests, in-flight ones abandoned (their prompts stay to do) */
  signal?: AbortSignal;
  onProgress?: (progress: DistillProgressEvent) => void;
  /** things worth saying that are not errors (repairs of a killed run's files) */
  onNotice?: (message: string) => void;
}

export interface DistillProgressEvent {
  total: number;
  done: number;
  answered: number;
  failed: number;
  rate_limited: number;
  concurrency: number;
}

export interface DistillProblem {
  row: number;
  line?: number;
  /** HTTP status of the teacher's refusal, when it was one */
  status?: number;
  code: string;
  message: string;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  /** answers whose response had no `usage` */
  requests_without_usage: number;
}

export interface DistillSummary {
  teacher: string;
  base_url: string;
  prompts_file: string;
  output: string;
  progress_file: string;
  summary_file: string;
  prompts_total: number;
  /** rows in OUT from earlier runs (resumed) */
  already_done: number;
  /** prompts answered and written by this run */
  answered: number;
  /** prompts the teacher refused or that failed after every retry */
  failed: number;
  /** answers not written because the row would not be valid training data */
  rejected: number;
  /** prompts still to do: failed, rejected, or not reached (interrupted) */
  remaining: number;
  /** written answers cut at --max-tokens (finish_reason `length`) */
  truncated: number;
  complete: boolean;
  interrupted: boolean;
  /** 429 responses, every one waited out and retried */
  rate_limited: number;
  /** requests sent again (429s included) */
  retries: number;
  retry_wait_seconds: number;
  concurrency: { max: number; final: number; lowest: number };
  /** the teacher's tokens for the requests of this run (rejected answers included: they were billed) */
  usage: Usage;
  /** the teacher's tokens behind every row of OUT, all runs */
  dataset_usage: Omit<Usage, "requests_without_usage">;
  cost: { currency: "USD"; this_run: number | null; dataset: number | null; input_per_million: number | null; output_per_million: number | null; basis: string };
  /** seconds of the request phase of this run */
  wall_seconds: number;
  requests_per_second: number;
  completion_tokens_per_second: number;
  tokens_per_second: number;
  repairs: string[];
  /** failed and rejected prompts (the first 100) */
  problems: DistillProblem[];
  problems_omitted: number;
}

const MAX_PROBLEMS_LISTED = 100;
const MAX_PROMPT_PROBLEMS_LISTED = 20;
/** give up on a run whose first requests all fail the same way, instead of one error per prompt */
const FAILURES_BEFORE_GIVING_UP = 5;
const MAX_RETRY_WAIT_MS = 300_000;

export function summaryPath(output: string): string {
  return `${output}.distill-summary.json`;
}

export async function distillDataset(options: DistillOptions): Promise<DistillSummary> {
  const concurrency = options.concurrency ?? 4;
  const maxRetries = options.maxRetries ?? 8;
  const temperature = options.temperature ?? 0;
  if (resolve(options.prompts) === resolve(options.output)) {
    throw new TunekitError("`--out` is the prompts file", { kind: "usage", code: "output_is_input", field: "--out", fix: "write the training data to another path" });
  }
  const api = options.api ?? "openai";
  const endpoint: EndpointConfig = evalEndpointSchema.parse({
    base_url: options.baseUrl ?? null,
    api,
    api_key_env: options.apiKeyEnv ?? (api === "azure" ? "AZURE_OPENAI_API_KEY" : "OPENAI_API_KEY"),
    ...(options.azureApiVersion !== undefined && { azure_api_version: options.azureApiVersion }),
    input_price_per_million: options.priceInput ?? null,
    output_price_per_million: options.priceOutput ?? null,
  });
  const teacher = createTeacherClient(endpoint, options.teacher, { timeoutMs: options.timeoutMs });
  const price = resolvePrice(options, endpoint);
  const source = await openPromptSource({ file: options.prompts, from: options.from, map: options.map, system: options.system });

  const settings: RunSettings = {
    teacher: options.teacher,
    temperature,
    max_tokens: options.maxTokens ?? null,
    seed: options.seed ?? null,
    system: options.system ?? null,
  };
  mkdirSync(dirname(resolve(options.output)), { recursive: true });
  const progress = await DistillProgress.open(options.output, resolve(options.prompts), settings);
  for (const repair of progress.repairs) options.onNotice?.(repair);
  const alreadyDone = progress.done.size;

  // pass 1: every prompt checked before the first request (a broken line costs nothing), and the
  // prompts of rows already in OUT must be the ones they were answered for
  let total = 0;
  const problems: PromptProblem[] = [];
  let problemCount = 0;
  const changed: PromptProblem[] = [];
  const seenDone = new Set<number>();
  for await (const record of source.read()) {
    total += 1;
    if (record.problem !== undefined) {
      problemCount += 1;
      if (problems.length < MAX_PROMPT_PROBLEMS_LISTED) problems.push(record.problem);
      continue;
    }
    const entry = progress.done.get(record.prompt.row);
    if (entry === undefined) continue;
    seenDone.add(entry.row);
    if (entry.prompt !== record.prompt.hash) {
      changed.push({ row: record.prompt.row, ...(record.prompt.line !== undefined && { line: record.prompt.line }), code: "prompt_changed", message: "", fix: "" });
    }
  }
  if (problemCount > 0) {
    progress.close();
    const first = problems[0] as PromptProblem;
    const located = /^(line|row) \d+/u.test(first.message) ? first.message : `${first.line !== undefined ? `line ${first.line}` : `row ${first.row}`}: ${first.message}`;
    throw new TunekitError(
      problemCount === 1
        ? `a prompt in \`${options.prompts}\` cannot be sent: ${located}`
        : `${problemCount} prompts in \`${options.prompts}\` cannot be sent; the first: ${located}`,
      {
        kind: "data",
        code: problemCount === 1 ? first.code : "invalid_prompts",
        file: options.prompts,
        ...(first.line !== undefined && { line: first.line }),
        problems: problems.map((problem): ProblemDetail => ({
          code: problem.code,
          message: problem.line === undefined && !/^row \d+/u.test(problem.message) ? `row ${problem.row}: ${problem.message}` : problem.message,
          file: options.prompts,
          ...(problem.line !== undefined && { line: problem.line }),
        })),
        fix: `${first.fix}${problemCount > problems.length ? ` (${problemCount - problems.length} more not listed)` : ""}; nothing was sent to the teacher`,
      },
    );
  }
  const missing = [...progress.done.keys()].filter((row) => !seenDone.has(row));
  if (changed.length > 0 || missing.length > 0) {
    progress.close();
    const where = changed[0] ? (changed[0].line !== undefined ? `line ${changed[0].line}` : `row ${changed[0].row}`) : `row ${missing[0]}`;
    throw new TunekitError(
      changed.length > 0
        ? `${changed.length} prompt${changed.length === 1 ? "" : "s"} of \`${options.prompts}\` changed since ${options.output} answered ${changed.length === 1 ? "it" : "them"} (first: ${where})`
        : `\`${options.output}\` holds answers to ${missing.length} row${missing.length === 1 ? "" : "s"} that \`${options.prompts}\` no longer has (first: ${where})`,
      {
        kind: "conflict",
        code: "prompts_changed",
        file: options.prompts,
        ...(changed[0]?.line !== undefined && { line: changed[0].line }),
        fix: `distill resumes by row: restore the prompts file as it was (appending new prompts at the end is fine), or pass a new --out`,
      },
    );
  }

  const limit = new AdaptiveLimit(concurrency);
  const stats = {
    answered: 0,
    failed: 0,
    rejected: 0,
    truncated: 0,
    rateLimited: 0,
    retries: 0,
    retryWaitMs: 0,
    usage: { prompt_tokens: 0, completion_tokens: 0, requests_without_usage: 0 } as Usage,
  };
  const listed: DistillProblem[] = [];
  let problemsOmitted = 0;
  const addProblem = (problem: DistillProblem): void => {
    if (listed.length < MAX_PROBLEMS_LISTED) listed.push(problem);
    else problemsOmitted += 1;
  };
  const abort = new AbortController();
  // each worker listens once while it waits or asks: up to two listeners a worker
  setMaxListeners(2 * concurrency + 10, abort.signal);
  let fatal: TunekitError | null = null;
  let interrupted = false;
  const stop = (): void => {
    if (!abort.signal.aborted) abort.abort();
  };
  const onSignal = (): void => {
    interrupted = true;
    stop();
  };
  if (options.signal?.aborted) onSignal();
  options.signal?.addEventListener("abort", onSignal, { once: true });
  const report = (): void =>
    options.onProgress?.({
      total,
      done: progress.done.size,
      answered: stats.answered,
      failed: stats.failed + stats.rejected,
      rate_limited: stats.rateLimited,
      concurrency: limit.limit,
    });

  const started = performance.now();
  const prompts = source.read();
  const takeNext = async (): Promise<DistillPrompt | null> => {
    for (;;) {
      if (abort.signal.aborted) return null;
      const next = await prompts.next();
      if (next.done) return null;
      if (next.value.prompt === undefined) continue;
      if (progress.done.has(next.value.prompt.row)) continue;
      return next.value.prompt;
    }
  };

  const give = (failure: TeacherFailure, prompt: DistillPrompt): void => {
    const where = prompt.line !== undefined ? `line ${prompt.line}` : `row ${prompt.row}`;
    fatal ??= new TunekitError(
      failure.connection
        ? `cannot reach the teacher at ${teacher.endpoint}: ${failure.message}`
        : `the teacher \`${teacher.model}\` at ${teacher.endpoint} refused the request${failure.status !== null ? ` (HTTP ${failure.status})` : ""}: ${failure.message}`,
      {
        kind: failure.status === 404 ? "not_found" : failure.connection ? "environment" : failure.status === 401 || failure.status === 403 ? "config" : "environment",
        code: failure.code ?? (failure.status === 404 ? "model_not_found" : failure.connection ? "teacher_unreachable" : "teacher_refused"),
        field: failure.status === 401 || failure.status === 403 ? "--api-key-env" : failure.status === 404 ? "--teacher" : "--base-url",
        fix:
          failure.status === 404
            ? `check --teacher and --base-url: GET ${teacher.endpoint}/models lists what the server serves`
            : failure.status === 401 || failure.status === 403
              ? `check the key in ${endpoint.api_key_env} (and that it may use \`${teacher.model}\`)`
              : failure.code === "insufficient_quota"
                ? "add credit or raise the quota of the key's project, then rerun the same command: it resumes"
                : failure.connection
                  ? `start the teacher's server, or fix --base-url; then rerun the same command: it resumes`
                  : `first seen at ${where}; fix the cause and rerun the same command: it resumes`,
      },
    );
    stop();
  };

  const answerOf = async (prompt: DistillPrompt): Promise<TeacherAnswer | null> => {
    for (let attempt = 0; ; attempt++) {
      if (abort.signal.aborted) return null;
      await limit.acquire();
      if (abort.signal.aborted) {
        limit.release("other");
        return null;
      }
      let failure: TeacherFailure;
      // a signal per request: the SDK never removes the listener it adds, so the run's own signal
      // would collect one per request
      const request = new AbortController();
      const cancel = (): void => request.abort();
      abort.signal.addEventListener("abort", cancel, { once: true });
      try {
        const answer = await teacher.complete(
          { messages: prompt.request, tools: prompt.tools, parallel_tool_calls: prompt.parallel_tool_calls, maxTokens: options.maxTokens, temperature, seed: options.seed },
          request.signal,
        );
        limit.release("answered");
        return answer;
      } catch (error) {
        failure = classifyFailure(error);
        if (failure.kind === "rate_limited") limit.release("rate_limited", failure.retryAfterMs);
        else limit.release("other");
      } finally {
        abort.signal.removeEventListener("abort", cancel);
      }
      if (failure.aborted || abort.signal.aborted) return null;
      if (failure.kind === "rate_limited") stats.rateLimited += 1;
      const where = prompt.line !== undefined ? `line ${prompt.line}` : `row ${prompt.row}`;
      const retryable = failure.kind === "rate_limited" || failure.kind === "retryable";
      // nothing listening: a teacher that has not answered yet in this run gets two retries, not the whole budget
      if (failure.kind === "fatal" || (failure.connection && (attempt >= maxRetries || (stats.answered === 0 && attempt >= 2)))) {
        give(failure, prompt);
        return null;
      }
      if (!retryable || attempt >= maxRetries) {
        stats.failed += 1;
        addProblem({
          row: prompt.row,
          ...(prompt.line !== undefined && { line: prompt.line }),
          ...(failure.status !== null && { status: failure.status }),
          code: failure.code ?? (failure.kind === "prompt" ? "teacher_refused" : "retries_exhausted"),
          message: `${where}: ${retryable ? `still failing after ${maxRetries} retries: ` : ""}${failure.message}`,
        });
        if (stats.answered === 0 && stats.failed >= FAILURES_BEFORE_GIVING_UP)
          give({ ...failure, message: `the first ${stats.failed} prompts all failed; the first: ${listed[0]?.message ?? failure.message}` }, prompt);
        report();
        return null;
      }
      const wait = Math.min(MAX_RETRY_WAIT_MS, failure.retryAfterMs ?? backoffMs(attempt));
      stats.retries += 1;
      stats.retryWaitMs += wait;
      // an abort ends the wait early, and the next attempt sees it
      await sleep(wait, undefined, { signal: abort.signal }).catch(() => undefined);
    }
  };

  const handle = (prompt: DistillPrompt, answer: TeacherAnswer): void => {
    const where = prompt.line !== undefined ? `line ${prompt.line}` : `row ${prompt.row}`;
    if (answer.promptTokens === null || answer.completionTokens === null) stats.usage.requests_without_usage += 1;
    stats.usage.prompt_tokens += answer.promptTokens ?? 0;
    stats.usage.completion_tokens += answer.completionTokens ?? 0;
    const reply: Record<string, unknown> = { role: "assistant", content: answer.content ?? (answer.toolCalls ? null : "") };
    if (answer.toolCalls) reply.tool_calls = answer.toolCalls;
    const row: Record<string, unknown> = { messages: [...prompt.messages, reply] };
    if (prompt.tools !== undefined) row.tools = prompt.tools;
    if (prompt.parallel_tool_calls !== undefined) row.parallel_tool_calls = prompt.parallel_tool_calls;
    const text = JSON.stringify(row);
    const checked = validateLine(text, prompt.line ?? prompt.row, { format: "chat", formatSource: "distill", fingerprints: false });
    const errors = checked.problems.filter((problem) => severityOf(problem.code) === "error");
    if (errors.length > 0) {
      stats.rejected += 1;
      addProblem({
        row: prompt.row,
        ...(prompt.line !== undefined && { line: prompt.line }),
        code: errors[0]?.code ?? "invalid_row",
        message: `${where}: the teacher's answer makes an invalid row: ${errors.map((problem) => problem.message).join("; ")}`,
      });
      return;
    }
    const entry: Omit<ProgressEntry, "out"> = {
      row: prompt.row,
      ...(prompt.line !== undefined && { line: prompt.line }),
      prompt: prompt.hash,
      prompt_tokens: answer.promptTokens,
      completion_tokens: answer.completionTokens,
      finish_reason: answer.finishReason,
    };
    progress.append(text, entry);
    stats.answered += 1;
    if (answer.finishReason === "length") stats.truncated += 1;
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      const prompt = await takeNext();
      if (prompt === null) return;
      const answer = await answerOf(prompt);
      // an answer that arrived as a stop came is kept too: it was paid for
      if (answer !== null) {
        handle(prompt, answer);
        report();
      }
    }
  };
  report();
  try {
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
  } finally {
    options.signal?.removeEventListener("abort", onSignal);
    await prompts.return(undefined);
    progress.close();
  }
  const seconds = (performance.now() - started) / 1000;

  const datasetUsage = { prompt_tokens: 0, completion_tokens: 0 };
  for (const entry of progress.entries) {
    datasetUsage.prompt_tokens += entry.prompt_tokens ?? 0;
    datasetUsage.completion_tokens += entry.completion_tokens ?? 0;
  }
  const costOf = (usage: { prompt_tokens: number; completion_tokens: number }): number | null =>
    price.price === null ? null : round((usage.prompt_tokens * price.price.input + usage.completion_tokens * price.price.output) / 1e6, 6);
  const done = progress.done.size;
  const summary: DistillSummary = {
    teacher: options.teacher,
    base_url: teacher.endpoint,
    prompts_file: options.prompts,
    output: options.output,
    progress_file: progressPath(options.output),
    summary_file: summaryPath(options.output),
    prompts_total: total,
    already_done: alreadyDone,
    answered: stats.answered,
    failed: stats.failed,
    rejected: stats.rejected,
    remaining: total - done,
    truncated: stats.truncated,
    complete: done === total,
    interrupted,
    rate_limited: stats.rateLimited,
    retries: stats.retries,
    retry_wait_seconds: round(stats.retryWaitMs / 1000, 3),
    concurrency: { max: concurrency, final: limit.limit, lowest: limit.lowest },
    usage: stats.usage,
    dataset_usage: datasetUsage,
    cost: {
      currency: "USD",
      this_run: costOf(stats.usage),
      dataset: costOf(datasetUsage),
      input_per_million: price.price?.input ?? null,
      output_per_million: price.price?.output ?? null,
      basis: price.basis,
    },
    wall_seconds: round(seconds, 3),
    requests_per_second: seconds > 0 ? round(stats.answered / seconds, 3) : 0,
    completion_tokens_per_second: seconds > 0 ? round(stats.usage.completion_tokens / seconds, 2) : 0,
    tokens_per_second: seconds > 0 ? round((stats.usage.prompt_tokens + stats.usage.completion_tokens) / seconds, 2) : 0,
    repairs: progress.repairs,
    problems: listed,
    problems_omitted: problemsOmitted,
  };
  // the record sits beside the data it describes; written whole (temporary name, then rename)
  if (existsSync(options.output)) {
    const temporary = `${summary.summary_file}.partial-${process.pid}`;
    writeFileSync(temporary, `${JSON.stringify(fatal ? { ...summary, error: (fatal as TunekitError).toJSON().error } : summary, null, 2)}\n`);
    renameSync(temporary, summary.summary_file);
  }
  if (fatal !== null) throw fatal;
  return summary;
}

function resolvePrice(options: DistillOptions, endpoint: EndpointConfig): { price: TokenPrice | null; basis: string } {
  if (options.priceInput !== undefined && options.priceOutput !== undefined) {
    return {
      price: { input: options.priceInput, output: options.priceOutput, source: "flags" },
      basis: `--price-input ${options.priceInput} and --price-output ${options.priceOutput} USD per 1M tokens`,
    };
  }
  const where = endpoint.base_url ?? "api.openai.com";
  if (resolveHosting(options.teacher, endpoint) === "hosted") {
    const price = hostedTokenPrice(options.teacher, endpoint);
    if (price !== null) return { price, basis: `${price.input} / ${price.output} USD per 1M prompt / completion tokens for \`${options.teacher}\`, from ${price.source}` };
    return { price: null, basis: `no price known for \`${options.teacher}\`; pass --price-input and --price-output (USD per 1M tokens)` };
  }
  return {
    price: null,
    basis: `\`${options.teacher}\` at ${where} is not a hosted OpenAI model: it costs the serving machine's time, not tokens; pass --price-input and --price-output to price its tokens`,
  };
}

/** 0.5 s, doubling to 8 s, less up to a quarter of jitter (the openai SDK's own schedule). */
function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
