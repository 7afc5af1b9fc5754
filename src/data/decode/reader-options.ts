/**
 * How a dataset file is read, the same for every data command: its text encoding, the key of a
 * JSON wrapper object, and the split of a dataset folder. Compression (gzip, zstd) and a UTF-16
 * byte order mark are detected from the file's first bytes and need no option.
 */
export type TextEncoding = "utf-8" | "latin1" | "windows-1252" | "utf-16le" | "utf-16be";

export const TEXT_ENCODINGS: readonly TextEncoding[] = ["utf-8", "latin1", "windows-1252", "utf-16le", "utf-16be"];

/** spellings people type for each encoding (`--encoding cp1252`, `--encoding utf8`) */
export const ENCODING_ALIASES: Readonly<Record<string, TextEncoding>> = {
  "utf-8": "utf-8",
  utf8: "utf-8",
  latin1: "latin1",
  "latin-1": "latin1",
  "iso-8859-1": "latin1",
  iso88591: "latin1",
  "windows-1252": "windows-1252",
  windows1252: "windows-1252",
  cp1252: "windows-1252",
  "utf-16le": "utf-16le",
  utf16le: "utf-16le",
  "utf-16be": "utf-16be",
  utf16be: "utf-16be",
};

export interface ReaderOptions {
  /** the file's text encoding (default utf-8; a UTF-16 byte order mark is followed whatever this says) */
  encoding?: TextEncoding;
  /** JSON: the key whose array holds the records in a `{"key": [...]}` wrapper */
  jsonKey?: string;
  /** a dataset folder: the split to read (default `train`) */
  split?: string;
}

/** The encoding a user typed, or null when it is not one the reader knows. */
export function parseTextEncoding(name: string): TextEncoding | null {
  return ENCODING_ALIASES[name.trim().toLowerCase()] ?? null;
}
