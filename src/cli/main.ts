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
  return program;
}

const program = buildProgram();
// `tunekit` alone: the help on stdout, exit 0 (commander would print it on stderr and fail)
if (process.argv.length <= 2) program.outputHelp();
else await program.parseAsync(process.argv);
