import { readFile } from "node:fs/promises";
import path from "node:path";
import { TunekitError } from "../core/errors.js";
import { resolveConfigPath, type LoadedConfig } from "../core/config-load.js";
import type { ChatMessage } from "../spec/dataset.js";
import { RUN_FILES } from "../spec/run-folder.js";
import { estimateTraining } from "../data/estimate/estimate-training.js";
import { SHIPPED_PRICE_TABLE, defaultPriceTable, findHostedPrice } from "../data/estimate/price-table.js";
import { trainingCost } from "../data/estimate/billed-tokens.js";
import { loadTokenCounter, type DatasetTokenCounter } from "../data/tokens/load-token-counter.js";
import { openAiEncodingFor } from "../data/tokens/tiktoken-counter.js";
import { bootstrapMean, type ConfidenceInterval } from "./bootstrap.js";
import { createChatModel, type ChatModel, type EndpointConfig, type EvalConfig } from "./chat-client.js";
import { percentile, requestCost, resolveHosting, type FineTuningCost, type RequestCost } from "./cost-model.js";
import { readEvalExamples, type EvalExample } from "./eval-example.js";
import { compileAnswerPattern } from "./metrics/regex-match.js";
import { recommend, type Recommendation, type StrategySummary } from "./recommend.js";
import { EmbeddingRetriever } from "./retrieval/embedding-retriever.js";
import { readPassageCorpus } from "./retrieval/passage-corpus.js";
import { scoreAnswer, METRIC_DESCRIPTIONS, type MetricName, type ScoringContext } from "./score-answer.js";
import { Bm25Retriever, RandomRetriever, STRATEGY_DESCRIPTIONS, examplePassage, fewShotPrompt, ragPrompt, type Retriever, type StrategyName } from "./strategies.js";

export const REPORT_VERSION = 1;

export interface ExampleResult {
  line: number;
  input: string;
  reference: string;
  answer: string;
  scores: Record<string, number | null>;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
}

export interface StrategyResult {
  strategy: StrategyName;
  description: string;
  model: string;
  endpoint: string;
  /** how demonstrations or passages were chosen (few-shot, RAG) */
  selection: string | null;
  metrics: Record<string, ConfidenceInterval>;
  tokens: { meanPrompt: number; meanCompletion: number; source: string };
  latency: { p50Ms: number; p95Ms: number; meanMs: number };
  /** wall-clock seconds of the whole strategy and the requests answered per second */
  wallSeconds: number;
  requestsPerSecond: number;
  cost: RequestCost;
  examples: ExampleResult[];
}

/** report.json */
export interface EvalReport {
  version: number;
  kind: "eval" | "assess";
  createdAt: string;
  config: string | null;
  task: { useCase: string; testFile: string; testExamples: number; trainFile: string; trainExamples: number };
  metrics: Array<{ name: string; description: string; primary: boolean }>;
  settings: {
    seed: number;
    temperature: number;
    maxTokens: number;
    bootstrapSamples: number;
    confidence: number;
    tolerance: number;
    expectedRequests: number;
    concurrency: number;
  };
  currency: string;
  strategies: StrategyResult[];
  fineTuning: FineTuningCost;
  recommendation: Recommendation;
  /** data readiness (assess only) */
  readiness?: unknown;
}

export interface RunEvalOptions {
  loaded: LoadedConfig;
  strategies?: StrategyName[];
  kind?: "eval" | "assess";
  /** where progress lines go (stderr in the CLI) */
  log?: (line: string) => void;
  /** the fine-tuning cost when the caller already knows it (assess passes its estimate) */
  fineTuningCost?: FineTuningCost;
}

function configError(message: string, field: string, fix: string): TunekitError {
  return new TunekitError(message, { kind: "config", code: "invalid_eval_config", field, fix });
}

/** The model name a strategy sends. */
function resolveModelName(config: LoadedConfig["config"], strategy: StrategyName): string {
  if (strategy !== "fine-tuned") return config.eval.base.model ?? config.model;
  const name = config.eval.fine_tuned.endpoint.model;
  if (name === null) {
    throw configError(
      "The fine-tuned strategy needs the model id to request: `eval.fine_tuned.endpoint.model` is not set",
      "eval.fine_tuned.endpoint.model",
      "Set it to the fine-tuned model id (`ft:...` for hosted jobs, the name `tunekit serve` serves the adapter under for local runs), or drop `fine-tuned` from --strategies.",
    );
  }
  return name;
}

