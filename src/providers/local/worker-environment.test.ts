import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TunekitError } from "../../core/errors.js";
import {
  checkPython,
  ensureWorkerEnvironment,
  missingRequirements,
  packageRoot,
  pinnedRequirements,
  readStamp,
  requirementFiles,
  setupWorkerEnvironment,
  STAMP_FILE,
  venvPython,
} from "./worker-environment.js";

const root = packageRoot();
const realPython = join(root, ".venv", "bin", "python");
const scratch = mkdtempSync(join(tmpdir(), "tunekit-env-"));

function caught(run: () => unknown): TunekitError {
  try {
    run();
  } catch (error) {
    if (error instanceof TunekitError) return error;
    throw error;
  }
  throw new Error("expected a TunekitError");
}

/** A real venv (no pip, made in about a second) that sees the project venv's packages through a .pth file. */
function venvSeeingProjectPackages(name: string): string {
  const venv = join(scratch, name);
  execFileSync(realPython, ["-m", "venv", "--without-pip", venv]);
  const projectSitePackages = execFileSync(realPython, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).trim();
  const sitePackages = execFileSync(venvPython(venv), ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).trim();
  writeFileSync(join(sitePackages, "tunekit-test-parent.pth"), `${projectSitePackages}\n`);
  return venv;
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("checkPython", () => {
  it("reports an interpreter that does not exist with the fix", () => {
    const error = caught(() => checkPython(join(scratch, "no-such-python")));
    expect(error.code).toBe("python_not_found");
    expect(error.kind).toBe("environment");
    expect(error.message).toContain("no-such-python");
    expect(error.fix).toContain("--python");
  });

  it("accepts the real interpreter and reads its version", () => {
    const info = checkPython(realPython);
    expect(info.major).toBe(3);
    expect(info.minor).toBeGreaterThanOrEqual(10);
    expect(info.version).toMatch(/^3\.\d+\.\d+$/);
  });

  it("refuses a Python older than 3.10, naming the version found", () => {
    const old = join(scratch, "python3.8");
    writeFileSync(old, "#!/bin/sh\necho 3.8.10\n");
    chmodSync(old, 0o755);
    const error = caught(() => checkPython(old));
    expect(error.code).toBe("python_too_old");
    expect(error.message).toContain("3.8.10");
    expect(error.fix).toMatch(/3\.10/);
  });

  it("refuses a program that is not a Python interpreter", () => {
    const error = caught(() => checkPython("/bin/false"));
    expect(error.code).toBe("python_failed");
  });
});

describe("requirement pins", () => {
  it("reads name==version pins and skips comments", () => {
    const files = requirementFiles(root, true);
    expect(pinnedRequirements(files.torch)).toEqual([{ name: "torch", version: "2.13.0" }]);
    const names = pinnedRequirements(files.main).map((pin) => pin.name);
    expect(names).toContain("transformers");
    expect(names).not.toContain("torch");
  });

  it("lists what an empty venv lacks, and nothing for the project venv (+cpu build label matches)", () => {
    const empty = join(scratch, "empty");
    execFileSync(realPython, ["-m", "venv", "--without-pip", empty]);
    const files = requirementFiles(root, false);
    const missing = missingRequirements(venvPython(empty), [files.torch, files.main]);
    expect(missing.some((entry) => entry.startsWith("torch==2.13.0 (not installed)"))).toBe(true);
    expect(missingRequirements(realPython, [files.torch, files.main])).toEqual([]);
  });
});

describe("setup and ensureWorkerEnvironment", () => {
  let venv: string;
  let environment: NodeJS.ProcessEnv;
  beforeAll(() => {
    venv = venvSeeingProjectPackages("adopt");
    environment = { ...process.env, TUNEKIT_VENV: venv };
  });

  it("tells the user to run setup when the venv does not exist, and setup reports a missing --python", async () => {
    const missingVenv = join(scratch, "never-created");
    const error = caught(() => ensureWorkerEnvironment({ ...process.env, TUNEKIT_VENV: missingVenv }));
    expect(error.code).toBe("worker_env_missing");
    expect(error.fix).toContain("tunekit setup");
    await expect(setupWorkerEnvironment({ python: join(scratch, "nope", "python3"), environment: { ...process.env, TUNEKIT_VENV: missingVenv } })).rejects.toMatchObject({
      code: "python_not_found",
    });
    expect(existsSync(missingVenv)).toBe(false);
  });

  it("refuses a venv without a stamp, adopts it when every pin is installed, then reuses it", async () => {
    expect(caught(() => ensureWorkerEnvironment(environment)).code).toBe("worker_env_stale");
    const lines: string[] = [];
    const first = await setupWorkerEnvironment({ environment, onOutput: (line) => lines.push(line) });
    expect(first.action).toBe("adopted");
    expect(first.created).toBe(false);
    expect(readStamp(venv)?.dev_requirements).toBeNull();
    expect(ensureWorkerEnvironment(environment).python).toBe(venvPython(venv));

    const second = await setupWorkerEnvironment({ environment });
    expect(second.action).toBe("reused");
    // --dev needs the dev pins recorded too: checked once, then reused
    expect((await setupWorkerEnvironment({ environment, dev: true })).action).toBe("adopted");
    expect(readStamp(venv)?.dev_requirements).toMatch(/^[0-9a-f]{64}$/);
    expect((await setupWorkerEnvironment({ environment, dev: true })).action).toBe("reused");
    // a later non-dev setup keeps the dev hash
    expect((await setupWorkerEnvironment({ environment })).action).toBe("reused");
    expect(readStamp(venv)?.dev_requirements).toMatch(/^[0-9a-f]{64}$/);
  });

  it("treats a stamp for other requirement files as stale", async () => {
    const stampPath = join(venv, STAMP_FILE);
    const stamp = JSON.parse(readFileSync(stampPath, "utf8")) as Record<string, unknown>;
    writeFileSync(stampPath, JSON.stringify({ ...stamp, requirements: "0".repeat(64) }));
    expect(caught(() => ensureWorkerEnvironment(environment)).code).toBe("worker_env_stale");
    expect((await setupWorkerEnvironment({ environment })).action).toBe("adopted");
    expect(() => ensureWorkerEnvironment(environment)).not.toThrow();
    // the venv itself was never touched: still only our .pth and the standard layout
    expect(readdirSync(venv).sort()).toEqual(expect.arrayContaining(["bin", "lib", "pyvenv.cfg", STAMP_FILE]));
  });
});
