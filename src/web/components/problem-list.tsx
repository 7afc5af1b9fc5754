import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import type { FileReportView, ProblemView } from "../lib/wire.js";
import { Notice, Section } from "./ui.js";
import { VirtualList } from "./virtual-list.js";

const CONTEXT_LINES = 3;

/**
 * The validator's problems of a file: counts per code (each a filter), every problem with its line,
 * and a line viewer that shows the selected line among its neighbours with the JSON error column
 * marked, the message and the fix.
 */
export function ProblemList({ fileId, report }: { fileId: string; report: FileReportView }) {
  const [code, setCode] = useState<string | null>(null);
  const [selected, setSelected] = useState<ProblemView | null>(null);
  const [jump, setJump] = useState("");
  const [jumpLine, setJumpLine] = useState<number | null>(null);
  const problems = useMemo(() => (code ? report.problems.filter((problem) => problem.code === code) : report.problems), [report, code]);
  const codes = Object.entries(report.counts).sort(([, a], [, b]) => (a.severity === b.severity ? b.count - a.count : a.severity === "error" ? -1 : 1));
  const viewedLine = jumpLine ?? selected?.line ?? null;

  if (report.problems.length === 0 && codes.length === 0) {
    return (
      <Section title="Validation" id="validation">
        <Notice kind="success">No problems: every line is a valid {report.format ?? ""} example.</Notice>
      </Section>
    );
  }
  return (
    <Section title="Validation" id="validation">
      <div class="chips" role="group" aria-label="Filter problems by code">
        <button type="button" class="chip" aria-pressed={code === null} onClick={() => setCode(null)}>
          all <span class="chip-count">{report.problems.length + report.problems_omitted}</span>
        </button>
        {codes.map(([name, count]) => (
          <button
            type="button"
            key={name}
            class={`chip chip-${count.severity}`}
            aria-pressed={code === name}
            onClick={() => setCode(code === name ? null : name)}
            title={count.title}
          >
            {name} <span class="chip-count">{count.count}</span>
          </button>
        ))}
      </div>
      {report.problems_omitted > 0 ? <p class="muted">{report.problems_omitted} more problems are counted but not listed (1,000 are kept a code).</p> : null}
      <div class="problems-layout">
        <div>
          <div class="problem-header" aria-hidden="true">
            <span>line</span>
            <span>code</span>
            <span>message</span>
          </div>
          <VirtualList
            count={problems.length}
            rowHeight={30}
            height={Math.min(330, Math.max(60, problems.length * 30))}
            label="Problems"
            renderRow={(index) => {
              const problem = problems[index] as ProblemView;
              return (
                <button
                  type="button"
                  class={`problem-row problem-${problem.severity}${selected === problem ? " selected" : ""}`}
                  onClick={() => {
                    setSelected(problem);
                    setJumpLine(null);
                  }}
                >
                  <span class="mono">
                    <span class="visually-hidden">
                      {problem.severity}, {problem.line === null ? "" : "line "}
                    </span>
                    {problem.line ?? "file"}
                  </span>{" "}
                  <span class="mono">{problem.code}</span> <span class="ellipsis">{problem.message}</span>
                </button>
              );
            }}
          />
        </div>
        <div class="line-viewer">
          <form
            class="inline-form"
            onSubmit={(event) => {
              event.preventDefault();
              const line = Number(jump);
              if (Number.isInteger(line) && line >= 1) setJumpLine(line);
            }}
          >
            <label for="jump-line">Go to line</label>
            <input id="jump-line" type="number" min="1" value={jump} onInput={(event) => setJump((event.target as HTMLInputElement).value)} />
            <button type="submit" class="button-small">
              Show
            </button>
          </form>
          {selected && jumpLine === null ? (
            <div class={`problem-detail problem-${selected.severity}`} data-testid="problem-detail">
              <div>
                <strong>{selected.severity === "error" ? "Error" : "Warning"}</strong> <span class="mono">{selected.code}</span>
                {selected.line !== null ? ` at line ${selected.line}` : " (whole file)"}
                {selected.column !== undefined ? `, column ${selected.column}` : ""}
              </div>
              <p>{selected.message}</p>
              <p>
                <strong>Fix:</strong> {selected.fix}
              </p>
            </div>
          ) : null}
          {viewedLine !== null ? (
            <Lines fileId={fileId} line={viewedLine} column={jumpLine === null ? (selected?.column ?? null) : null} />
          ) : (
            <p class="muted">Pick a problem to see its line.</p>
          )}
        </div>
      </div>
    </Section>
  );
}

function Lines({ fileId, line, column }: { fileId: string; line: number; column: number | null }) {
  const [lines, setLines] = useState<{ start: number; lines: string[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const start = Math.max(1, line - CONTEXT_LINES);
    api<{ start: number; lines: string[] }>(`/v1/tunekit/files/${fileId}/lines?start=${start}&count=${CONTEXT_LINES * 2 + 1}`)
      .then((answer) => {
        setLines(answer);
        setError(null);
      })
      .catch((failure: Error) => setError(failure.message));
  }, [fileId, line]);
  if (error) return <Notice>{error}</Notice>;
  if (!lines) return <p class="muted">Loading lines…</p>;
  if (lines.lines.length === 0 || line >= lines.start + lines.lines.length) return <p class="muted">The file has no line {line}.</p>;
  return (
    <pre class="code lines" aria-label={`Lines ${lines.start} to ${lines.start + lines.lines.length - 1}`} tabIndex={0}>
      {lines.lines.map((text, index) => {
        const number = lines.start + index;
        const current = number === line;
        const shown = text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
        return (
          <div key={number} class={current ? "line current" : "line"} data-line={number}>
            <span class="line-number">{number}</span>
            {current && column !== null && column <= shown.length + 1 ? (
              <span>
                {shown.slice(0, column - 1)}
                <mark class="error-column" title={`column ${column}`}>
                  {shown.slice(column - 1, column) || " "}
                </mark>
                {shown.slice(column)}
              </span>
            ) : (
              <span>{shown || " "}</span>
            )}
          </div>
        );
      })}
    </pre>
  );
}
