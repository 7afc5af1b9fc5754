import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso/router";
import { ConfigField } from "../components/config-field.js";
import { CopyButton, Notice, Section, Stat } from "../components/ui.js";
import { api } from "../lib/api.js";
import { serverInfo } from "../lib/server-state.js";
import { baseModels, loadBaseModels } from "../lib/catalog.js";
import { ConfigDocument, fieldSpec, fieldsUnder, type FieldSpec, type JsonSchema } from "../lib/config-form.js";
import { hostedProviders, loadHostedProviders } from "../lib/hosted.js";
import { hostedJobToConfig, jobToConfig } from "../lib/job-config.js";
import { formatBytes, formatCount, formatDuration, formatMoney, formatNumber } from "../lib/format.js";
import type { ConfigCheck, FileObject, FineTuningJob, HostedEstimate, JobDetail, ListPage, ModelInfo, TrainingEstimateView } from "../lib/wire.js";

/** Fields shown first; every other `training` field (and the data limits) sits under Advanced. */
const BASIC: string[][] = [
  ["model"],
  ["data", "train"],
  ["data", "validation"],
  ["training", "method"],
  ["training", "epochs"],
  ["training", "batch_size"],
  ["training", "learning_rate"],
  ["output", "suffix"],
];
const ADVANCED_EXTRA: string[][] = [
  ["data", "max_seq_len"],
  ["data", "chat_template"],
];
/** A hosted provider takes OpenAI's parameters only: these fields, and supervised or DPO. */
const HOSTED: string[][] = [
  ["model"],
  ["data", "train"],
  ["data", "validation"],
  ["training", "epochs"],
  ["training", "batch_size"],
  ["training", "learning_rate_multiplier"],
  ["training", "seed"],
  ["output", "suffix"],
];
const COMMANDS = [
  ["cli", "tunekit CLI"],
  ["curl", "curl"],
  ["node", "openai (TypeScript)"],
  ["python", "openai (Python)"],
] as const;

/**
 * A new job: a form generated from the run config's JSON Schema (labels, help, defaults, bounds and
 * choices all come from it), in sync both ways with a YAML view of the same config, checked by the
 * server with the same zod schema as tunekit.yaml. Before Start: the estimate, and the same job as a
 * CLI command, curl, and openai SDK code.
 */
