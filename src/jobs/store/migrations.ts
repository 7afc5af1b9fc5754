import type { Kysely, Migration, MigrationProvider } from "kysely";

/**
 * Schema migrations, written with Kysely's schema builder so they run on SQLite today and on
 * Postgres later. Never edit a shipped migration: add the next one.
 */
const migrations: Record<string, Migration> = {
  "0001_initial": {
    async up(database: Kysely<unknown>) {
      await database.schema
        .createTable("projects")
        .addColumn("id", "varchar(64)", (column) => column.primaryKey())
        .addColumn("name", "varchar(128)", (column) => column.notNull().unique())
        .addColumn("created_at", "bigint", (column) => column.notNull())
        .execute();
      await database.schema
        .createTable("api_keys")
        .addColumn("id", "varchar(64)", (column) => column.primaryKey())
        .addColumn("project_id", "varchar(64)", (column) => column.notNull().references("projects.id"))
        .addColumn("key_hash", "varchar(64)", (column) => column.notNull().unique())
        .addColumn("key_prefix", "varchar(32)", (column) => column.notNull())
        .addColumn("name", "varchar(128)")
        .addColumn("created_at", "bigint", (column) => column.notNull())
        .addColumn("last_used_at", "bigint")
        .addColumn("revoked_at", "bigint")
        .execute();
      await database.schema
        .createTable("files")
        .addColumn("id", "varchar(64)", (column) => column.primaryKey())
        .addColumn("project_id", "varchar(64)", (column) => column.notNull().references("projects.id"))
        .addColumn("filename", "varchar(512)", (column) => column.notNull())
        .addColumn("purpose", "varchar(32)", (column) => column.notNull())
        .addColumn("bytes", "bigint", (column) => column.notNull())
        .addColumn("created_at", "bigint", (column) => column.notNull())
        .addColumn("status", "varchar(16)", (column) => column.notNull())
        .addColumn("status_details", "text")
        .addColumn("validation_report", "text")
        .execute();
      await database.schema.createIndex("files_project_created").on("files").columns(["project_id", "created_at"]).execute();
      await database.schema
        .createTable("jobs")
        .addColumn("id", "varchar(64)", (column) => column.primaryKey())
        .addColumn("project_id", "varchar(64)", (column) => column.notNull().references("projects.id"))
        .addColumn("model", "varchar(512)", (column) => column.notNull())
        .addColumn("training_file", "varchar(64)", (column) => column.notNull())
        .addColumn("validation_file", "varchar(64)")
        .addColumn("status", "varchar(32)", (column) => column.notNull())
        .addColumn("hyperparameters", "text", (column) => column.notNull())
        .addColumn("resolved_hyperparameters", "text")
        .addColumn("method", "text", (column) => column.notNull())
        .addColumn("suffix", "varchar(64)")
        .addColumn("seed", "bigint", (column) => column.notNull())
        .addColumn("metadata", "text")
        .addColumn("fine_tuned_model", "varchar(512)")
        .addColumn("error", "text")
        .addColumn("created_at", "bigint", (column) => column.notNull())
        .addColumn("started_at", "bigint")
        .addColumn("finished_at", "bigint")
        .addColumn("trained_tokens", "bigint")
        .addColumn("estimated_finish", "bigint")
        .addColumn("result_files", "text", (column) => column.notNull())
        .addColumn("heartbeat_at", "bigint")
        .addColumn("run_dir", "text")
        .addColumn("last_checkpoint_path", "text")
        .addColumn("adapter_path", "text")
        .execute();
      await database.schema.createIndex("jobs_project_created").on("jobs").columns(["project_id", "created_at"]).execute();
      await database.schema.createIndex("jobs_status_created").on("jobs").columns(["status", "created_at"]).execute();
      await database.schema
        .createTable("job_events")
        .addColumn("id", "varchar(64)", (column) => column.primaryKey())
        .addColumn("job_id", "varchar(64)", (column) => column.notNull().references("jobs.id"))
        .addColumn("sequence", "bigint", (column) => column.notNull())
        .addColumn("created_at", "bigint", (column) => column.notNull())
        .addColumn("level", "varchar(8)", (column) => column.notNull())
        .addColumn("type", "varchar(16)", (column) => column.notNull())
        .addColumn("message", "text", (column) => column.notNull())
        .addColumn("data", "text")
        .addUniqueConstraint("job_events_job_sequence", ["job_id", "sequence"])
        .execute();
      await database.schema
        .createTable("checkpoints")
        .addColumn("id", "varchar(64)", (column) => column.primaryKey())
        .addColumn("job_id", "varchar(64)", (column) => column.notNull().references("jobs.id"))
        .addColumn("step", "bigint", (column) => column.notNull())
        .addColumn("created_at", "bigint", (column) => column.notNull())
        .addColumn("path", "text", (column) => column.notNull())
        .addColumn("metrics", "text", (column) => column.notNull())
        .addColumn("fine_tuned_model_checkpoint", "varchar(512)", (column) => column.notNull())
        .execute();
      await database.schema.createIndex("checkpoints_job_step").on("checkpoints").columns(["job_id", "step"]).execute();
    },
  },
  "0002_job_options": {
    async up(database: Kysely<unknown>) {
      // the `tunekit` extension of a create-job request (run-config training and data fields)
      await database.schema.alterTable("jobs").addColumn("options", "text").execute();
    },
  },
  "0003_integrations_and_model_deletion": {
    async up(database: Kysely<unknown>) {
      await database.schema.alterTable("jobs").addColumn("integrations", "text").execute();
      await database.schema.alterTable("jobs").addColumn("model_deleted_at", "bigint").execute();
    },
  },
  "0004_execution_backend": {
    async up(database: Kysely<unknown>) {
      // which execution backend ran the job's last attempt (local, ray, slurm) and on which nodes
      await database.schema.alterTable("jobs").addColumn("execution_backend", "varchar(16)").execute();
      await database.schema.alterTable("jobs").addColumn("execution_nodes", "text").execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
