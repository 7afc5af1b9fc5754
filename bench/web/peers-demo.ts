// Starts each peer UI, measures three cold first loads of it, prints a table and stops it. Figures also
// go to bench/out/web-peers.json.
//
//   bash bench/web/setup-peers.sh && npx tsx bench/web/peers-demo.ts [autotrain] [llamaboard]
//
// As root it re-runs itself in a fresh network namespace that has only loopback (unshare -n), so neither
// the peers' Python servers nor the browser can reach any other address: that is the offline case.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { measureMedian, type MedianFigures } from "./measure-page.js";
import { startPeer, type PeerName } from "./peers.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const requested = process.argv.slice(2).filter((name): name is PeerName => name === "autotrain" || name === "llamaboard");
const names: PeerName[] = requested.length > 0 ? requested : ["autotrain", "llamaboard"];

if (process.env.TUNEKIT_LOOPBACK_ONLY === undefined && process.getuid?.() === 0 && spawnSync("unshare", ["-n", "true"]).status === 0) {
  const script = fileURLToPath(import.meta.url);
  const tsx = join(root, "node_modules", ".bin", "tsx");
  const rerun = spawnSync("unshare", ["-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", tsx, script, ...names], {
    stdio: "inherit",
    env: { ...process.env, TUNEKIT_LOOPBACK_ONLY: "1" },
  });
  process.exit(rerun.status ?? 1);
}

interface Row {
  name: PeerName;
  startMs?: number;
  figures?: MedianFigures;
  unavailable?: string;
}
const rows: Row[] = [];
for (const name of names) {
  const peer = await startPeer(name);
  if ("unavailable" in peer) {
    rows.push({ name, unavailable: peer.unavailable });
    continue;
  }
  try {
    const figures = await measureMedian(peer.url, { label: name, readySelector: peer.readySelector, readyText: peer.readyText, timeoutMs: 60_000 });
    rows.push({ name, startMs: peer.startMs, figures });
  } catch (error) {
    rows.push({ name, startMs: peer.startMs, unavailable: (error as Error).message });
  } finally {
    await peer.stop();
  }
}

const kibibytes = (bytes: number) => (bytes / 1024).toFixed(1);
console.log(`\nnetwork: ${process.env.TUNEKIT_LOOPBACK_ONLY ? "loopback-only namespace" : "host namespace (browser kept on loopback by its proxy)"}`);
console.log("peer        start s  gz JS+CSS KiB  JS KiB  CSS KiB  first render ms  load ms  requests  other-origin");
for (const row of rows) {
  const median = row.figures?.median;
  if (!median) {
    console.log(`${row.name.padEnd(11)} unavailable: ${row.unavailable}`);
    continue;
  }
  const cells = [
    ((row.startMs ?? 0) / 1000).toFixed(1).padStart(7),
    kibibytes(median.jsCssGzipBytes).padStart(14),
    kibibytes(median.jsBytes).padStart(7),
    kibibytes(median.cssBytes).padStart(8),
    String(median.firstRenderMs).padStart(16),
    String(median.loadEventMs).padStart(8),
    String(median.requests).padStart(9),
    String(median.otherOriginRequests.length).padStart(13),
  ];
  console.log(`${row.name.padEnd(11)} ${cells.join(" ")}`);
}
for (const row of rows) {
  const median = row.figures?.median;
  if (!median) continue;
  const hosts = [...new Set(median.otherOriginRequests.map((url) => new URL(url).host))];
  console.log(`\n${row.name}: first render ms per run ${row.figures!.runs.map((run) => run.firstRenderMs).join(", ")}`);
  console.log(`  other-origin hosts: ${hosts.join(", ") || "none"}`);
  for (const failedUrl of new Set(median.failedRequests.map((failure) => failure.slice(0, failure.lastIndexOf(" ("))))) console.log(`  failed: ${failedUrl}`);
  for (const message of median.consoleErrors.slice(0, 8)) console.log(`  console error: ${message.slice(0, 200)}`);
}

mkdirSync(join(root, "bench", "out"), { recursive: true });
writeFileSync(join(root, "bench", "out", "web-peers.json"), JSON.stringify(rows, null, 2));
