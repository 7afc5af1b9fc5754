import { statSync } from "node:fs";
import { stat } from "node:fs/promises";
import { TunekitError } from "./errors.js";

/**
 * The sentence for an input path that cannot be read as a file: missing, a directory, or not
 * readable. `field` names the argument or option (`<file>`, `--prompts`).
 */
export function inputFileError(path: string, cause: unknown, field?: string): TunekitError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EISDIR") {
    return new TunekitError(`\`${path}\` is a directory, not a file`, {
      kind: "usage",
      code: "is_a_directory",
      file: path,
      field,
      fix: "pass one dataset file inside it (JSONL, CSV, TSV, JSON or Parquet)",
      cause,
    });
  }
  if (code === "EACCES" || code === "EPERM") {
    return new TunekitError(`cannot read \`${path}\`: permission denied`, {
      kind: "usage",
      code: "permission_denied",
      file: path,
      field,
      fix: "check the file's permissions (`ls -l`)",
      cause,
    });
  }
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new TunekitError(`cannot read \`${path}\`: no such file`, {
      kind: "usage",
      code: "file_not_found",
      file: path,
      field,
      fix: "check the path (it is relative to the current directory)",
      cause,
    });
  }
  return new TunekitError(`cannot read \`${path}\`: ${cause instanceof Error ? cause.message : String(cause)}`, {
    kind: "usage",
    code: "file_unreadable",
    file: path,
    field,
    fix: "check the path",
    cause,
  });
}

const directory = () => Object.assign(new Error("is a directory"), { code: "EISDIR" });

/** Throw the sentence unless `path` is a readable regular file. */
export async function assertInputFile(path: string, field?: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (error) {
    throw inputFileError(path, error, field);
  }
  if (!isFile) throw inputFileError(path, directory(), field);
}

/** The same, synchronously (argument checks before any work starts). */
export function assertInputFileSync(path: string, field?: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (error) {
    throw inputFileError(path, error, field);
  }
  if (!isFile) throw inputFileError(path, directory(), field);
}