function endpointFor(config: EvalConfig, strategy: StrategyName): { endpoint: EndpointConfig; field: string } {
  return strategy === "fine-tuned" ? { endpoint: config.fine_tuned.endpoint, field: "eval.fine_tuned.endpoint" } : { endpoint: config.base, field: "eval.base" };
}

/** Local models need a server: point at it (`tunekit serve`/`tunekit server`, vLLM) with base_url. */
function checkReachable(model: string, endpoint: EndpointConfig, field: string): void {
  if (endpoint.base_url === null && endpoint.api === "openai" && resolveHosting(model, endpoint) === "local") {
    throw configError(
      `\`${model}\` is not a hosted OpenAI model, so \`${field}.base_url\` must point at a server that serves it`,
      `${field}.base_url`,
      `Start an OpenAI-compatible server for it (\`tunekit serve ${model}\`, \`tunekit server\`, or vLLM) and set \`${field}.base_url\` to its /v1 URL.`,
    );
  }
}

async function mapWithConcurrency<T, R>(items: readonly T[], concurrency: number, run: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!, index);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Token counts from the model's tokenizer when the API reports no usage. */
class FallbackTokenCounts {
  private counter: Promise<DatasetTokenCounter | null> | null = null;
  constructor(
    private readonly model: string,
    private readonly chatTemplate: string | null,
  ) {}
  private load(): Promise<DatasetTokenCounter | null> {
    this.counter ??= loadTokenCounter(this.model, { chatTemplate: this.chatTemplate }).catch(() => null);
    return this.counter;
  }
  async method(): Promise<string | null> {
    return (await this.load())?.method ?? null;
  }
  async count(prompt: readonly ChatMessage[], answer: string): Promise<{ prompt: number; completion: number } | null> {
    const counter = await this.load();
    if (!counter) return null;
    const promptOnly = counter.count({ messages: [...prompt, { role: "assistant", content: "" }] }).total;
    const whole = counter.count({ messages: [...prompt, { role: "assistant", content: answer }] }).total;
    return { prompt: promptOnly, completion: Math.max(0, whole - promptOnly) };
  }
}

interface PreparedStrategy {
  selection: string | null;
  promptFor(example: EvalExample): Promise<ChatMessage[]>;
}

async function prepareStrategy(
  strategy: StrategyName,
  config: EvalConfig,
  train: readonly EvalExample[],
  test: readonly EvalExample[],
  corpus: { passages: string[]; origin: string } | null,
  loaded: LoadedConfig,
): Promise<PreparedStrategy> {
  if (strategy === "zero-shot" || strategy === "fine-tuned") return { selection: null, promptFor: async (example) => example.prompt };
  if (strategy === "few-shot") {
    const k = config.few_shot.k;
    const retriever: Retriever = config.few_shot.selection === "random" ? new RandomRetriever(train.length, config.seed) : new Bm25Retriever(train.map((example) => example.input));
    return {
      selection: `${k} training examples, ${retriever.description}`,
      promptFor: async (example) =>
        fewShotPrompt(
          example,
          (await retriever.retrieve(example.input, k)).map((index) => train[index]!),
        ),
    };
  }
  const passages = corpus!.passages;
  const k = config.rag.k;
  let retriever: Retriever;
  if (config.rag.retriever === "embeddings") {
    if (config.rag.embedding_model === null) {
      throw configError(
        "`eval.rag.retriever` is `embeddings` but `eval.rag.embedding_model` is not set",
        "eval.rag.embedding_model",
        "Set it to a local sentence-embedding model folder, or use `retriever: bm25`.",
      );
    }
    retriever = await EmbeddingRetriever.create(
      config.rag.python,
      resolveConfigPath(loaded, config.rag.embedding_model),
      passages,
      test.map((example) => example.input),
    );
  } else retriever = new Bm25Retriever(passages);
  return {
    selection: `${k} passages from ${corpus!.origin}, ${retriever.description}`,
    promptFor: async (example) =>
      ragPrompt(
        example,
        (await retriever.retrieve(example.input, k)).map((index) => passages[index]!),
      ),
  };
}

