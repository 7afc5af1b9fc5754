import type { Command } from "commander";
import { setupWorkerEnvironment } from "../../providers/local/worker-environment.js";
import { action, printJson } from "../output.js";

export function registerSetup(program: Command): void {
  program
    .command("setup")
    .description("create or reuse the Python environment of the local training worker (TUNEKIT_VENV, default <tunekit>/.venv)")
    .option("--dev", "also install the test and benchmark requirements", false)
    .option("--python <path>", "Python 3.10+ interpreter used to create the environment (default: python3 on PATH)")
    .option("--json", "print the result as JSON (install progress still goes to stderr)", false)
    .action(
      action(async (options: { dev: boolean; python?: string; json: boolean }) => {
        const result = await setupWorkerEnvironment({
          dev: options.dev,
          python: options.python,
          onOutput: (line) => process.stderr.write(`${line}\n`),
        });
        if (options.json) {
          printJson({
            venv: result.venv,
            python: result.python.path,
            python_version: result.python.version,
            created: result.created,
            action: result.action,
            dev: result.dev,
            stamp: result.stamp,
          });
          return;
        }
        const what = { reused: "is up to date", adopted: "already had every pinned requirement (stamp written)", installed: "is ready" }[result.action];
        process.stdout.write(`worker environment ${result.venv} ${what} (Python ${result.python.version}${result.dev ? ", dev requirements" : ""})\n`);
      }),
    );
}
