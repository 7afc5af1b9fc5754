import { createReadStream, createWriteStream, mkdirSync, statSync } from "node:fs";
import { once } from "node:events";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import type OpenAI from "openai";
import { TunekitError, isTunekitError } from "../../core/errors.js";
import type { OpenAIFineTuneProvider } from "../../providers/openai/openai-fine-tune-provider.js";
import type { TunekitServerProvider } from "../../providers/openai/tunekit-server-provider.js";
import type { FileObject } from "../../spec/openai-wire.js";
import type { FileReportView } from "../../spec/tunekit-wire.js";
import { assertInputFileSync } from "../../core/input-file.js";
import { action, printJson, refuseToOverwrite } from "../output.js";

interface ClientFlags {
  server?: string;
  apiKey?: string;
  json: boolean;
}

function withClientOptions(command: Command): Command {
  return command
    .option("--server <url>", "Tunekit server (default: $TUNEKIT_SERVER, else http://127.0.0.1:8000)")
    .option("--api-key <key>", "API key (env TUNEKIT_API_KEY)")
    .option("--json", "print the API's JSON", false);
}

/** The FineTuneProvider of the server a command talks to (its failures are TunekitErrors). The SDK is loaded on use. */
async function serverProvider(options: ClientFlags): Promise<TunekitServerProvider> {
  const { createTunekitServerProvider } = await import("../../providers/openai/tunekit-server-provider.js");
  return createTunekitServerProvider(options);
}

/** A request of the server's own routes (/v1/tunekit/...) through its provider. */
async function call<T>(options: ClientFlags, run: (client: OpenAI) => Promise<T>): Promise<T> {
  return (await serverProvider(options)).provider.request(run);
}

/** The server a command talks to, as users wrote it (without /v1). */
async function serverOf(options: ClientFlags): Promise<string> {
  return (await serverProvider(options)).baseURL.replace(/\/v1\/?$/, "");
}

/** A call about one file: a 404 says which file on which server, and how to see the ones there (exit 2). */
async function callForFile<T>(options: ClientFlags, fileId: string, run: (provider: OpenAIFineTuneProvider) => Promise<T>): Promise<T> {
  try {
    return await run((await serverProvider(options)).provider);
  } catch (error) {
    if (isTunekitError(error) && error.kind === "not_found") {
      const server = await serverOf(options);
      const flag = options.server ? ` --server ${options.server}` : "";
      throw new TunekitError(`no file \`${fileId}\` on ${server}`, {
        kind: "usage",
        code: "file_not_found",
        field: "<file-id>",
        fix: `list the files there with \`tunekit files list${flag}\` (ids look like file-...)`,
        cause: error,
      });
    }
    throw error;
  }
}

function fileLine(file: FileObject): string {
  const when = new Date(file.created_at * 1000).toISOString().slice(0, 19).replace("T", " ");
  return `${file.id}  ${file.filename}  ${file.bytes} bytes  ${file.purpose}  ${file.status}  ${when}${file.status_details ? `\n    ${file.status_details}` : ""}`;
}

export function registerFiles(program: Command): void {
  const files = program.command("files").description("files on a Tunekit server (OpenAI files API)");

  withClientOptions(files.command("list").description("list uploaded files, newest first")).action(
    action(async (options: ClientFlags) => {
      const all = await (await serverProvider(options)).provider.listFiles();
      if (options.json) return printJson({ object: "list", data: all, has_more: false });
      process.stdout.write(all.length === 0 ? "no files\n" : `${all.map(fileLine).join("\n")}\n`);
    }),
  );

  withClientOptions(files.command("upload").description("upload a JSONL dataset (validated by the server)").argument("<path>", "the file"))
    .option("--purpose <purpose>", "file purpose", "fine-tune")
    .action(
      action(async (path: string, options: ClientFlags & { purpose: string }) => {
        assertInputFileSync(path, "<path>");
        const { provider } = await serverProvider(options);
        const file = await provider.uploadFile({ filename: basename(path), purpose: options.purpose as "fine-tune", content: createReadStream(path) });
        if (options.json) return printJson(file);
        process.stdout.write(`${fileLine(file)}\n`);
        return file.status === "error" ? 1 : 0;
      }),
    );

  withClientOptions(
    files
      .command("show")
      .description("a file's metadata and, for fine-tune files, the server's validation status and problems")
      .argument("<file-id>", "file-... (see `tunekit files list`)"),
  ).action(
    action(async (fileId: string, options: ClientFlags) => {
      const file = await callForFile(options, fileId, (provider) => provider.getFile(fileId));
      const report = await fileReport(options, file);
      if (options.json) return printJson({ ...file, validation: report });
      process.stdout.write(`${fileDetails(file, report)}\n`);
    }),
  );

  withClientOptions(files.command("content").description("a file's bytes, to stdout or to a file").argument("<file-id>", "file-... (see `tunekit files list`)"))
    .option("-o, --output <path>", "write the bytes here (whole or not at all) instead of stdout")
    .option("--force", "replace --output when it exists", false)
    .action(
      action(async (fileId: string, options: ClientFlags & { output?: string; force: boolean }) => {
        if (options.json && options.output === undefined) {
          throw new TunekitError("`files content --json` needs `-o OUT`: without it stdout carries the file's bytes", {
            kind: "usage",
            code: "invalid_option",
            field: "--json",
            fix: `pass -o <path> with --json, or drop --json to print the bytes`,
          });
        }
        if (options.output !== undefined) refuseToOverwrite([options.output], options.force);
        const response = await callForFile(options, fileId, (provider) => provider.openFile(fileId));
        if (!response.body)
          throw new TunekitError(`the server sent no content for \`${fileId}\``, {
            kind: "internal",
            code: "empty_response",
            fix: "try again; `tunekit files show` checks the file",
          });
        const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
        if (options.output === undefined) {
          await pipeline(body, process.stdout, { end: false });
          return;
        }
        await writeWhole(body, options.output);
        if (options.json) return printJson({ id: fileId, output: options.output, bytes: statSync(options.output).size });
        process.stderr.write(`wrote ${options.output}\n`);
      }),
    );

  withClientOptions(files.command("delete").description("delete a file").argument("<file-id>", "file-...")).action(
    action(async (fileId: string, options: ClientFlags) => {
      const deleted = await callForFile(options, fileId, (provider) => provider.deleteFile(fileId));
      if (options.json) return printJson(deleted);
      process.stdout.write(`deleted ${deleted.id}\n`);
    }),
  );
}

