import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { describe, expect, it } from "vitest";
import { configJsonSchema, configSchema, defaultConfig } from "./config-schema.js";
import { applyOverrides, loadConfig, parseOverride } from "./config-load.js";
import { renderStarterConfig } from "./config-template.js";
import { TunekitError } from "./errors.js";

function writeYaml(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "tunekit-config-")), "tunekit.yaml");
  writeFileSync(path, text);
  return path;
}

function problemsOf(run: () => unknown): TunekitError {
  try {
    run();
  } catch (error) {
    if (error instanceof TunekitError) return error;
    throw error;
  }
  throw new Error("expected a TunekitError");
}

describe("config schema", () => {
  it("gives every field a description and a default", () => {
    const schema = configJsonSchema() as { properties: Record<string, unknown> };
    const missing: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      const properties = node.properties as Record<string, Record<string, unknown>> | undefined;
      if (!properties) return;
      for (const [key, child] of Object.entries(properties)) {
        const here = path ? `${path}.${key}` : key;
        if (typeof child.description !== "string" || child.description.length === 0) missing.push(`${here} (description)`);
        if (!("default" in child)) missing.push(`${here} (default)`);
        walk(child, here);
      }
    };
    walk(schema, "");
    expect(missing).toEqual([]);
  });

  it("parses an empty document to the defaults", () => {
    const config = configSchema.parse({});
    expect(config.training.method).toBe("lora");
    expect(config.training.lora.r).toBe(16);
    expect(config.training.epochs).toBe("auto");
    expect(config.data.max_seq_len).toBe(1024);
  });

  it("round-trips the commented starter config to the defaults", () => {
    const rendered = renderStarterConfig();
    expect(rendered).toContain("# LoRA rank.");
    expect(configSchema.parse(parseDocument(rendered).toJS())).toEqual(defaultConfig());
    expect(loadConfig(writeYaml(rendered)).config).toEqual(defaultConfig());
  });
});

describe("--set overrides", () => {
  it("types values with YAML scalar rules", () => {
    expect(parseOverride("training.epochs=3")).toMatchObject({ path: ["training", "epochs"], value: 3 });
    expect(parseOverride("training.packing=false").value).toBe(false);
    expect(parseOverride("training.epochs=auto").value).toBe("auto");
    expect(parseOverride("training.lora.target_modules=[q_proj, v_proj]").value).toEqual(["q_proj", "v_proj"]);
    expect(parseOverride("data.validation=null").value).toBeNull();
  });

  it("creates intermediate objects and overrides file values", () => {
    const path = writeYaml("training:\n  epochs: 2\n");
    const loaded = loadConfig(path, ["training.epochs=5", "training.lora.r=8", "model=./my-model"]);
    expect(loaded.config.training.epochs).toBe(5);
    expect(loaded.config.training.lora.r).toBe(8);
    expect(loaded.config.model).toBe("./my-model");
    expect(applyOverrides({}, ["a.b.c=1"])).toEqual({ a: { b: { c: 1 } } });
  });

  it("rejects an assignment without `=` as a usage error", () => {
    const error = problemsOf(() => parseOverride("training.epochs"));
    expect(error.kind).toBe("usage");
    expect(error.field).toBe("--set");
    expect(error.exitCode).toBe(2);
  });

  it("type-checks overridden values", () => {
    const error = problemsOf(() => loadConfig(null, ["training.lora.r=sixteen"]));
    expect(error.problems.map((problem) => problem.field)).toEqual(["training.lora.r"]);
    expect(error.problems[0]!.line).toBeUndefined();
  });
});

describe("config errors", () => {
  it("reports every unknown key and bad value at once, each with its path, line and a fix", () => {
    const path = writeYaml(
      [
        "model: ./m", // 1
        "trainig:", // 2  typo of training
        "  epochs: 3", // 3
        "training:", // 4
        "  learning_rate: -1", // 5
        "  lr_scheduler: exponential", // 6
        "  lora:", // 7
        "    rank: 8", // 8  unknown, no close match
        "data:", // 9
        "  max_seq_len: lots", // 10
      ].join("\n"),
    );
    const error = problemsOf(() => loadConfig(path));
    expect(error.kind).toBe("config");
    expect(error.exitCode).toBe(2);
    const byField = new Map(error.problems.map((problem) => [problem.field, problem]));
    expect([...byField.keys()].sort()).toEqual(
      ["data.max_seq_len", "training.learning_rate", "training.lora.rank", "training.lr_scheduler", "trainig"].sort(),
    );
    expect(byField.get("trainig")!.message).toContain("did you mean `training`");
    expect(byField.get("trainig")!.line).toBe(2);
    expect(byField.get("training.lora.rank")!.message).toContain("`r`");
    expect(byField.get("training.lora.rank")!.line).toBe(8);
    expect(byField.get("training.learning_rate")!.line).toBe(5);
    expect(byField.get("training.lr_scheduler")!.message).toMatch(/cosine/);
    expect(byField.get("data.max_seq_len")!.line).toBe(10);
    expect(error.format()).toContain("tunekit config schema");
  });

  it("reports YAML syntax errors with their line, once per line", () => {
    const error = problemsOf(() => loadConfig(writeYaml("model: a\ntraining: {epochs: 3\n")));
    expect(error.code).toBe("invalid_yaml");
    expect(error.problems.length).toBeGreaterThan(0);
    expect(new Set(error.problems.map((problem) => problem.line)).size).toBe(error.problems.length);
  });

  it("says how to create a missing config file", () => {
    const error = problemsOf(() => loadConfig("/nonexistent/tunekit.yaml"));
    expect(error.code).toBe("config_not_found");
    expect(error.fix).toContain("tunekit init");
  });
});
