import type { Command } from "commander";

// Placeholder registration, replaced by the real command in this same change.
export function registerDataConvert(_parent: Command): void {}
