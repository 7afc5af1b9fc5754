import type { Command } from "commander";
import { resolve } from "node:path";
import type { ApiKeyRecord, ApiKeyStore } from "../../jobs/api-key-store.js";
import { action, printJson } from "../output.js";

async function withKeys<T>(dataDir: string, run: (keys: ApiKeyStore) => Promise<T>): Promise<T> {
  const [{ openDatabase }, { ApiKeyStore }] = await Promise.all([import("../../jobs/store/database.js"), import("../../jobs/api-key-store.js")]);
  const database = await openDatabase(resolve(dataDir));
  try {
    return await run(new ApiKeyStore(database));
  } finally {
    await database.destroy();
  }
}

function keyJson(record: ApiKeyRecord): Record<string, unknown> {
  return {
    id: record.id,
    project: record.projectName,
    prefix: record.prefix,
    name: record.name,
    created_at: Math.floor(record.createdAt / 1000),
    last_used_at: record.lastUsedAt === null ? null : Math.floor(record.lastUsedAt / 1000),
    revoked_at: record.revokedAt === null ? null : Math.floor(record.revokedAt / 1000),
  };
}

function date(milliseconds: number | null): string {
  return milliseconds === null ? "-" : new Date(milliseconds).toISOString().slice(0, 19).replace("T", " ");
}

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("API keys of the fine-tuning server (stored hashed in <data-dir>)");

  keys
    .command("create")
    .description("create a key for a project (shown once)")
    .option("--project <name>", "project the key belongs to (created when new)", "default")
    .option("--name <label>", "a label to recognise the key by")
    .option("--data-dir <dir>", "the server's data folder", ".tunekit")
    .option("--json", "print JSON", false)
    .action(
      action(async (options: { project: string; name?: string; dataDir: string; json: boolean }) => {
        const { key, record } = await withKeys(options.dataDir, (store) => store.createKey(options.project, options.name ?? null));
        if (options.json) return printJson({ key, ...keyJson(record) });
        process.stdout.write(`${key}\n`);
        process.stderr.write(`key ${record.id} for project \`${record.projectName}\`: store it now, it is not shown again (export TUNEKIT_API_KEY=...)\n`);
      }),
    );

  keys
    .command("list")
    .description("list keys (prefixes only)")
    .option("--project <name>", "only this project's keys")
    .option("--data-dir <dir>", "the server's data folder", ".tunekit")
    .option("--json", "print JSON", false)
    .action(
      action(async (options: { project?: string; dataDir: string; json: boolean }) => {
        const records = await withKeys(options.dataDir, (store) => store.listKeys(options.project));
        if (options.json) return printJson({ object: "list", data: records.map(keyJson) });
        if (records.length === 0) return void process.stdout.write("no keys; create one with `tunekit keys create`\n");
        for (const record of records) {
          process.stdout.write(
            `${record.id}  ${record.prefix}...  project=${record.projectName}  created=${date(record.createdAt)}  last used=${date(record.lastUsedAt)}${record.revokedAt !== null ? `  REVOKED ${date(record.revokedAt)}` : ""}${record.name ? `  ${record.name}` : ""}\n`,
          );
        }
      }),
    );

  keys
    .command("revoke")
    .description("revoke a key by its id (key-...) or by the key itself")
    .argument("<id-or-key>", "key id from `tunekit keys list`, or the key")
    .option("--data-dir <dir>", "the server's data folder", ".tunekit")
    .option("--json", "print JSON", false)
    .action(
      action(async (idOrKey: string, options: { dataDir: string; json: boolean }) => {
        const record = await withKeys(options.dataDir, (store) => store.revokeKey(idOrKey));
        if (options.json) return printJson(keyJson(record));
        process.stdout.write(`revoked ${record.id} (project \`${record.projectName}\`)\n`);
      }),
    );
}
