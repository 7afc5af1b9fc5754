#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, type CommanderError } from "commander";
import { registerInit } from "./commands/init.js";
import { registerDataValidate } from "./commands/data-validate.js";
import { registerDataStats } from "./commands/data-stats.js";
import { registerDataConvert } from "./commands/data-convert.js";
import { registerDataSplit } from "./commands/data-split.js";
import { registerDataFix } from "./commands/data-fix.js";
import { registerDataDistill } from "./commands/data-distill.js";
import { registerEstimate } from "./commands/estimate.js";
import { registerSetup } from "./commands/setup.js";
import { registerTrain } from "./commands/train.js";
import { registerServer } from "./commands/server.js";
import { registerKeys } from "./commands/keys.js";
import { registerJobs } from "./commands/jobs.js";
import { registerFiles } from "./commands/files.js";
import { registerModels } from "./commands/models.js";
import { registerServe } from "./commands/serve.js";
import { registerExport } from "./commands/export.js";
import { registerEval } from "./commands/eval.js";
import { registerAssess } from "./commands/assess.js";
import { registerDeploy } from "./commands/deploy.js";
import { registerMigrate } from "./commands/migrate.js";
import { VERSION } from "../core/version.js";
import { TunekitError } from "../core/errors.js";
import { reportError } from "./output.js";

const wantsJson = process.argv.slice(2).includes("--json");

/** commander's usage error as a TunekitError: `commander.unknownOption` becomes `unknown_option`. */
function usageError(error: CommanderError): TunekitError {
  const code = error.code.replace(/^commander\./, "").replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
  const message = error.message.replace(/^error: /, "");
  const command = process.argv
    .slice(2)
    .filter((arg) => !arg.startsWith("-"))
    .slice(0, 2)
    .join(" ");
  return new TunekitError(message, { kind: "usage", code, fix: `run \`tunekit ${command ? `${command} ` : ""}--help\` for the options and arguments` });
}

export function buildProgram(): Command {
  const program = new Command("tunekit")
    .description("Fine-tune LLMs from TypeScript: decide, prepare data, train, watch, serve.")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride((error) => {
      // commander's own usage errors (unknown option, missing argument) exit 2
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") process.exit(0);
      if (wantsJson) reportError(usageError(error), true);
      process.exit(2);
    });
  // with --json a usage error is JSON on stdout like every other error, not commander's text
  if (wantsJson) program.configureOutput({ outputError: () => {}, writeErr: () => {} });

  registerInit(program);
  const data = program.command("data").description("dataset toolkit: validate, stats, convert, split");
  registerDataValidate(data);
  registerDataStats(data);
  registerDataConvert(data);
  registerDataSplit(data);
  registerDataFix(data);
  registerDataDistill(data);
  registerEstimate(program);
  registerSetup(program);
  registerTrain(program);
  registerServer(program);
  registerKeys(program);
  registerJobs(program);
  registerFiles(program);
  registerModels(program);
  registerServe(program);
  registerExport(program);
  registerEval(program);
  registerAssess(program);
  registerDeploy(program);
  registerMigrate(program);
  finishHelp(program);
  return program;
}

/** commands whose help states their own exit statuses */
const OWN_EXIT_STATUS = new Set(["data convert", "data distill", "data fix"]);

/** The contract every command's help states: required options marked, and the exit statuses. */
function finishHelp(command: Command, path: string[] = []): void {
  for (const option of command.options) {
    if (option.mandatory && !option.description.endsWith("(required)")) option.description = `${option.description} (required)`;
  }
  const name = path.join(" ");
  if (path.length > 0 && command.commands.length === 0 && !OWN_EXIT_STATUS.has(name)) {
    command.addHelpText("after", "\nExit status: 0 ok, 1 problems found (invalid data, a failed job or check), 2 usage or input error.");
  }
  for (const sub of command.commands) finishHelp(sub, [...path, sub.name()]);
}

/** run as the `tunekit` command (not imported, as the CLI contract test imports buildProgram) */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const program = buildProgram();
  // `tunekit` alone: the help on stdout, exit 0 (commander would print it on stderr and fail)
  if (process.argv.length <= 2) program.outputHelp();
  else await program.parseAsync(process.argv);
}
