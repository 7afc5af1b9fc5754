import { describe, expect, it } from "vitest";
import { modelLifecycle } from "./model-lifecycle.js";
import { defaultPriceTable, findHostedPrice } from "./price-table.js";

const table = defaultPriceTable();
const entry = (model: string) => {
  const found = findHostedPrice(table, model);
  if (!found) throw new Error(`no ${model} in the shipped table`);
  return found;
};

describe("modelLifecycle", () => {
  it("ships OpenAI's wind-down: no new jobs from 2027-01-06, the gpt-4o and gpt-4.1 families answer until 2027-01-14, each with its source and check date", () => {
    for (const model of ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"]) {
      expect(entry(model)).toMatchObject({ fine_tuning_ends: "2027-01-06", shutdown: "2027-01-14", lifecycle_checked: "2026-12-02" });
      expect(entry(model).lifecycle_source).toContain("platform.openai.com/docs/deprecations");
    }
    for (const row of table.models) expect(row.fine_tuning_ends, row.model).toBe("2027-01-06");
  });

  it("warns before the end with the days left, and names the day it passed after it", () => {
    const before = modelLifecycle(entry("gpt-4o-mini"), { today: "2026-12-02" });
    expect(before).toMatchObject({ canFineTune: true, answers: true });
    expect(before.warnings[0]).toContain("from 2027-01-06 (in 35 days)");
    expect(before.warnings[1]).toContain("stops answering on 2027-01-14 (in 43 days)");

    const between = modelLifecycle(entry("gpt-4o-mini"), { today: "2027-01-06", name: "ft:gpt-4o-mini-2024-07-18:acme::abc123" });
    expect(between).toMatchObject({ canFineTune: false, answers: true });
    expect(between.warnings[0]).toMatch(/can no longer be fine-tuned.*ended on 2027-01-06/);
    expect(between.warnings[1]).toContain("`ft:gpt-4o-mini-2024-07-18:acme::abc123` stops answering on 2027-01-14");

    const after = modelLifecycle(entry("gpt-4.1"), { today: "2027-01-14" });
    expect(after).toMatchObject({ canFineTune: false, answers: false });
    expect(after.warnings[1]).toContain("no longer answers");
    expect(modelLifecycle(entry("gpt-3.5-turbo"), { today: "2026-12-02" }).answers).toBe(false);
  });

  it("says when the model stops answering before the day it is needed until", () => {
    const needed = modelLifecycle(entry("gpt-4.1-mini"), { today: "2026-12-02", neededUntil: "2027-06-30" });
    expect(needed.warnings[1]).toContain("stops answering on 2027-01-14, before 2027-06-30");
    const fine = modelLifecycle(entry("gpt-4.1-mini"), { today: "2026-12-02", neededUntil: "2027-01-13" });
    expect(fine.warnings[1]).not.toContain("before 2027-01-13");
  });

  it("says nothing for a model with no announced dates", () => {
    const quiet = modelLifecycle({ ...entry("gpt-4o"), fine_tuning_ends: null, shutdown: null }, { today: "2026-12-02" });
    expect(quiet).toMatchObject({ canFineTune: true, answers: true, warnings: [] });
  });
});
