import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyStore } from "./api-key-store.js";
import { FileStore } from "./file-store.js";
import { openDatabase, type StoreDatabase } from "./store/database.js";

let dataDir: string;
let database: StoreDatabase;
let projectId: string;

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tunekit-files-"));
  database = await openDatabase(dataDir);
  projectId = (await new ApiKeyStore(database).ensureProject("alpha")).id;
});
afterEach(async () => {
  await database.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

const good = Array.from({ length: 10 }, (_, index) => JSON.stringify({ text: `document number ${index}` })).join("\n") + "\n";

describe("file store", () => {
  it("answers `uploaded` when validation takes longer than the inline wait, then records the result", async () => {
    const files = new FileStore(database, dataDir, 1 << 20, 0);
    const uploaded = await files.upload(projectId, { filename: "t.jsonl", purpose: "fine-tune", content: [Buffer.from(good)] });
    expect(uploaded.status).toBe("uploaded");
    await files.whenValidated(uploaded.id);
    const stored = await files.get(projectId, uploaded.id);
    expect(stored.object.status).toBe("processed");
    expect(stored.validation).toMatchObject({ ok: true, format: "text", examples: 10 });
  });

  it("stores bytes under the generated id only, and refuses to read anything that is not an id", async () => {
    const files = new FileStore(database, dataDir, 1 << 20);
    const uploaded = await files.upload(projectId, { filename: "../../etc/passwd", purpose: "fine-tune", content: [Buffer.from(good)] });
    // the bytes, and the validator's whole report beside them, both named by the generated id
    expect(readdirSync(files.directory).sort()).toEqual([uploaded.id, `${uploaded.id}.report.json`]);
    expect(uploaded.filename).toBe("../../etc/passwd");
    await expect(files.get(projectId, "../tunekit.sqlite")).rejects.toMatchObject({ kind: "not_found" });
    expect(() => files.pathOf("file-../../x")).toThrow();
  });

  it("refuses an upload over the limit and leaves no partial file", async () => {
    const files = new FileStore(database, dataDir, 100);
    await expect(files.upload(projectId, { filename: "big.jsonl", purpose: "fine-tune", content: [Buffer.alloc(60, 97), Buffer.alloc(60, 97)] })).rejects.toMatchObject({
      code: "file_too_large",
    });
    expect(readdirSync(files.directory)).toEqual([]);
  });
});
