import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { describe, expect, it } from "vitest";
import { configJsonSchema, configSchema, defaultConfig } from "./config-schema.js";
import { applyOverrides, expectedValue, fieldSchemaAt, loadConfig, parseOverride, readConfigObject } from "./config-load.js";
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

  it("fits the value to the field: number-looking text stays text, `a,b` is a list, typed values stay typed", () => {
    const { config } = loadConfig(null, [
      "output.suffix=2024",
      "training.lora.target_modules=q_proj,v_proj",
      "eval.metrics=token-f1",
      "training.epochs=3",
      "data.validation=null",
      "output.name=007",
    ]);
    expect(config.output.suffix).toBe("2024");
    expect(config.output.name).toBe("007");
    expect(config.training.lora.target_modules).toEqual(["q_proj", "v_proj"]);
    expect(config.eval.metrics).toEqual(["token-f1"]);
    expect(config.training.epochs).toBe(3);
    expect(config.data.validation).toBeNull();
    expect(loadConfig(null, ["training.lora.target_modules=all-linear"]).config.training.lora.target_modules).toBe("all-linear");
  });

  it("a list item that is wrong is named, with the whole list to write", () => {
    const error = problemsOf(() => loadConfig(null, ["eval.metrics=token-f1,rougel"]));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]!.field).toBe("eval.metrics.1");
    expect(error.problems[0]!.message).toContain("Did you mean `rouge-l`?");
    expect(error.problems[0]!.fix).toBe("write `--set 'eval.metrics=[token-f1, rouge-l]'`");
  });

  it("an unreadable value is a usage error that shows how to write a list", () => {
    const error = problemsOf(() => parseOverride("training.lora.target_modules=[q_proj"));
    expect(error.code).toBe("bad_override");
    expect(error.exitCode).toBe(2);
    expect(error.fix).toContain("--set 'training.lora.target_modules=[a, b]'");
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
    expect([...byField.keys()].sort()).toEqual(["data.max_seq_len", "training.learning_rate", "training.lora.rank", "training.lr_scheduler", "trainig"].sort());
    expect(byField.get("trainig")!.message).toContain("did you mean `training`");
    expect(byField.get("trainig")!.line).toBe(2);
    expect(byField.get("training.lora.rank")!.message).toContain("`r`");
    expect(byField.get("training.lora.rank")!.line).toBe(8);
    expect(byField.get("training.learning_rate")!.line).toBe(5);
    expect(byField.get("training.lr_scheduler")!.message).toMatch(/cosine/);
    expect(byField.get("data.max_seq_len")!.line).toBe(10);
    expect(error.format()).toContain("tunekit config schema");
    // sorted by line, each with a fix of its own
    expect(error.problems.map((problem) => problem.line)).toEqual([2, 5, 6, 8, 10]);
    expect(byField.get("trainig")!.fix).toBe("rename it to `training`");
    expect(byField.get("training.learning_rate")!.message).toContain("it takes `auto` or a number above 0 and at most 1");
    expect(byField.get("training.learning_rate")!.fix).toBe("write a value in range, e.g. `learning_rate: 0.0001`");
    expect(byField.get("training.lr_scheduler")!.fix).toBe("write one of them, e.g. `lr_scheduler: cosine`");
    expect(byField.get("data.max_seq_len")!.fix).toBe("write a number without quotes, e.g. `max_seq_len: 1024` (the default)");
    expect(new Set(error.problems.map((problem) => problem.fix)).size).toBe(error.problems.length);
  });

  it("says how to quote text that looks like a number, how to write a list, and what an empty value needs", () => {
    const error = problemsOf(() =>
      loadConfig(writeYaml('output:\n  suffix: 2024\n  name: true\ntraining:\n  lora:\n    target_modules: q_proj, v_proj\nmodel:\ndata:\n  max_seq_len: "512"\n')),
    );
    const fixes = Object.fromEntries(error.problems.map((problem) => [problem.field, problem.fix]));
    expect(fixes["output.suffix"]).toBe('put it in quotes: `suffix: "2024"`');
    expect(fixes["output.name"]).toBe('put it in quotes: `name: "true"`');
    expect(fixes["training.lora.target_modules"]).toContain("`target_modules: [q_proj, v_proj]`");
    expect(fixes.model).toContain("`model: HuggingFaceTB/SmolLM2-135M-Instruct` (the default)");
    expect(fixes["data.max_seq_len"]).toBe("drop the quotes: `max_seq_len: 512`");
  });

  it("describes what a field takes from the schema: bounds, choices, lists", () => {
    expect(expectedValue(fieldSchemaAt(["training", "lora", "r"])!)).toBe("a whole number from 1 to 1024");
    expect(expectedValue(fieldSchemaAt(["training", "epochs"])!)).toBe("`auto` or a whole number from 1 to 100");
    expect(expectedValue(fieldSchemaAt(["eval", "confidence"])!)).toBe("a number above 0.5 and below 1");
    expect(expectedValue(fieldSchemaAt(["training", "method"])!)).toBe("one of `lora`, `qlora`, `full`, `dpo`");
    expect(expectedValue(fieldSchemaAt(["output", "suffix"])!)).toBe("text of at most 64 characters, or `null`");
    expect(expectedValue(fieldSchemaAt(["eval", "strategies"])!)).toContain("a list of values from `zero-shot`");
  });

  it("reports YAML syntax errors with their line, once per line", () => {
    const error = problemsOf(() => loadConfig(writeYaml("model: a\ntraining: {epochs: 3\n")));
    expect(error.code).toBe("invalid_yaml");
    expect(error.problems.length).toBeGreaterThan(0);
    expect(new Set(error.problems.map((problem) => problem.line)).size).toBe(error.problems.length);
  });

  it("a YAML error names the line, the column, the line's text and the fix, in loadConfig and readConfigObject alike", () => {
    const path = writeYaml("model: a\ntraining: {epochs: 3\ndata:\n  train: x\n");
    for (const error of [problemsOf(() => loadConfig(path)), problemsOf(() => readConfigObject(path))]) {
      expect(error.code).toBe("invalid_yaml");
      expect(error.line).toBe(3);
      expect(error.problems[0]).toMatchObject({ line: 3, column: 1 });
      expect(error.problems[0]!.message).toContain("the line reads `data:`");
      expect(error.problems[0]!.message).toContain("the `{` opened on line 2");
      expect(error.problems[0]!.fix).toContain("close every `{` or `[`");
    }
  });

  it("says how to create a missing config file", () => {
    const error = problemsOf(() => loadConfig("/nonexistent/tunekit.yaml"));
    expect(error.code).toBe("config_not_found");
    expect(error.fix).toContain("tunekit init");
  });
});