/** The server's whole validation report of a fine-tune file; null when the server has none (another purpose, or a server without the Tunekit routes). */
async function fileReport(options: ClientFlags, file: FileObject): Promise<FileReportView | null> {
  if (file.purpose !== "fine-tune") return null;
  try {
    return await call(options, (client) => client.get(`/tunekit/files/${encodeURIComponent(file.id)}/report`) as Promise<FileReportView>);
  } catch (error) {
    if (isTunekitError(error) && (error.kind === "not_found" || error.kind === "usage")) return null;
    throw error;
  }
}

const ERRORS_SHOWN = 20;

function fileDetails(file: FileObject, report: FileReportView | null): string {
  const lines = [
    `${file.id}  ${file.filename}`,
    `  bytes:      ${file.bytes}`,
    `  purpose:    ${file.purpose}`,
    `  status:     ${file.status}`,
    `  created:    ${new Date(file.created_at * 1000).toISOString().slice(0, 19).replace("T", " ")}`,
  ];
  if (file.status_details) lines.push(`  details:    ${file.status_details}`);
  if (report) {
    const errors = report.problems.filter((problem) => problem.severity === "error").length;
    const warnings = report.problems.length - errors;
    lines.push(
      `  validation: ${report.ok ? "OK" : "FAILED"}, ${report.format ?? "unknown"} format, ${report.examples} examples (${report.valid_examples} valid), ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`,
    );
    const errorProblems = report.problems.filter((problem) => problem.severity === "error");
    if (errorProblems.length > 0) lines.push("  errors:");
    for (const problem of errorProblems.slice(0, ERRORS_SHOWN)) {
      lines.push(`    ${problem.line === null ? "file" : `line ${problem.line}`}: ${problem.code}: ${problem.message}`);
      lines.push(`      fix: ${problem.fix}`);
    }
    if (errorProblems.length > ERRORS_SHOWN) lines.push(`    and ${errorProblems.length - ERRORS_SHOWN} more errors (\`--json\` lists every one)`);
    // one line per warning kind, not one per example
    const warningGroups = new Map<string, typeof report.problems>();
    for (const problem of report.problems) {
      if (problem.severity === "error") continue;
      warningGroups.set(problem.code, [...(warningGroups.get(problem.code) ?? []), problem]);
    }
    if (warningGroups.size > 0) lines.push("  warnings:");
    for (const [code, group] of warningGroups) {
      const count = report.counts[code]?.count ?? group.length;
      const where = group
        .slice(0, 10)
        .map((problem) => problem.line ?? "file")
        .join(", ");
      lines.push(`    ${code} (${count}x): ${report.counts[code]?.title ?? group[0]?.message}; line${group.length === 1 ? "" : "s"} ${where}${count > 10 ? ", ..." : ""}`);
      lines.push(`      fix: ${group[0]?.fix}`);
    }
    if (report.problems_omitted > 0) lines.push(`    the server counted ${report.problems_omitted} more problems than it keeps (1,000 a code)`);
  }
  return lines.join("\n");
}

/** Write a download to `path` whole or not at all (through `path.partial`). */
async function writeWhole(body: Readable, path: string): Promise<void> {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const partial = `${path}.partial`;
  const sink = createWriteStream(partial);
  try {
    await once(sink, "open");
    await pipeline(body, sink);
    await rename(partial, path);
  } catch (error) {
    sink.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}

export { call, callForFile, fileReport, serverProvider, withClientOptions, type ClientFlags };