export function NewJobScreen() {
  const { query, route } = useLocation();
  const [schema, setSchema] = useState<JsonSchema | null>(null);
  const [files, setFiles] = useState<FileObject[]>([]);
  const document = useRef(new ConfigDocument());
  const [text, setText] = useState("");
  const [yamlError, setYamlError] = useState<string | null>(null);
  const [check, setCheck] = useState<ConfigCheck | null>(null);
  const [estimate, setEstimate] = useState<TrainingEstimateView | HostedEstimate | null>(null);
  const [estimateError, setEstimateError] = useState<string | null>(null);
  const [estimating, setEstimating] = useState(false);
  const [command, setCommand] = useState<(typeof COMMANDS)[number][0]>("cli");
  const [error, setError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    void (async () => {
      try {
        const [loadedSchema, page] = await Promise.all([
          api<JsonSchema>("/v1/tunekit/config/schema"),
          api<ListPage<FileObject>>("/v1/files?purpose=fine-tune"),
          loadBaseModels(),
          loadHostedProviders(),
        ]);
        setSchema(loadedSchema);
        setFiles(page.data);
        const start = new ConfigDocument("# a Tunekit job: the form and this YAML edit the same config\n");
        if (query.from && query.hosted) {
          const job = await api<FineTuningJob>(`/v1/tunekit/hosted/${encodeURIComponent(query.hosted)}/jobs/${encodeURIComponent(query.from)}`);
          for (const [path, value] of hostedJobToConfig(query.hosted, job)) start.set(path, value);
        } else if (query.from) {
          const detail = await api<JobDetail>(`/v1/tunekit/jobs/${encodeURIComponent(query.from)}`);
          for (const [path, value] of jobToConfig(detail)) start.set(path, value);
        } else {
          const model = baseModels.value?.[0]?.id;
          if (model) start.set(["model"], model);
          const usable = page.data.filter((file) => file.status === "processed");
          const training = query.training_file ?? (usable.find((file) => !/valid|test/i.test(file.filename)) ?? usable[0])?.id;
          if (training) start.set(["data", "train"], training);
        }
        document.current = start;
        setText(start.text);
        setReady(true);
      } catch (failure) {
        setError((failure as Error).message);
      }
    })();
  }, [query.from, query.training_file, query.hosted]);

  // the server checks the config (same zod schema as tunekit.yaml) and gives the request and commands
  useEffect(() => {
    if (!ready) return;
    const aborter = new AbortController();
    const timer = setTimeout(() => {
      api<ConfigCheck>("/v1/tunekit/config/check", { body: { yaml: text }, signal: aborter.signal })
        .then((answer) => setCheck(answer))
        .catch((failure: Error) => {
          if (failure.name !== "AbortError") setError(failure.message);
        });
    }, 200);
    return () => {
      clearTimeout(timer);
      aborter.abort();
    };
  }, [text, ready]);

  // the estimate of a valid request (the worker plans it: steps, tokens, memory)
  const requestKey = check?.request ? JSON.stringify([check.estimate_endpoint, check.request]) : null;
  useEffect(() => {
    if (!requestKey) {
      setEstimate(null);
      return;
    }
    const aborter = new AbortController();
    setEstimating(true);
    const [endpoint, body] = JSON.parse(requestKey) as [string, unknown];
    const timer = setTimeout(() => {
      api<TrainingEstimateView | HostedEstimate>(endpoint, { body, signal: aborter.signal })
        .then((answer) => {
          setEstimate(answer);
          setEstimateError(null);
        })
        .catch((failure: Error) => {
          if (failure.name !== "AbortError") {
            setEstimate(null);
            setEstimateError(failure.message);
          }
        })
        .finally(() => setEstimating(false));
    }, 400);
    return () => {
      clearTimeout(timer);
      aborter.abort();
    };
  }, [requestKey]);

  const advanced = useMemo(() => {
    if (!schema) return [];
    const basicKeys = new Set(BASIC.map((path) => path.join(".")));
    return [
      ...fieldsUnder(schema, ["training"]).filter((field) => !basicKeys.has(field.path.join("."))),
      ...ADVANCED_EXTRA.map((path) => fieldSpec(schema, path)).filter((field): field is FieldSpec => field !== null),
    ];
  }, [schema]);

  const setField = (path: string[], value: unknown) => {
    document.current.set(path, value);
    setText(document.current.text);
    setYamlError(null);
  };
  const onYaml = (next: string) => {
    setText(next);
    if (document.current.setText(next)) setYamlError(null);
    else setYamlError(new ConfigDocument(next).errors.map((problem) => `${problem.line !== null ? `line ${problem.line}: ` : ""}${problem.message}`).join("; "));
  };
  const problemsOf = (path: string[]) => (check?.problems ?? []).filter((problem) => problem.field === path.join(".") || problem.field?.startsWith(`${path.join(".")}.`));
  const fieldKeys = new Set([...BASIC, ...HOSTED, ...advanced.map((field) => field.path)].map((path) => path.join(".")));
  const otherProblems = (check?.problems ?? []).filter((problem) => !problem.field || !fieldKeys.has(problem.field));

  const start = async () => {
    if (!check?.request) return;
    setStarting(true);
    try {
      const job = await api<FineTuningJob>(check.endpoint, { body: check.request });
      const hosted = /^\/v1\/tunekit\/hosted\/([^/]+)\/jobs$/.exec(check.endpoint)?.[1];
      route(hosted ? `/jobs/hosted/${hosted}/${job.id}` : `/jobs/${job.id}`);
    } catch (failure) {
      setError((failure as Error).message);
      setStarting(false);
    }
  };

  if (!schema || !ready) return error ? <Notice>{error}</Notice> : <p class="muted">Loading the form…</p>;
  const value = (path: string[]) => document.current.get(path);
  const hostedProvider = typeof value(["provider"]) === "string" && value(["provider"]) !== "local" ? (value(["provider"]) as string) : null;
  const serverDefaultAt = (path: string[]): unknown => {
    let node: unknown = serverInfo.value?.defaults;
    for (const key of path) node = node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
    return node;
  };
  const renderField = (path: string[]) => {
    const spec = fieldSpec(schema, path);
    if (!spec) return null;
    if (path.join(".") === "model") {
      const provider = typeof value(["provider"]) === "string" && value(["provider"]) !== "local" ? (value(["provider"]) as string) : null;
      return (
        <ModelPicker
          key="model"
          label={spec.label}
          help={spec.description}
          model={typeof value(["model"]) === "string" ? (value(["model"]) as string) : ""}
          provider={provider}
          models={baseModels.value ?? []}
          problems={[...problemsOf(["model"]), ...problemsOf(["provider"])]}
          onChange={(nextProvider, model) => {
            document.current.set(["provider"], nextProvider ?? undefined);
            setField(["model"], model || undefined);
          }}
        />
      );
    }
    return (
      <ConfigField
        key={spec.id}
        spec={spec}
        value={value(path)}
        onChange={(next) => setField(path, next)}
        problems={problemsOf(path)}
        files={files}
        models={baseModels.value ?? []}
        serverDefault={serverDefaultAt(path)}
      />
    );
  };
  return (
    <div>
      <div class="page-head">
        <h1>{query.from ? `New job from ${query.from}` : "New job"}</h1>
      </div>
      {error ? <Notice>{error}</Notice> : null}
      <div class="job-form-layout">
        <form
          class="panel job-form"
          onSubmit={(event) => {
            event.preventDefault();
            void start();
          }}
          aria-label="Job settings"
        >
          {hostedProvider ? (
            <>
              {HOSTED.slice(0, 3).map(renderField)}
              <div class="field">
                <label for="field-hosted-method">Method</label>
                <select
                  id="field-hosted-method"
                  value={value(["training", "method"]) === "dpo" ? "dpo" : "supervised"}
                  onChange={(event) => setField(["training", "method"], (event.target as HTMLSelectElement).value === "dpo" ? "dpo" : undefined)}
                >
                  <option value="supervised">supervised: learn the answers in the examples</option>
                  <option value="dpo">dpo: prefer the chosen answer of each preference pair</option>
                </select>
                <div class="help">{hostedProvider} fine-tunes with its own method; LoRA rank, max steps and the other settings of this server's trainer do not apply.</div>
              </div>
              {HOSTED.slice(3).map(renderField)}
            </>
          ) : (
            <>
              {BASIC.map(renderField)}
              <details class="advanced">
                <summary>Advanced</summary>
                {advanced.map((spec) => renderField(spec.path))}
              </details>
            </>
          )}
          {otherProblems.length > 0 ? (
            <div class="problems-box" role="alert">
              {otherProblems.map((problem, index) => (
                <div key={index} class={`field-message ${problem.severity}`}>
                  {problem.line ? `line ${problem.line}: ` : ""}
                  {problem.message}
                </div>
              ))}
            </div>
          ) : null}
          <EstimateView estimate={estimate} error={estimateError} busy={estimating} valid={Boolean(check?.ok)} />
          <button type="submit" class="button button-primary" disabled={!check?.ok || starting || Boolean(yamlError)}>
            {starting ? "Starting…" : "Start"}
          </button>
        </form>
        <div>
          <Section title="YAML" id="yaml">
            <label for="config-yaml" class="visually-hidden">
              Job config as YAML
            </label>
            <textarea
              id="config-yaml"
              class="code yaml"
              rows={18}
              spellcheck={false}
              value={text}
              onInput={(event) => onYaml((event.target as HTMLTextAreaElement).value)}
              aria-describedby="yaml-status"
            />
            <div id="yaml-status" aria-live="polite">
              {yamlError ? (
                <div class="field-message error">YAML: {yamlError}</div>
              ) : check && !check.ok ? (
                <div class="field-message error">{check.problems.filter((problem) => problem.severity === "error").length} problem(s): see the fields</div>
              ) : check?.ok ? (
                <div class="muted">Valid. The same schema checks tunekit.yaml.</div>
              ) : null}
            </div>
          </Section>
          <Section title="Copy as" id="copy-as">
            <div class="tabs" role="group" aria-label="Command to copy">
              {COMMANDS.map(([key, label]) => (
                <button type="button" key={key} class="tab" aria-pressed={command === key} onClick={() => setCommand(key)}>
                  {label}
                </button>
              ))}
            </div>
            {check?.commands ? (
              <div class="command">
                <CopyButton text={check.commands[command]} label={`Copy the ${command} command`} />
                <pre class="code" data-testid={`command-${command}`} tabIndex={0} aria-label={`The job as ${command} code`}>
                  {check.commands[command]}
                </pre>
              </div>
            ) : (
              <p class="muted">The commands appear once the config is valid.</p>
            )}
          </Section>
        </div>
      </div>
    </div>
  );
}

