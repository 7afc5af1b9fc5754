#!/usr/bin/env node
import { Command } from "commander";
import { registerInit } from "./commands/init.js";
import { registerDataValidate } from "./commands/data-validate.js";
import { registerDataStats } from "./commands/data-stats.js";
import { registerDataConvert } from "./commands/data-convert.js";
import { registerDataSplit } from "./commands/data-split.js";
import { registerDataDistill } from "./commands/data-distill.js";
import { registerEstimate } from "./commands/estimate.js";
import { registerSetup } from "./commands/setup.js";
import { registerTrain } from "./commands/train.js";
import { registerServer } from "./commands/server.js";
import { registerKeys } from "./commands/keys.js";
import { registerJobs } from "./commands/jobs.js";
import { registerFiles } from "./commands/files.js";
import { registerServe } from "./commands/serve.js";
import { registerExport } from "./commands/export.js";
import { registerEval } from "./commands/eval.js";
import { registerAssess } from "./commands/assess.js";
import { registerDeploy } from "./commands/deploy.js";
import { registerMigrate } from "./commands/migrate.js";
import { VERSION } from "../core/version.js";

export function buildProgram(): Command {
  const program = new Command("tunekit")
    .description("Fine-tune LLMs from TypeScript: decide, prepare data, train, watch, serve.")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride((error) => {
      // commander's own usage errors (unknown option, missing argument) exit 2
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") process.exit(0);
      process.exit(2);
    });

  registerInit(program);
  const data = program.command("data").description("dataset toolkit: validate, stats, convert, split");
  registerDataValidate(data);
  registerDataStats(data);
  registerDataConvert(data);
  registerDataSplit(data);
  registerDataDistill(data);
  registerEstimate(program);
  registerSetup(program);
  registerTrain(program);
  registerServer(program);
  registerKeys(program);
  registerJobs(program);
  registerFiles(program);
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
const OWN_EXIT_STATUS = new Set(["data convert", "data distill"]);

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

const program = buildProgram();
// `tunekit` alone: the help on stdout, exit 0 (commander would print it on stderr and fail)
if (process.argv.length <= 2) program.outputHelp();
else await program.parseAsync(process.argv);
