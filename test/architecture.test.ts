import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// The rooms of docs/DESIGN.md ("Layout (one package, clear rooms)") and the import edges its rules
// allow between them. Every import of src/ (static `import`, `export ... from`, dynamic `import()`,
// `import("...")` types and `require()`) is parsed with the TypeScript compiler, mapped from file to
// room, and checked against this table. The room-level graph goes to
// test-output/architecture/graph.md for the notes of a change.

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sourceRoot = path.join(repositoryRoot, "src");
const graphFile = path.join(repositoryRoot, "test-output", "architecture", "graph.md");

type Room =
  | "core"
  | "spec"
  | "data"
  | "eval"
  | "jobs"
  | "providers"
  | "providers/local"
  | "providers/cluster"
  | "providers/ray"
  | "providers/slurm"
  | "providers/openai"
  | "providers/azure"
  | "serve"
  | "server"
  | "cli"
  | "web";

/** "core/ errors, ids, logging, config schema (zod) — depends on nothing else in src/" */
const BOTTOM: Room[] = [];
/**
 * "Data flows one way: cli/server -> services (data, jobs, providers, serve, eval) -> core/spec."
 * "service rooms do not import each other's insides: `jobs` sees a runner only through its interface
 * in `src/spec`, `serve` finds fine-tuned models through a lookup interface, not through the jobs table."
 * `data` is "pure dataset code: read, formats, validate, tokens, templates, split": the one service
 * room the others stand on (jobs validates uploads with it, eval and providers count and price with
 * it); it imports only core and spec itself, so no cycle can form through it.
 */
const SERVICE_BASE: Room[] = ["core", "spec", "data"];
const PROVIDERS: Room[] = ["providers", "providers/local", "providers/cluster", "providers/ray", "providers/slurm", "providers/openai", "providers/azure"];
const SERVICES: Room[] = ["data", "jobs", ...PROVIDERS, "serve", "eval"];

const ALLOWED: Record<Room, readonly Room[]> = {
  core: BOTTOM,
  // "spec/ versioned interfaces and wire types shared by the rooms"; issue 14: "`spec` and `core`
  // import no other room"
  spec: BOTTOM,
  data: ["core", "spec"],
  eval: SERVICE_BASE,
  jobs: SERVICE_BASE,
  serve: SERVICE_BASE,
  // "providers/ one folder per training backend implementing spec: local/, openai/, azure/"
  "providers/local": SERVICE_BASE,
  // the execution backends on a cluster engine: cluster/ reconciles any engine of spec/cluster-engine.ts;
  // ray/ and slurm/ implement that interface and import neither cluster/ nor each other
  "providers/cluster": SERVICE_BASE,
  "providers/ray": SERVICE_BASE,
  "providers/slurm": SERVICE_BASE,
  "providers/openai": SERVICE_BASE,
  // Azure OpenAI is the OpenAI fine-tuning API at another endpoint: azure/ builds the openai/ provider
  // with an `AzureOpenAI` client (composition; "implementations do not inherit from each other")
  "providers/azure": [...SERVICE_BASE, "providers/openai"],
  // the files directly in src/providers/ choose a hosted backend by name (openai or azure)
  providers: [...SERVICE_BASE, "providers/openai", "providers/azure"],
  // "server/ HTTP only: routes map requests to the rooms above"; "The composition roots
  // (`server/tunekit-server.ts`, `cli`) wire implementations to interfaces."
  server: ["core", "spec", ...SERVICES],
  // "cli/ argument parsing and printing only; calls the same services the server calls";
  // `tunekit server` starts the server's composition root ("A room never imports from a room that
  // imports it": server never imports cli)
  cli: ["core", "spec", ...SERVICES, "server"],
  // "web/ ... talks only to the public HTTP API, never imports a service": the wire types of spec,
  // and core's config schema, which "produces ... the form in the web UI"
  web: ["core", "spec"],
};

/** Edges DESIGN.md does not allow that exist today; each one is to go, none is to be added. */
const KNOWN: readonly string[] = [];