/** The base model: this server's catalogue, or a hosted provider's models (which sets `provider`). */
function ModelPicker({
  label,
  help,
  model,
  provider,
  models,
  problems,
  onChange,
}: {
  label: string;
  help: string;
  model: string;
  provider: string | null;
  models: ModelInfo[];
  problems: Array<{ severity: string; message: string }>;
  onChange(provider: string | null, model: string): void;
}) {
  const errors = problems.filter((problem) => problem.severity === "error");
  const value = provider ? `${provider}:${model}` : model;
  return (
    <div class={`field${errors.length ? " field-error" : ""}`}>
      <label for="field-model">{label}</label>
      <select
        id="field-model"
        aria-describedby={`field-model-help${errors.length ? " field-model-error" : ""}`}
        value={value}
        onChange={(event) => {
          const picked = (event.target as HTMLSelectElement).value;
          const hosted = hostedProviders.value.find((entry) => picked.startsWith(`${entry.name}:`));
          onChange(hosted ? hosted.name : null, hosted ? picked.slice(hosted.name.length + 1) : picked);
        }}
      >
        <option value="">Pick a base model</option>
        <optgroup label="This server">
          {models.map((entry) => (
            <option key={entry.id} value={entry.id}>
              {entry.id} — {entry.parameters ? `${formatCount(entry.parameters)} parameters` : "size unknown"},{" "}
              {entry.context_length ? `${formatCount(entry.context_length)} context` : "context unknown"}, {formatBytes(entry.bytes)}
            </option>
          ))}
        </optgroup>
        {hostedProviders.value.map((entry) => (
          <optgroup key={entry.name} label={`Hosted: ${entry.label}`}>
            {entry.models.map((hostedModel) => (
              <option key={hostedModel} value={`${entry.name}:${hostedModel}`}>
                {hostedModel} (on {entry.name})
              </option>
            ))}
          </optgroup>
        ))}
      </select>
      <div class="help" id="field-model-help">
        {help} {provider ? `Trains on ${provider}: it takes OpenAI's hyperparameters (epochs, batch size, learning-rate multiplier, seed) only.` : ""}
      </div>
      {errors.length > 0 ? (
        <div class="field-message error" id="field-model-error" role="alert">
          {errors.map((problem) => problem.message).join("; ")}
        </div>
      ) : null}
    </div>
  );
}

