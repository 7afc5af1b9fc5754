import { existsSync } from "node:fs";
import { TunekitError, isTunekitError } from "../core/errors.js";
import { snakeKeys } from "../core/json-style.js";

export { roundMoney, snakeKeys } from "../core/json-style.js";

/**
 * Print a value as pretty JSON on stdout: the `--json` contract is one JSON document with the API's
 * key style, snake_case. Keys written in camelCase by the TypeScript side are converted here, once,
 * for every command; the keys of user data (metadata, column names, per-model maps) are kept as given.
 */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(snakeKeys(value), null, 2)}\n`);
}

/** Report an error the way every command does: human text on stderr, or JSON with --json. */
export function reportError(error: unknown, json: boolean): number {
  const tunekitError = isTunekitError(error) ? error : new TunekitError(error instanceof Error ? error.message : String(error), { kind: "internal", cause: error });
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
export function action<Args extends unknown[]>(run: (...args: Args) => Promise<number | void> | number | void): (...args: Args) => Promise<void> {
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
