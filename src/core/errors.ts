/**
 * The one error base class of Tunekit. Every user-facing failure is a TunekitError with
 * structured fields: a stable `code`, the `field` (config path, CLI flag, API param) or
 * `line` it concerns, and a `fix` telling the user what to do. Messages name the field in
 * backticks.
 */
export interface ProblemDetail {
  /** stable machine-readable code, e.g. `invalid_type`, `unknown_key` */
  code: string;
  /** human message that names the field and says how to fix it */
  message: string;
  /** dotted config path, CLI flag or API parameter */
  field?: string;
  /** 1-based line number in the file concerned */
  line?: number;
  /** file the line belongs to */
  file?: string;
  /** what to do about this problem, when it differs from the error's own fix */
  fix?: string;
}

export type ErrorKind =
  | "usage" // bad CLI usage or bad config: not retryable, exit 2
  | "config"
  | "data"
  | "not_found"
  | "conflict"
  | "unauthorized" // no API key, or a wrong one: HTTP 401
  | "forbidden" // the key may not do this (delete a base model): HTTP 403
  | "too_large" // a body or upload over the server's limit: HTTP 413
  | "rate_limited" // every slot busy, retry later: HTTP 429
  | "environment" // missing Python, missing package, no GPU
  | "worker"
  | "internal";

export interface TunekitErrorOptions {
  kind?: ErrorKind;
  code?: string;
  field?: string;
  line?: number;
  file?: string;
  fix?: string;
  problems?: ProblemDetail[];
  cause?: unknown;
}

export class TunekitError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly field?: string;
  readonly line?: number;
  readonly file?: string;
  readonly fix?: string;
  /** every problem when several were found at once (config validation reports all of them) */
  readonly problems: ProblemDetail[];

  constructor(message: string, options: TunekitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TunekitError";
    this.kind = options.kind ?? "internal";
    this.code = options.code ?? this.kind;
    this.field = options.field;
    this.line = options.line;
    this.file = options.file;
    this.fix = options.fix;
    this.problems = options.problems ?? [];
  }

  /** Exit status for the CLI: 2 for usage/config problems (not retryable), 1 otherwise. */
  get exitCode(): number {
    return this.kind === "usage" || this.kind === "config" ? 2 : 1;
  }

  toJSON(): Record<string, unknown> {
    return {
      error: {
        kind: this.kind,
        code: this.code,
        message: this.message,
        ...(this.field !== undefined && { field: this.field }),
        ...(this.line !== undefined && { line: this.line }),
        ...(this.file !== undefined && { file: this.file }),
        ...(this.fix !== undefined && { fix: this.fix }),
        ...(this.problems.length > 0 && { problems: this.problems }),
      },
    };
  }

  /** Human rendering: the message, each problem on its own line, then the fix. */
  format(): string {
    const lines = [`error: ${this.message}`];
    for (const problem of this.problems) {
      const where = [
        problem.file,
        problem.line !== undefined ? `line ${problem.line}` : undefined,
        problem.field !== undefined && !problem.message.includes(`\`${problem.field}\``) ? `\`${problem.field}\`` : undefined,
      ]
        .filter(Boolean)
        .join(" ");
      lines.push(`  - ${where ? `${where}: ` : ""}${problem.message}`);
      if (problem.fix && problem.fix !== this.fix) lines.push(`    fix: ${problem.fix}`);
    }
    if (this.fix) lines.push(`fix: ${this.fix}`);
    return lines.join("\n");
  }
}

export function isTunekitError(value: unknown): value is TunekitError {
  return value instanceof TunekitError;
}