function EstimateView({ estimate, error, busy, valid }: { estimate: TrainingEstimateView | HostedEstimate | null; error: string | null; busy: boolean; valid: boolean }) {
  if (!valid) return null;
  if (error) return <Notice kind="warning">No estimate: {error}</Notice>;
  if (!estimate) return <p class="muted">{busy ? "Estimating (the worker reads the data with the model's tokenizer)…" : ""}</p>;
  if ("provider" in estimate) {
    return (
      <div class="estimate" data-testid="estimate">
        <h2>Before you start</h2>
        <div class="stats">
          <Stat label="Cost" value={estimate.cost === null ? "no price in the table" : formatMoney(estimate.cost, estimate.currency)} />
          <Stat label="Epochs" value={String(estimate.epochs)} />
          <Stat label="Examples" value={formatCount(estimate.examples)} />
          <Stat label="Billed tokens" value={formatCount(estimate.billed_tokens)} />
        </div>
        <p class="muted">{estimate.basis}.</p>
      </div>
    );
  }
  const cheapest = [...estimate.hosted].sort((a, b) => a.cost - b.cost).slice(0, 3);
  return (
    <div class="estimate" data-testid="estimate">
      <h2>Before you start</h2>
      <div class="stats">
        <Stat label="Steps" value={`${formatCount(estimate.steps)} (${formatNumber(estimate.epochs, 3)} epochs of ${estimate.steps_per_epoch})`} />
        <Stat label="Batch" value={`${estimate.batch_size} examples (${estimate.micro_batch_size} a pass)`} />
        <Stat label="Examples" value={`${formatCount(estimate.examples)} train, ${formatCount(estimate.valid_examples)} validation`} />
        <Stat label="Trained tokens" value={formatCount(estimate.tokens.trained_total)} />
        <Stat label="Time" value={estimate.time.seconds === null ? "not measured yet" : formatDuration(estimate.time.seconds)} title={estimate.time.basis} />
        <Stat
          label="Memory"
          value={`${formatBytes(estimate.memory.peak_bytes)} of ${formatBytes(estimate.memory.available_bytes)} (${estimate.memory.device})`}
          title={estimate.memory.basis}
        />
      </div>
      <p class={estimate.memory.fits ? "muted" : "field-message error"}>
        {estimate.memory.fits ? "Fits in this machine's memory." : "Likely does not fit in memory: lower the micro-batch size or the max sequence length, or use LoRA."}
      </p>
      <p class="muted">{estimate.time.basis}.</p>
      {cheapest.length > 0 ? (
        <p class="muted">The same data on hosted fine-tuning: {cheapest.map((entry) => `${entry.model} ${formatMoney(entry.cost, entry.currency)}`).join(", ")}.</p>
      ) : null}
    </div>
  );
}
