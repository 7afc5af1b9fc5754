import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // at least two files at a time, even on two cores: most test files wait on a spawned CLI, a
    // server or a worker for much of their time (vitest's own default is one less than the cores)
    maxWorkers: Math.max(2, availableParallelism()),
    // one tiny-Llama build per run, copied by the files that need one (test/helpers/tiny-llama.ts)
    globalSetup: ["test/global-setup.ts"],
    // the browser tests poll pages that update on their own (streams, 2 s refreshes)
    expect: { poll: { timeout: 10_000, interval: 100 } },
  },
});
