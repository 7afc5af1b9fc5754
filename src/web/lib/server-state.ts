import { signal } from "@preact/signals";
import type { ServerInfo } from "./wire.js";

/** What /v1/tunekit/server said (project, upload limit, engine), once loaded. */
export const serverInfo = signal<ServerInfo | null>(null);
