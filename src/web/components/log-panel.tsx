import { useMemo, useState } from "preact/hooks";
import type { LogBuffer, LogLevel } from "../lib/log-lines.js";
import { VirtualList } from "./virtual-list.js";

const LEVELS: LogLevel[] = ["info", "warn", "error", "debug"];

/**
 * A live, filterable, searchable view of log-like lines (a job's events or its worker log). Only
 * the rows in view are rendered; filtering 100,000 lines is one pass over an array.
 */
export function LogPanel({ buffer, version, id, label, height = 320 }: { buffer: LogBuffer; version: number; id: string; label: string; height?: number }) {
  const [levels, setLevels] = useState<Set<LogLevel>>(new Set(["info", "warn", "error", "debug"]));
  const [query, setQuery] = useState("");
  const [follow, setFollow] = useState(true);
  const indexes = useMemo(() => buffer.filter(levels, query), [buffer, version, levels, query]);
  const toggle = (level: LogLevel) => {
    const next = new Set(levels);
    if (next.has(level)) next.delete(level);
    else next.add(level);
    setLevels(next);
  };
  return (
    <div class="log-panel">
      <div class="log-toolbar">
        <fieldset class="inline-fieldset">
          <legend class="visually-hidden">{label}: levels shown</legend>
          {LEVELS.map((level) => (
            <label class="check" key={level}>
              <input type="checkbox" checked={levels.has(level)} onChange={() => toggle(level)} /> {level}
            </label>
          ))}
        </fieldset>
        <label class="visually-hidden" for={`${id}-search`}>
          Search {label}
        </label>
        <input
          id={`${id}-search`}
          type="search"
          placeholder={`Search ${label.toLowerCase()}`}
          value={query}
          onInput={(event) => setQuery((event.target as HTMLInputElement).value)}
        />
        <label class="check">
          <input type="checkbox" checked={follow} onChange={() => setFollow(!follow)} /> follow
        </label>
        <span class="muted" aria-live="polite">
          {indexes.length.toLocaleString("en-US")} of {buffer.lines.length.toLocaleString("en-US")} lines
        </span>
      </div>
      <VirtualList
        count={indexes.length}
        rowHeight={18}
        height={height}
        label={label}
        followTail={follow}
        renderRow={(row) => {
          const line = buffer.lines[indexes[row] as number];
          return line ? <span class={`log-line log-${line.level}`}>{line.text || " "}</span> : null;
        }}
      />
    </div>
  );
}
