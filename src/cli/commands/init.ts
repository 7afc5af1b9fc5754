import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { configJsonSchema } from "../../core/config-schema.js";
import { loadConfig } from "../../core/config-load.js";
import { renderStarterConfig } from "../../core/config-template.js";
import { TunekitError } from "../../core/errors.js";
import { action, printJson, repeatable } from "../output.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a commented starter tunekit.yaml (and tunekit.schema.json for editors)")
    .option("-o, --output <file>", "where to write the config", "tunekit.yaml")
    .option("--model <model>", "base model to put in the config")
    .option("--train <file>", "training file to put in the config")
    .option("--validation <file>", "validation file to put in the config")
    .option("--force", "overwrite an existing file", false)
    .option("--json", "print what was written as JSON", false)
    .action(
      action((options: { output: string; model?: string; train?: string; validation?: string; force: boolean; json: boolean }) => {
        const target = resolve(options.output);
        if (existsSync(target) && !options.force) {
          throw new TunekitError(`${options.output} already exists`, {
            kind: "usage",
            code: "file_exists",
            field: "--output",
            fix: "pass --force to overwrite it, or -o to write elsewhere",
          });
        }
        const values: Record<string, unknown> = {};
        if (options.model) values.model = options.model;
        if (options.train || options.validation) {
          values.data = { ...(options.train && { train: options.train }), ...(options.validation && { validation: options.validation }) };
        }
        // `-o configs/new/tunekit.yaml`: the folders are made, as `mkdir -p` would
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, renderStarterConfig(values));
        const schemaPath = resolve(target, "..", "tunekit.schema.json");
        writeFileSync(schemaPath, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
        if (options.json) printJson({ config: target, schema: schemaPath });
        else process.stdout.write(`wrote ${target}\nwrote ${schemaPath}\nnext: edit the model and data paths, then \`tunekit data validate <train file>\`\n`);
      }),
    );

  const config = program.command("config").description("inspect the run config");
  config
    .command("schema")
    .description("print the JSON Schema of tunekit.yaml (for editors and API clients)")
    .action(action(() => printJson(configJsonSchema())));
  config
    .command("show")
    .description("validate a config, apply --set overrides and print the result with every default filled in")
    .option("-c, --config <file>", "config file (defaults only when omitted)")
    .option("--set <key=value>", "override a field, e.g. --set training.epochs=3 (repeatable)", repeatable, [] as string[])
    .option("--json", "print JSON instead of YAML", false)
    .action(
      action(async (options: { config?: string; set: string[]; json: boolean }) => {
        const { stringify } = await import("yaml");
        const loaded = loadConfig(options.config ?? null, options.set);
        if (options.json) printJson(loaded.config);
        else process.stdout.write(stringify(loaded.config));
      }),
    );
}
