import { LineCounter, parseDocument } from "yaml";
import { configSchema } from "../core/config-schema.js";
import { configProblems } from "../core/config-load.js";
import type { ProblemDetail } from "../core/errors.js";
import { OPENAI_OWNED_TRAINING_FIELDS } from "./create-job-params.js";

/**
 * A run config written as for tunekit.yaml (the web UI's form and YAML view, `tunekit jobs
 * create --set`) turned into the POST /v1/fine_tuning/jobs body that makes the same job on a
 * Tunekit server: OpenAI's own parameters where OpenAI has one (model, files, suffix, seed, epochs,
 * batch size, learning-rate multiplier, DPO beta), the rest in the `tunekit` extension. Only the
 * fields the config sets are sent; the server's defaults fill the others. Also the same request as
 * a `tunekit` command, `curl`, and `openai` SDK code for Node and Python.
 */
export interface JobRequestBody {
  model: string;
  training_file: string;
  validation_file?: string;
  suffix?: string;
  seed?: number;
  method: { type: "supervised" | "dpo"; supervised?: { hyperparameters: Record<string, unknown> }; dpo?: { hyperparameters: Record<string, unknown> } };
  tunekit?: { training?: Record<string, unknown>; data?: Record<string, unknown>; execution?: { backend: string } };
}

export interface ConfigProblem extends ProblemDetail {
  severity: "error" | "warning";
}

export interface CheckedJobConfig {
  ok: boolean;
  problems: ConfigProblem[];
  /** the config as written (parsed from YAML when YAML was given) */
  config: Record<string, unknown>;
  /** the create-job body; null while the config has errors */
  request: JobRequestBody | null;
  /** where the body goes: this server's jobs, or a hosted provider's through it */
  endpoint: string;
  /** where the same body is estimated */
  estimate_endpoint: string;
  commands: { cli: string; curl: string; node: string; python: string } | null;
}

export interface JobTarget {
  /** this server's URL as the client reached it */
  url: string;
  /** the hosted providers the server drives (`provider: openai` in the config sends the job there) */
  hosted?: readonly string[];
}

/** Sections and fields of tunekit.yaml a server job does not use (they are for `tunekit train`/`eval` on this machine). */
const UNUSED_BY_SERVER_JOBS: Record<string, string> = {
  "data.test": "held-out data is for `tunekit eval`",
  "data.format": "the server detects the format of each file",
  "output.dir": "the server keeps each job's run folder under its data dir",
  "output.name": "the server names run folders after the job id",
  eval: "evaluation runs with `tunekit eval`",
  openai: "settings of `provider: openai`",
  azure: "settings of `provider: azure`",
  "execution.ray": "the server's own config holds each execution backend's settings; a job picks one with `execution.backend`",
  "execution.slurm": "the server's own config holds each execution backend's settings; a job picks one with `execution.backend`",
  version: "",
};

