import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { once } from "node:events";
import { basename, dirname, extname, join, resolve } from "node:path";
import { TunekitError } from "../../core/errors.js";
import { inputFileError } from "../../core/input-file.js";
import { detectFormat } from "../../spec/dataset.js";
import { readLines } from "../read-lines.js";
import { exampleText, hash64, normalizeText, promptText, type Hash64 } from "../validate/fingerprint.js";
import { HashIndex } from "../validate/hash-index.js";

/**
 * `tunekit data split`: train/validation/test files from one JSONL file, deterministic for a
 * seed, with no example in two splits.
 *
 * Examples are grouped by a 64-bit hash of their normalised text (lower case, whitespace runs
 * collapsed; key order and JSON spacing never matter). With `groupBy: "example"` (the default)
 * exact duplicates of the whole example stay in one split. With `groupBy: "prompt"` the group is
 * the normalised user side, so the same question with two answers stays in one split too (what
 * `tunekit data validate` reports as train/validation overlap); it is not the default because a
 * dataset whose user turn is a fixed instruction ("Summarize.") would become one group.
 *
 * How groups are assigned: a seeded shuffle of the groups, where the shuffle order is each
 * group's hash re-hashed with the seed, not a PRNG stream. We chose it over the other common
 * method, a per-example hash threshold (split = "test" when hash(seed, example) < 0.1, which
 * needs no memory at all), because thresholds only give the ratios on average: 300 examples at
 * 10 % land anywhere from about 20 to 40 in validation, and fine-tuning sets are small. Ranking
 * the groups by their seeded hash gives exact sizes (round(N * ratio)) and, since the order
 * depends only on content and seed, the same assignment whatever the order of lines in the file.
 * The price is a table of the groups in typed arrays (a 64-bit-keyed hash index, counts, ranks:
 * under 100 bytes a distinct group), never the examples themselves.
 *
 * Two streaming passes over the file: pass 1 hashes and counts, pass 2 writes each line, byte for
 * byte (without its line ending), to its split; within a split the input order is kept.
 */
export type SplitName = "train" | "validation" | "test";
export type SplitGrouping = "prompt" | "example";

export interface SplitDatasetOptions {
  file: string;
  /** fraction of examples for validation, 0 <= x < 1 */
  validation: number;
  /** fraction of examples for test, 0 <= x < 1 */
  test: number;
  seed: number;
  /** where to write the splits; default: the folder of `file` */
  outDir?: string;
  groupBy?: SplitGrouping;
}

export interface SplitFileReport {
  /** null when the split was not asked for (ratio 0) */
  file: string | null;
  examples: number;
}

export interface SplitReport {
  input: string;
  seed: number;
  group_by: SplitGrouping;
  /** non-blank lines */
  examples: number;
  /** distinct groups (examples - groups = examples that had a duplicate) */
  groups: number;
  blank_lines: number;
  /** lines that are not a JSON object of a known format: grouped by their normalised text */
  unparsable_lines: number;
  splits: Record<SplitName, SplitFileReport>;
  warnings: string[];
}

const SPLIT_NAMES: readonly SplitName[] = ["train", "validation", "test"];
const TRAIN = 0;
const VALIDATION = 1;
const TEST = 2;

/** The group key of one line and whether it parsed as an example. */
export function splitGroupKey(text: string, groupBy: SplitGrouping): { key: Hash64; parsed: boolean } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const format = parsed === undefined ? null : detectFormat(parsed);
  if (format === null) return { key: hash64(`raw\u0000${normalizeText(text)}`), parsed: false };
  const example = parsed as Record<string, unknown>;
  const prompt = groupBy === "prompt" ? normalizeText(promptText(example, format)) : "";
  // an example without a user side (e.g. only an assistant turn) falls back to its whole text
  const content = prompt !== "" ? `prompt\u0000${prompt}` : `example\u0000${normalizeText(exampleText(example, format))}`;
  return { key: hash64(content), parsed: true };
}

