import { relative } from "node:path";
import type { ProblemDetail } from "../../core/errors.js";
import type { DatasetFormat } from "../../spec/dataset.js";
import type { ValidationProblem } from "../../data/validate/problem-codes.js";
import { validateFile } from "../../data/validate/validate-file.js";
import type { DataCheck } from "./local-training.js";

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
