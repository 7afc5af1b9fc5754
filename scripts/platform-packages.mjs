// Prints, one per line as name@version, the optional packages of package-lock.json that this
// machine needs: the native builds npm itself would pick (the package's os, cpu and libc match this
// machine), except that of node-llama-cpp's prebuilt llama.cpp builds only the CPU one is kept
// (`@node-llama-cpp/<platform>-<arch>`, plus `-metal` on a Mac) and the GPU ones named in
// LLAMA_GPU (`cuda`, `vulkan`, comma-separated). `make deps` installs with `--omit=optional` and
// names these packages, so a CPU machine does not get the ~640 MB of CUDA, Vulkan and ARM builds
// (`make deps CUDA=1` adds the CUDA ones). Fails when a needed package is not at the top of
// node_modules, where naming it on the command line would put it.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { packages } = JSON.parse(readFileSync(resolve(root, "package-lock.json"), "utf8"));

const llamaPlatform = { darwin: "mac", win32: "win" }[process.platform] ?? process.platform;
const llamaCpu = `@node-llama-cpp/${llamaPlatform}-${process.arch}`;
const gpuSuffixes = {
  cuda: ["-cuda", "-cuda-ext"],
  vulkan: ["-vulkan"],
};
const gpus = (process.env.LLAMA_GPU ?? "")
  .split(",")
  .map((gpu) => gpu.trim())
  .filter(Boolean);
for (const gpu of gpus) {
  if (!(gpu in gpuSuffixes)) throw new Error(`LLAMA_GPU: unknown build \`${gpu}\`; use ${Object.keys(gpuSuffixes).join(" or ")}`);
}
const llamaBuilds = new Set([llamaCpu, `${llamaCpu}-metal`, ...gpus.flatMap((gpu) => gpuSuffixes[gpu].map((suffix) => llamaCpu + suffix))]);

const libc = process.platform !== "linux" ? undefined : process.report.getReport().header.glibcVersionRuntime ? "glibc" : "musl";
/** npm's rule for os, cpu and libc: no list matches everything, `!x` excludes x, otherwise the value must be listed */
const allows = (list, value) => {
  if (!list || list.length === 0) return true;
  if (list.includes(`!${value}`)) return false;
  const allowed = list.filter((item) => !item.startsWith("!"));
  return allowed.length === 0 || (value !== undefined && allowed.includes(value));
};
const fitsMachine = (entry) => allows(entry.os, process.platform) && allows(entry.cpu, process.arch) && (process.platform !== "linux" || allows(entry.libc, libc));
const packageName = (path) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
const wanted = (path) => {
  const name = packageName(path);
  return fitsMachine(packages[path]) && (!name.startsWith("@node-llama-cpp/") || llamaBuilds.has(name));
};

/** the lock path Node would resolve `name` to from the package at `from` */
const resolveFrom = (from, name) => {
  for (let folder = from; ; folder = folder.slice(0, Math.max(0, folder.lastIndexOf("/node_modules/")))) {
    const candidate = `${folder ? `${folder}/` : ""}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!folder) return undefined;
  }
};

// the packages a full install would put here, from the required ones along every dependency edge
const installed = new Set(Object.keys(packages).filter((path) => path !== "" && !packages[path].optional));
const queue = [...installed];
while (queue.length > 0) {
  const from = queue.pop();
  const entry = packages[from];
  for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
    const path = resolveFrom(from, name);
    if (!path || installed.has(path) || !wanted(path)) continue;
    installed.add(path);
    queue.push(path);
  }
}

const needed = [...installed].filter((path) => packages[path].optional).sort();
const nested = needed.filter((path) => path !== `node_modules/${packageName(path)}`);
if (nested.length > 0) throw new Error(`optional packages below the top of node_modules: ${nested.join(", ")}; install them in the Makefile some other way`);
for (const path of needed) console.log(`${packageName(path)}@${packages[path].version}`);
