import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The cluster backends' files first: each runs a real cluster for most of the run (Ray jobs take
 * half a minute to start), so started late they would run on alone after everything else.
 */
class ClusterFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const cluster = (file: TestSpecification) => /(ray|slurm)-backend\.test\.ts$/.test(file.moduleId);
    return [...sorted.filter(cluster), ...sorted.filter((file) => !cluster(file))];
  }
}

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // at least two files at a time, even on two cores: most test files wait on a spawned CLI, a
    // server or a worker for much of their time (vitest's own default is one less than the cores)
    // three on two cores: the Ray and Slurm files hold a worker each for minutes, mostly waiting on their clusters
    maxWorkers: Math.max(3, availableParallelism()),
    // one tiny-Llama build per run, copied by the files that need one (test/helpers/tiny-llama.ts)
    globalSetup: ["test/global-setup.ts"],
    sequence: { sequencer: ClusterFirstSequencer },
    // the browser tests poll pages that update on their own (streams, 2 s refreshes)
    expect: { poll: { timeout: 10_000, interval: 100 } },
  },
});
