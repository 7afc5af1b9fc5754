import type { HostedPrice } from "./price-table.js";

/** What the price table says about a hosted model's remaining life, as of a day. */
export interface ModelLifecycle {
  model: string;
  /** false from `fine_tuning_ends` on */
  canFineTune: boolean;
  /** false from `shutdown` on */
  answers: boolean;
  fineTuningEnds: string | null;
  shutdown: string | null;
  source: string | null;
  checked: string | null;
  /** one sentence each, empty when nothing is announced */
  warnings: string[];
}

const DAY_MS = 86_400_000;

/** YYYY-MM-DD of a Date, in UTC (the tables' dates are UTC days). */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

function inDays(days: number): string {
  return days === 1 ? "tomorrow" : `in ${days} days`;
}

/**
 * The fine-tuning and shutdown warnings for a hosted model on `today`; with `neededUntil`, also
 * whether it still answers on that day. `ft:` ids follow their base model (OpenAI: a fine-tune
 * answers until its base model shuts down).
 */
export function modelLifecycle(entry: HostedPrice, options: { today: string; neededUntil?: string | null; name?: string }): ModelLifecycle {
  const name = options.name ?? entry.model;
  const { today } = options;
  const ends = entry.fine_tuning_ends;
  const shutdown = entry.shutdown;
  const canFineTune = ends === null || today < ends;
  const answers = shutdown === null || today < shutdown;
  const warnings: string[] = [];
  const checked = entry.lifecycle_checked ? ` (price table, checked ${entry.lifecycle_checked})` : " (price table)";
  if (ends !== null) {
    warnings.push(
      canFineTune
        ? `${entry.provider} takes no new fine-tuning job for \`${entry.model}\` from ${ends} (${inDays(daysBetween(today, ends))})${checked}.`
        : `\`${entry.model}\` can no longer be fine-tuned on ${entry.provider}: new jobs ended on ${ends}${checked}.`,
    );
  }
  if (shutdown !== null) {
    if (!answers) warnings.push(`\`${name}\` no longer answers: ${entry.provider} shut \`${entry.model}\` and its fine-tunes down on ${shutdown}${checked}.`);
    else if (options.neededUntil && options.neededUntil >= shutdown)
      warnings.push(
        `\`${name}\` stops answering on ${shutdown}, before ${options.neededUntil} (the day you need it until): \`${entry.model}\` and its fine-tunes shut down then${checked}.`,
      );
    else warnings.push(`\`${name}\` stops answering on ${shutdown} (${inDays(daysBetween(today, shutdown))}): \`${entry.model}\` and its fine-tunes shut down then${checked}.`);
  }
  return { model: entry.model, canFineTune, answers, fineTuningEnds: ends, shutdown, source: entry.lifecycle_source ?? null, checked: entry.lifecycle_checked ?? null, warnings };
}
