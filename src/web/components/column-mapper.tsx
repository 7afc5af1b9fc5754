import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import type { FileColumns, MappingPreview, RecordMapping } from "../lib/wire.js";
import { Notice, Section } from "./ui.js";

type Role = "ignore" | "system" | "user" | "assistant";

/**
 * Column mapping for a table (CSV, TSV, Parquet, JSON array): each of the file's real columns gets
 * a role, picked from a list (no typed column names), with an optional system prompt, and a live
 * preview of the chat examples the mapping makes. Converting writes a new JSONL file.
 */
export function ColumnMapper({ fileId, sourceFormat, onConverted }: { fileId: string; sourceFormat: string; onConverted(id: string, message: string): Promise<void> }) {
  const [columns, setColumns] = useState<FileColumns | null>(null);
  const [roles, setRoles] = useState<Record<string, Role>>({});
  const [layout, setLayout] = useState<RecordMapping["layout"]>("mapped");
  const [system, setSystem] = useState("");
  const [preview, setPreview] = useState<MappingPreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [converting, setConverting] = useState(false);

  useEffect(() => {
    api<FileColumns>(`/v1/tunekit/files/${fileId}/columns`)
      .then((answer) => {
        setColumns(answer);
        setLayout(answer.suggested.layout);
        const suggested: Record<string, Role> = {};
        for (const column of answer.columns) suggested[column] = "ignore";
        for (const role of ["system", "user", "assistant"] as const) for (const column of answer.suggested.columns?.[role] ?? []) suggested[column] = role;
        setRoles(suggested);
      })
      .catch((failure: Error) => setError(failure.message));
  }, [fileId]);

  const mapping = (): RecordMapping => {
    const picked = (role: Role) =>
      Object.entries(roles)
        .filter(([, value]) => value === role)
        .map(([column]) => column);
    return {
      layout,
      ...(layout === "mapped" ? { columns: { system: picked("system"), user: picked("user"), assistant: picked("assistant") } } : {}),
      ...(system.trim() ? { system } : {}),
    };
  };
  const missing = layout === "mapped" ? (["user", "assistant"] as const).filter((role) => !Object.values(roles).includes(role)) : [];

  useEffect(() => {
    if (!columns || missing.length > 0) {
      setPreview(null);
      return;
    }
    const aborter = new AbortController();
    const timer = setTimeout(() => {
      api<MappingPreview>(`/v1/tunekit/files/${fileId}/preview`, { body: mapping(), signal: aborter.signal })
        .then((answer) => {
          setPreview(answer);
          setError(null);
        })
        .catch((failure: Error) => {
          if (failure.name !== "AbortError") setError(failure.message);
        });
    }, 250);
    return () => {
      clearTimeout(timer);
      aborter.abort();
    };
  }, [columns, JSON.stringify(roles), layout, system]);

  const convert = async () => {
    setConverting(true);
    try {
      const answer = await api<{ file: { id: string; filename: string }; report: { written: number; skipped: number } }>(`/v1/tunekit/files/${fileId}/convert`, {
        body: mapping(),
      });
      await onConverted(
        answer.file.id,
        `Wrote ${answer.file.filename}: ${answer.report.written} chat examples${answer.report.skipped ? `, ${answer.report.skipped} rows skipped` : ""}. The table is unchanged.`,
      );
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setConverting(false);
    }
  };

  if (!columns) return error ? <Notice>{error}</Notice> : <p class="muted">Reading the columns…</p>;
  return (
    <Section title="Map columns to chat messages" id="mapping">
      <p>
        This is a {sourceFormat.toUpperCase()} {sourceFormat === "json" ? "array" : "table"}: give each column a role. The preview shows the chat examples the first rows become;
        converting writes a new JSONL file and keeps this one.
      </p>
      {error ? <Notice>{error}</Notice> : null}
      <div class="field-row">
        <label for="mapping-layout">Layout</label>
        <select id="mapping-layout" value={layout} onChange={(event) => setLayout((event.target as HTMLSelectElement).value as RecordMapping["layout"])}>
          <option value="mapped">columns hold the messages</option>
          <option value="alpaca">Alpaca (instruction, input, output)</option>
          <option value="sharegpt">ShareGPT (conversations)</option>
        </select>
      </div>
      {layout === "mapped" ? (
        <table class="mapping-table">
          <thead>
            <tr>
              <th scope="col">Column</th>
              <th scope="col">Role</th>
              <th scope="col">First row</th>
            </tr>
          </thead>
          <tbody>
            {columns.columns.map((column) => (
              <tr key={column}>
                <th scope="row" class="mono">
                  {column}
                </th>
                <td>
                  <label class="visually-hidden" for={`role-${column}`}>
                    Role of column {column}
                  </label>
                  <select
                    id={`role-${column}`}
                    value={roles[column] ?? "ignore"}
                    onChange={(event) => setRoles({ ...roles, [column]: (event.target as HTMLSelectElement).value as Role })}
                  >
                    <option value="ignore">not used</option>
                    <option value="system">system</option>
                    <option value="user">user</option>
                    <option value="assistant">assistant</option>
                  </select>
                </td>
                <td class="ellipsis sample">{sample(columns.rows[0]?.[column])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="field">
        <label for="mapping-system">System prompt (optional, added to examples without one)</label>
        <textarea id="mapping-system" rows={2} value={system} onInput={(event) => setSystem((event.target as HTMLTextAreaElement).value)} />
      </div>
      {missing.length > 0 ? (
        <Notice kind="warning">
          Pick a column for the {missing.join(" and ")} message{missing.length > 1 ? "s" : ""}.
        </Notice>
      ) : null}
      <h3>Preview</h3>
      <div class="preview" aria-live="polite">
        {preview?.examples.map((item) => (
          <div class="preview-example" key={item.row}>
            <div class="muted">row {item.row}</div>
            {item.example ? (
              item.example.messages.map((message, index) => (
                <div key={index} class={`bubble bubble-${message.role}`}>
                  <span class="bubble-role">{message.role}</span> {typeof message.content === "string" ? message.content : JSON.stringify(message.content)}
                </div>
              ))
            ) : (
              <Notice kind="warning">{item.problems.map((problem) => `${problem.message} (${problem.fix})`).join("; ")}</Notice>
            )}
          </div>
        ))}
      </div>
      <button type="button" class="button button-primary" disabled={missing.length > 0 || converting} onClick={() => void convert()}>
        {converting ? "Converting…" : "Convert to chat JSONL"}
      </button>
    </Section>
  );
}

function sample(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
