import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ModelCatalog } from "./model-catalog.js";

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), "tunekit-models-"));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

describe("model catalog", () => {
  it("lists HF folders and .gguf files of the models dir, configured paths and hub ids; ignores the rest", () => {
    mkdirSync(join(folder, "models", "tiny-llama"), { recursive: true });
    writeFileSync(join(folder, "models", "tiny-llama", "config.json"), "{}");
    writeFileSync(join(folder, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"), "GGUF");
    mkdirSync(join(folder, "models", "empty-folder"));
    writeFileSync(join(folder, "models", "notes.txt"), "not a model");
    mkdirSync(join(folder, "elsewhere", "my-model"), { recursive: true });
    writeFileSync(join(folder, "elsewhere", "my-model", "config.json"), "{}");

    const catalog = new ModelCatalog({ models: [join(folder, "elsewhere", "my-model"), "HuggingFaceTB/SmolLM2-135M-Instruct"], modelsDir: join(folder, "models") });
    expect(
      catalog
        .baseModels()
        .map((model) => model.id)
        .sort(),
    ).toEqual(["HuggingFaceTB/SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1", "my-model", "tiny-llama"]);
    expect(catalog.resolve("SmolLM2-135M-Instruct.Q4_1")?.source).toBe(join(folder, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"));
    expect(catalog.resolve("my-model")?.source).toBe(join(folder, "elsewhere", "my-model"));
    expect(catalog.resolve("HuggingFaceTB/SmolLM2-135M-Instruct")?.source).toBe("HuggingFaceTB/SmolLM2-135M-Instruct");
    expect(catalog.resolve("empty-folder")).toBeNull();
  });

  it("sees models added to the folder while the server runs", () => {
    const catalog = new ModelCatalog({ modelsDir: folder });
    expect(catalog.baseModels()).toEqual([]);
    writeFileSync(join(folder, "late.gguf"), "GGUF");
    expect(catalog.resolve("late")?.source).toBe(join(folder, "late.gguf"));
  });
});
