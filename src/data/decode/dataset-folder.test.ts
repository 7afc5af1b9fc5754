import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readDatasetFolder, resolveSplit } from "./dataset-folder.js";

const scratch = mkdtempSync(join(tmpdir(), "tunekit-dataset-folder-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function touch(path: string, content = ""): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
}

describe("dataset folders", () => {
  it("a save_to_disk Dataset: its Arrow shards in state.json's order, named by _split", async () => {
    const root = join(scratch, "dataset");
    touch(join(root, "data-00001-of-00002.arrow"));
    touch(join(root, "data-00000-of-00002.arrow"));
    touch(join(root, "dataset_info.json"), "{}");
    touch(join(root, "state.json"), JSON.stringify({ _data_files: [{ filename: "data-00000-of-00002.arrow" }, { filename: "data-00001-of-00002.arrow" }], _split: "validation" }));
    const folder = await readDatasetFolder(root);
    expect(folder.layout).toBe("save_to_disk");
    expect([...folder.splits.keys()]).toEqual(["validation"]);
    // the only split is read without --split
    expect((await resolveSplit(root, undefined)).files.map((file) => file.slice(root.length + 1))).toEqual(["data-00000-of-00002.arrow", "data-00001-of-00002.arrow"]);
  });

  it("Hub shards under data/ group into their split; an unknown split lists the ones there are", async () => {
    const root = join(scratch, "hub");
    touch(join(root, "README.md"), "# card");
    touch(join(root, "data", "train-00001-of-00002.parquet"));
    touch(join(root, "data", "train-00000-of-00002.parquet"));
    touch(join(root, "data", "test-00000-of-00001.jsonl.gz"));
    const resolved = await resolveSplit(root, undefined);
    expect(resolved.split).toBe("train");
    expect(resolved.files.map((file) => file.slice(root.length + 1))).toEqual(["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]);
    await expect(resolveSplit(root, "dev")).rejects.toMatchObject({ code: "unknown_split", field: "--split", message: expect.stringContaining("its splits are `test`, `train`") });
  });

  it("a folder without a dataset says what it looked for", async () => {
    const root = join(scratch, "empty");
    touch(join(root, "notes.txt"), "hello");
    await expect(readDatasetFolder(root)).rejects.toMatchObject({ code: "not_a_dataset_folder", kind: "usage" });
  });
});
