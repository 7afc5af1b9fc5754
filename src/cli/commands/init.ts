import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { configJsonSchema } from "../../core/config-schema.js";
import { checkConfig, cudaUnavailable, type ConfigCheckEnvironment } from "../../core/config-check.js";
import { loadConfig } from "../../core/config-load.js";
import { renderStarterConfig } from "../../core/config-template.js";
import { TunekitError } from "../../core/errors.js";
import { defaultPriceTable, findHostedPrice, unknownHostedModelWarning } from "../../data/estimate/price-table.js";
import { detectFormat } from "../../spec/dataset.js";
import { action, printJson, repeatable } from "../output.js";

/** The checks' view of the rest of Tunekit: the shipped price table and the dataset format detector. */
function checkEnvironment(): ConfigCheckEnvironment {
  const table = defaultPriceTable();
  return {
    hostedModel: (model) => findHostedPrice(table, model),
    unknownHostedModel: (model) => unknownHostedModelWarning(table, model),
    recordFormat: (record) => detectFormat(record),
    cudaUnavailable: () => cudaUnavailable(process.env),
    environment: process.env,
  };
}

/** The provider a `--model` implies: a hosted model's own (gpt-4o-mini -> openai), else local; and a warning for a hosted-looking name the table does not know. */
function providerFor(model: string): { provider: string | null; warning: string | null } {
  const table = defaultPriceTable();
  const entry = findHostedPrice(table, model);
  if (entry) return { provider: entry.provider, warning: null };
  const warning = unknownHostedModelWarning(table, model);
  return { provider: warning ? "openai" : null, warning };
}

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
        if (options.model) {
          values.model = options.model;
          const { provider, warning } = providerFor(options.model);
          if (provider) values.provider = provider;
          if (warning) process.stderr.write(`warning: ${warning}\n`);
        }
        if (options.train || options.validation) {
          values.data = { ...(options.train && { train: options.train }), ...(options.validation && { validation: options.validation }) };
        }
        // `-o configs/new/tunekit.yaml`: the folders are made, as `mkdir -p` would
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, renderStarterConfig(values));
        const schemaPath = resolve(target, "..", "tunekit.schema.json");
        writeFileSync(schemaPath, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
        const provider = (values.provider as string | undefined) ?? "local";
        if (options.json) printJson({ config: target, schema: schemaPath, provider });
        else {
          const show = options.output === "tunekit.yaml" ? "tunekit config show" : `tunekit config show -c ${options.output}`;
          const hosted = provider !== "local" ? ` (provider: ${provider}, since \`${options.model}\` is a hosted model)` : "";
          process.stdout.write(
            `wrote ${target}${hosted}\nwrote ${schemaPath}\nnext: edit the model and data paths, then \`${show}\` checks the files, the model and the provider before any compute\n`,
          );
        }
      }),
    );

  const config = program.command("config").description("inspect the run config");
  config
    .command("schema")
    .description("print the JSON Schema of tunekit.yaml (for editors and API clients)")
    .action(action(() => printJson(configJsonSchema())));
  config
    .command("show")
    .description(
      "validate a config, apply --set overrides and print it with every default filled in; then check what can be checked before any compute: " +
        "the data files exist, the model is reachable, provider, model and method agree (exit 0 ok, 1 problems found, 2 the config cannot be read or is invalid)",
    )
    .option("-c, --config <file>", "config file", "tunekit.yaml")
    .option("--set <key=value>", "override a field, e.g. --set training.epochs=3 or --set 'training.lora.target_modules=[q_proj, v_proj]' (repeatable)", repeatable, [] as string[])
    .option("--no-check", "print the config only, without checking files, model and provider")
    .option("--defaults", "ignore any config file: print the defaults (with --set applied)", false)
    .option("--json", "print {file, ok, problems, config} as JSON instead of YAML", false)
    .action(
      action(async (options: { config: string; set: string[]; check: boolean; defaults: boolean; json: boolean }, command: Command) => {
        const { stringify } = await import("yaml");
        const given = command.getOptionValueSource("config") === "cli";
        if (!options.defaults && !given && !existsSync(resolve(options.config))) {
          throw new TunekitError(`no tunekit.yaml in ${process.cwd()} (\`config show\` reads ./tunekit.yaml, as \`train\` does, unless -c names another file)`, {
            kind: "usage",
            code: "config_not_found",
            field: "--config",
            fix: "create one with `tunekit init`, pass `-c <file>`, or run `tunekit config show --defaults` to see the defaults",
          });
        }
        const loaded = loadConfig(options.defaults ? null : options.config, options.set);
        const checked = options.check && !options.defaults ? checkConfig(loaded, checkEnvironment()) : null;
        if (options.json) {
          printJson({ file: loaded.path, ok: checked?.ok ?? true, checked: checked !== null, problems: checked?.problems ?? [], config: loaded.config });
        } else {
          process.stdout.write(stringify(loaded.config));
          if (checked && checked.ok) process.stderr.write(`checked ${options.config}: the data files exist, the model is reachable, provider, model and method agree\n`);
          if (checked && !checked.ok) {
            const count = checked.problems.length;
            const report = new TunekitError(`${options.config} has ${count} problem${count === 1 ? "" : "s"} that would stop \`tunekit train\``, {
              kind: "data",
              code: "config_check_failed",
              problems: checked.problems,
              fix: count === 1 ? checked.problems[0]!.fix : "each problem above says what to change; run `tunekit config show` again after",
            });
            process.stderr.write(`${report.format()}\n`);
          }
        }
        return checked && !checked.ok ? 1 : 0;
      }),
    );
}
