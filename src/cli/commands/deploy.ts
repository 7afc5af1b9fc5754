import { existsSync } from "node:fs";
import type { Command } from "commander";
import { loadConfig } from "../../core/config-load.js";
import { TunekitError } from "../../core/errors.js";
import { azureDeploymentTarget, createAzureDeployment, deploymentNameFor, waitForAzureDeployment } from "../../providers/azure/azure-deployment.js";
import { action, printJson, repeatable } from "../output.js";

interface DeployOptions {
  provider?: string;
  model: string;
  name?: string;
  sku?: string;
  capacity?: string;
  subscription?: string;
  resourceGroup?: string;
  account?: string;
  wait: boolean;
  pollInterval: string;
  config: string;
  set: string[];
  json: boolean;
}

/**
 * `tunekit deploy --provider azure`: Azure OpenAI answers with a fine-tuned model only through a
 * deployment. This creates it with the management REST API (PUT .../deployments/{name}) and, with
 * --wait, polls until it is provisioned.
 */
async function deploy(options: DeployOptions): Promise<number> {
  const overrides = [...options.set];
  if (options.sku !== undefined) overrides.push(`azure.deployment.sku=${options.sku}`);
  if (options.capacity !== undefined) overrides.push(`azure.deployment.capacity=${options.capacity}`);
  if (options.subscription !== undefined) overrides.push(`azure.deployment.subscription_id=${options.subscription}`);
  if (options.resourceGroup !== undefined) overrides.push(`azure.deployment.resource_group=${options.resourceGroup}`);
  if (options.account !== undefined) overrides.push(`azure.deployment.account=${options.account}`);
  // the default config file is optional here: flags and the environment can carry everything
  const configPath = options.config === "tunekit.yaml" && !existsSync(options.config) ? null : options.config;
  const { config } = loadConfig(configPath, overrides);
  const provider = options.provider ?? config.provider;
  if (!["azure", "openai", "local"].includes(provider)) {
    throw new TunekitError(`unknown \`--provider ${provider}\`: deploy knows azure (openai and local need no deployment)`, {
      kind: "usage",
      code: "unknown_provider",
      field: "--provider",
      fix: "use `--provider azure` for Azure OpenAI",
    });
  }
  if (provider !== "azure") {
    const why =
      provider === "openai"
        ? "OpenAI serves a fine-tuned model as soon as its job succeeds: call it by its `ft:` id"
        : "a Tunekit server serves every fine-tuned model it trained at /v1/chat/completions (`tunekit server`, or `tunekit serve <model>`)";
    throw new TunekitError(`\`--provider ${provider}\` needs no deployment: ${why}`, {
      kind: "usage",
      code: "no_deployment_needed",
      field: "--provider",
      fix: "use `--provider azure` for Azure OpenAI",
    });
  }
  const target = azureDeploymentTarget(config);
  const name = options.name ?? config.azure.deployment.name ?? deploymentNameFor(options.model);
  const settings = config.azure.deployment;
  const request = { name, model: options.model, sku: settings.sku, capacity: settings.capacity };
  const created = await createAzureDeployment(target, request, { maxRetries: config.azure.max_retries });
  const say = (text: string) => process.stderr.write(`${text}\n`);
  if (!options.json) say(`deployment \`${name}\` of ${options.model} (${settings.sku}, capacity ${settings.capacity}): ${created.properties?.provisioningState ?? "accepted"}`);
  let final = created;
  if (options.wait) {
    let last = created.properties?.provisioningState ?? "";
    const seconds = Number(options.pollInterval);
    if (!(seconds > 0))
      throw new TunekitError(`\`--poll-interval\` must be a positive number of seconds, got \`${options.pollInterval}\``, {
        kind: "usage",
        code: "bad_option",
        field: "--poll-interval",
        fix: "pass e.g. --poll-interval 10",
      });
    final = await waitForAzureDeployment(target, name, {
      intervalMs: seconds * 1000,
      maxRetries: config.azure.max_retries,
      onState: (state) => {
        if (state !== last && !options.json) say(`  ${state}`);
        last = state;
      },
    });
  }
  if (options.json) {
    printJson({
      provider: "azure",
      name,
      model: options.model,
      sku: settings.sku,
      capacity: settings.capacity,
      provisioning_state: final.properties?.provisioningState ?? null,
      deployment: final,
    });
  } else {
    process.stdout.write(`${name}\n`);
    say(`call it with AzureOpenAI({ endpoint, apiVersion, apiKey }).chat.completions.create({ model: "${name}", messages })`);
  }
  return 0;
}

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description("make a fine-tuned model answer on a hosted provider: for Azure OpenAI, create its deployment through the management REST API")
    .requiredOption("--model <id>", "the fine-tuned model (a succeeded job's `fine_tuned_model`)")
    .option("--provider <name>", "provider to deploy on (default: `provider:` of the config); only `azure` needs a deployment")
    .option("--name <deployment>", "deployment name (default: `azure.deployment.name`, else derived from the model id)")
    .option("--sku <sku>", "deployment SKU: standard, globalstandard, developer (default: `azure.deployment.sku`)")
    .option("--capacity <n>", "SKU capacity (default: `azure.deployment.capacity`)")
    .option("--subscription <id>", "Azure subscription id (default: `azure.deployment.subscription_id`, else $AZURE_SUBSCRIPTION_ID)")
    .option("--resource-group <name>", "resource group (default: `azure.deployment.resource_group`, else $AZURE_RESOURCE_GROUP)")
    .option("--account <name>", "Azure OpenAI resource name (default: `azure.deployment.account`, else $AZURE_OPENAI_ACCOUNT)")
    .option("--wait", "poll until the deployment is provisioned (Succeeded) or failed", false)
    .option("--poll-interval <seconds>", "with --wait: seconds between polls", "10")
    .option("-c, --config <file>", "run config holding the `azure:` settings (optional)", "tunekit.yaml")
    .option("--set <key=value>", "override a config field, e.g. --set azure.deployment.management_endpoint=https://... (repeatable)", repeatable, [] as string[])
    .option("--json", "print the deployment as JSON", false)
    .addHelpText(
      "after",
      "\nThe management token comes from the variable named by `azure.deployment.token_env` (AZURE_MANAGEMENT_TOKEN):\n  export AZURE_MANAGEMENT_TOKEN=$(az account get-access-token --query accessToken -o tsv)\n",
    )
    .action(action(deploy));
}