function roomOf(file: string): Room | undefined {
  const parts = path.relative(sourceRoot, file).split(path.sep);
  const [top, second] = parts;
  if (top === "providers") {
    if (parts.length === 2) return "providers";
    const room = `providers/${second}`;
    return (PROVIDERS as string[]).includes(room) ? (room as Room) : undefined;
  }
  return top !== undefined && top in ALLOWED && parts.length > 1 ? (top as Room) : undefined;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(c|m)?tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** Every module specifier of a file, as the compiler parses it. */
function moduleSpecifiers(file: string): string[] {
  const kind = file.endsWith("x") ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true, kind);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node)) {
      const [first] = node.arguments;
      const dynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const required = ts.isIdentifier(node.expression) && node.expression.text === "require";
      if ((dynamic || required) && first !== undefined) {
        if (ts.isStringLiteralLike(first)) found.push(first.text);
        else if (dynamic) found.push(`<computed: ${first.getText(source)}>`);
      }
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

interface Edge {
  from: Room;
  to: Room;
  file: string;
  specifier: string;
}

function collect(): { edges: Edge[]; problems: string[]; fileCount: number } {
  const edges: Edge[] = [];
  const problems: string[] = [];
  const files = sourceFiles(sourceRoot);
  for (const file of files) {
    const from = roomOf(file);
    const shown = path.relative(repositoryRoot, file);
    if (from === undefined) {
      problems.push(`${shown} is in no room of DESIGN.md: put it in one, or add the room here and to DESIGN.md`);
      continue;
    }
    for (const specifier of moduleSpecifiers(file)) {
      if (specifier.startsWith("<computed")) {
        problems.push(`${shown}: a dynamic import of a computed path (${specifier}) cannot be checked; import a literal path`);
        continue;
      }
      if (!specifier.startsWith(".") && !specifier.startsWith("/")) continue;
      const target = path.resolve(path.dirname(file), specifier);
      if (!target.startsWith(sourceRoot + path.sep)) continue;
      const to = roomOf(target);
      if (to === undefined) {
        problems.push(`${shown}: \`${specifier}\` points at a file in no room`);
        continue;
      }
      if (to !== from) edges.push({ from, to, file: shown, specifier });
    }
  }
  return { edges, problems, fileCount: files.length };
}

function countByEdge(edges: readonly Edge[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const edge of edges) counts.set(`${edge.from} -> ${edge.to}`, (counts.get(`${edge.from} -> ${edge.to}`) ?? 0) + 1);
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

function graphMarkdown(counts: Map<string, number>, fileCount: number): string {
  const rows = [...counts].map(([edge, count]) => {
    const status = KNOWN.includes(edge) ? "known exception (issue 14 item 2: to remove)" : "allowed";
    return `| ${edge.replace(" -> ", " | ")} | ${count} | ${status} |`;
  });
  const mermaid = [...counts].map(([edge, count]) => {
    const [from, to] = edge.split(" -> ") as [string, string];
    const id = (room: string) => room.replace("/", "_");
    return `  ${id(from)}[${from}] ${KNOWN.includes(edge) ? "-.->" : "-->"}|${count}| ${id(to)}[${to}]`;
  });
  return [
    "# Import graph of src/ by room",
    "",
    `Generated by test/architecture.test.ts from ${fileCount} files: the number of import statements`,
    "(static, `export ... from`, dynamic `import()` and `import()` types) from one room to another.",
    "",
    "| from | to | imports | status |",
    "| --- | --- | ---: | --- |",
    ...rows,
    "",
    "```mermaid",
    "graph LR",
    ...mermaid,
    "```",
    "",
  ].join("\n");
}

describe("architecture: the rooms of DESIGN.md", () => {
  const { edges, problems, fileCount } = collect();
  const counts = countByEdge(edges);
  mkdirSync(path.dirname(graphFile), { recursive: true });
  writeFileSync(graphFile, graphMarkdown(counts, fileCount));

  it("parses the imports of src/, dynamic import() included", () => {
    expect(fileCount).toBeGreaterThan(100);
    expect(edges.some((edge) => edge.file === path.join("src", "cli", "commands", "serve.ts") && edge.to === "serve")).toBe(true);
    const dynamic = moduleSpecifiers(path.join(sourceRoot, "cli", "commands", "serve.ts"));
    expect(dynamic).toContain("../../serve/create-chat-service.js");
  });

  it("puts every file of src/ in a room", () => {
    expect(problems).toEqual([]);
  });

  it("imports only along the edges DESIGN.md allows", () => {
    const illegal = edges
      .filter((edge) => !ALLOWED[edge.from].includes(edge.to) && !KNOWN.includes(`${edge.from} -> ${edge.to}`))
      .map(
        (edge) =>
          `${edge.file} imports \`${edge.specifier}\`: ${edge.from} -> ${edge.to} is not an edge DESIGN.md allows (${edge.from} may import ${ALLOWED[edge.from].join(", ") || "no other room"})`,
      );
    expect(illegal).toEqual([]);
  });

  it("lists as known only edges that still exist and are not allowed", () => {
    // once an exception is removed from the code, remove it here too, so it cannot come back
    const stale = KNOWN.filter((edge) => !counts.has(edge));
    const allowedAnyway = KNOWN.filter((edge) => {
      const [from, to] = edge.split(" -> ") as [Room, Room];
      return ALLOWED[from].includes(to);
    });
    expect({ stale, allowedAnyway }).toEqual({ stale: [], allowedAnyway: [] });
  });
});
