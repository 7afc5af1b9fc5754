import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // one tiny-Llama build per run, copied by the files that need one (test/helpers/tiny-llama.ts)
    globalSetup: ["test/global-setup.ts"],
    // the browser tests poll pages that update on their own (streams, 2 s refreshes)
    expect: { poll: { timeout: 10_000, interval: 100 } },
  },
});
