import { randomBytes } from "node:crypto";
import { ID_PREFIX } from "../spec/openai-wire.js";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A random id body of base62 characters (24 characters = ~142 bits). */
export function randomIdBody(length = 24): string {
  const bytes = randomBytes(length);
  let body = "";
  for (const byte of bytes) body += ALPHABET[byte % ALPHABET.length];
  return body;
}

export type IdKind = keyof typeof ID_PREFIX | "project" | "apiKey";

const PREFIX: Record<IdKind, string> = { ...ID_PREFIX, project: "proj-", apiKey: "key-" };

export function newId(kind: IdKind): string {
  return `${PREFIX[kind]}${randomIdBody()}`;
}

/** Does `value` look like an id we generated (prefix + base62)? Ids never become paths unless they pass this. */
export function isWellFormedId(kind: IdKind, value: string): boolean {
  const prefix = PREFIX[kind];
  return value.startsWith(prefix) && /^[0-9A-Za-z]{8,64}$/.test(value.slice(prefix.length));
}

let lastTimestamp = 0;

/** Unix milliseconds, strictly increasing within this process (creation order stays total). */
export function monotonicNow(): number {
  const now = Date.now();
  lastTimestamp = now > lastTimestamp ? now : lastTimestamp + 1;
  return lastTimestamp;
}

export function toUnixSeconds(milliseconds: number): number {
  return Math.floor(milliseconds / 1000);
}
