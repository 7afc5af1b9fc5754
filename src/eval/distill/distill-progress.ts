import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, openSync, rmSync, statSync, truncateSync, writeSync } from "node:fs";
import { TunekitError } from "../../core/errors.js";

/**
 * What `tunekit data distill` has written, so that a run killed at any instant (kill -9 included)
 * resumes with no row lost and none written twice.
 *
 * Two append-only files:
 *  - OUT: the training data, one chat row per answered prompt, nothing else in it (it stays plain
 *    chat JSONL for `tunekit data validate`, `train` and OpenAI);
 *  - OUT.distill-progress: JSON Lines, a `run` header with the settings, then one entry per row of
 *    OUT, in the same order: the prompt's source row (and line), a hash of the prompt, a hash of
 *    the row as written, and the teacher's token use.
 *
 * Each finished prompt is one synchronous step: one write of `row + "\n"` to OUT, then one write of
 * `entry + "\n"` to the progress file. Node runs it without yielding, so no other row comes between
 * them: entry i always describes line i of OUT. A kill can stop the step anywhere:
 *  1. during the OUT write: OUT ends in a partial line (no "\n");
 *  2. between the writes: OUT has one complete line more than the progress file has entries;
 *  3. during the progress write: the progress file ends in a partial line.
 * On start the partial tails are cut off, and both files are cut to the shorter one, n lines:
 * a row of OUT without its entry cannot be told apart from a stray line, so it goes and its prompt
 * is asked again (one extra request, never a duplicate). Rows 1..n must match their entries' hashes;
 * a longer surplus of OUT lines, a changed line, or an OUT without a progress file means someone
 * else wrote to OUT: distill stops rather than guess. Entries beyond OUT (a progress file that
 * reached the disk before OUT after a power loss) are dropped. The done set is the source rows of
 * entries 1..n. No fsync: a killed process loses nothing the kernel has; only a power loss can, and
 * then the cut above applies.
 */
export interface RunSettings {
  teacher: string;
  temperature: number | null;
  max_tokens: number | null;
  seed: number | null;
  system: string | null;
}

export interface ProgressEntry {
  /** 1-based record number in the prompts file */
  row: number;
  line?: number;
  /** hash of the prompt as sent */
  prompt: string;
  /** hash of the row's line in OUT (without its "\n") */
  out: string;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  finish_reason: string | null;
}

interface RunHeader extends RunSettings {
  v: 1;
  type: "run";
  prompts: string;
  created: string;
}

export function progressPath(output: string): string {
  return `${output}.distill-progress`;
}

export function lineHash(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

interface ScannedLines {
  /** byte offset just past each complete line's "\n" */
  ends: number[];
  /** bytes after the last "\n" (a partial line) */
  tailBytes: number;
}

/** Every complete line of a file, streamed: `onLine` gets its bytes without the "\n". */
async function scanLines(path: string, onLine: (line: Buffer, index: number) => void): Promise<ScannedLines> {
  const ends: number[] = [];
  let pending: Buffer[] = [];
  let offset = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, newline);
      const line = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
      pending = [];
      onLine(line, ends.length);
      ends.push(offset + newline + 1);
      start = newline + 1;
    }
    if (start < chunk.length) pending.push(Buffer.from(chunk.subarray(start)));
    offset += chunk.length;
  }
  const tailBytes = pending.reduce((sum, part) => sum + part.length, 0);
  return { ends, tailBytes };
}

function writeWhole(fd: number, text: string): void {
  const buffer = Buffer.from(text, "utf8");
  for (let written = 0; written < buffer.length;) written += writeSync(fd, buffer, written, buffer.length - written);
}

export class DistillProgress {
  private outFd: number | null = null;
  private progressFd: number | null = null;
  private headerWritten: boolean;

  private constructor(
    readonly output: string,
    readonly progressFile: string,
    private readonly header: RunHeader,
    /** entries of the rows in OUT, oldest first */
    readonly entries: ProgressEntry[],
    /** what was repaired on open, in words */
    readonly repairs: string[],
    headerOnDisk: boolean,
  ) {
    this.headerWritten = headerOnDisk;
    this.done = new Map(entries.map((entry) => [entry.row, entry]));
  }

  /** source row -> its entry, for every row already in OUT */
  readonly done: Map<number, ProgressEntry>;

