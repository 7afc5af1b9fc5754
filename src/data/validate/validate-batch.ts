import type { LineBatch } from "../read-lines.js";
import { MINHASH_SIZE } from "./near-duplicates.js";
import type { ProblemCode } from "./problem-codes.js";
import { validateLine, type LineContext, type LineResult } from "./validate-line.js";

/** At most this many problems of one code are kept (per batch, and per file); all are counted. */
export const MAX_STORED_PER_CODE = 1000;

export interface BatchProblem {
  line: number;
  code: ProblemCode;
  message: string;
  /** 1-based column the problem starts at (invalid JSON, invalid UTF-8) */
  column?: number;
}

/**
 * The results of a run of consecutive lines in a compact form that crosses worker_threads cheaply:
 * problems (the first MAX_STORED_PER_CODE of each code, the rest only counted) and, for every
 * error-free example, its fingerprints and token counts in typed arrays.
 */
export interface BatchResult {
  firstLine: number;
  lineCount: number;
  bytes: number;
  blankLines: number;
  /** non-blank lines */
  examples: number;
  examplesWithErrors: number;
  problems: BatchProblem[];
  /** problems counted but not stored, by code */
  uncountedProblems: Partial<Record<ProblemCode, number>>;
  /** error-free examples */
  accepted: number;
  acceptedLines: Uint32Array;
  /** flags per accepted example: 1 = exact hash, 2 = prompt hash, 4 = signature, 8 = tokens */
  flags: Uint8Array;
  /** high, low per accepted example */
  exactHashes: Uint32Array;
  promptHashes: Uint32Array;
  /** MINHASH_SIZE values per accepted example */
  signatures: Uint32Array;
  /** total, trained, longest per accepted example */
  tokens: Float64Array;
}

export const HAS_EXACT = 1;
export const HAS_PROMPT = 2;
export const HAS_SIGNATURE = 4;
export const HAS_TOKENS = 8;

/** Packs LineResults, in line order, into a BatchResult. */
export class BatchBuilder {
  private readonly problems: BatchProblem[] = [];
  private readonly storedPerCode = new Map<ProblemCode, number>();
  private readonly uncounted: Partial<Record<ProblemCode, number>> = {};
  private readonly acceptedResults: Array<{ line: number; result: LineResult }> = [];
  private blankLines = 0;
  private examples = 0;
  private examplesWithErrors = 0;
  private lineCount = 0;

  constructor(
    private readonly firstLine: number,
    private readonly bytes = 0,
    /** problems kept per code in this batch (the rest are only counted) */
    private readonly cap = MAX_STORED_PER_CODE,
  ) {}

  add(line: number, result: LineResult): void {
    this.lineCount++;
    if (result.blank) this.blankLines++;
    else this.examples++;
    if (result.hasErrors) this.examplesWithErrors++;
    for (const problem of result.problems) {
      const stored = this.storedPerCode.get(problem.code) ?? 0;
      if (stored < this.cap) {
        this.storedPerCode.set(problem.code, stored + 1);
        this.problems.push(
          problem.column === undefined ? { line, code: problem.code, message: problem.message } : { line, code: problem.code, message: problem.message, column: problem.column },
        );
      } else {
        this.uncounted[problem.code] = (this.uncounted[problem.code] ?? 0) + 1;
      }
    }
    if (!result.blank && !result.hasErrors) this.acceptedResults.push({ line, result });
  }

  build(): BatchResult {
    const count = this.acceptedResults.length;
    const batch: BatchResult = {
      firstLine: this.firstLine,
      lineCount: this.lineCount,
      bytes: this.bytes,
      blankLines: this.blankLines,
      examples: this.examples,
      examplesWithErrors: this.examplesWithErrors,
      problems: this.problems,
      uncountedProblems: this.uncounted,
      accepted: count,
      acceptedLines: new Uint32Array(count),
      flags: new Uint8Array(count),
      exactHashes: new Uint32Array(count * 2),
      promptHashes: new Uint32Array(count * 2),
      signatures: new Uint32Array(count * MINHASH_SIZE),
      tokens: new Float64Array(count * 3),
    };
    this.acceptedResults.forEach(({ line, result }, index) => {
      batch.acceptedLines[index] = line;
      let flags = 0;
      if (result.exactHash) {
        flags |= HAS_EXACT;
        batch.exactHashes[index * 2] = result.exactHash.high;
        batch.exactHashes[index * 2 + 1] = result.exactHash.low;
      }
      if (result.promptHash) {
        flags |= HAS_PROMPT;
        batch.promptHashes[index * 2] = result.promptHash.high;
        batch.promptHashes[index * 2 + 1] = result.promptHash.low;
      }
      if (result.signature) {
        flags |= HAS_SIGNATURE;
        batch.signatures.set(result.signature, index * MINHASH_SIZE);
      }
      if (result.tokens) {
        flags |= HAS_TOKENS;
        batch.tokens[index * 3] = result.tokens.total;
        batch.tokens[index * 3 + 1] = result.tokens.trained;
        batch.tokens[index * 3 + 2] = result.tokens.longest;
      }
      batch.flags[index] = flags;
    });
    return batch;
  }
}

/** Validates every line of a batch (the work a worker thread does). */
export function validateBatch(batch: LineBatch, context: LineContext): BatchResult {
  const builder = new BatchBuilder(batch.firstLine, batch.bytes, context.everyProblem ? Number.POSITIVE_INFINITY : MAX_STORED_PER_CODE);
  let invalidIndex = 0;
  for (let index = 0; index < batch.lines.length; index++) {
    const validUtf8 = batch.invalidUtf8[invalidIndex] !== index;
    if (!validUtf8) invalidIndex++;
    const line = batch.firstLine + index;
    builder.add(line, validateLine(batch.lines[index] as string, line, context, validUtf8));
  }
  return builder.build();
}

/** The typed arrays of a batch, to transfer instead of copy between threads. */
export function transferablesOf(batch: BatchResult): ArrayBuffer[] {
  return [batch.acceptedLines, batch.flags, batch.exactHashes, batch.promptHashes, batch.signatures, batch.tokens].map((array) => array.buffer as ArrayBuffer);
}
