import { existsSync } from "node:fs";
import { relative } from "node:path";
import { resolveConfigPath, type LoadedConfig } from "../../core/config-load.js";
import { TunekitError, type ProblemDetail } from "../../core/errors.js";
import type { DatasetFormat } from "../../spec/dataset.js";
import { withFix, type ValidationProblem } from "../../data/validate/problem-codes.js";
import { validateFile } from "../../data/validate/validate-file.js";

/** What the dataset toolkit found in the training (and validation) file. */
export interface DataCheck {
  /** usable training examples */
  trainExamples: number;
  validationExamples: number | null;
  /** problems that block training; empty when the data is usable */
  errors: ProblemDetail[];
  /** every blocking problem, when `errors` lists only the first ones */
  errorCount?: number;
  warnings: ProblemDetail[];
}

export type DataValidator = (train: string, validation: string | null, model: string) => Promise<DataCheck>;

/**
 * The config's training and validation files, resolved, present and checked with the dataset
 * toolkit: a TunekitError naming the field (missing file) or listing every blocking problem.
 * Shared by local runs and jobs submitted to a server or hosted provider.
 */
export async function checkTrainingData(loaded: LoadedConfig, validateData: DataValidator, model: string): Promise<{ train: string; validation: string | null; data: DataCheck }> {
  const { config } = loaded;
  const train = resolveConfigPath(loaded, config.data.train);
  const validation = config.data.validation === null ? null : resolveConfigPath(loaded, config.data.validation);
  for (const [field, path] of [
    ["data.train", train],
    ["data.validation", validation],
  ] as const) {
    if (path !== null && !existsSync(path)) {
      throw new TunekitError(`\`${field}\` file ${path} does not exist`, {
        kind: "data",
        code: "data_not_found",
        field,
        file: path,
        fix: `fix \`${field}\` in ${loaded.path ?? "the config"} (paths are relative to the config file)`,
      });
    }
  }
  const data = await validateData(train, validation, model);
  if (data.errors.length > 0) {
    const count = data.errorCount ?? data.errors.length;
    throw new TunekitError(`the training data has ${count} problem${count === 1 ? "" : "s"} that block training`, {
      kind: "data",
      code: "invalid_data",
      field: "data.train",
      problems: data.errors.map(withFix),
      fix: "fix the lines above (`tunekit data validate <file>` shows every problem and warning), then run `tunekit train` again",
    });
  }
  return { train, validation, data };
}

/** Problems listed in the error (all are counted); `tunekit data validate` shows every one. */
export const MAX_LISTED_PROBLEMS = 20;

function toProblem(problem: ValidationProblem, defaultFile: string): ProblemDetail {
  const file = problem.file ?? defaultFile;
  return {
    code: problem.code,
    message: problem.message,
    file: relative(process.cwd(), file) || file,
    ...(problem.line !== null && { line: problem.line }),
  };
}

/**
 * The dataset toolkit's checks on the training and validation files (`tunekit data validate`
 * without token counting: the worker counts with the real tokenizer and reports truncation).
 */
export function dataChecker(format: DatasetFormat | "auto") {
  return async (train: string, validation: string | null): Promise<DataCheck> => {
    const report = await validateFile(train, { format, ...(validation !== null && { validationFile: validation }) });
    const errors = report.errors.map((problem) => toProblem(problem, train));
    const listed = errors.slice(0, MAX_LISTED_PROBLEMS);
    if (errors.length > listed.length) {
      listed.push({ code: "more_problems", message: `... and ${errors.length - listed.length} more errors` });
    }
    return {
      trainExamples: report.stats.valid_examples,
      validationExamples: report.stats.validation?.valid_examples ?? null,
      errors: listed,
      errorCount: errors.length,
      warnings: report.warnings.map((problem) => toProblem(problem, train)),
    };
  };
}
