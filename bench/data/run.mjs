// Benchmark: `tunekit data validate --model gpt-4o-2024-08-06` (validation + tiktoken o200k_base
// token counts with the OpenAI cookbook rule) against the OpenAI cookbook's own Python validation
// and counting code (bench/data/cookbook_validate.py), on the same generated file, in the same run.
// Prints both times, the ratio, peak memory (RSS) of both, and checks the token sums agree.
//
//   npx tsc -p tsconfig.json && node bench/data/run.mjs [--examples 200000] [--threads N]
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, rmSync } from "node:fs";
import { spawn } from "node:child_process";
import { availableParallelism, loadavg, cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateChatDataset } from "./generate.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : args[index + 1];
};
const examples = Number(option("--examples", "200000"));
const threads = option("--threads", undefined);
const model = "gpt-4o-2024-08-06";
const python = process.env.TUNEKIT_PYTHON ?? join(root, ".venv/bin/python");
const cli = join(root, "dist/cli/main.js");
const out = join(root, "bench/out");

if (!existsSync(cli)) {
  console.error("dist/cli/main.js is missing: run `npx tsc -p tsconfig.json` first");
  process.exit(2);
}
if (!existsSync(python)) {
  console.error(`no Python at ${python}: run \`make venv\` (or set TUNEKIT_PYTHON)`);
  process.exit(2);
}
mkdirSync(out, { recursive: true });

// 1. the dataset
const dataset = join(out, `chat-${examples}.jsonl`);
if (!existsSync(dataset)) {
  const started = performance.now();
  await generateChatDataset(dataset, examples);
  console.log(`generated ${dataset} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
const size = statSync(dataset).size;

// 2. o200k_base for Python tiktoken, offline: tiktoken caches a download under
//    TIKTOKEN_CACHE_DIR/<sha1 of the URL> and accepts it when its sha256 matches (tiktoken/load.py,
//    read_file_cached). The ranks ship in the npm package `tiktoken` in a compact form:
//    "<label> <first rank> <base64 token> <base64 token> ...", ranks consecutive.
const url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken";
const expectedSha256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"; // tiktoken_ext/openai_public.py
const cacheDir = join(out, "tiktoken-cache");
const cacheFile = join(cacheDir, createHash("sha1").update(url).digest("hex"));
if (!existsSync(cacheFile)) {
  const { bpe_ranks: compact } = JSON.parse(readFileSync(join(root, "node_modules/tiktoken/encoders/o200k_base.json"), "utf8"));
  let text = "";
  for (const line of compact.split("\n").filter(Boolean)) {
    const [, first, ...tokens] = line.split(" ");
    tokens.forEach((token, index) => {
      text += `${token} ${Number(first) + index}\n`;
    });
  }
  const sha256 = createHash("sha256").update(text).digest("hex");
  if (sha256 !== expectedSha256) throw new Error(`rebuilt o200k_base.tiktoken has sha256 ${sha256}, expected ${expectedSha256}`);
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cacheFile, text);
}

/** Runs a command under /usr/bin/time: wall seconds, CPU seconds (user + system), peak RSS, stdout. */
function measure(command, commandArgs, env = {}) {
  return new Promise((resolvePromise, reject) => {
    const timeFile = join(out, `time-${process.pid}.txt`);
    const child = spawn("/usr/bin/time", ["-f", "%M %U %S", "-o", timeFile, command, ...commandArgs], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (data) => (stdout += data));
    const started = performance.now();
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = (performance.now() - started) / 1000;
      const [peakKib, user, system] = readFileSync(timeFile, "utf8").trim().split("\n").pop().split(" ").map(Number);
      rmSync(timeFile, { force: true });
      resolvePromise({ code, seconds, cpuSeconds: user + system, peakMib: peakKib / 1024, stdout });
    });
  });
}

const load = loadavg()[0];
console.log(
  `dataset: ${examples} chat examples, ${(size / 2 ** 20).toFixed(1)} MiB; ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"}), load average ${load.toFixed(2)} at start`,
);

const tunekitArgs = [cli, "data", "validate", dataset, "--model", model, "--json", ...(threads === undefined ? [] : ["--threads", threads])];
const tunekit = await measure(process.execPath, tunekitArgs);
if (tunekit.code !== 0 && tunekit.code !== 1) throw new Error(`tunekit exited ${tunekit.code}`);
const report = JSON.parse(tunekit.stdout);

const cookbook = await measure(python, [join(root, "bench/data/cookbook_validate.py"), dataset], { TIKTOKEN_CACHE_DIR: cacheDir });
if (cookbook.code !== 0) throw new Error(`cookbook script exited ${cookbook.code}`);
const peer = JSON.parse(cookbook.stdout.trim().split("\n").pop());

const tokensAgree = report.stats.tokens.total === peer.total_tokens && report.stats.tokens.trained === peer.assistant_tokens;
const rows = [
  ["", "tunekit data validate", "OpenAI cookbook (Python)"],
  ["wall time", `${tunekit.seconds.toFixed(2)} s`, `${cookbook.seconds.toFixed(2)} s`],
  ["CPU time (user+sys)", `${tunekit.cpuSeconds.toFixed(2)} s`, `${cookbook.cpuSeconds.toFixed(2)} s`],
  ["peak RSS", `${tunekit.peakMib.toFixed(0)} MiB`, `${cookbook.peakMib.toFixed(0)} MiB`],
  ["examples", String(report.stats.examples), String(peer.examples)],
  ["total tokens", String(report.stats.tokens.total), String(peer.total_tokens)],
  ["assistant tokens", String(report.stats.tokens.trained), String(peer.assistant_tokens)],
  ["format errors", String(report.stats.errors), String(peer.format_errors)],
];
const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column].length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join("  "));
console.log(
  `speed-up: ${(cookbook.seconds / tunekit.seconds).toFixed(2)}x wall, ${(cookbook.cpuSeconds / tunekit.cpuSeconds).toFixed(2)}x CPU (target >= 2x); ` +
    `tunekit peak RSS ${tunekit.peakMib.toFixed(0)} MiB (target < 300 MiB)`,
);
console.log(
  `token sums ${tokensAgree ? "agree" : "DIFFER"}; tunekit also checked duplicates (${report.stats.duplicates.exact} exact, ${report.stats.duplicates.near} near) which the cookbook does not`,
);
console.log(`load average at end ${loadavg()[0].toFixed(2)} (other work on the machine slows both sides)`);
if (!tokensAgree) process.exitCode = 1;
