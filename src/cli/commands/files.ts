import { createReadStream } from "node:fs";
import type { Command } from "commander";
import type OpenAI from "openai";
import { TunekitError } from "../../core/errors.js";
import type { FileObject } from "../../spec/openai-wire.js";
import { assertInputFileSync } from "../../core/input-file.js";
import { action, printJson } from "../output.js";

interface ClientFlags {
  server?: string;
  apiKey?: string;
  json: boolean;
}

function withClientOptions(command: Command): Command {
  return command
    .option("--server <url>", "Tunekit server (env TUNEKIT_SERVER, default http://127.0.0.1:8000)")
    .option("--api-key <key>", "API key (env TUNEKIT_API_KEY)")
    .option("--json", "print the API's JSON", false);
}

/** Run SDK calls against the server; failures become TunekitErrors. The SDK is loaded on use. */
async function call<T>(options: ClientFlags, run: (client: OpenAI) => Promise<T>): Promise<T> {
  const { clientError, createClient } = await import("../../server/openai-client.js");
  const { client, baseURL, apiKey } = createClient(options);
  try {
    return await run(client);
  } catch (error) {
    throw clientError(error, baseURL, apiKey);
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
      const all: FileObject[] = [];
      await call(options, async (client) => {
        for await (const file of client.files.list()) all.push(file as FileObject);
      });
      if (options.json) return printJson({ object: "list", data: all, has_more: false });
      process.stdout.write(all.length === 0 ? "no files\n" : `${all.map(fileLine).join("\n")}\n`);
    }),
  );

  withClientOptions(files.command("upload").description("upload a JSONL dataset (validated by the server)").argument("<path>", "the file"))
    .option("--purpose <purpose>", "file purpose", "fine-tune")
    .action(
      action(async (path: string, options: ClientFlags & { purpose: string }) => {
        assertInputFileSync(path, "<path>");
        const file = (await call(options, (client) => client.files.create({ file: createReadStream(path), purpose: options.purpose as "fine-tune" }))) as FileObject;
        if (options.json) return printJson(file);
        process.stdout.write(`${fileLine(file)}\n`);
        return file.status === "error" ? 1 : 0;
      }),
    );

  withClientOptions(files.command("delete").description("delete a file").argument("<file-id>", "file-...")).action(
    action(async (fileId: string, options: ClientFlags) => {
      const deleted = await call(options, (client) => client.files.delete(fileId));
      if (options.json) return printJson(deleted);
      process.stdout.write(`deleted ${deleted.id}\n`);
    }),
  );
}

export { call, withClientOptions, type ClientFlags };
