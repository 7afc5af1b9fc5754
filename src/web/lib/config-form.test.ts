import { describe, expect, it } from "vitest";
import { configJsonSchema } from "../../core/config-schema.js";
import { ConfigDocument, fieldSpec, fieldsUnder, parseInput, type JsonSchema } from "./config-form.js";

// the schema the server sends at GET /v1/tunekit/config/schema
const schema = configJsonSchema() as JsonSchema;

describe("fields from the config's JSON Schema", () => {
  it("reads kind, bounds, default, choices and their sentences from the schema", () => {
    expect(fieldSpec(schema, ["training", "epochs"])).toMatchObject({
      kind: "literal-or-number",
      literal: "auto",
      minimum: 1,
      maximum: 100,
      integer: true,
      default: "auto",
      label: "Epochs",
    });
    expect(fieldSpec(schema, ["training", "method"])).toMatchObject({ kind: "enum", options: ["lora", "qlora", "full", "dpo"], default: "lora" });
    expect(fieldSpec(schema, ["training", "method"])?.optionDescriptions).toHaveLength(4);
    expect(fieldSpec(schema, ["training", "lora", "alpha"])).toMatchObject({ kind: "number", exclusiveMinimum: 0, default: 32 });
    expect(fieldSpec(schema, ["training", "max_steps"])).toMatchObject({ kind: "nullable-number", integer: true, default: null });
    expect(fieldSpec(schema, ["training", "lora", "target_modules"])).toMatchObject({ kind: "literal-or-list", literal: "all-linear" });
    expect(fieldSpec(schema, ["data", "train"])).toMatchObject({ kind: "string", label: "Training file" });
    expect(fieldSpec(schema, ["training", "packing"])).toMatchObject({ kind: "boolean", default: true });
    expect(fieldSpec(schema, ["training", "nope"])).toBeNull();
  });

  it("lists every training field, nested LoRA fields flattened", () => {
    const paths = fieldsUnder(schema, ["training"]).map((field) => field.path.join("."));
    expect(paths).toContain("training.lora.r");
    expect(paths).toContain("training.learning_rate");
    expect(paths.length).toBe(Object.keys(schema.properties?.training?.properties ?? {}).length - 1 + 4);
  });

  it("turns input text into values: auto, numbers, lists, and empty as unset", () => {
    const epochs = fieldSpec(schema, ["training", "epochs"])!;
    expect(parseInput(epochs, "auto")).toEqual({ value: "auto" });
    expect(parseInput(epochs, " 3 ")).toEqual({ value: 3 });
    expect(parseInput(epochs, "")).toEqual({});
    expect(parseInput(epochs, "2.5").error).toMatch(/whole number/);
    expect(parseInput(fieldSpec(schema, ["training", "lora", "target_modules"])!, "q_proj, v_proj")).toEqual({ value: ["q_proj", "v_proj"] });
  });
});

describe("form and YAML edit one document", () => {
  it("round-trips: form edits show in the YAML, YAML edits show in the form, comments survive", () => {
    const document = new ConfigDocument("# my job\nmodel: tiny # the base\n");
    document.set(["training", "method"], "full");
    document.set(["training", "lora", "r"], 8);
    document.set(["training", "lora", "target_modules"], ["q_proj", "v_proj"]);
    document.set(["data", "train"], "file-abc");
    const text = document.text;
    expect(text).toContain("# my job");
    expect(text).toContain("model: tiny # the base");
    expect(text).toMatch(/training:\n {2}method: full\n {2}lora:\n {4}r: 8\n {4}target_modules: \[ q_proj, v_proj \]/);

    const reread = new ConfigDocument(text);
    expect(reread.value).toEqual({ model: "tiny", training: { method: "full", lora: { r: 8, target_modules: ["q_proj", "v_proj"] } }, data: { train: "file-abc" } });

    // the YAML view is edited: the form reads the new values
    expect(document.setText(text.replace("r: 8", "r: 32").replace("method: full", "method: lora"))).toBe(true);
    expect(document.get(["training", "lora", "r"])).toBe(32);
    expect(document.get(["training", "method"])).toBe("lora");
    expect(document.get(["training", "lora", "target_modules"])).toEqual(["q_proj", "v_proj"]);
  });

  it("a section set as a whole (a duplicated job's LoRA settings) can be read field by field", () => {
    const document = new ConfigDocument("");
    document.set(["training", "lora"], { r: 8, target_modules: ["q_proj"] });
    expect(document.get(["training", "lora", "r"])).toBe(8);
    document.set(["training", "lora", "alpha"], 16);
    expect(new ConfigDocument(document.text).value).toEqual({ training: { lora: { r: 8, target_modules: ["q_proj"], alpha: 16 } } });
  });

  it("unsetting a field removes it and the sections it leaves empty", () => {
    const document = new ConfigDocument("model: tiny\n");
    document.set(["training", "lora", "r"], 8);
    document.set(["training", "lora", "r"], undefined);
    expect(document.value).toEqual({ model: "tiny" });
  });

  it("keeps the last good document when the YAML does not parse, and says where", () => {
    const document = new ConfigDocument("model: tiny\n");
    expect(document.setText("model: [tiny\n")).toBe(false);
    expect(document.value).toEqual({ model: "tiny" });
    expect(new ConfigDocument("model: [tiny\n").errors[0]?.line).toBeGreaterThan(0);
  });
});
