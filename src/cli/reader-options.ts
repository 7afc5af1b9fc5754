import { Option, type Command } from "commander";
import { TunekitError } from "../core/errors.js";
import { TEXT_ENCODINGS, parseTextEncoding, type ReaderOptions } from "../data/decode/reader-options.js";

export type { ReaderOptions } from "../data/decode/reader-options.js";

/** The options addReaderOptions adds, as commander hands them to an action. */
export interface ReaderCommandOptions {
  encoding?: string;
  jsonKey?: string;
  split?: string;
}

/**
 * The reading options every data command takes (validate, stats, estimate, convert, split):
 * `--encoding`, `--json-key` and `--split`. Compression and UTF-16 byte order marks are detected.
 */
export function addReaderOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--encoding <name>", `text encoding of the file: ${TEXT_ENCODINGS.join(", ")} (gzip, zstd and a UTF-16 byte order mark are detected)`).default(undefined, "utf-8"),
    )
    .addOption(new Option("--json-key <key>", 'a JSON file shaped {"<key>": [records]}: the key that holds the records'))
    .addOption(new Option("--split <name>", "a dataset folder (Hugging Face save_to_disk, or train/validation/test files): the split to read").default(undefined, "train"));
}

/** The ReaderOptions for openRecords (and the JSONL line reader) from a command's options; exit 2 for an unknown encoding. */
export function readerOptions(options: ReaderCommandOptions): ReaderOptions {
  const result: ReaderOptions = {};
  if (options.encoding !== undefined) {
    const encoding = parseTextEncoding(options.encoding);
    if (encoding === null) {
      throw new TunekitError(`\`--encoding ${options.encoding}\` is not an encoding the reader knows`, {
        kind: "usage",
        code: "unknown_encoding",
        field: "--encoding",
        fix: `use one of ${TEXT_ENCODINGS.join(", ")} (a CSV saved by Excel on Windows is windows-1252)`,
      });
    }
    result.encoding = encoding;
  }
  if (options.jsonKey !== undefined) {
    if (options.jsonKey.trim() === "") {
      throw new TunekitError("`--json-key` is empty", {
        kind: "usage",
        code: "invalid_json_key",
        field: "--json-key",
        fix: 'name the key that holds the records, e.g. --json-key data for {"data": [...]}',
      });
    }
    result.jsonKey = options.jsonKey;
  }
  if (options.split !== undefined) {
    if (options.split.trim() === "" || /[\\/]/.test(options.split)) {
      throw new TunekitError(`\`--split ${options.split}\` is not a split name`, {
        kind: "usage",
        code: "invalid_split",
        field: "--split",
        fix: "name a split of the folder, e.g. --split train or --split validation",
      });
    }
    result.split = options.split;
  }
  return result;
}
