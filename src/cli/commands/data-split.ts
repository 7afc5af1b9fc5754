import type { Command } from "commander";

// Placeholder registration, replaced by the real command in this same change.
export function registerDataSplit(_parent: Command): void {}