/** Parse YAML text (or take an object) and check it as a server job. */
export function checkJobConfig(input: { yaml?: string; config?: Record<string, unknown> }, server: JobTarget): CheckedJobConfig {
  const endpoints = { endpoint: "/v1/fine_tuning/jobs", estimate_endpoint: "/v1/tunekit/estimate" };
  let raw: Record<string, unknown> = input.config ?? {};
  let lineOf: ((path: readonly PropertyKey[]) => number | undefined) | undefined;
  if (input.yaml !== undefined) {
    const lineCounter = new LineCounter();
    const document = parseDocument(input.yaml, { lineCounter });
    if (document.errors.length > 0) {
      const problems: ConfigProblem[] = document.errors
        .slice(0, 20)
        .map((error) => ({ code: "invalid_yaml", severity: "error", line: error.linePos?.[0].line, message: error.message.split("\n")[0] ?? error.message }));
      return { ok: false, problems, config: {}, request: null, ...endpoints, commands: null };
    }
    const value = document.toJS() as unknown;
    if (value !== null && value !== undefined && (typeof value !== "object" || Array.isArray(value))) {
      return {
        ok: false,
        problems: [{ code: "invalid_config", severity: "error", line: 1, message: "the YAML must be a mapping of config fields (model, data, training, output)" }],
        config: {},
        request: null,
        ...endpoints,
        commands: null,
      };
    }
    raw = (value as Record<string, unknown> | null) ?? {};
    lineOf = (keyPath) => {
      const node = document.getIn(keyPath as unknown[], true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
      const parent = (keyPath.length > 1 ? document.getIn(keyPath.slice(0, -1) as unknown[], true) : document.contents) as { range?: [number, number, number] } | null | undefined;
      return parent?.range ? lineCounter.linePos(parent.range[0]).line : undefined;
    };
  }
  const problems: ConfigProblem[] = [];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) problems.push(...configProblems(parsed.error, lineOf).map((problem): ConfigProblem => ({ ...problem, severity: "error" })));
  const data = section(raw, "data");
  const training = section(raw, "training");
  const output = section(raw, "output");
  const requireFileId = (field: "train" | "validation", required: boolean) => {
    const value = data[field];
    if (value === undefined || value === null || value === "") {
      if (required)
        problems.push({
          code: "missing_file",
          severity: "error",
          field: `data.${field}`,
          line: lineOf?.(["data"]),
          message: "`data.train`: pick a validated training file (an uploaded file's id, `file-...`)",
        });
      return;
    }
    if (typeof value === "string" && !/^file-[A-Za-z0-9]+$/.test(value)) {
      problems.push({
        code: "not_a_file_id",
        severity: "error",
        field: `data.${field}`,
        line: lineOf?.(["data", field]),
        message: `\`data.${field}\`: a server job reads uploaded files: \`${value}\` is a path, not a file id; upload it first (POST /v1/files) and use its \`file-...\` id`,
      });
    }
  };
  requireFileId("train", true);
  requireFileId("validation", false);
  if (typeof raw.model !== "string" || raw.model === "")
    problems.push({ code: "missing_model", severity: "error", field: "model", line: lineOf?.(["model"]), message: "`model`: pick a base model (GET /v1/tunekit/models)" });
  // `provider: openai` (or azure): the job goes to that hosted provider through this server
  const provider = typeof raw.provider === "string" && raw.provider !== "local" ? raw.provider : null;
  if (provider !== null) {
    if (!(server.hosted ?? []).includes(provider)) {
      problems.push({
        code: "provider_not_available",
        severity: "error",
        field: "provider",
        line: lineOf?.(["provider"]),
        message: `\`provider\`: this server does not fine-tune on \`${provider}\`; start it with \`--hosted ${provider}\`, or use \`provider: local\``,
      });
    } else {
      endpoints.endpoint = `/v1/tunekit/hosted/${provider}/jobs`;
      endpoints.estimate_endpoint = `/v1/tunekit/hosted/${provider}/estimate`;
      for (const key of Object.keys(section(raw, "training"))) {
        if (!(key in OPENAI_OWNED_TRAINING_FIELDS) && !(key === "method" && ["dpo", "lora"].includes(String(section(raw, "training").method)))) {
          problems.push({
            code: "unused_field",
            severity: "warning",
            field: `training.${key}`,
            line: lineOf?.(["training", key]),
            message: `\`training.${key}\` is not used by hosted fine-tuning: ${provider} takes epochs, batch size, learning-rate multiplier and seed only`,
          });
        }
      }
      for (const key of ["max_seq_len", "chat_template"]) {
        if (section(raw, "data")[key] !== undefined)
          problems.push({
            code: "unused_field",
            severity: "warning",
            field: `data.${key}`,
            line: lineOf?.(["data", key]),
            message: `\`data.${key}\` is not used by hosted fine-tuning`,
          });
      }
    }
  }
  for (const [path, why] of Object.entries(UNUSED_BY_SERVER_JOBS)) {
    const [head, tail] = path.split(".") as [string, string | undefined];
    const present = tail === undefined ? raw[head] !== undefined : section(raw, head)[tail] !== undefined;
    if (present && why)
      problems.push({ code: "unused_field", severity: "warning", field: path, line: lineOf?.(path.split(".")), message: `\`${path}\` is not used by a server job: ${why}` });
  }
  const ok = problems.every((problem) => problem.severity !== "error");
  if (!ok) return { ok, problems, config: raw, request: null, ...endpoints, commands: null };

  const method = training.method === "dpo" ? "dpo" : "supervised";
  const hyperparameters: Record<string, unknown> = {};
  if (training.epochs !== undefined) hyperparameters.n_epochs = training.epochs;
  if (training.batch_size !== undefined) hyperparameters.batch_size = training.batch_size;
  if (training.learning_rate_multiplier !== undefined) hyperparameters.learning_rate_multiplier = training.learning_rate_multiplier;
  if (method === "dpo" && training.dpo_beta !== undefined) hyperparameters.beta = training.dpo_beta;
  const extensionTraining: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(training)) {
    if (key in OPENAI_OWNED_TRAINING_FIELDS || (key === "method" && value === "dpo")) continue;
    extensionTraining[key] = value;
  }
  const extensionData: Record<string, unknown> = {};
  for (const key of ["max_seq_len", "chat_template"]) if (data[key] !== undefined) extensionData[key] = data[key];
  const request: JobRequestBody = {
    model: raw.model as string,
    training_file: data.train as string,
    ...(typeof data.validation === "string" && data.validation !== "" ? { validation_file: data.validation } : {}),
    ...(typeof output.suffix === "string" && output.suffix !== "" ? { suffix: output.suffix } : {}),
    ...(typeof training.seed === "number" ? { seed: training.seed } : {}),
    method: { type: method, [method]: { hyperparameters } },
  };
  const backend = section(raw, "execution").backend;
  const tunekit = {
    ...(Object.keys(extensionTraining).length > 0 ? { training: extensionTraining } : {}),
    ...(Object.keys(extensionData).length > 0 ? { data: extensionData } : {}),
    ...(typeof backend === "string" ? { execution: { backend } } : {}),
  };
  if (Object.keys(tunekit).length > 0 && provider === null) request.tunekit = tunekit;
  return { ok, problems, config: raw, request, ...endpoints, commands: jobCommands(request, raw, server.url, provider) };
}