async function runStrategy(
  strategy: StrategyName,
  prepared: PreparedStrategy,
  chat: ChatModel,
  endpoint: EndpointConfig,
  test: readonly EvalExample[],
  config: EvalConfig,
  metrics: readonly MetricName[],
  scoring: ScoringContext,
  fallbackTokens: FallbackTokenCounts,
  log: (line: string) => void,
): Promise<StrategyResult> {
  // one untimed warm-up request: the first request to a local server often loads the model
  if (test.length > 0) await chat.complete(await prepared.promptFor(test[0]!), { maxTokens: 1, temperature: config.temperature, seed: config.seed });
  const started = performance.now();
  let fromUsage = 0;
  let done = 0;
  const examples = await mapWithConcurrency(test, config.concurrency, async (example) => {
    const prompt = await prepared.promptFor(example);
    const answer = await chat.complete(prompt, { maxTokens: config.max_tokens, temperature: config.temperature, seed: config.seed });
    let promptTokens = answer.promptTokens;
    let completionTokens = answer.completionTokens;
    if (promptTokens === null || completionTokens === null) {
      const counted = await fallbackTokens.count(prompt, answer.text);
      promptTokens ??= counted?.prompt ?? 0;
      completionTokens ??= counted?.completion ?? 0;
    } else fromUsage++;
    const scores = await scoreAnswer(metrics, answer.text, example, scoring);
    done++;
    if (done % 10 === 0 || done === test.length) log(`  ${strategy}: ${done}/${test.length}`);
    return { line: example.line, input: example.input, reference: example.reference, answer: answer.text, scores, promptTokens, completionTokens, latencyMs: answer.latencyMs };
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  const metricIntervals: Record<string, ConfidenceInterval> = {};
  metrics.forEach((metric, index) => {
    const scores = examples.map((example) => example.scores[metric]).filter((value): value is number => typeof value === "number");
    // one seed per metric, the same for every strategy: strategies are resampled alike
    metricIntervals[metric] = bootstrapMean(scores, { samples: config.bootstrap_samples, level: config.confidence, seed: config.seed + index });
  });
  const latencies = examples.map((example) => example.latencyMs);
  const meanPrompt = mean(examples.map((example) => example.promptTokens));
  const meanCompletion = mean(examples.map((example) => example.completionTokens));
  const tokenMethod = await fallbackTokens.method();
  return {
    strategy,
    description: STRATEGY_DESCRIPTIONS[strategy],
    model: chat.model,
    endpoint: chat.endpoint,
    selection: prepared.selection,
    metrics: metricIntervals,
    tokens: {
      meanPrompt,
      meanCompletion,
      source:
        fromUsage === examples.length
          ? "the API's usage (the serving model's tokenizer)"
          : `${tokenMethod ?? "unknown tokenizer"}${fromUsage > 0 ? ` for ${examples.length - fromUsage} answers without usage` : ""}`,
    },
    latency: { p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95), meanMs: mean(latencies) },
    wallSeconds,
    requestsPerSecond: examples.length / Math.max(wallSeconds, 1e-9),
    cost: requestCost({
      model: chat.model,
      endpoint,
      meanPromptTokens: meanPrompt,
      meanCompletionTokens: meanCompletion,
      secondsPerRequest: wallSeconds / Math.max(1, examples.length),
    }),
    examples,
  };
}

/** What fine-tuning cost: the configured figure, a hosted job's billed tokens x price, or a local run's time x hour price. */
export async function fineTuningCost(loaded: LoadedConfig): Promise<FineTuningCost> {
  const config = loaded.config;
  const settings = config.eval.fine_tuned;
  let trainingTokens = settings.training_tokens;
  let trainingSeconds: number | null = null;
  if (settings.run_dir !== null) {
    const summaryFile = path.join(resolveConfigPath(loaded, settings.run_dir), RUN_FILES.summary);
    try {
      const summary = JSON.parse(await readFile(summaryFile, "utf8")) as { trained_tokens?: number; train_runtime_s?: number };
      trainingTokens ??= summary.trained_tokens ?? null;
      trainingSeconds = summary.train_runtime_s ?? null;
    } catch (error) {
      throw new TunekitError(`Cannot read \`${summaryFile}\` of \`eval.fine_tuned.run_dir\``, {
        kind: "config",
        code: "run_summary_not_found",
        field: "eval.fine_tuned.run_dir",
        fix: "Point it at a finished `tunekit train` run folder (it holds summary.json), or set it to null.",
        cause: error,
      });
    }
  }
  if (settings.training_cost !== null) return { cost: settings.training_cost, basis: "as configured (`eval.fine_tuned.training_cost`)", trainingTokens, trainingSeconds };
  const fineTunedModel = settings.endpoint.model ?? config.model;
  if (resolveHosting(fineTunedModel, settings.endpoint) === "hosted" || config.provider !== "local") {
    const table = defaultPriceTable();
    const price = findHostedPrice(table, fineTunedModel) ?? findHostedPrice(table, config.model);
    if (price === null)
      return { cost: null, basis: `no training price for \`${fineTunedModel}\` in the shipped price table (${SHIPPED_PRICE_TABLE})`, trainingTokens, trainingSeconds };
    if (trainingTokens === null) {
      const estimate = await estimateTraining({
        file: resolveConfigPath(loaded, config.data.train),
        model: price.model,
        counter: await loadTokenCounter(price.model),
        epochs: config.training.epochs,
        prices: table,
      });
      trainingTokens = estimate.hosted.find((entry) => entry.model === price.model)?.billedTokens ?? null;
      if (trainingTokens === null) return { cost: null, basis: "could not estimate billed tokens", trainingTokens, trainingSeconds };
      return {
        cost: trainingCost(trainingTokens, price.training_per_million),
        basis: `estimated ${trainingTokens.toLocaleString("en-US")} billed tokens (${estimate.epochs} epochs) x ${price.training_per_million}/1M (${price.model}, ${price.source})`,
        trainingTokens,
        trainingSeconds,
      };
    }
    return {
      cost: trainingCost(trainingTokens, price.training_per_million),
      basis: `${trainingTokens.toLocaleString("en-US")} trained tokens x ${price.training_per_million}/1M (${price.model})`,
      trainingTokens,
      trainingSeconds,
    };
  }
  if (trainingSeconds === null) {
    return { cost: null, basis: "local training time unknown: set `eval.fine_tuned.run_dir` to the run folder", trainingTokens, trainingSeconds };
  }
  const hourPrice = settings.endpoint.hour_price;
  return {
    cost: (trainingSeconds / 3600) * hourPrice,
    basis: `${trainingSeconds.toFixed(0)} s of training measured (summary.json) x ${hourPrice} per machine-hour`,
    trainingTokens,
    trainingSeconds,
  };
}

/** Run the test split through each strategy, score it, price it and decide. */
export async function runEval(options: RunEvalOptions): Promise<EvalReport> {
  const { loaded } = options;
  const config = loaded.config;
  const evalConfig = config.eval;
  const log = options.log ?? (() => {});
  const strategies = options.strategies ?? evalConfig.strategies;
  const metrics = evalConfig.metrics as MetricName[];
  if (config.data.test === null) {
    throw configError(
      "`data.test` is not set, so there is no held-out set to evaluate on",
      "data.test",
      "Set `data.test` to a held-out JSONL file (`tunekit data split` makes one).",
    );
  }
  const testFile = resolveConfigPath(loaded, config.data.test);
  const trainFile = resolveConfigPath(loaded, config.data.train);
  const format = config.data.format === "auto" ? "auto" : config.data.format;
  const test = await readEvalExamples(testFile, { format, limit: evalConfig.limit, field: "data.test" });
  const needsTrain = strategies.includes("few-shot") || (strategies.includes("rag") && evalConfig.rag.corpus === null);
  const train = needsTrain ? await readEvalExamples(trainFile, { format, field: "data.train" }) : [];
  const corpus = strategies.includes("rag")
    ? evalConfig.rag.corpus === null
      ? { passages: train.map(examplePassage), origin: "the training set" }
      : { passages: await readPassageCorpus(resolveConfigPath(loaded, evalConfig.rag.corpus)), origin: evalConfig.rag.corpus }
    : null;

  const scoring: ScoringContext = {
    arrayMatch: evalConfig.json_array_match,
    pattern: metrics.includes("regex") ? compileAnswerPattern(evalConfig.regex) : null,
    judge: null,
  };
  if (metrics.includes("llm-judge")) {
    const judgeModel = evalConfig.judge.endpoint.model;
    if (judgeModel === null)
      throw configError(
        "The `llm-judge` metric needs `eval.judge.endpoint.model`",
        "eval.judge.endpoint.model",
        "Set it to a capable model (e.g. gpt-4o-mini) and its endpoint, or drop `llm-judge` from `eval.metrics`.",
      );
    scoring.judge = { model: createChatModel(evalConfig.judge.endpoint, judgeModel, "eval.judge.endpoint"), rubric: evalConfig.judge.rubric };
  }

  // resolve every model before the first request, so a config mistake surfaces at once
  const clients = strategies.map((strategy) => {
    const model = resolveModelName(config, strategy);
    const { endpoint, field } = endpointFor(evalConfig, strategy);
    checkReachable(model, endpoint, field);
    return { strategy, endpoint, chat: createChatModel(endpoint, model, field) };
  });
  const chatTemplate =
    config.data.chat_template === null ? null : await readFile(resolveConfigPath(loaded, config.data.chat_template), "utf8").catch(() => config.data.chat_template);
  // the tokenizer for answers without usage: OpenAI names (and their ft: ids) by tiktoken, anything else by the base model's
  const tokenizerModel = (model: string) => (openAiEncodingFor(model) !== null ? model : config.model);
  const results: StrategyResult[] = [];
  for (const { strategy, endpoint, chat } of clients) {
    log(`${strategy}: ${test.length} requests to ${chat.model} at ${chat.endpoint}`);
    const prepared = await prepareStrategy(strategy, evalConfig, train, test, corpus, loaded);
    const fallback = new FallbackTokenCounts(tokenizerModel(chat.model), chatTemplate);
    results.push(await runStrategy(strategy, prepared, chat, endpoint, test, evalConfig, metrics, scoring, fallback, log));
  }

  const fineTuning =
    options.fineTuningCost ??
    (strategies.includes("fine-tuned") ? await fineTuningCost(loaded) : { cost: null, basis: "not evaluated", trainingTokens: null, trainingSeconds: null });
  const primary = metrics[0]!;
  const summaries: StrategySummary[] = results.map((result) => ({
    strategy: result.strategy,
    score: result.metrics[primary]!,
    per1000Requests: result.cost.per1000Requests,
    meanPromptTokens: result.tokens.meanPrompt,
    latencyP50Ms: result.latency.p50Ms,
  }));
  const system = test[0]?.system;
  const useCase = system
    ? `The task, as its system prompt states it: "${system.length > 240 ? `${system.slice(0, 237)}...` : system}"`
    : "The task of the test set (it has no system prompt).";
  const recommendation = recommend({
    metric: primary,
    useCase,
    testExamples: test.length,
    strategies: summaries,
    fineTuning,
    currency: "USD",
    tolerance: evalConfig.tolerance,
    expectedRequests: evalConfig.expected_requests,
    confidence: evalConfig.confidence,
  });
  return {
    version: REPORT_VERSION,
    kind: options.kind ?? "eval",
    createdAt: new Date().toISOString(),
    config: loaded.path,
    task: { useCase, testFile, testExamples: test.length, trainFile, trainExamples: train.length },
    metrics: metrics.map((name, index) => ({ name, description: METRIC_DESCRIPTIONS[name], primary: index === 0 })),
    settings: {
      seed: evalConfig.seed,
      temperature: evalConfig.temperature,
      maxTokens: evalConfig.max_tokens,
      bootstrapSamples: evalConfig.bootstrap_samples,
      confidence: evalConfig.confidence,
      tolerance: evalConfig.tolerance,
      expectedRequests: evalConfig.expected_requests,
      concurrency: evalConfig.concurrency,
    },
    currency: "USD",
    strategies: results,
    fineTuning,
    recommendation,
  };
}
