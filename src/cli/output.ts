import { existsSync } from "node:fs";
import { TunekitError, isTunekitError } from "../core/errors.js";

/**
 * Print a value as pretty JSON on stdout: the `--json` contract is one JSON document with the API's
 * key style, snake_case. Keys written in camelCase by the TypeScript side are converted here, once,
 * for every command; the keys of user data (metadata, column names, per-model maps) are kept as given.
 */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(snakeKeys(value), null, 2)}\n`);
}

/** objects under these keys are the user's data: their keys are names, not the contract's fields */
const DATA_MAPS = new Set(["metadata", "columns", "mapping", "map", "column_map", "env", "headers"]);
const CAMEL_KEY = /^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$/;

export function snakeKeys(value: unknown, keepKeys = false): unknown {
  if (Array.isArray(value)) return value.map((item) => snakeKeys(item, keepKeys));
  if (value === null || typeof value !== "object" || value instanceof Date) return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return snakeKeys(JSON.parse(JSON.stringify(value)), keepKeys);
  const result: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry === undefined) continue;
    const name = keepKeys || !CAMEL_KEY.test(key) ? key : key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    result[name] = typeof entry === "number" && !keepKeys && MONEY_KEY.test(name) ? roundMoney(entry) : snakeKeys(entry, DATA_MAPS.has(name));
  }
  return result;
}

/** computed amounts of money (`cost`, `training_cost`, `total_usd`); quoted prices are printed as the table has them */
const MONEY_KEY = /(^|_)costs?(_|$)|(^|_)usd$/;

/**
 * Money in `--json`: to the cent, and an amount under a cent to two significant digits, so that no
 * amount reads as 0 when it is not (a request to a small model costs $0.000034) and none carries
 * float noise (0.30000000000000004).
 */
export function roundMoney(amount: number): number {
  if (!Number.isFinite(amount) || amount === 0) return amount;
  if (Math.abs(amount) >= 0.01) return Math.round(amount * 100) / 100;
  return Number(amount.toPrecision(2));
}

/** Report an error the way every command does: human text on stderr, or JSON with --json. */
export function reportError(error: unknown, json: boolean): number {
  const tunekitError = isTunekitError(error)
    ? error
    : new TunekitError(error instanceof Error ? error.message : String(error), { kind: "internal", cause: error });
  if (json) {
    process.stdout.write(`${JSON.stringify(tunekitError.toJSON(), null, 2)}\n`);
  } else {
    process.stderr.write(`${tunekitError.format()}\n`);
    if (tunekitError.kind === "internal" && error instanceof Error && error.stack && process.env.TUNEKIT_DEBUG) {
      process.stderr.write(`${error.stack}\n`);
    }
  }
  return tunekitError.exitCode;
}

/** Wrap a command action: run it, set the exit code from its result or its error. */
export function action<Args extends unknown[]>(
  run: (...args: Args) => Promise<number | void> | number | void,
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    const command = args[args.length - 1] as { optsWithGlobals?: () => Record<string, unknown> } | undefined;
    const json = Boolean(command?.optsWithGlobals?.().json);
    try {
      const code = await run(...args);
      process.exitCode = typeof code === "number" ? code : 0;
    } catch (error) {
      process.exitCode = reportError(error, json);
    }
  };
}

/** commander's collector of a repeatable option (`--set a=1 --set b=2`); a variadic `<x...>` would swallow the arguments after it */
export function repeatable(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Refuse to replace files a command would write unless `--force` (as `init` does). */
export function refuseToOverwrite(paths: readonly string[], force: boolean): void {
  if (force) return;
  const existing = paths.filter((file) => existsSync(file));
  if (existing.length === 0) return;
  throw new TunekitError(`${existing.map((file) => `\`${file}\``).join(", ")} already exist${existing.length === 1 ? "s" : ""}`, {
    kind: "usage",
    code: "output_exists",
    file: existing[0],
    fix: "pass --force to replace, or choose another output",
  });
}
