import { TunekitError } from "../core/errors.js";
import { describeProblems, type StoredFile } from "./file-store.js";

type FileField = "training_file" | "validation_file";
type FileProblem = { code: string; message: string; param: string };

/** At job creation: refuse (400) a file of another purpose, or one whose finished validation found errors. */
export function assertUsable(file: StoredFile, field: FileField): void {
  if (file.object.purpose !== "fine-tune") {
    throw new TunekitError(`file \`${file.object.id}\` has purpose \`${file.object.purpose}\`, not \`fine-tune\``, {
      kind: "usage",
      code: "invalid_file_purpose",
      field,
      fix: "upload the data again with `purpose=fine-tune`",
    });
  }
  // one still being validated is checked when its validation ends (fileProblem)
  const problem = file.object.status === "error" ? validationProblem(file, field) : null;
  if (!problem) return;
  throw new TunekitError(problem.message, {
    kind: "data",
    code: problem.code,
    field,
    problems: (file.validation?.errors ?? []).map((error) => ({
      code: error.code,
      message: error.message,
      field,
      ...(error.line !== null && { line: error.line }),
      file: file.object.filename,
    })),
    fix: `see every problem with \`tunekit files show ${file.object.id}\` (GET /v1/tunekit/files/${file.object.id}/report), write a cleaned copy with \`tunekit data fix\`, upload it and create the job with the new file id`,
  });
}

/** After validation: why the job cannot train on this file (it is gone, invalid, or of the wrong format for the method); null when it can. */
export function fileProblem(file: StoredFile | null, param: FileField, methodType: "supervised" | "dpo"): FileProblem | null {
  const label = param === "training_file" ? "training" : "validation";
  if (!file) return { code: "file_not_found", message: `the ${label} file was deleted before validation`, param };
  const report = file.validation;
  if (!report) return { code: "invalid_file", message: `the ${label} file \`${file.object.id}\` has no validation report`, param };
  const invalid = validationProblem(file, param);
  if (invalid) return invalid;
  if (methodType === "dpo" && report.format !== "preference") {
    return {
      code: `invalid_${label}_file`,
      message: `DPO needs preference data (input, preferred_output, non_preferred_output); ${label} file \`${file.object.id}\` is in \`${report.format}\` format`,
      param,
    };
  }
  if (methodType === "supervised" && report.format === "preference") {
    return { code: `invalid_${label}_file`, message: `${label} file \`${file.object.id}\` holds preference pairs; use \`method: {type: "dpo"}\` for them`, param };
  }
  return null;
}

/** The file's validation found errors (a validation file needs one example, not a training file's ten); null when it passed. */
function validationProblem(file: StoredFile, param: FileField): FileProblem | null {
  const label = param === "training_file" ? "training" : "validation";
  const report = file.validation;
  if (!report) return null;
  // the upload was checked as a training file (10 examples at least); a validation file needs only one
  const onlyTooFew = param === "validation_file" && report.examples >= 1 && report.errorCount === report.errors.filter((problem) => problem.code === "too_few_examples").length;
  if (report.ok || onlyTooFew) return null;
  return { code: `invalid_${label}_file`, message: `${label} file \`${file.object.id}\` (${file.object.filename}) has problems: ${describeProblems(report)}`, param };
}
