import { mkdirSync } from "node:fs";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { TunekitError } from "../../core/errors.js";
import { migrationProvider } from "./migrations.js";

/**
 * Table types of the job store. Timestamps are unix milliseconds; JSON columns are text.
 * Queries go through Kysely's builder only (no SQLite-only SQL), so a Postgres dialect can be
 * added by swapping `openDatabase` (bigint columns then need a number type parser).
 */
export interface ProjectsTable {
  id: string;
  name: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  project_id: string;
  /** sha256 hex of the key; the key itself is never stored */
  key_hash: string;
  /** first characters of the key, shown by `tunekit keys list` */
  key_prefix: string;
  name: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface FilesTable {
  id: string;
  project_id: string;
  filename: string;
  purpose: string;
  bytes: number;
  created_at: number;
  status: string;
  status_details: string | null;
  /** JSON: the validation report of a fine-tune file */
  validation_report: string | null;
}

export interface JobsTable {
  id: string;
  project_id: string;
  model: string;
  training_file: string;
  validation_file: string | null;
  status: string;
  /** JSON of the requested hyperparameters (with `auto`) */
  hyperparameters: string;
  /** JSON of the resolved hyperparameters reported by the worker, or null before training */
  resolved_hyperparameters: string | null;
  /** JSON of the method object */
  method: string;
  suffix: string | null;
  seed: number;
  metadata: string | null;
  fine_tuned_model: string | null;
  /** JSON {code, message, param} */
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  trained_tokens: number | null;
  estimated_finish: number | null;
  result_files: string;
  /** last sign of life of the server running this job; recovery uses it to find orphans */
  heartbeat_at: number | null;
  run_dir: string | null;
  last_checkpoint_path: string | null;
  adapter_path: string | null;
  /** JSON of the job's `tunekit` extension (JobOptions), null when it had none */
  options: string | null;
  /** JSON of the request's `integrations`, returned as sent */
  integrations: string | null;
  /** when DELETE /v1/models/{model} removed the fine-tuned model (its job stays) */
  model_deleted_at: number | null;
  /** the execution backend of the job's last attempt (`local`, `ray`, `slurm`); null before its first launch */
  execution_backend: string | null;
  /** JSON: the nodes its last attempt ran on, one entry per rank (`host` or `host (node id)`) */
  execution_nodes: string | null;
}

export interface JobEventsTable {
  id: string;
  job_id: string;
  /** monotonic per job, starting at 1 */
  sequence: number;
  created_at: number;
  level: string;
  type: string;
  message: string;
  data: string | null;
}

export interface CheckpointsTable {
  id: string;
  job_id: string;
  step: number;
  created_at: number;
  path: string;
  metrics: string;
  fine_tuned_model_checkpoint: string;
}

export interface Database {
  projects: ProjectsTable;
  api_keys: ApiKeysTable;
  files: FilesTable;
  jobs: JobsTable;
  job_events: JobEventsTable;
  checkpoints: CheckpointsTable;
}

export type StoreDatabase = Kysely<Database>;

export const DATABASE_FILE = "tunekit.sqlite";

/** Open (and migrate) the store under `dataDir`: WAL journal, synchronous FULL, foreign keys on. */
export async function openDatabase(dataDir: string): Promise<StoreDatabase> {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, DATABASE_FILE);
  let sqlite: SqliteDatabase.Database;
  try {
    sqlite = new SqliteDatabase(path);
  } catch (error) {
    throw new TunekitError(`cannot open the job store \`${path}\`: ${(error as Error).message}`, {
      kind: "environment",
      code: "store_unavailable",
      field: "--data-dir",
      fix: "pass a writable folder with `--data-dir`",
      cause: error,
    });
  }
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const database = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(database);
  return database;
}

export async function migrate(database: StoreDatabase): Promise<void> {
  const migrator = new Migrator({ db: database, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === "Error");
    throw new TunekitError(`job store migration ${failed ? `\`${failed.migrationName}\` ` : ""}failed: ${(error as Error).message}`, {
      kind: "environment",
      code: "store_migration_failed",
      cause: error,
    });
  }
}