  /** Read (and repair) what a previous run left, or start fresh. */
  static async open(output: string, prompts: string, settings: RunSettings): Promise<DistillProgress> {
    const progressFile = progressPath(output);
    const header: RunHeader = { v: 1, type: "run", ...settings, prompts, created: new Date().toISOString() };
    const repairs: string[] = [];
    if (!existsSync(output)) {
      // OUT deleted to start over: its progress goes with it
      if (existsSync(progressFile)) rmSync(progressFile);
      return new DistillProgress(output, progressFile, header, [], repairs, false);
    }
    if (!statSync(output).isFile()) {
      throw new TunekitError(`\`--out\` \`${output}\` is not a file`, { kind: "usage", code: "output_not_a_file", field: "--out", fix: "pass the path of a .jsonl file to write" });
    }
    const outHashes: string[] = [];
    const out = await scanLines(output, (line) => outHashes.push(lineHash(line)));

    let previous: RunHeader | null = null;
    const entries: ProgressEntry[] = [];
    let progress: ScannedLines | null = null;
    if (existsSync(progressFile)) {
      progress = await scanLines(progressFile, (line, index) => {
        let value: unknown;
        try {
          value = JSON.parse(line.toString("utf8"));
        } catch {
          throw corrupt(progressFile, `line ${index + 1} is not JSON`);
        }
        if (index === 0) {
          const candidate = value as Partial<RunHeader>;
          if (candidate?.type !== "run" || candidate.v !== 1) throw corrupt(progressFile, "line 1 is not a distill run header");
          previous = candidate as RunHeader;
          return;
        }
        const entry = value as ProgressEntry;
        if (!Number.isSafeInteger(entry?.row) || typeof entry.out !== "string") throw corrupt(progressFile, `line ${index + 1} is not a progress entry`);
        entries.push(entry);
      });
    }
    const header0 = previous as RunHeader | null;
    if (header0 === null) {
      if (outHashes.length === 0) {
        // a run killed before its first row was recorded: nothing to keep
        if (out.tailBytes > 0) repairs.push(`dropped a partial line (${out.tailBytes} bytes) at the end of ${output}`);
        truncateSync(output, 0);
        if (progress !== null) truncateSync(progressFile, 0);
        return new DistillProgress(output, progressFile, header, [], repairs, false);
      }
      throw new TunekitError(`\`${output}\` already holds ${outHashes.length} lines that distill did not record (no ${progressFile})`, {
        kind: "conflict",
        code: "output_not_from_distill",
        field: "--out",
        file: output,
        fix: `pass a new --out, or delete ${output} to start over (distill resumes only what it wrote itself)`,
      });
    }
    const mismatched = (Object.keys(settings) as Array<keyof RunSettings>).filter((key) => (header0[key] ?? null) !== settings[key]);
    if (mismatched.length > 0) {
      throw new TunekitError(
        `\`${output}\` was started with other settings: ${mismatched.map((key) => `${key} ${JSON.stringify(header0[key] ?? null)} (now ${JSON.stringify(settings[key])})`).join(", ")}`,
        {
          kind: "conflict",
          code: "settings_changed",
          field: "--out",
          file: output,
          fix: "rerun with the settings it was started with to resume, or pass a new --out to start another dataset (one file, one recipe)",
        },
      );
    }
    if (outHashes.length > entries.length + 1) {
      throw new TunekitError(`\`${output}\` has ${outHashes.length} lines but ${progressFile} records ${entries.length}: something else wrote to it`, {
        kind: "conflict",
        code: "output_changed",
        field: "--out",
        file: output,
        fix: `pass a new --out, or restore ${output} as distill wrote it`,
      });
    }
    const kept = Math.min(outHashes.length, entries.length);
    for (let index = 0; index < kept; index++) {
      if (outHashes[index] !== (entries[index] as ProgressEntry).out) {
        throw new TunekitError(`line ${index + 1} of \`${output}\` is not the row distill wrote there`, {
          kind: "conflict",
          code: "output_changed",
          field: "--out",
          file: output,
          line: index + 1,
          fix: `pass a new --out, or restore ${output} as distill wrote it (edit a copy instead)`,
        });
      }
    }
    const seen = new Set<number>();
    for (const entry of entries.slice(0, kept)) {
      if (seen.has(entry.row)) throw corrupt(progressFile, `row ${entry.row} is recorded twice`);
      seen.add(entry.row);
    }
    if (out.tailBytes > 0) repairs.push(`dropped a partial line (${out.tailBytes} bytes) at the end of ${output}: the last run stopped while writing it`);
    if (outHashes.length > kept) repairs.push(`dropped the last line of ${output}: the last run stopped before recording it; its prompt is asked again`);
    if (entries.length > kept) repairs.push(`dropped ${entries.length - kept} progress entr${entries.length - kept === 1 ? "y" : "ies"} without a row in ${output}`);
    truncateSync(output, kept === 0 ? 0 : (out.ends[kept - 1] as number));
    truncateSync(progressFile, (progress as ScannedLines).ends[kept] as number);
    return new DistillProgress(output, progressFile, header0, entries.slice(0, kept), repairs, true);
  }

  /** Append one row to OUT and its entry to the progress file (see the ordering rule above). */
  append(rowText: string, entry: Omit<ProgressEntry, "out">): ProgressEntry {
    if (this.outFd === null) {
      this.progressFd = openSync(this.progressFile, "a");
      if (!this.headerWritten) {
        writeWhole(this.progressFd, `${JSON.stringify(this.header)}\n`);
        this.headerWritten = true;
      }
      this.outFd = openSync(this.output, "a");
    }
    const full: ProgressEntry = { ...entry, out: lineHash(rowText) };
    writeWhole(this.outFd, `${rowText}\n`);
    writeWhole(this.progressFd as number, `${JSON.stringify(full)}\n`);
    this.entries.push(full);
    this.done.set(full.row, full);
    return full;
  }

  close(): void {
    if (this.outFd !== null) closeSync(this.outFd);
    if (this.progressFd !== null) closeSync(this.progressFd);
    this.outFd = null;
    this.progressFd = null;
  }
}

function corrupt(file: string, what: string): TunekitError {
  return new TunekitError(`the progress file \`${file}\` is damaged: ${what}`, {
    kind: "conflict",
    code: "progress_damaged",
    file,
    fix: "pass a new --out to start another dataset, or delete the output and its progress file to start over",
  });
}
