import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { TunekitError } from "../../core/errors.js";

/**
 * The splits of a dataset folder, in the layouts people hand over:
 * - a Hugging Face `save_to_disk` Dataset: `data-00000-of-0000N.arrow` files with
 *   `dataset_info.json` and `state.json` (one split, named by state.json's `_split`, else train);
 * - a `save_to_disk` DatasetDict: `dataset_dict.json` listing the splits, one such folder each;
 * - a folder of split files: `train.jsonl`, `validation.csv`, `test.parquet`, or the Hub's
 *   `data/train-00000-of-00002.parquet` shards (a split's shards are read in order).
 */
export type DatasetFolderLayout = "save_to_disk" | "dataset_dict" | "split_files";

export interface DatasetFolder {
  path: string;
  layout: DatasetFolderLayout;
  /** split name -> its files in reading order */
  splits: Map<string, string[]>;
}

export interface ResolvedSplit {
  folder: DatasetFolder;
  split: string;
  files: string[];
}

const RECORD_EXTENSION = /\.(jsonl|ndjson|json|csv|tsv|tab|parquet|pq|arrow)(\.(gz|gzip|zst|zstd))?$/i;
const SHARD_SUFFIX = /[-_]\d{5}[-_]of[-_]\d{5}$/;
export const DEFAULT_SPLIT = "train";

function byShard(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

async function readJsonFile(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch {
    return null;
  }
}

/** The Arrow files of one save_to_disk Dataset folder, in state.json's order (else by name); null when it is not one. */
async function saveToDiskFiles(path: string): Promise<{ files: string[]; split: string | null } | null> {
  if (!existsSync(join(path, "state.json")) && !existsSync(join(path, "dataset_info.json"))) return null;
  const state = (await readJsonFile(join(path, "state.json"))) as { _data_files?: Array<{ filename?: string }>; _split?: string | null } | null;
  let files = (state?._data_files ?? []).map((entry) => entry.filename).filter((name): name is string => typeof name === "string");
  if (files.length === 0) files = (await readdir(path)).filter((name) => name.endsWith(".arrow")).sort(byShard);
  if (files.length === 0) return null;
  return { files: files.map((name) => join(path, name)), split: typeof state?._split === "string" ? state._split : null };
}

/** What a folder holds, or a usage error naming what it looked for. */
export async function readDatasetFolder(path: string): Promise<DatasetFolder> {
  const splits = new Map<string, string[]>();
  const dict = (await readJsonFile(join(path, "dataset_dict.json"))) as { splits?: unknown } | null;
  if (dict !== null && Array.isArray(dict.splits)) {
    for (const name of dict.splits) {
      if (typeof name !== "string") continue;
      const dataset = await saveToDiskFiles(join(path, name));
      if (dataset) splits.set(name, dataset.files);
    }
    if (splits.size > 0) return { path, layout: "dataset_dict", splits };
  }
  const dataset = await saveToDiskFiles(path);
  if (dataset) {
    splits.set(dataset.split ?? DEFAULT_SPLIT, dataset.files);
    return { path, layout: "save_to_disk", splits };
  }
  const candidates: string[] = [];
  for (const folder of [path, join(path, "data")]) {
    if (!existsSync(folder) || !(await stat(folder)).isDirectory()) continue;
    for (const name of (await readdir(folder)).sort(byShard)) {
      if (RECORD_EXTENSION.test(name) && (await stat(join(folder, name))).isFile()) candidates.push(join(folder, name));
    }
    if (candidates.length > 0) break;
  }
  for (const file of candidates) {
    const split = basename(file).replace(RECORD_EXTENSION, "").replace(SHARD_SUFFIX, "");
    const files = splits.get(split) ?? [];
    files.push(file);
    splits.set(split, files);
  }
  if (splits.size === 0) {
    throw new TunekitError(`\`${path}\` is a folder without a dataset in it`, {
      kind: "usage",
      code: "not_a_dataset_folder",
      file: path,
      fix: "pass a dataset file, a Hugging Face save_to_disk folder (data-*.arrow with state.json), or a folder of split files (train.jsonl, validation.jsonl, data/train-00000-of-00001.parquet)",
    });
  }
  return { path, layout: "split_files", splits };
}

/** The files of the split `--split` names (default train, or the only split there is). */
export async function resolveSplit(path: string, split: string | undefined): Promise<ResolvedSplit> {
  const folder = await readDatasetFolder(path);
  const names = [...folder.splits.keys()];
  const listed = names.map((name) => `\`${name}\``).join(", ");
  const chosen = split ?? (folder.splits.has(DEFAULT_SPLIT) || names.length !== 1 ? DEFAULT_SPLIT : (names[0] as string));
  const files = folder.splits.get(chosen);
  if (files === undefined) {
    throw new TunekitError(
      split === undefined
        ? `\`${path}\` holds the splits ${listed} and none is \`${DEFAULT_SPLIT}\`: name the one to read with \`--split\``
        : `\`${path}\` has no split \`${split}\`; its splits are ${listed}`,
      { kind: "usage", code: "unknown_split", file: path, field: "--split", fix: `pass \`--split ${names[0]}\` (one of ${names.join(", ")})` },
    );
  }
  return { folder, split: chosen, files };
}
