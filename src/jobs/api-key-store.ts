import { createHash, randomBytes } from "node:crypto";
import { TunekitError } from "../core/errors.js";
import { monotonicNow, newId } from "./ids.js";
import type { StoreDatabase } from "./store/database.js";

export interface Project {
  id: string;
  name: string;
  createdAt: number;
}

export interface ApiKeyRecord {
  id: string;
  projectId: string;
  projectName: string;
  prefix: string;
  name: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export const DEFAULT_PROJECT = "default";
const KEY_PREFIX = "tk-";

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/**
 * Projects and their API keys. A key is `tk-` + 32 random bytes (base64url); only its sha256
 * is stored, so a lost key cannot be shown again, only revoked and replaced.
 */
export class ApiKeyStore {
  constructor(private readonly database: StoreDatabase) {}

  async ensureProject(name: string): Promise<Project> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
      throw new TunekitError(`project name \`${name}\` is not allowed`, {
        kind: "usage",
        code: "invalid_project_name",
        field: "--project",
        fix: "use 1-64 letters, digits, `-`, `_` or `.`, starting with a letter or digit",
      });
    }
    const existing = await this.database.selectFrom("projects").selectAll().where("name", "=", name).executeTakeFirst();
    if (existing) return { id: existing.id, name: existing.name, createdAt: existing.created_at };
    const project = { id: newId("project"), name, created_at: monotonicNow() };
    await this.database.insertInto("projects").values(project).execute();
    return { id: project.id, name, createdAt: project.created_at };
  }

  async createKey(projectName: string, name: string | null = null): Promise<{ key: string; record: ApiKeyRecord }> {
    const project = await this.ensureProject(projectName);
    const key = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
    const row = {
      id: newId("apiKey"),
      project_id: project.id,
      key_hash: hashApiKey(key),
      key_prefix: key.slice(0, KEY_PREFIX.length + 6),
      name,
      created_at: monotonicNow(),
      last_used_at: null,
      revoked_at: null,
    };
    await this.database.insertInto("api_keys").values(row).execute();
    return {
      key,
      record: { id: row.id, projectId: project.id, projectName: project.name, prefix: row.key_prefix, name, createdAt: row.created_at, lastUsedAt: null, revokedAt: null },
    };
  }

  async listKeys(projectName?: string): Promise<ApiKeyRecord[]> {
    let query = this.database
      .selectFrom("api_keys")
      .innerJoin("projects", "projects.id", "api_keys.project_id")
      .select([
        "api_keys.id as id",
        "api_keys.project_id as project_id",
        "projects.name as project_name",
        "api_keys.key_prefix as key_prefix",
        "api_keys.name as name",
        "api_keys.created_at as created_at",
        "api_keys.last_used_at as last_used_at",
        "api_keys.revoked_at as revoked_at",
      ])
      .orderBy("api_keys.created_at", "asc");
    if (projectName !== undefined) query = query.where("projects.name", "=", projectName);
    const rows = await query.execute();
    return rows.map((row) => ({
      id: row.id,
      projectId: row.project_id,
      projectName: row.project_name,
      prefix: row.key_prefix,
      name: row.name,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      revokedAt: row.revoked_at,
    }));
  }

  /** Revoke by key id (`key-...`) or by the key itself. */
  async revokeKey(idOrKey: string): Promise<ApiKeyRecord> {
    const row = await this.database
      .selectFrom("api_keys")
      .select(["id", "revoked_at"])
      .where((where) => where.or([where("id", "=", idOrKey), where("key_hash", "=", hashApiKey(idOrKey))]))
      .executeTakeFirst();
    if (!row) {
      throw new TunekitError(`no API key \`${idOrKey}\``, { kind: "not_found", code: "api_key_not_found", field: "id", fix: "run `tunekit keys list` to see key ids" });
    }
    if (row.revoked_at === null) await this.database.updateTable("api_keys").set({ revoked_at: monotonicNow() }).where("id", "=", row.id).execute();
    const record = (await this.listKeys()).find((key) => key.id === row.id);
    if (!record) throw new TunekitError(`API key \`${row.id}\` vanished while revoking it`, { kind: "internal" });
    return record;
  }

  /** The project of a live key, or null for an unknown or revoked key. */
  async authenticate(key: string): Promise<Project | null> {
    const row = await this.database
      .selectFrom("api_keys")
      .innerJoin("projects", "projects.id", "api_keys.project_id")
      .select(["api_keys.id as key_id", "projects.id as id", "projects.name as name", "projects.created_at as created_at", "api_keys.last_used_at as last_used_at"])
      .where("api_keys.key_hash", "=", hashApiKey(key))
      .where("api_keys.revoked_at", "is", null)
      .executeTakeFirst();
    if (!row) return null;
    const now = Date.now();
    // record use at most once a minute: no write per request
    if (row.last_used_at === null || now - row.last_used_at > 60_000) {
      await this.database.updateTable("api_keys").set({ last_used_at: now }).where("id", "=", row.key_id).execute();
    }
    return { id: row.id, name: row.name, createdAt: row.created_at };
  }
}
