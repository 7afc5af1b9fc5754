import { useEffect, useState } from "preact/hooks";
import { boundsText, formatInput, parseInput, type FieldSpec } from "../lib/config-form.js";
import { formatBytes, formatCount } from "../lib/format.js";
import type { FileObject, ModelInfo } from "../lib/wire.js";

export interface ConfigFieldProps {
  spec: FieldSpec;
  /** the value set in the config (undefined: the default applies) */
  value: unknown;
  onChange(value: unknown): void;
  problems: Array<{ severity: string; message: string; line?: number }>;
  files: FileObject[];
  models: ModelInfo[];
  /** what this server gives a job that leaves the field out, when it differs from the schema's default */
  serverDefault?: unknown;
}

/**
 * One field of the job form, drawn from its JSON Schema description: label, help text (the
 * schema's description and bounds), the default as placeholder, and the server's problems for it.
 * `model` picks from the catalogue; `data.train`/`data.validation` pick validated files.
 */
export function ConfigField({ spec: schemaSpec, value, onChange, problems, files, models, serverDefault }: ConfigFieldProps) {
  const spec = serverDefault === undefined ? schemaSpec : { ...schemaSpec, default: serverDefault };
  const path = spec.path.join(".");
  const [draft, setDraft] = useState(formatInput(value));
  const [local, setLocal] = useState<string | null>(null);
  useEffect(() => setDraft(formatInput(value)), [JSON.stringify(value)]);
  const errors = problems.filter((problem) => problem.severity === "error");
  const describedBy = `${spec.id}-help${errors.length > 0 || local ? ` ${spec.id}-error` : ""}`;
  const help = (
    <>
      {spec.description}
      {boundsText(spec) ? ` (${boundsText(spec)})` : ""}
      {spec.default !== undefined && spec.default !== null && typeof spec.default !== "object"
        ? ` Default${serverDefault === undefined ? "" : " on this server"}: ${String(spec.default)}.`
        : ""}
    </>
  );
  const commit = (text: string) => {
    setDraft(text);
    const parsed = parseInput(spec, text);
    setLocal(parsed.error ?? null);
    if (!parsed.error) onChange(parsed.value);
  };

  let control;
  if (path === "model") {
    control = (
      <select
        id={spec.id}
        aria-describedby={describedBy}
        value={typeof value === "string" ? value : ""}
        onChange={(event) => onChange((event.target as HTMLSelectElement).value || undefined)}
      >
        <option value="">Pick a base model</option>
        {models.map((model) => (
          <option key={model.id} value={model.id}>
            {model.id} — {model.parameters ? `${formatCount(model.parameters)} parameters` : "size unknown"},{" "}
            {model.context_length ? `${formatCount(model.context_length)} context` : "context unknown"}, {formatBytes(model.bytes)}
          </option>
        ))}
      </select>
    );
  } else if (path === "data.train" || path === "data.validation") {
    control = (
      <select
        id={spec.id}
        aria-describedby={describedBy}
        value={typeof value === "string" ? value : ""}
        onChange={(event) => onChange((event.target as HTMLSelectElement).value || undefined)}
      >
        <option value="">{path === "data.train" ? "Pick a validated training file" : "No validation file"}</option>
        {files.map((file) => (
          <option key={file.id} value={file.id} disabled={file.status !== "processed"}>
            {file.filename} ({file.id}){file.status === "error" ? " — has errors, fix it first" : file.status === "uploaded" ? " — still being checked" : ""}
          </option>
        ))}
      </select>
    );
  } else if (spec.kind === "enum" && spec.optionDescriptions.length === spec.options.length && spec.options.length <= 6) {
    return (
      <fieldset class={`field radio-field${errors.length ? " field-error" : ""}`} aria-describedby={describedBy}>
        <legend>{spec.label}</legend>
        {spec.options.map((option, index) => (
          <label class="radio" key={option}>
            <input type="radio" name={spec.id} value={option} checked={(value ?? spec.default) === option} onChange={() => onChange(option)} />
            <span>
              <strong>{option}</strong> — {spec.optionDescriptions[index]}
            </span>
          </label>
        ))}
        <div class="help" id={`${spec.id}-help`}>
          {help}
        </div>
        <Messages id={spec.id} errors={errors.map((problem) => problem.message)} />
      </fieldset>
    );
  } else if (spec.kind === "enum") {
    control = (
      <select id={spec.id} aria-describedby={describedBy} value={String(value ?? spec.default ?? "")} onChange={(event) => onChange((event.target as HTMLSelectElement).value)}>
        {spec.options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    );
  } else if (spec.kind === "boolean") {
    return (
      <div class={`field check-field${errors.length ? " field-error" : ""}`}>
        <label class="check" for={spec.id}>
          <input
            id={spec.id}
            type="checkbox"
            aria-describedby={describedBy}
            checked={Boolean(value ?? spec.default)}
            onChange={(event) => onChange((event.target as HTMLInputElement).checked)}
          />{" "}
          {spec.label}
        </label>
        <div class="help" id={`${spec.id}-help`}>
          {help}
        </div>
        <Messages id={spec.id} errors={errors.map((problem) => problem.message)} />
      </div>
    );
  } else if (spec.kind === "string" && path === "data.chat_template") {
    control = (
      <textarea
        id={spec.id}
        rows={3}
        aria-describedby={describedBy}
        value={draft}
        placeholder="the model's own template"
        onInput={(event) => commit((event.target as HTMLTextAreaElement).value)}
      />
    );
  } else {
    const numeric = spec.kind === "number" || spec.kind === "integer" || spec.kind === "nullable-number" || spec.kind === "literal-or-number";
    control = (
      <input
        id={spec.id}
        type="text"
        inputMode={numeric ? "decimal" : undefined}
        aria-describedby={describedBy}
        value={draft}
        placeholder={spec.default === undefined || spec.default === null ? "" : formatInput(spec.default)}
        onInput={(event) => commit((event.target as HTMLInputElement).value)}
      />
    );
  }
  return (
    <div class={`field${errors.length || local ? " field-error" : ""}`}>
      <label for={spec.id}>
        {spec.label}{" "}
        {value !== undefined ? (
          <span class="set-mark" title="set in this config">
            •
          </span>
        ) : null}
      </label>
      {control}
      <div class="help" id={`${spec.id}-help`}>
        {help}
      </div>
      <Messages id={spec.id} errors={[...(local ? [local] : []), ...errors.map((problem) => problem.message)]} />
    </div>
  );
}

function Messages({ id, errors }: { id: string; errors: string[] }) {
  if (errors.length === 0) return null;
  return (
    <div class="field-message error" id={`${id}-error`} role="alert">
      {errors.join("; ")}
    </div>
  );
}