/** Growable list of uint32 (4 bytes an entry instead of a JS array's 8). */
class Uint32List {
  private values = new Uint32Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Uint32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  get(index: number): number {
    return this.values[index] as number;
  }
  increment(index: number): void {
    (this.values[index] as number) += 1;
  }
}

export function splitOutputPaths(file: string, outDir?: string): Record<SplitName, string> {
  const directory = outDir ?? dirname(file);
  const stem = basename(file, extname(file));
  return {
    train: join(directory, `${stem}.train.jsonl`),
    validation: join(directory, `${stem}.validation.jsonl`),
    test: join(directory, `${stem}.test.jsonl`),
  };
}

function checkOptions(options: SplitDatasetOptions): void {
  for (const [flag, value] of [
    ["--validation", options.validation],
    ["--test", options.test],
  ] as const) {
    if (!Number.isFinite(value) || value < 0 || value >= 1) {
      throw new TunekitError(`\`${flag}\` must be a fraction from 0 up to (not including) 1; got \`${value}\``, {
        kind: "usage",
        code: "invalid_ratio",
        field: flag,
        fix: `pass e.g. ${flag} 0.1 for 10 % of the examples, or 0 for no ${flag.slice(2)} split`,
      });
    }
  }
  if (options.validation + options.test >= 1) {
    throw new TunekitError(`\`--validation\` + \`--test\` is ${options.validation + options.test}, leaving nothing to train on`, {
      kind: "usage",
      code: "invalid_ratio",
      field: "--validation",
      fix: "keep --validation + --test below 1 (e.g. 0.1 and 0.1)",
    });
  }
  if (!Number.isSafeInteger(options.seed) || options.seed < 0) {
    throw new TunekitError(`\`--seed\` must be a whole number >= 0; got \`${options.seed}\``, {
      kind: "usage",
      code: "invalid_seed",
      field: "--seed",
      fix: "pass e.g. --seed 42",
    });
  }
}