function section(raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = raw[key];
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The same job as a `tunekit jobs create` command, a curl call, and openai SDK code (a hosted provider's job goes through this server's hosted endpoint). */
export function jobCommands(request: JobRequestBody, config: Record<string, unknown>, serverUrl: string, provider: string | null = null): CheckedJobConfig["commands"] {
  const { tunekit, ...openaiFields } = request;
  const sets: string[] = [];
  const flatten = (prefix: string, value: unknown) => {
    if (value && typeof value === "object" && !Array.isArray(value)) for (const [key, inner] of Object.entries(value)) flatten(`${prefix}.${key}`, inner);
    else sets.push(`${prefix}=${Array.isArray(value) ? `[${value.join(",")}]` : String(value)}`);
  };
  if (provider === null) {
    flatten("training", section(config, "training"));
    const data = section(config, "data");
    for (const key of ["max_seq_len", "chat_template"]) if (data[key] !== undefined) flatten(`data.${key}`, data[key]);
  } else {
    for (const [key, value] of Object.entries(section(config, "training"))) if (key in OPENAI_OWNED_TRAINING_FIELDS || key === "method") flatten(`training.${key}`, value);
  }
  const path = provider === null ? "/fine_tuning/jobs" : `/tunekit/hosted/${provider}/jobs`;
  const cli = [
    "npx tunekit jobs create",
    `--server ${shellQuote(serverUrl)}`,
    ...(provider ? [`--hosted ${provider}`] : []),
    `--model ${shellQuote(request.model)}`,
    `--training-file ${request.training_file}`,
    ...(request.validation_file ? [`--validation-file ${request.validation_file}`] : []),
    ...(request.suffix ? [`--suffix ${shellQuote(request.suffix)}`] : []),
    ...(request.seed !== undefined ? [`--seed ${request.seed}`] : []),
    ...sets.filter((assignment) => !assignment.startsWith("training.seed=")).map((assignment) => `--set ${shellQuote(assignment)}`),
  ].join(" \\\n  ");
  const json = JSON.stringify(request, null, 2);
  const curl = [
    `curl -sS ${shellQuote(`${serverUrl}/v1${path}`)}`,
    '-H "Authorization: Bearer $TUNEKIT_API_KEY"',
    '-H "Content-Type: application/json"',
    `-d ${shellQuote(json)}`,
  ].join(" \\\n  ");
  const node = [
    'import OpenAI from "openai";',
    "",
    `const client = new OpenAI({ baseURL: ${JSON.stringify(`${serverUrl}/v1`)}, apiKey: process.env.TUNEKIT_API_KEY });`,
    ...(tunekit ? ["// `tunekit` is Tunekit's extension of the request: the SDK sends it as it is"] : []),
    `const params = ${json};`,
    ...(provider === null
      ? ["const job = await client.fineTuning.jobs.create(params as OpenAI.FineTuning.JobCreateParams);"]
      : [
          `// the job goes to ${provider} through this server, from files uploaded here`,
          `const job = await client.post<OpenAI.FineTuning.FineTuningJob>(${JSON.stringify(path)}, { body: params });`,
        ]),
    "console.log(job.id, job.status);",
  ].join("\n");
  const python = [
    "import os",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${JSON.stringify(`${serverUrl}/v1`)}, api_key=os.environ["TUNEKIT_API_KEY"])`,
    ...(provider === null
      ? [
          "job = client.fine_tuning.jobs.create(",
          ...Object.entries(openaiFields).map(([key, value]) => `    ${key}=${pythonLiteral(value, 1)},`),
          ...(tunekit ? [`    extra_body={"tunekit": ${pythonLiteral(tunekit, 1)}},`] : []),
          ")",
          "print(job.id, job.status)",
        ]
      : [
          `# the job goes to ${provider} through this server, from files uploaded here`,
          `job = client.post(${JSON.stringify(path)}, body=${pythonLiteral(openaiFields, 0)}, cast_to=dict)`,
          'print(job["id"], job["status"])',
        ]),
  ].join("\n");
  return { cli, curl, node, python };
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

/** A JSON value written as a Python literal (True/False/None). */
function pythonLiteral(value: unknown, depth: number): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number" || typeof value === "string") return JSON.stringify(value);
  const pad = "    ".repeat(depth + 1);
  const close = "    ".repeat(depth);
  if (Array.isArray(value)) return `[${value.map((item) => pythonLiteral(item, depth + 1)).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([key, inner]) => `${pad}${JSON.stringify(key)}: ${pythonLiteral(inner, depth + 1)},`).join("\n")}\n${close}}`;
}
