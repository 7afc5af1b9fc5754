import { TunekitError, isTunekitError } from "../core/errors.js";

/** Print a value as pretty JSON on stdout (the `--json` contract: one JSON document). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
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