export async function splitDataset(options: SplitDatasetOptions): Promise<SplitReport> {
  checkOptions(options);
  const groupBy = options.groupBy ?? "example";
  const paths = splitOutputPaths(options.file, options.outDir);
  const wanted: Record<SplitName, boolean> = { train: true, validation: options.validation > 0, test: options.test > 0 };
  for (const name of SPLIT_NAMES) {
    if (wanted[name] && resolve(paths[name]) === resolve(options.file)) {
      throw new TunekitError(`the ${name} split would overwrite the input \`${options.file}\``, {
        kind: "usage",
        code: "output_is_input",
        field: "--out-dir",
        fix: "rename the input or pass --out-dir",
      });
    }
  }

  // pass 1: hash every line, count examples per group
  const index = new HashIndex(0xfffffffe);
  const counts = new Uint32List();
  const highs = new Uint32List();
  const lows = new Uint32List();
  let examples = 0;
  let largestGroup = 1;
  let blankLines = 0;
  let unparsable = 0;
  try {
    for await (const { text } of readLines(options.file)) {
      if (text.trim() === "") {
        blankLines += 1;
        continue;
      }
      examples += 1;
      const { key, parsed } = splitGroupKey(text, groupBy);
      if (!parsed) unparsable += 1;
      const group = index.getOrSet(key, counts.length);
      if (group === -1) {
        counts.push(1);
        highs.push(key.high);
        lows.push(key.low);
      } else {
        counts.increment(group);
        if (counts.get(group) > largestGroup) largestGroup = counts.get(group);
      }
    }
  } catch (error) {
    if (["ENOENT", "EISDIR", "ENOTDIR", "EACCES"].includes((error as NodeJS.ErrnoException).code ?? "")) throw inputFileError(options.file, error);
    throw error;
  }
  const groups = counts.length;

  // the seeded shuffle: order groups by their hash re-hashed with the seed
  const rankHigh = new Uint32Array(groups);
  const rankLow = new Uint32Array(groups);
  for (let group = 0; group < groups; group++) {
    const rank = hash64(`${options.seed}\u0000${highs.get(group)}\u0000${lows.get(group)}`);
    rankHigh[group] = rank.high;
    rankLow[group] = rank.low;
  }
  const order = new Uint32Array(groups);
  for (let group = 0; group < groups; group++) order[group] = group;
  order.sort(
    (a, b) =>
      (rankHigh[a] as number) - (rankHigh[b] as number) ||
      (rankLow[a] as number) - (rankLow[b] as number) ||
      highs.get(a) - highs.get(b) ||
      lows.get(a) - lows.get(b),
  );

  // fill test, then validation, to round(N * ratio) examples; a group that would overshoot a
  // split goes to the next one (finally train), so duplicates are never cut apart
  const targets = [0, Math.round(examples * options.validation), Math.round(examples * options.test)];
  const filled = [0, 0, 0];
  const assignment = new Uint8Array(groups);
  for (const group of order) {
    const size = counts.get(group);
    let split = TRAIN;
    if ((filled[TEST] as number) + size <= (targets[TEST] as number)) split = TEST;
    else if ((filled[VALIDATION] as number) + size <= (targets[VALIDATION] as number)) split = VALIDATION;
    assignment[group] = split;
    (filled[split] as number) += size;
  }
  filled[TRAIN] = examples - (filled[VALIDATION] as number) - (filled[TEST] as number);

  // pass 2: write each line to its split
  if (options.outDir !== undefined) await mkdir(options.outDir, { recursive: true });
  const streams: (WriteStream | null)[] = SPLIT_NAMES.map((name) => (wanted[name] ? createWriteStream(`${paths[name]}.partial-${process.pid}`) : null));
  try {
    for await (const { text } of readLines(options.file)) {
      if (text.trim() === "") continue;
      const group = index.get(splitGroupKey(text, groupBy).key);
      const stream = streams[assignment[group] as number] as WriteStream;
      if (!stream.write(`${text}\n`)) await once(stream, "drain");
    }
    for (const stream of streams) {
      if (stream === null) continue;
      stream.end();
      await once(stream, "finish");
    }
    for (const name of SPLIT_NAMES) if (wanted[name]) await rename(`${paths[name]}.partial-${process.pid}`, paths[name]);
  } catch (error) {
    for (const stream of streams) stream?.destroy();
    for (const name of SPLIT_NAMES) await rm(`${paths[name]}.partial-${process.pid}`, { force: true });
    throw error;
  }

  const warnings: string[] = [];
  for (const [name, ratio, split] of [
    ["validation", options.validation, VALIDATION],
    ["test", options.test, TEST],
  ] as const) {
    if (ratio > 0 && filled[split] === 0) {
      warnings.push(`the ${name} split is empty: ${examples} examples × ${ratio} rounds to ${targets[split]}${(targets[split] as number) > 0 ? " and every group left was larger" : ""}`);
    } else if (ratio > 0 && filled[split] !== targets[split]) {
      warnings.push(`the ${name} split holds ${filled[split]} examples, not ${targets[split]}: groups of duplicates are never cut apart`);
    }
  }
  if (examples > 0 && largestGroup > Math.max(1, examples * 0.1)) {
    warnings.push(`one group holds ${largestGroup} of the ${examples} examples (grouped by ${groupBy}); it stays whole in one split`);
  }
  if (unparsable > 0) {
    warnings.push(`${unparsable} line${unparsable === 1 ? " is" : "s are"} not a JSON example of a known format; they were split by their text (run \`tunekit data validate\` on the file)`);
  }
  return {
    input: options.file,
    seed: options.seed,
    group_by: groupBy,
    examples,
    groups,
    blank_lines: blankLines,
    unparsable_lines: unparsable,
    splits: {
      train: { file: paths.train, examples: filled[TRAIN] as number },
      validation: { file: wanted.validation ? paths.validation : null, examples: filled[VALIDATION] as number },
      test: { file: wanted.test ? paths.test : null, examples: filled[TEST] as number },
    },
    warnings,
  };
}
