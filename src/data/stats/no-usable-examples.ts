import { TunekitError } from "../../core/errors.js";

/** A skipped line as the counters report it (collect-token-counts.ts). */
export interface SkippedSummary {
  count: number;
  lines: ReadonlyArray<{ line: number; reason: string; code?: string; fix?: string }>;
}

/**
 * One line, not one per example: nothing in the file could be counted (`data stats`, `estimate`;
 * exit 1). A template that cannot render the data carries its own fix (validate passes such lines).
 */
export function noUsableExamples(file: string, skipped: SkippedSummary): TunekitError {
  const first = skipped.lines[0];
  return new TunekitError(
    `\`${file}\` has no usable example${skipped.count ? `: all ${skipped.count} line(s) were skipped (line ${first?.line}: ${first?.reason})` : ": it is empty"}`,
    {
      kind: "data",
      code: "no_examples",
      file,
      ...(first && { line: first.line }),
      fix: first?.fix ?? `run \`tunekit data validate ${file}\` to see what each line needs`,
    },
  );
}
