import { isIP } from "node:net";
import { TunekitError } from "../core/errors.js";
import type { ApiKeyStore, Project } from "../jobs/api-key-store.js";

/** The bearer token of an Authorization header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * Resolve the calling project from `Authorization: Bearer <key>`, or from Azure's `api-key`
 * header (401 when missing or unknown).
 */
export async function authenticate(keys: ApiKeyStore, header: string | undefined, azureKey?: string | string[]): Promise<Project> {
  const token = bearerToken(header) ?? (typeof azureKey === "string" && azureKey.trim() !== "" ? azureKey.trim() : null);
  if (!token) {
    throw new TunekitError("missing API key: send `Authorization: Bearer <key>`", {
      kind: "unauthorized",
      code: "missing_api_key",
      field: "Authorization",
      fix: "create a key with `tunekit keys create` and pass it as the SDK's `apiKey` (or TUNEKIT_API_KEY)",
    });
  }
  const project = await keys.authenticate(token);
  if (!project) {
    throw new TunekitError("incorrect API key provided", {
      kind: "unauthorized",
      code: "invalid_api_key",
      field: "Authorization",
      fix: "check the key, or create a new one with `tunekit keys create` (revoked keys stop working)",
    });
  }
  return project;
}

/** Is `host` a loopback name or address (where `--no-auth` is allowed)? */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || bare.toLowerCase() === "::ffff:127.0.0.1";
  return false;
}
