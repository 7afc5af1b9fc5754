import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The web UI's build: src/web -> dist/web, served by `tunekit server` at /. Everything is bundled
 * (no CDN, no web fonts); hashed file names under assets/ let the server cache them for good.
 * JSX is Preact's automatic runtime.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  publicDir: "public",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../../dist/web", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 400,
  },
});
